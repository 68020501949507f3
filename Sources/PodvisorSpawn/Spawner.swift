import CLinux
import CSpawn
import Glibc
import PodvisorLinux

/// A spawn that did not reach its payload. `childStep` errors carry the step the child was at,
/// as in `pivot_root(/run/x/rootfs): Invalid argument`.
public enum SpawnError: Error, Sendable, CustomStringConvertible {
    case system(SystemError)
    case childStep(step: String, errno: Int32)
    case childExited(ProcessExit)
    case setup(String)

    public var description: String {
        switch self {
        case .system(let error): return error.description
        case .childStep(let step, let errno): return "\(step): \(String(cString: strerror(errno)))"
        case .childExited(let status): return "the container process \(status) before it was set up"
        case .setup(let message): return message
        }
    }
}

/// The payload process, running (or waiting on its exec fifo). It is always our child, even when the
/// child forked once more to enter a pid namespace (CLONE_PARENT), so `process.wait()` works.
public struct SpawnedProcess: Sendable {
    /// The payload: the process that executes (or will execute) argv.
    public let process: PidFD
}

public enum Spawner {
    /// Clones a child that carries out `plan`.
    ///
    /// `place` runs after clone and before the child is released: it puts the pid into cgroups
    /// (`placedByClone` tells whether CLONE_INTO_CGROUP already did so for v2). When the plan has
    /// an exec fifo, this returns once the child is set up and waiting; otherwise once it has exec'd.
    /// On failure the child is killed and reaped, and the error names the child's failing step.
    public static func spawn(
        _ plan: SpawnPlan,
        place: (_ pid: Int32, _ placedByClone: Bool) throws -> Void = { _, _ in }
    ) throws(SpawnError) -> SpawnedProcess {
        var plan = plan
        let restorePidNamespace = enterPidNamespaceForChildren(&plan)
        defer {
            if restorePidNamespace >= 0 {
                _ = pv_setns(restorePidNamespace, 0x2000_0000)  // CLONE_NEWPID
                close(restorePidNamespace)
            }
        }
        let sync = try socketPair()
        let report = try pipePair()
        let joinFDs = try openNamespaces(plan.joinNamespaces)
        defer { joinFDs.forEach { _ = close($0) } }

        var pidfd: Int32 = -1
        var placedByClone: Int32 = 0
        let pid: pid_t = withCPlan(plan, syncFD: sync.child, reportFD: report.write, joinFDs: joinFDs) { cPlan in
            pv_spawn(cPlan, &pidfd, &placedByClone)
        }
        let cloneErrno = errno
        close(sync.child)
        close(report.write)
        defer {
            close(sync.parent)
            close(report.read)
        }
        if pid < 0 { throw .system(SystemError("clone3", errno: cloneErrno)) }
        let child = PidFD(pid: pid, fd: pidfd)

        do {
            try writeIDMappings(plan, pid: pid)
            try place(pid, placedByClone != 0)
            try release(sync.parent)
            return try awaitReport(report.read, child: child, plan: plan)
        } catch {
            abandon(child)
            if let spawnError = error as? SpawnError { throw spawnError }
            if let systemError = error as? SystemError { throw .system(systemError) }
            throw .setup(String(describing: error))
        }
    }

