import Foundation
import Glibc
import PodvisorLinux
import PodvisorSecurity
import PodvisorSpec
import Testing
@testable import PodvisorEngine

/// Attacks tried from inside a container started the normal way: the runc-like default spec
/// (OCIConfig.defaultSpec(): CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE, noNewPrivileges,
/// masked and read-only /proc paths) plus the default seccomp profile. Each asserts that the attack
/// fails and that the host is unchanged. docs/SECURITY.md maps them to the defences.
@Suite("Escapes", .serialized, .enabled(if: isRoot, "needs root"), .enabled(if: hasRootfs, "needs the default rootfs: run Rootfs/build"))
struct EscapeTests {
    /// The default spec with the default seccomp profile resolved against its bounding set.
    static func secured(_ config: inout OCIConfig) {
        config.linux?.seccomp = DefaultProfile.seccomp(for: config.process?.capabilities)
    }

    /// Runs `script` in a secured container and returns the sandbox (caller finishes it) and the exit status.
    func run(_ name: String, _ script: String, edit: (inout OCIConfig) -> Void = { _ in }) throws -> (Sandbox, ProcessExit?) {
        let sandbox = try Sandbox(["/bin/sh", "-c", script]) { config in
            Self.secured(&config)
            edit(&config)
        }
        let id = uniqueID(name)
        let status = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        #expect(sandbox.leftovers(id) == [])
        return (sandbox, status)
    }

    static let runtimeBinary = "/proc/\(getpid())/exe"

