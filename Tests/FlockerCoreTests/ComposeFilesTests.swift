import Foundation
import Testing

@testable import FlockerCore

/// A Compose project in a temporary folder: the Compose file, its deployment file and the files beside it.
final class ComposeProject {
    let root: URL
    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("project"), withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    var folder: String { root.appendingPathComponent("project").path }

    func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        chmod(url.path, mode_t(mode))
    }

    func load(_ compose: String, environment: [String: String] = [:]) -> Result<Manifests, ManifestErrors> {
        do {
            try write("docker-compose.yml", compose)
            try write("deployment.yml", "version: 1\nnodes:\n  node1: [web]\n  node2: []\n")
            return .success(try Manifests.load(
                deployment: folder + "/deployment.yml", application: folder + "/docker-compose.yml", environment: environment))
        } catch let errors as ManifestErrors {
            return .failure(errors)
        } catch {
            Issue.record("\(error)")
            return .failure(ManifestErrors(errors: []))
        }
    }

    func web(_ compose: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws -> Application {
        switch load(compose, environment: environment) {
        case .success(let m):
            guard let app = m.applications.first(where: { $0.name == "web" }) else { throw CancellationError() }
            return app
        case .failure(let errors):
            Issue.record("expected valid manifests, got:\n\(errors)", sourceLocation: sourceLocation)
            throw errors
        }
    }

    /// Extracts `archive` with this machine's tar (modes and numeric owners kept) into the folder `name` of the
    /// temporary folder, and returns that folder; `mode(of:)` reads a path's permission bits there.
    func extract(_ archive: [UInt8], into name: String) throws -> URL {
        let tarFile = root.appendingPathComponent(name + ".tar")
        try Data(archive).write(to: tarFile)
        let out = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-x", "-p", "--numeric-owner", "-f", tarFile.path, "-C", out.path]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        return out
    }

    func mode(of relative: String, in folder: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(relative).path)[.posixPermissions] as? Int) ?? 0
    }

    func errors(_ compose: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
        switch load(compose) {
        case .success:
            Issue.record("expected errors", sourceLocation: sourceLocation)
            return []
        case .failure(let errors):
            return errors.errors.map(\.description)
        }
    }
}

private let site = """
    services:
      web:
        image: busybox:latest
        volumes:
          - ./httpd.conf:/etc/httpd.conf:ro
          - ./www:/www:ro
        configs:
          - banner
          - source: banner
            target: /etc/banner
            mode: 0440
            uid: "33"
        secrets:
          - api_key
          - source: api_key
            target: other_name
    configs:
      banner:
        content: "hello ${WHO:-there}"
    secrets:
      api_key:
        file: ./secrets/api_key.txt
    """

@Suite("Compose config files and secrets")
struct ComposeFilesTests {
    func project() throws -> ComposeProject {
        let p = try ComposeProject()
        try p.write("httpd.conf", "H:/www\n")
        try p.write("www/index.html", "index\n")
        try p.write("www/docs/run.sh", "#!/bin/sh\n", mode: 0o755)
        try p.write("secrets/api_key.txt", "TOP-SECRET-VALUE")
        return p
    }

    @Test("Bind files and read-only folders, configs and secrets in short and long syntax, with Compose's targets and modes")
    func decoding() throws {
        let p = try project()
        let web = try p.web(site)
        #expect(web.files.map(\.kind) == [.bind, .bind, .config, .config, .secret, .secret])
        #expect(web.files.map(\.target) == ["/etc/httpd.conf", "/www", "/banner", "/etc/banner", "/run/secrets/api_key", "/run/secrets/other_name"])
        #expect(web.files[0].entries.map(\.mode) == [0o444])
        #expect(web.files[0].entries[0].content.bytes == Array("H:/www\n".utf8))
        #expect(web.files[1].entries.map(\.path) == ["", "docs", "docs/run.sh", "index.html"])
        #expect(web.files[1].entries.map(\.mode) == [0o555, 0o555, 0o555, 0o444])
        #expect(web.files[2].entries[0].content.bytes == Array("hello there".utf8))
        #expect(web.files[2].entries[0].mode == 0o444)
        #expect(web.files[3].entries[0].mode == 0o440 && web.files[3].entries[0].uid == 33)
        #expect(web.files[4].entries[0].mode == 0o400)
        #expect(web.files[4].entries[0].content.bytes == Array("TOP-SECRET-VALUE".utf8))
        // Mounted read-only from the set named by the files' hash.
        let args = NodeCommands.runArguments(web, mounts: [], envFile: nil)
        let set = "/var/lib/flocker-deploy/files/web/\(web.filesHash)"
        #expect(args.contains("\(set)/0:/etc/httpd.conf:ro"))
        #expect(args.contains("\(set)/5:/run/secrets/other_name:ro"))
    }

