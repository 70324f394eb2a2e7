/// The routing mesh (Flocker's, fixed): every node forwards each application's external ports to the node
/// running it, for connections from outside and from the node itself. Rules are tagged with an iptables
/// comment so they can be found, compared and removed exactly, never flushed and rebuilt.
public enum RoutingMesh {
    /// The rules `node` should have, given where each application runs and the nodes' addresses.
    ///
    /// - Parameters:
    ///   - node: the node whose rules these are.
    ///   - running: application → the node it runs on (its desired node).
    ///   - applications: the applications, for their external ports.
    ///   - addresses: node → IPv4 address.
    public static func desiredRules(
        on node: String, running: [String: String], applications: [String: Application], addresses: [String: String]
    ) -> [RouteSpec] {
        var specs: [RouteSpec] = []
        for app in running.keys.sorted() {
            guard let owner = running[app], owner != node, let application = applications[app],
                let destination = addresses[owner]
            else { continue }
            for port in application.ports.sorted(by: { ($0.externalPort, $0.transport.rawValue) < ($1.externalPort, $1.transport.rawValue) }) {
                for kind in [RouteTag.Kind.inbound, .local, .masquerade, .forward] {
                    specs.append(RouteSpec(tag: RouteTag(
                        kind: kind, app: app, port: port.externalPort, destination: destination, transport: port.transport)))
                }
            }
        }
        if !specs.isEmpty { specs.append(RouteSpec(tag: .established)) }
        // Services by name (`ServiceNetwork`): the node that runs a service holds its address on `lo`, every
        // other node routes the address to it.
        for app in running.keys.sorted() {
            guard let owner = running[app], let address = applications[app]?.service?.address else { continue }
            if owner == node {
                specs.append(RouteSpec(tag: .serviceAddress(app: app, address: address)))
            } else if let gateway = addresses[owner] {
                specs.append(RouteSpec(tag: .serviceRoute(app: app, address: address, via: gateway)))
            }
        }
        return specs
    }

    /// The service rules a node has (discovery's `addr` and `route` lines), as rules of the applications whose
    /// addresses they are (of none, `""`, for an address no application of the file has).
    public static func serviceRules(addresses: [String], routes: [String: String], applications: [String: Application]) -> [RouteRule] {
        var owner: [String: String] = [:]
        for (name, app) in applications { if let a = app.service?.address { owner[a] = name } }
        let local = addresses.map { a in RouteTag.serviceAddress(app: owner[a] ?? "", address: a) }
        let routed = routes.keys.sorted().map { a in RouteTag.serviceRoute(app: owner[a] ?? "", address: a, via: routes[a] ?? "") }
        return (local + routed).map { RouteRule(table: $0.table, chain: $0.chain, tag: $0, ruleText: $0.destination) }
    }
}

