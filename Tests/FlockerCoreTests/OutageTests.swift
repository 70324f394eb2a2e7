import Testing
@testable import FlockerCore

/// When a failover is allowed, and what it does with the deployment file unchanged (`Outage`, `--failover`).
/// Never two writable primaries: each rule has its case here.
@Suite("Outage: failover rules")
struct OutageTests {
    let v = VolumeID(app: "redis", volume: "default")

    /// redis placed on `placed`; node2 holds a copy (snapshots 1, 2) and node3 an older one (snapshot 1), both
    /// written from `from` at epoch 4 (nil: copies of an older release, which record nothing).
    func cluster(placed: String = "node1", from: String? = "node1", down: [String] = ["node1"]) -> Cluster {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": placed]
        c.replicas = ["redis": .count(1)]
        c.dataset(redis, on: "node2", role: .copy, epoch: 4, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node3", role: .copy, epoch: 4, snapshots: ["flocker-00000001"])
        for n in ["node2", "node3"] { c.observed[n]?.datasets[v]?.primaryNode = from }
        for n in down { c.unreachable[n] = "connection timed out" }
        c.converge(routesFor: ["redis": "node1"])
        return c
    }

    @Test func theFileUnchangedAFailoverStartsTheApplicationOnItsNewestReplica() throws {
        let c = cluster()
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.map(\.node) == ["node2"])
        #expect(outage.failovers.first?.lastSeen == "node1")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(plan.phase(.prepare).first == Step(node: "node2", .promote(v, epoch: 5)))
        #expect(plan.phase(.start).contains(Step(node: "node2", .startApp("redis"))))
        #expect(!plan.steps.contains { $0.nodes.contains("node1") }, "nothing may be planned on the node that does not answer")
        #expect(!plan.steps.contains { if case .copyVolume = $0.action { return true } else { return false } }, "no move back to node1")
        // Every node that answers forwards redis's port to node2.
        let routes = plan.phase(.routes).flatMap { step -> [RouteSpec] in
            if case .setRoutes(let add, _) = step.action { return add } else { return [] }
        }
        #expect(routes.contains { $0.tag.app == "redis" && $0.restoreLine.contains(c.address("node2")) }, "\(StepText.render(plan))")
        // Without --failover a deploy does not get that far (it stops at the first look), and the hint says it.
        #expect(outage.hints(c.desired, now: 1_700_000_100).first?.contains("run again with --failover to start redis there at epoch 5 (the file stays as it is)") == true)
    }

    @Test func theTyposCaseNeverPromotesACopyWhosePrimaryIsOnANodeMissingFromTheFile() throws {
        // redis runs on node2 (epoch 4), which the file does not name (a typo: node9 instead).
        var c = Cluster(nodes: ["node1", "node9"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.dataset(redis, on: "node1", role: .copy, epoch: 4, snapshots: ["flocker-00000001"])
        c.observed["node1"]?.datasets[v]?.primaryNode = "node2"
        c.unreachable = ["node9": "could not resolve host name \"node9\""]
        c.unresolved = ["node9"]
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.stuck.first?.reason.contains("last seen on node2") == true, "\(outage)")
        #expect(outage.stuck.first?.reason.contains("not in the deployment file") == true)
        // --failover refuses as unsafe, naming the node to add; nothing is promoted or started.
        #expect {
            try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        } throws: { error in
            let refusal = error as? PlanRefusal
            return refusal?.unsafe == true && refusal?.description.contains("last written from node2, which is not in the deployment file: add node2") == true
        }
    }

