import Testing
@testable import FlockerCore

/// `rollback`: what it does to the primary and how its replicas follow, with plain values.
@Suite("Rollback: plans")
struct RollbackPlannerTests {
    let v = VolumeID(app: "redis", volume: "default")
    let now = 1_796_150_530   // 2026-12-01 18:42:10 UTC

    func cluster(replica: [String]) -> Cluster {
        var c = Cluster(nodes: ["node1", "node2"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": .count(1)]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001", "flocker-named-v1", "flocker-00000002", "flocker-00000003"])
        c.dataset(redis, on: "node2", role: .copy, snapshots: replica)
        return c
    }

    @Test func theVolumeIsClonedBackAndTheAppStoppedAroundItAndAReplicaAheadIsSetAsideAtTheSnapshot() throws {
        let c = cluster(replica: ["flocker-00000001", "flocker-named-v1", "flocker-00000002", "flocker-00000003"])
        let plan = try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "v1", now: now)
        let keep = "redis.default-pre-rollback-20261201T184210Z"
        #expect(plan.phase(.stop) == [Step(node: "node1", .stopApp("redis", keep: true))])
        #expect(plan.phase(.handoff) == [
            Step(node: "node1", .rollback(v, source: "flocker/redis.default", snapshot: "flocker-named-v1", keepAs: keep,
                                          preRollback: "flocker-pre-rollback-20261201T184210Z")),
            Step(node: "node2", .rejoin(v, common: "flocker-named-v1", keepAs: keep, epoch: 1)),
        ])
        #expect(plan.phase(.start) == [Step(node: "node1", .restartApp("redis"))])
        #expect(plan.phase(.replicate) == [Step(node: "node1", .replicate(v, to: "node2"))])
        #expect(plan.notes.contains { $0.contains("flocker-00000002, flocker-00000003") && $0.contains("--to pre-rollback-20261201T184210Z") }, "\(plan.notes)")
        #expect(!plan.steps.contains { if case .pruneSnapshots = $0.action { return true } else { return false } })
    }

    @Test func aReplicaBehindTheSnapshotFollowsAsItIsAndOneWithNothingInCommonIsResent() throws {
        var c = cluster(replica: ["flocker-00000001"])
        var plan = try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "v1", now: now)
        #expect(plan.phase(.handoff).map(\.node) == ["node1"], "no rejoin: its newest is on the new line")
        #expect(plan.phase(.replicate) == [Step(node: "node1", .replicate(v, to: "node2"))])
        c.dataset(Cluster.redis(), on: "node2", role: .copy, snapshots: ["flocker-00000009"])
        plan = try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "v1", now: now)
        #expect(plan.phase(.handoff).last == Step(node: "node2", .rejoin(v, common: nil, keepAs: "redis.default-pre-rollback-20261201T184210Z", epoch: 1)))
        #expect(plan.notes.contains { $0.contains("sent everything again") }, "\(plan.notes)")
    }

    @Test func aPreRollbackSnapshotOnTheDatasetSetAsideIsAValidTarget() throws {
        var c = cluster(replica: [])
        c.observed["node2"]?.datasets = [:]
        // The state after a rollback to v1: the volume's own line up to v1, the set-aside one holds the rest.
        let aside = VolumeID(app: "redis", volume: "default-pre-rollback-20261201T184210Z")
        let snaps = c.observed["node1"]!.datasets[v]!.snapshots
        c.observed["node1"]?.datasets[v]?.snapshots = Array(snaps[0...1])
        c.observed["node1"]?.datasets[aside] = DatasetState(id: aside, role: .diverged, epoch: 1, readonly: true,
            snapshots: Array(snaps[2...]) + [SnapshotState(name: "flocker-pre-rollback-20261201T184210Z", guid: "g-pre", createtxg: 900)])
        c.observed["node1"]?.dependents = ["flocker/redis.default@flocker-named-v1": [aside.dataset]]
        let plan = try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "pre-rollback-20261201T184210Z", now: now + 60)
        guard case .rollback(_, let source, let snapshot, _, _)? = plan.phase(.handoff).first?.action else { Issue.record("no rollback step"); return }
        #expect(source == aside.dataset && snapshot == "flocker-pre-rollback-20261201T184210Z")
        let line = RollbackPlanner.lineage(of: aside.dataset, upTo: snapshot, in: c.observedState.nodes["node1"]!,
                                           origins: [aside.dataset: "flocker/redis.default@flocker-named-v1"])
        #expect(line.map(\.name) == ["flocker-00000001", "flocker-named-v1", "flocker-00000002", "flocker-00000003", "flocker-pre-rollback-20261201T184210Z"])
        #expect(throws: PlanRefusal.self) {
            try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "nope", now: now)
        }
    }
    @Test func aCloneOfTheVolumeOnItsNodeIsRefusedNamedAndOneElsewhereIsNot() throws {
        var c = cluster(replica: ["flocker-00000001", "flocker-named-v1"])
        let spec = CloneSpec(name: "ci-1", app: "redis", snapshot: "flocker-named-v1", ports: [], created: now, expires: nil, volumes: ["default"])
        let dataset = "flocker/flocker-clones/ci-1.default"
        // On node2 (the replica's node, where clones go by default): no matter.
        let clones = ["ci-1": CloneState(spec: spec, datasets: ["default": dataset], container: "running")]
        c.observed["node2"]?.clones = clones
        c.observed["node2"]?.dependents = ["flocker/redis.default@flocker-named-v1": [dataset]]
        #expect(throws: Never.self) { try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "v1", now: now) }
        // On node1, the primary's: refused before anything is done, naming it and the way out.
        c.observed["node1"]?.clones = clones
        c.observed["node1"]?.dependents = ["flocker/redis.default@flocker-00000002": [dataset]]
        do {
            _ = try RollbackPlanner.plan(desired: c.desired, observed: c.observedState, app: "redis", to: "v1", now: now)
            Issue.record("not refused")
        } catch {
            #expect(error.problems.map(\.message) == ["clone ci-1 was made on node1 from snapshots of redis's volumes: a rollback renames the datasets they depend on; destroy it first (flocker-deploy clone destroy DEPLOYMENT ci-1), then roll back"])
        }
    }
}
