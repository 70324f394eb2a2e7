import Foundation
import Testing
@testable import FlockerCore

/// Per-application pipelines: applications do not wait for each other at phase boundaries.
@Suite("Executor pipelines")
struct ExecutorPipelineTests {
    func hosts(_ c: Cluster, log: CommandLog, delay: @escaping @Sendable (String, RemoteCommand) -> Duration? = { _, _ in nil },
               responder: @escaping @Sendable (String, RemoteCommand) -> CommandResult = { _, _ in CommandResult(status: .exited(0)) })
        -> [String: any RemoteHost]
    {
        var hosts: [String: any RemoteHost] = [:]
        for n in c.nodes {
            hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log, delay: { delay(n, $0) }) { command, _ in responder(n, command) }
        }
        return hosts
    }

    /// a and b run on node1 with an old configuration: each is stopped and started again there.
    func twoChangedApps() throws -> (Cluster, Plan) {
        var c = Cluster()
        let a = Application(name: "a", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])
        let b = Application(name: "b", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8002)])
        c.apps = [a, b]
        c.run(a, on: "node1", hash: "old")
        c.run(b, on: "node1", hash: "old")
        c.converge(routesFor: ["a": "node1", "b": "node1"])
        c.placement = ["a": "node1", "b": "node1"]
        return (c, try Planner.plan(desired: c.desired, observed: c.observedState))
    }

    func position(_ events: [String], _ prefix: String) -> Int? { events.firstIndex { $0.hasPrefix(prefix) } }

    @Test func aSlowStepOfOneApplicationDoesNotDelayAnother() async throws {
        let (c, plan) = try twoChangedApps()
        let log = CommandLog()
        let slow = hosts(c, log: log) { _, command in command.shellText.contains("flocker-stop flocker--a") ? .milliseconds(800) : nil }
        let events = EventLog()
        let clock = ContinuousClock()
        let began = clock.now
        let report = await Executor(hosts: slow, desired: c.desired, observed: c.observedState, options: ExecutionOptions(),
                                    observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let all = events.all
        let bStarted = try #require(position(all, "ok node1 start b"), "\(all)")
        let aStopped = try #require(position(all, "ok node1 stop and remove a"), "\(all)")
        #expect(bStarted < aStopped, "b started while a's slow stop was still going: \(all)")
        #expect(clock.now - began >= .milliseconds(800))
    }

    @Test func parallelOneRunsOneStepAtATimePerNode() async throws {
        let (c, plan) = try twoChangedApps()
        let log = CommandLog()
        let slow = hosts(c, log: log) { _, command in command.shellText.contains("flocker-stop flocker--a") ? .milliseconds(300) : nil }
        var options = ExecutionOptions()
        options.parallel = 1
        let events = EventLog()
        let report = await Executor(hosts: slow, desired: c.desired, observed: c.observedState, options: options, observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        // With one slot on node1, nothing else runs there while a's stop does: a step that started after it
        // started only after it ended.
        let all = events.all
        let aStop = try #require(position(all, "start node1 stop and remove a"))
        let aStopped = try #require(position(all, "ok node1 stop and remove a"))
        #expect(aStopped == aStop + 1, "another step ran on node1 during a's stop: \(all)")
    }

    /// A node receives one stream at a time: replication and a move's copies alike (each ends in a remount, and
    /// two of those at once on one zfs-fuse node were seen to hang it), whichever node sends.
    @Test func copiesIntoOneNodeTakeItsReceivingEnd() {
        let redis = VolumeID(app: "redis", volume: "default"), slow = VolumeID(app: "slow", volume: "default")
        let into2 = [Step(node: "node1", .copyVolume(redis, to: "node2", final: false)),
                     Step(node: "node3", .copyVolume(slow, to: "node2", final: true)),
                     Step(node: "node1", .replicate(slow, to: "node2"))]
        #expect(into2.map(Pipelines.exclusive) == ["receive:node2", "receive:node2", "receive:node2"])
        #expect(Pipelines.exclusive(Step(node: "node2", .copyVolume(redis, to: "node1", final: false))) == "receive:node1")
        #expect(Pipelines.exclusive(Step(node: "node2", .stopApp("redis", keep: true))) == nil)
    }

    @Test func aFailedStepOfOneApplicationDoesNotSkipAnothersOnTheSameNode() async throws {
        let (c, plan) = try twoChangedApps()
        let log = CommandLog()
        let h = hosts(c, log: log) { _, _ in nil } responder: { _, command in
            command.shellText.contains("flocker-start run flocker--a") ? CommandResult(status: .exited(125), stderr: Array("port is already allocated".utf8))
                : CommandResult(status: .exited(0))
        }
        let events = EventLog()
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(report.failures.count == 1 && report.failures.first?.step.contains("start a") == true, "\(report.failures)")
        let all = events.all
        #expect(position(all, "ok node1 start b") != nil, "b started though a failed on the same node: \(all)")
        #expect(!all.contains { $0.hasPrefix("skipped") && $0.contains(" b") }, "none of b's steps was skipped: \(all)")
        // b's routes switched on every node; a's stayed where they were.
        for n in ["node1", "node2"] {
            let rules = log.all.filter { $0.node == n && $0.text.contains("iptables-restore") }.map { String(decoding: $0.stdin, as: UTF8.self) }.joined()
            #expect(!rules.contains(":a:8001:"), "a's routes untouched on \(n)")
        }
    }

    @Test func eachApplicationHasItsOwnRouteStepOnEveryNode() throws {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let a = Application(name: "a", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])
        let b = Application(name: "b", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8002)])
        c.apps = [a, b]
        c.placement = ["a": "node1", "b": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let routes = plan.steps.filter { if case .setRoutes = $0.action { return true } else { return false } }
        // node3 forwards both (one step each, and one for the rule for replies); node1 and node2 forward the other
        // one's, in one step with the rule for replies.
        let expected: [String: [String]] = ["node1": ["b"], "node2": ["a"], "node3": ["", "a", "b"]]
        for (n, apps) in expected {
            #expect(routes.filter { $0.node == n }.map(\.pipelineApp).sorted() == apps, "\(routes)")
        }
        #expect(routes.count == 5)
        // The rules of no application (replies) are a step of the node-wide pipeline, first.
        let schedule = Pipelines(plan, applications: c.desired.applications, observed: c.observedState)
        #expect(schedule.pipelines.first?.app == "")
        #expect(Set(schedule.pipelines.map(\.app)) == ["", "a", "b"])
    }

    /// web (stateless, port 8080) runs on node1 with the mesh converged, and is placed on node2.
    func webMovesToNode2() throws -> (Cluster, Plan) {
        var c = Cluster()
        let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 8080)])
        c.apps = [web]
        c.run(web, on: "node1")
        c.converge(routesFor: ["web": "node1"])
        c.placement = ["web": "node2"]
        return (c, try Planner.plan(desired: c.desired, observed: c.observedState))
    }

    @Test func aStatelessMoveStartsBeforeItStops() async throws {
        let (c, plan) = try webMovesToNode2()
        #expect(plan.phases.first { $0.name == .stop } == nil, "nothing stops before the start")
        let cleanup = plan.phases.first { $0.name == .cleanup }?.steps ?? []
        #expect(cleanup.contains { $0.node == "node1" && $0.action == .stopApp("web", keep: false) }, "\(plan.steps)")
        let log = CommandLog()
        let report = await Executor(hosts: hosts(c, log: log), desired: c.desired, observed: c.observedState,
                                    options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let started = try #require(log.index(of: "docker start flocker--web", on: "node2"))
        let ready = try #require(log.index(of: "flocker-ready", on: "node2"))
        let routes = log.all.indices.filter {
            log.all[$0].text.contains("flocker-routes") && String(decoding: log.all[$0].stdin, as: UTF8.self).contains(":web:")
        }
        let stopped = try #require(log.index(of: "flocker-stop flocker--web", on: "node1"))
        #expect(started < ready && routes.allSatisfy { ready < $0 && $0 < stopped } && routes.count == 2, "\(log.all.map(\.text))")
    }

    /// The new node stops forwarding before any node starts forwarding to it (else, the mesh's rules coming before
    /// Docker's, a connection could be passed back and forth between the two): here node2's route step is slow,
    /// and node1's starts only once it ended.
    @Test func theNewNodeStopsForwardingBeforeOthersForwardToIt() async throws {
        let (c, plan) = try webMovesToNode2()
        let schedule = Pipelines(plan, applications: c.desired.applications, observed: c.observedState)
        let stages = schedule.pipelines.first { $0.app == "web" }?.stages.filter { $0.phase == .routes } ?? []
        #expect(stages.map { $0.lanes.flatMap { $0.map(\.node) } } == [["node2"], ["node1"]], "\(stages)")
        let slow = hosts(c, log: CommandLog()) { node, command in
            node == "node2" && command.shellText.contains("flocker-routes") ? .milliseconds(300) : nil
        }
        let events = EventLog()
        let report = await Executor(hosts: slow, desired: c.desired, observed: c.observedState, options: ExecutionOptions(),
                                    observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let all = events.all
        let node2Done = try #require(all.firstIndex { $0.hasPrefix("ok node2 routes") }, "\(all)")
        let node1Began = try #require(all.firstIndex { $0.hasPrefix("start node1 routes") }, "\(all)")
        #expect(node2Done < node1Began, "\(all)")
    }

    @Test func aStartWaitsForItsDependencyInAnotherPipeline() async throws {
        var c = Cluster()
        let db = Application(name: "db", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])
        var app = Application(name: "app", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8002)])
        app.dependencies = ["db"]
        c.apps = [db, app]
        c.placement = ["db": "node1", "app": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let slow = hosts(c, log: log) { node, command in
            node == "node1" && command.shellText.contains("flocker-ready") ? .milliseconds(300) : nil
        }
        let events = EventLog()
        let report = await Executor(hosts: slow, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let all = events.all
        let dbReady = try #require(position(all, "ok node1 start db"))
        let appStart = try #require(position(all, "start node2 start app"))
        #expect(dbReady < appStart, "\(all)")
    }

    @Test func routeLinesScale() throws {
        var c = Cluster(nodes: (1...6).map { "node\($0)" })
        let a = Application(name: "a", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])
        c.apps = [a]
        c.placement = ["a": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let text = StepText.render(plan)
        // a's route steps on node2…node6: one line; each node's own with -v.
        #expect(text.contains("5 nodes  routes: forward 8001 → 10.77.0.11 (a)\n"), "\(text)")
        #expect(!text.contains("node2  routes: forward"), "\(text)")
        let full = StepText.render(plan, full: true)
        #expect((2...6).allSatisfy { full.contains("node\($0)  routes: forward 8001 → 10.77.0.11 (a)\n") }, "\(full)")
        #expect(StepText.describe(Step(node: "node1", .setRoutes(add: [RouteSpec(tag: .established)], remove: [])))
                == "routes: let replies of forwarded connections through")
        // Many ports in one line are counted; -v lists them.
        let many = (1...45).map { RouteSpec(tag: RouteTag(kind: .inbound, app: "app\($0)", port: 9000 + $0, destination: "10.77.0.12")) }
        let gone = (1...45).map { RouteRule(table: "nat", chain: "PREROUTING", tag: RouteTag(kind: .inbound, app: "app\($0)", port: 9000 + $0, destination: "10.77.0.11"), ruleText: "x") }
        #expect(StepText.describe(Step(node: "node1", .setRoutes(add: many, remove: gone))) == "routes: 45 forwarded, 45 removed")
        let listed = StepText.describe(Step(node: "node1", .setRoutes(add: many, remove: gone)), full: true)
        #expect(listed.contains("9045 → 10.77.0.12 (app45)") && listed.contains("remove 9001 → 10.77.0.11 (app1)"), "\(listed)")
    }

    @Test func theTextReporterPrintsAnApplicationsRouteStepsAsOneLine() throws {
        var c = Cluster(nodes: (1...6).map { "node\($0)" })
        c.apps = [Application(name: "a", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])]
        c.placement = ["a": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString).txt").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let reporter = TextReporter(out: TextOutput(fd: handle.fileDescriptor))
        reporter.plan(plan)
        let routes = plan.steps.filter { if case .setRoutes = $0.action { return $0.pipelineApp == "a" } else { return false } }
        for (i, step) in routes.enumerated() {
            reporter.event(.stepFinished(StepResult(step: step, outcome: .succeeded, duration: .milliseconds(10 * (i + 1)))))
        }
        try handle.close()
        let printed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(printed.contains("  ok      5 nodes  routes: forward 8001 → 10.77.0.11 (a) (0.1s at most)\n"), "\(printed)")
        #expect(!printed.contains("  ok      node2"), "\(printed)")
    }
}
