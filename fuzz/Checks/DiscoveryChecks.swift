// Properties of the `discovery` fuzz target: what a node sends back (the discovery script's answer, the lock and
// audit reads) is untrusted. Any bytes must give a value or a refusal naming where the answer went wrong, never a
// crash, and never a plan made from an answer that was cut short.
//
// Input: the bytes before the first 0xFF are node1's answer to the discovery script, the bytes after it node2's.
// Without 0xFF, node2 did not answer (it is unreachable, so the failover paths run too). The whole input is also
// read as the output of the lock read, the application-lock listing and the audit log's tail.
import FlockerCore

#if canImport(Glibc)
    import Glibc
#endif

enum DiscoveryChecks {
    /// What the sandbox ran when the seeds fuzz/discovery/seeds/sandbox-* were taken: redis (a volume, a port, one
    /// replica) on node1, web (a port, linked to redis) on node2.
    static let desired: DesiredState? = {
        let deployment = """
            version: 1
            nodes:
              node1: [redis]
              node2: [web]
            replicas:
              redis: 1
            """
        let applications = """
            version: 1
            applications:
              redis:
                image: redis:7
                volume: {mountpoint: /data}
                ports: [{internal: 6379, external: 6379}]
              web:
                image: busybox:latest
                command: [httpd, -f, -p, "80"]
                ports: [{internal: 80, external: 8080}]
                links: [{local_port: 6379, remote_port: 6379, alias: redis}]
            """
        return try? Manifests.decode(
            deploymentBytes: Array(deployment.utf8), deploymentFile: "dep.yml",
            applicationBytes: Array(applications.utf8),
            applicationFile: "app.yml"
        ).desired
    }()

    static let nodes = ["node1", "node2"]

