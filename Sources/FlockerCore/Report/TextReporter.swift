import Foundation
import Synchronization

/// Prints a run for people: one line per step as it completes (node, what, how long), failures with the
/// node's stderr, transfer progress (in place on a terminal, every few seconds otherwise).
public final class TextReporter: RunObserver, Sendable {
    private let out: TextOutput
    private let progressInterval: Duration
    private struct ProgressState { var lastLine: [String: ContinuousClock.Instant] = [:]; var drawn = false }
    private let progress = Mutex(ProgressState())
    private let clock = ContinuousClock()
    /// `-v`: every route step on its own line, with every port it changes.
    private let full: Bool
    /// Per application, how many route steps the plan has, and those that succeeded with nothing to add so far:
    /// they are printed as one line once all of them did (see `StepText.routeGroup`).
    private struct RouteLines { var expected: [String: Int] = [:]; var done: [String: [StepResult]] = [:] }
    private let routeLines = Mutex(RouteLines())

    public init(out: TextOutput = .standardOutput, progressInterval: Duration = .seconds(5), full: Bool = false) {
        self.out = out
        self.progressInterval = progressInterval
        self.full = full
    }

    /// A route step of an application with route steps on several nodes that just succeeded plainly: held back
    /// until its siblings are done; returns the whole group when this was the last one.
    private func grouped(_ result: StepResult) -> [StepResult]? {
        guard !full, case .setRoutes = result.step.action, result.outcome == .succeeded, result.detail.isEmpty else { return nil }
        let app = result.step.pipelineApp
        return routeLines.withLock { r -> [StepResult]? in
            guard !app.isEmpty, let expected = r.expected[app], expected > StepText.routeGroupAbove else { return nil }
            r.done[app, default: []].append(result)
            guard r.done[app]?.count == expected else { return [] }
            return r.done.removeValue(forKey: app)
        }
    }

    private func printRoutes(_ group: [StepResult]) {
        let line = StepText.routeGroup(group.map(\.step), full: false)
        let longest = group.map(\.duration).max() ?? .zero
        self.line("  ok      \(line.nodes)  \(line.what) (\(Seconds.text(longest))\(group.count > 1 ? " at most" : ""))")
    }

    public func event(_ event: RunEvent) {
        switch event {
        case .phaseStarted:
            break
        case .stepStarted(let step):
            // On a terminal the step in flight shows until its result replaces it; logs get only results.
            if out.isTerminal {
                progress.withLock { $0.drawn = true }
                out.write("\r\u{1B}[2K  ...     \(step.node)  \(StepText.describe(step, full: full))")
            }
        case .stepFinished(let result):
            let step = result.step
            switch result.outcome {
            case .succeeded:
                if let group = grouped(result) {
                    if !group.isEmpty { printRoutes(group) }
                    return
                }
                let detail = result.detail.isEmpty ? "" : "; \(result.detail)"
                line("  ok      \(step.node)  \(StepText.describe(step, full: full)) (\(Seconds.text(result.duration))\(detail))")
            case .failed(let failure):
                var text = "  FAILED  \(step.node)  \(StepText.describe(step)) (\(Seconds.text(result.duration)))\n"
                text += "          \(failure.node): \(failure.message)"
                if !failure.stderr.isEmpty {
                    text += "\n" + failure.stderr.split(separator: "\n", omittingEmptySubsequences: false).map { "            " + $0 }.joined(separator: "\n")
                }
                line(text)
            case .skipped(let why):
                line("  skipped \(step.node)  \(StepText.describe(step)): \(why)")
            }
        case .progress(let step, let p):
            showProgress(step, p)
        case .note(let text):
            line("  note    \(text)")
        }
    }

    /// Prints the plan.
    public func plan(_ plan: Plan) {
        var expected: [String: Int] = [:]
        for step in plan.phases.first(where: { $0.name == .routes })?.steps ?? [] where !step.pipelineApp.isEmpty {
            expected[step.pipelineApp, default: 0] += 1
        }
        routeLines.withLock { $0 = RouteLines(expected: expected) }
        out.write(StepText.render(plan, full: full))
    }

    /// Prints the closing summary.
    public func summary(_ report: RunReport, elapsed: Duration) {
        // Route steps held back for a group whose other steps failed or were skipped: printed now.
        let left = routeLines.withLock { r in
            defer { r.done = [:] }
            return r.done.sorted { $0.key < $1.key }.map(\.value)
        }
        for group in left { printRoutes(group) }
        var text = ""
        let failed = report.failures.count
        if report.interrupted {
            text += "Interrupted: \(report.succeeded) step\(report.succeeded == 1 ? "" : "s") done, \(report.skipped) not started"
            if failed > 0 { text += ", \(failed) failed" }
            text += " (\(Seconds.text(elapsed))). Run flocker-deploy again to finish.\n"
        } else if failed == 0 && report.failedRollbacks.isEmpty {
            text += "Done: \(report.succeeded) step\(report.succeeded == 1 ? "" : "s") in \(Seconds.text(elapsed)).\n"
        } else if failed == 0 {
            text += "Failed: every step succeeded (\(report.succeeded), \(Seconds.text(elapsed))), but an application could not be restarted where it was stopped:\n"
        } else {
            text += "Failed: \(failed) step\(failed == 1 ? "" : "s") failed, \(report.skipped) skipped, \(report.succeeded) succeeded (\(Seconds.text(elapsed))).\n"
            for f in report.failures { text += "  \(f.node): \(f.step): \(f.message)\n" }
        }
        for r in report.rollbacks { text += "  \(r)\n" }
        line(text.hasSuffix("\n") ? String(text.dropLast()) : text)
    }

    private func line(_ text: String) {
        let clear = progress.withLock { s -> Bool in
            defer { s.drawn = false }
            return s.drawn
        }
        out.write((clear ? "\r\u{1B}[2K" : "") + text + "\n")
    }

    private func showProgress(_ step: Step, _ p: TransferProgress) {
        if let note = p.note {
            line("  note    \(step.node)  \(StepText.describe(step)): \(note)")
            return
        }
        var text = "  ...     \(step.node)  \(StepText.describe(step)): \(Bytes.human(p.bytes))"
        if let expected = p.expected, expected > 0 {
            if let compressor = p.compressor {
                // Compressed bytes against the data's size: no honest percentage or ETA.
                text += " (\(compressor)) of ~\(Bytes.human(expected)) of data"
            } else {
                let percent = min(100, Int(Double(p.bytes) * 100 / Double(expected)))
                text += " of ~\(Bytes.human(expected)) (\(percent)%)"
                let rate = p.bytesPerSecond
                if rate > 0, expected > p.bytes {
                    text += ", ETA \(Seconds.text(.seconds(Double(expected - p.bytes) / rate)))"
                }
            }
        }
        text += ", \(Bytes.human(UInt64(p.bytesPerSecond)))/s"
        if p.round > 1 { text += ", round \(p.round)" }
        let key = StepText.describe(step)
        let now = clock.now
        if out.isTerminal {
            progress.withLock { $0.drawn = true }
            out.write("\r\u{1B}[2K" + text)
        } else {
            let due = progress.withLock { s -> Bool in
                if let last = s.lastLine[key], now - last < progressInterval { return false }
                s.lastLine[key] = now
                return true
            }
            if due { out.write(text + "\n") }
        }
    }
}
