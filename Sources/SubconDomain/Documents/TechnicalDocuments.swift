/// Technical documents (图纸 / 工艺文件 / 检验标准) kept per item in revisions A, B, C…: one is
/// current, older ones stay readable but superseded. Who may see them follows the orders.
public enum TechnicalDocumentKind: String, Codable, Sendable, CaseIterable {
    case drawing
    case process
    case inspectionStandard = "inspection_standard"
}

/// Revision labels as drawings carry them: A … Z, then AA, AB … (like spreadsheet columns).
/// I and O are kept: suppliers read the label printed on the drawing, whatever it is.
public enum RevisionLabel {
    public static let first = "A"

    public static func next(after label: String?) -> String {
        guard let label, !label.isEmpty, label.allSatisfy({ $0 >= "A" && $0 <= "Z" }) else { return first }
        var letters = Array(label.unicodeScalars.map { Int($0.value) - 65 })
        var i = letters.count - 1
        while i >= 0 {
            if letters[i] < 25 { letters[i] += 1; break }
            letters[i] = 0
            i -= 1
        }
        if i < 0 { letters.insert(0, at: 0) }
        return String(String.UnicodeScalarView(letters.map { Unicode.Scalar(UInt8($0 + 65)) }))
    }

    /// Orders labels as revisions follow each other (B before AA).
    public static func precedes(_ a: String, _ b: String) -> Bool {
        a.count != b.count ? a.count < b.count : a < b
    }
}

/// Need-to-know sharing (权限分级): a supplier sees an item's documents while it has an open
/// order for the item, or a standing grant. A grant withdrawn by hand withholds them even while
/// orders are open (a supplier being replaced, a dispute over a drawing).
public enum DocumentSharing {
    public enum Grant: String, Codable, Sendable, CaseIterable {
        /// Shared without an order (a supplier quoting, or preparing tooling).
        case granted
        /// Not shared, whatever the orders.
        case withheld
    }

    public enum Reason: String, Codable, Sendable { case openOrder = "open_order", grant }

    /// Why the supplier may see the item's documents, or nil when it may not.
    public static func access(openOrder: Bool, grant: Grant?) -> Reason? {
        switch grant {
        case .withheld: nil
        case .granted: .grant
        case nil: openOrder ? .openOrder : nil
        }
    }

    /// Orders that share their items' documents: released to the supplier and not finished.
    /// A draft has not reached the supplier; a delivered, closed or cancelled order needs none.
    public static func sharesDocuments(_ status: OrderStatus) -> Bool {
        status != .draft && status.isOpen
    }

    public static var sharingStatuses: [OrderStatus] { OrderStatus.allCases.filter(sharesDocuments) }
}

/// A delivery note for an item that asks for read receipts is refused while the supplier has not
/// acknowledged the current revision of each of the item's documents.
public enum DocumentAcknowledgment {
    public struct Pending: Equatable, Sendable {
        public let documentTitle: String
        public let revision: String
        public init(documentTitle: String, revision: String) { self.documentTitle = documentTitle; self.revision = revision }
    }

    public struct Current: Sendable {
        public let title: String
        public let revision: String
        public let acknowledged: Bool
        public init(title: String, revision: String, acknowledged: Bool) { self.title = title; self.revision = revision; self.acknowledged = acknowledged }
    }

    /// What stands in the way of shipping: nothing when the item does not require read receipts.
    public static func blocking(requiresAcknowledgment: Bool, current: [Current]) -> [Pending] {
        guard requiresAcknowledgment else { return [] }
        return current.filter { !$0.acknowledged }.map { Pending(documentTitle: $0.title, revision: $0.revision) }
    }
}
