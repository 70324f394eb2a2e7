/// The rules manifest values must follow, shared by both application formats and the deployment file.
///
/// Names become Docker container names, ZFS dataset names, environment variable names and SSH targets, so they
/// are checked against strict patterns and refused, never escaped. Each check returns nil when the value is
/// fine, or the reason it is not.
enum ManifestRules {
    static let applicationNamePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
    static let volumeNamePattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
    static let nodeNamePattern = "^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$"
    static let aliasPattern = "^[A-Za-z_][A-Za-z0-9_-]*$"
    static let environmentNamePattern = "no `=`, white space or control character, and no leading `#` (Docker's rule)"
    static let maximumNodeNameLength = 253
    static let zoneNamePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

    // MARK: Names

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || isDigit(b)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    private static func isLetterOrUnderscore(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || b == UInt8(ascii: "_")
    }

    /// `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`: safe as a Docker container name and inside a ZFS dataset name.
    static func isApplicationName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, isAlphanumeric(first), b.count <= 63 else { return false }
        return b.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    /// `^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`: safe inside a ZFS dataset name and a Docker volume name.
    static func isVolumeName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, isAlphanumeric(first), b.count <= 63 else { return false }
        return b.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$`, at most 253 characters: an IP address, a hostname or an
    /// ssh_config alias, never something ssh could read as an option.
    static func isNodeName(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, isAlphanumeric(first), isAlphanumeric(last),
            b.count <= maximumNodeNameLength
        else { return false }
        return b.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }

    /// `^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`: a plain word, as zone names are (`a`, `eu-west-1`, `rack.2`).
    static func isZoneName(_ s: String) -> Bool { isApplicationName(s) }

    /// `^[A-Za-z_][A-Za-z0-9_-]*$`.
    static func isAlias(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, isLetterOrUnderscore(first) else { return false }
        return b.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `^[A-Za-z_][A-Za-z0-9_]*$`.
    /// Docker's rule: anything without `=` or NUL (`discovery.type`, `my-var`). Names travel in Docker's env
    /// file, which also rules out white space and control characters (its parser refuses them) and a leading `#`
    /// (a comment line there).
    static func isEnvironmentName(_ s: String) -> Bool {
        guard let first = s.utf8.first, first != UInt8(ascii: "#") else { return false }
        return s.unicodeScalars.allSatisfy { c in
            c != "=" && c.value > 0x20 && c.value != 0x7F && !c.properties.isWhitespace
        }
    }

    /// The environment variable prefix a link alias produces (`my-es` → `MY_ES`): two links whose prefixes and
    /// local ports are equal would set the same variables.
    static func linkVariablePrefix(_ alias: String) -> String {
        alias.uppercased().replacingAll("-", with: "_")
    }

    // MARK: Values

    /// Why an environment value cannot be used, if it cannot: NUL ends a C string, and a line break would end the
    /// variable early in the env-file (one `NAME=value` per line) that keeps values off command lines; Docker
    /// refuses an env-file line longer than `environmentLineLimit` bytes.
    static func environmentValueProblem(_ value: String, name: String = "") -> String? {
        if value.utf8.contains(0) { return "the value contains a NUL character, which no process environment can hold" }
        if value.utf8.contains(UInt8(ascii: "\n")) || value.utf8.contains(UInt8(ascii: "\r")) {
            return
                "the value contains a line break: values are passed to Docker in an env-file, one variable per line, so a value must fit on one line"
        }
        let line = name.utf8.count + 1 + value.utf8.count
        if line > environmentLineLimit {
            return
                "the value is too long: values are passed to Docker in an env-file, whose lines (NAME=value) Docker reads up to \(environmentLineLimit) bytes; this one is \(line) bytes"
        }
        return nil
    }

    /// The longest env-file line (`NAME=value`, without its newline) Docker's CLI reads: its line scanner stops
    /// with "token too long" beyond that.
    static let environmentLineLimit = 65_535

