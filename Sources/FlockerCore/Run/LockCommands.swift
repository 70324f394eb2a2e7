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
            guard parsed.status == "held" else { return ("not locked", false) }
            return ("locked by \(parsed.holder?.description ?? "an unknown run"), last active \(parsed.idle)s ago", true)
        }
    }

    public static func release(nodes: [String], connector: any NodeConnector) async -> Report {
        await each(nodes, connector: connector) { (host: any RemoteHost) async throws(RemoteError) -> (String, Bool) in
            let r = try await host.run(RunLock.readCommand, stdin: [], timeout: .seconds(15))
            let parsed = RunLock.parse(r.stdoutText)
            guard parsed.status == "held" else { return ("not locked", false) }
            let rm = try await host.run(RunLock.forceReleaseCommand, stdin: [], timeout: .seconds(15))
            guard rm.status.isSuccess else { return ("could not release: \(rm.stderrText)", true) }
            return ("released the lock of \(parsed.holder?.description ?? "an unknown run")", false)
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
