import CSV
import Foundation
import SubconDomain

/// Reads an uploaded spreadsheet into an `ImportTable`. CSV may be UTF-8 (with or without a
/// byte-order mark) or GB18030/GBK, which is how Excel in a Chinese locale saves "CSV".
enum TabularFile {
    enum Failure: Error, Equatable {
        case empty
        case unreadable
        case tooManyRows(Int)
    }

    static let maxRows = 200_000
    /// GB18030 (a superset of GBK and GB2312), as swift-foundation names it.
    static let gb18030 = String.Encoding(rawValue: 0x8000_0632)

    /// Decodes CSV bytes: UTF-8 when the bytes are valid UTF-8, else GB18030.
    static func decodeText(_ data: Data) throws(Failure) -> String {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        if let text = String(data: bytes, encoding: .utf8) { return text }
        if let text = String(data: bytes, encoding: gb18030) { return text }
        throw .unreadable
    }

    static func readCSV(_ data: Data) throws(Failure) -> ImportTable {
        let text = try decodeText(data)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .empty }
        // Quotes in well-formed CSV come in pairs (an embedded quote is doubled); an odd count
        // means a quoted field never ends, typically a truncated file. The parser would accept it.
        guard text.utf8.lazy.filter({ $0 == UInt8(ascii: "\"") }).count % 2 == 0 else { throw .unreadable }
        let reader: CSVReader
        do { reader = try CSVReader(string: text, hasHeaderRow: false) } catch { throw .unreadable }
        guard let header = reader.next() else { throw .empty }
        var rows: [[String]] = []
        while let row = reader.next() {
            rows.append(row)
            if rows.count > maxRows { throw .tooManyRows(maxRows) }
        }
        if reader.error != nil { throw .unreadable }
        return ImportTable(headers: header, rows: rows)
    }
}
