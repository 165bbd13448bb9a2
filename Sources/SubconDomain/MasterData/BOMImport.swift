/// The BOM import: one row per BOM line; rows with the same parent and effective-from day form
/// one new BOM version.
public enum BOMImport {
    public static let columns = [
        ImportColumn("parent", ["parent", "父件编码", "父件編碼", "parent code"], required: true),
        ImportColumn("validFrom", ["valid from", "effective from", "生效日期"], required: true),
        ImportColumn("validTo", ["valid to", "effective to", "失效日期"], required: false),
        ImportColumn("component", ["component", "子件编码", "子件編碼", "component code"], required: true),
        ImportColumn("quantityPer", ["quantity per", "qty per", "单位用量", "單位用量"], required: true),
        ImportColumn("scrapPercent", ["scrap %", "scrap", "损耗率", "損耗率", "损耗率%", "損耗率%"], required: false),
        ImportColumn("supplyBy", ["supplied by", "supply by", "供料方"], required: false),
    ]

    public static let supplyNames: [String: SupplyBy] = [
        "manufacturer": .manufacturer, "我方发料": .manufacturer, "我方發料": .manufacturer, "we issue": .manufacturer,
        "supplier": .supplier, "供应商自购": .supplier, "供應商自購": .supplier, "supplier buys": .supplier,
    ]

    public struct NewVersion: Sendable, Equatable {
        public var version: BOMVersion
        /// Sheet row of each line, in order.
        public var rows: [Int]
        /// The same version is already stored (same parent, period and lines): importing an
        /// export again changes nothing.
        public var unchanged = false
    }

    /// - Parameters:
    ///   - items: codes of items that exist (parents and components must be among them).
    ///   - existing: every BOM version already stored, for numbering, overlap and cycle checks.
    public static func validate(_ table: ImportTable, items: Set<String>, existing: [BOMVersion]) -> (versions: [NewVersion], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var problems: [ImportProblem] = []
        struct Key: Hashable { let parent: String; let from: Day }
        var groups: [Key: (to: Day?, lines: [BOMLine], rows: [Int])] = [:]
        var order: [Key] = []
        for row in rows {
            let n = row.number
            func cell(_ key: String) -> String { row[key] }
            var bad = false
            func problem(_ column: String, _ code: String, _ params: [String: String] = [:]) {
                problems.append(ImportProblem(row: n, column: column, code: code, params: params)); bad = true
            }
            let parent = cell("parent"), component = cell("component")
            for (key, value) in [("parent", parent), ("validFrom", cell("validFrom")), ("component", component), ("quantityPer", cell("quantityPer"))] where value.isEmpty {
                problem(key, "required")
            }
            if !parent.isEmpty && !items.contains(parent) { problem("parent", "unknownItem", ["code": parent]) }
            if !component.isEmpty && !items.contains(component) { problem("component", "unknownItem", ["code": component]) }
            let from = ImportCells.day(cell("validFrom"))
            if !cell("validFrom").isEmpty && from == nil { problem("validFrom", "badDate") }
            var to: Day?
            if !cell("validTo").isEmpty {
                to = ImportCells.day(cell("validTo"))
                if to == nil { problem("validTo", "badDate") } else if let from, to! < from { problem("validTo", "beforeStart") }
            }
            let qty = try? FixedDecimal.parse(cell("quantityPer"))
            if !cell("quantityPer").isEmpty && (qty == nil || qty! <= .zero) { problem("quantityPer", "positiveDecimal") }
            var scrap = FixedDecimal.zero
            let scrapText = cell("scrapPercent").replacingAll("%", with: "")
            if !scrapText.isEmpty {
                if let s = try? FixedDecimal.parse(scrapText), s >= .zero { scrap = s } else { problem("scrapPercent", "nonNegativeDecimal") }
            }
            var supply = SupplyBy.manufacturer
            if !cell("supplyBy").isEmpty {
                if let s = ImportCells.lookup(cell("supplyBy"), in: supplyNames) { supply = s } else { problem("supplyBy", "invalidValue") }
            }
            guard !bad, let from, let qty else { continue }
            let key = Key(parent: parent, from: from)
            if var g = groups[key] {
                if g.to != to { problems.append(ImportProblem(row: n, column: "validTo", code: "bomEndDiffers", params: ["first": String(g.rows[0])])); continue }
                if g.lines.contains(where: { $0.component == component }) {
                    problems.append(ImportProblem(row: n, column: "component", code: "duplicateInFile", params: ["first": String(g.rows[0])])); continue
                }
                g.lines.append(BOMLine(component: component, quantityPer: qty, scrapPercent: scrap, supplyBy: supply))
                g.rows.append(n)
                groups[key] = g
            } else {
                groups[key] = (to, [BOMLine(component: component, quantityPer: qty, scrapPercent: scrap, supplyBy: supply)], [n])
                order.append(key)
            }
        }
        var nextNumber: [String: Int] = [:]
        for v in existing { nextNumber[v.parent] = max(nextNumber[v.parent] ?? 0, v.number) }
        var versions: [NewVersion] = []
        for key in order {
            let g = groups[key]!
            if let same = existing.first(where: { $0.parent == key.parent && $0.validity.from == key.from && $0.validity.to == g.to && $0.lines == g.lines }) {
                versions.append(NewVersion(version: same, rows: g.rows, unchanged: true))
                continue
            }
            let number = (nextNumber[key.parent] ?? 0) + 1
            nextNumber[key.parent] = number
            guard let validity = Validity(from: key.from, to: g.to) else { continue }
            versions.append(NewVersion(version: BOMVersion(parent: key.parent, number: number, validity: validity, lines: g.lines), rows: g.rows))
        }
        // Rules across the whole set: overlapping periods and cycles, reported at the first row of the version involved.
        let all = existing + versions.filter { !$0.unchanged }.map(\.version)
        func firstRow(parent: String, number: Int?) -> Int {
            versions.first { !$0.unchanged && $0.version.parent == parent && (number == nil || $0.version.number == number) }?.rows.first ?? 1
        }
        for p in BOMRules.check(all) {
            switch p {
            case .overlappingVersions(let parent, let a, let b):
                guard let row = versions.first(where: { !$0.unchanged && $0.version.parent == parent && ($0.version.number == a || $0.version.number == b) })?.rows.first else { continue }
                problems.append(ImportProblem(row: row, column: "validFrom", code: "bomOverlap", params: ["first": String(a), "second": String(b)]))
            case .cycle(let chain):
                let row = chain.compactMap { code in versions.first { !$0.unchanged && $0.version.parent == code }?.rows.first }.min() ?? firstRow(parent: chain[0], number: nil)
                problems.append(ImportProblem(row: row, column: "component", code: "bomCycle", params: ["chain": chain.joined(separator: " → ")]))
            case .selfReference(let c):
                problems.append(ImportProblem(row: firstRow(parent: c, number: nil), column: "component", code: "bomSelf", params: ["component": c]))
            case .nonPositiveQuantity, .negativeScrap:
                continue // already reported per row
            }
        }
        return (problems.isEmpty ? versions : [], problems.sorted { ($0.row, $0.column ?? "") < ($1.row, $1.column ?? "") })
    }
}
