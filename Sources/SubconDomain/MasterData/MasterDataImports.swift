/// The routing import: one row per operation; all rows of one item form its whole routing, which
/// replaces the stored one.
public enum RoutingImport {
    public static let columns = [
        ImportColumn("item", ["item", "item code", "物料编码", "物料編碼"], required: true),
        ImportColumn("sequence", ["sequence", "seq", "工序号", "工序號"], required: true),
        ImportColumn("code", ["operation", "operation code", "工序编码", "工序編碼"], required: true),
        ImportColumn("name", ["operation name", "工序名称", "工序名稱"], required: true),
        ImportColumn("mode", ["mode", "方式", "加工方式"], required: true),
        ImportColumn("supplier", ["default supplier", "默认供应商", "預設供應商"], required: false),
    ]

    public static let modeNames: [String: RoutingOperation.Mode] = [
        "in_house": .inHouse, "in-house": .inHouse, "in house": .inHouse, "厂内": .inHouse, "廠內": .inHouse, "自制": .inHouse, "自製": .inHouse,
        "outsourced": .outsourced, "委外": .outsourced, "外协": .outsourced, "外協": .outsourced,
    ]

    public struct NewRouting: Sendable, Equatable {
        public var item: String
        public var operations: [RoutingOperation]
        public var rows: [Int]
    }

    /// - Parameters:
    ///   - items: item codes that exist or are created by the same workbook.
    ///   - suppliers: supplier codes likewise.
    public static func validate(_ table: ImportTable, items: Set<String>, suppliers: Set<String>) -> (routings: [NewRouting], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var problems: [ImportProblem] = []
        var byItem: [String: NewRouting] = [:]
        var order: [String] = []
        for row in rows {
            var bad: [ImportProblem] = []
            let item = row["item"], code = row["code"], name = row["name"], supplier = row["supplier"]
            for key in ["item", "sequence", "code", "name", "mode"] where row[key].isEmpty { bad.append(row.problem(key, "required")) }
            if !item.isEmpty && !items.contains(item) { bad.append(row.problem("item", "unknownItem", ["code": item])) }
            let sequence = Int(row["sequence"])
            if !row["sequence"].isEmpty && (sequence == nil || sequence! <= 0 || sequence! > 9999) {
                bad.append(row.problem("sequence", "outOfRange", ["min": "1", "max": "9999"]))
            }
            if !code.isEmpty && !ImportCells.isCode(code) { bad.append(row.problem("code", "badCode")) }
            if name.count > 100 { bad.append(row.problem("name", "tooLong", ["max": "100"])) }
            let mode = ImportCells.lookup(row["mode"], in: modeNames)
            if !row["mode"].isEmpty && mode == nil { bad.append(row.problem("mode", "invalidValue")) }
            if !supplier.isEmpty && !suppliers.contains(supplier) { bad.append(row.problem("supplier", "unknownSupplier")) }
            if mode == .outsourced && supplier.isEmpty { bad.append(row.problem("supplier", "outsourcedWithoutSupplier", ["code": code])) }
            if mode == .inHouse && !supplier.isEmpty { bad.append(row.problem("supplier", "inHouseWithSupplier", ["code": code])) }
            problems += bad
            guard bad.isEmpty, let sequence, let mode else { continue }
            var routing = byItem[item] ?? NewRouting(item: item, operations: [], rows: [])
            if let i = routing.operations.firstIndex(where: { $0.sequence == sequence }) {
                problems.append(row.problem("sequence", "duplicateSequence", ["sequence": String(sequence), "first": String(routing.rows[i])]))
                continue
            }
            if let i = routing.operations.firstIndex(where: { $0.code == code }) {
                problems.append(row.problem("code", "duplicateInFile", ["first": String(routing.rows[i])]))
                continue
            }
            if byItem[item] == nil { order.append(item) }
            routing.operations.append(RoutingOperation(sequence: sequence, code: code, name: name, mode: mode,
                                                       defaultSupplier: supplier.isEmpty ? nil : supplier))
            routing.rows.append(row.number)
            byItem[item] = routing
        }
        return (problems.isEmpty ? order.map { byItem[$0]! } : [], problems)
    }
}

/// The supplier import: one row per supplier. New codes become new suppliers; existing ones
/// get their contacts and capabilities updated. The qualification status is set only when a
/// supplier is created: later changes need a reason, given one at a time on the supplier's page.
public enum SupplierImport {
    public static let columns = [
        ImportColumn("code", ["code", "supplier code", "供应商编码", "供應商編碼"], required: true),
        ImportColumn("name", ["name", "supplier name", "供应商名称", "供應商名稱"], required: true),
        ImportColumn("status", ["status", "状态", "狀態", "准入状态", "准入狀態"], required: false),
        ImportColumn("contactName", ["contact", "contact name", "联系人", "聯絡人"], required: false),
        ImportColumn("contactPhone", ["phone", "contact phone", "电话", "電話", "联系电话", "聯絡電話"], required: false),
        ImportColumn("contactEmail", ["email", "contact email", "邮箱", "電子郵件"], required: false),
        ImportColumn("address", ["address", "地址"], required: false),
        ImportColumn("capabilities", ["capabilities", "加工能力", "能力"], required: false),
    ]

