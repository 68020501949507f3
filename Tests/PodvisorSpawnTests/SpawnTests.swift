import Foundation
import Glibc
import PodvisorLinux
import Testing
@testable import PodvisorSpawn

/// The repository's default root filesystem (Rootfs/build makes it).
let defaultRootfs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Rootfs/out/rootfs").standardizedFileURL.path
let isRoot = getuid() == 0
let hasRootfs = FileManager.default.fileExists(atPath: defaultRootfs + "/bin/busybox")

/// Runs a plan with stdout/stderr captured through a pipe; returns (status, output).
func run(_ plan: SpawnPlan) throws -> (ProcessExit, String) {
    var fds: [Int32] = [-1, -1]
    #expect(pipe(&fds) == 0)
    var plan = plan
    plan.fdMappings = [(fds[1], 1), (fds[1], 2)]
    let spawned: SpawnedProcess
    do {
        spawned = try Spawner.spawn(plan)
    } catch {
        close(fds[0]); close(fds[1])
        throw error
    }
    close(fds[1])
    let output = (try? FileIO.read(fd: fds[0])) ?? ""
    close(fds[0])
    let status = try spawned.process.wait()
    spawned.process.close()
    return (status, output)
}

/// A plan for a container on the default rootfs with the namespaces a pod sandbox uses.
func containerPlan(_ argv: [String]) -> SpawnPlan {
    var plan = SpawnPlan(argv: argv)
    plan.environment = ["PATH=/bin:/sbin:/usr/bin"]
    plan.newNamespaces = [.pid, .mount, .uts, .ipc, .network]
    plan.rootfs = defaultRootfs
    plan.mounts = [
        MountPlan(source: "proc", destination: "/proc", fstype: "proc"),
        MountPlan(source: "tmpfs", destination: "/dev", fstype: "tmpfs", data: "mode=755,size=65536k", flags: UInt(MS_NOSUID)),
    ]
    plan.createDefaultDevices = true
    return plan
}

@Suite("Spawn without namespaces")
struct PlainSpawnTests {
    @Test func runsProgramWithArgumentsAndEnvironment() throws {
        var plan = SpawnPlan(argv: ["/bin/sh", "-c", "echo \"$GREETING $0\"", "world"])
        plan.environment = ["GREETING=hello"]
        let (status, output) = try run(plan)
        #expect(status == .exited(0))
        #expect(output == "hello world\n")
    }

    @Test func exitStatusAndSignalComeBack() throws {
        #expect(try run(SpawnPlan(argv: ["/bin/sh", "-c", "exit 42"])).0 == .exited(42))
        #expect(try run(SpawnPlan(argv: ["/bin/sh", "-c", "kill -9 $$"])).0 == .signaled(SIGKILL))
    }

    @Test func missingProgramIsReportedAsTheExecStep() throws {
        var plan = SpawnPlan(argv: ["no-such-program-pv"])
        plan.environment = ["PATH=/usr/bin:/bin"]
        #expect {
            try run(plan)
        } throws: { error in
            "\(error)" == "exec(no-such-program-pv): No such file or directory"
        }
    }

    @Test func runtimeFdsDoNotReachThePayload() throws {
        let leaked = open("/dev/null", O_RDONLY)  // not CLOEXEC on purpose
        defer { close(leaked) }
        let (_, output) = try run(SpawnPlan(argv: ["/bin/sh", "-c", "ls /proc/self/fd"]))
        let fds = output.split(separator: "\n").compactMap { Int32($0) }
        #expect(!fds.contains(leaked))
    }
}

@Suite("Spawn into a container", .enabled(if: isRoot, "needs root"), .enabled(if: hasRootfs, "needs the default rootfs: run Rootfs/build"))
struct ContainerSpawnTests {
    @Test func isPidOneWithItsOwnHostnameAndRoot() throws {
        var plan = containerPlan(["/bin/sh", "-c", "echo $$; hostname; ls /dev/null; cat /proc/1/cmdline | tr '\\0' ' '"])
        plan.hostname = "pv-spawn-test"
        let (status, output) = try run(plan)
        #expect(status == .exited(0), "\(output)")
        #expect(output == "1\npv-spawn-test\n/dev/null\n/bin/sh -c echo $$; hostname; ls /dev/null; cat /proc/1/cmdline | tr '\\0' ' ' ")
    }

    @Test func networkNamespaceIsEmpty() throws {
        let (_, output) = try run(containerPlan(["/bin/sh", "-c", "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"]))
        #expect(output == "lo\n")
    }

