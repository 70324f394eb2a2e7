/// What a run will do: ordered phases of typed steps. Printable (`--dry-run`) and serialisable (`--json`).
///
/// Each application's steps go through the phases in this order, as a pipeline of their own: applications do
/// not wait for each other at phase boundaries (see `Pipelines`). Within one application's phase, the steps of
/// different nodes run in parallel and those of one node one after another. A step that fails stops its
/// application's later steps.
public struct Plan: Sendable, Hashable, Codable {
    public var phases: [Phase]
    /// What the plan deliberately leaves as it is and why, for the user (e.g. a replica kept because it holds
    /// snapshots the primary lacks). Notes are not steps: a plan with only notes changes nothing.
    public var notes: [String]
    public init(phases: [Phase] = [], notes: [String] = []) {
        self.phases = phases.filter { !$0.steps.isEmpty }
        self.notes = notes
    }

    /// True when the cluster already looks like the manifests say.
    public var isEmpty: Bool { phases.allSatisfy { $0.steps.isEmpty } }
    public var steps: [Step] { phases.flatMap(\.steps) }
    /// Every node some step touches.
    public var nodes: Set<String> { Set(steps.flatMap(\.nodes)) }

    /// Applications whose every step is replica upkeep (replicate, remove a replica, prune): a run may leave
    /// those to another run that holds their locks (a sync in progress) instead of waiting for it.
    public var upkeepOnlyApplications: Set<String> {
        var apps: [String: Bool] = [:]
        for step in steps where !step.app.isEmpty {
            apps[step.app] = (apps[step.app] ?? true) && step.action.isReplicaUpkeep
        }
        return Set(apps.filter(\.value).keys)
    }

    /// The plan without the steps of `apps` (upkeep left to another run), with a note for each.
    public func leaving(_ apps: Set<String>, note: (String) -> String) -> Plan {
        guard !apps.isEmpty else { return self }
        return Plan(phases: phases.map { Phase($0.name, $0.steps.filter { !apps.contains($0.app) }) },
                    notes: notes + apps.sorted().map(note))
    }
}

/// The phases, in the order they run.
public enum PhaseName: String, Sendable, Hashable, Codable, CaseIterable {
    /// Pull images, create volumes, set quotas, repair leftovers of interrupted runs.
    case prepare
    /// Copy moving volumes while their applications still run.
    case preCopy = "pre-copy"
    /// Create the containers of moving applications on their targets, not started, while the applications
    /// still run on their sources: the downtime then holds a `docker start`, not a `docker run`.
    case stage
    /// Hold new connections to the published ports of applications with volumes that move, on every node: new
    /// TCP SYNs are dropped (clients retry, about a second later) instead of refused, until the routes point at
    /// the new node. The hold expires by itself (see `Action.holdConnections`).
    case hold
    /// Stop applications that move, change or go away.
    case stop
    /// Take named snapshots (`snapshot create`).
    case snapshot
    /// Copy what changed since the pre-copy, now that the application is stopped.
    case finalCopy = "final-copy"
    /// Make the target's copy the writable primary and the source's a read-only copy.
    case handoff
    /// Start applications and wait until they are ready.
    case start
    /// Point every node's routing rules at where each application now runs.
    case routes
    /// Lift the connection holds of the hold phase, now that the routes point at where each application runs.
    case release
    /// Bring each replica of a volume up to date from its primary (a full send for a new one), and remove the
    /// replicas no longer wanted.
    case replicate
    /// Remove the stopped containers of moved applications; prune old snapshots.
    case cleanup
}

public struct Phase: Sendable, Hashable, Codable {
    public var name: PhaseName
    public var steps: [Step]
    public init(_ name: PhaseName, _ steps: [Step]) {
        self.name = name
        self.steps = steps
    }
}

/// One step on one node (or, for copies and handoffs, from one node to another).
public struct Step: Sendable, Hashable, Codable {
    /// The node the step runs on (for copies and handoffs: the source).
    public var node: String
    public var action: Action
    public init(node: String, _ action: Action) {
        self.node = node
        self.action = action
    }

    /// Every node the step touches.
    public var nodes: [String] {
        switch action {
        case .copyVolume(_, let target, _), .handoff(_, let target, _), .replicate(_, let target): return [node, target]
        default: return [node]
        }
    }

