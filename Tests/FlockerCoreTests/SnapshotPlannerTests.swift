import Testing
@testable import FlockerCore

/// `snapshot create|destroy|list`: names, plans and refusals, with plain values.
@Suite("Snapshots: names, plans, list")
struct SnapshotPlannerTests {
    let v = VolumeID(app: "redis", volume: "default")

    /// redis on node1 with two automatic snapshots, a replica on node2 holding them too.
    func cluster() -> Cluster {
        var c = Cluster(nodes: ["node1", "node2"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": .count(1)]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node2", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.converge(routesFor: c.placement)
        return c
    }

    @Test func namesSayTheKindAndRoundTripThroughWhatTheUserTypes() {
        #expect(SnapshotNames.kind(of: "flocker-00000007") == .automatic)
        #expect(SnapshotNames.kind(of: "flocker-named-before-migration") == .named)
        #expect(SnapshotNames.kind(of: "flocker-pre-rollback-20261201T184210Z") == .preRollback)
        #expect(SnapshotNames.kind(of: "autosnap_2026-12-01") == nil)
        #expect(SnapshotNames.display("flocker-named-v1.2") == "v1.2")
        #expect(SnapshotNames.display("flocker-pre-rollback-20261201T184210Z") == "pre-rollback-20261201T184210Z")
        for typed in ["v1.2", "pre-rollback-20261201T184210Z", "flocker-00000007"] {
            #expect(SnapshotNames.display(SnapshotNames.resolve(typed)) == typed)
        }
        // Named and pre-rollback snapshots have no sequence number: prune (which takes only numbered ones) never
        // sees them.
        #expect(SnapshotState(name: "flocker-named-20261201", guid: "").sequence == nil)
        #expect(SnapshotNames.preRollback(at: 1_796_150_530) == "flocker-pre-rollback-20261201T184210Z")
    }

    @Test func labelsAreCheckedBeforeAnythingIsPlanned() throws {
        #expect(SnapshotNames.problem(withLabel: "before-migration") == nil)
        #expect(SnapshotNames.problem(withLabel: "2026-12-01_18:42") == nil)
        for bad in ["", "-x", "a b", "a/b", "a@b", "x;rm -rf /", "flocker-00000001", "pre-rollback-1", String(repeating: "a", count: 65)] {
            #expect(SnapshotNames.problem(withLabel: bad) != nil, "\(bad)")
        }
        let c = cluster()
        #expect(throws: PlanRefusal.self) {
            try SnapshotPlanner.createPlan(desired: c.desired, observed: c.observedState, app: "redis", label: "a b", stop: false)
        }
    }

    @Test func createSnapshotsEveryVolumeOnThePrimaryOnce() throws {
        var c = cluster()
        var plan = try SnapshotPlanner.createPlan(desired: c.desired, observed: c.observedState, app: "redis", label: "v1", stop: true)
        #expect(plan.steps == [Step(node: "node1", .takeSnapshot(app: "redis", volumes: ["default"], name: "flocker-named-v1", stop: true))])
        #expect(ClusterTestOperation.locks(SnapshotCreateOperation(c.desired, app: "redis", label: "v1", stop: true), plan)
                == [LockKey(node: "node1", app: "redis")], "only redis's lock on node1")
        // Taken already (a re-run): nothing to do, and the plan says so.
        c.observed["node1"]?.datasets[v]?.snapshots.append(SnapshotState(name: "flocker-named-v1", guid: "g", createtxg: 200, creation: 1_800_000_000))
        plan = try SnapshotPlanner.createPlan(desired: c.desired, observed: c.observedState, app: "redis", label: "v1", stop: true)
        #expect(plan.isEmpty)
        #expect(plan.notes.first?.contains("exists already") == true, "\(plan.notes)")
        // An interrupted --stop run left redis stopped: it is started again.
        c.observed["node1"]?.containers["redis"]?.running = false
        plan = try SnapshotPlanner.createPlan(desired: c.desired, observed: c.observedState, app: "redis", label: "v1", stop: true)
        #expect(plan.steps == [Step(node: "node1", .restartApp("redis"))])
    }

