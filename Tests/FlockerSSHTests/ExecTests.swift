import Foundation
import Synchronization
import Testing

@testable import FlockerSSH

extension LoopbackSSH {
    /// Remote commands against a real loopback sshd.
    @Suite("exec over a loopback sshd", .serialized)
    final class ExecTests {
        let sshd: SSHDFixture

        init() throws {
            sshd = try SSHDFixture()
        }

        @Test func stdinStdoutStderrAndExitCode() async throws {
            let connection = try await sshd.connect()
            let result = try await connection.execute(
                "tr a-z A-Z; echo oops >&2; exit 3", stdin: .bytes(Array("hello from stdin\n".utf8)))
            #expect(result.stdout.text == "HELLO FROM STDIN\n")
            #expect(result.stderr.text == "oops\n")
            #expect(result.exit == .exited(3))
            #expect(!result.exit.isSuccess)
            #expect(!result.stdoutTruncated && !result.stderrTruncated)
            #expect(connection.remoteAddress == "127.0.0.1")

            let ok = try await connection.execute("printf 'a\\0b'")
            #expect(ok.exit == .exited(0) && ok.exit.isSuccess)
            #expect(ok.stdout == [97, 0, 98])
            await connection.close()
        }

        @Test func collectLimitTruncates() async throws {
            let connection = try await sshd.connect()
            let result = try await connection.execute(
                "head -c 100000 /dev/zero; head -c 5000 /dev/zero >&2",
                stdout: .collect(limit: 1000), stderr: .collect(limit: 10))
            #expect(result.stdout.count == 1000)
            #expect(result.stdoutTruncated)
            #expect(result.stderr.count == 10)
            #expect(result.stderrTruncated)
            #expect(result.exit == .exited(0))
        }

        @Test func hundredMebibytesStreamedWithoutBeingHeld() async throws {
            let connection = try await sshd.connect()
            let total = 100 << 20
            let counted = Atomic<Int>(0)
            let peakDuringKiB = Atomic<Int>(0)
            let residentBefore = ProcessMemory.residentKiB
            ProcessMemory.resetPeak()
            let result = try await connection.execute(
                "head -c \(total) /dev/urandom",
                stdout: .handler { chunk in
                    let seen = counted.add(chunk.count, ordering: .relaxed).newValue
                    if seen % (8 << 20) < chunk.count {
                        _ = peakDuringKiB.max(ProcessMemory.residentKiB, ordering: .relaxed)
                    }
                })
            let peakGrowthKiB = ProcessMemory.peakKiB - residentBefore
            print("streamed \(counted.load(ordering: .relaxed)) bytes; peak resident memory grew by \(peakGrowthKiB) KiB")
            #expect(result.exit == .exited(0))
            #expect(counted.load(ordering: .relaxed) == total)
            #expect(result.stdout.isEmpty)
            // Held in memory it would be 100 MiB; streamed, the growth is a few windows and buffers. Under a
            // sanitizer the resident size measures its allocator instead (see ProcessMemory.underSanitizer).
            if !ProcessMemory.underSanitizer {
                #expect(peakGrowthKiB < 40 << 10, "peak resident memory grew by \(peakGrowthKiB) KiB")
                #expect(peakDuringKiB.load(ordering: .relaxed) - residentBefore < 40 << 10)
            }
        }

