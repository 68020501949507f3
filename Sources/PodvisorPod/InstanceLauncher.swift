import Glibc
import PodvisorLinux
import PodvisorManifest
import PodvisorSpawn
import PodvisorSupervisor

/// Starts pools and their instances.
///
/// A pool's root view (its own mount namespace: a read-only root filesystem, writable /tmp and /run,
/// /proc of the pod, /dev, masked and read-only paths) is built once and held by a small pid 1-style
/// process in the pool's `view` cgroup. Each instance joins that mount namespace and the pod's pid,
/// network, ipc and uts namespaces (services reach each other on 127.0.0.1), gets its own cgroup with the
/// service's per-instance limits and a cgroup namespace, and the pool's listening sockets by socket
/// activation (LISTEN_FDS from fd 3). So pools are isolated from each other, and starting an instance
/// costs no mount at all.
struct InstanceLauncher {
    let manifest: PodManifest
    let bundle: String
    let defaultRootfs: String
    let store: PodStore
    let devNull: Int32
    /// The service's confinement (capabilities, seccomp, no_new_privs); nil runs it unconfined.
    var security: ServiceSecurity?

    static let maskedPaths = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ]
    static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    func rootfs(of service: ServiceSpec) -> String {
        guard let path = service.rootfs ?? manifest.rootfs else { return defaultRootfs }
        return path.hasPrefix("/") ? path : bundle + "/" + path
    }

    /// Builds the pool's root view; the returned process holds its mount namespace until it is killed.
    func launchView(service: ServiceSpec, sandbox: Sandbox, poolCgroup: Cgroup) throws(PodError) -> PidFD {
        do {
            let cgroup = try poolCgroup.createChild("view", resources: CgroupResources())
            var plan = viewPlan(service: service, sandbox: sandbox)
            let cgroupFD = (try? cgroup.directoryFD()) ?? -1
            defer { if cgroupFD >= 0 { close(cgroupFD) } }
            if cgroupFD >= 0 { plan.cgroupFD = cgroupFD }
            return try Spawner.spawn(plan) { pid, placedByClone in try cgroup.addProcess(pid, includingV2: !placedByClone) }.process
        } catch {
            throw PodError("\(service.name): building its root view: \(error)")
        }
    }

    /// Spawns the instance into its pool's root view; the caller owns the returned process and cgroup.
    func launch(_ id: InstanceID, service: ServiceSpec, sockets: [Int32], sandbox: Sandbox, poolCgroup: Cgroup, view: PidFD)
        throws(PodError) -> (PidFD, Cgroup)
    {
        let cgroup: Cgroup
        do {
            // A leftover of a predecessor whose cgroup could not be removed: one stat says whether there is one.
            let previous = poolCgroup.location.child(String(id.slot))
            if previous.directories.contains(where: FileIO.exists) { try? Cgroup.open(location: previous).delete() }
            cgroup = try poolCgroup.createChild(String(id.slot), resources: service.resources.cgroupResources)
        } catch {
            throw PodError("\(id): creating its cgroup: \(error)")
        }
        let log = open(store.logPath(manifest.name, instance: id.description), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        defer { if log >= 0 { close(log) } }
        var plan = self.plan(id, service: service, sockets: sockets, sandbox: sandbox, view: view, log: log >= 0 ? log : devNull)
        let cgroupFD = (try? cgroup.directoryFD()) ?? -1
        defer { if cgroupFD >= 0 { close(cgroupFD) } }
        if cgroupFD >= 0 { plan.cgroupFD = cgroupFD }
        do {
            let spawned = try Spawner.spawn(plan) { pid, placedByClone in
                try cgroup.addProcess(pid, includingV2: !placedByClone)
            }
            return (spawned.process, cgroup)
        } catch {
            try? cgroup.delete()
            throw PodError("\(id): \(error)")
        }
    }

    /// The pool's root view: a new mount namespace inside the pod, set up once, held by an init loop.
    func viewPlan(service: ServiceSpec, sandbox: Sandbox) -> SpawnPlan {
        var plan = SpawnPlan(argv: ["pool-view"])
        plan.initLoop = true
        plan.joinNamespaces = [.pid, .network, .ipc, .uts].map { ($0, sandbox.namespacePath($0)) }
        plan.newNamespaces = [.mount]
        plan.rootfs = rootfs(of: service)
        plan.readonlyRoot = true
        plan.mounts = [
            MountPlan(source: "proc", destination: "/proc", fstype: "proc", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)),
            MountPlan(source: "tmpfs", destination: "/dev", fstype: "tmpfs", data: "mode=755,size=65536k", flags: UInt(MS_NOSUID)),
            MountPlan(source: "devpts", destination: "/dev/pts", fstype: "devpts", data: "newinstance,ptmxmode=0666,mode=0620",
                      flags: UInt(MS_NOSUID | MS_NOEXEC)),
            MountPlan(source: "shm", destination: "/dev/shm", fstype: "tmpfs", data: "mode=1777,size=65536k",
                      flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC)),
            MountPlan(source: "tmpfs", destination: "/tmp", fstype: "tmpfs", data: "mode=1777", flags: UInt(MS_NOSUID | MS_NODEV)),
            MountPlan(source: "tmpfs", destination: "/run", fstype: "tmpfs", data: "mode=755", flags: UInt(MS_NOSUID | MS_NODEV)),
            MountPlan(source: "sysfs", destination: "/sys", fstype: "sysfs", flags: UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)),
        ]
        plan.createDefaultDevices = true
        plan.maskedPaths = Self.maskedPaths
        plan.readonlyPaths = Self.readonlyPaths
        plan.fdMappings = [(devNull, 0), (devNull, 1), (devNull, 2)]
        plan.dieWithParent = true
        return plan
    }

    func plan(_ id: InstanceID, service: ServiceSpec, sockets: [Int32], sandbox: Sandbox, view: PidFD, log: Int32) -> SpawnPlan {
        var plan = SpawnPlan(argv: service.command + service.args)
        var environment = [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=\(manifest.hostname)",
            "PODVISOR_POD=\(manifest.name)",
            "PODVISOR_RELEASE=\(manifest.release)",
            "PODVISOR_SERVICE=\(service.name)",
            "PODVISOR_INSTANCE=\(id)",
        ]
        environment += service.env
        if !sockets.isEmpty {
            environment += ["LISTEN_FDS=\(sockets.count)", "LISTEN_FDNAMES=\(service.sockets.map(\.name).joined(separator: ":"))"]
            plan.listenPIDEnvironmentIndex = environment.count
            environment.append("LISTEN_PID=")
        }
        plan.environment = environment
        // The pool's root view, then the pod's namespaces; a cgroup namespace of its own (after placement).
        plan.joinNamespaces = [(.mount, "/proc/\(view.pid)/ns/mnt")]
            + [NamespaceKind.pid, .network, .ipc, .uts].map { ($0, sandbox.namespacePath($0)) }
        plan.newNamespaces = [.cgroup]
        plan.uid = service.user.uid
        plan.gid = service.user.gid
        plan.additionalGids = []
        plan.cwd = service.cwd
        plan.fdMappings = [(devNull, 0), (log, 1), (log, 2)] + sockets.enumerated().map { ($1, Int32(3 + $0)) }
        plan.keepFDs = 3 + Int32(sockets.count)
        plan.dieWithParent = true
        plan.newSession = true
        security?.apply(to: &plan)
        return plan
    }
}
