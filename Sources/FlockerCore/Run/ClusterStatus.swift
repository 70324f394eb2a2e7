import Foundation

/// What `flocker-deploy status` shows: per node its facts, lock and last run; every application's container;
/// every volume's copies with role, epoch, size and newest snapshot (including volumes whose application was
/// removed: they are kept, and reattached when it comes back).
public struct ClusterStatus: Sendable {
    public struct Node: Sendable {
        public var name: String
        public var state: NodeState?
        public var error: String?
        public var lock: LockState?
        public var lastRun: AuditRecord?
    }
    public var nodes: [Node]
    /// With an application file: the plan a deploy would carry out now (nil without one, or when refused).
    public var pending: Plan?
    public var refusal: PlanRefusal?
    public var desired: DesiredState?
    public var now: Int
    /// With an application file and nodes that do not answer: what a failover would do (see `Outage`).
    public var outage = Outage()
    /// With nodes that do not answer: the plan `--failover` would carry out (nil when refused or not asked).
    public var failoverPlan: Plan?
    /// The deploy command for these files, for the advice printed (`flocker-deploy DEPLOYMENT APPLICATION`).
    public var deployCommand = "flocker-deploy DEPLOYMENT APPLICATION"

    /// Gathers the status of `nodes` (unreachable nodes are reported, not fatal).
    public static func gather(nodes: [String], desired: DesiredState?, connector: any NodeConnector) async -> ClusterStatus {
        var discovery = Discovery(connector: connector)
        discovery.withVersions = true
        let outcomes = await discovery.discoverEach(nodes)
        var result: [Node] = []
        var observed: [String: NodeState] = [:]
        var unreachable: [String: String] = [:]
        var unresolved = Set<String>()
        for name in nodes {
            switch outcomes[name] {
            case .success(let (host, state))?:
                var node = Node(name: name, state: state)
                if let r = try? await host.run(RunLock.readCommand, stdin: [], timeout: .seconds(15)), r.status.isSuccess {
                    let parsed = RunLock.parse(r.stdoutText)
                    node.lock = parsed.status == "held" ? LockState(holder: parsed.holder, idleSeconds: parsed.idle) : nil
                }
                let tail = RemoteCommand.script("tail -n 1 \"$1\" 2>/dev/null; exit 0", name: "flocker-audit-tail", [AuditRecord.file])
                if let r = try? await host.run(tail, stdin: [], timeout: .seconds(15)) {
                    node.lastRun = r.stdoutText.split(separator: "\n").last.flatMap(AuditRecord.decode)
                }
                observed[name] = state
                result.append(node)
                await host.close()
            case .failure(let error)?:
                result.append(Node(name: name, error: error.message))
                unreachable[name] = error.message
                if error.kind == .nameNotResolved { unresolved.insert(name) }
            case nil:
                result.append(Node(name: name, error: "not discovered"))
                unreachable[name] = "not discovered"
            }
        }
        var status = ClusterStatus(nodes: result, desired: desired, now: Timestamp.now)
        let seen = ObservedState(nodes: observed, unreachable: unreachable, unresolved: unresolved)
        if let desired {
            do throws(PlanRefusal) {
                if unreachable.isEmpty {
                    status.pending = try Planner.plan(desired: desired, observed: seen)
                } else {
                    // A deploy stops at the first look; what matters now is what a failover would do.
                    status.outage = Outage.assess(desired: desired, observed: seen)
                    status.failoverPlan = try Planner.plan(desired: desired, observed: seen, failover: true)
                }
            } catch {
                status.refusal = error
            }
        }
        return status
    }

    /// The exit code `status` ends with (docs/operations.md, "Exit codes"): 3 when a node does not answer, 5
    /// when a deploy would refuse because acting could lose data, 1 when it would refuse otherwise, else 0.
    public var exitCode: FlockerExit {
        if nodes.contains(where: { $0.state == nil }) { return .nodeUnreachable }
        if let refusal { return refusal.unsafe ? .refusedUnsafe : .stepFailed }
        return .success
    }

