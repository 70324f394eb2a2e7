import FlockerYAML

/// What a Compose file may draw on besides its own text: the variables for `${VAR}` interpolation (the
/// environment of the machine running flocker-deploy, over a `.env` file beside the Compose file, as Compose
/// does), the folder that relative paths (`env_file`) start from, and the active profiles.
struct ComposeContext: Sendable {
    /// Variables for interpolation; nil: no interpolation at all (decoding from memory, as tests and fuzzers do,
    /// keeps `$` as written).
    var variables: [String: String]?
    /// The Compose file's folder; nil: relative files cannot be read.
    var directory: String?
    /// Profiles enabled (`--profile`, or `COMPOSE_PROFILES`); `*` enables all.
    var profiles: Set<String>
    /// Reads a file beside the Compose file (injected so that tests need no files).
    var readFile: @Sendable (String) -> Result<[UInt8], ManifestError>

    init(
        variables: [String: String]? = nil, directory: String? = nil, profiles: Set<String> = [],
        readFile: @escaping @Sendable (String) -> Result<[UInt8], ManifestError> = Manifests.readFile
    ) {
        self.variables = variables
        self.directory = directory
        self.profiles = profiles
        self.readFile = readFile
    }

    /// The context of the Compose file at `path`: the process environment over the `.env` beside it, and the
    /// profiles of `COMPOSE_PROFILES` plus `profiles`.
    static func forFile(
        _ path: String, environment: [String: String], profiles: [String] = []
    ) -> ComposeContext {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var variables: [String: String] = [:]
        if case .success(let bytes) = Manifests.readFile(directory + "/.env") {
            for (name, value) in DotEnv.parse(String(decoding: bytes, as: UTF8.self)) { variables[name] = value }
        }
        for (name, value) in environment { variables[name] = value }
        var active = Set(profiles)
        for p in (environment["COMPOSE_PROFILES"] ?? "").split(separator: ",") {
            active.insert(p.trimmingCharacters(in: " "))
        }
        return ComposeContext(variables: variables, directory: directory.isEmpty ? "/" : directory, profiles: active)
    }

    func path(_ relative: String) -> String? {
        if relative.hasPrefix("/") { return relative }
        guard let directory else { return nil }
        return directory + "/" + (relative.hasPrefix("./") ? String(relative.dropFirst(2)) : relative)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}

/// `.env` and `env_file` files: `NAME=value` lines, `#` comments, an optional `export `, values optionally in
/// single quotes (literal) or double quotes (`\n`, `\"` and `\\` unescaped), as Compose reads them.
enum DotEnv {
    static func parse(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Substring(raw.trimmingCharacters(in: " \t\r"))
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = line.dropFirst("export ".count) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let name = line[..<eq].trimmingCharacters(in: " \t")
            var value = Substring(line[line.index(after: eq)...].trimmingCharacters(in: " \t"))
            if value.count >= 2, value.first == "'", value.last == "'" {
                value = value.dropFirst().dropLast()
            } else if value.count >= 2, value.first == "\"", value.last == "\"" {
                var unescaped = ""
                var escape = false
                for c in value.dropFirst().dropLast() {
                    if escape {
                        unescaped.append(c == "n" ? "\n" : c)
                        escape = false
                    } else if c == "\\" {
                        escape = true
                    } else {
                        unescaped.append(c)
                    }
                }
                value = Substring(unescaped)
            } else if let hash = value.range(of: " #") {
                value = Substring(value[..<hash.lowerBound].trimmingCharacters(in: " \t"))
            }
            if !name.isEmpty { out.append((name, String(value))) }
        }
        return out
    }
}

/// Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
/// (unset), `${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`, `${VAR+other}`, `$$` for a literal `$`; defaults
/// may hold further variables. An unset variable without a default becomes empty, with a warning, as in Compose.
enum Interpolation {
    enum Failure: Error, Equatable {
        case required(name: String, message: String)
        case syntax(String)
    }

