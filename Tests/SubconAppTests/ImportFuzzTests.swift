import Foundation
import PropertyBased
import SubconDomain
import Testing
import ZIPFoundation
@testable import SubconApp

/// Malformed uploads never crash or hang the server: byte-flipped, truncated and forged
/// workbooks, CSV files and evidence files each end in a clear failure (or a table), and
/// oversized ones are refused by size and row limits. Mutations come from a seeded generator (swift-property-based's Xoshiro),
/// so a failure names a case that can be replayed.
@Suite struct ImportFuzzTests {
    static func mutate(_ data: Data, _ rng: inout Xoshiro) -> Data {
        var bytes = [UInt8](data)
        guard !bytes.isEmpty else { return Data([UInt8.random(in: 0...255, using: &rng)]) }
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: // flip a few bytes
            for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
        case 1: // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
        case 2: // cut a chunk out
            let a = Int.random(in: 0..<bytes.count, using: &rng), b = min(bytes.count, a + Int.random(in: 1...64, using: &rng))
            bytes.removeSubrange(a..<b)
        case 3: // bytes that are never valid UTF-8, somewhere
            bytes.insert(contentsOf: [0xFF, 0xC0, 0x80, 0xFE], at: Int.random(in: 0...bytes.count, using: &rng))
        case 4: // repeat a chunk
            let a = Int.random(in: 0..<bytes.count, using: &rng), b = min(bytes.count, a + Int.random(in: 1...256, using: &rng))
            bytes.insert(contentsOf: bytes[a..<b], at: b)
        default: // one byte set to a structural character
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = [UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), 0, UInt8(ascii: ","), 0x0A].randomElement(using: &rng)!
        }
        return Data(bytes)
    }

    static func workbook(_ parts: [(String, Data)]) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for (path, d) in parts {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(d.count), compressionMethod: .deflate) { p, s in
                d.subdata(in: Int(p)..<Int(p) + s)
            }
        }
        return archive.data!
    }

    static func parts(of data: Data) throws -> [(String, Data)] {
        let archive = try Archive(data: data, accessMode: .read)
        return try archive.map { entry in
            var out = Data()
            _ = try archive.extract(entry) { out.append($0) }
            return (entry.path, out)
        }
    }

    /// Reading must end — no crash, no hang — in a table or a `TabularFile.Failure` (the upload
    /// turns it into a clear 422; `readAll` throws nothing else, by its typed `throws`).
    static func read(_ data: Data) -> String {
        do { return "ok \(try XLSX.readAll(data).count)" } catch { return "\(error)" }
    }

    static var example: Data { (try? Data(contentsOf: URL(fileURLWithPath: packageRoot + "/examples/subcon-example.xlsx"))) ?? Data() }

    @Test func byteFlippedAndTruncatedWorkbooksEndInAClearFailure() throws {
        let bases = [try XLSX.write([["编码", "名称"], ["A-1", "铝板"]], sheetName: "items"), Self.example].filter { !$0.isEmpty }
        var rng = Xoshiro(seed: (2026, 12, 1, 13))
        var outcomes: [String: Int] = [:]
        for i in 0..<600 {
            var data = bases[i % bases.count]
            for _ in 0..<Int.random(in: 1...3, using: &rng) { data = Self.mutate(data, &rng) }
            outcomes[String(Self.read(data).prefix(10)), default: 0] += 1
        }
        // The mutations reach both ends: some files still read (a flip inside stored text), most do not.
        #expect(outcomes["unreadable", default: 0] > 300, "\(outcomes)")
        #expect(outcomes.keys.contains { $0.hasPrefix("ok") }, "\(outcomes)")
    }

    /// The zip is intact (correct checksums) but the XML inside is damaged, so the damage
    /// reaches the XML parser itself — where invalid UTF-8 in a tag name used to kill the process.
    @Test func damagedXMLInsideAnIntactZipEndsInAClearFailure() throws {
        let base = try Self.parts(of: Self.example.isEmpty ? try XLSX.write([["a", "b"], ["1", "2"]], sheetName: "s") : Self.example)
        var rng = Xoshiro(seed: (5534, 1, 2, 3))
        var unreadable = 0
        for _ in 0..<400 {
            var parts = base
            let k = Int.random(in: 0..<parts.count, using: &rng)
            parts[k].1 = Self.mutate(parts[k].1, &rng)
            if Self.read(try Self.workbook(parts)) == "unreadable" { unreadable += 1 }
        }
        #expect(unreadable > 50)
        // The exact shape of issue 5534: an invalid byte inside a tag name.
        let sheet = Data("<worksheet><sheetData><row r=\"1\"><c\u{FF}".utf8) + Data([0xFF, 0xFE]) + Data("><v>1</v></c></row></sheetData></worksheet>".utf8)
        #expect(Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", sheet)])) == "unreadable")
        let latin = Data([0x3C, 0x77, 0xE9, 0x3E])  // <wé> in Latin-1
        #expect(Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", latin)])) == "unreadable")
    }

    @Test func forgedRowAndColumnNumbersAndEntitiesAreRefused() throws {
        func sheet(_ body: String) throws -> String {
            Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", Data("<worksheet><sheetData>\(body)</sheetData></worksheet>".utf8))]))
        }
        #expect(try sheet(#"<row r="1"><c t="inlineStr"><is><t>a</t></is></c></row><row r="2000000000"><c><v>1</v></c></row>"#) == "tooManyRows(200000)")
        #expect(try sheet(#"<row r="9223372036854775807"><c><v>1</v></c></row>"#) == "tooManyRows(200000)")
        #expect(try sheet(#"<row r="-5"><c><v>1</v></c></row>"#) == "unreadable")
        #expect(try sheet(#"<row r="1"><c r="XFDXFDXFDXFDXFDXFDXFDXFDXFD1"><v>1</v></c></row>"#) == "unreadable")
        #expect(try sheet(#"<row r="1"><c r="ZZZZ1"><v>1</v></c></row>"#) == "unreadable")
        #expect(try sheet(#"<row r="1"><c t="s"><v>99</v></c></row>"#) == "unreadable")
        #expect(try sheet(#"<row r="1"><c><v>1E999999999</v></c><c><v>x</v></c></row>"#).hasPrefix("ok"))
        let bomb = #"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>"#
        #expect(Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", Data(bomb.utf8))])) == "unreadable")
        let utf16 = #"<?xml version="1.0" encoding="UTF-16"?><worksheet/>"#
        #expect(Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", Data(utf16.utf8))])) == "unreadable")
    }

    /// 70 MB of one repeated row compresses to well under a megabyte; reading stops at the part limit.
    @Test func zipBombsAreRefusedBySize() throws {
        let archive = try Archive(data: Data(), accessMode: .create)
        let chunk = Data(String(repeating: "<row><c><v>1</v></c></row>", count: 4096).utf8)
        let total = 70 * 1024 * 1024
        try archive.addEntry(with: "xl/worksheets/sheet1.xml", type: .file, uncompressedSize: Int64(total), compressionMethod: .deflate,
                             bufferSize: chunk.count) { _, size in
            // Asked for one buffer at a time, each at a multiple of the pattern's length.
            chunk.prefix(size)
        }
        let data = archive.data!
        #expect(data.count < 2 * 1024 * 1024)
        #expect(Self.read(data) == "unreadable")
    }

    @Test func hugeSheetsAreRefusedByTheRowLimit() throws {
        var xml = "<worksheet><sheetData>"
        xml.reserveCapacity(12 * 1024 * 1024)
        for r in 1...(TabularFile.maxRows + 2) { xml += "<row r=\"\(r)\"><c><v>\(r)</v></c></row>" }
        xml += "</sheetData></worksheet>"
        #expect(Self.read(try Self.workbook([("xl/worksheets/sheet1.xml", Data(xml.utf8))])) == "tooManyRows(200000)")
    }

    @Test func malformedCSVEndsInAClearFailure() {
        let base = Data("物料编码,物料名称,单位\nRM-1,\"铝板, 6061\",张\nRM-2,\"说\"\"明\"\"\",件\n".utf8)
        var rng = Xoshiro(seed: (42, 1, 2, 3))
        var failures = 0
        for _ in 0..<1000 {
            var data = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) { data = Self.mutate(data, &rng) }
            do { _ = try TabularFile.readCSV(data) } catch { failures += 1 }
        }
        #expect(failures > 0)
        // Pure noise, too.
        for n in [0, 1, 3, 100, 5000] {
            let noise = Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) })
            _ = try? TabularFile.readCSV(noise)
        }
    }

    @Test func evidenceTypeChecksNeverTrustTruncatedOrNoisyFiles() {
        var rng = Xoshiro(seed: (7, 1, 2, 3))
        let headers: [[UInt8]] = [[0x25, 0x50, 0x44, 0x46, 0x2D], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF],
                                  Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBP".utf8), [0x50, 0x4B, 0x03, 0x04]]
        for _ in 0..<2000 {
            let h = headers.randomElement(using: &rng)!
            var bytes = Array(h.prefix(Int.random(in: 0...h.count, using: &rng)))
            bytes += (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = FileType.sniff(bytes)
        }
        #expect(FileType.sniff([0x25, 0x50]) == nil)
        #expect(FileType.sniff([]) == nil)
    }
}