    @Test func createIsRefusedWithoutAPrimary() throws {
        var c = cluster()
        c.observed["node1"]?.datasets = [:]
        #expect(throws: PlanRefusal.self) {
            try SnapshotPlanner.createPlan(desired: c.desired, observed: c.observedState, app: "redis", label: "v1", stop: false)
        }
    }

    @Test func destroyRemovesTheSnapshotEverywhereAndRefusesWhileAnythingDependsOnIt() throws {
        var c = cluster()
        let named = SnapshotState(name: "flocker-named-v1", guid: "g-v1", createtxg: 150, creation: 1_800_000_000)
        let newer = SnapshotState(name: "flocker-00000003", guid: "g-3", createtxg: 160, creation: 1_800_000_100)
        for n in ["node1", "node2"] { c.observed[n]?.datasets[v]?.snapshots += [named, newer] }
        var plan = try SnapshotPlanner.destroyPlan(desired: c.desired, observed: c.observedState, app: "redis", names: ["v1"])
        #expect(plan.steps == [Step(node: "node1", .destroySnapshot(v, name: "flocker-named-v1")),
                               Step(node: "node2", .destroySnapshot(v, name: "flocker-named-v1"))])
        // A clone made from it on node2: refused, naming the clone, and nothing is destroyed anywhere.
        c.observed["node2"]?.dependents["flocker/redis.default@flocker-named-v1"] = ["flocker/flocker-clones/ci-1.default"]
        do {
            _ = try SnapshotPlanner.destroyPlan(desired: c.desired, observed: c.observedState, app: "redis", names: ["v1"])
            Issue.record("a snapshot with a clone was destroyed")
        } catch {
            #expect(error.description.contains("flocker/flocker-clones/ci-1.default"), "\(error)")
        }
        // The newest snapshot of a replica (its next base) is refused too.
        c.observed["node2"]?.dependents = [:]
        c.observed["node2"]?.datasets[v]?.snapshots.removeLast()
        #expect(throws: PlanRefusal.self) {
            try SnapshotPlanner.destroyPlan(desired: c.desired, observed: c.observedState, app: "redis", names: ["v1"])
        }
        // Automatic snapshots are not destroyed by hand; one no node holds is a note (destroying twice succeeds).
        #expect(throws: PlanRefusal.self) {
            try SnapshotPlanner.destroyPlan(desired: c.desired, observed: c.observedState, app: "redis", names: ["flocker-00000001"])
        }
        plan = try SnapshotPlanner.destroyPlan(desired: c.desired, observed: c.observedState, app: "redis", names: ["gone"])
        #expect(plan.isEmpty && plan.notes.count == 1)
    }

    @Test func theListGathersEachSnapshotAcrossNodesWithKindSpaceAndClones() throws {
        var c = cluster()
        let named = SnapshotState(name: "flocker-named-v1", guid: "g-v1", createtxg: 150, creation: 1_800_000_000, used: 4096)
        c.observed["node1"]?.datasets[v]?.snapshots.append(named)
        c.observed["node2"]?.datasets[v]?.snapshots.append(SnapshotState(name: "flocker-named-v1", guid: "g-v1", createtxg: 90, creation: 1_800_000_000, used: 1))
        c.observed["node2"]?.datasets[v]?.otherSnapshots = [SnapshotState(name: "by-hand", guid: "g-h", createtxg: 95)]
        c.observed["node2"]?.dependents["flocker/redis.default@flocker-named-v1"] = ["flocker/flocker-clones/ci-1.default"]
        let list = SnapshotPlanner.list(c.observedState)
        #expect(list.map(\.name) == ["flocker-00000001", "flocker-00000002", "v1"], "snapshots someone else took are not ours to list")
        let v1 = try #require(list.last)
        #expect(v1.kind == .named && v1.nodes == ["node1", "node2"] && v1.volumes == ["default"])
        #expect(v1.space == 4096, "the primary's figure")
        #expect(v1.clones == ["node2:flocker/flocker-clones/ci-1.default"])
        let json = SnapshotPlanner.json(list)
        for key in ["\"name\":\"v1\"", "\"app\":\"redis\"", "\"kind\":\"named\"", "\"created\":\"2027-01-15T08:00:00Z\"", "\"nodes\":[\"node1\",\"node2\"]"] {
            #expect(json.contains(key), "\(key) in \(json)")
        }
        #expect(SnapshotPlanner.list(c.observedState, apps: ["web"]).isEmpty)
    }

    @Test func discoveryFindsWhatClonesDependOn() {
        let lines: [Substring] = [
            "flocker/redis.default\torigin\t-\t-",
            "flocker/redis.default-diverged-epoch1\torigin\tflocker/redis.default@flocker-00000004\t-",
            "flocker/flocker-clones/ci-1.default\torigin\tflocker/redis.default@flocker-named-v1\t-",
            "flocker/redis.default@flocker-named-v1\tused\t4096\t-",
        ]
        let d = DiscoveryScript.parseDependents(lines)
        #expect(d["flocker/redis.default@flocker-named-v1"] == ["flocker/flocker-clones/ci-1.default"])
        #expect(d["flocker/redis.default@flocker-00000004"] == ["flocker/redis.default-diverged-epoch1"])
        #expect(d.count == 2)
    }
}

/// The locks an operation takes for a plan.
enum ClusterTestOperation {
    static func locks(_ operation: any ClusterOperation, _ plan: Plan) -> Set<LockKey> { operation.locks(for: plan) }
}
