import ArgumentParser
import FlockerCore
import Foundation

/// `flocker-deploy evacuate DEPLOYMENT APPLICATION NODE --write NEW_DEPLOYMENT`: shed a node. (The order of
/// earlier releases, NODE first, is still read, with a warning.)
struct Evacuate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evacuate",
        abstract: "Move every application off a node: choose new nodes, write the new deployment file, deploy it.",
        discussion: """
            For each application NODE runs, chooses another node of the deployment file: one holding a replica \
            of its volumes first (only what changed since the last sync is sent), then the one with the fewest \
            applications. Writes the new deployment file to --write (NODE kept, with no applications; comments \
            are not carried over), prints the placement, and deploys that file: the usual plan, locks and \
            safety, so a move that cannot be done safely is refused as a deploy would refuse it. Refuses, \
            writing and changing nothing, when no node can take an application (none reachable with docker, \
            no ZFS pool for its volumes, its port published there by another application). With --dry-run, \
            prints the placement and the plan and writes nothing.

            Exit codes as for a deploy: 0 done; 1 a step failed; 2 invalid input or no node can take an \
            application; 3 a node unreachable; 4 locked by another run; 5 refused as unsafe; 130 interrupted.
            """)

    @Argument(help: "The deployment file.")
    var deployment: String

    @Argument(help: "The application file.")
    var application: String

    @Argument(help: "The node to empty, as named in the deployment file.")
    var node: String

    @Option(help: ArgumentHelp("Where to write the new deployment file (may be DEPLOYMENT itself).", valueName: "path"))
    var write: String

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var common: RunOptions

    @OptionGroup var start: StartOptions

    func run() async throws {
        var command = self
        // `evacuate NODE DEPLOYMENT APPLICATION`, as earlier releases took it: the files are where they exist.
        let exists = { (path: String) in FileManager.default.fileExists(atPath: path) }
        if !exists(deployment) && exists(node) && exists(application) {
            (command.node, command.deployment, command.application) = (deployment, application, node)
            TextOutput.standardError.write("warning: the order is now `evacuate DEPLOYMENT APPLICATION NODE`; read as that\n")
        }
        try await command.evacuate()
    }

    func evacuate() async throws {
        let manifests = try loadManifests(deployment: deployment, application: application, json: common.json, profiles: common.profile)
        let connector = try connection.connector()
        let out = TextOutput.standardOutput
        let err = TextOutput.standardError

        // What the nodes hold decides where each application goes (replicas, pools, docker).
        let found = await Discovery(connector: connector).collect(manifests.desired.nodes)
        for host in found.hosts.values { await host.close() }
        let result: Evacuation.Result
        do {
            result = try Evacuation.plan(node: node, deployment: manifests.deployment,
                                         applications: manifests.desired.applications,
                                         observed: found.observed)
        } catch {
            err.write("error: evacuate \(node): \(error.message); nothing was written or changed\n")
            if common.json { JSONReporter(out: out).emit(["event": "error", "message": error.message, "exit_code": Int(FlockerExit.invalidInput.rawValue)]) }
            throw ExitCode(FlockerExit.invalidInput.rawValue)
        }

        if common.json {
            JSONReporter(out: out).emit(["event": "evacuation", "node": node, "file": common.dryRun ? NSNull() : write as Any,
                                         "moves": result.moves.map { ["app": $0.app, "to": $0.to, "why": $0.why] },
                                         "notes": result.notes])
        } else {
            let width = result.moves.map(\.app.count).max() ?? 0
            out.write(result.moves.isEmpty ? "Evacuating \(node): it runs no application.\n"
                : "Evacuating \(node): \(result.moves.count) application\(result.moves.count == 1 ? "" : "s")\n")
            for m in result.moves {
                out.write("  \(m.app.padding(toLength: width, withPad: " ", startingAt: 0))  -> \(m.to)  (\(m.why))\n")
            }
            for n in result.notes { out.write("  note: \(n)\n") }
        }

        // The file is written (to a scratch folder for --dry-run) and read back like any deployment file, so what
        // is deployed is exactly what the file says.
        let header = ["Written by `flocker-deploy evacuate \(node)` from \(deployment) on \(Timestamp.iso(Timestamp.now)).",
                      "\(node) runs no application here; comments of the original file are not carried over."]
        let text = DeploymentWriter.yaml(result.deployment, header: header)
        var path = write
        var scratch: URL?
        if common.dryRun {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-evacuate-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            scratch = dir
            path = dir.appendingPathComponent("deployment.yml").path
        }
        defer { if let scratch { try? FileManager.default.removeItem(at: scratch) } }
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            err.write("error: evacuate \(node): cannot write \(write): \(error.localizedDescription); nothing was changed\n")
            throw ExitCode(FlockerExit.invalidInput.rawValue)
        }
        if !common.dryRun && !common.json { out.write("Wrote \(write).\n") }
        let written = try loadManifests(deployment: path, application: application, json: common.json, profiles: common.profile)

        try await runOperation(DeployOperation(written.desired), manifests: written, connection: connection, common: common, start: start)
    }
}
