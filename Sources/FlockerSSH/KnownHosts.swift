import Foundation
internal import CLibSSH2

#if canImport(Glibc)
import Glibc
#endif

/// The key types libssh2 1.10 can verify, with their names in the protocol, in known_hosts and in
/// OpenSSH's messages.
struct HostKeyType: Equatable {
    var algorithm: String       // "ssh-ed25519"
    var displayName: String     // "ED25519"
    var keyscanName: String     // `ssh-keyscan -t` value
    var knownHostBits: Int32    // LIBSSH2_KNOWNHOST_KEY_*

    static let ed25519 = HostKeyType(
        algorithm: "ssh-ed25519", displayName: "ED25519", keyscanName: "ed25519",
        knownHostBits: LIBSSH2_KNOWNHOST_KEY_ED25519)
    static let ecdsa256 = HostKeyType(
        algorithm: "ecdsa-sha2-nistp256", displayName: "ECDSA", keyscanName: "ecdsa",
        knownHostBits: LIBSSH2_KNOWNHOST_KEY_ECDSA_256)
    static let ecdsa384 = HostKeyType(
        algorithm: "ecdsa-sha2-nistp384", displayName: "ECDSA", keyscanName: "ecdsa",
        knownHostBits: LIBSSH2_KNOWNHOST_KEY_ECDSA_384)
    static let ecdsa521 = HostKeyType(
        algorithm: "ecdsa-sha2-nistp521", displayName: "ECDSA", keyscanName: "ecdsa",
        knownHostBits: LIBSSH2_KNOWNHOST_KEY_ECDSA_521)
    static let rsa = HostKeyType(
        algorithm: "ssh-rsa", displayName: "RSA", keyscanName: "rsa", knownHostBits: LIBSSH2_KNOWNHOST_KEY_SSHRSA)

    /// In OpenSSH's preference order (ed25519 first), which is also ours for hosts not on file.
    static let all: [HostKeyType] = [.ed25519, .ecdsa256, .ecdsa384, .ecdsa521, .rsa]

    /// The type of the key `libssh2_session_hostkey` reports.
    init?(libssh2Type: Int32) {
        switch libssh2Type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: self = .ed25519
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: self = .ecdsa256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: self = .ecdsa384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: self = .ecdsa521
        case LIBSSH2_HOSTKEY_TYPE_RSA: self = .rsa
        default: return nil
        }
    }

    private init(algorithm: String, displayName: String, keyscanName: String, knownHostBits: Int32) {
        self.algorithm = algorithm
        self.displayName = displayName
        self.keyscanName = keyscanName
        self.knownHostBits = knownHostBits
    }
}

/// The known_hosts files of one connection attempt, loaded into libssh2 collections (one per file, so a
/// mismatch can be traced to its file and line). Lives only on the worker thread, inside `establish()`.
final class KnownHostsStore {
    struct File {
        var path: String
        var collection: OpaquePointer?
        var lines: [Substring] = []
        var exists = false
        var readError: String?
        var skippedLines: [Int] = []     // lines libssh2 could not parse (unsupported key types, markers)
        var revoked: [(line: Int, key: String)] = []
    }

    enum Outcome {
        case match
        case notFound(otherTypesOnFile: [String])
        case mismatch(file: String, line: Int?)
        case revoked(file: String, line: Int)
    }

    private let session: OpaquePointer
    private(set) var files: [File] = []

