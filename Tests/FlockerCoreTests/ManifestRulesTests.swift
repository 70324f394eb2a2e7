import Testing

@testable import FlockerCore

/// The value rules on their own: image references, byte counts, word splitting, names, mountpoints, typos.
@Suite("Manifest: value rules")
struct ManifestRulesTests {
    @Test(
        "Valid image references (Docker's grammar)",
        arguments: [
            "redis", "redis:7", "redis:7.2-alpine", "library/redis:latest", "docker.io/library/redis",
            "registry.example.com:5000/team/app:1.2", "localhost/app", "localhost:5000/app:v1", "a/b/c/d",
            "my-app", "my__app", "my_app", "my.app", "a--b", "app:TAG_1.x-y", "quay.io/coreos/etcd:v3.5.0",
            "redis@sha256:" + String(repeating: "a", count: 64),
            "redis:7@sha256:" + String(repeating: "0", count: 64), "[::1]:5000/app", "10.0.0.1:5000/app:1",
            "0123", "a:" + String(repeating: "t", count: 128),
        ])
    func validImages(_ reference: String) {
        #expect(ManifestRules.imageReferenceProblem(reference) == nil)
    }

    @Test(
        "Invalid image references",
        arguments: [
            "", "-x", "Redis", "team/App", "redis:", "redis:.x", "redis:-x", "a:" + String(repeating: "t", count: 129),
            "redis@sha256:abc", "redis@md5:" + String(repeating: "a", count: 64),
            "redis@sha256:" + String(repeating: "A", count: 64),
            "@sha256:" + String(repeating: "a", count: 64), "a//b", "/a", "a/", "a_.b", "a___b", "_a", "a.", "my app",
            "a;b", "a$(x)", "a`x`", "bad_host.com:x/app", "ex ample.com/app", "-registry.com/app", "é",
            String(repeating: "a", count: 256),
        ])
    func invalidImages(_ reference: String) {
        #expect(ManifestRules.imageReferenceProblem(reference) != nil)
    }

