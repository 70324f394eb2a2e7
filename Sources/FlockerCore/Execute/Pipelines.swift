import Synchronization

/// How the executor orders a plan's steps: one pipeline per application, each going through the phases in
/// order on its own, so that one application's slow or failed step never holds up another's.
///
/// - Within a pipeline, a phase's steps run in parallel across lanes (a lane is a node, see `Executor.lane(of:)`)
///   and one after another within a lane; the pipeline's next phase starts once all of them ended.
/// - Steps that serve no application (routing rules that belong to none) form a pipeline of their own.
/// - Across pipelines, a step waits only for what it really needs: a start waits for the starts of the
///   applications it depends on (Compose `depends_on`), and for the stop of another application on the same
///   node that publishes one of its ports there.
/// - Per node, at most `parallel` steps run at once (`--parallel`); iptables changes on a node run one at a time,
///   and a node receives one replication stream at a time.
struct Pipelines: Sendable {
    struct Stage: Sendable {
        var phase: PhaseName
        var lanes: [[Step]]
    }
    struct Pipeline: Sendable {
        /// The application ("" for the node-wide steps).
        var app: String
        var stages: [Stage]
    }
    /// What a step waits for before it asks for a slot: (application, phase) pairs whose stages must be over.
    struct Wait: Sendable, Hashable {
        var app: String
        var phase: PhaseName
    }

    var pipelines: [Pipeline]
    /// Per step (by pipeline, stage, lane and position), what it waits for.
    var waits: [StepKey: [Wait]]

    struct StepKey: Sendable, Hashable {
        var pipeline: Int
        var stage: Int
        var lane: Int
        var index: Int
    }

    init(_ plan: Plan, applications: [String: Application], observed: ObservedState) {
        var order: [String] = []
        var known = Set<String>()
        var byApp: [String: [(PhaseName, [Step])]] = [:]
        for phase in plan.phases where !phase.steps.isEmpty {
            var grouped: [String: [Step]] = [:]
            for step in phase.steps {
                if known.insert(step.pipelineApp).inserted { order.append(step.pipelineApp) }
                grouped[step.pipelineApp, default: []].append(step)
            }
            for (app, steps) in grouped { byApp[app, default: []].append((phase.name, steps)) }
        }
        // The node-wide pipeline first: its steps (shared routing rules) are what every application's routes use.
        order.sort { ($0.isEmpty ? 0 : 1) < ($1.isEmpty ? 0 : 1) }
        let phaseIndex = Dictionary(uniqueKeysWithValues: PhaseName.allCases.enumerated().map { ($1, $0) })
        pipelines = order.map { app in
            let stages = (byApp[app] ?? []).sorted { phaseIndex[$0.0]! < phaseIndex[$1.0]! }.flatMap { phase, steps in
                var lanes: [String: [Step]] = [:]
                var laneOrder: [String] = []
                for step in steps {
                    let lane = Executor.lane(of: step)
                    if lanes[lane] == nil { laneOrder.append(lane) }
                    lanes[lane, default: []].append(step)
                }
                let stage = Stage(phase: phase, lanes: laneOrder.map { lanes[$0] ?? [] })
                return phase == .routes && !app.isEmpty ? Self.stopForwardingFirst(stage) : [stage]
            }
            return Pipeline(app: app, stages: stages)
        }

        // Which applications have steps in which phases, and the order of the start steps (dependencies first).
        var phasesOf: [String: Set<PhaseName>] = [:]
        for p in pipelines { phasesOf[p.app] = Set(p.stages.map(\.phase)) }
        // The applications that start, dependencies first (whatever their nodes); a cycle keeps the given order.
        let starts = plan.phases.first { $0.name == .start }?.steps ?? []
        var startRank: [String: Int] = [:]
        var visiting = Set<String>()
        func place(_ app: String) {
            guard startRank[app] == nil, visiting.insert(app).inserted else { return }
            for dependency in applications[app]?.dependencies ?? [] where starts.contains(where: { $0.app == dependency }) {
                place(dependency)
            }
            visiting.remove(app)
            if startRank[app] == nil { startRank[app] = startRank.count }
        }
        for step in starts { place(step.app) }
        // Per node, the applications whose own route steps run there.
        var routedOn: [String: Set<String>] = [:]
        for step in plan.steps where !step.pipelineApp.isEmpty {
            if case .setRoutes = step.action { routedOn[step.node, default: []].insert(step.pipelineApp) }
        }
        // Stops per node: application → the phase of its stop there.
        var stopsOn: [String: [(app: String, phase: PhaseName)]] = [:]
        for phase in plan.phases {
            for step in phase.steps {
                if case .stopApp = step.action { stopsOn[step.node, default: []].append((step.app, phase.name)) }
            }
        }

        var waits: [StepKey: [Wait]] = [:]
        for (pi, p) in pipelines.enumerated() {
            for (si, stage) in p.stages.enumerated() {
                for (li, lane) in stage.lanes.enumerated() {
                    for (i, step) in lane.enumerated() {
                        // A node-wide route step that removes rules (the rule for replies, once nothing is forwarded
                        // from the node any more) waits until every application's routes there have switched.
                        if p.app.isEmpty, case .setRoutes(_, let remove) = step.action, !remove.isEmpty {
                            let list = (routedOn[step.node] ?? []).sorted().map { Wait(app: $0, phase: .routes) }
                            if !list.isEmpty { waits[StepKey(pipeline: pi, stage: si, lane: li, index: i)] = list }
                            continue
                        }
                        guard Self.startsContainer(step.action) else { continue }
                        var list: [Wait] = []
                        // Dependencies: only those ranked earlier among the starts (so a cycle cannot deadlock).
                        if stage.phase == .start, let mine = startRank[p.app] {
                            for dependency in applications[p.app]?.dependencies ?? []
                            where dependency != p.app && (startRank[dependency] ?? Int.max) < mine {
                                list.append(Wait(app: dependency, phase: .start))
                            }
                        }
                        // A port this start publishes on the node, held by another application's running
                        // container there that this plan stops in an earlier phase.
                        let ports = applications[p.app]?.ports.map(\.externalPort) ?? []
                        for stop in stopsOn[step.node] ?? [] where stop.app != p.app
                            && (phaseIndex[stop.phase] ?? 0) < (phaseIndex[stage.phase] ?? 0)
                            && phasesOf[stop.app]?.contains(stop.phase) == true
                        {
                            let published = observed.nodes[step.node]?.containers[stop.app]?.ports ?? ""
                            if ports.contains(where: { published.contains(":\($0)->") }) {
                                list.append(Wait(app: stop.app, phase: stop.phase))
                            }
                        }
                        if !list.isEmpty { waits[StepKey(pipeline: pi, stage: si, lane: li, index: i)] = list }
                    }
                }
            }
        }
        self.waits = waits
    }

