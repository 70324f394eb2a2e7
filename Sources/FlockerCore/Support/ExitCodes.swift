/// The exit codes of `flocker-deploy`. They are part of the interface: CI jobs branch on them.
/// Documented in docs/operations.md; never renumber one.
public enum FlockerExit: Int32, Sendable, CaseIterable {
    /// The run finished: every step succeeded, or there was nothing to do.
    case success = 0
    /// A step failed on a node (the message names the node and the step).
    case stepFailed = 1
    /// The command line or a manifest is invalid; nothing was contacted.
    case invalidInput = 2
    /// A node could not be reached, refused authentication or failed its host-key check; nothing changed.
    case nodeUnreachable = 3
    /// Another run holds the lock on a node this run needs.
    case locked = 4
    /// The run refused to act because acting could lose data (for example a diverged copy).
    case refusedUnsafe = 5
    /// Interrupted by SIGINT or SIGTERM; what was done and what was not was printed.
    case interrupted = 130
}
