import Testing
@testable import FlockerCore

@Test func moduleLinks() {
    #expect(Bool(true))
}
