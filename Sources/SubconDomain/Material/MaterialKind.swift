/// The kinds of material document, and which of them the supplier confirms.
public enum MaterialKind: String, CaseIterable, Sendable {
    case issue, supplementary
    case returned = "return"
    case transfer, scrap, adjustment

    public var codePrefix: String {
        switch self {
        case .issue: "FL"; case .supplementary: "BL"; case .returned: "TL"; case .transfer: "DB"; case .scrap: "BF"; case .adjustment: "TZ"
        }
    }

    /// Material sent to the supplier (an issue or a supplementary issue) is confirmed by the
    /// supplier, line by line, once the document is done: the quantity it counted in.
    public static func isConfirmable(kind: String, status: String) -> Bool {
        guard let kind = MaterialKind(rawValue: kind) else { return false }
        return (kind == .issue || kind == .supplementary) && status == "done"
    }

    /// A confirmable document with a line not yet confirmed waits for the supplier.
    public static func awaitsConfirmation(kind: String, status: String, hasUnconfirmedLine: Bool) -> Bool {
        isConfirmable(kind: kind, status: status) && hasUnconfirmedLine
    }
}
