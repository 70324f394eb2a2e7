internal import CLibSSH2

#if canImport(Glibc)
import Glibc
#endif

/// One remote command on its own channel: a state machine driven by the worker thread, one step per round.
///
/// The rule that shapes it: when a libssh2 call returns EAGAIN it may have left a packet half-sent, and
/// libssh2 then refuses every *other* packet on the session until that same call is repeated. So a call
/// that returned EAGAIN is always repeated with the same arguments (`inflight`), even after the command was
/// cancelled or timed out; only then is the channel closed. The caller is answered at once all the same:
/// the job lives on as a "zombie" until its channel is freed.
final class ExecJob {
    enum Phase {
        case queued          // waiting for a free slot / the session's single channel-open slot
        case opening         // libssh2_channel_open_ex
        case starting        // the exec request
        case running         // pumping stdin/stdout/stderr
        case awaitingClose   // output ended and stdin sent: wait for the server's close (exit status comes first)
        case closing         // libssh2_channel_close, then read the exit status
        case aborted         // answered with an error; finishing the in-flight call, then freeing the channel
        case done
    }

    enum Inflight {
        case open
        case startup
        case write(UnsafeRawPointer, Int)
        case eof
    }

    /// Where one output stream goes.
    final class Sink {
        enum Kind {
            case discard
            case collect(limit: Int)
            case pipe(BytePipe)
            case handler(@Sendable ([UInt8]) -> Void)
        }
        var kind: Kind
        var collected: [UInt8] = []
        var truncated = false
        /// Bytes read while the pipe was full (at most one per stream, see `resumePendingRead`).
        var overflow: [UInt8] = []

        init(_ output: SSHOutput) {
            switch output {
            case .discard: kind = .discard
            case .collect(let limit): kind = .collect(limit: max(0, limit))
            case .pipe(let pipe): kind = .pipe(pipe)
            case .handler(let handler): kind = .handler(handler)
            }
        }

        var pipe: BytePipe? {
            if case .pipe(let p) = kind { return p }
            return nil
        }

