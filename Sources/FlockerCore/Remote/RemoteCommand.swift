import Foundation

/// A command to run on a node: one argv array, or a pipeline of them.
///
/// This is the only way the core asks a node to do anything. Arguments are never interpreted by a shell:
/// `shellText` quotes every argument once, at the transport boundary, so a manifest value such as
/// `a; rm -rf /` or `$(reboot)` reaches the program as that literal string. Scripts (the few constant
/// `sh -c` programs flocker-deploy uses) take every variable part as a positional argument.
public struct RemoteCommand: Sendable, Hashable, CustomStringConvertible {
    /// The stages of the pipeline, each an argv array (program first).
    public var stages: [[String]]

    public init(_ argv: [String]) { self.stages = [argv] }
    public init(_ argv: String...) { self.stages = [argv] }
    public init(pipeline: [[String]]) { self.stages = pipeline }

    /// This command with its stdout connected to the stdin of `next`.
    public func piped(into next: RemoteCommand) -> RemoteCommand {
        RemoteCommand(pipeline: stages + next.stages)
    }

    /// A constant shell script run with positional arguments: `sh -c SCRIPT NAME ARGS…`.
    /// The script must be a literal in flocker-deploy's source; every variable part goes in `arguments`
    /// and is referenced as "$1", "$2"… inside it.
    public static func script(_ script: StaticString, name: String = "flocker", _ arguments: [String] = []) -> RemoteCommand {
        RemoteCommand(["sh", "-c", script.description, name] + arguments)
    }

    /// The program names of the stages, e.g. `zfs | zstd`; for progress lines and traces.
    public var programs: String { stages.map { $0.first ?? "" }.joined(separator: " | ") }

    /// The text handed to the remote user's login shell. A pipeline fails when any stage fails
    /// (`pipefail` where the shell has it; dash ignores the probe harmlessly).
    public var shellText: String {
        let rendered = stages.map { $0.map(ShellQuote.quote).joined(separator: " ") }
        if rendered.count == 1 { return rendered[0] }
        return "(set -o pipefail) 2>/dev/null && set -o pipefail; " + rendered.joined(separator: " | ")
    }

    public var description: String { shellText }
}

/// POSIX shell quoting: the one place where arguments become shell text.
public enum ShellQuote {
    /// Quotes `argument` so a POSIX shell passes it through as exactly one literal word.
    /// Plain words made only of safe characters are left as they are, for readable traces.
    public static func quote(_ argument: String) -> String {
        if !argument.isEmpty, argument.utf8.allSatisfy(isSafe) { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private static func isSafe(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
            UInt8(ascii: "@"), UInt8(ascii: ","), UInt8(ascii: "+"):
            return true
        default:
            return false
        }
    }
}