    /// A plain decimal integer: optional sign, then digits. Nil on overflow.
    static func parseInteger(_ s: String) -> Int? {
        var b = Substring(s).utf8[...]
        var negative = false
        if let first = b.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            b = b.dropFirst()
        }
        guard !b.isEmpty, b.count <= 19, b.allSatisfy(isDigit) else { return nil }
        var n = 0
        for d in b {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(d - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            n = a
        }
        return negative ? -n : n
    }

    /// The largest byte count accepted for `mem_limit` and `maximum_size` (Docker and ZFS take signed 64-bit).
    static let maximumByteCount = UInt64(Int64.max)

    /// Parses a byte count: `1073741824`, `500M`, `2.5G`, `512m`, `1gb`, `1024k`: a number (decimals allowed),
    /// then optionally one of k, m, g, t (any case; powers of 1024), then optionally b. Rounded up to a whole
    /// byte.
    static func parseByteCount(_ s: String) -> Result<UInt64, ByteCountError> {
        var b = Array(s.utf8)
        if let last = b.last, last == UInt8(ascii: "b") || last == UInt8(ascii: "B") { b.removeLast() }
        var unit: UInt128 = 1
        if let last = b.last {
            switch last | 0x20 {
            case UInt8(ascii: "k"): unit = 1 << 10
            case UInt8(ascii: "m"): unit = 1 << 20
            case UInt8(ascii: "g"): unit = 1 << 30
            case UInt8(ascii: "t"): unit = 1 << 40
            default: break
            }
            if unit != 1 { b.removeLast() }
        }
        let parts = b.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(isDigit) else { return .failure(.syntax) }
        var fraction: ArraySlice<UInt8> = []
        if parts.count == 2 {
            fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy(isDigit) else { return .failure(.syntax) }
        }
        guard whole.count <= 20, fraction.count <= 18 else {
            return .failure(fraction.count > 18 ? .syntax : .tooLarge)
        }
        var mantissa: UInt128 = 0
        var scale: UInt128 = 1
        for d in whole { mantissa = mantissa * 10 + UInt128(d - UInt8(ascii: "0")) }
        for d in fraction {
            mantissa = mantissa * 10 + UInt128(d - UInt8(ascii: "0"))
            scale *= 10
        }
        // mantissa < 10^38 and unit ≤ 2^40 could overflow UInt128 (max ≈ 3.4·10^38): bound the mantissa first.
        guard mantissa / scale <= UInt128(maximumByteCount) else { return .failure(.tooLarge) }
        let product = mantissa * unit
        let bytes = (product + scale - 1) / scale
        guard bytes <= UInt128(maximumByteCount) else { return .failure(.tooLarge) }
        return .success(UInt64(bytes))
    }

    enum ByteCountError: Error { case syntax, tooLarge }

