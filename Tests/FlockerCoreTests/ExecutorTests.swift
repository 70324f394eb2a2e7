import Foundation
import Testing
@testable import FlockerCore

@Suite("Executor")
struct ExecutorTests {
    func hosts(_ c: Cluster, log: CommandLog, responder: @escaping @Sendable (String, RemoteCommand, [UInt8]) -> CommandResult = { _, _, _ in CommandResult(status: .exited(0)) }) -> [String: any RemoteHost] {
        var hosts: [String: any RemoteHost] = [:]
        for n in c.nodes {
            hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log) { responder(n, $0, $1) }
        }
        return hosts
    }

    @Test func aStoppedContainerDockerWillNotStartIsReplacedByANewOne() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.placement = ["redis": "node1"]
        c.run(redis, on: "node1", running: false)
        c.dataset(redis, on: "node1", snapshots: ["flocker-00000001"])
        c.converge(routesFor: c.placement)
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.steps == [Step(node: "node1", .restartApp("redis"))])
        let log = CommandLog()
        let h = hosts(c, log: log) { _, command, _ in
            command.stages[0].contains("flocker-restart")
                ? CommandResult(status: .exited(1), stderr: Array("Bind for 0.0.0.0:6379 failed: port is already allocated".utf8))
                : CommandResult(status: .exited(0))
        }
        let events = EventLog()
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let order = [log.index(of: "flocker-restart", on: "node1"), log.index(of: "flocker-remove flocker--redis", on: "node1"),
                     log.index(of: "flocker-start run flocker--redis", on: "node1")]
        #expect(order.allSatisfy { $0 != nil } && order.compactMap { $0 } == order.compactMap { $0 }.sorted(), "\(log.all.map(\.text))")
    }

    @Test func startPassesEnvironmentOnlyThroughStdinAndQuotesHostileValues() async throws {
        var c = Cluster()
        let hostile = "$(touch /tmp/pwned); `reboot` 'quoted' \"double\" | && ;"
        let app = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 8080)],
                              links: [Link(localPort: 6379, remotePort: 6379, alias: "db-main")],
                              environment: ["SECRET": hostile], command: ["sh", "-c", hostile])
        c.apps = [app]
        c.placement = ["web": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let report = await Executor(hosts: hosts(c, log: log), desired: c.desired, observed: c.observedState,
                                    options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess)
        guard let start = log.all.first(where: { $0.command.stages[0].contains("flocker-start") }) else {
            Issue.record("no start command: \(log.all.map(\.text))"); return
        }
        let env = String(decoding: start.stdin, as: UTF8.self)
        #expect(env.contains("SECRET=\(hostile)\n"))
        #expect(env.contains("DB_MAIN_PORT_6379_TCP=tcp://10.77.0.11:6379\n"))
        #expect(env.contains("DB_MAIN_PORT_6379_TCP_ADDR=10.77.0.11\n"))
        #expect(!start.text.contains("SECRET"), "environment values never go on a command line")
        // The command words are separate argv entries, each quoted once: the hostile string appears only quoted.
        #expect(start.command.stages[0].last == hostile)
        #expect(start.text.contains(ShellQuote.quote(hostile)))
        #expect(ShellQuote.quote(hostile).hasPrefix("'"))
        // Readiness is awaited after the start.
        #expect((log.index(of: "flocker-ready", on: "node1") ?? -1) > (log.index(of: "flocker-start", on: "node1") ?? Int.max))
    }

    @Test func moveRunsInOrderAndHandsOff() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.converge(routesFor: ["redis": "node1"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = node == "node1" ? snapshotListing(ds, snapshots: ["flocker-00000001"], readonly: false) : "absent\n"
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let order = [
            log.index(of: "zfs send", on: "node1"),            // pre-copy
            log.index(of: "flocker-start create flocker--redis", on: "node2"), // stage: created ahead, not started
            log.index(of: "flocker-hold redis 30 '' 6379", on: "node1"), // hold new connections
            log.index(of: "flocker-stop", on: "node1"),        // stop (kept)
            log.index(of: "readonly=on", on: "node1"),         // handoff: source read-only first
            log.index(of: "flocker:role=primary", on: "node2"),// promote target
            log.index(of: "flocker:role=copy", on: "node1"),   // demote source
            log.index(of: "docker start flocker--redis", on: "node2"), // start on target
            log.routeChange(of: "redis"),                      // routes
            log.index(of: "flocker-release-hold redis", on: nil), // then the hold goes
            log.index(of: "flocker-remove flocker--redis", on: "node1"), // cleanup
        ]
        #expect(order.allSatisfy { $0 != nil }, "\(log.all.map { "\($0.node): \($0.text)" })")
        let indices = order.compactMap { $0 }
        #expect(indices == indices.sorted(), "\(log.all.map { "\($0.node): \($0.text)" })")
        #expect(log.on("node1").contains { $0.hasSuffix("flocker-stop flocker--redis keep 2") }, "stopped after a drain of at most 2 s (the move holds new connections), and kept with restart policy no")
        #expect(report.rollbacks.isEmpty)
    }

    /// web (no volume) runs on node1 with its routes, and the deployment file moves it to node2.
    private func statelessMoveOfWeb() throws -> (Cluster, Plan) {
        var c = Cluster()
        let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 8080)])
        c.apps = [web]
        c.run(web, on: "node1")
        c.converge(routesFor: ["web": "node1"])
        c.placement = ["web": "node2"]
        return (c, try Planner.plan(desired: c.desired, observed: c.observedState))
    }

    @Test func aStatelessMoveIsNotRolledBackOnceItRunsOnItsTarget() async throws {
        let (c, plan) = try statelessMoveOfWeb()
        let log = CommandLog()
        let report = await Executor(hosts: hosts(c, log: log), desired: c.desired, observed: c.observedState,
                                    options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        #expect(report.rollbacks.isEmpty, "\(report.rollbacks)")
        #expect(log.index(of: "flocker-restart", on: "node1") == nil, "never restarted on the node it left")
    }

    @Test func aStatelessMoveWhoseStartFailsLeavesTheOldCopyRunning() async throws {
        let (c, plan) = try statelessMoveOfWeb()
        let log = CommandLog()
        let h = hosts(c, log: log) { node, command, _ in
            node == "node2" && command.stages[0].contains("flocker-ready") ? CommandResult(status: .exited(1)) : CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(!report.isSuccess)
        // Start before stop: the old copy was never stopped, so there is nothing to restart.
        #expect(log.index(of: "flocker-stop", on: "node1") == nil, "\(log.all.map(\.text))")
        #expect(log.routeChange(of: "web") == nil, "the routes still point at node1")
        #expect(report.rollbacks.isEmpty, "\(report.rollbacks)")
    }

    @Test func aNewCopyGetsTheOldestSnapshotThenEveryLaterOne() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = node == "node1" ? snapshotListing(ds, snapshots: ["flocker-00000001", "flocker-00000002"], readonly: false) : "absent\n"
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            return CommandResult(status: .exited(0))
        }
        var options = ExecutionOptions()
        options.compression = false
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: options, observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let texts = log.all.map(\.text)
        let incoming = "flocker/flocker-incoming/redis.default"
        let full = texts.firstIndex { $0 == "zfs send \(ds)@flocker-00000001" }
        let label = texts.firstIndex { $0.contains("flocker:role=copy") }
        let second = texts.firstIndex { $0 == "zfs send -i \(ds)@flocker-00000001 \(ds)@flocker-00000002" }
        let third = texts.firstIndex { $0 == "zfs send -i \(ds)@flocker-00000002 \(ds)@flocker-00000003" }
        #expect(full != nil && label != nil && second != nil && third != nil, "\(texts)")
        #expect((full ?? 0) < (label ?? 0) && (label ?? 0) < (second ?? 0) && (second ?? 0) < (third ?? 0),
                "labelled read-only before the rest arrives, one snapshot at a time: \(texts)")
        // The first stream lands unmounted under flocker/flocker-incoming, and takes the volume's name once labelled.
        let prepare = texts.firstIndex { $0.hasSuffix("flocker-incoming \(incoming)") }
        let firstReceive = texts.firstIndex { $0 == "zfs recv \(incoming)" }
        let rename = texts.firstIndex { $0.hasSuffix("flocker-rename \(incoming) \(ds)") }
        #expect(prepare != nil && firstReceive != nil && rename != nil, "\(texts)")
        #expect((prepare ?? 0) < (firstReceive ?? 0) && (firstReceive ?? 0) < (label ?? 0) && (label ?? 0) < (rename ?? 0)
                && (rename ?? 0) < (second ?? 0), "\(texts)")
        #expect(texts[label ?? 0].contains(incoming), "the labels go on the received copy before it is renamed")
        #expect(!texts.contains("zfs recv \(ds)"), "nothing is received under the volume's name without its labels")
        #expect(texts.contains("zfs recv -F \(ds)"))
        #expect(!texts.contains { $0.contains("send -I") }, "zfs-fuse leaks the holds of a killed send -I")
    }

    @Test func failureBeforePromotionRestartsOnSourceAndKeepsRoutes() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.converge(routesFor: ["redis": "node1"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        // The final copy's receive fails on node2 (after the pre-copy succeeded).
        let receives = CommandLog()
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = node == "node1" ? snapshotListing(ds, snapshots: ["flocker-00000001"], readonly: false) : snapshotListing(ds, snapshots: ["flocker-00000001"], readonly: true, role: "copy")
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            if command.stages.last?.first == "zfs", command.stages.last?.dropFirst().first == "recv" {
                receives.append(.init(node: node, command: command, stdin: []))
                if receives.all.count > 1 { return CommandResult(status: .exited(1), stderr: Array("cannot receive: out of space".utf8)) }
            }
            return CommandResult(status: .exited(0))
        }
        let events = EventLog()
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(!report.isSuccess)
        #expect(report.failures.first?.node == "node2")
        #expect(report.failures.first?.stderr.contains("out of space") == true)
        #expect(log.index(of: "flocker:role=primary") == nil, "never promoted")
        #expect(log.index(of: "flocker-start run", on: "node2") == nil && log.index(of: "docker start flocker--redis", on: "node2") == nil,
                "never started on the target")
        #expect(log.routeChange(of: "redis") == nil, "routes untouched")
        for n in ["node1", "node2"] {
            #expect(log.on(n).contains { $0.hasSuffix("flocker-release-hold redis") }, "the hold is lifted though redis failed: \(log.on(n))")
        }
        #expect(log.index(of: "flocker-remove", on: "node1") == nil, "the fallback container is kept")
        #expect(log.on("node2").contains { $0.contains("flocker-remove flocker--redis") }, "the container staged on the target is removed")
        // Rolled back: restarted on node1 with its original restart policy.
        #expect(log.on("node1").last?.contains("flocker-restart") == true)
        #expect(report.rollbacks.count == 1 && report.rollbacks[0].contains("restarted on node1"))
        #expect(events.all.contains { $0.hasPrefix("skipped node1 hand redis") })
    }

    @Test func aHoldThatCannotBeSetLeavesTheMoveGoingAndSaysSo() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.converge(routesFor: ["redis": "node1"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = node == "node1" ? snapshotListing(ds, snapshots: ["flocker-00000001"], readonly: false) : "absent\n"
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            if command.shellText.contains("flocker-hold ") {
                return CommandResult(status: .exited(2), stderr: Array("iptables-restore: line 2 failed".utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let holds = report.results.filter { if case .holdConnections = $0.step.action { return true } else { return false } }
        #expect(holds.count == 2 && holds.allSatisfy { $0.detail.hasPrefix("not held (iptables said: iptables-restore: line 2 failed)") }, "\(holds)")
        #expect(log.index(of: "docker start flocker--redis", on: "node2") != nil)
        #expect(Set(DiscoveryScript.parseHolds([
            "-A PREROUTING -p tcp -m tcp --dport 6379 --tcp-flags FIN,SYN,RST,ACK SYN -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:hold:redis:6379 -m time --datestop 2026-12-02T01:00:00 -j DROP",
            "-A OUTPUT -p tcp -m comment --comment \"flocker-deploy:hold:web.1:80\" -j DROP", "-A OUTPUT -j ACCEPT",
        ])) == ["redis", "web.1"])
    }

    @Test func failureAfterPromotionDoesNotRollBack() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.run(redis, on: "node1")
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = node == "node1" ? snapshotListing("flocker/redis.default", snapshots: ["flocker-00000001"], readonly: false) : "absent\n"
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            if command.stages[0].contains("flocker-ready") { return CommandResult(status: .exited(1), stderr: Array("not ready after 60s".utf8)) }
            return CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.failures.map(\.node) == ["node2"])
        #expect(report.rollbacks.isEmpty, "after promotion the move completes on a re-run, never backwards")
        #expect(log.index(of: "flocker-restart", on: "node1") == nil)
        #expect(log.index(of: "flocker-remove", on: "node1") == nil, "fallback kept while the target is not ready")
    }

    @Test func failedNodeSkipsLaterPhasesButOtherNodesGoOn() async throws {
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        let a = Application(name: "a", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8001)])
        let b = Application(name: "b", image: "busybox:latest", ports: [PortMapping(internal: 80, external: 8002)])
        c.apps = [a, b]
        c.placement = ["a": "node1", "b": "node2"]
        c.observed["node1"]?.images = []
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let h = hosts(c, log: log) { node, command, _ in
            if node == "node1", command.stages[0].first == "docker", command.stages[0].contains("pull") {
                return CommandResult(status: .exited(1), stderr: Array("manifest unknown".utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let events = EventLog()
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: events).run(plan)
        #expect(report.failures.count == 1)
        #expect(log.on("node1").allSatisfy { !$0.contains("flocker-start") })
        #expect(log.on("node2").contains { $0.contains("flocker-start run flocker--b") }, "node2 goes on")
        // node3's routes: b is forwarded, a (failed) is not.
        let restore = log.all.filter { $0.node == "node3" && $0.text.contains("iptables-restore") }
        let rules = restore.map { String(decoding: $0.stdin, as: UTF8.self) }.joined()
        #expect(rules.contains(":b:8002:"))
        #expect(!rules.contains(":a:8001:"))
        #expect(events.all.contains { $0.hasPrefix("skipped node1 start a") })
    }

    @Test func interruptionStartsNoNewStep() async throws {
        var c = Cluster()
        c.apps = [Cluster.redis(volume: false)]
        c.placement = ["redis": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let stop = StopRequest()
        stop.request()
        let log = CommandLog()
        let report = await Executor(hosts: hosts(c, log: log), desired: c.desired, observed: c.observedState,
                                    options: ExecutionOptions(), observer: EventLog(), stopRequest: stop).run(plan)
        #expect(report.interrupted)
        #expect(log.all.isEmpty)
        #expect(report.skipped == plan.steps.count)
    }

    @Test func routesAreChangedAtomicallyWithExactDeletes() {
        let rule = RouteRule(table: "nat", chain: "PREROUTING", tag: RouteTag(kind: .inbound, app: "redis", port: 6379, destination: "10.77.0.11"),
                             ruleText: "-p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:dnat:redis:6379:10.77.0.11 -j DNAT --to-destination 10.77.0.11:6379")
        let add = RoutingMesh.desiredRules(on: "node1", running: ["redis": "node2"], applications: ["redis": Cluster.redis()], addresses: ["node1": "10.77.0.11", "node2": "10.77.0.12"])
        let text = String(decoding: NodeCommands.routesInput(add: add, remove: [rule]), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first == "*nat")
        #expect(lines[1] == "-D PREROUTING " + rule.ruleText)
        // Inserted ahead of Docker's jump to DOCKER: a forward wins over a container starting on the node.
        #expect(lines.contains("-I PREROUTING 1 ! -d 10.233.0.0/16 -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:dnat:redis:6379:10.77.0.12 -j DNAT --to-destination 10.77.0.12:6379"))
        #expect(lines.contains("-I OUTPUT 1 ! -d 10.233.0.0/16 -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:dnat-local:redis:6379:10.77.0.12 -j DNAT --to-destination 10.77.0.12:6379"))
        #expect(lines.contains("*filter"))
        #expect(lines.filter { $0 == "COMMIT" }.count == 2)
        #expect(NodeCommands.restoreRoutes.stages[0].last == "flocker-routes")
        #expect(NodeCommands.restoreRoutes.stages[0][2].hasSuffix("| iptables-restore --noflush"))
    }

    // MARK: one re-run repairs any interruption: every step is idempotent against what it finds

    /// web, with its configuration hash, for the container rules.
    private static let web = Application(name: "web", image: "busybox:latest", ports: [PortMapping(internal: 8080, external: 8080)])

    /// A fake `docker` for the start, stop and remove scripts: the container flocker--web exists when the file
    /// `container` does, and its label flocker.config-hash is that file's content. `racing` is a container another
    /// (killed) run's `docker create` is still making: the next create or run reports the name in use, and the
    /// container exists from then on. `running` makes `docker rm` refuse; `removing` counts down an
    /// "already in progress" removal.
    private static let fakeDocker = """
        case "$1" in
          inspect)
            [ -f "$FAKE/removing" ] && { n=$(cat "$FAKE/removing"); [ "$n" -gt 0 ] || { rm -f "$FAKE/removing" "$FAKE/container"; exit 1; }; echo $((n - 1)) > "$FAKE/removing"; }
            [ -f "$FAKE/container" ] || { echo "Error: No such object: $4" >&2; exit 1; }
            cat "$FAKE/container" ;;
          create|run)
            if [ -f "$FAKE/racing" ]; then
              mv "$FAKE/racing" "$FAKE/container"
              echo 'Error response from daemon: Conflict. The container name "/flocker--web" is already in use by container "0e0f". You have to remove (or rename) that container to be able to reuse that name.' >&2; exit 1
            fi
            [ -f "$FAKE/fail" ] && { cat "$FAKE/fail" >&2; exit 1; }
            [ -f "$FAKE/container" ] && { echo 'Conflict. The container name "/flocker--web" is already in use' >&2; exit 1; }
            echo made > "$FAKE/container"; echo 0123abcd ;;
          start|update|stop) [ -f "$FAKE/container" ] || { echo "Error response from daemon: No such container: $2" >&2; exit 1; } ;;
          rm)
            [ -f "$FAKE/removing" ] && { echo "Error response from daemon: removal of container $2 is already in progress" >&2; exit 1; }
            [ -f "$FAKE/container" ] || { echo "Error: No such container: $2" >&2; exit 1; }
            [ -f "$FAKE/running" ] && [ "$2" != -f ] && { echo "Error response from daemon: You cannot remove a running container" >&2; exit 1; }
            rm -f "$FAKE/container" ;;
        esac
        """

    @Test func aCreateFindsItsContainerWithTheWantedHashAndUsesIt() throws {
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("container", Self.web.configHash)
        let r = try node.run(NodeCommands.start(Self.web, mounts: [], envFile: nil, createOnly: true))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(NodeCommands.usedExistingContainer))
        #expect(node.calls.filter { $0.hasPrefix("docker create") }.count == 1, "tried once, then the name is in use: \(node.calls)")
        #expect(!node.calls.contains { $0.hasPrefix("docker rm") || $0.hasPrefix("docker start") }, "\(node.calls)")
    }

    @Test func aRunFindsItsStoppedContainerWithTheWantedHashAndStartsIt() throws {
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("container", Self.web.configHash)
        let r = try node.run(NodeCommands.start(Self.web, mounts: [], envFile: nil, createOnly: false))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(node.calls.contains("docker start flocker--web"), "\(node.calls)")
        #expect(node.calls.filter { $0.hasPrefix("docker run") }.count == 1, "\(node.calls)")
        #expect(!node.calls.contains { $0.hasPrefix("docker rm") }, "\(node.calls)")
    }

    @Test func aContainerWithAnotherHashIsRemovedAndCreatedAgain() throws {
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("container", "an-older-configuration")
        let r = try node.run(NodeCommands.start(Self.web, mounts: [], envFile: nil, createOnly: true))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains(NodeCommands.usedExistingContainer))
        let rm = node.calls.firstIndex(of: "docker rm -f flocker--web")
        let creates = node.calls.indices.filter { node.calls[$0].hasPrefix("docker create --name flocker--web --label flocker.app=web") }
        #expect(rm != nil && creates.count == 2 && creates[0] < (rm ?? 0) && (rm ?? 0) < creates[creates.count - 1], "\(node.calls)")
        #expect(node.read("container") == "made\n", "the new container is there")
    }

    /// The known failure: a move killed while the target's container is being created, run again at once, found
    /// no container, and its create failed with Docker's Conflict because the killed run's create finished first.
    @Test func aCreateThatMeetsTheNameInUseWaitsForThatContainerAndUsesIt() throws {
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("racing", Self.web.configHash)
        let env = node.path("env/web.env")
        let r = try node.run(NodeCommands.start(Self.web, mounts: [], envFile: env, createOnly: true), stdin: "A=1\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(NodeCommands.usedExistingContainer))
        #expect(node.calls.filter { $0.hasPrefix("docker create") }.count == 1, "\(node.calls)")
        #expect(!FileManager.default.fileExists(atPath: env), "the environment file is removed")
    }

    @Test func aCreateThatFailsOtherwiseSaysWhyAndRemovesItsEnvironmentFile() throws {
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("fail", "Error response from daemon: pull access denied for nosuch")
        let env = node.path("env/web.env")
        let r = try node.run(NodeCommands.start(Self.web, mounts: [], envFile: env, createOnly: false), stdin: "A=1\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("pull access denied"))
        #expect(node.calls.filter { $0.hasPrefix("docker run") }.count == 1, "no retry of other failures: \(node.calls)")
        #expect(!FileManager.default.fileExists(atPath: env))
    }

    @Test func aStartThatUsedAnExistingContainerSaysSo() async throws {
        var c = Cluster()
        c.apps = [Self.web]
        c.placement = ["web": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let h = hosts(c, log: log) { _, command, _ in
            command.stages[0].contains("flocker-start")
                ? CommandResult(status: .exited(0), stdout: Array((NodeCommands.usedExistingContainer + "\n").utf8))
                : CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        #expect(report.results.contains { $0.detail == "its container was there already (left by an interrupted run)" }, "\(report.results)")
    }

    @Test func removingAContainerThatIsGoneOrGoingSucceeds() throws {
        let gone = try LocalNode(fakes: ["docker": Self.fakeDocker])
        #expect(try gone.run(NodeCommands.remove("web")).status == 0)
        let going = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try going.write("container", "h")
        try going.write("removing", "2")
        let r = try going.run(NodeCommands.remove("web"))
        #expect(r.status == 0, "\(r.stderr)")
        let running = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try running.write("container", "h")
        try running.write("running", "")
        let refused = try running.run(NodeCommands.remove("web"))
        #expect(refused.status == 1, "a running container is not removed")
        #expect(refused.stderr.contains("cannot remove a running container"))
    }

    @Test func stoppingAContainerThatIsGoneSucceeds() throws {
        for keep in [true, false] {
            let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
            let r = try node.run(NodeCommands.stop("web", keep: keep))
            #expect(r.status == 0, "keep \(keep): \(r.stderr)")
        }
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("container", "h")
        #expect(try node.run(NodeCommands.stop("web", keep: true)).status == 0)
        #expect(node.calls == ["docker update --restart=no flocker--web", "docker stop flocker--web"], "\(node.calls)")
    }

    @Test func theStopSaysHowItsDrainWent() throws {
        #expect(NodeCommands.drainNote("", limit: 2) == "", "no connection was open")
        #expect(NodeCommands.drainNote("drain 1 0 4", limit: 2) == "waited 0.4 s for 1 open connection to end")
        #expect(NodeCommands.drainNote("drain 3 0 12", limit: 2) == "waited 1.2 s for 3 open connections to end")
        #expect(NodeCommands.drainNote("drain 3 2 20", limit: 2) == "2 of 3 open connections still open after 2 s: cut by the stop (--drain)")
        #expect(NodeCommands.drainNote("something else", limit: 2) == "")
        // Without a drain (no hold in place), the stop asks Docker nothing more than before.
        let node = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try node.write("container", "h")
        #expect(try node.run(NodeCommands.stop("web", keep: false, drain: 0)).status == 0)
        #expect(node.calls == ["docker stop flocker--web", "docker rm flocker--web"], "\(node.calls)")
        // With one, a container whose first process is not a number (the fake's answer) is stopped at once.
        let drained = try LocalNode(fakes: ["docker": Self.fakeDocker])
        try drained.write("container", "h")
        let r = try drained.run(NodeCommands.stop("web", keep: false, drain: 2))
        #expect(r.status == 0 && r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(r)")
    }

    /// A fake `zfs` whose `get -H -o value PROP DS` answers from the file `prop-PROP`, whose `list` finds what
    /// the file `exists` names, whose `send` prints the file `stream`, and whose other subcommands fail when a file `fail-SUBCOMMAND` exists (with its
    /// content on stderr).
    private static let fakeZFS = """
        eval last=\\${$#}
        case "$1" in
          get) p=$5; [ -f "$FAKE/prop-$p" ] && cat "$FAKE/prop-$p" || echo - ;;
          list) grep -qxF "$last" "$FAKE/exists" 2>/dev/null || { echo "cannot open '$last': dataset does not exist" >&2; exit 1; }; echo "$last" ;;
          send) [ -f "$FAKE/stream" ] && cat "$FAKE/stream" ;;
          *) if [ -f "$FAKE/fail-$1" ]; then grep -qxF "$last" "$FAKE/fail-$1" && { echo "cannot $1 $last" >&2; exit 1; }; fi ;;
        esac
        exit 0
        """

    @Test func aVolumeThatItsInterruptedCreateMadeIsCreated() throws {
        let v = VolumeID(app: "redis", volume: "default")
        let node = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try node.write("fail-create", v.dataset)
        try node.write("prop-flocker:app", "redis")
        try node.write("prop-flocker:volume", "default")
        try node.write("prop-flocker:role", "primary")
        #expect(try node.run(NodeCommands.createVolume(v, quota: nil)).status == 0)
        // A dataset of that name that is not this volume's primary is not taken for it.
        let foreign = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try foreign.write("fail-create", v.dataset)
        let r = try foreign.run(NodeCommands.createVolume(v, quota: nil))
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot create"))
    }

    @Test func pruningASnapshotThatIsGoneSucceeds() throws {
        let ds = "flocker/redis.default"
        let node = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try node.write("fail-destroy", "\(ds)@flocker-00000001\n\(ds)@flocker-00000002")
        try node.write("exists", "\(ds)@flocker-00000002")
        let r = try node.run(NodeCommands.destroySnapshots(ds, ["flocker-00000001", "flocker-00000003"]))
        #expect(r.status == 0, "flocker-00000001 is gone already: \(r.stderr)")
        #expect(node.calls.contains("zfs destroy \(ds)@flocker-00000003"), "the rest are destroyed: \(node.calls)")
        #expect(try node.run(NodeCommands.destroySnapshots(ds, ["flocker-00000002"])).status == 1,
                "a snapshot that is there and cannot be destroyed fails the step")
    }

    @Test func aSnapshotNameAnInterruptedRunTookIsNotReused() throws {
        let ds = "flocker/redis.default"
        let node = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try node.write("fail-snapshot", "\(ds)@flocker-00000005")
        try node.write("exists", "\(ds)@flocker-00000005")
        let r = try node.run(NodeCommands.snapshot(ds, sequence: 5))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "flocker-00000006\n")
        // Any other failure is the step's.
        let full = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try full.write("fail-snapshot", "\(ds)@flocker-00000005")
        let f = try full.run(NodeCommands.snapshot(ds, sequence: 5))
        #expect(f.status == 1)
        #expect(f.stderr.contains("cannot snapshot"))
    }

    /// A send stream of `records` 312-byte records of the given types (what zfs-fuse's `zfs send -i` writes).
    private static func stream(_ types: [UInt32]) -> Data {
        var data = Data()
        for t in types {
            var record = [UInt8](repeating: 0, count: 312)
            withUnsafeBytes(of: t.littleEndian) { for (i, b) in $0.enumerated() { record[i] = b } }
            data.append(contentsOf: record)
        }
        return data
    }

    @Test func aSnapshotForReplicasIsTakenOnlyWhenSomethingWasWritten() throws {
        let ds = "flocker/redis.default"
        // OpenZFS: `written` says nothing was written since the newest snapshot; none is taken.
        let idle = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try idle.write("prop-written", "0")
        let r = try idle.run(NodeCommands.snapshot(ds, sequence: 3, unlessUnchangedSince: "flocker-00000002"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("unchanged "), "\(r.stdout)")
        #expect(!idle.calls.contains { $0.hasPrefix("zfs snapshot") }, "\(idle.calls)")
        // OpenZFS, written: a snapshot.
        let busy = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try busy.write("prop-written", "4096")
        #expect(try busy.run(NodeCommands.snapshot(ds, sequence: 3, unlessUnchangedSince: "flocker-00000002")).stdout == "flocker-00000003\n")
        #expect(!busy.calls.contains { $0.hasPrefix("zfs send") }, "written is enough: \(busy.calls)")
        // zfs-fuse (no `written`): an increment of only a begin and an end record changed nothing; the snapshot goes.
        let fuse = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try Self.stream([0, 5]).write(to: URL(fileURLWithPath: fuse.path("stream")))
        let f = try fuse.run(NodeCommands.snapshot(ds, sequence: 3, unlessUnchangedSince: "flocker-00000002"))
        #expect(f.stdout.hasPrefix("unchanged "), "\(f.stdout) \(f.stderr)")
        #expect(fuse.calls.contains("zfs send -i \(ds)@flocker-00000002 \(ds)@flocker-00000003"), "\(fuse.calls)")
        #expect(fuse.calls.contains("zfs destroy \(ds)@flocker-00000003"), "\(fuse.calls)")
        // zfs-fuse, with a write in the increment: the snapshot stays.
        let changed = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try Self.stream([0, 2, 1, 3, 5]).write(to: URL(fileURLWithPath: changed.path("stream")))
        #expect(try changed.run(NodeCommands.snapshot(ds, sequence: 3, unlessUnchangedSince: "flocker-00000002")).stdout == "flocker-00000003\n")
        #expect(!changed.calls.contains { $0.hasPrefix("zfs destroy") }, "\(changed.calls)")
        // Without a base (a first snapshot) nothing is measured.
        let first = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try first.write("prop-written", "0")
        #expect(try first.run(NodeCommands.snapshot(ds, sequence: 1)).stdout == "flocker-00000001\n")
    }

    @Test func aRemountOfADatasetThatIsNotMountedMountsIt() throws {
        let node = try LocalNode(fakes: ["zfs": Self.fakeZFS])
        try node.write("prop-mounted", "no")
        #expect(try node.run(NodeCommands.remount("flocker/redis.default")).status == 0)
        #expect(node.calls.filter { !$0.hasPrefix("zfs get") } == ["zfs mount flocker/redis.default"], "\(node.calls)")
    }

    @Test func routesAlreadyThereOrAlreadyGoneAreLeftOut() throws {
        let present = "-A PREROUTING -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:dnat:redis:6379:10.77.0.11 -j DNAT --to-destination 10.77.0.11:6379"
        let saved = "*nat\n:PREROUTING ACCEPT [0:0]\n\(present)\nCOMMIT\n*filter\n-A FORWARD -d 10.77.0.12/32 -p tcp -m tcp --dport 6379 -m comment --comment flocker-deploy:fwd:redis:6379:10.77.0.12 -j ACCEPT\nCOMMIT\n"
        let node = try LocalNode(fakes: [
            "iptables-save": "cat \"$FAKE/saved\"",
            "iptables-restore": "cat > \"$FAKE/restored\"",
        ])
        try node.write("saved", saved)
        let gone = "-D PREROUTING -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:dnat:redis:6379:10.77.0.13 -j DNAT --to-destination 10.77.0.13:6379"
        let input = [
            "*nat",
            "-D " + String(present.dropFirst(3)),             // there: deleted
            gone,                                             // gone already: left out
            "-A OUTPUT -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:local:redis:6379:10.77.0.12 -j DNAT --to-destination 10.77.0.12:6379",
            "COMMIT",
            "*filter",
            // there already (same tag, same chain), though written as an insert: left out
            "-I FORWARD 1 -d 10.77.0.12/32 -p tcp -m tcp --dport 6379 -m comment --comment flocker-deploy:fwd:redis:6379:10.77.0.12 -j ACCEPT",
            "COMMIT",
        ].joined(separator: "\n") + "\n"
        let r = try node.run(NodeCommands.restoreRoutes, stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        let restored = node.read("restored") ?? ""
        #expect(restored == [
            "*nat", "-D " + String(present.dropFirst(3)),
            "-A OUTPUT -p tcp -m tcp --dport 6379 -m addrtype --dst-type LOCAL -m comment --comment flocker-deploy:local:redis:6379:10.77.0.12 -j DNAT --to-destination 10.77.0.12:6379",
            "COMMIT", "*filter", "COMMIT",
        ].joined(separator: "\n") + "\n", "\(restored)")
        // iptables-save failing fails the step instead of restoring blindly.
        let broken = try LocalNode(fakes: ["iptables-save": "exit 1", "iptables-restore": "cat > \"$FAKE/restored\""])
        #expect(try broken.run(NodeCommands.restoreRoutes, stdin: input).status != 0)
        #expect(broken.read("restored") == nil)
    }

    @Test func aCopyStopsLeftoverReceivesBeforeItLooksAtTheTarget() async throws {
        var c = Cluster()
        let redis = Cluster.redis()
        c.apps = [redis]
        c.dataset(redis, on: "node1", epoch: 3, snapshots: ["flocker-00000001"])
        c.dataset(redis, on: "node2", role: .copy, epoch: 3, snapshots: ["flocker-00000001"])
        c.placement = ["redis": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let log = CommandLog()
        let ds = "flocker/redis.default"
        let h = hosts(c, log: log) { node, command, _ in
            if command.stages[0].contains("flocker-snapshots") {
                let text = snapshotListing(ds, snapshots: ["flocker-00000001"], readonly: node == "node2", role: node == "node2" ? "copy" : "primary")
                return CommandResult(status: .exited(0), stdout: Array(text.utf8))
            }
            return CommandResult(status: .exited(0))
        }
        let report = await Executor(hosts: h, desired: c.desired, observed: c.observedState, options: ExecutionOptions(), observer: EventLog()).run(plan)
        #expect(report.isSuccess, "\(report.failures)")
        let stop = log.index(of: "flocker-stop-receives \(ds) flocker/flocker-incoming/redis.default", on: "node2")
        let look = log.index(of: "flocker-snapshots", on: "node2")
        #expect(stop != nil && look != nil && (stop ?? 0) < (look ?? 0), "\(log.all.map { "\($0.node): \($0.text)" })")
        #expect(!log.all.contains { $0.text.contains("flocker-incoming \(ds)") || $0.text.contains("flocker-rename") },
                "an existing copy receives in place")
    }

}

/// Runs a node command with this machine's /bin/sh, with fake programs first on the PATH: the idempotency rules
/// live in the commands' scripts, so they are tested by running them. Each fake appends "PROGRAM ARGS…" to the
/// file `calls` and then runs its body, which keeps its state in files of the folder `$FAKE`.
struct LocalNode {
    let dir: String

    init(fakes: [String: String]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
        for (name, body) in fakes {
            let path = dir + "/bin/" + name
            try writeFakeExecutable(path, "#!/bin/sh\necho \"\(name) $*\" >> \"$FAKE/calls\"\n" + body + "\n")
        }
    }

    func path(_ name: String) -> String { dir + "/" + name }
    func write(_ name: String, _ content: String) throws { try content.write(toFile: path(name), atomically: true, encoding: .utf8) }
    func read(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }
    var calls: [String] { (read("calls") ?? "").split(separator: "\n").map(String.init) }

    func run(_ command: RemoteCommand, stdin: String = "") throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command.shellText]
        process.environment = ["PATH": dir + "/bin:/usr/bin:/bin", "FAKE": dir]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
