internal import CYAML

// The only file that touches libyaml's C structures. Everything leaves it as Swift values:
// `Event` (the one place that reads the `yaml_event_t` union) and `ParserFailure`.

/// One libyaml parse event, copied out of the C union into Swift values.
struct Event {
    enum Kind {
        case streamStart
        case streamEnd
        case documentStart
        case documentEnd
        case alias(anchor: String)
        case scalar(value: String, style: YAMLNode.ScalarStyle, anchor: String?, tag: String?)
        case sequenceStart(anchor: String?, tag: String?)
        case sequenceEnd
        case mappingStart(anchor: String?, tag: String?)
        case mappingEnd
        /// libyaml's `YAML_NO_EVENT`; never expected before the end of the stream.
        case none
    }

    var kind: Kind
    /// Where the event's text starts (1-based).
    var start: Mark
    /// Where it ends (1-based, exclusive).
    var end: Mark

    /// Copies an event out of libyaml's union. Reads only the union member that matches the type.
    init(_ event: borrowing yaml_event_t) {
        start = Mark(event.start_mark)
        end = Mark(event.end_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT: kind = .streamStart
        case YAML_STREAM_END_EVENT: kind = .streamEnd
        case YAML_DOCUMENT_START_EVENT: kind = .documentStart
        case YAML_DOCUMENT_END_EVENT: kind = .documentEnd
        case YAML_ALIAS_EVENT:
            kind = .alias(anchor: Self.string(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let value: String
            if let bytes = scalar.value {
                value = String(decoding: UnsafeBufferPointer(start: bytes, count: scalar.length), as: UTF8.self)
            } else {
                value = ""
            }
            kind = .scalar(
                value: value, style: Self.style(scalar.style),
                anchor: Self.string(scalar.anchor), tag: Self.string(scalar.tag))
        case YAML_SEQUENCE_START_EVENT:
            let sequence = event.data.sequence_start
            kind = .sequenceStart(anchor: Self.string(sequence.anchor), tag: Self.string(sequence.tag))
        case YAML_SEQUENCE_END_EVENT: kind = .sequenceEnd
        case YAML_MAPPING_START_EVENT:
            let mapping = event.data.mapping_start
            kind = .mappingStart(anchor: Self.string(mapping.anchor), tag: Self.string(mapping.tag))
        case YAML_MAPPING_END_EVENT: kind = .mappingEnd
        default: kind = .none
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLNode.ScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }
}

/// The error state libyaml leaves in its parser when `yaml_parser_parse` fails.
struct ParserFailure {
    enum Stage {
        /// Decoding the input (bad UTF-8, forbidden characters): only a byte offset is known.
        case reader
        case scanner
        case parser
        case memory
    }

    var stage: Stage
    var problem: String
    /// The problem's position (scanner and parser errors).
    var problemMark: Mark
    /// The byte offset of the problem in the input (reader errors).
    var offset: Int
    /// The offending byte or code point (reader errors), or -1.
    var value: Int
    var context: String?
    var contextMark: Mark
}

/// Runs libyaml over `input`, handing each event to `body` until `body` returns `false` or the
/// stream ends.
///
/// The parser, the input and every event live only inside this call. The parser is allocated on
/// the heap because `yaml_parser_set_input_string` stores a pointer to the parser inside itself,
/// so its address must not change between calls.
///
/// - Returns: libyaml's failure, or `nil` when the stream ended or `body` stopped.
/// - Throws: whatever `body` throws.
func parseEvents(
    _ input: UnsafeBufferPointer<UInt8>,
    _ body: (Event) throws(YAMLError) -> Bool
) throws(YAMLError) -> ParserFailure? {
    let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    defer { parser.deallocate() }
    guard yaml_parser_initialize(parser) != 0 else {
        return ParserFailure(
            stage: .memory, problem: "cannot initialise libyaml (out of memory)", problemMark: .start,
            offset: 0, value: -1, context: nil, contextMark: .start)
    }
    defer { yaml_parser_delete(parser) }

    // libyaml asserts on a null input pointer, which an empty buffer may have.
    let empty: [UInt8] = [0]
    return try empty.withUnsafeBufferPointer { (emptyBuffer) throws(YAMLError) -> ParserFailure? in
        guard let base = input.baseAddress ?? emptyBuffer.baseAddress else { return nil }
        yaml_parser_set_input_string(parser, base, input.count)
        // Force UTF-8: no guessing UTF-16 from a byte order mark.
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        while true {
            var raw = yaml_event_t()
            guard yaml_parser_parse(parser, &raw) != 0 else {
                return ParserFailure(parser.pointee)
            }
            defer { yaml_event_delete(&raw) }
            let event = Event(raw)
            if case .streamEnd = event.kind {
                _ = try body(event)
                return nil
            }
            if case .none = event.kind {
                return ParserFailure(
                    stage: .parser, problem: "libyaml produced no event before the end of the stream",
                    problemMark: event.start, offset: 0, value: -1, context: nil, contextMark: event.start)
            }
            guard try body(event) else { return nil }
        }
    }
}

extension ParserFailure {
    fileprivate init(_ parser: yaml_parser_t) {
        switch parser.error {
        case YAML_READER_ERROR: stage = .reader
        case YAML_SCANNER_ERROR: stage = .scanner
        case YAML_MEMORY_ERROR: stage = .memory
        default: stage = .parser
        }
        problem = parser.problem.map { String(cString: $0) } ?? "unknown libyaml error"
        problemMark = Mark(parser.problem_mark)
        offset = parser.problem_offset
        value = Int(parser.problem_value)
        context = parser.context.map { String(cString: $0) }
        contextMark = Mark(parser.context_mark)
        if stage == .memory { problem = "out of memory" }
    }
}

extension Mark {
    /// Converts libyaml's 0-based mark.
    fileprivate init(_ mark: yaml_mark_t) {
        self.init(line: mark.line + 1, column: mark.column + 1)
    }
}

extension YAML {
    /// The version of the system libyaml this module is linked against, e.g. `0.2.5`.
    public static var libraryVersion: String { String(cString: yaml_get_version_string()) }
}