    /// The application the step serves (empty for node-wide steps such as routes).
    public var app: String {
        switch action {
        case .pullImage(_, let app): return app
        case .createVolume(let v, _, _), .setQuota(let v, _), .makeWritable(let v), .demoteStale(let v), .promote(let v, _),
            .rejoin(let v, _, _, _),
            .copyVolume(let v, _, _), .pruneSnapshots(let v, _), .replicate(let v, _), .removeReplica(let v, _),
            .pruneWithRetention(let v, _, _),
            .destroySnapshot(let v, _):
            return v.app
        case .takeSnapshot(let app, _, _, _): return app
        case .createClone(let c), .destroyClone(let c), .resetClone(let c): return c.app
        case .rollback(let v, _, _, _, _): return v.app
        case .stopApp(let app, _), .startApp(let app), .restartApp(let app), .removeContainer(let app),
            .handoff(let app, _, _), .createApp(let app), .startCreated(let app):
            return app
        case .holdConnections(let app, _), .releaseHold(let app): return app
        case .uploadFiles(let app, _), .removeFiles(let app, _): return app
        case .setRoutes: return ""
        }
    }

    /// The application whose pipeline the step belongs to (see `Pipelines`): its `app`, or for a route step
    /// whose rules belong to one application (and perhaps to none, like the rule for replies), that application
    /// (the step itself stays node-wide: it needs
    /// the node's lock, and it applies what it can when that application failed). Empty: the node-wide pipeline.
    public var pipelineApp: String {
        guard case .setRoutes(let add, let remove) = action else { return app }
        let apps = Set(add.map(\.tag.app) + remove.map(\.tag.app)).subtracting([""])
        return apps.count == 1 ? apps.first ?? "" : ""
    }
}

