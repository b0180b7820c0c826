/* Linux, the dispatcher: netlink sock_diag, with /proc/net where netlink is
 * missing (the query says which source the caller allows: TCPTABLE_BACKEND,
 * read by the glue), in the query's namespace, then the owner policy. */
#include <errno.h>
#include <time.h>

#include "backend.h"

/* The errors that mean "this kernel or sandbox offers no sock_diag":
 * gVisor/WSL1, seccomp or RestrictAddressFamilies, no tcp_diag module, LSMs. */
static int
netlink_unavailable(const tt_error *err)
{
    if (err->kind != TT_ERR_OS)
        return 0;
    switch (err->code) {
    case EPROTONOSUPPORT:
    case EAFNOSUPPORT:
    case ENOENT:
    case EPERM:
    case EACCES:
        return 1;
    default:
        return 0;
    }
}

/* The owner policy, the only one: with TT_WANT_OWNERS, rows keep the uid and
 * inode their source saw and gain the pid that holds them; without, they
 * show no owner at all.  A UNIX socket keeps its inode: it is the socket's
 * identity, which peer_inode names. */
static int
apply_owner_policy(const tt_query *q, tt_rows *rows, size_t first, tt_error *err)
{
    uint8_t drop = q->family == AF_UNIX ? TT_HAS_UID : TT_HAS_UID | TT_HAS_INODE;

    if (q->want & TT_WANT_OWNERS)
        return tt_linux_find_owners(rows, first, err);
    for (size_t i = first; i < rows->len; i++) {
        tt_row *r = &rows->rows[i];
        r->has &= (uint8_t)~drop;
        r->uid = 0;
        if (drop & TT_HAS_INODE)
            r->inode = 0;
    }
    return 0;
}

/* The rows from the source the query allows. */
static int
dump_table(const tt_query *q, tt_rows *out, tt_error *err)
{
    size_t kept = out->len;

    switch (q->source) {
    case TT_SOURCE_PROC:
        return tt_proc_dump(q, out, err);
    case TT_SOURCE_NETLINK:
        return tt_netlink_dump(q, out, err);
    case TT_SOURCE_ANY:
        break;
    }
    if (tt_netlink_dump(q, out, err) == 0)
        return 0;
    if (!netlink_unavailable(err))
        return -1;
    /* Keep why netlink failed: if /proc fails too, both belong in the error. */
    err->cause_kind = err->kind;
    err->cause_code = err->code;
    err->cause_step = err->step;
    out->len = kept;
    return tt_proc_dump(q, out, err);
}

typedef struct {
    const tt_query *q;
    tt_rows *out;
} dump_job;

static int
dump_in_netns(void *arg, tt_error *err)
{
    dump_job *job = arg;
    return dump_table(job->q, job->out, err);
}

int
tt_backend_dump(const tt_query *q, tt_rows *out, tt_error *err)
{
    size_t first = out->len;
    dump_job job = {q, out};

    if ((q->netns_fd != NULL ? tt_linux_in_netns(*q->netns_fd, dump_in_netns, &job, err)
                             : dump_table(q, out, err)) < 0)
        return -1;
    return apply_owner_policy(q, out, first, err);
}

void
tt_sleep_us(unsigned long microseconds)
{
    struct timespec t = {(time_t)(microseconds / 1000000), (long)(microseconds % 1000000) * 1000};
    nanosleep(&t, NULL); /* a signal may end it early: the caller checks signals next */
}
