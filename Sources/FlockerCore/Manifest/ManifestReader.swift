import FlockerYAML

/// A key path inside a manifest, as error messages print it: `applications.web.ports[1].external`.
///
/// Keys made of letters, digits, `_`, `.` and `-` are written as they are (IP addresses and dotted application
/// names stay readable); any other key is written `["…"]` with its characters escaped.
struct ManifestPath: Hashable, Sendable, CustomStringConvertible {
    private(set) var description: String

    static let document = ManifestPath(description: "")

    func key(_ name: String) -> ManifestPath {
        if ManifestPath.isPlain(name) {
            return ManifestPath(description: description.isEmpty ? name : description + "." + name)
        }
        return ManifestPath(description: description + "[" + quoted(name) + "]")
    }

    func index(_ i: Int) -> ManifestPath { ManifestPath(description: description + "[\(i)]") }

    private static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy {
                ManifestRules.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                    || $0 == UInt8(ascii: "-")
            }
    }
}

/// `s` in double quotes, with `"`, `\` and control characters escaped, cut to `limit` characters: safe to print
/// on one terminal line whatever the manifest holds.
func quoted(_ s: String, limit: Int = 80) -> String { MessageQuoting.quoted(s, limit: limit) }

/// `s` as it is when it is plainly printable (letters, digits and `_.-/:@+=`), otherwise `quoted(s)`: for
/// names that are usually valid but may not be.
func display(_ s: String) -> String {
    let plain =
        !s.isEmpty && s.count <= 80
        && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || "_.-/:@+=".unicodeScalars.contains(c)
        }
    return plain ? s : quoted(s)
}

/// `name` in backticks, the way messages name keys.
func code(_ name: String) -> String {
    let plain = !name.isEmpty && name.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && $0 != "`" }
    return plain ? "`" + name + "`" : quoted(name)
}

/// What a node is, for "expected X, found Y": `a mapping`, `a list`, `nothing`, `null`, `the string "80"`,
/// `"eighty"`, `70000`.
func found(_ node: YAMLNode) -> String {
    switch node.kind {
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .scalar(let text, let style):
        if node.isNull { return text.isEmpty ? "nothing" : "null" }
        if style != .plain { return "the string " + quoted(text) }
        if ManifestRules.parseInteger(text) != nil { return text.count > 40 ? quoted(text, limit: 40) : text }
        return quoted(text)
    }
}

/// The keys a mapping may hold, for `Diagnostics.fields`.
struct FieldSchema {
    /// Accepted keys, in the order the documentation lists them (also the order "known keys" prints).
    var known: [String]
    /// Keys that must be present.
    var required: [String] = []
    /// Keys that are recognised but refused, with the message that explains why (`build`, `container_name`, …).
    var refused: [String: String] = [:]
    /// Near misses that edit distance would not find (`restart` → `restart_policy`).
    var hints: [String: String] = [:]
    /// Whether `x-…` keys are ignored here (extension fields).
    var allowsExtensions = false
}

/// The pairs of a mapping that passed `Diagnostics.fields`, by key.
struct Fields {
    var values: [String: YAMLNode] = [:]
    var keys: [String: YAMLNode] = [:]
    /// The mapping's own position (where a missing key is reported).
    var mark: Mark

    subscript(_ key: String) -> YAMLNode? { values[key] }
}

/// Collects the errors of one file while its decoder keeps going, and reads typed values out of YAML nodes,
/// reporting what was expected and what was found.
struct Diagnostics {
    let file: String
    private(set) var errors: [ManifestError] = []

    init(file: String) { self.file = file }

    mutating func add(_ mark: Mark, _ path: ManifestPath, _ message: String) {
        errors.append(
            ManifestError(file: file, line: mark.line, column: mark.column, path: path.description, message: message))
    }

    mutating func add(_ error: ManifestError) { errors.append(error) }

    /// Accepted, but worth telling: see `ManifestWarning`.
    private(set) var warnings: [ManifestWarning] = []

    mutating func warn(_ mark: Mark, _ path: ManifestPath, _ message: String) {
        warnings.append(
            ManifestWarning(file: file, line: mark.line, column: mark.column, path: path.description, message: message))
    }

    var count: Int { errors.count }

    // MARK: Typed reads. Each returns nil after reporting an error.

