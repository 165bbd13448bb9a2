import Foundation
import Testing
import Vapor
@testable import SubconApp

/// `queryText` reads a parameter as Vapor's query container reads it, from one parse per request.
@Suite struct QueryTextTests {
    @Test func eachParameterReadsAsVaporsContainerReadsIt() async throws {
        try await TestApp.run(demo: false) { t in
            let queries = ["status=open&per=50", "q=a+b&q2=%E4%B8%AD%E6%96%87", "a=1&a=2", "a=%ZZ&b=ok", "flag&b=1", "a=&b=x=y",
                           "n[x]=1&n=2", "%61=decoded-name", "a=1&&b=2", "plus=%2B&space=%20", "", "per=-1&page=abc"]
            let names = ["status", "per", "q", "q2", "a", "b", "flag", "n", "plus", "space", "page", "missing"]
            for query in queries {
                let request = Request(application: t.app, url: URI(string: "/api/v1/orders?" + query), on: t.app.eventLoopGroup.next())
                for name in names {
                    #expect(request.queryText(name) == request.query[String.self, at: name], "\(name) in \(query)")
                }
            }
            // A page that drops a bad query and renders again (the write-off's) reads the new one.
            let request = Request(application: t.app, url: URI(string: "/write-off?period=2026-13"), on: t.app.eventLoopGroup.next())
            #expect(request.queryText("period") == "2026-13")
            request.url.query = nil
            #expect(request.queryText("period") == nil)
            request.url.query = "period=2026-11"
            #expect(request.queryText("period") == "2026-11")
        }
    }
}
