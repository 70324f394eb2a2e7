import Synchronization
import Testing
@testable import FlockerCore

/// Replications in the executor: one snapshot per volume shared by all its replicas, sent to each replica's node
/// at the same time; a pass with nothing new sends nothing; one replica's failure leaves the others alone.
@Suite("Executor: replicas")
struct ExecutorReplicationTests {
    let v = VolumeID(app: "redis", volume: "default")
    let ds = "flocker/redis.default"

    /// redis on node1 (snapshots 1, 2), replicas on node2 and node3 at snapshot 2, and a sync pass's plan.
    func syncPass() throws -> (Cluster, Plan) {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.replicas = ["redis": .count(2)]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001", "flocker-00000002"])
        for n in ["node2", "node3"] { c.dataset(redis, on: n, role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"]) }
        c.converge(routesFor: c.placement)
        return (c, try Planner.syncPlan(desired: c.desired, observed: c.observedState))
    }

    /// Fake nodes: node1 answers `flocker-snapshot` with `snapshotAnswer` (and lists snapshot 3 once it printed
    /// that name); `failingReceiver`'s `zfs recv` fails.
    func run(_ c: Cluster, _ plan: Plan, snapshotAnswer: String, failingReceiver: String? = nil) async -> (RunReport, CommandLog) {
        let log = CommandLog()
        let taken = Mutex(false)
        let ds = self.ds
        var hosts: [String: any RemoteHost] = [:]
        for n in c.nodes {
            hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log) { command, _ in
                let text = command.shellText
                if text.contains("flocker-snapshots") {
                    var snaps = ["flocker-00000001", "flocker-00000002"]
                    if n == "node1" && taken.withLock({ $0 }) { snaps.append("flocker-00000003") }
                    let listing = snapshotListing(ds, snapshots: snaps, readonly: n != "node1", role: n == "node1" ? "primary" : "copy")
                    return CommandResult(status: .exited(0), stdout: Array(listing.utf8))
                }
                if text.contains("flocker-snapshot ") {
                    if snapshotAnswer.hasPrefix("flocker-") { taken.withLock { $0 = true } }
                    return CommandResult(status: .exited(0), stdout: Array((snapshotAnswer + "\n").utf8))
                }
                if n == failingReceiver && text.hasPrefix("zfs recv") {
                    return CommandResult(status: .exited(1), stderr: Array("cannot receive: out of space".utf8))
                }
                return CommandResult(status: .exited(0))
            }
        }
        var options = ExecutionOptions()
        options.compression = false
        let report = await Executor(hosts: hosts, desired: c.desired, observed: c.observedState, options: options,
                                    observer: EventLog()).run(plan)
        return (report, log)
    }

    @Test func everyReplicaOfAVolumeGetsTheOneSnapshotTakenForThem() async throws {
        let (c, plan) = try syncPass()
        let (report, log) = await run(c, plan, snapshotAnswer: "flocker-00000003")
        #expect(report.isSuccess, "\(report.failures)")
        #expect(log.all.filter { $0.text.contains("flocker-snapshot ") }.count == 1, "\(log.all.map(\.text))")
        let sends = log.on("node1").filter { $0 == "zfs send -i \(ds)@flocker-00000002 \(ds)@flocker-00000003" }
        #expect(sends.count == 2, "\(log.on("node1"))")
        for n in ["node2", "node3"] { #expect(log.on(n).contains("zfs recv -F \(ds)"), "\(n): \(log.on(n))") }
    }

    @Test func theReplicasOfOneVolumeAreSentInParallelAndEachNodeReceivesOneAtATime() throws {
        let (_, plan) = try syncPass()
        let lanes = plan.phases.first { $0.name == .replicate }?.steps.map(Executor.lane(of:))
        #expect(lanes == ["node2", "node3"])
        #expect(Executor.lane(of: Step(node: "node1", .pruneSnapshots(v, keep: []))) == "node1")
    }

    @Test func aPassWithNothingWrittenSendsNothingAndMarksTheReplicasCurrent() async throws {
        let (c, plan) = try syncPass()
        let (report, log) = await run(c, plan, snapshotAnswer: "unchanged 1700000500")
        #expect(report.isSuccess, "\(report.failures)")
        #expect(!log.all.contains { $0.text.hasPrefix("zfs send") || $0.text.hasPrefix("zfs recv") }, "\(log.all.map(\.text))")
        for n in ["node2", "node3"] {
            #expect(log.on(n).contains { $0.contains("flocker-zfs-set \(ds)@flocker-00000002 'flocker:checked=1700000500'") },
                    "\(n): \(log.on(n))")
        }
        let details = report.results.filter { if case .replicate = $0.step.action { return true } else { return false } }.map(\.detail)
        #expect(details == Array(repeating: "up to date: nothing written since flocker-00000002, nothing sent", count: 2))
        #expect(report.results.allSatisfy { $0.bytes ?? 0 == 0 })
    }

    @Test func aReplicaThatFailsLeavesTheOtherReplicaAndThePrimarysCleanupAlone() async throws {
        let (c, plan) = try syncPass()
        let (report, log) = await run(c, plan, snapshotAnswer: "flocker-00000003", failingReceiver: "node2")
        #expect(report.failures.map(\.node) == ["node2"], "\(report.failures)")
        #expect(log.on("node3").contains("zfs recv -F \(ds)"))
        let prunes = report.results.filter { if case .pruneSnapshots = $0.step.action { return $0.step.node == "node1" } else { return false } }
        #expect(!prunes.isEmpty && prunes.allSatisfy { $0.outcome == .succeeded }, "\(prunes)")
    }

    @Test func anIdleReplicaIsCurrentAsOfTheLastCheck() {
        let s = SnapshotState(name: "flocker-00000002", guid: "g", creation: 1_700_000_000, checked: 1_700_000_600)
        #expect(s.currentAsOf == 1_700_000_600)
        #expect(SnapshotState(name: "a", guid: "g", creation: 1_700_000_000).currentAsOf == 1_700_000_000)
        let lines = ["flocker/redis.default\ttype\tfilesystem\t-", "flocker/redis.default@flocker-00000002\ttype\tsnapshot\t-",
                     "flocker/redis.default@flocker-00000002\tflocker:checked\t1700000600\tlocal"]
        let parsed = DiscoveryScript.parseZFS(lines.map { Substring($0) }).0
        #expect(parsed[v]?.newestSnapshot?.checked == 1_700_000_600)
    }
}
