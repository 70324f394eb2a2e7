import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `flocker-deploy DEPLOYMENT APPLICATION` run: discover every node, plan, print the plan, execute it,
/// report. The command-line layer parses options and calls `run`; everything else happens here.
public struct DeployRun: Sendable {
    public struct Options: Sendable {
        /// Print the plan and change nothing.
        public var dryRun = false
        /// JSON lines on stdout instead of text.
        public var json = false
        public var execution = ExecutionOptions()
        /// How long to wait for another run's lock before giving up (zero: fail at once).
        public var lockWait: Duration = .zero
        /// A lock whose holder has not shown signs of life for this long is taken over.
        public var lockExpiry: Duration = .seconds(600)
        /// SHA-256 of the two manifests (recorded in locks and audit records).
        public var manifestsHash = ""
        /// The command line, for the lock's record.
        public var commandLine = "flocker-deploy"
        public init() {}
    }

    public let desired: DesiredState
    public let connector: any NodeConnector
    public let options: Options
    public let stopRequest: StopRequest
    let out: TextOutput
    let err: TextOutput

    public init(desired: DesiredState, connector: any NodeConnector, options: Options, stopRequest: StopRequest = StopRequest(),
                out: TextOutput = .standardOutput, err: TextOutput = .standardError) {
        self.desired = desired
        self.connector = connector
        self.options = options
        self.stopRequest = stopRequest
        self.out = out
        self.err = err
    }

    /// Runs and returns the exit code (see `FlockerExit`).
    public func run() async -> FlockerExit {
        let clock = ContinuousClock()
        var discovery = Discovery(connector: connector)
        discovery.withImages = false   // a converged cluster needs no image list; a plan with changes gets one
        let found: Discovery.Result
        let text = TextReporter(out: out)
        let json = JSONReporter(out: out)
        do throws(Discovery.Failure) {
            found = try await discovery.discover(desired.nodes)
        } catch {
            report(error: "cannot reach every node; nothing was changed", details: error.errors.map(\.description), code: .nodeUnreachable, json: json)
            return .nodeUnreachable
        }
        let code = await run(found, start: clock.now, text: text, json: json)
        for host in found.hosts.values { await host.close() }
        return code
    }

    private func run(_ found: Discovery.Result, start: ContinuousClock.Instant, text: TextReporter, json: JSONReporter) async -> FlockerExit {
        let clock = ContinuousClock()
        for (node, state) in found.observed.nodes.sorted(by: { $0.key < $1.key }) where !state.facts.problems.isEmpty {
            err.write(state.facts.problems.map { "warning: \(node): \($0)\n" }.joined())
        }

        // 2. Plan.
        var plan: Plan
        switch makePlan(found.observed, json: json) {
        case .plan(let p): plan = p
        case .refused(let code): return code
        }
        if !plan.isEmpty && options.dryRun {
            // The first look did not list images: look again at the nodes the plan touches, with them, so the
            // dry run shows the pull steps a real run would take.
            var observed = found.observed
            if let code = await lookAgain(at: plan.nodes, hosts: found.hosts, into: &observed, json: json) { return code }
            switch makePlan(observed, json: json) {
            case .plan(let p): plan = p
            case .refused(let code): return code
            }
        }
        if plan.isEmpty || options.dryRun {
            if options.json { json.plan(plan) } else { text.plan(plan) }
            if options.json { json.summary(RunReport(results: [], rollbacks: [], interrupted: false), elapsed: clock.now - start, exitCode: 0) }
            else if options.dryRun && !plan.isEmpty { out.write("Dry run: nothing was changed.\n") }
            return .success
        }

        // 3. Lock every node the plan touches, then look again: another run may have changed things while
        //    this one waited. Plan anew under the lock (taking more locks if the new plan needs them).
        let locks = LockSet(holder: LockHolder(
            token: UUID().uuidString.lowercased(), user: ProcessInfo.processInfo.environment["USER"] ?? NSUserName(),
            host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), started: Timestamp.now,
            manifests: options.manifestsHash, command: options.commandLine))
        var observed = found.observed
        for _ in 0..<3 {
            do throws(LockSet.Busy) {
                try await locks.acquire(plan.nodes.sorted().compactMap { found.hosts[$0] }, wait: options.lockWait,
                                        expiry: options.lockExpiry, stop: stopRequest) { [err] in err.write("warning: \($0)\n") }
            } catch {
                if stopRequest.isRequested {
                    report(error: "interrupted while waiting for the lock; nothing was changed", details: error.description.split(separator: "\n").map(String.init), code: .interrupted, json: json)
                    return .interrupted
                }
                report(error: error.failures.isEmpty ? "another run holds the lock; nothing was changed (wait for it with --lock-wait SECONDS, or see `flocker-deploy lock status`)" : "could not take the lock; nothing was changed",
                       details: error.description.split(separator: "\n").map(String.init), code: error.failures.isEmpty ? .locked : .stepFailed, json: json)
                return error.failures.isEmpty ? .locked : .stepFailed
            }
            if let code = await lookAgain(at: locks.nodes, hosts: found.hosts, into: &observed, json: json) {
                await locks.release()
                return code
            }
            switch makePlan(observed, json: json) {
            case .plan(let p): plan = p
            case .refused(let code):
                await locks.release()
                return code
            }
            if plan.nodes.isSubset(of: locks.nodes) { break }
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
        let code: FlockerExit = report.interrupted ? .interrupted : (report.failures.isEmpty ? .success : .stepFailed)

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
        let result = report.interrupted ? "interrupted" : (report.failures.isEmpty ? "succeeded" : "failed")
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
            return .plan(try Planner.plan(desired: desired, observed: observed))
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

    /// Discovers `nodes` again, images included, over their open connections and in parallel, into
    /// `observed`. A node that no longer answers is reported here; its exit code is returned.
    private func lookAgain(at nodes: Set<String>, hosts: [String: any RemoteHost], into observed: inout ObservedState,
                           json: JSONReporter) async -> FlockerExit? {
        let discovery = Discovery(connector: connector)
        let outcomes = await withTaskGroup(of: (String, Swift.Result<NodeState, RemoteError>).self) { group in
            for node in nodes {
                guard let host = hosts[node] else { continue }
                group.addTask { (node, await discovery.rediscoverResult(host)) }
            }
            var all: [String: Swift.Result<NodeState, RemoteError>] = [:]
            for await (node, outcome) in group { all[node] = outcome }
            return all
        }
        for (node, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .success(let state): observed.nodes[node] = state
            case .failure(let error):
                report(error: "cannot reach every node; nothing was changed", details: [error.description], code: .nodeUnreachable, json: json)
                return .nodeUnreachable
            }
        }
        return nil
    }

    private func report(error: String, details: [String], code: FlockerExit, json: JSONReporter) {
        if options.json {
            json.emit(["event": "error", "message": error, "details": details, "exit_code": Int(code.rawValue)])
        }
        err.write("error: \(error)\n" + details.map { "  " + $0.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }.joined())
    }
}
