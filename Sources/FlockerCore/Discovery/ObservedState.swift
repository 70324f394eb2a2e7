/// What discovery found on the nodes: the planner's second input. The nodes are the only source of truth.
public struct ObservedState: Sendable, Hashable {
    /// Node name (as in the deployment file) → what it has.
    public var nodes: [String: NodeState]
    /// Nodes of the deployment file that could not be reached, with why (only for operations that go on
    /// without them, such as `sync`; a deploy stops instead). Never taken to be empty.
    public var unreachable: [String: String]
    /// Those of `unreachable` whose name did not resolve (a typo, or a node that never existed): never taken for
    /// a dead node (see `Outage`).
    public var unresolved: Set<String> = []
    public init(nodes: [String: NodeState], unreachable: [String: String] = [:], unresolved: Set<String> = []) {
        self.nodes = nodes
        self.unreachable = unreachable
        self.unresolved = unresolved
    }

    /// Every dataset of `volume` across the nodes, with the node that holds it.
    public func datasets(of volume: VolumeID) -> [(node: String, dataset: DatasetState)] {
        nodes.keys.sorted().compactMap { name in
            nodes[name]?.datasets[volume].map { (name, $0) }
        }
    }

    /// Nodes where a container of `app` exists (running or not), sorted by name.
    public func containers(of app: String) -> [(node: String, container: ContainerState)] {
        nodes.keys.sorted().compactMap { name in
            nodes[name]?.containers[app].map { (name, $0) }
        }
    }
}

/// One node as discovery saw it.
public struct NodeState: Sendable, Hashable {
    public var node: String
    /// IPv4 address this machine reached the node at (routing destination, link variables).
    public var address: String
    public var facts: NodeFacts
    /// Managed containers (`flocker--<app>`), by application name.
    public var containers: [String: ContainerState]
    /// Managed datasets in pool `flocker`, by volume.
    public var datasets: [VolumeID: DatasetState]
    /// Routing rules flocker-deploy owns on this node (found by their comment tag).
    public var routes: [RouteRule]
    /// Images present, as `repository:tag`; nil when discovery did not list them (a deploy's first look: a
    /// plan made without them has no pull steps, and a plan that changes anything is made again under the
    /// lock, with them).
    public var images: Set<String>?
    /// Applications whose new connections this node holds (connection-hold rules of a move, see
    /// `Action.holdConnections`): one left by a run that died is released by the next.
    public var holds: Set<String> = []
    /// Clones (any dataset of pool `flocker` with an `origin`) by the snapshot they were made from, as
    /// `DATASET@SNAPSHOT` → clone datasets: a snapshot with dependents cannot be destroyed.
    public var dependents: [String: [String]] = [:]
    /// Clones on this node by name (see `CloneSpec`), from their datasets' properties and containers' labels.
    public var clones: [String: CloneState] = [:]
    /// Applications with uploaded files on this node (`NodeCommands.filesDirectory`), each with the sets there by
    /// their hash (`Application.filesHash`; an interrupted upload's `.incoming-HASH` too).
    public var files: [String: Set<String>] = [:]
    /// Service addresses (`ServiceNetwork`) on this node's `lo`.
    public var serviceAddresses: [String] = []
    /// Service address → the node address this node routes it to.
    public var serviceRoutes: [String: String] = [:]
    /// Run locks held on this node when it was looked at (see `RunLock`).
    public var locks: [LockSeen] = []

    public init(
        node: String, address: String, facts: NodeFacts = NodeFacts(), containers: [String: ContainerState] = [:],
        datasets: [VolumeID: DatasetState] = [:], routes: [RouteRule] = [], images: Set<String>? = []
    ) {
        self.node = node
        self.address = address
        self.facts = facts
        self.containers = containers
        self.datasets = datasets
        self.routes = routes
        self.images = images
    }
}

