import Foundation

/// Charts drawn on the server as SVG: no script, readable on a phone and in print. Every bar is
/// a link to the list behind it, carries its value as text, and the figure has a title and a
/// description for screen readers.
enum SVGChart {
    struct Bar {
        let label: String
        /// What the bar's length is proportional to (counts, or money in fen).
        let value: Int64
        /// The value as people read it ("12", "¥1,234.50").
        let display: String
        let href: String?
        var tone = "brand"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Horizontal bars, one row each: the label above the bar so long Chinese names fit a phone.
    static func bars(_ bars: [Bar], title: String, empty: String) -> String {
        guard !bars.isEmpty else { return "<p class=\"muted\">\(escape(empty))</p>" }
        let width = 400, row = 38
        let height = bars.count * row + 4
        let top = max(1, bars.map(\.value).max() ?? 1)
        var out = "<svg class=\"chart bars\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-labelledby=\"t\(title.hashValue.magnitude)\">"
        out += "<title id=\"t\(title.hashValue.magnitude)\">\(escape(title)): " + escape(bars.map { "\($0.label) \($0.display)" }.joined(separator: ", ")) + "</title>"
        for (n, b) in bars.enumerated() {
            let y = n * row
            let length = b.value <= 0 ? 0 : max(2, Int(Double(b.value) / Double(top) * Double(width - 190)))
            var g = "<text x=\"0\" y=\"\(y + 13)\" class=\"label\">\(escape(b.label))</text>"
            g += "<rect x=\"0\" y=\"\(y + 18)\" width=\"\(length)\" height=\"14\" rx=\"3\" class=\"bar \(b.tone)\"/>"
            g += "<text x=\"\(length + 6)\" y=\"\(y + 30)\" class=\"value\">\(escape(b.display))</text>"
            out += b.href.map { "<a href=\"\(escape($0))\">\(g)</a>" } ?? g
        }
        return out + "</svg>"
    }

    struct Point {
        let label: String
        /// nil: nothing measured in that period (a gap, not a zero).
        let value: Int64?
        let display: String
        /// The records behind the point.
        var href: String? = nil
    }

    /// A line over periods (months), with the values written at the points.
    static func line(_ points: [Point], title: String, empty: String) -> String {
        guard points.contains(where: { $0.value != nil }) else { return "<p class=\"muted\">\(escape(empty))</p>" }
        let width = 320, height = 150, left = 22, right = 22, top = 22, bottom = 24  // half a period's label fits at each end
        let values = points.compactMap(\.value)
        let high = max(values.max() ?? 1, 1), low = min(values.min() ?? 0, 0)
        let step = points.count > 1 ? Double(width - left - right) / Double(points.count - 1) : 0
        func x(_ n: Int) -> Int { left + Int(Double(n) * step) }
        func y(_ v: Int64) -> Int { top + Int(Double(high - v) / Double(max(1, high - low)) * Double(height - top - bottom)) }
        // With many points the numbers would run into each other on a phone: only the first, the
        // last, the highest and the lowest carry theirs (the table beside the chart has them all).
        let measured = points.indices.filter { points[$0].value != nil }
        let crowded = points.count > 8
        // A run of equal values says its number once: repeated side by side ("100%100%") they
        // ran together on a phone.
        let changes = measured.enumerated().filter { i, n in i == 0 || points[measured[i - 1]].display != points[n].display }.map(\.element)
        var labelled = Set(crowded ? [measured.first, measured.last].compactMap { $0 } : changes)
        if crowded {
            // The extremes too, unless a neighbour already says much the same.
            for extreme in [measured.max { points[$0].value! < points[$1].value! }, measured.min { points[$0].value! < points[$1].value! }].compactMap({ $0 })
            where !labelled.contains(where: { abs($0 - extreme) <= 1 }) { labelled.insert(extreme) }
        }
        var out = "<svg class=\"chart line\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        out += "<title>\(escape(title)): " + escape(points.map { "\($0.label) \($0.value == nil ? "—" : $0.display)" }.joined(separator: ", ")) + "</title>"
        out += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" class=\"axis\"/>"
        var path = "", pen = false
        for (n, p) in points.enumerated() {
            guard let v = p.value else { pen = false; continue }
            path += "\(pen ? "L" : "M")\(x(n)) \(y(v)) "
            pen = true
        }
        out += "<path d=\"\(path)\" class=\"trend\"/>"
        // The axis names every `stride`-th point, counted back from the last, when the names
        // would run into each other (twelve years, "2015" to "2026", read as one number); a
        // digit is about 7.5 units wide at the charts' size.
        let widest = points.map(\.label.count).max() ?? 0
        let stride = step > 0 ? max(1, Int((Double(widest) * 7.5 / step).rounded(.up))) : 1
        for (n, p) in points.enumerated() {
            if (points.count - 1 - n) % stride == 0 {
                out += "<text x=\"\(x(n))\" y=\"\(height - 6)\" text-anchor=\"middle\" class=\"label\">\(escape(p.label))</text>"
            }
            if let v = p.value {
                let anchor = n == 0 ? "start" : n == points.count - 1 ? "end" : "middle"
                var mark = "<circle cx=\"\(x(n))\" cy=\"\(y(v))\" r=\"3\" class=\"dot\"/>"
                if labelled.contains(n) {
                    mark += "<text x=\"\(x(n))\" y=\"\(y(v) - 7)\" text-anchor=\"\(anchor)\" class=\"value\">\(escape(p.display))</text>"
                }
                out += p.href.map { "<a href=\"\(escape($0))\"><title>\(escape(p.label)) \(escape(p.display))</title>\(mark)</a>" } ?? mark
            }
        }
        return out + "</svg>"
    }
}
