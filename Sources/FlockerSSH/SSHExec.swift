/// Where a remote command's stdin comes from.
public enum SSHInput: Sendable {
    /// No input: the remote sees end-of-file at once.
    case none
    /// These bytes, then end-of-file.
    case bytes([UInt8])
    /// Everything written to the pipe until its producer calls ``BytePipe/finish()``.
    ///
    /// If the producer fails instead (``BytePipe/fail(_:)``), the channel is closed without sending the rest,
    /// the remote command sees a truncated stream, and `execute` throws `inputAborted`.
    case pipe(BytePipe)
}

/// Where a remote command's stdout or stderr goes.
public enum SSHOutput: Sendable {
    /// Read and dropped.
    case discard
    /// Kept in ``SSHExecResult`` up to `limit` bytes; anything beyond is read and dropped, and the
    /// `…Truncated` flag is set.
    case collect(limit: Int)
    /// Written into the pipe, with backpressure: while the pipe is full the channel is not read, so the
    /// remote command blocks. The pipe is finished when the command exits 0 and failed otherwise.
    case pipe(BytePipe)
    /// Handed to the closure chunk by chunk, on the connection's worker thread: keep it short and never
    /// block in it (it stalls every command on the connection).
    case handler(@Sendable ([UInt8]) -> Void)
}

/// How a remote command ended.
public enum RemoteExit: Sendable, Hashable, CustomStringConvertible {
    /// The command exited with this status.
    ///
    /// The SSH protocol does not say whether a status was sent; when the server closes a channel without
    /// one (which OpenSSH does not do), libssh2 reports 0.
    case exited(Int32)
    /// The command was killed by this signal, named without `SIG` (e.g. `"KILL"`).
    case signaled(String)

    /// True for `exited(0)`.
    public var isSuccess: Bool { self == .exited(0) }

    /// `exit status 3` or `killed by signal KILL`.
    public var description: String {
        switch self {
        case .exited(let code): return "exit status \(code)"
        case .signaled(let name): return "killed by signal \(name)"
        }
    }
}

/// What a remote command produced. A non-zero exit is a normal result, not an error.
public struct SSHExecResult: Sendable {
    /// How the command ended.
    public var exit: RemoteExit
    /// Collected stdout (empty unless stdout was `.collect`).
    public var stdout: [UInt8]
    /// Collected stderr (empty unless stderr was `.collect`).
    public var stderr: [UInt8]
    /// True when stdout exceeded its collect limit and the rest was dropped.
    public var stdoutTruncated: Bool
    /// True when stderr exceeded its collect limit and the rest was dropped.
    public var stderrTruncated: Bool

    /// Creates a result (for fakes and tests).
    public init(exit: RemoteExit, stdout: [UInt8], stderr: [UInt8], stdoutTruncated: Bool, stderrTruncated: Bool) {
        self.exit = exit
        self.stdout = stdout
        self.stderr = stderr
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
    }
}

/// Options for ``SSHConnection/connect(_:options:)`` that do not come from ssh_config.
public struct SSHConnectOptions: Sendable {
    /// Explicit opt-in (the CLI's `--accept-new-host-keys`): an unknown host's key is recorded in the first
    /// known_hosts file and accepted. A changed key is still refused.
    public var acceptNewHostKeys: Bool = false
    /// Used when the config sets no `ConnectTimeout`; covers TCP connect, SSH handshake and authentication.
    public var connectTimeout: Duration = .seconds(10)
    /// Given on the command line (`--connect-timeout`): wins over the config's `ConnectTimeout`, as a `-o`
    /// option or flag does in OpenSSH.
    public var connectTimeoutOverride: Duration? = nil
    /// How often an SSH keepalive is sent on a quiet connection.
    public var keepaliveInterval: Duration = .seconds(15)
    /// Try the keys of ssh-agent before identity files.
    public var useAgent: Bool = true
    /// The agent socket; nil means the `SSH_AUTH_SOCK` environment variable.
    public var agentSocket: String? = nil
    /// At most this many commands run at once on one connection; more wait their turn.
    /// (OpenSSH's sshd allows 10 sessions per connection by default, `MaxSessions`.)
    public var maxConcurrentChannels: Int = 8
    /// The receive window offered for each channel, in bytes: how far the server may send ahead of us, and
    /// so also how much unread output libssh2 may buffer per channel. 4 MiB measured best on loopback
    /// (2 MiB, OpenSSH's size, made us wait for the server more often; 16 MiB slowed sshd down); see
    /// bench/README.md.
    public var channelWindowSize: Int = 4 << 20
    /// Preferred ciphers, most preferred first (comma-separated libssh2 names); nil keeps FlockerSSH's order.
    public var cipherPreference: String? = nil
    /// Preferred MACs, most preferred first (comma-separated libssh2 names); nil keeps FlockerSSH's order.
    public var macPreference: String? = nil

    /// Default options.
    public init() {}
}

/// The algorithms negotiated for a connection (as libssh2 names them).
public struct SSHAlgorithms: Sendable, Hashable, CustomStringConvertible {
    /// Key exchange, e.g. `curve25519-sha256`.
    public var keyExchange: String
    /// Host key type, e.g. `ssh-ed25519`.
    public var hostKey: String
    /// Cipher from us to the server, e.g. `aes128-ctr`.
    public var cipherClientToServer: String
    /// Cipher from the server to us.
    public var cipherServerToClient: String
    /// MAC from us to the server, e.g. `hmac-sha2-256`.
    public var macClientToServer: String
    /// MAC from the server to us.
    public var macServerToClient: String

    /// One line naming every negotiated algorithm.
    public var description: String {
        "kex \(keyExchange), host key \(hostKey), cipher \(cipherServerToClient)/\(cipherClientToServer), MAC \(macServerToClient)/\(macClientToServer)"
    }
}
