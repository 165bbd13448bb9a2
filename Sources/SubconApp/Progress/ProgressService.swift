import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct ProgressInput: StrictInput {
    static let fields: Set<String> = ["line", "operation", "good", "scrap", "stage", "note"]
    var line: Int
    var operation: String?
    var good: FixedDecimal
    var scrap: FixedDecimal?
    var stage: String?
    var note: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let op = operation, !op.isEmpty { Check.code(op, "operation", into: &p) }
        if good < .zero { p.append(FieldProblem("good", "negative")) }
        if (scrap ?? .zero) < .zero { p.append(FieldProblem("scrap", "negative")) }
        if good >= OrderLines.maxQuantity || (scrap ?? .zero) >= OrderLines.maxQuantity { p.append(FieldProblem("good", "tooLarge")) }
        if good == .zero && (scrap ?? .zero) == .zero { p.append(FieldProblem("good", "nothingReported")) }
        Check.text(stage, "stage", required: false, max: 60, into: &p)
        Check.text(note, "note", required: false, max: 500, into: &p)
        return p
    }
}

struct PromiseInput: StrictInput {
    static let fields: Set<String> = ["line", "date", "reason", "delayReason"]
    var line: Int
    var date: Day
    /// Free words (for "other", what happened).
    var reason: String?
    /// One of the installation's delay reasons; owed when the date is after the line's due date
    /// or the line is projected late.
    var delayReason: String?
    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        Check.text(reason, "reason", required: false, max: 500, into: &p)
        return p
    }
}

struct ProgressReportDTO: Content {
    let id: UUID
    let line: Int
    let operation: String?
    let good: FixedDecimal
    let scrap: FixedDecimal
    let stage: String
    let note: String
    let day: String
    let createdAt: Date
    let photos: [DocumentDTO]
}

struct LineProgressDTO: Content {
    let line: Int
    let itemCode: String
    let itemName: String
    let operation: String?
    let quantity: FixedDecimal
    /// The item's unit of measure, as master data names it (件, kg).
    let unit: String
    let dueDate: String
    let good: FixedDecimal
    let scrap: FixedDecimal
    let percent: Int
    let promisedDate: String?
    let eta: String?
    let daysLate: Int
    let risk: String
}

struct OrderProgressDTO: Content {
    let lines: [LineProgressDTO]
    let reports: [ProgressReportDTO]
    let promises: [PromiseDTO]
}

struct PromiseDTO: Content { let line: Int; let date: String; let reason: String; let createdAt: Date }

struct TimelineEntryDTO: Content {
    let at: Date
    /// order.created, revision.released, revision.answered, material.<kind>, delivery.shipped,
    /// receipt.created, receipt.decided, progress.reported, promise.stated, exception.<type>.
    let kind: String
    let code: String?
    let detail: String
    let link: String?
}

/// Progress reports, promised dates, the projection per line (with the automatic delay
/// exception) and the order's timeline.
enum ProgressService {
    static let photoTypes: Set<FileType> = [.jpeg, .png, .webp]
    static let maxPhotoBytes = 5 * 1024 * 1024

    static func workingOrder(_ p: Principal, _ id: UUID, on db: any Database) async throws -> OutsourcingOrder {
        try working(p, try await OrderService.find(p, id, on: db))
    }

    /// The order, if this supplier may work on it now.
    static func working(_ p: Principal, _ o: OutsourcingOrder) throws -> OutsourcingOrder {
        try p.require(.fulfilOrders)
        guard p.organizationID == o.supplierID else { throw Problem.forbidden }
        guard MaterialService.workingStatuses.contains(o.orderStatus) else {
            throw Problem.conflict("problem.material.orderNotWorking", ["status": o.status])
        }
        return o
    }

    static func report(_ p: Principal, _ orderID: UUID, _ input: ProgressInput, app: Application) async throws -> ProgressReport {
        try await report(p, try await OrderService.find(p, orderID, on: app.modelReads), input, app: app)
    }

