/* The one argument parser of every entry point (the table calls, counts(),
 * Watcher, stats()): each names the options it takes from one table, and
 * this file turns them into a ttpy_query with one set of rules.  A new
 * option is one row of `options` and one converter here.
 *
 * The rules: options are keyword-only, but for an entry point's leading
 * positional ones (family); they are converted in the table's order, the
 * namespace last, so no descriptor is opened for a call that fails anyway.
 * family=None is every family, which an entry point answering for one
 * family rejects, saying why.  A query that matches nothing (an empty
 * states or ports set) is still checked in full, then answered without the
 * OS (ttpy_collect()). */
#include <string.h>

#include "glue.h"

typedef struct {
    const char *name;
    /* Converts `obj` (never NULL: an option not given is not converted) into
     * `out`; 0, or -1 with an exception set. */
    int (*convert)(PyObject *obj, const ttpy_entry *entry, ttpy_query *out);
} option;

static int
bad_family(PyObject *error, const ttpy_entry *entry, PyObject *obj)
{
    PyErr_Format(error, "family must be socket.AF_INET, socket.AF_INET6%s, not %R",
                 entry->one_family ? "" : " or None", obj);
    return -1;
}

static int
convert_family(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    long family;

    if (obj == Py_None) {
        if (entry->one_family != NULL) {
            PyErr_Format(PyExc_ValueError,
                         "%s: family must be socket.AF_INET or socket.AF_INET6, not None (%s)",
                         entry->name, entry->one_family);
            return -1;
        }
        out->q.family = AF_UNSPEC;
        return 0;
    }
    if (!PyLong_Check(obj) || PyBool_Check(obj))
        return bad_family(PyExc_TypeError, entry, obj);
    family = PyLong_AsLong(obj);
    if (family == -1 && PyErr_Occurred())
        PyErr_Clear(); /* too large: no family either */
    if (family != AF_INET && family != AF_INET6)
        return bad_family(PyExc_ValueError, entry, obj);
    out->q.family = (int)family;
    return 0;
}

static int
convert_protocol(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    long protocol = -1;

    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        protocol = PyLong_AsLong(obj);
        if (protocol == -1 && PyErr_Occurred())
            PyErr_Clear(); /* too large: no protocol either */
    }
    if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP) {
        PyErr_Format(PyLong_Check(obj) && !PyBool_Check(obj) ? PyExc_ValueError
                                                              : PyExc_TypeError,
                     "%s: protocol must be socket.IPPROTO_TCP or socket.IPPROTO_UDP, not %R",
                     entry->name, obj);
        return -1;
    }
    out->q.protocol = (int)protocol;
    return 0;
}

static int
convert_states(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    if (out->q.protocol == IPPROTO_UDP && obj != Py_None) {
        PyErr_Format(PyExc_ValueError,
                     "%s: states must be None with protocol=IPPROTO_UDP (a UDP socket has no "
                     "TCP state), not %R",
                     entry->name, obj);
        return -1;
    }
    return ttpy_states_arg(obj, out->st, &out->q.states);
}

static int
convert_sort(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    return ttpy_bool_arg(obj, "sort", &out->sort);
}

/* A bool option that turns one TT_WANT_* bit on or off. */
static int
convert_want(PyObject *obj, const char *name, unsigned bit, ttpy_query *out)
{
    int on;

    if (ttpy_bool_arg(obj, name, &on) < 0)
        return -1;
    out->q.want = on ? out->q.want | bit : out->q.want & ~bit;
    return 0;
}

static int
convert_pids(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    return convert_want(obj, "pids", TT_WANT_OWNERS, out);
}

static int
convert_info(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    return convert_want(obj, "info", TT_WANT_INFO, out);
}

static int
convert_local_ports(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    if (ttpy_ports_arg(obj, "local_ports", &out->local_ports) < 0)
        return -1;
    out->q.local_ports = obj == Py_None ? NULL : &out->local_ports;
    return 0;
}

static int
convert_remote_ports(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    if (ttpy_ports_arg(obj, "remote_ports", &out->remote_ports) < 0)
        return -1;
    out->q.remote_ports = obj == Py_None ? NULL : &out->remote_ports;
    return 0;
}

static int
convert_by(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    if (obj == Py_None)
        out->by = TTPY_BY_NONE;
    else if (PyUnicode_Check(obj) && PyUnicode_CompareWithASCIIString(obj, "local_port") == 0)
        out->by = TTPY_BY_LOCAL_PORT;
    else if (PyUnicode_Check(obj) && PyUnicode_CompareWithASCIIString(obj, "remote_port") == 0)
        out->by = TTPY_BY_REMOTE_PORT;
    else {
        PyErr_Format(PyExc_ValueError, "by must be None, 'local_port' or 'remote_port', not %R",
                     obj);
        return -1;
    }
    return 0;
}

