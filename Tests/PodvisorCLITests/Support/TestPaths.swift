import Foundation

/// Where things are: the repository, the runtime under test, the default root filesystem.
enum TestPaths {
    /// The repository root, found from this file's location (Tests/PodvisorCLITests/Support/).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var env: [String: String] { ProcessInfo.processInfo.environment }

    /// The podvisor binary: $PODVISOR_BIN, else <repo>/.build/debug/podvisor.
    static var podvisorBinary: String {
        env["PODVISOR_BIN"] ?? repoRoot.appendingPathComponent(".build/debug/podvisor").path
    }

    /// The runtime the client tests drive: $PODVISOR_TEST_RUNTIME (e.g. /usr/sbin/runc,
    /// <repo>/Scripts/peers/crun-hybrid), else the podvisor binary.
    static var runtime: String { env["PODVISOR_TEST_RUNTIME"] ?? podvisorBinary }

    static var rootfs: String { repoRoot.appendingPathComponent("Rootfs/out/rootfs").path }
    static var imageTarball: String {
        env["PODVISOR_IMAGE_TAR"] ?? repoRoot.appendingPathComponent("Rootfs/out/localbusybox.tar").path
    }
    static func script(_ relative: String) -> String { repoRoot.appendingPathComponent(relative).path }

    /// A fresh directory under /tmp (short: containerd's socket path must fit in sun_path).
    static func makeTemporaryDirectory(_ prefix: String) throws -> String {
        let path = "/tmp/\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A short unique name for containers and cgroups.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())"
    }
}

/// Preconditions of the client tests, each a trait that skips with the reason and the remedy.
enum Needs {
    static var isRoot: Bool { geteuid() == 0 }
    static var hasRootfs: Bool {
        FileManager.default.isExecutableFile(atPath: TestPaths.rootfs + "/bin/busybox")
    }
    static var hasRuntime: Bool { FileManager.default.isExecutableFile(atPath: TestPaths.runtime) }
    static var hasPodman: Bool { Command.which("podman") != nil && Command.which("conmon") != nil }
    static var hasContainerd: Bool {
        Command.which("containerd") != nil && Command.which("ctr") != nil
            && Command.which("containerd-shim-runc-v2") != nil
    }
    /// The peers' scripts use runc's `runc spec` and podman for the image tarball.
    static var hasRunc: Bool { Command.which("runc") != nil }
}

/// The cgroup the tests' containers go below: on a v1/hybrid host, below our own cgroup
/// (docs/machine.md: never leave it); on a pure v2 host, the clients' defaults (nil).
enum TestCgroups {
    static var isHybridOrV1: Bool {
        // A pure v2 host mounts cgroup2 at /sys/fs/cgroup itself, with cgroup.controllers there.
        !FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
    }

    /// An absolute cgroup path below our own, or nil when the clients' defaults are right.
    static func parent(_ name: String) throws -> String? {
        guard isHybridOrV1 else { return nil }
        return try Command.check([TestPaths.script("Scripts/peers/cgroup-path"), "child", name])
    }

    /// Removes a parent made by `parent(_:)` in every hierarchy, with what the runtimes left.
    static func remove(_ path: String?) {
        guard let path else { return }
        _ = try? Command.run([TestPaths.script("Scripts/peers/cgroup-path"), "rm", path])
    }
}
