import Foundation
import Testing
import ZIPFoundation
@testable import SubconApp
import SubconDomain

@Suite struct XLSXTests {
    let rows = [["物料编码", "物料名称", "规格型号", "单位", "类型"],
                ["RM-1", "铝板 & 型材 <6061>", "3mm \"T6\"", "张", "原材料"],
                ["FG-2", "壳体", "", "件", "成品"]]

    func trimmed(_ r: [String]) -> [String] {
        var r = r
        while r.last == "" { r.removeLast() }
        return r
    }

    @Test func writtenWorkbooksReadBackExactly() throws {
        let data = try XLSX.write(rows, sheetName: "items")
        #expect(data.starts(with: [0x50, 0x4B, 0x03, 0x04]))
        let table = try XLSX.read(data)
        #expect(table.headers == rows[0])
        #expect(table.rows.map(trimmed) == rows.dropFirst().map(trimmed))
        #expect(ItemImport.validate(table, warehouses: []).problems.isEmpty)
    }

    /// The shape Excel itself writes: shared strings (with rich-text runs and phonetic hints),
    /// numbers, sometimes in exponent form, and a sheet found through the workbook relationships.
    @Test func readsExcelStyleSharedStringsAndNumbers() throws {
        let archive = try Archive(data: Data(), accessMode: .create)
        func add(_ path: String, _ text: String) throws {
            let d = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(d.count), compressionMethod: .deflate) { p, s in
                d.subdata(in: Int(p)..<Int(p) + s)
            }
        }
        try add("xl/workbook.xml", #"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="物料" sheetId="1" r:id="rId7"/></sheets></workbook>"#)
        try add("xl/_rels/workbook.xml.rels", #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId7" Type="x" Target="worksheets/data.xml"/></Relationships>"#)
        try add("xl/sharedStrings.xml", #"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>编码</t></si><si><r><t>用</t></r><r><t>量</t></r><rPh><t>ヨウリョウ</t></rPh></si><si><t>SCREW-M4</t></si></sst>"#)
        try add("xl/worksheets/data.xml", #"<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="3"><c r="A3" t="s"><v>2</v></c><c r="C3"><v>1.25E-2</v></c></row></sheetData></worksheet>"#)
        let table = try XLSX.read(archive.data!)
        #expect(table.headers == ["编码", "用量"])
        #expect(table.rows == [[], ["SCREW-M4", "", "0.0125"]])
    }

    @Test func damagedWorkbooksAreAClearFailure() throws {
        let data = try XLSX.write(rows, sheetName: "items")
        #expect(throws: TabularFile.Failure.unreadable) { try XLSX.read(data.prefix(data.count / 2)) }
        #expect(throws: TabularFile.Failure.unreadable) { try XLSX.read(Data([0x50, 0x4B, 0x03, 0x04, 1, 2, 3])) }
        // A zip that is not a workbook.
        let archive = try Archive(data: Data(), accessMode: .create)
        let d = Data("hello".utf8)
        try archive.addEntry(with: "readme.txt", type: .file, uncompressedSize: Int64(d.count)) { p, s in d.subdata(in: Int(p)..<Int(p) + s) }
        #expect(throws: TabularFile.Failure.unreadable) { try XLSX.read(archive.data!) }
    }

    @Test func columnNames() {
        #expect(XLSX.columnName(0) == "A")
        #expect(XLSX.columnName(25) == "Z")
        #expect(XLSX.columnName(26) == "AA")
        #expect(XLSX.columnIndex("AB12") == 27)
        #expect(XLSX.columnIndex("12") == nil)
    }
}
