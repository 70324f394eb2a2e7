import Testing
@testable import FlockerCore

/// `clone create|destroy|sweep|list`: placement, ports, refusals, idempotence, routes, with plain values.
@Suite("Clones: plans and refusals")
struct ClonePlannerTests {
    let v = VolumeID(app: "redis", volume: "default")
    let now = 1_800_000_000

    /// redis on node1, a replica on node2, both holding v1 and two automatic snapshots; node3 holds nothing.
    func cluster() -> Cluster {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": .count(1)]
        c.run(redis, on: "node1")
        let snaps = ["flocker-00000001", "flocker-named-v1", "flocker-00000002"]
        c.dataset(redis, on: "node1", snapshots: snaps)
        c.dataset(redis, on: "node2", role: .copy, snapshots: snaps)
        c.converge(routesFor: c.placement)
        return c
    }

    func request(count: Int = 3, from: String? = nil, on: String? = nil, pool: PortPool = .default) -> ClonePlanner.Request {
        ClonePlanner.Request(app: "redis", prefix: "ci", from: from, count: count, on: on, ttl: 3600, pool: pool, now: now)
    }

    @Test func clonesGoOnAReplicasNodeWithTheLowestFreePortsAndEveryOtherNodeForwardsThem() throws {
        let c = cluster()
        let plan = try ClonePlanner.createPlan(desired: c.desired, observed: c.observedState, request: request())
        let specs = plan.phase(.start).compactMap { step -> CloneSpec? in
            guard case .createClone(let s) = step.action, step.node == "node2" else { return nil }
            return s
        }
        #expect(specs.map(\.name) == ["ci-1", "ci-2", "ci-3"])
        #expect(specs.map { $0.ports.map(\.published) } == [[30000], [30001], [30002]])
        #expect(specs.allSatisfy { $0.snapshot == "flocker-00000002" && $0.expires == now + 3600 && $0.volumes == ["default"] })
        let routed = plan.routesPerNode
        #expect(routed.map(\.node) == ["node1", "node3"], "every node but the clones' own")
        if case .setRoutes(let add, let remove)? = routed.first?.action {
            #expect(remove.isEmpty)
            #expect(add.contains(RouteSpec(tag: RouteTag(kind: .inbound, app: "clone=ci-2", port: 30001, destination: c.address("node2")))))
        } else { Issue.record("no routes") }
        // On the primary's node when asked, from a named snapshot.
        let onPrimary = try ClonePlanner.createPlan(desired: c.desired, observed: c.observedState, request: request(count: 1, from: "v1", on: "node1"))
        #expect(onPrimary.phase(.start).map(\.node) == ["node1"])
        if case .createClone(let s)? = onPrimary.phase(.start).first?.action { #expect(s.snapshot == "flocker-named-v1") }
    }

    @Test func refusalsComeBeforeAnythingIsCreated() throws {
        let c = cluster()
        func refusal(_ r: ClonePlanner.Request, _ observed: ObservedState? = nil) -> String {
            do {
                _ = try ClonePlanner.createPlan(desired: c.desired, observed: observed ?? c.observedState, request: r)
                return ""
            } catch { return error.description }
        }
        #expect(refusal(request(on: "node3")).contains("node3 does not hold"))
        #expect(refusal(request(from: "nope")).contains("no node holds snapshot nope"))
        #expect(refusal(request(count: 3, pool: PortPool(lower: 30000, upper: 30001))).contains("exhausted"))
        var full = c
        full.observed["node2"]?.facts.poolAvailable = 20 << 20
        #expect(refusal(request(count: 3), full.observedState).contains("not enough free space"))
        // A name another clone holds (of another snapshot) is taken.
        var taken = c
        taken.observed["node2"]?.clones["ci-1"] = CloneState(
            spec: CloneSpec(name: "ci-1", app: "redis", snapshot: "flocker-00000001", ports: [ClonePort(container: 6379, published: 30000)],
                            created: now, expires: nil, volumes: ["default"]),
            datasets: ["default": "flocker/flocker-clones/ci-1.default"], container: "running")
        #expect(refusal(request(from: "v1")).isEmpty)
        #expect(refusal(request(from: "v1"), taken.observedState).contains("is taken"))
    }

    @Test func aReRunFinishesAnInterruptedCreateAndThenChangesNothing() throws {
        var c = cluster()
        let first = try ClonePlanner.createPlan(desired: c.desired, observed: c.observedState, request: request(count: 2))
        let specs = first.phase(.start).compactMap { step -> CloneSpec? in if case .createClone(let s) = step.action { return s } else { return nil } }
        // The run was killed after ci-1's dataset and before its container; ci-2 got nothing.
        c.observed["node2"]?.clones["ci-1"] = CloneState(spec: specs[0], datasets: ["default": "flocker/flocker-clones/ci-1.default"], container: nil)
        let again = try ClonePlanner.createPlan(desired: c.desired, observed: c.observedState,
                                                request: ClonePlanner.Request(app: "redis", prefix: "ci", count: 2, now: now + 60))
        #expect(again.phase(.start) == [Step(node: "node2", .createClone(specs[0])), Step(node: "node2", .createClone(specs[1].with(created: now + 60, expires: nil)))],
                "ci-1 keeps its record and ports; ci-2 takes the next free port")
        // Everything there and routed: nothing to do.
        c.observed["node2"]?.clones["ci-1"]?.container = "running"
        c.observed["node2"]?.clones["ci-2"] = CloneState(spec: specs[1], datasets: ["default": "d"], container: "running")
        for step in first.phase(.routes) {
            if case .setRoutes(let add, _) = step.action {
                c.observed[step.node]?.routes += add.map { RouteRule(table: $0.tag.table, chain: $0.tag.chain, tag: $0.tag, ruleText: "x") }
            }
        }
        let done = try ClonePlanner.createPlan(desired: c.desired, observed: c.observedState, request: request(count: 2))
        #expect(done.isEmpty, "\(done.steps)")
        // A deploy leaves the clones' routes alone.
        let deploy = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(deploy.isEmpty, "\(deploy.steps)")
        // Destroy: routes first, then container and datasets; the TTL sweep picks expired clones only.
        let destroy = try ClonePlanner.destroyPlan(desired: c.desired, observed: c.observedState, names: ["ci-1"])
        #expect(destroy.phase(.routes).map(\.node) == ["node1", "node3"])
        #expect(destroy.phase(.cleanup) == [Step(node: "node2", .destroyClone(specs[0]))])
        #expect(ClonePlanner.expired(c.observedState, now: now + 3599).isEmpty)
        #expect(ClonePlanner.expired(c.observedState, now: now + 3600) == ["ci-1", "ci-2"])
        let twice = try ClonePlanner.destroyPlan(desired: c.desired, observed: cluster().observedState, names: ["ci-1"])
        #expect(twice.isEmpty && twice.notes.count == 1)
        // The name given to create (`ci`) is no clone's: refused, naming the clones it made, none destroyed.
        #expect {
            try ClonePlanner.destroyPlan(desired: c.desired, observed: c.observedState, names: ["ci"])
        } throws: { error in
            (error as? PlanRefusal)?.description.contains("no clone is named ci; did you mean ci-1, ci-2?") == true
        }
    }

    @Test func resetKeepsNameNodeAndPortsAndTakesTheSnapshotAsked() throws {
        var c = cluster()
        let spec = CloneSpec(name: "ci-1", app: "redis", snapshot: "flocker-named-v1", ports: [ClonePort(container: 6379, published: 30004)],
                             created: now, expires: now + 3600, volumes: ["default"])
        c.observed["node2"]?.clones["ci-1"] = CloneState(spec: spec, datasets: ["default": "flocker/flocker-clones/ci-1.default"], container: "running")
        // Default: the snapshot it comes from; `latest`: the newest its node holds; a name: that one.
        let again = try ClonePlanner.resetPlan(desired: c.desired, observed: c.observedState, names: ["ci-1"], from: nil)
        #expect(again.steps == [Step(node: "node2", .resetClone(spec))])
        var newest = spec
        newest.snapshot = "flocker-00000002"
        #expect(try ClonePlanner.resetPlan(desired: c.desired, observed: c.observedState, names: ["ci-1"], from: "latest").steps
            == [Step(node: "node2", .resetClone(newest))])
        var first = spec
        first.snapshot = "flocker-00000001"
        let plan = try ClonePlanner.resetPlan(desired: c.desired, observed: c.observedState, names: ["ci-1"], from: "flocker-00000001")
        #expect(plan.steps == [Step(node: "node2", .resetClone(first))], "same node, ports, created and expiry; routes untouched")
        // The clone's node and the application's lock there.
        #expect(CloneResetOperation(c.desired, names: ["ci-1"], from: nil).locks(for: plan) == [LockKey(node: "node2"), LockKey(node: "node2", app: "redis")])
        // A container that was stopped by a killed reset is fine: the reset is done again.
        c.observed["node2"]?.clones["ci-1"]?.container = "exited"
        c.observed["node2"]?.clones["ci-1"]?.datasets = [:]
        #expect(try ClonePlanner.resetPlan(desired: c.desired, observed: c.observedState, names: ["ci-1"], from: nil).steps.count == 1)
        func refusal(_ names: [String], _ from: String?, _ observed: ObservedState) -> String {
            do {
                _ = try ClonePlanner.resetPlan(desired: c.desired, observed: observed, names: names, from: from)
                return ""
            } catch { return error.description }
        }
        #expect(refusal(["nope-1"], nil, c.observedState).contains("there is no clone nope-1"))
        #expect(refusal(["ci-1"], "nosuch", c.observedState).contains("does not hold snapshot nosuch"))
        var bare = c
        bare.observed["node2"]?.clones["ci-1"]?.container = nil
        #expect(refusal(["ci-1"], nil, bare.observedState).contains("has no container"))
    }

    @Test func recordsAndDurationsParse() {
        #expect(CloneNames.parsePorts("6379:30000,80:30001") == [ClonePort(container: 6379, published: 30000), ClonePort(container: 80, published: 30001)])
        #expect(CloneNames.duration("90s") == 90 && CloneNames.duration("2h") == 7200 && CloneNames.duration("7d") == 604_800)
        #expect(CloneNames.duration("x") == nil && CloneNames.duration("-1h") == nil)
        #expect(PortPool("30000-30009")?.size == 10 && PortPool("9-1") == nil)
        #expect(CloneNames.problem(withName: "ci-1") == nil && CloneNames.problem(withName: "CI") != nil && CloneNames.problem(withName: "a;b") != nil)
        let clones = DiscoveryScript.parseClones([
            "flocker/flocker-clones\tflocker:clone\t-",
            "flocker/flocker-clones/ci-1.default\tflocker:clone\tci-1",
            "flocker/flocker-clones/ci-1.default\tflocker:clone-of\tredis",
            "flocker/flocker-clones/ci-1.default\tflocker:snapshot\tflocker-named-v1",
            "flocker/flocker-clones/ci-1.default\tflocker:ports\t6379:30000",
            "flocker/flocker-clones/ci-1.default\tflocker:created\t1800000000",
            "flocker/flocker-clones/ci-1.default\tflocker:expires\tnever",
        ], containers: ["ci-1\trunning\tredis\tflocker-named-v1\t6379:30000\t1800000000\tnever\tdefault"])
        #expect(clones.count == 1)
        #expect(clones["ci-1"]?.complete == true && clones["ci-1"]?.spec.expires == nil && clones["ci-1"]?.spec.snapshot == "flocker-named-v1")
    }
}

extension CloneSpec {
    func with(created: Int, expires: Int?) -> CloneSpec {
        var s = self
        s.created = created
        s.expires = expires
        return s
    }
}
