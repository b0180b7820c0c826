/* The values of arguments (query.c parses them) and TCPTABLE_BACKEND, read
 * with the GIL held: 0, or -1 with an exception set. */
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#endif

#include "glue.h"

/* A TcpState member, a plain int, or an int subclass that is no enum:
 * members of other enums (socket.AF_INET6 is 10, LAST_ACK) are mistakes. */
static int
check_state_item(ttpy_state *st, PyObject *item)
{
    int is_enum;

    if (PyLong_CheckExact(item) || Py_IS_TYPE(item, (PyTypeObject *)st->state_type))
        return 0;
    if (!PyLong_Check(item) || PyBool_Check(item)) {
        PyErr_Format(PyExc_TypeError, "states must hold TcpState members, not %R (%.200s)",
                     item, Py_TYPE(item)->tp_name);
        return -1;
    }
    if ((is_enum = PyObject_IsInstance(item, st->enum_type)) < 0)
        return -1;
    if (is_enum) {
        PyErr_Format(PyExc_TypeError,
                     "states must hold TcpState members or ints, not %R, a member of %.200s",
                     item, Py_TYPE(item)->tp_name);
        return -1;
    }
    return 0;
}

static int
add_state(PyObject *item, tt_state_set *set)
{
    long value = PyLong_AsLong(item);

    if (value == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
    }
    if (value < 1 || value > TT_STATE_MAX) {
        PyErr_Format(PyExc_ValueError, "%R is not a TcpState value (1 to %d)", item,
                     TT_STATE_MAX);
        return -1;
    }
    *set |= (tt_state_set)(1u << value);
    return 0;
}

/* Calls add(item, ctx) for each item of `obj`, an iterable (not a str,
 * bytes or int, which are mistakes here) of `what`; 1, or 0 with an exception
 * set, naming the argument `name`.  Duplicates are legal, so an endless
 * iterable must stay interruptible (Ctrl-C) rather than be cut off. */
static int
for_each_item(PyObject *obj, const char *name, const char *what,
              int (*add)(PyObject *item, void *ctx), void *ctx)
{
    PyObject *iter, *item;

    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyByteArray_Check(obj) ||
        PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an iterable of %s or None, not %R", name, what,
                     obj);
        return 0;
    }
    if ((iter = PyObject_GetIter(obj)) == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "%s must be an iterable of %s or None, not %.200s",
                         name, what, Py_TYPE(obj)->tp_name);
        }
        return 0;
    }
    while ((item = PyIter_Next(iter)) != NULL) {
        int rc = PyErr_CheckSignals() < 0 || add(item, ctx) < 0 ? -1 : 0;
        Py_DECREF(item);
        if (rc < 0) {
            Py_DECREF(iter);
            return 0;
        }
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? 0 : 1;
}

typedef struct {
    ttpy_state *st;
    tt_state_set set;
} states_ctx;

static int
add_state_item(PyObject *item, void *arg)
{
    states_ctx *ctx = arg;
    return check_state_item(ctx->st, item) < 0 ? -1 : add_state(item, &ctx->set);
}

int
ttpy_states_arg(PyObject *obj, ttpy_state *st, tt_state_set *out)
{
    states_ctx ctx = {st, 0};

    if (obj == Py_None) {
        *out = TT_ALL_STATES;
        return 0;
    }
    if (!for_each_item(obj, "states", "TcpState", add_state_item, &ctx))
        return -1;
    *out = ctx.set;
    return 0;
}

typedef struct {
    const char *name;
    tt_port_set *set;
} ports_ctx;

static int
add_port(PyObject *item, void *arg)
{
    ports_ctx *out = arg;
    long port;

    if (!PyLong_Check(item) || PyBool_Check(item)) {
        PyErr_Format(PyExc_TypeError, "%s must hold ints 0..65535, not %R (%.200s)", out->name,
                     item, Py_TYPE(item)->tp_name);
        return -1;
    }
    port = PyLong_AsLong(item);
    if (port == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
    }
    if (port < 0 || port > 65535) {
        PyErr_Format(PyExc_ValueError, "%s: %R is not a port (0 to 65535)", out->name, item);
        return -1;
    }
    tt_port_set_add(out->set, (uint16_t)port);
    return 0;
}

