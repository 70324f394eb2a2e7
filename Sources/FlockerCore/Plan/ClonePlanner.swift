import Foundation

/// Plans of `clone create` and `clone destroy`, and what `clone list` shows. Pure functions, like `Planner`.
///
/// A clone `PREFIX-N` of an application is, on one node: a `zfs clone` of one snapshot for each of the
/// application's volumes (`flocker/flocker-clones/NAME.VOLUME`), and a container `flocker-clone--NAME` of the
/// application's image and configuration on them, published on ports from the clone port pool; every other node
/// forwards those ports to it (routing rules tagged `clone=NAME`, which a deploy leaves alone).
public enum ClonePlanner {
    /// What `clone create` asks for.
    public struct Request: Sendable, Hashable {
        public var app: String
        public var prefix: String
        /// A snapshot name as the user types it, nil for the newest one.
        public var from: String?
        public var count: Int
        public var on: String?
        public var ttl: Int?
        public var pool: PortPool
        /// The time of the request (clones' `created`).
        public var now: Int
        public init(app: String, prefix: String, from: String? = nil, count: Int = 1, on: String? = nil, ttl: Int? = nil,
                    pool: PortPool = .default, now: Int) {
            self.app = app
            self.prefix = prefix
            self.from = from
            self.count = count
            self.on = on
            self.ttl = ttl
            self.pool = pool
            self.now = now
        }
        public var names: [String] { (1...max(1, count)).map { "\(prefix)-\($0)" } }
    }

    /// Free pool space each new clone needs on its node: room for its first writes (the volume's maximum size
    /// when the application sets one).
    public static let minimumFreeSpacePerClone: UInt64 = 16 << 20

    /// Every clone in the cluster: name → (node, state).
    static func clones(_ observed: ObservedState) -> [String: (node: String, clone: CloneState)] {
        var all: [String: (node: String, clone: CloneState)] = [:]
        for node in observed.nodes.keys.sorted() {
            for (name, clone) in observed.nodes[node]?.clones ?? [:] where all[name] == nil { all[name] = (node, clone) }
        }
        return all
    }

    /// The nodes that hold `snapshot` (or, for nil, their newest common snapshot) on every volume, replicas'
    /// nodes first, then the primary's; with the snapshot each would clone.
    static func candidates(_ volumes: [VolumeID], snapshot: String?, observed: ObservedState) -> [(node: String, snapshot: String)] {
        var result: [(node: String, snapshot: String, replica: Bool)] = []
        for node in observed.nodes.keys.sorted() {
            let datasets = volumes.compactMap { observed.nodes[node]?.datasets[$0] }
            guard datasets.count == volumes.count, let first = datasets.first, first.role != .diverged else { continue }
            let shared = first.snapshots.filter { s in datasets.allSatisfy { d in d.snapshots.contains { $0.name == s.name } } }
            let pick = snapshot.map { name in shared.first { $0.name == name } } ?? shared.last
            guard let pick else { continue }
            result.append((node, pick.name, first.role == .copy))
        }
        return result.sorted { ($0.replica ? 0 : 1, $0.node) < ($1.replica ? 0 : 1, $1.node) }.map { ($0.node, $0.snapshot) }
    }

