// libFuzzer entry for FlockerYAML: any byte string must give a tree or a YAMLError, never a crash,
// and either result must satisfy the invariants below. Built by fuzz/run.sh (see fuzz/README.md).
import FlockerYAML

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzYAML(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        checkTree(try YAML.parse(bytes, file: "fuzz.yml"))
    } catch {
        check(error.mark >= Mark.start, "error mark \(error.mark) before 1:1: \(error)")
        if let note = error.note {
            check(note.mark >= Mark.start && note.mark.column >= 1, "note mark \(note.mark): \(error)")
        }
        check(error.mark.column >= 1, "error column \(error.mark.column): \(error)")
        check(error.code != .unreadableFile, "unreadableFile from bytes: \(error)")
        check(!error.message.isEmpty, "empty message at \(error.mark)")
        check(error.description.hasPrefix("fuzz.yml:\(error.mark): error: "), "description: \(error)")
    }
    return 0
}

/// Walks the tree without recursion: marks at least 1:1, depth within the limit, mapping keys
/// scalar and unique.
private func checkTree(_ root: YAMLNode) {
    var pending: [(node: YAMLNode, depth: Int)] = [(root, 0)]
    while let (node, depth) = pending.popLast() {
        check(node.mark.line >= 1 && node.mark.column >= 1, "node mark \(node.mark)")
        switch node.kind {
        case .scalar:
            break
        case .sequence(let items):
            check(depth + 1 <= YAML.maxDepth, "depth \(depth + 1) beyond \(YAML.maxDepth)")
            pending += items.map { ($0, depth + 1) }
        case .mapping(let pairs):
            check(depth + 1 <= YAML.maxDepth, "depth \(depth + 1) beyond \(YAML.maxDepth)")
            var keys = Set<String>()
            for pair in pairs {
                guard let key = pair.key.scalar else {
                    check(false, "non-scalar key at \(pair.key.mark)")
                    continue
                }
                check(keys.insert(key).inserted, "duplicate key \(key.debugDescription) at \(pair.key.mark)")
                pending.append((pair.value, depth + 1))
            }
        }
    }
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        // A trap is what libFuzzer reports as a crash, with this message in its log.
        fatalError("invariant broken: \(message())")
    }
}
