@testable import FlockerCore

/// Builds desired and observed states for planner and executor tests with little ceremony.
struct Cluster {
    var nodes: [String] = ["node1", "node2"]
    var apps: [Application] = []
    var placement: [String: String] = [:]
    var observed: [String: NodeState] = [:]
    var replicas: [String: ReplicaRequest] = [:]
    var unreachable: [String: String] = [:]
    var unresolved: Set<String> = []

    init(nodes: [String] = ["node1", "node2"]) {
        self.nodes = nodes
        for (i, n) in nodes.enumerated() {
            var state = NodeState(node: n, address: "10.77.0.\(11 + i)")
            state.facts.dockerAnswers = true
            state.facts.poolVersion = "23"
            state.facts.hasBash = true
            state.images = ["redis:7", "busybox:latest"]
            observed[n] = state
        }
    }

    var desired: DesiredState {
        DesiredState(applications: Dictionary(uniqueKeysWithValues: apps.map { ($0.name, $0) }), nodes: nodes, placement: placement,
                     replicas: replicas)
    }
    var observedState: ObservedState {
        ObservedState(nodes: observed.filter { unreachable[$0.key] == nil }, unreachable: unreachable, unresolved: unresolved)
    }
    func address(_ node: String) -> String { observed[node]?.address ?? "" }

    static func redis(volume: Bool = true, quota: UInt64? = nil) -> Application {
        Application(name: "redis", image: "redis:7", ports: [PortMapping(internal: 6379, external: 6379)],
                    volumes: volume ? [VolumeSpec(name: "default", mountpoint: "/data", maximumSize: quota)] : [])
    }

    /// redis (with its volume and a snapshot) running on node1, every route in place: a converged cluster.
    static func convergedRedis() -> Cluster {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001"])
        c.converge(routesFor: c.placement)
        return c
    }

    /// Marks `app` as running (or stopped) on `node` with its current configuration.
    mutating func run(_ app: Application, on node: String, running: Bool = true, hash: String? = nil) {
        observed[node]?.containers[app.name] = ContainerState(
            app: app.name, id: "c-\(app.name)-\(node)", configHash: hash ?? app.configHash, running: running,
            status: running ? "running" : "exited", image: app.image, restartPolicy: app.restartPolicy.dockerValue)
    }

    /// Puts a dataset for each volume of `app` on `node`.
    mutating func dataset(_ app: Application, on node: String, role: VolumeRole = .primary, epoch: Int = 1,
                          readonly: Bool? = nil, snapshots: [String] = [], quota: UInt64? = nil) {
        for v in app.volumes {
            let id = VolumeID(app: app.name, volume: v.name)
            observed[node]?.datasets[id] = DatasetState(
                id: id, role: role, epoch: epoch, readonly: readonly ?? (role == .copy),
                mountpoint: "/flocker/\(app.name).\(v.name)", referenced: 1 << 20, quota: quota ?? v.maximumSize,
                snapshots: snapshots.enumerated().map { i, name in
                    SnapshotState(name: name, guid: "guid-\(name)", createtxg: UInt64(100 + i), creation: 1_700_000_000 + i)
                })
        }
    }

    /// What `iptables-save` prints after `-A CHAIN ` for a rule added by `line` (`-A CHAIN …` or `-I CHAIN 1 …`).
    static func ruleText(_ line: String) -> String {
        String(line.split(separator: " ", maxSplits: line.hasPrefix("-I ") ? 3 : 2).last ?? "")
    }

    /// Installs exactly the routes the mesh wants given the current placement.
    mutating func converge(routesFor placement: [String: String]) {
        var addresses: [String: String] = [:]
        for (n, s) in observed { addresses[n] = s.address }
        let apps = Dictionary(uniqueKeysWithValues: self.apps.map { ($0.name, $0) })
        for n in nodes {
            let want = RoutingMesh.desiredRules(on: n, running: placement, applications: apps, addresses: addresses)
            observed[n]?.routes = want.filter { !$0.tag.isService }.map {
                RouteRule(table: $0.tag.table, chain: $0.tag.chain, tag: $0.tag, ruleText: Self.ruleText($0.restoreLine))
            }
            // Services by name: what discovery reads from `ip addr` and `ip route`.
            observed[n]?.serviceAddresses = want.filter { $0.tag.kind == .serviceAddress }.map(\.tag.service.address)
            observed[n]?.serviceRoutes = Dictionary(uniqueKeysWithValues: want.filter { $0.tag.kind == .serviceRoute }.map {
                ($0.tag.service.address, $0.tag.service.via ?? "")
            })
        }
    }
}

extension Plan {
    /// The steps of one phase as (node, description) pairs.
    func phase(_ name: PhaseName) -> [Step] { phases.first { $0.name == name }?.steps ?? [] }
    var actions: [Action] { steps.map(\.action) }
    /// The route steps merged into one per node (in the order the nodes first appear): what a node's rules
    /// become, whatever the application steps they are split into.
    var routesPerNode: [Step] {
        var order: [String] = []
        var merged: [String: (add: [RouteSpec], remove: [RouteRule])] = [:]
        for step in phase(.routes) {
            guard case .setRoutes(let add, let remove) = step.action else { continue }
            if merged[step.node] == nil { order.append(step.node) }
            merged[step.node, default: ([], [])].add += add
            merged[step.node, default: ([], [])].remove += remove
        }
        return order.map { Step(node: $0, .setRoutes(add: merged[$0]?.add ?? [], remove: merged[$0]?.remove ?? [])) }
    }
}
