import Crypto
import Foundation

/// Where an organization's events can be sent: a chat group's robot, an HTTP endpoint of its
/// own systems, or (per person) email.
public enum ChannelKind: String, Codable, Sendable, CaseIterable {
    case wecom, dingtalk, feishu, webhook, email

    /// Chat robots live on the vendors' HTTPS endpoints; an `http://` robot address is a typo
    /// or an interception, never a robot.
    public var requiresHTTPS: Bool { self == .wecom || self == .dingtalk || self == .feishu }
    public var isRobot: Bool { requiresHTTPS }
    /// Messages a robot accepts per minute (the vendors' published limits: WeCom and DingTalk 20,
    /// Feishu 100); beyond it they answer with an error and drop the message. A webhook has no
    /// such limit: a busy receiver answers 429 and is retried later.
    public var perMinute: Int? {
        switch self {
        case .wecom, .dingtalk: 20
        case .feishu: 100
        case .webhook, .email: nil
        }
    }
}

/// What is wrong with a channel's settings, as field → problem code.
public enum ChannelCheck {
    public static let maxURLLength = 1000
    public static let maxSecretLength = 200
    public static let maxTestText = 500

    public static func url(_ text: String, kind: ChannelKind, allowHTTP: Bool) -> String? {
        guard text.count <= maxURLLength else { return "tooLong" }
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(),
              let host = c.host, !host.isEmpty, c.user == nil, c.password == nil,
              !text.contains(where: { $0.isWhitespace }) else { return "invalidURL" }
        if scheme == "https" { return nil }
        guard scheme == "http" else { return "invalidURL" }
        // Local receivers (tests, a bridge on the same host) may be plain HTTP when allowed.
        if kind.requiresHTTPS && !allowHTTP { return "httpsRequired" }
        return nil
    }

    /// A plain address, one `@`, no spaces or header-breaking characters.
    public static func email(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard text.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return !text.contains { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," || $0 == ";" || $0 == "\"" || $0.asciiValue.map { $0 < 32 } ?? false }
    }

    /// The address as shown after saving: the host and path, never a token in the query.
    public static func masked(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return "•••" }
        if let items = c.queryItems, !items.isEmpty {
            c.queryItems = items.map { URLQueryItem(name: $0.name, value: "•••") }
        }
        // Feishu and some webhooks carry the token as the last path segment.
        let segments = c.path.split(separator: "/")
        if let last = segments.last, last.count >= 16 {
            c.path = "/" + segments.dropLast().joined(separator: "/") + "/" + last.prefix(4) + "•••"
        }
        return (c.string ?? "•••").removingPercentEncoding ?? "•••"
    }
}

/// One message for a channel, already in the reader's language.
public struct ChannelMessage: Sendable, Equatable {
    public let id: String
    public let event: String
    public let title: String
    public let text: String
    /// Absolute link back to the record.
    public let link: String?
    public let linkLabel: String
    public let occurredAt: Date
    public let recordType: String
    public let recordID: String?

    public init(id: String, event: String, title: String, text: String, link: String?, linkLabel: String,
                occurredAt: Date, recordType: String, recordID: String?) {
        self.id = id; self.event = event; self.title = title; self.text = text; self.link = link
        self.linkLabel = linkLabel; self.occurredAt = occurredAt; self.recordType = recordType; self.recordID = recordID
    }
}

/// An HTTP request to make, without the transport.
public struct OutgoingRequest: Sendable, Equatable {
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public static func == (a: Self, b: Self) -> Bool {
        a.url == b.url && a.body == b.body && a.headers.map { $0.0 + ":" + $0.1 } == b.headers.map { $0.0 + ":" + $0.1 }
    }
}

