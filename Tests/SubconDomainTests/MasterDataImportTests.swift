import Testing
@testable import SubconDomain

struct SheetCellTests {
    @Test func datesAsTypedOrAsExcelSerials() {
        #expect(ImportCells.day("2026-03-01") == Day(year: 2026, month: 3, day: 1))
        #expect(ImportCells.day("2026/3/1") == Day(year: 2026, month: 3, day: 1))
        // Excel's serial for 2026-01-01, as a date cell is stored in the file.
        #expect(ImportCells.day("46023") == Day(year: 2026, month: 1, day: 1))
        #expect(ImportCells.day("25569") == Day(year: 1970, month: 1, day: 1))
        for bad in ["46023.5", "12", "2026-13-01", "26/3/1", "tomorrow", ""] { #expect(ImportCells.day(bad) == nil, "\(bad)") }
    }
}

struct RoutingImportTests {
    let header = ["物料编码", "工序号", "工序编码", "工序名称", "加工方式", "默认供应商"]

    @Test func rowsOfAnItemFormItsRouting() {
        let table = ImportTable(headers: header, rows: [
            ["SF-1", "10", "CNC", "CNC 加工", "委外", "SUP-JG"],
            ["SF-2", "10", "STAMP", "冲压", "outsourced", "SUP-JG"],
            ["SF-1", "20", "WASH", "清洗", "厂内", ""],
        ])
        let (routings, problems) = RoutingImport.validate(table, items: ["SF-1", "SF-2"], suppliers: ["SUP-JG"])
        #expect(problems.isEmpty)
        #expect(routings.map(\.item) == ["SF-1", "SF-2"])
        #expect(routings[0].operations.map(\.code) == ["CNC", "WASH"])
        #expect(routings[0].operations[1].mode == .inHouse)
        #expect(routings[0].rows == [2, 4])
    }

    @Test func everyKindOfBadRow() {
        let table = ImportTable(headers: header, rows: [
            ["NOPE", "10", "A", "A", "厂内", ""],            // 2 unknown item
            ["SF-1", "0", "B", "B", "厂内", ""],             // 3 sequence out of range
            ["SF-1", "10", "C", "C", "外星", ""],            // 4 unknown mode
            ["SF-1", "20", "D", "D", "委外", ""],            // 5 outsourced without supplier
            ["SF-1", "30", "E", "E", "厂内", "SUP-JG"],      // 6 in-house with supplier
            ["SF-1", "40", "F", "F", "委外", "SUP-XX"],      // 7 unknown supplier
            ["SF-1", "50", "G G", "G", "厂内", ""],          // 8 bad code
            ["SF-1", "60", "H", "H", "厂内", ""],            // 9 fine
            ["SF-1", "60", "I", "I", "厂内", ""],            // 10 duplicate sequence
            ["SF-1", "70", "H", "H again", "厂内", ""],      // 11 duplicate code
        ])
        let (routings, problems) = RoutingImport.validate(table, items: ["SF-1"], suppliers: ["SUP-JG"])
        #expect(routings.isEmpty)
        #expect(problems.map { "\($0.row):\($0.column ?? ""):\($0.code)" } == [
            "2:item:unknownItem", "3:sequence:outOfRange", "4:mode:invalidValue", "5:supplier:outsourcedWithoutSupplier",
            "6:supplier:inHouseWithSupplier", "7:supplier:unknownSupplier", "8:code:badCode",
            "10:sequence:duplicateSequence", "11:code:duplicateInFile",
        ])
    }
}

struct SupplierImportTests {
    let header = ["供应商编码", "供应商名称", "准入状态", "联系人", "联系电话", "邮箱", "地址", "加工能力"]

    @Test func newAndExistingSuppliers() {
        let table = ImportTable(headers: header, rows: [
            ["SUP-ZY", "常州中圆", "合格", "孙", "0519", "a@b.cn", "常州", "压铸、去毛刺, 压铸"],
            ["SUP-JG", "苏州精工", "", "周", "", "", "", "CNC加工"],
        ])
        let (records, problems) = SupplierImport.validate(table, existing: ["SUP-JG": .qualified], takenCodes: ["HDJM"], mayCreate: true)
        #expect(problems.isEmpty)
        #expect(records.map(\.isNew) == [true, false])
        #expect(records[0].status == .qualified)
        #expect(records[0].capabilities == ["压铸", "去毛刺"])
        // An existing supplier's status is left alone.
        #expect(records[1].status == nil)
    }

    @Test func everyKindOfBadRow() {
        let table = ImportTable(headers: header, rows: [
            ["", "无编码", "", "", "", "", "", ""],                 // 2 code required
            ["HDJM", "制造商", "", "", "", "", "", ""],             // 3 taken by the manufacturer
            ["SUP-A", "A", "最好", "", "", "", "", ""],             // 4 unknown status
            ["SUP-JG", "精工", "暂停", "", "", "", "", ""],          // 5 status change through import
            ["SUP-B", "B", "终止", "", "", "", "", ""],             // 6 cannot start terminated
            ["SUP-C", "C", "", "", "", "not-an-email", "", ""],    // 7 bad email
            ["SUP-D", "D", "", "", "", "", "", ""],                // 8 fine
            ["SUP-D", "D again", "", "", "", "", "", ""],          // 9 duplicate
        ])
        let (_, problems) = SupplierImport.validate(table, existing: ["SUP-JG": .qualified], takenCodes: ["HDJM"], mayCreate: true)
        #expect(problems.map { "\($0.row):\($0.column ?? ""):\($0.code)" } == [
            "2:code:required", "3:code:taken", "4:status:invalidValue", "5:status:statusNotByImport",
            "6:status:invalidInitialStatus", "7:contactEmail:badEmail", "9:code:duplicateInFile",
        ])
        let notAdmin = SupplierImport.validate(ImportTable(headers: header, rows: [["SUP-N", "N", "", "", "", "", "", ""]]),
                                               existing: [:], takenCodes: [], mayCreate: false)
        #expect(notAdmin.problems.map(\.code) == ["supplierCreateNotAllowed"])
    }
}