    @Sendable static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let answers = bytes.split(separator: 0xFF, maxSplits: 1, omittingEmptySubsequences: false)
        var observed = ObservedState(nodes: [:])
        for (node, answer) in zip(nodes, answers) {
            let address = "10.77.0.1\(observed.nodes.count + 1)"
            if let state = try checkAnswer(String(decoding: answer, as: UTF8.self), node: node, address: address) {
                observed.nodes[node] = state
            } else {
                observed.unreachable[node] = "discovery refused its answer"
            }
        }
        if answers.count < 2 { observed.unreachable["node2"] = "not reachable" }
        try checkPlans(observed)
        let text = String(decoding: bytes, as: UTF8.self)
        try checkLockRead(text)
        try checkApplicationLocks(text)
        try checkAuditTail(text)
    }

    /// Parses one node's answer the way discovery does. Returns what the planner would be given, nil when
    /// discovery refuses the answer.
    static func checkAnswer(_ answer: String, node: String, address: String) throws(FuzzFailure) -> NodeState? {
        let state = DiscoveryScript.parse(answer, node: node, address: address)
        let again = DiscoveryScript.parse(answer, node: node, address: address)
        try check(state == again, "two parses of one answer differ: \(difference(state, again))")
        let lines = answer.split(separator: "\n", omittingEmptySubsequences: false)
        let complete = lines.contains { $0 == DiscoveryScript.marker + "end" }
        let cutShort = state.facts.problems.contains("discovery output was cut short")
        try check(
            complete != cutShort, "end marker \(complete ? "present" : "missing") but cut-short problem \(cutShort)")
        let given: NodeState?
        do {
            given = try Discovery.state(from: answer, node: node, address: address)
        } catch {
            try check(error.node == node && !error.message.isEmpty, "refusal without its node or message: \(error)")
            given = nil
        }
        try check(given == nil || complete, "an answer without its end marker is given to the planner")
        try check(
            given == nil || given == state,
            "discovery gives the planner another state than parse: \(given.map { difference(state, $0) } ?? "")")
        try checkState(state, node: node, address: address)
        return given
    }

    /// The parts of two states of one node that differ, with both values.
    static func difference(_ a: NodeState, _ b: NodeState) -> String {
        var parts: [String] = []
        func compare<T: Equatable>(_ name: String, _ x: T, _ y: T) {
            if x != y { parts.append("\(name): \(x) vs \(y)") }
        }
        compare("facts", a.facts, b.facts)
        compare("containers", a.containers, b.containers)
        compare("datasets", a.datasets, b.datasets)
        compare("routes", a.routes, b.routes)
        compare("images", a.images, b.images)
        compare("holds", a.holds, b.holds)
        compare("dependents", a.dependents, b.dependents)
        compare("clones", a.clones, b.clones)
        compare("files", a.files, b.files)
        compare("serviceAddresses", a.serviceAddresses, b.serviceAddresses)
        compare("serviceRoutes", a.serviceRoutes, b.serviceRoutes)
        return parts.isEmpty ? "no part differs" : parts.joined(separator: "; ")
    }

    /// What each part of a parsed state must look like, whatever the answer said.
    static func checkState(_ s: NodeState, node: String, address: String) throws(FuzzFailure) {
        try check(s.node == node && s.address == address, "node \(s.node) at \(s.address)")
        for (app, c) in s.containers {
            try check(
                c.app == app && !app.isEmpty, "container of \(app.debugDescription) says \(c.app.debugDescription)")
            try check(c.running == (c.status == "running"), "\(app): running \(c.running) with state \(c.status)")
            try check(!c.restartPolicy.isEmpty, "\(app): empty restart policy")
        }
        for (id, d) in s.datasets {
            try check(d.id == id, "dataset \(id) holds \(d.id)")
            try check(VolumeID(dataset: id.dataset) == id, "volume \(id) does not round-trip through \(id.dataset)")
            try check(
                d.snapshots.allSatisfy { $0.name.hasPrefix("flocker-") }, "\(id): someone else's snapshot among ours")
            try check(
                !d.otherSnapshots.contains { $0.name.hasPrefix("flocker-") }, "\(id): one of ours among the others")
            for list in [d.snapshots, d.otherSnapshots] {
                try check(
                    zip(list, list.dropFirst()).allSatisfy { $0.createtxg <= $1.createtxg },
                    "\(id): snapshots out of order")
            }
            try check(d.quota != 0, "\(id): a zero quota (none is nil)")
        }
        for rule in s.routes {
            try check(rule.table == "nat" || rule.table == "filter", "rule of table \(rule.table)")
            try check(RouteTag(comment: rule.tag.comment) == rule.tag, "route tag \(rule.tag) does not round-trip")
            try check(!rule.chain.isEmpty && !rule.chain.contains(" "), "chain \(rule.chain.debugDescription)")
            try check(rule.deleteLine == "-D \(rule.chain) \(rule.ruleText)", "delete line \(rule.deleteLine)")
        }
        try check(s.serviceAddresses.allSatisfy(ServiceNetwork.contains), "service addresses \(s.serviceAddresses)")
        try check(s.serviceRoutes.keys.allSatisfy(ServiceNetwork.contains), "service routes \(s.serviceRoutes)")
        try check(!(s.images ?? []).contains { $0.isEmpty || $0.hasPrefix("<none>") }, "images \(s.images ?? [])")
        try check(!s.holds.contains(""), "a hold of no application")
        for (snapshot, clones) in s.dependents {
            try check(snapshot.contains("@") && clones == clones.sorted(), "dependents of \(snapshot): \(clones)")
        }
    }

    /// The plans of a deploy (with and without `--failover`) and of a sync: each the same when made twice, naming
    /// only nodes of the deployment file, and printable.
    static func checkPlans(_ observed: ObservedState) throws(FuzzFailure) {
        guard let desired else { throw FuzzFailure(message: "the target's own manifests do not decode") }
        guard !observed.nodes.isEmpty else { return }
        for failover in [false, true] {
            let plan = Result { () throws(PlanRefusal) in
                try Planner.plan(desired: desired, observed: observed, failover: failover)
            }
            let again = Result { () throws(PlanRefusal) in
                try Planner.plan(desired: desired, observed: observed, failover: failover)
            }
            try check(plan == again, "two plans from one state differ (failover \(failover))")
            try checkPlan(plan)
        }
        let sync = Result { () throws(PlanRefusal) in try Planner.syncPlan(desired: desired, observed: observed) }
        try checkPlan(sync)
    }

    static func checkPlan(_ result: Result<Plan, PlanRefusal>) throws(FuzzFailure) {
        switch result {
        case .success(let plan):
            try check(plan.nodes.isSubset(of: nodes), "a plan for nodes \(plan.nodes.sorted())")
            try check(!StepText.render(plan, full: true).isEmpty || plan.isEmpty, "an empty text for a plan")
        case .failure(let refusal):
            try check(!refusal.problems.isEmpty, "a refusal with no problem")
            try check(refusal.problems.allSatisfy { !$0.message.isEmpty }, "a refusal with an empty message")
        }
    }

    /// `RunLock.parse` (the lock read, and the answer to taking it): the same twice; a holder found round-trips
    /// through the info file's encoding and can be shown.
    static func checkLockRead(_ text: String) throws(FuzzFailure) {
        let parsed = RunLock.parse(text)
        let again = RunLock.parse(text)
        try check(
            parsed.status == again.status && parsed.idle == again.idle && parsed.holder == again.holder
                && parsed.expired == again.expired, "two parses of one lock read differ")
        try check(
            !parsed.status.isEmpty && !parsed.status.contains(" "), "lock status \(parsed.status.debugDescription)")
        for holder in [parsed.holder, parsed.expired].compactMap({ $0 }) {
            try checkHolder(holder)
        }
        if parsed.status == "held" {
            try check(
                !LockCommands.Held(idleSeconds: parsed.idle, holder: parsed.holder).text.isEmpty, "empty lock text")
        }
    }

    /// The application locks listed on a node (`lock status`, `lock release`).
    static func checkApplicationLocks(_ text: String) throws(FuzzFailure) {
        for lock in LockCommands.parseApplicationLocks(text) {
            try check(
                !lock.app.isEmpty && !lock.app.contains(" ") && !lock.app.contains("\n"),
                "lock of \(lock.app.debugDescription)")
            if let holder = lock.holder { try checkHolder(holder) }
            _ = LockCommands.Held(app: lock.app, idleSeconds: lock.idle, holder: lock.holder).text
        }
    }

    /// A lock holder read from a node: encoded and decoded again it is the same, and it can be shown, also as one
    /// of this machine's runs (`lock status` then looks at its process).
    static func checkHolder(_ holder: LockHolder) throws(FuzzFailure) {
        let line = String(decoding: RunLock.encode(holder).dropLast(), as: UTF8.self)
        try check(RunLock.decode(line) == holder, "lock holder does not round-trip: \(line)")
        try check(!holder.description.isEmpty, "empty holder description")
        let local = LockCommands.Held(idleSeconds: 0, holder: holder, localHost: holder.host)
        try check(
            local.holderAlive != nil || holder.pid <= 0 || pid_t(exactly: holder.pid) == nil,
            "a local holder's process not looked at: pid \(holder.pid)")
        _ = local.text
    }

    /// The audit log's last line (`status`): a record read from it round-trips and can be shown.
    static func checkAuditTail(_ text: String) throws(FuzzFailure) {
        guard let record = text.split(separator: "\n").last.flatMap(AuditRecord.decode) else { return }
        let line = String(decoding: record.line.dropLast(), as: UTF8.self)
        try check(AuditRecord.decode(Substring(line)) == record, "audit record does not round-trip: \(line)")
        try check(!record.summary.isEmpty, "empty audit summary")
    }
}
