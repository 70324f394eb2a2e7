import Synchronization

/// Runs a plan through the nodes' `RemoteHost`s.
///
/// Each application's steps run as their own pipeline through the phases (see `Pipelines`), independent of the
/// other applications', at most `ExecutionOptions.parallel` steps at once per node. A failed step stops the later
/// steps of its application (and, when its node could not be reached, every later step needing that node); the
/// other applications go on and their results are reported. A move that fails (or is interrupted)
/// after its application stopped but before the target was promoted is undone: the source's volumes are made
/// writable again and the application is restarted there. After promotion, a re-run finishes the move.
public struct Executor: Sendable {
    public let hosts: [String: any RemoteHost]
    public let desired: DesiredState
    public let observed: ObservedState
    public let options: ExecutionOptions
    public let observer: any RunObserver
    public let stopRequest: StopRequest
    /// The run's locks. Every step is checked against them before it is dispatched: a step on a node whose lock
    /// the run does not hold is a programming error, and it fails without running (see docs/operations.md,
    /// "Locks"). Nil only in unit tests of execution itself.
    public let locks: LockSet?

    public init(
        hosts: [String: any RemoteHost], desired: DesiredState, observed: ObservedState, options: ExecutionOptions,
        observer: any RunObserver, stopRequest: StopRequest = StopRequest(), locks: LockSet? = nil
    ) {
        self.locks = locks
        self.hosts = hosts
        self.desired = desired
        self.observed = observed
        self.options = options
        self.observer = observer
        self.stopRequest = stopRequest
    }

    private struct State: Sendable {
        var failedNodes: [String: String] = [:]
        var failedApps: [String: String] = [:]
        var results: [StepResult] = []
        /// Application → the node it was stopped on for a move (its fallback), until promoted.
        var stoppedForMove: [String: String] = [:]
        var promoted: Set<String> = []
        var rollbacks: [String] = []
        /// Applications with a connection hold in place, by node: released by the plan's release steps, or by
        /// `compensate` when those did not run.
        var held: [String: Set<String>] = [:]
        /// Application → the node where its container was created ahead of time and not started yet.
        var staged: [String: String] = [:]
        /// Volumes a final copy or a replication of this run snapshotted: later replications of the run send
        /// that same snapshot, so every copy ends sharing the primary's newest one.
        var snapshotted: Set<VolumeID> = []
        /// Per replicated volume, the one look at its primary that all of this run's replications of it share
        /// (see `replicationStart`).
        var replicationStarts: [VolumeID: Task<Result<ReplicationStart, StepFailure>, Never>] = [:]
        /// Applications one of whose steps was skipped (an earlier failure on its node): like failed ones, their
        /// routes are left as they were.
        var skippedApps: [String: String] = [:]
    }

    /// What the replications of a volume send up to: a snapshot taken for them (or by this run's final copy), or
    /// the primary's newest snapshot when nothing was written since it (checked at `at`, the node's clock).
    enum ReplicationStart: Sendable {
        case snapshot(String)
        case unchanged(since: String, at: Int)
    }

    /// The run's shared bookkeeping, locked.
    private final class Shared: Sendable {
        let lock = Mutex(State())
        func withLock<R>(_ body: (inout State) -> R) -> R { lock.withLock { body(&$0) } }
    }

    public func run(_ plan: Plan) async -> RunReport {
        let state = Shared()
        let schedule = Pipelines(plan, applications: desired.applications, observed: observed)
        let slots = NodeSlots(perNode: options.parallel)
        let signals = StageSignals()
        await withTaskGroup(of: Void.self) { group in
            for (index, pipeline) in schedule.pipelines.enumerated() {
                group.addTask {
                    await self.runPipeline(pipeline, index, schedule: schedule, slots: slots, signals: signals, state: state)
                }
            }
        }
        await compensate(state: state)
        return state.withLock { s in
            RunReport(results: s.results, rollbacks: s.rollbacks, interrupted: stopRequest.isRequested)
        }
    }

