/* namespaces(): every network namespace on the host, as Namespace rows
 * (inode, path, pids) whose path a netns= argument accepts. */
#include "glue.h"

static PyStructSequence_Field namespace_fields[] = {
    {"inode", "the namespace's inode number (what /proc/PID/ns/net links name)"},
    {"path", "a path that opens it: /run/netns/NAME where named, else /proc/PID/ns/net"},
    {"pids", "the processes in it, ascending (a tuple, empty for a named namespace no "
             "process is in)"},
    {NULL, NULL},
};

static PyStructSequence_Desc namespace_desc = {
    "tcptable.Namespace",
    "A network namespace: pass its path (or an fd of it) as netns=.",
    namespace_fields,
    3,
};

int
ttpy_add_namespace_type(PyObject *module, ttpy_state *st)
{
    if ((st->namespace_type = PyStructSequence_NewType(&namespace_desc)) == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "Namespace", (PyObject *)st->namespace_type);
}

#ifdef __linux__
static PyObject *
build_namespace(PyTypeObject *type, const tt_namespace *ns)
{
    PyObject *row = PyStructSequence_New(type), *value;

    if (row == NULL)
        return NULL;
    if ((value = PyLong_FromUnsignedLongLong(ns->inode)) == NULL)
        goto error;
    PyStructSequence_SetItem(row, 0, value);
    if ((value = PyUnicode_DecodeFSDefault(ns->path)) == NULL)
        goto error;
    PyStructSequence_SetItem(row, 1, value);
    if ((value = PyTuple_New((Py_ssize_t)ns->n_pids)) == NULL)
        goto error;
    PyStructSequence_SetItem(row, 2, value);
    for (size_t i = 0; i < ns->n_pids; i++) {
        PyObject *pid = PyLong_FromUnsignedLong(ns->pids[i]);
        if (pid == NULL)
            goto error;
        PyTuple_SET_ITEM(value, (Py_ssize_t)i, pid);
    }
    return row;
error:
    Py_DECREF(row);
    return NULL;
}
#endif

PyObject *
ttpy_namespaces(PyObject *module, PyObject *Py_UNUSED(unused))
{
#ifdef __linux__
    ttpy_state *st = ttpy_get_state(module);
    tt_namespaces all = {NULL, 0, 0};
    tt_error err = {0};
    PyObject *result = NULL;
    int rc;

    Py_BEGIN_ALLOW_THREADS
    rc = tt_list_namespaces(&all, &err);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        ttpy_raise_backend_error(&err);
        goto done;
    }
    if ((result = PyTuple_New((Py_ssize_t)all.len)) == NULL)
        goto done;
    for (size_t i = 0; i < all.len; i++) {
        PyObject *row = build_namespace(st->namespace_type, &all.items[i]);
        if (row == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, (Py_ssize_t)i, row);
    }
done:
    tt_namespaces_free(&all);
    return result;
#else
    (void)module;
    PyErr_SetString(PyExc_NotImplementedError, "namespaces(): network namespaces are Linux-only");
    return NULL;
#endif
}
