import Fluent
import Foundation
import NIOConcurrencyHelpers
import CMallocTuning

/// Fluent finds a model's fields by reflection each time it writes, reads or decodes a row
/// (`Fields.properties` walks the model with the runtime's mirror, which looks up every field's
/// type by its mangled name each time). In the workflow's profile that was a ninth of the
/// server's CPU: a change decodes and writes a dozen models. Every field of a model is a
/// property-wrapper object stored at a fixed place in the model, so the places are found once per
/// model type by reflection and the fields read from them afterwards. A test checks, for every
/// model, that the fields found this way are the mirror's, in its order.
protocol KeptProperties: Fields, AnyObject {}

extension Fields where Self: KeptProperties {
    var properties: [any AnyProperty] {
        guard let offsets = PropertyPlaces.offsets(of: self) else { return PropertyPlaces.reflected(self) }
        PropertyPlaces.keptReads.withLockedValue { $0 &+= 1 }
        let base = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
        return offsets.map { offset in
            let field = Unmanaged<AnyObject>.fromOpaque(base.load(fromByteOffset: offset, as: UnsafeRawPointer.self)).takeUnretainedValue()
            return field as! any AnyProperty
        }
    }
}

enum PropertyPlaces {
    /// Per model type: where its fields are (byte offsets into the object), or nil if they could
    /// not all be found (then the mirror is asked each time, as Fluent does).
    private static let places = NIOLockedValueBox<[ObjectIdentifier: [Int]?]>([:])
    /// How often fields were read from their kept places, for the test that Fluent asks here.
    static let keptReads = NIOLockedValueBox(0)

    /// The fields as Fluent's own implementation finds them.
    static func reflected(_ object: AnyObject) -> [any AnyProperty] {
        Mirror(reflecting: object).children.compactMap { $0.value as? any AnyProperty }
    }

    static func offsets<M: KeptProperties>(of object: M) -> [Int]? {
        let type = ObjectIdentifier(M.self)
        if let known = places.withLockedValue({ $0[type] }) { return known }
        // Found on one object and checked on a second, fresh one.
        var found = find(in: object)
        let fresh = M()
        if let offsets = found, !holds(offsets, in: fresh) { found = nil }
        places.withLockedValue { $0[type] = found }
        return found
    }

    /// Each field object's address is looked for among the object's words after its header (type
    /// and reference counts), each after the one before: stored properties are laid out in the
    /// order they are declared, which is the mirror's order. The search stops at the end of the
    /// block malloc gave the object; past the object's own end the block may hold stale words.
    private static func find(in object: AnyObject) -> [Int]? {
        let fields = reflected(object)
        let base = UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
        // Swift allocates objects with malloc; the block is at least the object's size.
        let size = Int(subcon_allocation_size(UnsafeMutableRawPointer(mutating: base)))
        let word = MemoryLayout<UInt>.size
        var offsets: [Int] = []
        var next = 2 * word
        for field in fields {
            let address = UInt(bitPattern: Unmanaged.passUnretained(field as AnyObject).toOpaque())
            guard let at = stride(from: next, to: size - word + 1, by: word).first(where: { base.load(fromByteOffset: $0, as: UInt.self) == address })
            else { return nil }
            offsets.append(at)
            next = at + word
        }
        return offsets
    }

    /// Whether `object`'s fields are at `offsets`, in the mirror's order.
    private static func holds(_ offsets: [Int], in object: AnyObject) -> Bool {
        let fields = reflected(object)
        let base = UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
        return fields.count == offsets.count && zip(fields, offsets).allSatisfy { field, offset in
            base.load(fromByteOffset: offset, as: UInt.self) == UInt(bitPattern: Unmanaged.passUnretained(field as AnyObject).toOpaque())
        }
    }
}

