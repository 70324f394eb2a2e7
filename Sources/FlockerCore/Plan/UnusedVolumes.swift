/// Volumes whose data a deploy leaves unused while their application goes on running: the application file
/// renamed or dropped a volume, so the application starts without it (on a new, empty volume for a rename).
/// The data is kept, as always; the plan says so in a note, and a deploy that starts the application that way
/// refuses unless `--yes` is given (issue 16). An application placed on no node is a removal on purpose: its
/// volumes are kept without a word here (`status` lists them).
public enum UnusedVolumes {
    /// One volume's primary that the application will not use.
    public struct Left: Sendable, Hashable {
        public var volume: VolumeID
        public var node: String
        public var bytes: UInt64

        /// The plan's note: `volume redis/default on node1 is left unused (kept): redis no longer has a volume "default"`.
        public var note: String {
            "volume \(volume) on \(node) is left unused (kept, \(Bytes.human(bytes))): \(volume.app) no longer has a volume \"\(volume.volume)\"; "
                + "`flocker-deploy status` lists it"
        }
    }

    /// Every primary in `observed` of an application that `desired` places on a node but whose volumes no
    /// longer include that name; ordered by volume, then node.
    public static func find(desired: DesiredState, observed: ObservedState) -> [Left] {
        var out: [Left] = []
        for (node, state) in observed.nodes {
            for (id, ds) in state.datasets where ds.role == .primary {
                guard desired.placement[id.app] != nil, let app = desired.applications[id.app] else { continue }
                if app.volumes.contains(where: { $0.name == id.volume }) { continue }
                out.append(Left(volume: id, node: node, bytes: ds.referenced))
            }
        }
        return out.sorted { ($0.volume, $0.node) < ($1.volume, $1.node) }
    }

    /// `plan` with a note for each volume left unused; refused (unsafe, exit 5) when it starts an application
    /// that leaves a volume with data unused, unless `acceptLeavingUnused` (`--yes`).
    public static func check(_ plan: Plan, desired: DesiredState, observed: ObservedState, acceptLeavingUnused: Bool) throws(PlanRefusal) -> Plan {
        let left = find(desired: desired, observed: observed)
        guard !left.isEmpty else { return plan }
        var plan = plan
        plan.notes += left.map(\.note)
        if acceptLeavingUnused { return plan }
        let starting = Set(plan.steps.compactMap { step -> String? in
            switch step.action {
            case .startApp(let app), .createApp(let app), .restartApp(let app): return app
            default: return nil
            }
        })
        let refused = left.filter { starting.contains($0.volume.app) }
        guard !refused.isEmpty else { return plan }
        throw PlanRefusal(problems: refused.map { l in
            let volumes = desired.applications[l.volume.app]?.volumes.map { "\"\($0.name)\"" } ?? []
            let now = volumes.isEmpty ? "without a volume" : "with volume\(volumes.count == 1 ? "" : "s") \(volumes.joined(separator: ", ")) (new and empty where not there yet)"
            return PlanRefusal.Problem(
                node: l.node, app: l.volume.app,
                message: "its volume \"\(l.volume.volume)\" (\(Bytes.human(l.bytes))) would be left unused while \(l.volume.app) starts \(now): "
                    + "the data is kept either way; name the volume \"\(l.volume.volume)\" again in the application file to keep using it, "
                    + "or run again with --accept-unused to go on without it",
                unsafe: true)
        })
    }
}
