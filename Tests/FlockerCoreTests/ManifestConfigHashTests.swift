import Foundation
import Testing

@testable import FlockerCore

/// `Application.configHash` as the manifest layer produces it: stable for equal configurations, different for
/// each field that needs a new container, blind to environment order and to quotas.
@Suite("Manifest: configuration hash")
struct ManifestConfigHashTests {
    static let base = """
        image: redis:7
        ports: [{internal: 6379, external: 6379}, {internal: 16379, external: 16379}]
        volumes: [{name: data, mountpoint: /data, maximum_size: 1G}]
        links: [{local_port: 80, remote_port: 6379, alias: self}]
        environment: {A: "1", B: "2"}
        mem_limit: 512M
        cpu_shares: 512
        restart_policy: {name: on-failure, maximum_retry_count: 3}
        command: [redis-server, --appendonly, "yes"]
        """

    static func hash(_ settings: String, name: String = "web") throws -> String {
        try onlyApplication(v1(settings, name: name)).configHash
    }

    @Test("Stable: the same configuration hashes alike, run after run, and written differently")
    func stable() throws {
        let a = try Self.hash(Self.base)
        #expect(a == (try Self.hash(Self.base)))
        #expect(a.count == 32)
        let flow = try Self.hash(
            Self.base.replacingOccurrences(
                of: "command: [redis-server, --appendonly, \"yes\"]", with: "command: redis-server --appendonly 'yes'"))
        #expect(flow == a)
    }

    @Test("Environment order does not matter")
    func environmentOrder() throws {
        let reordered = Self.base.replacingOccurrences(of: "{A: \"1\", B: \"2\"}", with: "{B: \"2\", A: \"1\"}")
        #expect(try Self.hash(reordered) == (try Self.hash(Self.base)))
    }

    @Test("maximum_size does not matter (a quota changes without a restart)")
    func quota() throws {
        let bigger = Self.base.replacingOccurrences(of: "maximum_size: 1G", with: "maximum_size: 20G")
        let none = Self.base.replacingOccurrences(of: ", maximum_size: 1G", with: "")
        #expect(try Self.hash(bigger) == (try Self.hash(Self.base)))
        #expect(try Self.hash(none) == (try Self.hash(Self.base)))
    }

    @Test(
        "Each field that needs a new container changes the hash",
        arguments: [
            ("image: redis:7", "image: redis:7.2"),
            ("internal: 6379, external: 6379", "internal: 6380, external: 6379"),
            ("internal: 16379, external: 16379", "internal: 16379, external: 16380"),
            ("name: data, mountpoint: /data", "name: data2, mountpoint: /data"),
            ("name: data, mountpoint: /data", "name: data, mountpoint: /var/data"),
            ("local_port: 80, remote_port: 6379, alias: self", "local_port: 81, remote_port: 6379, alias: self"),
            ("local_port: 80, remote_port: 6379, alias: self", "local_port: 80, remote_port: 6379, alias: me"),
            ("{A: \"1\", B: \"2\"}", "{A: \"1\", B: \"3\"}"),
            ("{A: \"1\", B: \"2\"}", "{A: \"1\", C: \"2\"}"),
            ("{A: \"1\", B: \"2\"}", "{A: \"1\"}"),
            ("mem_limit: 512M", "mem_limit: 1G"),
            ("cpu_shares: 512", "cpu_shares: 1024"),
            ("maximum_retry_count: 3", "maximum_retry_count: 4"),
            ("{name: on-failure, maximum_retry_count: 3}", "{name: always}"),
            ("command: [redis-server, --appendonly, \"yes\"]", "command: [redis-server, --appendonly, \"no\"]"),
            ("command: [redis-server, --appendonly, \"yes\"]", "command: [\"redis-server --appendonly\", \"yes\"]"),
            ("command: [redis-server, --appendonly, \"yes\"]", ""),
            ("mem_limit: 512M", ""),
            ("cpu_shares: 512", ""),
        ])
    func differs(_ from: String, _ to: String) throws {
        let changed = Self.base.replacingOccurrences(of: from, with: to)
        #expect(changed != Self.base)
        #expect(try Self.hash(changed) != (try Self.hash(Self.base)))
    }

    @Test("The name is part of it; so is the link added by a Compose link when the target's ports change")
    func nameAndComposeLink() throws {
        #expect(try Self.hash(Self.base, name: "other") != (try Self.hash(Self.base)))
        func webHash(_ targetPorts: String) throws -> String {
            let m = try decodeValid(
                app: "services:\n  web: {image: x, links: [db]}\n  db: {image: y, ports: [\(targetPorts)]}\n")
            return m.applications[0].configHash
        }
        #expect(try webHash("\"5432:5432\"") != (try webHash("\"15432:5432\"")))
    }
}
