#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses YAML into a ``YAMLNode`` tree, through the system libyaml.
///
/// One document per file, UTF-8 only, no tags, no implicit typing. Anchors and aliases are
/// expanded and merge keys (`<<`) applied, under the limits ``maxDepth`` and ``aliasNodeBudget``.
/// Every failure is a ``YAMLError`` with a file, line and column.
public enum YAML {
    /// The deepest nesting of sequences and mappings accepted (the root collection is level 1).
    /// Deeper input fails with ``YAMLError/Code/tooDeep`` instead of exhausting memory or stack.
    public static let maxDepth = 256

    /// The most nodes that aliases may add to one document, counting every node of each copied
    /// subtree (a merged mapping counts in full). Beyond it parsing fails with
    /// ``YAMLError/Code/aliasBudgetExceeded``, so a "billion laughs" file fails fast, in memory
    /// proportional to its size. Nodes written out in the file do not count.
    public static let aliasNodeBudget = 100_000

    /// Parses exactly one document. The parser, its input and every event live only inside this call.
    ///
    /// - Parameters:
    ///   - bytes: the file's contents, UTF-8 (a leading UTF-8 byte order mark is skipped).
    ///   - file: the name to put in errors.
    /// - Returns: the document's root node.
    /// - Throws: ``YAMLError`` for anything that is not exactly one valid document.
    public static func parse(_ bytes: [UInt8], file: String) throws(YAMLError) -> YAMLNode {
        try bytes.withUnsafeBufferPointer { (all) throws(YAMLError) -> YAMLNode in
            // A UTF-8 byte order mark is not content: libyaml would count it as a column (and then
            // misjudge the first line's indentation) when the encoding is forced to UTF-8.
            let hasBOM = all.count >= 3 && all[0] == 0xEF && all[1] == 0xBB && all[2] == 0xBF
            let input = hasBOM ? UnsafeBufferPointer(rebasing: all[3...]) : all
            var builder = TreeBuilder(file: file, maxDepth: maxDepth, aliasNodeBudget: aliasNodeBudget)
            let failure = try parseEvents(input) { (event) throws(YAMLError) -> Bool in
                try builder.consume(event)
            }
            if let failure {
                throw Diagnostics(file: file, source: SourceText(bytes: input)).error(for: failure)
            }
            guard let root = builder.result else {
                throw YAMLError(code: .syntax, file: file, mark: .start, message: "the YAML stream ended unexpectedly")
            }
            return root
        }
    }

    /// Parses exactly one document from text.
    ///
    /// - Parameters:
    ///   - text: the YAML text.
    ///   - file: the name to put in errors.
    /// - Returns: the document's root node.
    /// - Throws: ``YAMLError`` for anything that is not exactly one valid document.
    public static func parse(_ text: String, file: String) throws(YAMLError) -> YAMLNode {
        try parse(Array(text.utf8), file: file)
    }

    /// Reads the file at `path` and parses exactly one document from it.
    ///
    /// - Parameter path: the file to read; errors name it exactly as given.
    /// - Returns: the document's root node.
    /// - Throws: ``YAMLError`` with ``YAMLError/Code/unreadableFile`` and the OS reason when the
    ///   file cannot be read, or any error of `parse(_:file:)`.
    public static func parse(contentsOf path: String) throws(YAMLError) -> YAMLNode {
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let contents): bytes = contents
        case .failure(let failure):
            throw YAMLError(
                code: .unreadableFile, file: path, mark: .start, message: "cannot read file: \(failure.reason)")
        }
        return try parse(bytes, file: path)
    }

    private struct ReadFailure: Error {
        var reason: String
    }

    /// Reads a whole file, or returns the OS's reason (`strerror`) for failing.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        func failure() -> Result<[UInt8], ReadFailure> {
            .failure(ReadFailure(reason: String(cString: strerror(errno))))
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure() }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return .success(bytes)
            } else if errno != EINTR {
                return failure()
            }
        }
    }
}
