import FlockerYAML
import Testing

@Suite("Anchors, aliases and merge keys")
struct AliasMergeTests {
    @Test("An alias is replaced by a copy of the anchored node, marks of the definition included")
    func aliasCopiesDefinition() throws {
        let root = try YAML.parse("base: &b {x: 1, y: [2]}\ncopy: *b\nname: &n web\nagain: *n\n", file: "t.yml")
        let base = try #require(root["base"])
        #expect(root["copy"] == base)
        #expect(root["copy"]?.mark == Mark(line: 1, column: 7))
        #expect(root["again"] == YAMLNode(.scalar("web", .plain), mark: Mark(line: 3, column: 7)))
    }

    @Test("Merge: explicit keys win wherever written, earlier merged mappings win, merged keys sit at <<")
    func mergePrecedence() throws {
        let root = try YAML.parse(
            """
            a: &a {k: a1, x: a2}
            b: &b {k: b1, y: b2}
            m:
              z: explicit-z
              <<: [*a, *b]
              x: explicit-x
            """, file: "t.yml")
        #expect(
            outline(try #require(root["m"])) == """
                map@4:3
                  p"z"@4:3: p"explicit-z"@4:6
                  p"k"@1:8: p"a1"@1:11
                  p"y"@2:15: p"b2"@2:18
                  p"x"@6:3: p"explicit-x"@6:6
                """)
    }

    @Test("Merge values: a literal mapping, a flow mapping with <<, an empty list, nested merges")
    func mergeForms() throws {
        let root = try YAML.parse(
            """
            base: &base {image: nginx, restart: always}
            literal:
              <<: {image: redis}
            flow: {<<: *base, restart: never}
            none:
              <<: []
              k: v
            layered: &layered
              <<: *base
              ports: [80]
            top:
              <<: *layered
              image: custom
            """, file: "t.yml")
        #expect(root["literal"]?.mapping?.map { $0.key.scalar } == ["image"])
        #expect(root["flow"]?["image"]?.scalar == "nginx")
        #expect(root["flow"]?["restart"]?.scalar == "never")
        #expect(root["none"]?.mapping?.map { $0.key.scalar } == ["k"])
        let top = try #require(root["top"]?.mapping)
        #expect(top.map { $0.key.scalar } == ["restart", "ports", "image"])
        #expect(root["top"]?["image"]?.scalar == "custom")
        #expect(root["top"]?["restart"]?.mark == Mark(line: 1, column: 37))
    }

    @Test("A quoted \"<<\" is an ordinary key, not a merge")
    func quotedMergeKeyIsAKey() throws {
        let root = try YAML.parse("\"<<\": 1\nx: 2\n", file: "t.yml")
        #expect(root.mapping?.map { $0.key.scalar } == ["<<", "x"])
        #expect(root["<<"]?.scalar == "1")
    }

    @Test("A merged key that repeats an explicit key is not a duplicate; two explicit ones are")
    func mergedKeysAreNotDuplicates() throws {
        #expect(parseError("d: &d {a: 1}\nm: {a: 2, <<: *d}\n") == nil)
        let error = try #require(parseError("d: &d {a: 1}\nm: {<<: *d, a: 2, a: 3}\n"))
        #expect(error.code == .duplicateKey)
        #expect(error.message == "duplicate key \"a\" (first defined at 2:13)")
        #expect(error.mark == Mark(line: 2, column: 19))
    }

    @Test("The latest definition of an anchor is the one an alias copies")
    func anchorRedefinition() throws {
        let root = try YAML.parse("- &a first\n- *a\n- &a second\n- *a\n- &o [&o inner, *o]\n", file: "t.yml")
        #expect(root.sequence?.map { $0.scalar } == ["first", "first", "second", "second", nil])
        #expect(root.sequence?.last?.sequence?.map { $0.scalar } == ["inner", "inner"])
    }

    @Test("A mapping merging itself is a recursive alias")
    func recursiveMerge() throws {
        let error = try #require(parseError("a: &a\n  <<: *a\n"))
        #expect(error.code == .undefinedAlias)
        #expect(error.mark == Mark(line: 2, column: 7))
    }

    /// A 1,000-node sequence (the list and 999 items) aliased `count` times.
    private func aliasedThousand(_ count: Int) -> String {
        "a: &a [" + Array(repeating: "x", count: 999).joined(separator: ", ") + "]\n"
            + "b: [" + Array(repeating: "*a", count: count).joined(separator: ", ") + "]\n"
    }

    @Test("Aliases may add exactly the budget, and not one node more")
    func aliasBudgetBoundary() throws {
        #expect(YAML.aliasNodeBudget == 100_000)
        let root = try YAML.parse(aliasedThousand(100), file: "t.yml")
        #expect(root["b"]?.sequence?.count == 100)
        let error = try #require(parseError(aliasedThousand(101)))
        #expect(error.code == .aliasBudgetExceeded)
        // "b: [" then 100 times "*a, ": the 101st alias starts at column 5 + 400.
        #expect(error.mark == Mark(line: 2, column: 405))
    }

    @Test("A bomb of 10^30 nodes fails fast instead of expanding")
    func hugeBombFailsFast() throws {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...30 {
            lines.append(
                "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        let clock = ContinuousClock()
        var error: YAMLError?
        let elapsed = clock.measure { error = parseError(lines.joined(separator: "\n")) }
        #expect(error?.code == .aliasBudgetExceeded)
        #expect(error?.mark.line == 5)
        #expect(elapsed < .seconds(5))
    }
}