    public static func createPlan(desired: DesiredState, observed: ObservedState, request r: Request) throws(PlanRefusal) -> Plan {
        func refuse(_ node: String, _ message: String) -> PlanRefusal {
            PlanRefusal(problems: [.init(node: node, app: r.app, message: message, unsafe: false)])
        }
        guard let application = desired.applications[r.app] else { throw refuse("", "there is no application \(r.app) in the application file") }
        let volumes = application.volumes.map { VolumeID(app: r.app, volume: $0.name) }.sorted()
        guard !volumes.isEmpty else { throw refuse("", "\(r.app) has no volume to clone") }
        guard r.count >= 1 else { throw refuse("", "--count takes a number of at least 1") }
        for name in r.names { if let p = CloneNames.problem(withName: name) { throw refuse("", "clone name \(name): \(p)") } }
        if let on = r.on, !desired.nodes.contains(on) { throw refuse(on, "--on \(on): there is no node \(on) in the deployment file") }

        let existing = clones(observed)
        var steps: [Step] = []
        var notes: [String] = []
        var made: [(node: String, spec: CloneSpec)] = []
        var wanted: [String] = []
        // Clones of these names that are there: the same request run again (finish what an interrupted run
        // started), or a name taken.
        for name in r.names {
            guard let (node, clone) = existing[name] else { wanted.append(name); continue }
            let snapshot = r.from.map(SnapshotNames.resolve)
            if clone.spec.app != r.app || (snapshot != nil && snapshot != clone.spec.snapshot) || (r.on != nil && r.on != node) {
                throw refuse(node, "the clone name \(name) is taken (a clone of \(clone.spec.app) from \(SnapshotNames.display(clone.spec.snapshot)) on \(node)); destroy it first or choose another --name")
            }
            made.append((node, clone.spec))
            if clone.complete { notes.append("\(name): there already on \(node)") }
            else { steps.append(Step(node: node, .createClone(clone.spec))) }
        }
        if !wanted.isEmpty {
            let snapshot = r.from.map(SnapshotNames.resolve)
            let holders = candidates(volumes, snapshot: snapshot, observed: observed)
            let what = r.from.map { "snapshot \($0)" } ?? "a snapshot"
            let chosen: (node: String, snapshot: String)
            if let on = r.on {
                guard let c = holders.first(where: { $0.node == on }) else {
                    throw refuse(on, "\(on) does not hold \(what) of every volume of \(r.app)" + (holders.isEmpty ? "" : " (nodes that do: \(holders.map(\.node).joined(separator: ", ")))"))
                }
                chosen = c
            } else {
                guard let c = holders.first else { throw refuse("", "no node holds \(what) of every volume of \(r.app)" + (r.from == nil ? " (take one with snapshot create, or run sync)" : "")) }
                chosen = c
            }
            // Ports: the lowest free ones of the pool (free of every clone's and every application's).
            var used = Set(existing.values.flatMap { $0.clone.spec.ports.map(\.published) } + made.flatMap { $0.spec.ports.map(\.published) })
            used.formUnion(desired.applications.values.flatMap { $0.ports.map(\.externalPort) })
            // A clone publishes the application's TCP ports (its UDP ones are not published: docs/clones.md).
            let tcpPorts = application.ports.filter { $0.transport == .tcp }
            let needed = tcpPorts.count * wanted.count
            let free = (r.pool.lower...r.pool.upper).filter { !used.contains($0) }
            if free.count < needed {
                let inUse = (r.pool.lower...r.pool.upper).filter(used.contains).count
                throw refuse(chosen.node, "the clone port pool \(r.pool.description) is exhausted: \(inUse) of its \(r.pool.size) ports in use, \(needed) more needed (choose another range with --ports FROM-TO, or destroy clones)")
            }
            let perClone = max(minimumFreeSpacePerClone, application.volumes.compactMap(\.maximumSize).reduce(0, +))
            if let available = observed.nodes[chosen.node]?.facts.poolAvailable, available < perClone * UInt64(wanted.count) {
                throw refuse(chosen.node, "not enough free space in pool flocker for \(wanted.count) clone\(wanted.count == 1 ? "" : "s"): \(Bytes.human(available)) available, \(Bytes.human(perClone * UInt64(wanted.count))) needed (\(Bytes.human(perClone)) each)")
            }
            var next = free.makeIterator()
            for name in wanted {
                let ports = tcpPorts.sorted { $0.internalPort < $1.internalPort }.map { ClonePort(container: $0.internalPort, published: next.next()!) }
                let spec = CloneSpec(name: name, app: r.app, snapshot: chosen.snapshot, ports: ports, created: r.now,
                                     expires: r.ttl.map { r.now + $0 }, volumes: volumes.map(\.volume))
                made.append((chosen.node, spec))
                steps.append(Step(node: chosen.node, .createClone(spec)))
            }
        }
        return Plan(phases: [Phase(.start, steps), Phase(.routes, routeSteps(adding: made, observed: observed, nodes: desired.nodes))], notes: notes)
    }

