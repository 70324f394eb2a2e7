import Foundation
import Testing

@testable import FlockerCore

/// What `validate` prints, rendered in FlockerCore.
@Suite("Manifest: validate summary")
struct ManifestSummaryTests {
    static let app = """
        version: 1
        applications:
          db:
            image: postgres:16
            ports: [{internal: 5432, external: 5432}]
            volumes:
              - {name: data, mountpoint: /var/lib/postgresql/data, maximum_size: 2.5G}
              - {name: wal, mountpoint: /wal}
            environment: {POSTGRES_PASSWORD: "s3cret $(x)", A: "1"}
            mem_limit: 1G
            cpu_shares: 512
            restart_policy: {name: on-failure, maximum_retry_count: 1}
            command: [postgres, -c, "max_connections=200 x"]
          web:
            image: busybox:latest
            links: [{local_port: 5432, remote_port: 5432, alias: db}]
          old:
            image: redis:7
            restart_policy: {name: always}
        """
    static let deployment = "version: 1\nnodes:\n  node1: [db, web]\n  node2: []\n"

    static func summary(showValues: Bool = false) throws -> ManifestSummary {
        ManifestSummary(try decodeValid(app: app, deployment: deployment), showValues: showValues)
    }

    @Test("Text: format, each application, each node, then the ok line; environment names only")
    func text() throws {
        let expected = """
            application file: app.yml (Flocker v1)
            deployment file:  dep.yml

            application db
              image:        postgres:16
              node:         node1
              ports:        5432 -> 5432
              volumes:      data at /var/lib/postgresql/data, quota 2.5 GiB
                            wal at /wal, no quota
              environment:  A, POSTGRES_PASSWORD (values hidden; --show-values)
              memory limit: 1 GiB
              cpu shares:   512
              restart:      on failure, at most 1 retry
              command:      postgres -c "max_connections=200 x"

            application web
              image:   busybox:latest
              node:    node1
              links:   db: local port 5432 -> external port 5432
              restart: never

            application old
              image:   redis:7
              node:    not placed: will be stopped if running; volumes kept
              restart: always

            nodes
              node1: db, web
              node2: nothing (anything flocker-deploy runs there is stopped)

            ok: 3 applications on 2 nodes

            """
        let text = try Self.summary().text()
        #expect(text == expected)
        #expect(!text.contains("s3cret"))
    }

    @Test("Text with --show-values prints values, quoted")
    func showValues() throws {
        let text = try Self.summary(showValues: true).text()
        #expect(text.contains("  environment:  A=\"1\"\n                POSTGRES_PASSWORD=\"s3cret $(x)\"\n"))
    }

