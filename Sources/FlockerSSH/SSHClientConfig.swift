/// The OpenSSH client-config subset flocker-deploy understands.
///
/// Supported: `Host` blocks (patterns with `*` and `?`, `!` negation, several patterns per line, matched
/// case-insensitively against the alias as written), `HostName`, `User`, `Port`, `IdentityFile`,
/// `UserKnownHostsFile`, `StrictHostKeyChecking`, `ConnectTimeout` and `Include` (with globs; relative
/// paths are relative to `~/.ssh`). As in OpenSSH the first value obtained for a keyword wins, except
/// `IdentityFile`, which accumulates. Lines before the first `Host` apply to every host.
///
/// `Match` blocks are not supported: their lines are skipped up to the next `Host` or `Match`, and a note
/// is added to ``warnings``. Other keywords are ignored.
public struct SSHClientConfig: Sendable {
    struct Directive: Sendable {
        var keyword: String       // lower-cased
        var arguments: [String]
        var file: String
        var line: Int
        /// Every pattern list must match the alias (the enclosing Host line, plus the Host line of each Include).
        var conditions: [[HostPattern]]
    }

    struct HostPattern: Sendable, Hashable {
        var pattern: String   // lower-cased
        var negated: Bool
    }

    private(set) var directives: [Directive] = []

    /// Notes about lines that were read but not applied (such as `Match` blocks), as `file:line: …`.
    public private(set) var warnings: [String] = []
    /// When no file was read: the places looked at, in order (`--ssh-config` not given, `FLOCKER_SSH_CONFIG`
    /// not set, `~/.ssh/config` absent), for a message that says where a config would be found.
    public private(set) var lookedAt: [String] = []

    /// An empty configuration: every host gets the defaults.
    public init() {}

    /// Parses configuration text; `file` names it in error messages and anchors nothing else.
    ///
    /// - Throws: ``SSHError`` with code `configInvalid` and a `file:line:` message for a bad line, or for an
    ///   `Include`d file that cannot be read.
    public init(parsing text: String, file: String) throws(SSHError) {
        var parser = Parser()
        try parser.parse(text: text, file: file, inherited: [], depth: 0)
        directives = parser.directives
        warnings = parser.warnings
    }

    /// Loads a configuration file.
    ///
    /// - Parameter path: the file to read; `nil` reads `~/.ssh/config` if it exists and is otherwise empty.
    /// - Throws: ``SSHError`` (`configInvalid`) when a named file does not exist or cannot be read, or has a
    ///   bad line.
    public static func load(path: String?) throws(SSHError) -> SSHClientConfig {
        let resolved: String
        if let path {
            resolved = expandTilde(path)
        } else {
            resolved = POSIX.homeDirectory() + "/.ssh/config"
            if !POSIX.exists(resolved) {
                var none = SSHClientConfig()
                none.lookedAt = [resolved]
                return none
            }
        }
        switch POSIX.readFile(resolved) {
        case .success(let bytes):
            return try SSHClientConfig(parsing: String(decoding: bytes, as: UTF8.self), file: resolved)
        case .failure(let err):
            throw SSHError(
                code: .configInvalid, host: "",
                message: "\(resolved): error: cannot read the ssh config file: \(err)")
        }
    }

    /// Loads the configuration the way the command line does: an explicit `--ssh-config` path first,
    /// then the `FLOCKER_SSH_CONFIG` environment variable (when set and not empty), then `~/.ssh/config`.
    public static func load(explicitPath: String?, environment: [String: String]) throws(SSHError)
        -> SSHClientConfig
    {
        if let explicitPath { return try load(path: explicitPath) }
        if let fromEnvironment = environment["FLOCKER_SSH_CONFIG"], !fromEnvironment.isEmpty {
            return try load(path: fromEnvironment)
        }
        var config = try load(path: nil)
        if !config.lookedAt.isEmpty {
            config.lookedAt = ["--ssh-config (not given)", "$FLOCKER_SSH_CONFIG (not set)"] + config.lookedAt.map { "\($0) (does not exist)" }
        }
        return config
    }

