import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Who holds a node's lock, as recorded in the lock's `info` file.
public struct LockHolder: Sendable, Hashable, Codable, CustomStringConvertible {
    public var token: String
    public var user: String
    /// The machine flocker-deploy ran on.
    public var host: String
    public var pid: Int
    /// Unix time the lock was taken.
    public var started: Int
    /// SHA-256 of the two manifests.
    public var manifests: String
    public var command: String

    public var description: String {
        "\(user)@\(host) (pid \(pid), since \(Timestamp.iso(started)), manifests \(manifests.prefix(12)))"
    }

    /// Whether the holder is a `flocker-deploy sync` (its command line's first argument).
    public var isSync: Bool { command.split(separator: " ").dropFirst().first == "sync" }
}

/// A lock found on a node.
public struct LockState: Sendable, Hashable {
    public var holder: LockHolder?
    /// Seconds since the holder last showed signs of life (its heartbeat), by the node's clock.
    public var idleSeconds: Int
}

/// The run lock: a directory created atomically (`mkdir`) on every node a plan touches, holding who took it.
/// A second run fails fast naming the holder, or waits (`--lock-wait`). The holder touches a heartbeat file
/// while it runs; a lock whose heartbeat is older than the expiry (default 10 minutes) is left by a run that
/// died, and the next run takes it over with a warning. `flocker-deploy lock release` removes locks by hand.
public enum RunLock {
    public static let directory = "\(NodeCommands.stateDirectory)/lock"

    /// The lock folder of `key`: the node's own (`lock`), or an application's on that node (`lock-app-APP`).
    public static func directory(_ key: LockKey) -> String {
        key.app.map { "\(NodeCommands.stateDirectory)/lock-app-\($0)" } ?? directory
    }

    /// Takes the lock, or reports the current holder: prints `acquired`, or `held SECONDS` then the holder's info.
    /// An expired lock is moved aside atomically (only one contender wins the `mv`) and taken.
    static func acquireCommand(expirySeconds: Int, directory: String = RunLock.directory) -> RemoteCommand {
        .script("""
            d=$1; expiry=$2
            mkdir -p "${d%/*}" || exit 3
            take() { mkdir "$d" 2>/dev/null && cat > "$d/info" && touch "$d/heartbeat" && echo acquired; }
            take && exit 0
            now=$(date +%s)
            hb=$(stat -c %Y "$d/heartbeat" 2>/dev/null || stat -c %Y "$d" 2>/dev/null || echo "$now")
            idle=$((now - hb))
            if [ "$idle" -gt "$expiry" ] && mv "$d" "$d.expired.$$" 2>/dev/null; then
              echo "expired $idle"; printf '%s\\n' "$(cat "$d.expired.$$/info" 2>/dev/null)"
              rm -rf "$d.expired.$$"
              take && exit 0
            fi
            echo "held $idle"
            cat "$d/info" 2>/dev/null
            exit 0
            """, name: "flocker-lock", [directory, String(expirySeconds)])
    }

    /// Removes the lock if it is still ours.
    static func releaseCommand(token: String, directory: String = RunLock.directory) -> RemoteCommand {
        .script("""
            d=$1
            grep -q "\\"token\\":\\"$2\\"" "$d/info" 2>/dev/null && rm -rf "$d"
            exit 0
            """, name: "flocker-unlock", [directory, token])
    }

    /// Touches the heartbeat if the lock is still ours.
    static func heartbeatCommand(token: String, directory: String = RunLock.directory) -> RemoteCommand {
        .script("""
            grep -q "\\"token\\":\\"$2\\"" "$1/info" 2>/dev/null && touch "$1/heartbeat"
            exit 0
            """, name: "flocker-heartbeat", [directory, token])
    }

    /// Removes the lock if `token` still holds it (taking over from a holder known to be dead).
    static func takeOverCommand(token: String, directory: String = RunLock.directory) -> RemoteCommand {
        .script("""
            d=$1
            grep -q "\\"token\\":\\"$2\\"" "$d/info" 2>/dev/null && mv "$d" "$d.dead.$$" 2>/dev/null && rm -rf "$d.dead.$$"
            exit 0
            """, name: "flocker-lock-takeover", [directory, token])
    }

