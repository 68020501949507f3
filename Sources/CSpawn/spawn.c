// The child side of clone: executes a pv_spawn_plan with async-signal-safe system calls only.
// Read pv_spawn.h first. The order of steps follows runc and crun (see docs/ARCHITECTURE.md).
#define _GNU_SOURCE
#include "pv_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>
#include <sys/wait.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#define PV_RESOLVE_NO_MAGICLINKS 0x02
#define PV_RESOLVE_IN_ROOT 0x10
#define PV_PROC_SUPER_MAGIC 0x9fa0

struct pv_open_how {
    uint64_t flags, mode, resolve;
};

struct pv_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

/* ---- Strings without libc's locale or allocation. ---- */

static size_t pv_append(char *buffer, size_t size, size_t used, const char *text) {
    if (!text) return used;
    while (*text && used + 1 < size) buffer[used++] = *text++;
    buffer[used] = '\0';
    return used;
}

static size_t pv_append_number(char *buffer, size_t size, size_t used, long long value) {
    char digits[24];
    int count = 0;
    unsigned long long magnitude = value < 0 ? (unsigned long long)(-value) : (unsigned long long)value;
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude && count < 23);
    if (value < 0 && used + 1 < size) buffer[used++] = '-';
    while (count && used + 1 < size) buffer[used++] = digits[--count];
    buffer[used] = '\0';
    return used;
}

/* ---- Reporting to the parent. ---- */

static void pv_write_all(int fd, const void *data, size_t size) {
    const char *bytes = data;
    while (size) {
        ssize_t n = write(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        bytes += n;
        size -= (size_t)n;
    }
}

static void pv_report(int fd, int kind, int err, int pid, const char *step, const char *subject) {
    struct pv_report report;
    memset(&report, 0, sizeof(report));
    report.kind = kind;
    report.err = err;
    report.pid = pid;
    size_t used = pv_append(report.step, sizeof(report.step), 0, step);
    if (subject) {
        used = pv_append(report.step, sizeof(report.step), used, "(");
        used = pv_append(report.step, sizeof(report.step), used, subject);
        pv_append(report.step, sizeof(report.step), used, ")");
    }
    pv_write_all(fd, &report, sizeof(report));
}

/// Reports the failed step with errno and ends the child. Never returns.
__attribute__((noreturn)) static void pv_fail(const struct pv_spawn_plan *plan, const char *step, const char *subject) {
    int err = errno;
    pv_report(plan->report_fd, PV_REPORT_ERROR, err, 0, step, subject);
    _exit(127);
}

/* ---- Files. ---- */

/// Writes a file of /proc, after checking that it really is on procfs (CVE-2019-16884,
/// CVE-2023-28642: an image may put a symlink or another file system where /proc should be).
/// EXDEV means "not on procfs".
static int pv_write_proc_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    struct statfs info;
    if (fstatfs(fd, &info) < 0 || info.f_type != PV_PROC_SUPER_MAGIC) {
        close(fd);
        errno = EXDEV;
        return -1;
    }
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

/// "/proc/self/fd/N": how mount(2) is pointed at a file opened safely beforehand.
static void pv_fd_path(char *out, size_t size, int fd) {
    pv_append_number(out, size, pv_append(out, size, 0, "/proc/self/fd/"), fd);
}

/// Opens `path` as seen from `root_fd`: every symlink resolves inside that root and magic links
/// (/proc/self/fd/N, /proc/PID/root) are refused, so an image cannot point a mount outside
/// (openat2 RESOLVE_IN_ROOT, as runc's securejoin and crun's safe_openat). Without openat2
/// (ENOSYS, before 5.6) it walks component by component and refuses symlinks and "..".
static int pv_open_in_root(int root_fd, const char *path, int flags) {
    while (*path == '/') path++;
    if (!*path) path = ".";
    struct pv_open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .mode = 0,
                              .resolve = PV_RESOLVE_IN_ROOT | PV_RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) return (int)fd;
    int dir = root_fd == AT_FDCWD ? open(".", O_PATH | O_DIRECTORY | O_CLOEXEC) : fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    char component[NAME_MAX + 1];
    while (dir >= 0 && *path) {
        size_t n = 0;
        while (*path && *path != '/') {
            if (n < NAME_MAX) component[n++] = *path;
            path++;
        }
        component[n] = '\0';
        while (*path == '/') path++;
        if (n == 0 || strcmp(component, ".") == 0) continue;
        int err = EXDEV, next = -1;
        if (strcmp(component, "..") != 0) {
            next = openat(dir, component, (*path ? O_PATH | O_DIRECTORY : flags) | O_NOFOLLOW | O_CLOEXEC);
            err = errno;
            struct stat info;
            if (next >= 0 && fstat(next, &info) == 0 && S_ISLNK(info.st_mode)) {
                close(next);
                next = -1;
                err = ELOOP;
            }
        }
        close(dir);
        errno = err;
        dir = next;
    }
    return dir;
}

