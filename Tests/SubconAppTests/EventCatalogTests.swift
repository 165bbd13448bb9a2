import Foundation
import Testing
@testable import SubconApp
import SubconDomain

/// Every event the code raises is in the catalog (so channels, preferences and receivers know
/// it), and every catalog event has a name in each language. `Change.notify` also stops a debug
/// build that raises an unlisted event, so any flow test catches one this scan cannot see.
@Suite struct EventCatalogTests {
    /// Events named with an interpolation, and what each can become.
    static let dynamic: [String: [String]] = [
        "material.\\(kind.rawValue)": ["material.return", "material.adjustment"],
        "statement.\\(action.rawValue)": ["statement.send", "statement.lock", "statement.confirm", "statement.dispute"],
    ]

    static func raisedEvents() throws -> Set<String> {
        let root = URL(fileURLWithPath: packageRoot + "/Sources/SubconApp")
        var found: Set<String> = []
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        let call = try Regex(#"(?:notify|notifySupplier)\(\s*(?:[a-zA-Z]+,\s*)?"([^"]+)""#)
        for f in files {
            let text = try String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)
            for m in text.matches(of: call) {
                let name = String(text[m.output[1].range!])
                if name.contains("\\(") {
                    let expanded = try #require(dynamic[name], "\(f): event \(name) is built at run time; list what it can become in EventCatalogTests.dynamic")
                    found.formUnion(expanded)
                } else {
                    found.insert(name)
                }
            }
        }
        return found
    }

    @Test func everyRaisedEventIsInTheCatalog() throws {
        let raised = try Self.raisedEvents()
        #expect(raised.count > 40, "the scan found \(raised.count) events")
        for e in raised.sorted() { #expect(EventCatalog.contains(e), "\(e) is raised but not in EventCatalog") }
        // And the catalog lists nothing that is never raised (except the channels' own test).
        let unused = Set(EventCatalog.all.map(\.key)).subtracting(raised).subtracting(["channel.test"])
        #expect(unused.isEmpty, "in the catalog but never raised: \(unused.sorted())")
    }

    @Test func everyEventHasANameInEachLanguage() throws {
        for locale in AppLocale.allCases {
            let data = try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/Resources/Locales/\(locale.rawValue).json"))
            let texts = try JSONSerialization.jsonObject(with: data) as! [String: String]
            for e in EventCatalog.all { #expect(texts["event.\(e.key)"]?.isEmpty == false, "\(locale.rawValue): event.\(e.key)") }
        }
    }
}

/// Filling a text's parameters in one pass.
@Suite struct CatalogFillTests {
    @Test func eachNamedPlaceholderTakesItsValueAndNothingElseMoves() {
        let params = ["supplier": "苏州精工{order}", "order": "WX-001", "days": "3"]
        #expect(Catalog.fill("{supplier} 的订单 {order} 晚 {days} 天（{days}）", params) == "苏州精工{order} 的订单 WX-001 晚 3 天（3）")
        #expect(Catalog.fill("{unknown} {order", params) == "{unknown} {order")
        #expect(Catalog.fill("{{order}}", params) == "{WX-001}")
        #expect(Catalog.fill("无参数", params) == "无参数")
        #expect(Catalog.fill("{order}", params) == "WX-001")
        #expect(Catalog.fill("", params) == "")
    }

    @Test func aChineseValueTakesNoSpaceBesideChineseWords() {
        let template = "供应商 {name} 的 {kind} 证书将于 {date} 到期"
        #expect(Catalog.fill(template, ["name": "苏州精工有限公司", "kind": "IATF 16949", "date": "2026-12-25"])
                == "供应商苏州精工有限公司的 IATF 16949 证书将于 2026-12-25 到期")
        // Latin at the value's edge keeps its space; so does a Latin neighbour in the template.
        #expect(Catalog.fill(template, ["name": "ACME 精密", "kind": "ISO 9001", "date": "2026-12-25"])
                == "供应商 ACME 精密的 ISO 9001 证书将于 2026-12-25 到期")
        #expect(Catalog.fill("Supplier {name} is due", ["name": "苏州精工"]) == "Supplier 苏州精工 is due")
        #expect(Catalog.fill("（{name}）", ["name": "苏州精工"]) == "（苏州精工）")
    }
}

/// Stored parameters read without Foundation's decoder where they are plain.
@Suite struct StoredParamsTests {
    @Test func plainObjectsAreReadDirectlyAndEverythingDecodesAsJSONDecoderDoes() throws {
        let written = String(decoding: try JSONEncoder().encode(["supplier": "苏州精工有限公司", "order": "WX-001", "days": "3", "empty": ""]), as: UTF8.self)
        let inputs = [
            written, "{}", " { } ", #"{"a" : "b" , "c":"d"}"#, #"{"a":"b","a":"c"}"#,
            // Escapes go to the full decoder.
            #"{"link":"\/orders\/1","quote":"说\"好\"","nl":"a\nb","u":"\u4e2d"}"#,
            // Not objects of strings, or not JSON: empty, as before.
            #"{"n":3}"#, #"{"a":"b",}"#, #"{"a":"b""#, "[]", "", "null", #"{"a":"b"} x"#, #"{"a":null}"#,
        ]
        for text in inputs {
            let expected = (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? [:]
            #expect(StoredParams.decode(text) == expected, "\(text)")
        }
        // The common case never reaches the full decoder.
        #expect(StoredParams.plain(written) == ["supplier": "苏州精工有限公司", "order": "WX-001", "days": "3", "empty": ""])
        #expect(StoredParams.plain("{}") == [:])
        #expect(StoredParams.plain(#"{"link":"\/orders"}"#) == nil)
    }
}

/// Digests in hexadecimal, as stored.
@Suite struct HexTests {
    @Test func everyByteIsTwoLowercaseDigits() {
        let all = (0...255).map { UInt8($0) }
        #expect(all.lowercaseHex == all.map { String(format: "%02x", $0) }.joined())
        #expect([UInt8]().lowercaseHex == "")
        #expect(Secrets.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
