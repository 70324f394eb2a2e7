/// `flocker-deploy evacuate NODE …`: a new home for every application a node runs, so that the node can be shed
/// (maintenance, replacement). Pure: it reads the deployment file and what discovery found, and returns the new
/// deployment file's content (NODE kept, with no applications) and why each application goes where it goes.
/// The deploy of that file then does the moves, with the usual plan, locks and safety.
public enum Evacuation {
    /// One application's new node.
    public struct Move: Sendable, Hashable {
        public var app: String
        public var to: String
        /// Why there: "holds its replica (flocker-00000007)", "least loaded (1 application)".
        public var why: String
    }

    public struct Result: Sendable, Hashable {
        public var moves: [Move]
        public var deployment: Deployment
        /// Changes made to `replicas:` so the file stays valid (an explicit replica list naming the new node).
        public var notes: [String]
    }

    /// Why an evacuation cannot be done; nothing was written or changed.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Places every application of `node` on another node of the deployment file.
    ///
    /// Candidates are the other nodes that answered with a working docker (and a ZFS pool, for an application
    /// with volumes) and that publish none of the application's external ports for another application. Among
    /// them: a node holding a read-only copy of every one of its volumes first (the newest copy wins: the move
    /// then sends only what changed since), then the node with the fewest applications after the moves so far,
    /// then the deployment file's order. Applications with volumes are placed first (they have fewer choices).
    public static func plan(
        node: String, deployment: Deployment, applications: [String: Application], observed: ObservedState
    ) throws(Refusal) -> Result {
        guard deployment.nodes.contains(where: { $0.name == node }) else {
            throw Refusal(message: "\(node) is not a node of the deployment file (its nodes: \(deployment.nodes.map(\.name).joined(separator: ", ")))")
        }
        let shed = deployment.nodes.first { $0.name == node }?.applications ?? []
        var placement: [String: String] = [:]
        for n in deployment.nodes { for app in n.applications { placement[app] = n.name } }
        let others = deployment.nodes.map(\.name).filter { $0 != node }
        guard !others.isEmpty else { throw Refusal(message: "\(node) is the only node of the deployment file: there is nowhere to move its applications") }

        let ordered = shed.sorted { a, b in
            let (va, vb) = (!(applications[a]?.volumes.isEmpty ?? true), !(applications[b]?.volumes.isEmpty ?? true))
            return va != vb ? va : a < b
        }
        var moves: [Move] = []
        for app in ordered {
            guard let application = applications[app] else { continue }
            let volumes = application.volumes.map { VolumeID(app: app, volume: $0.name) }
            var refused: [String] = []
            var candidates: [String] = []
            for candidate in others {
                guard let state = observed.nodes[candidate] else {
                    refused.append("\(candidate) cannot be reached\(observed.unreachable[candidate].map { " (\($0))" } ?? "")")
                    continue
                }
                if !state.facts.dockerAnswers { refused.append("\(candidate): docker does not answer"); continue }
                if !volumes.isEmpty && state.facts.poolVersion == nil { refused.append("\(candidate) has no ZFS pool `flocker`"); continue }
                let ports = Set(application.ports.map(\.externalPort))
                let clash = placement.filter { $0.value == candidate && $0.key != app }.keys.sorted().first { other in
                    !(applications[other]?.ports.map(\.externalPort).filter(ports.contains).isEmpty ?? true)
                }
                if let clash { refused.append("\(candidate) runs \(clash), which publishes the same port"); continue }
                candidates.append(candidate)
            }
            func copyAge(_ n: String) -> Int? {
                guard !volumes.isEmpty else { return nil }
                let copies = volumes.compactMap { observed.nodes[n]?.datasets[$0] }.filter { $0.role == .copy }
                guard copies.count == volumes.count else { return nil }
                return copies.compactMap { $0.newestSnapshot?.currentAsOf }.min() ?? 0
            }
            func load(_ n: String) -> Int { placement.values.filter { $0 == n }.count }
            let best = candidates.enumerated().min { a, b in
                let (ca, cb) = (copyAge(a.element), copyAge(b.element))
                if (ca != nil) != (cb != nil) { return ca != nil }
                if let ca, let cb, ca != cb { return ca > cb }
                if load(a.element) != load(b.element) { return load(a.element) < load(b.element) }
                return a.offset < b.offset
            }?.element
            guard let target = best else {
                throw Refusal(message: "no node can take \(app): " + refused.joined(separator: "; "))
            }
            let why: String
            if copyAge(target) != nil {
                let snap = volumes.compactMap { observed.nodes[target]?.datasets[$0]?.newestSnapshot?.name }.first
                why = "holds its replica" + (snap.map { " (\($0))" } ?? "") + ": only what changed since is sent"
            } else {
                let n = load(target)
                why = "least loaded (\(n) application\(n == 1 ? "" : "s"))"
            }
            placement[app] = target
            moves.append(Move(app: app, to: target, why: why))
        }

        var result = deployment
        for i in result.nodes.indices {
            let name = result.nodes[i].name
            if name == node {
                result.nodes[i].applications = []
            } else {
                result.nodes[i].applications += shed.filter { placement[$0] == name }
            }
        }
        // An explicit replica list that names the application's new node would list its primary's own node:
        // the evacuated node takes that place (the move leaves its copy there, so nothing is sent again).
        var notes: [String] = []
        for move in moves {
            guard case .nodes(var list)? = result.replicas[move.app], let i = list.firstIndex(of: move.to) else { continue }
            if list.contains(node) { list.remove(at: i) } else { list[i] = node }
            result.replicas[move.app] = .nodes(list)
            notes.append("replicas of \(move.app): [\(list.joined(separator: ", "))] (\(move.to) runs it now)")
        }
        return Result(moves: moves, deployment: result, notes: notes)
    }
}
