import Foundation
import Testing
@testable import SubconDomain

@Suite struct ChannelTests {
    let message = ChannelMessage(id: "E1", event: "order.released", title: "订单已下达", text: "新委外订单 WX1 待确认 [点我](http://evil)",
                                 link: "https://subcon.example/orders/1", linkLabel: "查看详情",
                                 occurredAt: Date(timeIntervalSince1970: 1_700_000_000), recordType: "order", recordID: "1")
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    func object(_ r: OutgoingRequest) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
    }

    /// Values computed independently (Python's hmac module) for the same inputs.
    @Test func signaturesMatchEachVendorsAlgorithm() {
        #expect(ChannelPayload.dingTalkSignature(timestamp: "1700000000000", secret: "SECabc123") == "N5P09a4+p1AMJIJWnIvQd2Yxw9+fu/oEBnPrjCcsLXk=")
        #expect(ChannelPayload.feishuSignature(timestamp: "1700000000", secret: "SECabc123") == "UqhI0v4zAkSwI4hNYBuHQvnrAqshA0UaeBGHCUMPX70=")
        #expect(ChannelPayload.webhookSignature(timestamp: "1700000000", body: Array(#"{"a":1}"#.utf8), secret: "whsec")
                == "8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032")
    }

    @Test func weComIsMarkdownWithTheTitleTextAndLink() {
        let r = ChannelPayload.request(kind: .wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", secret: nil, message: message, now: now)
        let o = object(r)
        #expect(o["msgtype"] as? String == "markdown")
        let content = (o["markdown"] as? [String: Any])?["content"] as? String ?? ""
        #expect(content.hasPrefix("**订单已下达**\n"))
        #expect(content.contains("[查看详情](https://subcon.example/orders/1)"))
        // A user's text cannot add links of its own.
        #expect(content.contains(#"\[点我\]\(http://evil\)"#))
        #expect(r.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K")
    }

    @Test func dingTalkIsAnActionCardSignedInTheQuery() {
        let r = ChannelPayload.request(kind: .dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=T", secret: "SECabc123", message: message, now: now)
        let o = object(r)
        #expect(o["msgtype"] as? String == "actionCard")
        let card = o["actionCard"] as? [String: Any] ?? [:]
        #expect(card["title"] as? String == "订单已下达")
        #expect(card["singleURL"] as? String == "https://subcon.example/orders/1")
        #expect(card["singleTitle"] as? String == "查看详情")
        #expect((card["text"] as? String)?.hasPrefix("### 订单已下达") == true)
        // timestamp in milliseconds; the base64 signature URL-encoded.
        #expect(r.url == "https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=1700000000000&sign=N5P09a4%2Bp1AMJIJWnIvQd2Yxw9%2Bfu%2FoEBnPrjCcsLXk%3D")
        let unsigned = ChannelPayload.request(kind: .dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=T", secret: nil, message: message, now: now)
        #expect(unsigned.url == "https://oapi.dingtalk.com/robot/send?access_token=T")
    }

    @Test func feishuIsAnInteractiveCardSignedInTheBody() {
        let r = ChannelPayload.request(kind: .feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook/abc", secret: "SECabc123", message: message, now: now)
        let o = object(r)
        #expect(o["msg_type"] as? String == "interactive")
        #expect(o["timestamp"] as? String == "1700000000")
        #expect(o["sign"] as? String == "UqhI0v4zAkSwI4hNYBuHQvnrAqshA0UaeBGHCUMPX70=")
        let card = o["card"] as? [String: Any] ?? [:]
        let header = card["header"] as? [String: Any] ?? [:]
        #expect((header["title"] as? [String: Any])?["content"] as? String == "订单已下达")
        let elements = card["elements"] as? [[String: Any]] ?? []
        #expect(elements.count == 2)
        let button = ((elements.last?["actions"] as? [[String: Any]])?.first) ?? [:]
        #expect(button["url"] as? String == "https://subcon.example/orders/1")
    }

    @Test func webhookCarriesTheEventNotTheDataAndASignatureOverTimestampAndBody() {
        let r = ChannelPayload.request(kind: .webhook, url: "https://erp.example/hook", secret: "whsec", message: message, now: now)
        let o = object(r)
        #expect(o["id"] as? String == "E1")
        #expect(o["type"] as? String == "order.released")
        #expect(o["recordId"] as? String == "1")
        #expect(o["link"] as? String == "https://subcon.example/orders/1")
        #expect(o["occurredAt"] as? String == "2023-11-14T22:13:20Z")
        let headers = Dictionary(r.headers, uniquingKeysWith: { a, _ in a })
        #expect(headers["X-Subcon-Timestamp"] == "1700000000")
        #expect(headers["X-Subcon-Signature"] == "sha256=" + ChannelPayload.webhookSignature(timestamp: "1700000000", body: r.body, secret: "whsec"))
        #expect(headers["X-Subcon-Delivery"] == "E1")
        // The same message gives the same bytes: a receiver may compare them.
        #expect(ChannelPayload.request(kind: .webhook, url: "https://erp.example/hook", secret: "whsec", message: message, now: now) == r)
        let unsigned = ChannelPayload.request(kind: .webhook, url: "https://erp.example/hook", secret: nil, message: message, now: now)
        #expect(!unsigned.headers.contains { $0.0 == "X-Subcon-Signature" })
    }

    @Test func addressesAreCheckedAndMasked() {
        #expect(ChannelCheck.url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1", kind: .wecom, allowHTTP: false) == nil)
        #expect(ChannelCheck.url("http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1", kind: .wecom, allowHTTP: false) == "httpsRequired")
        #expect(ChannelCheck.url("http://127.0.0.1:9/x", kind: .dingtalk, allowHTTP: true) == nil)
        #expect(ChannelCheck.url("http://erp.local/hook", kind: .webhook, allowHTTP: false) == nil)
        for bad in ["not a url", "ftp://x.example/a", "https://", "https://user:pw@x.example/", "javascript:alert(1)", "https://x.example/a b"] {
            #expect(ChannelCheck.url(bad, kind: .webhook, allowHTTP: false) == "invalidURL", "\(bad)")
        }
        #expect(ChannelCheck.url("https://x.example/" + String(repeating: "a", count: 1000), kind: .webhook, allowHTTP: false) == "tooLong")
        #expect(ChannelCheck.email("qa@jg.example.cn"))
        for bad in ["qa", "qa@", "@x.cn", "a@b", "a b@x.cn", "a@x.cn\r\nBcc: z@y.cn", "a,b@x.cn"] { #expect(!ChannelCheck.email(bad), "\(bad)") }
        #expect(ChannelCheck.masked("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx") == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=•••")
        #expect(ChannelCheck.masked("https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef0123") == "https://open.feishu.cn/open-apis/bot/v2/hook/0123•••")
    }

    @Test func answersAreClassifiedForRetry() {
        #expect(DeliveryPolicy.outcome(kind: .webhook, status: 204, body: []).0 == .delivered)
        #expect(DeliveryPolicy.outcome(kind: .webhook, status: 500, body: []).0 == .retry)
        #expect(DeliveryPolicy.outcome(kind: .webhook, status: 429, body: []).0 == .retry)
        #expect(DeliveryPolicy.outcome(kind: .webhook, status: nil, body: []).0 == .retry)
        #expect(DeliveryPolicy.outcome(kind: .webhook, status: 404, body: []).0 == .failed)
        #expect(DeliveryPolicy.outcome(kind: .wecom, status: 200, body: Array(#"{"errcode":0,"errmsg":"ok"}"#.utf8)).0 == .delivered)
        #expect(DeliveryPolicy.outcome(kind: .wecom, status: 200, body: Array(#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.utf8)).0 == .retry)
        #expect(DeliveryPolicy.outcome(kind: .dingtalk, status: 200, body: Array(#"{"errcode":310000,"errmsg":"sign not match"}"#.utf8)) == (.failed, "310000 sign not match"))
        #expect(DeliveryPolicy.outcome(kind: .feishu, status: 200, body: Array(#"{"code":0,"msg":"success"}"#.utf8)).0 == .delivered)
        #expect(DeliveryPolicy.outcome(kind: .feishu, status: 200, body: Array(#"{"code":19021,"msg":"sign match fail"}"#.utf8)).0 == .failed)
        #expect(DeliveryPolicy.outcome(kind: .feishu, status: 200, body: Array("<html>".utf8)).0 == .failed)
    }

    @Test func backoffGrowsWithJitterAndGivesUp() {
        #expect(DeliveryPolicy.delay(afterAttempt: 1, base: 10, random: 1) == 10)
        #expect(DeliveryPolicy.delay(afterAttempt: 4, base: 10, random: 1) == 80)
        #expect(DeliveryPolicy.delay(afterAttempt: 4, base: 10, random: 0.5) == 40)
        #expect(DeliveryPolicy.delay(afterAttempt: 30, base: 10, cap: 3600, random: 1) == 3600)
        #expect(DeliveryPolicy.delay(afterAttempt: 3, base: 10, random: 0) == 1)
        #expect(!DeliveryPolicy.givesUp(firstTriedAt: now, now: now.addingTimeInterval(3599), after: 3600))
        #expect(DeliveryPolicy.givesUp(firstTriedAt: now, now: now.addingTimeInterval(3600), after: 3600))
    }

    @Test func digestGroupsByEventAndIsDueOnceADayAfterItsHour() {
        let at = Date(timeIntervalSince1970: 1_700_000_000)
        let s = Digest.sections([
            .init(eventName: "新异常", text: "a", link: nil, at: at),
            .init(eventName: "已发料", text: "b", link: nil, at: at),
            .init(eventName: "新异常", text: "c", link: nil, at: at.addingTimeInterval(60)),
        ])
        #expect(s.map(\.eventName) == ["新异常", "已发料"])
        #expect(s[0].entries.map(\.text) == ["c", "a"])
        var cal = Calendar(identifier: .gregorian); cal.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        // 2023-11-15 06:13 in Shanghai: before 8 o'clock nothing is due.
        #expect(!Digest.isDue(now: at, last: nil, hour: 8, calendar: cal))
        let nine = at.addingTimeInterval(3 * 3600)
        #expect(Digest.isDue(now: nine, last: nil, hour: 8, calendar: cal))
        #expect(!Digest.isDue(now: nine.addingTimeInterval(3600), last: nine, hour: 8, calendar: cal))
        #expect(Digest.isDue(now: nine.addingTimeInterval(86400), last: nine, hour: 8, calendar: cal))
    }

    @Test func everyEventIsListedOnceWithAnAudience() {
        #expect(Set(EventCatalog.all.map(\.key)).count == EventCatalog.all.count)
        #expect(EventCatalog.all.allSatisfy { $0.audience != .manufacturer || !$0.roles.isEmpty })
        #expect(EventCatalog.find("order.released")?.concerns(.supplier) == true)
        #expect(EventCatalog.find("order.released")?.concerns(.manufacturer) == false)
    }
}
