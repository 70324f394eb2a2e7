import FlockerYAML
import Foundation

/// Test fixtures, copied into the test bundle from `Fixtures/`.
enum Fixture {
    static let directory: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            preconditionFailure("the Fixtures resource folder is missing from the test bundle")
        }
        return url
    }()

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The names of the files in a fixture subfolder, sorted.
    static func names(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)
            .sorted()
            .map { "\(folder)/\($0)" }
    }
}

/// Parses `text`, returning the error or `nil` if it parsed.
func parseError(_ text: String, file: String = "test.yml") -> YAMLError? {
    parseError(Array(text.utf8), file: file)
}

func parseError(_ bytes: [UInt8], file: String = "test.yml") -> YAMLError? {
    do {
        _ = try YAML.parse(bytes, file: file)
        return nil
    } catch {
        return error
    }
}

/// A one-line-per-node rendering of a tree with styles and marks, for exact comparisons:
/// scalars as `p"text"@L:C` (p plain, sq single-quoted, dq double-quoted, lit literal, fold folded),
/// collections as `map@L:C` / `seq@L:C` followed by their entries, indented.
func outline(_ node: YAMLNode) -> String {
    var lines: [String] = []
    func scalar(_ node: YAMLNode) -> String? {
        guard case .scalar(let text, let style) = node.kind else { return nil }
        let prefix: String
        switch style {
        case .plain: prefix = "p"
        case .singleQuoted: prefix = "sq"
        case .doubleQuoted: prefix = "dq"
        case .literal: prefix = "lit"
        case .folded: prefix = "fold"
        }
        return "\(prefix)\(text.debugDescription)@\(node.mark)"
    }
    func header(_ node: YAMLNode) -> String {
        if let text = scalar(node) { return text }
        return node.mapping != nil ? "map@\(node.mark)" : "seq@\(node.mark)"
    }
    func walk(_ node: YAMLNode, _ indent: String) {
        switch node.kind {
        case .scalar:
            break
        case .sequence(let items):
            for item in items {
                lines.append("\(indent)- \(header(item))")
                walk(item, indent + "  ")
            }
        case .mapping(let pairs):
            for pair in pairs {
                lines.append("\(indent)\(header(pair.key)): \(header(pair.value))")
                walk(pair.value, indent + "  ")
            }
        }
    }
    lines.append(header(node))
    walk(node, "  ")
    return lines.joined(separator: "\n")
}

/// The deepest nesting of collections in a tree (0 for a scalar), computed without recursion.
func nestingDepth(_ root: YAMLNode) -> Int {
    var deepest = 0
    var pending: [(YAMLNode, Int)] = [(root, 0)]
    while let (node, depth) = pending.popLast() {
        switch node.kind {
        case .scalar:
            deepest = max(deepest, depth)
        case .sequence(let items):
            deepest = max(deepest, depth + 1)
            pending += items.map { ($0, depth + 1) }
        case .mapping(let pairs):
            deepest = max(deepest, depth + 1)
            for pair in pairs {
                pending.append((pair.key, depth + 1))
                pending.append((pair.value, depth + 1))
            }
        }
    }
    return deepest
}

/// A small deterministic generator (SplitMix64), so every random test input can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
