import ArgumentParser
import FlockerCore
import Foundation
import Synchronization

/// `flocker-deploy sync DEPLOYMENT APPLICATION`: keep replicas warm (`replicas:` in the deployment file).
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Bring every replica up to date with its primary (one pass, or one every --every seconds).",
        discussion: """
            For each application with `replicas:` in the deployment file: snapshot the primary of each of its \
            volumes and send each replica what it lacks (a full send creates a missing replica), remove replicas \
            no longer wanted when the primary holds all they have, prune old snapshots. Changes no container and \
            no route. Safe to run from cron or a systemd timer: a pass takes the locks of the nodes it touches \
            (exit 4 while another run holds one, or wait with --lock-wait). A replica node that cannot be reached \
            is skipped and named, the others are still synced, and the pass exits 3.

            Exit codes as for a deploy: 0 done; 1 a step failed; 2 invalid input; 3 a node unreachable; \
            4 locked by another run; 130 interrupted.
            """)

    @Argument(help: "The deployment file (with `replicas:`).")
    var deployment: String

    @Argument(help: "The application file.")
    var application: String

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var common: RunOptions

    @Option(help: ArgumentHelp("Repeat: start a pass every this many seconds until interrupted (Ctrl-C).", valueName: "seconds"))
    var every: Int?

    func validate() throws {
        if let every, every < 1 { throw ValidationError("--every takes a number of seconds of at least 1") }
    }

    func run() async throws {
        let manifests = try loadManifests(
            deployment: deployment, application: application, json: common.json, profiles: common.profile)
        let connector = try connection.connector()
        var options = common.runOptions(manifests)
        options.execution.holdAfter = ProcessInfo.processInfo.environment["FLOCKER_TEST_HOLD"]
        let stop = StopRequest()
        let signals = SignalWatcher(stop)
        defer { signals.cancel() }
        let operation = SyncOperation(manifests.desired)
        var pass = 0
        var code: FlockerExit = .success
        let replicas = Mutex<[String]>([])
        options.onReport = { report in replicas.withLock { $0 = Self.replicaSummary(report) } }
        while true {
            pass += 1
            let started = ContinuousClock.now
            replicas.withLock { $0 = [] }
            code = await ClusterRun(operation: operation, connector: connector, options: options, stopRequest: stop).run()
            guard let every, !common.dryRun else { break }
            // Ctrl-C ends the loop with 130 even when it came too late in the pass to stop a step of it.
            if stop.isRequested { code = .interrupted; break }
            // One line per pass; a pass that failed or was locked out does not end the loop (the next one retries).
            let sent = replicas.withLock { $0 }
            let line = "sync pass \(pass) ended \(Timestamp.iso(Timestamp.now)) with exit \(code.rawValue)"
                + (sent.isEmpty ? "" : ": " + sent.joined(separator: ", ")) + "; next pass in \(every) s\n"
            if common.json { TextOutput.standardError.write(line) } else { TextOutput.standardOutput.write(line) }
            let next = started + .seconds(every)
            while ContinuousClock.now < next && !stop.isRequested { try? await Task.sleep(for: .milliseconds(100)) }
            if stop.isRequested { code = .interrupted; break }
        }
        if code != .success { throw ExitCode(code.rawValue) }
    }

    /// Per replica of the pass: `node2 redis/default 572 B`, `… nothing new`, or `… FAILED` / `… skipped`.
    static func replicaSummary(_ report: RunReport) -> [String] {
        report.results.sorted { StepText.describe($0.step) < StepText.describe($1.step) }.compactMap { r -> String? in
            guard case .replicate(let v, let target) = r.step.action else { return nil }
            let what: String
            switch r.outcome {
            case .succeeded: what = (r.bytes ?? 0) == 0 && r.detail.contains("nothing sent") ? "nothing new" : Bytes.human(r.bytes ?? 0)
            case .failed: what = "FAILED"
            case .skipped: what = "skipped"
            }
            return "\(target) \(v) \(what)"
        }
    }
}
