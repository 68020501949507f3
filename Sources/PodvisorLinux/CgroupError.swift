import Glibc

/// Everything that can go wrong with cgroups. Messages name the file and the value, as in
/// `write /sys/fs/cgroup/pids/x/pids.max "abc": Invalid argument`.
public enum CgroupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed (mkdir, open, read, rmdir...).
    case system(SystemError)
    /// Writing `value` to the interface file `path` failed.
    case write(path: String, value: String, error: SystemError)
    /// A file's contents could not be understood.
    case parse(path: String, detail: String)
    /// /proc/self/mountinfo shows no cgroup hierarchy at all.
    case noHierarchy
    /// A cgroupsPath that is malformed ("..", empty, NUL) or a child name with a "/".
    case invalidPath(String, reason: String)
    /// An absolute cgroupsPath that would leave our own cgroup in a hierarchy that belongs to someone else
    /// (on the project's hybrid hosts: the memory cgroup the machine's management put us in).
    /// The resources need a controller that no hierarchy offers below our own cgroup.
    case controllerUnavailable(controller: String, directory: String)
    /// The request has no meaning on this host's cgroup layout (e.g. memory.high on cgroup v1).
    case unsupported(String)
    /// The resources contradict themselves (e.g. memory+swap below memory).
    case invalidResources(String)
    /// Enabling controllers failed because our own cgroup holds processes other than ours (cgroup v2's
    /// no-internal-process rule), even after moving our own process into a leaf.
    case internalProcesses(directory: String, pids: [Int32])
    /// A wait (frozen, emptied) did not finish in time.
    case timeout(String)

    public var description: String {
        switch self {
        case .system(let error):
            return error.description
        case .write(let path, let value, let error):
            return "write \(path) \"\(value)\": \(error.message)"
        case .parse(let path, let detail):
            return "parse \(path): \(detail)"
        case .noHierarchy:
            return "no cgroup hierarchy is mounted (/proc/self/mountinfo lists neither cgroup2 nor cgroup)"
        case .invalidPath(let path, let reason):
            return "invalid cgroups path \"\(path)\": \(reason)"
        case .controllerUnavailable(let controller, let directory):
            return "cgroup controller \"\(controller)\" is not available in \(directory)/cgroup.controllers"
        case .unsupported(let what):
            return "unsupported on this cgroup layout: \(what)"
        case .invalidResources(let what):
            return "invalid cgroup resources: \(what)"
        case .internalProcesses(let directory, let pids):
            return "cannot enable controllers in \(directory)/cgroup.subtree_control: it holds processes \(pids) "
                + "that are not ours (cgroup v2 allows controllers only in cgroups without processes); "
                + "move them into a leaf cgroup or use a cgroupsPath below a cgroup without processes"
        case .timeout(let what):
            return "timed out: \(what)"
        }
    }
}