    /// One application's pipeline (see `Pipelines`): its phases in order, each phase's lanes in parallel; a
    /// step first waits for what it needs of other pipelines, then for a slot on its node. A move of the
    /// application that failed or was interrupted is undone as soon as its pipeline ends, not at the run's end.
    private func runPipeline(
        _ pipeline: Pipelines.Pipeline, _ index: Int, schedule: Pipelines, slots: NodeSlots, signals: StageSignals,
        state: Shared
    ) async {
        for (stageIndex, stage) in pipeline.stages.enumerated() {
            // The phase's event once per run, when the first pipeline reaches it.
            if signals.firstToReach(stage.phase) { observer.event(.phaseStarted(stage.phase)) }
            await withTaskGroup(of: Void.self) { group in
                for (laneIndex, lane) in stage.lanes.enumerated() {
                    group.addTask {
                        for (i, step) in lane.enumerated() {
                            let key = Pipelines.StepKey(pipeline: index, stage: stageIndex, lane: laneIndex, index: i)
                            for wait in schedule.waits[key] ?? [] { await signals.wait(wait) }
                            let slot = "node:" + Self.lane(of: step)
                            await slots.acquire(slot)
                            let exclusive = Pipelines.exclusive(step)
                            if let exclusive { await slots.acquire(exclusive) }
                            await self.runStep(step, state: state)
                            if let exclusive { slots.release(exclusive) }
                            slots.release(slot)
                        }
                    }
                }
            }
            // A phase can take two stages (see Pipelines.stopForwardingFirst): it is over after its last.
            if stageIndex + 1 == pipeline.stages.count || pipeline.stages[stageIndex + 1].phase != stage.phase {
                signals.set(.init(app: pipeline.app, phase: stage.phase))
            }
        }
        if !pipeline.app.isEmpty { await compensate(state: state, only: pipeline.app) }
    }

    /// The steps of a lane run one after another, lanes in parallel. A lane is the step's node, except for a
    /// replication: its lane is the receiving node, so the replicas of one volume on different nodes are sent at
    /// the same time (from one snapshot, see `replicationStart`) and each node receives one stream at a time.
    static func lane(of step: Step) -> String {
        if case .replicate(_, let target) = step.action { return target }
        return step.node
    }

    // MARK: one step

    private func runStep(_ step: Step, state: Shared) async {
        let clock = ContinuousClock()
        if let locks {
            let unlocked = step.nodes.filter { !locks.covers($0, app: step.app) }
            if !unlocked.isEmpty {
                let failure = StepFailure(node: unlocked[0], step: StepText.describe(step),
                    message: "internal error: the run does not hold the lock of \(unlocked.joined(separator: ", ")); the step was not run")
                let result = StepResult(step: step, outcome: .failed(failure), duration: .zero)
                state.withLock { s in
                    s.results.append(result)
                    for node in step.nodes where s.failedNodes[node] == nil { s.failedNodes[node] = "not locked" }
                    if !step.app.isEmpty, s.failedApps[step.app] == nil { s.failedApps[step.app] = "not locked" }
                }
                observer.event(.stepFinished(result))
                return
            }
        }
        // A node where a step failed still loses the routes of applications that are gone (removed from the
        // manifests or placed on no node): leaving their DNAT would send clients to a container that was just
        // removed. Everything else on that node's routes stays as it was.
        var removalsOnly: (rules: [RouteRule], why: String)?
        if case .setRoutes(_, let remove) = step.action {
            removalsOnly = state.withLock { s in
                guard !stopRequest.isRequested, let failed = step.nodes.first(where: { s.failedNodes[$0] != nil }) else { return nil }
                let gone = remove.filter { r in
                    !r.tag.app.isEmpty && desired.placement[r.tag.app] == nil && s.failedApps[r.tag.app] == nil
                }
                return gone.isEmpty ? nil : (gone, "an earlier step failed on \(failed) (\(s.failedNodes[failed] ?? ""))")
            }
        }
        let skip: String? = removalsOnly != nil ? nil : state.withLock { s in
            // A hold is lifted even when its application failed (its routes then stay where they were) or the
            // run is stopping: only a node that failed keeps it, until the rule ends by itself.
            if case .releaseHold = step.action {
                for node in step.nodes { if let why = s.failedNodes[node] { return "an earlier step failed on \(node) (\(why))" } }
                return nil
            }
            if stopRequest.isRequested { return "interrupted before it started" }
            for node in step.nodes { if let why = s.failedNodes[node] { return "an earlier step failed on \(node) (\(why))" } }
            if !step.app.isEmpty, let why = s.failedApps[step.app] { return "an earlier step of \(step.app) failed (\(why))" }
            return nil
        }
        if let skip {
            let result = StepResult(step: step, outcome: .skipped(skip), duration: .zero)
            state.withLock { s in
                s.results.append(result)
                if !step.app.isEmpty, s.skippedApps[step.app] == nil { s.skippedApps[step.app] = skip }
            }
            observer.event(.stepFinished(result))
            return
        }
        observer.event(.stepStarted(step))
        let start = clock.now
        let outcome: StepOutcome
        var detail = ""
        let bytes = Mutex<UInt64?>(nil)
        do {
            if let removalsOnly {
                detail = try await removeRoutes(removalsOnly.rules, on: step, why: removalsOnly.why)
            } else {
                detail = try await perform(step, state: state, bytes: { v in bytes.withLock { $0 = v } })
            }
            outcome = .succeeded
        } catch {
            outcome = .failed(error)
        }
        let result = StepResult(step: step, outcome: outcome, duration: clock.now - start, detail: detail, bytes: bytes.withLock { $0 })
        state.withLock { s in
            s.results.append(result)
            if case .failed(let failure) = outcome {
                let why = "\(StepText.describe(step)) on \(failure.node)"
                // Replica upkeep that failed on a replica's node (it went away, its disk is full) concerns that
                // node only: the application and its other replicas go on.
                let local = step.action.isReplicaUpkeep && failure.node != step.node
                // A failed step stops its application's later steps; a node that could not be talked to also
                // fails every later step that needs it. A command that failed on a node that answers concerns
                // its application only: the other applications' pipelines there go on.
                if failure.unreachable || (local && step.action.isReplicaUpkeep), s.failedNodes[failure.node] == nil {
                    s.failedNodes[failure.node] = why
                }
                if !local, !step.app.isEmpty, s.failedApps[step.app] == nil { s.failedApps[step.app] = why }
            }
        }
        observer.event(.stepFinished(result))
        if outcome == .succeeded, let hold = options.holdAfter,
            hold == "after:" + StepJSON.action(step) || hold == "after:" + StepJSON.action(step) + ":" + step.app {
            await TestHold.wait(stop: stopRequest) {
                TextOutput.standardError.write("flocker-deploy: holding after \(StepText.describe(step)) on \(step.node) (FLOCKER_TEST_HOLD)\n")
            }
        }
    }

