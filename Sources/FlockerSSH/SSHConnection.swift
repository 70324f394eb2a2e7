/// One authenticated SSH connection, reused for a whole run.
///
/// The libssh2 session and all its channels are owned by one worker thread; every method may be called
/// from any task, and none blocks Swift's cooperative thread pool (work is handed to the worker and the
/// caller is resumed through a continuation). Several `execute` calls may run at once, each on its own
/// channel.
public final class SSHConnection: Sendable {
    /// The settings this connection was made with.
    public let settings: SSHHostSettings
    /// The numeric IP address of the peer actually connected (e.g. `10.77.0.12`).
    public let remoteAddress: String
    /// The key exchange, host key, cipher and MAC that were negotiated.
    public let algorithms: SSHAlgorithms
    private let worker: SessionWorker

    private init(settings: SSHHostSettings, connected: Connected, worker: SessionWorker) {
        self.settings = settings
        self.remoteAddress = connected.address
        self.algorithms = connected.algorithms
        self.worker = worker
    }

    deinit {
        worker.requestClose()
    }

    /// Connects, verifies the host key against known_hosts and authenticates.
    ///
    /// DNS, TCP connect, handshake and authentication all happen on the connection's own thread, within
    /// the connect timeout (`ConnectTimeout`, else `options.connectTimeout`).
    ///
    /// - Throws: ``SSHError`` — `nameNotResolved`, `connectionRefused`, `hostUnreachable`, `timedOut`,
    ///   `hostKeyUnknown`, `hostKeyChanged`, `authenticationFailed`, `rsaKeyUnsupported`, `keyFileUnreadable`,
    ///   `protocolError`, `cancelled`.
    public static func connect(_ settings: SSHHostSettings, options: SSHConnectOptions) async throws(SSHError)
        -> SSHConnection
    {
        let worker = SessionWorker(settings: settings, options: options)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<Connected, SSHError>, Never>) in
                worker.start(connect: c)
            }
        } onCancel: {
            worker.connectCancel.cancel()
            worker.wake.wake()
        }
        return SSHConnection(settings: settings, connected: try result.get(), worker: worker)
    }

    /// Runs one command on a new channel.
    ///
    /// `command` is handed to the remote user's shell as is: the caller has already quoted it. stdout,
    /// stderr and stdin are moved in one loop, so a command that fills its output window while we are still
    /// sending input cannot deadlock. Bytes are never decoded.
    ///
    /// - Parameters:
    ///   - command: the command line for the remote shell.
    ///   - stdin: what the command reads; `.none` gives it end-of-file at once.
    ///   - stdout: where its standard output goes (by default kept, up to 64 MiB).
    ///   - stderr: where its standard error goes (by default kept, up to 1 MiB).
    ///   - idleTimeout: fail with `timedOut` when no byte moves in any direction and the command does not
    ///     exit for this long; nil waits forever.
    ///   - timeout: fail with `timedOut` when the command has not finished this long after the call; nil
    ///     waits forever.
    /// - Returns: how the command ended and what it printed. A non-zero exit is a result, not an error.
    /// - Throws: ``SSHError`` — `timedOut`, `cancelled`, `disconnected`, `channelFailure`, `inputAborted`
    ///   (stdin pipe failed), `outputAborted` (an output pipe's reader stopped). After a timeout or
    ///   cancellation the channel is closed; the remote command gets end-of-file, and SIGPIPE on its next write.
    public func execute(
        _ command: String,
        stdin: SSHInput = .none,
        stdout: SSHOutput = .collect(limit: 64 << 20),
        stderr: SSHOutput = .collect(limit: 1 << 20),
        idleTimeout: Duration? = .seconds(120),
        timeout: Duration? = nil
    ) async throws(SSHError) -> SSHExecResult {
        let cancel = CancelFlag()
        let worker = self.worker
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Result<SSHExecResult, SSHError>, Never>) in
                worker.submit(
                    ExecRequest(
                        command: command, stdin: stdin, stdout: stdout, stderr: stderr, idleTimeout: idleTimeout,
                        timeout: timeout, cancel: cancel, continuation: c))
            }
        } onCancel: {
            cancel.cancel()
            worker.wake.wake()
        }
        return try result.get()
    }

    /// Closes the connection: running commands fail with `disconnected`, and later calls fail at once.
    public func close() async {
        await worker.close()
    }
}