/// Creates the directories of `path` inside the root (resolved as by pv_open_in_root), the last
/// one as an empty file when `as_file`, and returns an O_PATH fd of it.
static int pv_mkdir_in_root(int root_fd, const char *path, int as_file) {
    char partial[PATH_MAX];
    size_t used = 0;
    const char *p = path;
    while (1) {
        while (*p == '/') p++;
        if (!*p) return pv_open_in_root(root_fd, used ? partial : "/", O_PATH);
        size_t parent_end = used;
        if (used + 1 < sizeof(partial)) partial[used++] = '/';
        while (*p && *p != '/' && used + 1 < sizeof(partial)) partial[used++] = *p++;
        partial[used] = '\0';
        if (*p && *p != '/') {
            errno = ENAMETOOLONG;
            return -1;
        }
        const char *rest = p;
        while (*rest == '/') rest++;
        int last = *rest == '\0';
        int fd = pv_open_in_root(root_fd, partial, O_PATH);
        if (fd >= 0) {
            if (last) return fd;
            close(fd);
            continue;
        }
        if (errno != ENOENT) return -1;
        partial[parent_end] = '\0';
        int parent = pv_open_in_root(root_fd, parent_end ? partial : "/", O_PATH | O_DIRECTORY);
        partial[parent_end] = '/';
        if (parent < 0) return -1;
        const char *name = partial + parent_end + 1;
        int rc;
        if (last && as_file) {
            rc = openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
            if (rc >= 0) close(rc);
        } else {
            rc = mkdirat(parent, name, 0755);
            if (rc < 0 && errno == EEXIST) rc = 0;
        }
        int err = errno;
        close(parent);
        if (rc < 0) {
            errno = err;
            return -1;
        }
        if (last) return pv_open_in_root(root_fd, partial, O_PATH);
    }
}

