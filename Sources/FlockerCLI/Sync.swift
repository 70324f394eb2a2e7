import ArgumentParser
import FlockerCore
import Foundation

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

    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(help: "Print the plan, each step's result and a summary as JSON lines on stdout.")
    var json = false

    @Option(help: ArgumentHelp("Repeat: start a pass every this many seconds until interrupted (Ctrl-C).", valueName: "seconds"))
    var every: Int?

    @Option(help: ArgumentHelp("Abandon a transfer that stands still (no byte moved) this many seconds.", valueName: "seconds"))
    var transferTimeout: Int = 120

    @Flag(help: "Do not compress transfers.")
    var noCompression = false

    @Option(help: ArgumentHelp("If another run holds the lock on a node, wait up to this many seconds for it.", valueName: "seconds"))
    var lockWait: Int = 0

    @Option(help: ArgumentHelp("Take over a lock whose holder has shown no sign of life for this many seconds.", valueName: "seconds"))
    var lockExpiry: Int = 600

    func validate() throws {
        if let every, every < 1 { throw ValidationError("--every takes a number of seconds of at least 1") }
        if lockExpiry < 30 { throw ValidationError("--lock-expiry takes at least 30 seconds") }
    }

    func run() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: json)
        let connector = try connection.connector()
        var options = ClusterRun.Options()
        options.dryRun = dryRun
        options.json = json
        options.execution.compression = !noCompression
        options.execution.transferIdleTimeout = .seconds(max(1, transferTimeout))
        options.lockWait = .seconds(max(0, lockWait))
        options.lockExpiry = .seconds(lockExpiry)
        options.manifestsHash = manifests.hash
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        let stop = StopRequest()
        let signals = SignalWatcher(stop)
        defer { signals.cancel() }
        let operation = SyncOperation(manifests.desired)
        var pass = 0
        var code: FlockerExit = .success
        while true {
            pass += 1
            let started = ContinuousClock.now
            code = await ClusterRun(operation: operation, connector: connector, options: options, stopRequest: stop).run()
            guard let every, !dryRun, !stop.isRequested else { break }
            // One line per pass; a pass that failed or was locked out does not end the loop (the next one retries).
            let line = "sync pass \(pass) ended \(Timestamp.iso(Timestamp.now)) with exit \(code.rawValue); next pass in \(every) s\n"
            if json { TextOutput.standardError.write(line) } else { TextOutput.standardOutput.write(line) }
            let next = started + .seconds(every)
            while ContinuousClock.now < next && !stop.isRequested { try? await Task.sleep(for: .milliseconds(100)) }
            if stop.isRequested { code = .interrupted; break }
        }
        if code != .success { throw ExitCode(code.rawValue) }
    }
}
