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
}
