/* tcptable._tcptable: every Python object of the extension lives here.
 *
 * A call parses its arguments, releases the GIL for the whole backend dump
 * (and the sort), then builds a tuple of structseq rows from the C array.
 * Module state holds the row types and the TcpState members, which the
 * Python package hands over once at import so rows carry enum members at no
 * per-row cost. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <string.h>

#include "tcptable.h"

typedef struct {
    PyTypeObject *tcp6_row_type;
    PyTypeObject *tcp4_row_type;
    PyObject *states[TT_STATE_MAX + 1]; /* TcpState members by value; [0] unused */
} module_state;

static inline module_state *
get_state(PyObject *module)
{
    return (module_state *)PyModule_GetState(module);
}

/* ---- row types ---------------------------------------------------------- */

#define TCP6_FIELDS 7
#define TCP4_FIELDS 5

static PyStructSequence_Field tcp6_row_fields[] = {
    {"state", "TcpState of the connection"},
    {"local_addr", "local IPv6 address, compressed text form"},
    {"local_scope_id", "interface index of a link-local local address, else 0"},
    {"local_port", "local port"},
    {"remote_addr", "remote IPv6 address ('::' for LISTEN)"},
    {"remote_scope_id", "interface index of a link-local remote address, else 0"},
    {"remote_port", "remote port (0 for LISTEN)"},
    {NULL, NULL},
};

static PyStructSequence_Desc tcp6_row_desc = {
    "tcptable.Tcp6Row",
    "One row of the IPv6 TCP table, fields in MIB_TCP6ROW order.",
    tcp6_row_fields,
    TCP6_FIELDS,
};

static PyStructSequence_Field tcp4_row_fields[] = {
    {"state", "TcpState of the connection"},
    {"local_addr", "local IPv4 address, dotted quad"},
    {"local_port", "local port"},
    {"remote_addr", "remote IPv4 address ('0.0.0.0' for LISTEN)"},
    {"remote_port", "remote port (0 for LISTEN)"},
    {NULL, NULL},
};

static PyStructSequence_Desc tcp4_row_desc = {
    "tcptable.Tcp4Row",
    "One row of the IPv4 TCP table, fields in MIB_TCPROW order.",
    tcp4_row_fields,
    TCP4_FIELDS,
};

/* ---- per-call object caches --------------------------------------------- */

/* Servers repeat their local address and port on every row, clients their
 * peer's: one object each serves the whole table.  Direct-mapped, per call,
 * so nothing outlives the call and nothing is shared between threads. */
#define ADDR_CACHE_SIZE 256
#define PORT_CACHE_SIZE 1024

typedef struct {
    struct {
        uint8_t addr[16];
        PyObject *text;
    } addrs[ADDR_CACHE_SIZE];
    struct {
        uint16_t port;
        PyObject *value;
    } ports[PORT_CACHE_SIZE];
} object_cache;

static void
cache_clear(object_cache *cache)
{
    for (size_t i = 0; i < ADDR_CACHE_SIZE; i++)
        Py_XDECREF(cache->addrs[i].text);
    for (size_t i = 0; i < PORT_CACHE_SIZE; i++)
        Py_XDECREF(cache->ports[i].value);
}

static PyObject *
cached_addr(object_cache *cache, int family, const uint8_t addr[16])
{
    uint32_t w[4], slot;
    char text[TT_ADDRSTRLEN];
    size_t len;
    PyObject *str;

    memcpy(w, addr, sizeof(w));
    slot = ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 2654435761u) >> 24;
    if (cache->addrs[slot].text != NULL &&
        memcmp(cache->addrs[slot].addr, addr, 16) == 0)
        return Py_NewRef(cache->addrs[slot].text);

    len = tt_format_addr(family, addr, text);
    if ((str = PyUnicode_New((Py_ssize_t)len, 127)) == NULL)
        return NULL;
    memcpy(PyUnicode_1BYTE_DATA(str), text, len);
    Py_XSETREF(cache->addrs[slot].text, Py_NewRef(str));
    memcpy(cache->addrs[slot].addr, addr, 16);
    return str;
}