/// What a step does.
public enum Action: Sendable, Hashable, Codable {
    /// `docker pull IMAGE` (the image is missing on the node).
    case pullImage(image: String, app: String)
    /// Create a new volume as the writable primary (epoch 1): empty, or holding `seed` (a folder beside the
    /// Compose file; see `NodeCommands.createSeededVolume`).
    case createVolume(VolumeID, quota: UInt64?, seed: VolumeSeed? = nil)
    /// Change a volume's quota (`refquota`); nil removes it.
    case setQuota(VolumeID, quota: UInt64?)
    /// Make the primary writable again (left read-only by an interrupted handoff).
    case makeWritable(VolumeID)
    /// Turn a primary that lost to a higher epoch into a read-only copy.
    case demoteStale(VolumeID)
    /// Failover: make this node's read-only copy the writable primary with `epoch` (higher than any seen), because
    /// the node of the primary cannot be reached.
    case promote(VolumeID, epoch: Int)
    /// A returning primary that lost a failover (lower epoch, writable): keep what it holds as the diverged dataset
    /// `keepAs` (renamed, nothing copied), put the volume back at `common`, the newest snapshot the new primary has
    /// too (a clone of it, promoted), as a read-only copy with `epoch`, so it is fed incrementally from then on.
    /// Without a common snapshot the volume is only set aside (a later replication sends all of it).
    case rejoin(VolumeID, common: String?, keepAs: String, epoch: Int)
    /// Snapshot the volume and send what the target lacks. `final` is the copy after the application stopped.
    case copyVolume(VolumeID, to: String, final: Bool)
    /// Stop the application's container. `keep`: keep the stopped container (with restart policy `no`) as the
    /// fallback of a move, removed in cleanup; otherwise remove it.
    case stopApp(String, keep: Bool)
    /// For every moving volume of the application: promote the target's copy (its new epoch, writable) and
    /// demote the source's to a read-only copy. One step per application, so that a failure part-way can be
    /// undone for all its volumes together before the application starts anywhere.
    case handoff(String, to: String, volumes: [VolumeHandoff])
    /// Create and start the application's container, then wait until it is ready.
    case startApp(String)
    /// Create the application's container without starting it (a move's target, ahead of the stop).
    case createApp(String)
    /// Start the container created ahead of time, then wait until it is ready.
    case startCreated(String)
    /// Start the existing, stopped container again (its configuration is unchanged), then wait until ready.
    case restartApp(String)
    /// Remove a stopped container left behind (a moved application's fallback).
    case removeContainer(String)
    /// Change the node's routing rules exactly: remove these, add those (one atomic iptables-restore).
    case setRoutes(add: [RouteSpec], remove: [RouteRule])
    /// Drop new TCP connections to the application's published `ports` on this node (raw table, before
    /// conntrack, so a held SYN's retry is routed anew) until released, or for at most the run's hold time: the
    /// rule carries its own end (`-m time --datestop`), so it lapses if flocker-deploy dies.
    case holdConnections(String, ports: [Int])
    /// Remove the application's connection holds on this node (whatever their ports; none is fine).
    case releaseHold(String)
    /// Send the application's `files` (config files, secrets, folders beside the Compose file) to this node, ahead
    /// of the container that mounts them; nothing is sent when the set with their hash is there already.
    case uploadFiles(String, files: Int)
    /// Remove the application's uploaded files on this node except the sets named `keep` (by their hash; none:
    /// the whole folder), once no container here uses them.
    case removeFiles(String, keep: [String])
    /// Destroy old snapshots, keeping the named ones (the newest shared with each copy).
    case pruneSnapshots(VolumeID, keep: [String])
    /// Destroy old automatic snapshots as `pruneSnapshots` does, except also those the application's `snapshots:`
    /// retention keeps (see `Retention.kept`, decided on the node's snapshots as the step finds them). `keep` also
    /// holds the snapshots clones on this node were made from.
    case pruneWithRetention(VolumeID, keep: [String], retention: SnapshotRetention)
    /// Snapshot the primary (this step's node) and send the replica on `to` what it lacks: the increment since
    /// the newest snapshot they share, or everything for a new replica (which is created read-only).
    case replicate(VolumeID, to: String)
    /// Destroy this node's read-only copy of the volume, a replica no longer wanted. The executor checks again
    /// that it is a read-only copy and that the primary on `primary` holds every snapshot it has; otherwise the
    /// copy is kept and the step says why.
    case removeReplica(VolumeID, primary: String)
    /// `snapshot create`: snapshot every one of the application's `volumes` on this node (its primary) as `name`
    /// (`flocker-named-LABEL`), at one moment where ZFS can (one `zfs snapshot` of all of them), otherwise back to
    /// back; `stop` stops the container around it (and starts it again). Snapshots that exist already are kept.
    case takeSnapshot(app: String, volumes: [String], name: String, stop: Bool)
    /// `snapshot destroy`: destroy this node's snapshot `name` of the volume (never with `-r`/`-R`: a clone
    /// made from it meanwhile makes the step fail). One that is gone already is a success.
    case destroySnapshot(VolumeID, name: String)
    /// `clone create`: on this node, a `zfs clone` of the snapshot for every volume (labelled as it is created)
    /// and a container of the application's image and configuration on them, published on the clone's ports.
    /// What an interrupted run made of it is used, not made again.
    case createClone(CloneSpec)
    /// `clone destroy`: remove the clone's container, then destroy its datasets (plain `zfs destroy`, never
    /// `-r`/`-R`). What is gone already is fine.
    case destroyClone(CloneSpec)
    /// `clone reset`: fresh data for the clone, on its node, from `CloneSpec.snapshot` (the spec as it is after the
    /// reset): its container is stopped (kept: same name, ports, labels, environment), each volume's clone dataset
    /// destroyed (plain `zfs destroy`) and made again from the snapshot with the clone's record (`zfs clone -o`),
    /// then the container is started again and waited for.
    case resetClone(CloneSpec)
    /// `rollback`: bring the (stopped) volume back to `snapshot` of dataset `source` (the volume's own dataset, or
    /// one a rollback set aside) without destroying any snapshot: snapshot the current state as `preRollback`,
    /// clone `source@snapshot`, promote the clone until it is no clone (so it holds every snapshot of its line,
    /// the base of incremental copies), set the current dataset aside as `keepAs` (read-only, role `diverged`,
    /// with the newer snapshots and `preRollback`), and give the clone the volume's name.
    case rollback(VolumeID, source: String, snapshot: String, keepAs: String, preRollback: String)

    /// Whether the step changes the node (every step does today; discovery never appears in a plan).
    public var isMutating: Bool { true }

    /// Whether the step only keeps replicas (see `Plan.upkeepOnlyApplications`).
    public var isReplicaUpkeep: Bool {
        switch self {
        case .replicate, .removeReplica, .pruneSnapshots, .pruneWithRetention: return true
        default: return false
        }
    }
}

/// One volume of a handoff: its name and the epoch its new primary gets.
public struct VolumeHandoff: Sendable, Hashable, Codable {
    public var volume: String
    public var epoch: Int
    public init(volume: String, epoch: Int) {
        self.volume = volume
        self.epoch = epoch
    }
}