    /// Where the newest reachable copy of `app`'s first volume says its primary was, with that copy.
    /// The copy whose record a failover reads (`Outage.lastRecord`); without a record, the newest copy.
    func lastSeen(_ app: String) -> (copyNode: String, copy: DatasetState)? {
        guard let application = desired?.applications[app], !application.volumes.isEmpty else { return nil }
        let ids = application.volumes.map { VolumeID(app: app, volume: $0.name) }
        let seen = ObservedState(nodes: Dictionary(reachable, uniquingKeysWith: { a, _ in a }))
        let copies = seen.datasets(of: ids[0]).filter { $0.dataset.role == .copy }
        let node = Outage.lastRecord(ids, seen)?.node
            ?? copies.max { ($0.dataset.newestSnapshot?.creation ?? 0) < ($1.dataset.newestSnapshot?.creation ?? 0) }?.node
        return copies.first { $0.node == node }.map { ($0.node, $0.dataset) }
    }

    /// The line for an application the file places on a node that does not answer and that runs nowhere seen.
    func outageLine(_ app: String, placed: String) -> String {
        var line = "  \(app)  not seen running: placed on \(placed), which does not answer"
        if let (node, copy) = lastSeen(app) {
            let when = copy.newestSnapshot.map { "\(Timestamp.iso($0.currentAsOf)), \(age(now - $0.currentAsOf)) ago" } ?? "no snapshot"
            line += "\n    primary last seen on \(copy.primaryNode ?? placed) (epoch \(copy.epoch), as of \(when), per the copy on \(node))"
        }
        if let f = outage.failovers.first(where: { $0.app == app }) {
            let old = f.created.map { ", \(age(max(0, now - $0))) old" } ?? ""
            line += "\n    newest replica: on \(f.node) (\(f.snapshot ?? "no snapshot")\(old))"
            line += "\n    to fail over (start it on \(f.node) at epoch \(f.epoch), the file unchanged): \(deployCommand) --failover"
        } else if let s = outage.stuck.first(where: { $0.app == app }) {
            line += "\n    cannot be failed over: \(s.reason)"
        }
        return line + "\n"
    }

    var reachable: [(String, NodeState)] { nodes.compactMap { n in n.state.map { (n.name, $0) } } }

    /// Every volume seen, with its copies (primary first, then by node).
    var volumes: [(VolumeID, [(String, DatasetState)])] {
        var all: [VolumeID: [(String, DatasetState)]] = [:]
        for (name, state) in reachable { for (id, ds) in state.datasets { all[id, default: []].append((name, ds)) } }
        return all.keys.sorted().map { id in
            (id, (all[id] ?? []).sorted { a, b in
                (a.1.role == .primary ? 0 : 1, -a.1.epoch, a.0) < (b.1.role == .primary ? 0 : 1, -b.1.epoch, b.0)
            })
        }
    }

    /// How a read-only copy stands against its volume's primary (shown for every copy; a replica is a copy that
    /// `replicas:` keeps). `lag`: seconds since its newest received snapshot was taken on the primary.
    public struct ReplicaState: Sendable, Hashable {
        public var state: String
        public var lagSeconds: Int?
        public var detail: String?
    }

    /// Every copy's state: `up to date` (it has the primary's newest snapshot), `lagging` (an older one),
    /// `diverged` (it cannot receive from the primary: see docs/operations.md), keyed by volume and node.
    /// Replicas the deployment file wants on a node that could not be reached are `unreachable`.
    public var replicaStates: [VolumeID: [String: ReplicaState]] {
        var out: [VolumeID: [String: ReplicaState]] = [:]
        for (id, copies) in volumes {
            guard let primary = copies.first(where: { $0.1.role == .primary })?.1 else { continue }
            for (node, ds) in copies where ds.role == .copy {
                let lag = ds.newestSnapshot.map { max(0, now - $0.currentAsOf) }
                if let problem = Planner.divergence(of: ds, from: primary) {
                    out[id, default: [:]][node] = ReplicaState(state: "diverged", lagSeconds: lag, detail: problem)
                } else if ds.newestSnapshot?.guid == primary.newestSnapshot?.guid {
                    out[id, default: [:]][node] = ReplicaState(state: "up to date", lagSeconds: lag)
                } else {
                    out[id, default: [:]][node] = ReplicaState(state: "lagging", lagSeconds: lag)
                }
            }
            if let desired, case .nodes(let listed)? = desired.replicas[id.app] {
                for node in listed where nodes.first(where: { $0.name == node })?.state == nil {
                    out[id, default: [:]][node] = ReplicaState(state: "unreachable", lagSeconds: nil)
                }
            }
        }
        return out
    }

