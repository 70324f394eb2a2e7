import ArgumentParser
import FlockerCore
import Foundation

/// `flocker-deploy DEPLOYMENT APPLICATION`: make the cluster look like the two files say.
struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Make the nodes run what the two files say (the default command).",
        discussion: """
            Connects to every node of the deployment file over SSH, discovers what each runs, prints the plan and \
            carries it out: images pulled, volumes created or moved with their applications (snapshot, send, \
            hand over), containers started and stopped, routing rules switched. A cluster that already matches \
            prints "No changes" and changes nothing.

            Exit codes: 0 done; 1 a step failed; 2 invalid input; 3 a node unreachable or refused; \
            4 locked by another run; 5 refused because acting could lose data; 130 interrupted.
            """)

    @Argument(help: "The deployment file: which node runs which application.")
    var deployment: String

    @Argument(help: "The application file: what each application runs (Flocker v1 or Compose format).")
    var application: String

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var common: RunOptions

    @OptionGroup var start: StartOptions

    @Option(help: ArgumentHelp("Pre-copy a moving volume while its application runs, repeating while the last round sent more than 8 MiB, at most this many times (0: stop first and copy everything while it is down).", valueName: "n"))
    var preCopyRounds: Int = 4

    @Flag(help: "Send volumes straight from node to node over SSH instead of relaying them through this machine (the source node needs its own key to reach the target as --direct-user).")
    var directTransfer = false

    @Option(help: ArgumentHelp("The user for --direct-transfer.", valueName: "user"))
    var directUser = "root"

    @Flag(name: [.customLong("accept-unused"), .customLong("yes")],
          help: "Go on when the application file renamed or dropped a volume whose data would then be left unused while its application runs (the data is kept either way; without it such a deploy refuses, exit 5). --yes is its older name.")
    var acceptUnused = false

    @Flag(help: "Go on without the nodes that cannot be reached: an application whose primary is on one of them starts on its newest reachable replica, losing what was written after that replica's last sync.")
    var failover = false

    func run() async throws {
        let manifests = try loadManifests(
            deployment: deployment, application: application, json: common.json, profiles: common.profile)
        try await runOperation(DeployOperation(manifests.desired, failover: failover, acceptLeavingUnused: acceptUnused),
                               hash: manifests.hash, connection: connection, common: common, start: start) { options in
            options.execution.maxPreCopyRounds = max(0, preCopyRounds)
            options.execution.directTransfer = directTransfer
            options.execution.directUser = directUser
        }
    }
}

/// Turns SIGINT and SIGTERM into a stop request: no new step starts, the steps in flight finish, a move
/// stopped before its handoff is undone, and the run reports what was and was not done.
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(_ stop: StopRequest) {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if !stop.isRequested {
                    TextOutput.standardError.write("\nflocker-deploy: stopping: no new step will start; finishing the steps in flight…\n")
                }
                stop.request()
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
