import SubconDomain
import Testing

/// Revision labels, need-to-know sharing and the read-receipt gate on shipping.
@Suite struct TechDocRuleTests {
    @Test func revisionLabelsCountLikeDrawingsDo() {
        #expect(RevisionLabel.next(after: nil) == "A")
        #expect(RevisionLabel.next(after: "A") == "B")
        #expect(RevisionLabel.next(after: "Z") == "AA")
        #expect(RevisionLabel.next(after: "AZ") == "BA")
        #expect(RevisionLabel.next(after: "ZZ") == "AAA")
        #expect(RevisionLabel.precedes("Z", "AA") && !RevisionLabel.precedes("AA", "B"))
    }

    @Test func sharingFollowsOrdersUnlessSetByHand() {
        #expect(DocumentSharing.access(openOrder: true, grant: nil) == .openOrder)
        #expect(DocumentSharing.access(openOrder: false, grant: nil) == nil)
        #expect(DocumentSharing.access(openOrder: false, grant: .granted) == .grant)
        #expect(DocumentSharing.access(openOrder: true, grant: .withheld) == nil)
        #expect(!DocumentSharing.sharesDocuments(.draft) && !DocumentSharing.sharesDocuments(.closed) && !DocumentSharing.sharesDocuments(.delivered))
        #expect(DocumentSharing.sharesDocuments(.released) && DocumentSharing.sharesDocuments(.partiallyDelivered))
    }

    @Test func shippingWaitsOnlyWhereTheItemAsks() {
        let current = [DocumentAcknowledgment.Current(title: "图纸", revision: "B", acknowledged: false),
                       DocumentAcknowledgment.Current(title: "工艺", revision: "A", acknowledged: true)]
        #expect(DocumentAcknowledgment.blocking(requiresAcknowledgment: false, current: current).isEmpty)
        #expect(DocumentAcknowledgment.blocking(requiresAcknowledgment: true, current: current) == [.init(documentTitle: "图纸", revision: "B")])
    }
}
