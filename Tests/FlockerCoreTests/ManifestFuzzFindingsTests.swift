import Testing

@testable import FlockerCore

/// What the `manifest` fuzz target found (its inputs are in fuzz/manifest/regressions/, replayed by
/// FuzzRegressionTests).
@Suite("Manifests: fuzz findings")
struct ManifestFuzzFindingsTests {
    static let app = "version: 1\napplications:\n  web: {image: nginx}\n"

    /// The `user@host` hint printed the host part as it was, so a tab in it went into the one-line error; the hint
    /// is now given only when the host part is a node name (otherwise the advice would be wrong anyway).
    @Test func theSSHUserHintNeedsAHostPartThatIsANodeName() {
        let tabbed = decodeErrors(app: Self.app, deployment: "version: 1\nnodes:\n  \"root@no\\tde\": [web]\n")
        #expect(tabbed.count == 1)
        #expect(
            tabbed.allSatisfy { !$0.description.unicodeScalars.contains { $0.value < 0x20 } },
            "\(tabbed.map(\.description))")
        #expect(tabbed.allSatisfy { !$0.message.contains("ssh config") })
        let plain = decodeErrors(app: Self.app, deployment: "version: 1\nnodes:\n  root@node1: [web]\n")
        #expect(plain.contains { $0.message.contains("set `User root` under `Host node1`") })
    }
}
