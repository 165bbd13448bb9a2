/// A spreadsheet as read from a file: one header row, then data rows, all text.
public struct ImportTable: Sendable, Equatable {
    public var headers: [String]
    public var rows: [[String]]
    public init(headers: [String], rows: [[String]]) { self.headers = headers; self.rows = rows }

    /// The spreadsheet row number of data row `index` (the header is row 1).
    public static func sheetRow(_ index: Int) -> Int { index + 2 }
}

/// One thing wrong in an import file, pointing at the row (as numbered in the spreadsheet) and column.
public struct ImportProblem: Sendable, Equatable {
    /// The worksheet, when a workbook carries several kinds of data.
    public var sheet: String?
    public var row: Int
    public var column: String?
    /// Also the message catalog key (`error.<code>`).
    public var code: String
    public var params: [String: String]
    public init(row: Int, column: String?, code: String, params: [String: String] = [:], sheet: String? = nil) {
        self.row = row; self.column = column; self.code = code; self.params = params; self.sheet = sheet
    }
}

/// One non-blank data row, read through the column keys of its import kind.
public struct ImportRow: Sendable {
    /// Spreadsheet row number (the header is row 1).
    public let number: Int
    let cells: [String]
    let at: [String: Int]

    /// The trimmed text in the column with this key ("" when the column or cell is absent).
    public subscript(_ key: String) -> String {
        guard let i = at[key], i < cells.count else { return "" }
        return cells[i].trimmingSpaces()
    }

    public func problem(_ column: String, _ code: String, _ params: [String: String] = [:]) -> ImportProblem {
        ImportProblem(row: number, column: column, code: code, params: params)
    }
}

extension ImportTable {
    /// The data rows to validate, blank rows skipped; or, when a required column is missing,
    /// no rows and one problem per missing column.
    public func rows(_ columns: [ImportColumn]) -> (rows: [ImportRow], missing: [ImportProblem]) {
        let (at, missing) = ImportColumn.locate(columns, in: headers)
        if !missing.isEmpty {
            return ([], missing.map { ImportProblem(row: 1, column: $0, code: "missingColumn", params: ["column": $0]) })
        }
        let rows = self.rows.enumerated().compactMap { i, cells -> ImportRow? in
            cells.allSatisfy({ $0.trimmingSpaces().isEmpty }) ? nil : ImportRow(number: ImportTable.sheetRow(i), cells: cells, at: at)
        }
        return (rows, [])
    }
}

/// Cell checks shared by every import kind.
public enum ImportCells {
    /// The code rule the API uses: ASCII letters, digits and `._-`, at most 40.
    static func isCode(_ s: String) -> Bool {
        s.count <= 40 && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    /// A date as it arrives from a sheet: `2026-03-01`, `2026/3/1`, or a real Excel date cell,
    /// which the file stores as a serial day number (1 = 1900-01-01, 25569 = 1970-01-01).
    public static func day(_ text: String) -> Day? {
        if let d = Day(text) { return d }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), parts[0].count == 4 {
            return Day(year: y, month: m, day: d)
        }
        // Whole serials only, in a plausible range (1960 to 2100): anything else is not a date.
        if let serial = Int(text), (21916...73415).contains(serial) { return Day(ordinal: serial - 25569) }
        return nil
    }

    /// A value written as its code or as a name in any UI language.
    static func lookup<T>(_ text: String, in names: [String: T]) -> T? { names[text.lowercased()] ?? names[text] }
}

/// A column of an import template: its key and the header texts it is recognised by, in every
/// UI language (the template a user downloads carries the header of their language).
public struct ImportColumn: Sendable {
    public let key: String
    public let headers: [String]
    public let required: Bool
    public init(_ key: String, _ headers: [String], required: Bool) { self.key = key; self.headers = headers; self.required = required }

    static func normalize(_ s: String) -> String { s.trimmingSpaces().lowercased() }

    /// Index of each known column in the file's header row; unknown headers are ignored.
    public static func locate(_ columns: [ImportColumn], in headers: [String]) -> (found: [String: Int], missing: [String]) {
        var found: [String: Int] = [:]
        for (i, h) in headers.enumerated() {
            let n = normalize(h)
            if let c = columns.first(where: { $0.headers.contains { normalize($0) == n } }), found[c.key] == nil { found[c.key] = i }
        }
        return (found, columns.filter { $0.required && found[$0.key] == nil }.map(\.key))
    }
}

