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
        public var description: String { (node.isEmpty ? "" : "\(node): ") + (app.isEmpty ? "" : "\(app): ") + message }
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
    public static func plan(desired: DesiredState, observed: ObservedState, failover: Bool = false) throws(PlanRefusal) -> Plan {
        var observed = observed
        var desired = desired
        var promotions: [Step] = []
        var notes: [String] = []
        let outage = Outage.assess(desired: desired, observed: observed)
        if failover {
            // The file stays as it is: applications placed on a node that does not answer run on their newest
            // replica (promoted here), or where an earlier failover put them.
            desired.placement = outage.placement(desired, failingOver: true)
            for candidate in outage.failovers {
                for v in candidate.volumes {
                    observed.nodes[candidate.node]?.datasets[v]?.role = .primary
                    observed.nodes[candidate.node]?.datasets[v]?.epoch = candidate.epoch
                    observed.nodes[candidate.node]?.datasets[v]?.readonly = false
                    promotions.append(Step(node: candidate.node, .promote(v, epoch: candidate.epoch)))
                }
                notes.append("failover: \(candidate.app)'s newest replica, on \(candidate.node), becomes its primary (epoch \(candidate.epoch)); what \(candidate.lastSeen) wrote after \(candidate.snapshot ?? "its last sync")"
                    + (candidate.created.map { " (\(Timestamp.iso($0)))" } ?? "") + " is not in it, nor what \(candidate.app) had not written to its files by then (docs/operations.md, \"What a replica holds\"); the old primary is set aside, not destroyed, when \(candidate.lastSeen) answers again")
            }
            for e in outage.elsewhere {
                notes.append("\(e.app) stays on \(e.node), where it runs since a failover (epoch \(e.epoch)): the file places it on \(e.placed), which cannot be reached")
            }
            for s in outage.stuck {
                notes.append("\(s.app) is not started: placed on \(s.placed), which cannot be reached, and it cannot be failed over: \(s.reason)")
            }
        }
        var b = Builder(desired: desired, observed: observed)
        b.notes = notes
        for step in promotions { b.add(.prepare, step) }
        b.planVolumes()
        b.planReplicas()
        b.planContainers()
        b.planRoutes()
        b.planFiles()
        if !b.problems.isEmpty { throw PlanRefusal(problems: b.problems) }
        return b.finish()
    }

    /// A failover `--failover` would do (and a refused deploy suggests): an application whose volumes' primary is
    /// on no reachable node, started on the reachable node holding the newest copy of all of them (newest
    /// snapshot wins; the loss window starts when it was last known current: its creation, or the last sync that
    /// found nothing newer, `SnapshotState.currentAsOf`). See `Outage` for when one is allowed.
    public struct FailoverCandidate: Sendable, Hashable {
        public var app: String
        public var node: String
        public var volumes: [VolumeID]
        public var snapshot: String?
        public var created: Int?
        /// The node of the deployment file its primary was last seen on (which cannot be reached).
        public var lastSeen: String
        /// The promoted copies' epoch: above every epoch seen of its volumes.
        public var epoch: Int
    }

    /// The failovers `--failover` would do (see `Outage.assess`).
    public static func failoverCandidates(desired: DesiredState, observed: ObservedState) -> [FailoverCandidate] {
        Outage.assess(desired: desired, observed: observed).failovers
    }

    /// One replication pass (`flocker-deploy sync`): replicas only, each sent a new snapshot of its primary.
    /// An application whose primary is not where the deployment file places it is skipped (a deploy moves it
    /// first), and so is every replica on a node that could not be reached.
    /// An application failed over earlier, whose file still places it on a node that does not answer, is synced
    /// from where it runs.
    public static func syncPlan(desired: DesiredState, observed: ObservedState) throws(PlanRefusal) -> Plan {
        var desired = desired
        desired.placement = Outage.assess(desired: desired, observed: observed).placement(desired, failingOver: false)
        var b = Builder(desired: desired, observed: observed)
        b.sync = true
        b.planReplicas()
        if !b.problems.isEmpty { throw PlanRefusal(problems: b.problems) }
        return b.finish()
    }

    /// The running placement after the plan: application → node.
    static func placement(_ desired: DesiredState) -> [String: String] { desired.placement }

    /// Why `copy` cannot receive from `primary`, or nil when it can: it is read-only (so nothing was
    /// written to it since its newest snapshot) and that snapshot is one the primary has. Epochs are not
    /// compared: a handoff interrupted after raising the target's epoch leaves a copy with a higher epoch
    /// that is still a plain ancestor of the primary.
    static func divergence(of copy: DatasetState, from primary: DatasetState) -> String? {
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
        /// Volumes whose replicas this plan sends to: volume → (primary's node, replica nodes).
        var replicated: [VolumeID: (primary: String, replicas: [String])] = [:]
        var notes: [String] = []
        /// A sync pass: every reachable replica is sent a new snapshot, up to date or not.
        var sync = false
        /// Application → nodes whose outdated primary this plan sets aside and makes a copy again.
        var rejoined: [String: Set<String>] = [:]
        /// Volumes set aside on the node the application moves back to (before the move), and the applications
        /// whose container there goes first.
        var rejoinedTarget = Set<VolumeID>()
        var clearedTargets = Set<String>()

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
                if observed.unreachable[target] != nil { continue }   // a run without it: see `Outage`
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
                add(.prepare, Step(node: target, .createVolume(volume, quota: spec.maximumSize, seed: spec.seed)))
                return
            }
            let primaries = all.filter { $0.dataset.role == .primary }
            guard let topEpoch = primaries.map(\.dataset.epoch).max() else {
                refuse(target, volume.app, onlyCopies(volume, all), unsafe: true)
                return
            }
            let winners = primaries.filter { $0.dataset.epoch == topEpoch }
            if winners.count > 1 {
                refuse(target, volume.app,
                    "volume \(volume.volume) has two primaries with the same epoch \(topEpoch) (on \(winners.map(\.node).joined(separator: " and "))): they may hold different data; keep the right one and make the other a copy (on its node: \(ShellWord.zfsSet(["flocker:role=copy", "readonly=on"], volume.dataset, poolVersion: observed.nodes[winners[1].node]?.facts.poolVersion))), then run again",
                    unsafe: true)
                return
            }
            let (source, primary) = winners[0]
            // Primaries that lost to a higher epoch: leftovers of an interrupted handoff. Make them copies,
            // unless their application runs there (then something outside flocker-deploy wrote to it).
            for stale in primaries where stale.dataset.epoch < topEpoch {
                let runsThere = observed.nodes[stale.node]?.containers[volume.app]?.running == true
                if stale.dataset.readonly && !runsThere {
                    // Left by an interrupted handoff: read-only since before the final copy, so it holds what
                    // the new primary holds. A relabel is enough.
                    add(.prepare, Step(node: stale.node, .demoteStale(volume)))
                    continue
                }
                // A primary that lost a failover and answers again (writable, perhaps still running its
                // application): it may hold writes the new primary lacks. Its application is stopped there, what it
                // holds is set aside under its own name (nothing destroyed), and it becomes a copy again at the
                // newest snapshot both have, fed incrementally from then on.
                let shared = Set(primary.snapshots.map(\.guid))
                let common = stale.dataset.snapshots.last { shared.contains($0.guid) }?.name
                let keepAs = "\(volume.app).\(volume.volume)-diverged-epoch\(stale.dataset.epoch)"
                if stale.node == target {
                    // The node the file places it on came back after a failover: its own container goes, what it
                    // holds is set aside first, and the application moves back from where it ran meanwhile onto
                    // the copy left at the common snapshot (sent only what came after).
                    let hasContainer = observed.nodes[target]?.containers[volume.app] != nil
                    if clearedTargets.insert(volume.app).inserted && hasContainer {
                        add(.prepare, Step(node: target, .stopApp(volume.app, keep: false)))
                    }
                    rejoinedTarget.insert(volume)
                    add(.prepare, Step(node: target, .rejoin(volume, common: common, keepAs: keepAs, epoch: topEpoch)))
                } else {
                    add(.handoff, Step(node: stale.node, .rejoin(volume, common: common, keepAs: keepAs, epoch: topEpoch)))
                }
                rejoined[volume.app, default: []].insert(stale.node)
                notes.append("\(stale.node): volume \(volume) is an outdated primary (epoch \(stale.dataset.epoch) < \(topEpoch) on \(source)): what it holds is kept as flocker/\(keepAs) (listed by status, never removed by flocker-deploy), "
                    + (common.map { "and it becomes a replica again from \($0)" } ?? "and, with no snapshot in common, a replica there is sent in full"))
            }

            if source == target {
                if primary.readonly { add(.prepare, Step(node: target, .makeWritable(volume))) }
                if primary.quota != spec.maximumSize {
                    add(.prepare, Step(node: target, .setQuota(volume, quota: spec.maximumSize)))
                }
                return
            }

            // A move: the target's existing copy, if any, must be an ancestor of the source (one set aside above
            // is: what is left of it is the common snapshot).
            if !rejoinedTarget.contains(volume), let existing = all.first(where: { $0.node == target })?.dataset {
                if let problem = divergence(of: existing, from: primary) {
                    refuse(target, volume.app,
                        "the copy of volume \(volume.volume) here \(problem); receiving over it could lose that data. Inspect it (zfs list -t snapshot -r \(volume.dataset)); if it holds nothing you need, destroy it (zfs destroy -r \(volume.dataset)) and run again",
                        unsafe: true)
                    return
                }
            }
            if observed.nodes[target]?.containers[volume.app]?.running == true && !clearedTargets.contains(volume.app) {
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

        /// Why a volume with only read-only copies in sight is not acted on, naming where its primary was last
        /// seen when a copy recorded it.
        func onlyCopies(_ volume: VolumeID, _ all: [(node: String, dataset: DatasetState)]) -> String {
            let holders = all.map(\.node).joined(separator: ", ")
            let head = "volume \(volume.volume) has only read-only copies (on \(holders)) and no primary on any node that answers"
            guard let (copyNode, seen) = Outage.lastRecord([volume], observed) else {
                return head + "; its primary may be on a node missing from the file: add that node, then run again"
            }
            let evidence = "the copy on \(copyNode) was last written from \(seen)"
            if !desired.nodes.contains(seen) {
                return head + "; \(evidence), which is not in the deployment file: add \(seen) to the file, then run again"
            }
            if let why = observed.unreachable[seen] {
                return head + "; \(evidence), which cannot be reached (\(why))"
                    + (observed.unresolved.contains(seen) ? " and whose name does not resolve: fix the name first" : ": see --failover")
            }
            return head + "; \(evidence), which answers but holds no primary of it: check it there before anything else"
        }

        func existingQuota(_ volume: VolumeID, on node: String) -> UInt64? {
            observed.nodes[node]?.datasets[volume]?.quota
        }

        func divergence(of copy: DatasetState, from primary: DatasetState) -> String? {
            Planner.divergence(of: copy, from: primary)
        }

        // MARK: replicas

        /// Replicas (`replicas:` in the deployment file): read-only copies of an application's volumes on other
        /// nodes. Missing ones are created (a full send from the primary while the application runs), ones
        /// that lack the primary's newest snapshot are brought up to date, and copies on nodes no longer wanted
        /// are removed when the primary holds every snapshot they have (otherwise kept, with a note). A
        /// diverged copy is left alone, with a note. All of it happens after the application's own steps
        /// (phase `replicate`), from where its primary is at the end of the plan. Applications without a
        /// `replicas:` entry keep whatever copies they have, as before.
        mutating func planReplicas() {
            var load: [String: Int] = [:]
            for (node, state) in observed.nodes {
                load[node] = Set(state.datasets.values.filter { $0.role == .copy }.map(\.id.app)).count
            }
            for app in desired.replicas.keys.sorted() {
                guard let primaryNode = desired.placement[app], let application = desired.applications[app],
                    !application.volumes.isEmpty, !problems.contains(where: { $0.app == app })
                else { continue }
                let volumes = application.volumes.map { VolumeID(app: app, volume: $0.name) }
                if sync {
                    let at = Set(volumes.flatMap { v in observed.datasets(of: v).filter { $0.dataset.role == .primary }.map(\.node) })
                    if at != [primaryNode] {
                        let unknown = observed.unreachable.keys.contains(primaryNode)
                        notes.append(unknown
                            ? "\(app): not synced: its primary's node \(primaryNode) cannot be reached"
                            : "\(app): not synced: its primary is on \(at.sorted().joined(separator: ", ")) but the deployment file places it on \(primaryNode); run a deploy first")
                        continue
                    }
                }
                // The nodes holding a copy after this plan, besides the primary's: the copies there now, and the
                // source of a move (the handoff makes it a copy).
                var holders = Set<String>()
                for v in volumes { for held in observed.datasets(of: v) where held.node != primaryNode { holders.insert(held.node) } }
                let existing = holders.filter { desired.nodes.contains($0) }.sorted()
                var wanted = desired.replicaNodes(of: app, existing: existing, load: load)
                if !observed.unreachable.isEmpty, case .count(let n)? = desired.replicas[app] {
                    // A node that cannot be reached may hold a replica: never place a new one because of it.
                    wanted = Array(existing.prefix(n))
                }
                for r in wanted where observed.unreachable[r] != nil {
                    notes.append("\(r): the replica of \(app) was not synced: the node cannot be reached (\(observed.unreachable[r] ?? ""))")
                }
                wanted.removeAll { observed.unreachable[$0] != nil }
                for r in wanted where !holders.contains(r) { load[r, default: 0] += 1 }
                let movingSources = moving[app] ?? []

                for v in volumes {
                    // The primary as it is now (on the source of a move, or where the application stays).
                    guard let primary = observed.datasets(of: v).filter({ $0.dataset.role == .primary })
                        .max(by: { $0.dataset.epoch < $1.dataset.epoch })
                    else {
                        // A volume this plan creates: its replicas are sent all of it once the application runs.
                        let created = (steps[.prepare] ?? []).contains {
                            if case .createVolume(let c, _, _) = $0.action { return c == v } else { return false }
                        }
                        if created && !wanted.isEmpty {
                            for r in wanted { add(.replicate, Step(node: primaryNode, .replicate(v, to: r))) }
                            replicated[v] = (primaryNode, wanted)
                        }
                        continue
                    }
                    var targets: [String] = []
                    // Replicas that could be sent to: once one is, the others are too (a new snapshot would
                    // leave them lagging, and the run sends them that same snapshot: a small increment).
                    var current: [String] = []
                    for r in wanted {
                        guard let copy = observed.nodes[r]?.datasets[v] else {
                            targets.append(r)
                            continue
                        }
                        if movingSources.contains(r) { continue }     // the move leaves it a current copy
                        if rejoined[app]?.contains(r) == true {       // set aside, back at the common snapshot
                            targets.append(r)
                            continue
                        }
                        if copy.role == .primary { continue }         // an outdated primary: demoted first, replicated next run
                        if let problem = divergence(of: copy, from: primary.dataset) {
                            notes.append("\(r): the replica of volume \(v) \(problem); it is left as it is (see docs/operations.md, \"A diverged copy\")")
                            continue
                        }
                        if sync || !movingSources.isEmpty || copy.newestSnapshot?.guid != primary.dataset.newestSnapshot?.guid {
                            targets.append(r)
                        } else {
                            current.append(r)
                        }
                    }
                    if !targets.isEmpty {
                        let all = Set(targets + current)
                        targets = wanted.filter(all.contains)
                    }
                    for r in targets { add(.replicate, Step(node: primaryNode, .replicate(v, to: r))) }
                    if !targets.isEmpty { replicated[v] = (primaryNode, targets) }

                    // Copies on nodes no longer wanted.
                    let known = Set((primary.dataset.snapshots + primary.dataset.otherSnapshots).map(\.guid))
                    for node in holders.sorted() where !wanted.contains(node) && observed.unreachable.isEmpty {
                        guard let copy = observed.nodes[node]?.datasets[v] else { continue }
                        if movingSources.contains(node) {
                            // Checked again when it runs: the move must have left the new primary every snapshot.
                            add(.replicate, Step(node: node, .removeReplica(v, primary: primaryNode)))
                            continue
                        }
                        guard copy.role == .copy, copy.readonly else { continue }
                        let unique = (copy.snapshots + copy.otherSnapshots).filter { !known.contains($0.guid) }
                        if unique.isEmpty {
                            add(.replicate, Step(node: node, .removeReplica(v, primary: primaryNode)))
                        } else {
                            notes.append("\(node): the copy of volume \(v) is kept though no replica is wanted there: it holds \(unique.count) snapshot\(unique.count == 1 ? "" : "s") the primary lacks (\(unique.map(\.name).joined(separator: ", ")))")
                        }
                    }
                }
            }
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
                } else if container.running && rejoined[app]?.contains(node) == true {
                    // Still running on a primary that lost a failover: never a fallback, removed.
                    add(.stop, Step(node: node, .stopApp(app, keep: false)))
                } else if container.running, application?.volumes.isEmpty == true {
                    // Moving away without volumes: start before stop. The new container starts on the target and
                    // becomes ready, the routes switch to it, and only then does the old one stop (and go):
                    // no moment without a running copy.
                    add(.cleanup, Step(node: node, .stopApp(app, keep: false)))
                } else if container.running {
                    // Moving away: keep the stopped container as the fallback until the target is ready.
                    add(.stop, Step(node: node, .stopApp(app, keep: true)))
                    add(.cleanup, Step(node: node, .removeContainer(app)))
                } else {
                    add(.cleanup, Step(node: node, .removeContainer(app)))
                }
            }
            guard let target, let application, let hash else { return }
            // Placed on a node that cannot be reached (a run that goes on without it): noted by `Outage`.
            if observed.unreachable[target] != nil { return }
            if let problem = observed.nodes[target]?.facts.dockerAnswers != true ? "docker is not answering on this node" : nil {
                refuse(target, app, problem, unsafe: false)
                return
            }
            if let existing = observed.nodes[target]?.containers[app], !clearedTargets.contains(app) {
                if existing.configHash != hash {
                    add(.stop, Step(node: target, .stopApp(app, keep: false)))
                    startOnTarget = true
                } else if existing.running, !moves, Set(existing.unpublished).subtracting(desired.portsTaken(on: target, besides: app)).count > 0 {
                    // A port of its image that something else held when it started is free now: started again
                    // to publish it on its service address.
                    add(.stop, Step(node: target, .stopApp(app, keep: false)))
                    startOnTarget = true
                    notes.append("\(app): started again on \(target) to publish \(existing.unpublished.joined(separator: ", ")) on its service address (taken when it last started)")
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

        // MARK: files

        /// Uploads and removals of applications' files (see `Planner.fileSteps`).
        mutating func planFiles() {
            for (phase, step) in Planner.fileSteps(desired: desired, observed: observed, steps: steps) { add(phase, step) }
        }

        // MARK: routes

        mutating func planRoutes() {
            var addresses: [String: String] = [:]
            for (name, node) in observed.nodes { addresses[name] = node.address }
            for node in desired.nodes {
                guard let state = observed.nodes[node] else { continue }
                var want = RoutingMesh.desiredRules(
                    on: node, running: desired.placement, applications: desired.applications, addresses: addresses)
                // Clones' rules are `clone`'s to change (a deploy leaves clones alone), and they need the node's
                // rule for replies too.
                if state.routes.contains(where: \.tag.isClone) && !want.contains(where: { $0.tag == .established }) {
                    want.append(RouteSpec(tag: .established))
                }
                let wantTags = Set(want.map(\.tag))
                var seen = Set<RouteTag>()
                var remove: [RouteRule] = []
                let services = RoutingMesh.serviceRules(
                    addresses: state.serviceAddresses, routes: state.serviceRoutes, applications: desired.applications)
                for rule in state.routes + services where !rule.tag.isClone {
                    if wantTags.contains(rule.tag) && rule.table == rule.tag.table && rule.chain == rule.tag.chain
                        && !seen.contains(rule.tag) && !rule.isOutdated
                    {
                        seen.insert(rule.tag)
                    } else {
                        remove.append(rule)
                    }
                }
                let add = want.filter { !seen.contains($0.tag) }
                // One step per application on each node (and one for the rules of no application), so that each
                // application's routes switch as soon as it is ready, not when every application is.
                // With one application's rules only, the rules of no application go in its step (one change, in
                // the right order by itself).
                let apps = Set(add.map(\.tag.app) + remove.map(\.tag.app))
                let named = apps.filter { !$0.isEmpty }
                if named.count <= 1 {
                    if !add.isEmpty || !remove.isEmpty { self.add(.routes, Step(node: node, .setRoutes(add: add, remove: remove))) }
                    continue
                }
                for app in apps.sorted() {
                    let a = add.filter { $0.tag.app == app }
                    let r = remove.filter { $0.tag.app == app }
                    self.add(.routes, Step(node: node, .setRoutes(add: a, remove: r)))
                }
            }
        }

        // MARK: finish

        mutating func finish() -> Plan {
            for (app, h) in handoffs.sorted(by: { $0.key < $1.key }) {
                add(.handoff, Step(node: h.source, .handoff(app, to: h.target, volumes: h.volumes)))
            }
            // Holds a run that died left behind (they end by themselves, but need not wait for that).
            for node in desired.nodes {
                for app in (observed.nodes[node]?.holds ?? []).sorted() { add(.prepare, Step(node: node, .releaseHold(app))) }
            }
            // An application with volumes is down between its stop and its start elsewhere: every node holds new
            // connections to its ports meanwhile, so clients wait instead of being refused.
            for app in handoffs.keys.sorted() {
                // (TCP ports: a hold drops SYNs; a UDP client retries by itself, or not at all.)
                let ports = (desired.applications[app]?.ports.filter { $0.transport == .tcp }.map(\.externalPort) ?? []).sorted()
                let stops = (steps[.stop] ?? []).contains { if case .stopApp(app, true) = $0.action { return true } else { return false } }
                // (Its service address too, for connections by name: `NodeCommands.hold`.)
                guard !ports.isEmpty || desired.applications[app]?.service != nil, stops else { continue }
                for node in desired.nodes where observed.nodes[node] != nil {
                    add(.hold, Step(node: node, .holdConnections(app, ports: ports)))
                    add(.release, Step(node: node, .releaseHold(app)))
                }
            }
            // Prune snapshots of moved volumes on both ends, keeping the newest (the executor always keeps the
            // newest) and the newest snapshot of every other copy (their next base), on the source too: it may be
            // the primary again one day, and then the other copies receive from it.
            // Replicated volumes likewise, on the primary and on each replica sent to.
            var pruned = Set<String>()
            let volumes = Set(copied.keys).union(replicated.keys)
            for volume in volumes.sorted() {
                var ends: [String] = []
                if let c = copied[volume] { ends += [c.target, c.source] }
                if let r = replicated[volume] { ends += [r.primary] + r.replicas }
                let removed = Set((steps[.replicate] ?? []).compactMap { step -> String? in
                    if case .removeReplica(let v, _) = step.action, v == volume { return step.node }
                    return nil
                })
                // With replicas, every copy's newest snapshot now is kept: a replication of this run that fails
                // leaves its replica on that base (one extra snapshot until the next pass prunes it).
                let keep = observed.datasets(of: volume).filter { replicated[volume] != nil || !ends.contains($0.node) }
                    .compactMap { $0.dataset.newestSnapshot?.name }
                for node in ends where !removed.contains(node) && pruned.insert("\(node) \(volume)").inserted {
                    add(.cleanup, Step(node: node, Planner.prune(volume, keep: keep, on: node, desired: desired, observed: observed)))
                }
            }
            return Plan(
                phases: PhaseName.allCases.map { phase in
                    let list = steps[phase] ?? []
                    return Phase(phase, phase == .start ? Planner.dependenciesFirst(list, desired.applications) : list)
                }, notes: notes)
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

extension Planner {
    /// The start steps with each application's dependencies (Compose `depends_on`) before it, otherwise in the
    /// order given: steps on one node run one after another, each waiting for its application to be ready, so
    /// a dependency on the same node is up before its dependents start. Cycles keep the given order.
    static func dependenciesFirst(_ steps: [Step], _ applications: [String: Application]) -> [Step] {
        guard steps.contains(where: { !(applications[$0.app]?.dependencies.isEmpty ?? true) }) else { return steps }
        var placed = Set<Int>()
        var visiting = Set<Int>()
        var out: [Step] = []
        func place(_ i: Int) {
            guard !placed.contains(i), visiting.insert(i).inserted else { return }
            for dependency in applications[steps[i].app]?.dependencies ?? [] {
                for j in steps.indices where steps[j].app == dependency && steps[j].node == steps[i].node { place(j) }
            }
            visiting.remove(i)
            placed.insert(i)
            out.append(steps[i])
        }
        for i in steps.indices { place(i) }
        return out
    }
}