    /// The settings for a host alias: the first value found for each keyword among the matching blocks,
    /// then the defaults.
    public func settings(for alias: String) -> SSHHostSettings {
        let lowered = alias.lowercased()
        var hostName: String?
        var user: String?
        var port: Int?
        var identityFiles: [String] = []
        var knownHostsFiles: [String]?
        var policy: HostKeyPolicy?
        var connectTimeout: Duration??

        var matching: [Directive] = []
        for d in directives where d.conditions.allSatisfy({ Self.matches(lowered, $0) }) {
            matching.append(d)
            switch d.keyword {
            case "hostname": if hostName == nil { hostName = Self.expandHostName(d.arguments[0], alias: alias) }
            case "user": if user == nil { user = d.arguments[0] }
            case "port": if port == nil { port = Int(d.arguments[0]) }
            case "stricthostkeychecking": if policy == nil { policy = Self.policy(d.arguments[0]) }
            case "connecttimeout":
                if connectTimeout == nil {
                    let seconds = Self.parseTime(d.arguments[0]) ?? 0
                    connectTimeout = .some(seconds > 0 ? .seconds(seconds) : nil)
                }
            default: break
            }
        }
        let finalHostName = hostName ?? alias
        let finalUser = user ?? POSIX.userName()
        let finalPort = port ?? 22
        let tokens = Tokens(
            home: POSIX.homeDirectory(), localUser: POSIX.userName(), hostName: finalHostName,
            remoteUser: finalUser, port: finalPort, alias: alias)
        for d in matching {
            switch d.keyword {
            case "identityfile":
                identityFiles.append(Self.expandPath(d.arguments[0], tokens: tokens))
            case "userknownhostsfile":
                if knownHostsFiles == nil {
                    knownHostsFiles =
                        d.arguments.count == 1 && d.arguments[0].lowercased() == "none"
                        ? [] : d.arguments.map { Self.expandPath($0, tokens: tokens) }
                }
            default: break
            }
        }
        let home = POSIX.homeDirectory()
        if identityFiles.isEmpty {
            identityFiles = ["id_ed25519", "id_ecdsa", "id_rsa"].map { "\(home)/.ssh/\($0)" }
        }
        return SSHHostSettings(
            alias: alias, hostName: finalHostName, user: finalUser, port: finalPort,
            identityFiles: identityFiles, knownHostsFiles: knownHostsFiles ?? ["\(home)/.ssh/known_hosts"],
            hostKeyPolicy: policy ?? .strict, connectTimeout: connectTimeout ?? nil)
    }

    // MARK: - Matching

    static func matches(_ host: String, _ patterns: [HostPattern]) -> Bool {
        var positive = false
        for p in patterns where wildcardMatch(host[...], p.pattern[...]) {
            if p.negated { return false }
            positive = true
        }
        return positive
    }

