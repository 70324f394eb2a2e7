import FlockerYAML

/// A `replicas:` entry as decoded, with where its key is written: for the checks that need the application file's
/// volumes (`ClusterChecks.checkReplicas`).
struct ReplicaOrigin {
    var application: String
    var request: ReplicaRequest
    var mark: Mark
    var path: ManifestPath
}

/// What decoding a deployment file produced.
struct DecodedDeployment {
    var deployment: Deployment
    /// The `replicas:` entries whose application the application file defines (all of them when names are not
    /// checked), in file order.
    var replicaOrigins: [ReplicaOrigin] = []
}

/// Decodes a deployment file (`version: 1`, `nodes:` node → list of application names, optional `replicas:` and
/// `zones:`) and checks it against the application names the application file defines.
enum DeploymentDecoder {
    static let swapped =
        "this looks like an application file: the deployment file (with `nodes:`) comes first, then the application file"

    static let topLevel = FieldSchema(
        known: ["version", "nodes", "replicas", "zones", "snapshots"], required: ["version", "nodes"],
        refused: ["applications": swapped, "services": swapped],
        hints: ["hosts": "nodes", "node": "nodes", "replica": "replicas", "zone": "zones", "snapshot": "snapshots",
                "retention": "snapshots"], allowsExtensions: true)

    /// The nodes of `nodes:` as written (every key that is a string, even one with errors), for the checks of
    /// `replicas:` and `zones:`.
    struct NodeNames {
        /// In file order, each host once.
        var names: [String] = []
        /// Lowercased name → the name as written.
        var written: [String: String] = [:]
        /// Application → the node that runs it.
        var placement: [String: String] = [:]
        /// Whether `nodes:` decoded without errors, so that `placement` is complete.
        var complete = true

        /// Nil when `name` is a node of `nodes:` as written; otherwise what is wrong with it.
        func problem(_ name: String) -> String? {
            if let spelling = written[name.lowercased()] {
                if spelling == name { return nil }
                return "node \(quoted(name)) is written \(quoted(spelling)) under `nodes:`: write it the same way"
            }
            var message = "unknown node \(quoted(name))"
            if let near = closest(to: name, among: names) {
                message += ": did you mean \(quoted(near))?"
            } else if !names.isEmpty {
                let list = names.prefix(10).map { quoted($0) }.joined(separator: ", ")
                message += ": `nodes:` lists \(list)\(names.count > 10 ? ", …" : "")"
            } else {
                message += ": `nodes:` lists no nodes"
            }
            return message
        }
    }

    /// - Parameter applications: every application name of the application file, in file order; nil when the
    ///   application file could not be read, so that names cannot be checked.
    static func decode(_ root: YAMLNode, applications: [String]?, _ d: inout Diagnostics) -> DecodedDeployment {
        var result = DecodedDeployment(deployment: Deployment(nodes: []))
        guard let pairs = d.mapping(root, .document, expected: "a mapping with `version` and `nodes` at the top level")
        else { return result }
        let top = d.fields(pairs, mark: root.mark, .document, topLevel)
        if let version = top["version"] { d.version1(version, ManifestPath.document.key("version")) }
        var nodeNames: NodeNames?
        if let nodesNode = top["nodes"] {
            let before = d.count
            var names = NodeNames()
            if let nodes = decodeNodes(nodesNode, applications: applications, &names, &d) {
                result.deployment.nodes = nodes
                names.complete = d.count == before
                nodeNames = names
            }
        }
        if let zonesNode = top["zones"] {
            result.deployment.zones = decodeZones(zonesNode, nodeNames, &d)
        }
        if let replicasNode = top["replicas"] {
            result.replicaOrigins = decodeReplicas(replicasNode, applications: applications, nodeNames, &d)
            for origin in result.replicaOrigins { result.deployment.replicas[origin.application] = origin.request }
        }
        if let snapshotsNode = top["snapshots"] {
            result.deployment.snapshots = decodeSnapshots(snapshotsNode, applications: applications,
                                                          replicas: result.replicaOrigins.filter { $0.request.count > 0 }.map(\.application), &d)
        }
        return result
    }

    // MARK: snapshots

