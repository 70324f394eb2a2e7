import Testing
@testable import FlockerCore

/// Services by name across nodes (issue 15): addresses, what a container gets, the routes each node wants.
@Suite("Service network")
struct ServiceNetworkTests {
    static let stack = """
        services:
          app:
            image: busybox:latest
            links: ["db:database"]
            ports: ["8080:80"]
          db:
            image: redis:7
            expose: ["6379"]
          cache:
            image: redis:7
            ports: ["6380:6380"]
        """

    func stackApps() throws -> [String: Application] {
        let manifests = try decodeValid(app: Self.stack)
        return Dictionary(uniqueKeysWithValues: manifests.applications.map { ($0.name, $0) })
    }

    @Test func addressesAreStableUniqueAndInTheRange() {
        let names = (1...300).map { "svc\($0)" }
        let all = ServiceNetwork.addresses(for: names)
        #expect(Set(all.values).count == 300)
        #expect(all.values.allSatisfy { ServiceNetwork.contains($0) && !$0.hasSuffix(".0") && !$0.hasSuffix(".255") })
        #expect(ServiceNetwork.addresses(for: names) == all, "the same names, the same addresses")
        // Adding or removing a service leaves the others' addresses alone (no two of these collide).
        let fewer = ServiceNetwork.addresses(for: Array(names.prefix(10)))
        for (name, address) in fewer where Set(fewer.values).count == 10 { #expect(all[name] == address) }
        // Pinned: an address is part of every Compose container's configuration hash.
        #expect(ServiceNetwork.addresses(for: ["db"])["db"] == ServiceNetwork.address(ofSlot: ServiceNetwork.preferredSlot("db")))
    }

    @Test func collidingNamesTakeTheNextSlot() {
        // Find two names with one preferred slot.
        var bySlot: [Int: String] = [:]
        var pair: (String, String)?
        for i in 0..<200_000 {
            let n = "n\(i)"
            let slot = ServiceNetwork.preferredSlot(n)
            if let other = bySlot[slot] { pair = (other, n); break }
            bySlot[slot] = n
        }
        guard let (a, b) = pair else { Issue.record("no collision found"); return }
        let both = ServiceNetwork.addresses(for: [a, b])
        #expect(both[a] != both[b])
        #expect(both[min(a, b)] == ServiceNetwork.address(ofSlot: ServiceNetwork.preferredSlot(a)))
    }

    @Test func composeServicesResolveEveryNameAndTheirAliases() throws {
        let apps = try stackApps()
        let app = try #require(apps["app"]?.service)
        let db = try #require(apps["db"]?.service)
        let cache = try #require(apps["cache"]?.service)
        #expect(app.hosts.map(\.name) == ["app", "cache", "db", "database"])
        #expect(app.hosts.first { $0.name == "database" }?.address == db.address)
        #expect(db.hosts.map(\.name) == ["app", "cache", "db"], "aliases are the linking service's own")
        // Container ports on the service's address: expose, and ports published under another number.
        #expect(app.ports == ["80"])
        #expect(db.ports == ["6379"])
        #expect(cache.ports.isEmpty, "6380:6380 answers on every address already")
        let args = NodeCommands.runArguments(try #require(apps["app"]), mounts: [], envFile: nil)
        #expect(args.contains("--add-host=db:\(db.address)"))
        #expect(args.contains("--add-host=database:\(db.address)"))
        #expect(args.contains("--publish=\(app.address):80:80"))
    }

    @Test func flockerV1ApplicationsKeepTheirLinksOnly() throws {
        let app = try onlyApplication(v1("image: busybox\nports:\n- internal: 80\n  external: 8080"))
        #expect(app.service == nil)
        #expect(!NodeCommands.runArguments(app, mounts: [], envFile: nil).contains { $0.hasPrefix("--add-host=") })
    }

    @Test func theAddressIsPartOfTheConfiguration() throws {
        let apps = try stackApps()
        var db = try #require(apps["db"])
        let before = db.configHash
        db.service?.hosts.append(HostEntry(name: "new", address: "10.233.9.9"))
        #expect(db.configHash != before)
    }

    @Test func aPortPublishedOnEveryAddressCannotAlsoBeAServicePort() {
        let errors = decodeErrors(app: """
            services:
              db: {image: postgres, expose: ["5432"]}
              proxy: {image: busybox, ports: ["5432:6432"]}
            """)
        #expect(errors.contains { $0.message.contains("container port 5432 is reached by name (db:5432)") && $0.message.contains("service \"proxy\"'s") })
    }

    @Test func theOwnerHoldsTheAddressAndEveryOtherNodeRoutesIt() throws {
        let apps = try stackApps()
        let db = try #require(apps["db"]?.service?.address)
        let addresses = ["node1": "10.77.0.11", "node2": "10.77.0.12", "node3": "10.77.0.13"]
        let running = ["app": "node2", "db": "node1", "cache": "node1"]
        let on1 = RoutingMesh.desiredRules(on: "node1", running: running, applications: apps, addresses: addresses).map(\.tag)
        let on3 = RoutingMesh.desiredRules(on: "node3", running: running, applications: apps, addresses: addresses).map(\.tag)
        #expect(on1.contains(.serviceAddress(app: "db", address: db)))
        #expect(!on1.contains { $0.kind == .serviceRoute && $0.app == "db" })
        #expect(on3.contains(.serviceRoute(app: "db", address: db, via: "10.77.0.11")))
    }

    @Test func aMoveSwitchesTheAddressAndTheRoutesAndAConvergedClusterIsANoOp() throws {
        let apps = try stackApps()
        var c = Cluster(nodes: ["node1", "node2", "node3"])
        c.apps = apps.values.sorted { $0.name < $1.name }
        c.placement = ["app": "node2", "db": "node1", "cache": "node1"]
        for (name, node) in c.placement { c.run(try #require(apps[name]), on: node) }
        c.converge(routesFor: c.placement)
        #expect(try Planner.plan(desired: c.desired, observed: c.observedState).isEmpty)

        c.placement["db"] = "node3"
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        let db = try #require(apps["db"]?.service?.address)
        let routes = plan.routesPerNode
        func step(_ node: String) -> (add: [RouteTag], remove: [RouteTag]) {
            guard case .setRoutes(let a, let r) = routes.first(where: { $0.node == node })?.action else { return ([], []) }
            return (a.map(\.tag), r.map(\.tag))
        }
        #expect(step("node1").remove.contains(.serviceAddress(app: "db", address: db)))
        #expect(step("node1").add.contains(.serviceRoute(app: "db", address: db, via: "10.77.0.13")))
        #expect(step("node2").remove.contains(.serviceRoute(app: "db", address: db, via: "10.77.0.11")))
        #expect(step("node2").add.contains(.serviceRoute(app: "db", address: db, via: "10.77.0.13")))
        #expect(step("node3").add.contains(.serviceAddress(app: "db", address: db)))
        #expect(step("node3").remove.contains(.serviceRoute(app: "db", address: db, via: "10.77.0.11")))
        #expect(plan.phase(.start).map(\.node) == ["node3"], "only db starts: app keeps running, whatever db's address")
        let text = StepText.render(plan)
        #expect(text.contains("name db → 10.77.0.13"), "\(text)")
    }

    @Test func theMeshLeavesServiceAddressesAloneAndOldDNATRulesAreReplaced() throws {
        let spec = RouteSpec(tag: RouteTag(kind: .inbound, app: "web", port: 80, destination: "10.77.0.12"))
        #expect(spec.restoreLine.contains("! -d \(ServiceNetwork.range) "))
        var c = Cluster.convergedRedis()
        // The DNAT rules as an earlier release wrote them.
        let current = c.observed["node2"]?.routes ?? []
        c.observed["node2"]?.routes = current.map { rule in
            var r = rule
            r.ruleText = r.ruleText.replacingOccurrences(of: "! -d \(ServiceNetwork.range) ", with: "")
            return r
        }
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        guard case .setRoutes(let add, let remove) = plan.routesPerNode.first?.action else { Issue.record("no route step"); return }
        #expect(Set(add.map(\.tag.kind)) == [.inbound, .local])
        #expect(Set(remove.map(\.tag.kind)) == [.inbound, .local])
    }

    @Test func discoveryReadsAddressesAndRoutes() {
        let out = """
            @@flocker-discovery services
            addr 10.233.4.7
            route 10.233.9.1 10.77.0.12
            route 192.168.1.0/24 10.77.0.1
            @@flocker-discovery end
            """
        let state = DiscoveryScript.parse(out, node: "node1", address: "10.77.0.11")
        #expect(state.serviceAddresses == ["10.233.4.7"])
        #expect(state.serviceRoutes == ["10.233.9.1": "10.77.0.12"])
    }

    @Test func serviceRouteCommandsRemoveFirstAndTakeNoManifestValue() {
        let command = NodeCommands.serviceRoutes(
            add: [.serviceRoute(app: "db", address: "10.233.1.2", via: "10.77.0.13")],
            remove: [.serviceAddress(app: "db", address: "10.233.1.2")])
        #expect(Array(command.stages[0].suffix(5)) == ["del-addr", "10.233.1.2", "route", "10.233.1.2", "10.77.0.13"])
    }
}

/// UDP ports (issue 15): published, forwarded by the mesh as UDP, not held, not cloned, not linked.
@Suite("UDP ports")
struct UDPPortTests {
    @Test func composeUDPPortsDecodeInBothFormsAndPublishAsUDP() throws {
        let app = try onlyApplication(compose("image: x\nports: [\"53:53/udp\", \"53:53\", {target: 5353, published: 15353, protocol: udp}]"))
        #expect(app.ports == [
            PortMapping(internal: 53, external: 53, transport: .udp), PortMapping(internal: 53, external: 53),
            PortMapping(internal: 5353, external: 15353, transport: .udp),
        ])
        let args = NodeCommands.runArguments(app, mounts: [], envFile: nil)
        #expect(args.contains("53:53/udp") && args.contains("53:53") && args.contains("15353:5353/udp"))
        #expect(app.service?.ports == ["5353/udp"], "published under another number: on the service address too")
    }

    @Test func aUDPPortClashesOnlyWithUDP() {
        let errors = decodeErrors(app: "services:\n  a: {image: x, ports: [\"53:53/udp\"]}\n  b: {image: x, ports: [\"53:53/udp\"]}\n")
        #expect(errors.map(\.message).contains { $0.hasPrefix("external port 53/udp is already published by application \"a\"") })
        _ = try? decodeValid(app: "services:\n  a: {image: x, ports: [\"53:53/udp\"]}\n  b: {image: x, ports: [\"53:53\"]}\n")
    }

    @Test func theMeshForwardsUDPAsUDPAndItsCommentSaysSo() {
        let app = Application(name: "dns", image: "x", ports: [PortMapping(internal: 53, external: 53, transport: .udp)])
        let specs = RoutingMesh.desiredRules(on: "node1", running: ["dns": "node2"], applications: ["dns": app],
                                             addresses: ["node1": "10.77.0.11", "node2": "10.77.0.12"])
        let dnat = specs.first { $0.tag.kind == .inbound }
        #expect(dnat?.restoreLine.contains("-p udp -m udp --dport 53 ") == true)
        #expect(dnat?.tag.comment == "flocker-deploy:dnat:dns:53/udp:10.77.0.12")
        #expect(RouteTag(comment: "flocker-deploy:dnat:dns:53/udp:10.77.0.12") == dnat?.tag)
        #expect(RouteTag(comment: "flocker-deploy:dnat:dns:53:10.77.0.12")?.transport == .tcp)
        #expect(StepText.routeSummary(add: specs, remove: []) == "forward 53/udp → 10.77.0.12 (dns)")
    }

    @Test func udpPortsAreNeitherHeldNorWaitedFor() throws {
        var c = Cluster()
        let app = Application(name: "dns", image: "busybox:latest", ports: [PortMapping(internal: 53, external: 53, transport: .udp)],
                              volumes: [VolumeSpec(name: "data", mountpoint: "/data")])
        c.apps = [app]
        c.placement = ["dns": "node1"]
        c.run(app, on: "node1")
        c.dataset(app, on: "node1", snapshots: ["flocker-00000001"])
        c.converge(routesFor: c.placement)
        c.placement = ["dns": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.hold).isEmpty, "a hold drops TCP SYNs: nothing to hold for UDP")
        #expect(app.configHash != Application(name: "dns", image: "busybox:latest", ports: [PortMapping(internal: 53, external: 53)],
                                              volumes: [VolumeSpec(name: "data", mountpoint: "/data")]).configHash)
    }
}
