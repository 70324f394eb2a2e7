import Foundation
import Synchronization

/// Knobs of a run; the defaults suit most clusters.
public struct ExecutionOptions: Sendable {
    /// How long a started application may take to run and accept connections on its ports.
    public var readyTimeout: Duration = .seconds(60)
    /// Deadline of an ordinary remote command (`docker pull` included).
    public var commandTimeout: Duration = .seconds(600)
    /// Deadline of a short question to a node (discovery, listing a volume's snapshots before a copy): a node
    /// that does not answer within it is taken to be cut off (`--query-timeout`).
    public var queryTimeout: Duration = .seconds(60)
    /// How long a volume transfer may stand still before it is abandoned.
    public var transferIdleTimeout: Duration = .seconds(120)
    /// A pre-copy repeats while its last round sent more than this many bytes…
    public var preCopyThreshold: UInt64 = 8 << 20
    /// …but at most this many rounds. Zero skips the pre-copy: the application stops first and everything is
    /// copied while it is down (Flocker 0.1's way; the baseline of the downtime benchmark).
    public var maxPreCopyRounds = 4
    /// Compress transfers when both nodes have zstd or lz4.
    public var compression = true
    /// Send volumes straight from node to node (`zfs send | ssh TARGET zfs recv`) instead of relaying them
    /// through this machine. Needs the source node to reach the target over SSH as `directUser` with keys of
    /// its own and the target's host key in its known_hosts.
    public var directTransfer = false
    public var directUser = "root"
    /// The longest a move holds new connections to an application (see `Action.holdConnections`): the hold
    /// rules end by themselves this long after they were set, even if flocker-deploy dies. Zero: no hold (new
    /// connections are refused while the application is down, as before holds existed).
    public var connectionHold: Duration = .seconds(30)
    /// Once new connections are held, how long a move waits before stopping the application for the connections
    /// it already serves to end (a transaction in flight finishes instead of being cut). Only where a hold is in
    /// place, and only as long as an inbound connection is open: an idle pool costs the whole wait. Zero: stop at
    /// once.
    public var drain: Duration = .seconds(2)
    /// Test aid (environment variable FLOCKER_TEST_HOLD=after:ACTION[:APP], e.g. `after:stop`,
    /// `after:handoff:redis`): after a step of that JSON action (of that application) succeeds, print a line on
    /// stderr and pause that application's pipeline, so a fault test can kill the process at exactly that point
    /// (other applications' pipelines go on: name the application when the plan has several). SIGCONT ends the pause (the run goes on) and so does
    /// SIGINT or SIGTERM (the run stops there, as between any two steps). Never set in normal use.
    public var holdAfter: String?
    /// The length of an hour (and a day, 24 of them) for the `snapshots:` retention's periods: 3600. Test aid
    /// (environment variable FLOCKER_TEST_RETENTION_HOUR=SECONDS): an acceptance test shrinks the hour to watch
    /// hourly counts at work within a minute. Never set in normal use.
    public var retentionSecondsPerHour: Int =
        ProcessInfo.processInfo.environment["FLOCKER_TEST_RETENTION_HOUR"].flatMap(Int.init).map { max(1, $0) } ?? 3600

    /// At most this many steps run at once on one node (`--parallel`): the applications' pipelines overlap, and
    /// this bounds how many docker, zfs and transfer commands a node sees at the same time. Steps of one
    /// application on one node always run one after another; iptables changes and received replication streams
    /// are one at a time per node whatever this says.
    public var parallel = 4

    public init() {}
}

/// Set from a signal handler's task when the user presses Ctrl-C or a SIGTERM arrives: no new step starts.
public final class StopRequest: Sendable {
    private let flag = Mutex(false)
    public init() {}
    public func request() { flag.withLock { $0 = true } }
    public var isRequested: Bool { flag.withLock { $0 } }
}