    /// Whether `holder` was a process of this machine that no longer exists (a run killed here): its lock can be
    /// taken over at once rather than after the expiry.
    static func isDeadLocalHolder(_ holder: LockHolder?) -> Bool {
        // The pid comes from a file on the node: one beyond pid_t is not known to be dead (pid_t(_:) would trap).
        guard let holder, holder.host == ProcessInfo.processInfo.hostName, holder.pid > 0,
            let pid = pid_t(exactly: holder.pid)
        else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// The environment variable every remote command of a run carries (its lock token): see
    /// `RemoteHost.tagCommands(run:)`.
    public static let runVariable = "FLOCKER_RUN"

    /// Lists the processes on the node that a run with `token` started and that still run: one line
    /// `PID COMMAND` each. A run killed on this machine (SIGKILL, a lost laptop) cannot stop what it started on
    /// the nodes; its `docker create` or `zfs recv` goes on after its lock is taken over.
    static func leftoversCommand(token: String) -> RemoteCommand {
        .script("""
            for e in $(grep -lzx "$1=$2" /proc/[0-9]*/environ 2>/dev/null); do
              p=${e#/proc/}; p=${p%/environ}
              grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && continue
              printf '%s %s\\n' "$p" "$(tr '\\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-160)"
            done
            exit 0
            """, name: "flocker-leftovers", [runVariable, token])
    }

    /// Waits up to `seconds` until the processes `pids` have ended; then stops what is left (SIGTERM, then
    /// SIGKILL a second later). Prints `gone` or `stopped PID…`.
    static func awaitLeftoversCommand(pids: [Int], seconds: Int) -> RemoteCommand {
        .script("""
            t=$1; shift; pids="$*"; i=0
            alive() { a=""; for p in $pids; do
              [ -d "/proc/$p" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && a="$a $p"; done; pids=$a; }
            while [ $i -lt $((t * 10)) ]; do
              alive; [ -z "$pids" ] && { echo gone; exit 0; }
              sleep 0.1; i=$((i + 1))
            done
            kill -TERM $pids 2>/dev/null; sleep 1; alive; [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
            echo "stopped$pids"
            """, name: "flocker-await-leftovers", [String(seconds)] + pids.map(String.init))
    }

    /// Removes the lock whoever holds it (`flocker-deploy lock release`).
    static let forceReleaseCommand = RemoteCommand.script("""
        rm -rf "$1" "$1"-app-*
        """, name: "flocker-lock-release", [directory])

    /// Lists the applications whose lock is held on the node (a sync holds those): one line `APP IDLE INFO` each.
    static let applicationLocksCommand = RemoteCommand.script("""
        now=$(date +%s)
        for d in "$1"-app-*; do
          [ -d "$d" ] || continue
          hb=$(stat -c %Y "$d/heartbeat" 2>/dev/null || stat -c %Y "$d")
          printf '%s %s %s\\n' "${d##*/lock-app-}" "$((now - hb))" "$(cat "$d/info" 2>/dev/null)"
        done
        exit 0
        """, name: "flocker-app-locks", [directory])

    /// Reads the lock: `none`, or `held SECONDS` and the info.
    static let readCommand = RemoteCommand.script("""
        d=$1
        [ -d "$d" ] || { echo none; exit 0; }
        now=$(date +%s)
        hb=$(stat -c %Y "$d/heartbeat" 2>/dev/null || stat -c %Y "$d")
        echo "held $((now - hb))"
        cat "$d/info" 2>/dev/null
        """, name: "flocker-lock-status", [directory])

    /// Parses the output of the acquire and read commands.
    package static func parse(_ output: String) -> (status: String, idle: Int, holder: LockHolder?, expired: LockHolder?) {
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var expired: LockHolder?
        if let first = lines.first, first.hasPrefix("expired ") {
            expired = lines.count > 1 ? decode(lines[1]) : nil
            lines.removeFirst(min(2, lines.count))
        }
        guard let head = lines.first else { return ("none", 0, nil, expired) }
        let parts = head.split(separator: " ")
        let status = parts.first.map(String.init) ?? "none"
        let idle = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let holder = lines.dropFirst().first.flatMap(decode)
        return (status, idle, holder, expired)
    }

    package static func decode(_ line: String) -> LockHolder? {
        try? JSONDecoder().decode(LockHolder.self, from: Data(line.utf8))
    }

    package static func encode(_ holder: LockHolder) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(holder)) ?? Data()) + [10]
    }
}

