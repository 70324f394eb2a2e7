import FlockerYAML

extension Diagnostics {
    /// `version: 1`, the plain integer: `"1"` (quoted) and any other value are refused.
    mutating func version1(_ node: YAMLNode, _ path: ManifestPath) {
        if node.scalar == "1" && !node.isQuoted { return }
        if node.scalar == "1" {
            add(
                node.mark, path,
                "unsupported version: expected the integer 1, found the string \"1\": write version: 1 without quotes")
        } else {
            add(
                node.mark, path,
                "unsupported version: expected 1 (the only version of this format), found \(found(node))")
        }
    }
}

/// Decodes a Flocker v1 application file (`version: 1`, `applications:`), with this tool's additions: `command`
/// and several named `volumes` per application.
enum FlockerV1Decoder {
    static let topLevel = FieldSchema(
        known: ["version", "applications"], required: ["version", "applications"],
        hints: ["services": "applications", "apps": "applications"], allowsExtensions: true)

    static let application = FieldSchema(
        known: [
            "image", "ports", "volume", "volumes", "links", "environment", "mem_limit", "cpu_shares", "restart_policy",
            "command", "stop_timeout",
        ],
        required: ["image"],
        refused: [
            "build": "not supported: name a prebuilt image",
            "dataset_id":
                "not supported here: volumes are identified by application and volume name (`volume.dataset_id` is not supported either)",
        ],
        hints: [
            "restart": "restart_policy", "memory": "mem_limit", "mem": "mem_limit", "memory_limit": "mem_limit",
            "cpu": "cpu_shares", "env": "environment", "link": "links", "port": "ports",
        ],
        allowsExtensions: true)

    static let port = FieldSchema(
        known: ["internal", "external"], required: ["internal", "external"],
        hints: ["target": "internal", "published": "external", "container": "internal", "host": "external"])

    static let volume = FieldSchema(
        known: ["mountpoint", "maximum_size"], required: ["mountpoint"],
        refused: ["dataset_id": "not supported: volumes are identified by application and volume name"],
        hints: ["path": "mountpoint", "target": "mountpoint", "size": "maximum_size", "quota": "maximum_size"])

    static let namedVolume = FieldSchema(
        known: ["name", "mountpoint", "maximum_size"], required: ["name", "mountpoint"],
        refused: ["dataset_id": "not supported: volumes are identified by application and volume name"],
        hints: ["path": "mountpoint", "target": "mountpoint", "size": "maximum_size", "quota": "maximum_size"])

    static let link = FieldSchema(
        known: ["local_port", "remote_port", "alias"], required: ["local_port", "remote_port", "alias"],
        hints: ["local": "local_port", "remote": "remote_port", "name": "alias"])

    static let restartPolicy = FieldSchema(
        known: ["name", "maximum_retry_count"], required: ["name"],
        hints: ["retries": "maximum_retry_count", "max_retries": "maximum_retry_count"])

    static func decode(_ root: YAMLNode, _ pairs: [YAMLNode.Pair], _ d: inout Diagnostics) -> DecodedApplicationFile {
        var result = DecodedApplicationFile(format: .flockerV1, names: [])
        let top = d.fields(pairs, mark: root.mark, .document, topLevel)
        if let version = top["version"] { d.version1(version, ManifestPath.document.key("version")) }
        guard let appsNode = top["applications"] else { return result }
        let appsPath = ManifestPath.document.key("applications")
        guard
            let apps = d.mapping(
                appsNode, appsPath, expected: "a mapping of application name → settings (write {} for none)")
        else { return result }
        var names: [String] = []
        for pair in apps {
            let path = appsPath.key(pair.key.scalar ?? "")
            guard let name = d.applicationName(pair.key, path, noun: "application") else { continue }
            names.append(name)
            guard
                let settings = d.mapping(
                    pair.value, path, expected: "a mapping of the application's settings (image, ports, …)")
            else { continue }
            var draft = ApplicationDraft(name: name, path: path, mark: pair.key.mark)
            decodeApplication(settings, pair.value.mark, &draft, &d)
            ClusterChecks.checkApplication(draft, &d)
            result.drafts.append(draft)
        }
        result.names = names
        return result
    }

