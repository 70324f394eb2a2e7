import Synchronization
internal import CLibSSH2

#if canImport(Glibc)
import Glibc
#endif

/// The eventfd that wakes a worker thread out of `poll()`: other threads write to it after handing work
/// over (a new command, a cancellation, a pipe that gained data or space).
final class WakeSignal: Sendable {
    let fd: Int32

    init() {
        fd = flocker_eventfd()
        precondition(fd >= 0, "eventfd failed: \(POSIX.errorText(errno))")
    }

    func wake() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    func drain() {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
    }

    deinit { close(fd) }
}

/// Set by a task's cancellation handler, read by the worker.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .releasing) }
    var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

/// What a successful connect reports back to the caller.
struct Connected: Sendable {
    var address: String
    var algorithms: SSHAlgorithms
}

/// One `execute` call as handed to the worker.
struct ExecRequest: Sendable {
    var command: String
    var stdin: SSHInput
    var stdout: SSHOutput
    var stderr: SSHOutput
    var idleTimeout: Duration?
    var timeout: Duration?
    var cancel: CancelFlag
    var continuation: CheckedContinuation<Result<SSHExecResult, SSHError>, Never>
}

/// Owns one libssh2 session, its socket and all its channels, on one dedicated thread.
///
/// libssh2 is not thread-safe per session, so every libssh2 call for a connection happens on its worker
/// thread: the connect (DNS, TCP, handshake, host key, authentication) and then a loop that drives every
/// running command. Other threads only touch the mutex-guarded inbox and the wakeup fd. The loop never
/// spins: when a whole round moved nothing it sleeps in `poll()` on the socket (for the directions libssh2
/// reported as blocked) and the wakeup fd, until the nearest deadline.
final class SessionWorker: @unchecked Sendable {
    // @unchecked: the fields below the mark are touched only by the worker thread (after `start`); the
    // rest are immutable or synchronised.

    enum Command: Sendable {
        case exec(ExecRequest)
        case close(CheckedContinuation<Void, Never>?)
    }

    struct Inbox {
        var commands: [Command] = []
        /// Set when the worker stops taking work; later requests fail at once with this error.
        var rejection: SSHError?
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var threadExited = false
    }

    let settings: SSHHostSettings
    let options: SSHConnectOptions
    let wake = WakeSignal()
    let connectCancel = CancelFlag()
    private let inbox = Mutex(Inbox())

    // MARK: worker-thread state

    var session: OpaquePointer?
    var socket: Int32 = -1
    /// `ip:port` once the TCP connection is up (for messages).
    var connectedAddress: String?
    var jobs: [ExecJob] = []
    /// The job whose `libssh2_channel_open_ex` is in progress: libssh2 keeps the open state per session,
    /// so only one channel may be opening at a time.
    var openingJob: ExecJob?
    /// Set when the session failed; every job fails with it and the worker stops.
    var sessionError: SSHError?
    let readBuffer: UnsafeMutableRawPointer
    static let readBufferSize = 64 << 10
    /// Bytes libssh2 has taken from the socket (counted by our recv callback, see shim.h).
    /// Our socket reader's state (see shim.h): a count of the bytes libssh2 took from the socket, and a
    /// read-ahead buffer, so libssh2's small reads (it asks for at most one 16 KiB packet buffer at a time)
    /// cost a third of the recv() calls.
    let recvState: UnsafeMutablePointer<flocker_recv_state>
    static let readAhead = 128 << 10
    var bytesReceived: UInt64 { recvState.pointee.received }
    /// Largest chunk taken from `.bytes` stdin per write (libssh2 sends at most one 32 KiB packet per call).
    static let stdinChunk = 256 << 10

