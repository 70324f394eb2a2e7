import Foundation
import Testing

@testable import FlockerCore

/// The deployment file's `replicas:` and `zones:`: what decodes, and every error with its exact position and text.
@Suite("Manifest: replicas and zones")
struct ManifestReplicasTests {
    /// redis and db have volumes, web has none, spare is placed on no node.
    static let apps = """
        version: 1
        applications:
          redis: {image: redis, volume: {mountpoint: /data}}
          db: {image: postgres, volumes: [{name: data, mountpoint: /var/lib/postgresql/data}]}
          web: {image: nginx}
          spare: {image: redis, volume: {mountpoint: /data}}
        """

    /// Three nodes (lines 3–5), then `extra` from line 6 on.
    static func deployment(_ extra: String) -> String {
        "version: 1\nnodes:\n  node1: [redis, web]\n  node2: [db]\n  node3: []\n" + extra
    }

    static func errors(_ extra: String, app: String = apps, sourceLocation: SourceLocation = #_sourceLocation)
        -> [String]
    {
        decodeErrors(app: app, deployment: deployment(extra), sourceLocation: sourceLocation).map(\.description)
    }

    // MARK: valid files

    @Test("A count: redis keeps 1 replica, on a node flocker-deploy picks")
    func count() throws {
        let m = try decodeValid(app: Self.apps, deployment: Self.deployment("replicas:\n  redis: 1\n  db: 2\n"))
        #expect(m.deployment.replicas == ["redis": .count(1), "db": .count(2)])
        #expect(m.desired.replicas == ["redis": .count(1), "db": .count(2)])
        #expect(m.deployment.zones.isEmpty && m.desired.zones.isEmpty)
        #expect(m.desired.replicaNodes(of: "redis", existing: [], load: [:]) == ["node2"])
        #expect(m.desired.replicaNodes(of: "db", existing: [], load: [:]) == ["node1", "node3"])
    }

    @Test("A list: the nodes as written, in that order; block and flow style alike")
    func list() throws {
        let m = try decodeValid(
            app: Self.apps, deployment: Self.deployment("replicas:\n  redis: [node3, node2]\n  db:\n    - node1\n"))
        #expect(m.deployment.replicas == ["redis": .nodes(["node3", "node2"]), "db": .nodes(["node1"])])
        #expect(m.desired.replicaNodes(of: "redis", existing: ["node2"], load: [:]) == ["node3", "node2"])
    }

    @Test("zones: node → zone name; a count is spread over zones")
    func zones() throws {
        let m = try decodeValid(
            app: Self.apps,
            deployment: Self.deployment("replicas:\n  redis: 1\nzones:\n  node1: a\n  node2: a\n  node3: b\n"))
        #expect(m.deployment.zones == ["node1": "a", "node2": "a", "node3": "b"])
        #expect(m.desired.zones == m.deployment.zones)
        #expect(m.desired.replicaNodes(of: "redis", existing: [], load: [:]) == ["node3"])
        // Zone names are plain words; numbers and quoted words are words too; not every node needs a zone.
        let n = try decodeValid(
            app: Self.apps, deployment: Self.deployment("zones:\n  node1: eu-west-1\n  node2: 2\n  node3: \"rack.7\"\n")
        )
        #expect(n.deployment.zones == ["node1": "eu-west-1", "node2": "2", "node3": "rack.7"])
        #expect(
            try decodeValid(app: Self.apps, deployment: Self.deployment("zones: {node2: a}\n")).desired.zones == [
                "node2": "a"
            ])
    }