/// What a routing rule is for; stored in the rule's iptables comment.
public struct RouteTag: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// nat PREROUTING: connections arriving from outside for a local address → DNAT to the owner.
        case inbound = "dnat"
        /// nat OUTPUT: connections made on the node itself → DNAT to the owner.
        case local = "dnat-local"
        /// nat POSTROUTING: masquerade forwarded connections so replies come back through this node.
        case masquerade = "masq"
        /// filter FORWARD: accept forwarded connections (dockerd sets the FORWARD policy to DROP).
        case forward = "fwd"
        /// filter FORWARD: accept the replies of forwarded connections (one per node).
        case established = "established"
        /// Not a rule: a service's address on `lo` of the node that runs it (`destination`: the address).
        case serviceAddress = "svc-addr"
        /// Not a rule: a route of a service's address to the node that runs it (`destination`: `ADDRESS@NODE`).
        case serviceRoute = "svc-route"
    }
    public var kind: Kind
    public var app: String
    public var port: Int
    public var destination: String
    /// The port's protocol: written in the comment after the port for UDP (`…:53/udp:…`), not for TCP.
    public var transport: PortTransport = .tcp

    public init(kind: Kind, app: String, port: Int, destination: String, transport: PortTransport = .tcp) {
        self.kind = kind
        self.app = app
        self.port = port
        self.destination = destination
        self.transport = transport
    }

    /// `53` for TCP, `53/udp` for UDP: how the comment and the plan write the port.
    public var portText: String { transport == .udp ? "\(port)/udp" : String(port) }

    /// The one rule per node that accepts replies of forwarded connections.
    public static let established = RouteTag(kind: .established, app: "", port: 0, destination: "")

    public static func serviceAddress(app: String, address: String) -> RouteTag {
        RouteTag(kind: .serviceAddress, app: app, port: 0, destination: address)
    }
    public static func serviceRoute(app: String, address: String, via gateway: String) -> RouteTag {
        RouteTag(kind: .serviceRoute, app: app, port: 0, destination: "\(address)@\(gateway)")
    }

    /// A service tag's address and (for a route) the node address it goes to.
    public var service: (address: String, via: String?) {
        let parts = destination.split(separator: "@", maxSplits: 1).map(String.init)
        return (parts.first ?? "", parts.count == 2 ? parts[1] : nil)
    }

    /// Whether this is a service address or route (`ip`, not iptables).
    public var isService: Bool { kind == .serviceAddress || kind == .serviceRoute }

    static let prefix = "flocker-deploy"

    /// The iptables comment, e.g. `flocker-deploy:dnat:redis:6379:10.77.0.12`.
    public var comment: String {
        kind == .established
            ? "\(Self.prefix):established" : "\(Self.prefix):\(kind.rawValue):\(app):\(portText):\(destination)"
    }

    public var description: String { comment }

    /// Parses a comment written by `comment`; nil for anything else.
    public init?(comment: String) {
        let parts = comment.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == Self.prefix, parts.count >= 2, let kind = Kind(rawValue: parts[1]) else { return nil }
        if kind == .established {
            guard parts.count == 2 else { return nil }
            self = .established
            return
        }
        let udp = parts.count == 5 && parts[3].hasSuffix("/udp")
        guard parts.count == 5, let port = Int(udp ? String(parts[3].dropLast(4)) : parts[3]) else { return nil }
        self.init(kind: kind, app: parts[2], port: port, destination: parts[4], transport: udp ? .udp : .tcp)
    }

    /// The iptables table and chain the rule lives in.
    public var table: String {
        switch kind {
        case .inbound, .local, .masquerade: return "nat"
        case .forward, .established: return "filter"
        case .serviceAddress, .serviceRoute: return "ip"
        }
    }
    public var chain: String {
        switch kind {
        case .inbound: return "PREROUTING"
        case .local: return "OUTPUT"
        case .masquerade: return "POSTROUTING"
        case .forward, .established: return "FORWARD"
        case .serviceAddress: return "addr"
        case .serviceRoute: return "route"
        }
    }
}

/// A rule flocker-deploy wants on a node.
public struct RouteSpec: Sendable, Hashable, Codable {
    public var tag: RouteTag
    public init(tag: RouteTag) { self.tag = tag }

    /// The line for `iptables-restore --noflush` that adds this rule. The DNAT rules are inserted at the top,
    /// ahead of Docker's jump to its DOCKER chain: while a node forwards a port, that is where its connections
    /// go, even once a container that publishes the port there has started. So a stateless application
    /// started (before it stops elsewhere) on a node that forwards its port gets that node's connections only
    /// when the route step removes the forward, after it is ready; and a node it leaves sends connections to
    /// the new node as soon as its routes switch, not to the old container while it stops. (Appended, they
    /// lost to Docker's rule: bench/mass-move.sh saw 8 requests refused during such a start under load.) The
    /// node that runs an application has no rule of its own for the application's ports, so Docker's
    /// publishing serves them there. MASQUERADE is appended; FORWARD rules are inserted at the top, ahead of
    /// Docker's DROP policy chains.
    public var restoreLine: String {
        let t = tag
        let comment = "-m comment --comment \(t.comment)"
        let p = t.transport.rawValue
        switch t.kind {
        case .inbound, .local:
            return "-I \(t.chain) 1 ! -d \(ServiceNetwork.range) -p \(p) -m \(p) --dport \(t.port) -m addrtype --dst-type LOCAL \(comment) -j DNAT --to-destination \(t.destination):\(t.port)"
        case .masquerade:
            return "-A \(t.chain) -d \(t.destination)/32 -p \(p) -m \(p) --dport \(t.port) \(comment) -j MASQUERADE"
        case .forward:
            return "-I \(t.chain) 1 -d \(t.destination)/32 -p \(p) -m \(p) --dport \(t.port) \(comment) -j ACCEPT"
        case .established:
            return "-I \(t.chain) 1 -m conntrack --ctstate RELATED,ESTABLISHED \(comment) -j ACCEPT"
        case .serviceAddress, .serviceRoute:
            return ""  // not iptables: NodeCommands.serviceRoutes
        }
    }
}

extension RouteRule {
    /// The line for `iptables-restore --noflush` that deletes exactly this rule.
    public var deleteLine: String { "-D \(chain) \(ruleText)" }

    /// A DNAT rule of the mesh written before services by name: it would take connections to a service address
    /// on the node that holds it (such an address is local there), so it is replaced by one that leaves the
    /// service range alone.
    public var isOutdated: Bool {
        (tag.kind == .inbound || tag.kind == .local) && !ruleText.contains("! -d \(ServiceNetwork.range)")
    }
}