    /// Copies whose lag is over `seconds` (or that are unreachable or diverged), as `node: volume (state, lag)`,
    /// for `status --max-lag`. The lag is the age of the newest received snapshot, as zrepl and sanoid count it,
    /// or the time since the last sync pass that found the primary unchanged since that snapshot (`flocker:checked`):
    /// an idle volume kept in sync does not read as lagging.
    public func replicasBehind(_ seconds: Int) -> [String] {
        replicaStates.sorted { $0.key < $1.key }.flatMap { id, states in
            states.sorted { $0.key < $1.key }.compactMap { node, r -> String? in
                let late = (r.lagSeconds ?? Int.max) > seconds
                guard late || r.state == "diverged" || r.state == "unreachable" else { return nil }
                return "\(node): replica of \(id) is \(r.state)\(r.lagSeconds.map { ", \(age($0)) behind" } ?? "")"
            }
        }
    }

    /// With an application file: volumes whose primary holds data no application will use, with why: the
    /// application runs without a volume of that name (renamed or dropped in the application file), or it is
    /// placed on no node or gone from the file (removed on purpose). Without an application file: volumes of
    /// applications that have no container on any node.
    public var unusedVolumes: [VolumeID: String] {
        var out: [VolumeID: String] = [:]
        for (id, copies) in volumes {
            guard copies.contains(where: { $0.1.role == .primary }) else { continue }
            if let desired, let app = desired.applications[id.app], desired.placement[id.app] != nil {
                if !app.volumes.contains(where: { $0.name == id.volume }) {
                    out[id] = "\(id.app) has no volume \"\(id.volume)\" in the application file"
                }
            } else if desired != nil {
                out[id] = desired?.applications[id.app] == nil ? "\(id.app) is not in the application file" : "\(id.app) is placed on no node"
            } else if !reachable.contains(where: { $0.1.containers[id.app] != nil }) {
                out[id] = "\(id.app) has no container on any node"
            }
        }
        return out
    }

    /// The status for people.
    public func text() -> String {
        var out = "Nodes\n"
        let w = max(4, nodes.map(\.name.count).max() ?? 4)
        for n in nodes {
            let name = n.name.padding(toLength: w, withPad: " ", startingAt: 0)
            guard let s = n.state else {
                out += "  \(name)  unreachable: \(n.error ?? "")\n"
                continue
            }
            var line = "  \(name)  \(s.address.padding(toLength: 15, withPad: " ", startingAt: 0))"
            line += " docker " + (s.facts.dockerAnswers ? s.facts.dockerVersion ?? "(version unknown)" : "not answering")
            line += ", pool " + (s.facts.poolVersion.map { "v\($0), \(s.facts.poolAvailable.map(Bytes.human) ?? "?") free" } ?? "missing")
            line += n.lock.map { ", LOCKED by \($0.holder?.description ?? "unknown") (active \($0.idleSeconds)s ago)" } ?? ", not locked"
            out += line + "\n"
            if let run = n.lastRun { out += "  \(String(repeating: " ", count: w))  last run: \(run.summary)\n" }
            for p in s.facts.problems { out += "  \(String(repeating: " ", count: w))  problem: \(p)\n" }
        }

        out += "\nApplications\n"
        var apps: [(String, String, ContainerState)] = []
        for (name, state) in reachable { for (app, c) in state.containers { apps.append((app, name, c)) } }
        apps.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        let placed = Set(apps.map(\.0))
        for (app, node, c) in apps {
            var line = "  \(app)  on \(node): \(c.running ? "running" : c.status)"
            if !c.startedAt.isEmpty { line += " (\(c.startedAt))" }
            line += ", image \(c.image)"
            let v4 = c.ports.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix(":::") && !$0.hasPrefix("[::]") }
            if !v4.isEmpty { line += ", ports \(v4.joined(separator: ", "))" }
            if !c.mounts.isEmpty { line += ", mounts \(c.mounts)" }
            if let desired {
                if let want = desired.applications[app] {
                    let there = desired.placement[app]
                    if let e = outage.elsewhere.first(where: { $0.app == app && $0.node == node }) {
                        line += " (runs here since a failover, epoch \(e.epoch); the file places it on \(e.placed), which does not answer)"
                    } else if there == nil { line += " (not placed: a deploy stops it)" }
                    else if there != node { line += " (a deploy moves it to \(there ?? ""))" }
                    else if want.configHash != c.configHash { line += " (configuration changed: a deploy restarts it)" }
                    else if !c.running { line += " (configuration up to date, but not running: a deploy starts it)" }
                    else { line += " (up to date)" }
                } else {
                    line += " (not in the application file: a deploy stops it)"
                }
            }
            out += line + "\n"
        }
        if let desired {
            let down = Set(nodes.filter { $0.state == nil }.map(\.name))
            for app in desired.placement.keys.sorted() where !placed.contains(app) {
                let there = desired.placement[app] ?? ""
                out += down.contains(there) ? outageLine(app, placed: there) : "  \(app)  not running (placed on \(there): a deploy starts it)\n"
            }
        }
        if apps.isEmpty && desired == nil { out += "  none\n" }

