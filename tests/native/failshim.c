/* LD_PRELOAD shim that makes the real system calls and allocations the
 * extension depends on fail, so its error paths run for real:
 *   TT_SHIM_NETLINK_ERRNO=n     socket(AF_NETLINK, ...) fails with errno n
 *   TT_SHIM_PROC_ERRNO=n        open() of /proc/.../net/tcp* fails with errno n
 *   TT_SHIM_SNMP_ERRNO=n        open() of /proc/.../net/snmp fails with errno n
 *   TT_SHIM_NO_THREAD_SELF=1    access("/proc/thread-self") fails with ENOENT,
 *                               as on kernels before 3.17
 *   TT_SHIM_ALLOC_FAIL_FROM=n   the n-th and every later malloc/calloc/realloc
 *                               called from tcptable's own module returns NULL
 *   TT_SHIM_RECVMSG_EINTR=n     the first n recvmsg() calls raise SIGALRM and
 *                               fail with EINTR, as a recvmsg() sleeping when
 *                               a signal arrives does (sock_diag's never sleeps)
 *   TT_SHIM_UNAME_RELEASE=r     uname() reports kernel release r
 *   TT_SHIM_LOG_DIAG=path       each sock_diag request sent appends a line
 *                               "idiag_states=0x... bytecode=LEN" to path, and
 *                               each batch received from netlink a line
 *                               "rows=N" (its sock_diag messages) or
 *                               "error=E" (an NLMSG_ERROR with error E)
 * Only calls made from the extension module count as its allocations, so the
 * interpreter itself keeps working.  With TT_SHIM_ALLOC_FAIL_FROM set the shim
 * also keeps count of the extension's live blocks (allocated minus freed by
 * it), which tt_shim_live_blocks() reports: 0 between calls, or a leak.
 * Test code: process-wide state is fine. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

static int netlink_errno, proc_errno, snmp_errno, no_thread_self;
static long alloc_fail_from;
static atomic_long extension_allocs, live_blocks, recvmsg_eintr_left;

static const char *uname_release, *diag_log;
static int (*real_socket)(int, int, int);
static int (*real_uname)(struct utsname *);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *,
                              socklen_t);
static int (*real_open)(const char *, int, ...);
static int (*real_access)(const char *, int);
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static long
env_number(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

__attribute__((constructor)) static void
init(void)
{
    real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    real_uname = (int (*)(struct utsname *))dlsym(RTLD_NEXT, "uname");
    real_sendto = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *,
                               socklen_t))dlsym(RTLD_NEXT, "sendto");
    uname_release = getenv("TT_SHIM_UNAME_RELEASE");
    diag_log = getenv("TT_SHIM_LOG_DIAG");
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
    real_access = (int (*)(const char *, int))dlsym(RTLD_NEXT, "access");
    real_recvmsg = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    netlink_errno = (int)env_number("TT_SHIM_NETLINK_ERRNO");
    proc_errno = (int)env_number("TT_SHIM_PROC_ERRNO");
    snmp_errno = (int)env_number("TT_SHIM_SNMP_ERRNO");
    no_thread_self = (int)env_number("TT_SHIM_NO_THREAD_SELF");
    alloc_fail_from = env_number("TT_SHIM_ALLOC_FAIL_FROM");
    recvmsg_eintr_left = env_number("TT_SHIM_RECVMSG_EINTR");
}

/* Logs what one received netlink batch held (TT_SHIM_LOG_DIAG). */
static void
log_batch(const void *buf, ssize_t len)
{
    size_t at = 0, rows = 0;
    FILE *f;

    if (diag_log == NULL || len <= 0 || (f = fopen(diag_log, "a")) == NULL)
        return;
    while (at + NLMSG_HDRLEN <= (size_t)len) {
        struct nlmsghdr h;
        memcpy(&h, (const char *)buf + at, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || at + h.nlmsg_len > (size_t)len)
            break;
        if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY)
            rows++;
        else if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= NLMSG_HDRLEN + sizeof(int)) {
            int e;
            memcpy(&e, (const char *)buf + at + NLMSG_HDRLEN, sizeof(e));
            fprintf(f, "error=%d\n", e);
        }
        at += NLMSG_ALIGN(h.nlmsg_len);
    }
    fprintf(f, "rows=%zu\n", rows);
    fclose(f);
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t n;

    if (atomic_fetch_sub(&recvmsg_eintr_left, 1) > 0) {
        raise(SIGALRM);
        errno = EINTR;
        return -1;
    }
    n = real_recvmsg(fd, msg, flags);
    if (n > 0 && diag_log != NULL && msg->msg_iovlen == 1) {
        int domain = 0;
        socklen_t size = sizeof(domain);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0 && domain == AF_NETLINK)
            log_batch(msg->msg_iov[0].iov_base, n);
    }
    return n;
}

