import Foundation
import Synchronization
import Testing
@testable import FlockerCore

/// What a new user trips over (issue 16): truthful step output, routes of removed applications, unused volumes,
/// the JSON contract, the progress total of a full copy, lock status.
@Suite("Issue 16: what a new user trips over")
struct NewUserTests {
    func hosts(_ c: Cluster, log: CommandLog, responder: @escaping @Sendable (String, RemoteCommand, [UInt8]) -> CommandResult) -> [String: any RemoteHost] {
        var hosts: [String: any RemoteHost] = [:]
        for n in c.nodes {
            hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log) { responder(n, $0, $1) }
        }
        return hosts
    }

    static let old = Application(name: "old", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 9000)])
    static let crash = Application(name: "crash", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 9001)])

    /// old runs on node2 (node1 forwards 9000 to it); the new deployment drops old and starts crash on node1,
    /// whose container exits at once.
    func crashScenario() async throws -> (RunReport, CommandLog) {
        var c = Cluster()
        c.apps = [Self.old, Self.crash]
        c.run(Self.old, on: "node2")
        c.converge(routesFor: ["old": "node2"])
        c.placement = ["crash": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let h = hosts(c, log: log) { node, command, _ in
            if node == "node1" && command.stages[0].contains("flocker-ready") {
                return CommandResult(status: .exited(1), stderr: Array("flocker--crash: the container exited instead of starting\n--- last log lines:\n    crashing\n".utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        return (report, log)
    }

    @Test func aNodeWhereAStepFailedStillLosesTheRoutesOfApplicationsThatAreGone() async throws {
        let (report, log) = try await crashScenario()
        #expect(!report.isSuccess)
        // crash failed on node1; old's routes are old's pipeline's, which goes on: its DNAT goes from node1.
        let routes = log.all.filter { $0.node == "node1" && $0.command.stages[0].contains("flocker-routes") }
        let inputs = routes.map { String(decoding: $0.stdin, as: UTF8.self) }
        #expect(inputs.contains { $0.contains("flocker-deploy:dnat:old:9000") }, "node1's removal of old's DNAT ran: \(log.on("node1"))")
        #expect(!inputs.joined().contains(":crash:"), "nothing about crash, which did not start")
        let result = try #require(report.results.first { r in
            if case .setRoutes = r.step.action { return r.step.node == "node1" && r.step.pipelineApp == "old" } else { return false }
        })
        #expect(result.outcome == .succeeded)
        #expect(result.detail.isEmpty, "everything of old's step was applied: \(result.detail)")
    }

    @Test func theRouteStepSaysWhatItLeftAndWhy() async throws {
        let (report, _) = try await crashScenario()
        let node2 = try #require(report.results.first { r in
            if case .setRoutes = r.step.action { return r.step.node == "node2" && r.step.pipelineApp == "crash" } else { return false }
        })
        #expect(node2.outcome == .succeeded)
        #expect(node2.detail.contains("left as it was: forward 9001 → 10.77.0.11 (crash)"), "\(node2.detail)")
        #expect(node2.detail.contains("start crash on node1"), "the reason names the failed step: \(node2.detail)")
    }

    @Test func aFailedStartSaysTheContainerExitedWithItsLastLogLines() async throws {
        let (report, _) = try await crashScenario()
        let failure = try #require(report.failures.first)
        #expect(failure.message == "crash: the container exited instead of starting", "\(failure.message)")
        #expect(failure.stderr.contains("crashing"))
        #expect(!failure.message.contains("bash failed"))
    }

    @Test func aFailedCommandIsNamedInWordsNotByItsShell() {
        #expect(NodeCommands.snapshots("flocker/a.b").what == "listing the volume's snapshots")
        #expect(RemoteCommand("docker", "start", "x").what == "docker")
    }

    // MARK: unused volumes

    /// redis ran with volume "default" on node1; the application file now names its volume "data".
    func renamedVolume() -> Cluster {
        var c = Cluster()
        let before = Cluster.redis()
        c.run(before, on: "node1")
        c.dataset(before, on: "node1", snapshots: ["flocker-00000001"])
        var after = before
        after.volumes = [VolumeSpec(name: "data", mountpoint: "/data")]
        c.apps = [after]
        c.placement = ["redis": "node1"]
        return c
    }

    @Test func aDeployThatWouldLeaveDataUnusedRefusesWithoutAcceptUnused() throws {
        let c = renamedVolume()
        let op = DeployOperation(c.desired)
        #expect(throws: PlanRefusal.self) { try op.plan(c.observedState) }
        do {
            _ = try op.plan(c.observedState)
        } catch {
            #expect(error.unsafe)
            #expect(error.description.contains("node1: redis: its volume \"default\" (1.0 MiB) would be left unused"), "\(error.description)")
            #expect(error.description.contains("--accept-unused"))
        }
    }

    @Test func withYesThePlanSaysTheVolumeIsLeftUnusedAndKept() throws {
        let c = renamedVolume()
        let plan = try DeployOperation(c.desired, acceptLeavingUnused: true).plan(c.observedState)
        #expect(plan.notes.contains { $0.hasPrefix("volume redis/default on node1 is left unused (kept, 1.0 MiB)") }, "\(plan.notes)")
        #expect(StepText.render(plan).contains("note: volume redis/default on node1 is left unused (kept"))
        #expect(!plan.steps.contains { if case .removeReplica = $0.action { return true } else { return false } })
    }

    @Test func removingAnApplicationOnPurposeNeedsNoYes() throws {
        var c = renamedVolume()
        c.placement = [:]
        let plan = try DeployOperation(c.desired).plan(c.observedState)
        #expect(plan.notes.isEmpty, "\(plan.notes)")
    }

    @Test func statusListsUnusedVolumesWithSizeAndWhatToDo() throws {
        let c = renamedVolume()
        var nodes: [ClusterStatus.Node] = []
        for n in c.nodes { nodes.append(ClusterStatus.Node(name: n, state: c.observed[n])) }
        let status = ClusterStatus(nodes: nodes, desired: c.desired, now: 1_700_000_100)
        let text = status.text()
        #expect(text.contains("Unused volumes"), "\(text)")
        #expect(text.contains("redis/default on node1, 1.0 MiB: redis has no volume \"default\" in the application file"), "\(text)")
        #expect(text.contains("to use it again"))
        #expect(text.contains("zfs destroy -r flocker/redis.default"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.json().utf8)) as? [String: Any])
        #expect(json["schema"] as? Int == 1)
        let volumes = try #require(json["volumes"] as? [[String: Any]])
        #expect((volumes.first?["unused"] as? String)?.contains("no volume") == true)
    }

    @Test func statusDoesNotCallACreatedContainerUpToDate() {
        var c = Cluster()
        let redis = Cluster.redis(volume: false)
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1", running: false)
        c.observed["node1"]?.containers["redis"]?.status = "created"
        var nodes: [ClusterStatus.Node] = []
        for n in c.nodes { nodes.append(ClusterStatus.Node(name: n, state: c.observed[n])) }
        let text = ClusterStatus(nodes: nodes, desired: c.desired, now: 0).text()
        #expect(!text.contains("(up to date)"), "\(text)")
        #expect(text.contains("not running: a deploy starts it"), "\(text)")
    }

    // MARK: JSON and progress

    @Test func everyJSONLineCarriesTheSchemaVersion() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("json-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_WRONLY)
        let reporter = JSONReporter(out: TextOutput(fd: fd))
        reporter.plan(Plan())
        reporter.event(.note("n"))
        reporter.invalidManifests(ManifestErrors(errors: [ManifestError(file: "a.yml", line: 2, column: 3, path: "x", message: "bad")]))
        close(fd)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(o["schema"] as? Int == 1, "\(line)")
        }
        let error = try #require(try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any])
        #expect(error["event"] as? String == "error")
        #expect((error["errors"] as? [[String: Any]])?.first?["column"] as? Int == 3)
    }

    @Test func stepRecordsAreTypedWithNullsWhereTheyMeanSomething() throws {
        let v = VolumeID(app: "redis", volume: "default")
        func object(_ action: Action) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(JSONRecords.line(JSONRecords.StepRecord(Step(node: "node1", action))).utf8)) as? [String: Any])
        }
        let unquota = try object(.setQuota(v, quota: nil))
        #expect(unquota["action"] as? String == "set-quota")
        #expect(unquota.keys.contains("maximum_size") && unquota["maximum_size"] is NSNull, "a quota removed is null, not left out")
        let create = try object(.createVolume(v, quota: nil))
        #expect(!create.keys.contains("maximum_size"))
        #expect(try object(.createVolume(v, quota: 1024))["maximum_size"] as? Int == 1024)
        let rejoin = try object(.rejoin(v, common: nil, keepAs: "redis.default-diverged", epoch: 3))
        #expect(rejoin["common"] is NSNull && rejoin["kept_as"] as? String == "redis.default-diverged")
        #expect(try object(.stopApp("redis", keep: true))["keep_container"] as? Bool == true)
        #expect(try object(.createApp("redis"))["action"] as? String == "create")
        #expect(StepJSON.action(Step(node: "node1", .copyVolume(v, to: "node2", final: true))) == "final-copy")
        #expect(StepJSON.object(Step(node: "node1", .copyVolume(v, to: "node2", final: false)))["target"] as? String == "node2")
    }

    @Test func aFullCopyReportsItsExpectedSize() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                // As zfs-fuse prints it: the list asks for `referenced`, the only size estimate it has.
                guard node == "node1", command.stages[0].joined(separator: " ").contains("referenced") else {
                    return CommandResult(status: .exited(0), stdout: Array("absent\n".utf8))
                }
                let text = "\(ds)\ttype\tfilesystem\n\(ds)\treadonly\toff\n\(ds)\tflocker:role\tprimary\n\(ds)\tflocker:epoch\t3\n"
                    + "\(ds)\treferenced\t5242880\n\(ds)@flocker-00000001\ttype\tsnapshot\n\(ds)@flocker-00000001\tguid\tg1\n"
                    + "\(ds)@flocker-00000001\tcreatetxg\t10\n"
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let events = ProgressLog()
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        #expect(events.expected.contains(5_242_880), "\(events.expected)")
    }

    @Test func progressOfACompressedCopyClaimsNoPercentageOrETA() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_WRONLY)
        let reporter = TextReporter(out: TextOutput(fd: fd), progressInterval: .zero)
        let step = Step(node: "node1", .copyVolume(VolumeID(app: "redis", volume: "default"), to: "node2", final: false))
        reporter.event(.progress(step, TransferProgress(bytes: 1 << 20, expected: 4 << 20, elapsed: .seconds(1), round: 1)))
        reporter.event(.progress(Step(node: "node3", step.action),
                                 TransferProgress(bytes: 1 << 20, expected: 4 << 20, elapsed: .seconds(1), round: 1, compressor: "zstd")))
        close(fd)
        let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.contains("1.0 MiB of ~4.0 MiB (25%), ETA 3.0s") == true, "\(lines)")
        #expect(lines.last?.contains("1.0 MiB (zstd) of ~4.0 MiB of data") == true, "\(lines)")
        #expect(lines.last?.contains("ETA") == false)
    }

    // MARK: manifests

    @Test func aNodeNamedLikeAnSSHTargetGetsTheHintToSetUser() {
        let errors = decodeErrors(app: "version: 1\napplications:\n  web: {image: nginx}\n",
                                  deployment: "version: 1\nnodes:\n  root@node1: [web]\n")
        #expect(errors.contains { $0.message.contains("write \"node1\" here and set `User root` under `Host node1` in the ssh config") },
                "\(errors.map(\.message))")
    }

    @Test func publishingTheSSHPortIsWarnedAbout() throws {
        let m = try decodeValid(app: "version: 1\napplications:\n  web:\n    image: nginx\n    ports: [{internal: 2222, external: 22}]\n  ok:\n    image: nginx\n    ports: [{internal: 22, external: 2200}]\n",
                                deployment: "version: 1\nnodes:\n  node1: [web, ok]\n")
        #expect(m.portWarnings.count == 1, "\(m.portWarnings)")
        #expect(m.portWarnings.first?.hasPrefix("application web publishes port 22 (to its port 2222), the port sshd listens on") == true)
    }

    // MARK: lock status

    @Test func lockStatusSaysWhenAHolderOnThisMachineIsGone() throws {
        let me = ProcessInfo.processInfo.hostName
        var dead = LockHolder(token: "t", user: "u", host: me, pid: 0, started: 0, manifests: "m", command: "c")
        // A pid that is not running: past the kernel's default pid_max.
        dead.pid = 4_194_304 + 17
        let alive = LockHolder(token: "t", user: "u", host: me, pid: Int(getpid()), started: 0, manifests: "m", command: "c")
        let elsewhere = LockHolder(token: "t", user: "u", host: "another-machine", pid: 1, started: 0, manifests: "m", command: "c")
        let records = [
            LockCommands.NodeLocks(node: "node1", reachable: true, error: nil, runLock: .init(idleSeconds: 700, holder: dead), applicationLocks: []),
            LockCommands.NodeLocks(node: "node2", reachable: true, error: nil, runLock: .init(idleSeconds: 1, holder: alive), applicationLocks: []),
            LockCommands.NodeLocks(node: "node3", reachable: true, error: nil, runLock: .init(idleSeconds: 1, holder: elsewhere), applicationLocks: []),
            LockCommands.NodeLocks(node: "node4", reachable: true, error: nil, runLock: nil, applicationLocks: []),
        ]
        let report = LockCommands.report(records)
        let lines = report.text.split(separator: "\n").map(String.init)
        #expect(lines[0].contains("on this machine is gone"), "\(lines[0])")
        #expect(!lines[1].contains("gone") && !lines[2].contains("gone"))
        #expect(lines[3].hasSuffix("not locked"))
        #expect(report.locked)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(LockCommands.json(report).utf8)) as? [String: Any])
        #expect(json["schema"] as? Int == 1)
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        #expect((nodes[0]["run_lock"] as? [String: Any])?["holder_alive"] as? Bool == false)
        #expect((nodes[1]["run_lock"] as? [String: Any])?["holder_alive"] as? Bool == true)
        #expect((nodes[2]["run_lock"] as? [String: Any])?["holder_alive"] == nil)
        #expect(nodes[3]["locked"] as? Bool == false)
    }
}

/// Collects the expected totals of progress events.
final class ProgressLog: RunObserver, Sendable {
    private let totals = Mutex<[UInt64]>([])
    func event(_ event: RunEvent) {
        if case .progress(_, let p) = event, let e = p.expected { totals.withLock { $0.append(e) } }
    }
    var expected: [UInt64] { totals.withLock { $0 } }
}
