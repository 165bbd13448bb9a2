import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

/// `/scorecards` (the buyer's ranking; a supplier goes to its own), `/scorecards/{id}` (one
/// supplier's scorecard with its trends), `/scorecards/{id}/{measure}` (the records behind a
/// figure), `/scorecards/compare` and `/scorecards/settings` (weights, closing a month, probation).
struct ScorecardPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let s = routes.grouped("scorecards")
        s.heavy.get(use: ranking)
        s.get("compare", use: compare)
        s.get("settings", use: settings)
        s.post("settings", use: saveSettings)
        s.post("grades", use: closeMonth)
        s.post("proposals", ":id", use: decide)
        s.get(":id", use: scorecard)
        s.get(":id", ":measure", use: records)
    }

    struct Cell: Encodable {
        let text: String
        var sub: String? = nil
        var href: String? = nil
        var tone: String? = nil
        var num = false
        /// The column's header, shown beside the value when a narrow screen stacks the table.
        var label = ""
    }

    struct Table: Encodable {
        let headers: [String]
        let rows: [[Cell]]
        init(headers: [String], rows: [[Cell]]) {
            self.headers = headers
            self.rows = rows.map { row in row.enumerated().map { n, c in var c = c; c.label = n < headers.count ? headers[n] : ""; return c } }
        }
    }

    struct MeasureView: Encodable {
        let key: String
        let name: String
        let weight: Int
        let score: String
        let tone: String
        let formula: String
        let figures: [String]
        let href: String
        let chart: String
    }

    struct PeriodLink: Encodable { let label: String; let href: String; let current: Bool }

    // MARK: Formatting

    static func percent(_ bp: Int?) -> String { bp.map(Rate.percentText) ?? "—" }

    static func score(_ tenths: Int?) -> String { tenths.map(Rate.tenthsText) ?? "—" }

    static func tone(_ bp: Int?) -> String {
        guard let bp else { return "muted" }
        return bp >= 9000 ? "ok" : bp >= 7500 ? "" : bp >= 6000 ? "warn" : "bad"
    }

    static func gradeTone(_ g: String?) -> String {
        switch g { case "A": "ok"; case "B": ""; case "C": "warn"; case "D": "bad"; default: "muted" }
    }

    static func duration(_ req: Request, minutes: Int64?) -> String {
        guard let m = minutes else { return "—" }
        if m < 120 { return req.t("scorecard.minutes", ["n": String(m)]) }
        if m < 48 * 60 { return req.t("scorecard.hours", ["n": "\(m / 60).\(m % 60 * 10 / 60)"]) }
        return req.t("scorecard.days", ["n": "\(m / 1440).\(m % 1440 * 10 / 1440)"])
    }

    static func quantity(_ units: Int64) -> String { FixedDecimal(units: units).grouped }

    /// The same period kind, one step back and forward, and the usual choices.
    static func periodLinks(_ req: Request, base: String, _ period: ScorePeriod) -> [PeriodLink] {
        let today = req.subcon.today(), lastMonth = ScorePeriod.month(of: today).previous
        let quarter = ScorePeriod.quarter(year: lastMonth.first.year, quarter: (lastMonth.first.month - 1) / 3 + 1)
        let choices: [(String, ScorePeriod)] = [
            (req.t("scorecard.previous"), period.previous), (req.t("scorecard.lastMonth"), lastMonth),
            (req.t("scorecard.quarter"), quarter), (req.t("scorecard.year"), .year(lastMonth.first.year)),
        ] + (period.next.first <= today ? [(req.t("scorecard.next"), period.next)] : [])
        return choices.map { PeriodLink(label: $0.0 + " · " + $0.1.description, href: "\(base)?period=\($0.1)", current: $0.1 == period) }
    }

    static func formula(_ req: Request, _ m: Measure, _ w: ScoreWeights) -> String {
        req.t("scorecard.formula.\(m.rawValue)", ["days": String(w.silentDays), "limit": String(w.costLimitPercent)])
    }

    static func figures(_ req: Request, _ m: Measure, _ c: ScorecardDTO) -> [String] {
        switch m {
        case .delivery:
            let d = c.delivery
            return [req.t("scorecard.fig.onTimeQuantity", ["onTime": quantity(d.onTimeQuantity), "due": quantity(d.dueQuantity)]),
                    req.t("scorecard.fig.linesOnTime", ["a": String(d.linesOnTime), "b": String(d.lines), "share": percent(d.lineShare)]),
                    req.t("scorecard.fig.daysLate", ["n": String(d.lateLines), "avg": d.averageDaysLateTenths.map(Rate.tenthsText) ?? "—"])]
        case .quality:
            let q = c.quality
            return [req.t("scorecard.fig.firstPass", ["a": String(q.firstPassLots), "b": String(q.lots)]),
                    req.t("scorecard.fig.ppm", ["ppm": q.ppm.map { FixedDecimal(units: $0 * FixedDecimal.unit).grouped } ?? "—",
                                                "rejected": quantity(q.rejectedQuantity), "inspected": quantity(q.inspectedQuantity)]),
                    req.t("scorecard.fig.concessions", ["n": String(q.concessionLots)])]
        case .exceptions:
            let e = c.exceptions
            return [req.t("scorecard.fig.deadlines", ["met": String(e.deadlinesMet), "due": String(e.deadlinesDue), "opened": String(e.opened)]),
                    req.t("scorecard.fig.response", ["median": duration(req, minutes: e.responseMedianMinutes), "p90": duration(req, minutes: e.responseP90Minutes)]),
                    req.t("scorecard.fig.closure", ["median": duration(req, minutes: e.closureMedianMinutes), "p90": duration(req, minutes: e.closureP90Minutes)])]
        case .cost:
            let k = c.cost
            var out = [req.t("scorecard.fig.cost", ["deductions": FixedDecimal(units: k.deductions).yuan, "turnover": FixedDecimal(units: k.turnover).yuan,
                                                    "ratio": percent(k.ratio)])]
            if !k.fromStatements { out.append(req.t("scorecard.fig.costEstimated")) }
            return out
        case .communication:
            let m = c.communication
            return [req.t("scorecard.fig.answers", ["a": String(m.answeredInTime), "b": String(m.revisionsDue), "median": duration(req, minutes: m.answerMedianMinutes)]),
                    req.t("scorecard.fig.reports", ["a": String(m.reportsOnTime), "b": String(m.reports), "days": String(c.weights.silentDays)])]
        }
    }

    // MARK: Scorecard

    struct ScorecardView: Encodable {
        let card: ScorecardDTO
        let statusLabel: String
        let score: String
        let gradeTone: String
        let periods: [PeriodLink]
        let measures: [MeasureView]
        let scoreChart: String
        let trendTable: Table
        let span: String
        let weights: String
        let isBuyer: Bool
        let suggestions: [SuggestionView]
        let canDecide: Bool
        let reviews: [ReviewRow]
        let canPlan: Bool
        let nextReview: String
    }

    struct SuggestionView: Encodable {
        let id: UUID
        let period: String
        let text: String
        let status: String
        let open: Bool
        let exceptionId: UUID?
        let reason: String
        let version: Int
    }

    struct ReviewRow: Encodable {
        let id: UUID
        let scheduledOn: String
        let cadence: String
        let status: String
        let openActions: Int
    }

    func scorecard(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        let period = try ScorecardAPI.period(req)
        let c = try await ScorecardService.scorecard(p, supplier: id, period: period, app: req.application)
        let base = "/scorecards/\(id)"
        let periods = period.trailing(ScorecardService.trendLength)
        let span = req.t("scorecard.span.\(period.kind)")
        let measures = Measure.allCases.map { m -> MeasureView in
            let bp = c.measures.first { $0.measure == m.rawValue }?.score
            let points = zip(periods, c.trend).map { period, t -> SVGChart.Point in
                let v: Int? = switch m {
                case .delivery: t.delivery
                case .quality: t.quality
                case .exceptions: t.exceptions
                case .cost: t.cost
                case .communication: t.communication
                }
                return SVGChart.Point(label: t.label, value: v.map { Int64($0) }, display: v.map { "\($0 / 100)" } ?? "",
                                      href: "\(base)/\(m.rawValue)?period=\(period)")
            }
            let name = req.t("scorecard.measure.\(m.rawValue)")
            return MeasureView(key: m.rawValue, name: name, weight: c.weights.weight(m), score: Self.percent(bp), tone: Self.tone(bp),
                               formula: Self.formula(req, m, c.weights), figures: Self.figures(req, m, c), href: "\(base)/\(m.rawValue)?period=\(period)",
                               chart: SVGChart.line(points, title: req.t("scorecard.trendOf", ["name": name, "span": span]), empty: req.t("scorecard.noData")))
        }
        let scorePoints = zip(periods, c.trend).map { period, t in
            SVGChart.Point(label: t.label, value: t.score.map { Int64($0) }, display: t.score.map { "\($0 / 10)" } ?? "", href: "\(base)?period=\(period)")
        }
        let trendTable = Table(headers: [req.t("scorecard.period"), req.t("scorecard.score"), req.t("scorecard.grade")] + Measure.allCases.map { req.t("scorecard.measure.\($0.rawValue)") },
                               rows: c.trend.map { t in
            [Cell(text: t.period, href: "\(base)?period=\(t.period)"), Cell(text: Self.score(t.score), num: true), Cell(text: t.grade ?? "—", tone: Self.gradeTone(t.grade))]
                + [t.delivery, t.quality, t.exceptions, t.cost, t.communication].map { Cell(text: Self.percent($0), num: true) }
        })
        let w = c.weights
        let suggestions = try await SuggestionService.list(p, supplier: id, period: period, on: req.db).map { g in
            SuggestionView(id: g.id, period: g.period, text: req.t("suggestion.\(g.rule)", g.params), status: req.t("suggestion.status.\(g.status)"),
                           open: g.status == "open", exceptionId: g.exceptionId, reason: g.reason, version: g.version)
        }
        // The supplier's reviews with their open action items, in one read.
        struct RR: Decodable { let id: UUID; let scheduled_on: String; let cadence: String; let status: String; let open: Int }
        let reviews = try await (req.db as! any SQLDatabase).raw("""
            SELECT v.id, v.scheduled_on, v.cadence, v.status,
                   (SELECT COUNT(*) FROM review_actions a WHERE a.review_id = v.id AND a.status = 'open') AS open
            FROM supplier_reviews v WHERE v.supplier_id = \(bind: id) ORDER BY v.scheduled_on DESC LIMIT 12
            """).rows(decoding: RR.self).map { r in
            ReviewRow(id: r.id, scheduledOn: r.scheduled_on, cadence: req.t("review.cadence.\(r.cadence)"), status: req.t("review.status.\(r.status)"),
                      openActions: r.open)
        }
        return try await req.renderPage("scorecard", titleKey: "scorecard.title", titleParams: ["name": c.supplierName], ScorecardView(
            card: c, statusLabel: req.t("supplier.status.\(c.supplierStatus)"), score: Self.score(c.score), gradeTone: Self.gradeTone(c.grade),
            periods: Self.periodLinks(req, base: base, period), measures: measures,
            scoreChart: SVGChart.line(scorePoints, title: req.t("scorecard.scoreTrend", ["span": span]), empty: req.t("scorecard.noData")),
            trendTable: trendTable, span: span,
            weights: req.t("scorecard.weightsLine", ["v": c.weightsVersion == 0 ? req.t("scorecard.weightsDefault") : req.t("scorecard.weightsVersion", ["v": String(c.weightsVersion)]), "a": String(w.gradeA), "b": String(w.gradeB), "c": String(w.gradeC)]),
            isBuyer: !p.isSupplier, suggestions: Array(suggestions), canDecide: !p.isSupplier && p.can(.handleExceptions),
            reviews: reviews, canPlan: !p.isSupplier && p.can(.manageSuppliers), nextReview: req.subcon.today().adding(days: 7).description))
    }

    // MARK: Records behind a figure

    struct RecordsView: Encodable {
        let supplierName: String
        let supplierCode: String
        let measureName: String
        let formula: String
        let back: String
        let periods: [PeriodLink]
        let table: Table
        let empty: String
    }

    func records(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        let id = try req.idParameter()
        guard let measure = req.parameters.get("measure").flatMap(Measure.init) else { throw Problem.notFound }
        let period = try ScorecardAPI.period(req)
        let r = try await ScorecardRecords.records(p, supplier: id, period: period, measure: measure, app: req.application)
        let w = try await ScorecardService.currentWeights(on: req.db)
        let tz = TimeZone(identifier: req.subcon.settings.timeZone) ?? .gmt
        func time(_ d: Date?) -> String {
            guard let d else { return "—" }
            let f = DateFormatter(); f.timeZone = tz; f.dateFormat = "yyyy-MM-dd HH:mm"
            return f.string(from: d)
        }
        func met(_ b: Bool?) -> Cell {
            switch b { case true: Cell(text: req.t("scorecard.met"), tone: "ok"); case false: Cell(text: req.t("scorecard.missed"), tone: "bad")
            default: Cell(text: req.t("scorecard.notYet"), tone: "muted") }
        }
        let table: Table
        switch measure {
        case .delivery:
            table = Table(headers: ["scorecard.order", "material.item", "scorecard.ordered", "scorecard.dueDate", "scorecard.acceptedQty", "scorecard.onTimeQty", "scorecard.daysLateCol"].map { req.t($0) },
                          rows: (r.lines ?? []).map { l in [
                Cell(text: "\(l.orderCode) #\(l.lineNo)", href: "/orders/\(l.orderId)"), Cell(text: l.itemName, sub: l.itemCode),
                Cell(text: l.quantity.grouped + " " + l.uom, num: true), Cell(text: l.dueDate),
                Cell(text: l.accepted.grouped + " " + l.uom, num: true), Cell(text: l.onTime.grouped + " " + l.uom, tone: l.complete ? "ok" : "warn", num: true),
                Cell(text: l.daysLate > 0 ? req.t("scorecard.daysN", ["n": String(l.daysLate)]) : "—", tone: l.daysLate > 0 ? "bad" : nil, num: true)] })
        case .quality:
            table = Table(headers: ["scorecard.inspection", "material.item", "scorecard.lot", "scorecard.decision", "scorecard.lotQty", "receipts.rejected", "scorecard.inspectedAt"].map { req.t($0) },
                          rows: (r.lots ?? []).map { l in [
                Cell(text: l.code, href: "/inspections/\(l.inspectionId)"), Cell(text: l.itemName, sub: l.itemCode), Cell(text: l.lot),
                Cell(text: req.t("decision.\(l.decision)"), tone: l.decision == "accept" ? "ok" : l.decision == "reject" ? "bad" : "warn"),
                Cell(text: l.quantity.grouped + " " + l.uom, num: true), Cell(text: l.rejected.grouped + " " + l.uom, num: true), Cell(text: time(l.inspectedAt))] })
        case .exceptions:
            table = Table(headers: ["scorecard.exception", "scorecard.openedAt", "scorecard.responseTime", "scorecard.responseDeadline", "scorecard.closureTime", "scorecard.resolveDeadline"].map { req.t($0) },
                          rows: (r.exceptions ?? []).map { e in [
                Cell(text: e.code, sub: e.title, href: "/exceptions/\(e.exceptionId)"), Cell(text: time(e.openedAt)),
                Cell(text: Self.duration(req, minutes: e.responseMinutes.map(Int64.init)), num: true), met(e.responseMet),
                Cell(text: Self.duration(req, minutes: e.closureMinutes.map(Int64.init)), num: true), met(e.resolutionMet)] })
        case .communication:
            table = Table(headers: ["scorecard.order", "scorecard.revision", "scorecard.releasedAt", "scorecard.answeredAt", "scorecard.answerTime", "scorecard.inTime"].map { req.t($0) },
                          rows: (r.answers ?? []).map { a in [
                Cell(text: a.orderCode, href: "/orders/\(a.orderId)"), Cell(text: "R\(a.revision)"), Cell(text: time(a.releasedAt)), Cell(text: time(a.answeredAt)),
                Cell(text: Self.duration(req, minutes: a.answerMinutes.map(Int64.init)), num: true), met(a.inTime)] })
        case .cost:
            table = Table(headers: ["scorecard.statement", "scorecard.period", "scorecard.status", "scorecard.goods", "scorecard.deductions"].map { req.t($0) },
                          rows: (r.statements ?? []).map { s in [
                Cell(text: s.code, href: "/statements/\(s.statementId)"), Cell(text: s.period), Cell(text: req.t("statement.status.\(s.status)")),
                Cell(text: s.goods.yuan, num: true), Cell(text: s.deductions.yuan, num: true)] })
        }
        let name = req.t("scorecard.measure.\(measure.rawValue)")
        return try await req.renderPage("scorecard_records", titleKey: "scorecard.recordsTitle", titleParams: ["name": name], RecordsView(
            supplierName: r.supplierName, supplierCode: r.supplierCode, measureName: name, formula: Self.formula(req, measure, w.weights),
            back: "/scorecards/\(id)?period=\(period)", periods: Self.periodLinks(req, base: "/scorecards/\(id)/\(measure.rawValue)", period),
            table: table, empty: req.t("scorecard.noRecords")))
    }

    // MARK: Ranking and comparison (the buyer)

    struct RankingView: Encodable {
        let period: String
        let periods: [PeriodLink]
        let table: Table
        let suppliers: [Option]
        let suppliersB: [Option]
        let chart: String
        let canConfigure: Bool
        let kinds: [Option]
        let plants: [Option]
        let filtered: Bool
    }

    func ranking(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.viewScorecards)
        if let own = p.scope.supplierID { return req.redirect(to: "/scorecards/\(own)") }
        let period = try ScorecardAPI.period(req)
        let kind = try ScorecardAPI.itemKind(req), plant = try QualityAPI.uuid(req, "plantId")
        let r = try await ScorecardService.ranking(p, period: period, itemKind: kind, plant: plant, app: req.application)
        let plants = try await Site.query(on: req.db).filter(\Site.$kind == SiteKind.plant.rawValue).sort(\Site.$code).all()
        let table = Table(headers: ["#", req.t("prices.supplier"), req.t("scorecard.score"), req.t("scorecard.grade")] + Measure.allCases.map { req.t("scorecard.measure.\($0.rawValue)") },
                          rows: r.suppliers.map { s in
            [Cell(text: String(s.rank), num: true), Cell(text: s.supplierName, sub: s.supplierCode, href: "/scorecards/\(s.supplierId)?period=\(period)"),
             Cell(text: Self.score(s.score), num: true), Cell(text: s.grade ?? "—", tone: Self.gradeTone(s.grade))]
                + s.measures.map { Cell(text: Self.percent($0.score), tone: Self.tone($0.score), num: true) }
        })
        let bars = r.suppliers.prefix(15).map { s in
            SVGChart.Bar(label: s.supplierName, value: Int64(s.score ?? 0), display: Self.score(s.score) + (s.grade.map { " · " + $0 } ?? ""),
                         href: "/scorecards/\(s.supplierId)?period=\(period)", tone: s.grade == "D" ? "bad" : s.grade == "C" ? "warn" : "brand")
        }
        return try await req.renderPage("scorecards", titleKey: "scorecards.title", RankingView(
            period: period.description, periods: Self.periodLinks(req, base: "/scorecards", period), table: table,
            suppliers: r.suppliers.map { Option(value: $0.supplierId.uuidString, label: "\($0.supplierName) (\($0.supplierCode))") },
            // B starts at the runner-up, so one tap compares the first two.
            suppliersB: r.suppliers.enumerated().map { n, s in
                Option(value: s.supplierId.uuidString, label: "\(s.supplierName) (\(s.supplierCode))", selected: n == min(1, r.suppliers.count - 1)) },
            chart: SVGChart.bars(Array(bars), title: req.t("scorecards.chart"), empty: req.t("scorecard.noData")),
            canConfigure: p.can(.configureScorecards),
            kinds: [Option(value: "", label: req.t("item.kind.all"), selected: kind == nil)]
                + ItemKind.allCases.map { Option(value: $0.rawValue, label: req.t("item.kind.\($0.rawValue)"), selected: kind == $0.rawValue) },
            plants: [Option(value: "", label: req.t("scorecards.allPlants"), selected: plant == nil)]
                + plants.map { Option(value: $0.id!.uuidString, label: "\($0.name) (\($0.code))", selected: plant == $0.id) },
            filtered: kind != nil || plant != nil)).encodeResponse(for: req)
    }

    struct CompareView: Encodable {
        let period: String
        let table: Table
    }

    func compare(req: Request) async throws -> View {
        let p = try req.requirePrincipal()
        try p.require(.viewScorecards)
        guard !p.isSupplier else { throw Problem.forbidden }
        let period = try ScorecardAPI.period(req)
        var ids: [UUID] = []
        for name in ["a", "b"] {
            guard let raw = req.queryText(name), let id = UUID(uuidString: raw) else {
                throw Problem.badRequest("problem.query.invalid", fields: [FieldProblem(name, "badId")])
            }
            ids.append(id)
        }
        let a = try await ScorecardService.scorecard(p, supplier: ids[0], period: period, app: req.application)
        let b = try await ScorecardService.scorecard(p, supplier: ids[1], period: period, app: req.application)
        func row(_ label: String, _ f: (ScorecardDTO) -> String, tone: ((ScorecardDTO) -> String?)? = nil) -> [Cell] {
            [Cell(text: label), Cell(text: f(a), tone: tone?(a), num: true), Cell(text: f(b), tone: tone?(b), num: true)]
        }
        var rows = [row(req.t("scorecard.score"), { Self.score($0.score) }), row(req.t("scorecard.grade"), { $0.grade ?? "—" }, tone: { Self.gradeTone($0.grade) })]
        for m in Measure.allCases {
            rows.append(row(req.t("scorecard.measure.\(m.rawValue)"), { c in Self.percent(c.measures.first { $0.measure == m.rawValue }?.score) },
                            tone: { c in Self.tone(c.measures.first { $0.measure == m.rawValue }?.score) }))
            let fa = Self.figures(req, m, a), fb = Self.figures(req, m, b)
            for (n, line) in fa.enumerated() { rows.append([Cell(text: "", sub: nil), Cell(text: line), Cell(text: n < fb.count ? fb[n] : "")]) }
        }
        return try await req.renderPage("scorecard_compare", titleKey: "scorecards.compare", CompareView(period: period.description, table: Table(
            headers: ["", a.supplierName, b.supplierName], rows: rows)))
    }

    // MARK: Settings (admin)

    struct SettingsView: Encodable {
        let weights: WeightsDTO
        let values: [String: String]
        let lastMonth: String
        let proposals: [StatusProposalDTO]
        let errors: FormErrors
    }

    func renderSettings(_ req: Request, values: [String: String]? = nil, problem: Problem? = nil) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureScorecards)
        let w = try await ScorecardService.currentWeights(on: req.db)
        let v = w.weights
        let current = ["delivery": v.delivery, "quality": v.quality, "exceptions": v.exceptions, "cost": v.cost, "communication": v.communication,
                       "gradeA": v.gradeA, "gradeB": v.gradeB, "gradeC": v.gradeC, "silentDays": v.silentDays, "costLimitPercent": v.costLimitPercent]
            .mapValues(String.init)
        return try await req.renderForm("scorecard_settings", titleKey: "scorecards.settings", SettingsView(
            weights: w, values: values ?? current, lastMonth: ScorePeriod.month(of: req.subcon.today()).previous.description,
            proposals: try await ScorecardGrading.proposals(p, on: req.db), errors: req.formErrors(problem)), problem: problem)
    }

    func settings(req: Request) async throws -> Response { try await renderSettings(req) }

    func saveSettings(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureScorecards)
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            var bad: [FieldProblem] = []
            func int(_ k: String) -> Int {
                guard let n = Int((v[k] ?? "").trimmingCharacters(in: .whitespaces)) else { bad.append(FieldProblem(k, "notANumber")); return 0 }
                return n
            }
            let input = WeightsInput(delivery: int("delivery"), quality: int("quality"), exceptions: int("exceptions"), cost: int("cost"),
                                     communication: int("communication"), gradeA: int("gradeA"), gradeB: int("gradeB"), gradeC: int("gradeC"),
                                     silentDays: int("silentDays"), costLimitPercent: int("costLimitPercent"), reason: v["reason"] ?? "")
            if !bad.isEmpty { throw Problem.validation(bad) }
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ScorecardService.saveWeights(p, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/scorecards/settings?ok=scorecardWeights") }
        return try await renderSettings(req, values: v, problem: problem)
    }

    func closeMonth(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.configureScorecards)
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            guard let period = ScorePeriod(v["period"] ?? ""), case .month = period else { throw Problem.validation([FieldProblem("period", "badPeriod")]) }
            _ = try await ScorecardGrading.closeMonth(period, by: p.auditActor, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/scorecards/settings?ok=scorecardClosed") }
        return try await renderSettings(req, problem: problem)
    }

    func decide(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.administerInstallation)
        let id = try req.idParameter()
        let v = try req.content.decode([String: String].self)
        let problem = try await attempt {
            let input = ProposalDecisionInput(version: Int(v["version"] ?? "") ?? -1, decision: v["decision"] ?? "", reason: v["reason"] ?? "")
            if case let problems = input.validate(), !problems.isEmpty { throw Problem.validation(problems) }
            _ = try await ScorecardGrading.decide(p, id, input, app: req.application)
        }
        guard let problem else { return req.redirect(to: "/scorecards/settings?ok=scorecardDecided") }
        return try await renderSettings(req, problem: problem)
    }
}
