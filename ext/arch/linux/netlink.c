/* The sock_diag dump: one request per family, one 32 KiB receive buffer,
 * rows decoded straight into the row array. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "backend.h"

/* The kernel sizes dump batches to the largest read seen, capped near 32 KiB;
 * a larger buffer gains nothing, a smaller one costs batches. */
#define RECV_BUFFER_SIZE 32768
#define REQUEST_SEQ 0x74637074u

/* Linux state bits to ask the kernel for, per MIB state.  FIN_WAIT2 also
 * asks for TIME_WAIT: orphaned FIN_WAIT2 sockets live on as TIME_WAIT
 * mini-sockets that report FIN_WAIT2, and the kernel filters on the former.
 * SYN_RECV also asks for NEW_SYN_RECV request sockets. */
static const uint32_t mib_to_linux_bits[TT_STATE_MAX + 1] = {
    [TT_CLOSE] = 1u << 7,       [TT_LISTEN] = 1u << 10,
    [TT_SYN_SENT] = 1u << 2,    [TT_SYN_RECV] = 1u << 3 | 1u << 12,
    [TT_ESTABLISHED] = 1u << 1, [TT_FIN_WAIT1] = 1u << 4,
    [TT_FIN_WAIT2] = 1u << 5 | 1u << 6,
    [TT_CLOSE_WAIT] = 1u << 8,  [TT_CLOSING] = 1u << 11,
    [TT_LAST_ACK] = 1u << 9,    [TT_TIME_WAIT] = 1u << 6,
    [TT_DELETE_TCB] = 0, /* Linux has no such state */
};

static uint32_t
kernel_state_mask(tt_state_set states)
{
    uint32_t mask = 0;
    for (int s = 1; s <= TT_STATE_MAX; s++)
        if (TT_HAS_STATE(states, s))
            mask |= mib_to_linux_bits[s];
    return mask;
}

static int
is_link_local(const uint8_t *a)
{
    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static int
decode_row(const struct inet_diag_msg *m, int family, tt_state_set states,
           tt_rows *out, tt_error *err)
{
    size_t addr_len = family == AF_INET ? 4 : 16;
    uint8_t state = m->idiag_state < TT_LINUX_STATE_COUNT
                        ? tt_linux_to_mib[m->idiag_state] : 0;
    tt_row *row;

    if (m->idiag_family != family)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "sock_diag reply of another address family");
    if (state == 0)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "sock_diag reply with an unknown TCP state");
    /* TIME_WAIT mini-sockets may report FIN_WAIT2: filter on what is shown. */
    if (!TT_HAS_STATE(states, state))
        return 0;
    if ((row = tt_rows_push(out, err)) == NULL)
        return -1;
    row->state = state;
    memcpy(row->local_addr, m->id.idiag_src, addr_len);
    row->local_port = ntohs(m->id.idiag_sport);
    if (family == AF_INET6 && is_link_local(row->local_addr))
        row->local_scope_id = m->id.idiag_if;
    if (state != TT_LISTEN) {
        memcpy(row->remote_addr, m->id.idiag_dst, addr_len);
        row->remote_port = ntohs(m->id.idiag_dport);
        if (family == AF_INET6 && is_link_local(row->remote_addr))
            row->remote_scope_id = m->id.idiag_if;
    }
    return 0;
}

/* One message addressed to us: a row, the end of the dump, or an error.
 * `data` may be unaligned (fuzzers feed any buffer): only memcpy from it. */
static int
decode_message(const struct nlmsghdr *h, const uint8_t *data, int family,
               tt_state_set states, tt_rows *out, tt_error *err)
{
    size_t payload = h->nlmsg_len - NLMSG_HDRLEN;

    switch (h->nlmsg_type) {
    case NLMSG_DONE: {
        int status;
        if (payload >= sizeof(status)) {
            memcpy(&status, data, sizeof(status));
            if (status < 0)
                return tt_fail(err, TT_ERR_OS, -(long)status,
                               "netlink sock_diag dump (NLMSG_DONE)");
        }
        return TT_NL_DONE;
    }
    case NLMSG_ERROR: {
        struct nlmsgerr e;
        if (payload < sizeof(e))
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "netlink NLMSG_ERROR too short");
        memcpy(&e, data, sizeof(e));
        if (e.error < 0)
            return tt_fail(err, TT_ERR_OS, -(long)e.error,
                           "netlink sock_diag request (NLMSG_ERROR)");
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "netlink acknowledgement in the middle of a dump");
    }
    case SOCK_DIAG_BY_FAMILY: {
        struct inet_diag_msg m;
        if (payload < sizeof(m))
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "sock_diag message too short");
        memcpy(&m, data, sizeof(m));
        return decode_row(&m, family, states, out, err) < 0 ? -1 : TT_NL_MORE;
    }
    default:
        return TT_NL_MORE; /* NLMSG_NOOP and the like carry nothing for us */
    }
}

int
tt_nl_decode(const void *buf, size_t len, uint32_t seq, uint32_t portid,
             int family, tt_state_set states, tt_rows *out, tt_error *err)
{
    const uint8_t *p = buf;

    while (len > 0) {
        struct nlmsghdr h;
        size_t step;

        if (len < sizeof(h))
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "netlink batch ends inside a message header");
        memcpy(&h, p, sizeof(h));
        if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "netlink message with a bad length");
        if (h.nlmsg_seq == seq && h.nlmsg_pid == portid) {
            int rc = decode_message(&h, p + NLMSG_HDRLEN, family, states,
                                    out, err);
            if (rc != TT_NL_MORE)
                return rc;
        }
        /* Align in size_t: NLMSG_ALIGN's 32-bit sum wraps to 0 near
         * UINT32_MAX, and a step of 0 would never leave this message. */
        step = ((size_t)h.nlmsg_len + NLMSG_ALIGNTO - 1) & ~(size_t)(NLMSG_ALIGNTO - 1);
        if (step > len)
            step = len;
        p += step;
        len -= step;
    }
    return TT_NL_MORE;
}

static int
send_request(int fd, int family, tt_state_set states, tt_error *err)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } msg;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

    memset(&msg, 0, sizeof(msg)); /* non-zero ports in req.id would filter */
    msg.nlh.nlmsg_len = sizeof(msg);
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.nlh.nlmsg_seq = REQUEST_SEQ;
    msg.req.sdiag_family = (uint8_t)family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = kernel_state_mask(states);
    /* idiag_ext stays 0: no extension is parsed, and each costs bytes. */

    if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel,
               sizeof(kernel)) < 0)
        return tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno,
                       "netlink sendto()");
    return 0;
}

static int
receive_dump(int fd, uint32_t portid, int family, tt_state_set states,
             void *buf, tt_rows *out, tt_error *err)
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
        rc = tt_nl_decode(buf, (size_t)n, REQUEST_SEQ, portid, family, states,
                          out, err);
        if (rc != TT_NL_MORE)
            return rc == TT_NL_DONE ? 0 : -1;
    }
}

int
tt_netlink_dump(int family, tt_state_set states, tt_rows *out, tt_error *err)
{
    struct sockaddr_nl self;
    socklen_t self_len = sizeof(self);
    void *buf = NULL;
    int rc = -1;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

    if (fd < 0)
        return tt_fail(err, TT_ERR_OS, errno, "netlink socket()");
    if (send_request(fd, family, states, err) < 0)
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
    rc = receive_dump(fd, self.nl_pid, family, states, buf, out, err);
done:
    free(buf);
    close(fd);
    return rc;
}
