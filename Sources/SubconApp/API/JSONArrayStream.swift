import Foundation
import Vapor

/// A JSON object whose one long array (a statement's lines, the write-off's rows) goes out in
/// batches: the object encoded with the array empty is split open where the array goes, and
/// each batch is encoded on its own. Encoded whole, 57,000 lines or 17,000 rows took their JSON,
/// its intermediate tree and a copy of both in memory at once.
struct JSONArrayStream {
    let encoder: JSONEncoder
    /// The object up to and including the array's `[`.
    let opening: ByteBuffer
    /// The array's `]` and the rest of the object.
    let closing: ByteBuffer
    private var first = true

    /// `head` must hold an empty array under `key` (a programming error otherwise, refused as such).
    init(head: some Encodable, arrayKey key: String, encoder: JSONEncoder) throws {
        self.encoder = encoder
        let json = try encoder.encode(head)
        // An unescaped `"key":[]` can only be that key: inside a string value its quotes would be escaped.
        guard let gap = json.range(of: Data("\"\(key)\":[]".utf8), options: .backwards) else {
            throw Abort(.internalServerError, reason: "no empty \(key) array to stream into")
        }
        opening = ByteBuffer(data: json[..<gap.lowerBound] + Data("\"\(key)\":[".utf8))
        closing = ByteBuffer(data: Data("]".utf8) + json[gap.upperBound...])
    }

    /// The batch's elements, comma-separated from those before; nothing for an empty batch.
    mutating func encode(_ batch: some Collection<some Encodable>) throws -> ByteBuffer? {
        guard !batch.isEmpty else { return nil }
        // The batch as one array, its brackets dropped: one encoding per batch.
        var chunk = first ? Data() : Data([UInt8(ascii: ",")])
        chunk.append(try encoder.encode(Array(batch)).dropFirst().dropLast())
        first = false
        return ByteBuffer(data: chunk)
    }

    /// A JSON answer written by `body` inside one of the instance's heavy-read turns: many long
    /// answers at once would all progress and none finish. Checks belong before this, so that a
    /// refusal is still a problem document; a failure once writing began cuts the answer short.
    /// The turn is taken once the answer's head has gone out, so a reading request checks for a
    /// full queue before (a 503 "busy"); one that fills in between is waited out rather than cut
    /// short. A change answering with the stream has committed already and is never refused.
    static func response(_ req: Request, status: HTTPStatus = .ok,
                         _ body: @escaping @Sendable (any AsyncBodyStreamWriter) async throws -> Void) throws -> Response {
        let gate = req.subcon.heavyReads
        if req.method == .GET { try gate.refuseIfFull() }
        let response = Response(status: status)
        response.headers.contentType = .json
        // Counted as running until the body is written, so that stopping the server waits for it
        // (the handler has returned long before: the bench's stop crashed on a write-off still
        // streaming, whose next read found the databases shut down).
        let inFlight = req.application.inFlightRequests
        inFlight?.enter()
        response.body = .init(asyncStream: { writer in
            defer { inFlight?.leave() }
            do {
                try await gate.run(bounded: false) {
                    try await body(writer)
                    try await writer.write(.end)
                }
            } catch {
                try? await writer.write(.error(error))
            }
        })
        return response
    }
}
