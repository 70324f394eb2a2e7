import Testing
@testable import FlockerCore

/// An answer to the discovery script without its end marker is refused, naming where it ends, rather than planned
/// from (found by the `discovery` fuzz target's first property; see fuzz/discovery/regressions/).
@Suite("Discovery answers cut short")
struct DiscoveryCutShortTests {
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
        #expect(throws: RemoteError(.other, node: "node1", message: "discovery output was cut short: it ends at line 6 (in section zfs) without the script's end marker; nothing was planned from it")) {
            try Discovery.state(from: cut, node: "node1", address: "10.77.0.11")
        }
        #expect(throws: RemoteError.self, "no marker at all") { try Discovery.state(from: "held 3\n", node: "node1", address: "") }
        #expect(throws: RemoteError.self, "an end marker cut in its middle") {
            try Discovery.state(from: cut + "@@flocker-discovery en", node: "node1", address: "")
        }
    }
}
