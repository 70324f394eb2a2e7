import Testing
@testable import FlockerCLI

@Test func moduleLinks() {
    #expect(Bool(true))
}
