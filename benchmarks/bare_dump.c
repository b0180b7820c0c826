/* The benchmark's limit: the extension's own backend (the same netlink dump
 * and decoder, into the same C row array) with no Python object anywhere.
 * Built by bench.py as a shared library and called through ctypes, which
 * adds well under a microsecond to a dump of milliseconds. */
#include "tcptable.h"

/* Dumps `family` for the states in `states` and frees the rows; returns how
 * many rows there were, or -1 with the error's code in *code. */
long
bare_dump(int family, unsigned states, long *code)
{
    tt_query q = {.protocol = IPPROTO_TCP, .family = family, .states = (tt_state_set)states};
    tt_rows rows = {0};
    tt_error err = {0};
    long n = -1;

    if (tt_backend_dump(&q, &rows, &err) == 0)
        n = (long)rows.len;
    else
        *code = err.code;
    tt_rows_free(&rows);
    return n;
}
