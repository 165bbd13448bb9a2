import Fluent
import SubconDomain
import SQLKit
import Vapor

/// The supplier filter of a buyer's report page (stock held, the month's write-off, statements):
/// a drop-down of every supplier while there are few enough to scroll through, a supplier code
/// beyond that. With a thousand suppliers the stock and write-off pages offered the first 500 by
/// code, and the others could not be chosen at all.
struct SupplierFilter {
    /// Beyond this many suppliers the page asks for a code.
    static let dropDownLimit = 300

    /// Whether the page offers a supplier at all: not to a supplier, whose scope names it.
    let offered: Bool
    /// A code field instead of the drop-down.
    let byCode: Bool
    /// The code as typed (kept on the page, also when no supplier has it).
    let code: String
    let options: [Option]
    /// The code names no supplier: said beside the field, and the page lists nothing.
    let unknownCode: Bool
    /// The chosen supplier, from `supplierId` or from the code.
    let supplierID: UUID?

    /// Reads `supplierId` or `supplierCode` from the query. Nobody for a supplier's own pages,
    /// whose scope already names them.
    static func read(_ p: Principal, req: Request, allLabel: String) async throws -> SupplierFilter {
        var id = try req.uuidQuery("supplierId")
        let code = (req.queryText("supplierCode") ?? "").trimmingCharacters(in: .whitespaces)
        guard !p.isSupplier else { return SupplierFilter(offered: false, byCode: false, code: "", options: [], unknownCode: false, supplierID: nil) }
        let sql = req.application.reads
        let supplier = OrganizationKind.supplier.rawValue
        let many = try await tooManyForADropDown(sql)
        var unknown = false
        if id == nil, !code.isEmpty {
            id = try await supplierID(code: code, sql)
            // A code nobody has lists nothing rather than everyone.
            if id == nil { unknown = true; id = UUID() }
        }
        var options: [Option] = []
        if !many {
            options = [Option(value: "", label: allLabel, selected: id == nil)]
                + (try await Organization.query(on: req.db).filter(\.$kind == supplier).sort(\.$code).all())
                .map { Option(value: $0.id!.uuidString, label: "\($0.code) · \($0.name)", selected: $0.id == id) }
        }
        var shown = code
        if many, shown.isEmpty, let id {
            struct Named: Decodable { let code: String }
            shown = try await sql.raw("SELECT code FROM organizations WHERE id = \(bind: id)").first(decoding: Named.self)?.code ?? ""
        }
        return SupplierFilter(offered: true, byCode: many, code: shown, options: options, unknownCode: unknown, supplierID: id)
    }

    /// Whether a supplier beyond the drop-down's limit exists: one step past it in the index, not a count.
    static func tooManyForADropDown(_ sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("""
            SELECT 1 AS found FROM organizations WHERE kind = \(bind: OrganizationKind.supplier.rawValue) ORDER BY code LIMIT 1 OFFSET \(literal: dropDownLimit)
            """).first() != nil
    }

    /// The supplier a code names, if any.
    static func supplierID(code: String, _ sql: any SQLDatabase) async throws -> UUID? {
        struct Found: Decodable { let id: UUID }
        return try await sql.raw("SELECT id FROM organizations WHERE kind = \(bind: OrganizationKind.supplier.rawValue) AND code = \(bind: code)")
            .first(decoding: Found.self)?.id
    }

    /// The labelled field: the drop-down, or the code beyond its limit; nothing for a supplier.
    /// `autosubmit`: the drop-down sends its form when a supplier is chosen.
    func field(_ t: inout PageTexts, autosubmit: Bool = false) -> HTML {
        guard offered else { return HTML() }
        let input: HTML = byCode ? "<input name=\"supplierCode\" value=\"\(code)\" maxlength=\"40\" placeholder=\"\(t("statement.supplierCode"))\">"
            : "<select name=\"supplierId\"\(HTML.when(autosubmit, " data-autosubmit"))>\(Option.html(options))</select>"
        return "<label>\(t("prices.supplier"))\(input)</label>"
    }

    /// What the page says under its filters when the code names no supplier.
    func message(_ t: inout PageTexts) -> HTML {
        // Said at the field the page has: the code's, or the drop-down when a link brought the code.
        HTML.when(unknownCode, "<p class=\"err\" data-field=\"\(byCode ? "supplierCode" : "supplierId")\">\(t("error.unknownSupplier"))</p>")
    }

