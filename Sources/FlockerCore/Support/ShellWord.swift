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
}
