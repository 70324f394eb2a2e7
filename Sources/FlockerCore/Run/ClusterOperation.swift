/// What one command asks of the cluster. Every command that changes nodes (a deploy today; sync, failover,
/// snapshot, clone and evacuate as they come) is a `ClusterOperation` run by `ClusterRun`, the one flow
/// they all share: discover → plan → lock → look again → plan again → execute → audit → release. An
/// operation supplies only what differs: its name and its plan for what the nodes hold now.
public protocol ClusterOperation: Sendable {
    /// The command in the user's words, for messages and audit records ("deploy", "sync").
    var name: String { get }
    /// The applications and nodes the plan is made for. Only `desired.nodes` are ever contacted.
    var desired: DesiredState { get }
    /// The plan that brings `observed` to what the operation wants. Pure: it is called again after every look.
    func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan
    /// Whether the operation goes on with the nodes it can reach (naming the others in
    /// `ObservedState.unreachable`, and ending with exit 3) rather than stopping before any change.
    var goesOnWithoutUnreachableNodes: Bool { get }
    /// Whether a run that went on without unreachable nodes still ends with exit 3 (a sync: a replica was not
    /// synced) rather than 0 (a failover: what was asked for is done).
    var unreachableNodesFailTheRun: Bool { get }
    /// Whether the run takes only the locks of the applications its plan changes on each node (a sync), rather
    /// than every node's own lock plus those (a deploy). See `LockKey`.
    var locksApplicationsOnly: Bool { get }
}

extension ClusterOperation {
    public var goesOnWithoutUnreachableNodes: Bool { false }
    public var unreachableNodesFailTheRun: Bool { true }
    public var locksApplicationsOnly: Bool { false }

    /// The locks `plan` needs: on every node a step touches, the node's own lock (unless the operation locks
    /// applications only) and the lock of each application a step there serves; a node-wide step (routes) always
    /// needs the node's own lock.
    public func locks(for plan: Plan) -> Set<LockKey> {
        var keys = Set<LockKey>()
        for step in plan.steps {
            for node in step.nodes {
                if !locksApplicationsOnly || step.app.isEmpty { keys.insert(LockKey(node: node)) }
                if !step.app.isEmpty { keys.insert(LockKey(node: node, app: step.app)) }
            }
        }
        return keys
    }
}

/// `flocker-deploy sync DEPLOYMENT APPLICATION`: one replication pass. Snapshots the primary of every volume
/// with `replicas:` and sends each replica what it lacks (creating missing replicas), removes replicas no
/// longer wanted, prunes. Changes nothing else: no container, no route. Replica nodes that cannot be reached are
/// skipped and named; the others are still synced.
public struct SyncOperation: ClusterOperation {
    public let desired: DesiredState
    public var name: String { "sync" }
    public var goesOnWithoutUnreachableNodes: Bool { true }
    public var locksApplicationsOnly: Bool { true }
    public init(_ desired: DesiredState) { self.desired = desired }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try Planner.syncPlan(desired: desired, observed: observed)
    }
}

/// `flocker-deploy DEPLOYMENT APPLICATION`: make the cluster match the manifests.
/// With `failover` (`--failover`): nodes that cannot be reached are skipped, and each application whose
/// primary is on one of them starts on its newest reachable replica (see `Planner.failoverCandidates`).
public struct DeployOperation: ClusterOperation {
    public let desired: DesiredState
    public let failover: Bool
    /// `--yes`: go on when the application file renamed or dropped a volume whose data would be left unused
    /// while its application runs (see `UnusedVolumes`).
    public let acceptLeavingUnused: Bool
    public var name: String { failover ? "deploy --failover" : "deploy" }
    public var goesOnWithoutUnreachableNodes: Bool { failover }
    public var unreachableNodesFailTheRun: Bool { false }
    public init(_ desired: DesiredState, failover: Bool = false, acceptLeavingUnused: Bool = false) {
        self.desired = desired
        self.failover = failover
        self.acceptLeavingUnused = acceptLeavingUnused
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        let plan = try Planner.plan(desired: desired, observed: observed, failover: failover)
        return try UnusedVolumes.check(plan, desired: desired, observed: observed, acceptLeavingUnused: acceptLeavingUnused)
    }
}
