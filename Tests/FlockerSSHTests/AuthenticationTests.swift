import Foundation
import Testing

@testable import FlockerSSH

extension LoopbackSSH {
    /// Key authentication against a real sshd: agent, files, refusals and their explanations.
    @Suite("authentication", .serialized)
    final class AuthenticationTests {
        let sshd: SSHDFixture

        init() throws {
            sshd = try SSHDFixture()
        }

        private func connectError(_ settings: SSHHostSettings, options: SSHConnectOptions = SSHDFixture.options) async
            -> SSHError?
        {
            await SSHDFixture.connectError(settings, options: options, runCommand: true)
        }

        private func newKey(_ name: String, type: String = "ed25519", passphrase: String = "") throws -> String {
            let path = sshd.directory + "/" + name
            try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", path])
            return path
        }

        private func authorize(_ key: String) throws {
            let line = try String(contentsOfFile: key + ".pub", encoding: .utf8)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: sshd.authorizedKeys))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(line.utf8))
            try handle.close()
        }

        @Test func agentKeysAreUsed() async throws {
            let socket = sshd.directory + "/agent.sock"
            let agent = try ChildProcess.spawn("/usr/bin/ssh-agent", ["-D", "-a", socket])
            defer { agent.terminate(signal: SIGKILL) }  // ssh-agent -D can take seconds to act on SIGTERM
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
            try SSHDFixture.run("/usr/bin/ssh-add", ["-q", sshd.userKey], environment: ["SSH_AUTH_SOCK": socket])

            // No identity files at all: only the agent can get us in.
            let settings = sshd.settings(identityFiles: [])
            var options = SSHDFixture.options
            options.useAgent = true
            options.agentSocket = socket
            #expect(await connectError(settings, options: options) == nil)

            // Without the agent the same settings fail, and say why.
            let refused = try #require(await connectError(settings))
            #expect(refused.code == .authenticationFailed)
            #expect(refused.message.contains("No key was offered"))
        }

        @Test func anUnauthorizedKeyIsRefused() async throws {
            let stranger = try newKey("stranger")
            let missing = sshd.directory + "/id_nothing"
            let refused = try #require(await connectError(sshd.settings(identityFiles: [missing, stranger])))
            #expect(refused.code == .authenticationFailed)
            #expect(refused.message.contains("Refused: \(stranger) (ED25519)"))
            #expect(refused.message.contains("Missing: \(missing)"))
            #expect(refused.message.contains("authorized_keys"))
        }

        @Test func theSecondKeyIsTriedAfterTheFirstIsRefused() async throws {
            let stranger = try newKey("stranger2")
            #expect(await connectError(sshd.settings(identityFiles: [stranger, sshd.userKey])) == nil)
        }

        @Test func anRSAKeyGetsItsOwnExplanation() async throws {
            let rsa = try newKey("id_rsa", type: "rsa")
            try authorize(rsa)
            let refused = try #require(await connectError(sshd.settings(identityFiles: [rsa])))
            #expect(refused.code == .rsaKeyUnsupported)
            #expect(refused.message.contains("rsa-sha2-256/512"))
            #expect(refused.message.contains("OpenSSH 8.8"))
            #expect(refused.message.contains("ssh-keygen -t ed25519"))
            #expect(refused.message.contains(rsa))
        }

        @Test func anECDSAKeyWorks() async throws {
            let ecdsa = try newKey("id_ecdsa", type: "ecdsa")
            try authorize(ecdsa)
            #expect(await connectError(sshd.settings(identityFiles: [ecdsa])) == nil)
        }

        @Test func anEncryptedKeyIsExplainedNotPromptedFor() async throws {
            let locked = try newKey("locked", passphrase: "secret words")
            try authorize(locked)
            let refused = try #require(await connectError(sshd.settings(identityFiles: [locked])))
            #expect(refused.code == .keyFileUnreadable)
            #expect(refused.message.contains("passphrase"))
            #expect(refused.message.contains("ssh-add \(locked)"))
        }
    }

    /// TCP-level failures: refused, silent, and the timeout that bounds them.
    @Suite("connect failures")
    struct ConnectFailureTests {
        private static func settings(port: Int, timeout: Duration?) -> SSHHostSettings {
            SSHHostSettings(
                alias: "nowhere", hostName: "127.0.0.1", user: "root", port: port, identityFiles: [],
                knownHostsFiles: [], hostKeyPolicy: .strict, connectTimeout: timeout)
        }

        @Test func aClosedPortIsRefusedQuickly() async throws {
            let port = try SSHDFixture.freePort()
            let start = ContinuousClock.now
            do {
                _ = try await SSHConnection.connect(Self.settings(port: port, timeout: .seconds(10)), options: SSHDFixture.options)
                Issue.record("connect should fail")
            } catch {
                #expect(error.code == .connectionRefused)
                #expect(error.description.hasPrefix("nowhere (127.0.0.1:\(port)): connection refused"))
                #expect(error.message.contains("port \(port)"))
            }
            #expect(ContinuousClock.now - start < .seconds(1))
        }

        @Test func aServerThatNeverSpeaksTimesOut() async throws {
            let (fd, port) = try SSHDFixture.silentListener()
            defer { close(fd) }
            let start = ContinuousClock.now
            do {
                _ = try await SSHConnection.connect(Self.settings(port: port, timeout: .seconds(1)), options: SSHDFixture.options)
                Issue.record("connect should time out")
            } catch {
                #expect(error.code == .timedOut)
                #expect(error.message.contains("SSH handshake"))
                #expect(error.message.contains("1 s"))
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(3), "took \(elapsed)")
        }

        @Test func theOptionsTimeoutAppliesWhenTheConfigSetsNone() async throws {
            let (fd, port) = try SSHDFixture.silentListener()
            defer { close(fd) }
            var options = SSHDFixture.options
            options.connectTimeout = .milliseconds(500)
            let start = ContinuousClock.now
            await #expect(throws: SSHError.self) {
                _ = try await SSHConnection.connect(Self.settings(port: port, timeout: nil), options: options)
            }
            #expect(ContinuousClock.now - start < .seconds(2))
        }

        /// As in OpenSSH, the command line wins over the config file: `--connect-timeout 1` with `ConnectTimeout 30`
        /// in the config gives up after 1 s (issue 16).
        @Test func theCommandLineTimeoutWinsOverTheConfigs() async throws {
            let (fd, port) = try SSHDFixture.silentListener()
            defer { close(fd) }
            var options = SSHDFixture.options
            options.connectTimeoutOverride = .milliseconds(500)
            let start = ContinuousClock.now
            await #expect(throws: SSHError.self) {
                _ = try await SSHConnection.connect(Self.settings(port: port, timeout: .seconds(30)), options: options)
            }
            #expect(ContinuousClock.now - start < .seconds(2))
        }

        @Test func cancellingAConnectStopsIt() async throws {
            let (fd, port) = try SSHDFixture.silentListener()
            defer { close(fd) }
            let task = Task {
                try await SSHConnection.connect(Self.settings(port: port, timeout: .seconds(30)), options: SSHDFixture.options)
            }
            try await Task.sleep(for: .milliseconds(200))
            let start = ContinuousClock.now
            task.cancel()
            let result = await task.result
            #expect(ContinuousClock.now - start < .seconds(2))
            guard case .failure(let error as SSHError) = result else {
                Issue.record("expected cancellation, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
        }
    }
}
