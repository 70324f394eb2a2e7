/// Turns libyaml's failures into ``YAMLError``s a user understands.
struct Diagnostics {
    let file: String
    let source: SourceText

    func error(for failure: ParserFailure) -> YAMLError {
        switch failure.stage {
        case .reader:
            return readerError(failure)
        case .memory:
            return YAMLError(code: .syntax, file: file, mark: .start, message: failure.problem)
        case .scanner, .parser:
            return syntaxError(failure)
        }
    }

    // MARK: Scanner and parser errors

    private static let cannotStartToken = "found character that cannot start any token"
    private static let tabProblems: Set<String> = [
        "found a tab character where an indentation space is expected",  // block scalar
        "found a tab character that violates indentation",  // plain scalar continuation
    ]
    static let tabMessage = "tab character used for indentation; indent with spaces"

    private func syntaxError(_ failure: ParserFailure) -> YAMLError {
        let note = failure.context.map { YAMLError.Note(message: $0, mark: failure.contextMark) }
        if failure.problem == Self.cannotStartToken, source.byte(at: failure.problemMark) == 0x09 {
            // libyaml's context here ("while scanning for the next token", same position) adds nothing.
            return YAMLError(code: .tabIndentation, file: file, mark: failure.problemMark, message: Self.tabMessage)
        }
        if Self.tabProblems.contains(failure.problem) {
            return YAMLError(
                code: .tabIndentation, file: file, mark: failure.problemMark, message: Self.tabMessage, note: note)
        }
        return YAMLError(code: .syntax, file: file, mark: failure.problemMark, message: failure.problem, note: note)
    }

    // MARK: Reader (encoding) errors

    private func readerError(_ failure: ParserFailure) -> YAMLError {
        var offset = failure.offset
        let message: String
        switch failure.problem {
        case "invalid leading UTF-8 octet":
            let prefix = source.bytes(from: 0, count: 2)
            if offset == 0, prefix == [0xFF, 0xFE] || prefix == [0xFE, 0xFF] {
                message = "invalid UTF-8: the file starts with a UTF-16 byte order mark; save it as UTF-8"
            } else {
                message =
                    "invalid UTF-8: byte \(Self.hex(failure.value)) cannot start a character; "
                    + "save the file as UTF-8"
            }
        case "invalid trailing UTF-8 octet", "incomplete UTF-8 octet sequence":
            if failure.problem == "invalid trailing UTF-8 octet" {
                // libyaml points at the bad trailing byte; point at the character it was meant to
                // continue. The bytes between that lead byte and the bad one are continuation bytes.
                var start = max(offset - 1, 0)
                while start > 0, offset - start < 3,
                    source.bytes(from: start, count: 1).first.map(Self.isContinuation) ?? false
                {
                    start -= 1
                }
                offset = start
            }
            let sequence = characterBytes(at: offset)
            if sequence.dropFirst().allSatisfy(Self.isContinuation), offset + sequence.count >= source.bytes.count {
                message =
                    "invalid UTF-8: the input ends in the middle of a character (\(Self.hex(sequence))); "
                    + "save the file as UTF-8"
            } else {
                message = "invalid UTF-8: bytes \(Self.hex(sequence)) do not form a character; save the file as UTF-8"
            }
        case "invalid length of a UTF-8 sequence":
            message = "invalid UTF-8: overlong encoding \(Self.hex(characterBytes(at: offset))); save the file as UTF-8"
        case "invalid Unicode character":
            message = "invalid UTF-8: \(Self.codePoint(failure.value)) is not a valid character; save the file as UTF-8"
        case "control characters are not allowed":
            let value = failure.value
            if value == 0 {
                message = "NUL byte is not allowed (is this a binary or UTF-16 file?)"
            } else if value < 0x20 || (0x7F...0x9F).contains(value) {
                message = "control character \(Self.codePoint(value)) is not allowed"
            } else {
                message = "character \(Self.codePoint(value)) is not allowed in YAML"
            }
        default:
            message = failure.problem
        }
        return YAMLError(code: .invalidEncoding, file: file, mark: source.mark(atOffset: offset), message: message)
    }

    /// The bytes of the (possibly broken) character at `offset`: its lead byte and the bytes its
    /// lead byte asks for, up to and including the first that is not a continuation byte.
    private func characterBytes(at offset: Int) -> [UInt8] {
        let available = Array(source.bytes(from: offset, count: 4))
        guard let lead = available.first else { return [] }
        let width = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        var sequence = [lead]
        for byte in available.dropFirst().prefix(width - 1) {
            sequence.append(byte)
            if !Self.isContinuation(byte) { break }
        }
        return sequence
    }

    private static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { hex(Int($0)) }.joined(separator: " ")
    }

    private static func hex(_ value: Int) -> String {
        let digits = String(value & 0xFF, radix: 16, uppercase: true)
        return "0x" + (digits.count < 2 ? "0" + digits : digits)
    }

    private static func codePoint(_ value: Int) -> String {
        var digits = String(max(value, 0), radix: 16, uppercase: true)
        while digits.count < 4 { digits = "0" + digits }
        return "U+" + digits
    }
}
