import Foundation

/// One run's record, appended to `/var/lib/flocker-deploy/audit.log` (JSON lines) on every node it changed.
public struct AuditRecord: Sendable, Hashable, Codable {
    public var time: Int
    public var user: String
    public var host: String
    public var manifests: String
    /// `succeeded`, `failed` or `interrupted`.
    public var result: String
    public var steps: Int
    public var failed: Int
    public var seconds: Double
    /// The steps that ran on this node, in the user's words.
    public var changes: [String]

    public static let file = "\(NodeCommands.stateDirectory)/audit.log"

    /// Appends stdin to the audit log, keeping its last 1000 records.
    static let appendCommand = RemoteCommand.script("""
        f=$1
        mkdir -p "${f%/*}" && cat >> "$f" || exit $?
        if [ "$(wc -l < "$f")" -gt 2000 ]; then tail -n 1000 "$f" > "$f.new" && mv "$f.new" "$f"; fi
        """, name: "flocker-audit", [file])

    package var line: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data()) + [10]
    }

    package static func decode(_ line: Substring) -> AuditRecord? {
        try? JSONDecoder().decode(AuditRecord.self, from: Data(line.utf8))
    }

    public var summary: String {
        "\(Timestamp.iso(time)) by \(user)@\(host): \(result), \(steps) step\(steps == 1 ? "" : "s")\(failed > 0 ? ", \(failed) failed" : "") in \(String(format: "%.1f", seconds))s (manifests \(manifests.prefix(12)))"
    }
}