    /// A byte count in the largest unit that keeps it readable: `1 GiB`, `1.5 GiB`, `512 MiB`, `100 bytes`.
    static func humanBytes(_ n: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, name) in units where n >= size {
            if n % size == 0 { return "\(n / size) \(name)" }
            let tenths = (n % size) * 10 / size
            let exact = (n % size) * 10 % size == 0
            return exact ? "\(n / size).\(tenths) \(name)" : "~\(n / size).\(tenths) \(name) (\(n) bytes)"
        }
        return n == 1 ? "1 byte" : "\(n) bytes"
    }

    // MARK: Mountpoints

    /// Why `path` cannot be a mountpoint, if it cannot, as a phrase to follow the quoted path: it must be absolute
    /// and normalised (no `.`, `..`, empty components or trailing slash), not `/` itself, and free of control
    /// characters and of `:` and `,` (which Docker's `-v` and `--mount` syntaxes use as separators).
    static func mountpointProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "is not an absolute path (a mountpoint starts with /)" }
        for scalar in path.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                return "contains a control character (a line break, a tab or NUL)"
            }
            if scalar == ":" || scalar == "," {
                return "contains \(scalar == ":" ? "`:`" : "`,`"), which Docker's volume syntax uses as a separator"
            }
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if components.contains(where: { $0 == ".." }) { return "contains `..`: write the path it leads to" }
        if normalisedMountpoint(path) == "/" { return "is the container's root: a volume cannot be mounted there" }
        return nil
    }

    /// `path` without a trailing `/`, empty components or `.` (`/var/lib/x/` → `/var/lib/x`), as Docker and
    /// Flocker 0.4 read it; the form kept, compared and hashed.
    static func normalisedMountpoint(_ path: String) -> String {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        return "/" + components.filter { !$0.isEmpty && $0 != "." }.joined(separator: "/")
    }

    /// Whether the relative path `path` leaves its folder (`..`, `a/../..`), read as written.
    static func lexicallyEscapes(_ path: String) -> Bool {
        var depth = 0
        for part in path.split(separator: "/") where part != "." {
            depth += part == ".." ? -1 : 1
            if depth < 0 { return true }
        }
        return false
    }

    /// The volume name Compose-style short syntax implies for an anonymous volume at `path`: `/var/lib/mysql` →
    /// `var-lib-mysql`.
    static func volumeName(forMountpoint path: String) -> String {
        String(path.drop(while: { $0 == "/" })).replacingAll("/", with: "-")
    }

    // MARK: Image references

    /// Why `reference` is not a valid Docker image reference, if it is not. Follows Docker's reference grammar:
    /// `[HOST[:PORT]/]path/components[:TAG][@sha256:DIGEST]`, with lowercase path components separated by `/`,
    /// each made of `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes; a tag `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`;
    /// a registry host recognised by a `.`, a `:` or the name `localhost`.
    static func imageReferenceProblem(_ reference: String) -> String? {
        if reference.isEmpty { return "the image reference is empty" }
        if reference.hasPrefix("-") { return "an image reference cannot start with `-`" }
        if reference.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            return "an image reference cannot contain spaces, control characters or non-ASCII characters"
        }
        var rest = Substring(reference)
        if let at = rest.firstIndex(of: "@") {
            let digest = rest[rest.index(after: at)...]
            rest = rest[..<at]
            let hex = digest.dropFirst("sha256:".count)
            if !digest.hasPrefix("sha256:") || hex.count != 64
                || !hex.utf8.allSatisfy({ isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) })
            {
                return "a digest is written @sha256: followed by 64 lowercase hexadecimal digits"
            }
            if rest.isEmpty { return "the repository name before `@` is missing" }
        }
        // A tag is the part after the last `:` that follows the last `/` (a `:` before it is a registry port).
        let lastSlash = rest.lastIndex(of: "/")
        let searchFrom = lastSlash.map { rest.index(after: $0) } ?? rest.startIndex
        if let colon = rest[searchFrom...].lastIndex(of: ":") {
            let tag = rest[rest.index(after: colon)...]
            rest = rest[..<colon]
            if let problem = tagProblem(tag) { return problem }
        }
        if rest.utf8.count > 255 { return "the repository name is longer than 255 characters" }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false)
        if components.count > 1, let first = components.first,
            first.contains(".") || first.contains(":") || first == "localhost"
        {
            if let problem = registryProblem(first) { return problem }
            components.removeFirst()
        }
        for component in components {
            if component.isEmpty {
                return "the repository name has an empty path component (check the slashes)"
            }
            if component.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
                return "repository names must be lowercase"
            }
            if !isPathComponent(component) {
                return
                    "\(quoted(String(component))) is not a valid repository path component: use lowercase letters and digits, separated by `.`, `_`, `__` or `-`"
            }
        }
        return nil
    }

    private static func tagProblem(_ tag: Substring) -> String? {
        let b = Array(tag.utf8)
        let word: (UInt8) -> Bool = { isAlphanumeric($0) || $0 == UInt8(ascii: "_") }
        guard let first = b.first, word(first), b.count <= 128,
            b.allSatisfy({ word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            return
                "invalid tag \(quoted(String(tag))): a tag is 1 to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`"
        }
        return nil
    }

    private static func registryProblem(_ host: Substring) -> String? {
        var name = host
        if let colon = host.lastIndex(of: ":"), !host.hasPrefix("[") || host[..<colon].hasSuffix("]") {
            let port = host[host.index(after: colon)...]
            name = host[..<colon]
            if port.isEmpty || !port.utf8.allSatisfy(isDigit) || port.count > 5 {
                return "invalid registry port in \(quoted(String(host)))"
            }
        }
        if name.hasPrefix("[") && name.hasSuffix("]") {
            let inner = name.dropFirst().dropLast()
            if !inner.isEmpty && inner.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") }) { return nil }
            return "invalid registry host \(quoted(String(name)))"
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            let b = Array(label.utf8)
            guard let first = b.first, let last = b.last, isAlphanumeric(first), isAlphanumeric(last),
                b.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") })
            else { return "invalid registry host \(quoted(String(name)))" }
        }
        return nil
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
            || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    private static func isPathComponent(_ component: Substring) -> Bool {
        let b = Array(component.utf8)
        let lowerAlnum: (UInt8) -> Bool = { isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) }
        var i = 0
        func run() -> Bool {
            let start = i
            while i < b.count, lowerAlnum(b[i]) { i += 1 }
            return i > start
        }
        guard run() else { return false }
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "."):
                i += 1
            case UInt8(ascii: "_"):
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "_") { i += 1 }
            case UInt8(ascii: "-"):
                while i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            default:
                return false
            }
            guard run() else { return false }
        }
        return true
    }

    // MARK: Commands

    /// Splits a command string into words the way POSIX `shlex.split` does (and Compose with it): whitespace
    /// separates words; single quotes keep everything literally; inside double quotes a backslash escapes only
    /// `"` and `\`; outside quotes a backslash escapes any character. Nothing is expanded: `$VAR`, `$(…)`,
    /// backticks, `~` and globs stay as written.
    static func splitWords(_ s: String) -> Result<[String], WordSplitError> {
        enum State { case between, word, single, double }
        var words: [String] = []
        var current = ""
        var state = State.between
        var scalars = s.unicodeScalars.makeIterator()
        while let c = scalars.next() {
            switch state {
            case .between, .word:
                switch c {
                case " ", "\t", "\n", "\r":
                    if state == .word {
                        words.append(current)
                        current = ""
                    }
                    state = .between
                case "'":
                    state = .single
                case "\"":
                    state = .double
                case "\\":
                    guard let next = scalars.next() else { return .failure(.trailingBackslash) }
                    current.unicodeScalars.append(next)
                    state = .word
                default:
                    current.unicodeScalars.append(c)
                    state = .word
                }
            case .single:
                if c == "'" { state = .word } else { current.unicodeScalars.append(c) }
            case .double:
                if c == "\"" {
                    state = .word
                } else if c == "\\" {
                    guard let next = scalars.next() else { return .failure(.unclosedQuote("\"")) }
                    if next != "\"" && next != "\\" { current.unicodeScalars.append(c) }
                    current.unicodeScalars.append(next)
                } else {
                    current.unicodeScalars.append(c)
                }
            }
        }
        switch state {
        case .single: return .failure(.unclosedQuote("'"))
        case .double: return .failure(.unclosedQuote("\""))
        case .word: words.append(current)
        case .between: break
        }
        return .success(words)
    }

    enum WordSplitError: Error, Equatable {
        case unclosedQuote(Character)
        case trailingBackslash
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

extension ManifestRules {
    /// `s` quoted for a POSIX shell (single quotes; `'` as `'\''`), unchanged when it is plainly safe: to write
    /// a Compose exec-form health check as the shell string `--health-cmd` takes, with the same words.
    static func shellQuoted(_ s: String) -> String { ShellWord.quoted(s) }

    /// A Compose duration in seconds: one or more NUMBER UNIT parts (`1h`, `1m30s`, `1.5s`, `500ms`, `10us`,
    /// `100ns`); nil when it is not one, or is over a year.
    static func parseDuration(_ s: String) -> Double? {
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var rest = Substring(s)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix(while: { $0.isASCII && $0.isLetter })
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        return total <= 366 * 86400 ? total : nil
    }
}