    /// Every write on SQLite waits for the one before it, so a report's transaction is the
    /// figure that bounds how many suppliers can report at once. It reads the order's open lines
    /// once (sums and promise included) and projects them with the new report added in memory,
    /// then writes only the lines whose projection moved, the reported line's good total with
    /// them: about half the statements of reading the lines again after the insert and
    /// rewriting every line.
    static func report(_ p: Principal, _ found: OutsourcingOrder, _ input: ProgressInput, app: Application) async throws -> ProgressReport {
        let order = try working(p, found)
        let orderID = order.id!
        let tolerance = app.subcon.settings.overReceiptPercent
        let channel = app.subcon.settings.liveChannel
        return try await app.write(as: p.auditActor) { change in
            try await DeliveryService.lockOrder(orderID, in: change)
            var facts = try await lineFacts(orderIDs: [orderID], on: change.db)[orderID] ?? []
            guard let at = facts.firstIndex(where: { $0.line_no == input.line }) else {
                throw Problem.validation([FieldProblem("line", "unknownLine", ["line": String(input.line)])])
            }
            let line = facts[at]
            // Good parts beyond what the order (with its tolerance) can take are a typing slip.
            let reported = FixedDecimal(units: line.good ?? 0)
            let limit = try Receiving.limit(ordered: FixedDecimal(units: line.quantity), tolerancePercent: tolerance)
            guard let total = try? reported.adding(input.good), total <= limit else {
                throw Problem.validation([FieldProblem("good", "moreThanOrdered", ["remaining": ((try? limit.subtracting(reported)) ?? .zero).grouped,
                                                                                    "uom": line.uom ?? ""])])
            }
            let r = ProgressReport()
            r.id = UUID(); r.orderID = orderID; r.supplierID = order.supplierID; r.lineNumber = input.line
            r.operation = (input.operation ?? "").isEmpty ? line.operation : input.operation
            r.goodQuantity = input.good.units; r.scrapQuantity = (input.scrap ?? .zero).units
            r.stage = (input.stage ?? "").trimmingCharacters(in: .whitespaces); r.note = (input.note ?? "").trimmingCharacters(in: .whitespaces)
            r.reportDay = change.today.description; r.reportedBy = p.userID; r.createdAt = change.now
            let sql = change.db as! any SQLDatabase
            try await sql.insert(into: ProgressReport.schema)
                .columns("id", "order_id", "supplier_id", "line_no", "operation", "good_quantity", "scrap_quantity", "stage", "note", "report_day", "reported_by", "created_at",
                         "days_since_previous")
                .values(SQLBind(r.id!), SQLBind(orderID), SQLBind(r.supplierID), SQLBind(r.lineNumber), SQLBind(r.operation), SQLBind(r.goodQuantity),
                        SQLBind(r.scrapQuantity), SQLBind(r.stage), SQLBind(r.note), SQLBind(r.reportDay), SQLBind(r.reportedBy), SQLBind(r.createdAt),
                        SQLBind(ReportGaps.days(since: line.last_day, to: change.today)))
                .run()
            // The first report starts production.
            if order.orderStatus == .acknowledged {
                try await change.updateVersioned(OutsourcingOrder.schema, id: orderID, expected: order.version,
                                                 sets: ["status": OrderStatus.inProduction.rawValue, "updated_at": change.now])
                try await change.audit("order", orderID, "start", before: ["status": order.status], after: ["status": OrderStatus.inProduction.rawValue])
            }
            try await change.audit("progress_report", r.id, "create", after: [
                "order": order.code, "line": String(input.line), "good": input.good.description, "scrap": (input.scrap ?? .zero).description,
                "stage": r.stage, "note": r.note])
            facts[at] = line.adding(good: r.goodQuantity, scrap: r.scrapQuantity, on: change.today)
            let projected = facts.map { $0.projected(today: change.today, threshold: change.delayThresholdDays) }
            // The line keeps its reports' sums: for "ready to ship" and for the next report (ShipReadiness).
            try await LineLateness.write(orderID, projected, reported: facts[at], in: change)
            try await checkDelay(order, line: input.line, lines: projected.map(\.projected), in: change)
            try await change.publish(LiveEvent(kind: "progress", orderId: orderID, supplierId: order.supplierID, line: input.line), channel: channel)
            return r
        }
    }