    /// OpenSSH-style `*` / `?` matching (on Unicode scalars).
    static func wildcardMatch(_ text: Substring, _ pattern: Substring) -> Bool {
        let t = Array(text.unicodeScalars)
        let p = Array(pattern.unicodeScalars)
        var ti = 0, pi = 0
        var starP = -1, starT = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
                ti += 1; pi += 1
            } else if pi < p.count && p[pi] == "*" {
                starP = pi; starT = ti; pi += 1
            } else if starP >= 0 {
                pi = starP + 1; starT += 1; ti = starT
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    // MARK: - Values

    static func policy(_ value: String) -> HostKeyPolicy {
        switch value.lowercased() {
        case "accept-new", "no", "off", "false": return .acceptNew
        default: return .strict
        }
    }

    /// OpenSSH time format: `30`, `30s`, `1m30s`, `2h`… Returns seconds, or nil when malformed.
    static func parseTime(_ text: String) -> Int? {
        if let plain = Int(text), plain >= 0 { return plain }
        var total = 0
        var digits = ""
        for ch in text.lowercased() {
            if ch.isASCII && ch.isNumber {
                digits.append(ch)
                continue
            }
            guard let value = Int(digits) else { return nil }
            let multiplier: Int
            switch ch {
            case "s": multiplier = 1
            case "m": multiplier = 60
            case "h": multiplier = 3600
            case "d": multiplier = 86400
            case "w": multiplier = 604800
            default: return nil
            }
            total += value * multiplier
            digits = ""
        }
        if !digits.isEmpty {
            guard let value = Int(digits) else { return nil }
            total += value
        }
        return total
    }

    struct Tokens {
        var home: String
        var localUser: String
        var hostName: String
        var remoteUser: String
        var port: Int
        var alias: String
    }

    /// The `%` tokens accepted in paths: `%d` home, `%u` local user, `%h` host name, `%r` remote user,
    /// `%p` port, `%n` alias, `%%` a percent sign.
    static let pathTokens: Set<Character> = ["d", "u", "h", "r", "p", "n", "%"]

    static func expandPath(_ raw: String, tokens: Tokens) -> String {
        var out = ""
        var iterator = expandTilde(raw).makeIterator()
        while let ch = iterator.next() {
            guard ch == "%", let token = iterator.next() else {
                out.append(ch)
                continue
            }
            switch token {
            case "d": out += tokens.home
            case "u": out += tokens.localUser
            case "h": out += tokens.hostName
            case "r": out += tokens.remoteUser
            case "p": out += String(tokens.port)
            case "n": out += tokens.alias
            default: out.append("%")  // "%%" (others were rejected while parsing)
            }
        }
        return out
    }

    static func expandHostName(_ raw: String, alias: String) -> String {
        var out = ""
        var iterator = raw.makeIterator()
        while let ch = iterator.next() {
            guard ch == "%", let token = iterator.next() else {
                out.append(ch)
                continue
            }
            out += token == "h" ? alias : "%"
        }
        return out
    }

    static func expandTilde(_ path: String) -> String {
        guard path.hasPrefix("~") else { return path }
        let rest = path.dropFirst()
        if rest.isEmpty || rest.hasPrefix("/") { return POSIX.homeDirectory() + rest }
        let name = rest.prefix { $0 != "/" }
        guard let home = POSIX.homeDirectory(ofUser: String(name)) else { return path }
        return home + rest.dropFirst(name.count)
    }

    // MARK: - Parsing

    struct Parser {
        var directives: [Directive] = []
        var warnings: [String] = []

        mutating func parse(text: String, file: String, inherited: [[HostPattern]], depth: Int) throws(SSHError) {
            var current: [HostPattern]? = nil     // nil: before any Host line (applies to all)
            var skippingMatch = false
            var lineNumber = 0
            for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
                lineNumber += 1
                let fail = { (message: String) -> SSHError in
                    SSHError(code: .configInvalid, host: "", message: "\(file):\(lineNumber): error: \(message)")
                }
                guard let (keywordRaw, arguments) = try Self.tokenize(rawLine, fail: fail) else { continue }
                let keyword = keywordRaw.lowercased()
                switch keyword {
                case "host":
                    guard !arguments.isEmpty else { throw fail("Host needs at least one pattern") }
                    current = arguments.map { arg in
                        arg.hasPrefix("!")
                            ? HostPattern(pattern: String(arg.dropFirst()).lowercased(), negated: true)
                            : HostPattern(pattern: arg.lowercased(), negated: false)
                    }
                    skippingMatch = false
                    continue
                case "match":
                    skippingMatch = true
                    warnings.append(
                        "\(file):\(lineNumber): Match blocks are not supported by flocker-deploy; "
                            + "the lines up to the next Host or Match were ignored")
                    continue
                default:
                    break
                }
                if skippingMatch { continue }
                let conditions = inherited + (current.map { [$0] } ?? [])
                try validate(keyword: keyword, arguments: arguments, fail: fail)
                if keyword == "include" {
                    guard depth < 16 else { throw fail("Include nested too deeply (more than 16 levels)") }
                    for pattern in arguments {
                        var path = SSHClientConfig.expandTilde(pattern)
                        if !path.hasPrefix("/") { path = POSIX.homeDirectory() + "/.ssh/" + path }
                        for included in POSIX.glob(path) {
                            switch POSIX.readFile(included) {
                            case .success(let bytes):
                                try parse(
                                    text: String(decoding: bytes, as: UTF8.self), file: included,
                                    inherited: conditions, depth: depth + 1)
                            case .failure(let err):
                                throw fail("cannot read included file \(included): \(err)")
                            }
                        }
                    }
                    continue
                }
                directives.append(
                    Directive(
                        keyword: keyword, arguments: arguments, file: file, line: lineNumber,
                        conditions: conditions))
            }
        }

        func validate(keyword: String, arguments: [String], fail: (String) -> SSHError) throws(SSHError) {
            func one(_ name: String) throws(SSHError) -> String {
                guard arguments.count == 1 else {
                    throw fail(arguments.isEmpty ? "\(name) needs a value" : "\(name) takes one value, found \(arguments.count)")
                }
                return arguments[0]
            }
            func checkTokens(_ name: String, _ value: String) throws(SSHError) {
                var iterator = value.makeIterator()
                while let ch = iterator.next() {
                    guard ch == "%" else { continue }
                    guard let token = iterator.next(), SSHClientConfig.pathTokens.contains(token) else {
                        throw fail(
                            "\(name) \"\(value)\" uses an unsupported % token (supported: %d %u %h %r %p %n %%)")
                    }
                }
            }
            switch keyword {
            case "hostname":
                let value = try one("HostName")
                var iterator = value.makeIterator()
                while let ch = iterator.next() {
                    guard ch == "%" else { continue }
                    guard let token = iterator.next(), token == "h" || token == "%" else {
                        throw fail("HostName \"\(value)\" uses an unsupported % token (supported: %h %%)")
                    }
                }
            case "user":
                _ = try one("User")
            case "port":
                let value = try one("Port")
                guard let port = Int(value), (1...65535).contains(port) else {
                    throw fail("Port must be a number from 1 to 65535, found \"\(value)\"")
                }
            case "identityfile":
                try checkTokens("IdentityFile", try one("IdentityFile"))
            case "userknownhostsfile":
                guard !arguments.isEmpty else { throw fail("UserKnownHostsFile needs at least one file") }
                for a in arguments { try checkTokens("UserKnownHostsFile", a) }
            case "stricthostkeychecking":
                let value = try one("StrictHostKeyChecking")
                guard ["yes", "no", "ask", "accept-new", "off", "true", "false"].contains(value.lowercased()) else {
                    throw fail(
                        "StrictHostKeyChecking must be yes, ask, accept-new, no or off, found \"\(value)\"")
                }
            case "connecttimeout":
                let value = try one("ConnectTimeout")
                guard SSHClientConfig.parseTime(value) != nil else {
                    throw fail("ConnectTimeout must be a number of seconds (or a time such as 1m30s), found \"\(value)\"")
                }
            case "include":
                guard !arguments.isEmpty else { throw fail("Include needs at least one file") }
            default:
                break  // unknown or unsupported keywords are ignored, as OpenSSH ignores options it knows but cannot use
            }
        }

        /// Splits a line into its keyword and arguments (`Keyword value`, `Keyword=value`, quoted values, and
        /// `#` comments). Returns nil for blank and comment lines.
        static func tokenize(_ line: Substring, fail: (String) -> SSHError) throws(SSHError) -> (String, [String])? {
            var chars = Array(line.trimmingSpaces)
            if chars.last == "\r" { chars.removeLast() }
            var i = 0
            func skipSpace() { while i < chars.count && (chars[i] == " " || chars[i] == "\t") { i += 1 } }
            skipSpace()
            if i == chars.count || chars[i] == "#" { return nil }
            var keyword = ""
            while i < chars.count && chars[i] != " " && chars[i] != "\t" && chars[i] != "=" {
                keyword.append(chars[i]); i += 1
            }
            skipSpace()
            if i < chars.count && chars[i] == "=" { i += 1; skipSpace() }
            var arguments: [String] = []
            while i < chars.count {
                skipSpace()
                if i == chars.count { break }
                if chars[i] == "#" { break }
                var arg = ""
                if chars[i] == "\"" {
                    i += 1
                    var closed = false
                    while i < chars.count {
                        if chars[i] == "\"" { closed = true; i += 1; break }
                        arg.append(chars[i]); i += 1
                    }
                    guard closed else { throw fail("unterminated quote") }
                } else {
                    while i < chars.count && chars[i] != " " && chars[i] != "\t" {
                        arg.append(chars[i]); i += 1
                    }
                }
                arguments.append(arg)
            }
            return (keyword, arguments)
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }
}