/// Facts about a node that steer how commands are built.
public struct NodeFacts: Sendable, Hashable {
    public var hostname: String = ""
    /// Whether docker answered (`docker ps` worked).
    public var dockerAnswers: Bool = false
    /// Docker server version: asked for by `status` only, nil otherwise or when docker did not answer.
    public var dockerVersion: String?
    /// Pool `flocker`'s version (23 for zfs-fuse 0.7), or nil when the pool is missing.
    public var poolVersion: String?
    /// Where pool `flocker` is mounted (datasets are below it).
    public var poolMountpoint: String = "/flocker"
    /// Bytes still available in pool `flocker`.
    public var poolAvailable: UInt64?
    /// Stream compressors present on the node, in order of preference (`zstd`, `lz4`).
    public var compressors: [String] = []
    /// Whether bash is present (used for readiness checks).
    public var hasBash: Bool = true
    /// Problems discovery met (docker not answering, pool missing…), shown to the user.
    public var problems: [String] = []
    public init() {}
}

/// A managed container.
public struct ContainerState: Sendable, Hashable {
    public var app: String
    public var id: String
    /// Hash of the configuration it was started with (label `flocker.config-hash`).
    public var configHash: String
    public var running: Bool
    /// Docker's state word (running, exited, created, restarting…).
    public var status: String
    public var image: String
    /// The restart policy it was started with (label `flocker.restart`, e.g. `on-failure:3`); Docker's own is
    /// set to `no` while a moved application's stopped container is kept as the fallback.
    public var restartPolicy: String
    /// Docker's status text (e.g. `Up 5 minutes`, `Exited (0) 2 hours ago`).
    public var startedAt: String
    /// Published ports as Docker lists them (e.g. `0.0.0.0:6379->6379/tcp`).
    public var ports: String
    /// Mount sources as Docker lists them (e.g. `/flocker/redis.default`).
    public var mounts: String
    /// Container ports (`PORT/PROTO`) its image EXPOSEs that could not be published on its service address when
    /// it started (label `flocker.unpublished`, see `NodeCommands.start`).
    public var unpublished: [String] = []
    public init(
        app: String, id: String, configHash: String, running: Bool, status: String = "", image: String = "",
        restartPolicy: String = "no", startedAt: String = "", ports: String = "", mounts: String = ""
    ) {
        self.ports = ports
        self.mounts = mounts
        self.app = app
        self.id = id
        self.configHash = configHash
        self.running = running
        self.status = status
        self.image = image
        self.restartPolicy = restartPolicy
        self.startedAt = startedAt
    }
}

/// Names a volume across the cluster: an application and one of its volumes.
public struct VolumeID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var app: String
    public var volume: String
    public init(app: String, volume: String) {
        self.app = app
        self.volume = volume
    }
    /// The dataset's name in pool `flocker`. Volume names hold no dot, so the last dot splits it unambiguously.
    public var dataset: String { "flocker/\(app).\(volume)" }
    public var description: String { "\(app)/\(volume)" }
    public static func < (a: VolumeID, b: VolumeID) -> Bool { (a.app, a.volume) < (b.app, b.volume) }

    /// Parses `flocker/<app>.<volume>`; nil for anything else (the pool itself, foreign datasets).
    public init?(dataset name: String) {
        guard name.hasPrefix("flocker/") else { return nil }
        let rest = name.dropFirst("flocker/".count)
        guard !rest.contains("/"), !rest.contains("@"), let dot = rest.lastIndex(of: ".") else { return nil }
        let app = String(rest[..<dot])
        let volume = String(rest[rest.index(after: dot)...])
        guard !app.isEmpty, !volume.isEmpty else { return nil }
        self.init(app: app, volume: volume)
    }
}

/// Whether a dataset is the writable original or a read-only copy.
public enum VolumeRole: String, Sendable, Hashable, Codable {
    case primary
    case copy
    /// Data kept from a primary that lost a failover (what it held after the newest snapshot the new primary
    /// has), under its own dataset name: never used, never destroyed implicitly (docs/operations.md, "Failover").
    case diverged
}

