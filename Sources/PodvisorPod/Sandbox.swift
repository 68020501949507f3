import CLinux
import Glibc
import PodvisorLinux
import PodvisorManifest
import PodvisorSpawn

/// The pod sandbox: a pid 1 that owns the pod's pid, network, ipc, uts, mount and cgroup namespaces,
/// and the pod's cgroup subtree with the pod's budget:
///
///     <own cgroup>/podvisor/pods/<name>/          budget (memory, cpu, pids)
///         sandbox/                                the pid 1
///         <service>/<slot>/                       one cgroup per instance, with its limits
///
/// Processes live only in leaves (cgroup v2's no-internal-process rule).
struct Sandbox {
    let cgroup: Cgroup
    let initProcess: PidFD

    /// Namespace files of the sandbox, which pool instances join.
    func namespacePath(_ kind: NamespaceKind) -> String { "/proc/\(initProcess.pid)/ns/\(kind.procName)" }

    static func create(manifest: PodManifest, rootfs: String, devNull: Int32) throws(PodError) -> Sandbox {
        let cgroup = try makeCgroup(manifest)
        do {
            let leaf = try cgroup.createChild("sandbox", resources: CgroupResources())
            var plan = SpawnPlan(argv: ["pod-init"])
            plan.initLoop = true
            plan.newNamespaces = [.pid, .network, .ipc, .uts, .mount, .cgroup]
            plan.hostname = manifest.hostname
            plan.rootfs = rootfs
            plan.readonlyRoot = true
            plan.mounts = [MountPlan(source: "tmpfs", destination: "/dev", fstype: "tmpfs", data: "mode=755,size=64k",
                                     flags: UInt(MS_NOSUID | MS_NOEXEC))]
            plan.createDefaultDevices = true
            plan.fdMappings = [(devNull, 0), (devNull, 1), (devNull, 2)]
            // If the supervisor dies, the pod's pid 1 dies, and the kernel kills every process of the pod.
            plan.dieWithParent = true
            let cgroupFD = (try? leaf.directoryFD()) ?? -1
            defer { if cgroupFD >= 0 { close(cgroupFD) } }
            if cgroupFD >= 0 { plan.cgroupFD = cgroupFD }
            let spawned = try Spawner.spawn(plan) { pid, placedByClone in
                try leaf.addProcess(pid, includingV2: !placedByClone)
            }
            let sandbox = Sandbox(cgroup: cgroup, initProcess: spawned.process)
            do { try sandbox.inNetworkNamespace { () throws(PodError) in
                if pv_loopback_up() != 0 { throw PodError("bringing up lo in the pod: \(String(cString: strerror(errno)))") }
            } } catch {
                sandbox.destroy()
                throw error
            }
            return sandbox
        } catch let error as PodError {
            try? cgroup.delete()
            throw error
        } catch {
            try? cgroup.delete()
            throw PodError("starting the pod sandbox: \(error)")
        }
    }

    /// The pod's cgroup, with the budget, and the v1 hierarchies its pools' limits will need.
    private static func makeCgroup(_ manifest: PodManifest) throws(PodError) -> Cgroup {
        let budget = manifest.resources.cgroupResources
        var v1: Set<String> = []
        // The autoscaler tells throttling at an instance's own quota from the pool's budget by cpu.stat,
        // which a hybrid host keeps in the v1 cpu hierarchy.
        if manifest.services.contains(where: { $0.autoscale != nil }) { v1.formUnion(["cpu", "cpuacct"]) }
        for limits in [manifest.resources] + manifest.services.map(\.resources) {
            if limits.memory != nil { v1.insert("memory") }
            if limits.cpu != nil { v1.formUnion(["cpu", "cpuacct"]) }
            if limits.pids != nil { v1.insert("pids") }
        }
        do {
            let host = try CgroupHost.detect()
            let location = try host.location(for: "podvisor/pods/\(manifest.name)", name: manifest.name)
            return try Cgroup.create(host: host, location: location, resources: budget, v1Controllers: v1)
        } catch {
            throw PodError("creating the pod's cgroup: \(error)")
        }
    }

    /// Runs `body` with this thread in the pod's network namespace (sockets made there stay there).
    func inNetworkNamespace<T>(_ body: () throws(PodError) -> T) throws(PodError) -> T {
        let own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        let pod = open(namespacePath(.network), O_RDONLY | O_CLOEXEC)
        defer {
            if own >= 0 { close(own) }
            if pod >= 0 { close(pod) }
        }
        guard own >= 0, pod >= 0, pv_setns(pod, Int32(CLONE_NEWNET_FLAG)) == 0 else {
            throw PodError("entering the pod's network namespace: \(String(cString: strerror(errno)))")
        }
        defer { _ = pv_setns(own, Int32(CLONE_NEWNET_FLAG)) }
        return try body()
    }

    /// Opens a pool's listening sockets inside the pod's network namespace, once for all its instances.
    func openSockets(_ specs: [SocketSpec], service: String) throws(PodError) -> [Int32] {
        var fds: [Int32] = []
        do {
            try inNetworkNamespace { () throws(PodError) in
                for spec in specs {
                    let fd = pv_inet_listen(spec.address, Int32(spec.port), Int32(spec.backlog), spec.protocol == .udp ? 1 : 0)
                    if fd < 0 {
                        throw PodError("services.\(service).sockets.\(spec.name): \(spec.address):\(spec.port): \(String(cString: strerror(errno)))")
                    }
                    fds.append(fd)
                }
            }
        } catch {
            fds.forEach { close($0) }
            throw error
        }
        return fds
    }

    /// Kills the pod's pid 1 (and with it every process in the pod) and removes the cgroup subtree.
    ///
    /// A dying pid-namespace init waits until every process of its namespace has been reaped, and the
    /// instances are the supervisor's children: the caller reaps them first. The wait here is bounded
    /// all the same, so that a missed zombie cannot hang the supervisor.
    func destroy() {
        _ = try? initProcess.signal(SIGKILL)
        if initProcess.hasExited(timeoutMilliseconds: 10_000) { _ = try? initProcess.wait() }
        initProcess.close()
        try? cgroup.delete()
    }
}

let CLONE_NEWNET_FLAG: UInt32 = 0x4000_0000

extension ResourceLimits {
    /// The manifest's limits as cgroup resources: cpu in millicores becomes a quota per 100 ms period.
    var cgroupResources: CgroupResources {
        var resources = CgroupResources()
        resources.memoryMax = memory
        resources.pidsMax = pids.map(Int64.init)
        if let cpu {
            resources.cpuPeriod = 100_000
            resources.cpuQuota = Int64(cpu) * 100
        }
        return resources
    }
}
