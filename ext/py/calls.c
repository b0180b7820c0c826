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
        job->rows->len = 0;
    return rc;
}

int
ttpy_collect(const tt_query *q, int sort, tt_rows *rows)
{
    collect_job job = {q, sort, rows};
    return ttpy_run_backend(collect_once, &job);
}

int
ttpy_start_query(tt_query *q, int family, PyObject *netns, ttpy_netns_arg *ns)
{
    memset(q, 0, sizeof(*q));
    q->family = family;
    if (ttpy_source_from_env(&q->source) < 0 || ttpy_netns_open(netns, ns) < 0)
        return -1;
    q->netns_fd = ns->fd >= 0 ? &ns->fd : NULL;
    return 0;
}

int
ttpy_set_ports(tt_query *q, const ttpy_ports_arg *local, const ttpy_ports_arg *remote)
{
    q->local_ports = local->given ? &local->set : NULL;
    q->remote_ports = remote->given ? &remote->set : NULL;
    return !(local->given && local->set.count == 0) && !(remote->given && remote->set.count == 0);
}

static PyObject *
table(PyObject *module, int family, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states", "sort", "pids", "local_ports", "remote_ports", "netns",
                               NULL};
    ttpy_state *st = ttpy_get_state(module);
    ttpy_states_arg states = {st, TT_ALL_STATES};
    ttpy_ports_arg local = {.name = "local_ports"}, remote = {.name = "remote_ports"};
    PyObject *sort_obj = Py_False, *pids_obj = Py_False, *netns = Py_None, *result = NULL;
    ttpy_netns_arg ns = {-1, 0};
    int sort, pids;
    tt_query q;
    tt_rows rows = {NULL, 0, 0};

    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, family == AF_INET6 ? "|$O&OOO&O&O:tcp6" : "|$O&OOO&O&O:tcp4", keywords,
            ttpy_states_converter, &states, &sort_obj, &pids_obj, ttpy_ports_converter, &local,
            ttpy_ports_converter, &remote, &netns) ||
        ttpy_bool_arg(sort_obj, "sort", &sort) < 0 ||
        ttpy_bool_arg(pids_obj, "pids", &pids) < 0 || ttpy_start_query(&q, family, netns, &ns) < 0)
        goto done;
    if (!ttpy_set_ports(&q, &local, &remote) || states.set == 0) {
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

/* counts(): per state, or per port and state (by=).  Per port, a bitmap
 * marks the ports seen (or asked for) and, for those only, a slot holds the
 * index of the port's block of counts: nothing of size 65536 is zeroed or
 * scanned per call. */
typedef enum { BY_NONE, BY_LOCAL, BY_REMOTE } count_by;

/* One port's rows per state: one cache line, as blocks are read in port
 * order, not in the order they were made. */
typedef struct {
    uint32_t n[16]; /* [1..TT_STATE_MAX] used */
} port_block;

typedef struct {
    count_by by;
    uint32_t total[TT_STATE_MAX + 1]; /* BY_NONE */
    uint64_t seen[65536 / 64];
    uint16_t *slot; /* 65536 entries, valid where `seen` has the bit */
    port_block *blocks;
    size_t n_blocks, cap;
} tally;

static uint32_t *
port_counts(tally *t, unsigned port)
{
    uint64_t bit = (uint64_t)1 << (port & 63);

    if (!(t->seen[port >> 6] & bit)) {
        if (t->n_blocks == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 64;
            void *bigger = PyMem_Realloc(t->blocks, cap * sizeof(*t->blocks));
            if (bigger == NULL)
                return NULL;
            t->blocks = bigger;
            t->cap = cap;
        }
        memset(&t->blocks[t->n_blocks], 0, sizeof(*t->blocks));
        t->seen[port >> 6] |= bit;
        t->slot[port] = (uint16_t)t->n_blocks++; /* at most 65536 blocks: 0..65535 */
    }
    return t->blocks[t->slot[port]].n;
}

static int
count_family(tt_query *q, int family, tally *t)
{
    tt_rows rows = {NULL, 0, 0};
    int rc;

    q->family = family;
    rc = ttpy_collect(q, 0, &rows);
    /* A failed dump may leave a row array behind: free it on both paths. */
    for (size_t i = 0; rc == 0 && i < rows.len; i++) {
        const tt_row *r = &rows.rows[i];
        uint32_t *per_state = t->total;
        if (t->by != BY_NONE &&
            (per_state = port_counts(t, t->by == BY_LOCAL ? r->local_port : r->remote_port)) ==
                NULL) {
            PyErr_NoMemory();
            rc = -1;
            break;
        }
        per_state[r->state]++;
    }
    tt_rows_free(&rows);
    return rc;
}

/* {TcpState: n} for every requested state, zeros included. */
static PyObject *
state_dict(ttpy_state *st, tt_state_set states, const uint32_t per_state[])
{
    PyObject *result = PyDict_New();

    if (result == NULL)
        return NULL;
    for (int s = 1; s <= TT_STATE_MAX; s++) {
        PyObject *n;
        if (!TT_HAS_STATE(states, s))
            continue;
        if ((n = PyLong_FromUnsignedLong(per_state[s])) == NULL ||
            PyDict_SetItem(result, st->states[s], n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(n);
    }
    return result;
}

/* The index of the lowest set bit of a non-zero word. */
static int
lowest_bit(uint64_t bits)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(bits);
#else
    int n = 0;
    while (!(bits & 1)) {
        bits >>= 1;
        n++;
    }
    return n;
#endif
}

/* {port: {TcpState: n}}, ascending by port.  For ports asked for, every
 * requested state is a key (each inner dict starts as a copy of the all-zero
 * one); for the ports seen, the states seen: a sparse answer, as cheap to
 * build as a table of thousands of client ports allows. */
static PyObject *
port_dict(ttpy_state *st, tt_state_set states, const tally *t, int asked)
{
    static const uint32_t none[TT_STATE_MAX + 1];
    PyObject *zeros = state_dict(st, states, none), *result = PyDict_New();

    if (zeros == NULL || result == NULL)
        goto error;
    for (unsigned word = 0; word < 65536 / 64; word++) {
        for (uint64_t bits = t->seen[word]; bits != 0; bits &= bits - 1) {
            unsigned port = word * 64 + (unsigned)lowest_bit(bits);
            const uint32_t *per_state = t->blocks[t->slot[port]].n;
            PyObject *key, *inner;
            int rc = 0;
            if ((inner = asked ? PyDict_Copy(zeros) : PyDict_New()) == NULL)
                goto error;
            for (int s = 1; rc == 0 && s <= TT_STATE_MAX; s++) {
                PyObject *n;
                if (per_state[s] == 0)
                    continue;
                if ((n = PyLong_FromUnsignedLong(per_state[s])) == NULL)
                    rc = -1;
                else {
                    rc = PyDict_SetItem(inner, st->states[s], n);
                    Py_DECREF(n);
                }
            }
            if (rc < 0 || (key = PyLong_FromUnsignedLong(port)) == NULL) {
                Py_DECREF(inner);
                goto error;
            }
            rc = PyDict_SetItem(result, key, inner);
            Py_DECREF(key);
            Py_DECREF(inner);
            if (rc < 0)
                goto error;
        }
    }
    Py_DECREF(zeros);
    return result;
error:
    Py_XDECREF(zeros);
    Py_XDECREF(result);
    return NULL;
}

static int
by_converter(PyObject *obj, void *arg)
{
    count_by *by = arg;

    if (obj == Py_None)
        *by = BY_NONE;
    else if (PyUnicode_Check(obj) && PyUnicode_CompareWithASCIIString(obj, "local_port") == 0)
        *by = BY_LOCAL;
    else if (PyUnicode_Check(obj) && PyUnicode_CompareWithASCIIString(obj, "remote_port") == 0)
        *by = BY_REMOTE;
    else {
        PyErr_Format(PyExc_ValueError, "by must be None, 'local_port' or 'remote_port', not %R",
                     obj);
        return 0;
    }
    return 1;
}

PyObject *
ttpy_counts(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"family", "states", "local_ports", "remote_ports", "by", "netns",
                               NULL};
    ttpy_state *st = ttpy_get_state(module);
    ttpy_states_arg states = {st, TT_ALL_STATES};
    ttpy_ports_arg local = {.name = "local_ports"}, remote = {.name = "remote_ports"};
    tally t = {.by = BY_NONE};
    PyObject *netns = Py_None, *result = NULL;
    ttpy_netns_arg ns = {-1, 0};
    int family = AF_INET6;
    tt_query q;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O&$O&O&O&O&O:counts", keywords,
                                     ttpy_family_converter, &family, ttpy_states_converter,
                                     &states, ttpy_ports_converter, &local,
                                     ttpy_ports_converter, &remote, by_converter, &t.by, &netns) ||
        ttpy_start_query(&q, family, netns, &ns) < 0)
        goto done;
    if (t.by != BY_NONE) {
        const ttpy_ports_arg *asked = t.by == BY_LOCAL ? &local : &remote;
        if ((t.slot = PyMem_Malloc(65536 * sizeof(*t.slot))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        /* Every port asked for is a key, zeros included. */
        for (unsigned port = 0; asked->given && port < 65536; port++)
            if (TT_HAS_PORT(&asked->set, port) && port_counts(&t, port) == NULL) {
                PyErr_NoMemory();
                goto done;
            }
    }
    q.states = states.set;
    if (ttpy_set_ports(&q, &local, &remote) && states.set != 0) {
        if ((family == 0 || family == AF_INET6) && count_family(&q, AF_INET6, &t) < 0)
            goto done;
        if ((family == 0 || family == AF_INET) && count_family(&q, AF_INET, &t) < 0)
            goto done;
    }
    if (t.by == BY_NONE)
        result = state_dict(st, states.set, t.total);
    else {
        /* Thousands of new dicts would start a collection every 700 of them,
         * over objects that cannot be garbage: none runs Python code. */
        int was_enabled = PyGC_Disable();
        result = port_dict(st, states.set, &t, (t.by == BY_LOCAL ? &local : &remote)->given);
        if (was_enabled)
            PyGC_Enable();
    }
done:
    PyMem_Free(t.slot);
    PyMem_Free(t.blocks);
    ttpy_netns_release(&ns);
    return result;
}
