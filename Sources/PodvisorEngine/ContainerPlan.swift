import CLinux
import Glibc
import PodvisorLinux
import PodvisorSecurity
import PodvisorSpawn
import PodvisorSpec

/// Translates a validated OCI config into what the engine executes: the child's spawn plan and
/// the cgroup's resources. Pure apart from reading the runtime's own rlimits and capabilities.
struct ContainerPlan {
    var spawn: SpawnPlan
    var resources: CgroupResources
    var rootfs: String

    /// `seccompCache`: a private directory for compiled seccomp programs (the runtime's state root
    /// is the place: `<root>/seccomp-cache`); nil compiles with libseccomp on every create.
    init(config: OCIConfig, bundle: String, configFile: String, cgroupMode: CgroupMode, seccompCache: String? = nil) throws(EngineError) {
        guard let process = config.process, let args = process.args, !args.isEmpty else {
            throw .spec(SpecError(file: configFile, field: "process.args", value: nil, reason: "a command is required"))
        }
        let linux = config.linux ?? OCILinux()
        let rootPath = config.root?.path ?? "rootfs"
        rootfs = rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath
        guard FileIO.isDirectory(rootfs) else {
            throw .spec(SpecError(file: configFile, field: "root.path", value: rootPath, reason: "no such directory: \(rootfs)"))
        }
        resources = Self.resources(linux.resources)

        var plan = SpawnPlan(argv: args)
        plan.environment = process.env ?? []
        plan.cwd = process.cwd
        plan.uid = process.user.uid
        plan.gid = process.user.gid
        plan.additionalGids = process.user.additionalGids ?? []
        plan.umask = Int32(process.user.umask ?? 0o022)
        plan.noNewPrivileges = process.noNewPrivileges ?? false
        plan.oomScoreAdj = process.oomScoreAdj.map { Int32($0) }
        plan.rlimits = try Self.rlimits(process.rlimits ?? [], file: configFile, inUserNamespace: linux.namespaces?.contains { $0.type == "user" } ?? false)
        try Self.addNamespaces(linux.namespaces ?? [], to: &plan, file: configFile)
        plan.uidMappings = try Self.idMappings(linux.uidMappings, field: "linux.uidMappings", file: configFile)
        plan.gidMappings = try Self.idMappings(linux.gidMappings, field: "linux.gidMappings", file: configFile)
        if plan.newNamespaces.contains(.user) { plan.additionalGids = process.user.additionalGids }
        plan.timeOffsets = Self.timeOffsets(linux.timeOffsets)

        plan.rootfs = rootfs
        plan.readonlyRoot = config.root?.readonly ?? false
        if let name = linux.rootfsPropagation { plan.rootfsPropagation = MountOptions.propagationTable[name] ?? plan.rootfsPropagation }
        plan.mounts = (config.mounts ?? []).map { Self.mount($0, bundle: bundle, cgroupMode: cgroupMode) }
        // /dev gets the default nodes unless the host's /dev is bound in whole.
        plan.createDefaultDevices = !plan.mounts.contains { $0.destination == "/dev" && $0.flags & MountFlag.bind != 0 }
        plan.maskedPaths = linux.maskedPaths ?? []
        plan.readonlyPaths = linux.readonlyPaths ?? []
        plan.hostname = config.hostname
        plan.domainname = config.domainname
        plan.sysctls = (linux.sysctl ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        try Self.addSecurity(process: process, seccomp: linux.seccomp, cache: seccompCache, to: &plan, file: configFile)
        spawn = plan
    }

    /// Capability sets (absent: inherited, as runc) and the seccomp filter, compiled here in the
    /// parent once per create; the child only loads the bytes.
    private static func addSecurity(process: OCIProcess, seccomp: OCISeccomp?, cache: String?, to plan: inout SpawnPlan, file: String) throws(EngineError) {
        do {
            if let sets = try CapabilityParser.masks(process.capabilities, file: file) { plan.capabilities = sets }
            if let seccomp {
                let compiled = try SeccompCompiler.compile(seccomp, file: file, cacheDirectory: cache)
                plan.seccompProgram = compiled.program
                plan.seccompFlags = compiled.flags
            }
        } catch {
            throw .spec(error)
        }
    }

    /// uid_map/gid_map lines; the kernel refuses empty and overlapping ranges with a bare EINVAL
    /// when the parent writes them, so they are refused here with the field instead.
    private static func idMappings(_ mappings: [OCILinux.IDMapping]?, field: String, file: String) throws(EngineError) -> [IDMapping] {
        let list = mappings ?? []
        func overlap(_ a: UInt32, _ b: UInt32, _ sizeA: UInt32, _ sizeB: UInt32) -> Bool {
            UInt64(a) < UInt64(b) + UInt64(sizeB) && UInt64(b) < UInt64(a) + UInt64(sizeA)
        }
        for (index, m) in list.enumerated() {
            let text = "\(m.containerID) \(m.hostID) \(m.size)"
            if m.size == 0 {
                throw .spec(SpecError(file: file, field: "\(field)[\(index)].size", value: "0", reason: "must be greater than 0"))
            }
            if UInt64(m.containerID) + UInt64(m.size) > UInt64(UInt32.max) || UInt64(m.hostID) + UInt64(m.size) > UInt64(UInt32.max) {
                throw .spec(SpecError(file: file, field: "\(field)[\(index)]", value: text, reason: "range beyond 4294967295"))
            }
            for (earlier, other) in list.prefix(index).enumerated() {
                if overlap(m.containerID, other.containerID, m.size, other.size) || overlap(m.hostID, other.hostID, m.size, other.size) {
                    throw .spec(SpecError(file: file, field: "\(field)[\(index)]", value: text, reason: "overlaps \(field)[\(earlier)]"))
                }
            }
        }
        return list.map { IDMapping(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) }
    }

    private static func addNamespaces(_ namespaces: [OCILinux.Namespace], to plan: inout SpawnPlan, file: String) throws(EngineError) {
        for (index, namespace) in namespaces.enumerated() {
            guard let kind = NamespaceKind(ociType: namespace.type) else {
                throw .spec(SpecError(file: file, field: "linux.namespaces[\(index)].type", value: namespace.type, reason: "unknown namespace type"))
            }
            if let path = namespace.path, !path.isEmpty {
                guard FileIO.exists(path) else {
                    throw .spec(SpecError(file: file, field: "linux.namespaces[\(index)].path", value: path, reason: "no such namespace file"))
                }
                plan.joinNamespaces.append((kind, path))
            } else {
                plan.newNamespaces.insert(kind)
            }
        }
    }

    /// Limits are set in the child, but a hard limit above our own can only be set with
    /// CAP_SYS_RESOURCE in the initial user namespace: refuse it here, naming the field.
    private static func rlimits(_ limits: [OCIProcess.Rlimit], file: String, inUserNamespace: Bool) throws(EngineError) -> [ResourceLimit] {
        let canRaise = !inUserNamespace && pv_has_effective_capability(24) != 0  // CAP_SYS_RESOURCE
        var result: [ResourceLimit] = []
        for (index, limit) in limits.enumerated() {
            guard let type = RlimitType(rawValue: limit.type) else {
                throw .spec(SpecError(file: file, field: "process.rlimits[\(index)].type", value: limit.type, reason: "unknown rlimit type"))
            }
            var current = rlimit()
            getrlimit(__rlimit_resource_t(UInt32(type.resource)), &current)
            if !canRaise, current.rlim_max != rlim_t.max, limit.hard > current.rlim_max {
                throw .spec(SpecError(file: file, field: "process.rlimits[\(index)].hard", value: String(limit.hard),
                                      reason: "above the runtime's hard limit \(current.rlim_max) for \(limit.type), which cannot be raised without CAP_SYS_RESOURCE"))
            }
            result.append(ResourceLimit(resource: type.resource, soft: limit.soft, hard: limit.hard))
        }
        return result
    }

    private static func mount(_ mount: OCIMount, bundle: String, cgroupMode: CgroupMode) -> MountPlan {
        let options = MountOptions.parse(mount.options ?? [])
        var flags = options.flags
        var fstype = mount.type
        var source = mount.source
        if mount.type == "bind" || options.isBind {
            flags |= MountFlag.bind
            fstype = nil
            if let path = source, !path.hasPrefix("/") { source = bundle + "/" + path }
        } else if mount.type == "cgroup" || mount.type == "cgroup2" {
            // A container sees its own cgroup through its cgroup namespace: cgroup2 on a unified host.
            // On hybrid and legacy hosts `expandCgroupMount` replaces this with the v1 layout.
            fstype = "cgroup2"
            source = fstype
        }
        let data = options.dataString
        return MountPlan(source: source, destination: mount.destination, fstype: fstype,
                         data: data.isEmpty ? nil : data, flags: flags, propagation: options.propagation.last ?? 0)
    }

    /// On hybrid and legacy hosts, the config's cgroup mount becomes what runc shows there: a tmpfs at the
    /// destination with the container's own v1 cgroup directories bound at <destination>/<controller>, and
    /// (hybrid) its cgroup2 view at <destination>/unified. Called once the cgroup exists.
    mutating func expandCgroupMount(location: CgroupLocation, mode: CgroupMode) {
        guard mode != .unified, let index = spawn.mounts.firstIndex(where: { $0.fstype == "cgroup2" }) else { return }
        let cgroup = spawn.mounts[index]
        let base = cgroup.destination.hasSuffix("/") ? String(cgroup.destination.dropLast()) : cgroup.destination
        let flags = cgroup.flags & ~UInt(MS_RDONLY)
        var layout = [MountPlan(source: "tmpfs", destination: base, fstype: "tmpfs", data: "mode=755", flags: flags)]
        for (controller, directory) in location.v1.sorted(by: { $0.key < $1.key }) {
            layout.append(MountPlan(source: directory, destination: base + "/" + controller, fstype: nil,
                                    flags: MountFlag.bind | cgroup.flags))
        }
        if mode == .hybrid {
            layout.append(MountPlan(source: "cgroup2", destination: base + "/unified", fstype: "cgroup2", flags: cgroup.flags))
        }
        if cgroup.flags & UInt(MS_RDONLY) != 0 {
            // With everything in place, the tmpfs itself becomes read-only too, as runc leaves it.
            layout.append(MountPlan(source: "tmpfs", destination: base, fstype: "tmpfs", data: "mode=755",
                                    flags: UInt(MS_REMOUNT) | cgroup.flags))
        }
        spawn.mounts.replaceSubrange(index...index, with: layout)
    }

    private static func timeOffsets(_ offsets: [String: OCILinux.TimeOffset]?) -> String? {
        guard let offsets, !offsets.isEmpty else { return nil }
        return offsets.sorted { $0.key < $1.key }
            .map { "\($0.key) \($0.value.secs ?? 0) \($0.value.nanosecs ?? 0)\n" }.joined()
    }

    static func resources(_ oci: OCIResources?) -> CgroupResources {
        var r = CgroupResources()
        guard let oci else { return r }
        r.memoryMax = oci.memory?.limit
        r.memoryReservation = oci.memory?.reservation
        r.memorySwapMax = oci.memory?.swap
        r.cpuQuota = oci.cpu?.quota
        r.cpuPeriod = oci.cpu?.period
        r.cpuShares = oci.cpu?.shares
        r.cpusetCpus = oci.cpu?.cpus.flatMap { $0.isEmpty ? nil : $0 }
        r.cpusetMems = oci.cpu?.mems.flatMap { $0.isEmpty ? nil : $0 }
        r.pidsMax = oci.pids.map { $0.limit }
        r.ioWeight = oci.blockIO?.weight
        r.ioMax = Self.ioLimits(oci.blockIO)
        r.unified = oci.unified ?? [:]
        return r
    }

    private static func ioLimits(_ blockIO: OCIResources.BlockIO?) -> [IOLimit] {
        guard let blockIO else { return [] }
        var limits: [String: IOLimit] = [:]
        func update(_ devices: [OCIResources.ThrottleDevice]?, _ set: (inout IOLimit, UInt64) -> Void) {
            for device in devices ?? [] {
                let key = "\(device.major):\(device.minor)"
                var limit = limits[key] ?? IOLimit(major: device.major, minor: device.minor)
                set(&limit, device.rate)
                limits[key] = limit
            }
        }
        update(blockIO.throttleReadBpsDevice) { $0.readBps = $1 }
        update(blockIO.throttleWriteBpsDevice) { $0.writeBps = $1 }
        update(blockIO.throttleReadIOPSDevice) { $0.readIops = $1 }
        update(blockIO.throttleWriteIOPSDevice) { $0.writeIops = $1 }
        return limits.keys.sorted().compactMap { limits[$0] }
    }
}

extension NamespaceKind {
    /// The runtime spec's names ("network", "mount"...).
    init?(ociType: String) { self.init(rawValue: ociType) }
}
