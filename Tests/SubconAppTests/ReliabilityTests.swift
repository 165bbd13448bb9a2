import Fluent
import Foundation
import SubconDomain
import Testing
import VaporTesting
@testable import SubconApp

/// What an outside probe of the API found, each point pinned by a test.
@Suite struct ReliabilityTests {
    /// SIGTERM under load crashed the server: handlers still running reached for a database
    /// already shut down. The server now drains the requests in flight first; this holds one
    /// request open and checks that draining waits for it (and gives up after its limit).
    @Test func stoppingWaitsForRequestsStillRunning() async throws {
        try await TestApp.run { t in
            let inFlight = try #require(t.app.inFlightRequests)
            struct Held: AsyncResponder {
                let release: AsyncStream<Void>
                func respond(to request: Request) async throws -> Response {
                    for await _ in release { break }
                    return Response(status: .ok)
                }
            }
            let (release, open) = AsyncStream<Void>.makeStream()
            let request = Request(application: t.app, on: t.app.eventLoopGroup.next())
            let answer = Task { try await inFlight.respond(to: request, chainingTo: Held(release: release)) }
            while inFlight.running == 0 { await Task.yield() }
            await inFlight.drain(limit: .milliseconds(30), poll: .milliseconds(1))
            #expect(inFlight.running == 1)
            let drained = Task { await inFlight.drain(limit: .seconds(120), poll: .milliseconds(1)); return inFlight.running }
            open.yield(); open.finish()
            #expect(await drained.value == 0)
            #expect(try await answer.value.status == .ok)
        }
    }

    /// A streamed answer reads the database after its handler has returned: it counts as
    /// running until its body is written, so stopping waits for it too.
    @Test func aStreamedAnswerRunsUntilItsBodyIsWritten() async throws {
        try await TestApp.run { t in
            let inFlight = try #require(t.app.inFlightRequests)
            let request = Request(application: t.app, on: t.app.eventLoopGroup.next())
            let response = try JSONArrayStream.response(request) { writer in
                try await writer.write(.buffer(ByteBuffer(string: "[]")))
            }
            #expect(inFlight.running == 1, "the handler has returned, the body is still to be written")
            let body = try await response.body.collect(on: request.eventLoop).get()
            #expect(body.map { String(buffer: $0) } == "[]")
            #expect(inFlight.running == 0)
        }
    }