    private func host(_ node: String, _ step: String) throws(StepFailure) -> any RemoteHost {
        guard let host = hosts[node] else {
            throw StepFailure(node: node, step: step, message: "no connection to this node", unreachable: true)
        }
        return host
    }

    private func application(_ name: String, _ node: String, _ step: String) throws(StepFailure) -> Application {
        guard let app = desired.applications[name] else {
            throw StepFailure(node: node, step: step, message: "application \(name) is not in the application file")
        }
        return app
    }

    /// Runs `command` and fails the step unless it exits 0.
    @discardableResult
    private func check(
        _ host: any RemoteHost, _ command: RemoteCommand, stdin: [UInt8] = [], step: String, timeout: Duration? = nil
    ) async throws(StepFailure) -> String {
        try await host.check(command, stdin: stdin, step: step, timeout: timeout ?? options.commandTimeout)
    }

    private func perform(_ step: Step, state: Shared, bytes: (UInt64) -> Void) async throws(StepFailure) -> String {
        let text = StepText.describe(step)
        let node = try host(step.node, text)
        switch step.action {
        case .pullImage(let image, _):
            try await check(node, NodeCommands.pull(image), step: text)
            return ""
        case .createVolume(let v, let quota, let seed):
            guard let seed, !seed.entries.isEmpty else {
                try await check(node, NodeCommands.createVolume(v, quota: quota), step: text)
                return ""
            }
            return try await createSeededVolume(v, quota: quota, seed: seed, on: node, step: text)
        case .setQuota(let v, let quota):
            try await check(node, NodeCommands.setProperties(v.dataset, [NodeCommands.quotaValue(quota)]), step: text)
            return ""
        case .makeWritable(let v):
            try await check(node, NodeCommands.setProperties(v.dataset, ["readonly=off"]), step: text)
            return ""
        case .promote(let v, let epoch):
            try await check(node, NodeCommands.setProperties(v.dataset, ["flocker:epoch=\(epoch)", "flocker:role=primary", "readonly=off"]), step: text)
            try await check(node, NodeCommands.remount(v.dataset), step: text)
            return "epoch \(epoch)"
        case .rejoin(let v, let common, let keepAs, let epoch):
            try await check(node, NodeCommands.rejoin(v.dataset, common: common, keep: "flocker/\(keepAs)",
                                                      tag: "diverged", epoch: epoch), step: text)
            return "kept as flocker/\(keepAs)" + (common == nil ? "" : "; a copy from \(common ?? "") again")
        case .demoteStale(let v):
            try await check(node, NodeCommands.setProperties(v.dataset, ["readonly=on", "flocker:role=copy", "refquota=none"]), step: text)
            return ""
        case .copyVolume(let v, let targetName, let final):
            if !final && options.maxPreCopyRounds == 0 { return "skipped (--pre-copy-rounds 0: everything is copied after the stop)" }
            let target = try host(targetName, text)
            let transfer = VolumeTransfer(options: options)
            let observer = self.observer
            let (note, sent) = try await transfer.copy(
                v, from: node, sourceFacts: facts(step.node), to: target, targetFacts: facts(targetName), final: final,
                step: text, progress: { observer.event(.progress(step, $0)) })
            bytes(sent)
            if final { state.withLock { _ = $0.snapshotted.insert(v) } }
            return note
        case .stopApp(let app, let keep):
            // Where new connections are held (a move), the ones already open get a moment to end first.
            let held = state.withLock { $0.held[app]?.contains(step.node) ?? false }
            let drain = held ? Int(options.drain.components.seconds) : 0
            let printed = try await check(node, NodeCommands.stop(app, keep: keep, drain: drain), step: text)
            if keep { state.withLock { $0.stoppedForMove[app] = step.node } }
            return NodeCommands.drainNote(printed, limit: drain)
        case .handoff(let app, let targetName, let volumes):
            let target = try host(targetName, text)
            return try await handoff(app, volumes: volumes, source: node, target: target, step: text, state: state)
        case .startApp(let name):
            let app = try application(name, step.node, text)
            let note = try await start(app, on: node, step: text)
            try await waitReady(app, on: node, step: text)
            // Ready where it belongs: the container stopped elsewhere for the move is no fallback any more (an
            // application without volumes has no handoff to say so).
            state.withLock { $0.stoppedForMove[name] = nil }
            return note
        case .createApp(let name):
            let app = try application(name, step.node, text)
            let note = try await start(app, on: node, step: text, createOnly: true)
            state.withLock { $0.staged[name] = step.node }
            return note
        case .startCreated(let name):
            let app = try application(name, step.node, text)
            // (A service's address went on `lo` with the create.)
            try await check(node, RemoteCommand("docker", "start", NodeCommands.containerName(name)), step: text)
            state.withLock { $0.staged[name] = nil }
            try await waitReady(app, on: node, step: text)
            state.withLock { $0.stoppedForMove[name] = nil }
            return ""
        case .restartApp(let name):
            let app = try application(name, step.node, text)
            var note = ""
            do {
                try await check(node, NodeCommands.restart(name, restartPolicy: app.restartPolicy.dockerValue, serviceAddress: app.service?.address), step: text)
            } catch {
                // Docker can refuse to start a stopped container again ("port is already allocated", seen once
                // after sshd died during its first start): it holds no data (volumes do), so a new container of
                // the same configuration replaces it.
                try await check(node, NodeCommands.remove(name), step: text)
                _ = try await start(app, on: node, step: text)
                note = "replaced by a new container: Docker would not start the stopped one (\(error.stderr.isEmpty ? error.message : error.stderr))"
            }
            try await waitReady(app, on: node, step: text)
            state.withLock { $0.stoppedForMove[name] = nil }
            return note
        case .removeContainer(let app):
            try await check(node, NodeCommands.remove(app), step: text)
            return ""
        case .setRoutes(let add, let remove):
            // Applications that failed (or whose steps were skipped) keep their old routes: routes switch only
            // once an application is up. The step's line says what was applied and what was left, and why.
            let held = state.withLock { s in s.skippedApps.merging(s.failedApps) { _, failed in failed } }
            let keepAdd = add.filter { held[$0.tag.app] == nil }
            let keepRemove = remove.filter { held[$0.tag.app] == nil }
            let leftAdd = add.filter { held[$0.tag.app] != nil }
            let leftRemove = remove.filter { held[$0.tag.app] != nil }
            let rules = (add: keepAdd.filter { !$0.tag.isService }, remove: keepRemove.filter { !$0.tag.isService })
            if !rules.add.isEmpty || !rules.remove.isEmpty {
                try await check(node, NodeCommands.restoreRoutes, stdin: NodeCommands.routesInput(add: rules.add, remove: rules.remove), step: text)
            }
            let services = (add: keepAdd.map(\.tag).filter(\.isService), remove: keepRemove.map(\.tag).filter(\.isService))
            if !services.add.isEmpty || !services.remove.isEmpty {
                try await check(node, NodeCommands.serviceRoutes(add: services.add, remove: services.remove), step: text)
            }
            return RouteReport.detail(applied: (keepAdd, keepRemove), left: (leftAdd, leftRemove), why: held)
        case .pruneSnapshots(let v, let keep):
            return try await prune(v, keep: keep, on: node, step: text)
        case .pruneWithRetention(let v, let keep, let retention):
            return try await prune(v, keep: keep, retention: retention, on: node, step: text)
        case .replicate(let v, let targetName):
            let target = try host(targetName, text)
            let observer = self.observer
            let begin = try await replicationStart(v, on: node, step: text, state: state).get()
            let (note, sent) = try await VolumeTransfer(options: options).copy(
                v, from: node, sourceFacts: facts(step.node), to: target, targetFacts: facts(targetName), final: true,
                snapshot: false, step: text, progress: { observer.event(.progress(step, $0)) })
            bytes(sent)
            // The replica carries its primary's epoch and node, so that a failover onto it raises the epoch above
            // the primary's and knows where the primary was, even though that node cannot be asked then (`Outage`).
            if let primary = try await VolumeTransfer(options: options).query(v, on: node, step: text) {
                try await check(target, NodeCommands.setProperties(v.dataset, NodeCommands.copyRecord(epoch: primary.epoch, primaryNode: step.node)), step: text)
            }
            guard case .unchanged(let base, let at) = begin else { return note }
            // Nothing was written since `base`, which the replica now has: it is current as of the check, and
            // `status` counts its lag from then (SnapshotState.currentAsOf).
            try await check(target, NodeCommands.setProperties("\(v.dataset)@\(base)", ["flocker:checked=\(at)"]), step: text)
            return sent == 0 ? "up to date: nothing written since \(base), nothing sent" : note + " (nothing written since \(base))"
        case .removeReplica(let v, let primaryName):
            return try await removeReplica(v, on: node, primary: try host(primaryName, text), step: text)
        case .holdConnections(let app, let ports):
            let seconds = Int(options.connectionHold.components.seconds)
            guard seconds > 0 else { return "not held (--connection-hold 0): new connections are refused while \(app) is down" }
            state.withLock { _ = $0.held[app, default: []].insert(step.node) }
            // A hold that cannot be set costs only what holds save: the move goes on, and says so.
            let result = try await node.run(NodeCommands.hold(app, ports: ports, seconds: seconds, serviceAddress: desired.applications[app]?.service?.address), step: text, timeout: .seconds(30))
            guard result.status.isSuccess else {
                return "not held (iptables said: \(trim(result.stderrText))): new connections are refused while \(app) is down"
            }
            return "for at most \(seconds) s"
        case .uploadFiles(let name, _):
            return try await uploadFiles(try application(name, step.node, text), on: node, step: text)
        case .removeFiles(let app, let keep):
            try await check(node, NodeCommands.removeFiles(app, keep: keep), step: text)
            return ""
        case .releaseHold(let app):
            try await check(node, NodeCommands.releaseHold(app), step: text, timeout: .seconds(30))
            state.withLock { _ = $0.held[app]?.remove(step.node) }
            return ""
        case .takeSnapshot(let app, let volumes, let name, let stop):
            let datasets = volumes.map { VolumeID(app: app, volume: $0).dataset }
            let result = try await node.run(NodeCommands.takeSnapshot(datasets, name: name, stopping: stop ? app : nil),
                                            step: text, timeout: options.commandTimeout)
            guard result.status.isSuccess else {
                throw StepFailure(node: step.node, step: text, message: "zfs snapshot failed (\(result.status))", stderr: trim(result.stderrText))
            }
            return trim(result.stdoutText)
        case .createClone(let clone):
            let app = try application(clone.app, step.node, text)
            return try await createClone(clone, of: app, on: node, step: text)
        case .rollback(let v, let source, let snapshot, let keepAs, let pre):
            let dataset = try await VolumeTransfer(options: options).query(v, on: node, step: text)
            try await check(node, NodeCommands.rollback(v, source: source, snapshot: snapshot, keep: "flocker/\(keepAs)",
                                                        preRollback: pre, epoch: dataset?.epoch ?? 1), step: text)
            return "kept the state it replaced as flocker/\(keepAs)@\(pre)"
        case .destroyClone(let clone):
            try await check(node, NodeCommands.destroyClone(clone), step: text)
            return ""
        case .resetClone(let clone):
            return try await resetClone(clone, on: node, step: text)
        case .destroySnapshot(let v, let name):
            let result = try await node.run(NodeCommands.destroySnapshot(v.dataset, name), step: text, timeout: options.commandTimeout)
            guard result.status.isSuccess else {
                throw StepFailure(node: step.node, step: text, message: "zfs destroy failed (\(result.status))", stderr: trim(result.stderrText))
            }
            return trim(result.stdoutText)
        }
    }

