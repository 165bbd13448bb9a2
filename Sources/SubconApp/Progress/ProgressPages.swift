import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// The supplier's phone pages: open work sorted by urgency and the report form; the event
/// streams the order page and lists listen to.
struct ProgressPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("work", use: work)
        routes.get("orders", ":id", "report", use: reportForm)
        routes.on(.POST, "orders", ":id", "report", body: .collect(maxSize: "6mb"), use: report)
        routes.get("orders", ":id", "events", use: orderEvents)
        routes.get("events", use: events)
    }

    /// Open lines of the supplier's working orders, most urgent first: late, at risk, then by
    /// due date (`WorkList`), fifty cards to a page, each projected as the order page shows it.
    /// The page is written in Swift from the first tag to the last (`renderPage(titleKey:body:)`).
    func work(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let work = try await WorkList.items(p, try PageRequest(req, defaultPer: 50), today: req.subcon.today(),
                                            threshold: req.subcon.settings.delayThresholdDays, on: req.application.reads)
        let cards = Self.cards(work.items, bySupplier: !p.isSupplier, req: req), pager = Pager(work, req)
        return try await req.renderPage(titleKey: "work.title") { t in
            var html: HTML = "<div data-live=\"/events\"></div>\n"
            if work.items.isEmpty { html += "<section class=\"card\"><p class=\"muted\">\(t("work.empty"))</p></section>\n" }
            html += cards
            html += pager.html(&t)
            return html
        }
    }

    /// The work list's cards (see `HTML`).
    /// `bySupplier`: the manufacturer's view of every supplier's work names each card's supplier.
    static func cards(_ cards: [WorkLineDTO], bySupplier: Bool = false, req: Request) -> HTML {
        var t = req.texts()
        let done = t("work.done"), due = t("orders.dueDate"), eta = t("work.eta"), promised = t("work.promised"), report = t("work.report")
        var html = HTML()
        for c in cards {
            let l = c.line
            let operation = l.operation.map { $0.isEmpty ? HTML() : " / \($0)" } ?? HTML()
            html += """
                <section class="card work-card risk-\(l.risk)">
                  <div class="work-head"><a class="code" href="/orders/\(c.orderId)">\(c.orderCode)</a> \
                <span class="muted">\(t("material.lineNo", ["n": String(l.line)]))</span> \
                <span class="tag risk-\(l.risk)">\(t("risk." + l.risk))\(HTML.when(l.daysLate > 0, " \(t("work.daysLate", ["n": String(l.daysLate)]))"))</span>\
                \(HTML.when(bySupplier, " <span class=\"muted\">\(c.supplierName)</span>"))</div>
                  <div><strong>\(l.itemCode)</strong>\(operation) <span class="muted">\(l.itemName)</span></div>
                  <svg class="bar" role="progressbar" aria-valuenow="\(l.percent)" aria-valuemin="0" aria-valuemax="100" viewBox="0 0 100 10" \
                preserveAspectRatio="none"><rect class="bar-fill" width="\(l.percent)" height="10"/></svg>
                  <dl class="facts tight">
                    <dt>\(done)</dt><dd>\(l.good.grouped) / \(l.quantity.grouped) \(l.unit) (\(l.percent)%)</dd>
                    <dt>\(due)</dt><dd>\(l.dueDate)</dd>
                    \(l.eta.map { "<dt>\(eta)</dt><dd>\($0)</dd>" } ?? HTML())
                    \(l.promisedDate.map { "<dt>\(promised)</dt><dd>\($0)</dd>" } ?? HTML())
                  </dl>
                  <a class="button primary big" href="/orders/\(c.orderId)/report?line=\(l.line)">\(report)</a>
                </section>

                """
        }
        return html
    }

    struct ReportView: Encodable {
        let orderId: UUID
        let orderCode: String
        let lines: [LineProgressDTO]
        let selected: Int
        let key: String
        let today: String
        let values: [String: String]
        let errors: FormErrors
        let reasons: [Option]
    }

    func render(_ req: Request, _ o: OutsourcingOrder, selected: Int?, values: [String: String] = [:], problem: Problem? = nil) async throws -> Response {
        let lines = try await ProgressService.lines(o, today: req.subcon.today(), threshold: req.subcon.settings.delayThresholdDays, on: req.db)
        // A new key for every form shown: a resent form (bad connection) carries the same one.
        return try await req.renderForm("report", titleKey: "report.progressTitle", titleParams: ["code": o.code], ReportView(
            orderId: o.id!, orderCode: o.code, lines: lines, selected: selected ?? lines.first?.line ?? 1, key: UUID().uuidString,
            today: req.subcon.today().description, values: values, errors: req.formErrors(problem),
            reasons: DelayReasonOptions.options(req, selected: values["delayReason"])), problem: problem)
    }

    func reportForm(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let o = try await ProgressService.workingOrder(p, try req.idParameter(), on: req.db)
        return try await render(req, o, selected: req.query[Int.self, at: "line"])
    }

    struct ReportForm: Content {
        var key: String?
        var line: String?
        var good: String?
        var scrap: String?
        var stage: String?
        var note: String?
        var promised: String?
        var delayReason: String?
        var photo: File?
    }

    /// The report, an optional promised date and an optional photo. The form's key makes a
    /// resubmission (the phone lost the answer and sent again) land on the result of the first.
    func report(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let o = try await ProgressService.workingOrder(p, try req.idParameter(), on: req.db)
        let f = try req.content.decode(ReportForm.self)
        let values = ["line": f.line ?? "", "good": f.good ?? "", "scrap": f.scrap ?? "", "stage": f.stage ?? "", "note": f.note ?? "", "promised": f.promised ?? "",
                      "delayReason": f.delayReason ?? ""]
        let key = "report:" + (f.key ?? "")
        if f.key != nil, try await IdempotencyRecord.query(on: req.modelReads).filter(\.$userID == p.userID).filter(\.$key == key).first() != nil {
            return req.redirect(to: "/orders/\(o.id!)?ok=reported#progress")
        }
        let problem = try await attempt {
            guard let line = Int(f.line ?? "") else { throw Problem.validation([FieldProblem("line", "required")]) }
            func dec(_ t: String?, _ field: String) throws -> FixedDecimal? {
                let s = (t ?? "").trimmingCharacters(in: .whitespaces)
                if s.isEmpty { return nil }
                guard let v = try? FixedDecimal.parse(s) else { throw Problem.validation([FieldProblem(field, "positiveDecimal")]) }
                return v
            }
            let good = try dec(f.good, "good") ?? .zero, scrap = try dec(f.scrap, "scrap")
            var photo: Data?
            if let file = f.photo, file.data.readableBytes > 0 {
                let data = Data(buffer: file.data)
                guard data.count <= ProgressService.maxPhotoBytes else { throw Problem.validation([FieldProblem("photo", "fileTooLarge", ["max": "5 MB"])]) }
                guard let type = FileType.sniff(data), ProgressService.photoTypes.contains(type) else {
                    throw Problem.validation([FieldProblem("photo", "fileTypeNotAllowed", ["allowed": "jpeg, png, webp"])])
                }
                photo = data
            }
            var promised: Day?
            if let t = f.promised, !t.isEmpty {
                guard let d = Day(t) else { throw Problem.validation([FieldProblem("promised", "badDate")]) }
                promised = d
            }
            let input = ProgressInput(line: line, operation: nil, good: good, scrap: scrap, stage: f.stage, note: f.note)
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            // A late date without a reason is refused before the report is taken, so the two go in together.
            if let promised { try await ProgressService.checkPromise(p, o.id!, PromiseInput(line: line, date: promised, reason: f.note, delayReason: f.delayReason), app: req.application) }
            let r = try await ProgressService.report(p, o, input, app: req.application)
            if let photo { _ = try await ProgressService.attachPhoto(p, o.id!, report: r.id!, filename: f.photo?.filename ?? "photo", data: photo, app: req.application) }
            if let promised { _ = try await ProgressService.promise(p, o.id!, PromiseInput(line: line, date: promised, reason: f.note, delayReason: f.delayReason), app: req.application) }
            if f.key != nil {
                let record = IdempotencyRecord(userID: p.userID, key: key, fingerprint: "page", now: req.now)
                record.status = 303
                let app = req.application
                try await req.subcon.writeGate.run { try await app.transactionInGate { db in try await record.create(on: db) } }
            }
        }
        guard let problem else { return req.redirect(to: "/orders/\(o.id!)?ok=reported#progress") }
        return try await render(req, o, selected: Int(f.line ?? ""), values: values, problem: problem)
    }

    func orderEvents(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        let o = try await OrderService.find(p, try req.idParameter(), on: req.db)
        return LiveStream.response(req, principal: p, orderID: o.id!)
    }

    func events(req: Request) async throws -> Response {
        LiveStream.response(req, principal: try req.requirePrincipal(), orderID: nil)
    }
}

/// The delay reasons as a `<select>`'s choices, in the reader's language.
enum DelayReasonOptions {
    static func label(_ code: String, _ req: Request) -> String {
        let key = "delayReason." + code
        let text = req.t(key)
        return text == key ? code : text
    }

    static func options(_ req: Request, selected: String?) -> [Option] {
        [Option(value: "", label: req.t("delay.choose"), selected: (selected ?? "").isEmpty)]
            + req.subcon.settings.delayReasons.codes.map { Option(value: $0, label: label($0, req), selected: $0 == selected) }
    }
}