    @Test func runtimeBinaryCannotBeRewritten() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: Self.runtimeBinary))
        let busybox = try Data(contentsOf: URL(fileURLWithPath: defaultRootfs + "/bin/busybox"))
        let (sandbox, status) = try run("exe", """
            echo pwn >> /proc/self/exe 2>/dev/null && echo wrote-self > /out/result
            for p in /proc/[0-9]*; do echo "$p $(readlink $p/exe)"; done > /out/exes
            for p in /proc/[0-9]*; do echo pwn >> $p/exe 2>/dev/null && echo "wrote $p" >> /out/result; done
            kill -0 \(getpid()) 2>/dev/null && echo sees-host >> /out/result
            exit 0
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("result") == "")
        // Every process the container sees runs the payload's binary, none the runtime's.
        let exes = sandbox.read("exes").split(separator: "\n")
        #expect(!exes.isEmpty && exes.allSatisfy { $0.hasSuffix(" /bin/busybox") })
        #expect(try Data(contentsOf: URL(fileURLWithPath: Self.runtimeBinary)) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: defaultRootfs + "/bin/busybox")) == busybox)
    }

    /// CVE-2019-5736's window: a container set up into the pid namespace of a running one is, until
    /// its execve, a fork of the runtime. The running container must not reach its /proc/PID/exe.
    @Test func runtimeBinaryIsOutOfReachWhileAJoiningContainerIsSetUp() throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: Self.runtimeBinary))
        let first = try Sandbox(["/bin/sh", "-c", """
            while [ ! -e /out/go ]; do sleep 0.05; done
            for p in /proc/[0-9]*; do echo "$p $(readlink $p/exe)"; done > /out/exes
            for p in /proc/[0-9]*; do
                [ "$(readlink $p/exe)" = /bin/busybox ] && continue
                cat $p/exe > /dev/null 2>&1 && echo "read $p" >> /out/result
                echo pwn >> $p/exe 2>/dev/null && echo "wrote $p" >> /out/result
            done
            echo done > /out/done
            exec sleep 1000
            """], edit: Self.secured)
        defer { first.finish() }
        let firstID = uniqueID("exe-host")
        let record = try first.runtime.create(id: firstID, options: .init(bundle: first.bundle))
        defer { _ = try? first.runtime.delete(id: firstID, force: true) }
        try first.runtime.start(id: firstID)

        let second = try Sandbox(["/bin/true"]) { config in
            Self.secured(&config)
            let namespaces = config.linux?.namespaces ?? []
            config.linux?.namespaces = namespaces.map { $0.type == "pid" ? .init(.pid, path: "/proc/\(record.pid)/ns/pid") : $0 }
        }
        defer { second.finish() }
        let secondID = uniqueID("exe-joiner")
        _ = try second.runtime.create(id: secondID, options: .init(bundle: second.bundle))  // waits on its exec fifo
        FileManager.default.createFile(atPath: first.output + "/go", contents: nil)
        for _ in 0..<200 where first.read("done").isEmpty { usleep(25_000) }
        #expect(first.read("done") == "done\n")
        let exes = first.read("exes").split(separator: "\n")
        #expect(exes.contains { !$0.contains(" /") }, "the joining process is visible, its exe is not: \(exes)")
        #expect(exes.allSatisfy { $0.hasSuffix(" /bin/busybox") || !$0.contains(" /") }, "\(exes)")
        #expect(first.read("result") == "")
        try second.runtime.delete(id: secondID, force: true)
        try first.runtime.delete(id: firstID, force: true)
        #expect(second.leftovers(secondID) == [] && first.leftovers(firstID) == [])
        #expect(try Data(contentsOf: URL(fileURLWithPath: Self.runtimeBinary)) == before)
    }

    @Test func noRuntimeDescriptorReachesTheContainer() throws {
        // Only stdio (ls's own directory fd, if it shows, points at .../fd): anything else came from the runtime.
        let (sandbox, status) = try run("fds", "exec > /out/fds; exec ls -l /proc/self/fd")
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        let entries = sandbox.read("fds").split(separator: "\n").filter { $0.contains(" -> ") }.map { line in
            let parts = line.split(separator: " ")
            return (fd: String(parts[parts.count - 3]), target: String(parts[parts.count - 1]))
        }
        #expect(entries.filter { !$0.target.hasSuffix("/fd") }.map(\.fd) == ["0", "1", "2"], "\(entries)")
    }

    @Test func cwdThroughAProcFdIsRefused() throws {
        let sandbox = try Sandbox(["/bin/true"]) { config in
            Self.secured(&config)
            config.process?.cwd = "/proc/self/fd/7"
        }
        defer { sandbox.finish() }
        let id = uniqueID("cwd-fd")
        #expect {
            _ = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        } throws: { error in
            "\(error)".contains("chdir(/proc/self/fd/7)")
        }
        #expect(sandbox.leftovers(id) == [])
    }

    @Test func maskedProcFilesReadEmpty() throws {
        let (sandbox, status) = try run("masked", """
            for f in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats; do
                [ -e $f ] && echo "$f $(cat $f 2>/dev/null | wc -c)" >> /out/sizes
            done
            ls /proc/acpi /proc/scsi /sys/firmware 2>/dev/null | grep -v : | grep . >> /out/listed
            exit 0
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        let sizes = sandbox.read("sizes").split(separator: "\n")
        #expect(sizes.contains { $0.hasPrefix("/proc/keys ") })  // this kernel has no /proc/kcore
        #expect(sizes.allSatisfy { $0.hasSuffix(" 0") }, "\(sizes)")
        #expect(sandbox.read("listed") == "")
    }

    @Test func readonlyProcPathsStayUnwritten() throws {
        let before = try FileIO.read("/proc/sys/kernel/printk_ratelimit")
        let (sandbox, status) = try run("proc-ro", """
            echo 1234 > /proc/sys/kernel/printk_ratelimit 2>/dev/null && echo sysctl >> /out/result
            echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq >> /out/result
            echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo drop >> /out/result
            exit 0
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("result") == "")
        #expect(try FileIO.read("/proc/sys/kernel/printk_ratelimit") == before)
    }

    @Test func mountUnshareAndModulesAreRefused() throws {
        let before = try? FileIO.read("/proc/modules")  // absent on kernels without module support
        let (sandbox, status) = try run("privileged", """
            mount -t tmpfs none /tmp > /out/mount 2>&1 && echo mounted >> /out/result
            unshare -U -r true > /out/unshare 2>&1 && echo unshared >> /out/result
            unshare -m true 2>/dev/null && echo unshared-mnt >> /out/result
            echo 'not a module' > /dev/shm/pv.ko
            insmod /dev/shm/pv.ko > /out/insmod 2>&1 && echo inserted >> /out/result
            exit 0
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("result") == "")
        #expect(sandbox.read("mount").contains("Operation not permitted") || sandbox.read("mount").contains("denied"))
        #expect(sandbox.read("insmod").contains("Operation not permitted"), "\(sandbox.read("insmod"))")
        #expect((try? FileIO.read("/proc/modules")) == before)
    }

    @Test func hostProcessesAreInvisible() throws {
        let (sandbox, status) = try run("pids", """
            ls /proc | grep -E '^[0-9]+$' > /out/pids
            kill -9 \(getpid()) 2> /out/kill || echo refused > /out/result
            kill -0 1 && echo own-init >> /out/result
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        let pids = sandbox.read("pids").split(separator: "\n").compactMap { Int($0) }
        #expect(pids.contains(1) && pids.allSatisfy { $0 < 100 }, "\(pids)")
        #expect(sandbox.read("result") == "refused\nown-init\n")
    }

    @Test func rawSocketsNeedNetRaw() throws {
        let (sandbox, status) = try run("raw", "ip=127.0.0.1; ping -c 1 -W 1 $ip > /out/ping 2>&1 && echo pinged > /out/result; exit 0") { config in
            // The runc default set has NET_RAW; drop it explicitly as a user would.
            config.process?.capabilities = .init(bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"])
            Self.secured(&config)
        }
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("result") == "")
        #expect(sandbox.read("ping").contains("permission denied") || sandbox.read("ping").contains("not permitted"), "\(sandbox.read("ping"))")
    }

    @Test func cgroupFilesAreReadOnly() throws {
        let (sandbox, status) = try run("cgroup", """
            mkdir /sys/fs/cgroup/pv-escape 2>/dev/null && echo made >> /out/result
            echo 1 > /sys/fs/cgroup/cgroup.procs 2>/dev/null && echo moved >> /out/result
            echo 1 > /sys/fs/cgroup/cgroup.kill 2>/dev/null && echo killed >> /out/result
            exit 0
            """)
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("result") == "")
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/pv-escape"))
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pv-escape"))
    }

    /// A rootfs with /etc/evil -> / and a bind mount onto /etc/evil/x must land in the rootfs's /x.
    @Test func symlinkedMountDestinationsStayInTheRoot() throws {
        let marker = "pv-escape-\(getpid())"
        let sandbox = try Sandbox(["/bin/busybox", "sh", "-c", "echo inside > /\(marker)/proof"]) { config in
            config.root = OCIRoot(path: "custom-rootfs", readonly: false)
            let output = config.mounts!.last!.source!  // the sandbox's /out
            config.mounts?.append(OCIMount(destination: "/etc/evil/\(marker)", type: "bind", source: output, options: ["rbind", "rw"]))
            Self.secured(&config)
        }
        defer { sandbox.finish() }
        let rootfs = sandbox.bundle + "/custom-rootfs"
        for dir in ["bin", "etc", "proc", "sys", "dev", "tmp", "out"] {
            try FileManager.default.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: defaultRootfs + "/bin/busybox", toPath: rootfs + "/bin/busybox")
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/etc/evil", withDestinationPath: "/")
        let id = uniqueID("symlink")
        let status = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        #expect(status == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: "/" + marker), "the mount landed on the host's /\(marker)")
        #expect(FileManager.default.fileExists(atPath: rootfs + "/" + marker))
        #expect(sandbox.read("proof") == "inside\n")
        try? FileManager.default.removeItem(atPath: "/" + marker)
        #expect(sandbox.leftovers(id) == [])
    }

    /// Root inside is 100000 outside: files it makes on a bound host directory belong to 100000.
    @Test func userNamespaceMapsRootToAnUnprivilegedRange() throws {
        let (sandbox, status) = try run("userns", "id -u > /out/uid; cat /proc/self/uid_map > /out/map; touch /out/made") { config in
            config.linux?.namespaces?.append(.init(.user))
            config.linux?.uidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
            config.linux?.gidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
            // /sys cannot be mounted from a user namespace that does not own the network namespace's sysfs: runc binds it.
            config.mounts = config.mounts?.filter { $0.destination != "/sys/fs/cgroup" }
        } prepare: { sandbox in
            Self.openUpForUserNamespace(sandbox)
            chown(sandbox.output, 100000, 100000)
        }
        defer { sandbox.finish() }
        #expect(status == .exited(0))
        #expect(sandbox.read("uid") == "0\n")
        #expect(sandbox.read("map").split(separator: " ", omittingEmptySubsequences: true) == ["0", "100000", "65536\n"])
        let info = try FileManager.default.attributesOfItem(atPath: sandbox.output + "/made")
        #expect((info[.ownerAccountID] as? NSNumber)?.intValue == 100000)
    }

    @Test func rootlessSpecRunsAsRootHere() throws {
        let sandbox = try Sandbox(["/bin/sh", "-c", "id -u > /out/uid; cat /proc/self/uid_map > /out/map"]) { config in
            var rootless = OCIConfig.defaultSpec(rootless: true)
            rootless.root = config.root
            rootless.process?.args = config.process?.args
            rootless.mounts?.append(OCIMount(destination: "/out", type: "bind", source: config.mounts!.last!.source, options: ["rbind", "rw"]))
            Self.secured(&rootless)
            config = rootless
        }
        defer { sandbox.finish() }
        Self.openUpForUserNamespace(sandbox)
        let id = uniqueID("rootless")
        let status = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        #expect(status == .exited(0))
        #expect(sandbox.read("uid") == "0\n")
        #expect(sandbox.read("map").split(separator: " ", omittingEmptySubsequences: true) == ["0", "0", "1\n"])
        #expect(sandbox.leftovers(id) == [])
    }

    @Test(arguments: [
        ("cap", "process.capabilities.bounding[1]: \"CAP_NOPE\": unknown capability"),
        ("seccomp", "linux.seccomp.syscalls[1].action: \"SCMP_ACT_NOPE\": unknown seccomp action"),
        ("overlap", "linux.uidMappings[1]: \"10 200000 5\": overlaps linux.uidMappings[0]"),
        ("size", "linux.uidMappings[0].size: \"0\": must be greater than 0"),
        ("nouserns", "linux.uidMappings: requires a user namespace"),
    ])
    func badSecurityInputIsNamedAndLeavesNothing(kind: String, message: String) throws {
        let sandbox = try Sandbox(["/bin/true"]) { config in
            Self.secured(&config)
            switch kind {
            case "cap": config.process?.capabilities?.bounding = ["CAP_KILL", "CAP_NOPE"]
            case "seccomp": config.linux?.seccomp = OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
                .init(names: ["read"], action: "SCMP_ACT_ERRNO"), .init(names: ["write"], action: "SCMP_ACT_NOPE")])
            case "overlap", "size":
                config.linux?.namespaces?.append(.init(.user))
                config.linux?.uidMappings = kind == "size" ? [.init(containerID: 0, hostID: 100000, size: 0)]
                    : [.init(containerID: 0, hostID: 100000, size: 65536), .init(containerID: 10, hostID: 200000, size: 5)]
                config.linux?.gidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
            default:
                config.linux?.uidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
            }
        }
        defer { sandbox.finish() }
        let id = uniqueID("bad-\(kind)")
        #expect {
            _ = try sandbox.runtime.create(id: id, options: .init(bundle: sandbox.bundle))
        } throws: { error in
            "\(error)".hasSuffix(message) && "\(error)".contains(sandbox.bundle + "/config.json")
        }
        #expect(sandbox.leftovers(id) == [])
    }
}

extension EscapeTests {
    /// Root of a user namespace is an unprivileged host uid: it must be able to walk to the /out source.
    static func openUpForUserNamespace(_ sandbox: Sandbox) {
        var path = sandbox.directory
        while path.count > "/tmp".count, path.hasPrefix("/tmp/") {
            var info = stat()
            if stat(path, &info) == 0 { chmod(path, (info.st_mode & 0o7777) | 0o055) }
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
    }

    /// `run` with a step between writing the bundle and starting the container.
    func run(_ name: String, _ script: String, edit: (inout OCIConfig) -> Void, prepare: (Sandbox) -> Void) throws -> (Sandbox, ProcessExit?) {
        let sandbox = try Sandbox(["/bin/sh", "-c", script]) { config in
            Self.secured(&config)
            edit(&config)
        }
        prepare(sandbox)
        let id = uniqueID(name)
        let status = try sandbox.runtime.run(id: id, options: .init(bundle: sandbox.bundle))
        #expect(sandbox.leftovers(id) == [])
        return (sandbox, status)
    }
}
