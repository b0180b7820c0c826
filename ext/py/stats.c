/* stats(): the TCP counters as a TcpStats structseq, MIB_TCPSTATS's fields
 * in its order; a field the OS does not report is None. */
#include "glue.h"

static PyStructSequence_Field stats_fields[] = {
    {"rto_algorithm", "the retransmission timeout algorithm (MIB_TCP_RTO_*; Linux: 1, other)"},
    {"rto_min", "the minimum retransmission timeout, in ms"},
    {"rto_max", "the maximum retransmission timeout, in ms"},
    {"max_conn", "the connection limit; -1: dynamic, no fixed limit"},
    {"active_opens", "connections opened by this host (SYN sent)"},
    {"passive_opens", "connections accepted (SYN received)"},
    {"attempt_fails", "connection attempts that failed"},
    {"estab_resets", "established connections reset"},
    {"curr_estab", "connections now ESTABLISHED or CLOSE_WAIT (a gauge)"},
    {"in_segs", "segments received"},
    {"out_segs", "segments sent"},
    {"retrans_segs", "segments retransmitted"},
    {"in_errs", "segments received in error"},
    {"out_rsts", "segments sent with RST"},
    {"num_conns", "connections in the table (Windows only; None on Linux)"},
    {NULL, NULL},
};

static PyStructSequence_Desc stats_desc = {
    "tcptable.TcpStats",
    "TCP statistics: MIB_TCPSTATS's fields in its order, 64-bit where the OS offers it.",
    stats_fields,
    TT_STAT_COUNT,
};

int
ttpy_add_stats_type(PyObject *module, ttpy_state *st)
{
    if ((st->stats_type = PyStructSequence_NewType(&stats_desc)) == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "TcpStats", (PyObject *)st->stats_type);
}

static PyObject *
build_stats(PyTypeObject *type, const tt_stats *s)
{
    PyObject *result = PyStructSequence_New(type);

    if (result == NULL)
        return NULL;
    for (int i = 0; i < TT_STAT_COUNT; i++) {
        PyObject *value;
        if (!(s->has & (1u << i)))
            value = Py_NewRef(Py_None);
        else if (i == TT_STAT_MAX_CONN)
            value = PyLong_FromLongLong((long long)(int64_t)s->value[i]);
        else
            value = PyLong_FromUnsignedLongLong(s->value[i]);
        if (value == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyStructSequence_SetItem(result, i, value);
    }
    return result;
}

typedef struct {
    const tt_query *q;
    tt_stats stats;
} stats_job;

static int
stats_once(void *arg, tt_error *err)
{
    stats_job *job = arg;
    return tt_backend_stats(job->q, &job->stats, err);
}

static const ttpy_entry stats_entry = {
    "stats", TTPY_OPT(TTPY_FAMILY) | TTPY_OPT(TTPY_NETNS), 1, IPPROTO_TCP, AF_INET6,
    "one family's counters",
};

PyObject *
ttpy_stats(PyObject *module, PyObject *args, PyObject *kwargs)
{
    ttpy_state *st = ttpy_get_state(module);
    PyObject *result = NULL;
    ttpy_query query;
    stats_job job = {.q = &query.q};

    if (ttpy_parse_query(&query, st, &stats_entry, args, kwargs) == 0 &&
        ttpy_run_backend(stats_once, &job) == 0)
        result = build_stats(st->stats_type, &job.stats);
    ttpy_query_release(&query);
    return result;
}
