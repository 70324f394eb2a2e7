/// Maps between byte offsets and 1-based marks in the parser's input, counting lines and columns
/// the way libyaml does: a line break is LF, CR, CR LF, NEL (U+0085), LS (U+2028) or PS (U+2029),
/// and a column is one character (one UTF-8 lead byte; a stray byte counts as one character).
///
/// Used only to explain errors, so a linear scan is fine.
struct SourceText {
    let bytes: UnsafeBufferPointer<UInt8>

    /// The length in bytes of the line break starting at `index`, or 0 if there is none.
    private func breakLength(at index: Int) -> Int {
        let byte = bytes[index]
        switch byte {
        case 0x0A: return 1
        case 0x0D: return index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
        case 0xC2: return index + 1 < bytes.count && bytes[index + 1] == 0x85 ? 2 : 0
        case 0xE2:
            guard index + 2 < bytes.count, bytes[index + 1] == 0x80 else { return 0 }
            return bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9 ? 3 : 0
        default: return 0
        }
    }

    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    /// The mark of the character starting at byte `offset` (clamped to the input).
    func mark(atOffset offset: Int) -> Mark {
        let target = min(max(offset, 0), bytes.count)
        var line = 1
        var column = 1
        var index = 0
        while index < target {
            let length = breakLength(at: index)
            if length > 0 {
                index += length
                line += 1
                column = 1
                continue
            }
            index += 1
            // Count a character at its lead byte; skip the continuation bytes that follow it.
            while index < target && Self.isContinuation(bytes[index]) && index < bytes.count {
                index += 1
            }
            column += 1
        }
        return Mark(line: line, column: column)
    }

    /// The byte offset of the character at `mark`, or `nil` if the input has no such position.
    func offset(of mark: Mark) -> Int? {
        guard mark.line >= 1, mark.column >= 1 else { return nil }
        var index = 0
        var line = 1
        while line < mark.line {
            guard index < bytes.count else { return nil }
            let length = breakLength(at: index)
            if length > 0 {
                index += length
                line += 1
            } else {
                index += 1
            }
        }
        var column = 1
        while column < mark.column {
            guard index < bytes.count, breakLength(at: index) == 0 else { return nil }
            index += 1
            while index < bytes.count && Self.isContinuation(bytes[index]) { index += 1 }
            column += 1
        }
        return index < bytes.count ? index : nil
    }

    /// The byte at `mark`, or `nil`.
    func byte(at mark: Mark) -> UInt8? {
        offset(of: mark).map { bytes[$0] }
    }

    /// Up to `count` bytes starting at `offset`.
    func bytes(from offset: Int, count: Int) -> ArraySlice<UInt8> {
        let start = min(max(offset, 0), bytes.count)
        let end = min(start + max(count, 0), bytes.count)
        return Array(bytes[start..<end])[...]
    }
}
