import Foundation
import Testing
@testable import SubconDomain

struct ListCursorTests {
    @Test func aTokenGivesBackItsParts() throws {
        for parts in [["5B0C7E8A-0D0F-4C47-9F39-0B6E7C2C9A11"], ["6F1E2D3C-0000-4000-8000-000000000001", "12"],
                      ["an id", "3", "PART~/+=\"[]\\ 零件"]] {
            let token = ListCursor(parts).token
            #expect(token.utf8.allSatisfy { $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "/") })
            #expect(ListCursor(token: token) == ListCursor(parts))
        }
    }

    @Test func whatNoListGaveIsNotACursor() {
        for token in ["", "not base64!", "%5B%5D", ListCursor([]).token, Data("{\"a\":1}".utf8).base64EncodedString(),
                      Data("[1,2]".utf8).base64EncodedString(), String(repeating: "A", count: ListCursor.maxTokenLength + 4)] {
            #expect(ListCursor(token: token) == nil, "\(token.prefix(40))")
        }
    }
}
