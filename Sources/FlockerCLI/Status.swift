import ArgumentParser
import FlockerCore

/// `flocker-deploy status DEPLOYMENT [APPLICATION]`: what runs where, and every volume's copies.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what runs where, each volume's copies (role, epoch, size, newest snapshot), locks and last runs.",
        discussion: """
            Connects to every node of the deployment file and changes nothing. Nodes that cannot be reached are \
            named, not fatal. With the application file, also says what a deploy would change. Volumes whose \
            application was removed are listed too: they are kept, and reattached when it comes back.
            """)

    @Argument(help: "The deployment file (its nodes are the ones shown).")
    var deployment: String

    @Argument(help: "The application file (optional): compare with what a deploy would do.")
    var application: String?

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON object on stdout.")
    var json = false

    @Option(help: ArgumentHelp("For monitoring: exit 1 when a replica's newest snapshot is older than this many seconds behind its primary (or it is diverged or unreachable).", valueName: "seconds"))
    var maxLag: Int?

    func run() async throws {
        let nodes: [String]
        var desired: DesiredState?
        if let application {
            let manifests = try loadManifests(deployment: deployment, application: application, json: json)
            nodes = manifests.desired.nodes
            desired = manifests.desired
        } else {
            nodes = try loadDeploymentOnly(deployment, json: json).nodes.map(\.name)
        }
        var status = await ClusterStatus.gather(nodes: nodes, desired: desired, connector: try connection.connector())
        if let application { status.deployCommand = "flocker-deploy \(ShellWord.quoted(deployment)) \(ShellWord.quoted(application))" }
        TextOutput.standardOutput.write(json ? status.json() : status.text())
        if status.exitCode != .success { throw ExitCode(status.exitCode.rawValue) }
        if let maxLag {
            let behind = status.replicasBehind(max(0, maxLag))
            if !behind.isEmpty {
                TextOutput.standardError.write("error: replicas behind by more than \(maxLag) s:\n" + behind.map { "  \($0)\n" }.joined())
                throw ExitCode(FlockerExit.stepFailed.rawValue)
            }
        }
    }
}

/// `flocker-deploy lock status|release DEPLOYMENT`.
struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock",
        abstract: "Show or release the run locks on the nodes of a deployment file.",
        subcommands: [LockStatus.self, LockRelease.self])
}

struct LockStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show who holds the lock on each node, since when, and when it last showed signs of life.")

    @Argument(help: "The deployment file.")
    var deployment: String

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print one JSON object on stdout (see docs/operations.md).")
    var json = false

    func run() async throws {
        let nodes = try loadDeploymentOnly(deployment).nodes.map(\.name)
        let report = await LockCommands.status(nodes: nodes, connector: try connection.connector())
        TextOutput.standardOutput.write(json ? LockCommands.json(report) : report.text)
        if report.unreachable { throw ExitCode(FlockerExit.nodeUnreachable.rawValue) }
        if report.locked { throw ExitCode(FlockerExit.locked.rawValue) }
    }
}

struct LockRelease: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Remove the lock from every node of the deployment file, whoever holds it.",
        discussion: "Use it after checking (with `lock status`) that the run holding the lock is gone: a run that is still going keeps working without its lock.")

    @Argument(help: "The deployment file.")
    var deployment: String

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let nodes = try loadDeploymentOnly(deployment).nodes.map(\.name)
        let report = await LockCommands.release(nodes: nodes, connector: try connection.connector())
        TextOutput.standardOutput.write(report.text)
        if report.unreachable { throw ExitCode(FlockerExit.nodeUnreachable.rawValue) }
    }
}

/// Loads just the deployment file, printing its errors (exit code 2).
func loadDeploymentOnly(_ path: String, json: Bool = false) throws -> Deployment {
    do {
        return try Manifests.loadDeployment(path)
    } catch {
        for e in error.errors { TextOutput.standardError.write(e.description + "\n") }
        TextOutput.standardError.write(ManifestErrors.countLine(error.errors.count) + "\n")
        if json { JSONReporter().invalidManifests(error) }
        throw ExitCode(FlockerExit.invalidInput.rawValue)
    }
}
