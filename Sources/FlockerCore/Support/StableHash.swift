import Crypto

/// SHA-256 (swift-crypto) for hashes that must not change between runs, machines or Swift versions (unlike
/// `Hasher`): configuration hashes and manifest hashes.
public struct StableHash {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: [UInt8]) { hasher.update(data: bytes) }
    public mutating func update(_ string: String) { hasher.update(data: Array(string.utf8)) }

    /// The digest's bytes; the value is consumed.
    public consuming func finalize() -> [UInt8] { Array(hasher.finalize()) }

    /// Lower-case hex of `bytes`.
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    /// Hex SHA-256 digest of a string's UTF-8 bytes.
    public static func sha256Hex(_ string: String) -> String {
        var h = StableHash()
        h.update(string)
        return hex(h.finalize())
    }
}
