/// Why the planner refuses to plan: acting could lose data or break an invariant, or a node cannot host
/// what it is asked to. Every problem of a run is reported at once; nothing has changed on any node.
public struct PlanRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var node: String
        public var app: String
        public var message: String
        /// True when acting could lose data or leave two writers (exit code 5), false when a node is simply
        /// not able to do it (exit code 1).
        public var unsafe: Bool
        public var description: String { "\(node): \(app.isEmpty ? "" : "\(app): ")\(message)" }
    }
    public var problems: [Problem]
    public var unsafe: Bool { problems.contains(where: \.unsafe) }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Computes the plan that makes the observed cluster look like the desired one. A pure function of its
/// inputs: no network, no clock, no randomness; tested with plain values.
///
/// What it guarantees (see docs/architecture.md):
/// - a converged cluster yields an empty plan;
/// - an application restarts only when its configuration hash changed or its container is not running;
/// - a move pre-copies while the application runs, stops it, copies the rest, hands the volume off (the
///   target becomes primary with epoch + 1, the source a read-only copy), starts it on the target, and only
///   then switches routes;
/// - applications placed on no node are stopped and removed; their volumes stay;
/// - it refuses (nothing changes) when acting could lose data: two primaries of the same epoch, a volume with
///   only copies in sight, a target copy that holds data its source lacks.
public enum Planner {
    public static func plan(desired: DesiredState, observed: ObservedState) throws(PlanRefusal) -> Plan {
        var b = Builder(desired: desired, observed: observed)
        b.planVolumes()
        b.planContainers()
        b.planRoutes()
        if !b.problems.isEmpty { throw PlanRefusal(problems: b.problems) }
        return b.finish()
    }

    /// The running placement after the plan: application → node.
    static func placement(_ desired: DesiredState) -> [String: String] { desired.placement }

    private struct Builder {
        let desired: DesiredState
        let observed: ObservedState
        var steps: [PhaseName: [Step]] = [:]
        var problems: [PlanRefusal.Problem] = []
        /// Applications whose volumes move in this plan: app → (source node of each volume).
        var moving: [String: Set<String>] = [:]
        /// Volumes touched by a copy, for pruning.
        var copied: [VolumeID: (source: String, target: String)] = [:]
        /// Per moving application: its handoff.
        var handoffs: [String: (source: String, target: String, volumes: [VolumeHandoff])] = [:]

        init(desired: DesiredState, observed: ObservedState) {
            self.desired = desired
            self.observed = observed
        }

        mutating func add(_ phase: PhaseName, _ step: Step) { steps[phase, default: []].append(step) }

        mutating func refuse(_ node: String, _ app: String, _ message: String, unsafe: Bool) {
            problems.append(.init(node: node, app: app, message: message, unsafe: unsafe))
        }

        // MARK: volumes

        mutating func planVolumes() {
            for app in desired.placement.keys.sorted() {
                guard let target = desired.placement[app], let application = desired.applications[app] else { continue }
                guard !application.volumes.isEmpty else { continue }
                if let facts = observed.nodes[target]?.facts, facts.poolVersion == nil {
                    refuse(target, app, "pool 'flocker' is missing on this node, so volumes cannot live here (create it: zpool create flocker DEVICE)", unsafe: false)
                    continue
                }
                for spec in application.volumes {
                    planVolume(VolumeID(app: app, volume: spec.name), spec: spec, target: target)
                }
            }
        }

