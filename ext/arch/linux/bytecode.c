/* The port filter as inet_diag bytecode (INET_DIAG_REQ_BYTECODE), so the
 * kernel copies only matching sockets into the dump, as `ss 'sport = :443'`
 * does.  Pure: no system calls, so the fuzz harness checks its output.
 *
 * Each port set becomes its ranges of consecutive ports, tried in turn:
 *
 *     GE lo1 (no: next range)  LE hi1 (no: next range)  JMP (to the set's end)
 *     GE lo2 (no: next range)  LE hi2 (no: reject)
 *
 * A jump past the program's end by 4 rejects the socket; running off the
 * end accepts it.  Only S_GE/S_LE/D_GE/D_LE/JMP are used: every kernel with
 * sock_diag knows them (S_EQ came in 4.16).  The kernel's audit
 * (inet_diag_bc_audit) wants each jump 4-aligned, at least the op's length,
 * at most 4 past the end, and landing on an op of the straight-line chain:
 * all hold by construction, and the fuzz harness checks them again. */
#include <string.h>
#include <linux/inet_diag.h>

#include "backend.h"

#define OP_SIZE ((int)sizeof(struct inet_diag_bc_op))

typedef struct {
    uint8_t *buf;
    int len; /* bytes written */
    int cap;
} program;

static void
put(program *p, uint8_t code, uint8_t yes, uint16_t no)
{
    struct inet_diag_bc_op op = {code, yes, no};
    memcpy(p->buf + p->len, &op, sizeof(op));
    p->len += OP_SIZE;
}

/* One comparison: the op, then the port in the next op's `no`. */
static void
put_compare(program *p, uint8_t code, uint16_t port)
{
    put(p, code, 2 * OP_SIZE, 0); /* its `no` is patched once the target is known */
    put(p, 0, 0, port);
}

/* Ranges of consecutive ports in `set`, written as (lo, hi) pairs into
 * `ranges` up to `max`; returns how many there are (may exceed max).  Whole
 * words inside or outside a range are skipped: a filtered call pays for the
 * ports it names, not for all 65536. */
static int
port_ranges(const tt_port_set *set, uint16_t ranges[][2], int max)
{
    int n = 0;
    long lo = -1;

    for (long word = 0; word <= 65536 / 64; word++) {
        uint64_t bits = word < 65536 / 64 ? set->map[word] : 0;
        if (bits == (lo >= 0 ? ~(uint64_t)0 : 0))
            continue;
        for (long port = word * 64; port < word * 64 + 64; port++) {
            int in = (bits >> (port & 63)) & 1;
            if (in && lo < 0)
                lo = port;
            else if (!in && lo >= 0) {
                if (n < max) {
                    ranges[n][0] = (uint16_t)lo;
                    ranges[n][1] = (uint16_t)(port - 1);
                }
                n++;
                lo = -1;
            }
            if (port == 65536)
                break;
        }
    }
    return n;
}

/* Offsets (from the program's start) of ops whose `no` jumps to the next
 * range, patched when it starts. */
typedef struct {
    int at[2];
    int n;
} pending;

static void
land(program *p, pending *jumps, int target)
{
    for (int i = 0; i < jumps->n; i++) {
        struct inet_diag_bc_op *op = (struct inet_diag_bc_op *)(p->buf + jumps->at[i]);
        op->no = (uint16_t)(target - jumps->at[i]);
    }
    jumps->n = 0;
}

/* Appends one set's block; returns 0, or -1 when it would not fit. */
static int
put_set(program *p, const tt_port_set *set, uint8_t ge, uint8_t le, int *rejects, int *n_rejects)
{
    uint16_t ranges[TT_BYTECODE_MAX_RANGES][2];
    int n = port_ranges(set, ranges, TT_BYTECODE_MAX_RANGES);
    int ends[TT_BYTECODE_MAX_RANGES]; /* JMPs to the block's end */
    int n_ends = 0;
    pending next = {{0, 0}, 0};

    if (n > TT_BYTECODE_MAX_RANGES)
        return -1;
    if (n == 0) { /* no port at all: reject every socket */
        if (p->len + OP_SIZE > p->cap)
            return -1;
        rejects[(*n_rejects)++] = p->len;
        put(p, INET_DIAG_BC_JMP, OP_SIZE, 0);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        if (p->len + 5 * OP_SIZE > p->cap)
            return -1;
        land(p, &next, p->len);
        if (ranges[i][0] > 0) {
            next.at[next.n++] = p->len;
            put_compare(p, ge, ranges[i][0]);
        }
        if (ranges[i][1] < 65535) {
            next.at[next.n++] = p->len;
            put_compare(p, le, ranges[i][1]);
        }
        if (next.n == 0) /* 0..65535: every port, nothing to test */
            return 0;
        if (last) {
            for (int j = 0; j < next.n; j++)
                rejects[(*n_rejects)++] = next.at[j];
            next.n = 0;
        }
        else {
            ends[n_ends++] = p->len;
            put(p, INET_DIAG_BC_JMP, OP_SIZE, 0);
        }
    }
    for (int i = 0; i < n_ends; i++) {
        struct inet_diag_bc_op *op = (struct inet_diag_bc_op *)(p->buf + ends[i]);
        op->no = (uint16_t)(p->len - ends[i]);
    }
    return 0;
}

int
tt_nl_bytecode(const tt_query *q, uint8_t *buf, size_t cap)
{
    /* At most two rejecting jumps per set (GE, LE of its last range). */
    int rejects[4], n_rejects = 0;
    program p = {buf, 0, cap > TT_BYTECODE_MAX ? TT_BYTECODE_MAX : (int)cap};

    if ((q->local_ports != NULL &&
         put_set(&p, q->local_ports, INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE, rejects,
                 &n_rejects) < 0) ||
        (q->remote_ports != NULL &&
         put_set(&p, q->remote_ports, INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE, rejects,
                 &n_rejects) < 0))
        return -1;
    for (int i = 0; i < n_rejects; i++) {
        struct inet_diag_bc_op *op = (struct inet_diag_bc_op *)(p.buf + rejects[i]);
        op->no = (uint16_t)(p.len - rejects[i] + OP_SIZE);
    }
    return p.len;
}
