import ArgumentParser
import FlockerCore

/// The root command. `flocker-deploy DEPLOYMENT APPLICATION` runs the `deploy` subcommand.
public struct FlockerDeploy: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flocker-deploy",
        abstract: "Deploy Docker containers to a cluster of nodes over SSH; their ZFS volumes follow them when they move.",
        version: FlockerVersion.string,
        subcommands: [Validate.self],
        defaultSubcommand: nil
    )

    @Argument(help: "The deployment file: which node runs which application.")
    var deployment: String

    @Argument(help: "The application file: what each application runs (Flocker v1 or Compose format).")
    var application: String

    public init() {}

    public mutating func run() async throws {
        print("not implemented yet")
        throw ExitCode(FlockerExit.stepFailed.rawValue)
    }
}
