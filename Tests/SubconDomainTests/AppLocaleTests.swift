import Testing
@testable import SubconDomain

struct AppLocaleTests {
    @Test(arguments: [
        ("zh-TW", AppLocale.zhHant), ("zh-Hant-HK", .zhHant), ("zh_HK", .zhHant),
        ("zh-CN", .zhHans), ("zh", .zhHans), ("zh-Hans", .zhHans), ("en-US", .en), ("EN", .en),
    ])
    func mapsTags(tag: String, expected: AppLocale) { #expect(AppLocale(tag: tag) == expected) }

    @Test func negotiatesByQuality() {
        #expect(AppLocale.negotiate(acceptLanguage: "fr;q=1, en;q=0.5, zh-TW;q=0.8") == .zhHant)
        #expect(AppLocale.negotiate(acceptLanguage: "en-GB,en;q=0.9") == .en)
        #expect(AppLocale.negotiate(acceptLanguage: "fr, de") == nil)
        #expect(AppLocale.negotiate(acceptLanguage: nil) == nil)
    }
}