    public static let statusNames: [String: SupplierStatus] = [
        "prospect": .prospect, "潜在": .prospect, "潛在": .prospect,
        "qualified": .qualified, "合格": .qualified,
        "probation": .probation, "考察期": .probation,
        "suspended": .suspended, "暂停": .suspended, "暫停": .suspended,
        "terminated": .terminated, "终止": .terminated, "終止": .terminated,
    ]

    public struct Record: Sendable, Equatable {
        public var row: Int
        public var code: String
        public var name: String
        /// For a new supplier; nil leaves an existing supplier's status as it is.
        public var status: SupplierStatus?
        public var contactName: String
        public var contactPhone: String
        public var contactEmail: String
        public var address: String
        public var capabilities: [String]
        public var isNew: Bool
    }

    /// Capabilities as people type them in one cell: separated by commas (either width), 、 or ;.
    public static func capabilities(_ text: String) -> [String] {
        var seen = Set<String>()
        return text.split(whereSeparator: { ",，、;；".contains($0) }).map { String($0).trimmingSpaces() }
            .filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// - Parameters:
    ///   - existing: status of each supplier already stored, by code.
    ///   - takenCodes: organization codes used by anything that is not a supplier (the manufacturer).
    ///   - mayCreate: whether the importing person may create suppliers.
    public static func validate(_ table: ImportTable, existing: [String: SupplierStatus], takenCodes: Set<String>,
                                mayCreate: Bool) -> (records: [Record], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var problems: [ImportProblem] = []
        var records: [Record] = []
        var first: [String: Int] = [:]
        for row in rows {
            var bad: [ImportProblem] = []
            let code = row["code"], name = row["name"], email = row["contactEmail"]
            for key in ["code", "name"] where row[key].isEmpty { bad.append(row.problem(key, "required")) }
            if !code.isEmpty && !ImportCells.isCode(code) { bad.append(row.problem("code", "badCode")) }
            if takenCodes.contains(code) { bad.append(row.problem("code", "taken")) }
            for (key, max) in [("name", 200), ("contactName", 100), ("contactPhone", 40), ("contactEmail", 200), ("address", 300)] where row[key].count > max {
                bad.append(row.problem(key, "tooLong", ["max": String(max)]))
            }
            if !email.isEmpty && !(email.contains("@") && !email.hasPrefix("@") && !email.hasSuffix("@") && !email.contains(" ")) {
                bad.append(row.problem("contactEmail", "badEmail"))
            }
            let caps = capabilities(row["capabilities"])
            if caps.count > 50 { bad.append(row.problem("capabilities", "tooMany", ["max": "50"])) }
            let status = ImportCells.lookup(row["status"], in: statusNames)
            if !row["status"].isEmpty && status == nil { bad.append(row.problem("status", "invalidValue")) }
            let current = existing[code]
            if let current, let status, status != current {
                bad.append(row.problem("status", "statusNotByImport", ["current": current.rawValue]))
            }
            if current == nil && !code.isEmpty {
                if !mayCreate { bad.append(row.problem("code", "supplierCreateNotAllowed")) }
                if let status, ![.prospect, .qualified, .probation].contains(status) { bad.append(row.problem("status", "invalidInitialStatus")) }
            }
            if !code.isEmpty {
                if let f = first[code] { bad.append(row.problem("code", "duplicateInFile", ["first": String(f)])) } else { first[code] = row.number }
            }
            problems += bad
            guard bad.isEmpty else { continue }
            records.append(Record(row: row.number, code: code, name: name, status: current == nil ? (status ?? .prospect) : nil,
                                  contactName: row["contactName"], contactPhone: row["contactPhone"], contactEmail: email,
                                  address: row["address"], capabilities: caps, isNew: current == nil))
        }
        return (records, problems)
    }
}

/// The price agreement import: one row per agreement. A row whose supplier, item, operation and
/// effective-from day match a stored agreement updates it; any other row is a new agreement.
public enum PriceImport {
    public static let columns = [
        ImportColumn("supplier", ["supplier", "supplier code", "供应商编码", "供應商編碼"], required: true),
        ImportColumn("item", ["item", "item code", "物料编码", "物料編碼"], required: true),
        ImportColumn("operation", ["operation", "operation code", "工序编码", "工序編碼"], required: false),
        ImportColumn("currency", ["currency", "币种", "幣別"], required: false),
        ImportColumn("validFrom", ["valid from", "生效日期"], required: true),
        ImportColumn("validTo", ["valid to", "失效日期"], required: false),
        ImportColumn("unitPrice", ["unit price", "单价", "單價", "加工单价", "加工單價"], required: true),
        ImportColumn("tiers", ["tiers", "quantity tiers", "阶梯价", "階梯價"], required: false),
    ]