        @Test func tensOfMebibytesOfStdinEchoedByCat() async throws {
            let connection = try await sshd.connect()
            var input = [UInt8](repeating: 0, count: 24 << 20)
            for i in input.indices { input[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
            // cat writes back while we are still writing: both windows fill unless the loop reads as it writes.
            let result = try await connection.execute("cat", stdin: .bytes(input), idleTimeout: .seconds(30))
            #expect(result.exit == .exited(0))
            #expect(result.stdout.count == input.count)
            #expect(result.stdout == input)
        }

        @Test func severalCommandsAtOnceOnOneConnection() async throws {
            let connection = try await sshd.connect()
            let start = ContinuousClock.now
            let outputs = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for i in 0..<6 {
                    group.addTask {
                        let r = try await connection.execute("sleep 1; echo \(i); echo err\(i) >&2; exit \(i)")
                        #expect(r.exit == .exited(Int32(i)))
                        #expect(r.stderr.text == "err\(i)\n")
                        return (i, r.stdout.text)
                    }
                }
                var all: [Int: String] = [:]
                for try await (i, out) in group { all[i] = out }
                return all
            }
            let elapsed = ContinuousClock.now - start
            #expect(outputs.count == 6)
            for (i, out) in outputs { #expect(out == "\(i)\n") }
            #expect(elapsed < .seconds(4), "6 one-second commands took \(elapsed): not concurrent")
        }

        @Test func moreCommandsThanChannelSlotsWaitTheirTurn() async throws {
            var options = SSHDFixture.options
            options.maxConcurrentChannels = 2
            let connection = try await sshd.connect(options: options)
            let results = try await withThrowingTaskGroup(of: SSHExecResult.self) { group in
                for i in 0..<12 { group.addTask { try await connection.execute("echo \(i)") } }
                var all: [SSHExecResult] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(results.count == 12)
            #expect(Set(results.map(\.stdout.text)).count == 12)
        }

        @Test func killedBySignal() async throws {
            let connection = try await sshd.connect()
            let result = try await connection.execute("echo before; kill -9 $$")
            #expect(result.exit == .signaled("KILL"))
            #expect(result.stdout.text == "before\n")
            #expect(result.exit.description == "killed by signal KILL")
        }

        @Test func idleTimeoutFiresPromptlyAndTheConnectionStaysUsable() async throws {
            let connection = try await sshd.connect()
            let start = ContinuousClock.now
            let error = await #expect(throws: SSHError.self) {
                try await connection.execute("sleep 30", idleTimeout: .seconds(1))
            }
            let elapsed = ContinuousClock.now - start
            #expect(error?.code == .timedOut)
            #expect(error?.message.contains("idle timeout") == true)
            #expect(elapsed < .seconds(4), "idle timeout took \(elapsed)")
            let after = try await connection.execute("echo still here")
            #expect(after.stdout.text == "still here\n")
        }

        @Test func overallTimeoutFiresEvenWhileOutputFlows() async throws {
            let connection = try await sshd.connect()
            let start = ContinuousClock.now
            let error = await #expect(throws: SSHError.self) {
                try await connection.execute(
                    "while :; do echo tick; sleep 0.1; done", idleTimeout: .seconds(10), timeout: .seconds(1))
            }
            #expect(error?.code == .timedOut)
            #expect(ContinuousClock.now - start < .seconds(4))
        }

        @Test func cancellingTheTaskCancelsTheCommand() async throws {
            let connection = try await sshd.connect()
            let task = Task { try await connection.execute("sleep 30") }
            try await Task.sleep(for: .milliseconds(300))
            let start = ContinuousClock.now
            task.cancel()
            let result = await task.result
            #expect(ContinuousClock.now - start < .seconds(2))
            guard case .failure(let error as SSHError) = result else {
                Issue.record("expected a cancellation error, got \(result)")
                return
            }
            #expect(error.code == .cancelled)
        }

        @Test func closeFailsRunningAndLaterCommands() async throws {
            let connection = try await sshd.connect()
            let running = Task { try await connection.execute("sleep 30") }
            try await Task.sleep(for: .milliseconds(300))
            await connection.close()
            let result = await running.result
            guard case .failure(let error as SSHError) = result else {
                Issue.record("expected the running command to fail, got \(result)")
                return
            }
            #expect(error.code == .disconnected)
            let later = await #expect(throws: SSHError.self) { try await connection.execute("true") }
            #expect(later?.code == .disconnected)
        }

        @Test func serverGoingAwayFailsTheCommand() async throws {
            let connection = try await sshd.connect()
            let running = Task { try await connection.execute("sleep 30", idleTimeout: nil) }
            try await Task.sleep(for: .milliseconds(300))
            // Kill our sshd's per-connection processes (by pid, found through their parent): the server side of
            // the TCP connection disappears.
            sshd.killConnections()
            let result = await running.result
            guard case .failure(let error as SSHError) = result else {
                Issue.record("expected a failure, got \(result)")
                return
            }
            #expect(error.code == .disconnected)
        }
    }
}