/// The MS_* flags a mount already has, which a bind remount must repeat (else EPERM in user namespaces).
static unsigned long pv_locked_flags(const char *path) {
    struct statvfs info;
    if (statvfs(path, &info) < 0) return 0;
    unsigned long flags = 0;
    if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

/* ---- Steps of the child, in order. ---- */

static void pv_reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void pv_wait_for_parent(const struct pv_spawn_plan *plan) {
    char byte;
    ssize_t n;
    do {
        n = read(plan->sync_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(126);  // the parent gave up on us: nothing to report to
    close(plan->sync_fd);
}

static void pv_enter_namespaces(const struct pv_spawn_plan *plan) {
    for (int i = 0; i < plan->join_count; i++) {
        if (setns(plan->joins[i].fd, plan->joins[i].nstype) < 0) pv_fail(plan, "setns", NULL);
        close(plan->joins[i].fd);
    }
    if (plan->become_root_in_userns) {
        if (setresgid(0, 0, 0) < 0) pv_fail(plan, "setresgid", "0");
        if (setresuid(0, 0, 0) < 0) pv_fail(plan, "setresuid", "0");
    }
    if (plan->unshare_flags && unshare((int)plan->unshare_flags) < 0) pv_fail(plan, "unshare", NULL);
    if (plan->time_offsets && pv_write_proc_file("/proc/self/timens_offsets", plan->time_offsets) < 0)
        pv_fail(plan, "write", "/proc/self/timens_offsets");
}

/// The payload must be a child to be inside a joined or unshared pid (or time) namespace.
/// The intermediate reports the payload's pid and leaves; the payload carries on with the plan.
/// (A death signal does not survive a fork, so it is set again in the payload.)
static void pv_fork_into_namespaces(const struct pv_spawn_plan *plan) {
    // CLONE_PARENT makes the payload a child of the runtime itself, so it can be waited for without
    // a subreaper; a raw clone also runs none of the atfork handlers fork() would.
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid < 0) pv_fail(plan, "fork", NULL);
    if (pid > 0) {
        pv_report(plan->report_fd, PV_REPORT_PID, 0, pid, "fork", NULL);
        _exit(0);
    }
}

/// Mounts onto the destination resolved inside the root (never through a symlink out of it):
/// the destination is opened O_PATH and the mount goes onto /proc/self/fd/N.
static void pv_mount_one(const struct pv_spawn_plan *plan, int root_fd, const struct pv_mount *m) {
    const char *where = m->destination;
    struct stat source_info;
    int bind = (m->flags & MS_BIND) != 0;
    int file_target = bind && m->source && stat(m->source, &source_info) == 0 && !S_ISDIR(source_info.st_mode);
    int fd = pv_mkdir_in_root(root_fd, m->destination, file_target);
    if (fd < 0) pv_fail(plan, "mkdir", where);
    char target[64];
    pv_fd_path(target, sizeof(target), fd);
    unsigned long first = bind ? (m->flags & (MS_BIND | MS_REC)) : m->flags;
    if (mount(m->source, target, m->fstype, first, m->data) < 0) {
        // sysfs cannot be mounted from a user namespace that does not own the network namespace:
        // bind the host's /sys read-only instead, as runc does.
        if (errno == EPERM && m->fstype && strcmp(m->fstype, "sysfs") == 0) {
            if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) < 0) pv_fail(plan, "mount", where);
            first = MS_BIND;
            bind = 1;
        } else if ((errno == EPERM || errno == EBUSY) && m->fstype && strcmp(m->fstype, "cgroup2") == 0) {
            // Nor cgroup2 from a user namespace without its own cgroup namespace (EPERM; EBUSY on a v2 host): bind the host's
            // v2 tree (read-only with the default options), as runc does for rootless containers.
            struct statfs info;
            const char *v2 = statfs("/sys/fs/cgroup/unified", &info) == 0 && info.f_type == 0x63677270 ? "/sys/fs/cgroup/unified"
                                                                                                          : "/sys/fs/cgroup";
            if (mount(v2, target, NULL, MS_BIND | MS_REC, NULL) < 0) pv_fail(plan, "mount", where);
            first = MS_BIND;
            bind = 1;
        } else {
            pv_fail(plan, "mount", where);
        }
    }
    close(fd);
    unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (!(bind && extra) && !m->propagation) return;
    // The fd names what lies beneath the new mount: open the destination again to reach the mount itself.
    fd = pv_open_in_root(root_fd, m->destination, O_PATH);
    if (fd < 0) pv_fail(plan, "open", where);
    pv_fd_path(target, sizeof(target), fd);
    if (bind && extra) {
        unsigned long flags = MS_REMOUNT | MS_BIND | extra | pv_locked_flags(target);
        if (mount(NULL, target, NULL, flags, NULL) < 0) pv_fail(plan, "remount", where);
    }
    if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0) pv_fail(plan, "mount-propagation", where);
    close(fd);
}

