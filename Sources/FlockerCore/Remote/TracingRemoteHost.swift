import Foundation

/// Prints every command a host runs (`--verbose`), then forwards it. Lines look like
/// `trace node1 (4 ms): docker version --format …`, so a reader (or a test) sees exactly what ran where.
public final class TracingRemoteHost: RemoteHost {
    public let inner: any RemoteHost
    let out: TextOutput
    public var node: String { inner.node }
    public var address: String { inner.address }

    public init(_ inner: any RemoteHost, out: TextOutput = .standardError) {
        self.inner = inner
        self.out = out
    }

    public func run(_ command: RemoteCommand, stdin: [UInt8], timeout: Duration) async throws(RemoteError) -> CommandResult {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let result = try await inner.run(command, stdin: stdin, timeout: timeout)
            trace("\(node) (\(ms(clock.now - start)), \(result.status)\(stdin.isEmpty ? "" : ", \(stdin.count) bytes on stdin")): \(oneLine(command))")
            return result
        } catch {
            trace("\(node) (\(ms(clock.now - start)), \(error.message)): \(oneLine(command))")
            throw error
        }
    }

    public func relay(
        _ send: RemoteCommand, to target: any RemoteHost, _ receive: RemoteCommand, idleTimeout: Duration,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws(RemoteError) -> RelayResult {
        let unwrapped = (target as? TracingRemoteHost)?.inner ?? target
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await inner.relay(send, to: unwrapped, receive, idleTimeout: idleTimeout, progress: progress)
        trace("\(node) → \(target.node) (\(ms(clock.now - start)), \(result.bytes) bytes): \(oneLine(send)) ⇒ \(oneLine(receive))")
        return result
    }

    public func close() async { await inner.close() }

    public func tagCommands(run token: String) { inner.tagCommands(run: token) }

    private func trace(_ text: String) { out.write("trace " + text + "\n") }
    private func ms(_ d: Duration) -> String { "\(Int(Seconds.value(d) * 1000)) ms" }
    private func oneLine(_ c: RemoteCommand) -> String {
        let t = c.shellText
        return t.count > 400 ? String(t.prefix(400)).replacingOccurrences(of: "\n", with: "⏎") + "…" : t.replacingOccurrences(of: "\n", with: "⏎")
    }
}

/// Wraps every host a connector opens in a `TracingRemoteHost`, and prints how long each connection took to
/// open (TCP, SSH handshake, host key check, authentication) as `timing node1: connected in 23 ms`, so that
/// `-v` shows where a run's time went: connecting, then each remote command (its `trace` line).
public struct TracingConnector: NodeConnector {
    public let inner: any NodeConnector
    public let out: TextOutput
    public init(_ inner: any NodeConnector, out: TextOutput = .standardError) {
        self.inner = inner
        self.out = out
    }
    public func connect(_ node: String) async throws(RemoteError) -> any RemoteHost {
        let clock = ContinuousClock()
        let start = clock.now
        let host = try await inner.connect(node)
        out.write("timing \(node): connected in \(Int(Seconds.value(clock.now - start) * 1000)) ms\n")
        return TracingRemoteHost(host, out: out)
    }
}