        func deliver(_ pointer: UnsafeRawPointer, _ count: Int) {
            switch kind {
            case .discard, .pipe:
                break
            case .collect(let limit):
                let room = limit - collected.count
                if room > 0 {
                    collected.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: min(room, count)))
                }
                if count > room { truncated = true }
            case .handler(let handler):
                handler([UInt8](UnsafeRawBufferPointer(start: pointer, count: count)))
            }
        }
    }

    enum Readiness {
        case ready(UnsafeMutableRawBufferPointer?)   // nil: read into the worker's scratch buffer
        case blocked
        case gone(SSHError)
    }

    unowned let worker: SessionWorker
    let command: String
    let cancel: CancelFlag
    private let continuation: CheckedContinuation<Result<SSHExecResult, SSHError>, Never>
    private let idleNanos: UInt64?
    private let overallDeadline: UInt64?
    private let idleTimeout: Duration?
    private let timeout: Duration?

    private(set) var phase: Phase = .queued
    private(set) var completed = false
    var channel: OpaquePointer?
    private var inflight: Inflight?
    private var lastActivity: UInt64

    let stdoutSink: Sink
    let stderrSink: Sink
    private var readPending: [Bool] = [false, false]

    private enum Source {
        case none
        case bytes([UInt8])
        case pipe(BytePipe)
    }
    private let source: Source
    private var bytesOffset = 0
    private var staging: UnsafeMutableRawPointer?
    private var stagedStart = 0
    private var stagedEnd = 0
    private var needEOF = false
    private var stdinDone = false
    private var stdinPipeFinished = false
    private var outputsDone = false
    private var remoteEOFSeen = false
    /// Set when a command whose output feeds a pipe exits non-zero: the pipe is failed at once and the rest
    /// of that output is discarded.
    private var outputPipeFailedEarly = false

    init(request: ExecRequest, worker: SessionWorker) {
        self.worker = worker
        command = request.command
        cancel = request.cancel
        continuation = request.continuation
        idleTimeout = request.idleTimeout
        timeout = request.timeout
        let now = POSIX.monotonicNanos()
        lastActivity = now
        idleNanos = request.idleTimeout.map(\.nanoseconds)
        overallDeadline = request.timeout.map { now + $0.nanoseconds }
        stdoutSink = Sink(request.stdout)
        stderrSink = Sink(request.stderr)
        switch request.stdin {
        case .none: source = .none
        case .bytes(let b): source = .bytes(b)
        case .pipe(let p): source = .pipe(p)
        }
    }

    deinit {
        staging?.deallocate()
    }

    var finished: Bool { phase == .done }
    var isQueued: Bool { phase == .queued }
    /// True while this job holds the session's channel-open slot.
    var isOpening: Bool {
        if phase == .opening { return true }
        if phase == .aborted, case .open = inflight { return true }
        return false
    }
    /// Counts against `maxConcurrentChannels`.
    var occupiesSlot: Bool { !completed && phase != .queued }

    /// The earliest time this job needs attention without any I/O (idle or overall timeout).
    var nextDeadline: UInt64? {
        guard !completed else { return nil }
        var deadline = overallDeadline
        if phase != .queued, let idleNanos {
            let idle = lastActivity + idleNanos
            deadline = min(deadline ?? idle, idle)
        }
        return deadline
    }

    private func error(_ code: SSHError.Code, _ message: String) -> SSHError {
        worker.error(code, message)
    }

    func beginOpening() {
        phase = .opening
        lastActivity = POSIX.monotonicNanos()
    }

    // MARK: - Step

    func step(now: UInt64, round: inout SessionWorker.Round) {
        if phase == .done { return }
        if phase == .aborted {
            stepAborted(&round)
            return
        }
        if cancel.isCancelled {
            abort(error(.cancelled, "cancelled while running: \(shortCommand)"), &round)
            return
        }
        if let overallDeadline, now >= overallDeadline {
            abort(
                error(.timedOut, "the command did not finish within \(timeout?.humanReadable ?? "?") (timeout): \(shortCommand)"),
                &round)
            return
        }
        if phase != .queued, let idleNanos, now >= lastActivity + idleNanos {
            abort(
                error(
                    .timedOut,
                    "no data moved and the command did not exit for \(idleTimeout?.humanReadable ?? "?") (idle timeout): \(shortCommand)"),
                &round)
            return
        }
        guard let session = worker.session else { return }
        switch phase {
        case .queued, .aborted, .done:
            return
        case .opening:
            stepOpen(session, &round)
        case .starting:
            stepStart(session, &round)
        case .running:
            stepRunning(session, &round)
        case .awaitingClose:
            stepAwaitClose(session, &round)
        case .closing:
            stepClose(session, &round)
        }
    }

    /// The command for messages: its first line (a script's are many), at most 80 characters.
    private var shortCommand: String {
        let line = command.prefix { $0 != "\n" }
        return line.count > 80 || line.count < command.count ? String(line.prefix(77)) + "..." : command
    }

    private func moved(_ round: inout SessionWorker.Round) {
        round.progressed = true
        lastActivity = POSIX.monotonicNanos()
    }

    private func blocked(_ session: OpaquePointer, _ round: inout SessionWorker.Round, inbound: Bool = false) {
        round.directions |= libssh2_session_block_directions(session)
        if inbound { round.directions |= LIBSSH2_SESSION_BLOCK_INBOUND }
    }

    /// Handles a libssh2 failure: session-fatal codes end the whole connection; others fail this command.
    private func failed(_ session: OpaquePointer, code: Int32, during activity: String, _ round: inout SessionWorker.Round) {
        if LibSSH2.isFatalSessionError(code) {
            worker.sessionFailed(code: code, during: activity)
            return
        }
        let text = LibSSH2.lastError(session).text
        abort(error(.channelFailure, "\(activity) failed: \(text) (libssh2 error \(code))"), &round)
    }

    private func stepOpen(_ session: OpaquePointer, _ round: inout SessionWorker.Round) {
        guard let ch = openChannel(session, &round) else { return }
        channel = ch
        phase = .starting
        moved(&round)
    }

    /// One call of libssh2_channel_open_ex. Returns the channel when open; on failure answers the caller.
    private func openChannel(_ session: OpaquePointer, _ round: inout SessionWorker.Round) -> OpaquePointer? {
        let window = UInt32(clamping: max(worker.options.channelWindowSize, 256 << 10))
        if let ch = libssh2_channel_open_ex(session, "session", 7, window, UInt32(LIBSSH2_CHANNEL_PACKET_DEFAULT), nil, 0) {
            inflight = nil
            return ch
        }
        let rc = libssh2_session_last_errno(session)
        if rc == LIBSSH2_ERROR_EAGAIN {
            inflight = .open
            blocked(session, &round, inbound: true)
            return nil
        }
        inflight = nil
        if LibSSH2.isFatalSessionError(rc) {
            worker.sessionFailed(code: rc, during: "opening a channel")
            return nil
        }
        let text = LibSSH2.lastError(session).text
        if phase != .aborted {
            complete(
                .failure(
                    error(
                        .channelFailure,
                        "the server refused to open a channel: \(text). sshd limits concurrent commands per connection (MaxSessions, 10 by default)")))
        }
        phase = .done
        return nil
    }

    private func stepStart(_ session: OpaquePointer, _ round: inout SessionWorker.Round) {
        guard let ch = channel else { return }
        let rc = libssh2_channel_process_startup(ch, "exec", 4, command, UInt32(command.utf8.count))
        if rc == LIBSSH2_ERROR_EAGAIN {
            inflight = .startup
            blocked(session, &round, inbound: true)
            return
        }
        inflight = nil
        if rc != 0 {
            if LibSSH2.isFatalSessionError(rc) {
                worker.sessionFailed(code: rc, during: "starting a command")
                return
            }
            abort(error(.channelFailure, "the server refused to run the command (\(LibSSH2.lastError(session).text)): \(shortCommand)"), &round)
            return
        }
        phase = .running
        moved(&round)
        let wake = worker.wake
        if let p = stdoutSink.pipe { p.attach(writerWaker: { wake.wake() }) }
        if let p = stderrSink.pipe { p.attach(writerWaker: { wake.wake() }) }
        if case .pipe(let p) = source { p.attach(readerWaker: { wake.wake() }) }
    }

    // MARK: Running

    private func stepRunning(_ session: OpaquePointer, _ round: inout SessionWorker.Round) {
        guard let ch = channel else { return }
        if !outputsDone {
            let out = readiness(stdoutSink)
            let err = readiness(stderrSink)
            if case .gone(let reason) = out {
                abort(error(.outputAborted, "stopped reading this command's output because its reader ended: \(reason.description)"), &round)
                return
            }
            if case .gone(let reason) = err {
                abort(error(.outputAborted, "stopped reading this command's error output because its reader ended: \(reason.description)"), &round)
                return
            }
            if case .ready = out, case .ready = err {
                guard read(session, ch, stream: 0, sink: stdoutSink, &round),
                    read(session, ch, stream: 1, sink: stderrSink, &round)
                else { return }
            } else {
                // A pipe is full. Reading either stream now would let libssh2 enlarge the window (it is shared
                // by both streams) and buffer without bound, so read nothing: only finish a read whose window
                // adjustment is half-sent, and watch for the remote's end (no window change).
                for stream in 0...1 where readPending[stream] {
                    guard resumePendingRead(session, ch, stream: stream, &round) else { return }
                }
                if !remoteEOFSeen {
                    let rc = libssh2_channel_wait_eof(ch)
                    if rc == 0 {
                        remoteEOFSeen = true
                    } else if rc == LIBSSH2_ERROR_EAGAIN {
                        blocked(session, &round, inbound: true)
                    } else if LibSSH2.isFatalSessionError(libssh2_session_last_errno(session)) {
                        worker.sessionFailed(code: libssh2_session_last_errno(session), during: "reading output")
                        return
                    }
                }
            }
            failOutputPipesIfCommandFailed(ch)
        }
        guard pumpStdin(session, ch, &round) else { return }

        if !outputsDone && stdoutSink.overflow.isEmpty && stderrSink.overflow.isEmpty && libssh2_channel_eof(ch) != 0 {
            outputsDone = true
            moved(&round)
        }
        guard outputsDone else { return }
        if stdinDone {
            phase = .awaitingClose
            moved(&round)
            return
        }
        // Output ended but input has not: keep feeding it unless the remote closed the channel (the command
        // exited without reading everything, e.g. `head -c 1M`).
        let rc = libssh2_channel_wait_closed(ch)
        if rc == 0 {
            stdinDone = true
            phase = .closing
            moved(&round)
        } else if rc == LIBSSH2_ERROR_EAGAIN {
            blocked(session, &round, inbound: true)
        } else if LibSSH2.isFatalSessionError(rc) {
            worker.sessionFailed(code: rc, during: "waiting for the command to exit")
        }
    }

    private func readiness(_ sink: Sink) -> Readiness {
        guard case .pipe(let pipe) = sink.kind else { return .ready(nil) }
        switch pipe.producerRegion() {
        case .space(let region):
            return .ready(region)
        case .full:
            return .blocked
        case .readerGone(let reason):
            return .gone(reason)
        }
    }

    /// Reads one stream (a few chunks at most, so other commands get their turn). Returns false when the job
    /// ended or the session failed.
    private func read(
        _ session: OpaquePointer, _ ch: OpaquePointer, stream: Int32, sink: Sink, _ round: inout SessionWorker.Round
    ) -> Bool {
        if !sink.overflow.isEmpty {
            if sink.pipe == nil {
                sink.overflow.withUnsafeBytes { sink.deliver($0.baseAddress!, $0.count) }
                sink.overflow = []
                return true
            }
            guard case .ready(let region?) = readiness(sink) else { return true }
            let n = min(region.count, sink.overflow.count)
            sink.overflow.withUnsafeBytes { region.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            sink.overflow.removeFirst(n)
            sink.pipe?.producerCommit(n)
            moved(&round)
            return true
        }
        for _ in 0..<4 {
            let target: UnsafeMutableRawBufferPointer
            switch readiness(sink) {
            case .ready(let region?): target = region
            case .ready(nil):
                target = UnsafeMutableRawBufferPointer(start: worker.readBuffer, count: SessionWorker.readBufferSize)
            case .blocked, .gone: return true
            }
            let n = libssh2_channel_read_ex(
                ch, stream, target.baseAddress!.assumingMemoryBound(to: CChar.self), target.count)
            if n > 0 {
                readPending[Int(stream)] = false
                if let pipe = sink.pipe {
                    pipe.producerCommit(n)
                } else {
                    sink.deliver(target.baseAddress!, n)
                }
                moved(&round)
                if n < target.count { return true }
                continue
            }
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                readPending[Int(stream)] = libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
                blocked(session, &round, inbound: true)
                return true
            }
            readPending[Int(stream)] = false
            if n == 0 { return true }
            failed(session, code: Int32(n), during: "reading the command's output", &round)
            return false
        }
        return true
    }

    /// Repeats a read whose window adjustment was left half-sent, with a one-byte buffer (kept in `overflow`).
    private func resumePendingRead(_ session: OpaquePointer, _ ch: OpaquePointer, stream: Int, _ round: inout SessionWorker.Round) -> Bool {
        var byte: CChar = 0
        let n = libssh2_channel_read_ex(ch, Int32(stream), &byte, 1)
        let sink = stream == 0 ? stdoutSink : stderrSink
        if n == 1 {
            readPending[stream] = false
            sink.overflow.append(UInt8(bitPattern: byte))
            moved(&round)
        } else if n == Int(LIBSSH2_ERROR_EAGAIN) {
            readPending[stream] = libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
            blocked(session, &round, inbound: true)
        } else if n < 0 {
            readPending[stream] = false
            failed(session, code: Int32(n), during: "reading the command's output", &round)
            return false
        } else {
            readPending[stream] = false
        }
        return true
    }

    /// A command whose output feeds a pipe and that exited non-zero (or by a signal) fails the pipe at once,
    /// even while output is still queued: the consumer should not finish reading a broken stream.
    private func failOutputPipesIfCommandFailed(_ ch: OpaquePointer) {
        guard !outputPipeFailedEarly, stdoutSink.pipe != nil || stderrSink.pipe != nil else { return }
        let status = libssh2_channel_get_exit_status(ch)
        let signaled = flocker_channel_has_exit_signal(ch) != 0
        guard status != 0 || signaled else { return }
        outputPipeFailedEarly = true
        let reason = error(
            .inputAborted,
            "the command producing this stream ended with " + (signaled ? "a signal" : "exit status \(status)"))
        for sink in [stdoutSink, stderrSink] {
            if let pipe = sink.pipe {
                pipe.fail(reason)
                sink.kind = .discard
                sink.overflow = []
            }
        }
    }

    /// Moves stdin: the next chunk, then EOF. Returns false when the job ended or the session failed.
    private func pumpStdin(_ session: OpaquePointer, _ ch: OpaquePointer, _ round: inout SessionWorker.Round) -> Bool {
        var budget = 1 << 20
        while !stdinDone && budget > 0 {
            if needEOF || isEOFInflight {
                let rc = libssh2_channel_send_eof(ch)
                if rc == 0 {
                    inflight = nil
                    stdinDone = true
                    moved(&round)
                } else if rc == LIBSSH2_ERROR_EAGAIN {
                    inflight = .eof
                    blocked(session, &round)
                } else {
                    inflight = nil
                    failed(session, code: rc, during: "sending end-of-file", &round)
                    return false
                }
                return true
            }
            let pointer: UnsafeRawPointer
            let length: Int
            if case .write(let p, let n) = inflight {
                pointer = p
                length = n
            } else {
                switch nextInput(&round) {
                case .chunk(let p, let n):
                    pointer = p
                    length = n
                case .wait:
                    return true
                case .end:
                    needEOF = true
                    continue
                case .aborted:
                    return false
                }
            }
            let rc = libssh2_channel_write_ex(ch, 0, pointer.assumingMemoryBound(to: CChar.self), length)
            if rc > 0 {
                inflight = nil
                consumeInput(rc)
                budget -= rc
                moved(&round)
            } else if rc == 0 {
                inflight = nil
                blocked(session, &round, inbound: true)   // the remote's window is full
                return true
            } else if rc == Int(LIBSSH2_ERROR_EAGAIN) {
                // With OUTBOUND blocked, a packet may be half-sent: the same write must be repeated. Without it,
                // the remote's window is full and nothing is pending (so a failed input can abort at once).
                let pending = libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0
                inflight = pending ? .write(pointer, length) : nil
                blocked(session, &round, inbound: !pending)
                return true
            } else {
                inflight = nil
                failed(session, code: Int32(rc), during: "writing the command's input", &round)
                return false
            }
        }
        return true
    }

    private var isEOFInflight: Bool {
        if case .eof = inflight { return true }
        return false
    }

    private enum NextInput {
        case chunk(UnsafeRawPointer, Int)
        case wait
        case end
        case aborted
    }

    private func nextInput(_ round: inout SessionWorker.Round) -> NextInput {
        switch source {
        case .none:
            return .end
        case .bytes(let bytes):
            if stagedStart == stagedEnd {
                if bytesOffset == bytes.count { return .end }
                let buffer = staging ?? UnsafeMutableRawPointer.allocate(byteCount: SessionWorker.stdinChunk, alignment: 16)
                staging = buffer
                let n = min(SessionWorker.stdinChunk, bytes.count - bytesOffset)
                bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + bytesOffset, byteCount: n) }
                bytesOffset += n
                stagedStart = 0
                stagedEnd = n
            }
            return .chunk(UnsafeRawPointer(staging!) + stagedStart, stagedEnd - stagedStart)
        case .pipe(let pipe):
            switch pipe.consumerRegion() {
            case .data(let region):
                return .chunk(region.baseAddress!, region.count)
            case .empty:
                return .wait
            case .finished:
                stdinPipeFinished = true
                return .end
            case .failed(let reason):
                abortForFailedInput(reason, &round)
                return .aborted
            }
        }
    }

    private func consumeInput(_ count: Int) {
        switch source {
        case .none: break
        case .bytes: stagedStart += count
        case .pipe(let pipe): pipe.consumerAdvance(count)
        }
    }

    private func abortForFailedInput(_ reason: SSHError, _ round: inout SessionWorker.Round) {
        abort(
            error(
                .inputAborted,
                "the input stream was aborted, so the command was cut off and saw a truncated stream: \(reason.description)"),
            &round)
    }

    // MARK: Ending

    private func stepAwaitClose(_ session: OpaquePointer, _ round: inout SessionWorker.Round) {
        guard let ch = channel else { return }
        let rc = libssh2_channel_wait_closed(ch)
        if rc == LIBSSH2_ERROR_EAGAIN {
            blocked(session, &round, inbound: true)
            return
        }
        if rc != 0 && LibSSH2.isFatalSessionError(rc) {
            worker.sessionFailed(code: rc, during: "waiting for the command to exit")
            return
        }
        phase = .closing
        moved(&round)
    }

    private func stepClose(_ session: OpaquePointer, _ round: inout SessionWorker.Round) {
        guard let ch = channel else { return }
        // Input may have been abandoned while a packet was half-sent: finish sending it first.
        guard finishInflightSend(session, ch, &round) else { return }
        let rc = libssh2_channel_close(ch)
        if rc == LIBSSH2_ERROR_EAGAIN {
            blocked(session, &round, inbound: true)
            return
        }
        if rc != 0 && LibSSH2.isFatalSessionError(rc) {
            worker.sessionFailed(code: rc, during: "closing a channel")
            return
        }
        let exit = Self.exit(of: ch, session: session)
        if libssh2_channel_free(ch) == 0 { channel = nil }
        complete(
            .success(
                SSHExecResult(
                    exit: exit, stdout: stdoutSink.collected, stderr: stderrSink.collected,
                    stdoutTruncated: stdoutSink.truncated, stderrTruncated: stderrSink.truncated)))
        phase = channel == nil ? .done : .aborted
        moved(&round)
    }

    static func exit(of ch: OpaquePointer, session: OpaquePointer) -> RemoteExit {
        var signal: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        _ = libssh2_channel_get_exit_signal(ch, &signal, &length, nil, nil, nil, nil)
        if let signal {
            defer { libssh2_free(session, signal) }
            if length > 0 { return .signaled(String(cString: signal)) }
        }
        return .exited(libssh2_channel_get_exit_status(ch))
    }

    /// Repeats a write or EOF that returned EAGAIN (its packet may be half-sent, and libssh2 sends nothing
    /// else until it is done). Returns true when nothing is pending any more.
    private func finishInflightSend(_ session: OpaquePointer, _ ch: OpaquePointer, _ round: inout SessionWorker.Round) -> Bool {
        let rc: Int
        switch inflight {
        case .write(let p, let n):
            rc = libssh2_channel_write_ex(ch, 0, p.assumingMemoryBound(to: CChar.self), n)
        case .eof:
            rc = Int(libssh2_channel_send_eof(ch))
        default:
            return true
        }
        if rc == Int(LIBSSH2_ERROR_EAGAIN) {
            blocked(session, &round)
            return false
        }
        inflight = nil
        round.progressed = true
        return true
    }

    /// Answers the caller with `error` and turns the job into a zombie that winds the channel down.
    private func abort(_ error: SSHError, _ round: inout SessionWorker.Round) {
        complete(.failure(error))
        phase = .aborted
        round.progressed = true
    }

    /// Answers the caller (once) and settles the pipes this command was connected to.
    func complete(_ result: Result<SSHExecResult, SSHError>) {
        guard !completed else { return }
        completed = true
        switch result {
        case .success(let r):
            if !outputPipeFailedEarly {
                for sink in [stdoutSink, stderrSink] {
                    guard let pipe = sink.pipe else { continue }
                    if r.exit.isSuccess {
                        pipe.finish()
                    } else {
                        pipe.fail(error(.inputAborted, "the command producing this stream ended with \(r.exit)"))
                    }
                }
            }
            if case .pipe(let pipe) = source, !stdinPipeFinished {
                pipe.stopReading(
                    error(.outputAborted, "the command reading this stream ended (\(r.exit)) before the end of the stream"))
            }
        case .failure(let e):
            for sink in [stdoutSink, stderrSink] {
                if let pipe = sink.pipe { pipe.fail(e) }
            }
            if case .pipe(let pipe) = source {
                pipe.stopReading(e)
            }
        }
        stdoutSink.kind = .discard
        stderrSink.kind = .discard
        stdoutSink.overflow = []
        stderrSink.overflow = []
        continuation.resume(returning: result)
    }

    // MARK: Zombie

    /// After an abort: repeat the call that returned EAGAIN, then free the channel (which sends EOF and
    /// CLOSE and waits for the server's CLOSE), discarding whatever output still arrives.
    private func stepAborted(_ round: inout SessionWorker.Round) {
        guard let session = worker.session else { return }
        switch inflight {
        case .open:
            // Still the session's open slot: finish the open (or see it fail), then close what it gave.
            guard let ch = openChannel(session, &round) else { return }
            channel = ch
            round.progressed = true
        case .startup:
            guard let ch = channel else { break }
            let rc = libssh2_channel_process_startup(ch, "exec", 4, command, UInt32(command.utf8.count))
            if rc == LIBSSH2_ERROR_EAGAIN {
                blocked(session, &round, inbound: true)
                return
            }
            inflight = nil
        case .write, .eof:
            guard let ch = channel, finishInflightSend(session, ch, &round) else {
                if channel == nil { inflight = nil }
                return
            }
        case nil:
            break
        }
        inflight = nil
        guard let ch = channel else {
            phase = .done
            return
        }
        let rc = libssh2_channel_free(ch)
        if rc == 0 {
            channel = nil
            phase = .done
            round.progressed = true
            return
        }
        if rc != LIBSSH2_ERROR_EAGAIN {
            if LibSSH2.isFatalSessionError(rc) { worker.sessionFailed(code: rc, during: "closing a channel") }
            return  // left for teardown
        }
        blocked(session, &round, inbound: true)
        // Drain what still arrives (this also finishes a half-sent window adjustment).
        for stream: Int32 in [0, 1] {
            for _ in 0..<4 {
                let n = libssh2_channel_read_ex(
                    ch, stream, worker.readBuffer.assumingMemoryBound(to: CChar.self), SessionWorker.readBufferSize)
                if n <= 0 { break }
                round.progressed = true
            }
        }
    }

    /// Teardown only (socket already shut down): frees the channel, nudging libssh2 to notice the closed
    /// socket so it does not wait for the server. Returns false if the channel could not be freed.
    func freeChannelAfterShutdown() -> Bool {
        guard let ch = channel else { return true }
        for _ in 0..<8 {
            if libssh2_channel_free(ch) == 0 {
                channel = nil
                return true
            }
            _ = libssh2_channel_read_ex(ch, 0, worker.readBuffer.assumingMemoryBound(to: CChar.self), 1)
        }
        return false
    }
}