struct pv_device {
    const char *name;
    unsigned int major, minor;
};

static const struct pv_device pv_default_devices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const char *const pv_device_links[][2] = {
    {"/proc/self/fd", "fd"},       {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"},         {"/proc/kcore", "core"},
};

/// Device nodes and links in the container's /dev, created relative to /dev opened inside the root:
/// an image whose /dev (or /dev/null) is a symlink cannot send them onto the host.
static void pv_create_devices(const struct pv_spawn_plan *plan, int root_fd) {
    char path[64], host[64], target[64];
    int dev = pv_mkdir_in_root(root_fd, "/dev", 0);
    if (dev < 0) pv_fail(plan, "mkdir", "/dev");
    for (size_t i = 0; i < sizeof(pv_default_devices) / sizeof(pv_default_devices[0]); i++) {
        const struct pv_device *d = &pv_default_devices[i];
        pv_append(path, sizeof(path), pv_append(path, sizeof(path), 0, "/dev/"), d->name);
        unlinkat(dev, d->name, 0);
        if (plan->bind_default_devices) {
            pv_append(host, sizeof(host), pv_append(host, sizeof(host), 0, "/dev/"), d->name);
            int fd = openat(dev, d->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (fd < 0) pv_fail(plan, "create", path);
            close(fd);
            fd = openat(dev, d->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) pv_fail(plan, "open", path);
            pv_fd_path(target, sizeof(target), fd);
            if (mount(host, target, NULL, MS_BIND, NULL) < 0) pv_fail(plan, "mount", path);
            close(fd);
        } else if (mknodat(dev, d->name, S_IFCHR | 0666, makedev(d->major, d->minor)) < 0) {
            pv_fail(plan, "mknod", path);
        }
    }
    for (size_t i = 0; i < sizeof(pv_device_links) / sizeof(pv_device_links[0]); i++) {
        pv_append(path, sizeof(path), pv_append(path, sizeof(path), 0, "/dev/"), pv_device_links[i][1]);
        if (symlinkat(pv_device_links[i][0], dev, pv_device_links[i][1]) < 0 && errno != EEXIST) pv_fail(plan, "symlink", path);
    }
    close(dev);
}

static void pv_pivot_root(const struct pv_spawn_plan *plan) {
    if (chdir(plan->rootfs) < 0) pv_fail(plan, "chdir", plan->rootfs);
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only the new root.
    if (syscall(SYS_pivot_root, ".", ".") < 0) pv_fail(plan, "pivot_root", plan->rootfs);
    if (umount2(".", MNT_DETACH) < 0) pv_fail(plan, "umount2", "old root");
    if (chdir("/") < 0) pv_fail(plan, "chdir", "/");
}

static void pv_write_sysctls(const struct pv_spawn_plan *plan) {
    char path[PATH_MAX];
    for (int i = 0; i < plan->sysctl_count; i++) {
        size_t used = pv_append(path, sizeof(path), 0, "/proc/sys/");
        const char *key = plan->sysctl_keys[i];
        for (; *key && used + 1 < sizeof(path); key++) path[used++] = *key == '.' ? '/' : *key;
        path[used] = '\0';
        if (pv_write_proc_file(path, plan->sysctl_values[i]) < 0) pv_fail(plan, errno == EXDEV ? "not on procfs: write" : "write", path);
    }
}

/// Masks with a read-only tmpfs (directories) or /dev/null (files), after pivot_root. /dev/null must
/// be the null device itself and targets are opened without magic links (CVE-2025-31133: a
/// /dev/null swapped for a symlink would bind whatever it points to over the masked file).
static void pv_mask_paths(const struct pv_spawn_plan *plan) {
    int null_fd = -1;
    char null_path[64], target[64];
    for (int i = 0; i < plan->masked_count; i++) {
        const char *path = plan->masked_paths[i];
        int fd = pv_open_in_root(AT_FDCWD, path, O_PATH);  // after pivot_root "/" is the container's root
        if (fd < 0) {
            if (errno == ENOENT) continue;
            pv_fail(plan, "open", path);
        }
        struct stat info;
        if (fstat(fd, &info) < 0) pv_fail(plan, "stat", path);
        pv_fd_path(target, sizeof(target), fd);
        int rc;
        if (S_ISDIR(info.st_mode)) {
            rc = mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL);
        } else {
            if (null_fd < 0) {
                struct stat null_info;
                null_fd = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (null_fd < 0 || fstat(null_fd, &null_info) < 0) pv_fail(plan, "open", "/dev/null");
                if (!S_ISCHR(null_info.st_mode) || null_info.st_rdev != makedev(1, 3)) {
                    errno = EPERM;
                    pv_fail(plan, "mask: not the null device", "/dev/null");
                }
                pv_fd_path(null_path, sizeof(null_path), null_fd);
            }
            rc = mount(null_path, target, NULL, MS_BIND, NULL);
        }
        if (rc < 0) pv_fail(plan, "mask", path);
        close(fd);
    }
    if (null_fd >= 0) close(null_fd);
}

static void pv_readonly_paths(const struct pv_spawn_plan *plan) {
    for (int i = 0; i < plan->readonly_count; i++) {
        const char *path = plan->readonly_paths[i];
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT) continue;
            pv_fail(plan, "mount", path);
        }
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | pv_locked_flags(path);
        if (mount(NULL, path, NULL, flags, NULL) < 0) pv_fail(plan, "remount-readonly", path);
    }
}

