import Foundation

/// A clone's container port and the port it is published on (taken from the clone port pool), served by the
/// routing mesh on every node.
public struct ClonePort: Sendable, Hashable, Codable {
    public var container: Int
    public var published: Int
    public init(container: Int, published: Int) {
        self.container = container
        self.published = published
    }
}

/// What a clone is, as recorded on its node: in the ZFS user properties of its datasets (`flocker:clone`,
/// `flocker:clone-of`, `flocker:snapshot`, `flocker:ports`, `flocker:created`, `flocker:expires`) and in the same
/// labels of its container (`flocker.clone`…). Set when they are created (`zfs clone -o`, `docker run --label`),
/// so there is never an unlabelled clone dataset or container, and `clone list` is right from any machine.
public struct CloneSpec: Sendable, Hashable, Codable {
    /// `PREFIX-N`.
    public var name: String
    /// The application it is a copy of (same image and configuration).
    public var app: String
    /// The snapshot its datasets are clones of (after `@`).
    public var snapshot: String
    public var ports: [ClonePort]
    /// Unix times; `expires` nil for no TTL.
    public var created: Int
    public var expires: Int?
    /// The application's volumes, each cloned.
    public var volumes: [String]
    public init(name: String, app: String, snapshot: String, ports: [ClonePort], created: Int, expires: Int?, volumes: [String]) {
        self.name = name
        self.app = app
        self.snapshot = snapshot
        self.ports = ports
        self.created = created
        self.expires = expires
        self.volumes = volumes
    }
}

/// A clone as discovery found it on a node.
public struct CloneState: Sendable, Hashable {
    public var spec: CloneSpec
    /// Volume → its clone dataset, for the datasets that exist.
    public var datasets: [String: String]
    /// Docker's state word of its container, nil when there is none.
    public var container: String?
    public var running: Bool { container == "running" }
    /// Whether everything of it is there: every volume's dataset and a running container.
    public var complete: Bool { running && spec.volumes.allSatisfy { datasets[$0] != nil } }
    public init(spec: CloneSpec, datasets: [String: String], container: String?) {
        self.spec = spec
        self.datasets = datasets
        self.container = container
    }
}

/// Names and records of clones.
public enum CloneNames {
    /// Clone datasets live under this dataset, out of `VolumeID`'s reach: a deploy never sees them.
    public static let parent = "flocker/flocker-clones"
    public static func dataset(_ clone: String, volume: String) -> String { "\(parent)/\(clone).\(volume)" }
    public static func containerName(_ clone: String) -> String { "flocker-clone--\(clone)" }
    /// The `app` part of a clone's route tags: never an application's name (those hold no `=`).
    public static func routeApp(_ clone: String) -> String { "clone=\(clone)" }

    /// `6379:30000,6380:30001`.
    public static func portsText(_ ports: [ClonePort]) -> String { ports.map { "\($0.container):\($0.published)" }.joined(separator: ",") }
    public static func parsePorts(_ text: String) -> [ClonePort] {
        text.split(separator: ",").compactMap { pair in
            let p = pair.split(separator: ":")
            guard p.count == 2, let c = Int(p[0]), let pub = Int(p[1]) else { return nil }
            return ClonePort(container: c, published: pub)
        }
    }

    /// Why `name` cannot name a clone, or nil: 1 to 48 lower-case letters, digits and `-`, starting with a letter
    /// or digit (a Docker container name and a ZFS dataset name part).
    public static func problem(withName name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard (1...48).contains(name.count), let first = name.first, first != "-", name.allSatisfy(allowed.contains) else {
            return "a clone name has 1 to 48 lower-case letters, digits and '-', and does not start with '-'"
        }
        return nil
    }

    /// Seconds in `90s`, `30m`, `2h`, `7d` or a plain number of seconds; nil for anything else.
    public static func duration(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let n = Int(text), n > 0 { return n }
        guard let last = text.last, let unit = units[last], let n = Int(text.dropLast()), n > 0 else { return nil }
        return n * unit
    }
}

/// The ports clones are published on: by default 30000–32767 (Kubernetes' NodePort range), changed with
/// `clone create --ports FROM-TO`. The lowest free ports are taken first.
public struct PortPool: Sendable, Hashable {
    public var lower: Int
    public var upper: Int
    public static let `default` = PortPool(lower: 30000, upper: 32767)
    public init(lower: Int, upper: Int) {
        self.lower = lower
        self.upper = upper
    }
    /// `30000-30099`; nil unless 1 ≤ FROM ≤ TO ≤ 65535.
    public init?(_ text: String) {
        let p = text.split(separator: "-")
        guard p.count == 2, let a = Int(p[0]), let b = Int(p[1]), 1 <= a, a <= b, b <= 65535 else { return nil }
        self.init(lower: a, upper: b)
    }
    public var description: String { "\(lower)-\(upper)" }
    public var size: Int { upper - lower + 1 }
}

extension RouteTag {
    /// Whether the rule serves a clone (a deploy leaves those alone).
    public var isClone: Bool { app.hasPrefix("clone=") }
}
