import Foundation
import Testing

/// `flocker-deploy validate`, run as the built binary: stdout, stderr, exit codes.
@Suite("validate command (built binary)", .serialized)
struct ValidateTests {
    /// The repository root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `FLOCKER_BIN` if set; else `flocker-deploy` next to this test bundle's runner; else `.build/debug`.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["FLOCKER_BIN"], !path.isEmpty { return path }
        let runner = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var candidates = [runner.deletingLastPathComponent().appendingPathComponent("flocker-deploy").path]
        if let bundle = Bundle.allBundles.first(where: { $0.bundlePath.hasSuffix(".xctest") }) {
            candidates.append(
                URL(fileURLWithPath: bundle.bundlePath).deletingLastPathComponent().appendingPathComponent(
                    "flocker-deploy"
                ).path)
        }
        candidates.append(root.appendingPathComponent(".build/debug/flocker-deploy").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] {
            stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
        }
    }

    static func run(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = root
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Writes `files` (name → text) into a fresh temporary folder and returns its path.
    static func temporary(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: dir.appendingPathComponent(name)) }
        return dir.path
    }

    @Test("The binary exists where the tests look for it")
    func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "no flocker-deploy at \(Self.binary)")
    }

    @Test(
        "Every example validates, exit 0, nothing on stderr",
        arguments: [
            ("examples/redis/deployment-node1.yml", "examples/redis/application.yml", "ok: 1 application on 2 nodes"),
            ("examples/redis/deployment-node2.yml", "examples/redis/application.yml", "ok: 1 application on 2 nodes"),
            ("examples/compose/deployment.yml", "examples/compose/docker-compose.yml", "ok: 2 applications on 2 nodes"),
        ])
    func examples(_ deployment: String, _ application: String, _ okLine: String) throws {
        let r = try Self.run(["validate", deployment, application])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.hasSuffix("\n\(okLine)\n"))
    }

    @Test(
        "With --json, a command line that cannot be read still prints its JSON error on stdout (exit 2)",
        arguments: [["status", "--json"], ["clone", "destroy", "--json", "--bogus", "d.yml"], ["--json", "only-one.yml"],
                    ["sync", "d.yml", "a.yml", "--json", "--lock-wait", "-1"]])
    func usageErrorsInJSON(_ arguments: [String]) throws {
        let r = try Self.run(arguments)
        #expect(r.status == 2, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        #expect(object["event"] as? String == "error")
        #expect(object["exit_code"] as? Int == 2)
        #expect(object["schema"] as? Int == 1)
        #expect(!(object["message"] as? String ?? "").isEmpty)
        #expect(!r.stderr.isEmpty, "the error is on stderr as text too")
    }

    @Test("Without --json a usage error prints nothing on stdout")
    func usageErrorsInText() throws {
        let r = try Self.run(["status"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
    }

    @Test("The redis example's summary, exactly")
    func redisSummary() throws {
        let r = try Self.run(["validate", "examples/redis/deployment-node1.yml", "examples/redis/application.yml"])
        #expect(
            r.stdout == """
                application file: examples/redis/application.yml (Flocker v1)
                deployment file:  examples/redis/deployment-node1.yml

                application redis
                  image:   redis:7
                  node:    node1
                  ports:   6379 -> 6379
                  volumes: default at /data, no quota
                  restart: never
                  command: redis-server --appendonly yes

                nodes
                  node1: redis
                  node2: nothing (anything flocker-deploy runs there is stopped)

                ok: 1 application on 2 nodes

                """)
    }

    static let badApplication = """
        version: 1
        applications:
          web:
            image: nginx
            ports: [{internal: 80, external: eighty}]
            environment: {PASSWORD: hunter2}
          "a; rm -rf /":
            image: busybox
        """
    static let badDeployment = "version: 1\nnodes:\n  node1: [web, wbe]\n"

    @Test("Errors: each on stderr as FILE:LINE:COL: error: PATH: MESSAGE, then the count; exit 2; nothing on stdout")
    func errors() throws {
        let dir = try Self.temporary(["app.yml": Self.badApplication, "dep.yml": Self.badDeployment])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.run(["validate", "\(dir)/dep.yml", "\(dir)/app.yml"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(
            r.stderrLines == [
                "\(dir)/dep.yml:3:16: error: nodes.node1[1]: unknown application \"wbe\": did you mean \"web\"?",
                "\(dir)/app.yml:5:38: error: applications.web.ports[0].external: expected an integer from 1 to 65535, found \"eighty\"",
                "\(dir)/app.yml:7:3: error: applications[\"a; rm -rf /\"]: application name \"a; rm -rf /\" is not allowed: names must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ (they become Docker container and ZFS dataset names)",
                "3 errors",
            ])
        #expect(!r.stderr.contains("hunter2"))
    }

    @Test("One error is counted as \"1 error\"; a missing file has no position")
    func missingFile() throws {
        let r = try Self.run(["validate", "examples/redis/deployment-node1.yml", "/nonexistent/app.yml"])
        #expect(r.status == 2)
        #expect(
            r.stderrLines == [
                "/nonexistent/app.yml: error: cannot read the file: No such file or directory", "1 error",
            ])
    }

    @Test("--json on success: one JSON object on stdout")
    func jsonSuccess() throws {
        let r = try Self.run([
            "validate", "--json", "examples/compose/deployment.yml", "examples/compose/docker-compose.yml",
        ])
        #expect(r.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == true)
        #expect(object["format"] as? String == "Compose")
        let apps = try #require(object["applications"] as? [[String: Any]])
        #expect(apps.map { $0["name"] as? String } == ["web", "redis"])
        #expect(apps[0]["command"] as? [String] == ["httpd", "-f", "-p", "8080"])
        #expect((apps[0]["environment"] as? [[String: Any]])?.first?["value"] == nil)
    }

    @Test("--json on errors: the errors as JSON on stdout too, exit 2")
    func jsonErrors() throws {
        let dir = try Self.temporary(["app.yml": Self.badApplication, "dep.yml": Self.badDeployment])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try Self.run(["validate", "--json", "\(dir)/dep.yml", "\(dir)/app.yml"])
        #expect(r.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        let errors = try #require(object["errors"] as? [[String: Any]])
        #expect(errors.count == 3)
        #expect(errors.first?["path"] as? String == "nodes.node1[1]")
        #expect(r.stderrLines.last == "3 errors")
    }

    @Test("Environment values are printed only with --show-values")
    func showValues() throws {
        let dir = try Self.temporary([
            "app.yml":
                "version: 1\napplications:\n  web:\n    image: nginx\n    environment: {PASSWORD: \"hunter2 $(id)\"}\n",
            "dep.yml": "version: 1\nnodes:\n  node1: [web]\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hidden = try Self.run(["validate", "\(dir)/dep.yml", "\(dir)/app.yml"])
        #expect(hidden.status == 0)
        #expect(hidden.stdout.contains("environment: PASSWORD (values hidden; --show-values)"))
        #expect(!hidden.stdout.contains("hunter2"))
        let shown = try Self.run(["validate", "--show-values", "\(dir)/dep.yml", "\(dir)/app.yml"])
        #expect(shown.stdout.contains("environment: PASSWORD=\"hunter2 $(id)\""))
    }

    @Test("Nodes that do not exist validate fine: validate never connects to anything")
    func noNetwork() throws {
        let dir = try Self.temporary([
            "app.yml": "version: 1\napplications:\n  web: {image: nginx}\n",
            "dep.yml": "version: 1\nnodes:\n  unreachable.invalid: [web]\n  192.0.2.1: []\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        let r = try Self.run(["validate", "\(dir)/dep.yml", "\(dir)/app.yml"])
        #expect(r.status == 0)
        #expect(r.stdout.hasSuffix("ok: 1 application on 2 nodes\n"))
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test("Usage errors (a missing argument) exit 2, invalid input, with the parser's message, not a manifest error")
    func usage() throws {
        let r = try Self.run(["validate", "examples/redis/deployment-node1.yml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Missing expected argument"))
        #expect(!r.stderr.contains(": error: "))
    }
}
