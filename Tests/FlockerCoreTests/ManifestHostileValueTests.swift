import Testing

@testable import FlockerCore

/// Values that would mean something to a shell are data: they reach the model byte for byte, never expanded,
/// never rejected (except NUL, and line breaks in environment values).
@Suite("Manifest: hostile but valid values stay literal")
struct ManifestHostileValueTests {
    static let hostile: [String] = [
        "$(reboot)", "`id`", "'; rm -rf / #", "\"quoted\"", "a;b", "a|b", "true && false", "x || y", "$HOME ${PATH:-/}",
        "a\\b\\\\c", "*", "~root", "<in >out 2>&1", "snowman ☃ and 日本語 and 🚀", "tab\there", "  padded  ",
        "#not-a-comment",
        "!history", "%s%n", "key=value=more", "\u{7F}del", "",
    ]

    /// `s` as a YAML double-quoted scalar.
    static func yamlQuoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\u{7F}": out += "\\x7F"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    @Test("Flocker v1 environment values", arguments: hostile)
    func v1Environment(_ value: String) throws {
        let app = try onlyApplication(v1("image: x\nenvironment:\n  V: \(Self.yamlQuoted(value))"))
        #expect(Array(app.environment["V"]?.utf8 ?? "".utf8) == Array(value.utf8))
        #expect(app.environment["V"] == value)
    }

    @Test("Compose environment values, mapping and KEY=VALUE list", arguments: hostile)
    func composeEnvironment(_ value: String) throws {
        let map = try onlyApplication(compose("image: x\nenvironment:\n  V: \(Self.yamlQuoted(value))"))
        #expect(map.environment == ["V": value])
        let list = try onlyApplication(compose("image: x\nenvironment:\n  - \(Self.yamlQuoted("V=" + value))"))
        #expect(list.environment == ["V": value])
    }

    @Test("Command words given as a list, in both formats", arguments: hostile)
    func commandList(_ value: String) throws {
        let words = ["sh", "-c", value]
        let yaml = "[" + words.map(Self.yamlQuoted).joined(separator: ", ") + "]"
        #expect(try onlyApplication(v1("image: x\ncommand: \(yaml)")).command == words)
        #expect(try onlyApplication(compose("image: x\ncommand: \(yaml)")).command == words)
    }

    @Test("A command string keeps $, backticks, ;, |, && and unicode as written; only quotes group words")
    func commandString() throws {
        let app = try onlyApplication(
            v1(#"image: x\#ncommand: 'sh -c "echo $(id) `date` ; a | b && c" ''$HOME'' ☃ \$x'"#))
        #expect(app.command == ["sh", "-c", "echo $(id) `date` ; a | b && c", "$HOME", "☃", "$x"])
    }

    @Test("Multi-line command words are fine (only NUL is refused)")
    func commandNewline() throws {
        let app = try onlyApplication(v1("image: x\ncommand:\n  - sh\n  - -c\n  - |\n    echo one\n    echo two"))
        #expect(app.command == ["sh", "-c", "echo one\necho two\n"])
    }

    @Test("An environment variable fits in one of Docker's env-file lines (65,535 bytes as NAME=value), or is refused where it is")
    func environmentLineLimit() throws {
        let fits = String(repeating: "x", count: 65_535 - 4)  // "BIG=" + value
        #expect(try onlyApplication(v1("image: x\nenvironment:\n  BIG: \(fits)")).environment["BIG"] == fits)
        #expect(try onlyApplication(compose("image: x\nenvironment:\n  - BIG=\(fits)")).environment["BIG"] == fits)
        for (app, line, column) in [(v1("image: x\nenvironment:\n  BIG: \(fits)y"), 6, 12),
                                    (compose("image: x\nenvironment:\n  - BIG=\(fits)y"), 5, 9)] {
            let errors = decodeErrors(app: app)
            #expect(errors.count == 1)
            #expect(errors.first.map { [$0.line, $0.column] } == [line, column], "\(errors)")
            #expect(errors.first?.message.contains("too long") == true, "\(errors)")
            #expect(errors.first?.message.contains("65536 bytes") == true, "\(errors)")
        }
    }

    @Test("A command fits in one SSH request once quoted (1,000 short words do), or the application is refused where it is")
    func commandLineLimit() throws {
        let short = (1...1000).map { "w\($0)$(x)" }
        let yaml = "[" + short.map(Self.yamlQuoted).joined(separator: ", ") + "]"
        #expect(try onlyApplication(v1("image: x\ncommand: \(yaml)")).command == short)
        let long = (1...1000).map { "'\($0)'" + String(repeating: "y", count: 30) }  // quoting makes each ' four bytes
        for app in [v1("image: x\ncommand: [" + long.map(Self.yamlQuoted).joined(separator: ", ") + "]"),
                    compose("image: x\ncommand: [" + long.map(Self.yamlQuoted).joined(separator: ", ") + "]")] {
            let errors = decodeErrors(app: app)
            #expect(errors.count == 1)
            #expect(errors.first.map { [$0.line, $0.column] } == (app.hasPrefix("version") ? [3, 3] : [2, 3]), "\(errors)")
            #expect(errors.first?.message.contains("more than the 32768 one SSH request carries") == true, "\(errors)")
        }
    }

    @Test("Byte for byte: a value with every printable ASCII character")
    func everyPrintable() throws {
        let value = String(String.UnicodeScalarView((0x20...0x7E).compactMap(Unicode.Scalar.init)))
        let app = try onlyApplication(
            v1("image: x\nenvironment:\n  V: \(Self.yamlQuoted(value))\ncommand: [\(Self.yamlQuoted(value))]"))
        #expect(app.environment["V"] == value)
        #expect(app.command == [value])
    }
}
