import FlockerYAML

/// Decodes a Compose (or Fig) application file: services under `services:`, or directly at the top level as Fig
/// wrote them. Only what flocker-deploy can honour is accepted; every Compose key that does not apply is refused
/// by name, with the reason.
enum ComposeDecoder {
    enum Layout { case services, topLevel }

    /// Top-level keys that are never services, in either layout.
    static let reservedTopLevel: Set<String> = [
        "version", "name", "services", "volumes", "networks", "secrets", "configs",
    ]

    static let topLevel = FieldSchema(
        known: ["version", "name", "services", "volumes", "networks", "configs", "secrets"],
        refused: [
            "applications": "a file with `applications` is a Flocker v1 file",
        ],
        hints: ["service": "services", "volume": "volumes"],
        allowsExtensions: true)

    /// The service mapping's schema comes from the one key table, `ComposeKeys`.
    static var service: FieldSchema { ComposeKeys.schema }

    static let longPort = FieldSchema(
        known: ["target", "published", "host_ip", "protocol", "mode"], required: ["target"],
        hints: ["internal": "target", "external": "published", "container": "target", "host": "published"])

    static let longVolume = FieldSchema(
        known: ["type", "source", "target", "read_only"], required: ["type", "target"],
        refused: [
            "bind": "bind options are not supported: host paths cannot be mounted",
            "tmpfs": "tmpfs options are not supported: only managed volumes can be mounted",
            "volume": "volume options are not supported; remove them",
            "consistency": "`consistency` is not supported; remove it",
            "image": "image mounts are not supported; remove them",
        ],
        hints: ["mountpoint": "target", "destination": "target", "src": "source", "dst": "target"])

    static let hostBindReason =
        "a host directory cannot be mounted: data must live in a managed volume, a ZFS dataset that flocker-deploy moves with the application to another node"

    static let dockerSocketReason =
        "the Docker socket cannot be mounted: a container holding it controls Docker on whichever node it runs, beside flocker-deploy, and what it starts there does not move with it"

    /// Why the host path `source` cannot be mounted.
    static func hostPathReason(_ source: String) -> String {
        let socket = ["/var/run/docker.sock", "/run/docker.sock"].contains(source.hasSuffix("/") ? String(source.dropLast()) : source)
        return socket ? dockerSocketReason : hostBindReason
    }

    /// A `links` entry waiting for every service to be known.
    struct PendingLink {
        var target: String
        var alias: String
        var node: YAMLNode
        var path: ManifestPath
    }

    /// A `depends_on` entry waiting for every service to be known.
    struct PendingDependency {
        var target: String
        var node: YAMLNode
        var path: ManifestPath
    }

