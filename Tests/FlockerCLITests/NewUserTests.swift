import Foundation
import Testing

/// What a new user trips over (issue 16), run as the built binary: the JSON contract of a run whose manifests
/// are invalid, values out of range refused instead of silently raised, and the docs agreeing with the binary.
/// None of these reaches a node.
@Suite("new user (built binary)", .serialized)
struct NewUserTests {
    typealias V = ValidateTests

    static let invalid = ["app.yml": "version: 1\napplications:\n  redis:\n    image: redis:7\n    ports: nope\n",
                          "dep.yml": "version: 1\nnodes:\n  node1: [redis]\n"]

    @Test("A deploy --json of invalid manifests prints one JSON line: an error event with schema 1 and positions")
    func deployJSONInvalid() throws {
        let dir = try V.temporary(Self.invalid)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for command in [[String](), ["sync"]] {
            let r = try V.run(command + ["\(dir)/dep.yml", "\(dir)/app.yml", "--json"])
            #expect(r.status == 2)
            let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 2 && lines[1].isEmpty, "one line: \(r.stdout)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(object["event"] as? String == "error")
            #expect(object["schema"] as? Int == 1)
            #expect(object["exit_code"] as? Int == 2)
            let errors = try #require(object["errors"] as? [[String: Any]])
            #expect(errors.first?["line"] as? Int == 5)
            #expect((errors.first?["file"] as? String)?.hasSuffix("app.yml") == true)
            #expect(r.stderr.contains("app.yml:5:"), "the text errors still go to stderr")
        }
    }

    @Test("validate --json: schema 1 first, keys in snake_case")
    func validateJSON() throws {
        let r = try V.run(["validate", "--json", "examples/compose/deployment.yml", "examples/compose/docker-compose.yml"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("{\n  \"schema\": 1,\n"))
        #expect(r.stdout.contains("\"deployment_file\""))
        #expect(r.stdout.contains("\"config_hash\""))
        #expect(!r.stdout.contains("\"configHash\"") && !r.stdout.contains("\"deploymentFile\""))
    }

    @Test("--lock-expiry below the minimum is refused with the minimum (exit 2), not silently raised")
    func lockExpiry() throws {
        let r = try V.run(["examples/redis/deployment-node1.yml", "examples/redis/application.yml", "--lock-expiry", "5"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("the minimum is 30 seconds"), "\(r.stderr)")
        let help = try V.run(["help", "deploy"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("(a run that died; at least 30)"))
    }

    @Test("Timeouts out of range are refused (exit 2)", arguments: ["--connect-timeout", "--query-timeout", "--command-timeout", "--transfer-timeout"])
    func timeouts(_ option: String) throws {
        let r = try V.run(["examples/redis/deployment-node1.yml", "examples/redis/application.yml", option, "0"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("\(option) must be at least 1 second"), "\(r.stderr)")
    }

    @Test("The docs promise the exit codes the binary has: usage errors exit 2, never 64")
    func exitCodesInDocs() throws {
        let usage = try V.run(["deploy"])
        #expect(usage.status == 2)
        for doc in ["docs/configuration.md", "docs/operations.md", "README.md"] {
            let text = try String(contentsOf: V.root.appendingPathComponent(doc), encoding: .utf8)
            #expect(!text.contains("64 for a usage error"), "\(doc)")
        }
    }

    @Test("Every deploy option of --help is documented in docs/operations.md")
    func optionsDocumented() throws {
        let help = try V.run(["help", "deploy"]).stdout
        let options = Set(help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "/" })
            .filter { $0.hasPrefix("--") }
            .map { String($0.prefix { $0 == "-" || $0.isLetter }) })
            .subtracting(["--help", "--version"])
        #expect(options.count > 10, "\(options)")
        let docs = try String(contentsOf: V.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        for option in options.sorted() {
            #expect(docs.contains("`\(option)"), "\(option) is in --help but not in docs/operations.md")
        }
    }

    @Test("Without any ssh config, a command that connects says where it looked")
    func noSSHConfig() throws {
        let home = try V.temporary([:])
        let dir = try V.temporary(["dep.yml": "version: 1\nnodes:\n  unreachable.invalid: []\n"])
        defer { try? FileManager.default.removeItem(atPath: home); try? FileManager.default.removeItem(atPath: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: V.binary)
        process.arguments = ["lock", "status", "\(dir)/dep.yml", "--connect-timeout", "2"]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home
        environment["FLOCKER_SSH_CONFIG"] = nil
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 3)
        #expect(text.contains("note: no ssh config found (looked at --ssh-config (not given), $FLOCKER_SSH_CONFIG (not set), \(home)/.ssh/config (does not exist))"), "\(text)")
    }

    @Test("An unreadable ssh config line is one positioned error, without a second `error:` in front")
    func sshConfigError() throws {
        let dir = try V.temporary(["dep.yml": "version: 1\nnodes:\n  node1: []\n", "ssh_config": "Host node1\n  Port eighty\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try V.run(["lock", "status", "\(dir)/dep.yml", "--ssh-config", "\(dir)/ssh_config"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("\(dir)/ssh_config:2: error: "), "\(r.stderr)")
        #expect(!r.stderr.contains("error: \(dir)"), "\(r.stderr)")
    }
}
