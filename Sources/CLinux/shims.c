#define _GNU_SOURCE
#include "clinux.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int pv_pidfd_open(pid_t pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }

int pv_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

int pv_pidfd_wait(int pidfd, int options, int *out_code, int *out_status, pid_t *out_pid) {
    siginfo_t info = {0};
    int rc;
    do {
        rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, options);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -1;
    if (out_code) *out_code = info.si_code;
    if (out_status) *out_status = info.si_status;
    if (out_pid) *out_pid = info.si_pid;
    return 0;
}

int pv_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}



int pv_sigrtmin(void) { return SIGRTMIN; }
int pv_sigrtmax(void) { return SIGRTMAX; }


int pv_open(const char *path, int flags, unsigned int mode) { return open(path, flags, (mode_t)mode); }
int pv_fcntl_setfd(int fd, int flags) { return fcntl(fd, F_SETFD, flags); }
int pv_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

#include <sys/signalfd.h>
#include <linux/capability.h>

int pv_forwarding_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, SIGPWR};
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) sigaddset(&set, forwarded[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int pv_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do {
        n = read(fd, &info, sizeof(info));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(info) ? (int)info.ssi_signo : -1;
}

int pv_has_effective_capability(int capability) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return 0;
    return (data[capability / 32].effective >> (capability % 32)) & 1;
}

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

int pv_setns(int fd, int nstype) { return setns(fd, nstype); }

int pv_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof(request));
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &request);
    if (rc == 0) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

static int pv_inet_address(const char *address, int port, struct sockaddr_in *out) {
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &out->sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int pv_inet_listen(const char *address, int port, int backlog, int udp) {
    struct sockaddr_in sin;
    if (pv_inet_address(address, port, &sin) < 0) return -1;
    int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || (!udp && listen(fd, backlog) < 0)) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int pv_inet_connect_nonblocking(const char *address, int port) {
    struct sockaddr_in sin;
    if (pv_inet_address(address, port, &sin) < 0) return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int pv_socket_error(int fd) {
    int err = 0;
    socklen_t length = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) < 0) return errno;
    return err;
}

#include <sys/un.h>

static int pv_unix_address(const char *path, struct sockaddr_un *out) {
    memset(out, 0, sizeof(*out));
    out->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(out->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(out->sun_path, path);
    return 0;
}

int pv_unix_listen(const char *path) {
    struct sockaddr_un address;
    if (pv_unix_address(path, &address) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int pv_unix_connect(const char *path) {
    struct sockaddr_un address;
    if (pv_unix_address(path, &address) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int pv_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