static PyObject *
cached_port(object_cache *cache, uint16_t port)
{
    size_t slot = port % PORT_CACHE_SIZE;
    PyObject *value;

    if (cache->ports[slot].value != NULL && cache->ports[slot].port == port)
        return Py_NewRef(cache->ports[slot].value);
    if ((value = PyLong_FromLong(port)) == NULL)
        return NULL;
    Py_XSETREF(cache->ports[slot].value, Py_NewRef(value));
    cache->ports[slot].port = port;
    return value;
}

/* ---- building rows ------------------------------------------------------ */

#define SET_FIELD(row, i, expr)                                  \
    do {                                                         \
        PyObject *field_ = (expr);                               \
        if (field_ == NULL)                                      \
            goto error;                                          \
        PyStructSequence_SET_ITEM((row), (i), field_);           \
    } while (0)

/* Rows are allocated and freed here rather than by PyStructSequence_New() and
 * structseq_dealloc(), which look the field counts up in the type's dict for
 * every row (-30% instructions per table).  This mirrors the structseq layout
 * of CPython 3.10 to 3.13; 3.14 added a cached hash to tuples that only
 * CPython's own constructor initialises, so there and later the public API
 * is used. */
#if PY_VERSION_HEX < 0x030E0000
#define TT_OWN_ROW_ALLOCATION 1
#endif

#ifdef TT_OWN_ROW_ALLOCATION
/* Our row types have no hidden fields (checked by check_row_type), so a row
 * is a GC object of n_fields items with ob_size n_fields, untracked, items
 * NULL (row_dealloc tolerates NULL items on the error path). */
static PyObject *
new_row(PyTypeObject *type, Py_ssize_t n_fields)
{
    PyObject *row = (PyObject *)PyObject_GC_NewVar(PyTupleObject, type, n_fields);

    if (row != NULL)
        memset(((PyTupleObject *)row)->ob_item, 0, (size_t)n_fields * sizeof(PyObject *));
    return row;
}

/* The row types cannot be subclassed and have no hidden fields (both checked
 * by check_row_type), so Py_SIZE() counts every item: this is
 * structseq_dealloc() without the lookup. */
static void
row_dealloc(PyObject *row)
{
    PyTypeObject *type = Py_TYPE(row);

    PyObject_GC_UnTrack(row);
    for (Py_ssize_t i = 0; i < Py_SIZE(row); i++)
        Py_XDECREF(PyTuple_GET_ITEM(row, i));
    PyObject_GC_Del(row);
    Py_DECREF(type); /* instances of heap types own a reference to them */
}
#else
static PyObject *
new_row(PyTypeObject *type, Py_ssize_t n_fields)
{
    (void)n_fields;
    return PyStructSequence_New(type);
}
#endif

static PyObject *
build_row(module_state *st, object_cache *cache, int family, const tt_row *r)
{
    PyObject *row = family == AF_INET6 ? new_row(st->tcp6_row_type, TCP6_FIELDS)
                                       : new_row(st->tcp4_row_type, TCP4_FIELDS);
    int i = 0;

    if (row == NULL)
        return NULL;
    SET_FIELD(row, i++, Py_NewRef(st->states[r->state]));
    SET_FIELD(row, i++, cached_addr(cache, family, r->local_addr));
    if (family == AF_INET6)
        SET_FIELD(row, i++, PyLong_FromUnsignedLong(r->local_scope_id));
    SET_FIELD(row, i++, cached_port(cache, r->local_port));
    SET_FIELD(row, i++, cached_addr(cache, family, r->remote_addr));
    if (family == AF_INET6)
        SET_FIELD(row, i++, PyLong_FromUnsignedLong(r->remote_scope_id));
    SET_FIELD(row, i++, cached_port(cache, r->remote_port));
    return row;
error:
    Py_DECREF(row);
    return NULL;
}

