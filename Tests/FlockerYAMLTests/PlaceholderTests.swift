import Testing
@testable import FlockerYAML

@Test func moduleLinks() {
    #expect(Bool(true))
}
