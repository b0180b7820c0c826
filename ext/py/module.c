/* tcptable._tcptable: the method table and the module's lifecycle
 * (multi-phase init, per-module state, heap types).  The exec slot makes the
 * row types and takes the TcpState members from tcptable.state itself, so
 * rows carry enum members at no per-row cost. */
#include "glue.h"

/* tcp6(), tcp4(), udp6() and udp4(): one text, but for the table's names
 * (and UDP's lack of states and info). */
#define TABLE_DOC(name, states, info, row, what, states_doc, info_doc, call)                  \
    name "(*, " states "sort=False, pids=False, " info "local_ports=None,\n"                   \
         "     remote_ports=None, netns=None) -> tuple[" row ", ...]\n\n"                     \
         "The " what " table.  " states_doc "sort: order rows as " call                        \
         "(Order=TRUE) does.\n" TTPY_DOC_PIDS info_doc TTPY_DOC_PORTS TTPY_DOC_NETNS
#define TCP_DOC(name, row, what, call)                                                        \
    TABLE_DOC(name, "states=None, ", "info=False, ", row, what " TCP", TTPY_DOC_STATES,       \
              TTPY_DOC_INFO, call)
#define UDP_DOC(name, row, what, call) TABLE_DOC(name, "", "", row, what " UDP", "", "", call)

PyDoc_STRVAR(tcp6_doc, TCP_DOC("tcp6", "Tcp6Row", "IPv6", "GetTcp6Table"));
PyDoc_STRVAR(tcp4_doc, TCP_DOC("tcp4", "Tcp4Row", "IPv4", "GetTcpTable"));
PyDoc_STRVAR(udp6_doc, UDP_DOC("udp6", "Udp6Row", "IPv6", "GetUdp6Table"));
PyDoc_STRVAR(udp4_doc, UDP_DOC("udp4", "Udp4Row", "IPv4", "GetUdpTable"));

PyDoc_STRVAR(unix_doc,
"unix(*, states=None, sort=False, pids=False, netns=None) -> tuple[UnixRow, ...]\n\n"
"The UNIX socket table (Linux; NotImplementedError elsewhere).  states: an\n"
"iterable of TcpState to keep (LISTEN, ESTABLISHED, CLOSE: unconnected), None:\n"
"all.  sort: order rows by inode.\n" TTPY_DOC_PIDS TTPY_DOC_NETNS);

PyDoc_STRVAR(counts_doc,
"counts(family=AF_INET6, *, states=None, local_ports=None, remote_ports=None,\n"
"       by=None, netns=None) -> dict\n\n"
"Rows per state, counted without building rows.  family: AF_INET, AF_INET6\n"
"or None for both.  Every requested state is a key, zeros included.\n"
"by='local_port' or 'remote_port': {port: {TcpState: n}}; with that\n"
"direction's ports given, every one is a key and every requested state a key\n"
"of its dict, zeros included; without, the ports seen and their states seen.\n"
TTPY_DOC_NETNS);

PyDoc_STRVAR(stats_doc,
"stats(family=AF_INET6, *, netns=None) -> TcpStats\n\n"
"The TCP counters (MIB_TCPSTATS's fields).  On Linux both families share one\n"
"set of counters, so family changes nothing there.\n"
TTPY_DOC_NETNS);

PyDoc_STRVAR(udp_stats_doc,
"udp_stats(family=AF_INET6, *, netns=None) -> UdpStats\n\n"
"The UDP counters of one family (MIB_UDPSTATS's fields, then Linux's own).\n"
TTPY_DOC_NETNS);

PyDoc_STRVAR(namespaces_doc,
"namespaces() -> tuple[Namespace, ...]\n\n"
"Every network namespace named in /run/netns or held by a process this one\n"
"may inspect (Linux), by inode.  Pass each one's path as netns=.");

