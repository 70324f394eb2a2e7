/// What `flocker-deploy validate` prints: the manifests as understood, as text for people or JSON for CI.
///
/// Environment values can be secrets: only their names are shown unless `showValues` is set.
public struct ManifestSummary: Sendable {
    public var manifests: Manifests
    public var showValues: Bool

    public init(_ manifests: Manifests, showValues: Bool = false) {
        self.manifests = manifests
        self.showValues = showValues
    }

    /// The node each application runs on.
    private var placement: [String: String] { manifests.desired.placement }

    /// What `replicas:` asks for an application, for people: `2 (flocker-deploy picks the nodes)`, `node3, node2`,
    /// `none`.
    private func describe(_ request: ReplicaRequest) -> String {
        switch request {
        case .count(0), .nodes([]): return "none"
        case .count(let n): return "\(n) (flocker-deploy picks the nodes)"
        case .nodes(let list): return list.joined(separator: ", ")
        }
    }

    /// The last line: `ok: 3 applications on 2 nodes`.
    public var okLine: String {
        let apps = manifests.applications.count
        let nodes = manifests.deployment.nodes.count
        return "ok: \(apps) application\(apps == 1 ? "" : "s") on \(nodes) node\(nodes == 1 ? "" : "s")"
    }

    /// The human-readable summary, ending with the `ok:` line and a newline.
    public func text() -> String {
        var lines: [String] = []
        lines.append("application file: \(manifests.applicationFile) (\(manifests.format.rawValue))")
        lines.append("deployment file:  \(manifests.deploymentFile)")
        for app in manifests.applications {
            lines.append("")
            lines.append("application \(app.name)")
            var fields: [(String, String)] = [("image", app.image)]
            fields.append(("node", placement[app.name] ?? "not placed: will be stopped if running; volumes kept"))
            if let request = manifests.deployment.replicas[app.name] { fields.append(("replicas", describe(request))) }
            if !app.ports.isEmpty {
                fields.append(
                    ("ports", app.ports.map { "\($0.externalPort) -> \($0.internalPort)\($0.suffix)" }.joined(separator: ", ")))
            }
            for (i, volume) in app.volumes.enumerated() {
                let quota = volume.maximumSize.map { "quota \(ManifestRules.humanBytes($0))" } ?? "no quota"
                fields.append(
                    (i == 0 ? "volumes" : "", "\(volume.name) at \(displayWord(volume.mountpoint)), \(quota)"
                        + (volume.seed.map { ", \(seedText($0)) when created" } ?? "")))
            }
            for (i, link) in app.links.enumerated() {
                fields.append(
                    (
                        i == 0 ? "links" : "",
                        "\(link.alias): local port \(link.localPort) -> external port \(link.remotePort)"
                    ))
            }
            if !app.environment.isEmpty {
                let names = app.environment.keys.sorted()
                if showValues {
                    for (i, name) in names.enumerated() {
                        fields.append(
                            (
                                i == 0 ? "environment" : "",
                                "\(name)=\(quoted(app.environment[name] ?? "", limit: Int.max))"
                            ))
                    }
                } else {
                    fields.append(("environment", names.joined(separator: ", ") + " (values hidden; --show-values)"))
                }
            }
            if let memory = app.memoryLimit { fields.append(("memory limit", ManifestRules.humanBytes(memory))) }
            if let shares = app.cpuShares { fields.append(("cpu shares", String(shares))) }
            fields.append(("restart", describe(app.restartPolicy)))
            if let command = app.command { fields.append(("command", command.map(displayWord).joined(separator: " "))) }
            if !app.runOptions.isEmpty { fields.append(("options", app.runOptions.map(displayWord).joined(separator: " "))) }
            if !app.entrypointArguments.isEmpty {
                fields.append(("entrypoint arguments", app.entrypointArguments.map(displayWord).joined(separator: " ")))
            }
            if !app.dependencies.isEmpty { fields.append(("depends on", app.dependencies.joined(separator: ", "))) }
            for (i, file) in app.files.enumerated() {
                fields.append((i == 0 ? "files" : "", describe(file)))
            }
            let width = fields.map(\.0.count).max() ?? 0
            for (label, value) in fields {
                let head =
                    label.isEmpty
                    ? String(repeating: " ", count: width + 1)
                    : label + ":" + String(repeating: " ", count: width - label.count)
                lines.append("  \(head) \(value)")
            }
        }
        lines.append("")
        lines.append("nodes")
        if manifests.deployment.nodes.isEmpty { lines.append("  (none)") }
        for node in manifests.deployment.nodes {
            let apps =
                node.applications.isEmpty
                ? "nothing (anything flocker-deploy runs there is stopped)" : node.applications.joined(separator: ", ")
            let zone = manifests.deployment.zones[node.name].map { " (zone \($0))" } ?? ""
            lines.append("  \(node.name)\(zone): \(apps)")
        }
        lines.append("")
        lines.append(okLine)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same as one JSON object with stable keys, followed by a newline.
    ///
    /// `{"schema": 1, "ok": true, "format", "deployment_file", "application_file", "hash", "applications": [...],
    /// "nodes": [...]}`; each application has `name`, `image`, `node` (null when not placed), `replicas`
    /// (`{"count": N}`, `{"nodes": [...]}`, or null when `replicas:` does not name it), `ports` (`external`,
    /// `internal`), `volumes` (`name`, `mountpoint`, `maximum_size` or null, `seed`: `{source, files, size}` or null), `files` (`kind`, `source`, `target`, `size`,
    /// `mode`; never the content), `links` (`alias`, `local_port`,
    /// `remote_port`), `environment` (a list of `{"name"}`, with `"value"` too under `--show-values`),
    /// `memory_limit`, `cpu_shares`, `restart` (Docker's `--restart` value), `command` (a list or null) and
    /// `config_hash`; each node has `name`,
    /// `zone` (null when `zones:` does not name it) and `applications`.
    public func json() -> String {
        let apps: [JSON] = manifests.applications.map { app in
            let environment: [JSON] = app.environment.keys.sorted().map { name in
                var entry: [(String, JSON)] = [("name", .string(name))]
                if showValues { entry.append(("value", .string(app.environment[name] ?? ""))) }
                return .object(entry)
            }
            return .object([
                ("name", .string(app.name)),
                ("image", .string(app.image)),
                ("node", placement[app.name].map(JSON.string) ?? .null),
                ("replicas", replicasJSON(manifests.deployment.replicas[app.name])),
                (
                    "ports",
                    .array(
                        app.ports.map {
                            .object([("external", .int($0.externalPort)), ("internal", .int($0.internalPort)), ("protocol", .string($0.transport.rawValue))])
                        })
                ),
                (
                    "volumes",
                    .array(
                        app.volumes.map { v in
                            .object([
                                ("name", .string(v.name)), ("mountpoint", .string(v.mountpoint)),
                                ("maximum_size", v.maximumSize.map { .int(Int($0)) } ?? .null),
                                (
                                    "seed",
                                    v.seed.map {
                                        .object([("source", .string($0.source)), ("files", .int($0.files)), ("size", .int($0.size))])
                                    } ?? .null
                                ),
                            ])
                        })
                ),
                (
                    "links",
                    .array(
                        app.links.map {
                            .object([
                                ("alias", .string($0.alias)), ("local_port", .int($0.localPort)),
                                ("remote_port", .int($0.remotePort)),
                            ])
                        })
                ),
                ("environment", .array(environment)),
                (
                    "files",
                    .array(
                        app.files.map { f in
                            .object([
                                ("kind", .string(f.kind.rawValue)), ("source", .string(f.source)),
                                ("target", .string(f.target)), ("size", .int(f.size)),
                                ("mode", .string("0" + String(f.entries.first?.mode ?? 0, radix: 8))),
                            ])
                        })
                ),
                ("memory_limit", app.memoryLimit.map { .int(Int($0)) } ?? .null),
                ("cpu_shares", app.cpuShares.map(JSON.int) ?? .null),
                ("restart", .string(app.restartPolicy.dockerValue)),
                ("command", app.command.map { .array($0.map(JSON.string)) } ?? .null),
                ("config_hash", .string(app.configHash)),
            ])
        }
        let nodes: [JSON] = manifests.deployment.nodes.map { node in
            .object([
                ("name", .string(node.name)),
                ("zone", manifests.deployment.zones[node.name].map(JSON.string) ?? .null),
                ("applications", .array(node.applications.map(JSON.string))),
            ])
        }
        let root = JSON.object([
            ("schema", .int(JSONSchema.version)),
            ("ok", .bool(true)),
            ("format", .string(manifests.format.rawValue)),
            ("deployment_file", .string(manifests.deploymentFile)),
            ("application_file", .string(manifests.applicationFile)),
            ("hash", .string(manifests.hash)),
            ("applications", .array(apps)),
            ("nodes", .array(nodes)),
        ])
        return root.rendered(indent: 0) + "\n"
    }

    /// Errors as one JSON object: `{"schema": 1, "ok": false, "errors": [{"file", "line", "column", "path", "message"}]}`.
    public static func json(_ errors: ManifestErrors) -> String {
        let list: [JSON] = errors.errors.map { e in
            .object([
                ("file", .string(e.file)), ("line", .int(e.line)), ("column", .int(e.column)),
                ("path", .string(e.path)),
                ("message", .string(e.message)),
            ])
        }
        return JSON.object([("schema", .int(JSONSchema.version)), ("ok", .bool(false)), ("errors", .array(list))]).rendered(indent: 0) + "\n"
    }

    private func replicasJSON(_ request: ReplicaRequest?) -> JSON {
        switch request {
        case nil: return .null
        case .count(let n)?: return .object([("count", .int(n))])
        case .nodes(let list)?: return .object([("nodes", .array(list.map(JSON.string)))])
        }
    }

    private func describe(_ policy: RestartPolicy) -> String {
        switch policy {
        case .never: return "never"
        case .always: return "always"
        case .unlessStopped: return "unless stopped"
        case .onFailure(nil): return "on failure, no retry limit"
        case .onFailure(let n?): return "on failure, at most \(n) \(n == 1 ? "retry" : "retries")"
        }
    }

    /// A word as typed: bare when it is plainly safe to read, otherwise quoted with escapes.
    private func displayWord(_ word: String) -> String {
        let safe =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy { s in
                (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9")
                    || "-_./:=,+@%".unicodeScalars.contains(s)
            }
        return safe ? word : quoted(word, limit: Int.max)
    }
}

/// A minimal JSON value whose objects keep their key order, so output is stable byte for byte.
enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    func rendered(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let n): return String(n)
        case .string(let s): return JSON.escape(s)
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { pad + $0.rendered(indent: indent + 1) }.joined(separator: ",\n") + "\n" + close
                + "]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n"
                + pairs.map { pad + JSON.escape($0.0) + ": " + $0.1.rendered(indent: indent + 1) }.joined(
                    separator: ",\n") + "\n" + close + "}"
        }
    }

    static func escape(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

extension ManifestSummary {
    /// `seeded from ./pgdata (3 files, 12.0 KiB)`, the folder's path shown as a word of the summary.
    func seedText(_ seed: VolumeSeed) -> String {
        var shown = seed
        shown.source = displayWord(seed.source)
        return shown.summary
    }

    /// `secret api_key → /run/secrets/api_key (12 bytes, mode 0400)`: what is uploaded where, never its content.
    func describe(_ file: AppFile) -> String {
        let what: String
        switch file.kind {
        case .bind: what = file.isDirectory ? "folder \(displayWord(file.source))" : displayWord(file.source)
        case .config: what = "config \(file.source)"
        case .secret: what = "secret \(file.source)"
        }
        let count = file.entries.filter { !$0.isDirectory }.count
        let size = "\(file.size) byte\(file.size == 1 ? "" : "s")" + (file.isDirectory ? " in \(count) file\(count == 1 ? "" : "s")" : "")
        let mode = "0" + String(file.entries.first?.mode ?? 0, radix: 8)
        return "\(what) -> \(displayWord(file.target)) (\(size), mode \(mode), read-only)"
    }
}