struct PriceImportTests {
    let header = ["供应商编码", "物料编码", "工序编码", "币种", "生效日期", "失效日期", "单价", "阶梯价"]
    let items: [String: Set<String>] = ["SF-1": ["CNC", "ANOD"], "FG-1": []]

    @Test func tiersAreWrittenAsQuantityEqualsPrice() throws {
        let tiers = try #require(PriceImport.tiers("1000=2.35; 5000=2.20"))
        #expect(tiers.map(\.minimumQuantity) == [FixedDecimal(1000), FixedDecimal(5000)])
        #expect(tiers[0].unitPrice == (try FixedDecimal.parse("2.35")))
        #expect(PriceImport.tiersText(tiers) == "1000=2.35; 5000=2.2")
        #expect(PriceImport.tiers("") == [])
        for bad in ["1000", "1000=-1", "0=2", "x=1", "1000=2=3"] { #expect(PriceImport.tiers(bad) == nil, "\(bad)") }
    }

    @Test func aRowMatchingAStoredAgreementUpdatesIt() throws {
        let stored = PriceAgreement(id: "p1", supplier: "SUP-JG", item: "SF-1", operation: "CNC",
                                    validity: Validity(from: Day("2026-01-01")!, to: Day("2026-06-30"))!, unitPrice: FixedDecimal(38))
        let table = ImportTable(headers: header, rows: [
            ["SUP-JG", "SF-1", "CNC", "", "2026-01-01", "2026-06-30", "37.5", ""],
            ["SUP-JG", "SF-1", "CNC", "CNY", "2026-07-01", "", "36", "500=35"],
            ["SUP-JG", "FG-1", "", "usd", "2026-01-01", "", "96", ""],
        ])
        let (records, problems) = PriceImport.validate(table, items: items, suppliers: ["SUP-JG"], existing: [stored])
        #expect(problems.isEmpty)
        #expect(records.map(\.updates) == ["p1", nil, nil])
        #expect(records[0].agreement.currency == "CNY")
        #expect(records[2].agreement.currency == "USD")
        #expect(records[2].agreement.operation == nil)
    }

    @Test func everyKindOfBadRow() {
        let stored = PriceAgreement(id: "p1", supplier: "SUP-JG", item: "SF-1", operation: "CNC",
                                    validity: Validity(from: Day("2026-01-01")!, to: nil)!, unitPrice: FixedDecimal(38))
        let table = ImportTable(headers: header, rows: [
            ["SUP-XX", "SF-1", "", "", "2026-01-01", "", "1", ""],        // 2 unknown supplier
            ["SUP-JG", "NOPE", "", "", "2026-01-01", "", "1", ""],        // 3 unknown item
            ["SUP-JG", "SF-1", "PAINT", "", "2026-01-01", "", "1", ""],   // 4 operation not in routing
            ["SUP-JG", "SF-1", "", "", "2026-02-30", "", "1", ""],        // 5 bad date
            ["SUP-JG", "SF-1", "", "", "2026-02-01", "2026-01-01", "1", ""], // 6 ends before it starts
            ["SUP-JG", "SF-1", "", "", "2026-01-01", "", "-1", ""],       // 7 negative price
            ["SUP-JG", "SF-1", "", "", "2026-01-01", "", "1", "1000:2"],  // 8 bad tiers
            ["SUP-JG", "SF-1", "", "RMB1", "2026-01-01", "", "1", ""],    // 9 bad currency
            ["SUP-JG", "SF-1", "CNC", "", "2026-03-01", "", "1", ""],     // 10 overlaps the stored one
            ["SUP-JG", "SF-1", "ANOD", "", "2026-01-01", "", "1", ""],    // 11 and 12 overlap each other
            ["SUP-JG", "SF-1", "ANOD", "", "2026-06-01", "", "1", ""],
        ])
        let (records, problems) = PriceImport.validate(table, items: items, suppliers: ["SUP-JG"], existing: [stored])
        #expect(records.isEmpty)
        #expect(problems.map { "\($0.row):\($0.column ?? ""):\($0.code)" } == [
            "2:supplier:unknownSupplier", "3:item:unknownItem", "4:operation:unknownOperation", "5:validFrom:badDate",
            "6:validTo:beforeStart", "7:unitPrice:nonNegativeDecimal", "8:tiers:badTiers", "9:currency:badCurrency",
            "10:validFrom:priceOverlap", "11:validFrom:priceOverlapInFile", "12:validFrom:priceOverlapInFile",
        ])
    }
}
