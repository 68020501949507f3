import Foundation
import Glibc
import PodvisorSpec
import Testing
@testable import PodvisorSecurity

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path

@Suite("Seccomp compilation")
struct SeccompCompilerTests {
    @Test func compilesTheDefaultProfileWithinTheKernelsLimit() throws {
        let compiled = try SeccompCompiler.compile(DefaultProfile.seccomp(for: ["CAP_KILL"]), file: "/b/config.json")
        #expect(compiled.program.count % 8 == 0)
        #expect(compiled.instructionCount > 100)
        #expect(compiled.instructionCount <= SeccompCompiler.maximumInstructions)
        #expect(compiled.flags == 0)
    }

    @Test func everyFieldOfTheObjectIsCompiled() throws {
        let profile = OCISeccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
            syscalls: [
                .init(names: ["read", "write", "no_such_call_pv"], action: "SCMP_ACT_ALLOW"),
                .init(names: ["kill"], action: "SCMP_ACT_KILL_PROCESS"),
                .init(names: ["tkill"], action: "SCMP_ACT_KILL_THREAD"),
                .init(names: ["tgkill"], action: "SCMP_ACT_KILL"),
                .init(names: ["getpid"], action: "SCMP_ACT_TRAP"),
                .init(names: ["getppid"], action: "SCMP_ACT_TRACE", errnoRet: 5),
                .init(names: ["getuid"], action: "SCMP_ACT_LOG"),
                .init(names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13),
                .init(names: ["socket"], action: "SCMP_ACT_ALLOW", args: [
                    .init(index: 0, value: 1, op: "SCMP_CMP_EQ"), .init(index: 1, value: 0xf, valueTwo: 1, op: "SCMP_CMP_MASKED_EQ"),
                ]),
                .init(names: ["personality"], action: "SCMP_ACT_ALLOW", args: [
                    .init(index: 0, value: 0, op: "SCMP_CMP_NE"), .init(index: 0, value: 8, op: "SCMP_CMP_LT"),
                    .init(index: 1, value: 8, op: "SCMP_CMP_LE"), .init(index: 2, value: 8, op: "SCMP_CMP_GE"),
                    .init(index: 3, value: 8, op: "SCMP_CMP_GT"),
                ]),
                .init(names: ["openat"], action: "SCMP_ACT_ERRNO", errnoRet: 38),  // equal to the default: skipped
            ])
        let compiled = try SeccompCompiler.compile(profile, file: "/b/config.json")
        #expect(compiled.flags == 1 | 2 | 4)
        #expect(compiled.ignoredSyscalls == ["no_such_call_pv"])
        #expect(compiled.instructionCount > 10)
    }

    @Test(arguments: [
        (OCISeccomp(defaultAction: "SCMP_ACT_NOPE"), "linux.seccomp.defaultAction: \"SCMP_ACT_NOPE\": unknown seccomp action"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [
            .init(names: ["read"], action: "SCMP_ACT_ERRNO"), .init(names: ["a"], action: "SCMP_ACT_ERRNO"),
            .init(names: ["b"], action: "SCMP_ACT_ERRNO"), .init(names: ["write"], action: "SCMP_ACT_NOPE"),
        ]), "linux.seccomp.syscalls[3].action: \"SCMP_ACT_NOPE\": unknown seccomp action"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"]),
         "linux.seccomp.architectures[0]: \"SCMP_ARCH_VAX\": unknown architecture"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_NOPE"]),
         "linux.seccomp.flags[0]: \"SECCOMP_FILTER_FLAG_NOPE\": unknown seccomp flag"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 0, value: 1, op: "SCMP_CMP_ABOUT")])]),
         "linux.seccomp.syscalls[0].args[0].op: \"SCMP_CMP_ABOUT\": unknown operator"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [.init(names: ["read"], action: "SCMP_ACT_ERRNO", args: [.init(index: 6, value: 1, op: "SCMP_CMP_EQ")])]),
         "linux.seccomp.syscalls[0].args[0].index: \"6\": must be in 0...5"),
        (OCISeccomp(defaultAction: "SCMP_ACT_NOTIFY"),
         "linux.seccomp.defaultAction: \"SCMP_ACT_NOTIFY\": seccomp user notification needs a listener, which podvisor does not support"),
        (OCISeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
         "linux.seccomp.flags[0]: \"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\": only meaningful with SCMP_ACT_NOTIFY, which podvisor does not support"),
    ])
    func badInputNamesTheField(profile: OCISeccomp, message: String) {
        do {
            _ = try SeccompCompiler.compile(profile, file: "/b/config.json")
            Issue.record("compiled a bad profile")
        } catch {
            #expect(error.description == "/b/config.json: " + message)
        }
    }
}