        out += "\nVolumes\n"
        let vols = volumes
        if vols.isEmpty { out += "  none\n" }
        let replicas = replicaStates
        let unused = unusedVolumes
        for (id, copies) in vols {
            let orphan = !placed.contains(id.app) && desired?.placement[id.app] == nil
            let why = orphan ? " (its application is not running: kept, reattached when it comes back)" : (unused[id].map { " (unused: \($0); kept)" } ?? "")
            out += "  \(id)\(why)\n"
            for (node, ds) in copies {
                var line = "    \(node.padding(toLength: w, withPad: " ", startingAt: 0))  \(ds.role.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) epoch \(ds.epoch)"
                line += ", \(ds.readonly ? "read-only" : "writable"), \(Bytes.human(ds.referenced))"
                if let q = ds.quota { line += " (max \(Bytes.human(q)))" }
                if let snap = ds.newestSnapshot {
                    line += ", newest snapshot \(snap.name) (\(age(now - snap.creation)) ago)"
                } else {
                    line += ", no snapshot"
                }
                if let r = replicas[id]?[node] {
                    line += ", \(r.state)" + (r.detail.map { " (\($0))" } ?? "")
                    // Found current by a later sync with nothing new: the lag counts from then.
                    if let snap = ds.newestSnapshot, snap.currentAsOf > snap.creation, let lag = r.lagSeconds {
                        line += " (checked \(age(lag)) ago)"
                    }
                }
                out += line + "\n"
            }
            for (node, r) in (replicas[id] ?? [:]).sorted(by: { $0.key < $1.key }) where r.state == "unreachable" {
                out += "    \(node.padding(toLength: w, withPad: " ", startingAt: 0))  replica unreachable\n"
            }
        }

        if !unused.isEmpty {
            out += "\nUnused volumes (kept; flocker-deploy never destroys data)\n"
            for (id, why) in unused.sorted(by: { $0.key < $1.key }) {
                for (node, ds) in vols.first(where: { $0.0 == id })?.1 ?? [] where ds.role == .primary {
                    out += "  \(id) on \(node), \(Bytes.human(ds.referenced)): \(why)\n"
                    out += "    to use it again: name volume \"\(id.volume)\" in \(id.app)'s volumes in the application file, and deploy\n"
                    out += "    to remove it: ssh \(node) zfs destroy -r \(id.dataset)  (and its copies on other nodes; this cannot be undone)\n"
                }
            }
        }