    mutating func mapping(_ node: YAMLNode, _ path: ManifestPath, expected: String = "a mapping") -> [YAMLNode.Pair]? {
        if let pairs = node.mapping { return pairs }
        add(node.mark, path, "expected \(expected), found \(found(node))")
        return nil
    }

    mutating func list(_ node: YAMLNode, _ path: ManifestPath, expected: String = "a list") -> [YAMLNode]? {
        if let items = node.sequence { return items }
        add(node.mark, path, "expected \(expected), found \(found(node))")
        return nil
    }

    /// Any scalar but null, as written (`123` and `yes` stay text).
    mutating func text(_ node: YAMLNode, _ path: ManifestPath, expected: String = "a string") -> String? {
        if let s = node.scalar, !node.isNull { return s }
        add(node.mark, path, "expected \(expected), found \(found(node))")
        return nil
    }

    /// A plain decimal integer within `range`.
    mutating func integer(_ node: YAMLNode, _ path: ManifestPath, in range: ClosedRange<Int>, expected: String? = nil)
        -> Int?
    {
        let what = expected ?? "an integer from \(range.lowerBound) to \(range.upperBound)"
        if let s = node.scalar, !node.isNull, let n = ManifestRules.parseInteger(s) {
            if node.isQuoted {
                add(node.mark, path, "expected \(what), found \(found(node)): write the number without quotes")
                return nil
            }
            if range.contains(n) { return n }
        }
        add(node.mark, path, "expected \(what), found \(found(node))")
        return nil
    }

    /// `true` or `false` (plain).
    mutating func boolean(_ node: YAMLNode, _ path: ManifestPath) -> Bool? {
        if let s = node.scalar, !node.isQuoted {
            switch s {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        add(node.mark, path, "expected true or false, found \(found(node))")
        return nil
    }

    /// Checks a mapping's keys against `schema`: reports keys that are not strings, unknown keys (with "did you
    /// mean"), refused keys and missing required keys; returns the accepted ones.
    mutating func fields(_ pairs: [YAMLNode.Pair], mark: Mark, _ path: ManifestPath, _ schema: FieldSchema) -> Fields {
        var result = Fields(mark: mark)
        for pair in pairs {
            guard let key = pair.key.scalar else {
                add(pair.key.mark, path, "expected a key name, found \(found(pair.key))")
                continue
            }
            if schema.allowsExtensions && key.hasPrefix("x-") { continue }
            let keyPath = path.key(key)
            if let message = schema.refused[key] {
                add(pair.key.mark, keyPath, message)
                continue
            }
            guard schema.known.contains(key) else {
                add(pair.key.mark, keyPath, unknownKey(key, schema))
                continue
            }
            result.values[key] = pair.value
            result.keys[key] = pair.key
        }
        for key in schema.required where result.values[key] == nil && !pairs.contains(where: { $0.key.scalar == key }) {
            add(mark, path, "missing required key \(code(key))")
        }
        return result
    }

    private func unknownKey(_ key: String, _ schema: FieldSchema) -> String {
        if let hint = schema.hints[key] { return "unknown key \(code(key)): did you mean \(code(hint))?" }
        if let near = closest(to: key, among: schema.known) {
            return "unknown key \(code(key)): did you mean \(code(near))?"
        }
        let list = schema.known.map(code).joined(separator: ", ")
        return "unknown key \(code(key)) (expected one of \(list))"
    }
}

/// The candidate nearest to `word` by edit distance (case-insensitive, adjacent swaps count once), if it is near
/// enough to be a typo: at most 1 edit for words up to 4 characters, at most 2 beyond, never more than a third of
/// the word. Ties go to the earlier candidate.
func closest(to word: String, among candidates: [String]) -> String? {
    let w = Array(word.lowercased().unicodeScalars)
    guard !w.isEmpty, w.count <= 64 else { return nil }
    var best: (String, Int)?
    for candidate in candidates {
        let c = Array(candidate.lowercased().unicodeScalars)
        let d = editDistance(w, c)
        let limit = min(max(c.count, w.count) <= 4 ? 1 : 2, max(1, max(c.count, w.count) / 3))
        if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
    }
    return best?.0
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.
func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            var v = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { v = min(v, previous2[j - 2] + 1) }
            current[j] = v
        }
        (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
}
