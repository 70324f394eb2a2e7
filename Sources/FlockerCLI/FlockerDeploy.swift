import ArgumentParser
import FlockerCore
import Foundation

/// The root command. `flocker-deploy DEPLOYMENT APPLICATION` runs `deploy`, Flocker's argument order.
public struct FlockerDeploy: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flocker-deploy",
        abstract: "Deploy Docker containers to nodes over SSH; their ZFS volumes follow them when they move.",
        usage: """
            flocker-deploy DEPLOYMENT APPLICATION [--dry-run] [--json] [--ssh-config <path>] [...]
            flocker-deploy validate DEPLOYMENT APPLICATION [--json]
            flocker-deploy <subcommand> [...]
            """,
        discussion: """
            DEPLOYMENT says which node runs which application; APPLICATION says what each application runs \
            (Flocker v1 or Compose format). See `flocker-deploy help deploy` for the deploy options and \
            docs/configuration.md for both formats.
            """,
        version: FlockerVersion.string,
        subcommands: [Deploy.self, Sync.self, Evacuate.self, Snapshot.self, Clone.self, Rollback.self, Validate.self, Status.self, Lock.self],
        defaultSubcommand: Deploy.self
    )

    public init() {}

    /// Parses the command line, runs the command and exits with flocker-deploy's exit codes (usage errors
    /// exit with 2, invalid input, rather than the parser's 64).
    public static func runAndExit() async -> Never {
        // A reader that goes away (`| head`, a closed terminal) must not kill a run half way through a move:
        // writes then fail with EPIPE, and TextOutput drops what it cannot write.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                TextOutput.standardError.write(fullMessage(for: error) + "\n")
                // JSON on stdout whatever happens, a command line it could not read included.
                if CommandLine.arguments.dropFirst().contains("--json") {
                    JSONReporter(out: .standardOutput).error(message(for: error), details: [], exitCode: .invalidInput)
                }
                Foundation.exit(FlockerExit.invalidInput.rawValue)
            }
            exit(withError: error)
        }
    }
}