    /// The field and the message for a Leaf page (`#unsafeHTML`), written as the Swift pages write them.
    struct Markup: Encodable { let field: HTML; let message: HTML }

    func markup(_ req: Request) -> Markup {
        var t = req.texts()
        return Markup(field: field(&t), message: message(&t))
    }

    /// The query that keeps this choice on the page's other links (its export, the next page).
    var query: String {
        guard let supplierID, !unknownCode else { return "" }
        return "&supplierId=\(supplierID)"
    }
}

/// The supplier field of a form that makes something for one supplier (a new order, a new price
/// agreement): a drop-down of the suppliers it may be for while there are few, a supplier code
/// beyond `SupplierFilter.dropDownLimit` of them. With a thousand suppliers the price form listed
/// every one, decoded as models, on each view.
struct SupplierChoice {
    let byCode: Bool
    let options: [Option]
    let code: String

    /// Which suppliers a form offers.
    enum Offered { case every, mayReceiveOrders }

    /// The field for a form showing `values` (`supplierId` or `supplierCode` as sent). The limit
    /// counts only the suppliers offered; a code is checked by the service the form calls, as
    /// the API's id is.
    static func read(values: [String: String], req: Request, offering: Offered = .every) async throws -> SupplierChoice {
        // The suppliers offered in code order, one past the limit, on the read connections: the
        // 301st says "too many" and the rest are the drop-down, one statement either way.
        var eligible: SQLQueryString = ""
        if offering == .mayReceiveOrders {
            eligible = " AND o.active = \(bind: true) AND EXISTS (SELECT 1 FROM supplier_profiles p WHERE p.organization_id = o.id AND p.status IN (\(binds: SupplierStatus.mayReceiveOrders.map(\.rawValue).sorted())))"
        }
        struct Row: Decodable { let id: UUID; let code: String; let name: String }
        let suppliers = try await req.application.reads.raw("SELECT o.id, o.code, o.name FROM organizations o WHERE o.kind = \(bind: OrganizationKind.supplier.rawValue)"
                                                            + eligible + " ORDER BY o.code LIMIT \(literal: SupplierFilter.dropDownLimit + 1)").all(decoding: Row.self)
        if suppliers.count > SupplierFilter.dropDownLimit { return SupplierChoice(byCode: true, options: [], code: values["supplierCode"] ?? "") }
        let chosen = values["supplierId"] ?? ""
        return SupplierChoice(byCode: false, options: suppliers.map {
            Option(value: $0.id.uuidString, label: "\($0.code) · \($0.name)", selected: chosen == $0.id.uuidString)
        }, code: "")
    }

    /// The supplier a submitted form names, by id or by code; a problem on the form's supplier
    /// field when it names nobody.
    static func chosen(id: String?, code: String?, req: Request) async throws -> UUID {
        if let id = id.flatMap(UUID.init(uuidString:)) { return id }
        let code = (code ?? "").trimmingCharacters(in: .whitespaces)
        if !code.isEmpty, let found = try await SupplierFilter.supplierID(code: code, req.application.reads) { return found }
        throw Problem.validation([FieldProblem("supplierId", (id ?? "").isEmpty && code.isEmpty ? "required" : "unknownSupplier")])
    }

    /// The labelled, required field.
    func field(_ t: inout PageTexts) -> HTML { "<label>\(t("prices.supplier"))\(input(&t))</label>" }

    /// The required input alone, for a form that labels it its own way.
    func input(_ t: inout PageTexts) -> HTML {
        byCode
            ? "<input name=\"supplierCode\" value=\"\(code)\" maxlength=\"40\" required autocomplete=\"off\" placeholder=\"\(t("statement.supplierCode"))\">"
            // An empty first choice, so that nobody makes something for the first supplier by not choosing.
            : "<select name=\"supplierId\" required>\(Option.html([Option(value: "", label: t("prices.chooseSupplier"))] + options))</select>"
    }

    /// The field for a Leaf form (`#unsafeHTML`).
    func markup(_ req: Request) -> HTML {
        var t = req.texts()
        return field(&t)
    }
}
