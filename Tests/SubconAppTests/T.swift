import Testing
@testable import SubconApp
@Test func placeholder() {}
