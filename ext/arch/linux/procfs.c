/* What the /proc readers share (procnet.c, snmp.c, owners.c, netns.c):
 * which net folder is the calling thread's, and the pids /proc lists. */
#include <fcntl.h>
#include <unistd.h>

#include "backend.h"

int
tt_linux_has_thread_self(void)
{
    return access("/proc/thread-self", F_OK) == 0;
}

const tt_proc_file *
tt_proc_file_here(const tt_proc_file pair[2])
{
    return &pair[tt_linux_has_thread_self() ? 0 : 1];
}

int
tt_proc_file_opens(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

uint32_t
tt_linux_pid_of_name(const char *name)
{
    uint32_t n = 0;

    if (*name == '\0')
        return 0;
    for (; *name; name++) {
        if (*name < '0' || *name > '9' || n > (UINT32_MAX - 9) / 10)
            return 0;
        n = n * 10 + (uint32_t)(*name - '0');
    }
    return n;
}
