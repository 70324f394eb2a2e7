import Foundation
import Synchronization
import Testing

@testable import FlockerSSH

/// A throwaway OpenSSH server on 127.0.0.1 (a free port), with fresh ed25519 host and user keys in a temp
/// directory. Started by each test that needs it, stopped when the fixture is released (or by `stop()`).
final class SSHDFixture: @unchecked Sendable {
    let directory: String
    let port: Int
    let hostKey: String
    let userKey: String
    let knownHosts: String
    let authorizedKeys: String
    let logFile: String
    private let process: ChildProcess

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(extraConfig: String = "") throws {
        let directory = try Self.makeTempDirectory(prefix: "flocker-sshd")
        var started = false
        defer { if !started { try? FileManager.default.removeItem(atPath: directory) } }
        self.directory = directory
        hostKey = directory + "/ssh_host_ed25519_key"
        userKey = directory + "/id_ed25519"
        knownHosts = directory + "/known_hosts"
        authorizedKeys = directory + "/authorized_keys"
        logFile = directory + "/sshd.log"
        try Self.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f", hostKey])
        try Self.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "user", "-f", userKey])
        try String(contentsOfFile: userKey + ".pub", encoding: .utf8).write(
            toFile: authorizedKeys, atomically: true, encoding: .utf8)
        // sshd running as root needs its privilege-separation directory (normally made at boot).
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        // The sessions' HOME: an empty directory, so the remote shell (bash, which sources ~/.bashrc when
        // sshd starts it) runs none of this machine's start-up files. They are not the tests' to depend on:
        // root's ~/.bashrc here runs `pyenv init`, whose `pyenv rehash` waits 60 s for a lock file that a
        // shell killed mid-rehash leaves behind (killConnections does that) and prints a warning on stderr.
        let home = directory + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)

        var lastError = ""
        for _ in 0..<5 {
            let candidate = try Self.freePort()
            let config = directory + "/sshd_config"
            try """
                Port \(candidate)
                ListenAddress 127.0.0.1
                HostKey \(hostKey)
                PidFile \(directory)/sshd.pid
                AuthorizedKeysFile \(authorizedKeys)
                UsePAM no
                StrictModes no
                PermitRootLogin prohibit-password
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                LogLevel VERBOSE
                SetEnv HOME=\(home)
                \(extraConfig)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let process = try ChildProcess.spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], output: logFile)
            if Self.waitForListener(port: candidate, process: process) {
                self.process = process
                self.port = candidate
                let hostPublic = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8)
                    .split(separator: " ").prefix(2).joined(separator: " ")
                try "[127.0.0.1]:\(candidate) \(hostPublic)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
                started = true
                return
            }
            process.terminate()
            lastError = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        }
        throw Failure(description: "sshd did not start: \(lastError)")
    }

    deinit { stop() }

    func stop() {
        process.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills (SIGKILL) every descendant process of this fixture's sshd, i.e. the server side of every
    /// connection, leaving the listener running. Processes are found through /proc by parent pid.
    func killConnections() {
        var parents: Set<Int32> = [process.pid]
        var found = true
        var victims: [Int32] = []
        while found {
            found = false
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            for entry in entries {
                guard let pid = Int32(entry), !parents.contains(pid),
                    let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 2, let ppid = Int32(fields[1]), parents.contains(ppid) {
                    parents.insert(pid)
                    victims.append(pid)
                    found = true
                }
            }
        }
        for pid in victims { kill(pid, SIGKILL) }
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Settings that reach this server as the current user with the fixture's user key, strictly checked.
    func settings(identityFiles: [String]? = nil, knownHostsFiles: [String]? = nil) -> SSHHostSettings {
        SSHHostSettings(
            alias: "testnode", hostName: "127.0.0.1", user: NSUserName(), port: port,
            identityFiles: identityFiles ?? [userKey], knownHostsFiles: knownHostsFiles ?? [knownHosts],
            hostKeyPolicy: .strict, connectTimeout: .seconds(10))
    }

    /// Options without ssh-agent (tests must not depend on the environment).
    static var options: SSHConnectOptions {
        var o = SSHConnectOptions()
        o.useAgent = false
        return o
    }

    func connect(options: SSHConnectOptions = SSHDFixture.options) async throws -> SSHConnection {
        try await SSHConnection.connect(settings(), options: options)
    }

    /// The error of connecting with `settings` (and, with `runCommand`, of running `true` once connected), or
    /// nil when all of it succeeded.
    static func connectError(
        _ settings: SSHHostSettings, options: SSHConnectOptions = SSHDFixture.options, runCommand: Bool = false
    ) async -> SSHError? {
        do {
            let c = try await SSHConnection.connect(settings, options: options)
            if runCommand {
                do { _ = try await c.execute("true") } catch {
                    await c.close()
                    return error
                }
            }
            await c.close()
            return nil
        } catch {
            return error
        }
    }

    /// The host key's fingerprint as `ssh-keygen -lf` prints it (`SHA256:…`).
    func hostKeyFingerprint() throws -> String {
        let out = try Self.run("/usr/bin/ssh-keygen", ["-lf", hostKey + ".pub"])
        return String(out.split(separator: " ")[1])
    }

    // MARK: - Helpers

    static func makeTempDirectory(prefix: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/\(prefix).XXXXXX").utf8CString)
        guard let result = mkdtemp(&template) else { throw Failure(description: "mkdtemp failed") }
        return String(cString: result)
    }

    /// Runs a program to completion (stdin from /dev/null) and returns its stdout and stderr together.
    ///
    /// Foundation's `Process` is not used anywhere in these tests: when a child closes every inherited fd
    /// (sshd does), swift-corelibs-foundation takes it for exited and blocks in `waitpid` on it, which hangs
    /// every later `Process.waitUntilExit`.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let directory = try makeTempDirectory(prefix: "flocker-run")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outputFile = directory + "/output"
        let child = try ChildProcess.spawn(executable, arguments, environment: environment, output: outputFile)
        let status = child.wait()
        let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw Failure(description: "\(executable) \(arguments) failed (\(status)): \(output)")
        }
        return output
    }

    /// A port that was free a moment ago on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind failed") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A socket listening on a free port that never accepts: connections complete (the kernel's backlog)
    /// but no SSH banner ever arrives. Returns the fd (close it) and the port.
    static func silentListener() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw Failure(description: "bind/listen failed")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    private static func waitForListener(port: Int, process: ChildProcess) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if !process.isRunning { return false }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if rc == 0 { return true }
            usleep(20_000)
        }
        return false
    }
}

/// A child process started with posix_spawn, waited for by pid.
///
/// Every live child is also listed in `ChildProcess.live`, and an `atexit` handler terminates whatever is
/// still listed when the test process exits, so no sshd or ssh-agent outlives a run.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let state = Mutex<Int32?>(nil)   // exit status once reaped

    private static let live = Mutex<Set<pid_t>>([])
    private static let cleanupAtExit: Void = {
        atexit {
            let pids = ChildProcess.live.withLock { $0 }
            for pid in pids { kill(pid, SIGKILL) }
        }
    }()

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` with stdin from /dev/null and stdout+stderr appended to `output` (or /dev/null).
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, output: String? = nil
    ) throws -> ChildProcess {
        _ = cleanupAtExit
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        if let environment { env.merge(environment) { $1 } }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw SSHDFixture.Failure(description: "posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        live.withLock { _ = $0.insert(pid) }
        return ChildProcess(pid: pid)
    }

    /// Reaps the child if it has exited (blocking: waits for it). Returns the exit status (128 + signal).
    private func reap(blocking: Bool) -> Int32? {
        state.withLock { status -> Int32? in
            if let status { return status }
            var raw: Int32 = 0
            var rc: pid_t
            repeat { rc = waitpid(pid, &raw, blocking ? 0 : WNOHANG) } while rc < 0 && errno == EINTR
            if rc == pid || (rc < 0 && errno == ECHILD) {
                status = rc == pid ? ((raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)) : -1
                ChildProcess.live.withLock { _ = $0.remove(pid) }
            }
            return status
        }
    }

    /// Waits for the exit; returns the exit status (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 { reap(blocking: true) ?? -1 }

    var isRunning: Bool { reap(blocking: false) == nil }

    /// Sends `signal` (SIGTERM by default), then waits; SIGKILL after 5 s. The pid cannot have been reused:
    /// it stays ours until we reap it.
    func terminate(signal: Int32 = SIGTERM) {
        guard isRunning else { return }
        kill(pid, signal)
        for _ in 0..<250 where isRunning { usleep(20_000) }
        if isRunning { kill(pid, SIGKILL) }
        wait()
    }
}

/// Memory figures of this process from /proc/self/status, in KiB.
enum ProcessMemory {
    static func value(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            let digits = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? ""
            return Int(digits.trimmingCharacters(in: .whitespaces)) ?? -1
        }
        return -1
    }

    /// Whether this process runs under AddressSanitizer or ThreadSanitizer (`swift test --sanitize=…`). Their
    /// shadow memory, and ASan's quarantine of freed blocks (256 MB by default), count in the resident size,
    /// so a bound on it says nothing about our code there; the plain and release runs check such bounds.
    static let underSanitizer: Bool = dlsym(nil, "__asan_init") != nil || dlsym(nil, "__tsan_init") != nil

    static var residentKiB: Int { value("VmRSS") }
    static var peakKiB: Int { value("VmHWM") }

    /// Resets the peak (VmHWM) to the current resident size (Linux: write 5 to clear_refs).
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}