/// Each robot's own message shape and signature; the generic webhook's signed JSON.
public enum ChannelPayload {
    public static func request(kind: ChannelKind, url: String, secret: String?, message: ChannelMessage, now: Date) -> OutgoingRequest {
        let json = [("Content-Type", "application/json; charset=utf-8")]
        switch kind {
        case .wecom:
            // WeCom markdown: a bold title, the text, a link. Content is capped at 4,096 bytes.
            let content = cap("**\(escapeMarkdown(message.title))**\n\(escapeMarkdown(message.text))" + linkLine(message), bytes: 4000)
            return OutgoingRequest(url: url, headers: json, body: encode(["msgtype": "markdown", "markdown": ["content": content]]))
        case .dingtalk:
            // An action card: the title, the text, one button back to the record.
            var card: [String: Any] = ["title": cap(message.title, bytes: 200), "text": cap("### \(escapeMarkdown(message.title))\n\n\(escapeMarkdown(message.text))", bytes: 4000)]
            var target = url
            if let secret, !secret.isEmpty {
                let ms = String(Int64((now.timeIntervalSince1970 * 1000).rounded(.down)))
                let sign = dingTalkSignature(timestamp: ms, secret: secret)
                target += (url.contains("?") ? "&" : "?") + "timestamp=\(ms)&sign=" + formEncode(sign)
            }
            if let link = message.link {
                card["btnOrientation"] = "0"; card["singleTitle"] = message.linkLabel; card["singleURL"] = link
                return OutgoingRequest(url: target, headers: json, body: encode(["msgtype": "actionCard", "actionCard": card]))
            }
            return OutgoingRequest(url: target, headers: json, body: encode(["msgtype": "markdown", "markdown": ["title": card["title"]!, "text": card["text"]!]]))
        case .feishu:
            // An interactive card: header, a lark_md block, a button.
            var elements: [[String: Any]] = [["tag": "div", "text": ["tag": "lark_md", "content": cap(message.text, bytes: 4000)]]]
            if let link = message.link {
                elements.append(["tag": "action", "actions": [["tag": "button", "type": "primary", "url": link,
                                                                "text": ["tag": "plain_text", "content": message.linkLabel]]]])
            }
            var body: [String: Any] = ["msg_type": "interactive",
                                       "card": ["config": ["wide_screen_mode": true],
                                                "header": ["template": "blue", "title": ["tag": "plain_text", "content": cap(message.title, bytes: 200)]],
                                                "elements": elements]]
            if let secret, !secret.isEmpty {
                let seconds = String(Int64(now.timeIntervalSince1970.rounded(.down)))
                body["timestamp"] = seconds
                body["sign"] = feishuSignature(timestamp: seconds, secret: secret)
            }
            return OutgoingRequest(url: url, headers: json, body: encode(body))
        case .webhook, .email:
            // No business data: what happened, to which record, where to read it. The receiver
            // fetches the record with its own credentials, so it sees only what it may.
            var event: [String: Any] = ["id": message.id, "type": message.event, "occurredAt": iso(message.occurredAt),
                                        "recordType": message.recordType, "title": message.title, "text": message.text]
            if let r = message.recordID { event["recordId"] = r }
            if let l = message.link { event["link"] = l }
            let body = encode(event)
            var headers = json + [("X-Subcon-Event", message.event), ("X-Subcon-Delivery", message.id)]
            if let secret, !secret.isEmpty {
                let ts = String(Int64(now.timeIntervalSince1970.rounded(.down)))
                headers.append(("X-Subcon-Timestamp", ts))
                headers.append(("X-Subcon-Signature", "sha256=" + webhookSignature(timestamp: ts, body: body, secret: secret)))
            }
            return OutgoingRequest(url: url, headers: headers, body: body)
        }
    }

    /// DingTalk: HMAC-SHA256 keyed with the secret over "timestamp\nsecret", base64.
    public static func dingTalkSignature(timestamp: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp)\n\(secret)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Feishu: HMAC-SHA256 keyed with "timestamp\nsecret" over nothing, base64.
    public static func feishuSignature(timestamp: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(), using: SymmetricKey(data: Data("\(timestamp)\n\(secret)".utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Webhooks: hex HMAC-SHA256 keyed with the secret over "timestamp.body". The timestamp in
    /// the signed text lets a receiver refuse replays; the delivery id lets it drop repeats.
    public static func webhookSignature(timestamp: String, body: [UInt8], secret: String) -> String {
        var signed = Data("\(timestamp).".utf8); signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return mac.lowercaseHex
    }

    private static func linkLine(_ m: ChannelMessage) -> String {
        guard let link = m.link else { return "" }
        return "\n[\(m.linkLabel)](\(link))"
    }

    /// Text typed by users goes into markdown: its link and emphasis characters are neutralized.
    static func escapeMarkdown(_ s: String) -> String {
        var out = ""
        for ch in s {
            if "[]()*_`#<>".contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    static func cap(_ s: String, bytes: Int) -> String {
        guard s.utf8.count > bytes else { return s }
        var out = ""
        for ch in s {
            if out.utf8.count + String(ch).utf8.count > bytes - 3 { break }
            out.append(ch)
        }
        return out + "…"
    }

    static func formEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics; allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter(); f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    static func encode(_ object: [String: Any]) -> [UInt8] {
        // Sorted keys: the same message always has the same bytes (and signature).
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8))
    }
}
