/* tcptable.Watcher: change events between polls.  Each poll dumps the
 * query's rows into a plain C array and diffs it against the previous
 * poll's (tt_rows_diff()), both without the GIL; Python rows are built only
 * for the rows that changed, into a Changes structseq. */
#include "glue.h"

typedef struct {
    PyObject_HEAD
    ttpy_query query;        /* its namespace held open for the Watcher's life */
    PyThread_type_lock lock; /* one poll at a time: they share what follows */
    tt_rows prev;                 /* the last poll's rows */
    tt_rows next;                 /* the next dump's buffer, kept for its capacity */
    tt_diff diff;
} watcher;

PyDoc_STRVAR(watcher_doc,
"Watcher(family=AF_INET6, *, protocol=IPPROTO_TCP, states=None, local_ports=None,\n"
"        remote_ports=None, pids=False, netns=None)\n\n"
"Change events of one family's table: each poll() returns what changed since\n"
"the previous one; rows are the same connection when their endpoints\n"
"(addresses, scope ids, ports) are equal.\n"
"protocol: socket.IPPROTO_TCP (Tcp6Row/Tcp4Row) or socket.IPPROTO_UDP\n"
"  (Udp6Row/Udp4Row, Linux; states must then be None).\n"
TTPY_DOC_STATES TTPY_DOC_PORTS TTPY_DOC_PIDS TTPY_DOC_NETNS
"  The Watcher holds it open.\n"
"Threads may share a Watcher: their polls take turns.");

static const ttpy_entry watcher_entry = {
    "Watcher",
    TTPY_OPT(TTPY_FAMILY) | TTPY_OPT(TTPY_PROTOCOL) | TTPY_OPT(TTPY_STATES) |
        TTPY_OPT(TTPY_LOCAL_PORTS) | TTPY_OPT(TTPY_REMOTE_PORTS) | TTPY_OPT(TTPY_PIDS) |
        TTPY_OPT(TTPY_NETNS),
    1,
    IPPROTO_TCP,
    AF_INET6,
    "one Watcher per family",
};

PyDoc_STRVAR(poll_doc,
"poll() -> Changes\n\n"
"Rows opened, closed, and (old, new) pairs whose state changed since the\n"
"previous poll; the first poll reports every row as opened.  A poll that\n"
"raises changes nothing: the next one reports what it would have.");

static PyStructSequence_Field changes_fields[] = {
    {"opened", "rows that appeared since the previous poll"},
    {"closed", "rows that disappeared, as the previous poll saw them"},
    {"changed", "(old, new) row pairs: the same endpoints in another state"},
    {NULL, NULL},
};

static PyStructSequence_Desc changes_desc = {
    "tcptable.Changes",
    "What Watcher.poll() saw change since the previous poll.",
    changes_fields,
    3,
};