    @Test("A secret from a variable of the environment (or .env); an unset one is an error; Swarm-only settings are refused")
    func secretFromEnvironment() throws {
        let p = try project()
        let compose = "services:\n  web:\n    image: x\n    secrets: [token]\nsecrets:\n  token:\n    environment: API_TOKEN\n"
        let web = try p.web(compose, environment: ["API_TOKEN": "from-the-environment"])
        #expect(web.files.map(\.target) == ["/run/secrets/token"])
        #expect(web.files.first?.entries.first?.content.bytes == Array("from-the-environment".utf8))
        #expect(p.errors(compose).contains { $0.contains("docker-compose.yml:7:18: error: secrets.token.environment: variable API_TOKEN is not set") })
        let external = p.errors("services:\n  web:\n    image: x\nconfigs:\n  site:\n    external: true\n")
        #expect(external.count == 1 && external[0].contains("docker-compose.yml:6:5: error: configs.site.external: external configs live in a Swarm"), "\(external)")
    }

    @Test("Many files make the start command too long for one SSH request: caught by the manifest check")
    func manyFilesOversizeTheStart() {
        let one = FileEntry(path: "", mode: 0o444, content: FileContent(Array("x".utf8)))
        var app = Application(name: "web", image: "busybox:latest")
        app.files = (0..<10).map { AppFile(kind: .bind, source: "./f\($0)", target: "/etc/f\($0)", entries: [one]) }
        #expect(NodeCommands.oversizedStartCommand(app) == nil)
        app.files = (0..<400).map { AppFile(kind: .bind, source: "./f\($0)", target: "/etc/" + String(repeating: "d", count: 40) + "/f\($0)", entries: [one]) }
        #expect(NodeCommands.oversizedStartCommand(app) != nil)
    }

    @Test("A long-syntax bind mount and a file mounted without :ro (read-only, with a warning)")
    func longBindAndWarning() throws {
        let p = try project()
        let manifests = try p.load("""
            services:
              web:
                image: busybox:latest
                volumes:
                  - ./httpd.conf:/etc/httpd.conf
                  - {type: bind, source: ./www, target: /www, read_only: true}
            """).get()
        let web = try #require(manifests.applications.first)
        #expect(web.files.map(\.target) == ["/etc/httpd.conf", "/www"])
        #expect(manifests.warnings.map(\.description).contains { $0.contains("docker-compose.yml:5:9: warning: services.web.volumes[0]: \"./httpd.conf\" is uploaded to the node and mounted read-only") })
    }

    @Test("The files' content is part of the configuration hash; the same content hashes alike")
    func hashes() throws {
        let p = try project()
        let first = try p.web(site)
        let again = try p.web(site)
        #expect(first.configHash == again.configHash && first.filesHash == again.filesHash)
        try p.write("secrets/api_key.txt", "ANOTHER-SECRET")
        let secretChanged = try p.web(site)
        #expect(secretChanged.configHash != first.configHash && secretChanged.filesHash != first.filesHash)
        try p.write("secrets/api_key.txt", "TOP-SECRET-VALUE")
        try p.write("www/docs/new.txt", "x")
        let folderChanged = try p.web(site)
        #expect(folderChanged.filesHash != first.filesHash)
        try FileManager.default.removeItem(atPath: p.folder + "/www/docs/new.txt")
        let modeChanged = try p.web(site.replacingOccurrences(of: "mode: 0440", with: "mode: 0444"))
        #expect(modeChanged.filesHash != first.filesHash)
        let interpolated = try p.web(site, environment: ["WHO": "you"])
        #expect(interpolated.filesHash != first.filesHash)
        // An application without files keeps the hash it had before files existed.
        let plain = Application(name: "web", image: "busybox:latest")
        var withNone = plain
        withNone.files = []
        #expect(plain.configHash == withNone.configHash && plain.filesHash == "")
    }

