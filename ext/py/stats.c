/* stats() and udp_stats(): the TCP counters as a TcpStats structseq,
 * MIB_TCPSTATS's fields in its order, and the UDP ones as a UdpStats,
 * MIB_UDPSTATS's then Linux's own; a field the OS does not report is None. */
#include "glue.h"

static PyStructSequence_Field tcp_fields[] = {
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

static PyStructSequence_Desc tcp_desc = {
    "tcptable.TcpStats",
    "TCP statistics: MIB_TCPSTATS's fields in its order, 64-bit where the OS offers it.",
    tcp_fields,
    TT_STAT_COUNT,
};

static PyStructSequence_Field udp_fields[] = {
    {"in_datagrams", "datagrams delivered to sockets"},
    {"no_ports", "datagrams received for a port no socket is bound to"},
    {"in_errors", "datagrams received that could not be delivered (not for no_ports)"},
    {"out_datagrams", "datagrams sent"},
    {"num_addrs", "sockets in the UDP table (Windows only; None on Linux)"},
    {"rcvbuf_errors", "datagrams dropped for a full receive buffer (Linux; None on Windows)"},
    {"sndbuf_errors", "datagrams not sent for a full send buffer (Linux; None on Windows)"},
    {"in_csum_errors", "datagrams received with a bad checksum (Linux; None on Windows)"},
    {NULL, NULL},
};

static PyStructSequence_Desc udp_desc = {
    "tcptable.UdpStats",
    "UDP statistics: MIB_UDPSTATS's fields in its order, then Linux's own; 64-bit where "
    "the OS offers it.",
    udp_fields,
    TT_UDP_STAT_COUNT,
};

int
ttpy_add_stats_types(PyObject *module, ttpy_state *st)
{
    if ((st->stats_type = PyStructSequence_NewType(&tcp_desc)) == NULL ||
        PyModule_AddObjectRef(module, "TcpStats", (PyObject *)st->stats_type) < 0 ||
        (st->udp_stats_type = PyStructSequence_NewType(&udp_desc)) == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "UdpStats", (PyObject *)st->udp_stats_type);
}

static PyObject *
build_stats(PyTypeObject *type, int protocol, const tt_stats *s)
{
    PyObject *result = PyStructSequence_New(type);
    int count = protocol == IPPROTO_TCP ? TT_STAT_COUNT : TT_UDP_STAT_COUNT;

    if (result == NULL)
        return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *value;
        if (!(s->has & (1u << i)))
            value = Py_NewRef(Py_None);
        else if (protocol == IPPROTO_TCP && i == TT_STAT_MAX_CONN)
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

static PyObject *
stats_call(PyObject *module, const ttpy_entry *entry, PyObject *args, PyObject *kwargs)
{
    ttpy_state *st = ttpy_get_state(module);
    PyObject *result = NULL;
    ttpy_query query;
    stats_job job = {.q = &query.q};

    if (ttpy_parse_query(&query, st, entry, args, kwargs) == 0 &&
        ttpy_run_backend(stats_once, &job) == 0)
        result = build_stats(entry->protocol == IPPROTO_TCP ? st->stats_type
                                                            : st->udp_stats_type,
                             entry->protocol, &job.stats);
    ttpy_query_release(&query);
    return result;
}

static const ttpy_entry stats_entry = {
    "stats", TTPY_OPT(TTPY_FAMILY) | TTPY_OPT(TTPY_NETNS), 1, IPPROTO_TCP, AF_INET6,
    "one family's counters",
};

static const ttpy_entry udp_stats_entry = {
    "udp_stats", TTPY_OPT(TTPY_FAMILY) | TTPY_OPT(TTPY_NETNS), 1, IPPROTO_UDP, AF_INET6,
    "one family's counters",
};

PyObject *
ttpy_stats(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return stats_call(module, &stats_entry, args, kwargs);
}

PyObject *
ttpy_udp_stats(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return stats_call(module, &udp_stats_entry, args, kwargs);
}