static PyObject *
build_table(module_state *st, int family, const tt_rows *rows)
{
    object_cache *cache = NULL;
    PyObject *table = PyTuple_New((Py_ssize_t)rows->len);

    if (table == NULL || rows->len == 0)
        return table;
    if ((cache = PyMem_Calloc(1, sizeof(*cache))) == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (size_t i = 0; i < rows->len; i++) {
        PyObject *row = build_row(st, cache, family, &rows->rows[i]);
        if (row == NULL)
            goto error;
        PyTuple_SET_ITEM(table, (Py_ssize_t)i, row);
    }
    cache_clear(cache);
    PyMem_Free(cache);
    return table;
error:
    if (cache != NULL) {
        cache_clear(cache);
        PyMem_Free(cache);
    }
    Py_DECREF(table);
    return NULL;
}

/* ---- errors ------------------------------------------------------------- */

static void
set_os_error(long code, const char *message)
{
    PyObject *args = Py_BuildValue("(ls)", code, message);
    if (args != NULL) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
}

static void
raise_backend_error(const tt_error *err)
{
    char message[256];

    switch (err->kind) {
    case TT_ERR_NOMEM:
        PyErr_NoMemory();
        return;
    case TT_ERR_CONFIG:
        PyErr_SetString(PyExc_ValueError, err->step);
        return;
    case TT_ERR_PROTO:
        set_os_error(err->code, err->step);
        return;
#ifdef MS_WINDOWS
    case TT_ERR_WIN: {
        /* What PyErr_SetFromWindowsErr(code) builds, OSError(errno, text,
         * None, winerror) with errno and the subclass derived from winerror,
         * but with text naming the call that failed. */
        PyObject *args;
        PyOS_snprintf(message, sizeof(message), "%s failed", err->step);
        args = Py_BuildValue("(isOl)", 0, message, Py_None, err->code);
        if (args != NULL) {
            PyErr_SetObject(PyExc_OSError, args);
            Py_DECREF(args);
        }
        return;
    }
#endif
    default:
        PyOS_snprintf(message, sizeof(message), "%s failed: %s",
                      err->step, strerror((int)err->code));
        set_os_error(err->code, message);
        return;
    }
}

/* ---- arguments ---------------------------------------------------------- */

static int
parse_states(PyObject *obj, tt_state_set *out)
{
    PyObject *iter, *item;
    tt_state_set set = 0;

    if (obj == Py_None) {
        *out = TT_ALL_STATES;
        return 0;
    }
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj) ||
        PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "states must be an iterable of TcpState or None, not %R", obj);
        return -1;
    }
    if ((iter = PyObject_GetIter(obj)) == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "states must be an iterable of TcpState or None, not %.200s",
                         Py_TYPE(obj)->tp_name);
        }
        return -1;
    }
    while ((item = PyIter_Next(iter)) != NULL) {
        long value;
        if (!PyLong_Check(item) || PyBool_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "states must hold TcpState members, not %R (%.200s)",
                         item, Py_TYPE(item)->tp_name);
            goto error;
        }
        value = PyLong_AsLong(item);
        if (value == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                goto error;
            PyErr_Clear();
            value = -1;
        }
        if (value < 1 || value > TT_STATE_MAX) {
            PyErr_Format(PyExc_ValueError,
                         "%R is not a TcpState value (1 to %d)", item, TT_STATE_MAX);
            goto error;
        }
        set |= (tt_state_set)(1u << value);
        Py_DECREF(item);
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return -1;
    *out = set;
    return 0;
error:
    Py_DECREF(item);
    Py_DECREF(iter);
    return -1;
}

static int
require_states(module_state *st)
{
    if (st->states[1] == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "tcptable._tcptable has no TcpState members yet: "
                        "import tcptable, not its private module");
        return -1;
    }
    return 0;
}

/* ---- the dump ----------------------------------------------------------- */

/* Runs the backend without the GIL.  An interrupted system call comes back
 * here so that Python signal handlers run (and may raise) before a retry. */
static int
collect(int family, tt_state_set states, int sort, tt_rows *rows)
{
    for (;;) {
        tt_error err = {TT_OK, 0, NULL};
        int rc;

        Py_BEGIN_ALLOW_THREADS
        rc = tt_backend_dump(family, states, rows, &err);
        if (rc == 0 && sort)
            rc = tt_rows_sort(rows, &err);
        Py_END_ALLOW_THREADS

        if (rc == 0)
            return 0;
        rows->len = 0;
        if (err.kind == TT_ERR_INTR) {
            if (PyErr_CheckSignals() < 0)
                return -1;
            continue;
        }
        raise_backend_error(&err);
        return -1;
    }
}

