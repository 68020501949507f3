import Foundation
import PodvisorEngine
import PodvisorLinux
import PodvisorSpec
import Testing

/// A pod inside a container, as a CI runner uses Podvisor: the outer container is a podvisor OCI
/// container with its own cgroup namespace and a delegated (writable) cgroup subtree; `podvisor pod up`
/// is its only process. On a cgroup-v2 host that runtime must move itself to a leaf before it can
/// enable controllers for the pod (the no-internal-process rule).
@Suite("Nested pods", .enabled(if: canRunPods, skipReason), .enabled(if: cliBinary != nil, "needs the podvisor binary: swift build"))
struct NestedTests {
    @Test func aPodRunsInsideAContainerWithADelegatedCgroup() throws {
        var template = Array("/tmp/pvn.XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let runtime = Runtime(root: directory + "/state")
        let (bundle, out, rootfs) = (directory + "/bundle", directory + "/out", directory + "/rootfs")
        for path in [bundle, out, rootfs, directory + "/pod"] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        try """
            name: nested
            release: "1"
            resources: { memory: 256Mi, pids: 64 }
            services:
              - name: web
                command: [/bin/sh, -c, 'mkdir -p /tmp/www && echo hello from web > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www']
                resources: { memory: 32Mi, pids: 8 }
                readiness: { tcp: 8080 }
              - name: client
                command: [/bin/sh, -c, 'while :; do echo "got: $(wget -qO- http://127.0.0.1:8080/)"; sleep 0.2; done']
                depends_on: [web]
            """.write(toFile: directory + "/pod/pod.yaml", atomically: true, encoding: .utf8)

        // The outer container: the host's programs read-only, the pod bundle, a writable /out, and its
        // own pid, mount, ipc, uts, network and cgroup namespaces with /sys/fs/cgroup writable.
        let binary = try #require(cliBinary)
        var config = OCIConfig.defaultSpec()
        config.root = OCIRoot(path: rootfs, readonly: false)
        config.process?.args = ["/bin/sh", "-c", "exec /podvisor/\((binary as NSString).lastPathComponent) --root /out/state pod up /pod > /out/pod.log 2>&1"]
        config.process?.env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "PODVISOR_ROOTFS=/rootfs"]
        config.process?.capabilities = nil  // the runner's runtime needs its capabilities; the pods get none of them
        config.linux?.namespaces = ["pid", "mount", "ipc", "uts", "network", "cgroup"].map { OCILinux.Namespace(type: $0) }
        // Limits give the container its own memory and pids hierarchies on a hybrid host, delegated to the pods.
        config.linux?.resources = OCIResources(memory: .init(limit: 1 << 30), pids: .init(limit: 1024))
        config.linux?.readonlyPaths = []
        config.linux?.maskedPaths = []
        config.mounts = (config.mounts ?? []).map { mount in
            var mount = mount
            if mount.type == "cgroup" { mount.options = ["nosuid", "noexec", "nodev", "rw"] }
            return mount
        }
        func bind(_ source: String, _ destination: String, _ mode: String = "ro") -> OCIMount {
            OCIMount(destination: destination, type: "bind", source: source, options: ["rbind", mode])
        }
        let hostDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt"].filter { FileManager.default.fileExists(atPath: $0) }
        config.mounts! += hostDirectories.map { bind($0, $0) }
        config.mounts! += [bind((binary as NSString).deletingLastPathComponent, "/podvisor"), bind(defaultRootfs, "/rootfs"),
                           bind(directory + "/pod", "/pod"), bind(out, "/out", "rw"),
                           OCIMount(destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755"]),
                           OCIMount(destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"])]
        try config.jsonData().write(to: URL(fileURLWithPath: bundle + "/config.json"))

        let id = "pv-test-nested-\(getpid())"
        try runtime.run(id: id, options: .init(bundle: bundle), detach: true)
        defer { try? runtime.delete(id: id, force: true) }
        let container = try runtime.store.load(id)

        // The pod inside works: its client reaches its web service over the pod's loopback.
        let clientLog = out + "/state/pods/nested/logs/client.0.log"
        let deadline = Date(timeIntervalSinceNow: 30)
        var log = ""
        while Date() < deadline {
            log = (try? String(contentsOfFile: clientLog, encoding: .utf8)) ?? ""
            if log.contains("got: hello from web") { break }
            usleep(50_000)
        }
        #expect(log.contains("got: hello from web"), "\((try? String(contentsOfFile: out + "/pod.log", encoding: .utf8)) ?? "no pod.log")")

        // ...and lives inside the container's cgroup subtree.
        let containerCgroup = try #require(container.cgroup?.v2)
        #expect(FileManager.default.fileExists(atPath: containerCgroup + "/podvisor/pods/nested/web/0"))

        // SIGTERM to the container's init (podvisor) stops the pod gracefully and ends the container.
        let process = try PidFD.open(container.pid)
        defer { process.close() }
        try runtime.kill(id: id, signal: "TERM")
        #expect(process.hasExited(timeoutMilliseconds: 20_000))
        let podLog = (try? String(contentsOfFile: out + "/pod.log", encoding: .utf8)) ?? ""
        #expect(podLog.contains("pod nested stopped"), "\(podLog)")
        try runtime.delete(id: id)
        #expect(!FileManager.default.fileExists(atPath: containerCgroup))
    }
}