/// One lock: a node's own (`app == nil`: a deploy takes it on every node it changes), or one application's
/// on a node (a sync takes only those, so a deploy of another application on the node is not held up; a deploy
/// takes those of the applications it changes too, so a sync and a deploy of one application never overlap).
/// Ordered node by node, the node's own first: every run takes its locks in this order.
public struct LockKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var node: String
    public var app: String?
    public init(node: String, app: String? = nil) {
        self.node = node
        self.app = app
    }
    public static func < (a: LockKey, b: LockKey) -> Bool { (a.node, a.app ?? "") < (b.node, b.app ?? "") }
    public var description: String { app.map { "\(node) (\($0))" } ?? node }
}

/// Holds the locks of one run.
public final class LockSet: Sendable {
    /// Why the locks could not be taken.
    public struct Busy: Error, Sendable, CustomStringConvertible {
        public var held: [(node: String, holder: LockHolder?, idle: Int)]
        public var failures: [String]
        public var description: String {
            var lines = held.map { "\($0.node): locked by \($0.holder?.description ?? "an unknown run") (last active \($0.idle)s ago)" }
            lines += failures
            return lines.joined(separator: "\n")
        }
    }

    public let holder: LockHolder
    private let taken = Mutex<[LockKey: any RemoteHost]>([:])

    public init(holder: LockHolder) { self.holder = holder }

    /// The locks held now.
    public var keys: Set<LockKey> { Set(taken.withLock { $0.keys }) }
    /// The nodes whose own lock is held.
    public var nodes: Set<String> { Set(keys.filter { $0.app == nil }.map(\.node)) }

    /// Whether this run holds `node`'s own lock now.
    public func holds(_ node: String) -> Bool { taken.withLock { $0[LockKey(node: node)] != nil } }

    /// Whether a step for `app` (empty: node-wide) may run on `node`: the run holds the node's lock, or that
    /// application's lock there.
    public func covers(_ node: String, app: String) -> Bool {
        taken.withLock { $0[LockKey(node: node)] != nil || (!app.isEmpty && $0[LockKey(node: node, app: app)] != nil) }
    }

    /// Takes the node locks of `hosts` (see the keyed variant).
    public func acquire(
        _ hosts: [any RemoteHost], wait: Duration, expiry: Duration, leftoverWait: Duration = .seconds(30),
        stop: StopRequest, warn: @Sendable (String) -> Void
    ) async -> Busy? {
        await acquire(keys: hosts.map { (LockKey(node: $0.node), $0) }, wait: wait, expiry: expiry,
                      leftoverWait: leftoverWait, stop: stop, warn: warn)
    }

