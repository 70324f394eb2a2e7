import ArgumentParser
import Foundation
import FlockerCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `flocker-deploy validate DEPLOYMENT APPLICATION`: checks both manifests and prints what they ask for. Reads
/// the two files and nothing else; contacts no node.
public struct Validate: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check the two manifests and print what they ask for, without contacting any node.",
        discussion: """
            Prints the application file's format, then each application (image, node, ports, volumes, links, \
            environment variable names, limits, restart policy, command), then each node with its applications. \
            On errors, prints each as FILE:LINE:COL: error: PATH: MESSAGE on stderr and exits with status 2.
            """
    )

    @Argument(help: "The deployment file: which node runs which application.")
    var deployment: String

    @Argument(help: "The application file: what each application runs (Flocker v1 or Compose format).")
    var application: String

    @Flag(help: "Print the summary (or the errors) as one JSON object on stdout.")
    var json = false

    @Option(name: .customLong("profile"), help: "Enable a Compose profile (repeatable; COMPOSE_PROFILES too).")
    var profile: [String] = []

    @Flag(help: "Print environment variable values too (they may be secrets; by default only names are printed).")
    var showValues = false

    public init() {}

    public func run() throws {
        do {
            let manifests = try Manifests.load(
                deployment: deployment, application: application, environment: ProcessInfo.processInfo.environment,
                profiles: profile)
            for w in manifests.warnings { printError(w.description) }
            for w in manifests.portWarnings { printError("warning: \(w)") }
            let summary = ManifestSummary(manifests, showValues: showValues)
            print(json ? summary.json() : summary.text(), terminator: "")
        } catch {
            for e in error.errors { printError(e.description) }
            printError(ManifestErrors.countLine(error.errors.count))
            if json { print(ManifestSummary.json(error), terminator: "") }
            throw ExitCode(FlockerExit.invalidInput.rawValue)
        }
    }

    private func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
