import Foundation
import Testing
@testable import SubconApp
import SubconDomain

@Suite struct TabularFileTests {
    let csv = "编码,名称,规格型号,单位,类型\r\nRM-ADC12,铝合金锭 ADC12,\"GB/T 15115, 标准\",kg,原材料\r\nFG-1,散热器壳体,,件,成品\r\n"

    @Test func readsGB18030AsExcelSavesIt() throws {
        let bytes = try #require(csv.data(using: TabularFile.gb18030))
        #expect(String(data: bytes, encoding: .utf8) == nil, "the test bytes must really be GBK, not UTF-8")
        let table = try TabularFile.readCSV(bytes)
        #expect(table.headers == ["编码", "名称", "规格型号", "单位", "类型"])
        #expect(table.rows[0][2] == "GB/T 15115, 标准")
        #expect(ItemImport.validate(table, warehouses: []).records.count == 2)
    }

    @Test func readsUTF8WithAndWithoutByteOrderMark() throws {
        let plain = try TabularFile.readCSV(Data(csv.utf8))
        let bom = try TabularFile.readCSV(Data([0xEF, 0xBB, 0xBF]) + Data(csv.utf8))
        #expect(plain == bom)
        #expect(bom.headers.first == "编码")
    }

    @Test func emptyAndGarbageAreClearFailures() {
        #expect(throws: TabularFile.Failure.empty) { try TabularFile.readCSV(Data("  \n".utf8)) }
        #expect(throws: TabularFile.Failure.unreadable) { try TabularFile.readCSV(Data("a,\"unterminated\n".utf8)) }
    }
}
