import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SubconDomain
import ZIPFoundation

/// The small part of Office Open XML spreadsheets that imports and exports need: worksheets
/// as text cells. Reading guards against truncated files and zip bombs; writing uses
/// inline strings, so every cell round-trips as the exact text it was.
enum XLSX {
    /// No single part may unpack larger than this, nor all parts read together (a zip bomb
    /// stops here, however well it compresses).
    static let maxPartBytes: Int64 = 64 * 1024 * 1024
    static let maxTotalBytes = 160 * 1024 * 1024
    /// Excel's own limit is 16,384 columns; an import never needs more than a few dozen.
    static let maxColumns = 500

    /// The first non-empty sheet.
    static func read(_ data: Data) throws(TabularFile.Failure) -> ImportTable { try readAll(data, limit: 1)[0].table }

    /// The workbook's non-empty sheets in workbook order, each as a header row and data rows.
    static func readAll(_ data: Data, limit: Int = 20) throws(TabularFile.Failure) -> [(name: String, table: ImportTable)] {
        // ZIPFoundation's in-memory archive traps (a negative range in `MemoryFile.readData`)
        // when a damaged directory points past the end of the data; reading the same bytes
        // from a file only comes up short. So an upload is read through a private temporary file.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("subcon-upload-\(UUID().uuidString).xlsx")
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            try data.write(to: file)
            let archive = try Archive(url: file, accessMode: .read)
            var budget = maxTotalBytes
            let shared = try archive["xl/sharedStrings.xml"].map { try SharedStrings.parse(try extract($0, from: archive, budget: &budget)) } ?? []
            var out: [(name: String, table: ImportTable)] = []
            for (name, path) in try sheetPaths(archive, budget: &budget) {
                guard let entry = archive[path] else { throw TabularFile.Failure.unreadable }
                let cells = try SheetCells.parse(try extract(entry, from: archive, budget: &budget), shared: shared)
                guard let header = cells.first, header.contains(where: { !$0.isEmpty }) else { continue }
                let rows = Array(cells.dropFirst())
                if rows.count > TabularFile.maxRows { throw TabularFile.Failure.tooManyRows(TabularFile.maxRows) }
                out.append((name, ImportTable(headers: header, rows: rows)))
                if out.count >= limit { break }
            }
            if out.isEmpty { throw TabularFile.Failure.empty }
            return out
        } catch let failure as TabularFile.Failure {
            throw failure
        } catch {
            throw .unreadable
        }
    }

    private static func extract(_ entry: Entry, from archive: Archive, budget: inout Int) throws -> Data {
        guard entry.type == .file, entry.uncompressedSize <= maxPartBytes, entry.uncompressedSize <= budget else {
            throw TabularFile.Failure.unreadable
        }
        var out = Data()
        let limit = Int(min(maxPartBytes, Int64(budget)))
        // The sizes in the archive's directory can lie: count what really comes out.
        _ = try archive.extract(entry) { chunk in
            out.append(chunk)
            if out.count > limit { throw TabularFile.Failure.unreadable }
        }
        budget -= out.count
        return out
    }

    /// Foundation's XMLParser on Linux kills the process (SIGILL) on a tag or attribute name
    /// that is not valid UTF-8 (swift-corelibs-foundation issue 5534), and libxml2 would expand
    /// entities a document declares. Workbook parts are UTF-8 without a DTD, so anything else is
    /// refused before it reaches the parser.
    static func safeXML(_ data: Data) throws(TabularFile.Failure) -> Data {
        guard String(validating: data, as: UTF8.self) != nil else { throw .unreadable }
        let head = String(decoding: data.prefix(200), as: UTF8.self).lowercased()
        if let r = head.range(of: "encoding=") {
            let declared = head[r.upperBound...].dropFirst().prefix { $0 != "\"" && $0 != "'" }
            guard declared == "utf-8" || declared == "utf8" else { throw .unreadable }
        }
        if data.range(of: Data("<!DOCTYPE".utf8)) != nil || data.range(of: Data("<!ENTITY".utf8)) != nil { throw .unreadable }
        return data
    }

    static func parser(_ data: Data) throws(TabularFile.Failure) -> XMLParser {
        let p = XMLParser(data: try safeXML(data))
        p.shouldResolveExternalEntities = false
        return p
    }

    /// Every sheet's name and part path, in workbook order, found through workbook.xml and its relationships.
    private static func sheetPaths(_ archive: Archive, budget: inout Int) throws -> [(String, String)] {
        guard let wb = archive["xl/workbook.xml"], let rels = archive["xl/_rels/workbook.xml.rels"] else {
            return [("Sheet1", "xl/worksheets/sheet1.xml")]
        }
        let sheets = try Attributes.all(try extract(wb, from: archive, budget: &budget), element: "sheet")
        let targets = try Attributes.pairs(try extract(rels, from: archive, budget: &budget), element: "Relationship", key: "Id", value: "Target")
        return sheets.compactMap { a in
            guard let id = a["r:id"], var target = targets[id] else { return nil }
            if target.hasPrefix("/") { target.removeFirst() } else { target = "xl/" + target }
            return (a["name"] ?? "", target)
        }
    }

    static func write(_ rows: [[String]], sheetName: String) throws -> Data {
        try write([(sheetName, rows)])
    }

    /// A workbook with one sheet per entry, every cell an inline string.
    static func write(_ sheets: [(name: String, rows: [[String]])]) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        func add(_ path: String, _ text: String) throws {
            let data = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        let main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        let numbers = sheets.indices.map { $0 + 1 }
        try add("[Content_Types].xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\(numbers.map { "<Override PartName=\"/xl/worksheets/sheet\($0).xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>" }.joined())</Types>
            """)
        try add("_rels/.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="\(rel)/officeDocument" Target="xl/workbook.xml"/></Relationships>
            """)
        let sheetElements = zip(numbers, sheets).map { n, s in
            "<sheet name=\"\(escape(String(s.name.prefix(31))))\" sheetId=\"\(n)\" r:id=\"rId\(n)\"/>"
        }.joined()
        try add("xl/workbook.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <workbook xmlns="\(main)" xmlns:r="\(rel)"><sheets>\(sheetElements)</sheets></workbook>
            """)
        try add("xl/_rels/workbook.xml.rels", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\(numbers.map { "<Relationship Id=\"rId\($0)\" Type=\"\(rel)/worksheet\" Target=\"worksheets/sheet\($0).xml\"/>" }.joined())</Relationships>
            """)
        for (n, s) in zip(numbers, sheets) {
            var sheet = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"\(main)\"><sheetData>"
            for (r, row) in s.rows.enumerated() {
                sheet += "<row r=\"\(r + 1)\">"
                for (c, value) in row.enumerated() where !value.isEmpty {
                    sheet += "<c r=\"\(columnName(c))\(r + 1)\" t=\"inlineStr\"><is><t xml:space=\"preserve\">\(escape(value))</t></is></c>"
                }
                sheet += "</row>"
            }
            sheet += "</sheetData></worksheet>"
            try add("xl/worksheets/sheet\(n).xml", sheet)
        }
        guard let data = archive.data else { throw TabularFile.Failure.unreadable }
        return data
    }

    /// 0 → A, 25 → Z, 26 → AA.
    static func columnName(_ index: Int) -> String {
        var n = index + 1, s = ""
        while n > 0 { let r = (n - 1) % 26; s = String(UnicodeScalar(65 + r)!) + s; n = (n - 1) / 26 }
        return s
    }

    /// "AB12" → 27 (zero-based column).
    static func columnIndex(_ reference: String) -> Int? {
        var n = 0, seen = false
        for u in reference.unicodeScalars {
            guard u.value >= 65 && u.value <= 90 else { break }
            // Beyond Excel's XFD (16,384) it is not a real column; stop before Int overflows.
            guard n <= 1_000_000 else { return Int.max }
            n = n * 26 + Int(u.value - 64); seen = true
        }
        return seen ? n - 1 : nil
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            // Characters XML 1.0 cannot carry are dropped rather than producing a broken file.
            case _ where u.value < 0x20 && u != "\t" && u != "\n" && u != "\r": continue
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

/// SAX-style readers for the three parts we need.
private final class SharedStrings: NSObject, XMLParserDelegate {
    var strings: [String] = []
    private var current = "", inT = false, inPhonetic = false

    static func parse(_ data: Data) throws -> [String] {
        let d = SharedStrings()
        let p = try XLSX.parser(data)
        p.delegate = d
        guard p.parse() else { throw TabularFile.Failure.unreadable }
        return d.strings
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        switch name {
        case "si": current = ""
        case "rPh": inPhonetic = true
        case "t": inT = !inPhonetic
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if inT { current += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "t": inT = false
        case "rPh": inPhonetic = false
        case "si": strings.append(current)
        default: break
        }
    }
}

private final class SheetCells: NSObject, XMLParserDelegate {
    var rows: [Int: [Int: String]] = [:]
    let shared: [String]
    private var row = 0, nextRow = 1, col = 0, nextCol = 0, type = "", text = "", capture = false, bad = false, tooManyRows = false

    init(shared: [String]) { self.shared = shared }

    static func parse(_ data: Data, shared: [String]) throws -> [[String]] {
        let d = SheetCells(shared: shared)
        let p = try XLSX.parser(data)
        p.delegate = d
        let parsed = p.parse()
        if d.tooManyRows { throw TabularFile.Failure.tooManyRows(TabularFile.maxRows) }
        guard parsed, !d.bad else { throw TabularFile.Failure.unreadable }
        guard let last = d.rows.keys.max() else { return [] }
        return (1...last).map { r in
            let cells = d.rows[r] ?? [:]
            guard let width = cells.keys.max() else { return [] }
            return (0...width).map { cells[$0] ?? "" }
        }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        switch name {
        case "row":
            row = attributes["r"].flatMap(Int.init) ?? nextRow
            // Row and column numbers size the table built afterwards: a forged r="2000000000"
            // must not allocate billions of rows.
            guard row >= 1 else { bad = true; parser.abortParsing(); return }
            guard row <= TabularFile.maxRows + 1 else { tooManyRows = true; parser.abortParsing(); return }
            nextRow = row + 1; nextCol = 0
        case "c":
            col = attributes["r"].flatMap(XLSX.columnIndex) ?? nextCol
            guard col >= 0 && col < XLSX.maxColumns else { bad = true; parser.abortParsing(); return }
            nextCol = col + 1
            type = attributes["t"] ?? "n"; text = ""
        case "v", "t": capture = true
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if capture { text += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "v", "t": capture = false
        case "c":
            var value = text
            if type == "s" {
                guard let i = Int(text), shared.indices.contains(i) else { bad = true; return }
                value = shared[i]
            } else if type == "b" {
                value = text == "1" ? "TRUE" : "FALSE"
            } else if type == "n" {
                value = Self.plainNumber(text)
            }
            if !value.isEmpty { rows[row, default: [:]][col] = value }
        default: break
        }
    }

    /// Excel writes some numbers in exponent form ("1.25E-2"); show them as plain decimals so
    /// the exact-decimal parser reads them.
    static func plainNumber(_ s: String) -> String {
        guard s.contains("E") || s.contains("e"), let d = Decimal(string: s) else { return s }
        return "\(d)"
    }
}

private final class Attributes: NSObject, XMLParserDelegate {
    let element: String
    let keys: [String]
    var found: [[String: String]] = []
    init(element: String, keys: [String]) { self.element = element; self.keys = keys }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if name == element || qualifiedName == element { found.append(attributes) }
    }

    private static func run(_ data: Data, element: String) throws -> [[String: String]] {
        let d = Attributes(element: element, keys: [])
        let p = try XLSX.parser(data)
        p.delegate = d
        guard p.parse() else { throw TabularFile.Failure.unreadable }
        return d.found
    }

    static func all(_ data: Data, element: String) throws -> [[String: String]] { try run(data, element: element) }

    static func pairs(_ data: Data, element: String, key: String, value: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for a in try run(data, element: element) { if let k = a[key], let v = a[value] { out[k] = v } }
        return out
    }
}