static void pv_setup_rootfs(const struct pv_spawn_plan *plan) {
    if (mount(NULL, "/", NULL, MS_REC | (plan->rootfs_propagation ? plan->rootfs_propagation : MS_SLAVE), NULL) < 0)
        pv_fail(plan, "mount-propagation", "/");
    // pivot_root needs the new root to be a mount point.
    if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0) pv_fail(plan, "mount", plan->rootfs);
    int root_fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) pv_fail(plan, "open", plan->rootfs);
    for (int i = 0; i < plan->mount_count; i++) pv_mount_one(plan, root_fd, &plan->mounts[i]);
    if (plan->create_default_devices) pv_create_devices(plan, root_fd);
    close(root_fd);
    pv_pivot_root(plan);
    pv_write_sysctls(plan);
    pv_mask_paths(plan);
    pv_readonly_paths(plan);
    if (plan->readonly_root) {
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | pv_locked_flags("/");
        if (mount(NULL, "/", NULL, flags, NULL) < 0) pv_fail(plan, "remount-readonly", "/");
    }
}

/* ---- Capabilities and seccomp, with raw system calls (libcap allocates). ---- */

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int pv_last_capability(void) {
    // /proc/sys/kernel/cap_last_cap may be masked later; PR_CAPBSET_READ answers EINVAL past the last one.
    int last = 0;
    while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0) last++;
    return last;
}

/// Before setuid: drop what the bounding set excludes, and keep permitted capabilities across setuid.
static void pv_capabilities_before_setuid(const struct pv_spawn_plan *plan) {
    if (!plan->set_capabilities) return;
    int last = pv_last_capability();
    char number[24];
    for (int cap = 0; cap <= last; cap++) {
        if (plan->cap_bounding & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            pv_append_number(number, sizeof(number), 0, cap);
            pv_fail(plan, "prctl(PR_CAPBSET_DROP)", number);
        }
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) pv_fail(plan, "prctl", "PR_SET_KEEPCAPS");
}

