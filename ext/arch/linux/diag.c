/* The pure sock_diag decoder: one received batch in, rows out.  No system
 * calls, so the fuzz harness drives it with any bytes. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "backend.h"

/* decode_message() finds a message's attributes right after it. */
_Static_assert(sizeof(struct inet_diag_msg) % NLMSG_ALIGNTO == 0,
               "inet_diag_msg ends on a netlink alignment boundary");

static int
is_link_local(const uint8_t *a)
{
    return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* The attributes a row's decoding reads, by type (INET_DIAG_SKMEMINFO is 7,
 * the highest of them). */
#define ATTR_SLOTS (INET_DIAG_SKMEMINFO + 1)

typedef struct {
    const uint8_t *data; /* the payload; NULL: the kernel sent none */
    size_t len;
} attr_span;

/* Finds the attributes that follow the message (`attrs`, `len` bytes,
 * untrusted and maybe unaligned) and notes where each of the types below
 * ATTR_SLOTS is (the last one of a type, as the kernel sends each once).
 * 0, or -1 with *err set when an attribute's length is bad. */
static int
find_attrs(const uint8_t *attrs, size_t len, attr_span found[ATTR_SLOTS], tt_error *err)
{
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        unsigned type;
        size_t step;

        memcpy(&a, attrs, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "sock_diag attribute with a bad length");
        type = a.nla_type & NLA_TYPE_MASK;
        if (type < ATTR_SLOTS) {
            found[type].data = attrs + NLA_HDRLEN;
            found[type].len = a.nla_len - NLA_HDRLEN;
        }
        step = NLA_ALIGN(a.nla_len);
        if (step >= len)
            break;
        attrs += step;
        len -= step;
    }
    return 0;
}

/* What a row gains from its attributes: UDP the drop count of
 * INET_DIAG_SKMEMINFO, TCP with TT_WANT_INFO an info entry where the kernel
 * sent any of the three it was asked for (TIME_WAIT and request sockets get
 * none: their rows keep info 0).  TCP rows otherwise skip the attributes. */
static int
decode_attrs(const uint8_t *attrs, size_t len, const tt_query *q, tt_rows *out, tt_row *row,
             tt_error *err)
{
    attr_span found[ATTR_SLOTS] = {{0}};
    const attr_span *mem = &found[INET_DIAG_SKMEMINFO];
    tt_tcp_info *info;

    if (q->protocol != IPPROTO_UDP && !(q->want & TT_WANT_INFO))
        return 0;
    if (find_attrs(attrs, len, found, err) < 0)
        return -1;
    if (q->protocol == IPPROTO_UDP) {
        if (mem->data != NULL && mem->len >= (TT_SK_MEMINFO_DROPS + 1) * sizeof(uint32_t)) {
            memcpy(&row->drops, mem->data + TT_SK_MEMINFO_DROPS * sizeof(uint32_t),
                   sizeof(row->drops));
            row->has |= TT_HAS_DROPS;
        }
        return 0;
    }
    if (found[INET_DIAG_INFO].data == NULL && found[INET_DIAG_CONG].data == NULL &&
        mem->data == NULL)
        return 0;
    if ((info = tt_rows_push_info(out, row, err)) == NULL)
        return -1;
    if (found[INET_DIAG_INFO].data != NULL)
        tt_tcp_info_decode(found[INET_DIAG_INFO].data, found[INET_DIAG_INFO].len, info);
    if (found[INET_DIAG_CONG].data != NULL)
        tt_tcp_info_congestion(found[INET_DIAG_CONG].data, found[INET_DIAG_CONG].len, info);
    if (mem->data != NULL)
        tt_tcp_info_meminfo(mem->data, mem->len, info);
    return 0;
}

/* One inet_diag_msg and, after it, `attrs_len` bytes of attributes. */
static int
decode_row(const struct inet_diag_msg *m, const uint8_t *attrs, size_t attrs_len,
           const tt_query *q, tt_rows *out, tt_error *err)
{
    size_t addr_len = q->family == AF_INET ? 4 : 16;
    uint8_t state = m->idiag_state < TT_LINUX_STATE_COUNT
                        ? tt_linux_to_mib[m->idiag_state] : 0;
    int has_peer = tt_linux_has_peer(q->protocol, state);
    uint16_t local_port = ntohs(m->id.idiag_sport);
    uint16_t remote_port = has_peer ? ntohs(m->id.idiag_dport) : 0;
    tt_row *row;

    if (m->idiag_family != q->family)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "sock_diag reply of another address family");
    if (state == 0)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "sock_diag reply with an unknown TCP state");
    /* The kernel filtered already, but TIME_WAIT mini-sockets may report
     * FIN_WAIT2 and a kernel may ignore the port bytecode: filter on what
     * the row shows. */
    if (!tt_query_wants(q, state, local_port, remote_port))
        return 0;
    if ((row = tt_rows_push(out, err)) == NULL)
        return -1;
    row->state = state;
    memcpy(row->local_addr, m->id.idiag_src, addr_len);
    row->local_port = local_port;
    if (q->family == AF_INET6 && is_link_local(row->local_addr))
        row->local_scope_id = m->id.idiag_if;
    if (has_peer) {
        memcpy(row->remote_addr, m->id.idiag_dst, addr_len);
        row->remote_port = remote_port;
        if (q->family == AF_INET6 && is_link_local(row->remote_addr))
            row->remote_scope_id = m->id.idiag_if;
    }
    /* For LISTEN, what ss shows: connections waiting to be accepted, and the
     * backlog limit. */
    row->rx_queue = m->idiag_rqueue;
    row->tx_queue = m->idiag_wqueue;
    row->uid = m->idiag_uid;
    row->inode = m->idiag_inode;
    row->has = tt_linux_row_has(q->protocol, row->inode);
    return decode_attrs(attrs, attrs_len, q, out, row, err);
}

/* One message addressed to us: a row, the end of the dump, or an error.
 * `data` may be unaligned (fuzzers feed any buffer): only memcpy from it. */
static int
decode_message(const struct nlmsghdr *h, const uint8_t *data, const tt_query *q,
               tt_rows *out, tt_error *err)
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
        if (q->family == AF_UNIX)
            return tt_unix_decode(data, payload, q, out, err) < 0 ? -1 : TT_NL_MORE;
        if (payload < sizeof(m))
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "sock_diag message too short");
        memcpy(&m, data, sizeof(m));
        if (decode_row(&m, data + sizeof(m), payload - sizeof(m), q, out, err) < 0)
            return -1;
        return TT_NL_MORE;
    }
    default:
        return TT_NL_MORE; /* NLMSG_NOOP and the like carry nothing for us */
    }
}

int
tt_nl_decode(const void *buf, size_t len, uint32_t seq, uint32_t portid,
             const tt_query *q, tt_rows *out, tt_error *err)
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
            int rc = decode_message(&h, p + NLMSG_HDRLEN, q, out, err);
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