    public struct Record: Sendable, Equatable {
        public var row: Int
        public var agreement: PriceAgreement
        /// The stored agreement this row updates (its id), if any.
        public var updates: String?
    }

    /// Tiers as written in one cell: `1000=2.35; 5000=2.20` (from quantity = unit price).
    public static func tiers(_ text: String) -> [PriceAgreement.Tier]? {
        var out: [PriceAgreement.Tier] = []
        for part in text.split(whereSeparator: { ";；".contains($0) }) {
            let pair = part.split(separator: "=", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
            guard pair.count == 2, let q = try? FixedDecimal.parse(pair[0]), let p = try? FixedDecimal.parse(pair[1]), q > .zero, p >= .zero else {
                return nil
            }
            out.append(.init(minimumQuantity: q, unitPrice: p))
        }
        return out
    }

    public static func tiersText(_ tiers: [PriceAgreement.Tier]) -> String {
        tiers.sorted { $0.minimumQuantity < $1.minimumQuantity }.map { "\($0.minimumQuantity)=\($0.unitPrice)" }.joined(separator: "; ")
    }

    /// - Parameters:
    ///   - items: item codes, each with the operation codes of its routing (as stored, or as the
    ///     same workbook replaces it).
    ///   - suppliers: supplier codes that exist or are created by the same workbook.
    ///   - existing: stored agreements, with supplier and item given as codes.
    public static func validate(_ table: ImportTable, items: [String: Set<String>], suppliers: Set<String>,
                                existing: [PriceAgreement]) -> (records: [Record], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var problems: [ImportProblem] = []
        var records: [Record] = []
        for row in rows {
            var bad: [ImportProblem] = []
            let supplier = row["supplier"], item = row["item"], operation = row["operation"]
            for key in ["supplier", "item", "validFrom", "unitPrice"] where row[key].isEmpty { bad.append(row.problem(key, "required")) }
            if !supplier.isEmpty && !suppliers.contains(supplier) { bad.append(row.problem("supplier", "unknownSupplier")) }
            if !item.isEmpty && items[item] == nil { bad.append(row.problem("item", "unknownItem", ["code": item])) }
            if !operation.isEmpty, let ops = items[item], !ops.contains(operation) {
                bad.append(row.problem("operation", "unknownOperation", ["code": operation]))
            }
            let from = ImportCells.day(row["validFrom"])
            if !row["validFrom"].isEmpty && from == nil { bad.append(row.problem("validFrom", "badDate")) }
            var to: Day?
            if !row["validTo"].isEmpty {
                to = ImportCells.day(row["validTo"])
                if to == nil { bad.append(row.problem("validTo", "badDate")) } else if let from, to! < from { bad.append(row.problem("validTo", "beforeStart")) }
            }
            let price = try? FixedDecimal.parse(row["unitPrice"])
            if !row["unitPrice"].isEmpty && (price == nil || price! < .zero) { bad.append(row.problem("unitPrice", "nonNegativeDecimal")) }
            let tiers = tiers(row["tiers"])
            if tiers == nil { bad.append(row.problem("tiers", "badTiers")) }
            let currency = row["currency"].isEmpty ? "CNY" : row["currency"].uppercased()
            problems += bad
            guard bad.isEmpty, let from, let price, let tiers, let validity = Validity(from: from, to: to) else { continue }
            let op = operation.isEmpty ? nil : operation
            let updates = existing.first { $0.supplier == supplier && $0.item == item && $0.operation == op && $0.validity.from == from }?.id
            let agreement = PriceAgreement(id: updates ?? "row-\(row.number)", supplier: supplier, item: item, operation: op,
                                           currency: currency, validity: validity, unitPrice: price, tiers: tiers)
            records.append(Record(row: row.number, agreement: agreement, updates: updates))
        }
        // Overlaps are checked against what the stored agreements will be once the file is applied.
        let replaced = Set(records.compactMap(\.updates))
        let after = existing.filter { !replaced.contains($0.id) } + records.map(\.agreement)
        for r in records {
            for p in PriceBook.check(r.agreement, against: after) {
                switch p {
                case .negativePrice: problems.append(ImportProblem(row: r.row, column: "unitPrice", code: "negative"))
                case .duplicateTier(let q): problems.append(ImportProblem(row: r.row, column: "tiers", code: "duplicateTier", params: ["quantity": q.description]))
                case .badCurrency: problems.append(ImportProblem(row: r.row, column: "currency", code: "badCurrency"))
                case .overlaps(let other):
                    let otherRow = records.first { $0.agreement.id == other }.map { String($0.row) }
                    problems.append(ImportProblem(row: r.row, column: "validFrom", code: otherRow == nil ? "priceOverlap" : "priceOverlapInFile",
                                                  params: ["first": otherRow ?? ""]))
                }
            }
        }
        return (problems.isEmpty ? records : [], problems.sorted { ($0.row, $0.column ?? "") < ($1.row, $1.column ?? "") })
    }
}
