/// What a run can do for applications the deployment file places on a node that does not answer: the one place
/// where a failover is decided (`--failover`), explained (the hint of a refused deploy, `status`) or found done
/// already (`sync`, and every later run while the node stays away). A pure function of the desired and observed
/// states, tested as a table (OutageTests).
///
/// The rules (docs/operations.md, "Failover"), so that a failover never leaves two writable primaries:
/// - only applications whose volumes have no primary on any node that answers;
/// - only when the node their primary was last seen on is a node of the deployment file that cannot be reached
///   now and whose name resolved (a name that never resolved is a typo, not a dead node). Where the primary
///   was last seen is the latest record the reachable copies hold of the primary they were last written from
///   (`flocker:primary-node`, see `lastRecord`); copies written by an older release record nothing, and then
///   the deployment file's placement counts, if it names a node that does not answer;
/// - the new primary is the reachable copy with the newest snapshot, and its epoch is above every epoch of every
///   dataset of the volume on every node that answers (copies carry their primary's epoch when written).
public struct Outage: Sendable, Hashable {
    /// An application that was failed over before and runs on a reachable node while the deployment file
    /// still places it on one that does not answer.
    public struct Elsewhere: Sendable, Hashable {
        public var app: String
        /// Where the file places it (unreachable).
        public var placed: String
        /// Where its primary is now.
        public var node: String
        public var epoch: Int
    }

    /// An application whose primary is on no reachable node and that cannot be failed over, with why.
    public struct Stuck: Sendable, Hashable {
        public var app: String
        public var placed: String
        public var reason: String
    }

    /// Applications `--failover` would start on their newest reachable replica.
    public var failovers: [Planner.FailoverCandidate] = []
    /// Applications already failed over (their primary answers elsewhere).
    public var elsewhere: [Elsewhere] = []
    /// Applications that stay down, with why.
    public var stuck: [Stuck] = []

    /// The nodes of the deployment file that could not be reached.
    public var away: Set<String> = []

    public var isEmpty: Bool { failovers.isEmpty && elsewhere.isEmpty && stuck.isEmpty }

    /// The placement a run that goes on without the unreachable nodes acts on: failed-over applications where
    /// their primary is, failover candidates placed on a node that does not answer on their newest replica,
    /// everything else as the file says (a candidate the file places on a node that answers moves there from
    /// its promoted replica).
    public func placement(_ desired: DesiredState, failingOver: Bool) -> [String: String] {
        var placement = desired.placement
        for e in elsewhere { placement[e.app] = e.node }
        if failingOver {
            for f in failovers where away.contains(desired.placement[f.app] ?? "") { placement[f.app] = f.node }
        }
        return placement
    }

    /// Examines every application whose primary is not on a reachable node.
    public static func assess(desired: DesiredState, observed: ObservedState) -> Outage {
        var out = Outage()
        out.away = Set(observed.unreachable.keys)
        guard !observed.unreachable.isEmpty else { return out }
        for app in desired.placement.keys.sorted() {
            guard let placed = desired.placement[app], let application = desired.applications[app] else { continue }
            let ids = application.volumes.map { VolumeID(app: app, volume: $0.name) }
            let placedAway = observed.unreachable[placed] != nil
            if ids.isEmpty {
                if placedAway {
                    out.stuck.append(Stuck(app: app, placed: placed, reason: "it has no volumes and no replica to fail over to; place it on a node that answers to run it meanwhile"))
                }
                continue
            }
            let primaries = ids.flatMap { id in observed.datasets(of: id).filter { $0.dataset.role == .primary } }
            if let primary = primaries.max(by: { $0.dataset.epoch < $1.dataset.epoch }) {
                // A primary answers: nothing to fail over. Where the file places the application on a node that
                // does not answer, it runs where that primary is (a failover done before).
                if placedAway && primary.node != placed {
                    out.elsewhere.append(Elsewhere(app: app, placed: placed, node: primary.node, epoch: primary.dataset.epoch))
                }
                continue
            }
            switch candidate(app, ids, placed: placed, observed: observed, nodes: desired.nodes) {
            case .success(let c): out.failovers.append(c)
            case .failure(let why): out.stuck.append(Stuck(app: app, placed: placed, reason: why.reason))
            }
        }
        return out
    }

    struct Refusal: Error { var reason: String }