        if let pending {
            out += pending.isEmpty ? "\nUp to date: a deploy would change nothing.\n"
                : "\nPending: a deploy would run \(pending.steps.count) step\(pending.steps.count == 1 ? "" : "s") (see them with --dry-run).\n"
        }
        let down = nodes.filter { $0.state == nil }.map(\.name)
        if !down.isEmpty && desired != nil {
            out += "\nA deploy stops: \(down.joined(separator: ", ")) cannot be reached."
            if let failoverPlan {
                out += failoverPlan.isEmpty ? " With --failover it would change nothing.\n"
                    : " With --failover it would run \(failoverPlan.steps.count) step\(failoverPlan.steps.count == 1 ? "" : "s") (see them with --failover --dry-run).\n"
            } else {
                out += "\n"
            }
        }
        if let refusal {
            out += "\n\(down.isEmpty ? "A deploy" : "A deploy with --failover") would refuse to act:\n" + refusal.problems.map { "  \($0.description)\n" }.joined()
        }
        return out
    }

    /// The status as one JSON object.
    public func json() -> String {
        var nodesJSON: [[String: Any]] = []
        for n in nodes {
            var o: [String: Any] = ["name": n.name, "reachable": n.state != nil]
            if let e = n.error { o["error"] = e }
            if let s = n.state {
                o["address"] = s.address
                o["docker"] = s.facts.dockerVersion ?? NSNull()
                o["docker_answers"] = s.facts.dockerAnswers
                o["pool_version"] = s.facts.poolVersion ?? NSNull()
                o["pool_available"] = s.facts.poolAvailable.map { $0 as Any } ?? NSNull()
                o["problems"] = s.facts.problems
                o["containers"] = s.containers.values.sorted { $0.app < $1.app }.map {
                    ["app": $0.app, "running": $0.running, "status": $0.status, "image": $0.image, "config_hash": $0.configHash,
                     "ports": $0.ports, "mounts": $0.mounts] as [String: Any]
                }
            }
            if let l = n.lock {
                o["lock"] = ["holder": l.holder.map { ["user": $0.user, "host": $0.host, "pid": $0.pid, "started": $0.started] as [String: Any] } ?? NSNull(),
                             "idle_seconds": l.idleSeconds] as [String: Any]
            }
            if let r = n.lastRun { o["last_run"] = ["time": r.time, "user": r.user, "host": r.host, "result": r.result, "steps": r.steps, "failed": r.failed] as [String: Any] }
            nodesJSON.append(o)
        }
        let replicas = replicaStates
        func replicaJSON(_ r: ReplicaState?) -> Any {
            guard let r else { return NSNull() }
            return ["state": r.state, "lag_seconds": r.lagSeconds.map { $0 as Any } ?? NSNull(), "bytes_behind": NSNull(),
                    "detail": r.detail.map { $0 as Any } ?? NSNull()] as [String: Any]
        }
        let unused = unusedVolumes
        let volumesJSON: [[String: Any]] = volumes.map { id, copies in
            ["app": id.app, "volume": id.volume, "unused": unused[id].map { $0 as Any } ?? NSNull(), "copies": copies.map { node, ds in
                ["node": node, "role": ds.role.rawValue, "epoch": ds.epoch, "readonly": ds.readonly, "bytes": ds.referenced,
                 "maximum_size": ds.quota.map { $0 as Any } ?? NSNull(),
                 "newest_snapshot": ds.newestSnapshot.map { ["name": $0.name, "created": $0.creation] as [String: Any] } ?? NSNull(),
                 "replica": replicaJSON(replicas[id]?[node])] as [String: Any]
            }, "unreachable_replicas": (replicas[id] ?? [:]).filter { $0.value.state == "unreachable" }.keys.sorted()]
        }
        var root: [String: Any] = ["schema": JSONSchema.version, "nodes": nodesJSON, "volumes": volumesJSON]
        if let pending { root["pending_steps"] = pending.steps.count }
        if let failoverPlan { root["failover_steps"] = failoverPlan.steps.count }
        if !outage.isEmpty {
            root["outage"] = [
                "failovers": outage.failovers.map { f in
                    ["app": f.app, "to": f.node, "last_seen": f.lastSeen, "epoch": f.epoch,
                     "snapshot": f.snapshot.map { $0 as Any } ?? NSNull(), "as_of": f.created.map { $0 as Any } ?? NSNull()] as [String: Any]
                },
                "failed_over": outage.elsewhere.map { ["app": $0.app, "runs_on": $0.node, "placed_on": $0.placed, "epoch": $0.epoch] as [String: Any] },
                "stuck": outage.stuck.map { ["app": $0.app, "placed_on": $0.placed, "reason": $0.reason] as [String: Any] },
            ] as [String: Any]
        }
        if let refusal { root["refusal"] = refusal.problems.map(\.description) }
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return (String(data: data, encoding: .utf8) ?? "{}") + "\n"
    }

    private func age(_ seconds: Int) -> String {
        if seconds < 120 { return "\(max(0, seconds))s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }
}
