/// Linux mount(2) flags.
public enum MountFlag {
    public static let rdonly: UInt = 0x1
    public static let nosuid: UInt = 0x2
    public static let nodev: UInt = 0x4
    public static let noexec: UInt = 0x8
    public static let synchronous: UInt = 0x10
    public static let remount: UInt = 0x20
    public static let mandlock: UInt = 0x40
    public static let dirsync: UInt = 0x80
    public static let nosymfollow: UInt = 0x100
    public static let noatime: UInt = 0x400
    public static let nodiratime: UInt = 0x800
    public static let bind: UInt = 0x1000
    public static let move: UInt = 0x2000
    public static let rec: UInt = 0x4000
    public static let silent: UInt = 0x8000
    public static let posixacl: UInt = 0x1_0000
    public static let unbindable: UInt = 0x2_0000
    public static let `private`: UInt = 0x4_0000
    public static let slave: UInt = 0x8_0000
    public static let shared: UInt = 0x10_0000
    public static let relatime: UInt = 0x20_0000
    public static let iversion: UInt = 0x80_0000
    public static let strictatime: UInt = 0x100_0000
    public static let lazytime: UInt = 0x200_0000
}

/// mount_setattr(2) MOUNT_ATTR_* values, for the recursive "r*" options.
public enum MountAttr {
    public static let rdonly: UInt64 = 0x1
    public static let nosuid: UInt64 = 0x2
    public static let nodev: UInt64 = 0x4
    public static let noexec: UInt64 = 0x8
    public static let atimeMask: UInt64 = 0x70
    public static let relatime: UInt64 = 0x0
    public static let noatime: UInt64 = 0x10
    public static let strictatime: UInt64 = 0x20
    public static let nodiratime: UInt64 = 0x80
    public static let idmap: UInt64 = 0x10_0000
    public static let nosymfollow: UInt64 = 0x20_0000
}

/// A mount's `options` split as runc does: mount(2) flags, propagation changes (applied in
/// order after the mount), recursive attributes for mount_setattr(2), and filesystem data.
public struct MountOptions: Sendable, Equatable {
    public var flags: UInt = 0
    /// Each entry is one of MS_PRIVATE/SHARED/SLAVE/UNBINDABLE, possibly | MS_REC.
    public var propagation: [UInt] = []
    /// MOUNT_ATTR_* to set / clear recursively (attr_set / attr_clr of mount_setattr with AT_RECURSIVE).
    public var recursiveAttrSet: UInt64 = 0
    public var recursiveAttrClear: UInt64 = 0
    /// "idmap" / "ridmap": use the mount's uid/gid mappings (recursively for ridmap).
    public var idmap = false
    public var recursiveIdmap = false
    /// "tmpcopyup" (a crun/runc extension for tmpfs over existing content).
    public var tmpcopyup = false
    /// Everything else, passed to the filesystem as the mount(2) data string.
    public var data: [String] = []

    public init() {}

    /// The mount(2) data argument: `data` joined with commas.
    public var dataString: String { data.joined(separator: ",") }
    public var isBind: Bool { flags & MountFlag.bind != 0 }
    public var isRecursiveBind: Bool { isBind && flags & MountFlag.rec != 0 }

