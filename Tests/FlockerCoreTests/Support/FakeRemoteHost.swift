import Synchronization
@testable import FlockerCore

/// Every command the fake hosts of one test ran, in order, across nodes.
final class CommandLog: Sendable {
    struct Entry: Sendable, Hashable {
        var node: String
        var command: RemoteCommand
        var stdin: [UInt8]
        var text: String { command.shellText }
    }
    private let entries = Mutex<[Entry]>([])
    func append(_ e: Entry) { entries.withLock { $0.append(e) } }
    var all: [Entry] { entries.withLock { $0 } }
    func on(_ node: String) -> [String] { all.filter { $0.node == node }.map(\.text) }
    /// Index of the first entry whose text contains `needle` (on `node` if given).
    func index(of needle: String, on node: String? = nil) -> Int? {
        all.firstIndex { ($0.node == node || node == nil) && $0.text.contains(needle) }
    }
    /// The first routing change that touches `app`'s rules (the rule for replies, of no application, aside).
    func routeChange(of app: String, on node: String? = nil) -> Int? {
        all.firstIndex { ($0.node == node || node == nil) && $0.text.contains("flocker-routes")
            && String(decoding: $0.stdin, as: UTF8.self).contains(":\(app):") }
    }
}

/// A recording `RemoteHost`: answers every command with `responder` (success by default) and logs it.
final class FakeRemoteHost: RemoteHost {
    let node: String
    let address: String
    let log: CommandLog
    let responder: @Sendable (RemoteCommand, [UInt8]) -> CommandResult
    /// How long a command takes (nil: no time at all), to test what waits for what.
    let delay: @Sendable (RemoteCommand) -> Duration?
    private let closed = Mutex(false)

    convenience init(node: String, address: String, log: CommandLog,
         responder: @escaping @Sendable (RemoteCommand, [UInt8]) -> CommandResult = { _, _ in CommandResult(status: .exited(0)) }) {
        self.init(node: node, address: address, log: log, delay: { _ in nil }, responder: responder)
    }

    init(node: String, address: String, log: CommandLog, delay: @escaping @Sendable (RemoteCommand) -> Duration?,
         responder: @escaping @Sendable (RemoteCommand, [UInt8]) -> CommandResult) {
        self.node = node
        self.address = address
        self.log = log
        self.delay = delay
        self.responder = responder
    }

    func run(_ command: RemoteCommand, stdin: [UInt8], timeout: Duration) async throws(RemoteError) -> CommandResult {
        log.append(.init(node: node, command: command, stdin: stdin))
        if let pause = delay(command) { try? await Task.sleep(for: pause) }
        return responder(command, stdin)
    }

    func relay(_ send: RemoteCommand, to target: any RemoteHost, _ receive: RemoteCommand, idleTimeout: Duration,
               progress: @escaping @Sendable (UInt64) -> Void) async throws(RemoteError) -> RelayResult {
        log.append(.init(node: node, command: send, stdin: []))
        let sender = responder(send, [])
        let receiver = try await target.run(receive, stdin: [], timeout: idleTimeout)
        progress(4096)
        return RelayResult(sender: sender, receiver: receiver, bytes: 4096)
    }

    func close() async { closed.withLock { $0 = true } }
}

/// Collects run events.
final class EventLog: RunObserver, Sendable {
    private let events = Mutex<[String]>([])
    func event(_ event: RunEvent) {
        let line: String
        switch event {
        case .phaseStarted(let p): line = "phase \(p.rawValue)"
        case .stepStarted(let s): line = "start \(s.node) \(StepText.describe(s))"
        case .stepFinished(let r):
            switch r.outcome {
            case .succeeded: line = "ok \(r.step.node) \(StepText.describe(r.step))"
            case .failed(let f): line = "failed \(r.step.node) \(StepText.describe(r.step)): \(f.message)"
            case .skipped(let why): line = "skipped \(r.step.node) \(StepText.describe(r.step)): \(why)"
            }
        case .progress: line = "progress"
        case .note(let n): line = "note \(n)"
        }
        events.withLock { $0.append(line) }
    }
    var all: [String] { events.withLock { $0 } }
}

/// Snapshot listings as `NodeCommands.snapshots` prints them, for a fake's responder.
func snapshotListing(_ dataset: String, snapshots: [String], readonly: Bool, role: String = "primary") -> String {
    var lines = ["\(dataset)\ttype\tfilesystem", "\(dataset)\treadonly\t\(readonly ? "on" : "off")",
                 "\(dataset)\tflocker:role\t\(role)", "\(dataset)\tflocker:epoch\t3"]
    for (i, s) in snapshots.enumerated() {
        lines += ["\(dataset)@\(s)\ttype\tsnapshot", "\(dataset)@\(s)\tguid\tg-\(s)", "\(dataset)@\(s)\tcreatetxg\t\(10 + i)"]
    }
    return lines.joined(separator: "\n") + "\n"
}
