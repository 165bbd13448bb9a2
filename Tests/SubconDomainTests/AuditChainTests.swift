import Foundation
import Testing
@testable import SubconDomain

struct AuditChainTests {
    func chain(_ n: Int) -> [(AuditRecord, String)] {
        var prev = AuditChain.genesis
        return (1...n).map { i in
            let r = AuditRecord(sequence: Int64(i), atMilliseconds: 1_700_000_000_000 + Int64(i), actorID: "u",
                                actorLogin: "admin", entity: "user", entityID: "e\(i)", action: "update",
                                changesJSON: #"{"name":{"after":"B","before":"A"}}"#, previousHash: prev)
            prev = r.hash
            return (r, r.hash)
        }
    }

    func firstBreak(_ rows: [(AuditRecord, String)]) -> AuditChain.Break? {
        var v = AuditChain.Verifier()
        for (r, h) in rows { if let b = v.check(r, storedHash: h) { return b } }
        return nil
    }

    @Test func intactChainVerifies() { #expect(firstBreak(chain(5)) == nil) }

    @Test func alteredRowIsFound() {
        var rows = chain(5)
        rows[2].0.changesJSON = #"{"name":{"after":"C","before":"A"}}"#
        #expect(firstBreak(rows) == .altered(sequence: 3))
    }

    @Test func missingRowIsFound() {
        var rows = chain(5)
        rows.remove(at: 1)
        #expect(firstBreak(rows) == .missing(expected: 2, found: 3))
    }

    @Test func rehashedRowStillBreaksTheLink() {
        // Someone alters row 2 and recomputes its hash: row 3 no longer points at it.
        var rows = chain(4)
        rows[1].0.actorLogin = "mallory"
        rows[1].1 = rows[1].0.hash
        #expect(firstBreak(rows) == .relinked(sequence: 3))
    }

    @Test func changesAreDiffedAndCanonical() {
        let d = FieldChanges.between(["a": "1", "b": "2", "c": nil], ["a": "1", "b": "3", "d": "4"])
        #expect(d == ["b": FieldChange(before: "2", after: "3"), "d": FieldChange(before: nil, after: "4")])
        #expect(FieldChanges.canonicalJSON(d) == #"{"b":{"after":"3","before":"2"},"d":{"after":"4"}}"#)
    }

    /// The chain's text is written by hand; it must stay the text the encoder wrote before, so
    /// that rows written by either hash alike for the same changes.
    @Test func canonicalTextIsTheEncodersText() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let tricky = "q\"\\/\n\t\r\u{8}\u{c}\u{1}\u{1f}\u{7f}é中😀\u{2028} "
        let cases: [[String: FieldChange]] = [
            [:],
            ["a": FieldChange(before: nil, after: nil)],
            ["10": FieldChange(before: "", after: ""), "9": FieldChange(before: tricky, after: "x"), "B": FieldChange(before: nil, after: "y"),
             "Z": FieldChange(before: "1", after: nil), "aB": FieldChange(before: "b", after: tricky), "a_b": FieldChange(before: nil, after: "x"),
             "é": FieldChange(before: "1", after: "2"), "数量": FieldChange(before: "1.5", after: "2"), tricky: FieldChange(before: "k", after: nil)],
        ]
        for changes in cases {
            #expect(FieldChanges.canonicalJSON(changes) == String(decoding: try encoder.encode(changes), as: UTF8.self))
        }
    }

    @Test func hashIsLowercaseHexOfTheDigest() {
        // The first row of `chain`, hashed by another implementation (Python's hashlib over the
        // same length-prefixed text): rows written before and after the encoding changed agree.
        #expect(chain(1)[0].1 == "a48547ae30109ac4d49fc82922457d7516da1df5ed8b81c17620adbbb3420fc1")
    }
}
