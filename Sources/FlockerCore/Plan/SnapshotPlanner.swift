import Foundation

/// Plans of `snapshot create` and `snapshot destroy`, and what `snapshot list` shows. Pure functions of the
/// desired and observed states, like `Planner`.
///
/// A named snapshot is `@flocker-named-LABEL` on every volume of the application, taken on its primary. Being a
/// `flocker-…` snapshot, every copy of the volume (a move, a replica's `sync`) receives it in order with the
/// automatic ones; having no sequence number, it is never pruned (see `SnapshotNames`).
public enum SnapshotPlanner {
    /// Where `app`'s volumes have their primary: one node for all of them, or a problem.
    static func primary(of app: String, desired: DesiredState, observed: ObservedState)
        -> Result<(node: String, volumes: [VolumeID]), PlanRefusal>
    {
        func refuse(_ node: String, _ message: String) -> Result<(node: String, volumes: [VolumeID]), PlanRefusal> {
            .failure(PlanRefusal(problems: [.init(node: node, app: app, message: message, unsafe: false)]))
        }
        guard let application = desired.applications[app] else {
            return refuse("", "there is no application \(app) in the application file")
        }
        let volumes = application.volumes.map { VolumeID(app: app, volume: $0.name) }.sorted()
        guard !volumes.isEmpty else { return refuse(desired.placement[app] ?? "", "\(app) has no volume to snapshot") }
        var nodes = Set<String>()
        for v in volumes {
            guard let primary = observed.datasets(of: v).filter({ $0.dataset.role == .primary })
                .max(by: { $0.dataset.epoch < $1.dataset.epoch })
            else {
                return refuse(desired.placement[app] ?? "", "volume \(v) has no primary on any node (deploy \(app) first)")
            }
            nodes.insert(primary.node)
        }
        guard nodes.count == 1, let node = nodes.first else {
            return refuse(nodes.sorted().joined(separator: ", "),
                          "\(app)'s volumes have their primaries on different nodes (\(nodes.sorted().joined(separator: ", "))); run a deploy first")
        }
        return .success((node, volumes))
    }

    /// `snapshot create`: one step on the primary's node, or nothing when the snapshot is there already (an
    /// earlier run took it). `stop` stops the application around it; a container an interrupted `--stop` run
    /// left stopped is started again.
    public static func createPlan(desired: DesiredState, observed: ObservedState, app: String, label: String,
                                  stop: Bool) throws(PlanRefusal) -> Plan {
        if let problem = SnapshotNames.problem(withLabel: label) {
            throw PlanRefusal(problems: [.init(node: "", app: app, message: "snapshot name \(label): \(problem)", unsafe: false)])
        }
        let (node, volumes) = try primary(of: app, desired: desired, observed: observed).get()
        let name = SnapshotNames.named(label)
        let state = observed.nodes[node]
        let missing = volumes.filter { v in !(state?.datasets[v]?.snapshots.contains { $0.name == name } ?? false) }
        if missing.isEmpty {
            let taken = volumes.compactMap { state?.datasets[$0]?.snapshots.first { $0.name == name }?.creation }.min() ?? 0
            var notes = ["\(app): snapshot \(label) exists already on \(node) (taken \(Timestamp.iso(taken)))"]
            var steps: [Step] = []
            if stop, let container = state?.containers[app], !container.running, desired.placement[app] == node {
                steps.append(Step(node: node, .restartApp(app)))
                notes.append("\(app): its container is stopped (left so by an interrupted snapshot --stop?): it is started again")
            }
            return Plan(phases: [Phase(.start, steps)], notes: notes)
        }
        return Plan(phases: [Phase(.snapshot, [Step(node: node, .takeSnapshot(app: app, volumes: volumes.map(\.volume), name: name, stop: stop))])])
    }

    /// `snapshot destroy`: destroy each named (or pre-rollback) snapshot on every node that holds it. Refused,
    /// before anything changes, when a clone depends on it anywhere (naming the clones), when it is a replica's
    /// newest snapshot (the base of its next incremental receive), or when it is an automatic snapshot (moves
    /// and `sync` prune those). A name no node holds is a note, not an error: destroying twice is a success.
    public static func destroyPlan(desired: DesiredState, observed: ObservedState, app: String,
                                   names: [String]) throws(PlanRefusal) -> Plan {
        guard let application = desired.applications[app] else {
            throw PlanRefusal(problems: [.init(node: "", app: app, message: "there is no application \(app) in the application file", unsafe: false)])
        }
        let volumes = application.volumes.map { VolumeID(app: app, volume: $0.name) }.sorted()
        var steps: [Step] = []
        var problems: [PlanRefusal.Problem] = []
        var notes: [String] = []
        for text in names {
            let name = SnapshotNames.resolve(text)
            let kind = SnapshotNames.kind(of: name)
            guard let kind, kind != .automatic else {
                problems.append(.init(node: "", app: app, message: kind == nil
                    ? "\(text) is not a snapshot name flocker-deploy gives"
                    : "\(text) is an automatic snapshot: moves and sync prune those themselves", unsafe: false))
                continue
            }
            var found = false
            for v in volumes {
                for (node, dataset) in observed.datasets(of: v) where dataset.snapshots.contains(where: { $0.name == name }) {
                    found = true
                    let clones = observed.nodes[node]?.dependents["\(v.dataset)@\(name)"] ?? []
                    if !clones.isEmpty {
                        problems.append(.init(node: node, app: app, message: "snapshot \(text) of volume \(v) has clones made from it: \(clones.joined(separator: ", ")) (destroy them first, e.g. with clone destroy)", unsafe: true))
                        continue
                    }
                    if dataset.role == .copy, dataset.newestSnapshot?.name == name {
                        problems.append(.init(node: node, app: app, message: "snapshot \(text) is the newest snapshot of the replica of volume \(v) here, the base of its next sync: run sync first", unsafe: true))
                        continue
                    }
                    steps.append(Step(node: node, .destroySnapshot(v, name: name)))
                }
            }
            if !found { notes.append("\(app): no node holds a snapshot \(text) (destroyed already?)") }
        }
        if !problems.isEmpty { throw PlanRefusal(problems: problems) }
        return Plan(phases: [Phase(.cleanup, steps)], notes: notes)
    }

