import Foundation

/// Writes a deployment file (`evacuate --write`): `version`, `nodes:` in their order with their applications,
/// then `replicas:`, `zones:` and `snapshots:` when there are any. Every name passed the manifest rules (letters, digits,
/// `_ . -`), so a name is written plain unless YAML could read it as something else (`yes`, `1.5`), then quoted.
/// Comments of the original file are not carried over; the header says where the file came from.
public enum DeploymentWriter {
    public static func yaml(_ deployment: Deployment, header: [String] = []) -> String {
        var out = header.map { "# \($0)\n" }.joined()
        out += "version: 1\nnodes:\n"
        for node in deployment.nodes {
            out += "  \(scalar(node.name)): [\(node.applications.map(scalar).joined(separator: ", "))]\n"
        }
        if !deployment.replicas.isEmpty {
            out += "replicas:\n"
            for (app, request) in deployment.replicas.sorted(by: { $0.key < $1.key }) {
                switch request {
                case .count(let n): out += "  \(scalar(app)): \(n)\n"
                case .nodes(let list): out += "  \(scalar(app)): [\(list.map(scalar).joined(separator: ", "))]\n"
                }
            }
        }
        if !deployment.zones.isEmpty {
            out += "zones:\n"
            for (node, zone) in deployment.zones.sorted(by: { $0.key < $1.key }) { out += "  \(scalar(node)): \(scalar(zone))\n" }
        }
        if !deployment.snapshots.isEmpty {
            out += "snapshots:\n"
            for (app, r) in deployment.snapshots.sorted(by: { $0.key < $1.key }) {
                let fields = (r.every.map { ["every: \($0)"] } ?? []) + ["hourly: \(r.hourly)", "daily: \(r.daily)", "monthly: \(r.monthly)"]
                out += "  \(scalar(app)): {\(fields.joined(separator: ", "))}\n"
            }
        }
        return out
    }

    private static let words: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]

    static func scalar(_ s: String) -> String {
        let plain = s.first.map { $0.isLetter && $0.isASCII } == true && !words.contains(s.lowercased())
            && s.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || "_.-".contains($0) }
        return plain ? s : "\"\(s)\""
    }
}