    /// The rules each node lacks for the clones `made`: every node but the clone's forwards its ports to it.
    static func routeSteps(adding made: [(node: String, spec: CloneSpec)], observed: ObservedState, nodes: [String]) -> [Step] {
        var steps: [Step] = []
        for node in nodes {
            guard let state = observed.nodes[node] else { continue }
            let have = Set(state.routes.map(\.tag))
            var add: [RouteSpec] = []
            for (owner, spec) in made where owner != node {
                guard let destination = observed.nodes[owner]?.address else { continue }
                for port in spec.ports.map(\.published) {
                    for kind in [RouteTag.Kind.inbound, .local, .masquerade, .forward] {
                        let tag = RouteTag(kind: kind, app: CloneNames.routeApp(spec.name), port: port, destination: destination)
                        if !have.contains(tag) { add.append(RouteSpec(tag: tag)) }
                    }
                }
            }
            if !add.isEmpty && !have.contains(.established) { add.append(RouteSpec(tag: .established)) }
            if !add.isEmpty { steps.append(Step(node: node, .setRoutes(add: add, remove: []))) }
        }
        return steps
    }

    /// `clone destroy`: each named clone's routes on every node, then its container and datasets. A name
    /// nothing is left of is a note (destroying twice succeeds).
    public static func destroyPlan(desired: DesiredState, observed: ObservedState, names: [String]) throws(PlanRefusal) -> Plan {
        let existing = clones(observed)
        var routes: [Step] = []
        var destroys: [Step] = []
        var notes: [String] = []
        for node in desired.nodes {
            let remove = (observed.nodes[node]?.routes ?? []).filter { rule in names.contains { CloneNames.routeApp($0) == rule.tag.app } }
            if !remove.isEmpty { routes.append(Step(node: node, .setRoutes(add: [], remove: remove))) }
        }
        var unknown: [PlanRefusal.Problem] = []
        for name in names {
            guard let (node, clone) = existing[name] else {
                // `clone create --name ci` makes ci-1, ci-2 …: a destroy of `ci` that leaves them running would
                // leak them, so it is refused, naming them.
                let meant = existing.keys.filter { $0.hasPrefix(name + "-") && Int($0.dropFirst(name.count + 1)) != nil }.sorted()
                if !meant.isEmpty {
                    unknown.append(.init(node: "", app: "", message: "no clone is named \(name); did you mean \(meant.joined(separator: ", "))? (clone create --name \(name) names its clones \(name)-1, \(name)-2 …)", unsafe: false))
                    continue
                }
                if !routes.contains(where: { step in
                    if case .setRoutes(_, let remove) = step.action { return remove.contains { $0.tag.app == CloneNames.routeApp(name) } }
                    return false
                }) { notes.append("\(name): no such clone on any node (destroyed already?)") }
                continue
            }
            var spec = clone.spec
            spec.volumes = Array(Set(spec.volumes).union(clone.datasets.keys)).sorted()
            destroys.append(Step(node: node, .destroyClone(spec)))
        }
        if !unknown.isEmpty { throw PlanRefusal(problems: unknown) }
        return Plan(phases: [Phase(.routes, routes), Phase(.cleanup, destroys)], notes: notes)
    }

