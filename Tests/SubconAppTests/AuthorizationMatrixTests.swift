import Fluent
import Foundation
import SQLKit
import SubconDomain
import Testing
import VaporTesting
@testable import SubconApp

/// Every route of the app, API and pages, called as every kind of person: each manufacturer
/// role, a supplier admin and a supplier user of the supplier that owns the records in the path,
/// the admin of another supplier, and a deactivated user. What each may do is written once, in
/// `AccessTable.rules`; a route without a row there fails the test, so a new route cannot
/// ship without someone deciding who may use it.
@Suite struct AuthorizationMatrixTests {
    @Test func everyRouteAsEveryPersonMatchesTheTable() async throws {
        try await TestApp.run(scenario: true) { t in
            let world = try await MatrixWorld.build(t)
            var checked = 0
            var failures: [String] = []
            var missing: [String] = []
            // MATRIX_DISCOVER=1 prints what every route answers each persona (a route without a row
            // is called as if open to all), to write the row of a new route from what it does.
            let discover = ProcessInfo.processInfo.environment["MATRIX_DISCOVER"] == "1"
            var observed: [String] = []
            // The admin goes last: some allowed requests change state (a notification read,
            // a token revoked), and the admin's rows are the ones that own those records.
            let routes = t.app.routes.all.sorted { $0.description < $1.description }
            for route in routes {
                let key = AccessTable.key(route)
                let ending = ["logout", "password", "tokens/:id", "revoke"].contains { key.hasSuffix($0) }
                guard let rule = AccessTable.rules[key] ?? (discover ? Access(.signedIn, consumesSession: ending) : nil) else { missing.append(key); continue }
                var line = key + " →"
                for persona in world.personas {
                    // An event stream that lets the caller in never ends; only refusals are asked for.
                    let isStream = route.path.last?.description == "events"
                    let status = isStream && rule.expected(for: persona) == .allow ? .ok : try await world.call(route, as: persona, rule: rule)
                    checked += 1
                    let want = rule.expected(for: persona)
                    line += " \(persona.name)=\(status.code)"
                    if !want.accepts(status, page: !key.contains(" /api/")) {
                        failures.append("\(key) as \(persona.name): \(status.code), expected \(want)")
                    }
                }
                observed.append(line)
                if discover { print(line) }
            }
            #expect(missing.isEmpty, "routes without a row in AccessTable.rules:\n\(missing.joined(separator: "\n"))")
            #expect(failures.isEmpty, "\(failures.count) of \(checked) answers differ:\n\(failures.joined(separator: "\n"))")
            #expect(checked >= 200 * world.personas.count)
            let stale = Set(AccessTable.rules.keys).subtracting(routes.map(AccessTable.key))
            #expect(stale.isEmpty, "rows for routes that no longer exist: \(stale.sorted())")
            print("authorization matrix: \(routes.count) routes × \(world.personas.count) personas = \(checked) answers checked")
        }
    }
}

/// Who is calling.
struct Persona: Sendable {
    enum Kind: Sendable, Equatable { case buyer, supplier, otherSupplier, deactivated }
    let name: String
    let login: String
    let roles: Set<Role>
    let kind: Kind
    var token = ""
    var browser = TestApp.Browser()
    var csrf = ""
}

/// What an answer should be.
enum Outcome: CustomStringConvertible, Equatable {
    case allow, forbidden, notFound, denied, signIn, refused
    var description: String {
        switch self {
        case .allow: "allowed (not 401/403/404)"
        case .forbidden: "403"
        case .notFound: "404"
        case .denied: "403 or 404"
        case .signIn: "sign-in required"
        case .refused: "401"
        }
    }

    func accepts(_ s: HTTPResponseStatus, page: Bool) -> Bool {
        guard s.code < 500 else { return false }
        switch self {
        case .allow: return ![.unauthorized, .forbidden, .notFound].contains(s)
        case .forbidden: return s == .forbidden
        case .notFound: return s == .notFound
        case .denied: return s == .forbidden || s == .notFound
        case .refused: return s == .unauthorized
        // A page sends a person whose session ended to the login page.
        // (A form posted without a session fails the CSRF check first: 403.)
        case .signIn: return page ? (s == .seeOther || s == .forbidden) : s == .unauthorized
        }
    }
}

