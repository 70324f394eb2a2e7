import FlockerYAML
import Foundation
import Testing

@Suite("Public API")
struct APITests {
    @Test("Mark prints LINE:COL and orders by line, then column")
    func mark() {
        #expect(Mark(line: 3, column: 7).description == "3:7")
        #expect(Mark(line: 2, column: 9) < Mark(line: 3, column: 1))
        #expect(Mark(line: 3, column: 1) < Mark(line: 3, column: 2))
        #expect(!(Mark(line: 3, column: 2) < Mark(line: 3, column: 2)))
    }

    @Test(
        "Null is a plain empty, ~, null, Null or NULL; a quoted one is a string",
        arguments: [
            ("k:", true), ("k: ~", true), ("k: null", true), ("k: Null", true), ("k: NULL", true),
            ("k: nULL", false), ("k: \"null\"", false), ("k: ''", false), ("k: '~'", false), ("k: none", false),
        ])
    func null(_ source: String, _ isNull: Bool) throws {
        let value = try #require(try YAML.parse(source, file: "t.yml")["k"])
        #expect(value.isNull == isNull)
        #expect(value.kindName == (isNull ? "null" : "a string"))
    }

    @Test("yes, on, 0777, 1e3 stay strings; isQuoted tells quoted from plain")
    func noTyping() throws {
        let root = try YAML.parse("a: yes\nb: 'on'\nc: \"0777\"\nd: 1e3\ne: |\n  x\n", file: "t.yml")
        #expect(root["a"]?.kind == .scalar("yes", .plain))
        #expect(root["a"]?.isQuoted == false)
        #expect(root["b"]?.isQuoted == true)
        #expect(root["c"]?.isQuoted == true)
        #expect(root["d"]?.scalar == "1e3")
        #expect(root["e"]?.isQuoted == false)
        #expect(root["e"]?.scalarStyle == .literal)
    }

    @Test("Accessors return nil for the wrong kind; kindName names each kind")
    func accessors() throws {
        let root = try YAML.parse("m: {a: 1}\ns: [1]\nv: x\n", file: "t.yml")
        let m = try #require(root["m"])
        let s = try #require(root["s"])
        let v = try #require(root["v"])
        #expect(m.mapping?.count == 1 && m.sequence == nil && m.scalar == nil && m.scalarStyle == nil)
        #expect(s.sequence?.count == 1 && s.mapping == nil && s.scalar == nil)
        #expect(v.scalar == "x" && v.mapping == nil && v.sequence == nil)
        #expect((m.kindName, s.kindName, v.kindName) == ("a mapping", "a list", "a string"))
        #expect(s["a"] == nil)
        #expect(m["missing"] == nil)
        #expect(root.pair(forKey: "s")?.key.mark == Mark(line: 2, column: 1))
        #expect(!m.isNull && !m.isQuoted)
    }

    @Test("An empty value is a plain \"\" placed right after the colon")
    func emptyValueMark() throws {
        let root = try YAML.parse("image:\nports:   # none\n- \n", file: "t.yml")
        #expect(root["image"] == YAMLNode(.scalar("", .plain), mark: Mark(line: 1, column: 7)))
        #expect(root["ports"]?.mark == Mark(line: 3, column: 1))
        #expect(root["ports"]?.sequence?.first?.isNull == true)
    }

    @Test("Keys are compared by text: `1` and \"1\" clash, `null` and `~` do not")
    func keyIdentity() throws {
        #expect(parseError("1: a\n\"1\": b\n")?.code == .duplicateKey)
        #expect(parseError("null: a\n~: b\n") == nil)
    }

    @Test("Tabs are fine after a colon and inside flow collections")
    func harmlessTabs() throws {
        let root = try YAML.parse("a:\tb\nc: [1,\t2]\n", file: "t.yml")
        #expect(root["a"]?.scalar == "b")
        #expect(root["c"]?.sequence?.count == 2)
    }

    @Test("Duplicate key messages escape and shorten the key")
    func duplicateKeyQuoting() throws {
        // Two spellings of the same text: keys are compared after unescaping.
        let odd = try #require(parseError(#""a\"b\n": 1\#n"a\x22b\x0A": 2\#n"#))
        #expect(odd.message == "duplicate key \"a\\\"b\\n\" (first defined at 1:1)")
        let long = String(repeating: "k", count: 80)
        let error = try #require(parseError("\(long): 1\n\(long): 2\n"))
        #expect(error.message == "duplicate key \"\(String(repeating: "k", count: 60))…\" (first defined at 1:1)")
    }

    @Test("Error descriptions: FILE:LINE:COL: error:, plus a note line where libyaml gave a context")
    func descriptions() throws {
        let withNote = try #require(parseError("a: [1, 2\nb: 3\n", file: "app.yml"))
        #expect(
            withNote.description == """
                app.yml:2:2: error: did not find expected ',' or ']'
                app.yml:1:4: note: while parsing a flow sequence
                """)
        #expect(withNote.context?.message == "while parsing a flow sequence")
        #expect(withNote.context?.mark == Mark(line: 1, column: 4))
        let plain = try #require(parseError("a: 1\na: 2\n", file: "app.yml"))
        #expect(plain.description == "app.yml:2:1: error: duplicate key \"a\" (first defined at 1:1)")
        #expect(plain.context == nil)
        var edited = plain
        edited.context = (message: "here", mark: Mark(line: 1, column: 1))
        #expect(edited.note == YAMLError.Note(message: "here", mark: Mark(line: 1, column: 1)))
        #expect(edited.description.hasSuffix("\napp.yml:1:1: note: here"))
        #expect(YAMLError.Code.duplicateKey.description == "duplicateKey")
    }

    @Test("A missing file or a directory is unreadableFile with the OS reason and the path as given")
    func unreadableFile() throws {
        let missing = "/nonexistent/flocker/app.yml"
        #expect(
            throws: YAMLError(
                code: .unreadableFile, file: missing, mark: .start,
                message: "cannot read file: No such file or directory")
        ) { try YAML.parse(contentsOf: missing) }
        let directory = Fixture.path("good")
        do {
            _ = try YAML.parse(contentsOf: directory)
            Issue.record("a directory parsed")
        } catch {
            #expect(error.code == .unreadableFile)
            #expect(error.description == "\(directory): error: cannot read file: Is a directory")
        }
    }

    @Test("A file is read whole, past the read chunk size")
    func largeFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flocker-yaml-\(UUID()).yml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = (0..<20_000).map { "key\($0): value\($0)\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let root = try YAML.parse(contentsOf: path)
        #expect(root.mapping?.count == 20_000)
        #expect(root["key19999"]?.mark == Mark(line: 20_000, column: 11))
    }

    @Test("The linked libyaml reports its version")
    func libraryVersion() {
        #expect(YAML.libraryVersion.hasPrefix("0."))
    }
}
