/* The limit of an exact owner lookup through procfs: list every
 * /proc/<pid>/fd and read every link (getdents64 + readlinkat), counting the
 * sockets, with no map, no rows and no early end.  Written apart from
 * ext/arch/linux/owners.c so the limit is not the code it measures. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static long
links_of(int proc, const char *pid)
{
    char path[64], buf[32768], link[64];
    long sockets = 0, n;
    int dir;

    snprintf(path, sizeof(path), "%.20s/fd", pid);
    if ((dir = openat(proc, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return 0;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] != '.' &&
                readlinkat(dir, d->d_name, link, sizeof(link)) > 7 &&
                memcmp(link, "socket:", 7) == 0)
                sockets++;
        }
    }
    close(dir);
    return sockets;
}

/* Socket links of every process. */
long
bare_fd_walk(void)
{
    char buf[32768];
    long sockets = 0, n;
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (proc < 0)
        return -1;
    while ((n = syscall(SYS_getdents64, proc, buf, sizeof(buf))) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] >= '1' && d->d_name[0] <= '9')
                sockets += links_of(proc, d->d_name);
        }
    }
    close(proc);
    return sockets;
}
