import Testing

@testable import FlockerCore

private let memLimits: [(String, UInt64)] = [
    ("512m", 536_870_912), ("1g", 1_073_741_824), ("1G", 1_073_741_824), ("8192k", 8_388_608), ("1gb", 1_073_741_824),
    ("1GB", 1_073_741_824), ("7340032", 7_340_032), ("\"7340032\"", 7_340_032), ("7mb", 7_340_032),
    ("1.5g", 1_610_612_736),
]

/// Every key of the Compose/Fig application format, one test per key family, and format detection.
@Suite("Manifest: Compose keys and format detection")
struct ManifestComposeTests {
    @Test("Both layouts decode alike: services under `services:`, or at the top level (Fig)")
    func layouts() throws {
        let services = try decodeValid(app: "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n")
        let fig = try decodeValid(app: "web:\n  image: nginx\n  ports: [\"80:80\"]\n")
        #expect(services.format == .compose && fig.format == .compose)
        #expect(services.applications == fig.applications)
        #expect(
            fig.applications.map(\.withoutService) == [
                Application(name: "web", image: "nginx", ports: [PortMapping(internal: 80, external: 80)])
            ])
    }

    @Test(
        "Detection: applications → Flocker v1; services → Compose; a top-level mapping with image or build → Fig",
        arguments: [
            ("version: 1\napplications: {web: {image: a}}\n", ApplicationFormat.flockerV1),
            ("services: {web: {image: a}}\n", .compose),
            ("version: '3'\nservices: {web: {image: a}}\n", .compose),
            ("name: p\nversion: '2'\nweb: {image: a}\n", .compose),
            ("db: {image: a}\nweb: {image: b}\n", .compose),
        ])
    func detection(_ app: String, _ format: ApplicationFormat) throws {
        #expect(try decodeValid(app: app).format == format)
    }

    @Test(
        "Fig detection: a service with build only is still Compose (and build is refused); neither format is an error")
    func detectionErrors() {
        #expect(
            decodeErrors(app: "web:\n  build: .\n").map(\.description) == [
                "app.yml:2:3: error: web.build: `build` without `image` is not supported: nodes do not build images; build the image, push it to a registry the nodes can pull from and name it under `image`"
            ])
        #expect(
            decodeErrors(app: "web:\n  ports: [\"80:80\"]\n").map(\.description) == [
                "app.yml:1:1: error: not a Flocker v1 or Compose application file: Flocker v1 needs `version: 1` and `applications:`, Compose needs `services:` (or services with an `image` at the top level)"
            ])
        // In Fig layout, once one service has an image, the others must too.
        #expect(
            decodeErrors(app: "web:\n  image: a\nworker:\n  command: run\n").map(\.description) == [
                "app.yml:4:3: error: worker: missing required key `image`"
            ])
    }

    @Test(
        "ports: HOST:CONTAINER, with 0.0.0.0 or an empty IP, /tcp, equal-length ranges, and the long form",
        arguments: [
            ("[\"8080:80\"]", [(80, 8080)]),
            ("[8080:80]", [(80, 8080)]),
            ("[\"0.0.0.0:8080:80\"]", [(80, 8080)]),
            ("[\":8080:80\"]", [(80, 8080)]),
            ("[\"8080:80/tcp\"]", [(80, 8080)]),
            ("[\"8080:80/TCP\"]", [(80, 8080)]),
            ("[\"9000-9002:7000-7002\"]", [(7000, 9000), (7001, 9001), (7002, 9002)]),
            ("[{target: 80, published: 8080}]", [(80, 8080)]),
            ("[{target: 80, published: \"8080\", host_ip: 0.0.0.0, protocol: tcp, mode: ingress}]", [(80, 8080)]),
        ])
    func ports(_ written: String, _ expected: [(Int, Int)]) throws {
        let app = try onlyApplication(compose("image: x\nports: \(written)"))
        #expect(app.ports == expected.map { PortMapping(internal: $0.0, external: $0.1) })
    }

    @Test("environment: a mapping, or a list of KEY=VALUE split at the first =")
    func environment() throws {
        let map = try onlyApplication(compose("image: x\nenvironment:\n  A: 1\n  B: 'x=y'\n  C: \"\""))
        #expect(map.environment == ["A": "1", "B": "x=y", "C": ""])
        let list = try onlyApplication(
            compose("image: x\nenvironment:\n  - A=1\n  - B=x=y==\n  - C=\n  - \"D= spaced \""))
        #expect(list.environment == ["A": "1", "B": "x=y==", "C": "", "D": " spaced "])
    }

    @Test("links: one Flocker link per port of the target; alias = the given alias or the service name")
    func links() throws {
        let m = try decodeValid(
            app: """
                services:
                  web:
                    image: web
                    links: [db, "db:database", cache]
                  db:
                    image: postgres
                    ports: ["15432:5432", "15433:5433"]
                  cache:
                    image: redis
                    ports: ["6379:6379"]
                """)
        #expect(
            m.applications[0].links == [
                Link(localPort: 5432, remotePort: 15432, alias: "db"),
                Link(localPort: 5433, remotePort: 15433, alias: "db"),
                Link(localPort: 5432, remotePort: 15432, alias: "database"),
                Link(localPort: 5433, remotePort: 15433, alias: "database"),
                Link(localPort: 6379, remotePort: 6379, alias: "cache"),
            ])
    }

    @Test(
        "volumes: a container path names the volume after it; NAME:/path uses a declared volume; :rw and long form",
        arguments: [
            ("[/data]", "", [("data", "/data")]),
            ("[/var/lib/mysql]", "", [("var-lib-mysql", "/var/lib/mysql")]),
            ("[\"db:/var/lib/mysql\"]", "volumes:\n  db:\n", [("db", "/var/lib/mysql")]),
            ("[\"db:/var/lib/mysql:rw\"]", "volumes:\n  db: {}\n", [("db", "/var/lib/mysql")]),
            ("[{type: volume, source: db, target: /srv}]", "volumes: {db: }\n", [("db", "/srv")]),
            ("[{type: volume, target: /srv/files}]", "", [("srv-files", "/srv/files")]),
            (
                "[{type: volume, source: db, target: /srv, read_only: false}]", "volumes: {db: {x-note: 1}}\n",
                [("db", "/srv")]
            ),
            ("[/a, \"b:/b\"]", "volumes:\n  b:\n", [("a", "/a"), ("b", "/b")]),
        ])
    func volumes(_ written: String, _ topLevel: String, _ expected: [(String, String)]) throws {
        let app = try onlyApplication(compose("image: x\nvolumes: \(written)", extra: topLevel))
        #expect(app.volumes == expected.map { VolumeSpec(name: $0.0, mountpoint: $0.1) })
    }

    @Test(
        "restart: no, always, on-failure, on-failure:N, unless-stopped",
        arguments: [
            ("no", RestartPolicy.never), ("\"no\"", .never), ("always", .always),
            ("on-failure", .onFailure(maximumRetryCount: nil)), ("on-failure:3", .onFailure(maximumRetryCount: 3)),
            ("unless-stopped", .unlessStopped),
        ])
    func restart(_ written: String, _ policy: RestartPolicy) throws {
        #expect(try onlyApplication(compose("image: x\nrestart: \(written)")).restartPolicy == policy)
    }

    @Test(
        "mem_limit: bytes, or k/m/g/t in any case with an optional b, powers of 1024",
        arguments: memLimits)
    func memLimit(_ written: String, _ bytes: UInt64) throws {
        #expect(try onlyApplication(compose("image: x\nmem_limit: \(written)")).memoryLimit == bytes)
    }

    @Test("cpu_shares and command")
    func cpuSharesAndCommand() throws {
        let app = try onlyApplication(compose("image: busybox\ncpu_shares: 256\ncommand: httpd -f -p 8080"))
        #expect(app.cpuShares == 256)
        #expect(app.command == ["httpd", "-f", "-p", "8080"])
        let list = try onlyApplication(compose("image: busybox\ncommand: [\"sh\", \"-c\", \"exec httpd -f\"]"))
        #expect(list.command == ["sh", "-c", "exec httpd -f"])
    }

    @Test("version, name and x- keys are accepted and ignored, at the top level and in a service")
    func ignored() throws {
        let m = try decodeValid(
            app: "version: \"3.9\"\nname: demo\nx-anchors: {a: 1}\nservices:\n  web:\n    image: x\n    x-meta: [1]\n")
        #expect(m.applications.map(\.withoutService) == [Application(name: "web", image: "x")])
    }
}
