import Foundation

/// What can be learnt about a private key file without decrypting it: its algorithm and whether it has a
/// passphrase. Used to skip keys we cannot use and to explain failures (RSA, encrypted keys).
struct KeyFileInfo: Equatable {
    enum Algorithm: Equatable {
        case ed25519, ecdsa, rsa, dsa
        case other(String)
        case unknown

        init(sshName: String) {
            switch sshName {
            case "ssh-ed25519": self = .ed25519
            case "ssh-rsa": self = .rsa
            case "ssh-dss": self = .dsa
            default: self = sshName.hasPrefix("ecdsa-sha2-") ? .ecdsa : .other(sshName)
            }
        }

        var displayName: String {
            switch self {
            case .ed25519: return "ED25519"
            case .ecdsa: return "ECDSA"
            case .rsa: return "RSA"
            case .dsa: return "DSA"
            case .other(let name): return name
            case .unknown: return "unknown type"
            }
        }
    }

    var algorithm: Algorithm
    var encrypted: Bool
    /// Not a private key we recognise (no PEM/OpenSSH header).
    var unrecognised: Bool = false

    /// Inspects the text of a private key file (and, when given, its `.pub` companion).
    static func inspect(privateKey bytes: [UInt8], publicKey: [UInt8]?) -> KeyFileInfo {
        let text = String(decoding: bytes, as: UTF8.self)
        var info = KeyFileInfo(algorithm: .unknown, encrypted: false)
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            info = inspectOpenSSH(text)
        } else if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            info = KeyFileInfo(algorithm: .rsa, encrypted: text.contains("ENCRYPTED"))
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            info = KeyFileInfo(algorithm: .ecdsa, encrypted: text.contains("ENCRYPTED"))
        } else if text.contains("-----BEGIN DSA PRIVATE KEY-----") {
            info = KeyFileInfo(algorithm: .dsa, encrypted: text.contains("ENCRYPTED"))
        } else if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            info = KeyFileInfo(algorithm: .unknown, encrypted: true)
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            info = KeyFileInfo(algorithm: .unknown, encrypted: false)
        } else {
            info.unrecognised = true
        }
        if info.algorithm == .unknown, let publicKey {
            let first = String(decoding: publicKey, as: UTF8.self).split(separator: " ").first.map(String.init)
            if let first { info.algorithm = Algorithm(sshName: first) }
        }
        return info
    }

    /// Reads the header of an `openssh-key-v1` file: cipher name (`none` = no passphrase) and the type of
    /// the first public key.
    private static func inspectOpenSSH(_ text: String) -> KeyFileInfo {
        var body = ""
        var inside = false
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("-----BEGIN") { inside = true; continue }
            if line.hasPrefix("-----END") { break }
            if inside { body += line }
        }
        guard let data = Data(base64Encoded: body, options: .ignoreUnknownCharacters) else {
            return KeyFileInfo(algorithm: .unknown, encrypted: false, unrecognised: true)
        }
        var reader = SSHWireReader([UInt8](data))
        let magic = Array("openssh-key-v1".utf8) + [0]
        guard reader.take(magic.count) == magic,
            let cipher = reader.string(),
            reader.string() != nil,  // kdf name
            reader.string() != nil,  // kdf options
            let count = reader.uint32(), count >= 1,
            let publicBlob = reader.string()
        else {
            return KeyFileInfo(algorithm: .unknown, encrypted: false, unrecognised: true)
        }
        var publicReader = SSHWireReader(publicBlob)
        let type = publicReader.string().map { String(decoding: $0, as: UTF8.self) }
        return KeyFileInfo(
            algorithm: type.map(Algorithm.init(sshName:)) ?? .unknown,
            encrypted: String(decoding: cipher, as: UTF8.self) != "none")
    }

    /// The algorithm of a public key blob in SSH wire format (as an agent lists it).
    static func algorithm(ofPublicKeyBlob blob: [UInt8]) -> Algorithm {
        var reader = SSHWireReader(blob)
        guard let name = reader.string() else { return .unknown }
        return Algorithm(sshName: String(decoding: name, as: UTF8.self))
    }
}

/// Reads SSH wire-format fields (RFC 4251 `uint32` and `string`).
struct SSHWireReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func uint32() -> UInt32? {
        guard let b = take(4) else { return nil }
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32(), length < 1 << 24 else { return nil }
        return take(Int(length))
    }
}
