import ArgumentParser
import FlockerCore
import Foundation

/// `flocker-deploy snapshot create|list|destroy`: named snapshots of an application's volumes.
struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Take, list and destroy named snapshots of an application's volumes.",
        discussion: """
            A named snapshot holds every volume of the application as it was at one moment, on its primary's \
            node. `sync` and moves copy it to the volume's other copies with the automatic ones, and it is never \
            pruned: it stays until `snapshot destroy`. See docs/operations.md, "Snapshots".
            """,
        subcommands: [SnapshotCreate.self, SnapshotList.self, SnapshotDestroy.self])
}

/// The application named by `--app`, or an input error (exit 2).
func requireApplication(_ app: String, in manifests: Manifests) throws {
    guard manifests.desired.applications[app] != nil else {
        TextOutput.standardError.write("error: --app \(app): there is no application \(app) in \(manifests.applicationFile)\n")
        throw ExitCode(FlockerExit.invalidInput.rawValue)
    }
}

/// Runs `operation` through the one flow and exits with its code.
func runOperation(_ operation: any ClusterOperation, manifests: Manifests, connection: ConnectionOptions,
                  common: RunOptions, start: StartOptions? = nil) async throws {
    try await runOperation(operation, hash: manifests.hash, connection: connection, common: common, start: start)
}

struct SnapshotCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Snapshot every volume of an application at one moment, under a name.",
        discussion: """
            The snapshots are taken on the node of the application's primary, all of its volumes in one \
            `zfs snapshot` where ZFS allows it (OpenZFS), otherwise one right after another (zfs-fuse); --stop \
            stops the application around them for an image a database needs no recovery from. Running it again \
            with the same name does nothing. Exit codes as for a deploy.
            """)

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The application file.") var application: String
    @Option(help: "The application whose volumes to snapshot.") var app: String
    @Option(help: ArgumentHelp("The snapshot's name (default: the UTC time, e.g. 20261201T184210Z).", valueName: "label"))
    var name: String?
    @Flag(help: "Stop the application while its volumes are snapshotted, and start it again after.") var stop = false
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions

    func validate() throws {
        if let name, let problem = SnapshotNames.problem(withLabel: name) { throw ValidationError("--name \(name): \(problem)") }
    }

    func run() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: common.json, profiles: common.profile)
        try requireApplication(app, in: manifests)
        let label = name ?? SnapshotNames.compactUTC(Timestamp.now)
        try await runOperation(SnapshotCreateOperation(manifests.desired, app: app, label: label, stop: stop),
                               manifests: manifests, connection: connection, common: common)
    }
}

struct SnapshotDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Destroy named snapshots of an application on every node that holds them.",
        discussion: """
            Refused, with nothing changed, while a clone depends on a snapshot (the clones are named), when it \
            is a replica's newest snapshot (run sync first), and for automatic snapshots (moves and sync prune \
            those). A snapshot no node holds is reported, not an error. Never destroys anything but the named \
            snapshots (no -r, no -R).
            """)

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The application file.") var application: String
    @Option(help: "The application whose snapshots to destroy.") var app: String
    @Argument(help: "The snapshots, by the names `snapshot list` shows.") var snapshots: [String]
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions

    func validate() throws {
        if snapshots.isEmpty { throw ValidationError("name at least one snapshot to destroy") }
    }

    func run() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: common.json, profiles: common.profile)
        try requireApplication(app, in: manifests)
        try await runOperation(SnapshotDestroyOperation(manifests.desired, app: app, snapshots: snapshots),
                               manifests: manifests, connection: connection, common: common)
    }
}

struct SnapshotList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the snapshots flocker-deploy took: name, kind, time (UTC), space, clones, nodes.",
        discussion: """
            Kinds: named (snapshot create, never pruned), pre-rollback (the state a rollback replaced), \
            automatic (taken by moves and sync, pruned by them). SPACE is what destroying the snapshot would \
            free on its primary's node. Read from the nodes alone; changes nothing. Exit 3 when a node cannot \
            be reached (the others are listed).
            """)

    @Argument(help: "The deployment file (its nodes are asked).") var deployment: String
    @Argument(help: "The application file (optional): list its applications only.") var application: String?
    @Option(help: "List this application's snapshots only.") var app: String?
    @Flag(help: "Print one JSON object: `schema` and `snapshots`, an array of objects (name, app, created, kind, nodes, space, clones, volumes, snapshot).") var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        var nodes: [String]
        var apps: Set<String>? = app.map { [$0] }
        if let application {
            let manifests = try loadManifests(deployment: deployment, application: application, json: json)
            nodes = manifests.desired.nodes
            if let app { try requireApplication(app, in: manifests) } else { apps = Set(manifests.desired.applications.keys) }
        } else {
            nodes = try loadDeploymentOnly(deployment, json: json).nodes.map(\.name)
        }
        nodes.sort()
        let outcomes = await Discovery(connector: try connection.connector()).discoverEach(nodes)
        var states: [String: NodeState] = [:]
        var unreachable: [String] = []
        for node in nodes {
            switch outcomes[node] {
            case .success(let (host, state))?:
                states[node] = state
                await host.close()
            case .failure(let error)?:
                unreachable.append(node)
                TextOutput.standardError.write("warning: \(node): cannot be reached (\(error.message)); its snapshots are not listed\n")
            case nil: unreachable.append(node)
            }
        }
        let entries = SnapshotPlanner.list(ObservedState(nodes: states), apps: apps)
        TextOutput.standardOutput.write(json ? SnapshotPlanner.json(entries) : SnapshotPlanner.text(entries))
        if !unreachable.isEmpty { throw ExitCode(FlockerExit.nodeUnreachable.rawValue) }
    }
}
