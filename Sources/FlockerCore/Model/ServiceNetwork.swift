/// Services by name, across nodes (Compose files): every service of the file has a stable virtual address in
/// `ServiceNetwork.range`, every container of the file resolves each service's name (and its link aliases) to
/// that address (`--add-host`), and the service's container ports are published on it by Docker on the node
/// that runs it, where the address sits on `lo`. Every other node routes the address to that node (`ip route`),
/// so a connection to `db:5432` reaches the node that runs `db` wherever it runs, and follows it when it moves,
/// with no restart of the services that use it. Ports a service does not publish are reachable this way only
/// from the cluster's nodes and their containers: nothing outside routes the range to a node.
public enum ServiceNetwork {
    /// The range the virtual addresses come from.
    public static let range = "10.233.0.0/16"
    static let prefix = "10.233."
    /// Addresses 10.233.X.Y with Y in 1...254 (no .0 or .255, which some programs treat as special).
    static let slots = 256 * 254

    /// Whether `address` (dotted IPv4, no prefix length) lies in `range`.
    public static func contains(_ address: String) -> Bool { address.hasPrefix(prefix) }

    /// Each name's address: the slot its hash picks, or (when an earlier name in sorted order took it) the next
    /// free one. An address depends only on the name unless two names' hashes meet, so adding or removing a
    /// service changes no other service's address (in all but about one file in a thousand of 30 services).
    public static func addresses(for names: [String]) -> [String: String] {
        var taken = Set<Int>()
        var result: [String: String] = [:]
        for name in Set(names).sorted() {
            var slot = preferredSlot(name)
            while taken.contains(slot) { slot = (slot + 1) % slots }
            taken.insert(slot)
            result[name] = address(ofSlot: slot)
        }
        return result
    }

    static func preferredSlot(_ name: String) -> Int {
        var h = StableHash()
        h.update("flocker-service-address-v1:" + name)
        let digest = h.finalize()
        let value = (Int(digest[0]) << 16) | (Int(digest[1]) << 8) | Int(digest[2])
        return value % slots
    }

    static func address(ofSlot slot: Int) -> String { prefix + "\(slot / 254).\(slot % 254 + 1)" }
}

/// A Compose service's part of the service network (nil for Flocker v1 applications, which keep Flocker's
/// links): its own address, the names its container resolves, and the container ports published on the address.
public struct ServiceIdentity: Sendable, Hashable, Codable {
    /// The service's virtual address (`ServiceNetwork`).
    public var address: String
    /// Name → address, for `--add-host`: every service of the file and the aliases of this service's links.
    public var hosts: [HostEntry]
    /// Container ports published on `address` (Docker's spec: `5432`, `5000-5010`, `53/udp`): the service's
    /// `expose` and the container ports of its `ports`, except those already published on every address at the
    /// same port number. The image's own EXPOSE'd ports are added on the node (`NodeCommands.start`).
    public var ports: [String]

    public init(address: String, hosts: [HostEntry], ports: [String]) {
        self.address = address
        self.hosts = hosts
        self.ports = ports
    }

    /// The `docker run` arguments: one `--add-host` per name, one `--publish` per port.
    public var runArguments: [String] {
        hosts.map { "--add-host=\($0.name):\($0.address)" }
            + ports.map { spec in
                let (range, proto) = Self.split(spec)
                return "--publish=\(address):\(range):\(range)" + (proto.map { "/" + $0 } ?? "")
            }
    }

    /// `5432/tcp` → ("5432", "tcp"); `5432` → ("5432", nil).
    static func split(_ spec: String) -> (String, String?) {
        guard let slash = spec.lastIndex(of: "/") else { return (spec, nil) }
        return (String(spec[..<slash]), String(spec[spec.index(after: slash)...]).lowercased())
    }

    /// The container port numbers of `ports` (ranges expanded), per protocol ("tcp" when none is written).
    public var portNumbers: [(port: Int, proto: String)] {
        ports.flatMap { spec -> [(port: Int, proto: String)] in
            let (range, proto) = Self.split(spec)
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            guard let low = bounds.first, let high = bounds.last, low <= high else { return [] }
            return (low...high).map { ($0, proto ?? "tcp") }
        }
    }
}

/// One `--add-host` entry.
public struct HostEntry: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
}
