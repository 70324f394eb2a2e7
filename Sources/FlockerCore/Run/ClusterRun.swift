import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run of a command that changes nodes (see `ClusterOperation`): discover every node, plan, lock the
/// nodes the plan touches, look at them again and plan again under the lock, print the plan, execute it,
/// audit, release. The command-line layer parses options and calls `run`; everything else happens here, the
/// same for every command.
///
/// The lock rule: no step runs on a node whose lock the run does not hold. The run keeps taking locks until
/// the plan's nodes are a subset of the locked ones (each round locks at least one more node of the
/// deployment file, so it ends), and the executor checks every step against the locks before dispatching it.
public struct ClusterRun: Sendable {
    public struct Options: Sendable {
        /// Print the plan and change nothing.
        public var dryRun = false
        /// JSON lines on stdout instead of text.
        public var json = false
        public var execution = ExecutionOptions()
        /// `-v`: route steps print every port they change, each node on its own line.
        public var verbose = false
        /// How long to wait for another run's lock before giving up (zero: fail at once).
        public var lockWait: Duration = .zero
        /// A lock whose holder has not shown signs of life for this long is taken over.
        public var lockExpiry: Duration = .seconds(600)
        /// How long a run that takes over a dead run's lock waits for that run's remote commands still running
        /// on the node to end, before it stops them.
        public var leftoverWait: Duration = .seconds(30)
        /// SHA-256 of the two manifests (recorded in locks and audit records).
        public var manifestsHash = ""
        /// The command line, for the lock's record.
        public var commandLine = "flocker-deploy"
        /// Called with the executor's report once the plan ran (not for an empty plan or a dry run): `sync
        /// --every` sums a pass up from it.
        public var onReport: (@Sendable (RunReport) -> Void)?
        public init() {}
    }

    public let operation: any ClusterOperation
    public let connector: any NodeConnector
    public let options: Options
    public let stopRequest: StopRequest
    let out: TextOutput
    let err: TextOutput
    var desired: DesiredState { operation.desired }

    public init(operation: any ClusterOperation, connector: any NodeConnector, options: Options,
                stopRequest: StopRequest = StopRequest(), out: TextOutput = .standardOutput,
                err: TextOutput = .standardError) {
        self.operation = operation
        self.connector = connector
        self.options = options
        self.stopRequest = stopRequest
        self.out = out
        self.err = err
    }

    /// A deploy of `desired`.
    public init(desired: DesiredState, connector: any NodeConnector, options: Options,
                stopRequest: StopRequest = StopRequest(), out: TextOutput = .standardOutput,
                err: TextOutput = .standardError) {
        self.init(operation: DeployOperation(desired), connector: connector, options: options,
                  stopRequest: stopRequest, out: out, err: err)
    }

