/* Owners: which process holds each socket, from the dump's inodes and the
 * links in /proc/<pid>/fd ("socket:[INODE]").  The kernel tells no socket's
 * process, so this is the only exact way, and its cost is one readlinkat()
 * per open fd on the host.
 *
 * A socket several processes hold (fork) gets the lowest pid.  /proc lists
 * processes in ascending pid order, so the first holder found is the lowest,
 * and the walk ends once every socket has one.  Processes that exit, fds that
 * close, and /proc/<pid>/fd we may not read are skipped: their sockets keep
 * no pid.
 *
 * Nothing is cached between calls: a cached owner could only be trusted
 * after reading its link again, and a socket new since the last call, or
 * newly shared by a lower pid, is only found by reading every link, which is
 * the whole cost. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "backend.h"

#define DIRENT_BUFFER 32768

/* inode -> lowest pid seen holding it (0: none yet), open addressing.  A
 * slot keeps both, so each lookup of the walk touches one cache line. */
typedef struct {
    uint64_t inode; /* 0 marks an empty slot (no socket has inode 0) */
    uint32_t pid;
} owner_slot;

typedef struct {
    owner_slot *slots;
    size_t mask;
    size_t unresolved; /* inodes with no holder found yet */
} owner_map;

/* Sockets get consecutive inode numbers in batches, and a process's fds
 * list them in about that order: each run of 8 consecutive inodes keeps 8
 * neighbouring slots (fewer cache misses in the walk), and the runs are
 * scattered (no long clusters for the inodes of other sockets to probe). */
static size_t
slot_of(const owner_map *m, uint64_t inode)
{
    size_t i = (size_t)(((inode >> 3) * 0x9E3779B97F4A7C15ull) >> 20 << 3 | (inode & 7)) &
               m->mask;
    while (m->slots[i].inode != 0 && m->slots[i].inode != inode)
        i = (i + 1) & m->mask;
    return i;
}

static int
map_init(owner_map *m, const tt_rows *rows, size_t first, tt_error *err)
{
    size_t wanted = rows->len - first, cap = 16;

    memset(m, 0, sizeof(*m));
    while (cap < 2 * wanted)
        cap *= 2;
    m->mask = cap - 1;
    if ((m->slots = calloc(cap, sizeof(*m->slots))) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, 0, "allocating the owner map");
    for (size_t r = first; r < rows->len; r++) {
        uint64_t inode = rows->rows[r].inode;
        size_t i;
        if (!(rows->rows[r].has & TT_HAS_INODE))
            continue;
        i = slot_of(m, inode);
        if (m->slots[i].inode == 0) {
            m->slots[i].inode = inode;
            m->unresolved++;
        }
    }
    return 0;
}

static void
map_free(owner_map *m)
{
    free(m->slots);
}

/* Records `pid` as a holder of `inode` if the dump has that socket. */
static void
map_hold(owner_map *m, uint64_t inode, uint32_t pid)
{
    size_t i = slot_of(m, inode);

    if (m->slots[i].inode == 0)
        return;
    if (m->slots[i].pid == 0) {
        m->slots[i].pid = pid;
        m->unresolved--;
    }
    else if (pid < m->slots[i].pid) {
        m->slots[i].pid = pid;
    }
}

/* The inode of a "socket:[INODE]" link, or 0 for any other link. */
static uint64_t
socket_inode(const char *link, ssize_t len)
{
    static const char prefix[] = "socket:[";
    uint64_t inode = 0;
    ssize_t i = (ssize_t)sizeof(prefix) - 1;

    if (len <= i + 1 || memcmp(link, prefix, (size_t)i) != 0 || link[len - 1] != ']')
        return 0;
    for (; i < len - 1; i++) {
        if (link[i] < '0' || link[i] > '9' || inode > (UINT64_MAX - 9) / 10)
            return 0;
        inode = inode * 10 + (uint64_t)(link[i] - '0');
    }
    return inode;
}

/* Errors that mean "this process or fd is gone or not ours to read". */
static int
skippable(int e)
{
    return e == ENOENT || e == ESRCH || e == EACCES || e == EPERM || e == ENOTDIR;
}

static int
fail_errno(tt_error *err, int e, const char *step)
{
    return tt_fail(err, e == EINTR ? TT_ERR_INTR : e == ENOMEM ? TT_ERR_NOMEM : TT_ERR_OS, e,
                   step);
}

/* Reads every link of one process's fd directory. */
static int
scan_process(int proc, uint32_t pid, char *buf, owner_map *m, tt_error *err)
{
    char path[32], link[64];
    int dir;

    snprintf(path, sizeof(path), "%u/fd", pid);
    if ((dir = openat(proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return skippable(errno) ? 0 : fail_errno(err, errno, "opening /proc/<pid>/fd");
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, DIRENT_BUFFER);
        if (n <= 0) {
            int e = errno;
            close(dir);
            if (n == 0 || skippable(e))
                return 0;
            return fail_errno(err, e, "reading /proc/<pid>/fd");
        }
        for (long off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);
            ssize_t len;
            uint64_t inode;
            off += d->d_reclen;
            if (d->d_name[0] == '.')
                continue;
            len = readlinkat(dir, d->d_name, link, sizeof(link));
            if (len > 0 && (inode = socket_inode(link, len)) != 0)
                map_hold(m, inode, pid);
        }
    }
}

/* Walks /proc in its (ascending) pid order until every socket has a holder. */
static int
scan_processes(owner_map *m, tt_error *err)
{
    char *buf = malloc(DIRENT_BUFFER), *fdbuf = malloc(DIRENT_BUFFER);
    uint32_t last = 0;
    int ascending = 1, rc = -1;
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (buf == NULL || fdbuf == NULL) {
        tt_fail(err, TT_ERR_NOMEM, 0, "allocating the /proc walk buffers");
        goto done;
    }
    if (proc < 0) {
        fail_errno(err, errno, "opening /proc to find socket owners");
        goto done;
    }
    while (m->unresolved > 0 || !ascending) {
        long n = syscall(SYS_getdents64, proc, buf, DIRENT_BUFFER);
        if (n < 0) {
            fail_errno(err, errno, "reading /proc to find socket owners");
            goto done;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            const struct dirent64 *d = (const struct dirent64 *)(buf + off);
            uint32_t pid = tt_linux_pid_of_name(d->d_name);
            off += d->d_reclen;
            if (pid == 0)
                continue;
            ascending = ascending && pid > last;
            last = pid;
            if (scan_process(proc, pid, fdbuf, m, err) < 0)
                goto done;
            if (m->unresolved == 0 && ascending)
                break; /* every later pid is higher: no lower holder left */
        }
    }
    rc = 0;
done:
    if (proc >= 0)
        close(proc);
    free(fdbuf);
    free(buf);
    return rc;
}

int
tt_linux_find_owners(tt_rows *rows, size_t first, tt_error *err)
{
    owner_map m;
    int rc = -1;

    if (map_init(&m, rows, first, err) < 0)
        goto done;
    if (m.unresolved > 0 && scan_processes(&m, err) < 0)
        goto done;
    for (size_t r = first; r < rows->len; r++) {
        tt_row *row = &rows->rows[r];
        size_t i;
        if (!(row->has & TT_HAS_INODE))
            continue;
        i = slot_of(&m, row->inode);
        if (m.slots[i].pid != 0) {
            row->pid = m.slots[i].pid;
            row->has |= TT_HAS_PID;
        }
    }
    rc = 0;
done:
    map_free(&m);
    return rc;
}
