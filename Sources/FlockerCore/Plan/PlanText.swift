/// Words for steps and plans, shared by `--dry-run`, the progress lines and the JSON output.
public enum StepText {
    /// A step in the user's words, e.g. `copy volume redis/data to node2 while redis runs`.
    public static func describe(_ step: Step) -> String {
        switch step.action {
        case .pullImage(let image, let app): return "pull \(image) (for \(app))"
        case .createVolume(let v, let quota, let seed):
            return "create volume \(v)" + (quota.map { " (max \(Bytes.human($0)))" } ?? "") + (seed.map { ", \($0.summary)" } ?? "")
        case .setQuota(let v, let quota): return "set volume \(v)'s maximum size to " + (quota.map(Bytes.human) ?? "none")
        case .makeWritable(let v): return "make volume \(v) writable again"
        case .demoteStale(let v): return "make the outdated primary of volume \(v) a read-only copy"
        case .promote(let v, let epoch): return "promote the replica of volume \(v) to primary (failover, epoch \(epoch))"
        case .rejoin(let v, let common, let keepAs, _):
            return "keep what the outdated primary of volume \(v) holds as \(keepAs)" + (common.map { ", then make it a replica again from \($0)" } ?? "")
        case .copyVolume(let v, let target, let final):
            return final ? "copy volume \(v) to \(target) (final increment)" : "copy volume \(v) to \(target) while \(v.app) runs"
        case .stopApp(let app, let keep): return keep ? "stop \(app) (kept as the fallback until it runs elsewhere)" : "stop and remove \(app)"
        case .handoff(let app, let target, let volumes):
            let names = volumes.map(\.volume).joined(separator: ", ")
            return "hand \(app)'s volume\(volumes.count == 1 ? "" : "s") \(names) over to \(target) (epoch \(volumes.map(\.epoch).max() ?? 0))"
        case .startApp(let app): return "start \(app)"
        case .createApp(let app): return "create \(app)'s container, not started yet"
        case .startCreated(let app): return "start \(app)"
        case .restartApp(let app): return "restart \(app) (container was not running)"
        case .removeContainer(let app): return "remove \(app)'s stopped container"
        case .setRoutes(let add, let remove): return "routes: " + routeSummary(add: add, remove: remove)
        case .pruneSnapshots(let v, _): return "prune old snapshots of volume \(v)"
        case .pruneWithRetention(let v, _, let r): return "prune old snapshots of volume \(v) (keeping \(r.description))"
        case .replicate(let v, let target): return "replicate volume \(v) to \(target)"
        case .removeReplica(let v, _): return "remove the replica of volume \(v) (no longer wanted)"
        case .holdConnections(let app, let ports) where ports.isEmpty:
            return "hold new connections to \(app) (by name) until it runs elsewhere"
        case .holdConnections(let app, let ports):
            return "hold new connections to \(app) (port\(ports.count == 1 ? "" : "s") \(ports.map(String.init).joined(separator: ", "))) until it runs elsewhere"
        case .releaseHold(let app): return "release the hold on \(app)'s new connections"
        case .uploadFiles(let app, let n): return "upload \(app)'s \(n == 1 ? "file" : "\(n) files") (mounted read-only)"
        case .removeFiles(let app, let keep): return keep.isEmpty ? "remove \(app)'s uploaded files" : "remove \(app)'s uploaded files no container uses"
        case .takeSnapshot(let app, let volumes, let name, let stop):
            return "snapshot \(app)'s volume\(volumes.count == 1 ? "" : "s") \(volumes.joined(separator: ", ")) as \(SnapshotNames.display(name))"
                + (stop ? " (stopping \(app) around it)" : "")
        case .destroySnapshot(let v, let name): return "destroy snapshot \(SnapshotNames.display(name)) of volume \(v)"
        case .createClone(let c):
            return "create clone \(c.name) of \(c.app) from snapshot \(SnapshotNames.display(c.snapshot))"
                + (c.ports.isEmpty ? "" : " (ports " + c.ports.map { "\($0.published)→\($0.container)" }.joined(separator: ", ") + ")")
        case .destroyClone(let c): return "destroy clone \(c.name) (container and datasets)"
        case .resetClone(let c):
            return "reset clone \(c.name) to snapshot \(SnapshotNames.display(c.snapshot)) (fresh data"
                + (c.ports.isEmpty ? "" : "; ports " + c.ports.map { "\($0.published)→\($0.container)" }.joined(separator: ", ") + " kept") + ")"
        case .rollback(let v, _, let snapshot, let keepAs, let pre):
            return "bring volume \(v) back to \(SnapshotNames.display(snapshot)) (the current state kept as snapshot \(SnapshotNames.display(pre)) of flocker/\(keepAs))"
        }
    }

    /// A step in the user's words; with `full`, a route step lists every port it forwards and removes, however
    /// many (`-v`), where otherwise a long list is counted.
    public static func describe(_ step: Step, full: Bool) -> String {
        guard full, case .setRoutes(let add, let remove) = step.action else { return describe(step) }
        return "routes: " + routeSummary(add: add, remove: remove, full: true)
    }

    /// An application's route steps on more nodes than this print as one line (`-v`: one per node).
    static let routeGroupAbove = 3