    init(settings: SSHHostSettings, options: SSHConnectOptions) {
        self.settings = settings
        self.options = options
        readBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.readBufferSize, alignment: 16)
        recvState = UnsafeMutablePointer<flocker_recv_state>.allocate(capacity: 1)
        recvState.initialize(
            to: flocker_recv_state(
                received: 0, buffer: UnsafeMutablePointer<UInt8>.allocate(capacity: Self.readAhead),
                capacity: Self.readAhead, start: 0, end: 0, free_blocks: nil, free_count: 0))
    }

    deinit {
        readBuffer.deallocate()
        recvState.pointee.buffer?.deallocate()
        flocker_release_block_cache(recvState)
        recvState.deallocate()
    }

    /// The address part of error messages: the connected `ip:port`, else `host:port`.
    var displayAddress: String { connectedAddress ?? settings.displayAddress }

    func error(_ code: SSHError.Code, _ message: String) -> SSHError {
        SSHError(code: code, host: settings.alias, address: displayAddress, message: message)
    }

    // MARK: - Other threads

    /// Starts the worker thread, which connects and reports the peer's numeric address (or the error).
    func start(connect continuation: CheckedContinuation<Result<Connected, SSHError>, Never>) {
        _ = LibSSH2.initialized
        let name = "ssh:" + settings.alias.prefix(11)
        Thread.detach(name: name) { [self] in
            self.threadMain(connect: continuation)
        }
    }

    /// Hands an execute request to the worker, or fails it at once when the connection is closed.
    func submit(_ request: ExecRequest) {
        let rejection = inbox.withLock { box -> SSHError? in
            if let rejection = box.rejection { return rejection }
            box.commands.append(.exec(request))
            return nil
        }
        if let rejection {
            request.continuation.resume(returning: .failure(rejection))
        } else {
            wake.wake()
        }
    }

    /// Asks the worker to close the connection; returns when it has (immediately if it already stopped).
    func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = inbox.withLock { box -> Bool in
                if box.threadExited { return true }
                box.commands.append(.close(c))
                return false
            }
            if done { c.resume() } else { wake.wake() }
        }
    }

    /// Asks the worker to close without waiting (used by `deinit`).
    func requestClose() {
        inbox.withLock { box in
            if !box.threadExited { box.commands.append(.close(nil)) }
        }
        wake.wake()
    }

    // MARK: - Worker thread

    private func threadMain(connect continuation: CheckedContinuation<Result<Connected, SSHError>, Never>) {
        let result: Result<Connected, SSHError>
        do {
            result = .success(try establish())
        } catch {
            result = .failure(error)
        }
        switch result {
        case .failure(let error):
            stop(rejecting: error)
            continuation.resume(returning: .failure(error))
        case .success:
            continuation.resume(returning: result)
            runLoop()
        }
    }

    /// Stops taking work, fails what is queued, frees everything and releases `close()` waiters.
    private func stop(rejecting rejection: SSHError) {
        let pending = inbox.withLock { box -> [Command] in
            box.rejection = rejection
            let commands = box.commands
            box.commands = []
            return commands
        }
        var waiters: [CheckedContinuation<Void, Never>] = []
        for command in pending {
            switch command {
            case .exec(let request): request.continuation.resume(returning: .failure(rejection))
            case .close(let c): if let c { waiters.append(c) }
            }
        }
        for job in jobs where !job.completed { job.complete(.failure(sessionError ?? rejection)) }
        teardown()
        jobs.removeAll()
        let more = inbox.withLock { box -> [CheckedContinuation<Void, Never>] in
            box.threadExited = true
            let w = box.closeWaiters
            box.closeWaiters = []
            // Requests that raced with the shutdown.
            let late = box.commands
            box.commands = []
            return w + late.compactMap { if case .close(let c) = $0 { return c } else { return nil } }
        }
        for c in waiters + more { c.resume() }
    }

    struct Round {
        var progressed = false
        /// LIBSSH2_SESSION_BLOCK_INBOUND / OUTBOUND bits from calls that returned EAGAIN.
        var directions: Int32 = 0
    }

    private func runLoop() {
        guard let session else { return }
        let keepaliveSeconds = max(1, Int(options.keepaliveInterval.nanoseconds / 1_000_000_000))
        libssh2_keepalive_config(session, 0, UInt32(keepaliveSeconds))
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var closing = false
        while true {
            let commands = inbox.withLock { box -> [Command] in
                let c = box.commands
                box.commands = []
                return c
            }
            for command in commands {
                switch command {
                case .exec(let request):
                    jobs.append(ExecJob(request: request, worker: self))
                case .close(let c):
                    closing = true
                    if let c { closeWaiters.append(c) }
                }
            }
            if closing {
                inbox.withLock { $0.closeWaiters += closeWaiters }
                stop(rejecting: error(.disconnected, "the connection was closed"))
                return
            }
            if let sessionError {
                stop(rejecting: sessionError)
                return
            }

            let now = POSIX.monotonicNanos()
            schedule()
            var round = Round()
            let receivedBefore = bytesReceived
            for job in jobs {
                job.step(now: now, round: &round)
                if sessionError != nil { break }
            }
            jobs.removeAll { $0.finished }
            if sessionError != nil { continue }
            // If any call took bytes from the socket, a job stepped earlier in the round may now have data,
            // an EOF or a CLOSE waiting inside libssh2 while the socket looks idle: go round again rather
            // than sleep. Only a round that moved nothing and received nothing may end in poll().
            if round.progressed || bytesReceived != receivedBefore { continue }

            if jobs.isEmpty && recvState.pointee.free_count > 0 {
                flocker_release_block_cache(recvState)   // an idle connection keeps no packet buffers
            }
            var timeout = jobs.compactMap { $0.nextDeadline }.min().map { $0 > now ? $0 - now : 0 }
            if round.directions & LIBSSH2_SESSION_BLOCK_OUTBOUND == 0 && sendQueueIsShort() {
                // Sending a keepalive only while nothing waits to go out means its small packet is never
                // left half-sent (a half-sent packet would block every other sender until it is retried).
                var next: Int32 = 0
                let rc = libssh2_keepalive_send(session, &next)
                if rc != 0 && rc != LIBSSH2_ERROR_EAGAIN {
                    sessionFailed(code: rc, during: "sending a keepalive")
                    continue
                }
                let keepaliveDue = UInt64(max(1, next)) * 1_000_000_000
                timeout = min(timeout ?? keepaliveDue, keepaliveDue)
            } else {
                timeout = min(timeout ?? 1_000_000_000, 1_000_000_000)
            }
            waitForEvents(directions: round.directions, timeoutNanos: timeout)
        }
    }

    /// Moves queued commands on: one channel may be opening at a time, and at most
    /// `maxConcurrentChannels` commands run at once.
    private func schedule() {
        if let opening = openingJob, opening.isOpening { return }
        openingJob = nil
        let running = jobs.reduce(0) { $0 + ($1.occupiesSlot ? 1 : 0) }
        guard running < max(1, options.maxConcurrentChannels),
            let next = jobs.first(where: { $0.isQueued })
        else { return }
        next.beginOpening()
        openingJob = next
    }

    /// Whether the socket's send queue is well below its buffer size (so a small packet goes out whole).
    private func sendQueueIsShort() -> Bool {
        let queued = flocker_socket_unsent_bytes(socket)
        return queued >= 0 && queued < 16 << 10
    }

    private func waitForEvents(directions: Int32, timeoutNanos: UInt64?) {
        var fds = [pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)]
        if directions != 0 {
            var events: Int16 = 0
            if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 {
                events |= Int16(POLLIN)
                flocker_ack_now(socket)   // waiting for the server: do not keep it waiting for our ACK
            }
            if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
            fds.append(pollfd(fd: socket, events: events, revents: 0))
        }
        let ms = Self.pollMilliseconds(timeoutNanos)
        let rc = poll(&fds, nfds_t(fds.count), ms)
        if rc > 0 && fds[0].revents & Int16(POLLIN) != 0 { wake.drain() }
    }

    static func pollMilliseconds(_ nanos: UInt64?) -> Int32 {
        guard let nanos else { return -1 }
        let ms = (nanos + 999_999) / 1_000_000
        return Int32(min(ms, 60_000))
    }

    /// Records a session-level failure from a libssh2 return code; every job then fails with it.
    func sessionFailed(code: Int32, during activity: String) {
        guard sessionError == nil, let session else { return }
        let text = LibSSH2.lastError(session).text
        let detail = text.isEmpty ? "libssh2 error \(code)" : "\(text) (libssh2 error \(code))"
        sessionError = error(.disconnected, "the connection was lost while \(activity): \(detail)")
    }

    /// Frees the session and closes the socket, without ever blocking for long: a polite disconnect is tried
    /// for at most half a second, then the socket is shut down so libssh2 can free channels without waiting
    /// for the server.
    private func teardown() {
        if let session {
            if sessionError == nil {
                let deadline = POSIX.monotonicNanos() + 500_000_000
                while libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "closing", "")
                    == LIBSSH2_ERROR_EAGAIN
                {
                    let now = POSIX.monotonicNanos()
                    if now >= deadline { break }
                    var fd = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&fd, 1, Self.pollMilliseconds(deadline - now))
                }
            }
            if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
            var leaked = false
            for job in jobs {
                if !job.freeChannelAfterShutdown() { leaked = true }
            }
            // With a channel that would not free, libssh2_session_free could loop; leaking is the lesser evil.
            if !leaked { _ = libssh2_session_free(session) }
            self.session = nil
        }
        if socket >= 0 {
            Glibc.close(socket)
            socket = -1
        }
    }
}

/// A detached POSIX thread running a closure (Foundation-free).
enum Thread {
    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                flocker_set_thread_name(String(box.name.prefix(15)))
                box.body()
                return nil
            }, box)
        precondition(rc == 0, "pthread_create failed: \(POSIX.errorText(rc))")
        pthread_detach(thread)
    }
}
