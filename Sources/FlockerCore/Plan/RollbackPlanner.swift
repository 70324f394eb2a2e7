import Foundation

/// The plan of `rollback`: stop the application, bring each volume back to a snapshot without destroying any
/// (see `Action.rollback`), start it, and bring its replicas along: incrementally from the newest snapshot they
/// share with the volume's new line (a replica holding newer ones sets them aside, as a rejoin does), or, with
/// none in common, all of it again (the plan says so). Pure, like `Planner`.
public enum RollbackPlanner {
    public static func plan(desired: DesiredState, observed: ObservedState, app: String, to text: String, now: Int) throws(PlanRefusal) -> Plan {
        let (node, volumes) = try SnapshotPlanner.primary(of: app, desired: desired, observed: observed).get()
        func refuse(_ message: String) -> PlanRefusal { PlanRefusal(problems: [.init(node: node, app: app, message: message, unsafe: false)]) }
        guard desired.placement[app] == node else {
            throw refuse("the deployment file places \(app) on \(desired.placement[app] ?? "no node"), its primary is on \(node): deploy first")
        }
        let name = SnapshotNames.resolve(text)
        guard let state = observed.nodes[node] else { throw refuse("\(node) was not looked at") }
        let origins = Dictionary(state.dependents.flatMap { origin, clones in clones.map { ($0, origin) } }, uniquingKeysWith: { a, _ in a })
        // Clones on this node made from the volumes' snapshots: a rollback renames the datasets they depend on,
        // which zfs-fuse cannot do while a clone is in use, and must not half do (the volume left without its name).
        let lines = Set(state.datasets.keys.filter { id in
            volumes.contains { id.app == app && (id.volume == $0.volume || id.volume.hasPrefix("\($0.volume)-pre-rollback-")) }
        }.map(\.dataset))
        let blocking = state.clones.values.filter { clone in
            clone.datasets.values.contains { origins[$0].map { lines.contains(String($0.prefix { $0 != "@" })) } ?? false }
        }.map(\.spec.name).sorted()
        if !blocking.isEmpty {
            let names = blocking.joined(separator: " ")
            throw refuse("\(blocking.count == 1 ? "clone \(names) was" : "clones \(names) were") made on \(node) from snapshots of \(app)'s volumes: a rollback renames the datasets they depend on; destroy \(blocking.count == 1 ? "it" : "them") first (flocker-deploy clone destroy DEPLOYMENT \(names)), then roll back")
        }
        let stamp = SnapshotNames.compactUTC(now)
        let pre = SnapshotNames.preRollback(at: now)
        var handoff: [Step] = []
        var replicate: [Step] = []
        var notes: [String] = []
        for v in volumes {
            // The snapshot: on the volume itself, or on a dataset an earlier rollback set aside.
            let family = state.datasets.filter { $0.key.app == app && ($0.key == v || $0.key.volume.hasPrefix("\(v.volume)-pre-rollback-")) }
            guard let (sourceID, source) = family.sorted(by: { ($0.key != v ? 1 : 0, $0.key.volume) < ($1.key != v ? 1 : 0, $1.key.volume) })
                .first(where: { $0.value.snapshots.contains { $0.name == name } }),
                let target = source.snapshots.first(where: { $0.name == name })
            else { throw refuse("volume \(v) has no snapshot \(text) on \(node) (see snapshot list)") }
            let keepAs = "\(app).\(v.volume)-pre-rollback-\(stamp)"
            handoff.append(Step(node: node, .rollback(v, source: sourceID.dataset, snapshot: name, keepAs: keepAs, preRollback: pre)))
            guard let current = state.datasets[v] else { continue }
            let newer = current.snapshots.filter { $0.createtxg > target.createtxg && sourceID == v }.map(\.displayName)
            notes.append("\(v): back to \(text) (taken \(Timestamp.iso(target.creation)), \(max(0, now - target.creation)) s before now); "
                + "what was written since is kept as snapshot \(SnapshotNames.display(pre)) of flocker/\(keepAs)"
                + (newer.isEmpty ? "" : ", with the newer snapshots \(newer.joined(separator: ", "))")
                + "; to undo: flocker-deploy rollback … --app \(app) --to \(SnapshotNames.display(pre)) --yes")
            // The volume's line after the rollback: what its replicas can receive incrementally from.
            let line = Set(lineage(of: sourceID.dataset, upTo: name, in: state, origins: origins).map(\.guid))
            for (r, copy) in observed.datasets(of: v) where r != node && copy.role == .copy {
                if let newest = copy.newestSnapshot, line.contains(newest.guid) {
                    replicate.append(Step(node: node, .replicate(v, to: r)))
                    continue
                }
                let common = copy.snapshots.last { line.contains($0.guid) }
                handoff.append(Step(node: r, .rejoin(v, common: common?.name, keepAs: keepAs, epoch: copy.epoch)))
                replicate.append(Step(node: node, .replicate(v, to: r)))
                notes.append(common.map { "\(r): the replica of \(v) follows incrementally from \($0.displayName); its newer snapshots are kept on flocker/\(keepAs) there" }
                    ?? "\(r): the replica of \(v) shares no snapshot with the rolled-back volume: it is set aside as flocker/\(keepAs) and sent everything again")
            }
        }
        return Plan(phases: [Phase(.stop, [Step(node: node, .stopApp(app, keep: true))]), Phase(.handoff, handoff),
                             Phase(.start, [Step(node: node, .restartApp(app))]), Phase(.replicate, replicate)], notes: notes)
    }

    /// The snapshots of `dataset`'s line up to `name`: its origin's line up to the origin snapshot, then its own.
    static func lineage(of dataset: String, upTo name: String?, in state: NodeState, origins: [String: String], depth: Int = 0) -> [SnapshotState] {
        guard depth < 20, let id = VolumeID(dataset: dataset), let ds = state.datasets[id] else { return [] }
        var own = ds.snapshots
        if let name, let i = own.firstIndex(where: { $0.name == name }) { own = Array(own[...i]) }
        guard let origin = origins[dataset], let at = origin.firstIndex(of: "@") else { return own }
        return lineage(of: String(origin[..<at]), upTo: String(origin[origin.index(after: at)...]), in: state, origins: origins, depth: depth + 1) + own
    }
}

/// `flocker-deploy rollback DEPLOYMENT APPLICATION --app NAME --to SNAPSHOT --yes`.
public struct RollbackOperation: ClusterOperation {
    public let desired: DesiredState
    public let app: String
    public let to: String
    public let now: Int
    public var name: String { "rollback" }
    public init(_ desired: DesiredState, app: String, to: String, now: Int) {
        self.desired = desired
        self.app = app
        self.to = to
        self.now = now
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try RollbackPlanner.plan(desired: desired, observed: observed, app: app, to: to, now: now)
    }
}
