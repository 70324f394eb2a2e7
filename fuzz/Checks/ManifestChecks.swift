// Properties of the `manifest` fuzz target: any bytes, read as a deployment file and an application file, must give
// checked manifests or positioned errors, never a crash, and either result must satisfy the invariants below.
//
// Input: the bytes before the first 0xFF are the deployment file, the bytes after it the application file (0xFF
// never occurs in UTF-8, so valid YAML on both sides stays reachable). Without 0xFF, the same bytes are given as
// both files.
import FlockerCore
import Foundation

enum ManifestChecks {
    @Sendable static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let deployment: [UInt8]
        let application: [UInt8]
        if let cut = bytes.firstIndex(of: 0xFF) {
            deployment = Array(bytes[..<cut])
            application = Array(bytes[(cut + 1)...])
        } else {
            deployment = bytes
            application = bytes
        }
        let m: Manifests
        do {
            m = try Manifests.decode(
                deploymentBytes: deployment, deploymentFile: "dep.yml", applicationBytes: application,
                applicationFile: "app.yml")
        } catch {
            try checkErrors(error)
            return
        }
        try checkManifests(m)
    }

    private static func checkErrors(_ errors: ManifestErrors) throws(FuzzFailure) {
        try check(!errors.errors.isEmpty, "thrown with no errors")
        var seenApplicationFile = false
        var previous: (file: String, line: Int, column: Int)?
        for e in errors.errors {
            try check(e.line >= 1 && e.column >= 1, "position \(e.line):\(e.column): \(e)")
            try check(!e.message.isEmpty, "empty message: \(e)")
            try check(e.file == "dep.yml" || e.file == "app.yml", "file \(e.file)")
            try check(e.description.hasPrefix("\(e.file):\(e.line):\(e.column): error: "), "description: \(e)")
            try check(!e.description.contains("\n"), "line break in an error line: \(e.description.debugDescription)")
            try check(
                !e.message.unicodeScalars.contains { $0.value < 0x20 },
                "control character in \(e.message.debugDescription)"
            )
            if e.file == "app.yml" { seenApplicationFile = true }
            try check(!(seenApplicationFile && e.file == "dep.yml"), "a deployment error after an application error")
            if let p = previous, p.file == e.file {
                try check((p.line, p.column) <= (e.line, e.column), "out of order: \(p.line):\(p.column) then \(e)")
            }
            previous = (e.file, e.line, e.column)
        }
    }

    private static func checkManifests(_ m: Manifests) throws(FuzzFailure) {
        try check(m.hash.count == 64, "hash \(m.hash)")
        var external = Set<Int>()
        var names = Set<String>()
        for app in m.applications {
            try check(names.insert(app.name).inserted, "application twice: \(app.name)")
            try check(isName(app.name, extra: "_.-", maximum: 63), "application name \(app.name.debugDescription)")
            try check(
                app.name.first.map { $0 != "_" && $0 != "." && $0 != "-" } ?? false, "application name \(app.name)")
            try check(!app.image.isEmpty && !app.image.hasPrefix("-"), "image \(app.image.debugDescription)")
            try check(
                !app.image.unicodeScalars.contains { $0.value <= 0x20 || $0.value >= 0x7F },
                "image \(app.image.debugDescription)")
            var internalPorts = Set<Int>()
            for p in app.ports {
                try check((1...65535).contains(p.internalPort) && (1...65535).contains(p.externalPort), "port \(p)")
                try check(external.insert(p.externalPort).inserted, "external port \(p.externalPort) twice")
                try check(
                    internalPorts.insert(p.internalPort).inserted,
                    "internal port \(p.internalPort) twice in \(app.name)")
            }
            var volumeNames = Set<String>()
            var mountpoints = Set<String>()
            for v in app.volumes {
                try check(isName(v.name, extra: "_-", maximum: 63), "volume name \(v.name.debugDescription)")
                try check(
                    volumeNames.insert(v.name).inserted && mountpoints.insert(v.mountpoint).inserted,
                    "volume twice: \(v)")
                try check(
                    v.mountpoint.hasPrefix("/") && v.mountpoint != "/" && !v.mountpoint.hasSuffix("/"),
                    "mountpoint \(v)")
                try check(!v.mountpoint.split(separator: "/").contains { $0 == ".." || $0 == "." }, "mountpoint \(v)")
                try check(
                    !v.mountpoint.unicodeScalars.contains { $0.value < 0x20 || $0 == ":" || $0 == "," },
                    "mountpoint \(v)")
                try check(v.maximumSize.map { $0 >= 1 } ?? true, "quota \(v)")
            }
            for l in app.links {
                try check((1...65535).contains(l.localPort) && (1...65535).contains(l.remotePort), "link \(l)")
                let aliasStart = l.alias.unicodeScalars.first.map { !($0 >= "0" && $0 <= "9") && $0 != "-" } ?? false
                try check(
                    isName(l.alias, extra: "_-", maximum: Int.max) && aliasStart, "alias \(l.alias.debugDescription)")
            }
            for (key, value) in app.environment {
                // Docker's rule (ManifestRules.environmentNamePattern): no `=`, white space or control character, and
                // no leading `#`.
                let allowed = key.unicodeScalars.allSatisfy { c in
                    c != "=" && c.value > 0x20 && c.value != 0x7F && !c.properties.isWhitespace
                }
                try check(!key.isEmpty && !key.hasPrefix("#") && allowed, "variable \(key.debugDescription)")
                try check(
                    !value.utf8.contains(0) && !value.utf8.contains(10) && !value.utf8.contains(13), "value of \(key)")
            }
            if let command = app.command {
                try check(!command.isEmpty && !command.contains { $0.utf8.contains(0) }, "command \(command)")
            }
            if let memory = app.memoryLimit {
                try check(memory >= 6 << 20 && memory <= UInt64(Int64.max), "memory \(memory)")
            }
            if let shares = app.cpuShares { try check((2...262_144).contains(shares), "cpu shares \(shares)") }
            _ = app.configHash
        }
        var placed = Set<String>()
        var nodes = Set<String>()
        for node in m.deployment.nodes {
            let ends = [node.name.unicodeScalars.first, node.name.unicodeScalars.last].allSatisfy { c in
                c.map { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") } ?? false
            }
            try check(isName(node.name, extra: "_.-", maximum: 253) && ends, "node \(node.name.debugDescription)")
            try check(nodes.insert(node.name.lowercased()).inserted, "node twice: \(node.name)")
            for app in node.applications {
                try check(names.contains(app), "unknown application placed: \(app)")
                try check(placed.insert(app).inserted, "application placed twice: \(app)")
            }
        }
        try check(m.desired.placement.count == placed.count, "placement \(m.desired.placement)")
        try checkReplicas(m, nodes: m.deployment.nodes.map(\.name))
        let summary = ManifestSummary(m, showValues: true)
        try check(summary.text().hasSuffix(summary.okLine + "\n"), "summary text")
        let json = summary.json()
        let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
        try check(object?["ok"] as? Bool == true && json.hasSuffix("}\n"), "summary json: \(json)")
    }

    /// `replicas:` and `zones:` name known applications and nodes; a request for replicas is for a placed application
    /// with volumes and fits the other nodes; the nodes chosen for it are other nodes, each once.
    private static func checkReplicas(_ m: Manifests, nodes: [String]) throws(FuzzFailure) {
        try check(Set(m.deployment.zones.keys).isSubset(of: nodes), "zones \(m.deployment.zones)")
        try check(
            m.deployment.zones.values.allSatisfy { isName($0, extra: "_.-", maximum: 63) },
            "zones \(m.deployment.zones)")
        try check(
            m.desired.replicas == m.deployment.replicas && m.desired.zones == m.deployment.zones, "desired replicas")
        for (name, request) in m.deployment.replicas {
            try check(m.desired.applications[name] != nil, "replicas of an unknown application: \(name)")
            try check(request.count >= 0, "replica count \(request)")
            guard request.count > 0 else { continue }
            let primary = m.desired.placement[name]
            try check(primary != nil, "replicas of an application on no node: \(name)")
            try check(
                !(m.desired.applications[name]?.volumes.isEmpty ?? true), "replicas of an application without volumes")
            try check(request.count <= nodes.count - 1, "more replicas than other nodes: \(name) \(request)")
            for existing in [[], nodes, Array(nodes.reversed())] {
                let chosen = m.desired.replicaNodes(of: name, existing: existing, load: [:])
                try check(chosen.count == request.count, "\(name): chose \(chosen) for \(request)")
                try check(
                    Set(chosen).count == chosen.count && Set(chosen).isSubset(of: nodes), "\(name): chose \(chosen)")
                try check(!chosen.contains { $0 == primary }, "\(name): a replica on the primary's node")
            }
        }
    }

    /// ASCII letters and digits, plus `extra`.
    private static func isName(_ s: String, extra: String, maximum: Int) -> Bool {
        guard !s.isEmpty, s.utf8.count <= maximum else { return false }
        return s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || extra.unicodeScalars.contains(c)
        }
    }
}