    private static func decodeApplication(
        _ pairs: [YAMLNode.Pair], _ mark: Mark, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        let path = draft.path
        let f = d.fields(pairs, mark: mark, path, application)
        if let n = f["image"] { draft.image = d.image(n, path.key("image")) ?? "" }
        if let n = f["ports"] { decodePorts(n, path.key("ports"), &draft, &d) }
        if let volumeKey = f.keys["volume"], let volumesKey = f.keys["volumes"] {
            let later = volumeKey.mark > volumesKey.mark ? volumeKey : volumesKey
            d.add(
                later.mark, path.key(later.scalar ?? ""),
                "`volume` and `volumes` cannot both be set: list every volume under `volumes` (each with a name)")
        }
        let errorsBeforeVolumes = d.count
        if let n = f["volume"] { decodeVolume(n, path.key("volume"), &draft, &d) }
        if let n = f["volumes"] { decodeVolumes(n, path.key("volumes"), &draft, &d) }
        draft.volumesIncomplete = d.count > errorsBeforeVolumes
        if let n = f["links"] { decodeLinks(n, path.key("links"), &draft, &d) }
        if let n = f["environment"] {
            let envPath = path.key("environment")
            if let env = d.mapping(n, envPath, expected: "a mapping of NAME: value") {
                draft.environment = d.environmentMapping(env, envPath) { name, value in
                    "expected a string value, found \(found(value)): write \(display(name)): \"\" for an empty value"
                }
            }
        }
        if let n = f["mem_limit"] { draft.memoryLimit = d.memoryLimit(n, path.key("mem_limit")) }
        if let n = f["cpu_shares"] { draft.cpuShares = d.cpuShares(n, path.key("cpu_shares")) }
        if let n = f["restart_policy"] {
            draft.restartPolicy = decodeRestartPolicy(n, path.key("restart_policy"), &d) ?? .never
        }
        if let n = f["command"] { draft.command = d.command(n, path.key("command")) }
        if let n = f["stop_timeout"],
            let seconds = d.integer(n, path.key("stop_timeout"), in: 0...86_400, expected: "whole seconds from 0 to 86400")
        {
            draft.runOptions.append("--stop-timeout=\(seconds)")
        }
    }