/// The rule of one route.
struct Access: Sendable {
    enum Who: Sendable {
        /// Public: signed in or not.
        case anyone
        /// The sign-in form itself: open to all, but a deactivated account is refused (401).
        case signInForm
        case signedIn, buyers, suppliers
        case can(Action)
        /// Any one of these permissions.
        case canAny([Action])
        /// The manufacturer's people allowed any of these.
        case buyersWithAny([Action])
        /// The supplier's own people who have this permission (not the buyer's, not even the admin).
        case suppliersWith(Action)
        /// The supplier's own people, or the buyer's people with this permission.
        case suppliersOr(Action)
        /// Only the person the record belongs to (own tokens, notifications, imports).
        case only(String)
    }
    let who: Who
    /// The path names a record of supplier1: another supplier gets a 404, never the record.
    let scoped: Bool
    /// A manufacturer-only area that does not exist for suppliers: 404 rather than 403.
    let hidden: Bool
    /// Requests that end the caller's own session or token use a fresh one.
    let consumesSession: Bool

    init(_ who: Who, scoped: Bool = false, hidden: Bool = false, consumesSession: Bool = false) {
        self.who = who; self.scoped = scoped; self.hidden = hidden; self.consumesSession = consumesSession
    }

    func allows(_ p: Persona) -> Bool {
        switch who {
        case .anyone, .signedIn, .signInForm: true
        case .buyers: p.roles.contains { $0.side == .manufacturer }
        case .suppliers: p.roles.contains { $0.side == .supplier }
        case .can(let a): Policy.allows(p.roles, a)
        case .canAny(let actions): actions.contains { Policy.allows(p.roles, $0) }
        case .buyersWithAny(let actions): p.roles.contains { $0.side == .manufacturer } && actions.contains { Policy.allows(p.roles, $0) }
        case .suppliersWith(let a): p.roles.contains { $0.side == .supplier } && Policy.allows(p.roles, a)
        case .suppliersOr(let a): p.roles.contains { $0.side == .supplier } || Policy.allows(p.roles, a)
        case .only(let login): p.login == login
        }
    }

    func expected(for p: Persona) -> Outcome {
        if case .anyone = who { return .allow }
        if case .signInForm = who { return p.kind == .deactivated ? .refused : .allow }
        if p.kind == .deactivated { return .signIn }
        if case .only = who { return allows(p) ? .allow : .notFound }
        if scoped && p.kind == .otherSupplier { return allows(p) ? .notFound : .denied }
        if hidden && !allows(p) && p.roles.contains(where: { $0.side == .supplier }) { return .notFound }
        return allows(p) ? .allow : .forbidden
    }
}

/// The people and the records the matrix works with.
struct MatrixWorld {
    let t: TestApp
    var personas: [Persona]
    /// Path parameter → value, chosen by the route's path (see `value(for:in:)`).
    var ids: [String: String]

