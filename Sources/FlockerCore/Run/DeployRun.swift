import Foundation

/// One `flocker-deploy DEPLOYMENT APPLICATION` run: discover every node, plan, print the plan, execute it,
/// report. The command-line layer parses options and calls `run`; everything else happens here.
public struct DeployRun: Sendable {
    public struct Options: Sendable {
        /// Print the plan and change nothing.
        public var dryRun = false
        /// JSON lines on stdout instead of text.
        public var json = false
        public var execution = ExecutionOptions()
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
        let discovery = Discovery(connector: connector)
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
        let plan: Plan
        do throws(PlanRefusal) {
            plan = try Planner.plan(desired: desired, observed: found.observed)
        } catch {
            let code: FlockerExit = error.unsafe ? .refusedUnsafe : .stepFailed
            report(error: "refusing to act; nothing was changed", details: error.problems.map(\.description), code: code, json: json)
            return code
        }
        if options.json { json.plan(plan) } else { text.plan(plan) }
        if plan.isEmpty || options.dryRun {
            if options.json { json.summary(RunReport(results: [], rollbacks: [], interrupted: false), elapsed: clock.now - start, exitCode: 0) }
            else if options.dryRun && !plan.isEmpty { out.write("Dry run: nothing was changed.\n") }
            return .success
        }

        // 3. Execute.
        let observer: any RunObserver = options.json ? json : text
        let executor = Executor(hosts: found.hosts, desired: desired, observed: found.observed,
                                options: options.execution, observer: observer, stopRequest: stopRequest)
        let report = await executor.run(plan)
        let code: FlockerExit = report.interrupted ? .interrupted : (report.failures.isEmpty ? .success : .stepFailed)
        if options.json { json.summary(report, elapsed: clock.now - start, exitCode: code.rawValue) }
        else { text.summary(report, elapsed: clock.now - start) }
        return code
    }

    private func report(error: String, details: [String], code: FlockerExit, json: JSONReporter) {
        if options.json {
            json.emit(["event": "error", "message": error, "details": details, "exit_code": Int(code.rawValue)])
        }
        err.write("error: \(error)\n" + details.map { "  " + $0.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }.joined())
    }
}
