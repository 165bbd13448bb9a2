import LeafKit
import SubconDomain

/// `#num(x)`: a quantity with thousands separators (20,000). `#money(x)`: ¥1,234.50. Both take
/// the exact decimal text the DTOs carry; anything that is not a number is shown as it is.
struct NumberTag: LeafTag {
    enum Style { case quantity, money }
    let style: Style

    func render(_ ctx: LeafContext) throws -> LeafData {
        guard let value = ctx.parameters.first else { return .string("") }
        let text = value.string ?? value.int.map(String.init) ?? ""
        guard let d = try? FixedDecimal.parse(text) else { return .string(text) }
        return .string(style == .money ? d.yuan : d.grouped)
    }
}
