import Foundation
import Testing

@testable import FlockerCore

/// `snapshots:` retention: which automatic snapshots sync and moves keep, over a simulated week; its manifest
/// errors, positioned; and the prune steps the planner makes of it.
@Suite("Snapshots: retention")
struct RetentionTests {
    /// 2026-11-26 00:00:00 UTC, a Thursday; the week runs into December (two months).
    static let start = 1_795_651_200

    /// One automatic snapshot every `interval` seconds for `days` days from `start`, named by sequence.
    static func week(every interval: Int, days: Int = 7, from start: Int = start) -> [Retention.Snapshot] {
        stride(from: start, to: start + days * 86_400, by: interval).enumerated().map { i, t in
            Retention.Snapshot(name: NodeCommands.snapshotName(i + 1), created: t)
        }
    }

    static func utc(_ t: Int) -> String { Timestamp.utc(t) }

    @Test("A week of syncs every 10 minutes: 24 hourly, 7 daily, 2 monthly kept, each the first of its period")
    func simulatedWeek() {
        #expect(Timestamp.utc(Self.start) == "2026-11-26 00:00:00")
        let snaps = Self.week(every: 600)
        #expect(snaps.count == 7 * 144)
        let kept = Retention.kept(snaps, SnapshotRetention(hourly: 24, daily: 7, monthly: 3))
        let created = Dictionary(uniqueKeysWithValues: snaps.map { ($0.name, $0.created) })
        #expect(kept[.hourly]?.count == 24)
        #expect(kept[.daily]?.count == 7)
        #expect(kept[.monthly]?.count == 2, "the week spans November and December: only two months hold snapshots")
        // Hourly: the first snapshot of each of the last 24 hours (on the hour, as the syncs started at 00:00).
        let hours = (kept[.hourly] ?? []).compactMap { created[$0] }.sorted()
        #expect(hours.first.map(Self.utc) == "2026-12-02 00:00:00" && hours.last.map(Self.utc) == "2026-12-02 23:00:00")
        #expect(hours.allSatisfy { $0 % 3600 == 0 })
        // Daily: midnight of each day; monthly: the first snapshot of November and of December.
        #expect((kept[.daily] ?? []).compactMap { created[$0] }.sorted().map(Self.utc).map { String($0.suffix(8)) } == Array(repeating: "00:00:00", count: 7))
        #expect((kept[.monthly] ?? []).compactMap { created[$0] }.sorted().map(Self.utc) == ["2026-11-26 00:00:00", "2026-12-01 00:00:00"])
        // Together: 24 + 7 + 2 less the overlaps (Dec 2 00:00 is hourly and daily; Dec 1 00:00 daily and monthly…).
        let all = Retention.keptNames(snaps, SnapshotRetention(hourly: 24, daily: 7, monthly: 3))
        #expect(all.count == 24 + 7 + 2 - 1 - 2)
    }

    @Test("Counts per period, kept stable: later snapshots in an hour do not replace its first")
    func stableAndCounted() {
        let snaps = Self.week(every: 900, days: 1)
        let policy = SnapshotRetention(hourly: 2)
        let kept = Retention.keptNames(snaps, policy)
        #expect(kept.count == 2)
        // One more snapshot 5 minutes later (same hour): the same two are kept.
        let more = snaps + [Retention.Snapshot(name: "flocker-99999999", created: snaps.last!.created + 300)]
        #expect(Retention.keptNames(more, policy) == kept)
        // Nothing asked: nothing kept (the executor keeps the newest and each copy's base on its own).
        #expect(Retention.keptNames(snaps, SnapshotRetention()).isEmpty)
        // Hours without snapshots (the cluster was down for two days) are skipped, not counted.
        let gap = Self.week(every: 3600, days: 1) + Self.week(every: 3600, days: 1, from: Self.start + 3 * 86_400)
        let daily = Retention.kept(gap, SnapshotRetention(daily: 3))[.daily] ?? []
        #expect(daily.count == 2, "only two days had snapshots: both kept")
        // A shrunk hour (the acceptance test's aid) buckets by it.
        let fast = (0..<10).map { Retention.Snapshot(name: "s\($0)", created: Self.start + $0 * 2) }
        #expect(Retention.keptNames(fast, SnapshotRetention(hourly: 2), secondsPerHour: 4).sorted() == ["s6", "s8"])
    }

    // MARK: the deployment file

