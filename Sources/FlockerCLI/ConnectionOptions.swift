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
func loadManifests(deployment: String, application: String, json: Bool) throws -> Manifests {
    do {
        return try Manifests.load(deployment: deployment, application: application)
    } catch {
        let err = TextOutput.standardError
        for e in error.errors { err.write(e.description + "\n") }
        err.write(ManifestErrors.countLine(error.errors.count) + "\n")
        if json { TextOutput.standardOutput.write(ManifestSummary.json(error)) }
        throw ExitCode(FlockerExit.invalidInput.rawValue)
    }
}
