/* Internal to the Windows backend: the dump with its call counts, which the
 * test driver (tests/windows/dump_main.c) reports to prove the sizing loop. */
#ifndef TCPTABLE_BACKEND_WINDOWS_H
#define TCPTABLE_BACKEND_WINDOWS_H

#include "tcptable.h"

/* The table calls one dump made, and how many failed with each code that
 * makes the backend call again. */
typedef struct {
    unsigned calls; /* 1 when the first buffer fitted */
    unsigned insufficient_buffer;
    unsigned unsuccessful;  /* STATUS_UNSUCCESSFUL */
    unsigned out_of_memory; /* ERROR_OUTOFMEMORY */
} tt_win_calls;

/* Like tt_backend_dump(), counting its calls in *calls. */
int tt_windows_dump(const tt_query *q, tt_rows *out, tt_error *err, tt_win_calls *calls);

#endif
