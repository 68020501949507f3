// The library product: one import for programs that embed Podvisor.
@_exported import PodvisorEngine
@_exported import PodvisorLinux
@_exported import PodvisorSpawn
@_exported import PodvisorSpec