    static func attachPhoto(_ p: Principal, _ orderID: UUID, report reportID: UUID, filename: String, data: Data, app: Application) async throws -> Document {
        let order = try await OrderService.find(p, orderID, on: app.modelReads)
        try p.require(.fulfilOrders)
        guard let r = try await ProgressReport.query(on: app.modelReads).filter(\.$id == reportID).filter(\.$orderID == orderID).first() else { throw Problem.notFound }
        guard data.count <= maxPhotoBytes else { throw Problem.validation([FieldProblem("file", "fileTooLarge", ["max": "5 MB"])]) }
        return try await app.write(as: p.auditActor) { change in
            let doc = try await DocumentService.store(data, filename: filename, allowed: photoTypes, owner: order.supplierID, entity: "progress_report",
                                                      entityID: r.id!.uuidString, by: p.userID, in: change)
            try await change.audit("progress_report", r.id, "attach", after: ["file": doc.filename, "sha256": doc.sha256])
            return doc
        }
    }

    /// Whether a promise may be taken: the line exists, the day is not past, and a reason is
    /// given when one is owed. Pages check before they write anything else with it.
    static func checkPromise(_ p: Principal, _ orderID: UUID, _ input: PromiseInput, app: Application) async throws {
        guard let row = try await OrderLineRow.query(on: app.modelReads).filter(\.$orderID == orderID).filter(\.$number == input.line).first(),
              let due = Day(row.dueDate) else {
            throw Problem.validation([FieldProblem("line", "unknownLine", ["line": String(input.line)])])
        }
        let today = app.subcon.today()
        guard input.date >= today else { throw Problem.validation([FieldProblem("date", "inThePast")]) }
        let current = try await lines(orderID: orderID, today: today, threshold: app.subcon.settings.delayThresholdDays, on: app.modelReads)
            .first { $0.line == input.line }.flatMap { Projection.Risk(rawValue: $0.risk) } ?? .unknown
        let owed = DelayReasons.isRequired(promised: input.date, due: due, risk: current)
        switch app.subcon.settings.delayReasons.check(code: input.delayReason, note: input.reason ?? "", required: owed) {
        case nil: break
        case .required: throw Problem.validation([FieldProblem("delayReason", "delayReasonRequired", ["due": due.description])])
        case .unknown: throw Problem.validation([FieldProblem("delayReason", "invalidValue")])
        case .noteRequired: throw Problem.validation([FieldProblem("reason", "delayNoteRequired")])
        }
    }

    static func promise(_ p: Principal, _ orderID: UUID, _ input: PromiseInput, app: Application) async throws -> LinePromise {
        let order = try await workingOrder(p, orderID, on: app.modelReads)
        try await checkPromise(p, orderID, input, app: app)
        let delayReason = (input.delayReason ?? "").trimmingCharacters(in: .whitespaces)
        let channel = app.subcon.settings.liveChannel
        return try await app.write(as: p.auditActor) { change in
            let before = try await LinePromise.query(on: change.db).filter(\.$orderID == orderID).filter(\.$lineNumber == input.line)
                .sort(\.$createdAt, .descending).first()
            let r = LinePromise()
            r.orderID = orderID; r.lineNumber = input.line; r.promisedDate = input.date.description; r.reason = input.reason ?? ""
            r.promisedBy = p.userID; r.createdAt = change.now; r.delayReason = delayReason.isEmpty ? nil : delayReason
            try await r.create(on: change.db)
            try await change.audit("order", orderID, "promise", before: ["line \(input.line) promised": before?.promisedDate],
                                   after: ["line \(input.line) promised": r.promisedDate, "reason": r.reason, "delay reason": r.delayReason])
            if !delayReason.isEmpty { try await LineLateness.explain(orderID, line: input.line, reason: delayReason, note: r.reason, in: change) }
            let projected = try await LineLateness.store(orderID, in: change)
            try await checkDelay(order, line: input.line, lines: projected, in: change)
            try await change.publish(LiveEvent(kind: "promise", orderId: orderID, supplierId: order.supplierID, line: input.line), channel: channel)
            return r
        }
    }

