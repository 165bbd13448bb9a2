/// A strict RFC 8259 syntax check, run before any JSON body is decoded.
///
/// Foundation's parser on Linux is lenient: it accepts trailing commas (`{"version":2,}`) and
/// more, so a body that another client would refuse could be written. This checker accepts
/// exactly the JSON grammar — no trailing commas, no comments, no single quotes, no leading
/// zeros, no control characters in strings, valid escapes and UTF-8 — and refuses nesting deeper
/// than `maxDepth` (so a crafted body cannot exhaust the stack).
public enum JSONSyntax {
    public struct Invalid: Error, Equatable, Sendable {
        /// Byte offset where the text stops being JSON.
        public let offset: Int
    }

    public static let maxDepth = 64

    public static func check(_ bytes: some Collection<UInt8>) throws(Invalid) {
        var p = Parser(bytes: Array(bytes))
        try p.whitespace()
        try p.value(depth: 0)
        try p.whitespace()
        guard p.i == p.b.count else { throw Invalid(offset: p.i) }
    }

    private struct Parser {
        let b: [UInt8]
        var i = 0
        init(bytes: [UInt8]) { b = bytes }

        var peek: UInt8? { i < b.count ? b[i] : nil }
        func fail() -> Invalid { Invalid(offset: i) }

        mutating func whitespace() throws(Invalid) {
            while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws(Invalid) {
            guard peek == c else { throw fail() }
            i += 1
        }

        mutating func value(depth: Int) throws(Invalid) {
            guard depth < JSONSyntax.maxDepth, let c = peek else { throw fail() }
            switch c {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try number()
            }
        }

        mutating func literal(_ word: String) throws(Invalid) {
            for c in word.utf8 { try expect(c) }
        }

        mutating func object(depth: Int) throws(Invalid) {
            try expect(UInt8(ascii: "{")); try whitespace()
            if peek == UInt8(ascii: "}") { i += 1; return }
            while true {
                try whitespace(); try string(); try whitespace()
                try expect(UInt8(ascii: ":")); try whitespace()
                try value(depth: depth); try whitespace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "}")); return
            }
        }

        mutating func array(depth: Int) throws(Invalid) {
            try expect(UInt8(ascii: "[")); try whitespace()
            if peek == UInt8(ascii: "]") { i += 1; return }
            while true {
                try whitespace(); try value(depth: depth); try whitespace()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                try expect(UInt8(ascii: "]")); return
            }
        }

        mutating func digits() throws(Invalid) {
            guard let c = peek, c >= 0x30 && c <= 0x39 else { throw fail() }
            while let c = peek, c >= 0x30 && c <= 0x39 { i += 1 }
        }

        mutating func number() throws(Invalid) {
            if peek == UInt8(ascii: "-") { i += 1 }
            if peek == UInt8(ascii: "0") { i += 1 } else { try digits() }
            if peek == UInt8(ascii: ".") { i += 1; try digits() }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                i += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
                try digits()
            }
        }

        mutating func string() throws(Invalid) {
            try expect(UInt8(ascii: "\""))
            while true {
                guard let c = peek else { throw fail() }
                switch c {
                case UInt8(ascii: "\""): i += 1; return
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = peek else { throw fail() }
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): break
                    case UInt8(ascii: "u"):
                        for _ in 0..<4 {
                            guard let h = peek, (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else { throw fail() }
                            i += 1
                        }
                    default: i -= 1; throw fail()
                    }
                case 0x00..<0x20: throw fail()
                case 0x80...: try utf8Sequence()
                default: i += 1
                }
            }
        }

        /// One multi-byte UTF-8 character (no overlong forms, no surrogates, nothing past U+10FFFF).
        mutating func utf8Sequence() throws(Invalid) {
            let c = b[i]
            let count: Int, lower: UInt8, upper: UInt8
            switch c {
            case 0xC2...0xDF: count = 1; lower = 0x80; upper = 0xBF
            case 0xE0: count = 2; lower = 0xA0; upper = 0xBF
            case 0xE1...0xEC, 0xEE...0xEF: count = 2; lower = 0x80; upper = 0xBF
            case 0xED: count = 2; lower = 0x80; upper = 0x9F
            case 0xF0: count = 3; lower = 0x90; upper = 0xBF
            case 0xF1...0xF3: count = 3; lower = 0x80; upper = 0xBF
            case 0xF4: count = 3; lower = 0x80; upper = 0x8F
            default: throw fail()
            }
            i += 1
            for k in 0..<count {
                guard let n = peek else { throw fail() }
                if k == 0 { guard n >= lower && n <= upper else { throw fail() } }
                else { guard n >= 0x80 && n <= 0xBF else { throw fail() } }
                i += 1
            }
        }
    }
}
