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

    @Option(help: ArgumentHelp("Seconds to wait for a node to answer when connecting (unless the ssh config sets ConnectTimeout).", valueName: "seconds"))
    var connectTimeout: Int = 10

    @Flag(name: [.customShort("v"), .long], help: "Print every remote command, with its node, duration and exit status, on stderr.")
    var verbose = false

    /// The connector to the nodes, or an input error (exit code 2) when the ssh config cannot be read.
    func connector() throws -> any NodeConnector {
        let config: SSHClientConfig
        do {
            config = try SSHClientConfig.load(explicitPath: sshConfig, environment: ProcessInfo.processInfo.environment)
        } catch {
            TextOutput.standardError.write("error: \(error.description)\n")
            throw ExitCode(FlockerExit.invalidInput.rawValue)
        }
        for warning in config.warnings { TextOutput.standardError.write("warning: \(warning)\n") }
        var options = SSHConnectOptions()
        options.acceptNewHostKeys = acceptNewHostKeys
        options.connectTimeout = .seconds(max(1, connectTimeout))
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
        return manifests
    } catch {
        let err = TextOutput.standardError
        for e in error.errors { err.write(e.description + "\n") }
        err.write(ManifestErrors.countLine(error.errors.count) + "\n")
        if json { TextOutput.standardOutput.write(ManifestSummary.json(error)) }
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

    @Flag(help: "Do not compress volume transfers (by default zstd or lz4 is used when both nodes have it).")
    var noCompression = false

    @Option(help: ArgumentHelp("If another run holds the lock on a node, wait up to this many seconds for it (default: fail at once).", valueName: "seconds"))
    var lockWait: Int = 0

    @Option(help: ArgumentHelp("Take over a lock whose holder has shown no sign of life for this many seconds (a run that died).", valueName: "seconds"))
    var lockExpiry: Int = 600

    /// The run's options from these, with the manifests' hash and the command line for locks and audit records.
    func runOptions(_ manifests: Manifests) -> ClusterRun.Options {
        var options = ClusterRun.Options()
        options.dryRun = dryRun
        options.json = json
        options.execution.compression = !noCompression
        options.execution.transferIdleTimeout = .seconds(max(1, transferTimeout))
        options.lockWait = .seconds(max(0, lockWait))
        options.lockExpiry = .seconds(max(30, lockExpiry))
        options.manifestsHash = manifests.hash
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        return options
    }
}
