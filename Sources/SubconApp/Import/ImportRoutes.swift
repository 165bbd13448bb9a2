import Fluent
import Foundation
import SubconDomain
import Vapor

struct ImportsAPI: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        // The file is the body, e.g. `curl --data-binary @items.csv -H 'Content-Type: text/csv'`.
        // One literal path per kind: a `:kind` parameter would clash with `imports/:id`.
        for kind in ImportKind.allCases {
            routes.on(.POST, "imports", PathComponent(stringLiteral: kind.rawValue), body: .collect(maxSize: "20mb")) { req in
                try await upload(req: req, kind: kind)
            }
        }
        routes.get("imports", ":id", use: show)
        routes.post("imports", ":id", "commit", use: commit)
    }

    func upload(req: Request, kind: ImportKind) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(kind.uploadPermission)
        // A spreadsheet or a CSV file; a JSON or form body is a client mistake, not a file to store.
        if let type = req.headers.contentType, !Self.fileTypes.contains("\(type.type)/\(type.subType)".lowercased()) {
            throw Problem(.unsupportedMediaType, "unsupported-media-type")
        }
        guard let body = req.body.data, body.readableBytes > 0 else { throw Problem.badRequest("problem.body.empty") }
        let preview = try await ImportService.upload(p, kind: kind, filename: req.queryText("filename") ?? "upload.csv",
                                                     data: Data(buffer: body), app: req.application)
        return try await .created(preview, for: req)
    }

    static let fileTypes: Set<String> = [
        "text/csv", "text/plain", "application/csv", "application/vnd.ms-excel", "application/octet-stream",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]

    func show(req: Request) async throws -> ImportPreviewDTO {
        try await ImportService.preview(try req.requirePrincipal(), try req.idParameter(), app: req.application)
    }

    func commit(req: Request) async throws -> ImportService.CommitResult {
        try await ImportService.commit(try req.requirePrincipal(), try req.idParameter(), app: req.application)
    }
}

struct ImportPages: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("imports", use: index)
        routes.on(.POST, "imports", body: .collect(maxSize: "20mb"), use: upload)
        routes.get("imports", ":id", use: show)
        routes.post("imports", ":id", "commit", use: commit)
        for kind in ImportKind.allCases {
            for format in kind == .workbook ? ["xlsx"] : ["csv", "xlsx"] {
                routes.get("exports", PathComponent(stringLiteral: "\(kind.rawValue).\(format)")) { req in
                    try await ExportsAPI.file(req, kind: kind, format: format)
                }
            }
        }
    }

    struct Recent: Encodable { let id: UUID; let kind: String; let filename: String; let status: String; let rows: Int; let problems: Int; let createdAt: Date }
    struct IndexView: Encodable { let recent: [Recent]; let errors: FormErrors; let kinds: [String]; let dataKinds: [String] }

    func index(req: Request) async throws -> Response {
        try await renderIndex(req, problem: nil)
    }

    func renderIndex(_ req: Request, problem: Problem?) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.editMasterData)
        let recent = try await ImportBatch.query(on: req.db).filter(\.$createdBy == p.userID).sort(\.$createdAt, .descending).limit(20).all()
        let view = IndexView(recent: recent.map { .init(id: $0.id!, kind: $0.kind, filename: $0.filename, status: $0.status, rows: $0.rowCount,
                                                         problems: $0.problemCount, createdAt: $0.createdAt) },
                             errors: req.formErrors(problem), kinds: ([ImportKind.workbook] + ImportKind.dataKinds + [.orders]).map(\.rawValue),
                             dataKinds: (ImportKind.dataKinds + [.orders]).map(\.rawValue))
        return try await req.renderForm("imports", titleKey: "imports.title", view, problem: problem)
    }

    struct UploadForm: Content { var kind: String?; var file: File? }

    func upload(req: Request) async throws -> Response {
        let p = try req.requirePrincipal()
        try p.require(.editMasterData)
        let form = try req.content.decode(UploadForm.self)
        var preview: ImportPreviewDTO?
        let problem = try await attempt {
            guard let kind = form.kind.flatMap(ImportKind.init(rawValue:)) else { throw Problem.validation([FieldProblem("kind", "invalidValue")]) }
            guard let file = form.file, file.data.readableBytes > 0 else { throw Problem.validation([FieldProblem("file", "fileEmpty")]) }
            preview = try await ImportService.upload(p, kind: kind, filename: file.filename, data: Data(buffer: file.data), app: req.application)
        }
        if let preview { return req.redirect(to: "/imports/\(preview.id)") }
        return try await renderIndex(req, problem: problem)
    }

    func show(req: Request) async throws -> View {
        let preview = try await ImportService.preview(try req.requirePrincipal(), try req.idParameter(), app: req.application)
        return try await req.renderPage("import_preview", titleKey: "imports.preview", preview)
    }

    func commit(req: Request) async throws -> Response {
        let id = try req.idParameter()
        let result = try await ImportService.commit(try req.requirePrincipal(), id, app: req.application)
        return req.redirect(to: "/imports/\(id)?ok=imported&created=\(result.created)&updated=\(result.updated)")
    }
}
