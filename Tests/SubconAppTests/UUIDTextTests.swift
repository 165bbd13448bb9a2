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
}