    /// One snapshot of an application as `snapshot list` shows it: the same name on each of its volumes and
    /// copies.
    public struct Entry: Sendable, Hashable {
        public var app: String
        /// The name the user types (`SnapshotNames.display`).
        public var name: String
        /// The snapshot's name on the nodes (after `@`).
        public var snapshot: String
        public var kind: SnapshotKind
        /// Unix time it was taken (the earliest over its volumes).
        public var created: Int
        /// Bytes only it holds, over the volumes of the primary (of the node that holds it, without a primary).
        public var space: UInt64
        /// Clones made from it, as `NODE:DATASET`.
        public var clones: [String]
        /// Nodes that hold it, sorted.
        public var nodes: [String]
        /// Volumes it was taken of, sorted.
        public var volumes: [String]
    }

    /// Every snapshot flocker-deploy took of the applications (all of them when `apps` is nil), by application and
    /// then in the order they were taken.
    public static func list(_ observed: ObservedState, apps: Set<String>? = nil) -> [Entry] {
        struct Key: Hashable { var app: String; var name: String }
        var entries: [Key: Entry] = [:]
        var order: [Key: UInt64] = [:]
        var primaryNodes: [Key: Set<String>] = [:]
        for nodeName in observed.nodes.keys.sorted() {
            guard let state = observed.nodes[nodeName] else { continue }
            for (id, dataset) in state.datasets.sorted(by: { $0.key < $1.key }) where apps?.contains(id.app) ?? true {
                for snap in dataset.snapshots {
                    guard let kind = snap.kind else { continue }
                    let key = Key(app: id.app, name: snap.name)
                    var e = entries[key] ?? Entry(app: id.app, name: snap.displayName, snapshot: snap.name, kind: kind,
                                                  created: snap.creation, space: 0, clones: [], nodes: [], volumes: [])
                    e.created = min(e.created, snap.creation)
                    if !e.nodes.contains(nodeName) { e.nodes.append(nodeName) }
                    if !e.volumes.contains(id.volume) { e.volumes.append(id.volume) }
                    for clone in state.dependents["\(id.dataset)@\(snap.name)"] ?? [] { e.clones.append("\(nodeName):\(clone)") }
                    if dataset.role == .primary { primaryNodes[key, default: []].insert(nodeName) }
                    entries[key] = e
                    order[key] = min(order[key] ?? .max, snap.createtxg)
                }
            }
        }
        // Space: what the snapshot holds on its primary's node (every copy holds about the same).
        for (key, var e) in entries {
            let spaceNode = primaryNodes[key]?.sorted().first ?? e.nodes.first ?? ""
            let datasets = observed.nodes[spaceNode]?.datasets.filter { $0.key.app == key.app }.values ?? [:].values
            e.space = datasets.compactMap { $0.snapshots.first { $0.name == key.name }?.used }.reduce(0, +)
            e.nodes.sort()
            e.volumes.sort()
            e.clones.sort()
            entries[key] = e
        }
        return entries.keys.sorted { a, b in
            (a.app, entries[a]!.created, order[a] ?? 0, a.name) < (b.app, entries[b]!.created, order[b] ?? 0, b.name)
        }.map { entries[$0]! }
    }

    /// `snapshot list` as text: one line per snapshot.
    public static func text(_ entries: [Entry]) -> String {
        guard !entries.isEmpty else { return "No snapshots.\n" }
        let rows = entries.map { e in
            [e.app, e.name, e.kind.rawValue, Timestamp.utc(e.created), Bytes.human(e.space),
             e.clones.isEmpty ? "-" : "\(e.clones.count) (\(e.clones.map { $0.split(separator: "/").last.map(String.init) ?? $0 }.joined(separator: ", ")))",
             e.nodes.joined(separator: ",")]
        }
        let header = ["APP", "NAME", "KIND", "CREATED (UTC)", "SPACE", "CLONES", "NODES"]
        let widths = (0..<header.count).map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `snapshot list --json`: one array of objects.
    public static func json(_ entries: [Entry]) -> String {
        let array: [[String: Any]] = entries.map { e in
            ["app": e.app, "name": e.name, "snapshot": e.snapshot, "kind": e.kind.rawValue, "created": Timestamp.iso(e.created),
             "space": e.space, "clones": e.clones, "nodes": e.nodes, "volumes": e.volumes]
        }
        let root: [String: Any] = ["schema": JSONSchema.version, "snapshots": array]
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

extension Timestamp {
    /// `2026-12-01 18:42:10`, UTC.
    public static func utc(_ unix: Int) -> String {
        let iso = Timestamp.iso(unix)
        return String(iso.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }
}
