import Glibc

/// How the host mounts cgroups.
/// - unified: cgroup v2 only (every current distribution).
/// - hybrid: v1 controllers plus a cgroup2 mount (the project's machines: v2 at /sys/fs/cgroup/unified with
///   only hugetlb, but with PSI, cgroup.kill, cgroup.freeze and cpu.stat).
/// - legacy: v1 only.
public enum CgroupMode: String, Sendable, Codable {
    case unified, hybrid, legacy
}

/// The cgroup layout of this host and where this process sits in it. Detect it once per process.
public struct CgroupHost: Sendable, Equatable {
    public let mode: CgroupMode
    /// The cgroup2 mount point: "/sys/fs/cgroup" (unified) or "/sys/fs/cgroup/unified" (hybrid).
    public let unifiedMount: String?
    /// v1 controller -> mount point. Co-mounted controllers ("cpu,cpuacct") map to the same mount point.
    public let v1Mounts: [String: String]
    /// Our cgroup in the v2 tree, from the "0::" line of /proc/self/cgroup.
    public let ownV2Path: String?
    /// v1 controller -> our cgroup path in that hierarchy.
    public let ownV1Paths: [String: String]
    /// Controllers our own v2 cgroup offers to its children (its cgroup.controllers).
    public let v2Controllers: Set<String>
    /// v1 controllers in which an absolute cgroupsPath must stay below our own cgroup: every hierarchy in
    /// which someone else put us somewhere other than the root (here: memory, /process_api/<id>).
    public let confinedV1Controllers: Set<String>
    /// The root field of each mount (not "/" when a bind mount or a foreign cgroup namespace shows a subtree).
    let v1MountRoots: [String: String]
    let unifiedMountRoot: String

