import Testing
@testable import SubconDomain

struct ItemImportTests {
    @Test func headersInAnyLanguageAndKindNames() {
        let table = ImportTable(headers: ["物料编码", "名称", "规格型号", "单位", "类型", "默认仓库"], rows: [
            ["RM-ADC12", "铝合金锭 ADC12", "GB/T 15115", "kg", "原材料", "WH-P1"],
            ["FG-HS-100", "散热器壳体", "", "件", "finished", ""],
        ])
        let (records, problems) = ItemImport.validate(table, warehouses: ["WH-P1"])
        #expect(problems.isEmpty)
        #expect(records.map(\.kind) == [.raw, .finished])
        #expect(records[0].warehouse == "WH-P1")
        #expect(records[1].row == 3)
        let english = ImportTable(headers: ["Code", "Name", "Unit", "Kind"], rows: [["X-1", "Plate", "pcs", "Raw material"]])
        #expect(ItemImport.validate(english, warehouses: []).problems.isEmpty)
    }

    @Test func everyKindOfBadRowIsReportedWithItsRow() {
        let table = ImportTable(headers: ["code", "name", "uom", "kind", "warehouse"], rows: [
            ["A-1", "", "pcs", "raw_material", ""],          // row 2: missing name
            ["B 2", "Bad code", "pcs", "finished", ""],      // row 3: bad code
            ["C-3", "C", "pcs", "gadget", ""],               // row 4: unknown kind
            ["D-4", "D", "pcs", "finished", "WH-9"],         // row 5: unknown warehouse
            ["E-5", "E", "pcs", "finished", ""],             // row 6: fine
            ["E-5", "E again", "pcs", "finished", ""],       // row 7: duplicate of row 6
            ["", "", "", "", ""],                            // blank rows are skipped
        ])
        let (records, problems) = ItemImport.validate(table, warehouses: ["WH-P1"])
        #expect(records.map(\.code) == ["E-5"])
        #expect(problems == [
            ImportProblem(row: 2, column: "name", code: "required"),
            ImportProblem(row: 3, column: "code", code: "badCode"),
            ImportProblem(row: 4, column: "kind", code: "invalidValue"),
            ImportProblem(row: 5, column: "warehouse", code: "unknownWarehouse"),
            ImportProblem(row: 7, column: "code", code: "duplicateInFile", params: ["first": "6"]),
        ])
    }

    @Test func missingColumnsStopTheImport() {
        let table = ImportTable(headers: ["编码", "名称"], rows: [["A", "B"]])
        let (records, problems) = ItemImport.validate(table, warehouses: [])
        #expect(records.isEmpty)
        #expect(problems.map(\.column) == ["uom", "kind"])
    }
}