    @Test("Refusals: missing, outside the folder, a host path, too large, undeclared, links, taken targets")
    func refusals() throws {
        let p = try project()
        try Data(repeating: 0, count: FileLimits.fileBytes + 1).write(to: URL(fileURLWithPath: p.folder + "/big.bin"))
        try Data("outside".utf8).write(to: p.root.appendingPathComponent("outside.txt"))
        symlink(p.root.appendingPathComponent("outside.txt").path, p.folder + "/link.txt")
        symlink("../index.html", p.folder + "/www/docs/loop.html")
        let errors = p.errors("""
            services:
              web:
                image: busybox:latest
                volumes:
                  - ./missing.conf:/etc/missing.conf:ro
                  - ../outside.txt:/etc/outside.txt:ro
                  - ./link.txt:/etc/link.txt:ro
                  - /srv/www:/www
                  - ./big.bin:/big.bin:ro
                  - ./httpd.conf:/etc/a.conf:ro
                  - ./httpd.conf:/etc/a.conf:ro
                secrets: [nope, api]
            secrets:
              api:
                file: ./secrets
            """)
        let expected = [
            "docker-compose.yml:5:9: error: services.web.volumes[0]: \"./missing.conf\" does not exist beside the Compose file",
            "docker-compose.yml:6:9: error: services.web.volumes[1]: \"../outside.txt\" is outside the Compose file's folder",
            "docker-compose.yml:7:9: error: services.web.volumes[2]: \"./link.txt\" is outside the Compose file's folder",
            "docker-compose.yml:8:9: error: services.web.volumes[3]: a host directory cannot be mounted",
            "docker-compose.yml:9:9: error: services.web.volumes[4]: \"./big.bin\" holds 1048577 bytes: a file uploaded to the nodes may hold at most 1 MiB",
            "docker-compose.yml:11:9: error: services.web.volumes[6]: \"/etc/a.conf\" is already the target of \"./httpd.conf\"",
            "docker-compose.yml:12:15: error: services.web.secrets[0]: unknown secret \"nope\"",
            "docker-compose.yml:15:11: error: secrets.api.file: \"./secrets\" is a folder: give the path of a file",
        ]
        for prefix in expected {
            #expect(errors.contains { $0.contains("/" + prefix) }, "missing \(prefix) in\n\(errors.joined(separator: "\n"))")
        }
        #expect(errors.count == expected.count, "\(errors.joined(separator: "\n"))")
        let linked = p.errors("services:\n  web:\n    image: x\n    volumes: [\"./www:/www:ro\"]\n")
        #expect(linked.count == 1 && linked[0].contains("\"./www/docs/loop.html\" is a symbolic link"), "\(linked)")
    }

    @Test("A secret's content is in no error, summary, JSON, plan or description")
    func secretStaysSecret() throws {
        let p = try project()
        let manifests = try p.load(site).get()
        let summary = ManifestSummary(manifests, showValues: true)
        let web = try #require(manifests.applications.first)
        var desired = Cluster()
        desired.apps = [web]
        desired.placement = ["web": "node1"]
        let plan = try Planner.plan(desired: desired.desired, observed: desired.observedState)
        var dumped = ""
        dump(web, to: &dumped)
        let encoded = String(decoding: try JSONEncoder().encode(web), as: UTF8.self)
        let outputs = [summary.text(), summary.json(), StepText.render(plan), String(describing: web), dumped, encoded,
                       String(describing: plan)]
        for output in outputs {
            #expect(!output.contains("TOP-SECRET-VALUE"))
        }
        #expect(summary.text().contains("secret api_key -> /run/secrets/api_key (16 bytes, mode 0400, read-only)"))
        // An error elsewhere in the file does not quote the secret either.
        let errors = p.errors(site + "\n    x-bad: 1\n  oops: {}\n")
        #expect(!errors.isEmpty && !errors.joined().contains("TOP-SECRET-VALUE"))
    }

