import Testing
@testable import PodvisorSpec

@Suite struct DefaultSpecTests {
    @Test func defaultSpecMatchesRuncSpec() throws {
        let c = OCIConfig.defaultSpec(cgroupNamespace: false)
        #expect(c.ociVersion == "1.2.0")
        #expect(c.process?.terminal == false)
        #expect(c.process?.args == ["sh"])
        #expect(c.process?.rlimits == [.init(.nofile, hard: 1024, soft: 1024)])
        #expect(c.mounts?.map(\.destination) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"])
        #expect(c.linux?.namespaces?.map(\.type) == ["pid", "network", "ipc", "uts", "mount"])
        #expect(OCIConfig.defaultSpec(cgroupNamespace: true).linux?.namespaces?.last == .init(.cgroup))
        #expect(c.linux?.maskedPaths?.contains("/proc/kcore") == true)
        #expect(c.linux?.readonlyPaths?.count == 5)
        try c.validate(file: "config.json", forCreate: true)
        let text = String(decoding: c.jsonData(), as: UTF8.self)
        #expect(text.contains("\"terminal\" : false"))
        #expect(!text.contains("null"))
        #expect(try OCIConfig.decode(c.jsonData(), file: "config.json") == c)
    }

    @Test func rootlessSpec() throws {
        var c = OCIConfig.defaultSpec(cgroupNamespace: true)
        c.makeRootless(uid: 1000, gid: 100)
        #expect(c.linux?.namespaces?.map(\.type) == ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"])
        #expect(c.linux?.uidMappings == [.init(containerID: 0, hostID: 1000, size: 1)])
        #expect(c.linux?.gidMappings == [.init(containerID: 0, hostID: 100, size: 1)])
        #expect(c.linux?.resources == nil)
        let sys = c.mounts?.first { $0.destination == "/sys" }
        #expect(sys == OCIMount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"]))
        #expect(c.mounts?.first { $0.destination == "/dev/pts" }?.options?.contains("gid=5") == false)
        try c.validate(file: "config.json", forCreate: true)
        let viaAPI = OCIConfig.defaultSpec(rootless: true)
        #expect(viaAPI.linux?.namespaces?.last == .init(.user))
        try viaAPI.validate(file: "config.json", forCreate: true)
        #expect(try OCIConfig.decode(viaAPI.jsonData(), file: "c") == viaAPI)
    }
}
