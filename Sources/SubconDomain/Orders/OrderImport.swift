/// Orders from a sheet (as purchasers keep them in Excel today): one row per order line; rows
/// with the same supplier and order reference form one draft order.
public enum OrderImport {
    public static let columns = [
        ImportColumn("ref", ["order ref", "reference", "订单参考号", "訂單參考號", "参考号", "參考號"], required: true),
        ImportColumn("supplier", ["supplier", "supplier code", "供应商编码", "供應商編碼"], required: true),
        ImportColumn("item", ["item", "item code", "物料编码", "物料編碼"], required: true),
        ImportColumn("operation", ["operation", "operation code", "工序编码", "工序編碼"], required: false),
        ImportColumn("quantity", ["quantity", "数量", "數量"], required: true),
        ImportColumn("dueDate", ["due date", "due", "交期", "交货日期", "交貨日期"], required: true),
        ImportColumn("unitPrice", ["unit price", "单价", "單價"], required: false),
        ImportColumn("note", ["note", "备注", "備註"], required: false),
    ]

    public struct Line: Sendable, Equatable {
        public var row: Int
        public var item: String
        public var operation: String?
        public var quantity: FixedDecimal
        public var dueDate: Day
        /// nil: the agreement in force decides.
        public var unitPrice: FixedDecimal?
    }

    public struct NewOrder: Sendable, Equatable {
        public var supplier: String
        public var ref: String
        public var note: String
        public var lines: [Line]
    }

    /// - Parameters:
    ///   - items: item codes with the operation codes of their routings.
    ///   - suppliers: every supplier's status by code; orders go only to those in
    ///     `SupplierStatus.mayReceiveOrders`.
    public static func validate(_ table: ImportTable, items: [String: Set<String>],
                                suppliers: [String: SupplierStatus]) -> (orders: [NewOrder], problems: [ImportProblem]) {
        let (rows, missing) = table.rows(columns)
        if !missing.isEmpty { return ([], missing) }
        var problems: [ImportProblem] = []
        var orders: [NewOrder] = []
        var index: [String: Int] = [:]
        for row in rows {
            var bad: [ImportProblem] = []
            let ref = row["ref"], supplier = row["supplier"], item = row["item"], op = row["operation"]
            for key in ["ref", "supplier", "item", "quantity", "dueDate"] where row[key].isEmpty { bad.append(row.problem(key, "required")) }
            if ref.count > 40 { bad.append(row.problem("ref", "tooLong", ["max": "40"])) }
            if !supplier.isEmpty {
                if let status = suppliers[supplier] {
                    if !SupplierStatus.mayReceiveOrders.contains(status) {
                        bad.append(row.problem("supplier", "supplierNotQualified", ["status": status.rawValue]))
                    }
                } else {
                    bad.append(row.problem("supplier", "unknownSupplier"))
                }
            }
            if !item.isEmpty && items[item] == nil { bad.append(row.problem("item", "unknownItem", ["code": item])) }
            if !op.isEmpty, let ops = items[item], !ops.contains(op) { bad.append(row.problem("operation", "unknownOperation", ["code": op])) }
            let quantity = try? FixedDecimal.parse(row["quantity"])
            if !row["quantity"].isEmpty && (quantity == nil || quantity! <= .zero || quantity! >= OrderLines.maxQuantity) {
                bad.append(row.problem("quantity", "positiveDecimal"))
            }
            let due = ImportCells.day(row["dueDate"])
            if !row["dueDate"].isEmpty && due == nil { bad.append(row.problem("dueDate", "badDate")) }
            var price: FixedDecimal?
            if !row["unitPrice"].isEmpty {
                price = try? FixedDecimal.parse(row["unitPrice"])
                if price == nil || price! < .zero || price! >= OrderLines.maxUnitPrice { bad.append(row.problem("unitPrice", "nonNegativeDecimal")) }
            }
            if row["note"].count > 1000 { bad.append(row.problem("note", "tooLong", ["max": "1000"])) }
            problems += bad
            guard bad.isEmpty, let quantity, let due else { continue }
            let line = Line(row: row.number, item: item, operation: op.isEmpty ? nil : op, quantity: quantity, dueDate: due, unitPrice: price)
            let key = supplier + "\u{1}" + ref
            if let i = index[key] {
                orders[i].lines.append(line)
                if orders[i].note.isEmpty { orders[i].note = row["note"] }
            } else {
                index[key] = orders.count
                orders.append(NewOrder(supplier: supplier, ref: ref, note: row["note"], lines: [line]))
            }
        }
        // Good rows are returned even when others are bad, so prices can be checked for them too;
        // nothing is written while any problem remains.
        return (orders, problems)
    }
}