static int
convert_netns(PyObject *obj, const ttpy_entry *entry, ttpy_query *out)
{
    (void)entry;
    if (ttpy_netns_open(obj, &out->ns) < 0)
        return -1;
    out->q.netns_fd = out->ns.fd >= 0 ? &out->ns.fd : NULL;
    return 0;
}

/* In TTPY_OPT_* order, which is the order of conversion. */
static const option options[TTPY_N_OPTIONS] = {
    [TTPY_FAMILY] = {"family", convert_family},
    [TTPY_PROTOCOL] = {"protocol", convert_protocol},
    [TTPY_STATES] = {"states", convert_states},
    [TTPY_SORT] = {"sort", convert_sort},
    [TTPY_PIDS] = {"pids", convert_pids},
    [TTPY_INFO] = {"info", convert_info},
    [TTPY_LOCAL_PORTS] = {"local_ports", convert_local_ports},
    [TTPY_REMOTE_PORTS] = {"remote_ports", convert_remote_ports},
    [TTPY_BY] = {"by", convert_by},
    [TTPY_NETNS] = {"netns", convert_netns},
};

#define TAKES(entry, o) (((entry)->options >> (o)) & 1u)

/* The option `key` names among those `entry` takes, or -1 with TypeError
 * set, in CPython's words.  Keys are str: the call itself checked. */
static int
option_named(const ttpy_entry *entry, PyObject *key)
{
    for (int o = 0; o < TTPY_N_OPTIONS; o++)
        if (TAKES(entry, o) && PyUnicode_CompareWithASCIIString(key, options[o].name) == 0)
            return o;
    PyErr_Format(PyExc_TypeError, "'%U' is an invalid keyword argument for %s()", key,
                 entry->name);
    return -1;
}

/* Spreads args and kwargs over given[] (borrowed references). */
static int
take_arguments(const ttpy_entry *entry, PyObject *args, PyObject *kwargs,
               PyObject *given[TTPY_N_OPTIONS])
{
    Py_ssize_t n_args = PyTuple_GET_SIZE(args), pos = 0;
    PyObject *key, *value;

    if (n_args > (Py_ssize_t)entry->positional) {
        if (entry->positional == 0)
            PyErr_Format(PyExc_TypeError, "%s() takes no positional arguments", entry->name);
        else
            PyErr_Format(PyExc_TypeError,
                         "%s() takes at most %u positional argument%s (%zd given)", entry->name,
                         entry->positional, entry->positional == 1 ? "" : "s", n_args);
        return -1;
    }
    /* The positional options are the first ones the entry point takes. */
    for (int o = 0, k = 0; k < n_args; o++)
        if (TAKES(entry, o))
            given[o] = PyTuple_GET_ITEM(args, k++);
    while (kwargs != NULL && PyDict_Next(kwargs, &pos, &key, &value)) {
        int o = option_named(entry, key);
        if (o < 0)
            return -1;
        if (given[o] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "argument for %s() given by name ('%s') and position", entry->name,
                         options[o].name);
            return -1;
        }
        given[o] = value;
    }
    return 0;
}

int
ttpy_parse_query(ttpy_query *out, ttpy_state *st, const ttpy_entry *entry, PyObject *args,
                 PyObject *kwargs)
{
    PyObject *given[TTPY_N_OPTIONS] = {NULL};

    memset(out, 0, sizeof(*out));
    out->st = st;
    out->ns.fd = -1;
    out->q.protocol = entry->protocol;
    out->q.family = entry->family;
    out->q.states = TT_ALL_STATES;
    if (take_arguments(entry, args, kwargs, given) < 0)
        return -1;
    /* TTPY_NETNS is the last option: its descriptor is opened last. */
    for (int o = 0; o < TTPY_NETNS; o++)
        if (given[o] != NULL && options[o].convert(given[o], entry, out) < 0)
            return -1;
    if (ttpy_source_from_env(&out->q.source) < 0 ||
        (given[TTPY_NETNS] != NULL && convert_netns(given[TTPY_NETNS], entry, out) < 0))
        return -1;
    return 0;
}

void
ttpy_query_release(ttpy_query *query)
{
    ttpy_netns_release(&query->ns);
    query->q.netns_fd = NULL;
}

int
ttpy_query_matches_nothing(const tt_query *q)
{
    return q->states == 0 || (q->local_ports != NULL && q->local_ports->count == 0) ||
           (q->remote_ports != NULL && q->remote_ports->count == 0);
}
