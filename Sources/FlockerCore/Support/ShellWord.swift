/// Words as a POSIX shell reads them, for commands flocker-deploy prints for people to run (never for what it runs
/// itself: remote commands are argv arrays, quoted once at the transport, see `RemoteCommand`).
public enum ShellWord {
    /// `s` in single quotes (`'` as `'\''`), unchanged when it is plainly safe.
    public static func quoted(_ s: String) -> String {
        let safe = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || "_-./:=@%+,".unicodeScalars.contains(c)
        }
        return safe ? s : "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// A `zfs set` of `properties` for people to run on a node with pool version `poolVersion`: one command where
    /// it takes several properties (OpenZFS, feature-flag pools: version `-` or 5000), one per property joined by
    /// `&&` on older pools (zfs-fuse's v23 takes one property per `zfs set`).
    public static func zfsSet(_ properties: [String], _ dataset: String, poolVersion: String?) -> String {
        let legacy = poolVersion.flatMap { Int($0) }.map { $0 < 5000 } ?? false
        if !legacy { return "zfs set " + properties.map(quoted).joined(separator: " ") + " " + quoted(dataset) }
        return properties.map { "zfs set \(quoted($0)) \(quoted(dataset))" }.joined(separator: " && ")
    }
}
