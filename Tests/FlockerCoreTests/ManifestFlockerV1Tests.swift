import Testing

@testable import FlockerCore

private let maximumSizes: [(String, UInt64)] = [
    ("1073741824", 1_073_741_824), ("\"1073741824\"", 1_073_741_824), ("500M", 524_288_000),
    ("2.5G", 2_684_354_560), ("1K", 1024), ("1T", 1_099_511_627_776), ("1", 1), ("0.5K", 512), ("1.0001K", 1025),
    ("3.3333333M", 3_495_254), ("64k", 65536), ("1gb", 1_073_741_824),
]

/// Every key of the Flocker v1 application format, one test per key family.
@Suite("Manifest: Flocker v1 keys")
struct ManifestFlockerV1Tests {
    @Test("image is required and kept as written; the minimal application has Docker's defaults")
    func image() throws {
        let app = try onlyApplication(v1("image: registry.example.com:5000/team/app:1.2"))
        #expect(app == Application(name: "web", image: "registry.example.com:5000/team/app:1.2"))
        #expect(app.restartPolicy == .never && app.command == nil && app.memoryLimit == nil && app.cpuShares == nil)
    }

    @Test("ports: a list of {internal, external}, in order")
    func ports() throws {
        let app = try onlyApplication(
            v1("image: nginx\nports:\n  - internal: 80\n    external: 8080\n  - {internal: 443, external: 8443}"))
        #expect(app.ports == [PortMapping(internal: 80, external: 8080), PortMapping(internal: 443, external: 8443)])
    }

    @Test("volume: one volume named default, with an optional maximum_size")
    func volume() throws {
        let app = try onlyApplication(v1("image: redis\nvolume:\n  mountpoint: /data\n  maximum_size: \"500M\""))
        #expect(app.volumes == [VolumeSpec(name: "default", mountpoint: "/data", maximumSize: 500 << 20)])
        let noQuota = try onlyApplication(v1("image: redis\nvolume: {mountpoint: /data}"))
        #expect(noQuota.volumes == [VolumeSpec(name: "default", mountpoint: "/data")])
    }

    @Test(
        "maximum_size: bytes, or K/M/G/T (powers of 1024), decimals rounded up",
        arguments: maximumSizes)
    func maximumSize(_ written: String, _ bytes: UInt64) throws {
        let app = try onlyApplication(v1("image: redis\nvolume: {mountpoint: /data, maximum_size: \(written)}"))
        #expect(app.volumes.first?.maximumSize == bytes)
    }