int
socket(int domain, int type, int protocol)
{
    if (domain == AF_NETLINK && netlink_errno) {
        errno = netlink_errno;
        return -1;
    }
    return real_socket(domain, type, protocol);
}

int
uname(struct utsname *u)
{
    int rc = real_uname(u);
    if (rc == 0 && uname_release != NULL) {
        strncpy(u->release, uname_release, sizeof(u->release) - 1);
        u->release[sizeof(u->release) - 1] = '\0';
    }
    return rc;
}

/* Logs the states of a SOCK_DIAG_BY_FAMILY request, then sends it. */
ssize_t
sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
       socklen_t tolen)
{
    struct nlmsghdr h;
    struct inet_diag_req_v2 req;

    if (diag_log != NULL && len >= sizeof(h) + sizeof(req)) {
        memcpy(&h, buf, sizeof(h));
        if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            FILE *f = fopen(diag_log, "a");
            memcpy(&req, (const char *)buf + NLMSG_HDRLEN, sizeof(req));
            if (f != NULL) {
                size_t fixed = NLMSG_HDRLEN + sizeof(req);
                size_t program = len > fixed + NLA_HDRLEN ? len - fixed - NLA_HDRLEN : 0;
                fprintf(f, "idiag_states=0x%x bytecode=%zu\n", (unsigned)req.idiag_states,
                        program);
                fclose(f);
            }
        }
    }
    return real_sendto(fd, buf, len, flags, to, tolen);
}

static int
is_proc_net(const char *path, const char *file)
{
    return strncmp(path, "/proc/", 6) == 0 && strstr(path, file) != NULL;
}

int
open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if ((proc_errno && is_proc_net(path, "/net/tcp")) ||
        (snmp_errno && is_proc_net(path, "/net/snmp"))) {
        errno = is_proc_net(path, "/net/tcp") ? proc_errno : snmp_errno;
        return -1;
    }
    return real_open(path, flags, mode);
}

int
access(const char *path, int mode)
{
    if (no_thread_self && strcmp(path, "/proc/thread-self") == 0) {
        errno = ENOENT;
        return -1;
    }
    return real_access(path, mode);
}

static int
from_extension(void *caller)
{
    Dl_info info;
    return alloc_fail_from > 0 && dladdr(caller, &info) && info.dli_fname != NULL &&
           strstr(info.dli_fname, "/tcptable/_tcptable") != NULL;
}

/* Whether this allocation, requested from `caller`, must fail. */
static int
must_fail(void *caller)
{
    return from_extension(caller) &&
           atomic_fetch_add(&extension_allocs, 1) + 1 >= alloc_fail_from;
}

long
tt_shim_live_blocks(void)
{
    return atomic_load(&live_blocks);
}

/* Before init() ran (dlsym itself may allocate) nothing is failed and the
 * C library's own allocator serves. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

void *
malloc(size_t n)
{
    void *caller = __builtin_return_address(0), *p;
    if (must_fail(caller)) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_malloc ? real_malloc(n) : __libc_malloc(n);
    if (p != NULL && from_extension(caller))
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void *
calloc(size_t n, size_t size)
{
    void *caller = __builtin_return_address(0), *p;
    if (must_fail(caller)) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_calloc ? real_calloc(n, size) : __libc_calloc(n, size);
    if (p != NULL && from_extension(caller))
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void *
realloc(void *old, size_t n)
{
    void *caller = __builtin_return_address(0), *p;
    if (must_fail(caller)) {
        errno = ENOMEM;
        return NULL;
    }
    p = real_realloc ? real_realloc(old, n) : __libc_realloc(old, n);
    if (p != NULL && old == NULL && from_extension(caller))
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void
free(void *p)
{
    if (p != NULL && from_extension(__builtin_return_address(0)))
        atomic_fetch_sub(&live_blocks, 1);
    if (real_free)
        real_free(p);
    else
        __libc_free(p);
}
