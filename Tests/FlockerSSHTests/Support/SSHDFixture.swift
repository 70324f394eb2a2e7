import Foundation
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
    private let process: Process

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(extraConfig: String = "") throws {
        directory = try Self.makeTempDirectory(prefix: "flocker-sshd")
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
                \(extraConfig)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/sshd")
            process.arguments = ["-D", "-e", "-f", config]
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
            process.standardOutput = log
            process.standardError = log
            try process.run()
            if Self.waitForListener(port: candidate, process: process) {
                self.process = process
                self.port = candidate
                let hostPublic = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8)
                    .split(separator: " ").prefix(2).joined(separator: " ")
                try "[127.0.0.1]:\(candidate) \(hostPublic)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
                return
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            lastError = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        }
        throw Failure(description: "sshd did not start: \(lastError)")
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Kills (SIGKILL) every descendant process of this fixture's sshd, i.e. the server side of every
    /// connection, leaving the listener running. Processes are found through /proc by parent pid.
    func killConnections() {
        var parents: Set<Int32> = [process.processIdentifier]
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

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(executable) \(arguments) failed (\(process.terminationStatus)): \(output)")
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

    private static func waitForListener(port: Int, process: Process) -> Bool {
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