/// The item import: which columns, and every way a row can be wrong.
public enum ItemImport {
    public static let columns = [
        ImportColumn("code", ["code", "编码", "物料编码", "編碼", "物料編碼"], required: true),
        ImportColumn("name", ["name", "名称", "物料名称", "名稱", "物料名稱"], required: true),
        ImportColumn("specification", ["specification", "规格", "规格型号", "規格", "規格型號"], required: false),
        ImportColumn("uom", ["uom", "unit", "单位", "單位"], required: true),
        ImportColumn("kind", ["kind", "类型", "物料类型", "類型", "物料類型"], required: true),
        ImportColumn("warehouse", ["default warehouse", "warehouse", "默认仓库", "預設倉庫"], required: false),
        ImportColumn("costPrice", ["cost price", "cost_price", "costprice", "成本价", "成本價"], required: false),
    ]

    /// Kind as written in a sheet: the code or its name in any UI language.
    public static let kindNames: [String: ItemKind] = [
        "raw_material": .raw, "原材料": .raw, "原物料": .raw, "raw material": .raw,
        "semi_finished": .semiFinished, "半成品": .semiFinished, "semi-finished": .semiFinished,
        "finished": .finished, "成品": .finished, "finished good": .finished,
        "service": .service, "服务/工序": .service, "服務/工序": .service, "服务": .service, "服務": .service,
    ]

    public struct Record: Sendable, Equatable {
        public var row: Int
        public var code: String
        public var name: String
        public var specification: String
        public var uom: String
        public var kind: ItemKind
        public var warehouse: String?
        /// The material's cost price (write-off deductions are valued at it); nil keeps the current one.
        public var costPrice: FixedDecimal? = nil
    }

    /// Validates every row; returns the good records and all problems (an import commits only
    /// when there are none). Codes already in the system are updates, not duplicates.
    public static func validate(_ table: ImportTable, warehouses: Set<String>) -> (records: [Record], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var records: [Record] = []
        var problems: [ImportProblem] = []
        var firstRowOfCode: [String: Int] = [:]
        for row in rows {
            let n = row.number
            func cell(_ key: String) -> String { row[key] }
            var rowProblems: [ImportProblem] = []
            let code = cell("code"), name = cell("name"), uom = cell("uom"), kindText = cell("kind"), warehouse = cell("warehouse")
            for (key, value) in [("code", code), ("name", name), ("uom", uom), ("kind", kindText)] where value.isEmpty {
                rowProblems.append(ImportProblem(row: n, column: key, code: "required"))
            }
            if !code.isEmpty && !ImportCells.isCode(code) {
                rowProblems.append(ImportProblem(row: n, column: "code", code: "badCode"))
            }
            if name.count > 200 { rowProblems.append(ImportProblem(row: n, column: "name", code: "tooLong", params: ["max": "200"])) }
            if cell("specification").count > 500 { rowProblems.append(ImportProblem(row: n, column: "specification", code: "tooLong", params: ["max": "500"])) }
            if uom.count > 20 { rowProblems.append(ImportProblem(row: n, column: "uom", code: "tooLong", params: ["max": "20"])) }
            let kind = ImportCells.lookup(kindText, in: kindNames)
            if !kindText.isEmpty && kind == nil { rowProblems.append(ImportProblem(row: n, column: "kind", code: "invalidValue")) }
            var costPrice: FixedDecimal?
            if !cell("costPrice").isEmpty {
                costPrice = try? FixedDecimal.parse(cell("costPrice"))
                if costPrice == nil || costPrice! < .zero || costPrice! > FixedDecimal(units: 100_000_000 * FixedDecimal.unit) {
                    rowProblems.append(ImportProblem(row: n, column: "costPrice", code: "nonNegativeDecimal"))
                }
            }
            if !warehouse.isEmpty && !warehouses.contains(warehouse) {
                rowProblems.append(ImportProblem(row: n, column: "warehouse", code: "unknownWarehouse"))
            }
            if !code.isEmpty {
                if let first = firstRowOfCode[code] {
                    rowProblems.append(ImportProblem(row: n, column: "code", code: "duplicateInFile", params: ["first": String(first)]))
                } else {
                    firstRowOfCode[code] = n
                }
            }
            if rowProblems.isEmpty, let kind {
                records.append(Record(row: n, code: code, name: name, specification: cell("specification"), uom: uom, kind: kind,
                                      warehouse: warehouse.isEmpty ? nil : warehouse, costPrice: costPrice))
            }
            problems += rowProblems
        }
        return (records, problems)
    }
}