    init(session: OpaquePointer, paths: [String]) {
        self.session = session
        for path in paths {
            var file = File(path: path)
            switch POSIX.readFile(path) {
            case .failure(let err):
                if err.code != ENOENT { file.readError = err.description }
            case .success(let bytes):
                file.exists = true
                file.collection = libssh2_knownhost_init(session)
                let text = String(decoding: bytes, as: UTF8.self)
                file.lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
                for (index, line) in file.lines.enumerated() {
                    let trimmed = line.drop { $0 == " " || $0 == "\t" }
                    if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                    if trimmed.hasPrefix("@") {
                        let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
                        if fields.first == "@revoked", fields.count >= 4 {
                            file.revoked.append((index + 1, String(fields[3])))
                        } else {
                            file.skippedLines.append(index + 1)
                        }
                        continue
                    }
                    var lineText = String(trimmed)
                    if lineText.hasSuffix("\r") { lineText.removeLast() }
                    let rc = libssh2_knownhost_readline(
                        file.collection, lineText, lineText.utf8.count, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                    if rc != 0 { file.skippedLines.append(index + 1) }
                }
            }
            files.append(file)
        }
    }

    /// Frees the libssh2 collections; call before the session is freed.
    func free() {
        for i in files.indices {
            if let c = files[i].collection { libssh2_knownhost_free(c) }
            files[i].collection = nil
        }
    }

    deinit { free() }

    /// The key types on file for `name` (`host` or `[host]:port`), in OpenSSH's preference order.
    func typesOnFile(for name: String) -> [HostKeyType] {
        HostKeyType.all.filter { type in
            files.contains { file in probe(file.collection, name: name, bits: type.knownHostBits) }
        }
    }

    /// Checks a raw host key against every file: a match in any file wins; otherwise a different key of the
    /// same type in any file is a mismatch; otherwise the host is not found.
    func check(name: String, key: [UInt8], type: HostKeyType) -> Outcome {
        let base64 = Data(key).base64EncodedString()
        for file in files {
            if let entry = file.revoked.first(where: { $0.key == base64 }) {
                return .revoked(file: file.path, line: entry.line)
            }
        }
        let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostBits
        var firstMismatch: (file: File, storedKey: String)?
        for file in files {
            guard let collection = file.collection else { continue }
            var store: UnsafeMutablePointer<libssh2_knownhost>? = nil
            let rc = key.withUnsafeBytes { raw in
                libssh2_knownhost_checkp(
                    collection, name, -1, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count,
                    typemask, &store)
            }
            switch rc {
            case LIBSSH2_KNOWNHOST_CHECK_MATCH:
                return .match
            case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
                if firstMismatch == nil {
                    let stored = store.flatMap { $0.pointee.key }.map { String(cString: $0) } ?? ""
                    firstMismatch = (file, stored)
                }
            default:
                break
            }
        }
        if let (file, storedKey) = firstMismatch {
            return .mismatch(file: file.path, line: lineNumber(in: file, name: name, key: storedKey, bits: type.knownHostBits))
        }
        let others = typesOnFile(for: name).map(\.displayName)
        return .notFound(otherTypesOnFile: Array(Set(others)).sorted())
    }

    /// Whether a collection has any entry for `name` with key type `bits`: a check with a key that cannot
    /// be on file answers MISMATCH exactly when such an entry exists (hashed entries included).
    private func probe(_ collection: OpaquePointer?, name: String, bits: Int32) -> Bool {
        guard let collection else { return false }
        let impossibleKey: [CChar] = [0]
        let rc = libssh2_knownhost_checkp(
            collection, name, -1, impossibleKey, 1,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits, nil)
        return rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
    }

    /// The 1-based line of the entry for `name` whose key is `key`: the first line carrying that key whose
    /// host part matches the name (checked with a one-line collection, so hashed names work too).
    private func lineNumber(in file: File, name: String, key: String, bits: Int32) -> Int? {
        for (index, line) in file.lines.enumerated() where line.contains(key) {
            var text = String(line.drop { $0 == " " || $0 == "\t" })
            if text.hasSuffix("\r") { text.removeLast() }
            guard let single = libssh2_knownhost_init(session) else { return nil }
            defer { libssh2_knownhost_free(single) }
            guard libssh2_knownhost_readline(single, text, text.utf8.count, LIBSSH2_KNOWNHOST_FILE_OPENSSH) == 0
            else { continue }
            if probe(single, name: name, bits: bits) { return index + 1 }
        }
        return nil
    }

    /// Appends `name type base64` to the first known_hosts file (creating it and ~/.ssh when missing).
    static func record(name: String, key: [UInt8], type: HostKeyType, in path: String) -> String? {
        var prefix = ""
        if case .success(let existing) = POSIX.readFile(path), let last = existing.last, last != UInt8(ascii: "\n") {
            prefix = "\n"
        }
        let line = "\(prefix)\(name) \(type.algorithm) \(Data(key).base64EncodedString())\n"
        return POSIX.append(Array(line.utf8), to: path).map { "cannot write \(path): \($0)" }
    }
}
