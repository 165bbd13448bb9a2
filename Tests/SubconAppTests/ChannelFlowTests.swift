import Fluent
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SQLKit
import Testing
import Vapor
import VaporTesting
@testable import SubconApp
import SubconDomain

/// A local HTTP server standing in for robots and webhook receivers: it records every request
/// and answers as each path says (`/ok…` at once, `/fail-once` 500 the first time, `/slow-once`
/// too slowly the first time, `/down` 500 until fixed, `/limited` a WeCom rate limit once).
final class Receiver: @unchecked Sendable {
    struct Seen: Sendable { let path: String; let query: String?; let headers: HTTPHeaders; let body: Data }
    private let lock = NIOLock()
    private var seen: [Seen] = []
    private var counts: [String: Int] = [:]
    private var fixed = false
    let app: Application
    private(set) var port = 0

    var requests: [Seen] { lock.withLock { seen } }
    func requests(_ prefix: String) -> [Seen] { requests.filter { $0.path.hasPrefix(prefix) } }
    func fix() { lock.withLock { fixed = true } }
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    private init(app: Application) { self.app = app }

    static func run(_ body: (Receiver) async throws -> Void) async throws {
        let app = try await Application.make(.testing)
        app.logger.logLevel = .error
        let r = Receiver(app: app)
        app.on(.POST, "**", body: .collect(maxSize: "1mb")) { req async throws -> Response in
            let path = req.url.path
            let (n, fixed) = r.lock.withLock { () -> (Int, Bool) in
                r.seen.append(Seen(path: path, query: req.url.query, headers: req.headers, body: Data(buffer: req.body.data ?? ByteBuffer())))
                r.counts[path, default: 0] += 1
                return (r.counts[path]!, r.fixed)
            }
            func answer(_ status: HTTPResponseStatus, _ json: String) -> Response {
                Response(status: status, headers: ["Content-Type": "application/json"], body: .init(string: json))
            }
            if path.hasPrefix("/fail-once") && n == 1 { return answer(.internalServerError, "{}") }
            if path.hasPrefix("/down") && !fixed { return answer(.badGateway, "{}") }
            if path.hasPrefix("/limited") && n == 1 { return answer(.ok, #"{"errcode":45009,"errmsg":"api freq out of limit"}"#) }
            if path.hasPrefix("/slow-once") && n == 1 { try await Task.sleep(nanoseconds: 6_000_000_000) }
            if path.hasPrefix("/feishu") { return answer(.ok, #"{"code":0,"msg":"success"}"#) }
            return answer(.ok, #"{"errcode":0,"errmsg":"ok"}"#)
        }
        try await app.server.start(address: .hostname("127.0.0.1", port: 0))
        r.port = app.http.server.shared.localAddress?.port ?? 0
        do { try await body(r) } catch { await app.server.shutdown(); try await app.asyncShutdown(); throw error }
        await app.server.shutdown()
        try await app.asyncShutdown()
    }
}

@Suite struct ChannelFlowTests {
    /// `timeout`: long by default, so that a receiver answering at once is never late on a busy
    /// CI host (at 0.5 s, one run saw seven of twelve answers of the "/ok" receiver time out).
    static func run(timeout: Double = 10, _ body: (TestApp, Receiver) async throws -> Void) async throws {
        try await Receiver.run { receiver in
            try await TestApp.run(adjust: { s in
                s.channels.allowHTTP = true; s.channels.timeout = timeout; s.channels.retryBase = 1; s.channels.giveUpAfter = 600
                s.publicURL = "https://subcon.example"
            }) { t in try await body(t, receiver) }
        }
    }

    /// Delivers the outbox and sends what is due until nothing is left to do now.
    static func drain(_ t: TestApp) async throws {
        while try await Outbox.deliverPending(app: t.app) > 0 {}
        while try await ChannelDispatch.sendDue(app: t.app) > 0 {}
    }

    static func channel(_ t: TestApp, _ token: String, kind: String, url: String, secret: String? = nil, extra: String = "") async throws -> String {
        let secretField = secret.map { #","secret":"\#($0)""# } ?? ""
        let r = try await t.request(.POST, "/api/v1/channels", token: token,
                                    json: #"{"kind":"\#(kind)","name":"\#(kind) 群","url":"\#(url)"\#(secretField)\#(extra)}"#)
        #expect(r.status == .created, "\(r.body.string)")
        return r.json["id"] as? String ?? ""
    }

    static func object(_ s: Receiver.Seen) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: s.body)) as? [String: Any] ?? [:]
    }

    @Test func aReleasedOrderReachesTheSuppliersRobotsAndWebhookSignedAndNoOtherSuppliers() async throws {
        try await Self.run { t, rx in
            let f = try await OrderFixture.make(t)
            try await Self.drain(t)  // what the demo and the import left waiting
            _ = try await Self.channel(t, f.supplier1, kind: "wecom", url: rx.url("/ok/wecom?key=K1"))
            _ = try await Self.channel(t, f.supplier1, kind: "dingtalk", url: rx.url("/ok/ding?access_token=T1"), secret: "SECding")
            _ = try await Self.channel(t, f.supplier1, kind: "feishu", url: rx.url("/feishu/hook/abcdef0123456789"), secret: "SECfei")
            _ = try await Self.channel(t, f.supplier1, kind: "webhook", url: rx.url("/ok/erp-jg"), secret: "whsec-jg")
            _ = try await Self.channel(t, f.supplier2, kind: "webhook", url: rx.url("/ok/erp-bm"), secret: "whsec-bm")
            let admin = try await t.token("admin")
            // The manufacturer's quality group hears only what quality people receive.
            _ = try await Self.channel(t, admin, kind: "webhook", url: rx.url("/ok/quality-team"), extra: #","roles":["quality"]"#)

            let id = try await f.releasedOrder(to: "SUP-JG")
            // Planned with the inbox, nothing sent yet: sending is the sender's job, never a request's.
            while try await Outbox.deliverPending(app: t.app) > 0 {}
            #expect(rx.requests.isEmpty)
            while try await ChannelDispatch.sendDue(app: t.app) > 0 {}

            let link = "https://subcon.example/orders/\(id)"
            let wecom = rx.requests("/ok/wecom")
            #expect(wecom.count == 1)
            let md = (Self.object(wecom[0])["markdown"] as? [String: Any])?["content"] as? String ?? ""
            #expect(Self.object(wecom[0])["msgtype"] as? String == "markdown")
            #expect(md.hasPrefix("**订单已下达**") && md.contains("(\(link))"), "\(md)")

            let ding = rx.requests("/ok/ding")
            #expect(ding.count == 1)
            let q = URLComponents(string: "http://x/?" + (ding.first?.query ?? "")).flatMap(\.queryItems) ?? []
            let ts = q.first { $0.name == "timestamp" }?.value ?? ""
            #expect(q.first { $0.name == "sign" }?.value == ChannelPayload.dingTalkSignature(timestamp: ts, secret: "SECding"))
            #expect(Int64(ts).map { abs(Double($0) / 1000 - t.clock.now().timeIntervalSince1970) < 1 } == true)
            #expect((Self.object(ding[0])["actionCard"] as? [String: Any])?["singleURL"] as? String == link)

            let fei = rx.requests("/feishu")
            #expect(fei.count == 1)
            let fo = Self.object(fei[0])
            #expect(fo["msg_type"] as? String == "interactive")
            #expect(fo["sign"] as? String == ChannelPayload.feishuSignature(timestamp: fo["timestamp"] as? String ?? "", secret: "SECfei"))

            let hook = rx.requests("/ok/erp-jg")
            #expect(hook.count == 1)
            let h = hook[0]
            let body = Self.object(h)
            #expect(body["type"] as? String == "order.released")
            #expect(body["recordId"] as? String == id.uppercased())
            #expect(body["link"] as? String == link)
            #expect(body["recordType"] as? String == "order")
            // The signature verifies over "timestamp.body" with the channel's secret.
            let stamp = h.headers.first(name: "X-Subcon-Timestamp") ?? ""
            #expect(h.headers.first(name: "X-Subcon-Signature") == "sha256=" + ChannelPayload.webhookSignature(timestamp: stamp, body: Array(h.body), secret: "whsec-jg"))
            #expect(h.headers.first(name: "X-Subcon-Delivery") == body["id"] as? String)

            // Nothing for the other supplier, nothing for the quality group.
            #expect(rx.requests("/ok/erp-bm").isEmpty)
            #expect(rx.requests("/ok/quality-team").isEmpty)
            // Every delivery sent and logged once.
            let log = try await t.request(.GET, "/api/v1/channel-deliveries?status=sent", token: f.supplier1)
            #expect(log.status == .ok)
            #expect(log.json["total"] as? Int == 4)
            let other = try await t.request(.GET, "/api/v1/channel-deliveries", token: f.supplier2)
            #expect(other.json["total"] as? Int == 0)
            #expect(try await ChannelDispatch.sendDue(app: t.app) == 0)
            #expect(rx.requests.count == 4)
            // The log keeps delivered messages for 90 days.
            t.clock.advance(by: 91 * 86400)
            try await Housekeeping.run(app: t.app)
            #expect(try await ChannelDelivery.query(on: t.db).filter(\.$status == "sent").count() == 0)
            #expect(try await t.sql.raw("SELECT COUNT(*) AS n FROM delivery_attempts").first()?.decode(column: "n", as: Int.self) == 0)
        }
    }

    static func enqueue(_ t: TestApp, _ event: String = "order.released", to logins: [String] = ["supplier1"], link: String? = "/orders/1") async throws {
        let people = try await User.query(on: t.db).filter(\.$login ~~ logins).all(\.$id)
        try await Outbox.enqueue(on: t.db, event: event, notice: .init(recipients: people, messageKey: "notice.orderReleased",
                                                                         params: ["code": "WX202612-0001"], link: link), now: t.clock.now())
    }

    static func delivery(_ t: TestApp, channel: String) async throws -> ChannelDelivery {
        try await ChannelDelivery.query(on: t.db).filter(\.$channelID == UUID(uuidString: channel)!).filter(\.$event != "channel.test").first()!
    }

    @Test func aFailedOrSlowAttemptIsRetriedLaterAndDeliveredOnce() async throws {
        // The slow receiver answers its first request after 6 s.
        try await Self.run(timeout: 3) { t, rx in
            let s1 = try await t.token("supplier1")
            try await Self.drain(t)
            let failing = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/fail-once"))
            let slow = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/slow-once"))
            let limited = try await Self.channel(t, s1, kind: "wecom", url: rx.url("/limited"))
            try await Self.enqueue(t)
            try await Self.drain(t)
            for (c, why) in [(failing, "HTTP 500"), (slow, nil), (limited, "45009 api freq out of limit")] {
                let d = try await Self.delivery(t, channel: c)
                #expect(d.status == "pending" && d.attempts == 1)
                #expect(d.nextAt > t.clock.now())
                if let why { #expect(d.lastError == why) } else { #expect(d.lastError != nil) }
            }
            // Not before its time…
            #expect(try await ChannelDispatch.sendDue(app: t.app) == 0)
            // …then once more, delivered, and never again.
            t.clock.advance(by: 5)
            try await Self.drain(t)
            for c in [failing, slow, limited] {
                let d = try await Self.delivery(t, channel: c)
                #expect(d.status == "sent" && d.attempts == 2, "\(d.status) \(d.attempts)")
            }
            t.clock.advance(by: 3600)
            try await Self.drain(t)
            #expect(rx.requests("/fail-once").count == 2)
            #expect(rx.requests("/limited").count == 2)
            // The slow receiver got the first request too (it answered too late): the same event id twice, for it to drop.
            let slowSeen = rx.requests("/slow-once")
            #expect(slowSeen.count == 2)
            #expect(Set(slowSeen.map { Self.object($0)["id"] as? String ?? "" }).count == 1)
            // Each attempt is logged.
            let d = try await Self.delivery(t, channel: failing)
            let detail = try await t.request(.GET, "/api/v1/channel-deliveries/\(d.id!)", token: s1)
            #expect((detail.json["attemptLog"] as? [[String: Any]])?.map { $0["outcome"] as? String ?? "" } == ["delivered", "retry"])
        }
    }

    @Test func aReceiverThatStaysDownIsGivenUpAndAnAdminRetriesIt() async throws {
        try await Self.run { t, rx in
            let s1 = try await t.token("supplier1")
            try await Self.drain(t)
            let down = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/down"))
            try await Self.enqueue(t)
            try await Self.drain(t)
            var attempts = 1
            // Keep failing until the give-up time (600 s here) has passed.
            for _ in 0..<30 {
                t.clock.advance(by: 120)
                try await Self.drain(t)
                let d = try await Self.delivery(t, channel: down)
                attempts = d.attempts
                if d.status == "failed" { break }
            }
            var d = try await Self.delivery(t, channel: down)
            #expect(d.status == "failed")
            #expect(rx.requests("/down").count == attempts)
            // Admins see it: the page's alert, the list, the count on the channel.
            let failed = try await t.request(.GET, "/api/v1/channel-deliveries?status=failed", token: s1)
            #expect(failed.json["total"] as? Int == 1)
            let ch = try await t.request(.GET, "/api/v1/channels/\(down)", token: s1)
            #expect(ch.json["failed"] as? Int == 1)
            var b = try await t.signIn("supplier1")
            let page = try await t.page(.GET, "/channel-deliveries", browser: &b)
            #expect(page.body.string.contains("有 1 条消息多次重试后仍未送达"))
            // …and it is on the supplier admin's to-do list, by event name, until it is delivered.
            let home = try await t.page(.GET, "/", browser: &b).body.string
            #expect(home.contains("未送达的消息") && home.contains("订单已下达") && home.contains("/channel-deliveries?status=failed"))
            var adminBrowser = try await t.signIn("admin")
            #expect(try await !t.page(.GET, "/", browser: &adminBrowser).body.string.contains("未送达的消息"))
            // Nothing more is tried on its own.
            t.clock.advance(by: 7200)
            try await Self.drain(t)
            #expect(rx.requests("/down").count == attempts)
            // Retried by hand once the receiver is back: delivered.
            rx.fix()
            let other = try await t.token("supplier2")
            #expect(try await t.request(.POST, "/api/v1/channel-deliveries/\(d.id!)/retry", token: other).status == .notFound)
            let retried = try await t.request(.POST, "/api/v1/channel-deliveries/\(d.id!)/retry", token: s1)
            #expect(retried.status == .ok, "\(retried.body.string)")
            #expect(retried.json["status"] as? String == "pending")
            #expect(try await t.request(.POST, "/api/v1/channel-deliveries/\(d.id!)/retry", token: s1).status == .conflict)
            try await Self.drain(t)
            d = try await Self.delivery(t, channel: down)
            #expect(d.status == "sent")
            #expect(try await !t.page(.GET, "/", browser: &b).body.string.contains("未送达的消息"))
            #expect(rx.requests("/down").count == attempts + 1)
            #expect(try await AuditEntry.query(on: t.db).filter(\.$entity == "channel_delivery").count() == 1)
            // A receiver that refuses (4xx) is given up at once; once its address is fixed, all of its failures go again.
            let wrong = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/ok/wrong"))
            try await ChannelDelivery.query(on: t.db).filter(\.$channelID == UUID(uuidString: wrong)!).delete()
            for _ in 0..<3 { try await Self.enqueue(t) }
            try await Self.drain(t)
            try await t.sql.update("channel_deliveries").set("status", to: "failed").where("channel_id", .equal, UUID(uuidString: wrong)!).run()
            #expect(try await t.request(.POST, "/api/v1/channels/\(wrong)/retry-failed", token: other).status == .notFound)
            let all = try await t.request(.POST, "/api/v1/channels/\(wrong)/retry-failed", token: s1)
            #expect(all.json["retried"] as? Int == 3)
            try await Self.drain(t)
            #expect(try await ChannelDelivery.query(on: t.db).filter(\.$channelID == UUID(uuidString: wrong)!).filter(\.$status == "sent").count() == 3)
        }
    }

    @Test func aReceiverThatIsDownIsNotHammeredAndDoesNotHoldUpTheOthers() async throws {
        try await Self.run { t, rx in
            let s1 = try await t.token("supplier1")
            try await Self.drain(t)
            let down = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/down/a"))
            _ = try await Self.channel(t, s1, kind: "webhook", url: rx.url("/ok/b"))
            for _ in 0..<12 { try await Self.enqueue(t) }
            try await Self.drain(t)
            // At most one round's few tried; the first failure pauses the rest of its queue…
            #expect(rx.requests("/down/a").count <= ChannelDispatch.perChannelInRound)
            let waiting = try await ChannelDelivery.query(on: t.db).filter(\.$channelID == UUID(uuidString: down)!).all()
            #expect(waiting.count == 12 && waiting.allSatisfy { $0.status == "pending" && $0.nextAt > t.clock.now() })
            // …while the other receiver got all twelve.
            #expect(rx.requests("/ok/b").count == 12)
        }
    }

    /// Writes what it is given to a file: the stand-in for sendmail.
    static func sendmail(_ dir: URL) throws -> String {
        let script = dir.appendingPathComponent("sendmail.sh")
        // A unique file per message: the sender runs several at once.
        try "#!/bin/sh\ncat > $(mktemp \(dir.path)/mail-XXXXXXXX)\n".write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)
        return script.path + " -t"
    }

    static func mails(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("mail-") }.sorted()
            .map { try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }
    }

    /// The decoded subject and text part of a message the stand-in recorded.
    static func decode(_ raw: String) -> (to: String, subject: String, text: String, html: String) {
        let lines = raw.components(separatedBy: "\r\n")
        let to = lines.first { $0.hasPrefix("To: ") }.map { String($0.dropFirst(4)) } ?? ""
        let subjectB64 = lines.first { $0.hasPrefix("Subject: =?UTF-8?B?") }.map { String($0.dropFirst(19).dropLast(2)) } ?? ""
        let subject = Data(base64Encoded: subjectB64).map { String(decoding: $0, as: UTF8.self) } ?? ""
        func part(_ type: String) -> String {
            guard let start = lines.firstIndex(of: "Content-Type: \(type); charset=utf-8") else { return "" }
            let body = lines[(start + 3)...].prefix { !$0.hasPrefix("--") }.joined()
            return Data(base64Encoded: body).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return (to, subject, part("text/plain"), part("text/html"))
    }

    @Test func emailGoesThroughTheSendmailCommandAtOnceOrAsADailyDigest() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("subcon-mail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try await Receiver.run { _ in
            try await TestApp.run(adjust: { s in
                s.channels.sendmailCommand = try! Self.sendmail(dir); s.channels.mailFrom = "subcon@maker.example"; s.channels.digestHour = 8
                s.publicURL = "https://subcon.example"
            }) { t in
                try await Self.drain(t)
                for (login, mail) in [("supplier1", "zhou@jg.example"), ("supplier2", "qian@bm.example")] {
                    let u = try await t.user(login); u.email = mail; try await u.save(on: t.db)
                }
                // supplier2 wants one digest a day and no in-app notice for released orders.
                let s2 = try await t.token("supplier2")
                let saved = try await t.request(.PUT, "/api/v1/me/notification-preferences", token: s2,
                                                json: #"{"version":0,"emailMode":"daily","events":[{"event":"order.released","inbox":false}]}"#)
                #expect(saved.status == .ok, "\(saved.body.string)")
                #expect(saved.json["emailMode"] as? String == "daily")
                let before = try await InboxItem.query(on: t.db).filter(\.$user.$id == (try await t.user("supplier2")).id!).count()

                try await Self.enqueue(t, to: ["supplier1", "supplier2"])
                try await Self.enqueue(t, "exception.raised", to: ["supplier1", "supplier2"], link: "/exceptions/2")
                // Not urgent by default: no email for anyone.
                try await Self.enqueue(t, "receipt.created", to: ["supplier1", "supplier2"], link: "/receipts/3")
                try await Self.drain(t)
                var mails = try Self.mails(dir).map(Self.decode)
                #expect(mails.count == 2)
                #expect(Set(mails.map(\.to)) == ["<zhou@jg.example>"])
                let first = mails.first { $0.subject == "订单已下达" }
                #expect(first?.text.contains("新委外订单 WX202612-0001 待确认") == true && first?.text.contains("https://subcon.example/orders/1") == true)
                #expect(first?.html.contains("<a href=\"https://subcon.example/orders/1\">") == true)
                #expect(try Self.mails(dir).allSatisfy { $0.contains("From: Subcon <subcon@maker.example>") })
                // The in-app notice of the released order was turned off; the exception's is there.
                #expect(try await InboxItem.query(on: t.db).filter(\.$user.$id == (try await t.user("supplier2")).id!).count() == before + 2)

                // The day's digest is due (the test clock is at 22:13 Shanghai time, after 8 o'clock), once.
                #expect(try await ChannelDispatch.makeDigests(app: t.app) == 1)
                try await Self.drain(t)
                mails = try Self.mails(dir).map(Self.decode)
                #expect(mails.count == 3)
                let digest = mails.first { $0.to == "<qian@bm.example>" }
                #expect(digest?.subject == "Subcon 每日汇总：2 条消息")
                #expect(digest?.text.contains("【订单已下达】1") == true && digest?.text.contains("【新异常】1") == true)
                #expect(digest?.html.contains("https://subcon.example/exceptions/2") == true)
                // The next one waits for tomorrow's hour.
                try await Self.enqueue(t, "exception.raised", to: ["supplier2"], link: "/exceptions/4")
                try await Self.drain(t)
                #expect(try await ChannelDispatch.makeDigests(app: t.app) == 0)
                t.clock.advance(by: 9 * 3600)
                #expect(try await ChannelDispatch.makeDigests(app: t.app) == 0)
                t.clock.advance(by: 2 * 3600)
                #expect(try await ChannelDispatch.makeDigests(app: t.app) == 1)
                try await Self.drain(t)
                #expect(try Self.mails(dir).count == 4)
                #expect(try await ChannelDelivery.query(on: t.db).filter(\.$status == "digested").count() == 3)
            }
        }
    }

    @Test func badSettingsAndPreferencesAreRefusedWithClearProblems() async throws {
        try await TestApp.run { t in
            let s1 = try await t.token("supplier1")
            func post(_ json: String, _ token: String? = nil) async throws -> TestingHTTPResponse {
                try await t.request(.POST, "/api/v1/channels", token: token ?? s1, json: json)
            }
            func field(_ r: TestingHTTPResponse) -> String {
                ((r.json["errors"] as? [[String: Any]])?.first?["code"] as? String) ?? ""
            }
            var r = try await post(#"{"kind":"wecom","name":"群","url":"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=1"}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "httpsRequired", "\(r.body.string)")
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"not a url"}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "invalidURL")
            r = try await post(#"{"kind":"email","name":"QA","url":"qa@"}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "invalidEmail")
            r = try await post(#"{"kind":"fax","name":"传真","url":"https://x.example"}"#)
            #expect(r.status == .unprocessableEntity)
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"https://erp.example/h","events":["order.released","order.exploded"]}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "unknownEvent", "\(r.body.string)")
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"https://erp.example/h","roles":["quality"]}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "rolesOnlyForManufacturer")
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"https://erp.example/h","colour":"red"}"#)
            #expect(r.status == .badRequest)
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"https://erp.example/h","secret":"\#(String(repeating: "s", count: 201))"}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "tooLong")
            // A supplier cannot set up a channel for someone else; another supplier's channel does not exist for it.
            let bm = try await t.organization(code: "SUP-BM")
            r = try await post(#"{"kind":"webhook","name":"ERP","url":"https://erp.example/h","organizationId":"\#(bm.id!)"}"#)
            #expect(r.status == .forbidden)
            #expect(try await AuditEntry.query(on: t.db).filter(\.$entity == "channel").count() == 0)

            r = try await post(#"{"kind":"dingtalk","name":"钉钉群","url":"https://oapi.dingtalk.com/robot/send?access_token=abcdef","secret":"SEC123"}"#)
            #expect(r.status == .created)
            let id = r.json["id"] as? String ?? ""
            // The secret is never returned; the token in the address is hidden.
            #expect(!r.body.string.contains("SEC123") && !r.body.string.contains("abcdef"))
            #expect(r.json["hasSecret"] as? Bool == true)
            #expect(r.json["address"] as? String == "https://oapi.dingtalk.com/robot/send?access_token=•••")
            let s2 = try await t.token("supplier2")
            #expect(try await t.request(.GET, "/api/v1/channels/\(id)", token: s2).status == .notFound)
            #expect(try await t.request(.GET, "/api/v1/channels", token: s2).body.string == "[]")
            // The test message is capped; a stale version is refused.
            let test = try await t.request(.POST, "/api/v1/channels/\(id)/test", token: s1, json: #"{"text":"\#(String(repeating: "长", count: 501))"}"#)
            #expect(test.status == .unprocessableEntity && field(test) == "tooLong")
            let stale = try await t.request(.PATCH, "/api/v1/channels/\(id)", token: s1, json: #"{"version":7,"name":"x"}"#)
            #expect(stale.status == .conflict)
            let renamed = try await t.request(.PATCH, "/api/v1/channels/\(id)", token: s1, json: #"{"version":1,"name":"质量群","secret":""}"#)
            #expect(renamed.status == .ok && renamed.json["hasSecret"] as? Bool == false && renamed.json["version"] as? Int == 2)
            #expect(try await t.request(.DELETE, "/api/v1/channels/\(id)?version=1", token: s1).status == .conflict)
            #expect(try await t.request(.DELETE, "/api/v1/channels/\(id)?version=2", token: s1).status == .noContent)
            // A plain user may not manage channels but keeps personal preferences.
            let viewer = try await t.token("planner")
            #expect(try await t.request(.GET, "/api/v1/channels", token: viewer).status == .forbidden)

            // Preferences: unknown events and modes, stale versions.
            r = try await t.request(.PUT, "/api/v1/me/notification-preferences", token: s1, json: #"{"version":0,"events":[{"event":"order.exploded","email":true}]}"#)
            #expect(r.status == .unprocessableEntity && field(r) == "unknownEvent")
            r = try await t.request(.PUT, "/api/v1/me/notification-preferences", token: s1, json: #"{"version":0,"emailMode":"hourly"}"#)
            #expect(r.status == .unprocessableEntity)
            r = try await t.request(.PUT, "/api/v1/me/notification-preferences", token: s1, json: #"{"version":0,"events":[{"event":"order.released","email":"yes"}]}"#)
            #expect(r.status == .badRequest)
            r = try await t.request(.PUT, "/api/v1/me/notification-preferences", token: s1, json: #"{"version":3}"#)
            #expect(r.status == .conflict)
            let prefs = try await t.request(.GET, "/api/v1/me/notification-preferences", token: s1)
            let events = (prefs.json["events"] as? [[String: Any]])?.compactMap { $0["event"] as? String } ?? []
            // A supplier's list holds the supplier's events, not the buyer's.
            #expect(events.contains("order.released") && !events.contains("order.answered"))
            let types = try await t.request(.GET, "/api/v1/event-types", token: s1)
            #expect((try JSONSerialization.jsonObject(with: Data(types.body.readableBytesView)) as? [[String: Any]])?.count == EventCatalog.all.count - 1)
        }
    }

    @Test func theTestButtonSendsNowAndSaysWhatTheReceiverAnswered() async throws {
        try await Self.run { t, rx in
            var b = try await t.signIn("admin")
            let csrf = try await t.csrf(&b)
            let created = try await t.page(.POST, "/channels", browser: &b, form: [
                "_csrf": csrf, "kind": "feishu", "name": "质量部飞书群", "url": rx.url("/feishu/hook/0123456789abcdefgh"),
                "secret": "SECfs", "locale": "zh-Hans", "roles[]": "quality"])
            #expect(created.status == .seeOther, "\(created.body.string.prefix(500))")
            let location = created.headers.first(name: .location) ?? ""
            let id = String(location.dropFirst("/channels/".count).prefix(36))
            let page = try await t.page(.GET, "/channels/\(id)", browser: &b)
            #expect(page.body.string.contains("质量部飞书群") && page.body.string.contains("0123•••") && !page.body.string.contains("SECfs"))
            let sent = try await t.page(.POST, "/channels/\(id)/test", browser: &b, form: ["_csrf": csrf, "text": "请忽略"])
            #expect(sent.status == .ok)
            #expect(sent.body.string.contains("测试消息已送达"))
            let card = Self.object(rx.requests("/feishu").last!)
            let text = (((card["card"] as? [String: Any])?["elements"] as? [[String: Any]])?.first?["text"] as? [String: Any])?["content"] as? String
            #expect(text?.contains("请忽略") == true)
            // An invalid edit is shown beside its field, nothing saved.
            let bad = try await t.page(.POST, "/channels/\(id)", browser: &b, form: ["_csrf": csrf, "version": "1", "name": "质量部飞书群", "url": "http://"])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("不是有效的网址"))
            // The delivery log and the preferences page.
            #expect(try await t.page(.GET, "/channel-deliveries", browser: &b).body.string.contains("测试消息"))
            let prefs = try await t.page(.POST, "/account/notifications", browser: &b, form: ["_csrf": csrf, "version": "0", "emailMode": "daily", "email[]": "order.answered"])
            #expect(prefs.status == .seeOther)
            let shown = try await t.request(.GET, "/api/v1/me/notification-preferences", token: try await t.token("admin")).json
            #expect(shown["emailMode"] as? String == "daily")
            let answered = (shown["events"] as? [[String: Any]])?.first { $0["event"] as? String == "order.answered" }
            #expect(answered?["email"] as? Bool == true && answered?["inbox"] as? Bool == false)
        }
    }

    /// Both instances send at once: every message reaches the receiver exactly once (PostgreSQL's
    /// `FOR UPDATE SKIP LOCKED` and the lease). SQLite runs one instance per file.
    @Test func twoInstancesDeliverEachMessageOnce() async throws {
        try await Receiver.run { rx in
            try await TestApp.run(adjust: { s in s.channels.allowHTTP = true; s.channels.timeout = 2 }) { a in
                guard a.app.subcon.isPostgres else { return }
                try await a.sibling { b in
                    try await Self.drain(a)
                    let s1 = try await a.token("supplier1")
                    _ = try await Self.channel(a, s1, kind: "webhook", url: rx.url("/ok/many"))
                    _ = try await Self.channel(b, try await b.token("supplier2"), kind: "webhook", url: rx.url("/ok/other"))
                    for _ in 0..<60 { try await Self.enqueue(a) }
                    // Both instances plan the deliveries at once, too.
                    async let planA: Void = { while try await Outbox.deliverPending(app: a.app, limit: 7) > 0 {} }()
                    async let planB: Void = { while try await Outbox.deliverPending(app: b.app, limit: 7) > 0 {} }()
                    _ = try await (planA, planB)
                    func send(_ x: TestApp) async throws -> Int {
                        var n = 0
                        while true { let k = try await ChannelDispatch.sendDue(app: x.app, limit: 5); if k == 0 { return n }; n += k }
                    }
                    async let here = send(a)
                    async let there = send(b)
                    let (x, y) = try await (here, there)
                    #expect(x + y == 60)
                    let ids = rx.requests("/ok/many").map { Self.object($0)["id"] as? String ?? "" }
                    #expect(ids.count == 60 && Set(ids).count == 60)
                    #expect(try await ChannelDelivery.query(on: a.db).filter(\.$status == "sent").count() == 60)
                    // The other supplier's webhook heard nothing of supplier1's orders.
                    #expect(rx.requests("/ok/other").isEmpty)
                }
            }
        }
    }
}