    static func decode(
        _ root: YAMLNode, _ pairs: [YAMLNode.Pair], layout: Layout, context: ComposeContext = ComposeContext(),
        _ d: inout Diagnostics
    ) -> DecodedApplicationFile {
        var result = DecodedApplicationFile(format: .compose, names: [])
        // Interpolation first, over every value of the file, as Compose does (keys stay as written).
        var pairs = pairs
        if let variables = context.variables {
            pairs = pairs.map { pair in
                guard let key = pair.key.scalar, !key.hasPrefix("x-") else { return pair }
                return YAMLNode.Pair(key: pair.key, value: Interpolation.apply(pair.value, variables, .document.key(key), &d))
            }
        }
        let services: [YAMLNode.Pair]
        var servicesPath = ManifestPath.document
        var top: Fields
        switch layout {
        case .services:
            var schema = topLevel
            for pair in pairs {
                guard let key = pair.key.scalar, !schema.known.contains(key), schema.refused[key] == nil,
                    !key.hasPrefix("x-"), looksLikeService(pair.value)
                else { continue }
                schema.refused[key] = "unknown top-level key \(code(key)): services go under `services:`"
            }
            top = d.fields(pairs, mark: root.mark, .document, schema)
            servicesPath = ManifestPath.document.key("services")
            guard let node = top["services"],
                let mapping = d.mapping(node, servicesPath, expected: "a mapping of service name → settings")
            else { return result }
            services = mapping
        case .topLevel:
            let reserved = pairs.filter { pair in
                guard let key = pair.key.scalar else { return false }
                return reservedTopLevel.contains(key) || key.hasPrefix("x-")
            }
            top = d.fields(reserved, mark: root.mark, .document, topLevel)
            services = pairs.filter { pair in
                guard let key = pair.key.scalar else { return true }
                return !reservedTopLevel.contains(key) && !key.hasPrefix("x-")
            }
        }

        let declaredVolumes = decodeTopLevelVolumes(top["volumes"], &d)
        let declaredFiles = ComposeFiles.decodeTopLevel(configs: top["configs"], secrets: top["secrets"], context: context, &d)
        if let networks = top["networks"], top.keys["networks"] != nil {
            d.warn(
                top.keys["networks"]!.mark, .document.key("networks"),
                "top-level `networks` is ignored: containers use Docker's default network on their node, and services reach each other by name on every node (each name is a stable address that follows its service)")
            _ = networks
        }

        var drafts: [ApplicationDraft] = []
        var pending: [[PendingLink]] = []
        var dependencies: [[PendingDependency]] = []
        var names: [String] = []
        var volumeUsers: [String: (service: String, mark: Mark)] = [:]
        var folderUsers: [String: (service: String, mark: Mark)] = [:]
        for pair in services {
            let path = servicesPath.key(pair.key.scalar ?? "")
            guard let name = d.applicationName(pair.key, path, noun: "service") else { continue }
            names.append(name)
            guard
                let settings = d.mapping(
                    pair.value, path, expected: "a mapping of the service's settings (image, ports, …)")
            else { continue }
            if !isActive(settings, path, context, &d) { names.removeLast(); continue }
            var service = ComposeService(
                draft: ApplicationDraft(name: name, path: path, mark: pair.key.mark), pairs: settings,
                mark: pair.value.mark, declaredVolumes: declaredVolumes, context: context, files: declaredFiles)
            decodeService(&service, &d)
            let draft = service.draft
            for origin in draft.volumes where declaredVolumes.contains(origin.volume.name) {
                if let first = volumeUsers[origin.volume.name], first.service != name {
                    d.add(
                        origin.nameMark, origin.namePath,
                        "volume \(quoted(origin.volume.name)) is already used by service \(quoted(first.service)) (line \(first.mark.line)): a managed volume belongs to one application, so that it can move with it"
                    )
                } else if volumeUsers[origin.volume.name] == nil {
                    volumeUsers[origin.volume.name] = (name, origin.nameMark)
                }
            }
            for origin in draft.volumes {
                guard let seed = origin.volume.seed else { continue }
                let folder = seed.source.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
                if let first = folderUsers[folder] {
                    d.add(
                        origin.nameMark, origin.namePath,
                        "the folder \(quoted(seed.source)) is already mounted writable by service \(quoted(first.service)) (line \(first.mark.line)), whose managed volume it becomes: a managed volume belongs to one application, so that it can move with it; mount it :ro here, or give each service a folder of its own")
                } else {
                    folderUsers[folder] = (name, origin.nameMark)
                }
            }
            drafts.append(draft)
            pending.append(service.links)
            dependencies.append(service.dependencies)
        }
        for i in drafts.indices {
            for link in pending[i] { resolve(link, into: &drafts[i], services: drafts, names: names, &d) }
            for dependency in dependencies[i] where !names.contains(dependency.target) {
                var message = "unknown service \(quoted(dependency.target))"
                if let near = closest(to: dependency.target, among: names) { message += ": did you mean \(quoted(near))?" }
                d.add(dependency.node.mark, dependency.path, message)
            }
            ClusterChecks.checkApplication(drafts[i], &d)
        }
        assignServiceIdentities(&drafts, links: pending)
        result.drafts = drafts
        result.names = names
        return result
    }