static PyObject *
table(PyObject *module, int family, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states", "sort", NULL};
    module_state *st = get_state(module);
    PyObject *states_obj = Py_None, *sort_obj = Py_False, *result = NULL;
    tt_state_set states;
    tt_rows rows = {NULL, 0, 0};

    if (!PyArg_ParseTupleAndKeywords(args, kwargs,
                                     family == AF_INET6 ? "|$OO:tcp6" : "|$OO:tcp4",
                                     keywords, &states_obj, &sort_obj))
        return NULL;
    if (!PyBool_Check(sort_obj)) {
        PyErr_Format(PyExc_TypeError, "sort must be a bool, not %R", sort_obj);
        return NULL;
    }
    if (parse_states(states_obj, &states) < 0 || require_states(st) < 0)
        return NULL;
    if (states == 0)
        return PyTuple_New(0);
    if (collect(family, states, sort_obj == Py_True, &rows) == 0)
        result = build_table(st, family, &rows);
    tt_rows_free(&rows);
    return result;
}

static PyObject *
tcp6(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, AF_INET6, args, kwargs);
}

static PyObject *
tcp4(PyObject *module, PyObject *args, PyObject *kwargs)
{
    return table(module, AF_INET, args, kwargs);
}

static int
count_family(int family, tt_state_set states, Py_ssize_t counts[])
{
    tt_rows rows = {NULL, 0, 0};
    int rc = collect(family, states, 0, &rows);

    /* A failed dump may leave a row array behind: free it on both paths. */
    for (size_t i = 0; i < rows.len; i++)
        counts[rows.rows[i].state]++;
    tt_rows_free(&rows);
    return rc;
}

static PyObject *
counts(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"family", "states", NULL};
    module_state *st = get_state(module);
    PyObject *family_obj = NULL, *states_obj = Py_None, *result;
    Py_ssize_t per_state[TT_STATE_MAX + 1] = {0};
    tt_state_set states;
    long family = AF_INET6;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O$O:counts", keywords,
                                     &family_obj, &states_obj))
        return NULL;
    if (family_obj == Py_None) {
        family = 0;
    }
    else if (family_obj != NULL) {
        if (!PyLong_Check(family_obj) || PyBool_Check(family_obj)) {
            PyErr_Format(PyExc_TypeError,
                         "family must be socket.AF_INET, socket.AF_INET6 or None, "
                         "not %R", family_obj);
            return NULL;
        }
        family = PyLong_AsLong(family_obj);
        if (family == -1 && PyErr_Occurred())
            PyErr_Clear();
        if (family != AF_INET && family != AF_INET6) {
            PyErr_Format(PyExc_ValueError,
                         "family must be socket.AF_INET, socket.AF_INET6 or None, "
                         "not %R", family_obj);
            return NULL;
        }
    }
    if (parse_states(states_obj, &states) < 0 || require_states(st) < 0)
        return NULL;
    if (states != 0) {
        if ((family == 0 || family == AF_INET6) &&
            count_family(AF_INET6, states, per_state) < 0)
            return NULL;
        if ((family == 0 || family == AF_INET) &&
            count_family(AF_INET, states, per_state) < 0)
            return NULL;
    }
    if ((result = PyDict_New()) == NULL)
        return NULL;
    for (int s = 1; s <= TT_STATE_MAX; s++) {
        PyObject *n;
        if (!TT_HAS_STATE(states, s))
            continue;
        if ((n = PyLong_FromSsize_t(per_state[s])) == NULL ||
            PyDict_SetItem(result, st->states[s], n) < 0) {
            Py_XDECREF(n);
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(n);
    }
    return result;
}

static PyObject *
set_states(PyObject *module, PyObject *members)
{
    module_state *st = get_state(module);
    PyObject *seq;

    if (st->states[1] != NULL) /* the first hand-over wins (see reload) */
        Py_RETURN_NONE;
    if ((seq = PySequence_Fast(members, "_set_states needs a sequence")) == NULL)
        return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != TT_STATE_MAX) {
        PyErr_Format(PyExc_ValueError, "_set_states needs %d members",
                     TT_STATE_MAX);
        goto error;
    }
    for (Py_ssize_t i = 0; i < TT_STATE_MAX; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyLong_Check(item) || PyLong_AsLong(item) != i + 1) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError,
                             "_set_states: member %zd must equal %zd, not %R",
                             i, i + 1, item);
            goto error;
        }
    }
    for (Py_ssize_t i = 0; i < TT_STATE_MAX; i++)
        st->states[i + 1] = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    Py_RETURN_NONE;
