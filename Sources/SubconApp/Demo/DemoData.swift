import Fluent
import Foundation
import SubconDomain
import Vapor

/// Demo installation: a manufacturer with two plants and their warehouses, two suppliers, and one
/// login per role, all with password `demo`. Later features add their own records here.
public enum DemoData {
    public static let password = "demo"

    struct Person { let login: String; let name: String; let roles: Set<Role> }

    static let manufacturerPeople: [Person] = [
        .init(login: "admin", name: "系统管理员 王静", roles: [.admin]),
        .init(login: "planner", name: "计划员 李强", roles: [.planner]),
        .init(login: "purchaser", name: "采购员 张敏", roles: [.purchaser]),
        .init(login: "quality", name: "质量工程师 陈刚", roles: [.quality]),
        .init(login: "warehouse", name: "仓管员 刘洋", roles: [.warehouse]),
        .init(login: "finance", name: "财务 赵丽", roles: [.finance]),
    ]

    static func daysFromNow(_ n: Int, _ now: Date) -> Day {
        let c = Calendar(identifier: .gregorian).dateComponents(in: .gmt, from: now)
        return Day(year: c.year!, month: c.month!, day: c.day!)!.adding(days: n)
    }

    /// Seeds only an empty database, so restarting with `--demo` never duplicates anything.
    /// Returns whether it seeded.
    @discardableResult
    public static func seedIfEmpty(app: Application) async throws -> Bool {
        guard try await Organization.query(on: app.database).count() == 0 else { return false }
        let hash = try await app.subcon.passwordHasher.hash(password, on: app)
        try await app.write(as: .system) { change in
            let db = change.db
            let maker = Organization(kind: .manufacturer, code: "HDJM", name: "华东精密制造有限公司", now: change.now)
            try await maker.create(on: db)
            try await change.audit("organization", maker.id, "create", after: maker.auditSnapshot)

            for (code, name, whCode, whName) in [("P1", "苏州一厂", "WH-P1", "一厂原材料仓"), ("P2", "无锡二厂", "WH-P2", "二厂原材料仓")] {
                let plant = Site(organizationID: maker.id!, kind: .plant, code: code, name: name, plantID: nil, now: change.now)
                try await plant.create(on: db)
                try await change.audit("site", plant.id, "create", after: plant.auditSnapshot)
                let wh = Site(organizationID: maker.id!, kind: .warehouse, code: whCode, name: whName, plantID: plant.id, now: change.now)
                try await wh.create(on: db)
                try await change.audit("site", wh.id, "create", after: wh.auditSnapshot)
            }

            var people: [(Person, UUID)] = manufacturerPeople.map { ($0, maker.id!) }
            for (i, (code, name, contact)) in [("SUP-JG", "苏州精工机械有限公司", "供应商一 周伟"),
                                               ("SUP-BM", "昆山华表表面处理有限公司", "供应商二 吴芳")].enumerated() {
                let s = Organization(kind: .supplier, code: code, name: name, now: change.now)
                try await s.create(on: db)
                try await change.audit("organization", s.id, "create", after: s.auditSnapshot)
                let profile = SupplierProfile(organizationID: s.id!, status: .qualified, now: change.now)
                profile.contactName = contact; profile.contactPhone = i == 0 ? "0512-6688 1001" : "0512-5577 2002"
                profile.capabilities = i == 0 ? "CNC加工,钣金,焊接" : "阳极氧化,电镀,喷涂"
                try await profile.create(on: change.db)
                try await change.audit("supplier_profile", s.id, "create", after: profile.auditSnapshot)
                let cert = SupplierCertificate()
                cert.$organization.id = s.id!; cert.kind = i == 0 ? "ISO 9001:2015" : "IATF 16949:2016"
                cert.number = i == 0 ? "CN-QMS-2023-0815" : "IATF-0451220"
                // One certificate runs out within the reminder window, so the reminder has something to show.
                cert.validTo = i == 0 ? "2028-06-30" : Self.daysFromNow(20, change.now).description
                cert.createdAt = change.now
                try await cert.create(on: change.db)
                try await change.audit("supplier_certificate", cert.id, "create", after: cert.auditSnapshot)
                people.append((Person(login: "supplier\(i + 1)", name: contact, roles: [.supplierAdmin]), s.id!))
            }
            for (person, orgID) in people {
                let u = User(organizationID: orgID, login: person.login, displayName: person.name, email: nil,
                             passwordHash: hash, roles: person.roles, locale: nil, now: change.now)
                try await u.create(on: db)
                try await change.audit("user", u.id, "create", after: u.auditSnapshot)
                try await change.notify("user.created", recipients: [u.id!], messageKey: "notice.welcome",
                                        params: ["name": u.displayName, "org": person.roles.contains(.admin) || orgID == maker.id ? maker.name : ""],
                                        link: "/account")
            }
        }
        return true
    }
}
