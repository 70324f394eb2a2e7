import ArgumentParser
import FlockerCore
import FlockerSSH
import Foundation

/// How to reach the nodes: shared by every command that connects.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("ssh-config"), help: ArgumentHelp(
        "The OpenSSH client configuration to read (Host, HostName, User, Port, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout).",
        discussion: "Default: $FLOCKER_SSH_CONFIG, else ~/.ssh/config.", valueName: "path"))
    var sshConfig: String?

    @Flag(help: "Accept and record the host key of a node never seen before (keys that changed are always refused).")
    var acceptNewHostKeys = false

    @Option(help: ArgumentHelp("Seconds to wait for a node to answer when connecting (default: the ssh config's ConnectTimeout, else 10). Given here, it wins over the ssh config.", valueName: "seconds"))
    var connectTimeout: Int?

    func validate() throws {
        if let connectTimeout, connectTimeout < 1 {
            throw ValidationError("--connect-timeout must be at least 1 second (got \(connectTimeout))")
        }
    }

    @Flag(name: [.customShort("v"), .long], help: "Print every remote command, with its node, duration and exit status, on stderr.")
    var verbose = false

    /// The connector to the nodes, or an input error (exit code 2) when the ssh config cannot be read.
    func connector() throws -> any NodeConnector {
        let config: SSHClientConfig
        do {
            config = try SSHClientConfig.load(explicitPath: sshConfig, environment: ProcessInfo.processInfo.environment)
        } catch {
            // A config error is positioned already (`FILE:LINE: error: …`): no second `error:` in front.
            let text = error.description
            TextOutput.standardError.write((text.contains("error: ") ? text : "error: \(text)") + "\n")
            throw ExitCode(FlockerExit.invalidInput.rawValue)
        }
        for warning in config.warnings { TextOutput.standardError.write("warning: \(warning)\n") }
        if !config.lookedAt.isEmpty {
            TextOutput.standardError.write("note: no ssh config found (looked at \(config.lookedAt.joined(separator: ", "))): connecting with the defaults (see docs/ssh.md)\n")
        }
        var options = SSHConnectOptions()
        options.acceptNewHostKeys = acceptNewHostKeys
        if let connectTimeout { options.connectTimeoutOverride = .seconds(connectTimeout) }
        let ssh = SSHNodeConnector(config: config, options: options)
        return verbose ? TracingConnector(ssh) : ssh
    }
}

/// Loads both manifests, printing their errors (exit code 2) when they are invalid.
func loadManifests(deployment: String, application: String, json: Bool, profiles: [String] = []) throws -> Manifests {
    do {
        let manifests = try Manifests.load(
            deployment: deployment, application: application, environment: ProcessInfo.processInfo.environment,
            profiles: profiles)
        for w in manifests.warnings { TextOutput.standardError.write(w.description + "\n") }
        for w in manifests.portWarnings { TextOutput.standardError.write("warning: \(w)\n") }
        return manifests
    } catch {
        let err = TextOutput.standardError
        for e in error.errors { err.write(e.description + "\n") }
        err.write(ManifestErrors.countLine(error.errors.count) + "\n")
        // A run's --json output is JSON lines, one object per line, also here (validate prints one object).
        if json { JSONReporter().invalidManifests(error) }
        throw ExitCode(FlockerExit.invalidInput.rawValue)
    }
}

/// The options every command that changes nodes shares (deploy, sync): what to print, how to wait for locks,
/// how to move data. Applied to the run's options in one place.
struct RunOptions: ParsableArguments {
    @Flag(help: "Print the plan and change nothing.")
    var dryRun = false

    @Option(name: .customLong("profile"), help: "Enable a Compose profile (repeatable; COMPOSE_PROFILES too).")
    var profile: [String] = []

    @Flag(help: "Print the plan, each step's result and a summary as JSON lines on stdout (for CI).")
    var json = false

    @Option(help: ArgumentHelp("Abandon a volume transfer that stands still (no byte moved) this many seconds.", valueName: "seconds"))
    var transferTimeout: Int = 120

    @Option(help: ArgumentHelp("Seconds a node may take to answer a short question (discovery, listing a volume's snapshots before a copy) before it is taken to be cut off.", valueName: "seconds"))
    var queryTimeout: Int = 60

    @Option(help: ArgumentHelp("Seconds an ordinary remote command may take (docker pull, zfs and docker commands of a step).", valueName: "seconds"))
    var commandTimeout: Int = 600

    @Flag(help: "Do not compress volume transfers (by default zstd or lz4 is used when both nodes have it).")
    var noCompression = false

    @Option(help: ArgumentHelp("While an application with volumes moves, every node holds new connections to its ports (clients retry about a second later instead of being refused) for at most this many seconds; 0: no hold.", valueName: "seconds"))
    var connectionHold: Int = 30

