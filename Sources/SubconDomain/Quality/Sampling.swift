/// ISO 2859-1:1999 (= GB/T 2828.1-2012) single sampling by attributes: sample-size code letters
/// (Table 1) and the master tables for normal, tightened and reduced inspection (Tables 2-A,
/// 2-B, 2-C), arrows included.
///
/// The master tables are diagonal: along a row the sample size stays and the AQL grows; one row
/// down and one column left lands on the same acceptance number. So a cell is fixed by its
/// diagonal, `row + column - offset`, and each table is its diagonal sequence (0 1, arrows,
/// 1 2, 2 3, …). The exceptions the printed tables make are written out where they occur.
public enum Sampling {
    /// General inspection levels I, II (the default), III and special levels S-1 … S-4.
    public enum Level: String, CaseIterable, Codable, Sendable {
        case s1 = "S-1", s2 = "S-2", s3 = "S-3", s4 = "S-4", i = "I", ii = "II", iii = "III"
    }

    /// Normal, tightened or reduced inspection (the switching rules choose; see `Switching`).
    public enum Severity: String, CaseIterable, Codable, Sendable {
        case normal, tightened, reduced
    }

    /// Acceptance quality limits offered, in percent nonconforming. The master tables go on to
    /// 1000 for nonconformities per hundred units; incoming inspection here counts nonconforming
    /// units, where 10 is the largest AQL the standard gives.
    public enum AQL: String, CaseIterable, Codable, Sendable {
        case p0_010 = "0.010", p0_015 = "0.015", p0_025 = "0.025", p0_040 = "0.040", p0_065 = "0.065", p0_10 = "0.10"
        case p0_15 = "0.15", p0_25 = "0.25", p0_40 = "0.40", p0_65 = "0.65", p1_0 = "1.0", p1_5 = "1.5", p2_5 = "2.5"
        case p4_0 = "4.0", p6_5 = "6.5", p10 = "10"

        var column: Int { Self.allCases.firstIndex(of: self)! }
        /// The next tighter AQL (used by the switching score), nil for the tightest.
        public var tighter: AQL? { column == 0 ? nil : Self.allCases[column - 1] }
    }

    public enum CodeLetter: String, CaseIterable, Codable, Sendable, Comparable {
        case A, B, C, D, E, F, G, H, J, K, L, M, N, P, Q, R, S
        var index: Int { Self.allCases.firstIndex(of: self)! }
        public static func < (a: Self, b: Self) -> Bool { a.index < b.index }
        /// Normal and tightened sample sizes (S exists only in the tightened table).
        public var sampleSize: Int { [2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000, 3150][index] }
        /// Reduced inspection samples like the letter two rows up (A, B and C all take 2).
        public var reducedSampleSize: Int { [2, 2, 2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800][min(index, 15)] }
    }

    /// Table 1: the upper lot size of each band, and the letter per level (S-1 … S-4, I, II, III).
    static let codeLetters: [(upTo: Int, letters: String)] = [
        (8, "AAAAAAB"), (15, "AAAAABC"), (25, "AABBBCD"), (50, "ABBCCDE"), (90, "BBCCCEF"), (150, "BBCDDFG"),
        (280, "BCDEEGH"), (500, "BCDEFHJ"), (1200, "CCEFGJK"), (3200, "CDEGHKL"), (10_000, "CDFGJLM"),
        (35_000, "CDFHKMN"), (150_000, "DEGJLNP"), (500_000, "DEGJMPQ"), (Int.max, "DEHKNQR"),
    ]

    public static func codeLetter(lotSize: Int, level: Level) -> CodeLetter {
        let band = codeLetters.first { lotSize <= $0.upTo }!
        let column = Level.allCases.firstIndex(of: level)!
        let ch = band.letters[band.letters.index(band.letters.startIndex, offsetBy: column)]
        return CodeLetter(rawValue: String(ch))!
    }

    /// One cell of a master table.
    enum Cell: Equatable { case plan(ac: Int, re: Int), up, down }

    /// The acceptance numbers along a diagonal, from the 0 1 cell on; past the end the table
    /// points up to the largest plan. Normal: 0 1, ↑, ↓, 1 2, 2 3, 3 4, 5 6, 7 8, 10 11, 14 15, 21 22.
    static let normalDiagonal: [Cell] = [.plan(ac: 0, re: 1), .up, .down] + [1, 2, 3, 5, 7, 10, 14, 21].map { .plan(ac: $0, re: $0 + 1) }
    /// Tightened: 0 1, ↓, ↓, 1 2, 2 3, 3 4, 5 6, 8 9, 12 13, 18 19.
    static let tightenedDiagonal: [Cell] = [.plan(ac: 0, re: 1), .down, .down] + [1, 2, 3, 5, 8, 12, 18].map { .plan(ac: $0, re: $0 + 1) }

