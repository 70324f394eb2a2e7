import FlockerYAML
import Testing

@Suite("Nesting limits")
struct LimitsTests {
    @Test("256 levels of flow sequences parse; 257 fail at the 257th bracket")
    func flowDepthBoundary() throws {
        #expect(YAML.maxDepth == 256)
        let ok = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        #expect(nestingDepth(try YAML.parse(ok, file: "t.yml")) == 256)
        let error = try #require(parseError(String(repeating: "[", count: 257) + String(repeating: "]", count: 257)))
        #expect(error.code == .tooDeep)
        #expect(error.mark == Mark(line: 1, column: 257))
        #expect(error.message == "nesting deeper than 256 levels")
    }

    @Test("Block sequences and mappings count the same way")
    func blockDepth() throws {
        let sequences = String(repeating: "- ", count: 300) + "x\n"
        let error = try #require(parseError(sequences))
        #expect(error.code == .tooDeep)
        #expect(error.mark == Mark(line: 1, column: 513))
        var mapping = ""
        for level in 0..<300 { mapping += String(repeating: " ", count: level) + "k:\n" }
        let mappingError = try #require(parseError(mapping))
        #expect(mappingError.code == .tooDeep)
        #expect(mappingError.mark == Mark(line: 257, column: 257))
    }

    @Test("100,000 open brackets or braces: a clean error, no stack overflow")
    func hugeNesting() throws {
        let brackets = try #require(parseError(String(repeating: "[", count: 100_000)))
        #expect(brackets.code == .tooDeep)
        let mappings = try #require(parseError(String(repeating: "{a: ", count: 100_000)))
        #expect(mappings.code == .tooDeep)
        #expect(mappings.mark == Mark(line: 1, column: 4 * 256 + 1))
        let keys = try #require(parseError(String(repeating: "{", count: 100_000)))
        #expect(keys.code == .nonScalarKey)
        #expect(keys.mark == Mark(line: 1, column: 2))
    }
}
