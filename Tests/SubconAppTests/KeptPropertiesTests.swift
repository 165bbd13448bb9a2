import Fluent
import Foundation
import Testing
@testable import SubconApp

/// Models' fields read from the places found once per type (`KeptProperties`) are the fields
/// Fluent's reflection finds, object for object and in its order, for every model — fresh, and
/// decoded from a row — and Fluent's own queries read them that way.
@Suite struct KeptPropertiesTests {
    @Test func everyModelsKeptFieldsAreTheMirrorsFields() throws {
        for type in modelsWithKeptProperties {
            for _ in 0..<2 {
                let model = type.init()
                #expect(PropertyPlaces.offsets(of: model) != nil, "the fields of \(type) are found")
                let kept = model.properties.map { $0 as AnyObject }
                let reflected = PropertyPlaces.reflected(model).map { $0 as AnyObject }
                #expect(!kept.isEmpty && kept.count == reflected.count, "\(type)")
                #expect(zip(kept, reflected).allSatisfy { $0 === $1 }, "\(type): the same field objects in the same order")
            }
        }
    }

    @Test func fluentReadsAndWritesThroughTheKeptFields() async throws {
        try await TestApp.run { t in
            let now = t.clock.now()
            try await t.app.write(as: .system) { change in
                for code in ["KP-1", "KP-2", "KP-3"] { try await WriteConnectionTests.item(code, now: now).create(on: change.db) }
            }
            let before = PropertyPlaces.keptReads.withLockedValue { $0 }
            let items = try await Item.query(on: t.db).filter(\.$code =~ "KP-").sort(\.$code).all()
            try #require(items.count == 3)
            #expect(PropertyPlaces.keptReads.withLockedValue { $0 } > before, "Fluent asked the kept fields")
            for item in items {
                let kept = item.properties.map { $0 as AnyObject }
                #expect(zip(kept, PropertyPlaces.reflected(item).map { $0 as AnyObject }).allSatisfy { $0 === $1 })
                #expect(!item.code.isEmpty && item.id != nil)
            }
            // A change of a decoded model writes what was changed and nothing else.
            let item = items[0]
            let name = item.name
            item.specification = "kept fields"
            try await t.app.write(as: .system) { change in try await item.update(on: change.db) }
            let stored = try #require(try await Item.find(item.id, on: t.db))
            #expect(stored.specification == "kept fields" && stored.name == name && stored.code == item.code)
        }
    }
}