    /// Removes `rules` only (the routes of applications that are gone), on a node where an earlier step failed.
    private func removeRoutes(_ rules: [RouteRule], on step: Step, why: String) async throws(StepFailure) -> String {
        let text = StepText.describe(step)
        let node = try host(step.node, text)
        try await check(node, NodeCommands.restoreRoutes, stdin: NodeCommands.routesInput(add: [], remove: rules), step: text)
        return "applied only the removals for applications no longer deployed (\(StepText.routeSummary(add: [], remove: rules))); "
            + "the rest left as it was: \(why)"
    }

    private func facts(_ node: String) -> NodeFacts { observed.nodes[node]?.facts ?? NodeFacts() }

    // MARK: start

    /// Runs (or creates) the application's container; returns a note when an existing one was used.
    private func start(_ app: Application, on node: any RemoteHost, step: String, createOnly: Bool = false) async throws(StepFailure) -> String {
        let nodeState = observed.nodes[node.node]
        let poolMount = nodeState?.facts.poolMountpoint ?? "/flocker"
        let mounts = app.volumes.map { spec -> (host: String, container: String) in
            let id = VolumeID(app: app.name, volume: spec.name)
            let observedMount = nodeState?.datasets[id]?.mountpoint ?? ""
            let hostPath = observedMount.hasPrefix("/") ? observedMount : "\(poolMount)/\(app.name).\(spec.name)"
            return (hostPath, spec.mountpoint)
        }
        let environment = LinkEnvironment.environment(of: app, nodeAddress: node.address)
        let file = environment.isEmpty ? nil : "\(NodeCommands.stateDirectory)/env/\(app.name).env"
        let command = NodeCommands.start(app, mounts: mounts, envFile: file, createOnly: createOnly,
                                         taken: desired.portsTaken(on: node.node, besides: app.name))
        let result = try await node.run(command, stdin: file == nil ? [] : NodeCommands.environmentFile(environment), step: step,
                                        timeout: options.commandTimeout)
        guard result.status.isSuccess else {
            throw StepFailure(node: node.node, step: step, message: "docker failed (\(result.status))", stderr: trim(result.stderrText))
        }
        return result.stdoutText.contains(NodeCommands.usedExistingContainer) ? "its container was there already (left by an interrupted run)" : ""
    }

