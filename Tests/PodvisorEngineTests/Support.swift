import Foundation
import Glibc
import PodvisorLinux
import PodvisorSpec
@testable import PodvisorEngine

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path
let defaultRootfs = repositoryRoot + "/Rootfs/out/rootfs"
let isRoot = getuid() == 0
let hasRootfs = FileManager.default.fileExists(atPath: defaultRootfs + "/bin/busybox")

/// A throwaway state root and bundle on the default rootfs; removes both (and checks for leftovers) on `finish`.
struct Sandbox {
    let directory: String
    let runtime: Runtime
    var bundle: String { directory + "/bundle" }
    var output: String { directory + "/out" }

    init(_ args: [String], edit: (inout OCIConfig) -> Void = { _ in }) throws {
        directory = try FileManager.default.url(for: .itemReplacementDirectory, in: .userDomainMask,
                                                appropriateFor: URL(fileURLWithPath: "/tmp"), create: true).path
        runtime = Runtime(root: directory + "/state")
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var config = OCIConfig.defaultSpec()
        config.root = OCIRoot(path: defaultRootfs, readonly: true)
        config.process?.args = args
        // Containers write what tests check into /out, a bind of a host directory.
        config.mounts?.append(OCIMount(destination: "/out", type: "bind", source: output, options: ["rbind", "rw"]))
        edit(&config)
        try write(config)
    }

    func write(_ config: OCIConfig) throws {
        try config.jsonData().write(to: URL(fileURLWithPath: bundle + "/config.json"))
    }

    func writeConfigText(_ text: String) throws {
        try text.write(toFile: bundle + "/config.json", atomically: true, encoding: .utf8)
    }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: output + "/" + name, encoding: .utf8)) ?? ""
    }

    /// What a container of this id would leave: its state directory and its cgroup directories.
    func leftovers(_ id: String) -> [String] {
        var found: [String] = []
        if FileManager.default.fileExists(atPath: runtime.store.directory(id)) { found.append(runtime.store.directory(id)) }
        if let host = try? CgroupHost.detect(), let location = try? host.location(for: nil, name: id) {
            found += location.directories.filter { FileManager.default.fileExists(atPath: $0) }
        }
        return found
    }

    func finish() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A container id unique to this test process.
func uniqueID(_ name: String) -> String { "pv-test-\(name)-\(getpid())" }