    @Test func readonlyRootAndMaskedPaths() throws {
        var plan = containerPlan(["/bin/sh", "-c", "touch /x 2>&1; cat /proc/kcore | wc -c; ls /proc/acpi | wc -l; echo 1 > /proc/sys/kernel/domainname 2>&1"])
        plan.readonlyRoot = true
        plan.maskedPaths = ["/proc/kcore", "/proc/acpi"]
        plan.readonlyPaths = ["/proc/sys"]
        let (_, output) = try run(plan)
        #expect(output.contains("touch: /x: Read-only file system"), "\(output)")
        #expect(output.contains("\n0\n0\n"), "\(output)")
        #expect(output.contains("Read-only file system"), "\(output)")
    }

    @Test func missingRootfsNamesThePivotStep() throws {
        var plan = containerPlan(["/bin/true"])
        plan.rootfs = "/nonexistent-pv-rootfs"
        #expect {
            try run(plan)
        } throws: { error in
            "\(error)" == "mount(/nonexistent-pv-rootfs): No such file or directory"
        }
    }

    @Test func identityLimitsAndCwd() throws {
        var plan = containerPlan(["/bin/sh", "-c", "id -u; id -g; id -G; ulimit -n; pwd; umask"])
        plan.uid = 1000
        plan.gid = 1001
        plan.additionalGids = [5, 6]
        plan.rlimits = [ResourceLimit(resource: Int32(RLIMIT_NOFILE.rawValue), soft: 123, hard: 456)]
        plan.cwd = "/tmp"
        plan.umask = 0o027
        let (status, output) = try run(plan)
        #expect(status == .exited(0))
        #expect(output == "1000\n1001\n1001 5 6\n123\n/tmp\n0027\n")
    }

    @Test func capabilitySetsAreApplied() throws {
        var plan = containerPlan(["/bin/sh", "-c", "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status"])
        let kill: UInt64 = 1 << 5, netBind: UInt64 = 1 << 10, chown: UInt64 = 1 << 0
        plan.uid = 1000
        plan.capabilities = CapabilitySets(bounding: kill | netBind | chown, effective: kill | netBind, permitted: kill | netBind,
                                           inheritable: netBind, ambient: netBind)
        let (status, output) = try run(plan)
        #expect(status == .exited(0), "\(output)")
        // A non-root payload keeps only its ambient capability across exec; the bounding set is narrowed.
        #expect(output.contains("CapBnd:\t0000000000000421"), "\(output)")
        #expect(output.contains("CapAmb:\t0000000000000400"), "\(output)")
        #expect(output.contains("CapEff:\t0000000000000400"), "\(output)")
        #expect(output.contains("CapInh:\t0000000000000400"), "\(output)")
    }

    @Test func execFifoHoldsThePayloadUntilOpened() throws {
        let dir = "/tmp/pv-spawn-fifo-\(getpid())"
        mkdir(dir, 0o700)
        defer { unlink(dir + "/exec.fifo"); rmdir(dir) }
        #expect(mkfifo(dir + "/exec.fifo", 0o600) == 0)
        let fifo = open(dir + "/exec.fifo", LinuxFlags.openPath | O_CLOEXEC)
        defer { close(fifo) }
        var plan = containerPlan(["/bin/true"])
        plan.execFifoFD = fifo
        let spawned = try Spawner.spawn(plan)
        defer { spawned.process.close() }
        #expect(!spawned.process.hasExited(timeoutMilliseconds: 50))
        let reader = open(dir + "/exec.fifo", O_RDONLY | O_CLOEXEC)
        var byte: UInt8 = 0
        #expect(read(reader, &byte, 1) == 1)
        close(reader)
        #expect(try spawned.process.wait() == .exited(0))
    }

    @Test func joinsAnotherProcessesNamespaces() throws {
        // A "pod" holding uts + pid + net; a second process joins them by path.
        var podPlan = containerPlan(["/bin/sh", "-c", "read x"])
        podPlan.hostname = "pv-pod"
        var fds: [Int32] = [-1, -1]
        #expect(pipe(&fds) == 0)
        podPlan.fdMappings = [(fds[0], 0)]
        let pod = try Spawner.spawn(podPlan)
        close(fds[0])
        defer {
            close(fds[1])
            _ = try? pod.process.wait()
            pod.process.close()
        }
        // The member's payload is cloned by an intermediate with CLONE_PARENT: still our child, so
        // `run` can wait for it without this process being a subreaper.
        var member = SpawnPlan(argv: ["/bin/sh", "-c", "hostname; echo $$"])
        member.joinNamespaces = [(.uts, "/proc/\(pod.process.pid)/ns/uts"), (.pid, "/proc/\(pod.process.pid)/ns/pid")]
        let (status, output) = try run(member)
        #expect(status == .exited(0))
        #expect(output == "pv-pod\n2\n")
    }
}
