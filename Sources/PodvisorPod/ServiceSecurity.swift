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

    init(_ service: ServiceSpec, index: Int, manifestFile: String, cacheDirectory: String) throws(PodError) {
        let names = service.security.capabilities ?? CapabilityParser.defaultNames
        let field = "services[\(index)].security.capabilities"
        let sets = OCIProcess.Capabilities(bounding: names, effective: names, inheritable: [], permitted: names, ambient: [])
        let parsed: CapabilitySets?
        do throws(SpecError) {
            parsed = try CapabilityParser.masks(sets, file: manifestFile)
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
            // The parser names a config.json's process.capabilities.<set>[i]: name the manifest's key, same element.
            let element = error.field.flatMap { field in field.lastIndex(of: "[").map { String(field[$0...]) } } ?? ""
            throw PodError("\(manifestFile): \(field)\(element): \(error.value.map { "\"\($0)\": " } ?? "")\(error.reason)")
        }
        capabilities = parsed ?? CapabilitySets()
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
    /// Every namespace of a running instance, to run something inside it (pod exec, readiness checks).
    static func namespaces(of pid: Int32) -> [(kind: NamespaceKind, path: String)] {
        [NamespaceKind.pid, .network, .ipc, .uts, .cgroup, .mount].map { ($0, "/proc/\(pid)/ns/\($0.procName)") }
    }

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
        plan.joinNamespaces = namespaces(of: instancePID)
        plan.uid = spec.user.uid
        plan.gid = spec.user.gid
        plan.cwd = spec.cwd
        let index = manifest.services.firstIndex { $0.name == service } ?? 0
        try ServiceSecurity(spec, index: index, manifestFile: record.bundle + "/pod.yaml", cacheDirectory: root + "/seccomp-cache")
            .apply(to: &plan)
        return plan
    }
}
