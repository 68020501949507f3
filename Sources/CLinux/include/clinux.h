// Thin shims for Linux syscalls that Swift's Glibc module does not expose.
// Each returns -1 and sets errno on failure, like the syscall it wraps.
#ifndef PODVISOR_CLINUX_H
#define PODVISOR_CLINUX_H

#include <sys/types.h>
#include <signal.h>
#include <stdint.h>

int pv_pidfd_open(pid_t pid, unsigned int flags);
int pv_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
/// waitid(P_PIDFD, pidfd, ...): returns 0 and fills status/code (CLD_EXITED, CLD_KILLED...).
int pv_pidfd_wait(int pidfd, int options, int *out_code, int *out_status, pid_t *out_pid);
int pv_close_range(unsigned int first, unsigned int last, unsigned int flags);
/// Real-time signal numbers are not constants in glibc.
int pv_sigrtmin(void);
int pv_sigrtmax(void);
/// open(2) with its flags as an int (Swift's open is variadic).
int pv_open(const char *path, int flags, unsigned int mode);
int pv_fcntl_setfd(int fd, int flags);
int pv_pipe2(int fds[2], int flags);
/// Blocks the signals a foreground `run` forwards to its container and returns a signalfd for them.
int pv_forwarding_signalfd(void);
/// Reads one signal from a signalfd: its number, or -1.
int pv_signalfd_next(int fd);
/// Whether CAP_SYS_RESOURCE is in this process's effective set (raising hard rlimits needs it).
int pv_has_effective_capability(int capability);


/* ---- Networking inside a pod's network namespace (the caller setns'd this thread there). ---- */
/// setns(2) for this thread.
int pv_setns(int fd, int nstype);
/// Brings the loopback interface up (a new network namespace starts with it down).
int pv_loopback_up(void);
/// A listening (tcp) or bound (udp) IPv4 socket on address:port, CLOEXEC, SO_REUSEADDR; -1 with errno.
int pv_inet_listen(const char *address, int port, int backlog, int udp);
/// A non-blocking TCP connect to address:port; returns the fd (connection in progress) or -1.
int pv_inet_connect_nonblocking(const char *address, int port);
/// The pending error of a socket (SO_ERROR), 0 when connected.
int pv_socket_error(int fd);
/// A listening unix stream socket at path (an existing socket file is replaced), CLOEXEC and non-blocking.
int pv_unix_listen(const char *path);
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC).
int pv_accept_cloexec(int fd);
/// A connected unix stream socket to path, CLOEXEC; -1 with errno.
int pv_unix_connect(const char *path);
#endif
