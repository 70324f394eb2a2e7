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
}

/// `flocker-deploy DEPLOYMENT APPLICATION`: make the cluster match the manifests.
public struct DeployOperation: ClusterOperation {
    public let desired: DesiredState
    public var name: String { "deploy" }
    public init(_ desired: DesiredState) { self.desired = desired }
    public func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        try Planner.plan(desired: desired, observed: observed)
    }
}