    static let retentionSchema = FieldSchema(
        known: ["every", "hourly", "daily", "monthly"],
        refused: ["weekly": "`weekly` is not supported: keep `daily` (7 for a week) or `monthly`",
                  "yearly": "`yearly` is not supported: keep `monthly` (12 for a year)",
                  "frequently": "`frequently` is not supported: set how often sync snapshots with `every`, and keep `hourly`"],
        hints: ["interval": "every", "frequency": "every", "hours": "hourly", "days": "daily", "months": "monthly"])

    /// `snapshots:`: application → `every` (a duration: 90s, 15m, 1h, 1d, or seconds) and the counts `hourly`,
    /// `daily`, `monthly` of automatic snapshots to keep (0 or more; missing ones are 0). Only applications with
    /// a `replicas:` entry are snapshotted by `sync`, so only those may be listed.
    private static func decodeSnapshots(
        _ node: YAMLNode, applications: [String]?, replicas: [String], _ d: inout Diagnostics
    ) -> [String: SnapshotRetention] {
        let path = ManifestPath.document.key("snapshots")
        guard let pairs = d.mapping(node, path,
            expected: "a mapping of application → retention, like redis: {every: 1h, hourly: 24, daily: 7} (write {} for none)")
        else { return [:] }
        let known = applications.map(Set.init)
        var result: [String: SnapshotRetention] = [:]
        for pair in pairs {
            guard let app = pair.key.scalar, !pair.key.isNull else {
                d.add(pair.key.mark, path, "expected an application name, found \(found(pair.key))")
                continue
            }
            let appPath = path.key(app)
            if let known, !known.contains(app) {
                d.add(pair.key.mark, appPath, unknownApplication(app, among: applications ?? []))
                continue
            }
            if !replicas.contains(app) {
                d.add(pair.key.mark, appPath,
                      "\(quoted(app)) has no `replicas:` entry: its automatic snapshots are taken by sync, which snapshots applications with replicas; add \(quoted(app)) to `replicas:`")
            }
            guard let fields = d.mapping(pair.value, appPath, expected: "a mapping with `every`, `hourly`, `daily` or `monthly`, like {hourly: 24, daily: 7}")
            else { continue }
            let f = d.fields(fields, mark: pair.value.mark, appPath, retentionSchema)
            var retention = SnapshotRetention()
            var ok = true
            if let every = f["every"] {
                let expected = "a duration such as 90s, 15m, 1h or 1d (or a number of seconds)"
                if let text = every.scalar, !every.isNull, let seconds = CloneNames.duration(text) {
                    retention.every = seconds
                } else {
                    d.add(every.mark, appPath.key("every"), "expected \(expected), found \(found(every))")
                    ok = false
                }
            }
            for key in ["hourly", "daily", "monthly"] {
                guard let value = f[key] else { continue }
                guard let n = d.integer(value, appPath.key(key), in: 0...100_000, expected: "a number of snapshots to keep (0 or more)") else {
                    ok = false
                    continue
                }
                switch key {
                case "hourly": retention.hourly = n
                case "daily": retention.daily = n
                default: retention.monthly = n
                }
            }
            if ok { result[app] = retention }
        }
        return result
    }

    /// The message for an application name the application file does not define.
    static func unknownApplication(_ app: String, among applications: [String]) -> String {
        var message = "unknown application \(quoted(app))"
        if let near = closest(to: app, among: applications) {
            message += ": did you mean \(quoted(near))?"
        } else if !applications.isEmpty {
            let list = applications.prefix(10).map { quoted($0) }.joined(separator: ", ")
            message += ": the application file defines \(list)\(applications.count > 10 ? ", …" : "")"
        } else {
            message += ": the application file defines no applications"
        }
        return message
    }

    // MARK: nodes

