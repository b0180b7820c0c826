/* libFuzzer harness for the port-filter bytecode builder (bytecode.c).
 *
 * The input picks a local and a remote port set.  Every program built must
 * pass the kernel's audit, rewritten here from net/ipv4/inet_diag.c
 * (inet_diag_bc_audit, valid_cc, valid_port_comparison), and run as the
 * kernel runs it (inet_diag_bc_run) to the same verdict as the sets say,
 * for every port the input names and its neighbours.  A program may only be
 * refused (-1) for a set of more than TT_BYTECODE_MAX_RANGES ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>

#include "arch/linux/backend.h"

#define OP ((int)sizeof(struct inet_diag_bc_op))

static int
valid_cc(const uint8_t *bc, int len, int cc)
{
    while (len >= 0) {
        struct inet_diag_bc_op op;
        if (cc > len)
            return 0;
        if (cc == len)
            return 1;
        memcpy(&op, bc, sizeof(op));
        if (op.yes < 4 || op.yes & 3)
            return 0;
        len -= op.yes;
        bc += op.yes;
    }
    return 0;
}

static int
audit(const uint8_t *program, int program_len)
{
    const uint8_t *bc = program;
    int len = program_len;

    if (len < OP)
        return 0;
    while (len > 0) {
        struct inet_diag_bc_op op;
        int min_len = OP;
        memcpy(&op, bc, sizeof(op));
        switch (op.code) {
        case INET_DIAG_BC_S_GE:
        case INET_DIAG_BC_S_LE:
        case INET_DIAG_BC_D_GE:
        case INET_DIAG_BC_D_LE:
            if (len < 2 * OP)
                return 0;
            min_len += OP;
            break;
        case INET_DIAG_BC_JMP:
        case INET_DIAG_BC_NOP:
            break;
        default:
            return 0; /* the builder uses nothing else */
        }
        if (op.code != INET_DIAG_BC_NOP) {
            if (op.no < min_len || op.no > len + 4 || op.no & 3)
                return 0;
            if (op.no < len && !valid_cc(program, program_len, len - op.no))
                return 0;
        }
        if (op.yes < min_len || op.yes > len + 4 || op.yes & 3)
            return 0;
        bc += op.yes;
        len -= op.yes;
    }
    return len == 0;
}

static int
run(const uint8_t *bc, int len, uint16_t sport, uint16_t dport)
{
    while (len > 0) {
        struct inet_diag_bc_op op, value;
        int yes = 1;
        memcpy(&op, bc, sizeof(op));
        if (op.code != INET_DIAG_BC_NOP && op.code != INET_DIAG_BC_JMP)
            memcpy(&value, bc + OP, sizeof(value));
        switch (op.code) {
        case INET_DIAG_BC_JMP:
            yes = 0;
            break;
        case INET_DIAG_BC_S_GE:
            yes = sport >= value.no;
            break;
        case INET_DIAG_BC_S_LE:
            yes = sport <= value.no;
            break;
        case INET_DIAG_BC_D_GE:
            yes = dport >= value.no;
            break;
        case INET_DIAG_BC_D_LE:
            yes = dport <= value.no;
            break;
        }
        if (yes) {
            len -= op.yes;
            bc += op.yes;
        }
        else {
            len -= op.no;
            bc += op.no;
        }
    }
    return len == 0;
}

static int
ranges(const tt_port_set *set)
{
    int n = 0;
    for (long p = 0; p < 65536; p++)
        if (TT_PORT_IN(set, p) && (p == 0 || !TT_PORT_IN(set, p - 1)))
            n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tt_port_set sets[2];
    static uint8_t program[TT_BYTECODE_MAX];
    uint16_t probes[4096];
    size_t n_probes = 0;
    tt_query q = {0};
    int len;

    if (size < 1)
        return 0;
    memset(sets, 0, sizeof(sets));
    /* Byte 0: which sets are given.  Then 3-byte items: set bit, port, and a
     * run length (consecutive ports from it). */
    for (size_t i = 1; i + 3 <= size && n_probes + 4 < sizeof(probes) / sizeof(probes[0]);
         i += 3) {
        tt_port_set *set = &sets[data[i] & 1];
        uint16_t port = (uint16_t)(data[i + 1] << 8 | data[i + 2]);
        unsigned run_len = (data[i] >> 1) & 7;
        for (unsigned k = 0; k <= run_len && port + k <= 65535; k++)
            tt_port_set_add(set, (uint16_t)(port + k));
        probes[n_probes++] = port;
        probes[n_probes++] = (uint16_t)(port - 1);
        probes[n_probes++] = (uint16_t)(port + run_len + 1);
    }
    probes[n_probes++] = 0;
    probes[n_probes++] = 65535;
    q.local_ports = data[0] & 1 ? &sets[0] : NULL;
    q.remote_ports = data[0] & 2 ? &sets[1] : NULL;
    len = tt_nl_bytecode(&q, program, sizeof(program));
    if (len < 0) {
        if (!((q.local_ports && ranges(q.local_ports) > TT_BYTECODE_MAX_RANGES) ||
              (q.remote_ports && ranges(q.remote_ports) > TT_BYTECODE_MAX_RANGES)))
            abort(); /* refused a program that fits */
        return 0;
    }
    if (len == 0) {
        /* Only a set of every port needs no test at all. */
        if ((q.local_ports && q.local_ports->count != 65536) ||
            (q.remote_ports && q.remote_ports->count != 65536))
            abort(); /* a filter asked for, none built */
        return 0;
    }
    if (!audit(program, len))
        abort(); /* the kernel would answer EINVAL */
    /* Every probe as the local port, against about 32 as the remote one. */
    for (size_t a = 0; a < n_probes; a++)
        for (size_t b = a % 7; b < n_probes; b += n_probes / 32 + 1) {
            uint16_t sport = probes[a], dport = probes[b];
            int want = (!q.local_ports || TT_PORT_IN(q.local_ports, sport)) &&
                       (!q.remote_ports || TT_PORT_IN(q.remote_ports, dport));
            if (run(program, len, sport, dport) != want)
                abort(); /* a socket kept or dropped wrongly */
        }
    return 0;
}
