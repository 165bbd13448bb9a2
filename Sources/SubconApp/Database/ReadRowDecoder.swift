import Foundation
import SQLKit

/// A row whose columns are found once per result and read by position: the read connections'
/// rows on SQLite (`ReadRow`) and the prepared reads' rows on PostgreSQL (`PreparedRow`).
protocol PositionalRow: SQLRow {
    var columns: ReadColumns { get }
    func isNull(at i: Int) -> Bool
    func decode<D: Decodable>(at i: Int, as type: D.Type) throws -> D
}

/// Decodes a `PositionalRow` into a `Decodable` by column name, as SQLKit's `SQLRowDecoder` does
/// with its default keys. That decoder builds the column's name anew (an interpolated string) and
/// finds it two or three times for every property, behind generic boxes: on the lists it was a
/// sixth of a request on SQLite and a third on PostgreSQL. This one finds each column once and
/// decodes its value with the row's own fast paths. Other rows (the driver's, a transaction's)
/// keep SQLKit's decoder.
struct ReadRowDecoder<Row: PositionalRow>: Decoder {
    let row: Row
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        // Like SQLKit's: a row is one level of columns.
        guard codingPath.isEmpty else { throw Self.nested(codingPath) }
        return KeyedDecodingContainer(Columns(row: row))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Self.nested(codingPath) }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Column(decoder: self) }

    static func nested(_ path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(.init(codingPath: path, debugDescription: "A row's columns hold no nested containers."))
    }

    private struct Columns<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let row: Row
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { row.columns.names.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { row.columns.position(key.stringValue) != nil }

        func decodeNil(forKey key: Key) throws -> Bool {
            guard let i = row.columns.position(key.stringValue) else { return true }
            return row.isNull(at: i)
        }

        func decode<T: Decodable>(_: T.Type, forKey key: Key) throws -> T {
            guard let i = row.columns.position(key.stringValue) else { throw Self.missing(key) }
            return try row.decode(at: i, as: T.self)
        }

        /// One look-up where the default implementation makes three (contains, nil, decode).
        func decodeIfPresent<T: Decodable>(_: T.Type, forKey key: Key) throws -> T? {
            guard let i = row.columns.position(key.stringValue), !row.isNull(at: i) else { return nil }
            return try row.decode(at: i, as: T.self)
        }

        func superDecoder(forKey key: Key) throws -> any Decoder { ReadRowDecoder(row: row, codingPath: [key]) }
        func superDecoder() throws -> any Decoder { throw ReadRowDecoder.nested([]) }
        func nestedContainer<N: CodingKey>(keyedBy: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> { throw ReadRowDecoder.nested([key]) }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw ReadRowDecoder.nested([key]) }

        static func missing(_ key: Key) -> DecodingError {
            .keyNotFound(key, .init(codingPath: [], debugDescription: "No value associated with key \"\(key.stringValue)\"."))
        }
    }

    /// The value of the column a `superDecoder(forKey:)` names, or, at the top, the row itself
    /// decoded as a whole (as SQLKit's decoder does).
    private struct Column: SingleValueDecodingContainer {
        let decoder: ReadRowDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool {
            guard let key = codingPath.last, let i = decoder.row.columns.position(key.stringValue) else { return false }
            return decoder.row.isNull(at: i)
        }

        func decode<T: Decodable>(_: T.Type) throws -> T {
            guard let key = codingPath.last else { return try T(from: decoder) }
            guard let i = decoder.row.columns.position(key.stringValue) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: [], debugDescription: "No value associated with key \"\(key.stringValue)\"."))
            }
            return try decoder.row.decode(at: i, as: T.self)
        }
    }
}

/// A row type the busiest lists read column by column in a fixed order, its columns found by
/// name once per result instead of once per value. Through `Decodable`, 50 rows of 13 to 19
/// columns cost a generic container's calls and a search by name for every value.
/// `init(from:)` stays (synthesized): rows that do not read by position use it, and
/// `DirectRowTests` checks that both give the same rows.
protocol ReadByPosition: Decodable {
    /// The columns `init(_:)` reads, in the order it reads them.
    static var columnNames: [String] { get }
    init(_ r: inout ColumnReader) throws
}

/// The next column of a row, in the order of a `ReadByPosition` type's `columnNames`.
struct ColumnReader {
    let row: any PositionalRow
    let positions: [Int]
    private var next = 0

    init(row: any PositionalRow, positions: [Int]) {
        self.row = row
        self.positions = positions
    }

    mutating func value<T: Decodable>() throws -> T {
        defer { next += 1 }
        return try row.decode(at: positions[next], as: T.self)
    }

    mutating func optional<T: Decodable>() throws -> T? {
        defer { next += 1 }
        let i = positions[next]
        return row.isNull(at: i) ? nil : try row.decode(at: i, as: T.self)
    }
}

enum RowDecoding {
    /// Set in a test to decode every row by name, as before `ReadByPosition`.
    @TaskLocal static var byName = false

    static func rows<D: Decodable>(_ rows: [any SQLRow], as type: D.Type) throws -> [D] {
        if !byName, let first = rows.first as? any PositionalRow, let direct = D.self as? any ReadByPosition.Type {
            let positions = try direct.columnNames.map { name in
                guard let i = first.columns.position(name) else {
                    throw DecodingError.keyNotFound(ReadColumnKey(name), .init(codingPath: [], debugDescription: "No column \(name)"))
                }
                return i
            }
            func read<R: ReadByPosition>(_: R.Type) throws -> [D] {
                let read = try rows.map { row in
                    var reader = ColumnReader(row: row as! any PositionalRow, positions: positions)
                    return try R(&reader)
                }
                return unsafeBitCast(read, to: [D].self)  // R is D
            }
            return try read(direct)
        }
        return try rows.map { try $0.decoded(as: D.self) }
    }
}

extension SQLQueryFetcher {
    /// `all(decoding:)`, with rows of the read connections and of PostgreSQL's prepared reads
    /// decoded by `ReadRowDecoder`, or by position where the type reads so.
    func rows<D: Decodable>(decoding type: D.Type) async throws -> [D] {
        try RowDecoding.rows(try await all(), as: D.self)
    }

    /// `first(decoding:)`, the same way.
    func firstRow<D: Decodable>(decoding type: D.Type) async throws -> D? {
        try await first()?.decoded(as: D.self)
    }
}

extension SQLRow {
    /// The row as a `D`, by `ReadRowDecoder` where the row reads by position, else by SQLKit's.
    func decoded<D: Decodable>(as type: D.Type) throws -> D {
        if let read = self as? ReadRow { return try D(from: ReadRowDecoder(row: read)) }
        if let prepared = self as? PreparedRow { return try D(from: ReadRowDecoder(row: prepared)) }
        return try decode(model: D.self, with: SQLRowDecoder())
    }
}
