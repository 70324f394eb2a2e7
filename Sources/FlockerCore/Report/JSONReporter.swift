import Foundation

/// Prints a run as JSON lines for CI: one object per line, with an `event` key
/// (`plan`, `step-started`, `step-finished`, `progress`, `note`, `summary`).
public final class JSONReporter: RunObserver, Sendable {
    private let out: TextOutput

    public init(out: TextOutput = .standardOutput) { self.out = out }

    public func event(_ event: RunEvent) {
        switch event {
        case .phaseStarted(let phase):
            emit(["event": "phase-started", "phase": phase.rawValue])
        case .stepStarted(let step):
            emit(["event": "step-started", "step": StepJSON.object(step)])
        case .stepFinished(let r):
            var object: [String: Any] = ["event": "step-finished", "step": StepJSON.object(r.step),
                                         "seconds": Seconds.value(r.duration)]
            switch r.outcome {
            case .succeeded: object["outcome"] = "succeeded"
            case .failed(let f):
                object["outcome"] = "failed"
                object["error"] = ["node": f.node, "message": f.message, "stderr": f.stderr, "unreachable": f.unreachable]
            case .skipped(let why):
                object["outcome"] = "skipped"
                object["reason"] = why
            }
            if !r.detail.isEmpty { object["detail"] = r.detail }
            if let b = r.bytes { object["bytes"] = b }
            emit(object)
        case .progress(let step, let p):
            var object: [String: Any] = ["event": "progress", "step": StepJSON.object(step), "bytes": p.bytes,
                                         "seconds": Seconds.value(p.elapsed), "round": p.round]
            if let e = p.expected { object["expected_bytes"] = e }
            if let n = p.note { object["note"] = n }
            emit(object)
        case .note(let text):
            emit(["event": "note", "message": text])
        }
    }

    public func plan(_ plan: Plan) {
        var steps: [[String: Any]] = []
        for phase in plan.phases {
            for step in phase.steps {
                var s = StepJSON.object(step)
                s["phase"] = phase.name.rawValue
                steps.append(s)
            }
        }
        emit(["event": "plan", "changes": !plan.isEmpty, "steps": steps, "nodes": plan.nodes.sorted(), "notes": plan.notes])
    }

    public func summary(_ report: RunReport, elapsed: Duration, exitCode: Int32) {
        emit(["event": "summary", "succeeded": report.succeeded, "failed": report.failures.count,
              "skipped": report.skipped, "interrupted": report.interrupted, "rollbacks": report.rollbacks,
              "seconds": Seconds.value(elapsed), "exit_code": Int(exitCode)])
    }

    /// Emits any object as one line (used by the CLI for errors before a plan exists).
    public func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
            let text = String(data: data, encoding: .utf8)
        else { return }
        out.write(text + "\n")
    }
}

/// A step as a JSON object with stable keys.
public enum StepJSON {
    public static func object(_ step: Step) -> [String: Any] {
        var o: [String: Any] = ["node": step.node, "description": StepText.describe(step)]
        if !step.app.isEmpty { o["app"] = step.app }
        switch step.action {
        case .pullImage(let image, _): o["action"] = "pull-image"; o["image"] = image
        case .createVolume(let v, let q): o["action"] = "create-volume"; o["volume"] = v.volume; if let q { o["maximum_size"] = q }
        case .setQuota(let v, let q): o["action"] = "set-quota"; o["volume"] = v.volume; o["maximum_size"] = q.map { $0 as Any } ?? NSNull()
        case .makeWritable(let v): o["action"] = "make-writable"; o["volume"] = v.volume
        case .demoteStale(let v): o["action"] = "demote-stale"; o["volume"] = v.volume
        case .promote(let v, let epoch): o["action"] = "promote"; o["volume"] = v.volume; o["epoch"] = epoch
        case .rejoin(let v, let common, let keepAs, let epoch):
            o["action"] = "rejoin"; o["volume"] = v.volume; o["common"] = common ?? NSNull(); o["kept_as"] = keepAs; o["epoch"] = epoch
        case .copyVolume(let v, let t, let final): o["action"] = final ? "final-copy" : "pre-copy"; o["volume"] = v.volume; o["target"] = t
        case .stopApp(_, let keep): o["action"] = "stop"; o["keep_container"] = keep
        case .handoff(_, let t, let vs):
            o["action"] = "handoff"; o["target"] = t
            o["volumes"] = vs.map { ["volume": $0.volume, "epoch": $0.epoch] as [String: Any] }
        case .startApp, .startCreated: o["action"] = "start"
        case .createApp: o["action"] = "create"
        case .restartApp: o["action"] = "restart"
        case .removeContainer: o["action"] = "remove-container"
        case .setRoutes(let add, let remove):
            o["action"] = "set-routes"
            o["add"] = add.map(\.tag.comment)
            o["remove"] = remove.map(\.tag.comment)
        case .pruneSnapshots(let v, let keep): o["action"] = "prune-snapshots"; o["volume"] = v.volume; o["keep"] = keep
        case .replicate(let v, let t): o["action"] = "replicate"; o["volume"] = v.volume; o["target"] = t
        case .removeReplica(let v, let primary): o["action"] = "remove-replica"; o["volume"] = v.volume; o["primary"] = primary
        case .takeSnapshot(_, let volumes, let name, let stop):
            o["action"] = "take-snapshot"; o["volumes"] = volumes; o["snapshot"] = SnapshotNames.display(name); o["stop"] = stop
        case .destroySnapshot(let v, let name):
            o["action"] = "destroy-snapshot"; o["volume"] = v.volume; o["snapshot"] = SnapshotNames.display(name)
        case .createClone(let c):
            o["action"] = "create-clone"; o["clone"] = c.name; o["snapshot"] = SnapshotNames.display(c.snapshot)
            o["ports"] = Dictionary(uniqueKeysWithValues: c.ports.map { (String($0.container), $0.published) })
        case .destroyClone(let c): o["action"] = "destroy-clone"; o["clone"] = c.name
        case .rollback(let v, let source, let snapshot, let keepAs, let pre):
            o["action"] = "rollback"; o["volume"] = v.volume; o["source"] = source; o["snapshot"] = SnapshotNames.display(snapshot)
            o["keep_as"] = "flocker/\(keepAs)"; o["pre_rollback"] = SnapshotNames.display(pre)
        }
        return o
    }
}
