import Testing
@testable import FlockerCore

/// `replicas:` in plans: deploys create, update and remove replicas; sync passes send to each reachable one.
@Suite("Planner: replicas")
struct PlannerReplicaTests {
    let v = VolumeID(app: "redis", volume: "default")

    /// redis running on node1 with its volume, converged, in a 3-node cluster with `replicas: {redis: count}`.
    func cluster(_ request: ReplicaRequest = .count(1)) -> Cluster {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": request]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001", "flocker-00000002"])
        c.converge(routesFor: c.placement)
        return c
    }

    @Test func aMissingReplicaIsCreatedFromThePrimaryAfterTheApplicationsOwnSteps() throws {
        let plan = try Planner.plan(desired: cluster().desired, observed: cluster().observedState)
        #expect(plan.phase(.replicate) == [Step(node: "node1", .replicate(v, to: "node2"))])
        #expect(plan.phase(.cleanup).contains(Step(node: "node2", .pruneSnapshots(v, keep: ["flocker-00000002"]))))
    }

    @Test func anUpToDateReplicaNeedsNoStepAndALaggingOneIsBroughtUpToDate() throws {
        var c = cluster()
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        #expect(try Planner.plan(desired: c.desired, observed: c.observedState).isEmpty)
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000001"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.replicate) == [Step(node: "node1", .replicate(v, to: "node2"))])
    }

    @Test func anUnwantedCopyIsRemovedOnlyWhenThePrimaryHoldsAllItsSnapshots() throws {
        var c = cluster(.nodes(["node3"]))
        c.dataset(Cluster.redis(), on: "node3", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000001"])
        var plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.replicate) == [Step(node: "node2", .removeReplica(v, primary: "node1"))])
        // A copy with a snapshot the primary lacks is kept, and the plan says why.
        c.observed["node2"]?.datasets[v]?.otherSnapshots = [SnapshotState(name: "mine", guid: "g-mine", createtxg: 1)]
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty)
        #expect(plan.notes.count == 1 && plan.notes[0].contains("node2") && plan.notes[0].contains("mine"), "\(plan.notes)")
    }

    @Test func aDivergedReplicaIsLeftAloneWithANote() throws {
        var c = cluster()
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000001", "flocker-00000009"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.replicate).isEmpty)
        #expect(plan.notes.first?.contains("diverged") == true, "\(plan.notes)")
    }

    @Test func aSyncPassSendsToEveryReplicaAndTouchesNothingElse() throws {
        var c = cluster(.count(2))
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(Cluster.redis(), on: "node3", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.observed["node1"]?.containers = [:]   // even with redis stopped: a sync never starts or stops anything
        let plan = try Planner.syncPlan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.replicate) == [Step(node: "node1", .replicate(v, to: "node2")), Step(node: "node1", .replicate(v, to: "node3"))])
        #expect(Set(plan.phases.map(\.name)) == [.replicate, .cleanup])
    }

    @Test func aSyncNeverPlacesANewReplicaBecauseANodeCannotBeReached() throws {
        var c = cluster(.count(1))
        c.unreachable = ["node2": "no route to host"]
        let plan = try Planner.syncPlan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty, "node3 must not get a replica while node2, which may hold it, is unreachable")
    }

    @Test func aSyncSkipsAnApplicationWhosePrimaryIsNotWhereTheFilePlacesIt() throws {
        var c = cluster()
        c.placement = ["redis": "node3"]
        let plan = try Planner.syncPlan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty)
        #expect(plan.notes.first?.contains("run a deploy first") == true, "\(plan.notes)")
    }

    /// node1 (redis's primary) cannot be reached; node2's replica has snapshot 1, node3's snapshots 1 and 2.
    func failedPrimary(placeOn node: String) -> Cluster {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": node]
        c.replicas = ["redis": .nodes(["node2", "node3"].filter { $0 != node })]
        c.dataset(redis, on: "node2", role: .copy, epoch: 3, snapshots: ["flocker-00000001"])
        c.dataset(redis, on: "node3", role: .copy, epoch: 3, snapshots: ["flocker-00000001", "flocker-00000002"])
        for n in ["node2", "node3"] { c.observed[n]?.datasets[v]?.primaryNode = "node1" }   // last written from node1
        c.unreachable = ["node1": "no route to host"]
        return c
    }

    @Test func failoverPromotesTheNewestReachableReplicaAboveEveryEpochSeen() throws {
        let c = failedPrimary(placeOn: "node3")
        let candidates = Planner.failoverCandidates(desired: c.desired, observed: c.observedState)
        #expect(candidates.map(\.node) == ["node3"])
        #expect(candidates.first?.snapshot == "flocker-00000002")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(plan.phase(.prepare).first == Step(node: "node3", .promote(v, epoch: 4)))
        #expect(plan.phase(.start).contains(Step(node: "node3", .startApp("redis"))))
        #expect(!plan.steps.contains { $0.nodes.contains("node1") }, "nothing may be planned on the unreachable node")
        #expect(plan.notes.contains { $0.hasPrefix("failover: redis") })
        // Without --failover nothing is promoted: only copies in sight is refused as unsafe.
        #expect(throws: PlanRefusal.self) { try Planner.plan(desired: c.desired, observed: c.observedState) }
    }

    @Test func failoverOntoAnotherNodeMovesFromThePromotedReplica() throws {
        let c = failedPrimary(placeOn: "node2")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(plan.phase(.prepare).first == Step(node: "node3", .promote(v, epoch: 4)))
        #expect(plan.phase(.finalCopy) == [Step(node: "node3", .copyVolume(v, to: "node2", final: true))])
        #expect(plan.phase(.handoff) == [Step(node: "node3", .handoff("redis", to: "node2", volumes: [VolumeHandoff(volume: "default", epoch: 5)]))])
    }

    @Test func aReturningOutdatedPrimaryIsSetAsideAndFedAgainFromTheCommonSnapshot() throws {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node3"]
        c.replicas = ["redis": .nodes(["node1"])]
        c.run(redis, on: "node3")
        c.run(redis, on: "node1")          // still running on the old primary after its node came back
        c.dataset(redis, on: "node3", epoch: 4, snapshots: ["flocker-00000001", "flocker-00000002", "flocker-00000003"])
        c.dataset(redis, on: "node1", epoch: 3, readonly: false, snapshots: ["flocker-00000001", "flocker-00000002", "flocker-00000009"])
        c.observed["node1"]?.datasets[v]?.snapshots[2].guid = "guid-only-on-node1"
        c.converge(routesFor: c.placement)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.stop).contains(Step(node: "node1", .stopApp("redis", keep: false))))
        #expect(plan.phase(.handoff) == [Step(node: "node1", .rejoin(v, common: "flocker-00000002", keepAs: "redis.default-diverged-epoch3", epoch: 4))])
        #expect(plan.phase(.replicate) == [Step(node: "node3", .replicate(v, to: "node1"))])
        #expect(!plan.steps.contains { $0.action == .startApp("redis") || $0.action == .restartApp("redis") }, "\(StepText.render(plan))")
    }

    @Test func anOutdatedPrimaryLeftReadOnlyByAnInterruptedHandoffIsOnlyRelabelled() throws {
        var c = cluster()
        c.dataset(Cluster.redis(), on: "node2", epoch: 0, readonly: true, snapshots: ["flocker-00000001", "flocker-00000002"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).contains(Step(node: "node2", .demoteStale(v))))
        #expect(!plan.steps.contains { if case .rejoin = $0.action { return true } else { return false } })
    }
}
