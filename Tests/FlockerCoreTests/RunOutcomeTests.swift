import Foundation
import Testing
@testable import FlockerCore

/// One truthful outcome per run (issue 30, finding 7): a rollback that could not restart an application fails
/// the run, in the report, the text summary and the JSON summary; a dry run's JSON summary says so.
@Suite("Run outcome")
struct RunOutcomeTests {
    let step = Step(node: "node2", .startApp("redis"))

    /// What `body` writes to a reporter's output.
    func captured(_ body: (TextOutput) -> Void) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("outcome-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: path, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_WRONLY)
        body(TextOutput(fd: fd))
        close(fd)
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    @Test func aRollbackThatFailedFailsARunWhoseStepsAllSucceeded() throws {
        let ok = StepResult(step: step, outcome: .succeeded, duration: .seconds(1))
        let failed = RunReport.failedRollbackPrefix + "redis is stopped on node1 and could not be restarted (No such container)"
        let report = RunReport(results: [ok], rollbacks: [failed], interrupted: false)
        #expect(report.failures.isEmpty && !report.isSuccess)
        #expect(report.failedRollbacks == [failed])
        let text = try captured { TextReporter(out: $0).summary(report, elapsed: .seconds(2)) }
        #expect(text.hasPrefix("Failed: every step succeeded"), "\(text)")
        #expect(!text.contains("Done:"))
        #expect(text.contains(failed))
        let good = RunReport(results: [ok], rollbacks: ["rollback: redis was restarted on node1, where its data still is"], interrupted: false)
        #expect(good.isSuccess, "a rollback that worked is no failure of the run")
    }

    @Test func theJSONSummarySaysWhetherItWasADryRunAndWhetherThereWereChanges() throws {
        let line = try captured {
            JSONReporter(out: $0).summary(RunReport(results: [], rollbacks: [], interrupted: false), elapsed: .zero, exitCode: 0,
                                          dryRun: true, changes: true)
        }
        let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(o["dry_run"] as? Bool == true)
        #expect(o["changes"] as? Bool == true)
        #expect(o["event"] as? String == "summary")
    }

    @Test func statusExitsAsADeployWouldEnd() {
        let up = ClusterStatus.Node(name: "node1", state: NodeState(node: "node1", address: "10.77.0.11"))
        let down = ClusterStatus.Node(name: "node2", error: "connection timed out")
        var status = ClusterStatus(nodes: [up], desired: nil, now: 0)
        #expect(status.exitCode == .success)
        status.refusal = PlanRefusal(problems: [.init(node: "node1", app: "redis", message: "two primaries", unsafe: true)])
        #expect(status.exitCode == .refusedUnsafe, "a state a deploy would refuse as unsafe: 5")
        status.refusal = PlanRefusal(problems: [.init(node: "node1", app: "redis", message: "no pool", unsafe: false)])
        #expect(status.exitCode == .stepFailed)
        status.nodes.append(down)
        #expect(status.exitCode == .nodeUnreachable, "a node that does not answer comes first: 3")
    }
}
