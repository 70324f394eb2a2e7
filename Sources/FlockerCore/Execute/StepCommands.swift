import Foundation

/// Running a step's remote commands: how a transport error or a failed command becomes the step's failure.
/// The executor and the volume transfers both go through here.
extension StepFailure {
    /// `step` could not talk to `error`'s node. A command that timed out got as far as the node, so it does not
    /// count as unreachable.
    init(_ error: RemoteError, step: String) {
        self.init(node: error.node, step: step, message: error.message, unreachable: error.kind != .timedOut)
    }
}

extension RemoteHost {
    /// Runs `command` for `step`; a transport error becomes the step's failure, the exit status is the caller's.
    func run(_ command: RemoteCommand, stdin: [UInt8] = [], step: String, timeout: Duration)
        async throws(StepFailure) -> CommandResult
    {
        do {
            return try await run(command, stdin: stdin, timeout: timeout)
        } catch {
            throw StepFailure(error, step: step)
        }
    }

    /// Runs `command` for `step` and fails the step unless it exits 0.
    func check(_ command: RemoteCommand, stdin: [UInt8] = [], step: String, timeout: Duration) async throws(StepFailure) {
        let result = try await run(command, stdin: stdin, step: step, timeout: timeout)
        guard result.status.isSuccess else {
            throw StepFailure(node: node, step: step, message: "\(command.programs) failed (\(result.status))",
                stderr: trim(result.stderrText))
        }
    }
}

func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