static PyMethodDef module_methods[] = {
    {"tcp6", (PyCFunction)(void (*)(void))ttpy_tcp6, METH_VARARGS | METH_KEYWORDS, tcp6_doc},
    {"tcp4", (PyCFunction)(void (*)(void))ttpy_tcp4, METH_VARARGS | METH_KEYWORDS, tcp4_doc},
    {"udp6", (PyCFunction)(void (*)(void))ttpy_udp6, METH_VARARGS | METH_KEYWORDS, udp6_doc},
    {"udp4", (PyCFunction)(void (*)(void))ttpy_udp4, METH_VARARGS | METH_KEYWORDS, udp4_doc},
    {"unix", (PyCFunction)(void (*)(void))ttpy_unix, METH_VARARGS | METH_KEYWORDS, unix_doc},
    {"counts", (PyCFunction)(void (*)(void))ttpy_counts, METH_VARARGS | METH_KEYWORDS,
     counts_doc},
    {"stats", (PyCFunction)(void (*)(void))ttpy_stats, METH_VARARGS | METH_KEYWORDS, stats_doc},
    {"udp_stats", (PyCFunction)(void (*)(void))ttpy_udp_stats, METH_VARARGS | METH_KEYWORDS,
     udp_stats_doc},
    {"namespaces", ttpy_namespaces, METH_NOARGS, namespaces_doc},
    {NULL, NULL, 0, NULL},
};

/* Sets `*slot` to a new reference to module_name.attr. */
static int
import_attr(const char *module_name, const char *attr, PyObject **slot)
{
    PyObject *module = PyImport_ImportModule(module_name);

    if (module == NULL)
        return -1;
    *slot = PyObject_GetAttrString(module, attr);
    Py_DECREF(module);
    return *slot == NULL ? -1 : 0;
}

/* TcpState's members by value.  tcptable/__init__.py imports this module, so
 * tcptable.state (which imports nothing of ours) can be imported from here. */
static int
take_states(ttpy_state *st)
{
    if (import_attr("tcptable.state", "TcpState", &st->state_type) < 0 ||
        import_attr("enum", "Enum", &st->enum_type) < 0)
        return -1;
    for (int s = 1; s <= TT_STATE_MAX; s++) {
        PyObject *value = PyLong_FromLong(s);
        if (value == NULL)
            return -1;
        st->states[s] = PyObject_CallOneArg(st->state_type, value);
        Py_DECREF(value);
        if (st->states[s] == NULL)
            return -1;
    }
    return 0;
}

static int
module_exec(PyObject *module)
{
    ttpy_state *st = ttpy_get_state(module);

    if (take_states(st) < 0 || ttpy_add_row_types(module, st) < 0 ||
        ttpy_add_namespace_type(module, st) < 0 || ttpy_add_stats_types(module, st) < 0 ||
        ttpy_add_info_type(module, st) < 0 ||
        ttpy_add_watcher_types(module, st) < 0)
        return -1;
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    ttpy_state *st = ttpy_get_state(module);

    Py_VISIT(st->state_type);
    Py_VISIT(st->enum_type);
    Py_VISIT(st->namespace_type);
    Py_VISIT(st->stats_type);
    Py_VISIT(st->udp_stats_type);
    Py_VISIT(st->info_type);
    Py_VISIT(st->watcher_type);
    Py_VISIT(st->changes_type);
    for (int s = 1; s <= TT_STATE_MAX; s++)
        Py_VISIT(st->states[s]);
    return ttpy_row_types_traverse(st, visit, arg);
}

static int
module_clear(PyObject *module)
{
    ttpy_state *st = ttpy_get_state(module);

    Py_CLEAR(st->state_type);
    Py_CLEAR(st->enum_type);
    Py_CLEAR(st->namespace_type);
    Py_CLEAR(st->stats_type);
    Py_CLEAR(st->udp_stats_type);
    Py_CLEAR(st->info_type);
    Py_CLEAR(st->watcher_type);
    Py_CLEAR(st->changes_type);
    for (int s = 1; s <= TT_STATE_MAX; s++)
        Py_CLEAR(st->states[s]);
    ttpy_row_types_clear(st);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    /* A function pointer in a void * slot: through uintptr_t, as a direct
     * conversion is what MSVC's /W4 reports (C4152). */
    {Py_mod_exec, (void *)(uintptr_t)module_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tcptable._tcptable",
    .m_doc = "The TCP connection and UDP socket tables, straight from the OS.",
    .m_size = sizeof(ttpy_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__tcptable(void);

PyMODINIT_FUNC
PyInit__tcptable(void)
{
    return PyModuleDef_Init(&module_def);
}