    static func build(_ t: TestApp) async throws -> MatrixWorld {
        let admin = try await t.token("admin")
        let jg = try await t.organization(code: "SUP-JG").id!
        let hdjm = try await t.organization(code: "HDJM").id!
        func create(_ login: String, org: UUID, roles: String) async throws {
            let r = try await t.request(.POST, "/api/v1/users", token: admin, json: """
                {"organizationId":"\(org)","login":"\(login)","displayName":"\(login)","password":"matrix-pass-1","roles":\(roles)}
                """)
            #expect(r.status == .created, "\(r.body.string)")
        }
        try await create("viewer1", org: hdjm, roles: #"["viewer"]"#)
        try await create("jg-user", org: jg, roles: #"["supplier_user"]"#)
        try await create("jg-finance", org: jg, roles: #"["supplier_finance"]"#)
        try await create("leaver", org: hdjm, roles: #"["planner"]"#)

        var personas: [Persona] = [
            Persona(name: "planner", login: "planner", roles: [.planner], kind: .buyer),
            Persona(name: "purchaser", login: "purchaser", roles: [.purchaser], kind: .buyer),
            Persona(name: "quality", login: "quality", roles: [.quality], kind: .buyer),
            Persona(name: "warehouse", login: "warehouse", roles: [.warehouse], kind: .buyer),
            Persona(name: "finance", login: "finance", roles: [.finance], kind: .buyer),
            Persona(name: "viewer", login: "viewer1", roles: [.viewer], kind: .buyer),
            Persona(name: "supplierUser", login: "jg-user", roles: [.supplierUser], kind: .supplier),
            Persona(name: "supplierAdmin", login: "supplier1", roles: [.supplierAdmin], kind: .supplier),
            Persona(name: "supplierFinance", login: "jg-finance", roles: [.supplierFinance], kind: .supplier),
            Persona(name: "otherSupplier", login: "supplier2", roles: [.supplierAdmin], kind: .otherSupplier),
            Persona(name: "deactivated", login: "leaver", roles: [.planner], kind: .deactivated),
            Persona(name: "admin", login: "admin", roles: [.admin], kind: .buyer),
        ]
        for i in personas.indices {
            personas[i].token = try await t.token(personas[i].login, password: password(personas[i].login))
            personas[i].browser = try await t.signIn(personas[i].login, password: password(personas[i].login))
            personas[i].csrf = try await t.csrf(&personas[i].browser)
        }
        // Deactivating ends every session and token of that person.
        let leaver = try await t.user("leaver")
        let off = try await t.request(.PATCH, "/api/v1/users/\(leaver.id!)", token: admin,
                                      json: #"{"version":\#(leaver.version),"active":false}"#)
        #expect(off.status == .ok, "\(off.body.string)")

        var ids: [String: String] = [:]
        let order = try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == jg).sort(\.$code).all()
        let withMaterial = try await MaterialDocument.query(on: t.db).filter(\.$supplierID == jg).first()
        let orderID = withMaterial?.orderID ?? order.first!.id!
        ids["order"] = orderID.uuidString
        ids["plan"] = try await ProductionPlan.query(on: t.db).first()!.id!.uuidString
        ids["materialDocument"] = withMaterial!.id!.uuidString
        ids["delivery"] = try await DeliveryNote.query(on: t.db).filter(\.$supplierID == jg).first()!.id!.uuidString
        let receipt = try await GoodsReceipt.query(on: t.db).filter(\.$supplierID == jg).first()!
        ids["receipt"] = receipt.id!.uuidString
        ids["inspection"] = try await Inspection.query(on: t.db).filter(\.$supplierID == jg).first()!.id!.uuidString
        ids["exception"] = try await ExceptionCase.query(on: t.db).filter(\.$supplierID == jg).first()!.id!.uuidString
        ids["qualityState"] = try await QualityState.query(on: t.db).filter(\.$supplierID == jg).first()!.id!.uuidString
        let namedItem = try await Item.query(on: t.db).filter(\.$code == "FG-RD-002").first()
        let anyItem = try await Item.query(on: t.db).first()
        ids["item"] = (namedItem ?? anyItem)!.id!.uuidString
        ids["bom"] = try await BOMHeader.query(on: t.db).first()!.id!.uuidString
        ids["price"] = try await PriceAgreementRow.query(on: t.db).filter(\.$supplier.$id == jg).first()!.id!.uuidString
        ids["organization"] = jg.uuidString
        // This month's statement of JG (the demo's disputed one) and one of its lines.
        let statement = try await Statement.query(on: t.db).filter(\.$supplierID == jg).sort(\.$period, .descending).first()!
        ids["statement"] = statement.id!.uuidString
        ids["statementLine"] = try await StatementLine.query(on: t.db).filter(\.$statementID == statement.id!).first()!.id!.uuidString
        // JG's scrapped material (a movement of the scenario), or any of its movements.
        let scrap = try await MaterialMovement.query(on: t.db).filter(\.$supplierID == jg).filter(\.$kind == "scrapped").first()
        let anyMove = try await MaterialMovement.query(on: t.db).filter(\.$supplierID == jg).first()
        ids["scrap"] = (scrap ?? anyMove)!.id!.uuidString
        // The demo's invoice of JG with a mismatch, still waiting for finance.
        ids["invoice"] = try await Invoice.query(on: t.db).filter(\.$supplierID == jg).filter(\.$status == "registered").first()!.id!.uuidString
        ids["site"] = try await Site.query(on: t.db).first()!.id!.uuidString
        ids["user"] = try await t.user("jg-user").id!.uuidString
        ids["report"] = try await ProgressReport.query(on: t.db).filter(\.$supplierID == jg).first()?.id?.uuidString ?? UUID().uuidString
        if try await Document.query(on: t.db).filter(\.$organizationID == jg).count() == 0 {
            let pdf = "%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
            let r = try await t.app.testing().sendRequest(.POST, "/api/v1/deliveries/\(ids["delivery"]!)/attachments?filename=coa.pdf",
                                                          headers: ["Authorization": "Bearer \(personas.first { $0.login == "supplier1" }!.token)",
                                                                    "Content-Type": "application/pdf"], body: ByteBuffer(string: pdf))
            #expect(r.status == .created, "\(r.body.string)")
        }
        ids["document"] = try await Document.query(on: t.db).filter(\.$organizationID == jg).first()!.id!.uuidString
        let personal = try await t.request(.POST, "/api/v1/me/tokens", token: admin, json: #"{"name":"matrix"}"#)
        ids["token"] = try personal.content.get(String.self, at: "id")
        _ = try await Outbox.deliverPending(app: t.app)
        let adminUser = try await t.user("admin")
        ids["notification"] = try await InboxItem.query(on: t.db).filter(\.$user.$id == adminUser.id!).first()!.id!.uuidString
        let upload = try await t.request(.POST, "/api/v1/imports/items", token: admin, json: nil,
                                         headers: [("Content-Type", "text/csv")])
        _ = upload
        ids["import"] = try await ImportBatch.query(on: t.db).first()?.id?.uuidString ?? UUID().uuidString
        let saved = try await t.request(.POST, "/api/v1/saved-reports", token: admin, json: #"{"name":"matrix","kind":"order-progress","query":"from=2026-01"}"#)
        ids["savedReport"] = try saved.content.get(String.self, at: "id")
        // A second one for the page's delete: each delete route removes its own.
        let savedForPage = try await t.request(.POST, "/api/v1/saved-reports", token: admin, json: #"{"name":"matrix page","kind":"order-progress"}"#)
        ids["savedReportPage"] = try savedForPage.content.get(String.self, at: "id")
        // A held review of supplier1 with an action item on its side.
        let planned = try await t.request(.POST, "/api/v1/organizations/\(jg)/reviews", token: admin, json: #"{"cadence":"monthly","scheduledOn":"2026-10-01"}"#)
        ids["review"] = try planned.content.get(String.self, at: "id")
        let held = try await t.request(.POST, "/api/v1/reviews/\(ids["review"]!)/minutes", token: admin,
                                       json: #"{"version":1,"minutes":"m","actions":[{"title":"a","ownerSide":"supplier","dueOn":"2026-10-15"}]}"#)
        ids["reviewAction"] = ((held.json["actions"] as? [[String: Any]])?.first?["id"] as? String) ?? UUID().uuidString
        let suggestion = UUID()
        try await t.sql.insert(into: "suggestions").columns("id", "supplier_id", "period", "rule", "params", "status", "reason", "created_at", "version")
            .values(SQLBind(suggestion), SQLBind(jg), SQLBind("2026-08"), SQLBind("quality"), SQLBind("{}"), SQLBind("open"), SQLBind(""), SQLBind(Date()), SQLBind(1)).run()
        ids["suggestion"] = suggestion.uuidString
        // A channel of supplier1 (a closed local port: its test message fails at once) and a given-up delivery.
        let channel = try await t.request(.POST, "/api/v1/channels", token: admin,
                                          json: #"{"kind":"webhook","name":"ERP","url":"http://127.0.0.1:9/hook","organizationId":"\#(jg)"}"#)
        ids["channel"] = try channel.content.get(String.self, at: "id")
        let delivery = UUID()
        try await t.sql.insert(into: "channel_deliveries").columns("id", "organization_id", "channel_id", "target", "kind", "outbox_id", "event", "payload",
                                                                   "status", "attempts", "next_at", "first_at", "created_at")
            .values(SQLBind(delivery), SQLBind(jg), SQLBind(UUID(uuidString: ids["channel"]!)!), SQLBind("channel:x"), SQLBind("webhook"), SQLBind(UUID()),
                    SQLBind("order.released"), SQLBind(#"{"messageKey":"notice.orderReleased","params":{}}"#), SQLBind("failed"), SQLBind(3),
                    SQLBind(Date()), SQLBind(Date()), SQLBind(Date())).run()
        ids["channelDelivery"] = delivery.uuidString
        // A drawing of an item of supplier1's order, shared with it by hand as well (whatever the order's state).
        let docItem = try await OrderLineRow.query(on: t.db).filter(\.$orderID == orderID).sort(\.$number).first()!.itemID
        let purchaser = personas.first { $0.login == "purchaser" }!.token
        let doc = try await t.request(.POST, "/api/v1/technical-documents", token: purchaser, json: #"{"itemId":"\#(docItem)","kind":"drawing","title":"matrix"}"#)
        let docID = try #require((doc.json["document"] as? [String: Any])?["id"] as? String)
        let rev = try await t.app.testing().sendRequest(.POST, "/api/v1/technical-documents/\(docID)/revisions?filename=m.pdf",
                                                        headers: ["Authorization": "Bearer \(purchaser)", "Content-Type": "application/pdf"],
                                                        body: ByteBuffer(string: "%PDF-1.4\nm\n%%EOF\n"))
        ids["techDocument"] = docID
        ids["techRevision"] = try #require(((rev.json["revisions"] as? [[String: Any]])?.first)?["id"] as? String)
        // A handover of supplier1's (as rows: the matrix only needs it to exist) with one checklist item.
        let handover = UUID()
        let bmOrg = try await t.organization(code: "SUP-BM").id!
        let bmOrder = try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == bmOrg).first()!.id!
        try await t.sql.insert(into: "handovers").columns("id", "code", "from_supplier_id", "to_supplier_id", "new_order_id", "reason", "status", "version", "created_by", "created_at")
            .values(SQLBind(handover), SQLBind("HO-M"), SQLBind(jg), SQLBind(bmOrg), SQLBind(bmOrder), SQLBind("matrix"), SQLBind("open"), SQLBind(1),
                    SQLBind(try await t.user("purchaser").id!), SQLBind(Date())).run()
        try await t.sql.insert(into: "handover_items").columns("id", "handover_id", "no", "text", "note")
            .values(SQLBind(UUID()), SQLBind(handover), SQLBind(1), SQLBind("物料已盘点"), SQLBind("")).run()
        ids["handover"] = handover.uuidString
        _ = try await t.request(.POST, "/api/v1/document-grants", token: purchaser, json: #"{"itemId":"\#(docItem)","supplierId":"\#(jg)","state":"granted"}"#)
        return MatrixWorld(t: t, personas: personas, ids: ids)
    }

    static func password(_ login: String) -> String { ["viewer1", "jg-user", "jg-finance", "leaver"].contains(login) ? "matrix-pass-1" : "demo" }

    /// The value of one path parameter of a route, from the segments before it.
    func value(for parameter: String, in path: [String]) -> String {
        let before = path.prefix { $0 != ":" + parameter }
        let owner = before.last ?? ""
        let grand = before.dropLast().last ?? ""
        switch (parameter, owner, grand) {
        case ("no", _, _), ("line", _, _): return "1"
        case ("lineId", _, _): return ids["statementLine"]!
        case ("step", _, _): return "4"
        case ("sourceType", _, _): return "inspection"
        case ("sourceId", _, _): return ids["inspection"]!
        case ("type", _, _): return "quality"
        case ("severity", _, _): return "major"
        case ("check", _, _): return "business_license"
        case ("code", "lang", _): return "en"
        case ("report", _, _): return ids["report"]!
        case ("kind", "reports", _): return "quality-by-defect"
        case ("order", _, _): return ids["order"]!
        case ("entity", _, _): return "order"
        case ("id", ":entity", _): return ids["order"]!
        case ("measure", _, _): return "quality"
        case ("id", "proposals", _): return UUID().uuidString
        case ("id", "suggestions", _): return ids["suggestion"]!
        case ("id", "reviews", _): return ids["review"]!
        case ("id", "review-actions", _): return ids["reviewAction"]!
        case ("revision", _, _): return ids["techRevision"]!
        default: break
        }
        switch (owner, grand) {
        case ("documents", "material"): return ids["materialDocument"]!
        case ("movements", "material"): return ids["scrap"]!
        case ("documents", _): return ids["document"]!
        case ("orders", _): return ids["order"]!
        case ("plans", _): return ids["plan"]!
        case ("deliveries", _): return ids["delivery"]!
        case ("receipts", _): return ids["receipt"]!
        case ("inspections", _): return ids["inspection"]!
        case ("exceptions", _): return ids["exception"]!
        case ("statements", _): return ids["statement"]!
        case ("invoices", _): return ids["invoice"]!
        case ("states", _): return ids["qualityState"]!
        case ("items", _): return ids["item"]!
        case ("boms", _): return ids["bom"]!
        case ("price-agreements", _), ("prices", _): return ids["price"]!
        case ("organizations", _), ("suppliers", _), ("scorecards", _): return ids["organization"]!
        case ("sites", _): return ids["site"]!
        case ("users", _): return ids["user"]!
        case ("tokens", _): return ids["token"]!
        case ("notifications", _), ("inbox", _): return ids["notification"]!
        case ("imports", _): return ids["import"]!
        case ("saved-reports", _): return ids["savedReport"]!
        case ("channels", _): return ids["channel"]!
        case ("technical-documents", _): return ids["techDocument"]!
        case ("handovers", _): return ids["handover"]!
        case ("channel-deliveries", _): return ids["channelDelivery"]!
        case ("saved", "reports"): return ids["savedReportPage"]!
        default: return "unmapped-\(owner)-\(parameter)"
        }
    }

    func call(_ route: Route, as persona: Persona, rule: Access) async throws -> HTTPResponseStatus {
        let segments = route.path.map(\.description)
        let path = "/" + segments.map { s in s.hasPrefix(":") ? value(for: String(s.dropFirst()), in: segments) : s }.joined(separator: "/")
        let api = segments.first == "api"
        let write = ![.GET, .HEAD].contains(route.method)
        if api {
            var token = persona.token
            if rule.consumesSession && persona.kind != .deactivated {
                token = try await t.token(persona.login, password: Self.password(persona.login))
            }
            // An empty object: enough to reach the permission check, never enough to change anything.
            // Imports take a file: an empty CSV.
            if route.method == .POST, segments.count == 4, segments[2] == "imports", !segments[3].hasPrefix(":") {
                return try await t.request(route.method, path, token: token, json: nil,
                                           headers: [("Content-Type", "text/csv")]).status
            }
            return try await t.request(route.method, path, token: token, json: write ? "{}" : nil).status
        }
        var browser = persona.browser
        var csrf = persona.csrf
        if rule.consumesSession && persona.kind != .deactivated {
            browser = try await t.signIn(persona.login, password: Self.password(persona.login))
            csrf = try await t.csrf(&browser)
        }
        // Forms that start from an order (or a kind of movement) name it, as the pages' links do.
        let context = ["order": ids["order"]!, "kind": "return"]
        let query = ["/deliveries/new", "/receipts/new", "/material/issue", "/material/move"].contains(path)
            ? "?" + context.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "&") : ""
        var form = context
        form["_csrf"] = csrf.isEmpty ? "none" : csrf
        if path == "/login" {
            // Signing in again, with this person's own credentials.
            browser = TestApp.Browser()
            _ = try await t.page(.GET, "/login", browser: &browser)
            form = ["login": persona.login, "password": Self.password(persona.login), "_csrf": browser.cookies["subcon_csrf"] ?? ""]
        }
        return try await t.page(route.method, path + query, browser: &browser, form: write ? form : nil).status
    }
}
