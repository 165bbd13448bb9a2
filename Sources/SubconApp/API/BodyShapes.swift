import Foundation
import Vapor

/// The fields each JSON request body may carry, read from the published OpenAPI document, so a
/// field the document does not list is refused at any depth (`lines[2].colour`), not only at the
/// top level, and the code cannot quietly accept more than the document promises.
struct BodyShapes: Sendable {
    /// Allowed keys of an object, and the shape under each key (objects, or arrays of objects).
    final class Shape: Sendable {
        let keys: Set<String>
        let children: [String: Shape]
        init(keys: Set<String>, children: [String: Shape]) { self.keys = keys; self.children = children }
    }

    /// "POST /api/v1/orders/{}/answers" → shape of its JSON body.
    private let shapes: [String: Shape]

    init(openAPI: Data) {
        guard let doc = (try? JSONSerialization.jsonObject(with: openAPI)) as? [String: Any],
              let paths = doc["paths"] as? [String: [String: Any]] else { shapes = [:]; return }
        let schemas = (doc["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        func resolve(_ s: Any?) -> [String: Any]? {
            var s = s as? [String: Any]
            var hops = 0
            while let ref = s?["$ref"] as? String, hops < 20 {
                s = schemas[String(ref.split(separator: "/").last ?? "")] as? [String: Any]; hops += 1
            }
            return s
        }
        func shape(_ s: Any?, depth: Int) -> Shape? {
            guard depth < 8, var s = resolve(s) else { return nil }
            if let items = s["items"] { guard let i = resolve(items) else { return nil }; s = i }
            guard let properties = s["properties"] as? [String: Any] else { return nil }
            var children: [String: Shape] = [:]
            for (key, value) in properties { children[key] = shape(value, depth: depth + 1) }
            return Shape(keys: Set(properties.keys), children: children)
        }
        var shapes: [String: Shape] = [:]
        for (path, operations) in paths {
            for (method, op) in operations {
                guard let op = op as? [String: Any],
                      let content = (op["requestBody"] as? [String: Any])?["content"] as? [String: Any],
                      let json = content["application/json"] as? [String: Any],
                      let s = shape(json["schema"], depth: 0) else { continue }
                shapes[method.uppercased() + " " + Self.normalize(path)] = s
            }
        }
        self.shapes = shapes
    }

    /// Path parameters compare by position, whatever their names.
    static func normalize(_ path: String) -> String {
        path.split(separator: "/").map { $0.hasPrefix("{") || $0.hasPrefix(":") ? "{}" : String($0) }.joined(separator: "/")
    }

    func shape(for req: Request) -> Shape? {
        guard let route = req.route else { return nil }
        let path = "/" + route.path.map { c -> String in
            if case .constant(let s) = c { return s }
            return "{}"
        }.joined(separator: "/")
        return shapes[req.method.rawValue + " " + Self.normalize(path)]
    }

    /// Unknown fields inside nested objects, with their paths (top-level ones are reported by
    /// the input type's own field list).
    static func unknownNested(_ object: [String: Any], _ shape: Shape, prefix: String = "") -> [String] {
        var unknown: [String] = []
        for (key, value) in object {
            guard let child = shape.children[key] else { continue }
            let path = prefix.isEmpty ? key : prefix + "." + key
            if let o = value as? [String: Any] {
                unknown += o.keys.filter { !child.keys.contains($0) }.map { path + "." + $0 }
                unknown += unknownNested(o, child, prefix: path)
            } else if let a = value as? [Any] {
                for (i, element) in a.enumerated() {
                    guard let o = element as? [String: Any] else { continue }
                    let p = "\(path)[\(i)]"
                    unknown += o.keys.filter { !child.keys.contains($0) }.map { p + "." + $0 }
                    unknown += unknownNested(o, child, prefix: p)
                }
            }
        }
        return unknown.sorted()
    }
}
