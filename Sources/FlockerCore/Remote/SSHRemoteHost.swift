import FlockerSSH
import Foundation
import Synchronization

/// A node reached over our libssh2 wrapper: the real `RemoteHost`.
public final class SSHRemoteHost: RemoteHost {
    public let node: String
    public let address: String
    let connection: SSHConnection
    /// Bounds on what a command's output may hold in memory (discovery output is the largest).
    static let stdoutLimit = 64 << 20
    static let stderrLimit = 1 << 20

    /// `export FLOCKER_RUN=TOKEN; ` once the run has a token (see `tagCommands`), put before every command.
    private let tag = Mutex("")

    public func tagCommands(run token: String) {
        guard !token.isEmpty, token.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return }
        tag.withLock { $0 = "export \(RunLock.runVariable)=\(token); " }
    }

    /// The text sent to the node's shell for `command`.
    func text(_ command: RemoteCommand) -> String { tag.withLock { $0 } + command.shellText }

    init(node: String, address: String, connection: SSHConnection) {
        self.node = node
        self.address = address
        self.connection = connection
    }

    public func run(_ command: RemoteCommand, stdin: [UInt8], timeout: Duration) async throws(RemoteError) -> CommandResult {
        do {
            let r = try await connection.execute(
                text(command), stdin: stdin.isEmpty ? .none : .bytes(stdin),
                stdout: .collect(limit: Self.stdoutLimit), stderr: .collect(limit: Self.stderrLimit),
                idleTimeout: timeout, timeout: timeout)
            return CommandResult(status: Self.status(r.exit), stdout: r.stdout, stderr: r.stderr)
        } catch {
            throw Self.remoteError(error, node: node)
        }
    }

    public func relay(
        _ send: RemoteCommand, to target: any RemoteHost, _ receive: RemoteCommand, idleTimeout: Duration,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws(RemoteError) -> RelayResult {
        guard let other = target as? SSHRemoteHost else {
            throw RemoteError(.other, node: target.node, message: "cannot relay to a node that is not reached over SSH")
        }
        let pipe = BytePipe(capacity: 8 << 20)
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                progress(pipe.bytesTransferred)
            }
        }
        defer { ticker.cancel() }
        let sendText = text(send)
        let receiveText = other.text(receive)
        let sender = connection
        let receiver = other.connection
        async let sent = Self.capture { () async throws(SSHError) -> SSHExecResult in
            try await sender.execute(sendText, stdin: .none, stdout: .pipe(pipe), stderr: .collect(limit: Self.stderrLimit),
                                     idleTimeout: idleTimeout, timeout: nil)
        }
        async let received = Self.capture { () async throws(SSHError) -> SSHExecResult in
            try await receiver.execute(receiveText, stdin: .pipe(pipe), stdout: .collect(limit: Self.stderrLimit),
                                       stderr: .collect(limit: Self.stderrLimit), idleTimeout: idleTimeout, timeout: nil)
        }
        let (s, r) = await (sent, received)
        progress(pipe.bytesTransferred)
        switch (s, r) {
        case (.success(let a), .success(let b)):
            return RelayResult(sender: CommandResult(status: Self.status(a.exit), stderr: a.stderr),
                               receiver: CommandResult(status: Self.status(b.exit), stdout: b.stdout, stderr: b.stderr),
                               bytes: pipe.bytesTransferred)
        case (.failure(let e), .success(let b)):
            // Either the receiver ended first (the sender was stopped: outputAborted) or the sender's connection
            // failed and the receiver saw a broken stream.
            if b.exit.isSuccess { throw Self.remoteError(e, node: node) }
            let sender = e.code == .outputAborted
                ? CommandResult(status: .signaled("PIPE"), stderr: Array("stopped sending: the receiver ended first".utf8))
                : CommandResult(status: .exited(255), stderr: Array(e.message.utf8))
            return RelayResult(sender: sender,
                               receiver: CommandResult(status: Self.status(b.exit), stdout: b.stdout, stderr: b.stderr),
                               bytes: pipe.bytesTransferred)
        case (.success(let a), .failure(let e)):
            if e.code == .inputAborted || !a.exit.isSuccess {
                return RelayResult(sender: CommandResult(status: Self.status(a.exit), stderr: a.stderr),
                                   receiver: CommandResult(status: .exited(255), stderr: Array(e.message.utf8)),
                                   bytes: pipe.bytesTransferred)
            }
            throw Self.remoteError(e, node: other.node)
        case (.failure(let e), .failure(let f)):
            // Report the one that is not merely the consequence of the other: a sender cut off because its reader
            // went away (outputAborted) is the receiver's failure, unless the receiver only saw the stream break.
            throw e.code == .outputAborted && f.code != .inputAborted
                ? Self.remoteError(f, node: other.node) : Self.remoteError(e, node: node)
        }
    }

    public func close() async { await connection.close() }

    private static func capture(_ body: () async throws(SSHError) -> SSHExecResult) async -> Result<SSHExecResult, SSHError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    static func status(_ exit: RemoteExit) -> RemoteStatus {
        switch exit {
        case .exited(let code): return .exited(code)
        case .signaled(let name): return .signaled(name)
        }
    }

    static func remoteError(_ e: SSHError, node: String) -> RemoteError {
        let kind: RemoteError.Kind
        switch e.code {
        case .nameNotResolved: kind = .nameNotResolved
        case .connectionRefused, .hostUnreachable: kind = .unreachable
        case .hostKeyUnknown, .hostKeyChanged: kind = .hostKey
        case .authenticationFailed, .rsaKeyUnsupported, .keyFileUnreadable: kind = .authentication
        case .timedOut: kind = .timedOut
        case .disconnected: kind = .disconnected
        default: kind = .other
        }
        return RemoteError(kind, node: node, message: e.description.hasPrefix(node) ? String(e.description.dropFirst(node.count).drop { $0 == ":" || $0 == " " }) : e.description)
    }
}

/// Opens one SSH connection per node, with the user's ssh_config subset applied.
public struct SSHNodeConnector: NodeConnector {
    public let config: SSHClientConfig
    public let options: SSHConnectOptions

    public init(config: SSHClientConfig, options: SSHConnectOptions) {
        self.config = config
        self.options = options
    }

    public func connect(_ node: String) async throws(RemoteError) -> any RemoteHost {
        let settings = config.settings(for: node)
        let connection: SSHConnection
        do {
            connection = try await SSHConnection.connect(settings, options: options)
        } catch {
            throw SSHRemoteHost.remoteError(error, node: node)
        }
        var address = connection.remoteAddress
        if address.hasPrefix("::ffff:") { address = String(address.dropFirst(7)) }
        guard address.split(separator: ".").count == 4 else {
            await connection.close()
            throw RemoteError(.other, node: node,
                message: "reached at \(address), but the routing mesh needs an IPv4 address: set HostName to the node's IPv4 address in the ssh config")
        }
        return SSHRemoteHost(node: node, address: address, connection: connection)
    }
}