/// One managed dataset on one node.
public struct DatasetState: Sendable, Hashable {
    public var id: VolumeID
    public var role: VolumeRole
    /// Grows by one with every promotion; among primaries, the highest epoch is the real one.
    public var epoch: Int
    public var readonly: Bool
    public var mountpoint: String
    /// Bytes referenced by the dataset (its data size).
    public var referenced: UInt64
    /// Quota in bytes (`refquota`), nil for none.
    public var quota: UInt64?
    /// flocker-deploy's snapshots (`@flocker-N`), oldest first.
    public var snapshots: [SnapshotState]
    /// Snapshots someone else took (any other name), oldest first. flocker-deploy never sends or prunes them,
    /// but a receive into a copy cannot go past one that is newer than the copy's last `@flocker-N`.
    public var otherSnapshots: [SnapshotState] = []
    /// For a copy: the node (as the deployment file names it) of the primary it was last written from
    /// (`flocker:primary-node`), nil when not recorded (copies made by older releases). See `Outage`.
    public var primaryNode: String?

    public init(
        id: VolumeID, role: VolumeRole, epoch: Int, readonly: Bool, mountpoint: String = "", referenced: UInt64 = 0,
        quota: UInt64? = nil, snapshots: [SnapshotState] = []
    ) {
        self.id = id
        self.role = role
        self.epoch = epoch
        self.readonly = readonly
        self.mountpoint = mountpoint
        self.referenced = referenced
        self.quota = quota
        self.snapshots = snapshots
    }

    public var newestSnapshot: SnapshotState? { snapshots.last }
}

/// One snapshot.
public struct SnapshotState: Sendable, Hashable, Codable {
    /// The part after `@`, e.g. `flocker-00000007`.
    public var name: String
    /// ZFS's guid: equal on sender and receiver for the same snapshot.
    public var guid: String
    public var createtxg: UInt64
    /// Unix time of creation.
    public var creation: Int
    /// Unix time a sync last found the primary unchanged since this snapshot (`flocker:checked`, set on a
    /// replica's copy of it when a pass had nothing new to send), or nil.
    public var checked: Int?
    /// Bytes only this snapshot holds (`used`: what destroying it would free), 0 when unknown.
    public var used: UInt64 = 0
    public init(name: String, guid: String, createtxg: UInt64 = 0, creation: Int = 0, checked: Int? = nil, used: UInt64 = 0) {
        self.used = used
        self.name = name
        self.guid = guid
        self.createtxg = createtxg
        self.creation = creation
        self.checked = checked
    }
    /// Up to when a copy holding this snapshot is known to match its primary: its creation, or later when a
    /// sync found nothing written since.
    public var currentAsOf: Int { max(creation, checked ?? 0) }
    /// The sequence number in `flocker-N`, or nil for snapshots that are not ours.
    public var sequence: Int? {
        guard name.hasPrefix("flocker-") else { return nil }
        return Int(name.dropFirst("flocker-".count))
    }
}

/// One routing rule flocker-deploy owns, as found in `iptables-save`.
public struct RouteRule: Sendable, Hashable, Codable {
    public var table: String
    public var chain: String
    /// The rule's tag (its iptables comment), which says what it is for.
    public var tag: RouteTag
    /// The rule as `iptables-save` printed it after `-A CHAIN `: handing exactly this text back to
    /// `iptables-restore` after `-D CHAIN ` removes exactly this rule.
    public var ruleText: String
    public init(table: String, chain: String, tag: RouteTag, ruleText: String) {
        self.table = table
        self.chain = chain
        self.tag = tag
        self.ruleText = ruleText
    }
}

/// A run lock found on a node by discovery: the node's own (`app` nil) or an application's.
public struct LockSeen: Sendable, Hashable {
    public var app: String?
    /// Seconds since its holder's last heartbeat, by the node's clock.
    public var idleSeconds: Int
    public var holder: LockHolder?
    public init(app: String?, idleSeconds: Int, holder: LockHolder?) {
        self.app = app
        self.idleSeconds = idleSeconds
        self.holder = holder
    }
}