    // MARK: Projection

    /// Per open line: what has been reported, the promise in force, and the projection.
    /// An order no longer worked on projects nothing: its lines are done (a closed order whose
    /// reports stopped at 300 of 400 had shown "481 days late").
    static func lines(_ order: OutsourcingOrder, today: Day, threshold: Int, on db: any Database) async throws -> [LineProgressDTO] {
        try await lines(orderID: order.id!, today: today, threshold: threshold, finished: !order.orderStatus.isOpen, on: db)
    }

    /// The open lines with their items, report sums and latest promise: one plain read (this
    /// runs inside every promise and revision, where model decoding of the lines, their items
    /// and promises was most of a write's time).
    static func lines(orderID: UUID, today: Day, threshold: Int, finished: Bool = false, on db: any Database) async throws -> [LineProgressDTO] {
        try await lines(orderIDs: [orderID], today: today, threshold: threshold, finished: finished, on: db)[orderID]?.map(\.projected) ?? []
    }

    /// A line as projected now, and whether the projection stored on it still says the same.
    struct ProjectedLine: Sendable {
        let projected: LineProgressDTO
        let storedIsCurrent: Bool
    }

    /// What is known of an open line before it is projected: its item, its reports' sums and
    /// days, the projection stored on it, and the promise in force.
    ///
    /// Read by position on the read connections: by name, decoding them was a quarter of the
    /// supplier's work list (the open lines of a hundred orders on every view).
    struct LineFacts: ReadByPosition, Sendable {
        let order_id: UUID, line_no: Int, operation: String?, quantity: Int64, due_date: String
        let item_code: String?, item_name: String?, uom: String?
        var good: Int64?, scrap: Int64?, first_day: String?, last_day: String?
        let eta: String?, days_late: Int?, risk: String?, promised_date: String?
        /// The latest promise for the line, the one in force.
        let promise: String?

        static let columnNames = ["order_id", "line_no", "operation", "quantity", "due_date", "item_code", "item_name", "uom", "good", "scrap",
                                  "first_day", "last_day", "eta", "days_late", "risk", "promised_date", "promise"]
        /// The columns, of a line `l` and its item `i`.
        static let select: SQLQueryString = """
            l.order_id, l.line_no, l.operation, l.quantity, l.due_date, i.code AS item_code, i.name AS item_name, i.uom,
                   l.reported_quantity AS good, l.reported_scrap AS scrap, l.first_report_day AS first_day, l.last_report_day AS last_day,
                   l.eta, l.days_late, l.risk, l.promised_date,
                   (SELECT lp.promised_date FROM line_promises lp WHERE lp.order_id = l.order_id AND lp.line_no = l.line_no
                     ORDER BY lp.created_at DESC LIMIT 1) AS promise
            """
        init(_ r: inout ColumnReader) throws {
            order_id = try r.value(); line_no = try r.value(); operation = try r.optional(); quantity = try r.value(); due_date = try r.value()
            item_code = try r.optional(); item_name = try r.optional(); uom = try r.optional(); good = try r.optional(); scrap = try r.optional()
            first_day = try r.optional(); last_day = try r.optional(); eta = try r.optional(); days_late = try r.optional(); risk = try r.optional()
            promised_date = try r.optional(); promise = try r.optional()
        }

        /// The facts with one more report of `good` and `scrap` made on `day`, as they will read
        /// once it is written (the report's own write projects without reading the lines again).
        func adding(good: Int64, scrap: Int64, on day: Day) -> LineFacts {
            var f = self
            f.good = (self.good ?? 0) + good; f.scrap = (self.scrap ?? 0) + scrap
            let today = day.description
            f.first_day = min(first_day ?? today, today); f.last_day = max(last_day ?? today, today)
            return f
        }