    /// `clone reset`: fresh data for each named clone on its own node, from `from` (a snapshot as the user types
    /// it; `latest` for the newest one that node holds on every volume; nil for the snapshot the clone's data now
    /// comes from, the one it was made or last reset from). Its name, ports, node, container, creation time and
    /// expiry stay; its routes are untouched. Refused, before anything changes, for a name no node has a clone of,
    /// a clone without its container (finish it with `clone create` or destroy it), or a node that lacks the
    /// snapshot on one of the clone's volumes.
    public static func resetPlan(desired: DesiredState, observed: ObservedState, names: [String], from: String?) throws(PlanRefusal) -> Plan {
        let existing = clones(observed)
        var steps: [Step] = []
        var problems: [PlanRefusal.Problem] = []
        for name in names {
            guard let (node, clone) = existing[name] else {
                problems.append(.init(node: "", app: "", message: "there is no clone \(name) on any node (see clone list)", unsafe: false))
                continue
            }
            guard clone.container != nil else {
                problems.append(.init(node: node, app: clone.spec.app, message: "clone \(name) has no container: finish it with clone create or destroy it", unsafe: false))
                continue
            }
            let volumes = clone.spec.volumes.map { VolumeID(app: clone.spec.app, volume: $0) }.sorted()
            let wanted: String? = from == "latest" ? nil : (from.map(SnapshotNames.resolve) ?? clone.spec.snapshot)
            guard let pick = candidates(volumes, snapshot: wanted, observed: observed).first(where: { $0.node == node }) else {
                let what = from == "latest" ? "a snapshot" : "snapshot \(SnapshotNames.display(wanted ?? ""))"
                problems.append(.init(node: node, app: clone.spec.app, message: "\(node), where clone \(name) is, does not hold \(what) of every volume of \(clone.spec.app) (see snapshot list)", unsafe: false))
                continue
            }
            var spec = clone.spec
            spec.snapshot = pick.snapshot
            steps.append(Step(node: node, .resetClone(spec)))
        }
        if !problems.isEmpty { throw PlanRefusal(problems: problems) }
        return Plan(phases: [Phase(.start, steps)])
    }

    /// `clone sweep`: the clones whose TTL ran out at `now`.
    public static func expired(_ observed: ObservedState, now: Int) -> [String] {
        clones(observed).filter { ($0.value.clone.spec.expires ?? .max) <= now }.keys.sorted()
    }

    /// `clone list`: every clone, by name.
    public static func list(_ observed: ObservedState) -> [(node: String, clone: CloneState)] {
        clones(observed).sorted { $0.key < $1.key }.map(\.value)
    }

    public static func text(_ clones: [(node: String, clone: CloneState)], now: Int) -> String {
        guard !clones.isEmpty else { return "No clones.\n" }
        let rows = clones.map { node, c -> [String] in
            [c.spec.name, c.spec.app, SnapshotNames.display(c.spec.snapshot), node,
             c.spec.ports.map { "\($0.published)→\($0.container)" }.joined(separator: ","),
             c.complete ? "running" : (c.container.map { "container \($0)" } ?? "no container"),
             Timestamp.utc(c.spec.created), c.spec.expires.map { ($0 <= now ? "expired " : "") + Timestamp.utc($0) } ?? "never"]
        }
        let header = ["NAME", "APP", "SNAPSHOT", "NODE", "PORTS", "STATE", "CREATED (UTC)", "EXPIRES (UTC)"]
        let widths = (0..<header.count).map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    public static func json(_ clones: [(node: String, clone: CloneState)]) -> String {
        let array: [[String: Any]] = clones.map { node, c in
            ["name": c.spec.name, "app": c.spec.app, "snapshot": SnapshotNames.display(c.spec.snapshot), "node": node,
             "ports": Dictionary(uniqueKeysWithValues: c.spec.ports.map { (String($0.container), $0.published) }),
             "created": Timestamp.iso(c.spec.created), "expires": c.spec.expires.map { Timestamp.iso($0) as Any } ?? NSNull(),
             "running": c.running, "complete": c.complete, "volumes": c.spec.volumes]
        }
        let root: [String: Any] = ["schema": JSONSchema.version, "clones": array]
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
