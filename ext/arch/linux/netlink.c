/* The sock_diag dump: one request per (protocol, family), one 32 KiB
 * receive buffer, rows decoded (diag.c) straight into the row array. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/utsname.h>

#include "backend.h"

/* The kernel sizes dump batches to the largest read seen, capped near 32 KiB;
 * a larger buffer gains nothing, a smaller one costs batches. */
#define RECV_BUFFER_SIZE 32768
#define REQUEST_SEQ 0x74637074u

/* Whether this kernel matches orphaned FIN_WAIT2 mini-sockets on their
 * FIN_WAIT2 substate, so asking for FIN_WAIT2 finds them without every
 * TIME_WAIT socket crossing netlink too.  Since "tcp/dccp: remove twchain"
 * (05dbc7b59481, Linux 3.13) timewait sockets share the established hash and
 * inet_diag_dump_icsk() filters them on tw_substate; before it, they were
 * dumped only when TIME_WAIT was asked for.  A vendor kernel that backported
 * it (RHEL 7's 3.10) gets the extra bit: as correct, only slower. */
#define TT_ORPHANS_BY_SUBSTATE_SINCE 0x030d00 /* 3.13 */

static int
orphans_need_time_wait(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;

    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return 1; /* unknown: the extra bit is always correct, only slower */
    return (major << 16 | minor << 8) < TT_ORPHANS_BY_SUBSTATE_SINCE;
}

/* Sends the dump request, with the port filter as bytecode when the query
 * has one and `filter` allows it. */
static int
send_request(int fd, const tt_query *q, int filter, tt_error *err)
{
    struct request {
        struct nlmsghdr nlh;
        union {
            struct inet_diag_req_v2 inet;
            struct unix_diag_req unix_;
        } req;
        struct nlattr bytecode;
        uint8_t program[TT_BYTECODE_MAX];
    } msg;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    int program_len =
        filter && q->family != AF_UNIX ? tt_nl_bytecode(q, msg.program, sizeof(msg.program)) : 0;

    /* Zero all but the program: non-zero ports in req.id would filter too. */
    memset(&msg, 0, offsetof(struct request, program));
    msg.nlh.nlmsg_len = offsetof(struct request, bytecode);
    if (program_len > 0) {
        msg.bytecode.nla_type = INET_DIAG_REQ_BYTECODE;
        msg.bytecode.nla_len = (uint16_t)(NLA_HDRLEN + program_len);
        msg.nlh.nlmsg_len += NLA_ALIGN(msg.bytecode.nla_len);
    }
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = REQUEST_SEQ;
    if (q->family == AF_UNIX) {
        /* Every field the rows show, and the uid where the kernel has it. */
        msg.nlh.nlmsg_len = NLMSG_HDRLEN + sizeof(msg.req.unix_);
        msg.req.unix_.sdiag_family = AF_UNIX;
        msg.req.unix_.udiag_states = tt_linux_state_mask(q->states, 0);
        msg.req.unix_.udiag_show =
            UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | TT_UDIAG_SHOW_UID;
    }
    else {
        msg.req.inet.sdiag_family = (uint8_t)q->family;
        msg.req.inet.sdiag_protocol = (uint8_t)q->protocol;
        msg.req.inet.idiag_states = tt_linux_state_mask(
            q->states, q->protocol == IPPROTO_TCP && TT_STATE_IN(q->states, TT_FIN_WAIT2) &&
                           orphans_need_time_wait());
        /* Each extension costs bytes per row (tcp_info: 124 bytes a message
         * become about 400): UDP asks for the socket memory counters that
         * hold its drop count, TCP for its quality figures only when asked
         * (diag.c). */
        if (q->protocol == IPPROTO_UDP)
            msg.req.inet.idiag_ext = 1u << (INET_DIAG_SKMEMINFO - 1);
        else if (q->want & TT_WANT_INFO)
            msg.req.inet.idiag_ext = 1u << (INET_DIAG_INFO - 1) | 1u << (INET_DIAG_CONG - 1) |
                                     1u << (INET_DIAG_SKMEMINFO - 1);
    }
    if (sendto(fd, &msg, msg.nlh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
        return tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno,
                       "netlink sendto()");
    return program_len > 0;
}

static int
receive_dump(int fd, uint32_t portid, const tt_query *q, void *buf, tt_rows *out,
             tt_error *err)
{
    for (;;) {
        struct sockaddr_nl from;
        struct iovec iov = {.iov_base = buf, .iov_len = RECV_BUFFER_SIZE};
        struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from),
                            .msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &mh, 0);
        int rc;

        if (n < 0)
            /* ENOBUFS means the kernel dropped part of the dump: an error,
             * never a silently partial table. */
            return tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno,
                           "netlink recvmsg()");
        if (mh.msg_flags & MSG_TRUNC)
            return tt_fail(err, TT_ERR_OS, EMSGSIZE,
                           "netlink recvmsg() truncated a batch");
        if (n == 0)
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "netlink socket closed before NLMSG_DONE");
        if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
            continue; /* only the kernel speaks for sock_diag */
        rc = tt_nl_decode(buf, (size_t)n, REQUEST_SEQ, portid, q, out, err);
        if (rc != TT_NL_MORE)
            return rc == TT_NL_DONE ? 0 : -1;
    }
}

/* One dump; *filtered tells whether the kernel was sent the port filter. */
static int
dump_once(const tt_query *q, int filter, int *filtered, tt_rows *out, tt_error *err)
{
    struct sockaddr_nl self;
    socklen_t self_len = sizeof(self);
    void *buf = NULL;
    int rc = -1;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (fd < 0)
        return tt_fail(err, TT_ERR_OS, errno, "netlink socket()");
    if ((*filtered = send_request(fd, q, filter, err)) < 0)
        goto done;
    /* sendto() bound the socket: learn the port id replies are addressed to. */
    if (getsockname(fd, (struct sockaddr *)&self, &self_len) < 0) {
        tt_fail(err, TT_ERR_OS, errno, "netlink getsockname()");
        goto done;
    }
    /* malloc() aligns the buffer for struct nlmsghdr. */
    if ((buf = malloc(RECV_BUFFER_SIZE)) == NULL) {
        tt_fail(err, TT_ERR_NOMEM, 0, "allocating the netlink buffer");
        goto done;
    }
    rc = receive_dump(fd, self.nl_pid, q, buf, out, err);
done:
    free(buf);
    close(fd);
    return rc;
}

int
tt_netlink_dump(const tt_query *q, tt_rows *out, tt_error *err)
{
    size_t kept = out->len, kept_info = out->info_len;
    int filtered = 0;

    if (dump_once(q, 1, &filtered, out, err) == 0)
        return 0;
    /* A kernel whose audit rejects the bytecode answers EINVAL: dump again
     * unfiltered, and let the decoder filter (it always checks anyway). */
    if (!filtered || err->kind != TT_ERR_OS || err->code != EINVAL)
        return -1;
    out->len = kept;
    out->info_len = kept_info;
    return dump_once(q, 0, &filtered, out, err);
}