    /// Nil when `nodes:` is not a mapping (then no node name is known).
    private static func decodeNodes(
        _ nodesNode: YAMLNode, applications: [String]?, _ names: inout NodeNames, _ d: inout Diagnostics
    ) -> [Deployment.Node]? {
        let nodesPath = ManifestPath.document.key("nodes")
        guard
            let nodes = d.mapping(
                nodesNode, nodesPath, expected: "a mapping of node → list of application names, like node1: [web]")
        else { return nil }

        var result: [Deployment.Node] = []
        let known = applications.map(Set.init)
        var seenNodes: [String: (name: String, mark: Mark)] = [:]
        var placements: [String: (node: String, mark: Mark)] = [:]
        for pair in nodes {
            guard let node = pair.key.scalar, !pair.key.isNull else {
                d.add(pair.key.mark, nodesPath, "expected a node name, found \(found(pair.key))")
                continue
            }
            let path = nodesPath.key(node)
            if !ManifestRules.isNodeName(node) {
                let length =
                    node.utf8.count > ManifestRules.maximumNodeNameLength
                    ? " and be at most \(ManifestRules.maximumNodeNameLength) characters long" : ""
                // `root@node1` is how ssh is called, not a node name: the user belongs in the ssh config.
                var hint = ""
                // Only when that advice holds and prints as it is: the part after `@` is a node name, and the user
                // plain text (the fuzzer found a tab from a host part in the message).
                if let at = node.firstIndex(of: "@") {
                    let user = String(node[..<at]), host = String(node[node.index(after: at)...])
                    if !user.isEmpty && display(user) == user && ManifestRules.isNodeName(host) {
                        hint = "; to log in as \(user), write \(quoted(host)) here and set `User \(user)` under `Host \(host)` in the ssh config (docs/ssh.md)"
                    }
                }
                d.add(
                    pair.key.mark, path,
                    "node name \(quoted(node)) is not allowed: a node is an IP address, a hostname or an ssh_config alias, matching \(ManifestRules.nodeNamePattern)\(length)\(hint)"
                )
            }
            if let first = seenNodes[node.lowercased()] {
                d.add(
                    pair.key.mark, path,
                    "node \(quoted(node)) is the same host as node \(quoted(first.name)) (line \(first.mark.line)): host names are not case-sensitive; list each node once"
                )
            } else {
                seenNodes[node.lowercased()] = (node, pair.key.mark)
                names.names.append(node)
                names.written[node.lowercased()] = node
            }
            guard let items = pair.value.sequence else {
                var hint = "write [] for a node that runs nothing"
                if let text = pair.value.scalar, !pair.value.isNull, ManifestRules.isApplicationName(text) {
                    hint = "write [\(text)], or [] for a node that runs nothing"
                }
                d.add(
                    pair.value.mark, path, "expected a list of application names, found \(found(pair.value)): \(hint)")
                continue
            }
            var apps: [String] = []
            var onThisNode: [String: Mark] = [:]
            for (i, item) in items.enumerated() {
                let itemPath = path.index(i)
                guard let app = item.scalar, !item.isNull else {
                    d.add(item.mark, itemPath, "expected an application name, found \(found(item))")
                    continue
                }
                if let known, !known.contains(app) {
                    d.add(item.mark, itemPath, unknownApplication(app, among: applications ?? []))
                    continue
                }
                if let first = onThisNode[app] {
                    d.add(
                        item.mark, itemPath,
                        "application \(quoted(app)) is already listed on this node (line \(first.line))")
                    continue
                }
                onThisNode[app] = item.mark
                if let first = placements[app] {
                    d.add(
                        item.mark, itemPath,
                        "application \(quoted(app)) is already placed on node \(quoted(first.node)) (line \(first.mark.line)): an application runs on exactly one node"
                    )
                    continue
                }
                placements[app] = (node, item.mark)
                names.placement[app] = node
                apps.append(app)
            }
            result.append(Deployment.Node(name: node, applications: apps))
        }
        return result
    }

    // MARK: zones

    /// `zones:`: node → zone name. Only entries without errors are returned.
    private static func decodeZones(
        _ node: YAMLNode, _ nodeNames: NodeNames?, _ d: inout Diagnostics
    ) -> [String: String] {
        let path = ManifestPath.document.key("zones")
        guard
            let pairs = d.mapping(
                node, path, expected: "a mapping of node → zone name, like node1: a (write {} for none)")
        else { return [:] }
        var zones: [String: String] = [:]
        for pair in pairs {
            guard let name = pair.key.scalar, !pair.key.isNull else {
                d.add(pair.key.mark, path, "expected a node name, found \(found(pair.key))")
                continue
            }
            let nodePath = path.key(name)
            var ok = true
            if let problem = nodeNames?.problem(name) {
                d.add(pair.key.mark, nodePath, problem)
                ok = false
            }
            guard let zone = pair.value.scalar, !pair.value.isNull else {
                d.add(
                    pair.value.mark, nodePath, "expected a zone name, like a or eu-west-1, found \(found(pair.value))")
                continue
            }
            if !ManifestRules.isZoneName(zone) {
                d.add(
                    pair.value.mark, nodePath,
                    "zone name \(quoted(zone)) is not allowed: zone names must match \(ManifestRules.zoneNamePattern)")
                continue
            }
            if ok { zones[name] = zone }
        }
        return zones
    }

