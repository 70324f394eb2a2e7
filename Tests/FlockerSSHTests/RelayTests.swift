import Foundation
import Testing

@testable import FlockerSSH

extension LoopbackSSH {
    /// A BytePipe relaying one command's stdout into another's stdin (the zfs send | zfs recv shape), and the
    /// two failure directions.
    @Suite("BytePipe relay between connections", .serialized)
    final class RelayTests {
        let sshd: SSHDFixture

        init() throws {
            sshd = try SSHDFixture()
        }

        /// `tee >(sha256sum >&2)` hashes exactly what the producer sent; the consumer hashes what it received.
        static let producer = "head -c %d /dev/urandom | tee >(sha256sum >&2)"

        @Test func relayBetweenTwoConnectionsKeepsEveryByte() async throws {
            let a = try await sshd.connect()
            let b = try await sshd.connect()
            let size = 48 << 20
            let pipe = BytePipe(capacity: 1 << 20)
            async let sent = a.execute(
                "bash -c '\(String(format: Self.producer, size))'", stdout: .pipe(pipe), idleTimeout: .seconds(30))
            async let received = b.execute("sha256sum", stdin: .pipe(pipe), idleTimeout: .seconds(30))
            let (producer, consumer) = try await (sent, received)
            #expect(producer.exit == .exited(0))
            #expect(consumer.exit == .exited(0))
            let sentHash = producer.stderr.text.prefix(64)
            let receivedHash = consumer.stdout.text.prefix(64)
            #expect(sentHash.count == 64)
            #expect(sentHash == receivedHash)
            #expect(pipe.bytesTransferred == UInt64(size))
        }

        @Test func relayWithinOneConnection() async throws {
            let a = try await sshd.connect()
            let size = 16 << 20
            let pipe = BytePipe(capacity: 256 << 10)
            async let sent = a.execute(
                "bash -c '\(String(format: Self.producer, size))'", stdout: .pipe(pipe), idleTimeout: .seconds(30))
            async let received = a.execute("sha256sum", stdin: .pipe(pipe), idleTimeout: .seconds(30))
            let (producer, consumer) = try await (sent, received)
            #expect(producer.stderr.text.prefix(64) == consumer.stdout.text.prefix(64))
            #expect(pipe.bytesTransferred == UInt64(size))
        }