    /// A joined pid namespace applies to children only. Rather than having the child clone once more into it,
    /// this thread's next child is sent there directly: setns(CLONE_NEWPID) changes only the calling thread's
    /// pid_ns_for_children (the process's own pid namespace is unchanged), and `spawn` restores it after the
    /// clone. Not with a user namespace to join first (its rights are needed to enter) or a new time namespace.
    /// Returns the fd that restores the thread's namespace for children, or -1 when nothing changed.
    private static func enterPidNamespaceForChildren(_ plan: inout SpawnPlan) -> Int32 {
        guard let index = plan.joinNamespaces.firstIndex(where: { $0.kind == .pid }),
              !plan.joinNamespaces.contains(where: { $0.kind == .user }), !plan.newNamespaces.contains(.time) else { return -1 }
        let own = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC)
        let target = open(plan.joinNamespaces[index].path, O_RDONLY | O_CLOEXEC)
        defer { if target >= 0 { close(target) } }
        guard own >= 0, target >= 0, pv_setns(target, 0x2000_0000) == 0 else {
            if own >= 0 { close(own) }
            return -1  // the child joins it itself, as before
        }
        plan.joinNamespaces.remove(at: index)
        return own
    }

    // MARK: - Parent side of the handshake

    private static func writeIDMappings(_ plan: SpawnPlan, pid: Int32) throws(SystemError) {
        guard plan.newNamespaces.contains(.user) else { return }
        func lines(_ mappings: [IDMapping]) -> String {
            mappings.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined()
        }
        if plan.denySetgroups { try FileIO.write("/proc/\(pid)/setgroups", "deny") }
        if !plan.uidMappings.isEmpty { try FileIO.write("/proc/\(pid)/uid_map", lines(plan.uidMappings)) }
        if !plan.gidMappings.isEmpty { try FileIO.write("/proc/\(pid)/gid_map", lines(plan.gidMappings)) }
    }

    private static func release(_ fd: Int32) throws(SystemError) {
        var byte: UInt8 = 1
        if retryingOnEINTR({ send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) }) != 1 { throw SystemError("send", "spawn sync") }
    }

    /// Reads the child's records until it is ready (fifo plans), has exec'd (EOF), or failed.
    private static func awaitReport(_ fd: Int32, child: PidFD, plan: SpawnPlan) throws(SpawnError) -> SpawnedProcess {
        var payload = child
        while true {
            var record = pv_report()
            let size = MemoryLayout<pv_report>.size
            let n = withUnsafeMutableBytes(of: &record) { buffer in
                retryingOnEINTR { read(fd, buffer.baseAddress, size) }
            }
            if n < 0 { throw .system(SystemError("read", "spawn report")) }
            if n == 0 {
                if plan.execFifoFD == nil { return SpawnedProcess(process: payload) }
                // The child vanished without a word: its exit status is all there is.
                let status = (try? payload.wait()) ?? .exited(-1)
                throw .childExited(status)
            }
            if n != size { throw .setup("short spawn report (\(n) bytes)") }
            switch record.kind {
            case PV_REPORT_PID:
                // The intermediate cloned the payload into its namespaces, as our child
                // (CLONE_PARENT), and is leaving: reap it.
                _ = try? child.wait()
                child.close()
                do { payload = try PidFD.open(record.pid) } catch { throw .system(error) }
            case PV_REPORT_READY:
                return SpawnedProcess(process: payload)
            default:
                let step = withUnsafeBytes(of: record.step) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                // The payload is our child even after the extra clone (CLONE_PARENT): reap it too.
                if payload.pid != child.pid { abandon(payload) }
                throw .childStep(step: step, errno: record.err)
            }
        }
    }

    private static func abandon(_ child: PidFD) {
        _ = try? child.signal(SIGKILL)
        _ = try? child.wait()
        child.close()
    }

    // MARK: - Plumbing

    private static func socketPair() throws(SpawnError) -> (parent: Int32, child: Int32) {
        var fds: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) != 0 {
            throw .system(SystemError("socketpair", "spawn sync"))
        }
        return (fds[0], fds[1])
    }

    private static func pipePair() throws(SpawnError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        if pv_pipe2(&fds, O_CLOEXEC) != 0 { throw .system(SystemError("pipe2", "spawn report")) }
        return (fds[0], fds[1])
    }

    private static func openNamespaces(_ joins: [(kind: NamespaceKind, path: String)]) throws(SpawnError) -> [Int32] {
        var fds: [Int32] = []
        // The user namespace first: joining it grants the rights to join the others.
        let ordered = joins.filter { $0.kind == .user } + joins.filter { $0.kind != .user }
        for join in ordered {
            let fd = open(join.path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                let error = SystemError("open", join.path)
                fds.forEach { _ = close($0) }
                throw .system(error)
            }
            fds.append(fd)
        }
        return fds
    }

    /// Flattens the plan into C memory that lives for the duration of `body` (the clone).
    private static func withCPlan<R>(
        _ plan: SpawnPlan, syncFD: Int32, reportFD: Int32, joinFDs: [Int32],
        _ body: (UnsafePointer<pv_spawn_plan>) -> R
    ) -> R {
        let arena = CArena()
        var c = pv_spawn_plan()
        let joinKinds = plan.joinNamespaces.filter { $0.kind == .user } + plan.joinNamespaces.filter { $0.kind != .user }
        let joins = zip(joinFDs, joinKinds).map { pv_namespace_join(fd: $0, nstype: Int32(truncatingIfNeeded: $1.kind.cloneFlag)) }
        // Created by clone: everything but cgroup (unshared after placement, so that its root is the
        // container's cgroup) and, when the child must fork again, pid and time.
        var cloned = plan.newNamespaces.subtracting([.cgroup, .time])
        var unshared: Set<NamespaceKind> = plan.newNamespaces.intersection([.cgroup, .time])
        if plan.needsExtraFork, cloned.contains(.pid) {
            cloned.remove(.pid)
            unshared.insert(.pid)
        }
        c.clone_flags = cloned.reduce(0) { $0 | $1.cloneFlag }
        c.unshare_flags = unshared.reduce(0) { $0 | $1.cloneFlag }
        c.cgroup_fd = plan.cgroupFD ?? -1
        c.joins = arena.array(joins)
        c.join_count = Int32(joins.count)
        c.fork_after_setup_ns = plan.needsExtraFork ? 1 : 0
        c.time_offsets = arena.string(plan.timeOffsets)
        c.become_root_in_userns = (plan.newNamespaces.contains(.user) || plan.joinNamespaces.contains { $0.kind == .user }) ? 1 : 0
        c.die_with_parent = plan.dieWithParent ? 1 : 0
        c.new_session = plan.newSession ? 1 : 0
        c.init_loop = plan.initLoop ? 1 : 0
        c.listen_pid_env_index = Int32(plan.listenPIDEnvironmentIndex ?? -1)
        c.sync_fd = syncFD
        c.report_fd = reportFD
        c.exec_fifo_fd = plan.execFifoFD ?? -1
        c.rootfs = arena.string(plan.rootfs)
        c.rootfs_propagation = plan.rootfsPropagation
        c.readonly_root = plan.readonlyRoot ? 1 : 0
        let mounts = plan.mounts.map { mount in
            pv_mount(source: arena.string(mount.source), destination: arena.string(mount.destination),
                     fstype: arena.string(mount.fstype), data: arena.string(mount.data),
                     flags: mount.flags, propagation: mount.propagation)
        }
        c.mounts = arena.array(mounts)
        c.mount_count = Int32(mounts.count)
        c.create_default_devices = plan.createDefaultDevices ? 1 : 0
        c.bind_default_devices = plan.newNamespaces.contains(.user) ? 1 : 0
        c.masked_paths = arena.strings(plan.maskedPaths)
        c.masked_count = Int32(plan.maskedPaths.count)
        c.readonly_paths = arena.strings(plan.readonlyPaths)
        c.readonly_count = Int32(plan.readonlyPaths.count)
        c.hostname = arena.string(plan.hostname)
        c.domainname = arena.string(plan.domainname)
        c.sysctl_keys = arena.strings(plan.sysctls.map(\.key))
        c.sysctl_values = arena.strings(plan.sysctls.map(\.value))
        c.sysctl_count = Int32(plan.sysctls.count)
        c.rlimits = arena.array(plan.rlimits.map { pv_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) })
        c.rlimit_count = Int32(plan.rlimits.count)
        c.set_oom_score_adj = plan.oomScoreAdj == nil ? 0 : 1
        c.oom_score_adj = plan.oomScoreAdj ?? 0
        c.uid = plan.uid
        c.gid = plan.gid
        c.set_groups = plan.additionalGids == nil ? 0 : 1
        c.groups = arena.array(plan.additionalGids ?? [])
        c.group_count = Int32(plan.additionalGids?.count ?? 0)
        c.umask = plan.umask ?? -1
        c.cwd = arena.string(plan.cwd)
        c.no_new_privs = plan.noNewPrivileges ? 1 : 0
        c.fd_mappings = arena.array(plan.fdMappings.map { pv_fd_mapping(from: $0.from, to: $0.to) })
        c.fd_mapping_count = Int32(plan.fdMappings.count)
        c.keep_fds = plan.keepFDs
        c.argv = arena.strings(plan.argv)
        c.envp = arena.strings(plan.environment)
        if let caps = plan.capabilities {
            c.set_capabilities = 1
            c.cap_bounding = caps.bounding
            c.cap_effective = caps.effective
            c.cap_permitted = caps.permitted
            c.cap_inheritable = caps.inheritable
            c.cap_ambient = caps.ambient
        }
        if let program = plan.seccompProgram, !program.isEmpty {
            c.seccomp_program = UnsafeRawPointer(arena.array(program))
            c.seccomp_length = UInt16(program.count / 8)
            c.seccomp_flags = plan.seccompFlags
        }
        return withExtendedLifetime(arena) { withUnsafePointer(to: &c) { body($0) } }
    }
}