    private static func decodePorts(
        _ node: YAMLNode, _ path: ManifestPath, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        guard let items = d.list(node, path, expected: "a list of ports like {internal: 80, external: 8080}") else {
            draft.portsIncomplete = true
            return
        }
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let pairs = d.mapping(item, itemPath, expected: "a port like {internal: 80, external: 8080}") else {
                draft.portsIncomplete = true
                continue
            }
            let f = d.fields(pairs, mark: item.mark, itemPath, port)
            let inPath = itemPath.key("internal")
            let exPath = itemPath.key("external")
            let internalPort = f["internal"].flatMap { d.port($0, inPath) }
            let externalPort = f["external"].flatMap { d.port($0, exPath) }
            if let internalPort, let externalPort, let inNode = f["internal"], let exNode = f["external"] {
                draft.ports.append(
                    PortOrigin(
                        port: PortMapping(internal: internalPort, external: externalPort), externalMark: exNode.mark,
                        externalPath: exPath, internalMark: inNode.mark, internalPath: inPath))
            } else {
                draft.portsIncomplete = true
            }
        }
    }

    private static func decodeVolume(
        _ node: YAMLNode, _ path: ManifestPath, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        guard let pairs = d.mapping(node, path, expected: "a mapping like {mountpoint: /data}") else { return }
        let f = d.fields(pairs, mark: node.mark, path, volume)
        let size = f["maximum_size"].flatMap { d.byteCount($0, path.key("maximum_size"), minimum: 1, what: "a size") }
        guard let mountNode = f["mountpoint"], let mountpoint = d.mountpoint(mountNode, path.key("mountpoint")) else {
            return
        }
        draft.volumes.append(
            VolumeOrigin(
                volume: VolumeSpec(name: "default", mountpoint: mountpoint, maximumSize: size), nameMark: node.mark,
                namePath: path, mountpointMark: mountNode.mark, mountpointPath: path.key("mountpoint")))
    }

    private static func decodeVolumes(
        _ node: YAMLNode, _ path: ManifestPath, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        guard let items = d.list(node, path, expected: "a list of volumes like {name: data, mountpoint: /data}") else {
            return
        }
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let pairs = d.mapping(item, itemPath, expected: "a volume like {name: data, mountpoint: /data}")
            else { continue }
            let f = d.fields(pairs, mark: item.mark, itemPath, namedVolume)
            let size = f["maximum_size"].flatMap {
                d.byteCount($0, itemPath.key("maximum_size"), minimum: 1, what: "a size")
            }
            let namePath = itemPath.key("name")
            var name: String?
            if let n = f["name"], let s = d.text(n, namePath, expected: "a volume name"),
                d.volumeName(s, n.mark, namePath)
            {
                name = s
            }
            let mountPath = itemPath.key("mountpoint")
            let mountpoint = f["mountpoint"].flatMap { d.mountpoint($0, mountPath) }
            if let name, let mountpoint, let nameNode = f["name"], let mountNode = f["mountpoint"] {
                draft.volumes.append(
                    VolumeOrigin(
                        volume: VolumeSpec(name: name, mountpoint: mountpoint, maximumSize: size),
                        nameMark: nameNode.mark, namePath: namePath, mountpointMark: mountNode.mark,
                        mountpointPath: mountPath))
            }
        }
    }

    private static func decodeLinks(
        _ node: YAMLNode, _ path: ManifestPath, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        guard
            let items = d.list(
                node, path, expected: "a list of links like {local_port: 5432, remote_port: 5432, alias: db}")
        else { return }
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard
                let pairs = d.mapping(
                    item, itemPath, expected: "a link like {local_port: 5432, remote_port: 5432, alias: db}")
            else { continue }
            let f = d.fields(pairs, mark: item.mark, itemPath, link)
            let local = f["local_port"].flatMap { d.port($0, itemPath.key("local_port")) }
            let remote = f["remote_port"].flatMap { d.port($0, itemPath.key("remote_port")) }
            let alias = f["alias"].flatMap { d.alias($0, itemPath.key("alias")) }
            if let local, let remote, let alias, let remoteNode = f["remote_port"] {
                draft.links.append(
                    LinkOrigin(
                        link: Link(localPort: local, remotePort: remote, alias: alias), mark: item.mark, path: itemPath,
                        remotePortMark: remoteNode.mark, remotePortPath: itemPath.key("remote_port")))
            }
        }
    }

    private static func decodeRestartPolicy(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics)
        -> RestartPolicy?
    {
        guard
            let pairs = d.mapping(
                node, path, expected: "a mapping like {name: on-failure, maximum_retry_count: 5}")
        else { return nil }
        let f = d.fields(pairs, mark: node.mark, path, restartPolicy)
        let countPath = path.key("maximum_retry_count")
        let count = f["maximum_retry_count"].flatMap { d.retryCount($0, countPath) }
        let namePath = path.key("name")
        guard let nameNode = f["name"] else { return nil }
        let expected = "never, always or on-failure"
        guard let name = d.text(nameNode, namePath, expected: expected) else { return nil }
        let policy: RestartPolicy
        switch name {
        case "never": policy = .never
        case "always": policy = .always
        case "on-failure": policy = .onFailure(maximumRetryCount: count)
        default:
            let hint = name == "no" ? ": write never" : ""
            d.add(nameNode.mark, namePath, "expected \(expected), found \(found(nameNode))\(hint)")
            return nil
        }
        if name != "on-failure", let countKey = f.keys["maximum_retry_count"] {
            d.add(countKey.mark, countPath, "`maximum_retry_count` is only allowed with name: on-failure")
        }
        return policy
    }
}