        /// The producer exits 5 after writing 3 MiB while the consumer is not reading yet: the data sits in the
        /// pipe and the windows. The consumer must stop at once (dropping what is buffered), so its command sees
        /// a truncated stream, and its execute must throw.
        @Test func producerFailingMidwayAbortsTheConsumer() async throws {
            let a = try await sshd.connect()
            let b = try await sshd.connect()
            let countFile = sshd.directory + "/received-count"
            let pipe = BytePipe(capacity: 1 << 20)
            let start = ContinuousClock.now
            async let sent = outcome { () async throws(SSHError) in
                try await a.execute("head -c 3145728 /dev/zero; exit 5", stdout: .pipe(pipe))
            }
            async let received = outcome { () async throws(SSHError) in
                try await b.execute("sleep 2; wc -c > \(countFile)", stdin: .pipe(pipe))
            }
            let producer = try await sent.get()
            #expect(producer.exit == .exited(5))
            switch await received {
            case .success(let r):
                Issue.record("the consumer should have thrown, got \(r.exit)")
            case .failure(let error):
                #expect(error.code == .inputAborted)
                #expect(error.message.contains("exit status 5"))
            }
            #expect(ContinuousClock.now - start < .seconds(2), "the consumer was not aborted promptly")
            // The remote consumer wakes up after its sleep, reads what reached it, then sees the end.
            var count: Int?
            for _ in 0..<100 where count == nil {
                try await Task.sleep(for: .milliseconds(100))
                count = (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap {
                    Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
            }
            let bytesReceived = try #require(count)
            #expect(bytesReceived < 3_145_728, "the consumer's command received the whole stream")
        }

        @Test func consumerEndingEarlyStopsTheProducerPromptly() async throws {
            let a = try await sshd.connect()
            let b = try await sshd.connect()
            let pipe = BytePipe(capacity: 1 << 20)
            let start = ContinuousClock.now
            async let sent = outcome { () async throws(SSHError) in
                try await a.execute("cat /dev/zero", stdout: .pipe(pipe), idleTimeout: .seconds(20))
            }
            async let received = outcome { () async throws(SSHError) in
                try await b.execute("head -c 1048576 > /dev/null; exit 4", stdin: .pipe(pipe), idleTimeout: .seconds(20))
            }
            let consumer = try await received.get()
            #expect(consumer.exit == .exited(4))
            switch await sent {
            case .success(let r):
                Issue.record("the producer should have thrown, got \(r.exit)")
            case .failure(let error):
                #expect(error.code == .outputAborted)
                #expect(error.message.contains("exit status 4"))
            }
            #expect(ContinuousClock.now - start < .seconds(10))
            // The connection is still fine for other work.
            #expect(try await a.execute("echo ok").stdout.text == "ok\n")
        }

        @Test func producerTransportFailureAbortsTheConsumer() async throws {
            let a = try await sshd.connect()
            let b = try await sshd.connect()
            let pipe = BytePipe(capacity: 64 << 10)
            async let sent = outcome { () async throws(SSHError) in
                try await a.execute("head -c 100000 /dev/zero; sleep 30", stdout: .pipe(pipe), idleTimeout: .seconds(1))
            }
            async let received = outcome { () async throws(SSHError) in
                try await b.execute("cat > /dev/null", stdin: .pipe(pipe), idleTimeout: .seconds(20))
            }
            let producerResult = await sent
            let consumerResult = await received
            guard case .failure(let producerError) = producerResult, case .failure(let consumerError) = consumerResult
            else {
                Issue.record("both sides should fail: \(producerResult) \(consumerResult)")
                return
            }
            #expect(producerError.code == .timedOut)
            #expect(consumerError.code == .inputAborted)
            #expect(consumerError.message.contains("idle timeout"))
        }

        @Test func asyncWriterFeedsARemoteCommand() async throws {
            let b = try await sshd.connect()
            let pipe = BytePipe(capacity: 4096)
            async let received = b.execute("wc -c", stdin: .pipe(pipe))
            for _ in 0..<100 { try await pipe.write([UInt8](repeating: 65, count: 1000)) }
            pipe.finish()
            let result = try await received
            #expect(result.stdout.text.trimmingCharacters(in: .whitespacesAndNewlines) == "100000")
        }

        @Test func asyncReaderDrainsARemoteCommand() async throws {
            let a = try await sshd.connect()
            let pipe = BytePipe(capacity: 4096)
            async let sent = a.execute("seq 1 20000", stdout: .pipe(pipe))
            var bytes: [UInt8] = []
            while let chunk = try await pipe.read(upTo: 1000) { bytes += chunk }
            _ = try await sent
            let lines = bytes.text.split(separator: "\n")
            #expect(lines.count == 20000)
            #expect(lines.last == "20000")
        }
    }
}

/// Runs a throwing call and returns its outcome (async let drops typed throws).
func outcome<T>(_ body: () async throws(SSHError) -> T) async -> Result<T, SSHError> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// BytePipe on its own, through its async API.
@Suite("BytePipe")
struct BytePipeTests {
    @Test func bytesArriveInOrderAndEndCleanly() async throws {
        let pipe = BytePipe(capacity: 7)
        let input = (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        async let writer: Void = {
            for chunk in stride(from: 0, to: input.count, by: 13) {
                try await pipe.write(Array(input[chunk..<min(chunk + 13, input.count)]))
            }
            pipe.finish()
        }()
        var output: [UInt8] = []
        while let chunk = try await pipe.read(upTo: 5) { output += chunk }
        try await writer
        #expect(output == input)
        #expect(pipe.bytesTransferred == 1000)
    }

    @Test func producerFailureReachesTheReader() async throws {
        let pipe = BytePipe(capacity: 16)
        try await pipe.write([1, 2, 3])
        pipe.fail(SSHError(code: .inputAborted, host: "a", message: "zfs send failed"))
        let error = await #expect(throws: SSHError.self) { _ = try await pipe.read() }
        #expect(error?.message == "zfs send failed")
    }

    @Test func readerStoppingFailsTheWriter() async throws {
        let pipe = BytePipe(capacity: 4)
        async let writer = outcome { () async throws(SSHError) in
            try await pipe.write([UInt8](repeating: 0, count: 100))
        }
        _ = try await pipe.read(upTo: 2)
        pipe.stopReading(SSHError(code: .outputAborted, host: "b", message: "zfs recv exited"))
        guard case .failure(let error) = await writer else {
            Issue.record("the writer should have failed")
            return
        }
        #expect(error.code == .outputAborted)
    }
}