    @Test func aCopyOfAnOlderReleaseFallsBackOnThePlacementOnlyWhenItNamesTheNodeThatIsDown() {
        #expect(Outage.assess(desired: cluster(from: nil).desired, observed: cluster(from: nil).observedState).failovers.map(\.node) == ["node2"])
        // Placed on node2 (which answers), with nothing recorded: nobody can say where the primary was.
        let c = cluster(placed: "node2", from: nil)
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.stuck.first?.reason.contains("does not record where its primary was") == true)
    }

    @Test func theLatestRecordWinsWhereverItIs() {
        // node2's copy is the newest (it is promoted), but node3's records a later primary: node5, missing from the file.
        var c = cluster()
        c.observed["node3"]?.datasets[v]?.primaryNode = "node5"
        c.observed["node3"]?.datasets[v]?.epoch = 6
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.stuck.first?.reason.contains("last seen on node5 (the copy on node3 was last written from it)") == true, "\(outage)")
    }

    @Test func aNodeWhoseNameDoesNotResolveIsNeverTakenForADeadPrimary() {
        var c = cluster()
        c.unresolved = ["node1"]
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.stuck.first?.reason.contains("does not resolve") == true)
    }

    @Test func aPrimaryLastSeenOnANodeThatAnswersIsNotFailedOver() {
        // The copies say node3 held the primary; node3 answers but holds only a copy now.
        let c = cluster(from: "node3")
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.stuck.first?.reason.contains("answers but holds no primary") == true)
    }

    @Test func neverWhileAWritablePrimaryAnswersAnywhere() throws {
        var c = cluster()
        c.dataset(Cluster.redis(), on: "node3", role: .primary, epoch: 5, snapshots: ["flocker-00000001", "flocker-00000003"])
        c.run(Cluster.redis(), on: "node3")
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.isEmpty)
        #expect(outage.elsewhere == [Outage.Elsewhere(app: "redis", placed: "node1", node: "node3", epoch: 5)])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(!plan.steps.contains { if case .promote = $0.action { return true } else { return false } })
        #expect(!plan.steps.contains { $0.action == .startApp("redis") })
    }

    @Test func thePromotedEpochIsAboveEveryEpochOfEveryDatasetSeen() {
        var c = cluster()
        c.observed["node3"]?.datasets[v]?.epoch = 7            // a copy that recorded a later primary's epoch
        let keep = VolumeID(app: "redis", volume: "default")
        c.observed["node2"]?.datasets[keep]?.epoch = 6
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.failovers.first?.node == "node2")
        #expect(outage.failovers.first?.epoch == 8)
    }

    @Test func afterAFailoverEveryRunGoesOnFromWhereTheApplicationRunsNow() throws {
        // Failed over to node2 (epoch 5); node1, where the file places redis, is still down.
        var c = cluster()
        let redis = Cluster.redis()
        c.dataset(redis, on: "node2", role: .primary, epoch: 5, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.run(redis, on: "node2")
        c.converge(routesFor: ["redis": "node2"])
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.elsewhere.map(\.node) == ["node2"])
        #expect(outage.hints(c.desired, now: 0).first?.contains("runs on node2 since a failover") == true)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(!plan.steps.contains { step in
            if case .promote = step.action { return true }
            if case .startApp = step.action { return true }
            if case .copyVolume = step.action { return true }
            return false
        }, "\(StepText.render(plan))")
        // A sync keeps node3's replica from the primary on node2.
        let sync = try Planner.syncPlan(desired: c.desired, observed: c.observedState)
        #expect(sync.phase(.replicate) == [Step(node: "node2", .replicate(v, to: "node3"))], "\(StepText.render(sync)) \(sync.notes)")
    }

    @Test func whenTheNodeTheFilePlacesItOnReturnsItIsSetAsideThenMovedBackOnto() throws {
        // Failed over to node2 (epoch 5); node1 is back with its outdated primary (epoch 4) and its redis running.
        var c = cluster(down: [])
        let redis = Cluster.redis()
        c.dataset(redis, on: "node2", role: .primary, epoch: 5, snapshots: ["flocker-00000001", "flocker-00000002", "flocker-00000003"])
        c.dataset(redis, on: "node1", role: .primary, epoch: 4, readonly: false, snapshots: ["flocker-00000001", "flocker-00000002", "flocker-00000009"])
        c.observed["node1"]?.datasets[v]?.snapshots[2].guid = "only-on-node1"
        c.run(redis, on: "node2")
        c.run(redis, on: "node1")
        c.converge(routesFor: ["redis": "node2"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare) == [
            Step(node: "node1", .stopApp("redis", keep: false)),
            Step(node: "node1", .rejoin(v, common: "flocker-00000002", keepAs: "redis.default-diverged-epoch4", epoch: 5)),
        ], "\(StepText.render(plan))")
        #expect(plan.phase(.finalCopy) == [Step(node: "node2", .copyVolume(v, to: "node1", final: true))])
        #expect(plan.phase(.handoff) == [Step(node: "node2", .handoff("redis", to: "node1", volumes: [VolumeHandoff(volume: "default", epoch: 6)]))])
        #expect(plan.phase(.start) == [Step(node: "node1", .startApp("redis"))])
    }

    @Test func anApplicationWithoutVolumesOnTheNodeThatIsDownIsNotStartedElsewhere() throws {
        var c = cluster()
        let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8080)])
        c.apps.append(web)
        c.placement["web"] = "node1"
        let outage = Outage.assess(desired: c.desired, observed: c.observedState)
        #expect(outage.stuck.map(\.app) == ["web"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState, failover: true)
        #expect(!plan.steps.contains { $0.app == "web" && $0.action != .stopApp("web", keep: false) })
        #expect(plan.notes.contains { $0.hasPrefix("web is not started") })
    }

    @Test func anExplicitReplicaListNeverNamesThePrimarysOwnNode() {
        var c = cluster()
        c.replicas = ["redis": .nodes(["node2", "node3"])]
        c.placement = ["redis": "node2"]
        #expect(c.desired.replicaNodes(of: "redis", existing: [], load: [:]) == ["node3"])
    }
}

/// A Compose service whose image's port was taken on its node when it started (finding 5 of issue 30).
@Suite("Planner: ports a service could not publish")
struct UnpublishedPortTests {
    func cluster() -> (Cluster, Application) {
        var c = Cluster()
        var cache = Application(name: "cache", image: "redis:7", ports: [])
        cache.service = ServiceIdentity(address: "10.233.0.5", hosts: [], ports: [])
        c.apps = [cache]
        c.placement = ["cache": "node2"]
        c.run(cache, on: "node2")
        c.observed["node2"]?.containers["cache"]?.unpublished = ["6379/tcp"]
        c.converge(routesFor: c.placement)
        return (c, cache)
    }

    @Test func aPortFreeNowIsPublishedByStartingTheServiceAgain() throws {
        let (c, _) = cluster()
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.stop) == [Step(node: "node2", .stopApp("cache", keep: false))])
        #expect(plan.phase(.start) == [Step(node: "node2", .startApp("cache"))])
        #expect(plan.notes.contains { $0.contains("to publish 6379/tcp") })
    }

    @Test func aPortAnotherApplicationOnTheNodeKeepsIsLeftAsItIs() throws {
        var (c, _) = cluster()
        let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 6379, external: 6379)])
        c.apps.append(web)
        c.placement["web"] = "node2"
        c.run(web, on: "node2")
        c.converge(routesFor: c.placement)
        #expect(c.desired.portsTaken(on: "node2", besides: "cache") == ["6379/tcp"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty, "\(StepText.render(plan))")
    }
}