    // MARK: replicas

    /// `replicas:`: application → a count or a list of nodes. Returns the entries that decoded, with where each is
    /// written; the checks that need the application file's volumes come later (`ClusterChecks.checkReplicas`).
    private static func decodeReplicas(
        _ node: YAMLNode, applications: [String]?, _ nodeNames: NodeNames?, _ d: inout Diagnostics
    ) -> [ReplicaOrigin] {
        let path = ManifestPath.document.key("replicas")
        guard
            let pairs = d.mapping(
                node, path,
                expected:
                    "a mapping of application → number of replicas or list of nodes, like redis: 1 (write {} for none)")
        else { return [] }
        let known = applications.map(Set.init)
        var origins: [ReplicaOrigin] = []
        for pair in pairs {
            guard let app = pair.key.scalar, !pair.key.isNull else {
                d.add(pair.key.mark, path, "expected an application name, found \(found(pair.key))")
                continue
            }
            let appPath = path.key(app)
            var isKnown = true
            if let known, !known.contains(app) {
                d.add(pair.key.mark, appPath, unknownApplication(app, among: applications ?? []))
                isKnown = false
            }
            let primary = nodeNames?.placement[app]
            let request: ReplicaRequest
            if let items = pair.value.sequence {
                request = .nodes(decodeReplicaNodes(items, appPath, app: app, primary: primary, nodeNames, &d))
            } else {
                let expected = "a number of replicas (a whole number, 0 or more) or a list of nodes"
                guard let n = d.integer(pair.value, appPath, in: 0...Int.max, expected: expected) else { continue }
                request = .count(n)
            }
            guard isKnown else { continue }
            if request.count > 0, let nodeNames {
                if let primary {
                    let others = nodeNames.names.count - 1
                    if request.count > others {
                        let besides =
                            others == 0
                            ? "there is no node besides \(quoted(primary))"
                            : "there \(others == 1 ? "is" : "are") only \(others) node\(others == 1 ? "" : "s") besides \(quoted(primary))"
                        d.add(
                            pair.value.mark, appPath,
                            "\(request.count) replica\(request.count == 1 ? "" : "s") asked for, but \(besides) (which runs \(quoted(app))): each replica needs a node of its own, other than the application's"
                        )
                    }
                } else if nodeNames.complete {
                    d.add(
                        pair.key.mark, appPath,
                        "application \(quoted(app)) is placed on no node: replicas are copies of a running application's volumes; place it under `nodes:`, or remove it from `replicas:`"
                    )
                }
            }
            origins.append(ReplicaOrigin(application: app, request: request, mark: pair.key.mark, path: appPath))
        }
        return origins
    }

    /// An explicit list of replica nodes: each a node of `nodes:`, not the primary's, listed once. Returns the
    /// entries as written that are strings.
    private static func decodeReplicaNodes(
        _ items: [YAMLNode], _ path: ManifestPath, app: String, primary: String?, _ nodeNames: NodeNames?,
        _ d: inout Diagnostics
    ) -> [String] {
        var list: [String] = []
        var seen: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let name = item.scalar, !item.isNull else {
                d.add(item.mark, itemPath, "expected a node name, found \(found(item))")
                continue
            }
            list.append(name)
            if let problem = nodeNames?.problem(name) {
                d.add(item.mark, itemPath, problem)
                continue
            }
            if let first = seen[name] {
                d.add(
                    item.mark, itemPath,
                    "node \(quoted(name)) is already listed (line \(first.line)): a node holds one replica of an application"
                )
                continue
            }
            seen[name] = item.mark
            if name == primary {
                d.add(
                    item.mark, itemPath,
                    "node \(quoted(name)) runs \(quoted(app)): its replicas are kept on other nodes"
                )
            }
        }
        return list
    }
}
