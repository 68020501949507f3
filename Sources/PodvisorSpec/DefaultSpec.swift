#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension OCIConfig {
    /// What `runc spec` writes, except `terminal: false` and `ociVersion` 1.2.0.
    /// `rootless` applies runc's `--rootless` changes: a user namespace mapping the current
    /// euid/egid to 0 (size 1), /sys rbind-mounted read-only, no uid=/gid= mount options and no
    /// resources. Unlike runc the network namespace is kept. `cgroupNamespace` defaults to
    /// whether the host runs cgroup v2 (as runc does).
    public static func defaultSpec(rootless: Bool = false, cgroupNamespace: Bool? = nil) -> OCIConfig {
        let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        var spec = OCIConfig(
            ociVersion: specVersion,
            process: OCIProcess(
                terminal: false,
                user: .init(uid: 0, gid: 0),
                args: ["sh"],
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                cwd: "/",
                capabilities: .init(bounding: caps, effective: caps, permitted: caps),
                rlimits: [.init(.nofile, hard: 1024, soft: 1024)],
                noNewPrivileges: true),
            root: OCIRoot(path: "rootfs", readonly: true),
            hostname: "runc",
            mounts: [
                OCIMount(destination: "/proc", type: "proc", source: "proc"),
                OCIMount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                         options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                OCIMount(destination: "/dev/pts", type: "devpts", source: "devpts",
                         options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                OCIMount(destination: "/dev/shm", type: "tmpfs", source: "shm",
                         options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                OCIMount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue",
                         options: ["nosuid", "noexec", "nodev"]),
                OCIMount(destination: "/sys", type: "sysfs", source: "sysfs",
                         options: ["nosuid", "noexec", "nodev", "ro"]),
                OCIMount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup",
                         options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            linux: OCILinux(
                resources: OCIResources(devices: [.init(allow: false, access: "rwm")]),
                namespaces: [.init(.pid), .init(.network), .init(.ipc), .init(.uts), .init(.mount)],
                maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                              "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                              "/proc/scsi", "/sys/devices/virtual/tpm"],
                readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]))
        if cgroupNamespace ?? (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
            spec.linux!.namespaces!.append(.init(.cgroup))
        }
        if rootless { spec.makeRootless(uid: geteuid(), gid: getegid()) }
        return spec
    }

    /// runc's ToRootless, keeping the network namespace.
    mutating func makeRootless(uid: UInt32, gid: UInt32) {
        var linux = self.linux ?? OCILinux()
        linux.namespaces = (linux.namespaces ?? []).filter { $0.type != "user" } + [.init(.user)]
        linux.uidMappings = [.init(containerID: 0, hostID: uid, size: 1)]
        linux.gidMappings = [.init(containerID: 0, hostID: gid, size: 1)]
        linux.resources = nil
        self.linux = linux
        mounts = mounts?.map { m in
            if m.destination == "/sys" || m.destination == "/sys/" {
                return OCIMount(destination: "/sys", type: "none", source: "/sys",
                                options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
            }
            var m = m
            m.options = m.options?.filter { !$0.hasPrefix("uid=") && !$0.hasPrefix("gid=") }
            return m
        }
    }
}
