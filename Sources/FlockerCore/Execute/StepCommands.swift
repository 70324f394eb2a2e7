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
            if error.kind == .timedOut {
                // In words, not the shell text: what was asked, how long it waited, what to suspect.
                throw StepFailure(node: error.node, step: step,
                    message: "no answer from \(error.node) within \(Seconds.text(timeout)) while \(command.what) (its link may be down, or the node overloaded)",
                    unreachable: false)
            }
            throw StepFailure(error, step: step)
        }
    }

    /// Runs `command` for `step` and fails the step unless it exits 0.
    /// Returns what it printed, trimmed.
    @discardableResult
    func check(_ command: RemoteCommand, stdin: [UInt8] = [], step: String, timeout: Duration) async throws(StepFailure) -> String {
        let result = try await run(command, stdin: stdin, step: step, timeout: timeout)
        guard result.status.isSuccess else {
            throw StepFailure(node: node, step: step, message: "\(command.what) failed (\(result.status))",
                stderr: trim(result.stderrText))
        }
        return trim(result.stdoutText)
    }
}

func trim(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

extension RemoteCommand {
    /// What the command does, in words, for messages: a script by what its name says (`listing the volume's
    /// snapshots`), any other command by its programs (`docker`, `zfs | zstd`).
    var what: String {
        if let first = stages.first, first.count >= 4, first[0] == "sh" || first[0] == "bash", first[1] == "-c" {
            return Self.words[first[3]] ?? first[3]
        }
        return programs
    }

    private static let words: [String: String] = [
        "flocker-snapshots": "listing the volume's snapshots",
        "flocker-snapshot": "taking a snapshot",
        "flocker-stop-receives": "looking for receives left by an interrupted run",
        "flocker-incoming": "preparing the new copy's dataset",
        "flocker-create-volume": "creating the volume",
        "flocker-create-seeded-volume": "creating the volume from its folder",
        "flocker-zfs-set": "setting the volume's properties",
        "flocker-remount": "mounting the volume",
        "flocker-rename": "renaming the dataset",
        "flocker-rejoin": "rejoining the returning copy",
        "flocker-destroy-copy": "removing the copy",
        "flocker-prune": "pruning old snapshots",
        "flocker-start": "starting the container",
        "flocker-stop": "stopping the container",
        "flocker-restart": "restarting the container",
        "flocker-remove": "removing the container",
        "flocker-ready": "waiting for the application to be ready",
        "flocker-routes": "changing the routing rules",
    ]
}
