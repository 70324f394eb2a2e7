import FlockerYAML
import Testing

/// One malformed file and the error it must produce.
struct BadCase: CustomTestStringConvertible, Sendable {
    var file: String
    var code: YAMLError.Code
    /// The exact message, or (when `prefixOnly`) a stable prefix of it.
    var message: String
    var prefixOnly = false
    var line: Int
    var column: Int
    /// libyaml's context, as `"L:C: text"`, or nil when there must be none.
    var note: String?

    init(
        _ file: String, _ code: YAMLError.Code, _ line: Int, _ column: Int, _ message: String,
        prefixOnly: Bool = false, note: String? = nil
    ) {
        self.file = file
        self.code = code
        self.line = line
        self.column = column
        self.message = message
        self.prefixOnly = prefixOnly
        self.note = note
    }

    var testDescription: String { file }
}

private let tab = "tab character used for indentation; indent with spaces"
private let saveUTF8 = "; save the file as UTF-8"
private let emptyFile = "empty document: expected a mapping, but the file has no content"
private let multiple = "multiple documents: a second document starts here; the file must hold exactly one"
private let notMerge = "the merge key \"<<\" needs a mapping or a list of mappings, found "
private let tagHint = " is not supported; remove it (quote the value if it must stay a string)"

/// Every file in `Fixtures/bad`, with its expected code, position, message and note.
let badCases: [BadCase] = [
    // Syntax errors carry libyaml's problem, its position and its context as a note.
    BadCase(
        "unclosed-flow-sequence.yml", .syntax, 3, 6, "did not find expected ',' or ']'",
        note: "2:8: while parsing a flow sequence"),
    BadCase(
        "unclosed-flow-mapping.yml", .syntax, 2, 6, "did not find expected ',' or '}'",
        note: "1:9: while parsing a flow mapping"),
    BadCase(
        "unclosed-flow-at-eof.yml", .syntax, 2, 1, "did not find expected ',' or ']'",
        note: "1:8: while parsing a flow sequence"),
    BadCase(
        "unexpected-flow-end.yml", .syntax, 1, 12, "did not find expected key",
        note: "1:1: while parsing a block mapping"),
    BadCase(
        "bad-indentation-mapping.yml", .syntax, 3, 2, "did not find expected key",
        note: "1:1: while parsing a block mapping"),
    BadCase(
        "bad-indentation-sequence.yml", .syntax, 3, 2, "did not find expected key",
        note: "1:1: while parsing a block mapping"),
    BadCase("bad-indentation-value.yml", .syntax, 4, 12, "mapping values are not allowed in this context"),
    BadCase("mapping-in-plain-value.yml", .syntax, 1, 13, "mapping values are not allowed in this context"),
    BadCase(
        "text-after-quoted.yml", .syntax, 1, 15, "did not find expected key", note: "1:1: while parsing a block mapping"
    ),
    BadCase(
        "unterminated-double-quoted.yml", .syntax, 3, 1, "found unexpected end of stream",
        note: "1:8: while scanning a quoted scalar"),
    BadCase(
        "unterminated-single-quoted.yml", .syntax, 2, 1, "found unexpected end of stream",
        note: "1:8: while scanning a quoted scalar"),
    BadCase(
        "invalid-escape.yml", .syntax, 1, 16, "found unknown escape character",
        note: "1:10: while parsing a quoted scalar"),
    BadCase(
        "invalid-hex-escape.yml", .syntax, 2, 7, "did not find expected hexdecimal number",
        note: "2:4: while parsing a quoted scalar"),
    BadCase(
        "block-scalar-indicator-zero.yml", .syntax, 1, 10, "found an indentation indicator equal to 0",
        note: "1:9: while scanning a block scalar"),
    BadCase(
        "block-scalar-bad-indicator.yml", .syntax, 1, 11, "did not find expected comment or line break",
        note: "1:9: while scanning a block scalar"),
    BadCase(
        "block-scalar-bad-header.yml", .syntax, 1, 10, "did not find expected comment or line break",
        note: "1:9: while scanning a block scalar"),
    BadCase(
        "block-scalar-less-indented.yml", .syntax, 3, 3, "did not find expected key",
        note: "1:1: while parsing a block mapping"),
    BadCase(
        "bad-alias-name.yml", .syntax, 1, 9, "did not find expected alphabetic or numeric character",
        note: "1:8: while scanning an alias"),
    // Not a tab: libyaml's own words stay.
    BadCase(
        "reserved-indicator.yml", .syntax, 1, 8, "found character that cannot start any token",
        note: "1:8: while scanning for the next token"),
    BadCase("document-after-end-marker.yml", .syntax, 3, 1, "did not find expected <document start>"),
    // Tabs: at the tab, whatever libyaml called it.
    BadCase("tab-indent-mapping.yml", .tabIndentation, 2, 1, tab),
    BadCase("tab-after-spaces.yml", .tabIndentation, 2, 3, tab),
    BadCase("tab-after-dash.yml", .tabIndentation, 3, 4, tab),
    BadCase("tab-indent-deep.yml", .tabIndentation, 5, 1, tab, note: "4:12: while scanning a plain scalar"),
    BadCase("tab-in-block-scalar.yml", .tabIndentation, 3, 1, tab, note: "1:9: while scanning a block scalar"),
    BadCase("tab-in-plain-continuation.yml", .tabIndentation, 3, 1, tab, note: "2:3: while scanning a plain scalar"),
    // Duplicate keys: at the second occurrence, naming the first.
    BadCase("duplicate-key.yml", .duplicateKey, 3, 1, "duplicate key \"image\" (first defined at 1:1)"),
    BadCase("duplicate-key-quoted.yml", .duplicateKey, 2, 1, "duplicate key \"image\" (first defined at 1:1)"),
    BadCase("duplicate-key-single-quoted.yml", .duplicateKey, 2, 1, "duplicate key \"image\" (first defined at 1:1)"),
    BadCase("duplicate-key-nested.yml", .duplicateKey, 4, 5, "duplicate key \"image\" (first defined at 3:5)"),
    BadCase("duplicate-key-flow.yml", .duplicateKey, 1, 40, "duplicate key \"internal\" (first defined at 1:10)"),
    BadCase("duplicate-merge-key.yml", .duplicateKey, 4, 3, "duplicate key \"<<\" (first defined at 3:3)"),
    // Documents.
    BadCase("two-documents.yml", .multipleDocuments, 3, 1, multiple),
    BadCase("two-documents-after-end.yml", .multipleDocuments, 3, 1, multiple),
    BadCase("empty.yml", .emptyDocument, 1, 1, emptyFile),
    BadCase("only-comments.yml", .emptyDocument, 1, 1, emptyFile),
    BadCase("only-whitespace.yml", .emptyDocument, 1, 1, emptyFile),
    BadCase(
        "only-document-start.yml", .emptyDocument, 1, 1,
        "empty document: expected a mapping, but the document has no content"),
    // Encoding: libyaml's byte offset turned into line:column, at the start of the bad character.
    BadCase(
        "invalid-utf8-key.yml", .invalidEncoding, 1, 4, "invalid UTF-8: byte 0xFF cannot start a character" + saveUTF8),
    BadCase(
        "invalid-utf8-value.yml", .invalidEncoding, 1, 10,
        "invalid UTF-8: bytes 0xE9 0x0A do not form a character" + saveUTF8),
    BadCase(
        "invalid-utf8-line3.yml", .invalidEncoding, 3, 5,
        "invalid UTF-8: bytes 0xC3 0x28 do not form a character" + saveUTF8),
    BadCase(
        "invalid-utf8-overlong.yml", .invalidEncoding, 1, 4, "invalid UTF-8: overlong encoding 0xC0 0xAF" + saveUTF8),
    BadCase(
        "invalid-utf8-surrogate.yml", .invalidEncoding, 1, 4,
        "invalid UTF-8: U+D800 is not a valid character" + saveUTF8),
    BadCase(
        "invalid-utf8-truncated.yml", .invalidEncoding, 1, 4,
        "invalid UTF-8: the input ends in the middle of a character (0xE2 0x82)" + saveUTF8),
    BadCase(
        "utf16.yml", .invalidEncoding, 1, 1,
        "invalid UTF-8: the file starts with a UTF-16 byte order mark; save it as UTF-8"),
    BadCase("nul-byte.yml", .invalidEncoding, 1, 11, "NUL byte is not allowed (is this a binary or UTF-16 file?)"),
    BadCase("control-character.yml", .invalidEncoding, 1, 8, "control character U+0007 is not allowed"),
    // Aliases and merges.
    BadCase(
        "undefined-alias.yml", .undefinedAlias, 2, 7,
        "undefined alias \"*defaults\"; define the anchor \"&defaults\" before using it"),
    BadCase(
        "recursive-alias.yml", .undefinedAlias, 2, 6,
        "alias \"*loop\" refers to a node that contains it; recursive aliases are not supported"),
    BadCase(
        "billion-laughs.yml", .aliasBudgetExceeded, 6, 45,
        "alias \"*a3\" expands the document beyond 100000 nodes added by aliases", prefixOnly: true),
    BadCase("merge-scalar.yml", .invalidMerge, 2, 7, notMerge + "a string"),
    BadCase("merge-list-of-scalars.yml", .invalidMerge, 3, 12, notMerge + "a list holding a string"),
    // Tags, keys, depth.
    BadCase("tag-str.yml", .tagNotSupported, 1, 10, "tag \"!!str\"" + tagHint),
    BadCase("tag-custom.yml", .tagNotSupported, 1, 6, "tag \"!service\"" + tagHint),
    BadCase("complex-key.yml", .nonScalarKey, 1, 3, "mapping key must be a string, found a list"),
    BadCase("mapping-key.yml", .nonScalarKey, 1, 2, "mapping key must be a string, found a mapping"),
    BadCase("alias-key-to-list.yml", .nonScalarKey, 2, 1, "mapping key must be a string, found a list"),
    BadCase("too-deep.yml", .tooDeep, 1, 262, "nesting deeper than 256 levels"),
    BadCase(
        "too-deep-through-aliases.yml", .tooDeep, 256, 14, "nesting deeper than 256 levels (through alias \"*a254\")"),
]

