/// Where an application's replicas go when the deployment file asks for a number of them (`replicas: {redis: 2}`):
/// a pure, deterministic choice among the deployment file's nodes.
public enum ReplicaPlacement {
    /// Picks up to `count` nodes for an application's replicas.
    ///
    /// The rule, in order:
    /// 1. The primary's node (`primary`) is never chosen, nor a node that is not in `nodes`.
    /// 2. Replicas that exist are kept: the nodes of `existing` are taken first, in the order given, as many as
    ///    `count` allows (so a smaller count keeps the first ones).
    /// 3. The rest are filled one at a time with the best remaining node: the one whose zone has the fewest
    ///    nodes chosen so far (the primary's zone counts as one, and so does each kept replica's), then the one
    ///    with the lowest `load`, then the first by name. Nodes missing from `zones` form one unnamed zone, so
    ///    without `zones` the order is fewest replicas, then name.
    ///
    /// `load` is read as given (a node missing from it holds 0): the nodes picked in this call are not added to
    /// it, which could not change the order anyway since a node is picked at most once per call. A caller that
    /// places several applications adds each result to `load` before the next call, so that replicas spread
    /// over the nodes.
    ///
    /// - Parameters:
    ///   - count: how many replicas are wanted; 0 or less gives `[]`.
    ///   - primary: the node that runs the application.
    ///   - nodes: the candidate nodes (the deployment file's, in the order written); repeats are ignored.
    ///   - zones: node → zone name.
    ///   - existing: nodes that hold a copy of the application's volumes now, most preferred first.
    ///   - load: node → number of replicas of any application it holds now.
    /// - Returns: the chosen nodes, kept replicas first (in `existing`'s order), then the new ones in the order
    ///   they were picked; fewer than `count` only when there are not enough other nodes.
    public static func choose(
        count: Int, primary: String, nodes: [String], zones: [String: String], existing: [String],
        load: [String: Int]
    ) -> [String] {
        guard count > 0 else { return [] }
        var candidates: [String] = []
        var seen: Set<String> = [primary]
        for node in nodes where seen.insert(node).inserted { candidates.append(node) }
        let eligible = Set(candidates)

        var chosen: [String] = []
        var taken: Set<String> = []
        var perZone: [String?: Int] = [zones[primary]: 1]
        for node in existing where chosen.count < count && eligible.contains(node) && taken.insert(node).inserted {
            chosen.append(node)
            perZone[zones[node], default: 0] += 1
        }
        while chosen.count < count {
            var best: (node: String, key: (Int, Int))?
            for node in candidates where !taken.contains(node) {
                let key = (perZone[zones[node], default: 0], load[node, default: 0])
                if let b = best, !(key < b.key || (key == b.key && node < b.node)) { continue }
                best = (node, key)
            }
            guard let pick = best?.node else { break }
            chosen.append(pick)
            taken.insert(pick)
            perZone[zones[pick], default: 0] += 1
        }
        return chosen
    }
}