    /// Services by name (`ServiceNetwork`): each service's address, the names every container resolves (every
    /// service, and a container's own link aliases), and the container ports published on the address.
    static func assignServiceIdentities(_ drafts: inout [ApplicationDraft], links: [[PendingLink]]) {
        let addresses = ServiceNetwork.addresses(for: drafts.map(\.name))
        let everyone = drafts.map(\.name).sorted().compactMap { name in
            addresses[name].map { HostEntry(name: name, address: $0) }
        }
        for i in drafts.indices {
            guard let address = addresses[drafts[i].name] else { continue }
            var hosts = everyone
            for link in links[i] where !link.alias.isEmpty && link.alias != link.target {
                guard let target = addresses[link.target], !hosts.contains(where: { $0.name == link.alias }) else { continue }
                hosts.append(HostEntry(name: link.alias, address: target))
            }
            var ports: [String] = []
            for option in drafts[i].runOptions where option.hasPrefix("--expose=") {
                ports.append(String(option.dropFirst("--expose=".count)))
            }
            // A port published at its own number on every address answers on the service address already.
            for origin in drafts[i].ports where origin.port.internalPort != origin.port.externalPort {
                ports.append(String(origin.port.internalPort) + origin.port.suffix)
            }
            // Once each; none that is published at its own number on every address (the routing mesh's ports).
            var seen = Set(PortMapping.answeringOnEveryAddress(drafts[i].ports.map(\.port)))
            ports = ports.filter { spec in
                let (range, proto) = ServiceIdentity.split(spec)
                return seen.insert("\(range)/\(proto ?? "tcp")").inserted
            }
            drafts[i].service = ServiceIdentity(address: address, hosts: hosts, ports: ports)
        }
    }

    /// Whether `node` is a mapping with an `image` or a `build` key: Fig's test for "this is a service".
    static func looksLikeService(_ node: YAMLNode) -> Bool {
        guard let pairs = node.mapping else { return false }
        return pairs.contains { $0.key.scalar == "image" || $0.key.scalar == "build" }
    }

    private static func decodeTopLevelVolumes(_ node: YAMLNode?, _ d: inout Diagnostics) -> Set<String> {
        guard let node else { return [] }
        let path = ManifestPath.document.key("volumes")
        if node.isNull { return [] }
        guard let pairs = d.mapping(node, path, expected: "a mapping of volume names (each empty or {})") else {
            return []
        }
        var names: Set<String> = []
        for pair in pairs {
            guard let name = pair.key.scalar, !pair.key.isNull else {
                d.add(pair.key.mark, path, "expected a volume name, found \(found(pair.key))")
                continue
            }
            let itemPath = path.key(name)
            names.insert(name)
            _ = d.volumeName(name, pair.key.mark, itemPath)
            if pair.value.isNull { continue }
            guard let options = pair.value.mapping else {
                d.add(pair.value.mark, itemPath, "expected nothing or {} (no options), found \(found(pair.value))")
                continue
            }
            for option in options {
                guard let key = option.key.scalar, !key.hasPrefix("x-") else { continue }
                d.add(
                    option.key.mark, itemPath.key(key),
                    "volume option \(code(key)) is not supported: volumes are ZFS datasets that flocker-deploy creates and moves; remove it"
                )
            }
        }
        return names
    }

    /// Each key of the service through its decoder in the key table, in table order.
    private static func decodeService(_ service: inout ComposeService, _ d: inout Diagnostics) {
        let path = service.draft.path
        let f = d.fields(service.pairs, mark: service.mark, path, ComposeKeys.schema)
        if f["image"] == nil && f["build"] == nil && !service.pairs.contains(where: { $0.key.scalar == "build" }) {
            d.add(service.mark, path, "missing required key `image`")
        }
        for key in ComposeKeys.service {
            guard let decode = key.decode, let node = f[key.name] else { continue }
            decode(node, path.key(key.name), &service, &d)
        }
        service.draft.dependencies = service.dependencies.map(\.target)
    }

    /// Whether the service runs: one without `profiles` always does; one with them when one of them is active.
    private static func isActive(
        _ pairs: [YAMLNode.Pair], _ path: ManifestPath, _ context: ComposeContext, _ d: inout Diagnostics
    ) -> Bool {
        guard let node = pairs.first(where: { $0.key.scalar == "profiles" })?.value,
            let profiles = d.words(node, path.key("profiles"))
        else { return true }
        return context.profiles.contains("*") || profiles.contains(where: context.profiles.contains)
    }

    // MARK: ports

