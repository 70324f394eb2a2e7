#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Small wrappers over the C library used across the module (files, users, clocks, errno text).
enum POSIX {
    /// The text of an errno value, e.g. "No such file or directory".
    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// The current user's home directory: `$HOME`, else the password database.
    static func homeDirectory() -> String {
        if let home = getenv("HOME"), home.pointee != 0 { return String(cString: home) }
        if let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
        return "/"
    }

    /// The home directory of a named user, if the user exists.
    static func homeDirectory(ofUser name: String) -> String? {
        guard let pw = getpwnam(name), let dir = pw.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }

    /// The current user's login name (what OpenSSH uses when no User is configured).
    static func userName() -> String {
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        if let user = getenv("USER") { return String(cString: user) }
        return "root"
    }

    /// Reads a whole (small) file. Returns the bytes, or the errno of the failure.
    static func readFile(_ path: String, limit: Int = 16 << 20) -> Result<[UInt8], Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Errno(errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Errno(errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { return .failure(Errno(EFBIG)) }
        }
        return .success(bytes)
    }

    /// Whether a path exists (any file type).
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether a path is a directory.
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Appends bytes to a file, creating it (mode 0600) and its parent directory (0700) when missing.
    static func append(_ bytes: [UInt8], to path: String) -> Errno? {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let dir = String(path[..<slash])
            if !exists(dir), mkdir(dir, 0o700) != 0 { return Errno(errno) }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { return Errno(errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return Errno(errno)
            }
            offset += n
        }
        return nil
    }

    /// Expands a glob pattern to the sorted list of existing paths (empty when nothing matches).
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var paths: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return paths.sorted()
    }

    /// Monotonic time in nanoseconds (CLOCK_MONOTONIC).
    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// An errno value with its text.
struct Errno: Error, Equatable, CustomStringConvertible {
    var code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { POSIX.errorText(code) }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `0...UInt64.max / 2`.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let s = UInt64(seconds)
        if s > 4_000_000_000 { return UInt64.max / 2 }
        return s * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }

    /// The duration as a short human string: "10 s", "1.5 s", "250 ms".
    var humanReadable: String {
        let ns = nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000) s" }
        if ns < 1_000_000_000 { return "\(ns / 1_000_000) ms" }
        let tenths = (ns + 50_000_000) / 100_000_000
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