    static let apps = """
        version: 1
        applications:
          redis: {image: redis, volume: {mountpoint: /data}}
          web: {image: nginx}
        """

    static func deployment(_ extra: String) -> String {
        "version: 1\nnodes:\n  node1: [redis, web]\n  node2: []\nreplicas:\n  redis: 1\n" + extra
    }

    @Test("snapshots: decodes into the deployment and the desired state")
    func decodes() throws {
        let m = try decodeValid(app: Self.apps, deployment: Self.deployment("snapshots:\n  redis: {every: 15m, hourly: 24, daily: 7}\n"))
        #expect(m.deployment.snapshots == ["redis": SnapshotRetention(every: 900, hourly: 24, daily: 7, monthly: 0)])
        #expect(m.desired.retention == m.deployment.snapshots)
        #expect(DeploymentWriter.yaml(m.deployment).contains("snapshots:\n  redis: {every: 900, hourly: 24, daily: 7, monthly: 0}\n"))
    }

    @Test("snapshots: errors, each positioned")
    func errors() {
        func errors(_ extra: String, deployment: ((String) -> String)? = nil) -> [String] {
            decodeErrors(app: Self.apps, deployment: (deployment ?? Self.deployment)(extra)).map(\.description)
        }
        #expect(errors("snapshots:\n  redis: {hourly: -1}\n") == [
            "dep.yml:8:19: error: snapshots.redis.hourly: expected a number of snapshots to keep (0 or more), found -1"])
        #expect(errors("snapshots:\n  redis: {every: soon}\n") == [
            "dep.yml:8:18: error: snapshots.redis.every: expected a duration such as 90s, 15m, 1h or 1d (or a number of seconds), found \"soon\""])
        #expect(errors("snapshots:\n  redis: {weekly: 4}\n") == [
            "dep.yml:8:11: error: snapshots.redis.weekly: `weekly` is not supported: keep `daily` (7 for a week) or `monthly`"])
        #expect(errors("snapshots:\n  redis: {houly: 4}\n") == [
            "dep.yml:8:11: error: snapshots.redis.houly: unknown key `houly`: did you mean `hourly`?"])
        #expect(errors("snapshots:\n  reddis: {hourly: 4}\n") == [
            "dep.yml:8:3: error: snapshots.reddis: unknown application \"reddis\": did you mean \"redis\"?"])
        #expect(errors("snapshots:\n  redis: 24\n") == [
            "dep.yml:8:10: error: snapshots.redis: expected a mapping with `every`, `hourly`, `daily` or `monthly`, like {hourly: 24, daily: 7}, found 24"])
        #expect(errors("snapshots:\n  web: {hourly: 4}\n") == [
            "dep.yml:8:3: error: snapshots.web: \"web\" has no `replicas:` entry: its automatic snapshots are taken by sync, which snapshots applications with replicas; add \"web\" to `replicas:`"])
        #expect(errors("snapshot: {}\n") == ["dep.yml:7:1: error: snapshot: unknown key `snapshot`: did you mean `snapshots`?"])
    }

    // MARK: plans

    @Test("Prunes after a sync carry the retention, and keep what clones were made from")
    func planned() throws {
        var c = Cluster(nodes: ["node1", "node2"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": .count(1)]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(redis, on: "node2", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.converge(routesFor: c.placement)
        c.observed["node2"]?.dependents["flocker/redis.default@flocker-00000001"] = ["flocker/flocker-clones/ci-1.default"]
        var desired = c.desired
        let plain = try Planner.syncPlan(desired: desired, observed: c.observedState)
        #expect(plain.phase(.cleanup).allSatisfy { if case .pruneSnapshots = $0.action { true } else { false } })
        desired.retention = ["redis": SnapshotRetention(hourly: 2)]
        let plan = try Planner.syncPlan(desired: desired, observed: c.observedState)
        let v = VolumeID(app: "redis", volume: "default")
        #expect(plan.phase(.cleanup) == [
            Step(node: "node1", .pruneWithRetention(v, keep: ["flocker-00000002"], retention: SnapshotRetention(hourly: 2))),
            Step(node: "node2", .pruneWithRetention(v, keep: ["flocker-00000001", "flocker-00000002"], retention: SnapshotRetention(hourly: 2))),
        ])
        #expect(StepText.describe(plan.phase(.cleanup)[0]) == "prune old snapshots of volume redis/default (keeping hourly 2)")
        #expect(plan.upkeepOnlyApplications == ["redis"])
    }
}