        func projected(today: Day, threshold: Int, finished: Bool = false) -> ProjectedLine {
            let promise = promise.flatMap(Day.init)
            let quantity = FixedDecimal(units: quantity), good = FixedDecimal(units: good ?? 0)
            let p = finished ? Projection.finished(lastReport: last_day.flatMap(Day.init), due: Day(due_date)!)
                : Projection.project(quantity: quantity, good: good, started: first_day.flatMap(Day.init), lastReport: last_day.flatMap(Day.init),
                                     today: today, due: Day(due_date)!, promised: promise, thresholdDays: threshold)
            let percent = self.quantity > 0 ? Int(min(100, (self.good ?? 0) * 100 / self.quantity)) : 0
            let line = LineProgressDTO(line: line_no, itemCode: item_code ?? "", itemName: item_name ?? "", operation: operation,
                                       quantity: quantity, unit: uom ?? "", dueDate: due_date, good: good, scrap: FixedDecimal(units: scrap ?? 0),
                                       percent: percent, promisedDate: promise?.description, eta: p.eta?.description, daysLate: p.daysLate,
                                       risk: p.risk.rawValue)
            let current = eta == line.eta && days_late == line.daysLate && risk == line.risk && promised_date == line.promisedDate
            return ProjectedLine(projected: line, storedIsCurrent: current)
        }
    }

    /// The open lines of many orders (the sweep reads its orders 500 at a time) in one read:
    /// items joined, the reports' sums as the line keeps them (`ShipReadiness`), the promise in
    /// force picked per line.
    static func lineFacts(orderIDs: [UUID], on db: any Database) async throws -> [UUID: [LineFacts]] {
        try await lineFacts(orderIDs: orderIDs, on: db as! any SQLDatabase)
    }

    static func lineFacts(orderIDs: [UUID], on sql: any SQLDatabase) async throws -> [UUID: [LineFacts]] {
        guard !orderIDs.isEmpty else { return [:] }
        let rows = try await sql.raw("SELECT " + LineFacts.select + """
              FROM order_lines l LEFT JOIN items i ON i.id = l.item_id
             WHERE l.order_id IN (\(binds: orderIDs)) AND l.state = \(literal: OrderLine.State.open.rawValue)
             ORDER BY l.order_id, l.line_no
            """).rows(decoding: LineFacts.self)
        return Dictionary(grouping: rows, by: \.order_id)
    }

    /// The same for many orders at once, projected.
    static func lines(orderIDs: [UUID], today: Day, threshold: Int, finished: Bool = false, on db: any Database) async throws -> [UUID: [ProjectedLine]] {
        try await lines(orderIDs: orderIDs, today: today, threshold: threshold, finished: finished, on: db as! any SQLDatabase)
    }

    static func lines(orderIDs: [UUID], today: Day, threshold: Int, finished: Bool = false, on sql: any SQLDatabase) async throws -> [UUID: [ProjectedLine]] {
        try await lineFacts(orderIDs: orderIDs, on: sql).mapValues { $0.map { $0.projected(today: today, threshold: threshold, finished: finished) } }
    }

    /// What a delay exception names as its source: the order line, as `ORDER-UUID:line`.
    static func delaySource(order: UUID, line: Int) -> String { "\(order.uuidString):\(line)" }

    /// A projection beyond the threshold opens one delay exception per order line, ever.
    /// `lines` are the order's lines as `LineLateness.store` just projected them.
    static func checkDelay(_ order: OutsourcingOrder, line: Int, lines: [LineProgressDTO], in change: Change) async throws {
        guard let l = lines.first(where: { $0.line == line }), l.risk == Projection.Risk.late.rawValue else { return }
        let source = delaySource(order: order.id!, line: line)
        // By the source's index alone: given the type as well, SQLite (without statistics) walked
        // every delay exception by the type's index, 0.24 ms of every report that projects a
        // delay on the large data set, inside the write gate. A model query also built an
        // exception model for each filter's key path (7 % of the report's CPU).
        let raised = try await (change.db as! any SQLDatabase).select().column("type").from(ExceptionCase.schema)
            .where("source", .equal, "order_line").where("source_id", .equal, source).all()
        guard try !raised.contains(where: { try $0.decode(column: "type", as: String.self) == "delay" }) else { return }
        let item = try await OrderLineRow.query(on: change.db).filter(\.$orderID == order.id!).filter(\.$number == line).first()?.itemID
        // Stored text is read by both sides in their own language: dates and numbers only
        // (due → projected, days late); the notification carries the words.
        let e = try await ExceptionService.raise(type: "delay", severity: "major", supplier: order.supplierID, order: order.id, item: item, lot: "",
                                                 source: "order_line", sourceID: source, title: "\(order.code) #\(line)",
                                                 description: "\(l.dueDate) → \(l.eta ?? "—") (+\(l.daysLate))", by: nil,
                                                 words: ExceptionWords(title: "exceptionWords.delay.title", description: "exceptionWords.delay.description", params: [
                                                     "order": order.code, "line": String(line), "item": l.itemCode, "itemName": l.itemName,
                                                     "due": l.dueDate, "eta": l.eta ?? "—", "days": String(l.daysLate)]),
                                                 in: change)
        let people = try await OrderService.buyers(order, on: change.db) + OrderService.supplierUsers(order.supplierID, on: change.db)
        try await change.notify("order.delay", recipients: Array(Set(people)), messageKey: "notice.orderDelay",
                                params: ["code": order.code, "line": String(line), "days": String(l.daysLate), "exception": e.code], link: "/orders/\(order.id!)")
    }