    @Test("Byte counts: syntax, rounding up, and bounds")
    func byteCounts() {
        func parse(_ s: String) -> UInt64? { try? ManifestRules.parseByteCount(s).get() }
        #expect(parse("0") == 0)
        #expect(parse("1.5") == 2)
        #expect(parse("1b") == 1 && parse("1B") == 1)
        #expect(parse("0.1K") == 103)
        #expect(parse("8388607T") == 8_388_607 << 40)
        #expect(parse("9223372036854775807") == UInt64(Int64.max))
        for bad in ["", "K", "1.", ".5", "1.5.5", "1 G", "1KiB", "-1", "+1", "1e3", "0x10", "1,000", "１"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
        #expect((try? ManifestRules.parseByteCount("8388608T").get()) == nil)
        #expect((try? ManifestRules.parseByteCount("9223372036854775808").get()) == nil)
        if case .failure(let e) = ManifestRules.parseByteCount("99999999999999999999999T") {
            #expect(e == .tooLarge)
        } else {
            Issue.record("expected too large")
        }
        #expect((try? ManifestRules.parseByteCount("1." + String(repeating: "1", count: 19)).get()) == nil)
    }

    @Test("Human units for validate's output")
    func humanBytes() {
        #expect(ManifestRules.humanBytes(1) == "1 byte")
        #expect(ManifestRules.humanBytes(1023) == "1023 bytes")
        #expect(ManifestRules.humanBytes(1024) == "1 KiB")
        #expect(ManifestRules.humanBytes(1 << 30) == "1 GiB")
        #expect(ManifestRules.humanBytes(2_684_354_560) == "2.5 GiB")
        #expect(ManifestRules.humanBytes(1_000_000) == "~976.5 KiB (1000000 bytes)")
        #expect(ManifestRules.humanBytes(3 << 40) == "3 TiB")
    }

    @Test("Word splitting: POSIX shlex rules, no expansion, errors for unclosed quotes")
    func words() {
        func split(_ s: String) -> [String]? { try? ManifestRules.splitWords(s).get() }
        #expect(split("") == [])
        #expect(split("  a  b\t c\n") == ["a", "b", "c"])
        #expect(split("a'b'c") == ["abc"])
        #expect(split("\"a b\"'c d'") == ["a bc d"])
        #expect(split(#"a\ b"#) == ["a b"])
        #expect(split(#"'a\b'"#) == [#"a\b"#])
        #expect(split(#""a\"b\\c\$d""#) == [#"a"b\c\$d"#])
        #expect(split("$HOME ~ * $(x) `y`") == ["$HOME", "~", "*", "$(x)", "`y`"])
        #expect(split("a # b") == ["a", "#", "b"])
        #expect(split("''") == [""])
        #expect(ManifestRules.splitWords("'a") == .failure(.unclosedQuote("'")))
        #expect(ManifestRules.splitWords("\"a") == .failure(.unclosedQuote("\"")))
        #expect(ManifestRules.splitWords("\"a\\") == .failure(.unclosedQuote("\"")))
        #expect(ManifestRules.splitWords("a\\") == .failure(.trailingBackslash))
    }

    @Test("Names: applications, volumes, nodes, aliases, environment variables")
    func names() {
        #expect(ManifestRules.isApplicationName("a") && ManifestRules.isApplicationName("A9_.-z"))
        #expect(
            !ManifestRules.isApplicationName("") && !ManifestRules.isApplicationName("-a")
                && !ManifestRules.isApplicationName(".a"))
        #expect(
            !ManifestRules.isApplicationName("a b") && !ManifestRules.isApplicationName("a/b")
                && !ManifestRules.isApplicationName("ä"))
        #expect(ManifestRules.isApplicationName(String(repeating: "a", count: 63)))
        #expect(!ManifestRules.isApplicationName(String(repeating: "a", count: 64)))
        #expect(
            ManifestRules.isVolumeName("data_1-x") && !ManifestRules.isVolumeName("a.b")
                && !ManifestRules.isVolumeName("_a"))
        #expect(
            ManifestRules.isNodeName("node1") && ManifestRules.isNodeName("10.0.0.1") && ManifestRules.isNodeName("a"))
        #expect(ManifestRules.isNodeName("my_host.example-1.com"))
        #expect(
            !ManifestRules.isNodeName("node1.") && !ManifestRules.isNodeName("-o") && !ManifestRules.isNodeName("a:22"))
        #expect(!ManifestRules.isNodeName("::1") && !ManifestRules.isNodeName("u@h") && !ManifestRules.isNodeName(""))
        #expect(ManifestRules.isNodeName(String(repeating: "n", count: 253)))
        #expect(!ManifestRules.isNodeName(String(repeating: "n", count: 254)))
        #expect(
            ManifestRules.isAlias("_es") && ManifestRules.isAlias("es-1") && !ManifestRules.isAlias("1es")
                && !ManifestRules.isAlias("e.s"))
        #expect(
            ManifestRules.isEnvironmentName("_A1") && ManifestRules.isEnvironmentName("A-1")
                && ManifestRules.isEnvironmentName("1A") && ManifestRules.isEnvironmentName("discovery.type"))
        #expect(
            !ManifestRules.isEnvironmentName("A=B") && !ManifestRules.isEnvironmentName("A B")
                && !ManifestRules.isEnvironmentName("A\0B") && !ManifestRules.isEnvironmentName("")
                && !ManifestRules.isEnvironmentName("#A") && !ManifestRules.isEnvironmentName("A\nB"))
        #expect(ManifestRules.linkVariablePrefix("my-db") == "MY_DB")
    }

    @Test(
        "Mountpoints: absolute, not /, no .., no control characters, : or ,; normalised",
        arguments: [
            ("/data", true), ("/var/lib/my sql", true), ("/ünï", true), ("data", false), ("/", false), ("/a/", true),
            ("//a", true), ("/a//b", true), ("/a/./b", true), ("/a/../b", false), ("/..", false), ("/a:b", false),
            ("/a,b", false), ("/a\nb", false), ("/a\0b", false), ("", false), ("//", false), ("/./", false),
        ])
    func mountpoints(_ path: String, _ ok: Bool) {
        #expect((ManifestRules.mountpointProblem(path) == nil) == ok)
    }

    @Test("Mountpoints are normalised as Docker and Flocker 0.4 read them")
    func mountpointNormalForm() {
        #expect(ManifestRules.normalisedMountpoint("/var/lib/elasticsearch/") == "/var/lib/elasticsearch")
        #expect(ManifestRules.normalisedMountpoint("//a/./b//") == "/a/b")
        #expect(ManifestRules.normalisedMountpoint("/data") == "/data")
    }

    @Test("Volume names from mountpoints")
    func volumeNames() {
        #expect(ManifestRules.volumeName(forMountpoint: "/var/lib/mysql") == "var-lib-mysql")
        #expect(ManifestRules.volumeName(forMountpoint: "/data") == "data")
    }

    @Test("Did you mean: near misses only")
    func closestKeys() {
        let keys = ["image", "ports", "volume", "volumes", "links", "environment", "mem_limit", "cpu_shares"]
        #expect(closest(to: "imag", among: keys) == "image")
        #expect(closest(to: "IMAGE", among: keys) == "image")
        #expect(closest(to: "prots", among: keys) == "ports")
        #expect(closest(to: "enviroment", among: keys) == "environment")
        #expect(closest(to: "mem-limit", among: keys) == "mem_limit")
        #expect(closest(to: "vollumes", among: keys) == "volumes")
        #expect(closest(to: "volumez", among: keys) == "volume")  // a tie goes to the earlier key
        #expect(closest(to: "cpu", among: keys) == nil)
        #expect(closest(to: "x", among: keys) == nil)
        #expect(closest(to: "hostname", among: keys) == nil)
        #expect(closest(to: "", among: keys) == nil)
    }

    @Test("Quoting for messages escapes control characters and cuts long values")
    func quoting() {
        #expect(quoted("a\"b\\c\n\t\0") == #""a\"b\\c\n\t\0""#)
        #expect(quoted("\u{1B}[31m") == #""\u{1b}[31m""#)
        #expect(quoted(String(repeating: "x", count: 100)) == "\"" + String(repeating: "x", count: 80) + "…\"")
        #expect(code("ports") == "`ports`")
        #expect(code("a b") == "\"a b\"")
    }

    @Test("Key paths: plain keys joined by dots, others in brackets")
    func paths() {
        let p = ManifestPath.document.key("applications").key("web").key("ports").index(1).key("external")
        #expect(p.description == "applications.web.ports[1].external")
        #expect(ManifestPath.document.key("nodes").key("10.0.0.1").description == "nodes.10.0.0.1")
        #expect(ManifestPath.document.key("a b").key("c").description == "[\"a b\"].c")
    }
}
