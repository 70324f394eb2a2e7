/// The deployment file: which node runs which applications, in the order written.
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
    public init(nodes: [Node]) { self.nodes = nodes }
}

/// What the two manifests ask for, checked against each other: the planner's first input.
public struct DesiredState: Sendable, Hashable {
    /// Every application of the application file, by name (including those placed on no node).
    public var applications: [String: Application]
    /// The nodes of the deployment file, in the order written. Only these are ever contacted.
    public var nodes: [String]
    /// Application name → the node that runs it. Applications on no node are absent.
    public var placement: [String: String]

    public init(applications: [String: Application], nodes: [String], placement: [String: String]) {
        self.applications = applications
        self.nodes = nodes
        self.placement = placement
    }

    /// Builds the desired state from a checked deployment and application list.
    public init(applications: [Application], deployment: Deployment) {
        var apps: [String: Application] = [:]
        for app in applications { apps[app.name] = app }
        var placement: [String: String] = [:]
        for node in deployment.nodes {
            for app in node.applications { placement[app] = node.name }
        }
        self.init(applications: apps, nodes: deployment.nodes.map(\.name), placement: placement)
    }

    /// Applications placed on `node`, sorted by name.
    public func applications(on node: String) -> [Application] {
        placement.filter { $0.value == node }.keys.sorted().compactMap { applications[$0] }
    }
}