    /// The latest record of where the primary of `ids` was, among the reachable copies: the highest epoch wins
    /// (every promotion raises it, and a copy takes its primary's when written), then the newest snapshot.
    static func lastRecord(_ ids: [VolumeID], _ observed: ObservedState) -> (node: String, primary: String)? {
        let records = ids.flatMap { id in
            observed.datasets(of: id).filter { $0.dataset.role == .copy }.compactMap { held in
                held.dataset.primaryNode.map { (node: held.node, primary: $0, epoch: held.dataset.epoch,
                                                 at: held.dataset.newestSnapshot?.creation ?? 0) }
            }
        }
        return records.max { ($0.epoch, $0.at) < ($1.epoch, $1.at) }.map { ($0.node, $0.primary) }
    }

    static func candidate(_ app: String, _ ids: [VolumeID], placed: String, observed: ObservedState,
                          nodes: [String]) -> Result<Planner.FailoverCandidate, Refusal> {
        let holders = observed.nodes.keys.sorted().filter { n in
            ids.allSatisfy { observed.nodes[n]?.datasets[$0]?.role == .copy }
        }
        func key(_ n: String) -> (Int, UInt64, Int) {
            let s = observed.nodes[n]?.datasets[ids[0]]?.newestSnapshot
            return (s?.creation ?? 0, s?.createtxg ?? 0, n == placed ? 1 : 0)
        }
        guard let best = holders.max(by: { key($0) < key($1) }), let copy = observed.nodes[best]?.datasets[ids[0]] else {
            let away = observed.unreachable.keys.sorted().joined(separator: ", ")
            return .failure(Refusal(reason: "no node that answers holds a copy of all its volumes (\(away) cannot be reached)"))
        }
        // Where its primary was last seen: what the copies recorded when they were last written from it, the
        // latest record (the highest epoch: every promotion raises it, and a copy takes its primary's) winning.
        let latest = lastRecord(ids, observed)
        let recorded = latest?.primary
        let lastSeen = recorded ?? (observed.unreachable[placed] != nil ? placed : nil)
        let evidence = latest.map { "the copy on \($0.node) was last written from it" } ?? "the deployment file places it there"
        guard let lastSeen else {
            return .failure(Refusal(reason: "the copy on \(best) does not record where its primary was, and the deployment file places \(app) on \(placed), which answers: no failover; run a deploy once every node answers"))
        }
        guard nodes.contains(lastSeen) else {
            return .failure(Refusal(reason: "its primary was last seen on \(lastSeen) (\(evidence)), which is not in the deployment file: add \(lastSeen) to the file; a failover now could leave two writable copies if \(lastSeen) still runs it"))
        }
        if observed.nodes[lastSeen] != nil {
            return .failure(Refusal(reason: "its primary was last seen on \(lastSeen) (\(evidence)), which answers but holds no primary of it: check it there (zfs list -o name,flocker:role,readonly -r flocker) before anything else"))
        }
        if observed.unresolved.contains(lastSeen) {
            return .failure(Refusal(reason: "its primary was last seen on \(lastSeen) (\(evidence)), whose name does not resolve now: a node that cannot be looked up may still be running; fix the name (or the ssh config) first"))
        }
        let epochs = ids.flatMap { id in observed.datasets(of: id).map(\.dataset.epoch) }
        let snap = copy.newestSnapshot
        return .success(Planner.FailoverCandidate(
            app: app, node: best, volumes: ids, snapshot: snap?.name, created: snap?.currentAsOf,
            lastSeen: lastSeen, epoch: (epochs.max() ?? 0) + 1))
    }

    /// For a deploy stopped by unreachable nodes: what `--failover` would do, or why it would not, in words.
    public func hints(_ desired: DesiredState, now: Int) -> [String] {
        var out: [String] = []
        for c in failovers {
            let when = c.created.map { "\(Timestamp.iso($0)), \(max(0, now - $0)) s old" } ?? "no snapshot"
            let placed = desired.placement[c.app] ?? c.node
            let then = away.contains(placed) || placed == c.node ? " (the file stays as it is)" : " and move it to \(placed) as the file says"
            out.append("\(c.app)'s primary was last seen on \(c.lastSeen), which cannot be reached; \(c.app)'s newest replica is on \(c.node) (\(c.snapshot ?? "no snapshot"), \(when)): run again with --failover to start \(c.app) there at epoch \(c.epoch)\(then); what \(c.lastSeen) wrote after that snapshot is not in it")
        }
        for e in elsewhere {
            out.append("\(e.app) runs on \(e.node) since a failover (epoch \(e.epoch)); the file places it on \(e.placed), which cannot be reached: --failover goes on without \(e.placed) and leaves \(e.app) on \(e.node)")
        }
        for s in stuck {
            out.append("\(s.app) (placed on \(s.placed)) cannot be failed over: \(s.reason)")
        }
        return out
    }
}
