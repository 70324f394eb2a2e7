/// Connects to every node of the deployment file in parallel (one connection each, kept for the run) and
/// asks each what it has.
public struct Discovery: Sendable {
    public let connector: any NodeConnector
    /// How long the discovery command may take on one node.
    public var timeout: Duration = .seconds(60)
    /// Also ask each node's Docker server for its version (for `status`; a deploy does not need it).
    public var withVersions = false
    /// List the images each node has (for pull steps). A deploy's first look skips them: a converged cluster
    /// needs none, and a plan that changes something is made again under the lock with them.
    public var withImages = true

    public init(connector: any NodeConnector) { self.connector = connector }

    /// Nodes that could not be reached or did not answer; the run stops before any change.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var errors: [RemoteError]
        public var description: String { errors.map(\.description).joined(separator: "\n") }
    }

    /// Connected hosts and what they have.
    public struct Result: Sendable {
        public var hosts: [String: any RemoteHost]
        public var observed: ObservedState
    }

    /// What discovering every node gave: the nodes that answered (their connection and state) and the errors
    /// of the others, in the order of `nodes`.
    public struct Collected: Sendable {
        public var hosts: [String: any RemoteHost] = [:]
        public var states: [String: NodeState] = [:]
        public var errors: [RemoteError] = []
        /// Node → why it could not be discovered.
        public var unreachable: [String: String] { Dictionary(errors.map { ($0.node, $0.message) }, uniquingKeysWith: { a, _ in a }) }
        /// Nodes whose name did not resolve.
        public var unresolved: Set<String> { Set(errors.filter { $0.kind == .nameNotResolved }.map(\.node)) }
        /// What was seen, the nodes that did not answer included.
        public var observed: ObservedState { ObservedState(nodes: states, unreachable: unreachable, unresolved: unresolved) }
    }

    /// Connects to and discovers each node; a node that fails does not stop the others.
    public func collect(_ nodes: [String]) async -> Collected {
        let outcomes = await discoverEach(nodes)
        var c = Collected()
        for node in nodes {
            switch outcomes[node] {
            case .success(let (host, state))?:
                c.hosts[node] = host
                c.states[node] = state
            case .failure(let error)?: c.errors.append(error)
            case nil: c.errors.append(RemoteError(.other, node: node, message: "not discovered"))
            }
        }
        return c
    }

    /// Connects to `nodes` and discovers each. On any failure every connection opened is closed and the
    /// failures of all nodes are reported together.
    public func discover(_ nodes: [String]) async throws(Failure) -> Result {
        let c = await collect(nodes)
        if !c.errors.isEmpty {
            for host in c.hosts.values { await host.close() }
            throw Failure(errors: c.errors)
        }
        return Result(hosts: c.hosts, observed: ObservedState(nodes: c.states))
    }

    /// Connects to and discovers each node, reporting each node's outcome (for `status`, which shows the
    /// nodes it can reach and names the others).
    public func discoverEach(_ nodes: [String]) async -> [String: Swift.Result<(any RemoteHost, NodeState), RemoteError>] {
        await withTaskGroup(of: (String, Swift.Result<(any RemoteHost, NodeState), RemoteError>).self) { group in
            for node in nodes {
                group.addTask { (node, await self.discoverOne(node)) }
            }
            var all: [String: Swift.Result<(any RemoteHost, NodeState), RemoteError>] = [:]
            for await (node, outcome) in group { all[node] = outcome }
            return all
        }
    }

    /// Discovers one node with an already open connection (re-discovery under the lock).
    public func rediscover(_ host: any RemoteHost) async throws(RemoteError) -> NodeState {
        let result: CommandResult
        do {
            result = try await host.run(DiscoveryScript.command(withVersions: withVersions, withImages: withImages), stdin: [], timeout: timeout)
        } catch where error.kind == .timedOut {
            throw RemoteError(.timedOut, node: host.node,
                message: "discovery did not finish within \(timeout.components.seconds) s: a docker, zfs or iptables command "
                    + "is hanging there (docker ps, zfs list and iptables-save on the node should answer at once)")
        }
        guard result.status.isSuccess else {
            throw RemoteError(.other, node: host.node,
                message: "discovery failed (\(result.status)): \(result.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return try Self.state(from: result.stdoutText, node: host.node, address: host.address)
    }

    /// The node's state from the discovery script's output (what the planner is given), or why there is none: an
    /// answer without the script's last marker was cut short, and a plan made from part of a node's state would act
    /// on what is missing from it (no `zfs` section reads as no volumes, no `docker` section as no containers).
    package static func state(from output: String, node: String, address: String) throws(RemoteError) -> NodeState {
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard !lines.contains(where: { $0 == DiscoveryScript.marker + "end" }) else {
            return DiscoveryScript.parse(output, node: node, address: address)
        }
        let section = lines.last { $0.hasPrefix(DiscoveryScript.marker) }.map { " (in section \($0.dropFirst(DiscoveryScript.marker.count)))" }
        throw RemoteError(.other, node: node,
            message: "discovery output was cut short: it ends at line \(lines.count)\(section ?? "") without the script's end marker; nothing was planned from it")
    }

    /// `rediscover` as a value. Task closures take their result from here rather than from a `do/catch`
    /// of their own: Swift 6.3.1 at -O miscompiles an escaping task closure that returns from both arms of a
    /// `do/catch` (the parent reads a result that was never written; see docs/architecture.md).
    public func rediscoverResult(_ host: any RemoteHost) async -> Swift.Result<NodeState, RemoteError> {
        do {
            return .success(try await rediscover(host))
        } catch {
            return .failure(error)
        }
    }

    private func discoverOne(_ node: String) async -> Swift.Result<(any RemoteHost, NodeState), RemoteError> {
        let host: any RemoteHost
        do {
            host = try await connector.connect(node)
        } catch {
            return .failure(error)
        }
        do {
            return .success((host, try await rediscover(host)))
        } catch {
            await host.close()
            return .failure(error)
        }
    }
}
