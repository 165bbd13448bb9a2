import Foundation

/// Where a list stopped: the key of the last row a client was given, handed back as `after` to
/// read the rows that follow it. Read that way, a page further down a list costs what the first
/// page costs (an index read from a key, not a count of the rows skipped), and a row added or
/// removed above it neither repeats nor skips a row below it.
///
/// The token is opaque to clients: base64url of the key's parts as a JSON array, so that a part
/// may hold any text (an item's code) without a separator to escape.
public struct ListCursor: Equatable, Sendable {
    public let parts: [String]

    public init(_ parts: [String]) { self.parts = parts }

    /// Longer tokens are refused unread: no list's key comes near it.
    public static let maxTokenLength = 512

    public init?(token: String) {
        guard !token.isEmpty, token.utf8.count <= Self.maxTokenLength,
              token.utf8.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
              let parts = try? JSONDecoder().decode([String].self, from: data), !parts.isEmpty else { return nil }
        self.parts = parts
    }

    public var token: String {
        let data = (try? JSONEncoder().encode(parts)) ?? Data("[]".utf8)
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    private static let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}
