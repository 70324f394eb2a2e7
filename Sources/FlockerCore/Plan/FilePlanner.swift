extension Planner {
    /// The steps for applications' uploaded files (config files, secrets, folders beside the Compose file), given
    /// the steps planned so far:
    /// - an upload in `prepare` on every node where a container of an application with files is created (so a
    ///   move's target has them before the application stops on its source, and a replaced container's new files
    ///   are there before the old one stops), and where the application's container is what it should be but its
    ///   files are missing (removed by hand);
    /// - a removal in `cleanup` on every node holding files of an application that no container there will use:
    ///   all of them where the application does not run (it moved away or was removed), the sets other than the
    ///   current one where it runs. A removal is skipped like any later step of an application that failed, so a
    ///   fallback container keeps its files.
    static func fileSteps(desired: DesiredState, observed: ObservedState, steps: [PhaseName: [Step]]) -> [(PhaseName, Step)] {
        var out: [(PhaseName, Step)] = []
        var uploaded = Set<String>()
        func upload(_ app: String, on node: String) {
            guard let application = desired.applications[app], !application.files.isEmpty,
                uploaded.insert(node + "\n" + app).inserted
            else { return }
            out.append((.prepare, Step(node: node, .uploadFiles(app, files: application.files.count))))
        }
        for phase in [PhaseName.stage, .start] {
            for step in steps[phase] ?? [] {
                switch step.action {
                case .createApp(let app), .startApp(let app): upload(app, on: step.node)
                default: continue
                }
            }
        }
        for app in desired.placement.keys.sorted() {
            guard let node = desired.placement[app], let application = desired.applications[app], !application.files.isEmpty,
                let state = observed.nodes[node], state.containers[app]?.configHash == application.configHash,
                state.files[app]?.contains(application.filesHash) != true
            else { continue }
            upload(app, on: node)
        }
        for node in observed.nodes.keys.sorted() {
            guard let present = observed.nodes[node]?.files else { continue }
            for app in present.keys.sorted() {
                var keep: [String] = []
                if desired.placement[app] == node, let application = desired.applications[app], !application.files.isEmpty {
                    keep = [application.filesHash]
                }
                if keep.isEmpty || !(present[app] ?? []).subtracting(keep).isEmpty {
                    out.append((.cleanup, Step(node: node, .removeFiles(app, keep: keep))))
                }
            }
        }
        return out
    }
}
