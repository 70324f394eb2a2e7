import Foundation
import Synchronization
import Testing
@testable import FlockerCore

/// Fake nodes that keep a lock the way a node's lock folder does, and record, for every other command, whether
/// the run held that node's lock when it ran.
private final class LockingNodes: NodeConnector, Sendable {
    struct Record: Sendable, Hashable {
        var node: String
        var program: String
        var locked: Bool
    }
    let names: [String]
    let log = CommandLog()
    private let state = Mutex<(locked: Set<String>, records: [Record], discoveries: [String: Int])>(([], [], [:]))
    /// Node → the discovery round (1 = first look) from which discovery fails there.
    let failDiscovery: [String: Int]

    init(_ names: [String], failDiscovery: [String: Int] = [:], heldByOthers: Set<String> = []) {
        self.names = names
        self.failDiscovery = failDiscovery
        state.withLock { $0.locked = heldByOthers }
    }

    var records: [Record] { state.withLock { $0.records } }
    var lockedNow: Set<String> { state.withLock { $0.locked } }

    func connect(_ node: String) async throws(RemoteError) -> any RemoteHost {
        FakeRemoteHost(node: node, address: "10.0.0.\(names.firstIndex(of: node).map { $0 + 1 } ?? 99)", log: log) {
            [self] command, _ in self.answer(node, command)
        }
    }

    private func answer(_ node: String, _ command: RemoteCommand) -> CommandResult {
        let argv = command.stages[0]
        let name = argv.first == "sh" && argv.count > 3 ? argv[3] : argv.first ?? ""
        return state.withLock { s in
            switch name {
            case "flocker-discovery":
                s.discoveries[node, default: 0] += 1
                if let from = failDiscovery[node], s.discoveries[node, default: 0] >= from {
                    return CommandResult(status: .exited(1), stderr: Array("dockerd went away".utf8))
                }
                // An answer discovery accepts: nothing found, but complete (its end marker).
                return CommandResult(status: .exited(0), stdout: Array("\(DiscoveryScript.marker)end\n".utf8))
            case "flocker-lock":
                let key = node + "|" + argv[4]
                if s.locked.contains(key) { return CommandResult(status: .exited(0), stdout: Array("held 1\n".utf8)) }
                s.locked.insert(key)
                return CommandResult(status: .exited(0), stdout: Array("acquired\n".utf8))
            case "flocker-unlock":
                s.locked.remove(node + "|" + argv[4])
                return CommandResult(status: .exited(0))
            case "flocker-heartbeat", "flocker-audit", "flocker-leftovers":
                return CommandResult(status: .exited(0))
            default:
                s.records.append(Record(node: node, program: name, locked: s.locked.contains(node + "|" + RunLock.directory)))
                return CommandResult(status: .exited(0))
            }
        }
    }
}

/// An operation whose every new plan touches one more node than the one before (as if the cluster changed
/// between each look): a pull step on the first N nodes, N growing with each call.
private final class GrowingOperation: ClusterOperation, Sendable {
    let desired: DesiredState
    let extra: [String]
    var name: String { "test" }
    private let calls = Mutex(0)

    init(nodes: [String], extra: [String] = []) {
        let app = Application(name: "web", image: "busybox:latest")
        desired = DesiredState(applications: ["web": app], nodes: nodes, placement: [:])
        self.extra = extra
    }

    func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan {
        let n = calls.withLock { c -> Int in
            c += 1
            return c
        }
        let nodes = Array(desired.nodes.prefix(n)) + extra
        return Plan(phases: [Phase(.prepare, nodes.map { Step(node: $0, .pullImage(image: "busybox:latest", app: "web")) })])
    }
}

/// Collects what a run writes to stderr.
private struct Captured {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-err-\(UUID().uuidString)").path
    let output: TextOutput
    init() {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        output = TextOutput(fd: open(path, O_WRONLY | O_APPEND))
    }
    var text: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
}

/// An operation with one fixed plan.
private struct FixedOperation: ClusterOperation {
    let desired: DesiredState
    let fixed: Plan
    var name: String { "test" }
    func plan(_ observed: ObservedState) throws(PlanRefusal) -> Plan { fixed }
}

@Suite("Run lock rule")
struct ClusterRunLockTests {
    let devNull = TextOutput(fd: open("/dev/null", O_WRONLY))

    @Test func aPlanThatGrowsWithEveryLookIsLockedWholeBeforeAnyStepRuns() async {
        let names = ["node1", "node2", "node3", "node4", "node5"]
        let nodes = LockingNodes(names)
        let run = ClusterRun(operation: GrowingOperation(nodes: names), connector: nodes, options: .init(),
                             out: devNull, err: devNull)
        let code = await run.run()
        #expect(code == .success || code == .locked)
        let steps = nodes.records.filter { $0.program == "docker" }
        if code == .success {
            #expect(Set(steps.map(\.node)) == Set(names), "\(steps)")
        }
        let unlocked = steps.filter { !$0.locked }
        #expect(unlocked.isEmpty, "a step ran on a node whose lock the run did not hold: \(unlocked)")
        #expect(nodes.lockedNow.isEmpty, "locks left behind: \(nodes.lockedNow)")
    }

