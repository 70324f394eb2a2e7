import Testing
@testable import FlockerCore

@Suite("Planner")
struct PlannerTests {
    @Test func firstDeployCreatesVolumeStartsAndRoutes() throws {
        var c = Cluster()
        c.apps = [Cluster.redis()]
        c.placement = ["redis": "node1"]
        c.observed["node1"]?.images = []
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).map(\.action) == [
            .createVolume(VolumeID(app: "redis", volume: "default"), quota: nil),
            .pullImage(image: "redis:7", app: "redis"),
        ])
        #expect(plan.phase(.start) == [Step(node: "node1", .startApp("redis"))])
        let routes = plan.routesPerNode
        #expect(routes.map(\.node) == ["node2"])
        guard case .setRoutes(let add, let remove) = routes.first?.action else {
            Issue.record("no routes step"); return
        }
        #expect(remove.isEmpty)
        #expect(Set(add.map(\.tag.kind)) == [.inbound, .local, .masquerade, .forward, .established])
        #expect(add.filter { $0.tag.kind != .established }.allSatisfy { $0.tag.destination == "10.77.0.11" && $0.tag.port == 6379 })
        #expect(plan.phase(.preCopy).isEmpty && plan.phase(.stop).isEmpty && plan.phase(.handoff).isEmpty)
    }

    @Test func unknownImagesMeanNoPullStepsYet() throws {
        var c = Cluster()
        c.apps = [Cluster.redis()]
        c.placement = ["redis": "node1"]
        c.observed["node1"]?.images = nil
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(!plan.steps.contains { if case .pullImage = $0.action { true } else { false } })
        #expect(plan.phase(.start) == [Step(node: "node1", .startApp("redis"))], "the same plan otherwise")
    }

    @Test func convergedClusterYieldsEmptyPlan() throws {
        let c = Cluster.convergedRedis()
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty, "\(StepText.render(plan))")
        #expect(StepText.render(plan).hasPrefix("No changes"))
    }

    @Test func configChangeRestartsOnlyThatApp() throws {
        var c = Cluster()
        var web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 80)],
                              environment: ["A": "1"], command: ["httpd", "-f", "-p", "8080"])
        let redis = Cluster.redis()
        c.apps = [web, redis]
        c.placement = ["web": "node2", "redis": "node1"]
        c.run(web, on: "node2")
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1")
        c.converge(routesFor: c.placement)
        web.environment["A"] = "2"
        c.apps = [web, redis]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node2", .stopApp("web", keep: false)), Step(node: "node2", .startApp("web"))])
    }

    @Test func moveFollowsTheOrderOfInvariantFour() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000004"])
        c.converge(routesFor: ["redis": "node1"])
        c.placement = ["redis": "node2"]
        let v = VolumeID(app: "redis", volume: "default")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phases.map(\.name) == [.preCopy, .stage, .hold, .stop, .finalCopy, .handoff, .start, .routes, .release, .cleanup])
        // Every node holds new connections to redis's port from before its stop until after the routes switch.
        #expect(plan.phase(.hold) == ["node1", "node2"].map { Step(node: $0, .holdConnections("redis", ports: [6379])) })
        #expect(plan.phase(.release) == ["node1", "node2"].map { Step(node: $0, .releaseHold("redis")) })
        #expect(plan.phase(.stage) == [Step(node: "node2", .createApp("redis"))], "created ahead, while redis still runs on node1")
        #expect(plan.phase(.preCopy) == [Step(node: "node1", .copyVolume(v, to: "node2", final: false))])
        #expect(plan.phase(.stop) == [Step(node: "node1", .stopApp("redis", keep: true))])
        #expect(plan.phase(.finalCopy) == [Step(node: "node1", .copyVolume(v, to: "node2", final: true))])
        #expect(plan.phase(.handoff) == [Step(node: "node1", .handoff("redis", to: "node2", volumes: [VolumeHandoff(volume: "default", epoch: 4)]))])
        #expect(plan.phase(.start) == [Step(node: "node2", .startCreated("redis"))])
        // Routes: node1 now forwards to node2; node2 drops its forward to node1.
        let routes = Dictionary(uniqueKeysWithValues: plan.routesPerNode.map { ($0.node, $0.action) })
        guard case .setRoutes(let add1, let remove1)? = routes["node1"], case .setRoutes(let add2, let remove2)? = routes["node2"] else {
            Issue.record("routes missing: \(plan.routesPerNode)"); return
        }
        #expect(remove1.isEmpty && add1.filter { $0.tag.kind != .established }.allSatisfy { $0.tag.destination == "10.77.0.12" })
        #expect(add2.isEmpty && remove2.count == 5)
        #expect(plan.phase(.cleanup).contains(Step(node: "node1", .removeContainer("redis"))))
        #expect(plan.phase(.cleanup).contains(Step(node: "node2", .pruneSnapshots(v, keep: []))))
        #expect(plan.phase(.cleanup).contains(Step(node: "node1", .pruneSnapshots(v, keep: []))))
    }

    /// redis runs on node2 (epoch 2, two snapshots), which it moved to from node1; node1 keeps a copy with the
    /// older snapshot.
    private func redisMovedToNode2(nodes: [String] = ["node1", "node2"]) -> (Cluster, Application) {
        var c = Cluster(nodes: nodes)
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node2")
        c.dataset(redis, on: "node2", epoch: 2, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node1", role: .copy, epoch: 1, snapshots: ["flocker-00000001"])
        return (c, redis)
    }

    @Test func moveOntoAnAncestorCopyIsIncremental() throws {
        var (c, _) = redisMovedToNode2()
        c.placement = ["redis": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.handoff).first?.action == .handoff("redis", to: "node1", volumes: [VolumeHandoff(volume: "default", epoch: 3)]))
    }

    @Test func bothEndsOfAMoveKeepTheOtherCopiesBases() throws {
        var (c, _) = redisMovedToNode2(nodes: ["node1", "node2", "node3"])
        c.placement = ["redis": "node3"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let v = VolumeID(app: "redis", volume: "default")
        #expect(plan.phase(.cleanup).contains(Step(node: "node3", .pruneSnapshots(v, keep: ["flocker-00000001"]))))
        #expect(plan.phase(.cleanup).contains(Step(node: "node2", .pruneSnapshots(v, keep: ["flocker-00000001"]))))
    }

    @Test func removedAppIsStoppedAndItsVolumeKept() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1")
        c.converge(routesFor: ["redis": "node1"])
        c.placement = [:]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.stop) == [Step(node: "node1", .stopApp("redis", keep: false))])
        #expect(!plan.actions.contains { if case .demoteStale = $0 { return true }; if case .createVolume = $0 { return true }; return false })
        guard case .setRoutes(let add, let remove)? = plan.routesPerNode.first?.action else { Issue.record("no routes"); return }
        #expect(plan.routesPerNode.map(\.node) == ["node2"] && add.isEmpty && remove.count == 5)
    }

    @Test func appRemovedFromTheApplicationFileIsStoppedToo() throws {
        var c = Cluster()
        let old = Application(name: "old", image: "busybox:latest")
        c.run(old, on: "node2")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node2", .stopApp("old", keep: false))])
    }

    @Test func stoppedContainerWithSameConfigIsRestarted() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1")
        c.converge(routesFor: c.placement)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node1", .restartApp("redis"))])
    }

    @Test func noStagingWhenTheVolumeWouldNotBeThereYet() throws {
        // Nothing runs, so there is no pre-copy: the target's dataset appears only in the final copy, and a
        // container created earlier would bind-mount a path that does not exist yet.
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1")
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.stage).isEmpty)
        #expect(plan.phase(.start) == [Step(node: "node2", .startApp("redis"))])
    }

    @Test func statelessMovesAreStagedToo() throws {
        var c = Cluster()
        let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 80)])
        c.apps = [web]
        c.run(web, on: "node1")
        c.placement = ["web": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.stage) == [Step(node: "node2", .createApp("web"))])
        #expect(plan.phase(.stop).isEmpty, "start before stop: nothing stops ahead of the start")
        #expect(plan.phase(.start) == [Step(node: "node2", .startCreated("web"))])
        #expect(plan.phase(.cleanup) == [Step(node: "node1", .stopApp("web", keep: false))], "the old copy stops once the new one serves")
        #expect(plan.phase(.hold).isEmpty, "only an application with volumes is held (it has a handoff)")
    }

    @Test func aHoldARunLeftBehindIsReleasedFirstAndAConvergedClusterHoldsNothing() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1")
        c.placement = ["redis": "node1"]
        c.converge(routesFor: c.placement)
        #expect(try Planner.plan(desired: c.desired, observed: c.observedState).isEmpty)
        c.observed["node2"]?.holds = ["redis"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node2", .releaseHold("redis"))])
        #expect(plan.phases.map(\.name) == [.prepare])
    }

    @Test func reAddedAppGetsItsOldVolumeOnAnotherNode() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.dataset(redis, on: "node1", epoch: 2, snapshots: ["flocker-00000002"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.preCopy).isEmpty, "nothing runs, so no pre-copy")
        #expect(plan.phase(.stop).isEmpty)
        #expect(plan.phase(.finalCopy).count == 1)
        #expect(!plan.actions.contains { if case .createVolume = $0 { return true }; return false })
        #expect(plan.phase(.start) == [Step(node: "node2", .startApp("redis"))])
    }

    @Test func quotaChangeIsAppliedWithoutRestart() throws {
        var c = Cluster()
        let redis = Cluster.redis(quota: 1 << 30)
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", quota: 512 << 20)
        c.converge(routesFor: c.placement)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node1", .setQuota(VolumeID(app: "redis", volume: "default"), quota: 1 << 30))])
    }

    @Test func twoPrimariesOfTheSameEpochAreRefused() {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.dataset(redis, on: "node1", epoch: 2)
        c.dataset(redis, on: "node2", epoch: 2)
        #expect(throws: PlanRefusal.self) { try Planner.plan(desired: c.desired, observed: c.observedState) }
        do {
            _ = try Planner.plan(desired: c.desired, observed: c.observedState)
        } catch {
            #expect(error.unsafe)
            #expect(error.description.contains("two primaries with the same epoch 2"))
            // The advice runs on the node's own ZFS: zfs-fuse (pool v23) takes one property per `zfs set`.
            #expect(error.description.contains("zfs set flocker:role=copy flocker/redis.default && zfs set readonly=on flocker/redis.default"))
        }
        c.observed["node2"]?.facts.poolVersion = "5000"
        #expect {
            try Planner.plan(desired: c.desired, observed: c.observedState)
        } throws: { error in
            (error as? PlanRefusal)?.description.contains("(on its node: zfs set flocker:role=copy readonly=on flocker/redis.default)") == true
        }
    }

    @Test func onlyCopiesInSightIsRefused() {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.dataset(redis, on: "node2", role: .copy, snapshots: ["flocker-00000001"])
        do {
            _ = try Planner.plan(desired: c.desired, observed: c.observedState)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.unsafe)
            #expect(error.description.contains("only read-only copies"))
        }
    }

    @Test func divergedTargetCopyIsRefused() {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 2, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node2", role: .copy, epoch: 1, snapshots: ["flocker-00000001", "flocker-00000009"])
        c.placement = ["redis": "node2"]
        do {
            _ = try Planner.plan(desired: c.desired, observed: c.observedState)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.unsafe)
            #expect(error.description.contains("flocker-00000009 that the primary lacks"))
            #expect(error.description.contains("zfs destroy -r flocker/redis.default"))
        }
    }

    @Test func targetCopyWithSomeoneElsesNewerSnapshotIsRefused() {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 2, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node2", role: .copy, epoch: 1, snapshots: ["flocker-00000001"])
        let id = VolumeID(app: "redis", volume: "default")
        c.observed["node2"]?.datasets[id]?.otherSnapshots = [SnapshotState(name: "mine", guid: "g-mine", createtxg: 500)]
        c.placement = ["redis": "node2"]
        do {
            _ = try Planner.plan(desired: c.desired, observed: c.observedState)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.unsafe)
            #expect(error.description.contains("has snapshot mine, taken after its last copy from the primary"))
        }
        // One taken before the last receive does not stand in the way.
        c.observed["node2"]?.datasets[id]?.otherSnapshots = [SnapshotState(name: "old", guid: "g-old", createtxg: 50)]
        #expect(throws: Never.self) { try Planner.plan(desired: c.desired, observed: c.observedState) }
    }

    @Test func writableTargetCopyIsRefused() {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.dataset(redis, on: "node1", epoch: 2, snapshots: ["flocker-00000001"])
        c.dataset(redis, on: "node2", role: .copy, epoch: 1, readonly: false, snapshots: ["flocker-00000001"])
        c.placement = ["redis": "node2"]
        #expect(throws: PlanRefusal.self) { try Planner.plan(desired: c.desired, observed: c.observedState) }
    }

    @Test func interruptedHandoffIsFinished() throws {
        // Killed after the target was promoted (epoch 4) and before the source was relabelled.
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node2"]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1", epoch: 3, readonly: true, snapshots: ["flocker-00000005"])
        c.dataset(redis, on: "node2", epoch: 4, readonly: false, snapshots: ["flocker-00000005"])
        c.converge(routesFor: ["redis": "node1"])
        let v = VolumeID(app: "redis", volume: "default")
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare) == [Step(node: "node1", .demoteStale(v))])
        #expect(plan.phase(.preCopy).isEmpty && plan.phase(.finalCopy).isEmpty && plan.phase(.handoff).isEmpty)
        #expect(plan.phase(.start) == [Step(node: "node2", .startApp("redis"))])
        #expect(plan.phase(.cleanup) == [Step(node: "node1", .removeContainer("redis"))])
    }

    @Test func handoffInterruptedBeforePromotionIsRedone() throws {
        // Killed after the source went read-only and the target's epoch was raised, before its role changed.
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node2"]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1", epoch: 3, readonly: true, snapshots: ["flocker-00000005"])
        c.dataset(redis, on: "node2", role: .copy, epoch: 4, snapshots: ["flocker-00000005"])
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.handoff).first?.action == .handoff("redis", to: "node2", volumes: [VolumeHandoff(volume: "default", epoch: 4)]))
        #expect(plan.phase(.finalCopy).count == 1)
    }

    @Test func readOnlyPrimaryOnItsNodeIsMadeWritable() throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1", epoch: 3, readonly: true)
        c.converge(routesFor: c.placement)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node1", .makeWritable(VolumeID(app: "redis", volume: "default"))), Step(node: "node1", .restartApp("redis"))])
    }

    @Test func missingDockerOrPoolIsRefusedButNotUnsafe() {
        var c = Cluster()
        c.apps = [Cluster.redis()]
        c.placement = ["redis": "node1"]
        c.observed["node1"]?.facts.poolVersion = nil
        do {
            _ = try Planner.plan(desired: c.desired, observed: c.observedState)
            Issue.record("expected a refusal")
        } catch {
            #expect(!error.unsafe)
            #expect(error.description.contains("pool 'flocker' is missing"))
        }
        c.observed["node1"]?.facts.poolVersion = "23"
        c.observed["node1"]?.facts.dockerAnswers = false
        #expect(throws: PlanRefusal.self) { try Planner.plan(desired: c.desired, observed: c.observedState) }
    }

    @Test func linkTargetsStartFirst() throws {
        var c = Cluster()
        let web = Application(name: "aaa-web", image: "busybox:latest", links: [Link(localPort: 6379, remotePort: 6379, alias: "db")])
        c.apps = [web, Cluster.redis(volume: false)]
        c.placement = ["aaa-web": "node1", "redis": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.start).map(\.app) == ["redis", "aaa-web"])
    }

    @Test func strayAndDuplicateRoutesAreRemovedExactly() throws {
        var c = Cluster()
        let redis = Cluster.redis(volume: false)
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1")
        c.converge(routesFor: c.placement)
        let dup = c.observed["node2"]!.routes[0]
        let stray = RouteRule(table: "nat", chain: "PREROUTING", tag: RouteTag(kind: .inbound, app: "gone", port: 81, destination: "10.77.0.11"), ruleText: "x")
        c.observed["node2"]?.routes += [dup, stray]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        // One step per application: the rule of an application that is gone, and redis's duplicate.
        #expect(plan.steps == [Step(node: "node2", .setRoutes(add: [], remove: [stray])), Step(node: "node2", .setRoutes(add: [], remove: [dup]))])
    }
}
