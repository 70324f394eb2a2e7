import Foundation
import Testing
@testable import FlockerCore

/// The lock scripts, run by this machine's `sh` on a temporary folder instead of a node's lock folder.
@Suite("Run lock scripts")
struct RunLockTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-lock-test-\(UUID().uuidString)").path
    var lock: String { root + "/lock" }

    static let alice = LockHolder(token: "t-alice", user: "alice", host: "ci-runner-7", pid: 4242, started: 1_700_000_000,
                                  manifests: "0123456789abcdef", command: "flocker-deploy d.yml a.yml")
    static let me = LockHolder(token: "t-me", user: "bob", host: "laptop", pid: 7, started: 1_700_000_500,
                               manifests: "fedcba9876543210", command: "flocker-deploy d.yml a.yml")

    /// A lock held by alice whose heartbeat is `idle` seconds old.
    func aliceHolds(idle: TimeInterval) throws {
        try FileManager.default.createDirectory(atPath: lock, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: lock + "/info", contents: Data(RunLock.encode(Self.alice)))
        FileManager.default.createFile(atPath: lock + "/heartbeat", contents: nil)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -idle)], ofItemAtPath: lock + "/heartbeat")
    }

    /// Runs `command` (a constant script whose first argument is the lock folder) with the folder moved to `lock`.
    func run(_ command: RemoteCommand, stdin: [UInt8]) throws -> String {
        var argv = Array(command.stages[0].dropFirst())  // -c SCRIPT NAME DIR ARGS…
        argv[3] = lock
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = argv
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(stdin))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func aLockPastItsExpiryIsTakenOver() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try aliceHolds(idle: 120)
        let out = try run(RunLock.acquireCommand(expirySeconds: 60), stdin: RunLock.encode(Self.me))
        let parsed = RunLock.parse(out)
        #expect(parsed.status == "acquired", "\(out)")
        #expect(parsed.expired == Self.alice, "\(out)")
        let info = try String(contentsOfFile: lock + "/info", encoding: .utf8)
        #expect(RunLock.decode(info.trimmingCharacters(in: .newlines)) == Self.me)
    }

    @Test func aLiveLockIsReportedWithItsHolder() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try aliceHolds(idle: 120)
        let parsed = RunLock.parse(try run(RunLock.acquireCommand(expirySeconds: 600), stdin: RunLock.encode(Self.me)))
        #expect(parsed.status == "held")
        #expect(parsed.holder == Self.alice)
        #expect((118...130).contains(parsed.idle))
        #expect(parsed.expired == nil)
    }

    @Test func aFreeLockIsTaken() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let parsed = RunLock.parse(try run(RunLock.acquireCommand(expirySeconds: 600), stdin: RunLock.encode(Self.me)))
        #expect(parsed.status == "acquired" && parsed.expired == nil)
    }

    /// Runs a lock script as is with this machine's `sh`.
    func runScript(_ command: RemoteCommand) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = Array(command.stages[0].dropFirst())
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func commandsLeftRunningByADeadRunAreFoundAndStoppedAfterTheWait() throws {
        let token = "t-dead-\(UUID().uuidString.lowercased())"
        let leftover = Process()
        leftover.executableURL = URL(fileURLWithPath: "/bin/sleep")
        leftover.arguments = ["30"]
        leftover.environment = [RunLock.runVariable: token]
        try leftover.run()
        defer { if leftover.isRunning { leftover.terminate() } }
        let other = Process()
        other.executableURL = URL(fileURLWithPath: "/bin/sleep")
        other.arguments = ["30"]
        other.environment = [RunLock.runVariable: "t-someone-else"]
        try other.run()
        defer { other.terminate() }

        let listed = try runScript(RunLock.leftoversCommand(token: token))
        #expect(listed == "\(leftover.processIdentifier) /bin/sleep 30 \n", "\(listed)")
        let waited = try runScript(RunLock.awaitLeftoversCommand(pids: [Int(leftover.processIdentifier)], seconds: 1))
        #expect(waited == "stopped \(leftover.processIdentifier)\n", "\(waited)")
        leftover.waitUntilExit()
        #expect(other.isRunning)
        #expect(try runScript(RunLock.leftoversCommand(token: token)).isEmpty)
    }

    @Test func aLeftoverThatEndsInTimeIsWaitedFor() throws {
        let token = "t-short-\(UUID().uuidString.lowercased())"
        let leftover = Process()
        leftover.executableURL = URL(fileURLWithPath: "/bin/sleep")
        leftover.arguments = ["0.5"]
        leftover.environment = [RunLock.runVariable: token]
        try leftover.run()
        let waited = try runScript(RunLock.awaitLeftoversCommand(pids: [Int(leftover.processIdentifier)], seconds: 10))
        #expect(waited == "gone\n", "\(waited)")
        leftover.waitUntilExit()
    }
}
