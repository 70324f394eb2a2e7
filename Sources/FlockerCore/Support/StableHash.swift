import Crypto

/// SHA-256 for hashes that must not change between runs, machines or Swift versions (unlike `Hasher`):
/// configuration hashes and manifest hashes, computed by swift-crypto's SHA256 (the values are those of the
/// standard: DiscoveryParseTests pins the test vectors and a configuration hash).
public struct StableHash {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
    }

    /// The digest's bytes; the value is consumed.
    public consuming func finalize() -> [UInt8] { Array(hasher.finalize()) }

    /// Lower-case hex of `bytes`.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// The first 16 bytes, in hex, of the digest of `fields`, each written as its UTF-8 length, `:`, and itself
    /// (so no two lists of fields hash alike by running into each other): configuration and file-set hashes.
    public static func fieldsHex(_ fields: [String]) -> String {
        var h = StableHash()
        for field in fields {
            h.update(String(field.utf8.count))
            h.update(":")
            h.update(field)
        }
        return hex(h.finalize().prefix(16))
    }

    /// Hex SHA-256 digest of a string's UTF-8 bytes.
    public static func sha256Hex(_ string: String) -> String {
        var h = StableHash()
        h.update(string)
        return hex(h.finalize())
    }

    /// Hex SHA-256 digest of `bytes`.
    public static func sha256Hex(bytes: [UInt8]) -> String {
        var h = StableHash()
        h.update(bytes)
        return hex(h.finalize())
    }
}
