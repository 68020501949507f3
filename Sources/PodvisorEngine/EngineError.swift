import PodvisorLinux
import PodvisorSpawn
import PodvisorSpec

/// Why a lifecycle operation failed. Every case reads as one line a user can act on.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case spec(SpecError)
    case cgroup(CgroupError)
    case spawn(SpawnError)
    case system(SystemError)
    case containerExists(String)
    case containerNotFound(String)
    case wrongStatus(id: String, status: ContainerStatus, operation: String)
    case invalidSignal(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .spec(let error): return error.description
        case .cgroup(let error): return error.description
        case .spawn(let error): return error.description
        case .system(let error): return error.description
        case .containerExists(let id): return "container \"\(id)\" already exists"
        case .containerNotFound(let id): return "container \"\(id)\" does not exist"
        case .wrongStatus(let id, let status, let operation):
            return "cannot \(operation) container \"\(id)\": it is \(status.rawValue)"
        case .invalidSignal(let text): return "unknown signal \"\(text)\""
        case .invalidArgument(let message): return message
        }
    }
}