    /// Heavy reads take turns: never more inside than the limit, the others wait and each gets
    /// its turn when one leaves.
    @Test(.timeLimit(.minutes(1))) func heavyReadsTakeTurns() async throws {
        actor Probe {
            var inside = 0, most = 0, done = 0
            var held: [CheckedContinuation<Void, Never>] = []
            func enter() async {
                inside += 1; most = max(most, inside)
                await withCheckedContinuation { held.append($0) }
                inside -= 1; done += 1
            }
            func releaseOne() -> Bool {
                guard !held.isEmpty else { return false }
                held.removeFirst().resume()
                return true
            }
            var holding: Int { held.count }
        }
        let gate = TurnGate(limit: 2), probe = Probe()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<6 { group.addTask { _ = try? await gate.run { await probe.enter() } } }
            var released = 0
            while released < 6 {
                // Wait until everyone not yet released is either inside (held) or queued.
                while true {
                    let holding = await probe.holding
                    if holding + gate.waiting == 6 - released && holding == min(2, 6 - released) { break }
                    await Task.yield()
                }
                #expect(await probe.holding == min(2, 6 - released))
                #expect(gate.waiting == max(0, 6 - released - 2))
                if await probe.releaseOne() { released += 1 }
            }
        }
        #expect(await probe.most == 2)
        #expect(await probe.done == 6)
        #expect(gate.waiting == 0)
    }

    /// Memory freed after a burst goes back to the system (glibc's `malloc_trim` through the C
    /// shim): blocks too small for their own mapping stay in malloc's heap when freed.
    @Test func freedMemoryGoesBackToTheSystem() {
        #if os(Linux)
        FreeMemory.returnNow()
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<4096 {
            let p = malloc(16_384)!
            memset(p, 1, 16_384)
            blocks.append(p)
        }
        for p in blocks { free(p) }
        #expect(FreeMemory.returnNow())
        #endif
    }

    /// The queue of heavy reads is bounded: past it a request is told at once that the server
    /// is busy and when to try again, instead of waiting behind minutes of others' reports.
    @Test func heavyReadsPastTheQueueAreToldTheServerIsBusy() async throws {
        try await TestApp.run(adjust: { $0.heavyReads = 1 }) { t in
            let gate = t.app.subcon.heavyReads
            let admin = try await t.token("admin")
            let (release, open) = AsyncStream<Void>.makeStream()
            // One inside and four (4 × the limit) waiting.
            let holders = (0..<5).map { _ in Task { try await gate.run { for await _ in release { break } } } }
            while gate.waiting < 4 { try await Task.sleep(for: .milliseconds(1)) }
            let busy = try await t.request(.GET, "/api/v1/write-off", token: admin)
            #expect(busy.status == .serviceUnavailable)
            #expect(busy.headers.first(name: .retryAfter) == "5")
            #expect(busy.body.string.contains("busy"), "\(busy.body.string)")
            #expect(gate.waiting == 4, "the refused request never joined the queue")
            open.finish()
            for holder in holders { try await holder.value }
            #expect(try await t.request(.GET, "/api/v1/write-off", token: admin).status == .ok)
        }
    }

    /// A request that waited its whole time for a database connection (a long read or a
    /// background pass on a cold file held them) is told the server is busy and when to try
    /// again, not that something broke; nothing was written, so a retry is safe.
    @Test func aConnectionWaitThatRunsOutIsBusyNotABreak() async throws {
        try await TestApp.run { t in
            let p = ProblemMiddleware.problem(for: ConnectionPoolTimeoutError.connectionRequestTimeout,
                                              request: Request(application: t.app, on: t.app.eventLoopGroup.next()))
            #expect(p.status == .serviceUnavailable && p.kind == "busy")
            #expect(p.headers.first(name: .retryAfter) == "5")
            for locale in AppLocale.allCases {
                for key in ["problem.busy", "problem.busy.detail"] {
                    #expect(t.app.subcon.catalog.text(key, locale) != key, "\(locale) \(key)")
                }
            }
        }
    }

    /// The background workers' stop waits for a pass that was running when it was asked to
    /// stop: one that went on after shutdown reached for closed databases and crashed the
    /// process on SIGTERM.
    @Test(.timeLimit(.minutes(1))) func stoppingABackgroundWorkerWaitsForItsPass() async throws {
        actor Flag { var done = false; func set() { done = true } }
        let box = TaskBox(), finished = Flag()
        let started = AsyncStream<Void>.makeStream()
        box.set(Task {
            started.continuation.yield()
            while !Task.isCancelled { await Task.yield() }
            // The rest of the pass, still running after the cancellation.
            for _ in 0..<1_000 { await Task.yield() }
            await finished.set()
        })
        for await _ in started.stream { break }
        await box.stop()
        #expect(await finished.done)
    }

    @Test func nextParametersNeverLeaveTheSite() {
        for bad in ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "//evil.example", "/\\evil.example",
                    "https://evil.example", "/ /evil.example", "evil.example", "/\u{7F}/evil", "/\u{85}/evil", ""] {
            #expect(LoginPages.safeNext(bad) == "/", "\(bad.debugDescription)")
        }
        for good in ["/orders", "/orders/1?tab=material", "/lang/en?x=1"] {
            #expect(LoginPages.safeNext(good) == good)
        }
    }

    @Test func languageSwitchAndLoginDoNotRedirectElsewhere() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            let r = try await t.page(.GET, "/lang/en?next=/%09/evil.example", browser: &b)
            #expect(r.status == .seeOther)
            #expect(r.headers.first(name: .location) == "/")
            _ = try await t.page(.GET, "/login", browser: &b)
            let login = try await t.page(.POST, "/login", browser: &b, form: ["login": "admin", "password": "demo", "next": "/\t/evil.example",
                                                                              "_csrf": b.cookies["subcon_csrf"] ?? ""])
            #expect(login.headers.first(name: .location) == "/")
        }
    }

    @Test func everyAnswerCarriesSecurityHeaders() async throws {
        try await TestApp.run { t in
            var b = try await t.signIn("admin")
            for path in ["/", "/orders", "/no-such-page"] {
                let r = try await t.page(.GET, path, browser: &b)
                let csp = r.headers.first(name: "Content-Security-Policy") ?? ""
                #expect(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "\(path)")
                #expect(r.headers.first(name: "X-Content-Type-Options") == "nosniff")
                #expect(r.headers.first(name: "X-Frame-Options") == "DENY")
                #expect(r.headers.first(name: "Referrer-Policy") == "same-origin")
                #expect(r.headers.first(name: "Permissions-Policy")?.contains("camera=()") == true)
                #expect(r.headers.first(name: .cacheControl) == "no-store", "\(path)")
            }
            let login = try await t.request(.GET, "/login")
            #expect(login.headers.first(name: "Content-Security-Policy") != nil)
            #expect(try await t.request(.GET, "/css/app.css").headers.first(name: .cacheControl) != "no-store")
            let api = try await t.request(.GET, "/api/v1/me", token: try await t.token("admin"))
            #expect(api.headers.first(name: .cacheControl) == "no-store")
        }
    }

    /// No inline script or style in any template, so the policy above never has to allow it.
    @Test func templatesHaveNoInlineScriptOrStyle() throws {
        let dir = packageRoot + "/Resources/Views"
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasSuffix(".leaf") {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            #expect(!text.contains(" style="), "\(file) has a style attribute")
            #expect(!text.contains("<style"), "\(file) has a style element")
            #expect(text.components(separatedBy: "<script").dropFirst().allSatisfy { $0.hasPrefix(" src=") }, "\(file) has an inline script")
            #expect(text.range(of: #" on[a-z]+="#, options: .regularExpression) == nil, "\(file) has an inline event handler")
        }
    }

    @Test func unauthorizedNamesTheSchemeAndWrongMethodsAre405() async throws {
        try await TestApp.run { t in
            let none = try await t.request(.GET, "/api/v1/me")
            #expect(none.status == .unauthorized)
            #expect(none.headers.first(name: .wwwAuthenticate) == #"Bearer realm="subcon""#)
            let bad = try await t.request(.GET, "/api/v1/me", token: "nonsense")
            #expect(bad.headers.first(name: .wwwAuthenticate)?.contains("invalid_token") == true)
            let admin = try await t.token("admin")
            let wrong = try await t.request(.DELETE, "/api/v1/orders", token: admin)
            #expect(wrong.status == .methodNotAllowed)
            #expect(wrong.headers.first(name: .allow) == "GET, HEAD, POST")
            #expect(wrong.headers.contentType?.description.hasPrefix("application/problem+json") == true)
            let put = try await t.request(.PUT, "/api/v1/orders/\(UUID())", token: admin, json: "{}")
            #expect(put.status == .methodNotAllowed)
            #expect(put.headers.first(name: .allow) == "GET, HEAD, PATCH")
            #expect(try await t.request(.GET, "/api/v1/no-such-thing", token: admin).status == .notFound)
        }
    }

    /// Every operation documents the problem answers the conventions give it, so a client (and
    /// schemathesis) never meets an undocumented status.
    @Test func everyOperationDocumentsItsProblemStatuses() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/Resources/openapi.json"))
        let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        let open: Set<String> = ["/healthz", "/metrics", "/api/v1/openapi.json", "/api/v1/auth/token"]
        var checked = 0
        for (path, operations) in paths where !open.contains(path) {
            for (method, value) in operations where ["get", "post", "put", "patch", "delete"].contains(method) {
                let op = try #require(value as? [String: Any])
                let codes = Set((op["responses"] as? [String: Any] ?? [:]).keys)
                var needed: Set<String> = ["401", "403"]
                if path.contains("{") { needed.insert("404") }
                if method == "get" { needed.insert("400") }
                if op["requestBody"] != nil { needed.formUnion(["400", "413", "415", "422"]) }
                if method != "get" { needed.formUnion(["409", "422"]) }
                #expect(needed.isSubset(of: codes), "\(method.uppercased()) \(path) leaves out \(needed.subtracting(codes).sorted())")
                checked += 1
            }
        }
        #expect(checked > 130)
    }

    @Test func jsonMustBeStrictJSON() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let org = try await t.organization(code: "SUP-JG")
            for body in [#"{"version":\#(org.version),}"#, #"{"version":\#(org.version),"name":"x",}"#, #"{"version":1 // c"#,
                         "{'version':1}", #"{"version":01}"#, "{\"name\":\"a\u{01}b\"}", #"[1,]"#] {
                let r = try await t.request(.PATCH, "/api/v1/organizations/\(org.id!)", token: admin, json: body)
                #expect(r.status == .badRequest, "\(body): \(r.status)")
            }
            #expect(try await t.organization(code: "SUP-JG").version == org.version)
            let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            #expect(try await t.request(.PATCH, "/api/v1/organizations/\(org.id!)", token: admin, json: deep).status == .badRequest)
        }
    }

    @Test func strictJSONGrammar() throws {
        for good in [#"{}"#, #"{"a":[1,2.5e-3,-0,true,false,null,"\u00e9\n"]}"#, " [ ] ", #""中文""#] {
            #expect(throws: Never.self) { try JSONSyntax.check(Array(good.utf8)) }
        }
        for bad in [#"{"a":1,}"#, "[1,]", "{,}", "01", "1.", ".5", "+1", "[1 2]", #"{"a" 1}"#, "'a'", "nul", #""\x""#, #""\u12""#, "{} {}", ""] {
            #expect(throws: JSONSyntax.Invalid.self, "\(bad)") { try JSONSyntax.check(Array(bad.utf8)) }
        }
        #expect(throws: JSONSyntax.Invalid.self) { try JSONSyntax.check([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONSyntax.Invalid.self) { try JSONSyntax.check([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // a surrogate
    }

    @Test func decimalsAreExactlyWhatTheDocumentSays() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let item = #"{"code":"DEC-1","name":"件","uom":"PCS","kind":"finished"}"#
            let created = try await t.request(.POST, "/api/v1/items", token: admin, json: item)
            #expect(created.status == .created)
            let component = try await t.request(.POST, "/api/v1/items", token: admin, json: #"{"code":"DEC-2","name":"料","uom":"KG","kind":"raw_material"}"#)
            #expect(component.status == .created, "\(component.body.string)")
            let id = created.json["id"] as? String ?? ""
            func bom(_ q: String) async throws -> HTTPResponseStatus {
                try await t.request(.POST, "/api/v1/items/\(id)/boms", token: admin,
                                    json: #"{"validFrom":"2026-01-01","lines":[{"component":"DEC-2","quantityPer":\#(q)}]}"#).status
            }
            #expect(try await bom(#"" 2""#) == .badRequest)
            #expect(try await bom(#""2 ""#) == .badRequest)
            #expect(try await bom("2.5") == .badRequest)
            #expect(try await bom(#""2.5""#) == .created)
        }
    }

    @Test func unknownFieldsAreRefusedAtAnyDepth() async throws {
        try await TestApp.run { t in
            let f = try await OrderFixture.make(t)
            let r = try await t.request(.POST, "/api/v1/plans", token: f.planner, json: """
                {"plantId":"\(try await f.plant())","period":"2026-10","lines":[{"itemCode":"FG-RD-002","quantity":"10","dueDate":"2026-10-25","colour":"red"}]}
                """)
            #expect(r.status == .badRequest, "\(r.body.string)")
            #expect(r.body.string.contains("lines[0].colour"))
            #expect(try await ProductionPlan.query(on: t.db).count() == 0)
            let order = try await t.request(.POST, "/api/v1/orders", token: f.purchaser, json: """
                {"supplierId":"\(try await f.supplierID("SUP-JG"))","lines":[{"itemCode":"FG-RD-002","quantity":"5","dueDate":"2026-10-25","priority":1}]}
                """)
            #expect(order.status == .badRequest)
            #expect(order.body.string.contains("lines[0].priority"))
        }
    }

    @Test func importsRefuseBodiesThatAreNotFiles() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let r = try await t.request(.POST, "/api/v1/imports/items", token: admin, json: "{broken")
            #expect(r.status == .unsupportedMediaType)
            #expect(try await ImportBatch.query(on: t.db).count() == 0)
        }
    }

    @Test func writeOffProposalsNameARealSupplierAndPeriodIsABodyField() async throws {
        try await TestApp.run { t in
            let finance = try await t.token("finance")
            let r = try await t.request(.POST, "/api/v1/write-off/proposals", token: finance, json: #"{"period":"2026-11","supplierId":"\#(UUID())"}"#)
            #expect(r.status == .unprocessableEntity)
            #expect(r.body.string.contains("supplierId"))
            let period = try await t.request(.POST, "/api/v1/write-off/proposals", token: finance, json: #"{"period":"2026-13"}"#)
            #expect(period.status == .unprocessableEntity)
            #expect(period.json["type"] as? String == "/problems/validation")
            #expect(try await t.request(.POST, "/api/v1/write-off/proposals", token: finance, json: #"{"period":"2026-11"}"#).status == .ok)
        }
    }

    @Test func aSupplierReadsTheHistoryOfItsOwnRecords() async throws {
        try await TestApp.run(scenario: true) { t in
            let jg = try await t.organization(code: "SUP-JG").id!
            let s1 = try await t.token("supplier1"), s2 = try await t.token("supplier2")
            let order = try await OutsourcingOrder.query(on: t.db).filter(\.$supplierID == jg).first()!.id!
            let doc = try await MaterialDocument.query(on: t.db).filter(\.$supplierID == jg).first()!.id!
            let note = try await DeliveryNote.query(on: t.db).filter(\.$supplierID == jg).first()!.id!
            let receipt = try await GoodsReceipt.query(on: t.db).filter(\.$supplierID == jg).first()!.id!
            for (entity, id) in [("order", order), ("material_document", doc), ("delivery_note", note), ("goods_receipt", receipt)] {
                let mine = try await t.request(.GET, "/api/v1/audit?entity=\(entity)&entityId=\(id)", token: s1)
                #expect(mine.status == .ok, "\(entity): \(mine.status)")
                #expect((mine.json["total"] as? Int ?? 0) >= 1, "\(entity)")
                #expect(try await t.request(.GET, "/api/v1/audit?entity=\(entity)&entityId=\(id)", token: s2).status == .notFound, "\(entity)")
            }
        }
    }

    /// The key is written in the change's own transaction: a retry after the change committed
    /// replays, and a refused request leaves the key free for a corrected one.
    @Test func idempotencyKeysCommitWithTheirChange() async throws {
        try await TestApp.run { t in
            let admin = try await t.token("admin")
            let body = #"{"code":"IDEM-1","name":"幂等","uom":"PCS","kind":"finished"}"#
            let first = try await t.request(.POST, "/api/v1/items", token: admin, json: body, headers: [("Idempotency-Key", "k1")])
            #expect(first.status == .created)
            let again = try await t.request(.POST, "/api/v1/items", token: admin, json: body, headers: [("Idempotency-Key", "k1")])
            #expect(again.status == .created)
            #expect(again.headers.first(name: "Idempotent-Replayed") == "true")
            #expect(again.body.string == first.body.string)
            // The key was written by the item's own transaction, not only after the answer.
            let claim = IdempotencyClaim(userID: try await t.user("admin").id!, key: "in-tx", fingerprint: "f", now: Date())
            try await IdempotencyClaim.$current.withValue(claim) {
                try await t.app.write(as: .system) { change in try await change.audit("item", nil, "probe") }
            }
            #expect(try await IdempotencyRecord.query(on: t.db).filter(\.$key == "in-tx").count() == 1)
            let other = try await t.request(.POST, "/api/v1/items", token: admin, json: #"{"code":"IDEM-2","name":"x","uom":"PCS","kind":"finished"}"#,
                                            headers: [("Idempotency-Key", "k1")])
            #expect(other.status == .unprocessableEntity)
            let refused = try await t.request(.POST, "/api/v1/items", token: admin, json: #"{"code":"","name":"x","uom":"PCS","kind":"finished"}"#,
                                              headers: [("Idempotency-Key", "k2")])
            #expect(refused.status == .unprocessableEntity)
            let corrected = try await t.request(.POST, "/api/v1/items", token: admin, json: #"{"code":"IDEM-3","name":"x","uom":"PCS","kind":"finished"}"#,
                                                headers: [("Idempotency-Key", "k2")])
            #expect(corrected.status == .created)
            #expect(try await Item.query(on: t.db).filter(\.$code ~~ "IDEM").count() == 2)
            // A key whose change committed but whose answer was never stored (the server stopped
            // in between: here its stored answer is wiped) is not run again: 409, still one item.
            let body4 = #"{"code":"IDEM-4","name":"x","uom":"PCS","kind":"finished"}"#
            #expect(try await t.request(.POST, "/api/v1/items", token: admin, json: body4, headers: [("Idempotency-Key", "k3")]).status == .created)
            try await IdempotencyRecord.query(on: t.db).filter(\.$key == "k3").set(\.$status, to: nil).update()
            let stuck = try await t.request(.POST, "/api/v1/items", token: admin, json: body4, headers: [("Idempotency-Key", "k3")])
            #expect(stuck.status == .conflict)
            #expect(try await Item.query(on: t.db).filter(\.$code == "IDEM-4").count() == 1)
        }
    }

    @Test func loginStartsANewSessionAndCookiesAreSecureBehindHTTPS() async throws {
        try await TestApp.run { t in
            var b = TestApp.Browser()
            b.cookies["subcon_session"] = "attacker-chosen"
            _ = try await t.page(.GET, "/login", browser: &b)
            let r = try await t.page(.POST, "/login", browser: &b, form: ["login": "admin", "password": "demo", "_csrf": b.cookies["subcon_csrf"] ?? ""])
            #expect(r.status == .seeOther)
            #expect(b.cookies["subcon_session"] != "attacker-chosen")
            #expect(b.cookies["subcon_session"]?.count ?? 0 >= 32)
            let second = try await t.signIn("admin")
            #expect(second.cookies["subcon_session"] != b.cookies["subcon_session"])
        }
        // Served over HTTPS: the session cookie is Secure and browsers are told to stay on HTTPS.
        try await TestApp.run(adjust: { $0.secureCookies = true }) { t in
            var b = TestApp.Browser()
            _ = try await t.page(.GET, "/login", browser: &b)
            let r = try await t.page(.POST, "/login", browser: &b, form: ["login": "admin", "password": "demo", "_csrf": b.cookies["subcon_csrf"] ?? ""])
            let session = r.headers[.setCookie].first { $0.hasPrefix("subcon_session=") } ?? ""
            #expect(session.contains("Secure") && session.contains("HttpOnly"), "\(session)")
            #expect(r.headers.first(name: "Strict-Transport-Security") == "max-age=31536000")
        }
        #expect(Settings.fromEnvironment(["PUBLIC_URL": "https://subcon.example.com"]).secureCookies)
        #expect(!Settings.fromEnvironment(["PUBLIC_URL": "http://localhost:8080"]).secureCookies)
        #expect(!Settings.fromEnvironment(["PUBLIC_URL": "https://x.example", "COOKIE_SECURE": "false"]).secureCookies)
    }
}
