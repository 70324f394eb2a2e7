import Foundation

/// The version of every `--json` output's shape (deploy, sync, validate, status, lock status): each object
/// carries it as `"schema"`. Raised only when a key changes meaning or goes away; new keys may appear at any time.
public enum JSONSchema {
    public static let version = 1
}

/// Prints a run as JSON lines for CI: one object per line, with an `event` key
/// (`plan`, `phase-started`, `step-started`, `step-finished`, `progress`, `note`, `error`, `summary`) and
/// `"schema": 1`. Documented in docs/operations.md ("JSON for CI").
public final class JSONReporter: RunObserver, Sendable {
    private let out: TextOutput

    public init(out: TextOutput = .standardOutput) { self.out = out }

    public func event(_ event: RunEvent) {
        switch event {
        case .phaseStarted(let phase):
            write(JSONRecords.PhaseStarted(phase: phase.rawValue))
        case .stepStarted(let step):
            write(JSONRecords.StepStarted(step: .init(step)))
        case .stepFinished(let r):
            var record = JSONRecords.StepFinished(step: .init(r.step), seconds: Seconds.value(r.duration), outcome: "succeeded")
            switch r.outcome {
            case .succeeded: break
            case .failed(let f):
                record.outcome = "failed"
                record.error = .init(node: f.node, message: f.message, stderr: f.stderr, unreachable: f.unreachable)
            case .skipped(let why):
                record.outcome = "skipped"
                record.reason = why
            }
            if !r.detail.isEmpty { record.detail = r.detail }
            record.bytes = r.bytes
            write(record)
        case .progress(let step, let p):
            write(JSONRecords.Progress(step: .init(step), bytes: p.bytes, expectedBytes: p.expected, compressor: p.compressor,
                                       seconds: Seconds.value(p.elapsed), round: p.round, note: p.note))
        case .note(let text):
            write(JSONRecords.Note(message: text))
        }
    }

    /// The one line a run prints when its manifests are invalid: an `error` event that carries each error's
    /// position as well as its text (the same fields as `validate --json`).
    public func invalidManifests(_ errors: ManifestErrors) {
        write(JSONRecords.ErrorEvent(
            message: ManifestErrors.countLine(errors.errors.count) + " in the manifests; nothing was contacted",
            details: errors.errors.map(\.description), exitCode: Int(FlockerExit.invalidInput.rawValue),
            errors: errors.errors.map { .init(file: $0.file, line: $0.line, column: $0.column, path: $0.path, message: $0.message) }))
    }

    /// The line of a run that stopped before any change.
    public func error(_ message: String, details: [String], exitCode: FlockerExit) {
        write(JSONRecords.ErrorEvent(message: message, details: details, exitCode: Int(exitCode.rawValue)))
    }

    public func plan(_ plan: Plan) {
        let steps = plan.phases.flatMap { phase in phase.steps.map { JSONRecords.StepRecord($0, phase: phase.name) } }
        write(JSONRecords.PlanEvent(changes: !plan.isEmpty, steps: steps, nodes: plan.nodes.sorted(), notes: plan.notes))
    }

    public func summary(_ report: RunReport, elapsed: Duration, exitCode: Int32, dryRun: Bool = false, changes: Bool? = nil) {
        write(JSONRecords.Summary(succeeded: report.succeeded, failed: report.failures.count, skipped: report.skipped,
                                  interrupted: report.interrupted, rollbacks: report.rollbacks,
                                  seconds: Seconds.value(elapsed), exitCode: Int(exitCode), dryRun: dryRun,
                                  changes: changes ?? !report.results.isEmpty))
    }

    private func write(_ record: some Encodable) { out.write(JSONRecords.line(record) + "\n") }

    /// Emits any object as one line, with the schema version. Prefer a typed record (JSONRecords); this stays
    /// for callers that build their own.
    public func emit(_ object: [String: Any]) {
        var object = object
        object["schema"] = JSONSchema.version
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
            let text = String(data: data, encoding: .utf8)
        else { return }
        out.write(text + "\n")
    }
}

/// A step as a JSON object with stable keys (the `step` of every event; see JSONRecords.StepRecord).
public enum StepJSON {
    public static func object(_ step: Step) -> [String: Any] {
        let line = JSONRecords.line(JSONRecords.StepRecord(step))
        return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }

    /// The step's action as the JSON names it (`pre-copy`, `handoff`, …).
    public static func action(_ step: Step) -> String { JSONRecords.StepRecord(step).action }
}