    private func waitReady(_ app: Application, on node: any RemoteHost, step: String) async throws(StepFailure) {
        let seconds = Int(options.readyTimeout.components.seconds)
        let command = NodeCommands.waitReady(app.name, ports: app.ports.filter { $0.transport == .tcp }.map(\.internalPort), timeoutSeconds: seconds,
            bash: facts(node.node).hasBash)
        let result = try await node.run(command, step: step, timeout: options.readyTimeout + .seconds(30))
        guard result.status.isSuccess else {
            // The script says why on its first line ("flocker--web: the container exited instead of starting",
            // "… not ready after 60s …"), then the container's last log lines: the message is the why, in words.
            let lines = trim(result.stderrText).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let prefix = NodeCommands.containerName(app.name) + ": "
            let first = lines.first.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 } ?? ""
            throw StepFailure(node: node.node, step: step,
                              message: first.isEmpty ? "\(app.name) did not become ready (\(result.status))" : "\(app.name): \(first)",
                              stderr: lines.dropFirst().joined(separator: "\n"))
        }
    }

    // MARK: handoff

    private func handoff(
        _ app: String, volumes: [VolumeHandoff], source: any RemoteHost, target: any RemoteHost, step: String,
        state: Shared
    ) async throws(StepFailure) -> String {
        var attempted: [VolumeHandoff] = []
        do {
            // 1. The source stops being writable: from here on at most one writable copy exists.
            for v in volumes {
                try await check(source, NodeCommands.setProperties(VolumeID(app: app, volume: v.volume).dataset, ["readonly=on"]), step: step)
            }
            // 2. Promote the target: the new epoch first, then the role, then writable; then a fresh mount, so the
            //    application starts on exactly what was received (see NodeCommands.remount).
            for v in volumes {
                attempted.append(v)
                let ds = VolumeID(app: app, volume: v.volume).dataset
                try await check(target, NodeCommands.setProperties(ds, ["flocker:epoch=\(v.epoch)", "flocker:role=primary", "readonly=off"]), step: step)
                try await check(target, NodeCommands.remount(ds), step: step)
            }
        } catch {
            // Not every volume was promoted: undo, so the application can restart on the source.
            var undoErrors: [String] = []
            for v in attempted {
                let ds = VolumeID(app: app, volume: v.volume).dataset
                do { try await check(target, NodeCommands.setProperties(ds, ["readonly=on", "flocker:role=copy"]), step: step) }
                catch { undoErrors.append(error.description) }
            }
            for v in volumes {
                let ds = VolumeID(app: app, volume: v.volume).dataset
                do { try await check(source, NodeCommands.setProperties(ds, ["readonly=off"]), step: step) }
                catch { undoErrors.append(error.description) }
            }
            var failure = error
            if !undoErrors.isEmpty {
                failure.message += "; undoing the handoff also failed: " + undoErrors.joined(separator: "; ")
            }
            throw failure
        }
        state.withLock { s in
            s.promoted.insert(app)
            s.stoppedForMove[app] = nil
        }
        // 3. The source becomes a read-only copy. Failing here is harmless: the source is read-only with the
        //    lower epoch, and the next run demotes it.
        var note = ""
        for v in volumes {
            do {
                try await check(source, NodeCommands.setProperties(VolumeID(app: app, volume: v.volume).dataset,
                    ["flocker:role=copy", "refquota=none"] + NodeCommands.copyRecord(epoch: v.epoch, primaryNode: target.node)), step: step)
            } catch {
                note = "promoted; the source's copy will be relabelled by the next run (\(error.message))"
            }
        }
        return note.isEmpty ? "epoch \(volumes.map(\.epoch).max() ?? 0)" : note
    }

    // MARK: prune

    private func prune(_ v: VolumeID, keep: [String], retention: SnapshotRetention? = nil, on node: any RemoteHost,
                       step: String) async throws(StepFailure) -> String {
        let transfer = VolumeTransfer(options: options)
        guard let dataset = try await transfer.query(v, on: node, step: step) else { return "no dataset" }
        let ours = dataset.snapshots.filter { $0.sequence != nil }
        guard let newest = ours.last else { return "nothing to prune" }
        // The retention decides on the snapshots as they are now, this run's newest included.
        let retained = retention.map {
            Retention.keptNames(ours.map { Retention.Snapshot(name: $0.name, created: $0.creation) }, $0,
                                secondsPerHour: options.retentionSecondsPerHour)
        } ?? []
        let doomed = ours.filter { $0.name != newest.name && !keep.contains($0.name) && !retained.contains($0.name) }.map(\.name)
        let kept = retention == nil ? "" : " (the retention keeps \(retained.count) of the \(ours.count) automatic snapshots)"
        guard !doomed.isEmpty else { return "nothing to prune" + kept }
        try await check(node, NodeCommands.destroySnapshots(v.dataset, doomed), step: step)
        return "removed \(doomed.count) snapshot\(doomed.count == 1 ? "" : "s"), kept \(newest.name)"
            + (retention == nil ? "" : " and \(retained.subtracting([newest.name]).count) more by the retention")
    }

    // MARK: replicas

    /// The start every replication of `v` in this run shares: the first one to get here looks at the primary
    /// (and snapshots it, unless nothing was written since its newest snapshot); the others, running at the same
    /// time towards other nodes, wait for that and send the same snapshot, so all replicas end sharing it.
    private func replicationStart(_ v: VolumeID, on node: any RemoteHost, step: String, state: Shared)
        async -> Result<ReplicationStart, StepFailure>
    {
        let task = state.withLock { s -> Task<Result<ReplicationStart, StepFailure>, Never> in
            if let started = s.replicationStarts[v] { return started }
            let snapshotted = s.snapshotted.contains(v)
            let started = Task { await self.startReplication(v, on: node, step: step, snapshotted: snapshotted) }
            s.replicationStarts[v] = started
            return started
        }
        return await task.value
    }

    /// Looks at the primary and snapshots it when something was written since its newest snapshot (or when it
    /// has none). A primary this run's final copy snapshotted just now is sent that snapshot.
    private func startReplication(_ v: VolumeID, on node: any RemoteHost, step: String, snapshotted: Bool)
        async -> Result<ReplicationStart, StepFailure>
    {
        do throws(StepFailure) {
            guard let primary = try await VolumeTransfer(options: options).query(v, on: node, step: step) else {
                throw StepFailure(node: node.node, step: step, message: "volume \(v.dataset) is missing here")
            }
            let newest = primary.newestSnapshot
            if snapshotted, let newest { return .success(.snapshot(newest.name)) }
            // `snapshots: every:`: an automatic snapshot younger than that is sent as it is, and none is taken.
            if let every = desired.retention[v.app]?.every, let last = primary.snapshots.last(where: { $0.sequence != nil }),
                last.name == newest?.name, Timestamp.now - last.creation < every {
                return .success(.snapshot(last.name))
            }
            // `written` and the increment are measured from the dataset's most recent snapshot: only when that is
            // ours can "nothing since" be trusted (a snapshot someone else took later would hide writes).
            let latest = newest.flatMap { n in primary.otherSnapshots.contains { $0.createtxg > n.createtxg } ? nil : n }
            // A number no copy uses yet (a copy may hold a newer number than the primary after a rejoin).
            let known = (primary.snapshots + observed.datasets(of: v).flatMap(\.dataset.snapshots)).compactMap(\.sequence)
            let taken = try await node.run(NodeCommands.snapshot(v.dataset, sequence: (known.max() ?? 0) + 1,
                                                                 unlessUnchangedSince: latest?.name),
                                           step: step, timeout: options.commandTimeout)
            guard taken.status.isSuccess else {
                throw StepFailure(node: node.node, step: step, message: "zfs snapshot failed (\(taken.status))", stderr: trim(taken.stderrText))
            }
            let printed = trim(taken.stdoutText).split(separator: " ")
            if printed.first == "unchanged", let latest, printed.count == 2, let at = Int(printed[1]) {
                return .success(.unchanged(since: latest.name, at: at))
            }
            guard let name = printed.first, name.hasPrefix("flocker-") else {
                throw StepFailure(node: node.node, step: step, message: "zfs snapshot printed no snapshot name", stderr: trim(taken.stdoutText))
            }
            return .success(.snapshot(String(name)))
        } catch {
            return .failure(error)
        }
    }

    /// Destroys a replica no longer wanted, after checking again, now, that it is a read-only copy and that the
    /// primary holds every snapshot it has (nothing is destroyed that exists nowhere else). Otherwise keeps it.
    private func removeReplica(_ v: VolumeID, on node: any RemoteHost, primary: any RemoteHost, step: String)
        async throws(StepFailure) -> String
    {
        let transfer = VolumeTransfer(options: options)
        guard let copy = try await transfer.query(v, on: node, step: step) else { return "already gone" }
        guard copy.role == .copy, copy.readonly else {
            return "kept: it is \(copy.role == .primary ? "a primary" : "writable") here, not a read-only copy"
        }
        guard let main = try await transfer.query(v, on: primary, step: step), main.role == .primary else {
            return "kept: the primary on \(primary.node) was not found"
        }
        let known = Set((main.snapshots + main.otherSnapshots).map(\.guid))
        let unique = (copy.snapshots + copy.otherSnapshots).filter { !known.contains($0.guid) }
        guard unique.isEmpty else {
            return "kept: it holds snapshots the primary lacks (\(unique.map(\.name).joined(separator: ", ")))"
        }
        try await check(node, NodeCommands.destroyCopy(v.dataset), step: step)
        return "removed (the primary on \(primary.node) holds all its snapshots)"
    }

    // MARK: rollback

    /// Applications stopped for a move that was not promoted go back to their source.
    /// With `only`, for that application alone (its pipeline ended); what is undone is taken out of the run's
    /// bookkeeping, so that the run's final pass undoes only what is left.
    private func compensate(state: Shared, only: String? = nil) async {
        func mine(_ app: String) -> Bool { only == nil || only == app }
        // Holds whose release did not run (the run was stopped, a step of the release failed): lifted now, so
        // the rollbacks below are reachable at once; a node that cannot be reached keeps its hold until it ends.
        let held = state.withLock { s in
            let taken = s.held.filter { !$0.value.isEmpty && mine($0.key) }
            for app in taken.keys { s.held[app] = nil }
            return taken
        }
        for (app, nodes) in held.sorted(by: { $0.key < $1.key }) {
            for nodeName in nodes.sorted() {
                if let h = hosts[nodeName] { _ = try? await h.run(NodeCommands.releaseHold(app), stdin: [], timeout: .seconds(30)) }
            }
        }
        // Containers created ahead of a start that did not happen are removed (the volume stays a copy there).
        let staged = state.withLock { s in
            let taken = s.staged.filter { !s.promoted.contains($0.key) && mine($0.key) }
            for app in taken.keys { s.staged[app] = nil }
            return taken
        }
        for (app, nodeName) in staged.sorted(by: { $0.key < $1.key }) {
            if let h = hosts[nodeName] { _ = try? await h.run(NodeCommands.remove(app), stdin: [], timeout: .seconds(60)) }
        }
        let pending = state.withLock { s in
            let taken = s.stoppedForMove.filter { !s.promoted.contains($0.key) && mine($0.key) }
            for app in taken.keys { s.stoppedForMove[app] = nil }
            return taken
        }
        for (app, sourceName) in pending.sorted(by: { $0.key < $1.key }) {
            let step = "restart \(app) on \(sourceName) (rollback)"
            var message: String
            do {
                let source = try host(sourceName, step)
                let volumes = desired.applications[app]?.volumes ?? []
                for spec in volumes {
                    try await check(source, NodeCommands.setProperties(VolumeID(app: app, volume: spec.name).dataset, ["readonly=off"]), step: step)
                }
                let policy = observed.nodes[sourceName]?.containers[app]?.restartPolicy ?? "no"
                try await check(source, NodeCommands.restart(app, restartPolicy: policy, serviceAddress: desired.applications[app]?.service?.address), step: step)
                message = "rollback: \(app) was restarted on \(sourceName), where its data still is"
            } catch {
                message = RunReport.failedRollbackPrefix + "\(app) is stopped on \(sourceName) and could not be restarted (\(error.description)); its data is intact there: run flocker-deploy again"
            }
            state.withLock { $0.rollbacks.append(message) }
            observer.event(.note(message))
        }
    }
}