    @Test func aPlanNeedingANodeTheRunCannotLockEndsWithExit4AndRunsNothing() async {
        let names = ["node1", "node2"]
        let nodes = LockingNodes(names)
        let err = Captured()
        let run = ClusterRun(operation: GrowingOperation(nodes: names, extra: ["elsewhere"]), connector: nodes,
                             options: .init(), out: devNull, err: err.output)
        let code = await run.run()
        #expect(code == .locked)
        #expect(nodes.records.isEmpty, "\(nodes.records)")
        #expect(err.text.contains("elsewhere"), "\(err.text)")
        #expect(nodes.lockedNow.isEmpty)
    }

    @Test func everyNodeThatStopsAnsweringUnderTheLockIsReported() async {
        let names = ["node1", "node2", "node3"]
        // The first look works everywhere; the look under the lock fails on node2 and node3.
        let nodes = LockingNodes(names, failDiscovery: ["node2": 2, "node3": 2])
        let err = Captured()
        let op = GrowingOperation(nodes: names)
        let run = ClusterRun(operation: op, connector: nodes, options: .init(), out: devNull, err: err.output)
        // Make the first plan touch all three nodes so all are looked at again.
        _ = try? op.plan(ObservedState(nodes: [:]))
        _ = try? op.plan(ObservedState(nodes: [:]))
        let code = await run.run()
        #expect(code == .nodeUnreachable)
        #expect(err.text.contains("node2: discovery failed"), "\(err.text)")
        #expect(err.text.contains("node3: discovery failed"), "\(err.text)")
        #expect(nodes.records.isEmpty)
        #expect(nodes.lockedNow.isEmpty)
    }

    @Test func theExecutorRefusesAStepOnANodeWhoseLockTheRunDoesNotHold() async throws {
        let nodes = LockingNodes(["node1", "node2"])
        var hosts: [String: any RemoteHost] = [:]
        for n in nodes.names { hosts[n] = try await nodes.connect(n) }
        let locks = LockSet(holder: LockHolder(token: "t", user: "u", host: "h", pid: 1, started: 0, manifests: "", command: ""))
        let busy = await locks.acquire([hosts["node1"]!], wait: .zero, expiry: .seconds(600), stop: StopRequest()) { _ in }
        #expect(busy == nil)
        let app = Application(name: "web", image: "busybox:latest")
        let other = Application(name: "api", image: "busybox:latest")
        let desired = DesiredState(applications: ["web": app, "api": other], nodes: ["node1", "node2"], placement: [:])
        let plan = Plan(phases: [Phase(.prepare, [Step(node: "node1", .pullImage(image: "busybox:latest", app: "web")),
                                                  Step(node: "node2", .pullImage(image: "busybox:latest", app: "api"))])])
        let report = await Executor(hosts: hosts, desired: desired, observed: ObservedState(nodes: [:]),
                                    options: ExecutionOptions(), observer: EventLog(), locks: locks).run(plan)
        #expect(nodes.records == [.init(node: "node1", program: "docker", locked: true)], "\(nodes.records)")
        #expect(report.failures.map(\.node) == ["node2"])
        #expect(report.failures.first?.message.contains("does not hold the lock") == true)
    }

    @Test func replicaUpkeepWhoseApplicationLockAnotherRunHoldsIsLeftToItAndTheRestRuns() async {
        let v = VolumeID(app: "db", volume: "default")
        // Another run (a sync) holds db's lock on node1.
        let nodes = LockingNodes(["node1", "node2"], heldByOthers: ["node1|" + RunLock.directory(LockKey(node: "node1", app: "db"))])
        let apps = ["web": Application(name: "web", image: "busybox:latest"), "db": Application(name: "db", image: "redis:7")]
        let plan = Plan(phases: [Phase(.prepare, [Step(node: "node2", .pullImage(image: "busybox:latest", app: "web"))]),
                                 Phase(.replicate, [Step(node: "node1", .replicate(v, to: "node2"))])])
        let out = Captured()
        let op = FixedOperation(desired: DesiredState(applications: apps, nodes: ["node1", "node2"], placement: [:]), fixed: plan)
        let code = await ClusterRun(operation: op, connector: nodes, options: .init(), out: out.output, err: devNull).run()
        #expect(code == .success)
        #expect(nodes.records == [.init(node: "node2", program: "docker", locked: true)], "\(nodes.records)")
        #expect(out.text.contains("db: its replicas are being kept by another run"), "\(out.text)")
        #expect(nodes.lockedNow == ["node1|" + RunLock.directory(LockKey(node: "node1", app: "db"))], "\(nodes.lockedNow)")
    }
}
