// The library product: one import for programs that embed Podvisor.
@_exported import PodvisorAutoscaler
@_exported import PodvisorEngine
@_exported import PodvisorManifest
@_exported import PodvisorPod
@_exported import PodvisorSecurity
@_exported import PodvisorLinux
@_exported import PodvisorSpawn
@_exported import PodvisorSpec
@_exported import PodvisorSupervisor
