// Evidence for the entries of ../tsan-suppressions.txt: ThreadSanitizer does not see Synchronization.Mutex as
// a lock when it is contended. Two raw pthreads (like BytePipe's producer and consumer workers) increment a
// counter 200,000 times each, under Mutex.withLock, or with the argument `pthread` under pthread_mutex_t.
//
//   swiftc -sanitize=thread -g Tests/sanitizers/evidence/mutex-tsan.swift -o /tmp/mutex-tsan-demo
//   /tmp/mutex-tsan-demo           # counter = 400000 (the lock works), and a "Swift access race" report, exit 66
//   /tmp/mutex-tsan-demo pthread   # counter = 400000, no report, exit 0
//
// Why: Mutex's fast paths are inlined into the caller as atomic compare-exchanges, which TSan instruments, but
// a contended lock goes through _MutexHandle._lockSlow/_unlockSlow in libswiftSynchronization.so, which is not
// instrumented: it spins on a plain `lock cmpxchg`, then calls futex(FUTEX_LOCK_PI / FUTEX_UNLOCK_PI), and the
// kernel hands the lock over. (`strace -f -e futex /tmp/mutex-tsan-demo` shows the FUTEX_LOCK_PI_PRIVATE calls.)
// TSan sees no happens-before edge from the unlocking thread to the locking one. Swift 6.3.1, Linux x86_64.
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

final class Shared: @unchecked Sendable {
    let lock = Mutex<Void>(())
    var counter = 0   // guarded by `lock` (or `pthreadLock`) by convention
    let pthreadLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let p = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(p, nil)
        return p
    }()
}

let usePthread = CommandLine.arguments.contains("pthread")
let iterations = 200_000
let shared = Shared()

func body(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    for _ in 0..<iterations {
        if usePthread {
            pthread_mutex_lock(shared.pthreadLock)
            shared.counter += 1
            pthread_mutex_unlock(shared.pthreadLock)
        } else {
            shared.lock.withLock { _ in shared.counter += 1 }
        }
    }
    return nil
}

var threads: [pthread_t] = []
for _ in 0..<2 {
    var t = pthread_t()
    precondition(pthread_create(&t, nil, { body($0) }, nil) == 0)
    threads.append(t)
}
for t in threads { pthread_join(t, nil) }
print("counter = \(shared.counter) (expected \(2 * iterations)), lock: \(usePthread ? "pthread_mutex_t" : "Synchronization.Mutex")")
