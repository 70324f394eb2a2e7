import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A bounded FIFO of bytes between one producer and one consumer running on different threads.
///
/// The typical use relays the stdout of `zfs send` on node A into the stdin of `zfs recv` on node B:
/// `a.execute(send, stdout: .pipe(p))` and `b.execute(recv, stdin: .pipe(p))`, each running on its
/// connection's worker thread. Bytes are moved without extra copies (the channel reads straight into the
/// ring and writes straight out of it).
///
/// - Backpressure: when the pipe is full, the producing `execute` stops reading its channel; the remote
///   command then blocks once the SSH window is used up.
/// - Producer failure: when the producing command fails (its `execute` throws, or the command exits
///   non-zero), the pipe fails; the consuming `execute` stops writing at once, closes its channel without
///   sending the rest (the remote sees a truncated stream) and throws `inputAborted`.
/// - Consumer ending early: when the consuming command exits before the end of the stream (or its
///   `execute` fails), reading stops; the producing `execute` stops reading, closes its channel and throws
///   `outputAborted` promptly.
///
/// The async ``write(_:)``, ``read(upTo:)``, ``finish()``, ``fail(_:)`` and ``stopReading(_:)`` let
/// ordinary Swift code stand on either side (tests, fakes, local files).
public final class BytePipe: Sendable {
    /// Wakes a waiting side: a worker's wakeup fd, or an async continuation.
    typealias Waker = @Sendable () -> Void

    struct State {
        var head: UInt64 = 0               // bytes consumed so far
        var tail: UInt64 = 0               // bytes produced so far
        var finished = false               // producer ended cleanly
        var producerError: SSHError?       // producer failed
        var consumerError: SSHError?       // consumer stopped reading
        var readerWaiting = false
        var writerWaiting = false
        var readerWaker: Waker?            // persistent (worker)
        var writerWaker: Waker?
        var readerContinuation: CheckedContinuation<Void, Never>?   // one-shot (async API)
        var writerContinuation: CheckedContinuation<Void, Never>?

        mutating func takeReaderWake() -> [Waker] {
            readerWaiting = false
            var wakers: [Waker] = []
            if let w = readerWaker { wakers.append(w) }
            if let c = readerContinuation {
                readerContinuation = nil
                wakers.append { c.resume() }
            }
            return wakers
        }

        mutating func takeWriterWake() -> [Waker] {
            writerWaiting = false
            var wakers: [Waker] = []
            if let w = writerWaker { wakers.append(w) }
            if let c = writerContinuation {
                writerContinuation = nil
                wakers.append { c.resume() }
            }
            return wakers
        }
    }

    /// The ring's memory. Only the producer writes into the free part and only the consumer reads the
    /// filled part; the indices that divide them live in `state`, under the mutex.
    private nonisolated(unsafe) let storage: UnsafeMutableRawPointer
    /// The pipe's capacity in bytes.
    public let capacity: Int
    private let state: Mutex<State>

    /// Creates an empty pipe that holds at most `capacity` bytes (at least 1).
    public init(capacity: Int) {
        precondition(capacity > 0, "BytePipe capacity must be positive")
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        state = Mutex(State())
    }

    deinit {
        storage.deallocate()
    }

    /// Total bytes handed to the consumer so far (for progress reports).
    public var bytesTransferred: UInt64 {
        state.withLock { $0.head }
    }

    // MARK: - Async API

