import FoundationEssentials
import Glibc
import PodvisorLinux

/// `<root>/pods/<name>/`: pod.json, events.jsonl, control.sock and logs/<instance>.log.
/// The pod's directory is created atomically, so two pods of one name cannot both start.
public struct PodStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root + "/pods" }

    public func directory(_ name: String) -> String { root + "/" + name }
    public func recordPath(_ name: String) -> String { directory(name) + "/pod.json" }
    public func eventsPath(_ name: String) -> String { directory(name) + "/events.jsonl" }
    public func controlPath(_ name: String) -> String { directory(name) + "/control.sock" }
    public func logsDirectory(_ name: String) -> String { directory(name) + "/logs" }
    public func logPath(_ name: String, instance: String) -> String { logsDirectory(name) + "/" + instance + ".log" }

    /// Claims the name for a new pod. A stopped or lost pod of that name must be removed first.
    func claim(_ name: String) throws(PodError) {
        _ = try? FileIO.makeDirectories(root, mode: 0o711)
        if mkdir(directory(name), 0o711) != 0 {
            guard errno == EEXIST else { throw PodError("mkdir \(directory(name)): \(String(cString: strerror(errno)))") }
            let state = (try? load(name)).map { liveState(of: $0) }
            throw PodError("pod \"\(name)\" already exists (\(state?.rawValue ?? "unknown")): stop it, or remove it with `podvisor pod rm \(name)`")
        }
        mkdir(logsDirectory(name), 0o755)
    }

    func save(_ record: PodRecord) {
        try? FileIO.writeAtomically(recordPath(record.name), JSONLine.encode(record), mode: 0o644)
    }

    public func load(_ name: String) throws(PodError) -> PodRecord {
        guard let text = try? FileIO.read(recordPath(name)) else { throw PodError("no pod named \"\(name)\"") }
        guard let record = JSONLine.decode(PodRecord.self, text) else { throw PodError("\(recordPath(name)): unreadable pod record") }
        return record
    }

    /// The record's state, corrected when its supervisor is gone without having said so.
    public func liveState(of record: PodRecord) -> PodState {
        switch record.state {
        case .stopped, .failed: return record.state
        default:
            return ProcessInfo.isRunning(record.supervisorPID, startTime: record.supervisorStartTime) ? record.state : .lost
        }
    }

    public func names() -> [String] {
        ((try? FileIO.list(root)) ?? []).filter { FileIO.exists(recordPath($0)) }.sorted()
    }

    /// Removes the pod's directory: record, events, logs, socket.
    public func remove(_ name: String) {
        let logs = logsDirectory(name)
        for entry in (try? FileIO.list(logs)) ?? [] { unlink(logs + "/" + entry) }
        rmdir(logs)
        let dir = directory(name)
        for entry in (try? FileIO.list(dir)) ?? [] { unlink(dir + "/" + entry) }
        rmdir(dir)
    }

    /// events.jsonl, opened once for the supervisor's lifetime (it writes a few lines per instance start).
    func openEventLog(_ name: String) -> Int32 {
        open(eventsPath(name), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    }

    /// After a supervisor died: its pod's processes died with it (the sandbox's pid 1 has a death signal),
    /// but the pod's cgroups remain. Removes them and records the pod as failed.
    public func cleanUpLost(_ record: PodRecord) throws(PodError) {
        if let sandbox = record.sandboxPID, ProcessInfo.isRunning(sandbox, startTime: nil), let process = try? PidFD.open(sandbox) {
            _ = try? process.signal(SIGKILL)
            process.close()
        }
        if let cgroup = record.cgroup {
            do { try Cgroup.open(location: CgroupLocation(v2: cgroup.v2, v1: cgroup.v1, prunable: cgroup.prunable)).delete() } catch {
                throw PodError("cleaning up pod \(record.name): \(error)")
            }
        }
        var cleaned = record
        cleaned.state = .failed
        cleaned.failure = cleaned.failure ?? "its supervisor (pid \(record.supervisorPID)) died; the pod was cleaned up"
        save(cleaned)
    }
}
