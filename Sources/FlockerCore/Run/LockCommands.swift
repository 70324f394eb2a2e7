import Foundation

/// `flocker-deploy lock status` and `lock release`.
public enum LockCommands {
    public struct Report: Sendable {
        public var text: String
        public var locked: Bool
        public var unreachable: Bool
        /// Each node's locks (`lock status` only).
        public var nodes: [NodeLocks] = []
    }

    /// What `lock status` found on one node; `--json` prints these as `{"schema": 1, "nodes": [...]}`.
    public struct NodeLocks: Encodable, Sendable {
        public var node: String
        public var reachable: Bool
        /// Why the node could not be asked (when not reachable).
        public var error: String?
        /// The node's run lock, or nil when it is not locked.
        public var runLock: Held?
        /// The application locks (a sync takes those).
        public var applicationLocks: [Held]
        /// Whether anything is locked on the node.
        public var locked: Bool

        init(node: String, reachable: Bool, error: String?, runLock: Held?, applicationLocks: [Held]) {
            self.node = node
            self.reachable = reachable
            self.error = error
            self.runLock = runLock
            self.applicationLocks = applicationLocks
            self.locked = runLock != nil || !applicationLocks.isEmpty
        }
    }

    /// A lock and who holds it.
    public struct Held: Encodable, Sendable {
        /// The application (application locks only).
        public var app: String?
        /// Seconds since the holder last showed signs of life, by the node's clock.
        public var idleSeconds: Int
        public var holder: LockHolder?
        /// When the holder ran on this machine: whether its process is still there. Nil when it ran elsewhere
        /// (or is unknown), since a process on another machine cannot be looked at from here.
        public var holderAlive: Bool?

        package init(app: String? = nil, idleSeconds: Int, holder: LockHolder?, localHost: String = ProcessInfo.processInfo.hostName) {
            self.app = app
            self.idleSeconds = idleSeconds
            self.holder = holder
            self.holderAlive = holder.flatMap { Self.alive($0, localHost: localHost) }
        }

        /// Whether `holder`'s process is alive, when it ran on `localHost`.
        static func alive(_ holder: LockHolder, localHost: String) -> Bool? {
            // The pid comes from a file on the node: one beyond pid_t is no process to look at (pid_t(_:) would trap).
            guard holder.host == localHost, holder.pid > 0, let pid = pid_t(exactly: holder.pid) else { return nil }
            // kill(pid, 0) checks existence only; EPERM means it exists but belongs to someone else.
            return kill(pid, 0) == 0 || errno == EPERM
        }

        /// `redis locked by … , last active 3s ago` or the same with `(its process 123 on this machine is gone: …)`.
        package var text: String {
            var line = "locked by \(holder?.description ?? "an unknown run"), last active \(idleSeconds)s ago"
            if holderAlive == false, let holder {
                line += " (its process \(holder.pid) on this machine is gone: a run that died: the next run takes the lock over at once, or `flocker-deploy lock release` removes it)"
            }
            return line
        }
    }

    /// Every node's locks, as text (`report.text`) and as records (`report.nodes`, for `--json`).
    public static func status(nodes: [String], connector: any NodeConnector) async -> Report {
        var records: [NodeLocks] = []
        for node in nodes {
            let host: any RemoteHost
            do {
                host = try await connector.connect(node)
            } catch {
                records.append(NodeLocks(node: node, reachable: false, error: error.message, runLock: nil, applicationLocks: []))
                continue
            }
            do {
                let r = try await host.run(RunLock.readCommand, stdin: [], timeout: .seconds(15))
                let parsed = RunLock.parse(r.stdoutText)
                let apps = try await applicationLocks(host).map { Held(app: $0.app, idleSeconds: $0.idle, holder: $0.holder) }
                let run = parsed.status == "held" ? Held(idleSeconds: parsed.idle, holder: parsed.holder) : nil
                records.append(NodeLocks(node: node, reachable: true, error: nil, runLock: run, applicationLocks: apps))
            } catch {
                records.append(NodeLocks(node: node, reachable: false, error: error.message, runLock: nil, applicationLocks: []))
            }
            // Closed before going on (see `each`).
            await host.close()
        }
        return report(records)
    }

    /// The report of `records`: one text line per node, and the flags the exit code is made of.
    static func report(_ records: [NodeLocks]) -> Report {
        let width = records.map(\.node.count).max() ?? 4
        var text = ""
        for r in records {
            let name = r.node.padding(toLength: width, withPad: " ", startingAt: 0)
            let line: String
            if !r.reachable {
                line = "unreachable: \(r.error ?? "")"
            } else {
                let apps = r.applicationLocks.map { "; application \($0.app ?? "") \($0.text)" }.joined()
                if let run = r.runLock {
                    line = run.text + apps
                } else {
                    line = apps.isEmpty ? "not locked" : "node not locked" + apps
                }
            }
            text += "  \(name)  \(line)\n"
        }
        return Report(text: text, locked: records.contains(where: \.locked), unreachable: records.contains { !$0.reachable }, nodes: records)
    }

    /// `{"schema": 1, "locked": …, "unreachable": …, "nodes": [...]}` on one line, keys in snake_case.
    public static func json(_ report: Report) -> String {
        struct Root: Encodable {
            var schema = JSONSchema.version
            var locked: Bool
            var unreachable: Bool
            var nodes: [NodeLocks]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? encoder.encode(Root(locked: report.locked, unreachable: report.unreachable, nodes: report.nodes))) ?? Data()
        return (String(data: data, encoding: .utf8) ?? "{}") + "\n"
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
        return parseApplicationLocks(r.stdoutText)
    }

    /// Parses `RunLock.applicationLocksCommand`'s output: one `APP IDLE INFO` line per lock; other lines are skipped.
    package static func parseApplicationLocks(_ output: String) -> [(app: String, idle: Int, holder: LockHolder?)] {
        output.split(separator: "\n").compactMap { line in
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