    /// An application's routes stage in two, when it can be: first the nodes that stop forwarding the
    /// application's ports and start forwarding them nowhere (its new node, which serves them itself from then
    /// on), then the others (which forward them to its new node). So no node forwards to the new node while
    /// that node still forwards to the old one: the mesh's DNAT rules come before Docker's publishing (see
    /// `RouteSpec.restoreLine`), so the two at once would pass a connection back and forth, and conntrack would
    /// keep its retransmitted SYNs on that path until the client gave up.
    static func stopForwardingFirst(_ stage: Stage) -> [Stage] {
        func onlyStops(_ lane: [Step]) -> Bool {
            lane.allSatisfy { step in
                // (Its own service address, on `lo`, is no forwarding: the new node serves it.)
                if case .setRoutes(let add, let remove) = step.action {
                    return add.allSatisfy { $0.tag.kind == .serviceAddress } && !remove.isEmpty
                }
                return false
            }
        }
        let first = stage.lanes.filter(onlyStops), then = stage.lanes.filter { !onlyStops($0) }
        guard !first.isEmpty, !then.isEmpty else { return [stage] }
        return [Stage(phase: stage.phase, lanes: first), Stage(phase: stage.phase, lanes: then)]
    }

    /// Steps that start a container (and so bind its published ports on the node).
    static func startsContainer(_ action: Action) -> Bool {
        switch action {
        case .startApp, .startCreated, .restartApp: return true
        default: return false
        }
    }

    /// The exclusive resource a step needs on a node besides its slot, if any: the node's iptables (rules are
    /// changed one change at a time per node), or its receiving end (one replication stream per node, a move's
    /// copies included: two copies into one node at once each end in an unmount and a mount, and zfs-fuse was
    /// seen to stop answering when two of those overlapped, in CI's 58-pipelines).
    static func exclusive(_ step: Step) -> String? {
        switch step.action {
        case .setRoutes, .holdConnections, .releaseHold: return "iptables:" + step.node
        case .replicate(_, let target), .copyVolume(_, let target, _): return "receive:" + target
        default: return nil
        }
    }
}

/// Counting semaphores by name: `slots` per node, one for the exclusive resources (`Pipelines.exclusive`).
/// Waiters are served first come, first served.
final class NodeSlots: Sendable {
    private struct State {
        var used: [String: Int] = [:]
        var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    }
    private let state = Mutex(State())
    private let perNode: Int

    init(perNode: Int) { self.perNode = max(1, perNode) }

    private func capacity(_ key: String) -> Int { key.hasPrefix("node:") ? perNode : 1 }

    func acquire(_ key: String) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                let used = s.used[key, default: 0]
                if used < capacity(key) {
                    s.used[key] = used + 1
                    return true
                }
                s.waiting[key, default: []].append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release(_ key: String) {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if var queue = s.waiting[key], !queue.isEmpty {
                let first = queue.removeFirst()
                s.waiting[key] = queue
                return first   // the slot passes straight to the next waiter
            }
            s.used[key, default: 1] -= 1
            return nil
        }
        next?.resume()
    }
}

/// Signals that stay set once set: "application A's stage of phase P is over".
final class StageSignals: Sendable {
    private struct State {
        var done: Set<Pipelines.Wait> = []
        var waiting: [Pipelines.Wait: [CheckedContinuation<Void, Never>]] = [:]
        var reached: Set<PhaseName> = []
    }
    private let state = Mutex(State())

    func wait(_ key: Pipelines.Wait) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.done.contains(key) { return true }
                s.waiting[key, default: []].append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// True for the first pipeline to reach `phase` (the run reports a phase once, when it begins anywhere).
    func firstToReach(_ phase: PhaseName) -> Bool { state.withLock { $0.reached.insert(phase).inserted } }

    func set(_ key: Pipelines.Wait) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.done.insert(key)
            return s.waiting.removeValue(forKey: key) ?? []
        }
        for c in waiters { c.resume() }
    }
}
