import Foundation
import SubconDomain

/// What an upload holds: one kind of master data, or a workbook with one sheet per kind.
enum ImportKind: String, Codable, Sendable, CaseIterable {
    case items, boms, routings, suppliers, prices, workbook
    /// Draft outsourcing orders (not master data: never part of a workbook import).
    case orders

    /// The kinds of data, in the order a workbook applies them: each may refer to what an
    /// earlier one creates (routings name suppliers, BOMs name items, prices name operations).
    static let dataKinds: [ImportKind] = [.suppliers, .items, .routings, .boms, .prices]

    var columns: [ImportColumn] {
        switch self {
        case .items: ItemImport.columns
        case .boms: BOMImport.columns
        case .routings: RoutingImport.columns
        case .suppliers: SupplierImport.columns
        case .prices: PriceImport.columns
        case .orders: OrderImport.columns
        case .workbook: []
        }
    }

    /// Who may upload a file of this kind (a workbook's sheets are each checked again against
    /// their own kind's permission).
    var uploadPermission: Action { self == .workbook ? .editMasterData : permission }

    /// Who may import this kind.
    var permission: Action {
        switch self {
        case .suppliers: .manageSuppliers
        case .prices: .managePrices
        case .orders: .manageOrders
        default: .editMasterData
        }
    }

    /// Worksheet names a workbook sheet is recognised by, in every UI language; the first three
    /// are what exports write (en, zh-Hans, zh-Hant, matching `sheet.<kind>` in the catalog).
    var sheetNames: [String] {
        switch self {
        case .items: ["items", "物料", "物料", "物料主数据", "物料主數據"]
        case .boms: ["boms", "物料清单", "物料清單", "bom"]
        case .routings: ["routings", "工艺路线", "工藝路線", "工序"]
        case .suppliers: ["suppliers", "供应商", "供應商"]
        case .prices: ["prices", "价格协议", "價格協議", "价格", "價格"]
        case .orders: ["orders", "委外订单", "委外訂單"]
        case .workbook: []
        }
    }

    static func forSheet(named name: String) -> ImportKind? {
        let n = name.trimmingCharacters(in: .whitespaces).lowercased()
        return dataKinds.first { $0.sheetNames.contains(n) }
    }

    func sheetName(_ locale: AppLocale) -> String {
        switch locale {
        case .en: sheetNames[0]
        case .zhHans: sheetNames[1]
        case .zhHant: sheetNames[2]
        }
    }
}

/// One sheet of an upload, as read from the file, kept with the batch so the commit applies
/// exactly what was previewed.
struct ImportSheet: Codable, Sendable {
    let kind: ImportKind
    /// The worksheet's name (nil for CSV).
    let name: String?
    let headers: [String]
    let rows: [[String]]

    var table: ImportTable { ImportTable(headers: headers, rows: rows) }
}
