import ArgumentParser
import FlockerCore
import Foundation

/// `flocker-deploy clone create|list|destroy|sweep`: running copies of an application on ZFS clones.
struct Clone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone",
        abstract: "Create, list, reset and destroy running copies of an application on clones of a snapshot (for CI, staging).",
        discussion: """
            A clone shares every block with its snapshot, so it takes seconds whatever the volume's size. Each \
            clone is a container of the application's image and configuration on its own writable copy of the \
            data, published on ports from the clone port pool (default 30000-32767) on every node. Everything \
            about a clone is recorded on its node (ZFS user properties, container labels): `clone list` is \
            right from any machine. A deploy leaves clones alone. See docs/clones.md.
            """,
        subcommands: [CloneCreate.self, CloneList.self, CloneReset.self, CloneDestroy.self, CloneSweep.self])
}

/// The desired state of a command that needs only the nodes (no application is deployed or changed).
func nodesOnly(_ deployment: String) throws -> (DesiredState, String) {
    let file = try loadDeploymentOnly(deployment)
    let data = (try? Data(contentsOf: URL(fileURLWithPath: deployment))) ?? Data()
    return (DesiredState(applications: [:], nodes: file.nodes.map(\.name), placement: [:]), StableHash.sha256Hex(bytes: Array(data)))
}

struct CloneCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Start COUNT copies of an application, PREFIX-1 … PREFIX-COUNT, each on clones of one snapshot.",
        discussion: """
            The clones are made on a node that holds the snapshot on every volume, a replica's node before the \
            primary's (keeping the load off the primary), or on --on NODE. Refused before anything is created \
            when the port pool is exhausted, the node lacks the snapshot, a name is taken by another clone, or the \
            node's pool has less than 16 MiB free per clone. Running it again finishes what an interrupted run \
            started and changes nothing once every clone runs.
            """)

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The application file.") var application: String
    @Option(help: "The application to clone.") var app: String
    @Option(help: ArgumentHelp("The clones' names are PREFIX-1 … PREFIX-COUNT.", valueName: "prefix")) var name: String
    @Option(help: ArgumentHelp("The snapshot to clone, as `snapshot list` names it, or `latest` (default): the newest one the node holds.", valueName: "snapshot"))
    var from: String = "latest"
    @Option(help: "How many clones.") var count: Int = 1
    @Option(help: ArgumentHelp("The node to make them on.", valueName: "node")) var on: String?
    @Option(help: ArgumentHelp("Time to live (90s, 30m, 2h, 7d): `clone sweep` destroys them after it.", valueName: "duration")) var ttl: String?
    @Option(help: ArgumentHelp("The port pool to publish clones on.", valueName: "from-to")) var ports: String = "30000-32767"
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions
    @OptionGroup var start: StartOptions

    func validate() throws {
        if count < 1 || count > 1000 { throw ValidationError("--count takes a number from 1 to 1000") }
        if let p = CloneNames.problem(withName: "\(name)-\(count)") { throw ValidationError("--name \(name): \(p)") }
        if let ttl, CloneNames.duration(ttl) == nil { throw ValidationError("--ttl \(ttl): give a duration such as 90s, 30m, 2h or 7d") }
        if PortPool(ports) == nil { throw ValidationError("--ports \(ports): give a range FROM-TO of TCP ports, e.g. 30000-30099") }
    }

    func run() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: common.json, profiles: common.profile)
        try requireApplication(app, in: manifests)
        let request = ClonePlanner.Request(app: app, prefix: name, from: from == "latest" ? nil : from, count: count, on: on,
                                           ttl: ttl.flatMap(CloneNames.duration), pool: PortPool(ports) ?? .default, now: Timestamp.now)
        try await runOperation(CloneCreateOperation(manifests.desired, request: request), manifests: manifests,
                               connection: connection, common: common, start: start)
    }
}

struct CloneDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Destroy clones: their routes on every node, container and datasets.",
        discussion: "Never destroys anything but the clones' own datasets (no -r, no -R). A clone that is gone already is reported, not an error; a NAME that is no clone's while NAME-1 … exist (the names `clone create --name NAME` gives) is refused, naming them (exit 1).")

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The clones, by name.") var names: [String]
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one clone to destroy") }
        for n in names { if let p = CloneNames.problem(withName: n) { throw ValidationError("\(n): \(p)") } }
    }

    func run() async throws {
        let (desired, hash) = try nodesOnly(deployment)
        try await runOperation(CloneDestroyOperation(desired, names: names, now: Timestamp.now), hash: hash,
                               connection: connection, common: common)
    }
}

struct CloneReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Give clones fresh data from a snapshot: same name, ports, node and container.",
        discussion: """
            Each clone's container is stopped, its datasets destroyed (plain zfs destroy, only the clone's own) and \
            cloned again from the snapshot with the clone's record, and the container started again and waited for. \
            Without --from, the snapshot the clone's data comes from now (the one it was made, or last reset, from). \
            Refused before anything changes when a clone is not found, has no container, or its node lacks the \
            snapshot. A run killed part-way is finished by running it again.
            """)

    @Argument(help: "The deployment file.") var deployment: String
    @Argument(help: "The clones, by name.") var names: [String]
    @Option(help: ArgumentHelp("The snapshot to reset to, as `snapshot list` names it, or `latest`: the newest one the clone's node holds. Default: the one the clone comes from.", valueName: "snapshot"))
    var from: String?
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions
    @OptionGroup var start: StartOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one clone to reset") }
        for n in names { if let p = CloneNames.problem(withName: n) { throw ValidationError("\(n): \(p)") } }
    }

    func run() async throws {
        let (desired, hash) = try nodesOnly(deployment)
        try await runOperation(CloneResetOperation(desired, names: names, from: from), hash: hash,
                               connection: connection, common: common, start: start)
    }
}

struct CloneSweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Destroy the clones whose time to live (--ttl) ran out; for cron.")

    @Argument(help: "The deployment file.") var deployment: String
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var common: RunOptions

    func run() async throws {
        let (desired, hash) = try nodesOnly(deployment)
        try await runOperation(CloneDestroyOperation(desired, names: nil, now: Timestamp.now), hash: hash,
                               connection: connection, common: common)
    }
}

struct CloneList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the clones on the nodes: name, application, snapshot, node, ports, state, created, expires.")

    @Argument(help: "The deployment file (its nodes are asked).") var deployment: String
    @Flag(help: "Print one JSON object: `schema` and `clones`, an array of objects (name, app, snapshot, node, ports, created, expires, running, complete, volumes).") var json = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let nodes = try loadDeploymentOnly(deployment, json: json).nodes.map(\.name).sorted()
        let outcomes = await Discovery(connector: try connection.connector()).discoverEach(nodes)
        var states: [String: NodeState] = [:]
        var unreachable = false
        for node in nodes {
            switch outcomes[node] {
            case .success(let (host, state))?:
                states[node] = state
                await host.close()
            case .failure(let error)?:
                unreachable = true
                TextOutput.standardError.write("warning: \(node): cannot be reached (\(error.message)); its clones are not listed\n")
            case nil: unreachable = true
            }
        }
        let clones = ClonePlanner.list(ObservedState(nodes: states))
        TextOutput.standardOutput.write(json ? ClonePlanner.json(clones) : ClonePlanner.text(clones, now: Timestamp.now))
        if unreachable { throw ExitCode(FlockerExit.nodeUnreachable.rawValue) }
    }
}
