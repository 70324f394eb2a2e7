/// How a command ended on a node: an exit code or a signal. A non-zero exit is data, not an error.
public enum RemoteStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(String)

    public var isSuccess: Bool { self == .exited(0) }
    public var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let name): return "killed by SIG\(name)"
        }
    }
}

/// What a command printed and how it ended.
public struct CommandResult: Sendable, Hashable {
    public var status: RemoteStatus
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    public init(status: RemoteStatus, stdout: [UInt8] = [], stderr: [UInt8] = []) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// A failure to talk to a node at all (as opposed to a command that ran and failed).
public struct RemoteError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Could not connect: refused, unreachable, timed out.
        case unreachable
        /// The node's name did not resolve (not even an address to try).
        case nameNotResolved
        /// Host key unknown or changed.
        case hostKey
        /// Authentication refused.
        case authentication
        /// A command or transfer waited longer than its deadline.
        case timedOut
        /// The connection broke during a command.
        case disconnected
        /// Anything else on the transport (protocol errors, bad configuration).
        case other
    }
    public var kind: Kind
    public var node: String
    public var message: String

    public init(_ kind: Kind, node: String, message: String) {
        self.kind = kind
        self.node = node
        self.message = message
    }

    public var description: String { "\(node): \(message)" }
}

/// The result of relaying a stream from one node to another.
public struct RelayResult: Sendable, Hashable {
    /// How the sending command ended (e.g. `zfs send`).
    public var sender: CommandResult
    /// How the receiving command ended (e.g. `zfs recv`).
    public var receiver: CommandResult
    /// Bytes carried from sender to receiver.
    public var bytes: UInt64

    public init(sender: CommandResult, receiver: CommandResult, bytes: UInt64) {
        self.sender = sender
        self.receiver = receiver
        self.bytes = bytes
    }

    public var isSuccess: Bool { sender.status.isSuccess && receiver.status.isSuccess }
}

/// One node, reached over one connection that lasts the whole run.
///
/// The libssh2 connection is one conformer (`SSHRemoteHost`); a recording fake is another, for unit tests of
/// discovery, planning and execution. Nothing in the core talks to a node except through this protocol.
public protocol RemoteHost: AnyObject, Sendable {
    /// The node's name as the deployment file writes it.
    var node: String { get }
    /// The node's IPv4 address as this machine reached it: the destination of routing rules and link variables.
    var address: String { get }

    /// Runs `command`, feeding it `stdin`, and returns what it printed (bounded) and how it ended.
    /// Throws only when the node cannot be talked to or `timeout` passes.
    func run(_ command: RemoteCommand, stdin: [UInt8], timeout: Duration) async throws(RemoteError) -> CommandResult

    /// Streams the stdout of `send` (run here) into the stdin of `receive` (run on `target`), through this
    /// machine, with backpressure and never holding the stream in memory. `progress` is called with the byte
    /// count so far, from any thread. If either side fails, the other is stopped and sees a broken stream.
    /// `idleTimeout` bounds how long the stream may stand still.
    func relay(
        _ send: RemoteCommand, to target: any RemoteHost, _ receive: RemoteCommand, idleTimeout: Duration,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws(RemoteError) -> RelayResult

    /// Closes the connection.
    func close() async

    /// From now on, run every command with the environment variable `FLOCKER_RUN=token` (the run's lock
    /// token), so that the processes a run started on the node can be found after it died (see
    /// `RunLock.leftoversCommand`). The token is a plain word; the default does nothing.
    func tagCommands(run token: String)
}

extension RemoteHost {
    public func tagCommands(run token: String) {}
}

extension RemoteHost {
    /// Runs `command` with no stdin.
    public func run(_ command: RemoteCommand, timeout: Duration = .seconds(120)) async throws(RemoteError) -> CommandResult {
        try await run(command, stdin: [], timeout: timeout)
    }
}

/// Opens connections to nodes.
public protocol NodeConnector: Sendable {
    /// Connects to `node` (a name from the deployment file). Throws a `RemoteError` naming the node and the reason.
    func connect(_ node: String) async throws(RemoteError) -> any RemoteHost
}
