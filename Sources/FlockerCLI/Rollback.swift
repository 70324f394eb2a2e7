import ArgumentParser
import FlockerCore
import Foundation

/// `flocker-deploy rollback DEPLOYMENT APPLICATION --app NAME --to SNAPSHOT [--yes]`.
struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Bring an application's volumes back to a snapshot, keeping the current state and every newer snapshot.",
        discussion: """
            Without --yes, prints what it would do and changes nothing. With --yes: stops the application, keeps \
            the current state as snapshot pre-rollback-<UTC time> (listed by snapshot list, itself a valid --to), \
            brings every volume back to SNAPSHOT with a clone that is promoted and renamed (never zfs rollback -r: \
            no snapshot is destroyed; the newer ones stay on the dataset set aside, flocker/APP.VOLUME-pre-rollback-\
            <time>), starts the application, and brings its replicas along (incrementally when they share a \
            snapshot with the volume's new line). See docs/clones.md, "Rollback".
            """)

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The application file.") var application: String
    @Option(help: "The application to roll back.") var app: String
    @Option(help: ArgumentHelp("The snapshot, as `snapshot list` names it.", valueName: "snapshot")) var to: String
    @Flag(help: "Do it (without: print what would be done).") var yes = false
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions
    @OptionGroup var start: StartOptions

    func run() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: common.json, profiles: common.profile)
        try requireApplication(app, in: manifests)
        var common = self.common
        if !yes { common.dryRun = true }
        try await runOperation(RollbackOperation(manifests.desired, app: app, to: to, now: Timestamp.now),
                               manifests: manifests, connection: connection, common: common, start: start)
        if !yes && !self.common.dryRun && !common.json {
            TextOutput.standardOutput.write("Nothing was changed: run again with --yes to roll back.\n")
        }
    }
}
