import FlockerYAML
import Testing

/// Random and mutated inputs: the parser returns a tree or a YAMLError with a sane position,
/// and never crashes. Deterministic seeds, so any failure reproduces.
@Suite("Robustness")
struct RobustnessTests {
    /// Parses and checks the result's invariants. Returns whether it parsed.
    @discardableResult
    private func check(_ bytes: [UInt8], _ label: @autoclosure () -> String) -> Bool {
        do {
            let root = try YAML.parse(bytes, file: "fuzz.yml")
            #expect(nestingDepth(root) <= YAML.maxDepth, "\(label())")
            return true
        } catch {
            // Lines: libyaml may point one past the last line break.
            let lines = bytes.filter { $0 == 0x0A || $0 == 0x0D }.count + 2
            let sane =
                error.mark.line >= 1 && error.mark.column >= 1 && error.mark.line <= lines
                && error.mark.column <= bytes.count + 1
            #expect(sane, "\(label()): \(error)")
            if let note = error.note {
                #expect(note.mark.line >= 1 && note.mark.column >= 1, "\(label()): \(error)")
            }
            #expect(error.description.hasPrefix("fuzz.yml:\(error.mark): error: "))
            return false
        }
    }

    /// Bytes that matter to YAML, plus a few that break UTF-8, weighted in with arbitrary bytes.
    private static let interesting: [UInt8] =
        Array("-:?,[]{}#&*!|>'\"%@` \t\n\r\\<~0aZ.".utf8)
        + [0x00, 0x07, 0x7F, 0x85, 0xC2, 0xC3, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xFE, 0xFF, 0x80, 0xBF]

    private func randomBytes(_ rng: inout SplitMix64, maxLength: Int) -> [UInt8] {
        let length = Int.random(in: 0...maxLength, using: &rng)
        return (0..<length).map { _ in
            Bool.random(using: &rng)
                ? Self.interesting.randomElement(using: &rng) ?? 0x20
                : UInt8.random(in: 0...255, using: &rng)
        }
    }

    @Test("4,000 random byte strings")
    func randomInputs() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var parsed = 0
        for round in 0..<4_000 {
            let bytes = randomBytes(&rng, maxLength: 200)
            if check(bytes, "random input #\(round) \(bytes)") { parsed += 1 }
        }
        // Mostly errors, as expected of noise; the point is that none crashed.
        #expect(parsed < 4_000)
    }

    @Test("600 random mutations of each good fixture")
    func mutatedFixtures() throws {
        var rng = SplitMix64(seed: 0x5EED_0002)
        for name in try Fixture.names(in: "good") {
            let original = try Fixture.bytes(name)
            for round in 0..<600 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    mutate(&bytes, &rng)
                }
                check(bytes, "\(name) mutation #\(round) \(bytes)")
            }
        }
    }

    @Test("Every prefix of each good fixture")
    func truncatedFixtures() throws {
        for name in try Fixture.names(in: "good") {
            let original = try Fixture.bytes(name)
            for length in 0...original.count {
                check(Array(original.prefix(length)), "\(name) cut at \(length)")
            }
        }
    }

    private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0 where !bytes.isEmpty:  // replace a byte
            bytes[position] = Self.interesting.randomElement(using: &rng) ?? 0
        case 1:  // insert a byte
            bytes.insert(Self.interesting.randomElement(using: &rng) ?? 0, at: position)
        case 2 where !bytes.isEmpty:  // delete a run
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &rng)))
        case 3 where !bytes.isEmpty:  // duplicate a run (repeats keys, anchors, brackets)
            let run = bytes[position..<min(bytes.count, position + Int.random(in: 1...40, using: &rng))]
            bytes.insert(contentsOf: run, at: Int.random(in: 0...bytes.count, using: &rng))
        case 4 where !bytes.isEmpty:  // flip a bit
            bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
        default:  // insert a YAML construct
            let snippets = ["&a ", "*a", "<<: *a\n", "!!str ", "? ", "[", "{", "\t", "---\n", "\"\\", "|2\n", "- - "]
            bytes.insert(contentsOf: Array((snippets.randomElement(using: &rng) ?? "").utf8), at: position)
        }
    }
}