int
ttpy_ports_arg(PyObject *obj, const char *name, tt_port_set *out)
{
    ports_ctx ctx = {name, out};

    memset(out, 0, sizeof(*out));
    return obj == Py_None || for_each_item(obj, name, "ints", add_port, &ctx) ? 0 : -1;
}

int
ttpy_bool_arg(PyObject *obj, const char *name, int *out)
{
    if (!PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be a bool, not %R", name, obj);
        return -1;
    }
    *out = obj == Py_True;
    return 0;
}

/* Linux only: Windows has one source, and a mingw build's getenv() would
 * not even see what os.environ sets (another C runtime's copy). */
int
ttpy_source_from_env(tt_source *source)
{
#ifdef __linux__
    const char *choice = getenv("TCPTABLE_BACKEND");
#else
    const char *choice = NULL;
#endif

    if (choice == NULL || *choice == '\0')
        *source = TT_SOURCE_ANY;
    else if (strcmp(choice, "netlink") == 0)
        *source = TT_SOURCE_NETLINK;
    else if (strcmp(choice, "proc") == 0)
        *source = TT_SOURCE_PROC;
    else {
        PyErr_Format(PyExc_ValueError,
                     "TCPTABLE_BACKEND must be 'netlink', 'proc' or unset, not '%.100s'", choice);
        return -1;
    }
    return 0;
}

int
ttpy_netns_open(PyObject *obj, ttpy_netns_arg *out)
{
    out->fd = -1;
    out->owned = 0;
    if (obj == Py_None)
        return 0;
#ifdef __linux__
    {
        PyObject *path = NULL;
        tt_error err = {0};
        int kind;

        if (PyBool_Check(obj)) {
            PyErr_Format(PyExc_TypeError,
                         "netns must be a path or a file descriptor of a network namespace, "
                         "not %R", obj);
            return -1;
        }
        if (PyLong_Check(obj)) {
            long fd = PyLong_AsLong(obj);
            if (fd == -1 && PyErr_Occurred())
                PyErr_Clear();
            if (fd < 0 || fd > INT_MAX) {
                PyErr_Format(PyExc_ValueError, "netns: %R is not a file descriptor", obj);
                return -1;
            }
            out->fd = (int)fd;
        }
        else {
            if (!PyUnicode_FSConverter(obj, &path)) {
                if (PyErr_ExceptionMatches(PyExc_TypeError)) {
                    PyErr_Clear();
                    PyErr_Format(PyExc_TypeError,
                                 "netns must be a path or a file descriptor of a network "
                                 "namespace, not %.200s",
                                 Py_TYPE(obj)->tp_name);
                }
                return -1;
            }
            Py_BEGIN_ALLOW_THREADS
            out->fd = open(PyBytes_AS_STRING(path), O_RDONLY | O_CLOEXEC);
            Py_END_ALLOW_THREADS
            Py_DECREF(path);
            if (out->fd < 0) {
                PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, obj);
                return -1;
            }
            out->owned = 1;
        }
        if ((kind = tt_netns_check(out->fd, &err)) == TT_NETNS_OK)
            return 0;
        if (kind < 0) {
            errno = (int)err.code; /* OSError naming the argument, e.g. EBADF: 999 */
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, obj);
        }
        else
            PyErr_Format(PyExc_ValueError, "netns: %R is %s", obj,
                         kind == TT_NETNS_OTHER_TYPE
                             ? "a namespace of another kind, not a network namespace"
                             : "not a namespace file (expected /run/netns/NAME, "
                               "/proc/PID/ns/net or an fd of one)");
        ttpy_netns_release(out);
        return -1;
    }
#else
    PyErr_SetString(PyExc_NotImplementedError,
                    "netns: network namespaces are Linux-only; pass netns=None");
    return -1;
#endif
}

void
ttpy_netns_release(ttpy_netns_arg *ns)
{
#ifdef __linux__
    if (ns->owned && ns->fd >= 0)
        close(ns->fd);
#endif
    ns->fd = -1;
    ns->owned = 0;
}

int
ttpy_netns_keep(ttpy_netns_arg *ns)
{
#ifdef __linux__
    if (ns->fd >= 0 && !ns->owned) {
        int copy;
        if ((copy = fcntl(ns->fd, F_DUPFD_CLOEXEC, 0)) < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        ns->fd = copy;
        ns->owned = 1;
    }
#else
    (void)ns;
#endif
    return 0;
}
