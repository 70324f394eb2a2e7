import FlockerYAML

/// Decodes a deployment file (`version: 1`, `nodes:` node → list of application names) and checks it against
/// the application names the application file defines.
enum DeploymentDecoder {
    static let swapped =
        "this looks like an application file: the deployment file (with `nodes:`) comes first, then the application file"

    static let topLevel = FieldSchema(
        known: ["version", "nodes"], required: ["version", "nodes"],
        refused: ["applications": swapped, "services": swapped],
        hints: ["hosts": "nodes", "node": "nodes"], allowsExtensions: true)

    /// - Parameter applications: every application name of the application file, in file order; nil when the
    ///   application file could not be read, so that names cannot be checked.
    static func decode(_ root: YAMLNode, applications: [String]?, _ d: inout Diagnostics) -> Deployment {
        var deployment = Deployment(nodes: [])
        guard let pairs = d.mapping(root, .document, expected: "a mapping with `version` and `nodes` at the top level")
        else { return deployment }
        let top = d.fields(pairs, mark: root.mark, .document, topLevel)
        if let version = top["version"] { d.version1(version, ManifestPath.document.key("version")) }
        guard let nodesNode = top["nodes"] else { return deployment }
        let nodesPath = ManifestPath.document.key("nodes")
        guard
            let nodes = d.mapping(
                nodesNode, nodesPath, expected: "a mapping of node → list of application names, like node1: [web]")
        else { return deployment }

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
                d.add(
                    pair.key.mark, path,
                    "node name \(quoted(node)) is not allowed: a node is an IP address, a hostname or an ssh_config alias, matching \(ManifestRules.nodeNamePattern)\(length)"
                )
            }
            if let first = seenNodes[node.lowercased()] {
                d.add(
                    pair.key.mark, path,
                    "node \(quoted(node)) is the same host as node \(quoted(first.name)) (line \(first.mark.line)): host names are not case-sensitive; list each node once"
                )
            } else {
                seenNodes[node.lowercased()] = (node, pair.key.mark)
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
                    var message = "unknown application \(quoted(app))"
                    if let near = closest(to: app, among: applications ?? []) {
                        message += ": did you mean \(quoted(near))?"
                    } else if let applications, !applications.isEmpty {
                        let list = applications.prefix(10).map { quoted($0) }.joined(separator: ", ")
                        message += ": the application file defines \(list)\(applications.count > 10 ? ", …" : "")"
                    } else {
                        message += ": the application file defines no applications"
                    }
                    d.add(item.mark, itemPath, message)
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
                apps.append(app)
            }
            deployment.nodes.append(Deployment.Node(name: node, applications: apps))
        }
        return deployment
    }
}
