// swift-tools-version: 6.1
import PackageDescription

// Module map (docs/ARCHITECTURE.md has the process chain):
//   CSpawn          C: the child side of clone, executes a flat plan; no Swift runs there.
//   PodvisorSpec    OCI config/state types, parsing and validation with field-path errors.
//   PodvisorManifest the pod bundle manifest (YAML through Yams), kept apart so the OCI path
//                   never loads full Foundation.
//   CSeccomp, CCap  system libraries libseccomp and libcap (Debian's -dev packages).
//   PodvisorSecurity seccomp profiles compiled to BPF in the parent, capability sets, default profile.
//   PodvisorAutoscaler a pure scaling policy, a PSI/cpu.stat sampler, recording and plots.
//   PodvisorSupervisor OTP supervision as a pure state machine: strategies, intensity, backoff, ordering.
//   PodvisorPod     the pod runtime: sandbox, pools, socket activation, the supervising event loop,
//                   the control socket and the pod store.
//   CLinux          C shims for syscalls Swift's Glibc module lacks (pidfd, close_range...).
//   PodvisorLinux   Linux primitives: syscalls, pidfd, signals, cgroups (v2 + hybrid v1), PSI.
//   PodvisorSpawn   builds the flat C plan from Swift values, clones, reads the child's report.
//   PodvisorEngine  container lifecycle: state store, create/start/kill/delete/run.
//   PodvisorCLI     the runc-compatible command line (swift-argument-parser).
//   Podvisor        the library product for embedding (re-exports the above).
let package = Package(
    name: "podvisor",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Podvisor", targets: ["Podvisor"]),
        .executable(name: "podvisor", targets: ["podvisor"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .target(name: "CLinux"),
        .target(name: "CSpawn"),
        .target(name: "PodvisorSpec"),
        .target(name: "PodvisorManifest", dependencies: ["PodvisorSpec", .product(name: "Yams", package: "Yams")]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .target(name: "PodvisorSecurity", dependencies: ["CSeccomp", "CCap", "PodvisorSpec", "PodvisorSpawn"]),
        .target(name: "PodvisorAutoscaler", dependencies: ["PodvisorLinux"]),
        .target(name: "PodvisorSupervisor", dependencies: ["PodvisorManifest"]),
        .target(name: "PodvisorPod", dependencies: [
            "PodvisorManifest", "PodvisorSupervisor", "PodvisorSpawn", "PodvisorLinux", "PodvisorAutoscaler", "CLinux",
            "PodvisorSecurity",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .target(name: "PodvisorLinux", dependencies: ["CLinux"]),
        .target(name: "PodvisorSpawn", dependencies: ["CSpawn", "CLinux", "PodvisorLinux"]),
        .target(name: "PodvisorEngine", dependencies: ["PodvisorSpec", "PodvisorLinux", "PodvisorSpawn", "PodvisorSecurity"]),
        .target(name: "Podvisor", dependencies: [
            "PodvisorSpec", "PodvisorLinux", "PodvisorSpawn", "PodvisorEngine", "PodvisorManifest", "PodvisorPod",
            "PodvisorSecurity", "PodvisorSupervisor", "PodvisorAutoscaler",
        ]),
        .target(name: "PodvisorCLI", dependencies: [
            "PodvisorEngine", "PodvisorSpec", "PodvisorLinux", "PodvisorPod", "PodvisorManifest", "PodvisorAutoscaler",
            "PodvisorSecurity", "PodvisorSpawn",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Release builds link without PIE: a static PIE of this size applies ~80,000 relocations at every
        // exec (0.9 ms of each container operation, measured). The runtime is short-lived, executes nothing
        // from the container, and is memory-safe Swift apart from the C child; docs/BENCHMARKS.md.
        .executableTarget(name: "podvisor", dependencies: ["PodvisorCLI"], linkerSettings: [
            .unsafeFlags(["-Xclang-linker", "-no-pie"], .when(configuration: .release)),
        ]),
        .testTarget(name: "PodvisorSpecTests", dependencies: ["PodvisorSpec"]),
        .testTarget(name: "PodvisorManifestTests", dependencies: ["PodvisorManifest"]),
        .testTarget(name: "PodvisorSecurityTests", dependencies: ["PodvisorSecurity", "PodvisorSpec"]),
        .testTarget(name: "PodvisorAutoscalerTests", dependencies: ["PodvisorAutoscaler", "PodvisorLinux"]),
        .testTarget(name: "PodvisorSupervisorTests", dependencies: ["PodvisorSupervisor", "PodvisorManifest"]),
        .testTarget(name: "PodvisorPodTests", dependencies: [
            "PodvisorPod", "PodvisorManifest", "PodvisorLinux", "PodvisorEngine", "PodvisorSpec",
        ]),
        .testTarget(name: "PodvisorLinuxTests", dependencies: ["PodvisorLinux"]),
        .testTarget(name: "PodvisorSpawnTests", dependencies: ["PodvisorSpawn", "PodvisorLinux"]),
        .testTarget(name: "PodvisorEngineTests", dependencies: ["PodvisorEngine", "PodvisorSpec", "PodvisorLinux", "PodvisorSecurity"]),
        .testTarget(name: "PodvisorCLITests", dependencies: ["PodvisorSpec", "PodvisorLinux"]),
    ]
)