    /// Every scalar value of the tree interpolated (keys stay as written); errors positioned at the scalar.
    static func apply(_ node: YAMLNode, _ variables: [String: String], _ path: ManifestPath, _ d: inout Diagnostics)
        -> YAMLNode
    {
        switch node.kind {
        case .scalar(let text, let style):
            guard text.contains("$") else { return node }
            var unset: [String] = []
            switch expand(text, variables, unset: &unset) {
            case .success(let value):
                for name in unset {
                    d.warn(node.mark, path, "variable \(display(name)) is not set: it stands for an empty string")
                }
                // `${UNSET}` alone is an empty string, not null.
                return YAMLNode(.scalar(value, style == .plain && value.isEmpty ? .doubleQuoted : style), mark: node.mark)
            case .failure(.required(let name, let message)):
                d.add(node.mark, path, "variable \(display(name)) is required: \(message.isEmpty ? "set it in the environment or in .env" : message)")
            case .failure(.syntax(let message)):
                d.add(node.mark, path, message)
            }
            return node
        case .sequence(let items):
            return YAMLNode(.sequence(items.enumerated().map { apply($1, variables, path.index($0), &d) }), mark: node.mark)
        case .mapping(let pairs):
            return YAMLNode(
                .mapping(pairs.map { pair in
                    YAMLNode.Pair(key: pair.key, value: apply(pair.value, variables, path.key(pair.key.scalar ?? ""), &d))
                }), mark: node.mark)
        }
    }

    static func expand(_ text: String, _ variables: [String: String], unset: inout [String]) -> Result<String, Failure> {
        var out = ""
        let c = Array(text.unicodeScalars)
        var i = 0
        func isNameStart(_ x: Unicode.Scalar) -> Bool { x == "_" || (x >= "a" && x <= "z") || (x >= "A" && x <= "Z") }
        func isName(_ x: Unicode.Scalar) -> Bool { isNameStart(x) || (x >= "0" && x <= "9") }
        while i < c.count {
            guard c[i] == "$" else {
                out.unicodeScalars.append(c[i])
                i += 1
                continue
            }
            guard i + 1 < c.count else {
                out.unicodeScalars.append("$")
                i += 1
                continue
            }
            if c[i + 1] == "$" {
                out.unicodeScalars.append("$")
                i += 2
                continue
            }
            if isNameStart(c[i + 1]) {
                var j = i + 1
                while j < c.count, isName(c[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(c[(i + 1)..<j]))
                if let v = variables[name] { out += v } else { unset.append(name) }
                i = j
                continue
            }
            guard c[i + 1] == "{" else {
                out.unicodeScalars.append("$")
                i += 1
                continue
            }
            // ${…}: find the matching close brace, counting nested ${.
            var depth = 1
            var j = i + 2
            while j < c.count {
                if c[j] == "}" {
                    depth -= 1
                    if depth == 0 { break }
                } else if c[j] == "$", j + 1 < c.count, c[j + 1] == "{" {
                    depth += 1
                    j += 1
                }
                j += 1
            }
            guard j < c.count else { return .failure(.syntax("unclosed `${` in \(quoted(text))")) }
            let body = Array(c[(i + 2)..<j])
            i = j + 1
            var k = 0
            while k < body.count, isName(body[k]) { k += 1 }
            let name = String(String.UnicodeScalarView(body[..<k]))
            guard !name.isEmpty, isNameStart(body[0]) else {
                return .failure(.syntax("invalid interpolation ${\(String(String.UnicodeScalarView(body)))} in \(quoted(text)): expected a variable name"))
            }
            let value = variables[name]
            if k == body.count {
                if let value { out += value } else { unset.append(name) }
                continue
            }
            var op = String(body[k])
            var rest = Array(body[(k + 1)...])
            if body[k] == ":", let first = rest.first, "-?+".unicodeScalars.contains(first) {
                op += String(first)
                rest.removeFirst()
            }
            let argument = String(String.UnicodeScalarView(rest))
            let set = value != nil
            let nonEmpty = !(value ?? "").isEmpty
            switch op {
            case ":-", "-":
                if op == ":-" ? nonEmpty : set {
                    out += value ?? ""
                } else {
                    switch expand(argument, variables, unset: &unset) {
                    case .success(let v): out += v
                    case .failure(let f): return .failure(f)
                    }
                }
            case ":?", "?":
                if op == ":?" ? nonEmpty : set {
                    out += value ?? ""
                } else {
                    var ignored: [String] = []
                    let message = (try? expand(argument, variables, unset: &ignored).get()) ?? argument
                    return .failure(.required(name: name, message: message))
                }
            case ":+", "+":
                if op == ":+" ? nonEmpty : set {
                    switch expand(argument, variables, unset: &unset) {
                    case .success(let v): out += v
                    case .failure(let f): return .failure(f)
                    }
                }
            default:
                return .failure(.syntax("invalid interpolation ${\(String(String.UnicodeScalarView(body)))} in \(quoted(text)): expected ${NAME}, ${NAME:-default}, ${NAME:?error} or ${NAME:+other}"))
            }
        }
        return .success(out)
    }
}
