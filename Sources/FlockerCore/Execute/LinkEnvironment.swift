/// Link variables in Docker's style, with Flocker's semantics: they point at the linking container's own node
/// and the target's external port, so connections go through the routing mesh and a linked application that
/// moves needs no restart of the applications linking to it.
public enum LinkEnvironment {
    /// The variables for `links`, as seen from a container on the node at `nodeAddress`. For alias `db`,
    /// local port 5432, remote port 15432: `DB_PORT_5432_TCP=tcp://ADDR:15432`, `…_TCP_ADDR`, `…_TCP_PORT`,
    /// `…_TCP_PROTO`, and `DB_PORT` (Docker's shortcut, for the alias's lowest local port).
    public static func variables(for links: [Link], nodeAddress: String) -> [(String, String)] {
        var vars: [(String, String)] = []
        var lowest: [String: Link] = [:]
        for link in links {
            let alias = prefix(link.alias)
            let base = "\(alias)_PORT_\(link.localPort)_TCP"
            vars.append((base, "tcp://\(nodeAddress):\(link.remotePort)"))
            vars.append((base + "_ADDR", nodeAddress))
            vars.append((base + "_PORT", String(link.remotePort)))
            vars.append((base + "_PROTO", "tcp"))
            if let current = lowest[alias], current.localPort <= link.localPort { continue }
            lowest[alias] = link
        }
        for alias in lowest.keys.sorted() {
            if let link = lowest[alias] { vars.append(("\(alias)_PORT", "tcp://\(nodeAddress):\(link.remotePort)")) }
        }
        return vars
    }

    /// The alias as a variable prefix: upper case, `-` and `.` become `_`.
    public static func prefix(_ alias: String) -> String {
        String(alias.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }

    /// The container's whole environment: link variables first, then the application's own (which wins).
    public static func environment(of app: Application, nodeAddress: String) -> [(String, String)] {
        var merged: [(String, String)] = []
        var index: [String: Int] = [:]
        for (k, v) in variables(for: app.links, nodeAddress: nodeAddress) + app.environment.sorted(by: { $0.key < $1.key }).map({ ($0.key, $0.value) }) {
            if let i = index[k] { merged[i] = (k, v) } else { index[k] = merged.count; merged.append((k, v)) }
        }
        return merged
    }
}