    @Test("JSON: one object with stable keys; environment names only unless asked")
    func json() throws {
        let text = try Self.summary().json()
        #expect(!text.contains("s3cret"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == true)
        #expect(object["format"] as? String == "Flocker v1")
        #expect((object["hash"] as? String)?.count == 64)
        let apps = try #require(object["applications"] as? [[String: Any]])
        #expect(apps.map { $0["name"] as? String } == ["db", "web", "old"])
        #expect(apps[0]["node"] as? String == "node1")
        #expect(apps[2]["node"] is NSNull)
        #expect(apps[0]["memory_limit"] as? Int == 1 << 30)
        #expect(apps[0]["restart"] as? String == "on-failure:1")
        #expect(apps[0]["command"] as? [String] == ["postgres", "-c", "max_connections=200 x"])
        #expect(apps[1]["command"] is NSNull)
        let volumes = try #require(apps[0]["volumes"] as? [[String: Any]])
        #expect(volumes[0]["maximum_size"] as? Int == 2_684_354_560)
        #expect(volumes[1]["maximum_size"] is NSNull)
        let env = try #require(apps[0]["environment"] as? [[String: Any]])
        #expect(env.map { $0["name"] as? String } == ["A", "POSTGRES_PASSWORD"])
        #expect(env.allSatisfy { $0["value"] == nil })
        let links = try #require(apps[1]["links"] as? [[String: Any]])
        #expect(links.first?["alias"] as? String == "db" && links.first?["remote_port"] as? Int == 5432)
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["name"] as? String } == ["node1", "node2"])
        #expect(nodes[1]["applications"] as? [String] == [])
        // Stable key order, byte for byte: the first lines never change.
        #expect(
            text.hasPrefix("{\n  \"schema\": 1,\n  \"ok\": true,\n  \"format\": \"Flocker v1\",\n  \"deployment_file\": \"dep.yml\",\n"))
        // One naming convention for every key of every --json output: snake_case (issue 16).
        #expect(Self.keys(object).allSatisfy { $0 == $0.lowercased() }, "camelCase keys: \(Self.keys(object).filter { $0 != $0.lowercased() })")
    }

    /// Every key of a JSON value, at any depth.
    static func keys(_ value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return Set(object.keys).union(object.values.flatMap { keys($0) })
        }
        if let array = value as? [Any] { return Set(array.flatMap { keys($0) }) }
        return []
    }

    @Test("JSON with --show-values carries the values, escaped")
    func jsonValues() throws {
        let text = try Self.summary(showValues: true).json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let apps = try #require(object["applications"] as? [[String: Any]])
        let env = try #require(apps[0]["environment"] as? [[String: Any]])
        #expect(env.map { $0["value"] as? String } == ["1", "s3cret $(x)"])
    }

    @Test("JSON errors: ok false and each error's fields")
    func jsonErrors() throws {
        let errors = ManifestErrors(errors: [
            ManifestError(file: "a.yml", line: 2, column: 3, path: "x.y", message: "bad \"thing\"\n")
        ])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(ManifestSummary.json(errors).utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        #expect(object["schema"] as? Int == 1)
        let list = try #require(object["errors"] as? [[String: Any]])
        #expect(list.first?["line"] as? Int == 2 && list.first?["column"] as? Int == 3)
        #expect(list.first?["message"] as? String == "bad \"thing\"\n")
        #expect(list.first?["path"] as? String == "x.y")
    }

    @Test("Singular and empty: 1 application on 1 node; no nodes")
    func counts() throws {
        let one = try decodeValid(app: v1("image: x"), deployment: "version: 1\nnodes: {node1: [web]}\n")
        #expect(ManifestSummary(one).okLine == "ok: 1 application on 1 node")
        let none = try decodeValid(app: "version: 1\napplications: {}\n", deployment: "version: 1\nnodes: {}\n")
        #expect(ManifestSummary(none).okLine == "ok: 0 applications on 0 nodes")
        #expect(ManifestSummary(none).text().contains("nodes\n  (none)\n"))
    }

    @Test("Replicas and zones: a replicas line for each application that has an entry; zones next to the nodes")
    func replicasAndZones() throws {
        let app = """
            version: 1
            applications:
              redis: {image: redis:7, volume: {mountpoint: /data}}
              db: {image: postgres:16, volume: {mountpoint: /var/lib/postgresql/data}}
              web: {image: busybox:latest}
              old: {image: redis:7, volume: {mountpoint: /data}}
            """
        let deployment = """
            version: 1
            nodes:
              node1: [redis, web]
              node2: [db]
              node3: []
            replicas:
              redis: 1
              db: [node3, node1]
              old: 0
            zones:
              node1: a
              node3: b
            """
        let summary = ManifestSummary(try decodeValid(app: app, deployment: deployment))
        let text = summary.text()
        #expect(
            text.contains(
                "application redis\n  image:    redis:7\n  node:     node1\n  replicas: 1 (flocker-deploy picks the nodes)\n"
            ))
        #expect(text.contains("application db\n  image:    postgres:16\n  node:     node2\n  replicas: node3, node1\n"))
        #expect(text.contains("application web\n  image:   busybox:latest\n  node:    node1\n  restart: never\n"))
        #expect(text.contains("  replicas: none\n"))
        #expect(text.contains("nodes\n  node1 (zone a): redis, web\n  node2: db\n  node3 (zone b): nothing"))

        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        let apps = try #require(object["applications"] as? [[String: Any]])
        #expect((apps[0]["replicas"] as? [String: Any])?["count"] as? Int == 1)
        #expect((apps[1]["replicas"] as? [String: Any])?["nodes"] as? [String] == ["node3", "node1"])
        #expect(apps[2]["replicas"] is NSNull)
        #expect((apps[3]["replicas"] as? [String: Any])?["count"] as? Int == 0)
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes[0]["zone"] as? String == "a")
        #expect(nodes[1]["zone"] is NSNull)
        #expect(nodes[2]["zone"] as? String == "b")
        // Key order: replicas right after node; zone between name and applications.
        #expect(
            summary.json().contains("\"node\": \"node1\",\n      \"replicas\": {\n        \"count\": 1\n      },\n"))
        #expect(summary.json().contains("\"name\": \"node2\",\n      \"zone\": null,\n      \"applications\""))
    }
}
