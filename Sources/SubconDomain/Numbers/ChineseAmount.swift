/// Amounts in Chinese capital numerals (大写金额), as printed statements, invoices and cheques
/// write them so a figure cannot be altered by adding a stroke: ¥1,409.02 → 壹仟肆佰零玖元零贰分.
///
/// Rules (as banks apply them): 壹 is written before 拾 (壹拾, not 拾); a run of zeros inside the
/// number is one 零; zeros at the end of a four-digit section are dropped, and a section that is
/// all zeros takes no 万/亿; 元 is followed by 整 when there are no 角 and 分, 角 without 分 is
/// followed by 整, and a missing 角 before 分 is written 零 (零贰分). Below one yuan the 元 is
/// left out (伍角整); zero is 零元整; a negative amount starts with 负.
public enum ChineseAmount {
    static let digits: [Character] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"]
    static let places = ["", "拾", "佰", "仟"]
    static let sections = ["", "万", "亿", "兆"]

    /// The amount rounded once to the fen, in capitals.
    public static func words(_ amount: FixedDecimal) -> String {
        let fenTotal = amount.rounded(toScale: 2).units / 100
        let negative = fenTotal < 0
        let fen = fenTotal.magnitude
        let yuan = fen / 100, jiao = Int(fen / 10 % 10), cent = Int(fen % 10)
        var out = negative ? "负" : ""
        if yuan > 0 { out += integerWords(yuan) + "元" }
        if jiao == 0 && cent == 0 { return out + (yuan == 0 ? "零元整" : "整") }
        if jiao > 0 { out.append(digits[jiao]); out += "角" } else if yuan > 0 { out += "零" }
        if cent > 0 { out.append(digits[cent]); out += "分" } else { out += "整" }
        return out
    }

    static func integerWords(_ n: UInt64) -> String {
        let ds = String(n).compactMap { $0.wholeNumberValue }
        var out = "", zeroPending = false, sectionHasDigit = false
        for (i, d) in ds.enumerated() {
            let position = ds.count - 1 - i
            if d == 0 {
                if !out.isEmpty { zeroPending = true }
            } else {
                if zeroPending { out += "零"; zeroPending = false }
                out.append(digits[d]); out += places[position % 4]
                sectionHasDigit = true
            }
            if position % 4 == 0 {
                if sectionHasDigit { out += sections[min(position / 4, sections.count - 1)] }
                sectionHasDigit = false
            }
        }
        return out
    }
}