    @Option(help: ArgumentHelp("Once a moving application's new connections are held, wait up to this many seconds for the connections it serves to end before stopping it (a transaction in flight finishes instead of being cut); 0: stop at once.", valueName: "seconds"))
    var drain: Int = 2

    @Option(help: ArgumentHelp("At most this many steps at once on one node: each application's steps run as their own pipeline, overlapping with the other applications' (1: one step at a time per node).", valueName: "n"))
    var parallel: Int = 4

    @Option(help: ArgumentHelp("If another run holds the lock on a node, wait up to this many seconds for it (0: fail at once).", valueName: "seconds"))
    var lockWait: Int = 0

    @Option(help: ArgumentHelp("Take over a lock whose holder has shown no sign of life for this many seconds (a run that died; at least \(RunOptions.minimumLockExpiry)).", valueName: "seconds"))
    var lockExpiry: Int = 600

    /// A holder touches its heartbeat every 30 seconds; an expiry below this would take over live runs' locks.
    static let minimumLockExpiry = 30

    func validate() throws {
        if lockExpiry < Self.minimumLockExpiry {
            throw ValidationError("--lock-expiry \(lockExpiry) is too short: the minimum is \(Self.minimumLockExpiry) seconds (a running holder touches its lock every 30 seconds: a shorter expiry would take over the lock of a run that is still going)")
        }
        if transferTimeout < 1 { throw ValidationError("--transfer-timeout must be at least 1 second (got \(transferTimeout))") }
        if queryTimeout < 1 { throw ValidationError("--query-timeout must be at least 1 second (got \(queryTimeout))") }
        if commandTimeout < 1 { throw ValidationError("--command-timeout must be at least 1 second (got \(commandTimeout))") }
        if parallel < 1 { throw ValidationError("--parallel must be at least 1 (got \(parallel))") }
        if lockWait < 0 { throw ValidationError("--lock-wait cannot be negative (got \(lockWait))") }
        if drain < 0 { throw ValidationError("--drain cannot be negative (got \(drain); 0 stops at once)") }
        if connectionHold < 0 { throw ValidationError("--connection-hold cannot be negative (got \(connectionHold); 0 turns holds off)") }
    }

    /// The run's options from these, with the manifests' hash and the command line for locks and audit records.
    func runOptions(_ manifests: Manifests) -> ClusterRun.Options { runOptions(hash: manifests.hash) }

    /// The one builder of a run's options: `hash` is the manifests' (or, for a command that reads only the
    /// deployment file, that file's) SHA-256, recorded in locks and audit records.
    func runOptions(hash: String) -> ClusterRun.Options {
        var options = ClusterRun.Options()
        options.dryRun = dryRun
        options.json = json
        options.execution.compression = !noCompression
        options.execution.transferIdleTimeout = .seconds(transferTimeout)
        options.execution.queryTimeout = .seconds(queryTimeout)
        options.execution.commandTimeout = .seconds(commandTimeout)
        options.execution.connectionHold = .seconds(connectionHold)
        options.execution.drain = .seconds(drain)
        options.execution.parallel = parallel
        options.lockWait = .seconds(max(0, lockWait))
        options.lockExpiry = .seconds(lockExpiry)
        options.manifestsHash = hash
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        options.execution.holdAfter = ProcessInfo.processInfo.environment["FLOCKER_TEST_HOLD"]
        return options
    }
}

/// For the commands that start containers (deploy, evacuate, rollback, clone create and reset): how long one
/// may take to be ready.
struct StartOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds a started application may take to run and accept connections on its ports.", valueName: "seconds"))
    var readyTimeout: Int = 60

    func validate() throws {
        if readyTimeout < 1 { throw ValidationError("--ready-timeout must be at least 1 second (got \(readyTimeout))") }
    }

    func apply(to options: inout ClusterRun.Options) { options.execution.readyTimeout = .seconds(readyTimeout) }
}

/// Runs `operation` through the one flow with the options of the command line, and exits with its code.
func runOperation(_ operation: any ClusterOperation, hash: String, connection: ConnectionOptions, common: RunOptions,
                  start: StartOptions? = nil, adjust: (inout ClusterRun.Options) -> Void = { _ in }) async throws {
    let connector = try connection.connector()
    var options = common.runOptions(hash: hash)
    options.verbose = connection.verbose
    start?.apply(to: &options)
    adjust(&options)
    let stop = StopRequest()
    let signals = SignalWatcher(stop)
    defer { signals.cancel() }
    let code = await ClusterRun(operation: operation, connector: connector, options: options, stopRequest: stop).run()
    if code != .success { throw ExitCode(code.rawValue) }
}
