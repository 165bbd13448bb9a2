import Fluent
import Foundation
import SQLKit
import SubconDomain
import Vapor

struct BOMLineInput: Codable, Sendable {
    /// Component item code.
    var component: String
    var quantityPer: FixedDecimal
    var scrapPercent: FixedDecimal?
    var supplyBy: String?
}

struct BOMInput: StrictInput {
    static let fields: Set<String> = ["validFrom", "validTo", "note", "lines"]
    var validFrom: Day
    var validTo: Day?
    var note: String?
    var lines: [BOMLineInput]

    func validate() -> [FieldProblem] {
        var p: [FieldProblem] = []
        if let validTo, validTo < validFrom { p.append(FieldProblem("validTo", "beforeStart")) }
        if lines.isEmpty { p.append(FieldProblem("lines", "required")) }
        if lines.count > 500 { p.append(FieldProblem("lines", "tooMany", ["max": "500"])) }
        for (i, l) in lines.enumerated() where l.supplyBy.map({ SupplyBy(rawValue: $0) == nil }) ?? false {
            p.append(FieldProblem("lines[\(i)].supplyBy", "invalidValue"))
        }
        Check.text(note, "note", required: false, max: 500, into: &p)
        return p
    }
}

struct BOMPatchInput: StrictInput {
    static let fields: Set<String> = ["version", "validTo", "note", "lines"]
    var version: Int
    var validTo: Day?
    var note: String?
    var lines: [BOMLineInput]?
}

struct BOMDTO: Content {
    struct Line: Content {
        let lineNo: Int
        let componentId: UUID
        let componentCode: String
        let componentName: String
        let quantityPer: FixedDecimal
        let scrapPercent: FixedDecimal
        let supplyBy: String
    }
    let id: UUID
    let parentItemId: UUID
    let number: Int
    let validFrom: String
    let validTo: String?
    let note: String
    let version: Int
    let lines: [Line]
}

struct ExplosionDTO: Content {
    struct Line: Content {
        let level: Int
        let parentCode: String
        let componentCode: String
        let componentName: String
        let uom: String
        let bomVersion: Int
        let quantityPer: FixedDecimal
        let scrapPercent: FixedDecimal
        let netQuantity: FixedDecimal
        let grossQuantity: FixedDecimal
        let supplyBy: String
    }
    let itemCode: String
    let quantity: FixedDecimal
    let date: String
    let lines: [Line]
}

/// BOM versions (物料清单) and their explosion into gross requirements.
enum BOMService {
    static func versions(_ p: Principal, itemID: UUID, on db: any Database) async throws -> [BOMDTO] {
        _ = try await ItemService.get(p, itemID, on: db)
        let headers = try await BOMHeader.query(on: db).filter(\.$parent.$id == itemID).sort(\.$number)
            .with(\.$lines) { $0.with(\.$component) }.all()
        return headers.map(dto)
    }

    static func dto(_ h: BOMHeader) -> BOMDTO {
        BOMDTO(id: h.id!, parentItemId: h.$parent.id, number: h.number, validFrom: h.validFrom, validTo: h.validTo, note: h.note,
               version: h.version, lines: h.lines.sorted { $0.lineNo < $1.lineNo }.map {
                   .init(lineNo: $0.lineNo, componentId: $0.$component.id, componentCode: $0.component.code,
                         componentName: $0.component.name, quantityPer: FixedDecimal(units: $0.quantityPerUnits),
                         scrapPercent: FixedDecimal(units: $0.scrapPercentUnits), supplyBy: $0.supplyBy)
               })
    }

