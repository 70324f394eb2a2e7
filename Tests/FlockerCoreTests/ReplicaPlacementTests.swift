import Testing

@testable import FlockerCore

/// `ReplicaPlacement.choose`: which nodes get an application's replicas when `replicas:` gives a count.
@Suite("Replica placement")
struct ReplicaPlacementTests {
    static let five = ["node1", "node2", "node3", "node4", "node5"]

    /// `choose` with the arguments most tests leave alone.
    static func choose(
        _ count: Int, primary: String = "node1", nodes: [String] = five, zones: [String: String] = [:],
        existing: [String] = [], load: [String: Int] = [:]
    ) -> [String] {
        ReplicaPlacement.choose(
            count: count, primary: primary, nodes: nodes, zones: zones, existing: existing, load: load)
    }

    @Test("Without existing replicas, load or zones: the first nodes by name, never the primary's")
    func nameOrder() {
        #expect(Self.choose(1) == ["node2"])
        #expect(Self.choose(2) == ["node2", "node3"])
        #expect(Self.choose(2, primary: "node2") == ["node1", "node3"])
        // Name order, not file order.
        #expect(Self.choose(2, primary: "c", nodes: ["c", "b", "d", "a"]) == ["a", "b"])
    }

    @Test("The primary's node is never chosen, whatever the other arguments say")
    func neverPrimary() {
        #expect(Self.choose(4) == ["node2", "node3", "node4", "node5"])
        #expect(Self.choose(1, existing: ["node1"]) == ["node2"])
        #expect(Self.choose(1, load: ["node1": -5]) == ["node2"])
        #expect(
            Self.choose(2, zones: ["node1": "a", "node2": "a", "node3": "a"], existing: ["node1"]) == [
                "node4", "node2",
            ])
        for count in 0...6 { #expect(!Self.choose(count).contains("node1")) }
    }

    @Test("Count 0 or less gives nothing; a count larger than the other nodes gives all of them")
    func counts() {
        #expect(Self.choose(0).isEmpty)
        #expect(Self.choose(-1).isEmpty)
        #expect(Self.choose(0, existing: ["node3"]).isEmpty)
        #expect(Self.choose(9) == ["node2", "node3", "node4", "node5"])
        #expect(Self.choose(1, nodes: ["node1"]).isEmpty)
        #expect(Self.choose(1, nodes: []).isEmpty)
    }

