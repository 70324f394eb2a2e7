import FlockerYAML

/// Checks that look at more than one value: within an application (ports, volumes, links that would clash) and
/// across the cluster (external ports, link targets). Each error points at the later of two clashing values and
/// names the earlier one.
enum ClusterChecks {
    static func checkApplication(_ draft: ApplicationDraft, _ d: inout Diagnostics) {
        if let commandLength = NodeCommands.oversizedStartCommand(draft.application) {
            d.add(
                draft.mark, draft.path,
                "the command that starts this application on a node would be \(commandLength) bytes long (its command, ports and mountpoints, quoted for the node's shell), more than the \(NodeCommands.commandTextLimit) one SSH request carries: shorten the command, or put long values in the environment or the image"
            )
        }
        var internalPorts: [String: PortOrigin] = [:]  // "PORT/tcp": a TCP and a UDP port may share a number
        for origin in draft.ports {
            let key = "\(origin.port.internalPort)/\(origin.port.transport.rawValue)"
            if let first = internalPorts[key] {
                d.add(
                    origin.internalMark, origin.internalPath,
                    "internal port \(origin.port.internalPort) is already published (as external port \(first.port.externalPort), line \(first.internalMark.line)): each container port can be published once"
                )
            } else {
                internalPorts[key] = origin
            }
        }
        var names: [String: VolumeOrigin] = [:]
        var mountpoints: [String: VolumeOrigin] = [:]
        for origin in draft.volumes {
            if let first = names[origin.volume.name] {
                d.add(
                    origin.nameMark, origin.namePath,
                    "volume name \(quoted(origin.volume.name)) is already used by this application (line \(first.nameMark.line))"
                )
            } else {
                names[origin.volume.name] = origin
            }
            if let first = mountpoints[origin.volume.mountpoint] {
                d.add(
                    origin.mountpointMark, origin.mountpointPath,
                    "mountpoint \(quoted(origin.volume.mountpoint)) is already used by volume \(quoted(first.volume.name)) (line \(first.mountpointMark.line))"
                )
            } else {
                mountpoints[origin.volume.mountpoint] = origin
            }
        }
        var variables: [String: LinkOrigin] = [:]
        for origin in draft.links {
            let prefix = ManifestRules.linkVariablePrefix(origin.link.alias)
            let key = "\(prefix)_PORT_\(origin.link.localPort)"
            if let first = variables[key] {
                d.add(
                    origin.mark, origin.path,
                    "this link sets the same environment variables (\(key)_TCP…) as the link at line \(first.mark.line): use another alias or local port"
                )
            } else {
                variables[key] = origin
            }
        }
    }

    /// External ports are unique in the whole cluster (every node publishes every external port through the
    /// routing mesh); with `checkLinkRemotePorts` (Flocker v1), every link's remote port is some application's
    /// external port.
    static func checkCluster(_ drafts: [ApplicationDraft], checkLinkRemotePorts: Bool, _ d: inout Diagnostics) {
        var owners: [Int: (app: String, origin: PortOrigin)] = [:]
        var udpOwners: [Int: (app: String, origin: PortOrigin)] = [:]  // a UDP port is another port than TCP's
        for draft in drafts {
            for origin in draft.ports {
                let port = origin.port.externalPort
                let udp = origin.port.transport == .udp
                if let first = udp ? udpOwners[port] : owners[port] {
                    let owner = first.app == draft.name ? "this application" : "application \(quoted(first.app))"
                    d.add(
                        origin.externalMark, origin.externalPath,
                        "external port \(port)\(origin.port.suffix) is already published by \(owner) (line \(first.origin.externalMark.line)): every node publishes every external port through the routing mesh, so each belongs to one application"
                    )
                } else if udp {
                    udpOwners[port] = (draft.name, origin)
                } else {
                    owners[port] = (draft.name, origin)
                }
            }
        }
        // A Compose service's container ports are published on its own address (`ServiceNetwork`); Docker cannot
        // bind one where a container publishes the same port on every address, as an external port is wherever
        // its application runs: refused whatever the placement, since either can move.
        for draft in drafts {
            guard let service = draft.service else { continue }
            for (port, proto) in service.portNumbers {
                guard let owner = proto == "udp" ? udpOwners[port] : owners[port] else { continue }
                let who = owner.app == draft.name ? "this service's own" : "service \(quoted(owner.app))'s"
                d.add(
                    draft.mark, draft.path,
                    "container port \(port) is reached by name (\(draft.name):\(port)) on the service's own address, but external port \(port) is \(who) (line \(owner.origin.externalMark.line)), published on every address of the node that runs it: Docker cannot publish both on one node; change the external port"
                )
            }
        }
        guard checkLinkRemotePorts, !drafts.contains(where: \.portsIncomplete) else { return }
        for draft in drafts {
            for origin in draft.links {
                guard let mark = origin.remotePortMark, let path = origin.remotePortPath,
                    owners[origin.link.remotePort] == nil
                else { continue }
                let published = owners.keys.sorted().map { "\($0) (\(display(owners[$0]?.app ?? "")))" }
                let list =
                    published.isEmpty
                    ? "no application publishes any port"
                    : "published: " + published.prefix(20).joined(separator: ", ") + (published.count > 20 ? ", …" : "")
                d.add(
                    mark, path,
                    "no application publishes external port \(origin.link.remotePort): a link's remote_port must be another application's external port (\(list))"
                )
            }
        }
    }

    /// Replicas copy volumes: every application that asks for at least one replica has a volume. Applications
    /// without a decoded entry, or whose volumes had errors, are not checked (their errors are reported already).
    static func checkReplicas(_ replicas: [ReplicaOrigin], _ drafts: [ApplicationDraft], _ d: inout Diagnostics) {
        var byName: [String: ApplicationDraft] = [:]
        for draft in drafts where byName[draft.name] == nil { byName[draft.name] = draft }
        for origin in replicas where origin.request.count > 0 {
            guard let draft = byName[origin.application], draft.volumes.isEmpty, !draft.volumesIncomplete else {
                continue
            }
            d.add(
                origin.mark, origin.path,
                "application \(quoted(origin.application)) has no volumes: a replica is a read-only copy of an application's volumes on another node; give it a volume in the application file, or remove it from `replicas:`"
            )
        }
    }
}