    /// Every BOM version in the installation, in the domain's terms (item codes).
    /// For each of these parent items, the BOM version in force on `day` (if any).
    static func versionsInForce(items: Set<String>, on day: Day, db: any Database) async throws -> [String: BOMVersion] {
        guard !items.isEmpty else { return [:] }
        struct Row: Decodable {
            let bom_id: UUID; let number: Int; let valid_from: String; let valid_to: String?
            let parent: String; let component: String; let quantity_per: Int64; let scrap_percent: Int64; let supply_by: String
        }
        let d = day.description
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT b.id AS bom_id, b.number, b.valid_from, b.valid_to, p.code AS parent, c.code AS component,
                   l.quantity_per, l.scrap_percent, l.supply_by
            FROM boms b JOIN items p ON p.id = b.parent_item_id
            JOIN bom_lines l ON l.bom_id = b.id JOIN items c ON c.id = l.component_item_id
            WHERE p.code IN (\(binds: Array(items))) AND b.valid_from <= \(bind: d) AND (b.valid_to IS NULL OR b.valid_to >= \(bind: d))
            ORDER BY p.code, l.line_no
            """)
            .rows(decoding: Row.self)
        var out: [String: BOMVersion] = [:]
        for r in rows {
            if out[r.parent] == nil {
                out[r.parent] = BOMVersion(parent: r.parent, number: r.number,
                                           validity: Validity(from: Day(r.valid_from)!, to: r.valid_to.flatMap(Day.init)) ?? Validity(from: Day(r.valid_from)!, to: nil)!,
                                           lines: [])
            }
            out[r.parent]!.lines.append(BOMLine(component: r.component, quantityPer: FixedDecimal(units: r.quantity_per),
                                                scrapPercent: FixedDecimal(units: r.scrap_percent), supplyBy: SupplyBy(rawValue: r.supply_by) ?? .manufacturer))
        }
        return out
    }

    static func allVersions(on db: any Database) async throws -> [BOMVersion] {
        struct Row: Decodable {
            let bom_id: UUID; let number: Int; let valid_from: String; let valid_to: String?
            let parent: String; let component: String; let quantity_per: Int64; let scrap_percent: Int64; let supply_by: String; let line_no: Int
        }
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT b.id AS bom_id, b.number, b.valid_from, b.valid_to, p.code AS parent, c.code AS component,
                   l.quantity_per, l.scrap_percent, l.supply_by, l.line_no
            FROM boms b JOIN items p ON p.id = b.parent_item_id
            JOIN bom_lines l ON l.bom_id = b.id JOIN items c ON c.id = l.component_item_id
            ORDER BY b.id, l.line_no
            """).rows(decoding: Row.self)
        var byBOM: [UUID: BOMVersion] = [:]
        for r in rows {
            let line = BOMLine(component: r.component, quantityPer: FixedDecimal(units: r.quantity_per),
                               scrapPercent: FixedDecimal(units: r.scrap_percent), supplyBy: SupplyBy(rawValue: r.supply_by) ?? .manufacturer)
            if byBOM[r.bom_id] == nil {
                let validity = Validity(from: Day(r.valid_from)!, to: r.valid_to.flatMap(Day.init)) ?? Validity(from: Day(r.valid_from)!, to: nil)!
                byBOM[r.bom_id] = BOMVersion(parent: r.parent, number: r.number, validity: validity, lines: [])
            }
            byBOM[r.bom_id]!.lines.append(line)
        }
        return Array(byBOM.values)
    }

    /// Resolves component codes and checks the whole BOM set with the new or changed version in it;
    /// returns the component ids, line by line.
    static func prepare(parent: Item, number: Int, validity: Validity, lines: [BOMLineInput], replacing: Int?,
                        on db: any Database) async throws -> [UUID] {
        let codes = Set(lines.map(\.component))
        let items = try await Item.query(on: db).filter(\.$code ~~ codes).all()
        let idByCode = Dictionary(uniqueKeysWithValues: items.map { ($0.code, $0.id!) })
        var problems: [FieldProblem] = []
        for (i, l) in lines.enumerated() where idByCode[l.component] == nil {
            problems.append(FieldProblem("lines[\(i)].component", "unknownItem", ["code": l.component]))
        }
        if !problems.isEmpty { throw Problem.validation(problems) }
        let version = BOMVersion(parent: parent.code, number: number, validity: validity, lines: lines.map {
            BOMLine(component: $0.component, quantityPer: $0.quantityPer, scrapPercent: $0.scrapPercent ?? .zero,
                    supplyBy: $0.supplyBy.flatMap(SupplyBy.init(rawValue:)) ?? .manufacturer)
        })
        var all = try await allVersions(on: db).filter { !($0.parent == parent.code && $0.number == (replacing ?? -1)) }
        all.append(version)
        let found = BOMRules.check(all).filter { problem in
            // Problems already present elsewhere are not this request's fault; report those it touches.
            switch problem {
            case .cycle(let chain): chain.contains(parent.code)
            case .overlappingVersions(let p, let a, let b): p == parent.code && (a == number || b == number)
            case .nonPositiveQuantity(let p, _), .negativeScrap(let p, _), .selfReference(let p): p == parent.code
            }
        }
        if !found.isEmpty { throw Problem.validation(found.map(fieldProblem)) }
        return lines.map { idByCode[$0.component]! }
    }

    static func fieldProblem(_ p: BOMRules.Problem) -> FieldProblem {
        switch p {
        case .cycle(let chain): FieldProblem("lines", "bomCycle", ["chain": chain.joined(separator: " → ")])
        case .overlappingVersions(_, let a, let b): FieldProblem("validFrom", "bomOverlap", ["first": String(a), "second": String(b)])
        case .nonPositiveQuantity(_, let c): FieldProblem("lines", "bomQuantity", ["component": c])
        case .negativeScrap(_, let c): FieldProblem("lines", "bomScrap", ["component": c])
        case .selfReference(let c): FieldProblem("lines", "bomSelf", ["component": c])
        }
    }

    static func snapshot(_ h: BOMHeader, _ lines: [BOMLineInput]) -> [String: String?] {
        ["number": String(h.number), "valid_from": h.validFrom, "valid_to": h.validTo, "note": h.note,
         "lines": lines.map { "\($0.component)×\($0.quantityPer)+\($0.scrapPercent ?? .zero)%/\($0.supplyBy ?? "manufacturer")" }.joined(separator: "; ")]
    }

    static func create(_ p: Principal, itemID: UUID, _ input: BOMInput, app: Application) async throws -> BOMDTO {
        try p.require(.editMasterData)
        let parent = try await ItemService.get(p, itemID, on: app.database)
        let validity = Validity(from: input.validFrom, to: input.validTo)!
        let id: UUID = try await app.write(as: p.auditActor) { change in
            let number = (try await BOMHeader.query(on: change.db).filter(\.$parent.$id == itemID).max(\.$number) ?? 0) + 1
            let componentIDs = try await prepare(parent: parent, number: number, validity: validity, lines: input.lines,
                                                      replacing: nil, on: change.db)
            let h = BOMHeader()
            h.$parent.id = itemID; h.number = number; h.validFrom = input.validFrom.description; h.validTo = input.validTo?.description
            h.note = input.note ?? ""; h.version = 1; h.createdAt = change.now
            try await h.create(on: change.db)
            try await insertLines(input.lines, componentIDs, bomID: h.id!, on: change.db)
            try await change.audit("bom", h.id, "create", after: snapshot(h, input.lines))
            return h.id!
        }
        return try await get(id, on: app.database)
    }

    static func update(_ p: Principal, bomID: UUID, _ input: BOMPatchInput, app: Application) async throws -> BOMDTO {
        try p.require(.editMasterData)
        guard let h = try await BOMHeader.query(on: app.database).filter(\.$id == bomID).with(\.$parent)
            .with(\.$lines) { $0.with(\.$component) }.first() else { throw Problem.notFound }
        guard input.version == h.version else { throw Problem.staleVersion(current: h.version) }
        let oldLines = h.lines.sorted { $0.lineNo < $1.lineNo }.map {
            BOMLineInput(component: $0.component.code, quantityPer: FixedDecimal(units: $0.quantityPerUnits),
                         scrapPercent: FixedDecimal(units: $0.scrapPercentUnits), supplyBy: $0.supplyBy)
        }
        let before = snapshot(h, oldLines)
        let lines = input.lines ?? oldLines
        if lines.isEmpty { throw Problem.validation([FieldProblem("lines", "required")]) }
        let from = Day(h.validFrom)!
        let to = input.validTo ?? h.validTo.flatMap(Day.init)
        guard let validity = Validity(from: from, to: to) else { throw Problem.validation([FieldProblem("validTo", "beforeStart")]) }
        let parent = h.parent
        try await app.write(as: p.auditActor) { change in
            let componentIDs = try await prepare(parent: parent, number: h.number, validity: validity, lines: lines,
                                                      replacing: h.number, on: change.db)
            try await change.updateVersioned(BOMHeader.schema, id: bomID, expected: input.version,
                                             sets: ["valid_to": to?.description, "note": input.note ?? h.note])
            if input.lines != nil {
                try await BOMLineRow.query(on: change.db).filter(\.$bom.$id == bomID).delete()
                try await insertLines(lines, componentIDs, bomID: bomID, on: change.db)
            }
            h.validTo = to?.description; h.note = input.note ?? h.note
            try await change.audit("bom", bomID, "update", before: before, after: snapshot(h, lines))
        }
        return try await get(bomID, on: app.database)
    }

    static func get(_ id: UUID, on db: any Database) async throws -> BOMDTO {
        guard let h = try await BOMHeader.query(on: db).filter(\.$id == id).with(\.$lines) { $0.with(\.$component) }.first() else {
            throw Problem.notFound
        }
        return dto(h)
    }

    private static func insertLines(_ lines: [BOMLineInput], _ componentIDs: [UUID], bomID: UUID, on db: any Database) async throws {
        for (i, l) in lines.enumerated() {
            let row = BOMLineRow()
            row.$bom.id = bomID; row.lineNo = i + 1; row.$component.id = componentIDs[i]
            row.quantityPerUnits = l.quantityPer.units; row.scrapPercentUnits = (l.scrapPercent ?? .zero).units
            row.supplyBy = l.supplyBy ?? SupplyBy.manufacturer.rawValue
            try await row.create(on: db)
        }
    }

    static func explode(_ p: Principal, itemID: UUID, quantity: FixedDecimal, on day: Day, db: any Database) async throws -> ExplosionDTO {
        let item = try await ItemService.get(p, itemID, on: db)
        let versions = try await allVersions(on: db)
        let requirements: [BOMExplosion.Requirement]
        do {
            requirements = try BOMExplosion.explode(item.code, quantity: quantity, on: day, versions: versions)
        } catch {
            switch error {
            case .cycle(let chain): throw Problem.validation([FieldProblem("item", "bomCycle", ["chain": chain.joined(separator: " → ")])])
            case .overflow: throw Problem.validation([FieldProblem("quantity", "tooLarge")])
            }
        }
        let codes = Set(requirements.map(\.component))
        let items = Dictionary(uniqueKeysWithValues: try await Item.query(on: db).filter(\.$code ~~ codes).all().map { ($0.code, $0) })
        return ExplosionDTO(itemCode: item.code, quantity: quantity, date: day.description, lines: requirements.map {
            .init(level: $0.level, parentCode: $0.parent, componentCode: $0.component, componentName: items[$0.component]?.name ?? "",
                  uom: items[$0.component]?.uom ?? "", bomVersion: $0.bomVersion, quantityPer: $0.quantityPer,
                  scrapPercent: $0.scrapPercent, netQuantity: $0.netQuantity, grossQuantity: $0.grossQuantity, supplyBy: $0.supplyBy.rawValue)
        })
    }
}
