import Foundation
import Testing

@testable import FlockerCore

/// What the `discovery` fuzz target found (its inputs are in fuzz/discovery/regressions/, replayed by
/// FuzzRegressionTests; these tests pin each down without depending on the process's hash seed).
@Suite("Discovery: fuzz findings")
struct DiscoveryFuzzFindingsTests {
    static let complete = """
        @@flocker-discovery facts
        hostname node1
        pool 23
        @@flocker-discovery zfs
        flocker/redis.default\ttype\tfilesystem
        flocker/redis.default\tflocker:role\tprimary
        @@flocker-discovery end

        """

    @Test func aCompleteAnswerIsParsed() throws {
        let state = try Discovery.state(from: Self.complete, node: "node1", address: "10.77.0.11")
        #expect(state == DiscoveryScript.parse(Self.complete, node: "node1", address: "10.77.0.11"))
        #expect(state.datasets.count == 1)
    }

    @Test func anAnswerCutShortIsRefusedWithWhereItEnds() {
        let cut = String(Self.complete.dropLast("@@flocker-discovery end\n\n".count))
        #expect(
            throws: RemoteError(
                .other, node: "node1",
                message:
                    "discovery output was cut short: it ends at line 6 (in section zfs) without the script's end marker; nothing was planned from it"
            )
        ) {
            try Discovery.state(from: cut, node: "node1", address: "10.77.0.11")
        }
        #expect(throws: RemoteError.self, "no marker at all") {
            try Discovery.state(from: "held 3\n", node: "node1", address: "")
        }
        #expect(throws: RemoteError.self, "an end marker cut in its middle") {
            try Discovery.state(from: cut + "@@flocker-discovery en", node: "node1", address: "")
        }
    }

    /// Our snapshots are ordered by createtxg, then number, then name: two that tie on the first two (a missing
    /// createtxg, `flocker-1` beside `flocker-01`) were in the order of a Dictionary's iteration, which differs
    /// from process to process, and the last one is the base of the next sync.
    @Test func snapshotsThatTieAreOrderedByName() {
        let lines: [Substring] = [
            "flocker/redis.default\ttype\tfilesystem",
            "flocker/redis.default@flocker-0000!001\ttype\tsnapshot",
            "flocker/redis.default@flocker-00000000\ttype\tsnapshot",
            "flocker/redis.default@flocker-1\tcreatetxg\t9",
            "flocker/redis.default@flocker-01\tcreatetxg\t9",
        ]
        for order in [lines, [lines[0]] + lines.dropFirst().reversed()] {
            let snapshots = DiscoveryScript.parseZFS(order).0[VolumeID(app: "redis", volume: "default")]?.snapshots
            #expect(snapshots?.map(\.name) == ["flocker-0000!001", "flocker-00000000", "flocker-01", "flocker-1"])
        }
    }

    /// A lock's info names the run's machine and pid; `lock status` and taking a lock look at that process when the
    /// machine is this one. A pid beyond pid_t (from a node's file) trapped in `pid_t(_:)`; it is now no process
    /// to look at (found with an input written for the discovery target's lock-holder property).
    @Test func aLockHolderWithAPidBeyondPidTIsNotLookedAt() throws {
        let here = ProcessInfo.processInfo.hostName
        let info =
            #"{"command":"x","host":"\#(here)","manifests":"m","pid":4294967296,"started":1,"token":"t","user":"u"}"#
        let holder = try #require(RunLock.parse("held 1\n" + info + "\n").holder)
        #expect(holder.pid == 4_294_967_296)
        #expect(LockCommands.Held(idleSeconds: 1, holder: holder).holderAlive == nil)
        #expect(!RunLock.isDeadLocalHolder(holder))
    }
}