    static func decodePorts(
        _ node: YAMLNode, _ path: ManifestPath, _ draft: inout ApplicationDraft, _ d: inout Diagnostics
    ) {
        guard let items = d.list(node, path, expected: "a list of ports like \"8080:80\"") else {
            draft.portsIncomplete = true
            return
        }
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            if let pairs = item.mapping {
                if let origin = decodeLongPort(item, pairs, itemPath, &d) {
                    draft.ports.append(origin)
                } else {
                    draft.portsIncomplete = true
                }
                continue
            }
            guard let text = d.text(item, itemPath, expected: "a port like \"8080:80\"") else {
                draft.portsIncomplete = true
                continue
            }
            switch parseShortPort(text) {
            case .success(let mappings):
                for mapping in mappings {
                    draft.ports.append(
                        PortOrigin(
                            port: mapping, externalMark: item.mark, externalPath: itemPath, internalMark: item.mark,
                            internalPath: itemPath))
                }
            case .failure(let problem):
                d.add(item.mark, itemPath, problem.message)
                draft.portsIncomplete = true
            }
        }
    }

    struct Problem: Error {
        var message: String
    }

    static let meshReason =
        "the routing mesh publishes every external port on every node, on all addresses"

    /// `"[IP:]HOST:CONTAINER[/tcp|/udp]"`, where HOST and CONTAINER may be ranges of equal length (`"8000-8001:80-81"`).
    static func parseShortPort(_ text: String) -> Result<[PortMapping], Problem> {
        let syntax = Problem(message: "expected \"HOST:CONTAINER\" like \"8080:80\", found \(quoted(text))")
        var spec = Substring(text)
        var transport = PortTransport.tcp
        if let slash = spec.lastIndex(of: "/") {
            let proto = spec[spec.index(after: slash)...].lowercased()
            spec = spec[..<slash]
            guard let t = PortTransport(rawValue: proto) else {
                return .failure(Problem(message: "unsupported protocol \(quoted(proto)): tcp and udp are supported"))
            }
            transport = t
        }
        var ip: Substring?
        var parts: [Substring]
        if spec.hasPrefix("[") {
            guard let close = spec.firstIndex(of: "]"), spec[close...].hasPrefix("]:") else { return .failure(syntax) }
            ip = spec[spec.index(after: spec.startIndex)..<close]
            parts = spec[spec.index(close, offsetBy: 2)...].split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { return .failure(syntax) }
        } else {
            parts = spec.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 3 {
                ip = parts[0]
                parts.removeFirst()
            }
        }
        if let ip, !ip.isEmpty, ip != "0.0.0.0" {
            return .failure(
                Problem(
                    message:
                        "publishing on \(quoted(String(ip))) only is not supported: \(meshReason); write \(quoted(parts.joined(separator: ":")))"
                ))
        }
        if parts.count == 1 {
            return .failure(
                Problem(
                    message:
                        "a container port alone is not enough: write \(quoted("HOST:" + parts[0])) with the external port to publish on every node (Compose would pick a random host port)"
                ))
        }
        guard parts.count == 2 else { return .failure(syntax) }
        let host: ClosedRange<Int>
        let container: ClosedRange<Int>
        switch (portRange(parts[0]), portRange(parts[1])) {
        case (.success(let h), .success(let c)):
            host = h
            container = c
        case (.failure(let problem), _), (_, .failure(let problem)):
            return .failure(problem)
        }
        guard host.count == container.count else {
            return .failure(
                Problem(
                    message:
                        "the host and container port ranges in \(quoted(text)) differ in length (\(host.count) and \(container.count)): every container port needs its own host port"
                ))
        }
        return .success(zip(host, container).map { PortMapping(internal: $1, external: $0, transport: transport) })
    }

    /// `"80"` or `"8000-8010"`.
    private static func portRange(_ s: Substring) -> Result<ClosedRange<Int>, Problem> {
        let bounds = s.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for bound in bounds {
            guard let n = portNumber(bound) else {
                return .failure(Problem(message: "expected a port from 1 to 65535, found \(quoted(String(bound)))"))
            }
            numbers.append(n)
        }
        let low = numbers[0]
        let high = numbers.count == 2 ? numbers[1] : low
        guard low <= high else {
            return .failure(Problem(message: "the port range \(quoted(String(s))) runs backwards"))
        }
        return .success(low...high)
    }

    private static func portNumber(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 5, s.utf8.allSatisfy(ManifestRules.isDigit), let n = Int(s),
            (1...65535).contains(n)
        else { return nil }
        return n
    }

    private static func decodeLongPort(
        _ node: YAMLNode, _ pairs: [YAMLNode.Pair], _ path: ManifestPath, _ d: inout Diagnostics
    ) -> PortOrigin? {
        let f = d.fields(pairs, mark: node.mark, path, longPort)
        var ok = true
        if let n = f["host_ip"] {
            let ipPath = path.key("host_ip")
            if let ip = d.text(n, ipPath, expected: "\"0.0.0.0\"") {
                if !ip.isEmpty && ip != "0.0.0.0" {
                    d.add(
                        n.mark, ipPath,
                        "publishing on \(quoted(ip)) only is not supported: \(meshReason); remove `host_ip`")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        var transport = PortTransport.tcp
        if let n = f["protocol"] {
            let protoPath = path.key("protocol")
            if let proto = d.text(n, protoPath, expected: "tcp or udp") {
                if let t = PortTransport(rawValue: proto.lowercased()) {
                    transport = t
                } else {
                    d.add(n.mark, protoPath, "unsupported protocol \(quoted(proto)): tcp and udp are supported")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        if let n = f["mode"] {
            let modePath = path.key("mode")
            if let mode = d.text(n, modePath, expected: "host or ingress") {
                if mode != "host" && mode != "ingress" {
                    d.add(n.mark, modePath, "expected host or ingress, found \(found(n))")
                }
            }
        }
        let target = f["target"].flatMap { d.port($0, path.key("target")) }
        var published: Int?
        let publishedPath = path.key("published")
        if let n = f["published"] {
            if let s = n.scalar, !n.isNull, let p = portNumber(Substring(s)) {
                published = p
            } else {
                d.add(n.mark, publishedPath, "expected a port from 1 to 65535, found \(found(n))")
            }
        } else {
            d.add(
                node.mark, path,
                "missing required key `published`: give the external port to publish on every node (Compose would pick a random host port)"
            )
        }
        guard ok, let target, let published, let targetNode = f["target"], let publishedNode = f["published"] else {
            return nil
        }
        return PortOrigin(
            port: PortMapping(internal: target, external: published, transport: transport), externalMark: publishedNode.mark,
            externalPath: publishedPath, internalMark: targetNode.mark, internalPath: path.key("target"))
    }

    // MARK: environment

    static func decodeEnvironment(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics)
        -> [String: String]
    {
        let noValue = { (name: String, form: String) in
            "\(display(name)) has no value: Compose would take it from the environment of the machine running it, flocker-deploy needs it written here, as \(quoted(form))"
        }
        if let pairs = node.mapping {
            return d.environmentMapping(pairs, path) { name, _ in noValue(name, name + ": value") }
        }
        guard let items = d.list(node, path, expected: "a mapping of NAME: value, or a list of \"NAME=value\"") else {
            return [:]
        }
        var result: [String: String] = [:]
        var seen: [String: Mark] = [:]
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let entry = d.text(item, itemPath, expected: "\"NAME=value\"") else { continue }
            guard let eq = entry.firstIndex(of: "=") else {
                if ManifestRules.isEnvironmentName(entry) {
                    d.add(item.mark, itemPath, noValue(entry, entry + "=value"))
                } else {
                    d.add(item.mark, itemPath, "expected \"NAME=value\", found \(found(item))")
                }
                continue
            }
            let name = String(entry[..<eq])
            let value = String(entry[entry.index(after: eq)...])
            let validName = d.environmentName(name, item.mark, itemPath)
            let validValue = d.environmentValue(value, name: name, item.mark, itemPath)
            if let first = seen[name] {
                d.add(item.mark, itemPath, "\(display(name)) is already set (line \(first.line))")
                continue
            }
            seen[name] = item.mark
            if validName && validValue { result[name] = value }
        }
        return result
    }

    // MARK: links

    static func decodeLinks(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> [PendingLink] {
        guard let items = d.list(node, path, expected: "a list of links like \"db\" or \"db:alias\"") else { return [] }
        var links: [PendingLink] = []
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            guard let text = d.text(item, itemPath, expected: "a link like \"db\" or \"db:alias\"") else { continue }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty }) else {
                d.add(item.mark, itemPath, "expected \"SERVICE\" or \"SERVICE:ALIAS\", found \(found(item))")
                continue
            }
            let target = String(parts[0])
            let alias = String(parts.count == 2 ? parts[1] : parts[0])
            if ManifestRules.isAlias(alias) {
                links.append(PendingLink(target: target, alias: alias, node: item, path: itemPath))
            } else if parts.count == 1 {
                d.add(
                    item.mark, itemPath,
                    "the service name \(quoted(alias)) cannot be used as a link alias (aliases must match \(ManifestRules.aliasPattern)): write \(quoted(target + ":ALIAS"))"
                )
                links.append(PendingLink(target: target, alias: "", node: item, path: itemPath))
            } else {
                _ = d.aliasText(alias, item.mark, itemPath)
                links.append(PendingLink(target: target, alias: "", node: item, path: itemPath))
            }
        }
        return links
    }

    /// One Flocker link per port of the target: local port = the target's container port, remote port = its
    /// external port.
    private static func resolve(
        _ link: PendingLink, into draft: inout ApplicationDraft, services: [ApplicationDraft], names: [String],
        _ d: inout Diagnostics
    ) {
        guard let target = services.first(where: { $0.name == link.target }) else {
            if names.contains(link.target) { return }  // defined, but with errors already reported
            var message = "unknown service \(quoted(link.target))"
            if let near = closest(to: link.target, among: names) { message += ": did you mean \(quoted(near))?" }
            d.add(link.node.mark, link.path, message)
            return
        }
        // A target without ports gets no variables; its alias still resolves to it (`ServiceNetwork`).
        guard !target.ports.isEmpty, !link.alias.isEmpty else { return }
        for origin in target.ports where origin.port.transport == .tcp {  // link variables name TCP ports
            draft.links.append(
                LinkOrigin(
                    link: Link(
                        localPort: origin.port.internalPort, remotePort: origin.port.externalPort, alias: link.alias),
                    mark: link.node.mark, path: link.path, remotePortMark: nil, remotePortPath: nil))
        }
    }

    // MARK: volumes

    static func decodeVolumes(_ node: YAMLNode, _ path: ManifestPath, _ s: inout ComposeService, _ d: inout Diagnostics) {
        let declared = s.declaredVolumes
        guard let items = d.list(node, path, expected: "a list of volumes like \"/data\" or \"NAME:/data\"") else {
            return
        }
        for (i, item) in items.enumerated() {
            let itemPath = path.index(i)
            if let pairs = item.mapping {
                if let origin = decodeLongVolume(item, pairs, itemPath, &s, &d) { s.draft.volumes.append(origin) }
                continue
            }
            guard let text = d.text(item, itemPath, expected: "a volume like \"/data\" or \"NAME:/data\"") else {
                continue
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 3 else {
                d.add(item.mark, itemPath, "expected \"/path\" or \"NAME:/path\", found \(found(item))")
                continue
            }
            var readOnly = false
            if parts.count == 3 {
                switch parts[2] {
                case "rw": break
                case "ro": readOnly = true
                default:
                    d.add(item.mark, itemPath, "unsupported volume mode \(quoted(parts[2])): only rw or ro is allowed")
                    continue
                }
            }
            let target = parts.count == 1 ? parts[0] : parts[1]
            let source: String? = parts.count == 1 ? nil : parts[0]
            if let source, isRelativePath(source) {
                ComposeFiles.bind(source: source, target: target, readOnly: readOnly, item.mark, itemPath, &s, &d)
                continue
            }
            if var origin = volume(
                source: source, target: target, mark: item.mark, path: itemPath, declared: declared, &d)
            {
                origin.volume.readOnly = readOnly
                s.draft.volumes.append(origin)
            }
        }
    }

    private static func isHostPath(_ source: String) -> Bool {
        source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~")
    }

    /// `./nginx.conf`, `../x`, `.`: a path relative to the Compose file's folder (uploaded, see `ComposeFiles`).
    private static func isRelativePath(_ source: String) -> Bool { source.hasPrefix(".") }

    /// A managed volume: `source` nil for an anonymous volume (named after its mountpoint), or a name declared
    /// under the top-level `volumes:`.
    private static func volume(
        source: String?, target: String, mark: Mark, path: ManifestPath, declared: Set<String>, _ d: inout Diagnostics
    ) -> VolumeOrigin? {
        if let source, isHostPath(source) {
            d.add(
                mark, path,
                "\(hostPathReason(source)); write \(quoted(target)) (a volume named after the path) or \(quoted("NAME:" + target)) with NAME under the top-level `volumes:`"
            )
            return nil
        }
        if let problem = ManifestRules.mountpointProblem(target) {
            d.add(mark, path, "mountpoint \(quoted(target)) \(problem)")
            return nil
        }
        let target = ManifestRules.normalisedMountpoint(target)
        let name: String
        if let source {
            guard d.volumeName(source, mark, path) else { return nil }
            guard declared.contains(source) else {
                d.add(
                    mark, path,
                    "volume \(quoted(source)) is not declared: add it to the top-level `volumes:` mapping (\(source): {})"
                )
                return nil
            }
            name = source
        } else {
            name = ManifestRules.volumeName(forMountpoint: target)
            guard ManifestRules.isVolumeName(name) else {
                d.add(
                    mark, path,
                    "a volume at \(quoted(target)) would be named \(quoted(name)), which is not a valid volume name (\(ManifestRules.volumeNamePattern)): write \(quoted("NAME:" + target)) with NAME under the top-level `volumes:`"
                )
                return nil
            }
        }
        return VolumeOrigin(
            volume: VolumeSpec(name: name, mountpoint: target), nameMark: mark, namePath: path, mountpointMark: mark,
            mountpointPath: path)
    }

    private static func decodeLongVolume(
        _ node: YAMLNode, _ pairs: [YAMLNode.Pair], _ path: ManifestPath, _ s: inout ComposeService,
        _ d: inout Diagnostics
    ) -> VolumeOrigin? {
        let declared = s.declaredVolumes
        let f = d.fields(pairs, mark: node.mark, path, longVolume)
        var ok = true
        var readOnly = false
        if let n = f["read_only"] {
            if let value = d.boolean(n, path.key("read_only")) { readOnly = value } else { ok = false }
        }
        guard let typeNode = f["type"] else { return nil }
        let typePath = path.key("type")
        guard let type = d.text(typeNode, typePath, expected: "volume") else { return nil }
        switch type {
        case "volume": break
        case "bind":
            // A relative source is a file or folder beside the Compose file, uploaded; any other host path is refused.
            if let sourceNode = f["source"], let source = sourceNode.scalar, !source.isEmpty, !source.hasPrefix("/"),
                !source.hasPrefix("~"), let targetNode = f["target"], let target = targetNode.scalar, ok
            {
                ComposeFiles.bind(source: source, target: target, readOnly: readOnly, sourceNode.mark, path.key("source"), &s, &d)
                return nil
            }
            d.add(typeNode.mark, typePath, "\(hostPathReason(f["source"]?.scalar ?? "")); use type: volume")
            return nil
        case "tmpfs":
            d.add(
                typeNode.mark, typePath,
                "tmpfs mounts are not supported: only managed volumes, which move with the application, can be mounted")
            return nil
        default:
            d.add(typeNode.mark, typePath, "type \(quoted(type)) is not supported: only type: volume is")
            return nil
        }
        var source: String?
        if let n = f["source"] {
            guard let s = d.text(n, path.key("source"), expected: "a volume name") else { return nil }
            source = s
        }
        guard let targetNode = f["target"],
            let target = d.text(targetNode, path.key("target"), expected: "an absolute path")
        else { return nil }
        guard ok else { return nil }
        if let source, isHostPath(source) {
            d.add(f["source"]?.mark ?? node.mark, path.key("source"), "\(hostBindReason); give a volume name")
            return nil
        }
        var origin = volume(
            source: source, target: target, mark: (source == nil ? targetNode : f["source"] ?? targetNode).mark,
            path: path.key(source == nil ? "target" : "source"), declared: declared, &d)
        origin?.volume.readOnly = readOnly
        return origin
    }

    // MARK: restart

    static func decodeRestart(_ node: YAMLNode, _ path: ManifestPath, _ d: inout Diagnostics) -> RestartPolicy?
    {
        let expected = "\"no\", \"always\", \"on-failure\", \"on-failure:N\" or \"unless-stopped\""
        guard let s = d.text(node, path, expected: expected) else { return nil }
        switch s {
        case "no": return .never
        case "always": return .always
        case "unless-stopped": return .unlessStopped
        case "on-failure": return .onFailure(maximumRetryCount: nil)
        default:
            if s.hasPrefix("on-failure:") {
                let count = String(s.dropFirst("on-failure:".count))
                if let n = ManifestRules.parseInteger(count), n >= 1, n <= Int(Int32.max),
                    count.utf8.allSatisfy(ManifestRules.isDigit)
                {
                    return .onFailure(maximumRetryCount: n)
                }
                d.add(node.mark, path, "expected a positive retry count after \"on-failure:\", found \(quoted(s))")
                return nil
            }
            d.add(node.mark, path, "expected \(expected), found \(found(node))")
            return nil
        }
    }
}
