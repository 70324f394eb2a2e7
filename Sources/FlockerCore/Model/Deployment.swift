/// The deployment file: which node runs which applications, in the order written; which applications keep
/// replicas of their volumes on other nodes; which zone each node is in.
public struct Deployment: Sendable, Hashable, Codable {
    /// One entry of `nodes:`.
    public struct Node: Sendable, Hashable, Codable {
        /// The node as written: an IP address, a hostname or an ssh_config alias.
        public var name: String
        /// Names of the applications this node runs.
        public var applications: [String]
        public init(name: String, applications: [String]) {
            self.name = name
            self.applications = applications
        }
    }
    public var nodes: [Node]
    /// `replicas:`: application name → the replicas it asks for. Empty when the file has no `replicas:` (or
    /// `replicas: {}`).
    public var replicas: [String: ReplicaRequest]
    /// `zones:`: node name (as written under `nodes:`) → zone name. Nodes not listed are in no named zone.
    public var zones: [String: String]
    /// `snapshots:`: application name → how often sync snapshots its volumes and which automatic snapshots it
    /// keeps (see `SnapshotRetention`). Applications not listed keep only what moves and replicas need.
    public var snapshots: [String: SnapshotRetention] = [:]

    public init(nodes: [Node], replicas: [String: ReplicaRequest] = [:], zones: [String: String] = [:],
                snapshots: [String: SnapshotRetention] = [:]) {
        self.nodes = nodes
        self.replicas = replicas
        self.zones = zones
        self.snapshots = snapshots
    }

    private enum CodingKeys: String, CodingKey { case nodes, replicas, zones, snapshots }

    /// `replicas` and `zones` may be missing (encodings made before they existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nodes = try c.decode([Node].self, forKey: .nodes)
        replicas = try c.decodeIfPresent([String: ReplicaRequest].self, forKey: .replicas) ?? [:]
        zones = try c.decodeIfPresent([String: String].self, forKey: .zones) ?? [:]
        snapshots = try c.decodeIfPresent([String: SnapshotRetention].self, forKey: .snapshots) ?? [:]
    }
}

/// What `replicas:` asks for one application: read-only copies of each of its volumes, kept on nodes other than
/// the one that runs it.
public enum ReplicaRequest: Sendable, Hashable, Codable {
    /// `redis: 2`: this many replicas, on nodes flocker-deploy picks (`ReplicaPlacement.choose`). 0 asks for none.
    case count(Int)
    /// `redis: [node2, node3]`: replicas on exactly these nodes, in the order written. `[]` asks for none.
    case nodes([String])

    /// The number of replicas asked for.
    public var count: Int {
        switch self {
        case .count(let n): return n
        case .nodes(let list): return list.count
        }
    }

    /// The nodes that should hold this application's replicas: an explicit list as written; for a count, the
    /// nodes `ReplicaPlacement.choose` picks from the same arguments.
    ///
    /// - Parameters:
    ///   - primary: the node that runs the application.
    ///   - nodes: the deployment file's nodes, in the order written.
    ///   - zones: node → zone (`Deployment.zones`).
    ///   - existing: nodes that hold a copy of the application's volumes now, most preferred first.
    ///   - load: node → number of replicas (of any application) it holds; see `ReplicaPlacement.choose`.
    public func resolve(
        primary: String, nodes: [String], zones: [String: String], existing: [String], load: [String: Int]
    ) -> [String] {
        switch self {
        case .nodes(let list): return list
        case .count(let n):
            return ReplicaPlacement.choose(
                count: n, primary: primary, nodes: nodes, zones: zones, existing: existing, load: load)
        }
    }
}

/// What the two manifests ask for, checked against each other: the planner's first input.
public struct DesiredState: Sendable, Hashable {
    /// Every application of the application file, by name (including those placed on no node).
    public var applications: [String: Application]
    /// The nodes of the deployment file, in the order written. Only these are ever contacted.
    public var nodes: [String]
    /// Application name → the node that runs it. Applications on no node are absent.
    public var placement: [String: String]
    /// Application name → the replicas the deployment file asks for. Applications without replicas are absent
    /// (or ask for 0 or `[]`). Every application here is placed, has volumes, and names only other nodes.
    public var replicas: [String: ReplicaRequest] = [:]
    /// Node → zone, from the deployment file's `zones:`. Nodes not listed are in no named zone.
    public var zones: [String: String] = [:]
    /// Application name → its `snapshots:` retention (see `SnapshotRetention`). Applications without one are absent.
    public var retention: [String: SnapshotRetention] = [:]

    public init(
        applications: [String: Application], nodes: [String], placement: [String: String],
        replicas: [String: ReplicaRequest] = [:], zones: [String: String] = [:], retention: [String: SnapshotRetention] = [:]
    ) {
        self.applications = applications
        self.nodes = nodes
        self.placement = placement
        self.replicas = replicas
        self.zones = zones
        self.retention = retention
    }

    /// Builds the desired state from a checked deployment and application list.
    public init(applications: [Application], deployment: Deployment) {
        var apps: [String: Application] = [:]
        for app in applications { apps[app.name] = app }
        var placement: [String: String] = [:]
        for node in deployment.nodes {
            for app in node.applications { placement[app] = node.name }
        }
        self.init(
            applications: apps, nodes: deployment.nodes.map(\.name), placement: placement,
            replicas: deployment.replicas, zones: deployment.zones, retention: deployment.snapshots)
    }

    /// Applications placed on `node`, sorted by name.
    public func applications(on node: String) -> [Application] {
        placement.filter { $0.value == node }.keys.sorted().compactMap { applications[$0] }
    }

    /// The nodes that should hold replicas of `application`'s volumes: `ReplicaRequest.resolve` with this state's
    /// nodes and zones; empty when the application asks for none or is not placed.
    ///
    /// - Parameters:
    ///   - existing: nodes that hold a copy of the application's volumes now, most preferred first.
    ///   - load: node → number of replicas (of any application) it holds; see `ReplicaPlacement.choose`.
    /// The container ports (`PORT/PROTO`) that the applications placed on `node`, `app` aside, publish on every
    /// address of it: a Compose service's address cannot have them too (`NodeCommands.start`).
    public func portsTaken(on node: String, besides app: String) -> [String] {
        placement.filter { $0.value == node && $0.key != app }.keys.sorted()
            .flatMap { PortMapping.answeringOnEveryAddress(applications[$0]?.ports ?? []) }
    }

    public func replicaNodes(of application: String, existing: [String], load: [String: Int]) -> [String] {
        guard let request = replicas[application], let primary = placement[application] else { return [] }
        // (After a failover that left the file as it was, the primary may run on a node the list names.)
        return request.resolve(primary: primary, nodes: nodes, zones: zones, existing: existing, load: load).filter { $0 != primary }
    }
}
