/// What an uploaded file really is, judged by its first bytes rather than by its name or the
/// type the browser claims: a renamed executable is not a PDF.
public enum FileType: String, Sendable, CaseIterable {
    case pdf, jpeg, png, webp
    /// .xlsx / .docx and other Office Open XML files (ZIP containers).
    case officeZip = "office"

    public var mediaType: String {
        switch self {
        case .pdf: "application/pdf"
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        case .officeZip: "application/octet-stream"
        }
    }

    public var isImage: Bool { self == .jpeg || self == .png || self == .webp }

    public static func sniff(_ bytes: some Collection<UInt8>) -> FileType? {
        let head = Array(bytes.prefix(12))
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts([0x25, 0x50, 0x44, 0x46, 0x2D]) { return .pdf }                  // %PDF-
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.count >= 12 && starts([0x52, 0x49, 0x46, 0x46]) && Array(head[8..<12]) == [0x57, 0x45, 0x42, 0x50] { return .webp } // RIFF....WEBP
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .officeZip }
        return nil
    }
}
