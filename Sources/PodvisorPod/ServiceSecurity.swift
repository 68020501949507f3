import Glibc
import PodvisorManifest
import PodvisorSecurity
import PodvisorSpawn
import PodvisorSpec

/// A service's confinement, compiled once when the pod is loaded (so that a bad capability name fails
/// `pod up` before anything exists) and applied to each of its instances: the capability sets and the
/// seccomp program (cached under the pod store, as the OCI path does) and no_new_privs.
struct ServiceSecurity {
    let capabilities: CapabilitySets
    let seccomp: CompiledSeccomp?
    let noNewPrivileges: Bool

    init(_ service: ServiceSpec, manifestFile: String, cacheDirectory: String) throws(PodError) {
        let names = service.security.capabilities ?? CapabilityParser.defaultNames
        let field = "services.\(service.name).security.capabilities"
        let sets = OCIProcess.Capabilities(bounding: names, effective: names, inheritable: [], permitted: names, ambient: [])
        let masks: CapabilityMasks?
        do throws(SpecError) {
            masks = try CapabilityParser.masks(sets, file: manifestFile)
            switch service.security.seccomp {
            case .default:
                // Native architecture only: a third of the filter the three x86 ABIs need (every instance loads
                // it, and the kernel validates and compiles it each time), and other ABIs' syscalls fail.
                var profile = DefaultProfile.seccomp(for: names)
                if let native = Self.nativeArchitecture { profile.architectures = [native] }
                seccomp = try SeccompCompiler.compile(profile, file: manifestFile, cacheDirectory: cacheDirectory)
            case .unconfined:
                seccomp = nil
            }
        } catch {
            // The parser names process.capabilities.* fields of a config.json; say which service's key it was.
            throw PodError("\(manifestFile): \(field): \(error.value.map { "\"\($0)\": " } ?? "")\(error.reason)")
        }
        let all = masks ?? CapabilityMasks()
        capabilities = CapabilitySets(bounding: all.bounding, effective: all.effective, permitted: all.permitted,
                                      inheritable: all.inheritable, ambient: all.ambient)
        noNewPrivileges = service.security.noNewPrivileges
    }

    static let nativeArchitecture: String? = {
        var name = utsname()
        uname(&name)
        let machine = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return ["x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64", "riscv64": "SCMP_ARCH_RISCV64",
                "s390x": "SCMP_ARCH_S390X", "ppc64le": "SCMP_ARCH_PPC64LE"][machine]
    }()

    func apply(to plan: inout SpawnPlan) {
        plan.capabilities = capabilities
        plan.seccompProgram = seccomp?.program
        plan.seccompFlags = seccomp?.flags ?? 0
        plan.noNewPrivileges = noNewPrivileges
    }
}

/// `pod exec`: a process inside a running instance, confined as the instance is.
public enum InstanceExec {
    /// The plan of a command run in `pid`'s namespaces (root view included) with the service's confinement.
    public static func plan(root: String, pod: String, service: String, instancePID: Int32, command: [String]) throws(PodError) -> SpawnPlan {
        let store = PodStore(root: root)
        let record = try store.load(pod)
        let manifest: PodManifest
        do { manifest = try PodManifest.load(bundle: record.bundle) } catch { throw PodError(error.description) }
        guard let spec = manifest.service(named: service) else { throw PodError("pod \(pod) has no service \"\(service)\"") }
        var plan = SpawnPlan(argv: command)
        plan.environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "PODVISOR_POD=\(pod)", "PODVISOR_SERVICE=\(service)"] + spec.env
        plan.joinNamespaces = [NamespaceKind.pid, .network, .ipc, .uts, .cgroup, .mount].map { ($0, "/proc/\(instancePID)/ns/\($0.procName)") }
        plan.uid = spec.user.uid
        plan.gid = spec.user.gid
        plan.cwd = spec.cwd
        try ServiceSecurity(spec, manifestFile: record.bundle + "/pod.yaml", cacheDirectory: root + "/seccomp-cache").apply(to: &plan)
        return plan
    }
}