/// After setuid: the permitted, effective and inheritable sets, then the ambient ones.
static void pv_capabilities_after_setuid(const struct pv_spawn_plan *plan) {
    if (!plan->set_capabilities) return;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(plan->cap_effective >> (32 * i));
        data[i].permitted = (uint32_t)(plan->cap_permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(plan->cap_inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &header, data) < 0) pv_fail(plan, "capset", NULL);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    char number[24];
    for (int cap = 0; cap < 64; cap++) {
        if (!(plan->cap_ambient & (1ULL << cap))) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            pv_append_number(number, sizeof(number), 0, cap);
            pv_fail(plan, "prctl(PR_CAP_AMBIENT_RAISE)", number);
        }
    }
}

static void pv_load_seccomp(const struct pv_spawn_plan *plan) {
    if (!plan->seccomp_program) return;
    struct sock_fprog program = {.len = plan->seccomp_length, .filter = (struct sock_filter *)plan->seccomp_program};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan->seccomp_flags, &program) < 0) pv_fail(plan, "seccomp", NULL);
}

/// The payload's cwd, resolved in its root without magic links (CVE-2024-21626: a cwd of
/// /proc/self/fd/N through a leaked runtime fd would start the payload outside the root).
static void pv_change_directory(const struct pv_spawn_plan *plan) {
    struct pv_open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .mode = 0, .resolve = PV_RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, AT_FDCWD, plan->cwd, &how, sizeof(how));
    if (fd < 0 && errno == ENOSYS) {
        // Before openat2: chdir, then ask the kernel where we are; "(unreachable)" means outside the root.
        char where[PATH_MAX];
        if (chdir(plan->cwd) < 0) pv_fail(plan, "chdir", plan->cwd);
        if (syscall(SYS_getcwd, where, sizeof(where)) < 0 || where[0] != '/') {
            errno = EXDEV;
            pv_fail(plan, "chdir: outside the container", plan->cwd);
        }
        return;
    }
    if (fd < 0 || fchdir((int)fd) < 0) pv_fail(plan, "chdir", plan->cwd);
    close((int)fd);
}

static void pv_set_identity(const struct pv_spawn_plan *plan) {
    char number[24];
    for (int i = 0; i < plan->rlimit_count; i++) {
        struct rlimit limit = {.rlim_cur = plan->rlimits[i].soft, .rlim_max = plan->rlimits[i].hard};
        if (setrlimit(plan->rlimits[i].resource, &limit) < 0) {
            pv_append_number(number, sizeof(number), 0, plan->rlimits[i].resource);
            pv_fail(plan, "setrlimit", number);
        }
    }
    if (plan->set_groups && setgroups((size_t)plan->group_count, (const gid_t *)plan->groups) < 0)
        pv_fail(plan, "setgroups", NULL);
    pv_capabilities_before_setuid(plan);
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN in the effective set, which setuid
    // to a non-root user and the capability sets below take away: load it now, as runc does. The
    // filter must then allow what remains (setresuid, capset, prctl, openat2, fchdir, execve...).
    if (!plan->no_new_privs) pv_load_seccomp(plan);
    if (setresgid(plan->gid, plan->gid, plan->gid) < 0) {
        pv_append_number(number, sizeof(number), 0, plan->gid);
        pv_fail(plan, "setresgid", number);
    }
    if (setresuid(plan->uid, plan->uid, plan->uid) < 0) {
        pv_append_number(number, sizeof(number), 0, plan->uid);
        pv_fail(plan, "setresuid", number);
    }
    pv_capabilities_after_setuid(plan);
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) pv_fail(plan, "prctl", "PR_SET_NO_NEW_PRIVS");
    if (plan->umask >= 0) umask((mode_t)plan->umask);
    if (plan->cwd) pv_change_directory(plan);
}

