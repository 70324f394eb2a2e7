import Testing
@testable import FlockerSSH

@Test func moduleLinks() {
    #expect(Bool(true))
}
