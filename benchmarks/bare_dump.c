/* The benchmark's limit: the extension's own backend (the same netlink dump
 * and decoder, into the same C row array) with no Python object anywhere.
 * Built by bench.py as a shared library and called through ctypes, which
 * adds well under a microsecond to a dump of milliseconds. */
#include "tcptable.h"

/* Dumps the table (protocol, family) for the states in `states`, as the
 * glue's query asks for it: IPPROTO_TCP or IPPROTO_UDP with AF_INET or
 * AF_INET6, or 0 with AF_UNIX; frees the rows and returns how many there
 * were, or -1 with the error's code in *code. */
long
bare_dump(int protocol, int family, unsigned states, long *code)
{
    tt_query q = {.protocol = protocol, .family = family, .states = (tt_state_set)states};
    tt_rows rows = {.protocol = protocol, .family = family};
    tt_error err = {0};
    long n = -1;

    if (tt_backend_dump(&q, &rows, &err) == 0)
        n = (long)rows.len;
    else
        *code = err.code;
    tt_rows_free(&rows);
    return n;
}
