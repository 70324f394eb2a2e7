/// `flocker-deploy snapshot create DEPLOYMENT APPLICATION --app NAME [--name LABEL] [--stop]`: a named snapshot
/// of every volume of the application, on its primary. Takes the application's lock there only.
public struct SnapshotCreateOperation: ClusterOperation {
    public let desired: DesiredState
    public let app: String
    public let label: String
    public let stop: Bool
    public var name: String { "snapshot create" }
    public var locksApplicationsOnly: Bool { true }
    public init(_ desired: DesiredState, app: String, label: String, stop: Bool) {
        self.desired = desired
        self.app = app
        self.label = label
        self.stop = stop
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try SnapshotPlanner.createPlan(desired: desired, observed: observed, app: app, label: label, stop: stop)
    }
}

/// `flocker-deploy snapshot destroy DEPLOYMENT APPLICATION --app NAME SNAPSHOT…`: destroys named snapshots on
/// every node that holds them. Takes the application's lock on those nodes only.
public struct SnapshotDestroyOperation: ClusterOperation {
    public let desired: DesiredState
    public let app: String
    public let snapshots: [String]
    public var name: String { "snapshot destroy" }
    public var locksApplicationsOnly: Bool { true }
    public init(_ desired: DesiredState, app: String, snapshots: [String]) {
        self.desired = desired
        self.app = app
        self.snapshots = snapshots
    }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try SnapshotPlanner.destroyPlan(desired: desired, observed: observed, app: app, names: snapshots)
    }
}
