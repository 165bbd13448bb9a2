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

struct BOMImportTests {
    let items: Set<String> = ["F", "S", "R", "C1"]
    let header = ["父件编码", "生效日期", "失效日期", "子件编码", "单位用量", "损耗率", "供料方"]

    @Test func rowsGroupIntoVersions() {
        let table = ImportTable(headers: header, rows: [
            ["F", "2026-01-01", "", "S", "2", "5%", "我方发料"],
            ["F", "2026-01-01", "", "C1", "0.5", "", "供应商自购"],
            ["S", "2026-01-01", "", "R", "1.25", "2", ""],
        ])
        let (versions, problems) = BOMImport.validate(table, items: items, existing: [])
        #expect(problems.isEmpty)
        #expect(versions.map(\.version.parent) == ["F", "S"])
        #expect(versions[0].version.lines.map(\.supplyBy) == [.manufacturer, .supplier])
        #expect(versions[0].version.lines[0].scrapPercent == (try! FixedDecimal.parse("5")))
        #expect(versions[0].rows == [2, 3])
    }

    @Test func badRowsCyclesAndOverlapsAreReported() {
        let existing = [BOMVersion(parent: "S", number: 1, validity: Validity(from: Day("2026-01-01")!, to: nil)!,
                                   lines: [BOMLine(component: "R", quantityPer: FixedDecimal(1))])]
        let table = ImportTable(headers: header, rows: [
            ["F", "2026-13-01", "", "S", "2", "", ""],        // 2: bad date
            ["F", "2026-01-01", "", "NOPE", "2", "", ""],     // 3: unknown component
            ["F", "2026-01-01", "", "S", "-1", "", ""],       // 4: quantity must be > 0
            ["F", "2026-01-01", "", "S", "0.00001", "", ""],  // 5: five decimals is not exact at scale 4
            ["S", "2026-06-01", "", "F", "1", "x", ""],       // 6: bad scrap
            ["R", "2026-01-01", "", "C1", "1", "", "drone"],  // 7: unknown supply
        ])
        let codes = BOMImport.validate(table, items: items, existing: existing).problems.map { "\($0.row):\($0.code)" }
        #expect(codes == ["2:badDate", "3:unknownItem", "4:positiveDecimal", "5:positiveDecimal", "6:nonNegativeDecimal", "7:invalidValue"])

        let cyc = ImportTable(headers: header, rows: [
            ["R", "2026-01-01", "", "S", "1", "", ""],        // 2: S → R already exists, so R → S closes a cycle
            ["S", "2026-03-01", "", "C1", "1", "", ""],       // 3: overlaps S version 1 (open-ended)
        ])
        let found = BOMImport.validate(cyc, items: items, existing: existing)
        #expect(found.versions.isEmpty)
        #expect(found.problems.map(\.code).sorted() == ["bomCycle", "bomOverlap"])
        #expect(found.problems.first { $0.code == "bomCycle" }?.params["chain"]?.contains("R → S → R") == true
                || found.problems.first { $0.code == "bomCycle" }?.params["chain"]?.contains("S → R → S") == true)
    }
}
