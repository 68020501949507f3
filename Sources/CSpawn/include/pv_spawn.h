// The child side of clone, as one flat plan.
//
// Swift prepares a `pv_spawn_plan` (every pointer valid for the duration of `pv_spawn`), and
// `pv_spawn` clones. The child executes the plan with async-signal-safe system calls only: after
// clone in a multithreaded process no Swift runtime code, no malloc and no locks may run.
//
// The child reports over `report_fd` (CLOEXEC) with fixed-size `pv_report` records:
//   PV_REPORT_PID    the payload's pid when the child forked once more (joined pid or time namespace)
//   PV_REPORT_READY  the container is set up and waits on its exec fifo (create)
//   PV_REPORT_ERROR  a step failed: `step` names it ("pivot_root(/run/x/rootfs)"), `err` is errno
// End of file without ERROR means execve succeeded (the pipe closed on exec).
#ifndef PODVISOR_PV_SPAWN_H
#define PODVISOR_PV_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#define PV_REPORT_ERROR 1
#define PV_REPORT_READY 2
#define PV_REPORT_PID 3
#define PV_STEP_MAX 240

struct pv_report {
    int32_t kind;
    int32_t err;
    int32_t pid;
    char step[PV_STEP_MAX];
};

struct pv_mount {
    const char *source;       // may be NULL (tmpfs, proc...)
    const char *destination;  // absolute path inside the container
    const char *fstype;       // NULL for binds
    const char *data;         // filesystem data ("mode=755,size=65536k"), may be NULL
    unsigned long flags;      // MS_* flags, propagation excluded
    unsigned long propagation;// MS_PRIVATE|MS_SLAVE|MS_SHARED|MS_UNBINDABLE, maybe | MS_REC; 0 = leave
};

struct pv_rlimit {
    int resource;
    uint64_t soft;
    uint64_t hard;
};

struct pv_namespace_join {
    int fd;      // open fd of /proc/PID/ns/TYPE or a bind-mounted namespace file
    int nstype;  // CLONE_NEW* of that namespace
};

struct pv_fd_mapping {
    int from;  // an fd of the parent
    int to;    // the number it gets in the payload (dup2; stays open across exec)
};

struct pv_spawn_plan {
    /* Process creation. */
    uint64_t clone_flags;           // CLONE_NEW* created by clone itself
    uint64_t unshare_flags;         // CLONE_NEW* unshared by the child (cgroup after placement; pid/time before the extra fork)
    int cgroup_fd;                  // CLONE_INTO_CGROUP target, -1 = none
    const struct pv_namespace_join *joins;
    int join_count;                 // joined in this order (user first)
    int fork_after_setup_ns;        // fork once more so the payload is inside a joined/unshared pid or time namespace
    const char *time_offsets;       // written to /proc/self/timens_offsets after unsharing CLONE_NEWTIME, may be NULL
    int become_root_in_userns;      // setresuid/setresgid(0) after the parent wrote the id maps
    int die_with_parent;            // PR_SET_PDEATHSIG SIGKILL (pool instances)
    int new_session;                // setsid()
    int init_loop;                  // run no program: be a pid 1 that holds the namespaces and reaps orphans (pod sandbox)
    int listen_pid_env_index;       // envp[i] becomes "LISTEN_PID=<own pid>" (socket activation); -1 = none

    /* Synchronisation with the parent. */
    int sync_fd;                    // read one byte before anything else: id maps written, cgroups placed
    int report_fd;                  // pv_report records; CLOEXEC
    int exec_fifo_fd;               // O_PATH fd of exec.fifo: wait there for `start`; -1 = exec at once

    /* Root filesystem. */
    const char *rootfs;             // absolute host path; NULL = no new root
    unsigned long rootfs_propagation;
    int readonly_root;
    const struct pv_mount *mounts;
    int mount_count;
    int create_default_devices;     // populate /dev with null, zero, full, random, urandom, tty and the symlinks
    int bind_default_devices;       // ...by bind-mounting the host's nodes (user namespaces cannot mknod)
    const char *const *masked_paths;
    int masked_count;
    const char *const *readonly_paths;
    int readonly_count;

    /* Identity and environment of the payload. */
    const char *hostname;           // NULL = leave
    const char *domainname;         // NULL = leave
    const char *const *sysctl_keys; // "net.ipv4.ip_forward" style
    const char *const *sysctl_values;
    int sysctl_count;
    const struct pv_rlimit *rlimits;
    int rlimit_count;
    int set_oom_score_adj;
    int oom_score_adj;
    uint32_t uid;
    uint32_t gid;
    int set_groups;                 // call setgroups(group_count, groups)
    const uint32_t *groups;
    int group_count;
    int umask;                      // -1 = leave
    const char *cwd;                // NULL = leave
    int no_new_privs;
    const struct pv_fd_mapping *fd_mappings;
    int fd_mapping_count;
    int keep_fds;                   // fds below this survive exec; every other one is made CLOEXEC
    const char *const *argv;        // argv[0] is looked up in the payload's PATH when it has no slash
    const char *const *envp;

    /* Security, applied last: capabilities around setuid, seccomp as late as it can be. */
    int set_capabilities;           // 0 = leave the capability sets as inherited
    uint64_t cap_bounding;          // bit N = capability N
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint64_t cap_ambient;
    const void *seccomp_program;    // struct sock_filter[seccomp_length], compiled by the parent; NULL = none
    unsigned short seccomp_length;
    unsigned int seccomp_flags;     // SECCOMP_FILTER_FLAG_*
};

/// Clones a child that executes `plan`. Returns the child's pid (and its pidfd in *pidfd, or -1),
/// or -1 with errno set. *placed_in_cgroup tells whether CLONE_INTO_CGROUP took effect; when it did
/// not, the parent must write the pid into cgroup.procs before releasing the child.
pid_t pv_spawn(const struct pv_spawn_plan *plan, int *pidfd, int *placed_in_cgroup);

#endif
