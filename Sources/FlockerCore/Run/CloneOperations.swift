/// `flocker-deploy clone create …`: N running copies of an application on clones of one snapshot. Takes the
/// locks of every node (each forwards the clones' ports) and the application's lock on the clones' node.
public struct CloneCreateOperation: ClusterOperation {
    public let desired: DesiredState
    public let request: ClonePlanner.Request
    public var name: String { "clone create" }
    public init(_ desired: DesiredState, request: ClonePlanner.Request) {
        self.desired = desired
        self.request = request
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try ClonePlanner.createPlan(desired: desired, observed: observed, request: request)
    }
}

/// `flocker-deploy clone destroy DEPLOYMENT APPLICATION NAME…` and `clone sweep` (the names whose TTL ran out
/// when it looked; `names` nil).
public struct CloneDestroyOperation: ClusterOperation {
    public let desired: DesiredState
    public let names: [String]?
    public let now: Int
    public var name: String { names == nil ? "clone sweep" : "clone destroy" }
    public init(_ desired: DesiredState, names: [String]?, now: Int) {
        self.desired = desired
        self.names = names
        self.now = now
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        let names = self.names ?? ClonePlanner.expired(observed, now: now)
        var plan = try ClonePlanner.destroyPlan(desired: desired, observed: observed, names: names)
        if self.names == nil && names.isEmpty { plan.notes.append("no clone is past its TTL") }
        return plan
    }
}

/// `flocker-deploy clone reset DEPLOYMENT NAME… [--from SNAPSHOT|latest]`: fresh data for clones, same name,
/// ports and node (see `ClonePlanner.resetPlan`). Takes the clone's node's own lock and the application's there.
public struct CloneResetOperation: ClusterOperation {
    public let desired: DesiredState
    public let names: [String]
    /// nil: the snapshot each clone comes from; `latest`: the newest on its node; otherwise a snapshot's name.
    public let from: String?
    public var name: String { "clone reset" }
    public init(_ desired: DesiredState, names: [String], from: String?) {
        self.desired = desired
        self.names = names
        self.from = from
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try ClonePlanner.resetPlan(desired: desired, observed: observed, names: names, from: from)
    }
}