@Suite("Malformed fixtures")
struct MalformedFixtureTests {
    @Test("Each malformed file fails with its code, message, position and note", arguments: badCases)
    func malformed(_ expected: BadCase) throws {
        let name = "bad/\(expected.file)"
        let bytes = try Fixture.bytes(name)
        let error = try #require(parseError(bytes, file: name), "\(name) parsed without an error")
        #expect(error.code == expected.code)
        if expected.prefixOnly {
            #expect(error.message.hasPrefix(expected.message), "message: \(error.message)")
        } else {
            #expect(error.message == expected.message)
        }
        #expect(error.mark == Mark(line: expected.line, column: expected.column))
        #expect(error.note.map { "\($0.mark): \($0.message)" } == expected.note)
        #expect(error.file == name)
        // The same error through the file-reading entry point, with the path as given.
        let path = Fixture.path(name)
        #expect(
            throws: YAMLError(code: error.code, file: path, mark: error.mark, message: error.message, note: error.note)
        ) {
            try YAML.parse(contentsOf: path)
        }
    }

    @Test("Every file in Fixtures/bad has a case, and every case a file")
    func casesCoverFixtures() throws {
        let files = try Fixture.names(in: "bad").map { String($0.dropFirst("bad/".count)) }
        #expect(Set(files) == Set(badCases.map(\.file)))
        #expect(badCases.count == Set(badCases.map(\.file)).count, "a fixture is listed twice")
        #expect(badCases.count >= 30)
    }
}
