/* The pure AF_UNIX sock_diag decoder: one unix_diag_msg and its attributes
 * (name, peer, queues, uid) in, one row out.  diag.c frames the batch; no
 * system calls, so the fuzz harness drives it with any bytes. */
#include <errno.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/unix_diag.h>

#include "backend.h"


/* One attribute of a row; a payload shorter than its type needs is ignored,
 * as the kernel never sends one. */
static int
decode_attr(const struct nlattr *a, const uint8_t *payload, size_t len, tt_rows *out,
            tt_row *row, tt_error *err)
{
    uint32_t u32[2];

    switch (a->nla_type & NLA_TYPE_MASK) {
    case UNIX_DIAG_NAME:
        /* sun_path as bound: a leading NUL is an abstract name, all of whose
         * bytes count; a path ends at its first NUL (binders may count one). */
        if (len == 0)
            return 0;
        if (payload[0] == '\0')
            return tt_rows_set_name(out, row, (const char *)payload, len, 1, err);
        return tt_rows_set_name(out, row, (const char *)payload,
                                strnlen((const char *)payload, len), 0, err);
    case UNIX_DIAG_PEER:
        /* Peer inode 0: a connection its listener has not accepted yet,
         * whose socket has no inode until then (ss shows "* 0"). */
        if (len >= sizeof(uint32_t)) {
            memcpy(u32, payload, sizeof(uint32_t));
            row->peer_inode = u32[0];
            /* The last one counts, should the kernel ever send two. */
            row->has = (uint8_t)(u32[0] != 0 ? row->has | TT_HAS_PEER : row->has & ~TT_HAS_PEER);
        }
        return 0;
    case UNIX_DIAG_RQLEN: /* struct unix_diag_rqlen: rqueue, wqueue */
        if (len >= 2 * sizeof(uint32_t)) {
            memcpy(u32, payload, 2 * sizeof(uint32_t));
            row->rx_queue = u32[0];
            row->tx_queue = u32[1];
            row->has |= TT_HAS_QUEUES;
        }
        return 0;
    case TT_UNIX_DIAG_UID:
        if (len >= sizeof(uint32_t)) {
            memcpy(&row->uid, payload, sizeof(uint32_t));
            row->has |= TT_HAS_UID;
        }
        return 0;
    default:
        return 0;
    }
}

int
tt_unix_decode(const uint8_t *data, size_t len, const tt_query *q, tt_rows *out,
               tt_error *err)
{
    struct unix_diag_msg m;
    uint8_t state;
    tt_row *row;

    if (len < sizeof(m))
        return tt_fail(err, TT_ERR_PROTO, EPROTO, "unix_diag message too short");
    memcpy(&m, data, sizeof(m));
    if (m.udiag_family != AF_UNIX)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "sock_diag reply of another address family");
    state = m.udiag_state < TT_LINUX_STATE_COUNT ? tt_linux_to_mib[m.udiag_state] : 0;
    if (state == 0)
        return tt_fail(err, TT_ERR_PROTO, EPROTO,
                       "unix_diag reply with an unknown socket state");
    if (!TT_STATE_IN(q->states, state))
        return 0;
    if ((row = tt_rows_push(out, err)) == NULL)
        return -1;
    row->state = state;
    row->type = m.udiag_type;
    row->inode = m.udiag_ino;
    row->has = TT_HAS_INODE;
    data += sizeof(m);
    len -= sizeof(m);
    while (len >= NLA_HDRLEN) {
        struct nlattr a;
        size_t step;

        memcpy(&a, data, sizeof(a));
        if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           "unix_diag attribute with a bad length");
        /* The name goes into out->names: `row` stays valid (no push). */
        if (decode_attr(&a, data + NLA_HDRLEN, a.nla_len - NLA_HDRLEN, out, row, err) < 0)
            return -1;
        step = NLA_ALIGN(a.nla_len);
        if (step >= len)
            break;
        data += step;
        len -= step;
    }
    return 0;
}
