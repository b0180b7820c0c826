/* Running the backend: without the GIL, again after EINTR, and the one
 * place that answers a query matching nothing. */
#include "glue.h"

/* Tries of one call that EINTR may end with no signal handler raising.
 * Between tries the call pauses, 50 us doubling up to 10 ms, so a persistent
 * EINTR (a seccomp filter) costs little CPU and ends the call with
 * InterruptedError after about a second, rather than spinning forever. */
#define MAX_INTERRUPTED 100
#define FIRST_PAUSE_US 50
#define MAX_PAUSE_US 10000

int
ttpy_run_backend(int (*call)(void *arg, tt_error *err), void *arg)
{
    unsigned long pause = FIRST_PAUSE_US;

    for (int interrupted = 0;;) {
        tt_error err = {0};
        int rc;

        Py_BEGIN_ALLOW_THREADS
        rc = call(arg, &err);
        Py_END_ALLOW_THREADS

        if (rc == 0)
            return 0;
        if (err.kind != TT_ERR_INTR) {
            ttpy_raise_backend_error(&err);
            return -1;
        }
        /* Let Python signal handlers run (and raise) before the call starts
         * again. */
        if (PyErr_CheckSignals() < 0)
            return -1;
        if (++interrupted == MAX_INTERRUPTED) {
            ttpy_raise_interrupted(&err, interrupted);
            return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        tt_sleep_us(pause);
        Py_END_ALLOW_THREADS
        pause = pause * 2 > MAX_PAUSE_US ? MAX_PAUSE_US : pause * 2;
    }
}

typedef struct {
    const tt_query *q;
    int sort;
    tt_rows *rows;
} collect_job;

/* One dump (and sort); a failed one leaves no rows for the next try. */
static int
collect_once(void *arg, tt_error *err)
{
    collect_job *job = arg;
    int rc = tt_backend_dump(job->q, job->rows, err);

    if (rc == 0 && job->sort)
        rc = tt_rows_sort(job->rows, err);
    if (rc < 0)
        job->rows->len = job->rows->info_len = 0;
    return rc;
}

int
ttpy_collect(const tt_query *q, int sort, tt_rows *rows)
{
    collect_job job = {q, sort, rows};

    rows->protocol = q->protocol;
    rows->family = q->family;
    return ttpy_query_matches_nothing(q) ? 0 : ttpy_run_backend(collect_once, &job);
}
