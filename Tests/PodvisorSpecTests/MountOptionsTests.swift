import Testing
@testable import PodvisorSpec

@Suite struct MountOptionsTests {
    @Test func flagsSetAndClearInOrder() {
        let o = MountOptions.parse(["nosuid", "noexec", "nodev", "ro", "rw", "strictatime", "mode=755", "size=65536k"])
        #expect(o.flags == MountFlag.nosuid | MountFlag.noexec | MountFlag.nodev | MountFlag.strictatime)
        #expect(o.flags == 0x2 | 0x8 | 0x4 | 0x100_0000)
        #expect(o.data == ["mode=755", "size=65536k"])
        #expect(o.dataString == "mode=755,size=65536k")
        #expect(o.propagation.isEmpty)
    }

    @Test func bindAndPropagation() {
        let o = MountOptions.parse(["rbind", "rprivate", "ro", "shared"])
        #expect(o.isBind && o.isRecursiveBind)
        #expect(o.flags == 0x1000 | 0x4000 | 0x1)
        #expect(o.propagation == [0x4_0000 | 0x4000, 0x10_0000])
        #expect(!MountOptions.parse(["bind"]).isRecursiveBind)
    }

    @Test func clearingOptionsRemoveEarlierFlags() {
        let o = MountOptions.parse(["nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime", "atime", "sync", "async",
                                    "mand", "nomand", "nodiratime", "diratime", "relatime", "norelatime", "defaults"])
        #expect(o.flags == 0)
        #expect(MountOptions.parse(["remount", "dirsync", "mand"]).flags == 0x20 | 0x80 | 0x40)
        #expect(MountOptions.parse(["unbindable", "runbindable", "slave", "rslave"]).propagation
            == [0x2_0000, 0x2_0000 | 0x4000, 0x8_0000, 0x8_0000 | 0x4000])
    }

    @Test func recursiveAttributesAndExtensions() {
        let o = MountOptions.parse(["rbind", "rro", "rnosuid", "rnoatime", "rexec", "ridmap", "newinstance"])
        #expect(o.recursiveAttrSet == MountAttr.rdonly | MountAttr.nosuid | MountAttr.noatime)
        #expect(o.recursiveAttrClear == MountAttr.atimeMask | MountAttr.noexec)
        #expect(o.idmap && o.recursiveIdmap)
        #expect(o.data == ["newinstance"])
        #expect(MountOptions.isKnownFlag("rslave") && MountOptions.isKnownFlag("rro") && !MountOptions.isKnownFlag("mode=1777"))
    }
}