extension Document: KeptProperties {}
extension DocumentContent: KeptProperties {}
extension SavedReport: KeptProperties {}
extension PriceAgreementRow: KeptProperties {}
extension Item: KeptProperties {}
extension RoutingHeader: KeptProperties {}
extension RoutingOperationRow: KeptProperties {}
extension BOMHeader: KeptProperties {}
extension BOMLineRow: KeptProperties {}
extension Channel: KeptProperties {}
extension ChannelDelivery: KeptProperties {}
extension OutboxMessage: KeptProperties {}
extension InboxItem: KeptProperties {}
extension IdempotencyRecord: KeptProperties {}
extension MaterialDocument: KeptProperties {}
extension MaterialDocumentLine: KeptProperties {}
extension MaterialMovement: KeptProperties {}
extension DeliveryNote: KeptProperties {}
extension DeliveryNoteLine: KeptProperties {}
extension GoodsReceipt: KeptProperties {}
extension ReceiptLine: KeptProperties {}
extension ExceptionCase: KeptProperties {}
extension DeductionProposal: KeptProperties {}
extension WebSession: KeptProperties {}
extension APIToken: KeptProperties {}
extension LoginAttempt: KeptProperties {}
extension InspectionPlan: KeptProperties {}
extension QualityState: KeptProperties {}
extension Inspection: KeptProperties {}
extension ExceptionDeadline: KeptProperties {}
extension ExceptionComment: KeptProperties {}
extension EightDStep: KeptProperties {}
extension ProductionPlan: KeptProperties {}
extension PlanLineRow: KeptProperties {}
extension OutsourcingOrder: KeptProperties {}
extension OrderLineRow: KeptProperties {}
extension OrderRevisionRow: KeptProperties {}
extension OrderAnswerRow: KeptProperties {}
extension OrderRequirementRow: KeptProperties {}
extension PlanChangeProposal: KeptProperties {}
extension User: KeptProperties {}
extension Invoice: KeptProperties {}
extension InvoicePayment: KeptProperties {}
extension ImportBatch: KeptProperties {}
extension AuditEntry: KeptProperties {}
extension StockCount: KeptProperties {}
extension StockCountLine: KeptProperties {}
extension Statement: KeptProperties {}
extension StatementLine: KeptProperties {}
extension StatementClaim: KeptProperties {}
extension ProgressReport: KeptProperties {}
extension LinePromise: KeptProperties {}
extension SupplierProfile: KeptProperties {}
extension SupplierCertificate: KeptProperties {}
extension QualificationCheckRow: KeptProperties {}
extension Organization: KeptProperties {}
extension Site: KeptProperties {}

/// Every model, for the test that compares their kept fields with the mirror's.
let modelsWithKeptProperties: [any (Model & KeptProperties).Type] = [
    Document.self,
    DocumentContent.self,
    SavedReport.self,
    PriceAgreementRow.self,
    Item.self,
    RoutingHeader.self,
    RoutingOperationRow.self,
    BOMHeader.self,
    BOMLineRow.self,
    Channel.self,
    ChannelDelivery.self,
    OutboxMessage.self,
    InboxItem.self,
    IdempotencyRecord.self,
    MaterialDocument.self,
    MaterialDocumentLine.self,
    MaterialMovement.self,
    DeliveryNote.self,
    DeliveryNoteLine.self,
    GoodsReceipt.self,
    ReceiptLine.self,
    ExceptionCase.self,
    DeductionProposal.self,
    WebSession.self,
    APIToken.self,
    LoginAttempt.self,
    InspectionPlan.self,
    QualityState.self,
    Inspection.self,
    ExceptionDeadline.self,
    ExceptionComment.self,
    EightDStep.self,
    ProductionPlan.self,
    PlanLineRow.self,
    OutsourcingOrder.self,
    OrderLineRow.self,
    OrderRevisionRow.self,
    OrderAnswerRow.self,
    OrderRequirementRow.self,
    PlanChangeProposal.self,
    User.self,
    Invoice.self,
    InvoicePayment.self,
    ImportBatch.self,
    AuditEntry.self,
    StockCount.self,
    StockCountLine.self,
    Statement.self,
    StatementLine.self,
    StatementClaim.self,
    ProgressReport.self,
    LinePromise.self,
    SupplierProfile.self,
    SupplierCertificate.self,
    QualificationCheckRow.self,
    Organization.self,
    Site.self,
]