    /// (clear, flag) as in runc's mountFlags table.
    static let flagTable: [String: (clear: Bool, flag: UInt)] = [
        "acl": (false, MountFlag.posixacl), "noacl": (true, MountFlag.posixacl),
        "async": (true, MountFlag.synchronous), "sync": (false, MountFlag.synchronous),
        "atime": (true, MountFlag.noatime), "noatime": (false, MountFlag.noatime),
        "bind": (false, MountFlag.bind), "rbind": (false, MountFlag.bind | MountFlag.rec),
        "defaults": (false, 0),
        "dev": (true, MountFlag.nodev), "nodev": (false, MountFlag.nodev),
        "diratime": (true, MountFlag.nodiratime), "nodiratime": (false, MountFlag.nodiratime),
        "dirsync": (false, MountFlag.dirsync),
        "exec": (true, MountFlag.noexec), "noexec": (false, MountFlag.noexec),
        "iversion": (false, MountFlag.iversion), "noiversion": (true, MountFlag.iversion),
        "lazytime": (false, MountFlag.lazytime), "nolazytime": (true, MountFlag.lazytime),
        "loud": (true, MountFlag.silent), "silent": (false, MountFlag.silent),
        "mand": (false, MountFlag.mandlock), "nomand": (true, MountFlag.mandlock),
        "relatime": (false, MountFlag.relatime), "norelatime": (true, MountFlag.relatime),
        "remount": (false, MountFlag.remount),
        "ro": (false, MountFlag.rdonly), "rw": (true, MountFlag.rdonly),
        "strictatime": (false, MountFlag.strictatime), "nostrictatime": (true, MountFlag.strictatime),
        "suid": (true, MountFlag.nosuid), "nosuid": (false, MountFlag.nosuid),
        "symfollow": (true, MountFlag.nosymfollow), "nosymfollow": (false, MountFlag.nosymfollow),
    ]

    public static let propagationTable: [String: UInt] = [
        "private": MountFlag.private, "rprivate": MountFlag.private | MountFlag.rec,
        "shared": MountFlag.shared, "rshared": MountFlag.shared | MountFlag.rec,
        "slave": MountFlag.slave, "rslave": MountFlag.slave | MountFlag.rec,
        "unbindable": MountFlag.unbindable, "runbindable": MountFlag.unbindable | MountFlag.rec,
    ]

    static let recursiveAttrTable: [String: (clear: Bool, attr: UInt64)] = [
        "rro": (false, MountAttr.rdonly), "rrw": (true, MountAttr.rdonly),
        "rnosuid": (false, MountAttr.nosuid), "rsuid": (true, MountAttr.nosuid),
        "rnodev": (false, MountAttr.nodev), "rdev": (true, MountAttr.nodev),
        "rnoexec": (false, MountAttr.noexec), "rexec": (true, MountAttr.noexec),
        "rnodiratime": (false, MountAttr.nodiratime), "rdiratime": (true, MountAttr.nodiratime),
        "rrelatime": (false, MountAttr.relatime), "rnorelatime": (true, MountAttr.relatime),
        "rnoatime": (false, MountAttr.noatime), "ratime": (true, MountAttr.noatime),
        "rstrictatime": (false, MountAttr.strictatime), "rnostrictatime": (true, MountAttr.strictatime),
        "rnosymfollow": (false, MountAttr.nosymfollow), "rsymfollow": (true, MountAttr.nosymfollow),
    ]

    /// True if `option` is a flag, propagation, recursive-attribute or extension name
    /// (anything else is filesystem data).
    public static func isKnownFlag(_ option: String) -> Bool {
        flagTable[option] != nil || propagationTable[option] != nil || recursiveAttrTable[option] != nil
            || ["idmap", "ridmap", "tmpcopyup"].contains(option)
    }

    public static func parse(_ options: [String]) -> MountOptions {
        var result = MountOptions()
        for option in options {
            if let (clear, flag) = flagTable[option] {
                if clear { result.flags &= ~flag } else { result.flags |= flag }
            } else if let flag = propagationTable[option] {
                result.propagation.append(flag)
            } else if let (clear, attr) = recursiveAttrTable[option] {
                if clear {
                    result.recursiveAttrClear |= attr
                } else {
                    result.recursiveAttrSet |= attr
                    // The atime modes are a field, not bits: mount_setattr(2) wants the whole
                    // field in attr_clr when one of them is set.
                    if attr & MountAttr.atimeMask == attr { result.recursiveAttrClear |= MountAttr.atimeMask }
                }
            } else if option == "idmap" {
                result.idmap = true
            } else if option == "ridmap" {
                result.idmap = true
                result.recursiveIdmap = true
            } else if option == "tmpcopyup" {
                result.tmpcopyup = true
            } else {
                result.data.append(option)
            }
        }
        return result
    }
}