    /// The v1 controllers podvisor knows how to use.
    public static let knownV1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices", "hugetlb",
        "net_cls", "net_prio", "perf_event", "rdma", "misc",
    ]

    /// Reads /proc/self/mountinfo, /proc/self/cgroup and our own v2 cgroup's cgroup.controllers.
    public static func detect() throws(SystemError) -> CgroupHost {
        let mountinfo = try FileIO.read("/proc/self/mountinfo")
        let cgroup = try FileIO.read("/proc/self/cgroup")
        var host = parse(mountinfo: mountinfo, procCgroup: cgroup)
        if let dir = host.ownV2Directory,
           let text = try? FileIO.read(dir + "/cgroup.controllers") {
            host = host.with(v2Controllers: Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)))
        }
        return host
    }

    /// Builds a host description from the texts of /proc/self/mountinfo and /proc/self/cgroup (pure; for tests).
    public static func parse(mountinfo: String, procCgroup: String, v2Controllers: Set<String> = []) -> CgroupHost {
        var unifiedMount: String?
        var unifiedRoot = "/"
        var v1Mounts: [String: String] = [:]
        var v1Roots: [String: String] = [:]
        for line in mountinfo.split(separator: "\n") {
            guard let entry = MountInfoEntry(line) else { continue }
            if entry.fsType == "cgroup2" {
                // The first cgroup2 mount wins (later ones are usually bind mounts into containers).
                if unifiedMount == nil {
                    unifiedMount = entry.mountPoint
                    unifiedRoot = entry.root
                }
            } else if entry.fsType == "cgroup" {
                for option in entry.superOptions.split(separator: ",") {
                    let name = String(option)
                    guard knownV1Controllers.contains(name), v1Mounts[name] == nil else { continue }
                    v1Mounts[name] = entry.mountPoint
                    v1Roots[name] = entry.root
                }
            }
        }
        var ownV2: String?
        var ownV1: [String: String] = [:]
        for line in procCgroup.split(separator: "\n") {
            // "hierarchy-ID:controller-list:cgroup-path"; the path may itself contain ':'.
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                ownV2 = path
            } else {
                for controller in parts[1].split(separator: ",") where knownV1Controllers.contains(String(controller)) {
                    ownV1[String(controller)] = path
                }
            }
        }
        let mode: CgroupMode = v1Mounts.isEmpty ? .unified : (unifiedMount == nil ? .legacy : .hybrid)
        if unifiedMount == nil { ownV2 = nil }
        ownV1 = ownV1.filter { v1Mounts[$0.key] != nil }
        let confined = Set(ownV1.filter { $0.value != "/" }.map(\.key))
        return CgroupHost(
            mode: mode, unifiedMount: unifiedMount, v1Mounts: v1Mounts, ownV2Path: ownV2, ownV1Paths: ownV1,
            v2Controllers: v2Controllers, confinedV1Controllers: confined, v1MountRoots: v1Roots,
            unifiedMountRoot: unifiedRoot)
    }

    func with(v2Controllers: Set<String>) -> CgroupHost {
        CgroupHost(
            mode: mode, unifiedMount: unifiedMount, v1Mounts: v1Mounts, ownV2Path: ownV2Path, ownV1Paths: ownV1Paths,
            v2Controllers: v2Controllers, confinedV1Controllers: confinedV1Controllers, v1MountRoots: v1MountRoots,
            unifiedMountRoot: unifiedMountRoot)
    }

    /// The directory of our own v2 cgroup.
    public var ownV2Directory: String? {
        guard let mount = unifiedMount, let own = ownV2Path else { return nil }
        return CgroupPath.directory(mount: mount, mountRoot: unifiedMountRoot, path: own)
    }

    /// The directory of our own cgroup in the hierarchy of a v1 controller.
    public func ownV1Directory(_ controller: String) -> String? {
        guard let mount = v1Mounts[controller] else { return nil }
        return CgroupPath.directory(mount: mount, mountRoot: v1MountRoots[controller] ?? "/",
                                    path: ownV1Paths[controller] ?? "/")
    }

    /// Where a limit for `controller` (v1 name: cpu, cpuacct, cpuset, memory, pids, blkio, freezer...) lives:
    /// in a v1 hierarchy when one has it mounted, else in v2.
    public func usesV1(_ controller: String) -> Bool { v1Mounts[controller] != nil }

    /// The directories a container's cgroup would have.
    ///
    /// - A relative `cgroupsPath` lands below our own cgroup in each hierarchy, as runc does.
    /// - An absolute one is taken from the hierarchy's root, except in the hierarchies listed in
    ///   `confinedV1Controllers` (those where someone placed us below the root, on this host the memory
    ///   hierarchy at /process_api/<id>, and the cpu hierarchy under podman's conmon at /libpod_parent/conmon):
    ///   there an absolute path in our own top-level subtree is honoured (podman's /libpod_parent/libpod-ID beside
    ///   conmon), and one that would leave it is nested below our own cgroup, as a cgroup namespace would show it,
    ///   rather than written into cgroups that belong to the machine.
    /// - `nil` means "podvisor/<name>", relative.
    ///
    /// The location lists a directory for every mounted v1 controller podvisor uses; `Cgroup.create` narrows it to
    /// the ones it actually made.
    public func location(for cgroupsPath: String?, name: String) throws(CgroupError) -> CgroupLocation {
        let requested = cgroupsPath ?? "podvisor/\(name)"
        let components = requested.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if components.isEmpty { throw .invalidPath(requested, reason: "it names no cgroup") }
        for component in components {
            if component == "." || component == ".." {
                throw .invalidPath(requested, reason: "\"\(component)\" is not allowed")
            }
            if component.utf8.contains(0) { throw .invalidPath(requested, reason: "contains NUL") }
        }
        // systemd-style "slice:prefix:name" paths need the systemd driver, which this host lacks.
        if cgroupsPath != nil, !requested.hasPrefix("/"), requested.split(separator: ":").count == 3,
           !requested.contains("/") {
            throw .unsupported("systemd cgroupsPath \"\(requested)\" (no systemd cgroup driver; give a path)")
        }
        let absolute = requested.hasPrefix("/")
        let tail = "/" + components.joined(separator: "/")

        var location = CgroupLocation(v2: nil, v1: [:])
        if let mount = unifiedMount {
            let own = ownV2Path ?? "/"
            let path = absolute ? tail : CgroupPath.join(own, tail)
            location.v2 = CgroupPath.directory(mount: mount, mountRoot: unifiedMountRoot, path: path)
            if let ownDir = ownV2Directory {
                location.prunable += CgroupPath.intermediates(from: ownDir, to: location.v2!)
            }
        }
        for controller in CgroupHost.usedV1Controllers where v1Mounts[controller] != nil {
            let mount = v1Mounts[controller]!
            let own = ownV1Paths[controller] ?? "/"
            var path = absolute ? tail : CgroupPath.join(own, tail)
            if absolute && confinedV1Controllers.contains(controller) && !CgroupPath.isBelow(path, own)
                && CgroupPath.topLevel(path) != CgroupPath.topLevel(own) {
                // The path would leave the subtree we were placed in (on this host: the machine's
                // process_api memory cgroup): nest it below our own cgroup, as a cgroup namespace
                // would show it. A sibling in our own top-level subtree (podman's /libpod_parent)
                // is honoured as runc does.
                path = CgroupPath.join(own, tail)
            }
            let dir = CgroupPath.directory(mount: mount, mountRoot: v1MountRoots[controller] ?? "/", path: path)
            location.v1[controller] = dir
            if let ownDir = ownV1Directory(controller) {
                location.prunable += CgroupPath.intermediates(from: ownDir, to: dir)
            }
        }
        location.prunable = CgroupPath.unique(location.prunable)
        return location
    }

    /// v1 controllers a container may get a directory in.
    static let usedV1Controllers = ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer"]
}