    /// The diagonal a row sits on. Row R of Tables 2-A and 2-B is printed with numbers all
    /// across (1 2 under 0.010), i.e. it continues the diagonal two places further than its
    /// position; row S of Table 2-B has its single plan, 1 2, under 0.010.
    static func diagonalRow(_ letter: CodeLetter) -> Int { letter == .R ? 17 : letter == .S ? 18 : letter.index }

    static func cell(_ letter: CodeLetter, _ aql: AQL, tightened: Bool) -> Cell {
        let k = diagonalRow(letter) + aql.column - (tightened ? 15 : 14)
        if k < 0 { return .down }
        let diagonal = tightened ? tightenedDiagonal : normalDiagonal
        return k < diagonal.count ? diagonal[k] : .up
    }

    /// A sampling plan for one lot.
    public struct Plan: Equatable, Sendable, Codable {
        /// The letter of the plan used (after following arrows), and the letter Table 1 gave.
        public var codeLetter: CodeLetter
        public var tableLetter: CodeLetter
        /// Units to inspect; the whole lot when the plan's sample is at least the lot (100 % inspection).
        public var sampleSize: Int
        public var acceptance: Int
        public var rejection: Int
        public var severity: Severity
        public var hundredPercent: Bool

        /// A lot is accepted when the nonconforming units found are at most the acceptance number.
        public func accepts(nonconforming: Int) -> Bool { nonconforming <= acceptance }
    }

    /// The plan for a lot: Table 1's letter, then the master table of the severity, following
    /// its arrows to the first plan below or above.
    public static func plan(lotSize: Int, level: Level, aql: AQL, severity: Severity) -> Plan {
        let lot = max(1, lotSize)
        let tableLetter = codeLetter(lotSize: max(2, lot), level: level)
        switch severity {
        case .normal, .tightened:
            let tightened = severity == .tightened
            let last: CodeLetter = tightened ? .S : .R
            var letter = tableLetter
            while true {
                switch cell(letter, aql, tightened: tightened) {
                case .plan(let ac, let re):
                    return finish(letter, tableLetter, letter.sampleSize, ac, re, severity, lot)
                case .down where letter < last:
                    letter = CodeLetter.allCases[letter.index + 1]
                case .up where letter > .A:
                    letter = CodeLetter.allCases[letter.index - 1]
                case .up:
                    // Table 2-A prints an up arrow in row A under AQL 10 with no plan above it;
                    // row A's own plan (0 1, two units) is the nearest the table offers.
                    return finish(.A, tableLetter, 2, 0, 1, severity, lot)
                case .down:
                    // Row S of Table 2-B carries only its 0.010 plan; nothing else points below it.
                    return finish(.S, tableLetter, CodeLetter.S.sampleSize, 1, 2, severity, lot)
                }
            }
        case .reduced:
            // Table 2-C (1999): the reduced sample of a letter is the normal sample two rows up,
            // with the acceptance and rejection numbers normal inspection gives that sample, so
            // the reduced plan is read from Table 2-A two rows up, arrows and all.
            let shifted = CodeLetter.allCases[max(0, tableLetter.index - 2)]
            var p = plan(letter: shifted, aql: aql)
            if p.codeLetter.index + 2 > CodeLetter.R.index {
                // Table 2-C ends at R (800): where Table 2-A points further down there is no
                // reduced plan, and the normal one applies.
                p = plan(letter: tableLetter, aql: aql)
                return finish(p.codeLetter, tableLetter, p.sampleSize, p.acceptance, p.rejection, .normal, lot)
            }
            let reducedLetter = CodeLetter.allCases[p.codeLetter.index + 2]
            return finish(reducedLetter, tableLetter, reducedLetter.reducedSampleSize, p.acceptance, p.rejection, .reduced, lot)
        }
    }

    static func plan(letter: CodeLetter, aql: AQL) -> Plan {
        var l = letter
        while true {
            switch cell(l, aql, tightened: false) {
            case .plan(let ac, let re): return Plan(codeLetter: l, tableLetter: letter, sampleSize: l.sampleSize, acceptance: ac, rejection: re,
                                                    severity: .normal, hundredPercent: false)
            case .down where l < .R: l = CodeLetter.allCases[l.index + 1]
            case .up where l > .A: l = CodeLetter.allCases[l.index - 1]
            default: return Plan(codeLetter: .A, tableLetter: letter, sampleSize: 2, acceptance: 0, rejection: 1, severity: .normal, hundredPercent: false)
            }
        }
    }

    private static func finish(_ letter: CodeLetter, _ tableLetter: CodeLetter, _ n: Int, _ ac: Int, _ re: Int, _ severity: Severity, _ lot: Int) -> Plan {
        // "If the sample size equals or exceeds the lot size, carry out 100 % inspection."
        Plan(codeLetter: letter, tableLetter: tableLetter, sampleSize: min(n, lot), acceptance: ac, rejection: re, severity: severity,
             hundredPercent: n >= lot)
    }
}
