import Testing
@testable import FlockerCore

/// `evacuate`: where each application of a shed node goes, and the deployment file written for it.
@Suite("Evacuation")
struct EvacuationTests {
    static func app(_ name: String, port: Int, volume: Bool = false) -> Application {
        Application(name: name, image: "redis:7", ports: [PortMapping(internal: 6379, external: port)],
                    volumes: volume ? [VolumeSpec(name: "default", mountpoint: "/data")] : [])
    }
    let apps: [String: Application] = [
        "redis": app("redis", port: 6379, volume: true), "pg": app("pg", port: 5432, volume: true),
        "web": app("web", port: 8080), "api": app("api", port: 8081), "cache": app("cache", port: 11211),
    ]

    /// node1 runs everything; node3 holds a replica of redis; node2 runs nothing; node4 has no ZFS pool.
    func cluster() -> (Deployment, ObservedState) {
        let deployment = Deployment(nodes: [
            .init(name: "node1", applications: ["api", "cache", "pg", "redis", "web"]),
            .init(name: "node2", applications: []), .init(name: "node3", applications: []), .init(name: "node4", applications: []),
        ], replicas: ["redis": .count(1)])
        var c = Cluster(nodes: ["node1", "node2", "node3", "node4"])
        c.dataset(apps["redis"]!, on: "node1", snapshots: ["flocker-00000001", "flocker-00000002"])
        c.dataset(apps["redis"]!, on: "node3", role: .copy, snapshots: ["flocker-00000001", "flocker-00000002"])
        c.observed["node4"]?.facts.poolVersion = nil
        return (deployment, c.observedState)
    }

    @Test func aReplicasNodeFirstThenTheLeastLoadedAndVolumesNeedAPool() throws {
        let (deployment, observed) = cluster()
        let r = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: observed)
        let placed = Dictionary(uniqueKeysWithValues: r.moves.map { ($0.app, $0.to) })
        #expect(placed["redis"] == "node3", "\(r.moves)")
        #expect(r.moves.first { $0.app == "redis" }?.why.contains("holds its replica (flocker-00000002)") == true)
        #expect(placed["pg"] == "node2", "the least loaded node with a pool: \(r.moves)")
        #expect(r.moves.prefix(2).map(\.app) == ["pg", "redis"], "applications with volumes are placed first")
        #expect(Set(["api", "cache", "web"].compactMap { placed[$0] }) == ["node2", "node3", "node4"],
                "stateless ones spread over the rest, node4 included: \(r.moves)")
        #expect(r.deployment.nodes.first { $0.name == "node1" }?.applications == [])
        #expect(r.deployment.nodes.map(\.name) == ["node1", "node2", "node3", "node4"], "every node is kept, in order")
    }

    @Test func noNodeForAnApplicationIsRefusedWithEachReason() {
        let (deployment, observed) = cluster()
        var o = observed
        for n in ["node2", "node3"] { o.nodes[n]?.facts.poolVersion = nil }
        #expect(throws: Evacuation.Refusal.self) {
            try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: o)
        }
        do {
            _ = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: o)
        } catch {
            #expect(error.message.hasPrefix("no node can take pg: node2 has no ZFS pool"), "\(error.message)")
        }
        var unreachable = observed
        unreachable.nodes = unreachable.nodes.filter { $0.key == "node1" }
        unreachable.unreachable = ["node2": "connection refused", "node3": "timed out", "node4": "timed out"]
        do {
            _ = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: unreachable)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.message.contains("node2 cannot be reached (connection refused)"), "\(error.message)")
        }
        #expect(throws: Evacuation.Refusal.self) {
            try Evacuation.plan(node: "node9", deployment: deployment, applications: apps, observed: observed)
        }
    }

    @Test func aPortPublishedOnACandidateByAnotherApplicationRulesItOut() throws {
        var (deployment, observed) = cluster()
        var apps = self.apps
        apps["other"] = Self.app("other", port: 8080)   // the same external port as web
        deployment.nodes[1].applications = ["other"]
        deployment.nodes[2].applications = []
        let r = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: observed)
        #expect(r.moves.first { $0.app == "web" }?.to != "node2", "\(r.moves)")
    }

    @Test func anExplicitReplicaListNamingTheNewNodeTakesTheShedNodeInstead() throws {
        var (deployment, observed) = cluster()
        deployment.replicas = ["redis": .nodes(["node3"])]
        let r = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: observed)
        #expect(r.deployment.replicas["redis"] == .nodes(["node1"]), "\(r.deployment.replicas)")
        #expect(r.notes == ["replicas of redis: [node1] (node3 runs it now)"])
    }

    @Test func theWrittenFileReadsBackAsTheSameDeployment() throws {
        let (deployment, observed) = cluster()
        var r = try Evacuation.plan(node: "node1", deployment: deployment, applications: apps, observed: observed)
        r.deployment.zones = ["node2": "a", "node3": "yes"]
        let text = DeploymentWriter.yaml(r.deployment, header: ["written by a test"])
        #expect(text.contains("  node3: \"yes\"\n"), "a word YAML reads as a boolean is quoted: \(text)")
        let application = """
            version: 1
            applications:
            """ + "\n" + apps.keys.sorted().map { name in
                let a = apps[name]!
                return "  \(name):\n    image: redis:7\n    ports:\n      - internal: 6379\n        external: \(a.ports[0].externalPort)\n"
                    + (a.volumes.isEmpty ? "" : "    volume:\n      mountpoint: /data\n")
            }.joined()
        let m = try Manifests.decode(deploymentBytes: Array(text.utf8), deploymentFile: "written.yml",
                                     applicationBytes: Array(application.utf8), applicationFile: "application.yml")
        #expect(m.deployment == r.deployment, "\(text)")
    }
}
