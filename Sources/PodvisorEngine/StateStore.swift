import FoundationEssentials
import Glibc
import PodvisorLinux
import PodvisorSpec

/// What the runtime remembers of a container between invocations (`<root>/<id>/state.json`).
/// The pid with its start time names the init process without being fooled by pid reuse.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    public var pid: Int32
    public var startTime: UInt64?
    public var bundle: String
    public var rootfs: String
    public var created: String
    public var owner: String
    public var annotations: [String: String]?
    public var cgroup: CgroupLocation?
}

/// The runtime's state directory: one directory per container, created atomically (mkdir), so two
/// `create` calls with one id cannot both succeed.
public struct StateStore: Sendable {
    public static let defaultRoot = "/run/podvisor"
    public let root: String

    public init(root: String = StateStore.defaultRoot) { self.root = root }

    public func directory(_ id: String) -> String { root + "/" + id }
    func recordPath(_ id: String) -> String { directory(id) + "/state.json" }
    func fifoPath(_ id: String) -> String { directory(id) + "/exec.fifo" }

    /// Claims the id; fails if a container of that id exists.
    func claim(_ id: String) throws(EngineError) {
        do { try FileIO.makeDirectories(root, mode: 0o711) } catch { throw .system(error) }
        if mkdir(directory(id), 0o711) != 0 {
            if errno == EEXIST { throw .containerExists(id) }
            throw .system(SystemError("mkdir", directory(id)))
        }
    }

    func save(_ record: ContainerRecord) throws(EngineError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text: String
        do { text = String(decoding: try encoder.encode(record), as: UTF8.self) } catch {
            throw .invalidArgument("cannot encode the state of \(record.id): \(error)")
        }
        do { try FileIO.writeAtomically(recordPath(record.id), text, mode: 0o600) } catch { throw .system(error) }
    }

    public func load(_ id: String) throws(EngineError) -> ContainerRecord {
        do { try ContainerID.validate(id) } catch { throw .spec(error) }
        let text: String
        do { text = try FileIO.read(recordPath(id)) } catch {
            if error.errno == ENOENT { throw .containerNotFound(id) }
            throw .system(error)
        }
        do { return try JSONDecoder().decode(ContainerRecord.self, from: Data(text.utf8)) } catch {
            throw .invalidArgument("\(recordPath(id)): unreadable container state: \(error)")
        }
    }

    /// Removes the container's directory and everything in it (state.json, exec.fifo).
    func remove(_ id: String) {
        let dir = directory(id)
        for name in (try? FileIO.list(dir)) ?? [] { unlink(dir + "/" + name) }
        rmdir(dir)
    }

    public func ids() -> [String] {
        ((try? FileIO.list(root)) ?? []).filter { FileIO.exists(recordPath($0)) }.sorted()
    }
}
