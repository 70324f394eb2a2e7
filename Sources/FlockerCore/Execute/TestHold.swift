#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The pause of the test aid FLOCKER_TEST_HOLD (see `ExecutionOptions.holdAfter`). It ends when the process
/// receives SIGCONT (`kill -CONT PID`: the run goes on, so a test can disturb the cluster at an exact point and
/// let the run meet the fault), on a stop request (SIGINT or SIGTERM: the run stops as it would between two
/// steps, which is how an interruption before or after a handoff is tested), or after an hour.
enum TestHold {
    private static let resumed = Atomic<Bool>(false)

    static func wait(stop: StopRequest, announce: () -> Void) async {
        resumed.store(false, ordering: .sequentiallyConsistent)
        // Installed before the announcement, so that a SIGCONT sent as soon as it is read is not lost.
        signal(SIGCONT) { _ in TestHold.resumed.store(true, ordering: .sequentiallyConsistent) }
        announce()
        let clock = ContinuousClock()
        let end = clock.now + .seconds(3600)
        while !resumed.load(ordering: .sequentiallyConsistent) && !stop.isRequested && clock.now < end {
            try? await Task.sleep(for: .milliseconds(50))
        }
        signal(SIGCONT, SIG_DFL)
    }
}