        mutating func planVolume(_ volume: VolumeID, spec: VolumeSpec, target: String) {
            let all = observed.datasets(of: volume)
            if all.isEmpty {
                add(.prepare, Step(node: target, .createVolume(volume, quota: spec.maximumSize)))
                return
            }
            let primaries = all.filter { $0.dataset.role == .primary }
            guard let topEpoch = primaries.map(\.dataset.epoch).max() else {
                let holders = all.map(\.node).joined(separator: ", ")
                refuse(target, volume.app,
                    "volume \(volume.volume) has only read-only copies (on \(holders)) and no primary on any node of the deployment file; its primary may be on a node missing from the file: add that node, then run again",
                    unsafe: true)
                return
            }
            let winners = primaries.filter { $0.dataset.epoch == topEpoch }
            if winners.count > 1 {
                refuse(target, volume.app,
                    "volume \(volume.volume) has two primaries with the same epoch \(topEpoch) (on \(winners.map(\.node).joined(separator: " and "))): they may hold different data; keep the right one and make the other a copy (zfs set flocker:role=copy readonly=on \(volume.dataset)), then run again",
                    unsafe: true)
                return
            }
            let (source, primary) = winners[0]
            // Primaries that lost to a higher epoch: leftovers of an interrupted handoff. Make them copies,
            // unless their application runs there (then something outside flocker-deploy wrote to it).
            for stale in primaries where stale.dataset.epoch < topEpoch {
                if observed.nodes[stale.node]?.containers[volume.app]?.running == true {
                    refuse(stale.node, volume.app,
                        "volume \(volume.volume) here is an outdated primary (epoch \(stale.dataset.epoch) < \(topEpoch) on \(source)) but the application runs on it; stop it by hand and check which copy holds the data you want",
                        unsafe: true)
                } else {
                    add(.prepare, Step(node: stale.node, .demoteStale(volume)))
                }
            }

            if source == target {
                if primary.readonly { add(.prepare, Step(node: target, .makeWritable(volume))) }
                if primary.quota != spec.maximumSize {
                    add(.prepare, Step(node: target, .setQuota(volume, quota: spec.maximumSize)))
                }
                return
            }

            // A move: the target's existing copy, if any, must be an ancestor of the source.
            if let existing = all.first(where: { $0.node == target })?.dataset {
                if let problem = divergence(of: existing, from: primary) {
                    refuse(target, volume.app,
                        "the copy of volume \(volume.volume) here \(problem); receiving over it could lose that data. Inspect it (zfs list -t snapshot -r \(volume.dataset)); if it holds nothing you need, destroy it (zfs destroy -r \(volume.dataset)) and run again",
                        unsafe: true)
                    return
                }
            }
            if observed.nodes[target]?.containers[volume.app]?.running == true {
                refuse(target, volume.app,
                    "the application runs here but volume \(volume.volume)'s primary is on \(source); stop the container here by hand (docker rm -f flocker--\(volume.app)) and run again",
                    unsafe: true)
                return
            }
            if let other = handoffs[volume.app], other.source != source {
                refuse(target, volume.app,
                    "its volumes' primaries are on different nodes (\(other.source) and \(source)); move them to one node by hand first",
                    unsafe: true)
                return
            }
            let runsOnSource = observed.nodes[source]?.containers[volume.app]?.running == true
            if runsOnSource { add(.preCopy, Step(node: source, .copyVolume(volume, to: target, final: false))) }
            add(.finalCopy, Step(node: source, .copyVolume(volume, to: target, final: true)))
            handoffs[volume.app, default: (source, target, [])].volumes.append(VolumeHandoff(volume: volume.volume, epoch: topEpoch + 1))
            if spec.maximumSize != nil || existingQuota(volume, on: target) != nil {
                add(.start, Step(node: target, .setQuota(volume, quota: spec.maximumSize)))
            }
            moving[volume.app, default: []].insert(source)
            copied[volume] = (source, target)
        }

        func existingQuota(_ volume: VolumeID, on node: String) -> UInt64? {
            observed.nodes[node]?.datasets[volume]?.quota
        }

        /// Why `copy` cannot receive from `primary`, or nil when it can: it is read-only (so nothing was
        /// written to it since its newest snapshot) and that snapshot is one the primary has. Epochs are not
        /// compared: a handoff interrupted after raising the target's epoch leaves a copy with a higher epoch
        /// that is still a plain ancestor of the primary.
        func divergence(of copy: DatasetState, from primary: DatasetState) -> String? {
            if !copy.readonly {
                return "is writable (\(copy.role.rawValue), epoch \(copy.epoch)) and may hold writes the primary lacks"
            }
            guard let newest = copy.newestSnapshot else {
                return "has no snapshot in common with the primary"
            }
            if !primary.snapshots.contains(where: { $0.guid == newest.guid }) {
                return "has snapshot \(newest.name) that the primary lacks (the two have diverged)"
            }
            // A snapshot someone took on the copy after its last receive: `zfs recv` cannot go past it.
            if let other = copy.otherSnapshots.last, other.createtxg > newest.createtxg {
                return "has snapshot \(other.name), taken after its last copy from the primary (the two have diverged)"
            }
            return nil
        }

        // MARK: containers

        mutating func planContainers() {
            var apps = Set(desired.placement.keys)
            for node in observed.nodes.values { apps.formUnion(node.containers.keys) }
            let startOrder = linkOrder()
            for app in apps.sorted(by: { (startOrder[$0] ?? Int.max, $0) < (startOrder[$1] ?? Int.max, $1) }) {
                planContainer(app)
            }
        }

        mutating func planContainer(_ app: String) {
            let target = desired.placement[app]
            let application = desired.applications[app]
            let hash = application?.configHash
            let moves = moving[app] != nil
            var startOnTarget = false

            for (node, container) in observed.containers(of: app) where node != target {
                if target == nil {
                    // Placed on no node: stop and remove; volumes stay.
                    add(.stop, Step(node: node, .stopApp(app, keep: false)))
                } else if container.running {
                    // Moving away: keep the stopped container as the fallback until the target is ready.
                    add(.stop, Step(node: node, .stopApp(app, keep: true)))
                    add(.cleanup, Step(node: node, .removeContainer(app)))
                } else {
                    add(.cleanup, Step(node: node, .removeContainer(app)))
                }
            }
            guard let target, let application, let hash else { return }
            if let problem = observed.nodes[target]?.facts.dockerAnswers != true ? "docker is not answering on this node" : nil {
                refuse(target, app, problem, unsafe: false)
                return
            }
            if let existing = observed.nodes[target]?.containers[app] {
                if existing.configHash != hash {
                    add(.stop, Step(node: target, .stopApp(app, keep: false)))
                    startOnTarget = true
                } else if !existing.running && existing.status != "restarting" {
                    add(.start, Step(node: target, .restartApp(app)))
                } else if moves {
                    // Its volume moves here while an old container runs here: refused in planVolume.
                }
            } else {
                startOnTarget = true
            }
            if startOnTarget {
                if let images = observed.nodes[target]?.images, !images.contains(ImageName.normalized(application.image)) {
                    add(.prepare, Step(node: target, .pullImage(image: application.image, app: app)))
                }
                if stageable(app, application, target: target) {
                    add(.stage, Step(node: target, .createApp(app)))
                    add(.start, Step(node: target, .startCreated(app)))
                } else {
                    add(.start, Step(node: target, .startApp(app)))
                }
            }
        }