error:
    Py_DECREF(seq);
    return NULL;
}

/* ---- the module --------------------------------------------------------- */

PyDoc_STRVAR(tcp6_doc,
"tcp6(*, states=None, sort=False) -> tuple[Tcp6Row, ...]\n\n"
"The IPv6 TCP table.  states: an iterable of TcpState to keep (None: all).\n"
"sort: order rows as GetTcp6Table(Order=TRUE) does.");

PyDoc_STRVAR(tcp4_doc,
"tcp4(*, states=None, sort=False) -> tuple[Tcp4Row, ...]\n\n"
"The IPv4 TCP table.  states: an iterable of TcpState to keep (None: all).\n"
"sort: order rows as GetTcpTable(Order=TRUE) does.");

PyDoc_STRVAR(counts_doc,
"counts(family=AF_INET6, *, states=None) -> dict[TcpState, int]\n\n"
"Rows per state, counted without building rows.  family: AF_INET, AF_INET6\n"
"or None for both.  Every requested state is a key, zeros included.");

static PyMethodDef module_methods[] = {
    {"tcp6", (PyCFunction)(void (*)(void))tcp6, METH_VARARGS | METH_KEYWORDS, tcp6_doc},
    {"tcp4", (PyCFunction)(void (*)(void))tcp4, METH_VARARGS | METH_KEYWORDS, tcp4_doc},
    {"counts", (PyCFunction)(void (*)(void))counts, METH_VARARGS | METH_KEYWORDS,
     counts_doc},
    {"_set_states", set_states, METH_O,
     "Hand over the 12 TcpState members, in value order (done by tcptable)."},
    {NULL, NULL, 0, NULL},
};

/* new_row() and row_dealloc() rely on every field being visible (n_fields
 * equals n_sequence_fields equals the field count of `desc`) and on rows
 * being of exactly this type. */
static int
check_row_type(PyTypeObject *type, const PyStructSequence_Desc *desc)
{
    static const char *const keys[] = {"n_fields", "n_sequence_fields"};

    if (PyType_HasFeature(type, Py_TPFLAGS_BASETYPE)) {
        PyErr_Format(PyExc_SystemError, "%s can be subclassed", desc->name);
        return -1;
    }

    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        PyObject *v = PyObject_GetAttrString((PyObject *)type, keys[k]);
        Py_ssize_t n = v == NULL ? -1 : PyLong_AsSsize_t(v);
        Py_XDECREF(v);
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n != desc->n_in_sequence) {
            PyErr_Format(PyExc_SystemError, "%s.%s is %zd, expected %d",
                         desc->name, keys[k], n, desc->n_in_sequence);
            return -1;
        }
    }
    return 0;
}

static int
add_type(PyObject *module, PyTypeObject **slot, PyStructSequence_Desc *desc)
{
    if ((*slot = PyStructSequence_NewType(desc)) == NULL || check_row_type(*slot, desc) < 0)
        return -1;
#ifdef TT_OWN_ROW_ALLOCATION
    (*slot)->tp_dealloc = row_dealloc;
#endif
    /* The name after the last dot is the attribute name. */
    return PyModule_AddObjectRef(module, strrchr(desc->name, '.') + 1,
                                 (PyObject *)*slot);
}

static int
module_exec(PyObject *module)
{
    module_state *st = get_state(module);

    if (add_type(module, &st->tcp6_row_type, &tcp6_row_desc) < 0 ||
        add_type(module, &st->tcp4_row_type, &tcp4_row_desc) < 0)
        return -1;
    return 0;
}

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    module_state *st = get_state(module);
    Py_VISIT(st->tcp6_row_type);
    Py_VISIT(st->tcp4_row_type);
    for (int s = 1; s <= TT_STATE_MAX; s++)
        Py_VISIT(st->states[s]);
    return 0;
}

static int
module_clear(PyObject *module)
{
    module_state *st = get_state(module);
    Py_CLEAR(st->tcp6_row_type);
    Py_CLEAR(st->tcp4_row_type);
    for (int s = 1; s <= TT_STATE_MAX; s++)
        Py_CLEAR(st->states[s]);
    return 0;
}

static void
module_free(void *module)
{
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
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
    .m_doc = "The TCP connection table, straight from the OS.",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__tcptable(void)
{
    return PyModuleDef_Init(&module_def);
}
