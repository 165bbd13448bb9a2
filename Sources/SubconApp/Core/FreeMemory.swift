import CMallocTuning
import NIOCore
import Vapor

/// Gives the memory malloc holds free back to the system every two seconds. glibc keeps freed
/// memory in its heaps for later, and a heavy read's buffers, the answers on their way out and
/// the clients' connections are freed at different moments: on the large data set, after eight
/// seconds of deep stock pages and sixteen of write-offs the server held 429 MB, of which one
/// `malloc_trim` returned 303. A trim when the heavy-read gate emptied (and a second after)
/// returned next to nothing, since most of it was freed later. A trim with nothing to return
/// costs microseconds; it runs in a task of its own, off the event loops. Every ten seconds was
/// too seldom under a burst of every supplier's write-off (17,000 rows, about 50 MB freed by
/// each): the server peaked at 280–297 MB before a trim came round, 229 MB with a trim every two.
struct FreeMemory: LifecycleHandler {
    let interval: TimeAmount
    private let task = TaskBox()

    func didBootAsync(_ app: Application) async throws {
        let nanoseconds = UInt64(interval.nanoseconds)
        task.set(Task.detached(priority: .utility) {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: nanoseconds)
                FreeMemory.returnNow()
            }
        })
    }

    /// Whether any memory went back (always false where malloc is not glibc's).
    @discardableResult
    static func returnNow() -> Bool { subcon_return_free_memory() == 1 }

    func shutdownAsync(_ app: Application) async {
        await task.stop()
    }
}