static PyObject *
watcher_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    ttpy_state *st = ttpy_get_state(PyType_GetModule(type));
    watcher *self = (watcher *)type->tp_alloc(type, 0);

    if (self == NULL)
        return NULL;
    /* tp_alloc zeroed the rest: what dealloc frees is empty. */
    self->query.ns.fd = -1;
    if (ttpy_parse_query(&self->query, st, &watcher_entry, args, kwargs) < 0 ||
        ttpy_netns_keep(&self->query.ns) < 0)
        goto error;
    if ((self->lock = PyThread_allocate_lock()) == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static void
watcher_dealloc(PyObject *op)
{
    watcher *self = (watcher *)op;
    PyTypeObject *type = Py_TYPE(op);

    ttpy_query_release(&self->query);
    tt_rows_free(&self->prev);
    tt_rows_free(&self->next);
    tt_diff_free(&self->diff);
    if (self->lock != NULL)
        PyThread_free_lock(self->lock);
    type->tp_free(op);
    Py_DECREF(type); /* instances of heap types own a reference to them */
}

/* The Changes of the diff just made: opened rows from `next`, closed ones
 * from `prev`, changed pairs from both. */
static PyObject *
build_changes(ttpy_state *st, const watcher *self)
{
    const tt_diff *d = &self->diff;
    int protocol = self->query.q.protocol, family = self->query.q.family;
    PyObject *opened = NULL, *closed = NULL, *old = NULL, *now = NULL, *changed = NULL;
    PyObject *result = NULL;

    if ((opened = ttpy_build_rows(st, protocol, family, self->next.rows, NULL, NULL,
                                   d->opened, 1, d->n_opened)) ==
            NULL ||
        (closed = ttpy_build_rows(st, protocol, family, self->prev.rows, NULL, NULL,
                                   d->closed, 1, d->n_closed)) ==
            NULL ||
        (old = ttpy_build_rows(st, protocol, family, self->prev.rows, NULL, NULL,
                                   d->changed, 2, d->n_changed)) ==
            NULL ||
        (now = ttpy_build_rows(st, protocol, family, self->next.rows, NULL, NULL,
                                   d->changed + 1, 2, d->n_changed)) ==
            NULL ||
        (changed = PyTuple_New((Py_ssize_t)d->n_changed)) == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < (Py_ssize_t)d->n_changed; k++) {
        PyObject *pair = PyTuple_Pack(2, PyTuple_GET_ITEM(old, k), PyTuple_GET_ITEM(now, k));
        if (pair == NULL)
            goto done;
        PyTuple_SET_ITEM(changed, k, pair);
    }
    if ((result = PyStructSequence_New(st->changes_type)) == NULL)
        goto done;
    PyStructSequence_SetItem(result, 0, Py_NewRef(opened));
    PyStructSequence_SetItem(result, 1, Py_NewRef(closed));
    PyStructSequence_SetItem(result, 2, Py_NewRef(changed));
done:
    Py_XDECREF(opened);
    Py_XDECREF(closed);
    Py_XDECREF(old);
    Py_XDECREF(now);
    Py_XDECREF(changed);
    return result;
}

static int
run_diff(void *arg, tt_error *err)
{
    watcher *self = arg;
    return tt_rows_diff(&self->prev, &self->next, &self->diff, err);
}

static PyObject *
watcher_poll(PyObject *op, PyObject *Py_UNUSED(unused))
{
    watcher *self = (watcher *)op;
    ttpy_state *st = ttpy_get_state(PyType_GetModule(Py_TYPE(op)));
    PyObject *result = NULL;
    tt_rows seen;

    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    self->next.len = 0;
    if (ttpy_collect(&self->query.q, 0, &self->next) < 0 ||
        ttpy_run_backend(run_diff, self) < 0 || (result = build_changes(st, self)) == NULL)
        goto done;
    /* Only a poll whose changes reach the caller moves on. */
    seen = self->prev;
    self->prev = self->next;
    self->next = seen;
done:
    PyThread_release_lock(self->lock);
    return result;
}

static PyMethodDef watcher_methods[] = {
    {"poll", watcher_poll, METH_NOARGS, poll_doc},
    {NULL, NULL, 0, NULL},
};

/* Function pointers in void * slots: through uintptr_t (see module.c). */
static PyType_Slot watcher_slots[] = {
    {Py_tp_new, (void *)(uintptr_t)watcher_new},
    {Py_tp_dealloc, (void *)(uintptr_t)watcher_dealloc},
    {Py_tp_methods, watcher_methods},
    {Py_tp_doc, (void *)watcher_doc},
    {0, NULL},
};

static PyType_Spec watcher_spec = {
    "tcptable.Watcher",
    sizeof(watcher),
    0,
    /* No subclasses: poll() finds the module state through its own type. */
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    watcher_slots,
};

int
ttpy_add_watcher_types(PyObject *module, ttpy_state *st)
{
    if ((st->changes_type = PyStructSequence_NewType(&changes_desc)) == NULL ||
        PyModule_AddObjectRef(module, "Changes", (PyObject *)st->changes_type) < 0)
        return -1;
    st->watcher_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &watcher_spec, NULL);
    if (st->watcher_type == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "Watcher", (PyObject *)st->watcher_type);
}
