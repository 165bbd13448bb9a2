import Foundation
@testable import SubconApp
import Testing

struct UUIDTextTests {
    @Test func readsAndWritesWhatFoundationDoes() {
        for _ in 0..<2_000 {
            let id = UUID()
            #expect(UUIDText.text(id) == id.uuidString)
            #expect(UUIDText.parse(id.uuidString) == id)
            #expect(UUIDText.parse(id.uuidString.lowercased()) == id)
        }
        let edges = [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))]
        for id in edges { #expect(UUIDText.parse(UUIDText.text(id)) == id && UUIDText.text(id) == id.uuidString) }
    }

    @Test func leavesWhatItDoesNotRecogniseToFoundation() {
        let good = "A39A14AA-CCF7-40E0-A54C-4643595488A0"
        for bad in ["", "A39A14AA", good + "0", String(good.dropLast()), good.replacingOccurrences(of: "-", with: "_"),
                    "G39A14AA-CCF7-40E0-A54C-4643595488A0", "A39A14AA-CCF7-40E0-A54C-4643595488A ", "A39A14AACCCF7-40E0-A54C-4643595488A0"] {
            #expect(UUIDText.parse(bad) == nil, "\(bad)")
            #expect(UUID(uuidString: bad) == nil, "\(bad)")
        }
    }

    /// Statement lines and claims take ids in the order they are written (`OrderedIDs`).
    @Test func orderedIDsSortInTheirOrderAsTextAndAreUUIDsOfVersion7() {
        let now = Date(timeIntervalSince1970: 1_796_054_400)
        let ids = OrderedIDs.make(300_000, at: now) + OrderedIDs.make(10, at: now.addingTimeInterval(60))
        let text = ids.map(UUIDText.text)
        #expect(text == text.sorted(), "as SQLite compares them")
        #expect(ids.map { $0.uuid.0 } == ids.map { $0.uuid.0 }.sorted())
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.uuid.6 >> 4 == 7 && $0.uuid.8 >> 6 == 0b10 })
        #expect(text[0].hasPrefix("01A22D2F-3C00-7"), "milliseconds since 1970 first: \(text[0])")
        #expect(OrderedIDs.make(0, at: now).isEmpty)
    }
}
