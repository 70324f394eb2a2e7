import FlockerYAML
import Testing

/// Well-formed files: the tree, its styles and its marks.
@Suite("Good fixtures")
struct GoodFixtureTests {
    @Test("Flocker v1 application file, block style (MongoDB tutorial)")
    func applicationBlockStyle() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/application-v1.yml"))
        #expect(
            outline(root) == """
                map@2:1
                  p"version"@2:1: p"1"@2:10
                  p"applications"@3:1: map@4:3
                    p"mongodb-volume-example"@4:3: map@5:5
                      p"image"@5:5: p"clusterhq/mongodb"@5:12
                      p"ports"@6:5: seq@7:5
                        - map@7:7
                          p"internal"@7:7: p"27017"@7:17
                          p"external"@8:7: p"27017"@8:17
                      p"volume"@9:5: map@12:7
                        p"mountpoint"@12:7: dq"/data/db"@12:19
                """)
        #expect(root["applications"]?["mongodb-volume-example"]?["volume"]?["mountpoint"]?.scalar == "/data/db")
    }

    @Test("Flocker v1 application file, quoted keys and flow style (as documented)")
    func applicationFlowStyle() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/application-v1-flow.yml"))
        #expect(
            outline(root) == """
                map@1:1
                  dq"version"@1:1: p"1"@1:12
                  dq"applications"@2:1: map@3:3
                    dq"mysql-volume-example"@3:3: map@4:5
                      dq"image"@4:5: dq"mysql:5.6.17"@4:14
                      dq"environment"@5:5: map@5:20
                        dq"MYSQL_ROOT_PASSWORD"@5:21: dq"clusterhq"@5:44
                      dq"ports"@6:5: seq@6:14
                        - map@6:15
                          dq"internal"@6:16: p"3306"@6:28
                          dq"external"@6:34: p"3306"@6:46
                      dq"volume"@7:5: map@7:15
                        dq"mountpoint"@7:16: dq"/var/lib/mysql"@7:30
                        dq"maximum_size"@7:48: dq"1G"@7:64
                      dq"restart_policy"@8:5: map@8:23
                        dq"name"@8:24: dq"on-failure"@8:32
                        dq"maximum_retry_count"@8:46: p"10"@8:69
                    dq"logstash"@9:3: map@10:5
                      dq"image"@10:5: dq"clusterhq/logstash"@10:14
                      dq"links"@11:5: seq@11:14
                        - map@11:15
                          dq"local_port"@11:16: p"9200"@11:30
                          dq"remote_port"@11:36: p"9200"@11:51
                          dq"alias"@11:57: dq"es"@11:66
                """)
    }

    @Test("Flocker v1 deployment file, with a node listed empty")
    func deployment() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/deployment-v1.yml"))
        #expect(
            outline(root) == """
                map@1:1
                  dq"version"@1:1: p"1"@1:12
                  dq"nodes"@2:1: map@3:3
                    dq"172.16.255.250"@3:3: seq@3:21
                      - dq"elasticsearch"@3:22
                      - dq"logstash"@3:39
                      - dq"kibana"@3:51
                    dq"172.16.255.251"@5:3: seq@5:21
                """)
        #expect(root["nodes"]?["172.16.255.251"]?.sequence == [])
    }

    @Test("docker-compose file: anchors and merge keys expanded, explicit keys win, marks of the definition")
    func compose() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/compose.yml"))
        #expect(
            outline(root) == """
                map@2:1
                  p"version"@2:1: dq"3.8"@2:10
                  p"x-defaults"@3:1: map@3:13
                    p"restart"@4:3: p"always"@4:12
                    p"environment"@5:3: map@6:5
                      p"LOG_LEVEL"@6:5: p"info"@6:16
                    p"mem_limit"@7:3: p"512m"@7:14
                  p"services"@9:1: map@10:3
                    p"web"@10:3: map@11:5
                      p"restart"@4:3: p"always"@4:12
                      p"environment"@5:3: map@6:5
                        p"LOG_LEVEL"@6:5: p"info"@6:16
                      p"mem_limit"@7:3: p"512m"@7:14
                      p"image"@12:5: p"clusterhq/flask"@12:12
                      p"links"@13:5: seq@13:12
                        - dq"redis:redis"@13:13
                      p"ports"@14:5: seq@15:7
                        - dq"80:80"@15:9
                    p"redis"@16:3: map@17:5
                      p"environment"@5:3: map@6:5
                        p"LOG_LEVEL"@6:5: p"info"@6:16
                      p"mem_limit"@7:3: p"512m"@7:14
                      p"cpu_shares"@17:37: p"512"@17:49
                      p"image"@18:5: p"dockerfile/redis"@18:12
                      p"ports"@19:5: seq@19:12
                        - dq"6379:6379"@19:13
                      p"volumes"@20:5: seq@21:7
                        - p"/data"@21:9
                      p"restart"@22:5: p"on-failure"@22:14
                """)
    }

    /// scalars.yml, value by value: key, expected text, style and mark of the value.
    static let scalarCases: [(key: String, text: String, style: YAMLNode.ScalarStyle, mark: Mark)] = [
        ("plain_yes", "yes", .plain, Mark(line: 4, column: 12)),
        ("quoted_yes", "yes", .doubleQuoted, Mark(line: 5, column: 13)),
        ("plain_on", "on", .plain, Mark(line: 6, column: 11)),
        ("single_on", "on", .singleQuoted, Mark(line: 7, column: 12)),
        ("octal", "0777", .plain, Mark(line: 8, column: 8)),
        ("float", "1e3", .plain, Mark(line: 9, column: 8)),
        ("tilde", "~", .plain, Mark(line: 10, column: 8)),
        ("null_word", "null", .plain, Mark(line: 11, column: 12)),
        ("quoted_null", "null", .doubleQuoted, Mark(line: 12, column: 14)),
        ("empty", "", .plain, Mark(line: 13, column: 7)),
        ("literal", "line one\n  indented two\nline three\n", .literal, Mark(line: 14, column: 10)),
        ("folded", "folded text\nnew paragraph\n", .folded, Mark(line: 18, column: 9)),
        ("keep", "kept\n\n", .literal, Mark(line: 23, column: 7)),
        ("strip", "stripped", .folded, Mark(line: 26, column: 8)),
        ("escapes", "tab\there é A", .doubleQuoted, Mark(line: 28, column: 10)),
        ("single", "it's", .singleQuoted, Mark(line: 29, column: 9)),
        ("ключ", "значение", .plain, Mark(line: 30, column: 9)),
        // "emoji 🚀" is 7 characters, so the value starts at column 10 although 🚀 is 4 bytes.
        ("emoji 🚀", "✓ done", .doubleQuoted, Mark(line: 31, column: 10)),
    ]

    @Test("Scalars: no implicit typing, styles kept, block scalars, escapes, unicode columns")
    func scalars() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/scalars.yml"))
        // The root mapping starts at its first key, after `%YAML`, `---` and a comment.
        #expect(root.mark == Mark(line: 4, column: 1))
        for expected in Self.scalarCases {
            let value = try #require(root[expected.key], "missing key \(expected.key)")
            #expect(value.kind == .scalar(expected.text, expected.style), "value of \(expected.key)")
            #expect(value.mark == expected.mark, "mark of \(expected.key)")
        }
        let keys = try #require(root.mapping).map { $0.key }
        #expect(keys.first { $0.scalar == "ключ" }?.kind == .scalar("ключ", .doubleQuoted))
        #expect(keys.first { $0.scalar == "emoji 🚀" }?.mark == Mark(line: 31, column: 1))
        let flow = try #require(root["flow"])
        #expect(
            outline(flow) == """
                seq@32:7
                  - p"a"@32:8
                  - sq"b"@32:11
                  - dq"c"@32:16
                  - map@32:21
                    p"d"@32:22: p"e"@32:25
                  - seq@32:29
                """)
        let nested = try #require(root["nested"])
        #expect(
            outline(nested) == """
                seq@34:3
                  - seq@34:5
                    - p"x"@34:7
                    - p"y"@35:7
                  - map@36:5
                    p"k"@36:5: p"v"@36:8
                """)
        #expect(root.mapping?.count == Self.scalarCases.count + 2)
    }

    @Test("CRLF line endings count as one line break")
    func crlf() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/crlf.yml"))
        #expect(
            outline(root) == """
                map@1:1
                  p"a"@1:1: p"1"@1:4
                  p"b"@2:1: seq@3:3
                    - p"x"@3:5
                    - dq"y"@4:5
                """)
    }

    @Test("A UTF-8 byte order mark is skipped and not counted as a column")
    func byteOrderMark() throws {
        let root = try YAML.parse(contentsOf: Fixture.path("good/bom.yml"))
        #expect(
            outline(root) == """
                map@1:1
                  p"version"@1:1: p"1"@1:10
                  p"nodes"@2:1: map@2:8
                """)
    }

    @Test("Every good fixture parses from bytes and from its path to the same tree")
    func bytesAndPathAgree() throws {
        let names = try Fixture.names(in: "good")
        #expect(names.count >= 7)
        for name in names {
            let fromPath = try YAML.parse(contentsOf: Fixture.path(name))
            let fromBytes = try YAML.parse(Fixture.bytes(name), file: name)
            #expect(fromPath == fromBytes, "\(name)")
        }
    }
}
