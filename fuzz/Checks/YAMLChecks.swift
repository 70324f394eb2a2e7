// Properties of the `yaml` fuzz target: any byte string must give a tree or a YAMLError, never a crash, and either
// result must satisfy the invariants below.
import FlockerYAML

enum YAMLChecks {
    @Sendable static func run(_ bytes: [UInt8]) throws(FuzzFailure) {
        let tree: YAMLNode
        do {
            tree = try YAML.parse(bytes, file: "fuzz.yml")
        } catch {
            try checkError(error)
            return
        }
        try checkTree(tree)
    }

    private static func checkError(_ error: YAMLError) throws(FuzzFailure) {
        try check(error.mark >= Mark.start, "error mark \(error.mark) before 1:1: \(error)")
        if let note = error.note {
            try check(note.mark >= Mark.start && note.mark.column >= 1, "note mark \(note.mark): \(error)")
        }
        try check(error.mark.column >= 1, "error column \(error.mark.column): \(error)")
        try check(error.code != .unreadableFile, "unreadableFile from bytes: \(error)")
        try check(!error.message.isEmpty, "empty message at \(error.mark)")
        try check(error.description.hasPrefix("fuzz.yml:\(error.mark): error: "), "description: \(error)")
    }

    /// Walks the tree without recursion: marks at least 1:1, depth within the limit, mapping keys
    /// scalar and unique.
    private static func checkTree(_ root: YAMLNode) throws(FuzzFailure) {
        var pending: [(node: YAMLNode, depth: Int)] = [(root, 0)]
        while let (node, depth) = pending.popLast() {
            try check(node.mark.line >= 1 && node.mark.column >= 1, "node mark \(node.mark)")
            switch node.kind {
            case .scalar:
                break
            case .sequence(let items):
                try check(depth + 1 <= YAML.maxDepth, "depth \(depth + 1) beyond \(YAML.maxDepth)")
                pending += items.map { ($0, depth + 1) }
            case .mapping(let pairs):
                try check(depth + 1 <= YAML.maxDepth, "depth \(depth + 1) beyond \(YAML.maxDepth)")
                var keys = Set<String>()
                for pair in pairs {
                    guard let key = pair.key.scalar else {
                        try check(false, "non-scalar key at \(pair.key.mark)")
                        continue
                    }
                    try check(keys.insert(key).inserted, "duplicate key \(key.debugDescription) at \(pair.key.mark)")
                    pending.append((pair.value, depth + 1))
                }
            }
        }
    }
}