    /// Writes all of `bytes`, waiting while the pipe is full.
    ///
    /// - Throws: the consumer's error if it stopped reading (code `outputAborted` unless it gave another),
    ///   or `inputAborted` if the pipe was already finished or failed.
    public func write(_ bytes: [UInt8]) async throws(SSHError) {
        var offset = 0
        while offset < bytes.count {
            switch producerRegion() {
            case .readerGone(let error):
                throw error
            case .space(let region):
                let n = min(region.count, bytes.count - offset)
                bytes.withUnsafeBytes { src in
                    region.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
                }
                producerCommit(n)
                offset += n
            case .full:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        let full = s.tail - s.head == UInt64(capacity)
                        if full && s.consumerError == nil && !s.finished && s.producerError == nil {
                            s.writerContinuation = c
                            s.writerWaiting = true
                            return false
                        }
                        return true
                    }
                    if resumeNow { c.resume() }
                }
            }
        }
    }

    /// Reads up to `maxCount` bytes, waiting while the pipe is empty.
    ///
    /// - Returns: the bytes, or nil at the end of a finished stream.
    /// - Throws: the producer's error if it failed.
    public func read(upTo maxCount: Int = 64 << 10) async throws(SSHError) -> [UInt8]? {
        precondition(maxCount > 0)
        while true {
            switch consumerRegion() {
            case .failed(let error):
                throw error
            case .finished:
                return nil
            case .data(let region):
                let n = min(region.count, maxCount)
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: region[0..<n]))
                consumerAdvance(n)
                return bytes
            case .empty:
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.tail == s.head && !s.finished && s.producerError == nil {
                            s.readerContinuation = c
                            s.readerWaiting = true
                            return false
                        }
                        return true
                    }
                    if resumeNow { c.resume() }
                }
            }
        }
    }

    /// Producer: the stream is complete. The consumer reads what is left, then sees the end.
    public func finish() {
        let wakers = state.withLock { s -> [Waker] in
            guard !s.finished && s.producerError == nil else { return [] }
            s.finished = true
            return s.takeReaderWake() + s.takeWriterWake()
        }
        for w in wakers { w() }
    }

    /// Producer: the stream failed. The consumer stops at once (unread bytes are dropped) and gets `error`.
    public func fail(_ error: SSHError) {
        let wakers = state.withLock { s -> [Waker] in
            guard !s.finished && s.producerError == nil else { return [] }
            s.producerError = error
            return s.takeReaderWake() + s.takeWriterWake()
        }
        for w in wakers { w() }
    }

    /// Consumer: no more bytes will be read. The producer's next write fails with `error`.
    public func stopReading(_ error: SSHError) {
        let wakers = state.withLock { s -> [Waker] in
            guard s.consumerError == nil else { return [] }
            s.consumerError = error
            return s.takeReaderWake() + s.takeWriterWake()
        }
        for w in wakers { w() }
    }

    // MARK: - Worker API (non-blocking, zero-copy)

    enum ProducerRegion {
        /// Free space, contiguous, at least one byte. Fill a prefix, then call `producerCommit`.
        case space(UnsafeMutableRawBufferPointer)
        /// No space; the writer waker will be called when there is.
        case full
        /// The consumer stopped reading (or the stream was already ended): stop producing.
        case readerGone(SSHError)
    }

    enum ConsumerRegion {
        /// Readable bytes, contiguous. Use a prefix, then call `consumerAdvance`.
        case data(UnsafeRawBufferPointer)
        /// Nothing to read yet; the reader waker will be called when there is.
        case empty
        /// The producer finished and everything was read.
        case finished
        /// The producer failed.
        case failed(SSHError)
    }

    /// Registers the wakers of worker threads (called once by each side's job when it starts).
    func attach(readerWaker: Waker? = nil, writerWaker: Waker? = nil) {
        state.withLock { s in
            if let readerWaker { s.readerWaker = readerWaker }
            if let writerWaker { s.writerWaker = writerWaker }
        }
    }

    func producerRegion() -> ProducerRegion {
        state.withLock { s in
            if let error = s.consumerError { return .readerGone(error) }
            if s.finished || s.producerError != nil {
                return .readerGone(
                    SSHError(code: .inputAborted, host: "", message: "the pipe was already finished or failed"))
            }
            let used = Int(s.tail - s.head)
            let free = capacity - used
            if free == 0 {
                s.writerWaiting = true
                return .full
            }
            let start = Int(s.tail % UInt64(capacity))
            let contiguous = min(free, capacity - start)
            return .space(UnsafeMutableRawBufferPointer(start: storage + start, count: contiguous))
        }
    }

    func producerCommit(_ count: Int) {
        guard count > 0 else { return }
        let wakers = state.withLock { s -> [Waker] in
            s.tail += UInt64(count)
            return s.readerWaiting ? s.takeReaderWake() : []
        }
        for w in wakers { w() }
    }

    func consumerRegion() -> ConsumerRegion {
        state.withLock { s in
            if let error = s.producerError { return .failed(error) }
            let used = Int(s.tail - s.head)
            if used == 0 {
                if s.finished { return .finished }
                s.readerWaiting = true
                return .empty
            }
            let start = Int(s.head % UInt64(capacity))
            let contiguous = min(used, capacity - start)
            return .data(UnsafeRawBufferPointer(start: storage + start, count: contiguous))
        }
    }

    func consumerAdvance(_ count: Int) {
        guard count > 0 else { return }
        let wakers = state.withLock { s -> [Waker] in
            s.head += UInt64(count)
            return s.writerWaiting ? s.takeWriterWake() : []
        }
        for w in wakers { w() }
    }

    /// Whether the consumer has stopped (checked by a producer that is waiting for space).
    var consumerStopped: SSHError? {
        state.withLock { $0.consumerError }
    }

    /// Whether the producer failed (checked by a consumer that is busy writing what it already has).
    var producerFailed: SSHError? {
        state.withLock { $0.producerError }
    }
}