/// Puts the payload's fds in place: sources are first moved above every target so that no
/// dup2 overwrites a source still to be copied.
static void pv_map_fds(const struct pv_spawn_plan *plan) {
    int moved[64];
    int count = plan->fd_mapping_count < 64 ? plan->fd_mapping_count : 64;
    int floor = plan->keep_fds > 3 ? plan->keep_fds : 3;
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(plan->fd_mappings[i].from, F_DUPFD_CLOEXEC, floor + 64);
        if (moved[i] < 0) pv_fail(plan, "fcntl", "F_DUPFD_CLOEXEC");
    }
    for (int i = 0; i < count; i++) {
        if (dup2(moved[i], plan->fd_mappings[i].to) < 0) pv_fail(plan, "dup2", NULL);
        close(moved[i]);
    }
    // Every fd the payload was not given explicitly is closed on exec (CVE-2024-21626).
    if (syscall(SYS_close_range, (unsigned)plan->keep_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = plan->keep_fds; fd < 1024; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

static const char *pv_env_value(const char *const *envp, const char *name) {
    size_t length = strlen(name);
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, length) == 0 && (*envp)[length] == '=') return *envp + length + 1;
    }
    return NULL;
}

/// Resolves argv[0] in the payload's own PATH, inside its root, before it waits for `start`:
/// a missing program is then an error of `create`, as runc reports it.
static void pv_resolve_program(const struct pv_spawn_plan *plan, char *out, size_t size) {
    const char *name = plan->argv[0];
    if (strchr(name, '/')) {
        pv_append(out, size, 0, name);
        if (access(out, X_OK) < 0) pv_fail(plan, "exec", name);
        return;
    }
    const char *path = pv_env_value(plan->envp, "PATH");
    if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int last_error = ENOENT;
    while (1) {
        const char *end = strchr(path, ':');
        size_t length = end ? (size_t)(end - path) : strlen(path);
        size_t used = 0;
        out[0] = '\0';
        for (size_t i = 0; i < length && used + 1 < size; i++) out[used++] = path[i];
        out[used] = '\0';
        if (used == 0) used = pv_append(out, size, used, ".");
        used = pv_append(out, size, used, "/");
        pv_append(out, size, used, name);
        if (access(out, X_OK) == 0) {
            struct stat info;
            if (stat(out, &info) == 0 && S_ISREG(info.st_mode)) return;
            last_error = EACCES;
        } else if (errno != ENOENT && errno != ENOTDIR) {
            last_error = errno;
        }
        if (!end) break;
        path = end + 1;
    }
    errno = last_error;
    pv_fail(plan, "exec", name);
}

/// Blocks until `start` opens the exec fifo for reading, then tells it we are going.
static void pv_wait_for_start(const struct pv_spawn_plan *plan) {
    char path[64];
    pv_append_number(path, sizeof(path), pv_append(path, sizeof(path), 0, "/proc/self/fd/"), plan->exec_fifo_fd);
    pv_report(plan->report_fd, PV_REPORT_READY, 0, 0, "ready", NULL);
    int fd;
    do {
        fd = open(path, O_WRONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) pv_fail(plan, "open", "exec.fifo");
    pv_write_all(fd, "0", 1);
    close(fd);
    close(plan->exec_fifo_fd);
}

/// The pod sandbox's pid 1. Pool instances join its namespaces and are reparented to the supervisor,
/// but their own orphans come here: reap them. Signals sent from inside the pod are ignored (pid 1 has no
/// handlers); the supervisor ends the pod with SIGKILL, which tears down the whole pid namespace.
__attribute__((noreturn)) static void pv_init_loop(const struct pv_spawn_plan *plan) {
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child, NULL);
    pv_report(plan->report_fd, PV_REPORT_READY, 0, 0, "ready", NULL);
    // It never execs, so CLOEXEC closes nothing: drop every inherited fd (the supervisor's pipes and sockets).
    syscall(SYS_close_range, 3U, ~0U, 0U);
    for (;;) {
        siginfo_t info;
        sigwaitinfo(&child, &info);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
    }
}

