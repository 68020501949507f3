/// A config.json as podman 4.x generates it for
/// `podman run --memory 512m --pids-limit 2048 --hooks-dir ... alpine sleep 1000`,
/// trimmed, plus one key from a future spec version (must be ignored).
let podmanConfig = #"""
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "user": { "uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 3, 4, 6, 10, 11, 20, 26, 27] },
    "args": ["sleep", "1000"],
    "env": [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "TERM=xterm",
      "container=podman",
      "HOSTNAME=5b0a3c4e9d1f",
      "HOME=/root"
    ],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
      "effective": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"],
      "permitted": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
    },
    "rlimits": [
      { "type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576 },
      { "type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304 }
    ],
    "oomScoreAdj": 0,
    "selinuxLabel": "system_u:system_r:container_t:s0:c25,c614",
    "apparmorProfile": "containers-default-0.50.1",
    "noNewPrivileges": false
  },
  "root": { "path": "/var/lib/containers/storage/overlay/2f4c/merged" },
  "hostname": "5b0a3c4e9d1f",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"] },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nodev", "noexec", "nosuid"] },
    { "destination": "/etc/hostname", "type": "bind", "source": "/run/containers/storage/overlay-containers/5b0a/userdata/hostname", "options": ["bind", "rprivate"] },
    { "destination": "/etc/resolv.conf", "type": "bind", "source": "/run/containers/storage/overlay-containers/5b0a/userdata/resolv.conf", "options": ["bind", "rprivate"] },
    { "destination": "/dev/shm", "type": "bind", "source": "/var/lib/containers/storage/overlay-containers/5b0a/userdata/shm", "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "hooks": {
    "prestart": [ { "path": "/usr/libexec/oci/hooks.d/oci-systemd-hook", "args": ["oci-systemd-hook", "prestart"], "env": ["stage=prestart"], "timeout": 10 } ],
    "createRuntime": [ { "path": "/usr/bin/nvidia-container-runtime-hook", "args": ["nvidia-container-runtime-hook", "prestart"] } ],
    "poststop": [ { "path": "/usr/libexec/podman/conmon", "args": ["conmon", "--exit-command"] } ]
  },
  "annotations": {
    "io.container.manager": "libpod",
    "io.kubernetes.cri-o.Created": "2024-03-01T10:15:30.123456789Z",
    "org.opencontainers.image.stopSignal": "15",
    "org.systemd.property.KillSignal": "15"
  },
  "linux": {
    "sysctl": { "net.ipv4.ping_group_range": "0 0", "kernel.shmmax": "68719476736" },
    "resources": {
      "devices": [
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" },
        { "allow": true, "type": "c", "major": 136, "access": "rwm" }
      ],
      "memory": { "limit": 536870912, "swap": 1073741824, "reservation": -1, "disableOOMKiller": false },
      "cpu": { "shares": 1024, "quota": 150000, "period": 100000, "cpus": "0-3", "mems": "0" },
      "pids": { "limit": 2048 },
      "blockIO": {
        "weight": 500,
        "weightDevice": [ { "major": 8, "minor": 0, "weight": 300 } ],
        "throttleReadBpsDevice": [ { "major": 8, "minor": 0, "rate": 104857600 } ],
        "throttleWriteIOPSDevice": [ { "major": 8, "minor": 0, "rate": 1000 } ]
      },
      "hugepageLimits": [ { "pageSize": "2MB", "limit": 209715200 } ],
      "network": { "classID": 1048577, "priorities": [ { "name": "eth0", "priority": 500 } ] },
      "unified": { "memory.high": "400M", "io.weight": "default 100" }
    },
    "cgroupsPath": "machine.slice:libpod:5b0a3c4e9d1f",
    "namespaces": [
      { "type": "pid" }, { "type": "network", "path": "/run/netns/netns-1b2c" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
    ],
    "devices": [ { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0 } ],
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "syscalls": [
        { "names": ["accept", "accept4", "access", "read", "write"], "action": "SCMP_ACT_ALLOW" },
        { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ" } ] },
        { "names": ["clone"], "action": "SCMP_ACT_ALLOW",
          "args": [ { "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" } ] },
        { "names": ["bdflush"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 },
        { "names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [ { "index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_NE" } ] }
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block"],
    "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    "mountLabel": "system_u:object_r:container_file_t:s0:c25,c614",
    "futureFeature": { "enabled": true }
  }
}
"""#
