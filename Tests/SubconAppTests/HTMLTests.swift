import Foundation
import LeafKit
import Testing
@testable import SubconApp

/// Rows written in Swift come out as Leaf would have written them: text escaped the same way,
/// markup only from other markup.
@Suite struct HTMLTests {
    @Test func textIsEscapedAsLeafEscapesIt() {
        let samples = ["", "plain", "散热器组件 · 件", #"<script>alert("x")</script>"#, "a & b", "it's", "1 > 0 < 2",
                       "&amp;", "e\u{301}", "👩‍🔧<b>", "\u{0}<", String(repeating: "<>&\"'", count: 100)]
        for s in samples {
            let html: HTML = "\(s)"
            #expect(html.text == s.htmlEscaped(), "\(s)")
        }
        // Random text over the characters that matter and some that do not.
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("<>&\"'ab 中文·\u{301}👍\n\t;#")
        for _ in 0..<500 {
            let s = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let html: HTML = "<td>\(s)</td>"
            #expect(html.text == "<td>" + s.htmlEscaped() + "</td>", "\(s)")
        }
    }

    @Test func onlyMarkupGoesInAsItIs() {
        let inner: HTML = "<b>\("<i>")</b>"
        let outer: HTML = "<p>\(inner)\(HTML.when(true, "<br>"))\(HTML.when(false, "<hr>"))\(7)</p>"
        #expect(outer.text == "<p><b>&lt;i&gt;</b><br>7</p>")
        var rows = HTML()
        rows += "<tr>"
        rows += "\("</tr>")"
        #expect(rows.text == "<tr>&lt;/tr&gt;")
        let id = UUID()
        #expect(("\(id)" as HTML).text == id.uuidString)
    }
}
