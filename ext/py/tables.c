/* tcp6(), tcp4(), udp6(), udp4() and unix(): one table as a tuple of structseq rows. */
#include "glue.h"

#define TABLE_OPTIONS                                                                         \
    (TTPY_OPT(TTPY_STATES) | TTPY_OPT(TTPY_SORT) | TTPY_OPT(TTPY_PIDS) |                      \
     TTPY_OPT(TTPY_LOCAL_PORTS) | TTPY_OPT(TTPY_REMOTE_PORTS) | TTPY_OPT(TTPY_NETNS))

/* TCP tables may ask for each connection's tcp_info. */
#define TCP_OPTIONS (TABLE_OPTIONS | TTPY_OPT(TTPY_INFO))
static const ttpy_entry tcp6_entry = {"tcp6", TCP_OPTIONS, 0, IPPROTO_TCP, AF_INET6, NULL};
static const ttpy_entry tcp4_entry = {"tcp4", TCP_OPTIONS, 0, IPPROTO_TCP, AF_INET, NULL};
/* UDP sockets have no states to choose: the kernel's CLOSE and ESTABLISHED
 * say whether one is connected (the rows' `connected`). */
#define UDP_OPTIONS (TABLE_OPTIONS & ~TTPY_OPT(TTPY_STATES))
static const ttpy_entry udp6_entry = {"udp6", UDP_OPTIONS, 0, IPPROTO_UDP, AF_INET6, NULL};
static const ttpy_entry udp4_entry = {"udp4", UDP_OPTIONS, 0, IPPROTO_UDP, AF_INET, NULL};
/* UNIX sockets have no ports (Linux only: sock_diag AF_UNIX). */
#define UNIX_OPTIONS (TTPY_OPT(TTPY_STATES) | TTPY_OPT(TTPY_SORT) | TTPY_OPT(TTPY_PIDS) | \
                      TTPY_OPT(TTPY_NETNS))
static const ttpy_entry unix_entry = {"unix", UNIX_OPTIONS, 0, 0, AF_UNIX, NULL};

static PyObject *
table(PyObject *module, const ttpy_entry *entry, PyObject *args, PyObject *kwargs)
{
    ttpy_state *st = ttpy_get_state(module);
    PyObject *result = NULL;
    ttpy_query query;
    tt_rows rows = {0};

    if (ttpy_parse_query(&query, st, entry, args, kwargs) == 0 &&
        ttpy_collect(&query.q, query.sort, &rows) == 0)
        result = ttpy_build_table(st, &rows);
    ttpy_query_release(&query);
    tt_rows_free(&rows);
    return result;
}

PyObject *
ttpy_tcp6(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, &tcp6_entry, args, kwargs);
}

PyObject *
ttpy_tcp4(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, &tcp4_entry, args, kwargs);
}

PyObject *
ttpy_udp6(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, &udp6_entry, args, kwargs);
}

PyObject *
ttpy_udp4(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, &udp4_entry, args, kwargs);
}

PyObject *
ttpy_unix(PyObject *module, PyObject *args, PyObject *kwargs)
{
#ifdef __linux__
    return table(module, &unix_entry, args, kwargs);
#else
    (void)module, (void)args, (void)kwargs, (void)unix_entry;
    PyErr_SetString(PyExc_NotImplementedError,
                    "unix(): UNIX socket tables are read on Linux only (sock_diag AF_UNIX)");
    return NULL;
#endif
}