    @Test("replicas: {} and zones: {} are the same as leaving them out")
    func empty() throws {
        let absent = try decodeValid(app: Self.apps, deployment: Self.deployment(""))
        let empty = try decodeValid(app: Self.apps, deployment: Self.deployment("replicas: {}\nzones: {}\n"))
        #expect(absent.deployment == empty.deployment)
        #expect(absent.desired == empty.desired)
        #expect(empty.deployment.replicas.isEmpty && empty.deployment.zones.isEmpty)
        #expect(
            empty.deployment
                == Deployment(nodes: [
                    .init(name: "node1", applications: ["redis", "web"]), .init(name: "node2", applications: ["db"]),
                    .init(name: "node3", applications: []),
                ]))
    }

    @Test("0 and [] ask for nothing: accepted for any application, even one without volumes or not placed")
    func zero() throws {
        let m = try decodeValid(
            app: Self.apps, deployment: Self.deployment("replicas:\n  web: 0\n  spare: []\n  redis: 0\n"))
        #expect(m.deployment.replicas == ["web": .count(0), "spare": .nodes([]), "redis": .count(0)])
        #expect(m.desired.replicaNodes(of: "redis", existing: ["node2"], load: [:]).isEmpty)
    }

    @Test("A Compose application file: a service with a named volume can have replicas")
    func compose() throws {
        let app = "services:\n  redis:\n    image: redis:7\n    volumes: [\"data:/data\"]\nvolumes:\n  data:\n"
        let m = try decodeValid(
            app: app, deployment: "version: 1\nnodes:\n  node1: [redis]\n  node2: []\nreplicas: {redis: [node2]}\n")
        #expect(m.desired.replicas == ["redis": .nodes(["node2"])])
    }

    @Test("The deployment file alone (status, lock): replicas and zones decode, application names are not checked")
    func deploymentOnly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("replicas-\(getpid()).yml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(
            "version: 1\nnodes:\n  node1: [anything]\n  node2: []\nreplicas: {anything: 1}\nzones: {node2: b}\n".utf8
        )
        .write(to: URL(fileURLWithPath: path))
        let deployment = try Manifests.loadDeployment(path)
        #expect(deployment.replicas == ["anything": .count(1)])
        #expect(deployment.zones == ["node2": "b"])

        // Errors come in position order, here replicas: before nodes:.
        try Data("version: 1\nreplicas: {a: [elsewhere]}\nnodes:\n  node1: [a]\n  node2: x\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        do {
            _ = try Manifests.loadDeployment(path)
            Issue.record("expected errors")
        } catch {
            #expect(
                error.errors.map { "\($0.line):\($0.column): \($0.message)" } == [
                    "2:16: unknown node \"elsewhere\": `nodes:` lists \"node1\", \"node2\"",
                    "5:10: expected a list of application names, found \"x\": write [x], or [] for a node that runs nothing",
                ])
        }
    }

    @Test("Deployment still decodes from JSON written before replicas and zones existed")
    func codable() throws {
        let old = #"{"nodes":[{"name":"node1","applications":["redis"]}]}"#
        let decoded = try JSONDecoder().decode(Deployment.self, from: Data(old.utf8))
        #expect(decoded == Deployment(nodes: [.init(name: "node1", applications: ["redis"])]))
        let full = Deployment(
            nodes: [.init(name: "node1", applications: ["redis"])], replicas: ["redis": .nodes(["node2"])],
            zones: ["node1": "a"])
        #expect(try JSONDecoder().decode(Deployment.self, from: JSONEncoder().encode(full)) == full)
    }

    // MARK: errors

    @Test(
        "Counts: a whole number, 0 or more, unquoted",
        arguments: [
            ("-1", "found -1"),
            ("two", "found \"two\""),
            ("1.5", "found \"1.5\""),
            ("\"1\"", "found the string \"1\": write the number without quotes"),
            ("", "found nothing"),
            ("{count: 1}", "found a mapping"),
            ("99999999999999999999", "found \"99999999999999999999\""),
        ])
    func badCount(_ value: String, _ found: String) {
        let column = value.isEmpty ? 9 : 10
        #expect(
            Self.errors("replicas:\n  redis: \(value)\n") == [
                "dep.yml:7:\(column): error: replicas.redis: expected a number of replicas (a whole number, 0 or more) or a list of nodes, \(found)"
            ])
    }

    @Test("An unknown application, with did-you-mean or the list of applications")
    func unknownApplication() {
        #expect(
            Self.errors("replicas:\n  reddis: 1\n") == [
                "dep.yml:7:3: error: replicas.reddis: unknown application \"reddis\": did you mean \"redis\"?"
            ])
        #expect(
            Self.errors("replicas:\n  cache: [node2]\n") == [
                "dep.yml:7:3: error: replicas.cache: unknown application \"cache\": the application file defines \"redis\", \"db\", \"web\", \"spare\""
            ])
    }

    @Test("An application without volumes: replicas copy volumes")
    func noVolumes() {
        #expect(
            Self.errors("replicas:\n  web: 1\n") == [
                "dep.yml:7:3: error: replicas.web: application \"web\" has no volumes: a replica is a read-only copy of an application's volumes on another node; give it a volume in the application file, or remove it from `replicas:`"
            ])
        #expect(
            Self.errors("replicas:\n  web: [node2]\n").first?.hasPrefix(
                "dep.yml:7:3: error: replicas.web: application \"web\" has no volumes") == true)
        // Compose: `volumes: []` is no volume either.
        let app = "services:\n  web:\n    image: nginx\n    volumes: []\n"
        #expect(
            decodeErrors(app: app, deployment: "version: 1\nnodes: {node1: [web], node2: []}\nreplicas: {web: 1}\n")
                .map(\.description) == [
                    "dep.yml:3:12: error: replicas.web: application \"web\" has no volumes: a replica is a read-only copy of an application's volumes on another node; give it a volume in the application file, or remove it from `replicas:`"
                ])
    }

    @Test("An application placed on no node")
    func notPlaced() {
        #expect(
            Self.errors("replicas:\n  spare: 1\n") == [
                "dep.yml:7:3: error: replicas.spare: application \"spare\" is placed on no node: replicas are copies of a running application's volumes; place it under `nodes:`, or remove it from `replicas:`"
            ])
    }

    @Test("Explicit lists: unknown nodes (did-you-mean, or the list), spelling, the primary's node, repeats, types")
    func badList() {
        #expect(
            Self.errors("replicas:\n  redis: [nod3]\n") == [
                "dep.yml:7:11: error: replicas.redis[0]: unknown node \"nod3\": did you mean \"node3\"?"
            ])
        #expect(
            Self.errors("replicas:\n  redis: [node2, elsewhere]\n") == [
                "dep.yml:7:18: error: replicas.redis[1]: unknown node \"elsewhere\": `nodes:` lists \"node1\", \"node2\", \"node3\""
            ])
        #expect(
            Self.errors("replicas:\n  redis: [NODE3]\n") == [
                "dep.yml:7:11: error: replicas.redis[0]: node \"NODE3\" is written \"node3\" under `nodes:`: write it the same way"
            ])
        #expect(
            Self.errors("replicas:\n  redis: [node1]\n") == [
                "dep.yml:7:11: error: replicas.redis[0]: node \"node1\" runs \"redis\": its replicas are kept on other nodes"
            ])
        #expect(
            Self.errors("replicas:\n  redis:\n    - node2\n    - node2\n") == [
                "dep.yml:9:7: error: replicas.redis[1]: node \"node2\" is already listed (line 8): a node holds one replica of an application"
            ])
        #expect(
            Self.errors("replicas:\n  redis: [[node2], ~]\n") == [
                "dep.yml:7:11: error: replicas.redis[0]: expected a node name, found a list",
                "dep.yml:7:20: error: replicas.redis[1]: expected a node name, found null",
            ])
    }

    @Test("More replicas than other nodes: a count, or a list longer than that")
    func tooMany() {
        #expect(
            Self.errors("replicas:\n  redis: 3\n") == [
                "dep.yml:7:10: error: replicas.redis: 3 replicas asked for, but there are only 2 nodes besides \"node1\" (which runs \"redis\"): each replica needs a node of its own, other than the application's"
            ])
        #expect(
            Self.errors("replicas:\n  redis: [node2, node3, node1]\n") == [
                "dep.yml:7:10: error: replicas.redis: 3 replicas asked for, but there are only 2 nodes besides \"node1\" (which runs \"redis\"): each replica needs a node of its own, other than the application's",
                "dep.yml:7:25: error: replicas.redis[2]: node \"node1\" runs \"redis\": its replicas are kept on other nodes",
            ])
        #expect(
            decodeErrors(app: Self.apps, deployment: "version: 1\nnodes: {node1: [redis]}\nreplicas: {redis: 1}\n")
                .map(\.description) == [
                    "dep.yml:3:19: error: replicas.redis: 1 replica asked for, but there is no node besides \"node1\" (which runs \"redis\"): each replica needs a node of its own, other than the application's"
                ])
        #expect(
            decodeErrors(
                app: Self.apps, deployment: "version: 1\nnodes: {node1: [redis], node2: []}\nreplicas: {redis: 2}\n"
            ).map(\.description) == [
                "dep.yml:3:19: error: replicas.redis: 2 replicas asked for, but there is only 1 node besides \"node1\" (which runs \"redis\"): each replica needs a node of its own, other than the application's"
            ])
    }

    @Test("zones: unknown nodes, zone names that are not plain words, values that are not scalars")
    func badZones() {
        #expect(
            Self.errors("zones:\n  node4: a\n") == [
                "dep.yml:7:3: error: zones.node4: unknown node \"node4\": did you mean \"node1\"?"
            ])
        #expect(
            Self.errors("zones:\n  NODE1: a\n") == [
                "dep.yml:7:3: error: zones.NODE1: node \"NODE1\" is written \"node1\" under `nodes:`: write it the same way"
            ])
        #expect(
            Self.errors("zones:\n  node1: \"a b\"\n  node2: -a\n") == [
                "dep.yml:7:10: error: zones.node1: zone name \"a b\" is not allowed: zone names must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                "dep.yml:8:10: error: zones.node2: zone name \"-a\" is not allowed: zone names must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
            ])
        #expect(
            Self.errors("zones:\n  node1: [a]\n  node2: {name: a}\n  node3:\n") == [
                "dep.yml:7:10: error: zones.node1: expected a zone name, like a or eu-west-1, found a list",
                "dep.yml:8:10: error: zones.node2: expected a zone name, like a or eu-west-1, found a mapping",
                "dep.yml:9:9: error: zones.node3: expected a zone name, like a or eu-west-1, found nothing",
            ])
    }

    @Test("replicas: and zones: must be mappings; near misses of the keys get a suggestion")
    func badTopLevel() {
        #expect(
            Self.errors("replicas: [redis]\nzones: a\n") == [
                "dep.yml:6:11: error: replicas: expected a mapping of application → number of replicas or list of nodes, like redis: 1 (write {} for none), found a list",
                "dep.yml:7:8: error: zones: expected a mapping of node → zone name, like node1: a (write {} for none), found \"a\"",
            ])
        #expect(
            Self.errors("replica: {}\nzone: {}\n") == [
                "dep.yml:6:1: error: replica: unknown key `replica`: did you mean `replicas`?",
                "dep.yml:7:1: error: zone: unknown key `zone`: did you mean `zones`?",
            ])
    }

    @Test("Every error at once, in position order, whatever order the sections come in")
    func allAtOnce() {
        let deployment = """
            version: 1
            zones:
              node1: a
              nod2: b
            replicas:
              redis: two
              db: [node2]
              web: 1
              reddis: 1
            nodes:
              node1: [redis, web]
              node2: [db]
              node3: []
            """
        #expect(
            decodeErrors(app: Self.apps, deployment: deployment).map { "\($0.line):\($0.column) \($0.path)" } == [
                "4:3 zones.nod2", "6:10 replicas.redis", "7:8 replicas.db[0]", "8:3 replicas.web",
                "9:3 replicas.reddis",
            ])
    }

    @Test("No cascades: nodes: with errors, volumes with errors, an unreadable application file")
    func noCascade() {
        // node1's value is not a list, so redis is not placed: only that is reported.
        #expect(
            decodeErrors(
                app: Self.apps, deployment: "version: 1\nnodes:\n  node1: redis\n  node2: []\nreplicas: {redis: 1}\n"
            ).map(\.description) == [
                "dep.yml:3:10: error: nodes.node1: expected a list of application names, found \"redis\": write [redis], or [] for a node that runs nothing"
            ])
        // A volume with an error is not "no volumes".
        let app = "version: 1\napplications:\n  redis: {image: redis, volume: {mountpoint: data}}\n"
        let errors = decodeErrors(
            app: app, deployment: "version: 1\nnodes: {node1: [redis], node2: []}\nreplicas: {redis: 1}\n")
        #expect(errors.count == 1 && errors.first?.file == "app.yml")
        // The application file cannot be read: names and volumes are not checked, nodes still are.
        let broken = decodeErrors(
            app: "version: 1\napplications: [\n",
            deployment: "version: 1\nnodes: {node1: [x], node2: []}\nreplicas: {x: [node9], y: 1}\n")
        #expect(
            broken.filter { $0.file == "dep.yml" }.map(\.description) == [
                "dep.yml:3:16: error: replicas.x[0]: unknown node \"node9\": did you mean \"node1\"?",
                "dep.yml:3:24: error: replicas.y: application \"y\" is placed on no node: replicas are copies of a running application's volumes; place it under `nodes:`, or remove it from `replicas:`",
            ])
        // nodes: is not a mapping: no node is known, so none is called unknown.
        #expect(
            decodeErrors(
                app: Self.apps,
                deployment: "version: 1\nnodes: [node1]\nreplicas: {redis: [node2]}\nzones: {node2: a}\n"
            )
            .map(\.description) == [
                "dep.yml:2:8: error: nodes: expected a mapping of node → list of application names, like node1: [web], found a list"
            ])
        // Without nodes:, nodes cannot be checked: only the missing key is reported.
        #expect(
            decodeErrors(app: Self.apps, deployment: "version: 1\nreplicas: {redis: [node2]}\nzones: {node2: a}\n")
                .map(\.description) == ["dep.yml:1:1: error: missing required key `nodes`"])
    }
}