    /// Runs and returns the exit code (see `FlockerExit`).
    public func run() async -> FlockerExit {
        let clock = ContinuousClock()
        var discovery = Discovery(connector: connector)
        discovery.timeout = options.execution.queryTimeout
        discovery.withImages = false   // a converged cluster needs no image list; a plan with changes gets one
        let found: Discovery.Result
        let text = TextReporter(out: out, full: options.verbose)
        let json = JSONReporter(out: out)
        let c = await discovery.collect(desired.nodes)
        if operation.goesOnWithoutUnreachableNodes {
            for (node, why) in c.unreachable.sorted(by: { $0.key < $1.key }) {
                err.write("warning: \(node): cannot be reached, skipped (\(why))\n")
            }
            found = Discovery.Result(hosts: c.hosts, observed: c.observed)
        } else {
            guard c.errors.isEmpty else {
                for host in c.hosts.values { await host.close() }
                let hints = Outage.assess(desired: desired, observed: c.observed).hints(desired, now: Timestamp.now)
                report(error: "cannot reach every node; nothing was changed", details: c.errors.map(\.description) + hints,
                       code: .nodeUnreachable, json: json)
                return .nodeUnreachable
            }
            found = Discovery.Result(hosts: c.hosts, observed: ObservedState(nodes: c.states))
        }
        // Every remote command of this run carries its token, so that a run taking over its lock after it died
        // can find the commands it left running (see RunLock.leftoversCommand).
        let holder = LockHolder(
            token: UUID().uuidString.lowercased(), user: ProcessInfo.processInfo.environment["USER"] ?? NSUserName(),
            host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), started: Timestamp.now,
            manifests: options.manifestsHash, command: options.commandLine)
        for host in found.hosts.values { host.tagCommands(run: holder.token) }
        var code = await run(found, holder: holder, start: clock.now, text: text, json: json)
        for host in found.hosts.values { await host.close() }
        if code == .success && !found.observed.unreachable.isEmpty && !operation.unreachableNodesFailTheRun {
            err.write("warning: skipped \(found.observed.unreachable.keys.sorted().joined(separator: ", ")): not reachable; run again once they answer\n")
        } else if code == .success && !found.observed.unreachable.isEmpty {
            let names = found.observed.unreachable.keys.sorted().joined(separator: ", ")
            report(error: "\(operation.name) could not reach \(names); the other nodes were done", details: [], code: .nodeUnreachable, json: json)
            code = .nodeUnreachable
        }
        return code
    }

    private func run(_ found: Discovery.Result, holder: LockHolder, start: ContinuousClock.Instant, text: TextReporter,
                     json: JSONReporter) async -> FlockerExit {
        let clock = ContinuousClock()
        for (node, state) in found.observed.nodes.sorted(by: { $0.key < $1.key }) where !state.facts.problems.isEmpty {
            err.write(state.facts.problems.map { "warning: \(node): \($0)\n" }.joined())
        }

        // 2. Plan.
        var plan: Plan
        var firstLook = found.observed
        switch makePlan(firstLook, json: json) {
        case .plan(let p): plan = p
        case .refused(let code): return code
        }
        // Nothing to do, as far as this look shows: unless another run is half-way through changing these nodes
        // (a move between its stop and its start looks converged from the old placement). Waited for with
        // --lock-wait, else reported: "no changes" would be read as converged.
        if plan.isEmpty {
            switch await waitForRunsInFlight(&plan, observed: &firstLook, hosts: found.hosts, json: json) {
            case .locked: break
            case .stopped(let code): return code
            }
        }
        if !plan.isEmpty && options.dryRun {
            // The first look did not list images: look again at the nodes the plan touches, with them, so the
            // dry run shows the pull steps a real run would take.
            var observed = firstLook
            if let code = await lookAgain(at: plan.nodes, hosts: found.hosts, into: &observed, json: json) { return code }
            switch makePlan(observed, json: json) {
            case .plan(let p): plan = p
            case .refused(let code): return code
            }
        }
        if plan.isEmpty || options.dryRun {
            if options.json { json.plan(plan) } else { text.plan(plan) }
            if options.json {
                json.summary(RunReport(results: [], rollbacks: [], interrupted: false), elapsed: clock.now - start, exitCode: 0,
                             dryRun: options.dryRun, changes: !plan.isEmpty)
            } else if options.dryRun && !plan.isEmpty { out.write("Dry run: nothing was changed.\n") }
            return .success
        }

        // 3. Lock every node the plan touches, then look again: another run may have changed things while
        //    this one waited. Plan anew under the lock, and take more locks while the new plan needs them.
        let locks = LockSet(holder: holder)
        var observed = firstLook
        switch await lockPlannedNodes(&plan, observed: &observed, locks: locks, hosts: found.hosts, json: json) {
        case .locked: break
        case .stopped(let code):
            await locks.release()
            return code
        }
        if options.json { json.plan(plan) } else { text.plan(plan) }
        if plan.isEmpty {
            await locks.release()
            if options.json { json.summary(RunReport(results: [], rollbacks: [], interrupted: false), elapsed: clock.now - start, exitCode: 0) }
            return .success
        }

        // 4. Execute, keeping the locks alive.
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(30))
                if Task.isCancelled { break }
                await locks.heartbeat()
            }
        }
        let observer: any RunObserver = options.json ? json : text
        let executor = Executor(hosts: found.hosts, desired: desired, observed: observed,
                                options: options.execution, observer: observer, stopRequest: stopRequest, locks: locks)
        let report = await executor.run(plan)
        heartbeat.cancel()
        options.onReport?(report)
        let code: FlockerExit = report.interrupted ? .interrupted : (report.isSuccess ? .success : .stepFailed)

        // 5. An audit record on every node the run changed, then release the locks.
        await audit(report, code: code, hosts: found.hosts, elapsed: clock.now - start, holder: locks.holder)
        await locks.release()
        if options.json { json.summary(report, elapsed: clock.now - start, exitCode: code.rawValue) }
        else { text.summary(report, elapsed: clock.now - start) }
        return code
    }

    private func audit(_ report: RunReport, code: FlockerExit, hosts: [String: any RemoteHost], elapsed: Duration, holder: LockHolder) async {
        var changes: [String: [String]] = [:]
        for r in report.results {
            if case .skipped = r.outcome { continue }
            for node in r.step.nodes { changes[node, default: []].append(StepText.describe(r.step)) }
        }
        let result = report.interrupted ? "interrupted" : (report.isSuccess ? "succeeded" : "failed")
        for (node, list) in changes.sorted(by: { $0.key < $1.key }) {
            guard let host = hosts[node] else { continue }
            let record = AuditRecord(time: Timestamp.now, user: holder.user, host: holder.host, manifests: holder.manifests,
                                     result: result, steps: report.results.count, failed: report.failures.count,
                                     seconds: Seconds.value(elapsed), changes: list)
            _ = try? await host.run(AuditRecord.appendCommand, stdin: record.line, timeout: .seconds(15))
        }
    }

    /// The plan for `observed`; a refusal is reported here and returned as its exit code.
    private func makePlan(_ observed: ObservedState, json: JSONReporter) -> Planned {
        do throws(PlanRefusal) {
            return .plan(try operation.plan(observed))
        } catch {
            let code: FlockerExit = error.unsafe ? .refusedUnsafe : .stepFailed
            report(error: "refusing to act; nothing was changed", details: error.problems.map(\.description), code: code, json: json)
            return .refused(code)
        }
    }

    private enum Planned {
        case plan(Plan)
        case refused(FlockerExit)
    }

    private enum Locking {
        case locked
        case stopped(FlockerExit)
    }

    /// Takes the locks of every node `plan` touches, looks at the locked nodes again and plans again, until the
    /// plan's nodes are all locked. Each round that does not end locks at least one node more, and a plan only
    /// ever names nodes of the deployment file, so the loop ends within that many rounds; the bound below is a
    /// second guard. Locks are taken in name order: when a node the new plan needs sorts before one already
    /// held, every lock is released and the whole set taken again in order, so that two runs that want
    /// overlapping nodes always meet at the first node they share (no run holds a part of another's nodes).
    private func lockPlannedNodes(_ plan: inout Plan, observed: inout ObservedState, locks: LockSet,
                                  hosts: [String: any RemoteHost], json: JSONReporter) async -> Locking {
        // Every lock a plan can need: each node's own and each application's on each node.
        let rounds = desired.nodes.count * (desired.applications.count + 1) + 1
        let warn: @Sendable (String) -> Void = { [err] in err.write("warning: \($0)\n") }
        // Applications whose replica upkeep is left to the run that holds their locks (a sync in progress).
        var leftToOthers = Set<String>()
        for _ in 0..<rounds {
            plan = plan.leaving(leftToOthers) { "\($0): its replicas are being kept by another run that holds its locks (a sync): left to it" }
            var missing = operation.locks(for: plan).subtracting(locks.keys)
            if missing.isEmpty { return .locked }
            // Upkeep-only applications' locks are tried without waiting: one that is held is left to its holder.
            let upkeep = plan.upkeepOnlyApplications
            let optional = missing.filter { $0.app.map(upkeep.contains) ?? false }
            missing.subtract(optional)
            for key in optional.sorted() {
                guard let app = key.app, !leftToOthers.contains(app), let host = hosts[key.node] else { continue }
                if let busy = await locks.acquire(keys: [(key, host)], wait: .zero, expiry: options.lockExpiry,
                                                  leftoverWait: options.leftoverWait, stop: stopRequest, warn: warn) {
                    if !busy.failures.isEmpty { return .stopped(lockFailure(busy, json: json)) }
                    leftToOthers.insert(app)
                }
            }
            if !leftToOthers.isEmpty {
                await locks.release(keys: locks.keys.filter { $0.app.map(leftToOthers.contains) ?? false }.sorted())
            }
            if missing.isEmpty {
                if let code = await lookAgain(at: Set(locks.keys.map(\.node)), hosts: hosts, into: &observed, json: json) { return .stopped(code) }
                switch makePlan(observed, json: json) {
                case .plan(let p): plan = p
                case .refused(let code): return .stopped(code)
                }
                continue
            }
            if let unknown = missing.sorted().first(where: { hosts[$0.node] == nil }) {
                report(error: "the plan needs node \(unknown.node), which is not connected; nothing was changed", details: [], code: .locked, json: json)
                return .stopped(.locked)
            }
            var wanted = locks.keys.union(missing)
            if let held = locks.keys.max(), let first = missing.min(), first < held {
                await locks.release()
                wanted = operation.locks(for: plan).union(wanted)
            }
            if let busy = await locks.acquire(keys: wanted.sorted().compactMap { k in hosts[k.node].map { (k, $0) } },
                                              wait: options.lockWait, expiry: options.lockExpiry, leftoverWait: options.leftoverWait,
                                              stop: stopRequest, warn: warn) {
                return .stopped(lockFailure(busy, json: json))
            }
            let lockedNodes = Set(locks.keys.map(\.node))
            if let code = await lookAgain(at: lockedNodes, hosts: hosts, into: &observed, json: json) { return .stopped(code) }
            switch makePlan(observed, json: json) {
            case .plan(let p): plan = p
            case .refused(let code): return .stopped(code)
            }
        }
        plan = plan.leaving(leftToOthers) { "\($0): its replicas are being kept by another run that holds its locks (a sync): left to it" }
        let uncovered = operation.locks(for: plan).subtracting(locks.keys)
        if uncovered.isEmpty { return .locked }
        report(error: "the plan kept needing locks this run had not taken (\(uncovered.sorted().map(\.description).joined(separator: ", "))) after \(rounds) rounds: other runs keep changing the cluster; nothing was changed",
               details: ["run again when the other runs are done (see `flocker-deploy lock status`)"], code: .locked, json: json)
        return .stopped(.locked)
    }

    /// The locks other runs hold on the nodes seen, and are alive (heartbeat within the expiry, and not a process
    /// of this machine that is gone), as lines. A sync's are left out: it only keeps replicas, which changes
    /// nothing a plan with nothing to do compares. A dead run's lock stays for the next run that changes something.
    private func runsInFlight(_ observed: ObservedState) -> [String] {
        let expiry = Int(options.lockExpiry.components.seconds)
        return observed.nodes.sorted { $0.key < $1.key }.flatMap { node, state in
            state.locks.filter {
                $0.idleSeconds <= expiry && $0.holder?.isSync != true && !RunLock.isDeadLocalHolder($0.holder)
            }.map { lock in
                "\(node): \(lock.app.map { "\($0)'s lock" } ?? "the node's lock") held by \(lock.holder?.description ?? "a run") (\(lock.holder?.command ?? "?")), active \(lock.idleSeconds)s ago"
            }
        }
    }

    /// For a plan with nothing to do: while other runs hold locks on the nodes, looks again every second (up to
    /// --lock-wait) and plans anew; with no wait left, reports them (exit 4).
    private func waitForRunsInFlight(_ plan: inout Plan, observed: inout ObservedState, hosts: [String: any RemoteHost],
                                     json: JSONReporter) async -> Locking {
        let clock = ContinuousClock()
        let deadline = clock.now + options.lockWait
        while plan.isEmpty {
            let busy = runsInFlight(observed)
            if busy.isEmpty { return .locked }
            if stopRequest.isRequested {
                report(error: "interrupted while waiting for another run; nothing was changed", details: busy, code: .interrupted, json: json)
                return .stopped(.interrupted)
            }
            if clock.now >= deadline {
                report(error: "another run is changing these nodes, so this look may be half-way through its changes; nothing was changed (wait for it with --lock-wait SECONDS, or see `flocker-deploy lock status`)",
                       details: busy, code: .locked, json: json)
                return .stopped(.locked)
            }
            try? await Task.sleep(for: .seconds(1))
            if let code = await lookAgain(at: Set(hosts.keys), hosts: hosts, into: &observed, json: json) { return .stopped(code) }
            switch makePlan(observed, json: json) {
            case .plan(let p): plan = p
            case .refused(let code): return .stopped(code)
            }
        }
        return .locked
    }

    /// Reports why the locks could not be taken; returns the exit code.
    private func lockFailure(_ error: LockSet.Busy, json: JSONReporter) -> FlockerExit {
        let details = error.description.split(separator: "\n").map(String.init)
        if stopRequest.isRequested {
            report(error: "interrupted while waiting for the lock; nothing was changed", details: details, code: .interrupted, json: json)
            return .interrupted
        }
        if error.failures.isEmpty {
            report(error: "another run holds the lock; nothing was changed (wait for it with --lock-wait SECONDS, or see `flocker-deploy lock status`)",
                   details: details, code: .locked, json: json)
            return .locked
        }
        report(error: "could not take the lock; nothing was changed", details: details, code: .stepFailed, json: json)
        return .stepFailed
    }

    /// Discovers `nodes` again, images included, over their open connections and in parallel, into
    /// `observed`. Every node that no longer answers is reported here (all of them, not only the first); the
    /// exit code is returned.
    private func lookAgain(at nodes: Set<String>, hosts: [String: any RemoteHost], into observed: inout ObservedState,
                           json: JSONReporter) async -> FlockerExit? {
        let discovery = {
            var d = Discovery(connector: connector)
            d.timeout = options.execution.queryTimeout
            return d
        }()
        // The closure takes its value from a function: Swift 6.3.1 at -O miscompiles a task closure that
        // returns from both arms of a do/catch (see Discovery.rediscoverResult).
        let outcomes = await withTaskGroup(of: (String, Swift.Result<NodeState, RemoteError>).self) { group in
            for node in nodes {
                guard let host = hosts[node] else { continue }
                group.addTask { (node, await discovery.rediscoverResult(host)) }
            }
            var all: [String: Swift.Result<NodeState, RemoteError>] = [:]
            for await (node, outcome) in group { all[node] = outcome }
            return all
        }
        var errors: [String] = []
        for (node, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .success(let state): observed.nodes[node] = state
            case .failure(let error): errors.append(error.description)
            }
        }
        guard errors.isEmpty else {
            report(error: "cannot reach every node; nothing was changed", details: errors, code: .nodeUnreachable, json: json)
            return .nodeUnreachable
        }
        return nil
    }

    private func report(error: String, details: [String], code: FlockerExit, json: JSONReporter) {
        if options.json {
            json.error(error, details: details, exitCode: code)
        }
        err.write("error: \(error)\n" + details.map { "  " + $0.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }.joined())
    }
}
