import Fluent
import Foundation
import SubconDomain
import Vapor

/// `/api/v1/orders/{id}/progress|promises|timeline|events` and `/api/v1/events`.
struct ProgressAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let o = routes.grouped("orders", ":id")
        o.get("progress", use: progress)
        o.post("progress", use: report)
        o.on(.POST, "progress", ":report", "photos", body: .collect(maxSize: "6mb"), use: photo)
        o.post("promises", use: promise)
        o.get("timeline", use: timeline)
        o.get("events", use: orderEvents)
        routes.get("events", use: events)
    }

    func order(_ req: Request) async throws -> (Principal, OutsourcingOrder) {
        let p = try req.requirePrincipal()
        return (p, try await OrderService.find(p, try req.idParameter(), on: req.modelReads))
    }

    func progress(req: Request) async throws -> OrderProgressDTO {
        let (_, o) = try await order(req)
        return try await ProgressService.dto(o, app: req.application)
    }

    func report(req: Request) async throws -> Response {
        let (p, o) = try await order(req)
        // Refused before the body is read: someone who may not report hears 403, not what is wrong with the body.
        try p.require(.fulfilOrders)
        let r = try await ProgressService.report(p, o, try req.decodeStrict(ProgressInput.self), app: req.application)
        let dto = ProgressReportDTO(id: r.id!, line: r.lineNumber, operation: r.operation, good: FixedDecimal(units: r.goodQuantity),
                                    scrap: FixedDecimal(units: r.scrapQuantity), stage: r.stage, note: r.note, day: r.reportDay, createdAt: r.createdAt, photos: [])
        return try await .created(dto, for: req)
    }

    /// The photo is the body; `?filename=` names it. JPEG, PNG or WebP, at most 5 MB.
    func photo(req: Request) async throws -> Response {
        let (p, o) = try await order(req)
        let reportID = try req.idParameter("report")
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let doc = try await ProgressService.attachPhoto(p, o.id!, report: reportID, filename: req.queryText("filename") ?? "photo",
                                                        data: Data(buffer: body), app: req.application)
        return try await .created(DocumentDTO(doc), for: req)
    }

    func promise(req: Request) async throws -> Response {
        let (p, o) = try await order(req)
        try p.require(.fulfilOrders)
        let r = try await ProgressService.promise(p, o.id!, try req.decodeStrict(PromiseInput.self), app: req.application)
        return try await .created(PromiseDTO(line: r.lineNumber, date: r.promisedDate, reason: r.reason, createdAt: r.createdAt), for: req)
    }

    func timeline(req: Request) async throws -> ListResult<TimelineEntryDTO> {
        let (_, o) = try await order(req)
        return ListResult(items: try await ProgressService.timeline(o, on: req.db))
    }

    func orderEvents(req: Request) async throws -> Response {
        let (p, o) = try await order(req)
        return LiveStream.response(req, principal: p, orderID: o.id!)
    }

    func events(req: Request) async throws -> Response {
        LiveStream.response(req, principal: try req.requirePrincipal(), orderID: nil)
    }
}

/// Server-Sent Events: one `event:`/`data:` pair per live event the caller may see.
enum LiveStream {
    static func response(_ req: Request, principal p: Principal, orderID: UUID?) -> Response {
        let live = req.subcon.live
        let (id, events) = live.subscribe()
        let supplier = p.scope.supplierID
        var headers = HTTPHeaders()
        headers.replaceOrAdd(name: .contentType, value: "text/event-stream")
        headers.replaceOrAdd(name: .cacheControl, value: "no-cache")
        headers.replaceOrAdd(name: "X-Accel-Buffering", value: "no")
        let body = Response.Body(managedAsyncStream: { writer in
            defer { live.unsubscribe(id) }
            try await writer.write(.buffer(ByteBuffer(string: "retry: 3000\n: connected\n\n")))
            for await e in events {
                if let orderID, e.orderId != orderID { continue }
                if let supplier, e.supplierId != supplier { continue }
                let data = String(decoding: try JSONEncoder().encode(e), as: UTF8.self)
                try await writer.write(.buffer(ByteBuffer(string: "event: \(e.kind)\ndata: \(data)\n\n")))
            }
        })
        return Response(status: .ok, headers: headers, body: body)
    }
}