    /// Takes the lock on every host not yet locked. With `wait`, retries until the deadline (or a stop request).
    /// Returns nil when every lock is held, otherwise why not; on failure, locks taken by this call are released
    /// again. (A returned value rather than a typed throw: a release build once aborted right after this failed,
    /// in 40-faults' stale-lock case, and was not reproduced in 100 runs since; the one -O miscompile known here
    /// is in async code built around a typed throw, see docs/architecture.md, so this path now has none.)
    ///
    /// A lock taken over from a run that died (its holder's process is gone, or its heartbeat expired) is not
    /// ready until that run's remote commands still running on the node have ended: this waits for them up to
    /// `leftoverWait`, saying so, then stops them. Only then does the caller look at the node, so nothing the
    /// dead run started can change the node after this run looked at it.
    public func acquire(
        keys requested: [(LockKey, any RemoteHost)], wait: Duration, expiry: Duration, leftoverWait: Duration = .seconds(30),
        stop: StopRequest, warn: @Sendable (String) -> Void
    ) async -> Busy? {
        let clock = ContinuousClock()
        let deadline = clock.now + wait
        let held = keys
        let wanted = requested.filter { !held.contains($0.0) }.sorted { $0.0 < $1.0 }
        var pending = wanted
        var notified = false
        // Lock → token of the dead run whose lock this call took over.
        var deadRuns: [LockKey: String] = [:]
        while true {
            var busy: [(String, LockHolder?, Int)] = []
            var failures: [String] = []
            var still: [(LockKey, any RemoteHost)] = []
            var retryNow = false
            // In order (see LockKey), and never past a lock that is held: two runs that want overlapping locks
            // then meet at the first one they share, so one of them gets them all (taking the others anyway left
            // each run holding a part of the other's: both gave up, or both waited forever).
            var blocked = false
            for (key, host) in pending {
                if blocked {
                    still.append((key, host))
                    continue
                }
                let dir = RunLock.directory(key)
                do {
                    let r = try await host.run(RunLock.acquireCommand(expirySeconds: Int(expiry.components.seconds), directory: dir),
                                               stdin: RunLock.encode(holder), timeout: .seconds(30))
                    let parsed = RunLock.parse(r.stdoutText)
                    if let expired = parsed.expired {
                        warn("\(key): took over a lock left by a run that stopped answering: \(expired)")
                        deadRuns[key] = expired.token
                    }
                    if r.status.isSuccess && parsed.status == "acquired" {
                        taken.withLock { $0[key] = host }
                        if let dead = deadRuns.removeValue(forKey: key) {
                            await awaitLeftovers(of: dead, on: host, limit: leftoverWait, warn: warn)
                        }
                    } else if r.status.isSuccess && parsed.status == "held", RunLock.isDeadLocalHolder(parsed.holder), let dead = parsed.holder {
                        warn("\(key): taking over the lock of a run on this machine that no longer exists: \(dead)")
                        deadRuns[key] = dead.token
                        _ = try await host.run(RunLock.takeOverCommand(token: dead.token, directory: dir), stdin: [], timeout: .seconds(15))
                        still.append((key, host))
                        retryNow = true
                        blocked = true
                    } else if r.status.isSuccess && parsed.status == "held" {
                        busy.append((key.description, parsed.holder, parsed.idle))
                        still.append((key, host))
                        blocked = true
                    } else {
                        failures.append("\(key): could not take the lock (\(r.status)): \(r.stderrText)")
                    }
                } catch {
                    failures.append(error.description)
                }
            }
            if still.isEmpty && failures.isEmpty { return nil }
            if retryNow && failures.isEmpty && busy.isEmpty {
                pending = still
                continue
            }
            if !failures.isEmpty || clock.now >= deadline || stop.isRequested {
                await release(keys: wanted.map(\.0))
                return Busy(held: busy, failures: failures)
            }
            if !notified {
                warn("waiting for the lock: " + busy.map { "\($0.0) is locked by \($0.1?.description ?? "another run")" }.joined(separator: "; "))
                notified = true
            }
            pending = still
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Waits until the commands the dead run `token` left running on `host` have ended (see `acquire`).
    private func awaitLeftovers(of token: String, on host: any RemoteHost, limit: Duration, warn: @Sendable (String) -> Void) async {
        guard let listed = try? await host.run(RunLock.leftoversCommand(token: token), stdin: [], timeout: .seconds(30)),
            listed.status.isSuccess
        else {
            warn("\(host.node): could not look for commands left running by the run that died there")
            return
        }
        let lines = listed.stdoutText.split(separator: "\n").map(String.init)
        let pids = lines.compactMap { $0.split(separator: " ").first.flatMap { Int($0) } }
        guard !pids.isEmpty else { return }
        let seconds = max(1, Int(limit.components.seconds))
        warn("\(host.node): waiting up to \(seconds) s for \(pids.count) command\(pids.count == 1 ? "" : "s") left running by the run that died, before looking at the node: "
             + lines.map { "pid " + $0 }.joined(separator: "; "))
        let waited = try? await host.run(RunLock.awaitLeftoversCommand(pids: pids, seconds: seconds), stdin: [],
                                         timeout: limit + .seconds(30))
        let outcome = waited?.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if outcome.hasPrefix("stopped") {
            warn("\(host.node): stopped what was still running after \(seconds) s (pid\(outcome.dropFirst("stopped".count)))")
        }
    }

    /// Touches the heartbeat of every lock held.
    public func heartbeat() async {
        for (key, host) in taken.withLock({ Array($0) }) {
            _ = try? await host.run(RunLock.heartbeatCommand(token: holder.token, directory: RunLock.directory(key)),
                                    stdin: [], timeout: .seconds(15))
        }
    }

    /// Releases the locks (all, or the node locks of `only`).
    public func release(only: [String]? = nil) async {
        await release(keys: only.map { $0.map { LockKey(node: $0) } } ?? Array(keys))
    }

    /// Releases the given locks (those held among them).
    public func release(keys: [LockKey]) async {
        let held = taken.withLock { t -> [(LockKey, any RemoteHost)] in
            let hs = keys.compactMap { k in t[k].map { (k, $0) } }
            for k in keys { t[k] = nil }
            return hs
        }
        for (key, host) in held {
            _ = try? await host.run(RunLock.releaseCommand(token: holder.token, directory: RunLock.directory(key)),
                                    stdin: [], timeout: .seconds(15))
        }
    }
}

/// Times for people and records.
public enum Timestamp {
    public static func iso(_ unix: Int) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }
    public static var now: Int { Int(Date().timeIntervalSince1970) }
}