    /// Projections move with the calendar even without new reports: now and then, every working
    /// order with reports or a line past due is checked again. Only orders whose stored
    /// projection no longer holds (or with a late line still missing its delay exception) are
    /// written, a few dozen to a transaction: on a million order lines the sweep found 13,832
    /// such orders and wrote every one in a transaction of its own, each an fsync, every ten
    /// minutes — 40 s and more of writes that every request's write queued behind. Within a
    /// day almost nothing changes, so most rounds now write nothing.
    /// Returns how many orders it wrote.
    @discardableResult
    static func sweep(app: Application) async throws -> Int {
        let today = app.subcon.today(), threshold = app.subcon.settings.delayThresholdDays
        struct R: Decodable { let id: UUID }
        let sql = app.database as! any SQLDatabase
        let ids = try await sql.raw("""
            SELECT o.id FROM outsourcing_orders o
            WHERE o.status IN ('acknowledged', 'in_production', 'partially_delivered')
              AND (EXISTS (SELECT 1 FROM progress_reports p WHERE p.order_id = o.id)
                   OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.state = 'open' AND l.due_date < \(bind: today.description)))
            """).rows(decoding: R.self).map(\.id)
        var stale: [UUID] = []
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(ids.count, start + 500)])
            let found = try await lines(orderIDs: chunk, today: today, threshold: threshold, on: app.database)
            let lateSources = found.flatMap { id, lines in
                lines.filter { $0.projected.risk == Projection.Risk.late.rawValue }.map { delaySource(order: id, line: $0.projected.line) }
            }
            struct S: Decodable { let source_id: String }
            let opened = lateSources.isEmpty ? [] : try await sql.raw("""
                SELECT source_id FROM exceptions WHERE type = 'delay' AND source = 'order_line' AND source_id IN (\(binds: lateSources))
                """).rows(decoding: S.self).map(\.source_id)
            let unopened = Set(lateSources).subtracting(opened)
            stale += chunk.filter { id in
                (found[id] ?? []).contains { !$0.storedIsCurrent || unopened.contains(delaySource(order: id, line: $0.projected.line)) }
            }
        }
        // Projected again inside the write: a report may have come in since the read above.
        for start in stride(from: 0, to: stale.count, by: 25) {
            let batch = Array(stale[start..<min(stale.count, start + 25)])
            try await app.write(as: .system) { change in
                for id in batch {
                    guard let order = try await OutsourcingOrder.find(id, on: change.db) else { continue }
                    let projected = try await LineLateness.store(id, in: change)
                    for l in projected where l.risk == Projection.Risk.late.rawValue { try await checkDelay(order, line: l.line, lines: projected, in: change) }
                }
            }
        }
        return stale.count
    }

    static func dto(_ order: OutsourcingOrder, app: Application) async throws -> OrderProgressDTO {
        let db = app.database
        let reports = try await ProgressReport.query(on: db).filter(\.$orderID == order.id!).sort(\.$createdAt, .descending).all()
        let photos = try await DocumentService.list(entity: "progress_report", ids: reports.map { $0.id!.uuidString }, on: db)
        let promises = try await LinePromise.query(on: db).filter(\.$orderID == order.id!).sort(\.$createdAt, .descending).all()
        return OrderProgressDTO(
            lines: try await lines(order, today: app.subcon.today(), threshold: app.subcon.settings.delayThresholdDays, on: db),
            reports: reports.map { r in
                ProgressReportDTO(id: r.id!, line: r.lineNumber, operation: r.operation, good: FixedDecimal(units: r.goodQuantity),
                                  scrap: FixedDecimal(units: r.scrapQuantity), stage: r.stage, note: r.note, day: r.reportDay, createdAt: r.createdAt,
                                  photos: photos.filter { $0.entityID == r.id!.uuidString }.map(DocumentDTO.init))
            },
            promises: promises.map { PromiseDTO(line: $0.lineNumber, date: $0.promisedDate, reason: $0.reason, createdAt: $0.createdAt) })
    }

    // MARK: Timeline

    /// Everything that happened to an order, newest first. Both sides see the same order's
    /// records (the order is already in the caller's scope).
    static func timeline(_ order: OutsourcingOrder, on db: any Database) async throws -> [TimelineEntryDTO] {
        let id = order.id!
        var out: [TimelineEntryDTO] = [TimelineEntryDTO(at: order.createdAt, kind: "order.created", code: order.code, detail: "", link: nil)]
        let revisions = try await OrderRevisionRow.query(on: db).filter(\.$orderID == id).all()
        for r in revisions {
            out.append(.init(at: r.releasedAt, kind: "revision.released", code: String(r.number), detail: r.reason, link: nil))
            if let a = r.answeredAt { out.append(.init(at: a, kind: "revision.answered", code: String(r.number), detail: "", link: nil)) }
        }
        for d in try await MaterialDocument.query(on: db).filter(\.$orderID == id).all() {
            out.append(.init(at: d.createdAt, kind: "material.\(d.kind)", code: d.code, detail: "", link: "/material/documents/\(d.id!)"))
        }
        for n in try await DeliveryNote.query(on: db).filter(\.$orderID == id).all() {
            out.append(.init(at: n.createdAt, kind: "delivery.shipped", code: n.code, detail: n.shipDate, link: "/deliveries/\(n.id!)"))
        }
        let receipts = try await GoodsReceipt.query(on: db).filter(\.$orderID == id).all()
        for r in receipts { out.append(.init(at: r.createdAt, kind: "receipt.created", code: r.code, detail: "", link: "/receipts/\(r.id!)")) }
        for l in try await ReceiptLine.query(on: db).filter(\.$orderID == id).all() {
            guard let at = l.decidedAt else { continue }
            out.append(.init(at: at, kind: "receipt.decided", code: receipts.first { $0.id == l.receiptID }?.code,
                             detail: "\(FixedDecimal(units: l.acceptedQuantity)) / \(FixedDecimal(units: l.rejectedQuantity))", link: "/receipts/\(l.receiptID)"))
        }
        for r in try await ProgressReport.query(on: db).filter(\.$orderID == id).all() {
            out.append(.init(at: r.createdAt, kind: "progress.reported", code: String(r.lineNumber),
                             detail: "\(FixedDecimal(units: r.goodQuantity)) / \(FixedDecimal(units: r.scrapQuantity))\(r.stage.isEmpty ? "" : " · " + r.stage)", link: nil))
        }
        for p in try await LinePromise.query(on: db).filter(\.$orderID == id).all() {
            out.append(.init(at: p.createdAt, kind: "promise.stated", code: String(p.lineNumber), detail: p.promisedDate, link: nil))
        }
        for e in try await ExceptionCase.query(on: db).filter(\.$orderID == id).all() {
            out.append(.init(at: e.createdAt, kind: "exception.\(e.type)", code: e.code, detail: e.description, link: nil))
        }
        // Newest first; what happened in the same instant keeps the order of the flow above.
        return out.enumerated().sorted { ($0.element.at, $0.offset) > ($1.element.at, $1.offset) }.map(\.element)
    }
}