    /// More forwards and removals than this in one route line are counted, not listed (`-v` lists them).
    static let routeListLimit = 4

    /// `6379 → 10.77.0.12 (redis); remove 6379 → 10.77.0.11 (redis)`, and for services by name `name db →
    /// 10.77.0.13` (its address routed there) or `name db here` (its address on this node); beyond `routeListLimit` ports, unless
    /// `full`, counts: `45 forwarded, 45 removed`.
    static func routeSummary(add: [RouteSpec], remove: [RouteRule], full: Bool = false) -> String {
        func pairs(_ tags: [RouteTag]) -> [String] {
            var seen = Set<String>()
            return tags.compactMap { t in
                let who = t.app.isEmpty ? t.service.address : t.app
                let s: String
                switch t.kind {
                case .inbound: s = "\(t.portText) → \(t.destination) (\(t.app))"
                case .serviceRoute: s = "name \(who) → \(t.service.via ?? "")"
                case .serviceAddress: s = "name \(who) here"
                default: return nil
                }
                return seen.insert(s).inserted ? s : nil
            }
        }
        var parts: [String] = []
        let added = pairs(add.map(\.tag).filter { !$0.isService })
        let removed = pairs(remove.map(\.tag).filter { !$0.isService })
        let named = pairs(add.map(\.tag).filter(\.isService))
        let unnamed = pairs(remove.map(\.tag).filter(\.isService))
        if !full && added.count + removed.count + named.count + unnamed.count > routeListLimit {
            return [added.isEmpty ? nil : "\(added.count) forwarded", removed.isEmpty ? nil : "\(removed.count) removed",
                    named.isEmpty ? nil : "\(named.count) name\(named.count == 1 ? "" : "s") routed",
                    unnamed.isEmpty ? nil : "\(unnamed.count) name route\(unnamed.count == 1 ? "" : "s") removed"]
                .compactMap { $0 }.joined(separator: ", ")
        }
        if !added.isEmpty { parts.append("forward " + added.joined(separator: ", ")) }
        if !removed.isEmpty { parts.append("remove " + removed.joined(separator: ", ")) }
        parts += named
        if !unnamed.isEmpty { parts.append("drop " + unnamed.joined(separator: ", ")) }
        if parts.isEmpty, add.allSatisfy({ $0.tag == .established }), remove.allSatisfy({ $0.tag == .established }) {
            // The node-wide rule that lets the replies of forwarded connections back through.
            if !add.isEmpty { parts.append("let replies of forwarded connections through") }
            if !remove.isEmpty { parts.append("remove the rule for replies (nothing is forwarded from here any more)") }
        }
        if parts.isEmpty { parts.append("\(add.count) rule\(add.count == 1 ? "" : "s") to add, \(remove.count) to remove") }
        return parts.joined(separator: "; ")
    }

    /// The route steps of one application on several nodes, as one line: the nodes (`node1,node2` or `16
    /// nodes`) and what changes (every node's rules for the application point the same way).
    static func routeGroup(_ steps: [Step], full: Bool) -> (nodes: String, what: String) {
        var add: [RouteSpec] = []
        var remove: [RouteRule] = []
        for step in steps {
            if case .setRoutes(let a, let r) = step.action {
                add += a
                remove += r
            }
        }
        let names = steps.map(\.node)
        return (names.count > 3 ? "\(names.count) nodes" : names.joined(separator: ","),
                "routes: " + routeSummary(add: add, remove: remove, full: full))
    }

    /// The plan as printed before a run and by `--dry-run`. Route steps of one application are one line for all
    /// its nodes (each node's step unless `full`, `-v`).
    public static func render(_ plan: Plan, full: Bool = false) -> String {
        let notes = plan.notes.map { "  note: \($0)\n" }.joined()
        if plan.isEmpty { return "No changes: the cluster already matches the manifests.\n" + notes }
        let steps = plan.steps.count
        let nodes = plan.nodes.count
        var out = "Plan: \(steps) step\(steps == 1 ? "" : "s") on \(nodes) node\(nodes == 1 ? "" : "s")\n"
        let width = max(4, plan.steps.map(\.node.count).max() ?? 4)
        for phase in plan.phases {
            out += "  \(phase.name.rawValue)\n"
            var grouped: [String: [Step]] = [:]
            if phase.name == .routes && !full {
                for step in phase.steps where !step.pipelineApp.isEmpty { grouped[step.pipelineApp, default: []].append(step) }
                grouped = grouped.filter { $0.value.count > routeGroupAbove }
            }
            var printed = Set<String>()
            for step in phase.steps {
                if let group = grouped[step.pipelineApp] {
                    guard printed.insert(step.pipelineApp).inserted else { continue }
                    let line = routeGroup(group, full: false)
                    out += "    \(line.nodes.padding(toLength: width, withPad: " ", startingAt: 0))  \(line.what)\n"
                    continue
                }
                out += "    \(step.node.padding(toLength: width, withPad: " ", startingAt: 0))  \(describe(step, full: full))\n"
            }
        }
        out += notes
        return out
    }
}

extension String {
    func padding(toLength length: Int, withPad pad: String, startingAt: Int) -> String {
        count >= length ? self : self + String(repeating: pad, count: length - count)
    }
}
