/// What a route step says it did: the rules applied, and those left as they were with the reason.
enum RouteReport {
    /// Empty when everything was applied (the step's own description says what); otherwise
    /// `applied: forward 9000 → … (web); left as it was: forward 9001 → … (crash2): start crash2 on node1 failed`.
    static func detail(
        applied: (add: [RouteSpec], remove: [RouteRule]), left: (add: [RouteSpec], remove: [RouteRule]),
        why: [String: String]
    ) -> String {
        if left.add.isEmpty && left.remove.isEmpty { return "" }
        var parts: [String] = []
        if applied.add.isEmpty && applied.remove.isEmpty {
            parts.append("applied nothing")
        } else {
            parts.append("applied: " + StepText.routeSummary(add: applied.add, remove: applied.remove))
        }
        let apps = Set(left.add.map(\.tag.app) + left.remove.map(\.tag.app)).sorted()
        for app in apps {
            let add = left.add.filter { $0.tag.app == app }
            let remove = left.remove.filter { $0.tag.app == app }
            parts.append("left as it was: " + StepText.routeSummary(add: add, remove: remove) + ": " + (why[app] ?? "\(app) did not come up"))
        }
        return parts.joined(separator: "; ")
    }
}
