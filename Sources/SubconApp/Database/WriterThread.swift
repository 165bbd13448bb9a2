import Foundation

/// The thread a change runs on while it holds the write gate (SQLite): a task executor of its own.
///
/// Changes are serial, so the rate of the write path is one over the time a change holds the
/// gate. On the event loops that time was stretched by the queue: the next member of a commit
/// group, resumed when the one before passed it the turn, waited behind every request the loop
/// had queued (about 200 µs a change at 64 connections, against 500 µs of work), and so did a
/// change each time one of its own awaits resumed. The gate then held nobody, while two thirds
/// of the cores were busy elsewhere. Here the holder's jobs, and the next holder's, are the only
/// jobs this thread runs, so a hand-over is the next job in line. The work before the gate (the
/// request, its reads and checks) and after the commit stays on the event loops.
final class WriterThread: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var thread: pthread_t?
    private var ended = false

    private let name: String

    init(name: String) {
        self.name = name
        Thread { [self] in run() }.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // A change that comes after the thread has ended (a background pass still finishing
        // while the application shuts down) would wait for ever: a thread runs it, and ends
        // again once idle.
        let restart = ended
        ended = false
        condition.signal()
        condition.unlock()
        if restart { Thread { [self] in run() }.start() }
    }

    /// Whether the caller runs on this thread.
    var isCurrent: Bool {
        condition.lock(); defer { condition.unlock() }
        return thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
    }

    /// Whether the thread has ended (after `stop`).
    var hasEnded: Bool {
        condition.lock(); defer { condition.unlock() }
        return ended
    }

    /// Ends the thread once it has no job left (the application's shutdown).
    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var batch: [UnownedJob] = []
        // Named from inside: Linux names only the calling thread (seen in `top -H` and `perf`).
        Thread.current.name = String(name.prefix(15))
        condition.lock()
        thread = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty { ended = true; condition.unlock(); return }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
