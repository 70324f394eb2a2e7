/// How a step ended.
public enum StepOutcome: Sendable, Hashable {
    case succeeded
    case failed(StepFailure)
    case skipped(String)
}

/// A step that failed: the node, what it was doing, and what the node said.
public struct StepFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var node: String
    /// What was being done, in the user's words (e.g. "start redis").
    public var step: String
    /// The failure in one line.
    public var message: String
    /// The remote command's stderr (trimmed), when a command failed.
    public var stderr: String
    /// True when the node could not be talked to (as opposed to a command that failed).
    public var unreachable: Bool

    public init(node: String, step: String, message: String, stderr: String = "", unreachable: Bool = false) {
        self.node = node
        self.step = step
        self.message = message
        self.stderr = stderr
        self.unreachable = unreachable
    }

    public var description: String {
        var text = "\(node): \(step): \(message)"
        if !stderr.isEmpty { text += "\n" + stderr.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") }
        return text
    }
}

/// One step's result.
public struct StepResult: Sendable, Hashable {
    public var step: Step
    public var outcome: StepOutcome
    public var duration: Duration
    /// A short note on what happened (e.g. "sent 12.1 MiB in 2 rounds").
    public var detail: String
    /// Bytes a copy step carried (nil for other steps).
    public var bytes: UInt64?

    public init(step: Step, outcome: StepOutcome, duration: Duration, detail: String = "", bytes: UInt64? = nil) {
        self.step = step
        self.outcome = outcome
        self.duration = duration
        self.detail = detail
        self.bytes = bytes
    }
}

/// Progress of a volume transfer.
public struct TransferProgress: Sendable, Hashable {
    public var bytes: UInt64
    /// Bytes expected in all, when known (a full send of a dataset: its referenced size).
    public var expected: UInt64?
    public var elapsed: Duration
    public var round: Int
    /// Something worth a line of its own (e.g. a leftover receive stopped).
    public var note: String? = nil
    /// The compressor the stream goes through (`zstd`, `lz4`), if any: `bytes` are then compressed bytes, which
    /// end below `expected` (the data's size) by a ratio not known ahead, so no percentage or ETA is derived.
    public var compressor: String? = nil

    public var bytesPerSecond: Double {
        let s = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return s > 0 ? Double(bytes) / s : 0
    }
}

/// What happens during a run, as it happens.
public enum RunEvent: Sendable {
    case phaseStarted(PhaseName)
    case stepStarted(Step)
    case stepFinished(StepResult)
    case progress(Step, TransferProgress)
    /// Something the user should know that is not a step (a rollback, an interruption).
    case note(String)
}

/// Receives run events (the terminal printer, the JSON-lines printer, tests). Called from any task.
public protocol RunObserver: Sendable {
    func event(_ event: RunEvent)
}

/// The whole run's outcome.
public struct RunReport: Sendable {
    public var results: [StepResult]
    /// Rollbacks done after failures or an interruption (e.g. "restarted redis on node1").
    public var rollbacks: [String]
    public var interrupted: Bool

    public var failures: [StepFailure] {
        results.compactMap { if case .failed(let f) = $0.outcome { return f } else { return nil } }
    }
    public var succeeded: Int { results.filter { $0.outcome == .succeeded }.count }
    public var skipped: Int { results.filter { if case .skipped = $0.outcome { return true } else { return false } }.count }
    /// Rollbacks that could not be done: an application left stopped. The run failed, whatever its steps did.
    public var failedRollbacks: [String] { rollbacks.filter { $0.hasPrefix(Self.failedRollbackPrefix) } }
    public static let failedRollbackPrefix = "rollback FAILED: "
    /// Every step done and nothing left to undo: the one outcome that exits 0.
    public var isSuccess: Bool { failures.isEmpty && failedRollbacks.isEmpty && !interrupted }
}
