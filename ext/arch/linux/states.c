/* Linux TCP state numbers (include/net/tcp_states.h, not uapi) against MIB
 * numbers, both ways. */
#include "backend.h"

const uint8_t tt_linux_to_mib[TT_LINUX_STATE_COUNT] = {
    [1] = TT_ESTABLISHED, [2] = TT_SYN_SENT,   [3] = TT_SYN_RECV,
    [4] = TT_FIN_WAIT1,   [5] = TT_FIN_WAIT2,  [6] = TT_TIME_WAIT,
    [7] = TT_CLOSE,       [8] = TT_CLOSE_WAIT, [9] = TT_LAST_ACK,
    [10] = TT_LISTEN,     [11] = TT_CLOSING,   [12] = TT_SYN_RECV, /* NEW_SYN_RECV */
};

/* Linux state bits to ask the kernel for, per MIB state.  SYN_RECV also asks
 * for NEW_SYN_RECV request sockets. */
static const uint32_t mib_to_linux_bits[TT_STATE_MAX + 1] = {
    [TT_CLOSE] = 1u << 7,       [TT_LISTEN] = 1u << 10,
    [TT_SYN_SENT] = 1u << 2,    [TT_SYN_RECV] = 1u << 3 | 1u << 12,
    [TT_ESTABLISHED] = 1u << 1, [TT_FIN_WAIT1] = 1u << 4,
    [TT_FIN_WAIT2] = 1u << 5,   [TT_CLOSE_WAIT] = 1u << 8,
    [TT_CLOSING] = 1u << 11,    [TT_LAST_ACK] = 1u << 9,
    [TT_TIME_WAIT] = 1u << 6,
    [TT_DELETE_TCB] = 0, /* Linux has no such state */
};

uint32_t
tt_linux_state_mask(tt_state_set states, int orphans_need_time_wait)
{
    uint32_t mask = 0;
    for (int s = 1; s <= TT_STATE_MAX; s++)
        if (TT_STATE_IN(states, s))
            mask |= mib_to_linux_bits[s];
    /* Orphaned FIN_WAIT2 sockets live on as TIME_WAIT mini-sockets that
     * report FIN_WAIT2; older kernels match those on TIME_WAIT only. */
    if (orphans_need_time_wait && TT_STATE_IN(states, TT_FIN_WAIT2))
        mask |= 1u << 6;
    return mask;
}
