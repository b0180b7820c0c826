/* Linux: netlink sock_diag, with /proc/net/tcp{,6} where netlink is missing.
 * TCPTABLE_BACKEND=proc forces the fallback, =netlink forbids it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

const uint8_t tt_linux_to_mib[TT_LINUX_STATE_COUNT] = {
    [1] = TT_ESTABLISHED, [2] = TT_SYN_SENT,   [3] = TT_SYN_RECV,
    [4] = TT_FIN_WAIT1,   [5] = TT_FIN_WAIT2,  [6] = TT_TIME_WAIT,
    [7] = TT_CLOSE,       [8] = TT_CLOSE_WAIT, [9] = TT_LAST_ACK,
    [10] = TT_LISTEN,     [11] = TT_CLOSING,   [12] = TT_SYN_RECV, /* NEW_SYN_RECV */
};

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

int
tt_backend_dump(int family, tt_state_set states, tt_rows *out, tt_error *err)
{
    const char *choice = getenv("TCPTABLE_BACKEND");
    size_t kept = out->len;

    if (choice != NULL && *choice != '\0') {
        if (strcmp(choice, "proc") == 0)
            return tt_proc_dump(family, states, out, err);
        if (strcmp(choice, "netlink") == 0)
            return tt_netlink_dump(family, states, out, err);
        return tt_fail(err, TT_ERR_CONFIG, 0,
                       "TCPTABLE_BACKEND must be 'netlink', 'proc' or unset");
    }
    if (tt_netlink_dump(family, states, out, err) == 0)
        return 0;
    if (!netlink_unavailable(err))
        return -1;
    out->len = kept;
    return tt_proc_dump(family, states, out, err);
}