/// Socket activation: LISTEN_PID names the process the fds are for, as it sees itself.
static void pv_set_listen_pid(const struct pv_spawn_plan *plan) {
    static char entry[40];
    pv_append_number(entry, sizeof(entry), pv_append(entry, sizeof(entry), 0, "LISTEN_PID="), getpid());
    ((const char **)plan->envp)[plan->listen_pid_env_index] = entry;
}

__attribute__((noreturn)) static void pv_child(const struct pv_spawn_plan *plan) {
    pv_reset_signals();
    if (plan->die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    pv_wait_for_parent(plan);
    if (plan->set_oom_score_adj) {
        char value[24];
        pv_append_number(value, sizeof(value), 0, plan->oom_score_adj);
        if (pv_write_proc_file("/proc/self/oom_score_adj", value) < 0) pv_fail(plan, "write", "/proc/self/oom_score_adj");
    }
    pv_enter_namespaces(plan);
    // From here on the child may be visible to container processes (a joined pid namespace) while it
    // still runs the runtime's binary: non-dumpable, /proc/PID/exe, /fd, /root and ptrace stay out of
    // their reach (CVE-2019-5736). execve of the payload makes it dumpable again.
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) pv_fail(plan, "prctl", "PR_SET_DUMPABLE");
    if (plan->fork_after_setup_ns) {
        pv_fork_into_namespaces(plan);
        if (plan->die_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    }
    if (plan->new_session && setsid() < 0) pv_fail(plan, "setsid", NULL);
    if (plan->rootfs) pv_setup_rootfs(plan);
    if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0) pv_fail(plan, "sethostname", plan->hostname);
    if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
        pv_fail(plan, "setdomainname", plan->domainname);
    pv_set_identity(plan);
    pv_map_fds(plan);
    if (plan->init_loop) pv_init_loop(plan);
    if (plan->listen_pid_env_index >= 0) pv_set_listen_pid(plan);
    char program[PATH_MAX];
    pv_resolve_program(plan, program, sizeof(program));
    if (plan->exec_fifo_fd >= 0) pv_wait_for_start(plan);
    // Last, so that the filter constrains the payload and not the runtime's own set-up (without
    // no_new_privs it was loaded in pv_set_identity, while CAP_SYS_ADMIN was still effective).
    if (plan->no_new_privs) pv_load_seccomp(plan);
    execve(program, (char *const *)plan->argv, (char *const *)plan->envp);
    pv_fail(plan, "execve", program);
}

/* ---- The parent side: the clone itself. ---- */

static pid_t pv_clone(const struct pv_spawn_plan *plan, int *pidfd, int *placed_in_cgroup) {
    struct pv_clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = plan->clone_flags | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    if (plan->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)plan->cgroup_fd;
    }
    *placed_in_cgroup = plan->cgroup_fd >= 0;
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    if (pid >= 0) return (pid_t)pid;
    // A cgroup that cannot take the process directly (a v1-only host, a threaded or invalid
    // domain): clone without it and let the parent write cgroup.procs.
    if (plan->cgroup_fd >= 0 && errno != ENOSYS && errno != EPERM && errno != ENOMEM && errno != ENOSPC) {
        args.flags &= ~CLONE_INTO_CGROUP;
        args.cgroup = 0;
        *placed_in_cgroup = 0;
        pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid >= 0) return (pid_t)pid;
    }
    // A seccomp profile may answer clone3 with ENOSYS: fall back to clone.
    if (errno != ENOSYS) return -1;
    *placed_in_cgroup = 0;
    return (pid_t)syscall(SYS_clone, (unsigned long)(plan->clone_flags | CLONE_PIDFD | SIGCHLD), NULL, pidfd, NULL, 0);
}

pid_t pv_spawn(const struct pv_spawn_plan *plan, int *pidfd, int *placed_in_cgroup) {
    // No handler of the parent (Swift, Dispatch) may run in the child before it resets them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    *pidfd = -1;
    pid_t pid = pv_clone(plan, pidfd, placed_in_cgroup);
    if (pid == 0) pv_child(plan);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return pid;
}