    @Test("volumes: several named volumes, each with its own quota")
    func volumes() throws {
        let app = try onlyApplication(
            v1(
                "image: postgres\nvolumes:\n  - {name: data, mountpoint: /var/lib/postgresql/data, maximum_size: 10G}\n  - name: wal\n    mountpoint: /wal"
            ))
        #expect(
            app.volumes == [
                VolumeSpec(name: "data", mountpoint: "/var/lib/postgresql/data", maximumSize: 10 << 30),
                VolumeSpec(name: "wal", mountpoint: "/wal"),
            ])
    }

    @Test("links: {local_port, remote_port, alias} to another application's external port")
    func links() throws {
        let m = try decodeValid(
            app: """
                version: 1
                applications:
                  es:
                    image: elasticsearch
                    ports: [{internal: 9200, external: 9201}]
                  kibana:
                    image: kibana
                    links:
                      - {local_port: 9200, remote_port: 9201, alias: es}
                      - {local_port: 9300, remote_port: 9201, alias: es_admin-2}
                """)
        #expect(
            m.applications[1].links == [
                Link(localPort: 9200, remotePort: 9201, alias: "es"),
                Link(localPort: 9300, remotePort: 9201, alias: "es_admin-2"),
            ])
    }

    @Test(
        "environment: NAME → string; plain scalars like 123, yes, 1.5, quoted ~ and |- blocks stay text; empty allowed")
    func environment() throws {
        let app = try onlyApplication(
            v1(
                "image: x\nenvironment:\n  A: 123\n  B: yes\n  C: 1.5\n  D: \"\"\n  E: '~'\n  _F9: off\n  G: |-\n    one line"
            ))
        #expect(
            app.environment == ["A": "123", "B": "yes", "C": "1.5", "D": "", "E": "~", "_F9": "off", "G": "one line"])
    }

    @Test("mem_limit: bytes as an integer, or with a suffix")
    func memLimit() throws {
        #expect(try onlyApplication(v1("image: x\nmem_limit: 268435456")).memoryLimit == 268_435_456)
        #expect(try onlyApplication(v1("image: x\nmem_limit: 512M")).memoryLimit == 512 << 20)
        #expect(try onlyApplication(v1("image: x\nmem_limit: \"1.5G\"")).memoryLimit == 1_610_612_736)
    }

    @Test("cpu_shares: an integer from 2 to 262144", arguments: [2, 512, 1024, 262_144])
    func cpuShares(_ shares: Int) throws {
        #expect(try onlyApplication(v1("image: x\ncpu_shares: \(shares)")).cpuShares == shares)
    }

    @Test(
        "restart_policy: never, always, on-failure with an optional maximum_retry_count",
        arguments: [
            ("{name: never}", RestartPolicy.never), ("{name: always}", .always),
            ("{name: on-failure}", .onFailure(maximumRetryCount: nil)),
            ("{name: on-failure, maximum_retry_count: 10}", .onFailure(maximumRetryCount: 10)),
        ])
    func restartPolicy(_ written: String, _ policy: RestartPolicy) throws {
        #expect(try onlyApplication(v1("image: x\nrestart_policy: \(written)")).restartPolicy == policy)
    }

    @Test(
        "command: a list of words, or a string split like shlex (quotes respected, nothing expanded)",
        arguments: [
            ("[redis-server, --appendonly, \"yes\"]", ["redis-server", "--appendonly", "yes"]),
            ("[\"sh\", \"-c\", \"echo $HOME && ls\"]", ["sh", "-c", "echo $HOME && ls"]),
            ("\"redis-server --appendonly yes\"", ["redis-server", "--appendonly", "yes"]),
            (#"'sh -c "echo $HOME; ls ~" x'"#, ["sh", "-c", "echo $HOME; ls ~", "x"]),
            (#"'a "b \" c" d\ e ''f g'''"#, ["a", "b \" c", "d e", "f g"]),
            (#"'echo "a\$b" ''x'' *'"#, ["echo", "a\\$b", "x", "*"]),
            ("\"x '' y\"", ["x", "", "y"]),
            ("[123, yes]", ["123", "yes"]),
        ])
    func command(_ written: String, _ words: [String]) throws {
        #expect(try onlyApplication(v1("image: x\ncommand: \(written)")).command == words)
    }

    @Test("x- keys are ignored at the top level and in an application")
    func extensions() throws {
        let m = try decodeValid(
            app: "version: 1\nx-team: storage\napplications:\n  web:\n    image: x\n    x-owner: {name: me}\n")
        #expect(m.applications == [Application(name: "web", image: "x")])
    }

    @Test("applications: {} is a valid, empty application file; applications keep file order")
    func emptyAndOrder() throws {
        #expect(try decodeValid(app: "version: 1\napplications: {}\n").applications.isEmpty)
        let names = try decodeValid(
            app: "version: 1\napplications:\n  zz: {image: a}\n  aa: {image: b}\n  mm: {image: c}\n"
        )
        .applications.map(\.name)
        #expect(names == ["zz", "aa", "mm"])
    }

    @Test("Application names may use letters, digits, _, . and - up to 63 characters")
    func names() throws {
        let long = "a" + String(repeating: "b", count: 62)
        let m = try decodeValid(
            app: "version: 1\napplications:\n  Web_1.v2-x: {image: a}\n  \(long): {image: b}\n  9lives: {image: c}\n")
        #expect(m.applications.map(\.name) == ["Web_1.v2-x", long, "9lives"])
    }
}
