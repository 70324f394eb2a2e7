import Foundation
import Testing

@testable import FlockerSSH

extension LoopbackSSH {
    /// known_hosts checking against a real sshd: strict by default, accept-new only on request, changed keys
    /// always refused.
    @Suite("host keys", .serialized)
    final class HostKeyTests {
        let sshd: SSHDFixture

        init() throws {
            sshd = try SSHDFixture()
        }

        @Test func unknownHostIsRefusedWithItsFingerprintThenAcceptedOnRequest() async throws {
            let file = sshd.directory + "/fresh_known_hosts"   // does not exist yet
            let settings = sshd.settings(knownHostsFiles: [file])
            let fingerprint = try sshd.hostKeyFingerprint()

            let refused = try #require(await SSHDFixture.connectError(settings))
            #expect(refused.code == .hostKeyUnknown)
            #expect(refused.message.contains(fingerprint))
            #expect(refused.message.contains("ED25519"))
            #expect(refused.message.contains("\(file) (missing)"))
            #expect(refused.message.contains("ssh-keyscan -p \(sshd.port) -t ed25519 127.0.0.1 >> \(file)"))
            #expect(refused.message.contains("--accept-new-host-keys"))
            #expect(refused.description.hasPrefix("testnode (127.0.0.1:\(sshd.port)): host key verification failed"))
            #expect(!FileManager.default.fileExists(atPath: file))

            var options = SSHDFixture.options
            options.acceptNewHostKeys = true
            #expect(await SSHDFixture.connectError(settings, options: options) == nil)
            let recorded = try String(contentsOfFile: file, encoding: .utf8)
            #expect(recorded.hasPrefix("[127.0.0.1]:\(sshd.port) ssh-ed25519 AAAA"))

            // Now known: a strict connect succeeds, and ssh-keygen agrees with what was recorded.
            #expect(await SSHDFixture.connectError(settings) == nil)
            let check = try SSHDFixture.run("/usr/bin/ssh-keygen", ["-F", "[127.0.0.1]:\(sshd.port)", "-f", file])
            #expect(check.contains("ssh-ed25519"))
        }

        @Test func acceptNewFromTheConfigPolicy() async throws {
            let file = sshd.directory + "/policy_known_hosts"
            var settings = sshd.settings(knownHostsFiles: [file])
            settings.hostKeyPolicy = .acceptNew
            #expect(await SSHDFixture.connectError(settings) == nil)
            #expect(FileManager.default.fileExists(atPath: file))
        }

        @Test func changedKeyIsRefusedWhateverThePolicy() async throws {
            let other = sshd.directory + "/other_host_key"
            try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other])
            let otherPublic = try String(contentsOfFile: other + ".pub", encoding: .utf8)
                .split(separator: " ").prefix(2).joined(separator: " ")
            let file = sshd.directory + "/changed_known_hosts"
            try """
                # a comment
                [127.0.0.1]:\(sshd.port + 1) \(otherPublic)
                [127.0.0.1]:\(sshd.port) \(otherPublic)

                """.write(toFile: file, atomically: true, encoding: .utf8)
            var settings = sshd.settings(knownHostsFiles: [file])
            let refused = try #require(await SSHDFixture.connectError(settings))
            #expect(refused.code == .hostKeyChanged)
            #expect(refused.message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"))
            #expect(refused.message.contains(try sshd.hostKeyFingerprint()))
            #expect(refused.message.contains("\(file):3"))
            #expect(refused.message.contains("ssh-keygen -R '[127.0.0.1]:\(sshd.port)' -f \(file)"))

            settings.hostKeyPolicy = .acceptNew
            var options = SSHDFixture.options
            options.acceptNewHostKeys = true
            let stillRefused = try #require(await SSHDFixture.connectError(settings, options: options))
            #expect(stillRefused.code == .hostKeyChanged)
        }

        @Test func aKeyOfAnotherTypeOnFileMeansUnknownNotChanged() async throws {
            let ecdsa = sshd.directory + "/ecdsa_key"
            try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", ecdsa])
            let ecdsaPublic = try String(contentsOfFile: ecdsa + ".pub", encoding: .utf8)
                .split(separator: " ").prefix(2).joined(separator: " ")
            let file = sshd.directory + "/ecdsa_known_hosts"
            try "[127.0.0.1]:\(sshd.port) \(ecdsaPublic)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try #require(await SSHDFixture.connectError(sshd.settings(knownHostsFiles: [file])))
            #expect(refused.code == .hostKeyUnknown)
            #expect(refused.message.contains("another type"))
            #expect(refused.message.contains("ECDSA"))
        }

        @Test func hashedKnownHostsEntriesMatch() async throws {
            let file = sshd.directory + "/hashed_known_hosts"
            try FileManager.default.copyItem(atPath: sshd.knownHosts, toPath: file)
            try SSHDFixture.run("/usr/bin/ssh-keygen", ["-H", "-f", file])
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(text.hasPrefix("|1|"))
            #expect(await SSHDFixture.connectError(sshd.settings(knownHostsFiles: [file])) == nil)
        }

        @Test func anEntryForAnotherPortDoesNotCount() async throws {
            // A key recorded for port 22 of the same address says nothing about this port (OpenSSH semantics).
            let other = sshd.directory + "/port22_key"
            try SSHDFixture.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other])
            let otherPublic = try String(contentsOfFile: other + ".pub", encoding: .utf8)
                .split(separator: " ").prefix(2).joined(separator: " ")
            let file = sshd.directory + "/port22_known_hosts"
            try "127.0.0.1 \(otherPublic)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try #require(await SSHDFixture.connectError(sshd.settings(knownHostsFiles: [file])))
            #expect(refused.code == .hostKeyUnknown)
        }

        @Test func anyOfSeveralFilesMayHoldTheKey() async throws {
            let empty = sshd.directory + "/empty_known_hosts"
            try "".write(toFile: empty, atomically: true, encoding: .utf8)
            #expect(await SSHDFixture.connectError(sshd.settings(knownHostsFiles: [empty, sshd.knownHosts])) == nil)
        }

        @Test func unparsableLinesAreSkippedNotFatal() async throws {
            let file = sshd.directory + "/messy_known_hosts"
            let good = try String(contentsOfFile: sshd.knownHosts, encoding: .utf8)
            try """
                @cert-authority *.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKhBXa6JPtVf5lKOjW6nZaDq2E8L4sB0RLoeR1zdHqv4
                garbage line
                example.org sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA==
                \(good)
                """.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await SSHDFixture.connectError(sshd.settings(knownHostsFiles: [file])) == nil)
        }
    }
}
