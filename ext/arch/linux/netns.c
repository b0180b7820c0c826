/* Network namespaces: reading another namespace's table, and finding every
 * namespace on the host.
 *
 * A netlink socket, and a /proc/thread-self/net file, belong to the network
 * namespace of the thread that creates or opens it.  So a query with
 * netns_fd runs its dump on a short-lived helper thread that enters the
 * namespace first (setns) and ends with it: the calling thread never changes
 * namespace, whatever fails and whatever signal arrives, and no other thread
 * of the process ever sees a foreign namespace.  The helper blocks every
 * signal, so signals reach the caller's threads as before.  Owners are found
 * afterwards on the calling thread: /proc/<pid>/fd and socket inodes do not
 * depend on the network namespace, so pids are those of the caller's pid
 * namespace (the host's, for an agent on the host). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "backend.h"

typedef struct {
    int fd;
    int (*work)(void *, tt_error *);
    void *arg;
    tt_error *err;
    int rc;
} netns_job;

static void *
run_job(void *arg)
{
    netns_job *job = arg;

    if (setns(job->fd, CLONE_NEWNET) < 0)
        job->rc = tt_fail(job->err, TT_ERR_OS, errno,
                          "setns() into the network namespace (entering one needs "
                          "CAP_SYS_ADMIN)");
    else
        job->rc = job->work(job->arg, job->err);
    return NULL;
}

int
tt_linux_in_netns(int fd, int (*work)(void *, tt_error *), void *arg, tt_error *err)
{
    netns_job job = {fd, work, arg, err, -1};
    sigset_t all, old;
    pthread_t thread;
    int e;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper inherits this mask */
    e = pthread_create(&thread, NULL, run_job, &job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return tt_fail(err, e == ENOMEM ? TT_ERR_NOMEM : TT_ERR_OS, e,
                       "starting the thread that enters the network namespace");
    /* pthread_join() is never interrupted by signals (it resumes). */
    if ((e = pthread_join(thread, NULL)) != 0)
        return tt_fail(err, TT_ERR_OS, e, "joining the network namespace thread");
    return job.rc;
}

int
tt_netns_check(int fd, tt_error *err)
{
    int type = ioctl(fd, NS_GET_NSTYPE);

    if (type >= 0)
        return type == CLONE_NEWNET ? TT_NETNS_OK : TT_NETNS_OTHER_TYPE;
    if (errno == ENOTTY || errno == EINVAL)
        return TT_NETNS_NOT_NAMESPACE;
    return tt_fail(err, TT_ERR_OS, errno, "ioctl(NS_GET_NSTYPE) on the namespace file");
}

/* ---- namespaces(): every network namespace a process or /run/netns holds. */

#define RUN_NETNS "/run/netns"

static int
grow(void **items, size_t *cap, size_t len, size_t size, tt_error *err)
{
    size_t new_cap = *cap ? *cap * 2 : 16;
    void *bigger;

    if (len < *cap)
        return 0;
    if ((bigger = realloc(*items, new_cap * size)) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, 0, "listing network namespaces");
    *items = bigger;
    *cap = new_cap;
    return 0;
}

/* The entry for `inode`, appended (with `path`) if it is new; NULL with
 * *err set when memory runs out. */
static tt_namespace *
entry_for(tt_namespaces *all, uint64_t inode, const char *path, tt_error *err)
{
    tt_namespace *ns;

    for (size_t i = 0; i < all->len; i++)
        if (all->items[i].inode == inode)
            return &all->items[i];
    if (grow((void **)&all->items, &all->cap, all->len, sizeof(*all->items), err) < 0)
        return NULL;
    ns = &all->items[all->len++];
    memset(ns, 0, sizeof(*ns));
    ns->inode = inode;
    snprintf(ns->path, sizeof(ns->path), "%s", path);
    return ns;
}

/* Names in /run/netns (ip netns add) first: their paths are the ones shown. */
static int
add_named(tt_namespaces *all, tt_error *err)
{
    DIR *dir = opendir(RUN_NETNS);
    struct dirent *d;
    int rc = 0;

    if (dir == NULL)
        return 0; /* none named (or not ours to read): processes still count */
    while (rc == 0 && (d = readdir(dir)) != NULL) {
        char path[sizeof(((tt_namespace *)0)->path)];
        struct stat st;
        tt_error ignored;
        int fd, ok;

        if (d->d_name[0] == '.' ||
            snprintf(path, sizeof(path), RUN_NETNS "/%s", d->d_name) >= (int)sizeof(path))
            continue;
        /* A name whose mount is gone is an empty file, not a namespace. */
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            continue;
        ok = tt_netns_check(fd, &ignored) == TT_NETNS_OK && fstat(fd, &st) == 0;
        close(fd);
        if (!ok)
            continue;
        if (entry_for(all, (uint64_t)st.st_ino, path, err) == NULL)
            rc = -1;
    }
    closedir(dir);
    return rc;
}

static int
add_pid(tt_namespace *ns, uint32_t pid, tt_error *err)
{
    if (grow((void **)&ns->pids, &ns->pids_cap, ns->n_pids, sizeof(*ns->pids), err) < 0)
        return -1;
    ns->pids[ns->n_pids++] = pid;
    return 0;
}

static int
add_processes(tt_namespaces *all, tt_error *err)
{
    DIR *proc = opendir("/proc");
    struct dirent *d;
    int rc = 0;

    if (proc == NULL)
        return tt_fail(err, TT_ERR_OS, errno, "opendir(/proc)");
    while (rc == 0 && (d = readdir(proc)) != NULL) {
        uint32_t pid = tt_linux_pid_of_name(d->d_name);
        char path[sizeof(((tt_namespace *)0)->path)];
        struct stat st;
        tt_namespace *ns;

        if (pid == 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%u/ns/net", pid);
        /* A process that exited, or one we may not inspect, is skipped. */
        if (stat(path, &st) < 0)
            continue;
        if ((ns = entry_for(all, (uint64_t)st.st_ino, path, err)) == NULL ||
            add_pid(ns, pid, err) < 0)
            rc = -1;
    }
    closedir(proc);
    return rc;
}

static int
by_inode(const void *a, const void *b)
{
    uint64_t x = ((const tt_namespace *)a)->inode, y = ((const tt_namespace *)b)->inode;
    return (x > y) - (x < y);
}

static int
by_pid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int
tt_list_namespaces(tt_namespaces *all, tt_error *err)
{
    if (add_named(all, err) < 0 || add_processes(all, err) < 0)
        return -1;
    qsort(all->items, all->len, sizeof(*all->items), by_inode);
    for (size_t i = 0; i < all->len; i++) {
        tt_namespace *ns = &all->items[i];
        /* A named namespace no process is in has no pid array: qsort(NULL). */
        if (ns->n_pids > 1)
            qsort(ns->pids, ns->n_pids, sizeof(*ns->pids), by_pid);
        /* Unnamed: the lowest pid's path, the longest-lived process likely. */
        if (strncmp(ns->path, "/proc/", 6) == 0 && ns->n_pids > 0)
            snprintf(ns->path, sizeof(ns->path), "/proc/%u/ns/net", ns->pids[0]);
    }
    return 0;
}

void
tt_namespaces_free(tt_namespaces *all)
{
    for (size_t i = 0; i < all->len; i++)
        free(all->items[i].pids);
    free(all->items);
    memset(all, 0, sizeof(*all));
}
