/* The module's functions: arguments into one tt_query, the backend run with
 * the GIL released, and the result built from the C rows. */
#include <string.h>

#include "glue.h"

/* Tries of one call that EINTR may end with no signal handler raising.
 * Between tries the call pauses, 50 us doubling up to 10 ms, so a persistent
 * EINTR (a seccomp filter) costs little CPU and ends the call with
 * InterruptedError after about a second, rather than spinning forever. */
#define MAX_INTERRUPTED 100
#define FIRST_PAUSE_US 50
#define MAX_PAUSE_US 10000

int
ttpy_collect(const tt_query *q, int sort, tt_rows *rows)
{
    unsigned long pause = FIRST_PAUSE_US;

    for (int interrupted = 0;;) {
        tt_error err = {0};
        int rc;

        Py_BEGIN_ALLOW_THREADS
        rc = tt_backend_dump(q, rows, &err);
        if (rc == 0 && sort)
            rc = tt_rows_sort(rows, &err);
        Py_END_ALLOW_THREADS

        if (rc == 0)
            return 0;
        rows->len = 0;
        if (err.kind != TT_ERR_INTR) {
            ttpy_raise_backend_error(&err);
            return -1;
        }
        /* Let Python signal handlers run (and raise) before the dump starts
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

/* What every call's query starts from: the family, the source that
 * TCPTABLE_BACKEND allows, and the namespace (opened into *ns, which the
 * caller releases on every path). */
static int
start_query(tt_query *q, int family, PyObject *netns, ttpy_netns_arg *ns)
{
    memset(q, 0, sizeof(*q));
    q->family = family;
    if (ttpy_source_from_env(&q->source) < 0 || ttpy_netns_open(netns, ns) < 0)
        return -1;
    q->netns_fd = ns->fd >= 0 ? &ns->fd : NULL;
    return 0;
}

static PyObject *
table(PyObject *module, int family, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states", "sort", "pids", "netns", NULL};
    ttpy_state *st = ttpy_get_state(module);
    ttpy_states_arg states = {st, TT_ALL_STATES};
    PyObject *sort_obj = Py_False, *pids_obj = Py_False, *netns = Py_None, *result = NULL;
    ttpy_netns_arg ns = {-1, 0};
    int sort, pids;
    tt_query q;
    tt_rows rows = {NULL, 0, 0};

    if (!PyArg_ParseTupleAndKeywords(args, kwargs,
                                     family == AF_INET6 ? "|$O&OOO:tcp6" : "|$O&OOO:tcp4",
                                     keywords, ttpy_states_converter, &states, &sort_obj,
                                     &pids_obj, &netns) ||
        ttpy_bool_arg(sort_obj, "sort", &sort) < 0 ||
        ttpy_bool_arg(pids_obj, "pids", &pids) < 0 || start_query(&q, family, netns, &ns) < 0)
        goto done;
    if (states.set == 0) {
        result = PyTuple_New(0);
        goto done;
    }
    q.states = states.set;
    q.want = pids ? TT_WANT_OWNERS : 0;
    if (ttpy_collect(&q, sort, &rows) == 0)
        result = ttpy_build_table(st, family, &rows);
done:
    ttpy_netns_release(&ns);
    tt_rows_free(&rows);
    return result;
}

PyObject *
ttpy_tcp6(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, AF_INET6, args, kwargs);
}

PyObject *
ttpy_tcp4(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, AF_INET, args, kwargs);
}

static int
count_family(tt_query *q, int family, Py_ssize_t per_state[])
{
    tt_rows rows = {NULL, 0, 0};
    int rc;

    q->family = family;
    rc = ttpy_collect(q, 0, &rows);
    /* A failed dump may leave a row array behind: free it on both paths. */
    for (size_t i = 0; i < rows.len; i++)
        per_state[rows.rows[i].state]++;
    tt_rows_free(&rows);
    return rc;
}

PyObject *
ttpy_counts(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"family", "states", "netns", NULL};
    ttpy_state *st = ttpy_get_state(module);
    ttpy_states_arg states = {st, TT_ALL_STATES};
    Py_ssize_t per_state[TT_STATE_MAX + 1] = {0};
    PyObject *netns = Py_None, *result = NULL;
    ttpy_netns_arg ns = {-1, 0};
    int family = AF_INET6;
    tt_query q;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O&$O&O:counts", keywords,
                                     ttpy_family_converter, &family, ttpy_states_converter,
                                     &states, &netns) ||
        start_query(&q, family, netns, &ns) < 0)
        goto done;
    q.states = states.set;
    if (states.set != 0) {
        if ((family == 0 || family == AF_INET6) && count_family(&q, AF_INET6, per_state) < 0)
            goto done;
        if ((family == 0 || family == AF_INET) && count_family(&q, AF_INET, per_state) < 0)
            goto done;
    }
    if ((result = PyDict_New()) == NULL)
        goto done;
    for (int s = 1; s <= TT_STATE_MAX; s++) {
        PyObject *n;
        if (!TT_HAS_STATE(states.set, s))
            continue;
        if ((n = PyLong_FromSsize_t(per_state[s])) == NULL ||
            PyDict_SetItem(result, st->states[s], n) < 0) {
            Py_XDECREF(n);
            Py_CLEAR(result);
            goto done;
        }
        Py_DECREF(n);
    }
done:
    ttpy_netns_release(&ns);
    return result;
}
