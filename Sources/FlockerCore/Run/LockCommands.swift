/// `flocker-deploy lock status` and `lock release`.
public enum LockCommands {
    public struct Report: Sendable {
        public var text: String
        public var locked: Bool
        public var unreachable: Bool
    }

    public static func status(nodes: [String], connector: any NodeConnector) async -> Report {
        await each(nodes, connector: connector) { (host: any RemoteHost) async throws(RemoteError) -> (String, Bool) in
            let r = try await host.run(RunLock.readCommand, stdin: [], timeout: .seconds(15))
            let parsed = RunLock.parse(r.stdoutText)
            let apps = try await applicationLocks(host)
            let appText = apps.map { "; application \($0.app) locked by \($0.holder?.description ?? "an unknown run"), last active \($0.idle)s ago" }.joined()
            guard parsed.status == "held" else { return (apps.isEmpty ? "not locked" : "node not locked" + appText, !apps.isEmpty) }
            return ("locked by \(parsed.holder?.description ?? "an unknown run"), last active \(parsed.idle)s ago" + appText, true)
        }
    }

    public static func release(nodes: [String], connector: any NodeConnector) async -> Report {
        await each(nodes, connector: connector) { (host: any RemoteHost) async throws(RemoteError) -> (String, Bool) in
            let r = try await host.run(RunLock.readCommand, stdin: [], timeout: .seconds(15))
            let parsed = RunLock.parse(r.stdoutText)
            let apps = try await applicationLocks(host)
            guard parsed.status == "held" || !apps.isEmpty else { return ("not locked", false) }
            let rm = try await host.run(RunLock.forceReleaseCommand, stdin: [], timeout: .seconds(15))
            guard rm.status.isSuccess else { return ("could not release: \(rm.stderrText)", true) }
            var parts: [String] = []
            if parsed.status == "held" { parts.append("released the lock of \(parsed.holder?.description ?? "an unknown run")") }
            parts += apps.map { "released application \($0.app)'s lock of \($0.holder?.description ?? "an unknown run")" }
            return (parts.joined(separator: "; "), false)
        }
    }

    /// The application locks held on `host` (a sync takes those).
    static func applicationLocks(_ host: any RemoteHost) async throws(RemoteError) -> [(app: String, idle: Int, holder: LockHolder?)] {
        let r = try await host.run(RunLock.applicationLocksCommand, stdin: [], timeout: .seconds(15))
        return r.stdoutText.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count >= 2, let idle = Int(parts[1]) else { return nil }
            return (parts[0], idle, parts.count > 2 ? RunLock.decode(parts[2]) : nil)
        }
    }

    private static func each(
        _ nodes: [String], connector: any NodeConnector,
        _ body: @escaping @Sendable (any RemoteHost) async throws(RemoteError) -> (String, Bool)
    ) async -> Report {
        var text = ""
        var locked = false
        var unreachable = false
        let width = nodes.map(\.count).max() ?? 4
        for node in nodes {
            let name = node.padding(toLength: width, withPad: " ", startingAt: 0)
            let host: any RemoteHost
            do {
                host = try await connector.connect(node)
            } catch {
                unreachable = true
                text += "  \(name)  unreachable: \(error.message)\n"
                continue
            }
            do {
                let (line, isLocked) = try await body(host)
                locked = locked || isLocked
                text += "  \(name)  \(line)\n"
            } catch {
                unreachable = true
                text += "  \(name)  unreachable: \(error.message)\n"
            }
            // Closed before going on (not in a detached task): the process must not exit while a session is
            // being torn down, or OpenSSL's exit handlers free what the disconnect still uses (a crash, exit 139).
            await host.close()
        }
        return Report(text: text, locked: locked, unreachable: unreachable)
    }
}
