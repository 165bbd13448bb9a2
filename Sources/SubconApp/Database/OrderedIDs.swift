import Foundation

/// Ids for the many rows one write adds to a large table — a statement's lines and claims — in
/// the order they are written: the time in milliseconds, then the row's place in the batch, then
/// random bits (the layout of a version 7 UUID with its counter). Random (version 4) ids put each
/// row on a page of the id index of its own: a busy supplier's statement dirtied thousands of
/// pages that the commit then wrote out; ids in order fill the index's last pages. Unique as long
/// as two batches made in the same millisecond do not draw the same 62 random bits.
enum OrderedIDs {
    static func make(_ count: Int, at now: Date) -> [UUID] {
        let base = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { i in
            // 18 bits of counter per millisecond; a batch longer than that moves on to the next one.
            let ms = base &+ UInt64(i >> 18), n = i & 0x3FFFF
            let random = rng.next() as UInt64
            func byte(_ v: UInt64, _ shift: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: v >> shift) }
            return UUID(uuid: (byte(ms, 40), byte(ms, 32), byte(ms, 24), byte(ms, 16), byte(ms, 8), byte(ms, 0),
                               0x70 | UInt8(n >> 14), UInt8(truncatingIfNeeded: n >> 6), 0x80 | UInt8(n & 0x3F),
                               byte(random, 0), byte(random, 8), byte(random, 16), byte(random, 24), byte(random, 32),
                               byte(random, 40), byte(random, 48)))
        }
    }
}
