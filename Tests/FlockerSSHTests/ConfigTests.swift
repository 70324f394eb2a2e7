import Foundation
import Testing

@testable import FlockerSSH

/// The ssh_config subset: patterns, negation, first value wins, defaults, tokens, Include, errors.
@Suite("ssh_config subset")
struct ConfigTests {
    let home = POSIX.homeDirectory()
    let me = POSIX.userName()

    func parse(_ text: String, file: String = "cfg") throws -> SSHClientConfig {
        try SSHClientConfig(parsing: text, file: file)
    }

    func parseError(_ text: String, file: String = "cfg") -> SSHError? {
        do {
            _ = try SSHClientConfig(parsing: text, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsForAnUnknownHost() throws {
        let s = try parse("Host other\n  Port 2222\n").settings(for: "node1")
        #expect(s.alias == "node1")
        #expect(s.hostName == "node1")
        #expect(s.user == me)
        #expect(s.port == 22)
        #expect(s.identityFiles == ["\(home)/.ssh/id_ed25519", "\(home)/.ssh/id_ecdsa", "\(home)/.ssh/id_rsa"])
        #expect(s.knownHostsFiles == ["\(home)/.ssh/known_hosts"])
        #expect(s.hostKeyPolicy == .strict)
        #expect(s.connectTimeout == nil)
        #expect(SSHClientConfig().settings(for: "x") == SSHClientConfig().settings(for: "x"))
    }

    @Test func wildcardsAndSeveralPatternsPerLine() throws {
        let config = try parse(
            """
            Host web? db-*
                User deploy
            """)
        #expect(config.settings(for: "web1").user == "deploy")
        #expect(config.settings(for: "db-east.example").user == "deploy")
        #expect(config.settings(for: "WEB2").user == "deploy")   // matched case-insensitively
        #expect(config.settings(for: "web10").user == me)
        #expect(config.settings(for: "xdb-1").user == me)
    }

    @Test func negatedPatternsExclude() throws {
        let config = try parse(
            """
            Host *.example.com !bastion.example.com
                Port 2200
            Host !only-negated
                Port 9999
            """)
        #expect(config.settings(for: "a.example.com").port == 2200)
        #expect(config.settings(for: "bastion.example.com").port == 22)
        // A line with only negated patterns matches nothing (OpenSSH semantics).
        #expect(config.settings(for: "anything").port == 22)
    }

    @Test func theFirstValueObtainedWins() throws {
        let config = try parse(
            """
            User everyone
            Host node1
                HostName 10.0.0.5
                Port 2201
            Host node*
                HostName 10.9.9.9
                Port 2202
                User ops
                ConnectTimeout 7
            Host *
                Port 22
                StrictHostKeyChecking accept-new
            """)
        let s = config.settings(for: "node1")
        #expect(s.hostName == "10.0.0.5")
        #expect(s.port == 2201)
        #expect(s.user == "everyone")      // set before any Host line, so it was obtained first
        #expect(s.connectTimeout == .seconds(7))
        #expect(s.hostKeyPolicy == .acceptNew)
        let t = config.settings(for: "node2")
        #expect(t.hostName == "10.9.9.9")
        #expect(t.port == 2202)
    }

    @Test func identityFilesAccumulateWithTokensExpanded() throws {
        let config = try parse(
            """
            Host node1
                HostName n1.internal
                User admin
                IdentityFile ~/.ssh/id_%r@%h
                IdentityFile %d/keys/%u-%n-%p
            Host *
                IdentityFile /etc/flocker/key%%1
            """)
        let s = config.settings(for: "node1")
        #expect(
            s.identityFiles == [
                "\(home)/.ssh/id_admin@n1.internal", "\(home)/keys/\(me)-node1-22", "/etc/flocker/key%1",
            ])
    }

    @Test func knownHostsFilesAndPolicies() throws {
        let config = try parse(
            """
            Host a
                UserKnownHostsFile ~/kh1 /tmp/kh2
                StrictHostKeyChecking no
            Host b
                UserKnownHostsFile none
                StrictHostKeyChecking off
            Host c
                StrictHostKeyChecking ask
            Host d
                StrictHostKeyChecking yes
            """)
        #expect(config.settings(for: "a").knownHostsFiles == ["\(home)/kh1", "/tmp/kh2"])
        #expect(config.settings(for: "a").hostKeyPolicy == .acceptNew)
        #expect(config.settings(for: "b").knownHostsFiles == [])
        #expect(config.settings(for: "b").hostKeyPolicy == .acceptNew)
        #expect(config.settings(for: "c").hostKeyPolicy == .strict)
        #expect(config.settings(for: "d").hostKeyPolicy == .strict)
    }

    @Test func syntaxVariants() throws {
        let config = try parse(
            "# comment\r\n\r\nHOST=node1 # trailing comment\r\n  hostname = 10.1.1.1\r\n\tPORT=2022\r\n  User \"deploy user\"\r\n  ConnectTimeout 1m30s\r\n  ForwardAgent yes\r\n  ControlMaster auto\r\n")
        let s = config.settings(for: "node1")
        #expect(s.hostName == "10.1.1.1")
        #expect(s.port == 2022)
        #expect(s.user == "deploy user")
        #expect(s.connectTimeout == .seconds(90))
    }

    @Test func hostNameMayUseTheAlias() throws {
        let s = try parse("Host *\n  HostName %h.cluster.internal\n").settings(for: "node3")
        #expect(s.hostName == "node3.cluster.internal")
        #expect(s.alias == "node3")
    }

    @Test func matchBlocksAreSkippedWithANote() throws {
        let config = try parse(
            """
            Match host node1 exec "true"
                Port 1111
                User matched
            Host node1
                Port 2222
            """, file: "/x/config")
        let s = config.settings(for: "node1")
        #expect(s.port == 2222)
        #expect(s.user == me)
        #expect(config.warnings.count == 1)
        #expect(config.warnings.first?.hasPrefix("/x/config:1: Match blocks are not supported") == true)
    }

    @Test(arguments: [
        ("Host a\n  Port eighty\n", "cfg:2: error: Port must be a number from 1 to 65535, found \"eighty\""),
        ("Port 70000\n", "cfg:1: error: Port must be a number from 1 to 65535, found \"70000\""),
        ("\n\nIdentityFile ~/.ssh/id_%x\n", "cfg:3: error: IdentityFile \"~/.ssh/id_%x\" uses an unsupported % token"),
        ("StrictHostKeyChecking maybe\n", "cfg:1: error: StrictHostKeyChecking must be yes, ask, accept-new, no or off"),
        ("Host a\nUser\n", "cfg:2: error: User needs a value"),
        ("Host\n", "cfg:1: error: Host needs at least one pattern"),
        ("User \"unterminated\n", "cfg:1: error: unterminated quote"),
        ("ConnectTimeout soon\n", "cfg:1: error: ConnectTimeout must be a number of seconds"),
        ("HostName a b\n", "cfg:1: error: HostName takes one value, found 2"),
    ])
    func errorsNameTheFileAndLine(text: String, expected: String) throws {
        let error = try #require(parseError(text))
        #expect(error.code == .configInvalid)
        #expect(error.description.hasPrefix(expected), "got: \(error.description)")
    }

    @Test func loadingFiles() throws {
        let dir = try SSHDFixture.makeTempDirectory(prefix: "flocker-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/conf.d", withIntermediateDirectories: true)
        try "Host node1\n  Port 2001\n".write(toFile: dir + "/conf.d/10-node1.conf", atomically: true, encoding: .utf8)
        try "Host *\n  User included\n".write(toFile: dir + "/conf.d/20-all.conf", atomically: true, encoding: .utf8)
        try "Port 3003\n".write(toFile: dir + "/web-only.conf", atomically: true, encoding: .utf8)
        try """
            Host web*
                Include \(dir)/web-only.conf
            Host *
                Include \(dir)/conf.d/*.conf
                Port 22
            """.write(toFile: dir + "/config", atomically: true, encoding: .utf8)

        let config = try SSHClientConfig.load(path: dir + "/config")
        #expect(config.settings(for: "node1").port == 2001)
        #expect(config.settings(for: "node1").user == "included")
        #expect(config.settings(for: "web1").port == 3003)    // included inside a Host block: only for it
        #expect(config.settings(for: "db1").port == 22)

        let missing = dir + "/nope"
        do {
            _ = try SSHClientConfig.load(path: missing)
            Issue.record("a named file that does not exist is an error")
        } catch {
            #expect(error.code == .configInvalid)
            #expect(error.description.hasPrefix("\(missing): error: cannot read"))
        }

        // The command line's order: explicit path, then FLOCKER_SSH_CONFIG, then ~/.ssh/config.
        let fromEnvironment = try SSHClientConfig.load(explicitPath: nil, environment: ["FLOCKER_SSH_CONFIG": dir + "/config"])
        #expect(fromEnvironment.settings(for: "node1").port == 2001)
        #expect(throws: SSHError.self) {
            _ = try SSHClientConfig.load(explicitPath: missing, environment: ["FLOCKER_SSH_CONFIG": dir + "/config"])
        }
    }

    @Test func patternMatcher() {
        #expect(SSHClientConfig.wildcardMatch("abc", "a*c"))
        #expect(SSHClientConfig.wildcardMatch("ac", "a*c"))
        #expect(SSHClientConfig.wildcardMatch("a.b.c", "*.c"))
        #expect(!SSHClientConfig.wildcardMatch("abd", "a*c"))
        #expect(SSHClientConfig.wildcardMatch("abc", "???"))
        #expect(!SSHClientConfig.wildcardMatch("ab", "???"))
        #expect(SSHClientConfig.wildcardMatch("", "*"))
        #expect(SSHClientConfig.wildcardMatch("10.0.0.12", "10.0.0.*"))
    }
}

/// Small pieces: key file inspection, error text.
@Suite("helpers")
struct HelperTests {

    @Test func keyFilesAreRecognised() throws {
        let dir = try SSHDFixture.makeTempDirectory(prefix: "flocker-keys")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (type, expected) in [("ed25519", KeyFileInfo.Algorithm.ed25519), ("ecdsa", .ecdsa), ("rsa", .rsa)] {
            for passphrase in ["", "pw"] {
                let path = "\(dir)/\(type)\(passphrase)"
                try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-f", path])
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                let info = KeyFileInfo.inspect(privateKey: bytes, publicKey: nil)
                #expect(info.algorithm == expected)
                #expect(info.encrypted == !passphrase.isEmpty)
            }
        }
        #expect(KeyFileInfo.inspect(privateKey: Array("hello".utf8), publicKey: nil).unrecognised)
    }

    @Test func errorDescriptions() {
        let e = SSHError(code: .timedOut, host: "node1", address: "10.0.0.5:22", message: "too slow")
        #expect(e.description == "node1 (10.0.0.5:22): too slow")
        #expect(SSHError(code: .configInvalid, host: "", message: "f:1: error: x").description == "f:1: error: x")
        #expect(SSHError.Code.rsaKeyUnsupported.description == "rsaKeyUnsupported")
        #expect(RemoteExit.exited(3).description == "exit status 3")
    }
}