/// Where a container's cgroup is: absolute directory paths, persisted in the container's state.json.
public struct CgroupLocation: Sendable, Codable, Equatable {
    /// The v2 directory (nil on legacy hosts).
    public var v2: String?
    /// v1 controller -> directory. Co-mounted controllers share a directory.
    public var v1: [String: String]
    /// Directories between our own cgroup and the container's (e.g. ".../podvisor"), innermost last.
    /// `delete` removes those that are empty after the container's own; a missing or busy one is fine.
    public var prunable: [String]

    public init(v2: String?, v1: [String: String], prunable: [String] = []) {
        self.v2 = v2
        self.v1 = v1
        self.prunable = prunable
    }

    enum CodingKeys: String, CodingKey { case v2, v1, prunable }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        v2 = try container.decodeIfPresent(String.self, forKey: .v2)
        v1 = try container.decodeIfPresent([String: String].self, forKey: .v1) ?? [:]
        prunable = try container.decodeIfPresent([String].self, forKey: .prunable) ?? []
    }

    /// Every distinct directory of the location (co-mounted v1 controllers counted once), v2 first.
    public var directories: [String] {
        var all: [String] = []
        if let v2 { all.append(v2) }
        for key in v1.keys.sorted() { all.append(v1[key]!) }
        return CgroupPath.unique(all)
    }

    /// The same location one level down.
    public func child(_ name: String) -> CgroupLocation {
        CgroupLocation(v2: v2.map { $0 + "/" + name }, v1: v1.mapValues { $0 + "/" + name }, prunable: [])
    }
}

/// One line of /proc/self/mountinfo.
struct MountInfoEntry {
    var root: String
    var mountPoint: String
    var fsType: String
    var superOptions: String

    init?(_ line: Substring) {
        // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count >= dash + 3 else { return nil }
        root = MountInfoEntry.unescape(fields[3])
        mountPoint = MountInfoEntry.unescape(fields[4])
        fsType = String(fields[dash + 1])
        superOptions = String(fields[dash + 3 < fields.count ? dash + 3 : dash + 2])
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ text: Substring) -> String {
        guard text.contains("\\") else { return String(text) }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count {
                let digits = utf8[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                    bytes.append(UInt8(truncatingIfNeeded: value))
                    i += 4
                    continue
                }
            }
            bytes.append(utf8[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Path arithmetic on cgroup paths (always absolute, "/"-separated, no "..").
enum CgroupPath {
    static func join(_ base: String, _ tail: String) -> String {
        let b = base.hasSuffix("/") ? String(base.dropLast()) : base
        let t = tail.hasPrefix("/") ? String(tail.dropFirst()) : tail
        if t.isEmpty { return b.isEmpty ? "/" : b }
        return b + "/" + t
    }

    /// mount point + the part of `path` below the mount's root.
    static func directory(mount: String, mountRoot: String, path: String) -> String {
        var relative = path
        if mountRoot != "/" && isBelow(path, mountRoot) {
            relative = String(path.dropFirst(mountRoot.count))
        }
        return join(mount, relative)
    }

    /// `path` equals `base` or lies below it.
    /// "/a/b/c" -> "a": the subtree a path belongs to at the hierarchy's root.
    static func topLevel(_ path: String) -> Substring? {
        path.split(separator: "/").first
    }

    static func isBelow(_ path: String, _ base: String) -> Bool {
        if base == "/" { return true }
        return path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }

    /// Directories strictly between `ancestor` and `descendant`, outermost first.
    static func intermediates(from ancestor: String, to descendant: String) -> [String] {
        guard descendant != ancestor, isBelow(descendant, ancestor) else { return [] }
        var result: [String] = []
        var current = parent(descendant)
        while current != ancestor && current.count > ancestor.count {
            result.insert(current, at: 0)
            current = parent(current)
        }
        return result
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "/" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func unique(_ paths: [String]) -> [String] {
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }
}
