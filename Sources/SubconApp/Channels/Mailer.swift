import Foundation
import SubconDomain

/// Hands a message to a sendmail-compatible command (msmtp, sendmail, a test's stand-in) on its
/// standard input: headers, then a plain-text and an HTML part, both UTF-8.
enum Mailer {
    static func send(_ settings: ChannelSettings, to: String, message: ChannelMessage, html: String? = nil) async -> (AttemptOutcome, String?) {
        guard let command = settings.sendmailCommand else { return (.failed, "noMailer") }
        let text = message.text + (message.link.map { "\n\n" + message.linkLabel + ": " + $0 } ?? "")
        let htmlBody = "<p><strong>\(escape(message.title))</strong></p>" + (html ?? "<p>\(escape(message.text).replacingOccurrences(of: "\n", with: "<br>"))</p>")
            + (message.link.map { "<p><a href=\"\(escape($0))\">\(escape(message.linkLabel))</a></p>" } ?? "")
        let raw = compose(from: settings.mailFrom, to: to, subject: message.title, text: text, html: htmlBody, id: message.id)
        return await run(command, input: Data(raw.utf8), timeout: settings.timeout)
    }

    static func compose(from: String, to: String, subject: String, text: String, html: String, id: String) -> String {
        let boundary = "subcon-" + id.replacingOccurrences(of: "-", with: "")
        func b64(_ s: String) -> String {
            // 76-character lines, as MIME asks.
            let all = Data(s.utf8).base64EncodedString()
            return stride(from: 0, to: all.count, by: 76).map { i in
                let start = all.index(all.startIndex, offsetBy: i)
                return String(all[start..<all.index(start, offsetBy: min(76, all.count - i))])
            }.joined(separator: "\r\n")
        }
        return [
            "From: Subcon <\(from)>",
            "To: <\(to)>",
            // RFC 2047: Chinese subjects as UTF-8 base64 encoded words.
            "Subject: =?UTF-8?B?\(Data(subject.utf8).base64EncodedString())?=",
            "MIME-Version: 1.0",
            "X-Subcon-Event-Id: \(id)",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            b64(text),
            "--\(boundary)",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            b64("<!doctype html><html><body>\(html)</body></html>"),
            "--\(boundary)--",
            "",
        ].joined(separator: "\r\n")
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Exit status 0 is delivered; EX_TEMPFAIL (75) and EX_UNAVAILABLE (69), and a command that
    /// hangs, are tried again; anything else is a configuration to fix.
    static func run(_ command: String, input: Data, timeout: TimeInterval) async -> (AttemptOutcome, String?) {
        let parts = command.split(separator: " ").map(String.init)
        guard let executable = parts.first else { return (.failed, "empty command") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(parts.dropFirst())
        let stdin = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        return await withCheckedContinuation { (continuation: CheckedContinuation<(AttemptOutcome, String?), Never>) in
            process.terminationHandler = { p in
                let err = String(decoding: stderr.fileHandleForReading.availableData.prefix(300), as: UTF8.self)
                switch p.terminationStatus {
                case 0: continuation.resume(returning: (.delivered, nil))
                case 69, 75: continuation.resume(returning: (.retry, "exit \(p.terminationStatus) \(err)"))
                case _ where p.terminationReason == .uncaughtSignal: continuation.resume(returning: (.retry, "timeout"))
                default: continuation.resume(returning: (.failed, "exit \(p.terminationStatus) \(err)"))
                }
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: (.failed, "cannot run \(executable)"))
                return
            }
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if process.isRunning { process.terminate() } }
        }
    }
}