@Suite("Default profile")
struct DefaultProfileTests {
    @Test func theEmbeddedProfileIsTheRepositorysJSON() throws {
        let json = try String(contentsOfFile: repositoryRoot + "/Profiles/seccomp/default.json", encoding: .utf8)
        #expect(json == defaultSeccompProfileJSON + "\n", "Profiles/seccomp/default.json changed: run Profiles/generate")
    }

    @Test func capabilityConditionsFollowTheBoundingSet() {
        let plain = DefaultProfile.seccomp(for: ["CAP_KILL", "CAP_NET_BIND_SERVICE"])
        func allowed(_ profile: OCISeccomp, _ name: String) -> Bool {
            profile.syscalls!.contains { $0.names.contains(name) && $0.action == "SCMP_ACT_ALLOW" && $0.args == nil }
        }
        #expect(plain.defaultAction == "SCMP_ACT_ERRNO" && plain.defaultErrnoRet == 1)
        #expect(!allowed(plain, "mount") && !allowed(plain, "unshare") && !allowed(plain, "setns") && !allowed(plain, "bpf"))
        #expect(!allowed(plain, "finit_module") && !allowed(plain, "keyctl") && !allowed(plain, "clone"))
        #expect(plain.syscalls!.contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" && $0.errnoRet == 38 })
        #expect(plain.syscalls!.contains { $0.names == ["clone"] && $0.args?.first?.op == "SCMP_CMP_MASKED_EQ" })
        #expect(allowed(plain, "ptrace"))  // kernel >= 4.8
        let admin = DefaultProfile.seccomp(for: ["CAP_SYS_ADMIN"])
        #expect(allowed(admin, "mount") && allowed(admin, "clone") && allowed(admin, "clone3"))
        #expect(!admin.syscalls!.contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" })
        #expect(plain.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] || DefaultProfile.nativeArchitecture != "SCMP_ARCH_X86_64")
        let old = DefaultProfile.seccomp(for: [], architecture: "SCMP_ARCH_X86_64", kernel: (4, 4))
        #expect(!allowed(old, "ptrace"))
    }
}

@Suite("Capabilities")
struct CapabilityTests {
    @Test func namesBecomeBits() throws {
        let caps = OCIProcess.Capabilities(bounding: ["CAP_KILL", "CAP_SYS_ADMIN"], effective: ["CAP_KILL"], inheritable: ["CAP_KILL"],
                                           permitted: ["CAP_KILL", "CAP_SYS_ADMIN"], ambient: ["CAP_KILL", "CAP_SYS_ADMIN"])
        let masks = try #require(try CapabilityParser.masks(caps, file: "f"))
        #expect(masks.bounding == 1 << 5 | 1 << 21)
        #expect(masks.effective == 1 << 5)
        #expect(masks.ambient == 1 << 5, "ambient needs permitted and inheritable")
        #expect(CapabilityParser.names(masks.bounding) == ["CAP_KILL", "CAP_SYS_ADMIN"])
        #expect(try CapabilityParser.masks(nil, file: "f") == nil)
        #expect(CapabilityParser.defaultNames.allSatisfy { CapabilityParser.number($0) != nil })
    }

    @Test(arguments: ["CAP_NOPE", "cap_kill", "KILL", "CAP_", "CAP_12"])
    func unknownNamesAreErrors(name: String) {
        let caps = OCIProcess.Capabilities(bounding: ["CAP_KILL", "CAP_CHOWN", name])
        #expect(throws: SpecError(file: "/b/config.json", field: "process.capabilities.bounding[2]", value: name, reason: "unknown capability")) {
            try CapabilityParser.masks(caps, file: "/b/config.json")
        }
    }
}

@Suite("Seccomp cache")
struct SeccompCacheTests {
    @Test func aCachedProgramIsTheCompiledOneAndAChangedProfileMisses() throws {
        var template = Array("/tmp/pv-seccomp-cache-XXXXXX".utf8CString)
        let base = String(cString: try #require(mkdtemp(&template)))
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = base + "/cache"
        let profile = DefaultProfile.seccomp(for: ["CAP_KILL"])
        let fresh = try SeccompCompiler.compile(profile, file: "f", cacheDirectory: directory)
        let cached = try SeccompCompiler.compile(profile, file: "f", cacheDirectory: directory)
        // One entry for one profile: the second compile was answered from it (its speed is benchmarked
        // by Scripts/bench-seccomp, not timed here).
        #expect(cached.program == fresh.program && cached.flags == fresh.flags)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count == 1)
        var other = profile
        other.syscalls![0].names.removeFirst()
        #expect(try SeccompCompiler.compile(other, file: "f", cacheDirectory: directory).program != fresh.program)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count == 2)
        // A directory others can write to is not trusted.
        chmod(directory, 0o777)
        #expect(try SeccompCompiler.compile(profile, file: "f", cacheDirectory: directory).program == fresh.program)
    }
}