    @Test("The upload is one tar stream the node's tar extracts with its modes, on stdin, never on a command line")
    func archiveExtractsWithTar() throws {
        let p = try project()
        let web = try p.web(site)
        let out = try p.extract(ConfigArchive.archive(web.files), into: "out")
        #expect(try String(contentsOf: out.appendingPathComponent("4"), encoding: .utf8) == "TOP-SECRET-VALUE")
        #expect(try String(contentsOf: out.appendingPathComponent("1/docs/run.sh"), encoding: .utf8) == "#!/bin/sh\n")
        func mode(_ rel: String) throws -> Int { try p.mode(of: rel, in: out) }
        #expect(try mode("4") == 0o400)
        #expect(try mode("3") == 0o440)
        #expect(try mode("1") == 0o555)
        #expect(try mode("1/docs/run.sh") == 0o555)
        #expect(try mode("0") == 0o444)
        // A long path below a folder is split into ustar's prefix and name.
        let long = String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 90)
        #expect(ConfigArchive.fits(long))
        #expect(ConfigArchive.split("0/" + long) != nil)
        #expect(!ConfigArchive.fits(String(repeating: "x", count: 120)))
    }

    @Test("Planner: upload ahead of the start, nothing when converged, old sets and moved-away files removed")
    func planning() throws {
        let p = try project()
        let web = try p.web(site)
        var c = Cluster()
        c.apps = [web]
        c.placement = ["web": "node1"]
        var plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).map(\.action) == [.uploadFiles("web", files: 6)])
        #expect(plan.phase(.prepare).map(\.node) == ["node1"])
        c.run(web, on: "node1")
        c.converge(routesFor: c.placement)
        c.observed["node1"]?.files = ["web": [web.filesHash]]
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.isEmpty, "\(StepText.render(plan))")
        // The files were removed by hand: they are sent again.
        c.observed["node1"]?.files = ["web": []]
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.actions == [.uploadFiles("web", files: 6)])
        // A changed file: a new set, the container replaced, the old set removed after the start.
        c.observed["node1"]?.files = ["web": ["oldset", ".incoming-x"]]
        c.run(web, on: "node1", hash: "old")
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).map(\.action) == [.uploadFiles("web", files: 6)])
        #expect(plan.phase(.cleanup).map(\.action) == [.removeFiles("web", keep: [web.filesHash])])
        // Moved to node2: uploaded there, removed from node1 after its old container.
        c.run(web, on: "node1")
        c.observed["node1"]?.files = ["web": [web.filesHash]]
        c.placement = ["web": "node2"]
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).map(\.node) == ["node2"])
        #expect(plan.phase(.cleanup).map(\.action).last == .removeFiles("web", keep: []))
        #expect(plan.phase(.cleanup).last?.node == "node1")
        // Removed from the deployment: its files go with it.
        c.placement = [:]
        plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.cleanup).map(\.action) == [.removeFiles("web", keep: [])])
    }

    @Test("A move with volumes: the files are uploaded to the target in prepare, before the staged create and the stop")
    func stagedMove() throws {
        let p = try project()
        var web = try p.web(site)
        web.volumes = [VolumeSpec(name: "data", mountpoint: "/data")]
        var c = Cluster()
        c.apps = [web]
        c.run(web, on: "node1")
        c.dataset(web, on: "node1", snapshots: ["flocker-00000001"])
        c.observed["node1"]?.files = ["web": [web.filesHash]]
        c.placement = ["web": "node2"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        #expect(plan.phase(.prepare).contains { $0.node == "node2" && $0.action == .uploadFiles("web", files: 6) })
        #expect(plan.phase(.stage).map(\.action) == [.createApp("web")])
        #expect(plan.phase(.cleanup).contains { $0.node == "node1" && $0.action == .removeFiles("web", keep: []) })
    }

    @Test("Executor: the files travel on stdin; a set already there is not sent again")
    func execution() async throws {
        let p = try project()
        let web = try p.web(site)
        var c = Cluster()
        c.apps = [web]
        c.placement = ["web": "node1"]
        let plan = try Planner.plan(desired: c.desired, observed: c.observedState)
        for present in [false, true] {
            let log = CommandLog()
            var hosts: [String: any RemoteHost] = [:]
            for n in c.nodes {
                hosts[n] = FakeRemoteHost(node: n, address: c.address(n), log: log) { command, _ in
                    if command.stages[0].contains("flocker-files-present") {
                        return CommandResult(status: .exited(0), stdout: Array((present ? "present\n" : "absent\n").utf8))
                    }
                    return CommandResult(status: .exited(0))
                }
            }
            let events = EventLog()
            let report = await Executor(hosts: hosts, desired: c.desired, observed: c.observedState, options: ExecutionOptions(),
                                        observer: events).run(plan)
            #expect(report.isSuccess)
            let uploads = log.all.filter { $0.command.stages[0].contains("flocker-upload-files") }
            #expect(uploads.count == (present ? 0 : 1))
            if let upload = uploads.first {
                #expect(upload.stdin.count == ConfigArchive.archive(web.files, mtime: 0).count)
                #expect(String(decoding: upload.stdin, as: UTF8.self).contains("TOP-SECRET-VALUE"))
            }
            for entry in log.all { #expect(!entry.text.contains("TOP-SECRET-VALUE")) }
            #expect(!events.all.joined().contains("TOP-SECRET-VALUE"))
            let start = log.index(of: "flocker-start", on: "node1") ?? -1
            let sent = log.index(of: "flocker-files-present", on: "node1") ?? Int.max
            #expect(sent < start)
        }
    }
}