    @Test("Existing replicas are kept first, in the order given, even on a busier node")
    func keepsExisting() {
        #expect(Self.choose(1, existing: ["node4"]) == ["node4"])
        #expect(Self.choose(2, existing: ["node5", "node3"]) == ["node5", "node3"])
        #expect(Self.choose(1, existing: ["node4"], load: ["node4": 9]) == ["node4"])
        #expect(
            Self.choose(1, zones: ["node1": "a", "node4": "a", "node2": "b"], existing: ["node4"]) == ["node4"],
            "an existing replica is kept even in the primary's zone")
    }

    @Test("A count larger than the existing replicas keeps them all, then fills")
    func countLargerThanExisting() {
        #expect(Self.choose(3, existing: ["node4"]) == ["node4", "node2", "node3"])
        #expect(Self.choose(3, existing: ["node5", "node4"], load: ["node2": 1]) == ["node5", "node4", "node3"])
    }

    @Test("A count smaller than the existing replicas keeps the first existing ones")
    func countSmallerThanExisting() {
        #expect(Self.choose(1, existing: ["node4", "node2", "node3"]) == ["node4"])
        #expect(Self.choose(2, existing: ["node4", "node2", "node3"]) == ["node4", "node2"])
    }

    @Test("Existing entries that are not candidates are skipped: unknown nodes, the primary, repeats")
    func existingFiltered() {
        #expect(Self.choose(2, existing: ["gone", "node1", "node3", "node3"]) == ["node3", "node2"])
        #expect(Self.choose(1, existing: ["gone"]) == ["node2"])
    }

    @Test("Fill: the nodes holding the fewest replicas first, then name; missing from load is 0")
    func fewestFirst() {
        let load = ["node2": 3, "node3": 1, "node4": 1, "node5": 0]
        #expect(Self.choose(1, load: load) == ["node5"])
        #expect(Self.choose(3, load: load) == ["node5", "node3", "node4"])
        #expect(Self.choose(4, load: load) == ["node5", "node3", "node4", "node2"])
        #expect(Self.choose(2, load: ["node2": 2, "node3": 2]) == ["node4", "node5"])
        #expect(Self.choose(2, load: ["node2": 1, "node3": 1, "node4": 1, "node5": 1]) == ["node2", "node3"])
    }

    @Test("Zones: spread over zones before filling one; the primary's zone counts as used")
    func zoneSpreading() {
        let zones = ["node1": "a", "node2": "a", "node3": "a", "node4": "b", "node5": "c"]
        #expect(Self.choose(1, zones: zones) == ["node4"])
        #expect(Self.choose(2, zones: zones) == ["node4", "node5"])
        #expect(Self.choose(3, zones: zones) == ["node4", "node5", "node2"])
        #expect(Self.choose(4, zones: zones) == ["node4", "node5", "node2", "node3"])
        // Among nodes of equally used zones: fewest replicas, then name.
        #expect(Self.choose(2, zones: zones, load: ["node4": 2]) == ["node5", "node4"])
        #expect(Self.choose(3, zones: zones, load: ["node2": 1]) == ["node4", "node5", "node3"])
        // The zone wins over load: a busier node in an unused zone comes before an idle one in a used zone.
        #expect(Self.choose(1, zones: zones, load: ["node4": 5, "node5": 5]) == ["node4"])
    }

    @Test("Zones: kept replicas count towards their zone")
    func zonesWithExisting() {
        let zones = ["node1": "a", "node2": "b", "node3": "b", "node4": "c", "node5": "c"]
        #expect(Self.choose(2, zones: zones, existing: ["node3"]) == ["node3", "node4"])
        #expect(Self.choose(3, zones: zones, existing: ["node3"]) == ["node3", "node4", "node2"])
    }

    @Test("Nodes missing from zones form one unnamed zone")
    func unnamedZone() {
        // node1 (primary) and node2 in a; node3, node4, node5 are in the unnamed zone together.
        let zones = ["node1": "a", "node2": "a"]
        #expect(Self.choose(1, zones: zones) == ["node3"])
        #expect(Self.choose(2, zones: zones) == ["node3", "node2"])
        // A primary missing from zones uses the unnamed zone.
        #expect(Self.choose(1, zones: ["node2": "a", "node3": "b"]) == ["node2"])
        #expect(Self.choose(3, zones: ["node2": "a", "node3": "b"]) == ["node2", "node3", "node4"])
    }

    @Test("Deterministic: the same arguments give the same answer; node order and repeats in `nodes` do not matter")
    func deterministic() {
        let zones = ["node1": "a", "node2": "b", "node3": "b", "node4": "c", "node5": "c"]
        let load = ["node2": 1, "node4": 1]
        let first = Self.choose(3, zones: zones, load: load)
        #expect(first == ["node3", "node5", "node2"])
        for _ in 0..<20 { #expect(Self.choose(3, zones: zones, load: load) == first) }
        #expect(Self.choose(3, nodes: Self.five.reversed(), zones: zones, load: load) == first)
        #expect(Self.choose(3, nodes: Self.five + Self.five, zones: zones, load: load) == first)
    }

    @Test("ReplicaRequest.resolve: an explicit list as written; a count through choose")
    func resolve() {
        let nodes = ["node3", "node2"]
        #expect(
            ReplicaRequest.nodes(nodes).resolve(primary: "node1", nodes: Self.five, zones: [:], existing: [], load: [:])
                == ["node3", "node2"])
        #expect(
            ReplicaRequest.count(2).resolve(
                primary: "node1", nodes: Self.five, zones: [:], existing: ["node5"], load: [:]) == ["node5", "node2"])
        #expect(ReplicaRequest.count(3).count == 3 && ReplicaRequest.nodes(nodes).count == 2)
    }

    @Test("DesiredState.replicaNodes: one call for the planner; nothing for an application without replicas")
    func desiredState() {
        let desired = DesiredState(
            applications: [:], nodes: Self.five, placement: ["redis": "node1", "web": "node2", "lost": "node3"],
            replicas: ["redis": .count(2), "web": .nodes(["node4"]), "gone": .count(1)],
            zones: ["node1": "a", "node2": "a", "node3": "b"])
        #expect(desired.replicaNodes(of: "redis", existing: [], load: [:]) == ["node3", "node4"])
        #expect(desired.replicaNodes(of: "web", existing: ["node5"], load: [:]) == ["node4"])
        #expect(desired.replicaNodes(of: "lost", existing: [], load: [:]).isEmpty)
        #expect(desired.replicaNodes(of: "gone", existing: [], load: [:]).isEmpty, "not placed")
        // The existing initialiser still works, without replicas or zones.
        let plain = DesiredState(applications: [:], nodes: ["node1"], placement: [:])
        #expect(plain.replicas.isEmpty && plain.zones.isEmpty)
    }
}
