/* Internal to the Windows backend: the dump with its call count, which the
 * test driver (tests/windows/dump_main.c) reports to prove the sizing loop. */
#ifndef TCPTABLE_BACKEND_WINDOWS_H
#define TCPTABLE_BACKEND_WINDOWS_H

#include "tcptable.h"

/* Like tt_backend_dump(); *calls receives how many table calls it made
 * (1 when the first buffer fitted). */
int tt_windows_dump(int family, tt_state_set states, tt_rows *out, tt_error *err,
                    unsigned *calls);

#endif
