/* counts(): per state, or per port and state (by=).  Per port, a bitmap
 * marks the ports seen (or asked for) and, for those only, a slot holds the
 * index of the port's block of counts: nothing of size 65536 is zeroed or
 * scanned per call. */
#include <string.h>

#include "glue.h"

/* One port's rows per state: one cache line, as blocks are read in port
 * order, not in the order they were made. */
typedef struct {
    uint32_t n[16]; /* [1..TT_STATE_MAX] used */
} port_block;

typedef struct {
    ttpy_count_by by;
    uint32_t total[TT_STATE_MAX + 1]; /* TTPY_BY_NONE */
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
    tt_rows rows = {0};
    int rc;

    q->family = family;
    rc = ttpy_collect(q, 0, &rows);
    /* A failed dump may leave a row array behind: free it on both paths. */
    for (size_t i = 0; rc == 0 && i < rows.len; i++) {
        const tt_row *r = &rows.rows[i];
        uint32_t *per_state = t->total;
        if (t->by != TTPY_BY_NONE &&
            (per_state = port_counts(t, t->by == TTPY_BY_LOCAL_PORT ? r->local_port
                                                                     : r->remote_port)) == NULL) {
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
        if (!TT_STATE_IN(states, s))
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

static const ttpy_entry counts_entry = {
    "counts",
    TTPY_OPT(TTPY_FAMILY) | TTPY_OPT(TTPY_STATES) | TTPY_OPT(TTPY_LOCAL_PORTS) |
        TTPY_OPT(TTPY_REMOTE_PORTS) | TTPY_OPT(TTPY_BY) | TTPY_OPT(TTPY_NETNS),
    1,
    IPPROTO_TCP,
    AF_INET6,
    NULL,
};

PyObject *
ttpy_counts(PyObject *module, PyObject *args, PyObject *kwargs)
{
    ttpy_state *st = ttpy_get_state(module);
    PyObject *result = NULL;
    ttpy_query query;
    const tt_port_set *asked;
    tally t = {.by = TTPY_BY_NONE};
    int family;

    if (ttpy_parse_query(&query, st, &counts_entry, args, kwargs) < 0)
        goto done;
    t.by = query.by;
    asked = t.by == TTPY_BY_LOCAL_PORT ? query.q.local_ports : query.q.remote_ports;
    family = query.q.family;
    if (t.by != TTPY_BY_NONE) {
        if ((t.slot = PyMem_Malloc(65536 * sizeof(*t.slot))) == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        /* Every port asked for is a key, zeros included. */
        for (unsigned port = 0; asked != NULL && port < 65536; port++)
            if (TT_PORT_IN(asked, port) && port_counts(&t, port) == NULL) {
                PyErr_NoMemory();
                goto done;
            }
    }
    if ((family == AF_UNSPEC || family == AF_INET6) && count_family(&query.q, AF_INET6, &t) < 0)
        goto done;
    if ((family == AF_UNSPEC || family == AF_INET) && count_family(&query.q, AF_INET, &t) < 0)
        goto done;
    if (t.by == TTPY_BY_NONE)
        result = state_dict(st, query.q.states, t.total);
    else {
        /* Thousands of new dicts would start a collection every 700 of them,
         * over objects that cannot be garbage: none runs Python code. */
        int was_enabled = PyGC_Disable();
        result = port_dict(st, query.q.states, &t, asked != NULL);
        if (was_enabled)
            PyGC_Enable();
    }
done:
    PyMem_Free(t.slot);
    PyMem_Free(t.blocks);
    ttpy_query_release(&query);
    return result;
}