        /// Whether the application's new container can be created ahead of its start: it moves here from a node
        /// where it runs now (so the stage saves downtime), there is no container of it here, and each of its
        /// volumes already has a dataset here or gets one in the pre-copy (a bind mount needs its source).
        func stageable(_ app: String, _ application: Application, target: String) -> Bool {
            let runsElsewhere = observed.containers(of: app).contains { $0.node != target && $0.container.running }
            guard runsElsewhere, observed.nodes[target]?.containers[app] == nil else { return false }
            let preCopied = Set(steps[.preCopy, default: []].compactMap { step -> VolumeID? in
                if case .copyVolume(let v, let t, false) = step.action, t == target { return v }
                return nil
            })
            return application.volumes.allSatisfy { spec in
                let id = VolumeID(app: app, volume: spec.name)
                return preCopied.contains(id) || observed.nodes[target]?.datasets[id] != nil
            }
        }

        /// Link targets start before the applications that link to them (a nicety: links go through the
        /// routing mesh, so nothing breaks either way). Applications are ranked by link depth.
        func linkOrder() -> [String: Int] {
            var ownerOfPort: [Int: String] = [:]
            for (name, app) in desired.applications { for p in app.ports { ownerOfPort[p.externalPort] = name } }
            var depth: [String: Int] = [:]
            func rank(_ name: String, _ seen: Set<String>) -> Int {
                if let d = depth[name] { return d }
                guard let app = desired.applications[name], !seen.contains(name) else { return 0 }
                let targets = app.links.compactMap { ownerOfPort[$0.remotePort] }.filter { $0 != name }
                let d = targets.map { rank($0, seen.union([name])) + 1 }.max() ?? 0
                depth[name] = d
                return d
            }
            for name in desired.applications.keys { _ = rank(name, []) }
            return depth
        }

        // MARK: routes

        mutating func planRoutes() {
            var addresses: [String: String] = [:]
            for (name, node) in observed.nodes { addresses[name] = node.address }
            for node in desired.nodes {
                guard let state = observed.nodes[node] else { continue }
                let want = RoutingMesh.desiredRules(
                    on: node, running: desired.placement, applications: desired.applications, addresses: addresses)
                let wantTags = Set(want.map(\.tag))
                var seen = Set<RouteTag>()
                var remove: [RouteRule] = []
                for rule in state.routes {
                    if wantTags.contains(rule.tag) && rule.table == rule.tag.table && rule.chain == rule.tag.chain
                        && !seen.contains(rule.tag)
                    {
                        seen.insert(rule.tag)
                    } else {
                        remove.append(rule)
                    }
                }
                let add = want.filter { !seen.contains($0.tag) }
                if !add.isEmpty || !remove.isEmpty {
                    self.add(.routes, Step(node: node, .setRoutes(add: add, remove: remove)))
                }
            }
        }

        // MARK: finish

        mutating func finish() -> Plan {
            for (app, h) in handoffs.sorted(by: { $0.key < $1.key }) {
                add(.handoff, Step(node: h.source, .handoff(app, to: h.target, volumes: h.volumes)))
            }
            // Prune snapshots of moved volumes on both ends, keeping the newest (the executor always keeps the
            // newest) and the newest snapshot of every other copy (their next base), on the source too: it may be
            // the primary again one day, and then the other copies receive from it.
            for (volume, ends) in copied.sorted(by: { $0.key < $1.key }) {
                let others = observed.datasets(of: volume).filter { $0.node != ends.source && $0.node != ends.target }
                let keep = others.compactMap { $0.dataset.newestSnapshot?.name }
                add(.cleanup, Step(node: ends.target, .pruneSnapshots(volume, keep: keep)))
                add(.cleanup, Step(node: ends.source, .pruneSnapshots(volume, keep: keep)))
            }
            return Plan(phases: PhaseName.allCases.map { Phase($0, steps[$0] ?? []) })
        }
    }
}

/// Image name normalisation, to compare what the manifest says with what `docker images` lists.
public enum ImageName {
    /// `redis` → `redis:latest`; `docker.io/library/redis:7` → `redis:7`; digests are kept as written.
    public static func normalized(_ image: String) -> String {
        var name = image
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"] where name.hasPrefix(prefix) {
            name = String(name.dropFirst(prefix.count))
            break
        }
        if name.contains("@") { return name }
        let lastSlash = name.lastIndex(of: "/") ?? name.startIndex
        if !name[lastSlash...].contains(":") { name += ":latest" }
        return name
    }
}
