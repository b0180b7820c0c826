/* What the glue files (the only ones that include Python.h) share: the
 * module state and each file's entry points.
 *
 *   module.c    lifecycle: method table, exec slot, traverse/clear/free
 *   calls.c     tcp6(), tcp4(), counts(): a query, the dump, the result
 *   args.c      argument converters and TCPTABLE_BACKEND, into a tt_query
 *   rowtypes.c  the one row schema: structseq types and building rows
 *   errors.c    backend errors as exceptions
 *   namespaces.c  namespaces() and its Namespace rows
 *   stats.c     stats() and its TcpStats type
 *   watcher.c   the Watcher type (change events) and its Changes rows */
#ifndef TCPTABLE_GLUE_H
#define TCPTABLE_GLUE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tcptable.h"

/* One structseq row type (rowtypes.c holds the fields). */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t n_fields;  /* every field, by-name ones included */
    Py_ssize_t n_visible; /* the tuple's length */
    Py_ssize_t n_items;   /* items a row allocates past tp_basicsize (rowtypes.c) */
} ttpy_row_layout;

typedef struct {
    ttpy_row_layout tcp6_rows;
    ttpy_row_layout tcp4_rows;
    PyObject *state_type;               /* tcptable.state.TcpState */
    PyObject *enum_type;                /* enum.Enum: other enums' members are no states */
    PyObject *states[TT_STATE_MAX + 1]; /* TcpState members by value; [0] unused */
    PyTypeObject *namespace_type;       /* tcptable.Namespace */
    PyTypeObject *stats_type;           /* tcptable.TcpStats */
    PyTypeObject *watcher_type;         /* tcptable.Watcher */
    PyTypeObject *changes_type;         /* tcptable.Changes */
} ttpy_state;

static inline ttpy_state *
ttpy_get_state(PyObject *module)
{
    return (ttpy_state *)PyModule_GetState(module);
}

/* rowtypes.c */
int ttpy_add_row_types(PyObject *module, ttpy_state *st);
PyObject *ttpy_build_table(ttpy_state *st, int family, const tt_rows *rows);
/* A tuple of n rows: rows[index[k * stride]] for k < n (index NULL: rows[k]). */
PyObject *ttpy_build_rows(ttpy_state *st, int family, const tt_row *rows, const uint32_t *index,
                          size_t stride, size_t n);
int ttpy_row_types_traverse(ttpy_state *st, visitproc visit, void *arg);
void ttpy_row_types_clear(ttpy_state *st);
extern const char ttpy_row_allocation[]; /* "own" or "public" */

/* args.c: PyArg_Parse "O&" converters.  ttpy_states_arg carries the module
 * state in (to tell TcpState from other enums) and the set out. */
typedef struct {
    ttpy_state *st;
    tt_state_set set;
} ttpy_states_arg;
int ttpy_states_converter(PyObject *obj, void *arg);   /* ttpy_states_arg */
int ttpy_family_converter(PyObject *obj, void *arg);   /* int: AF_INET, AF_INET6, 0 (None) */
int ttpy_source_from_env(tt_source *source);           /* TCPTABLE_BACKEND */
int ttpy_bool_arg(PyObject *obj, const char *name, int *out); /* strictly a bool */

/* local_ports / remote_ports: `name` is set before parsing (for messages);
 * `given` is 0 for None (any port). */
typedef struct {
    const char *name;
    int given;
    tt_port_set set;
} ttpy_ports_arg;
int ttpy_ports_converter(PyObject *obj, void *arg); /* ttpy_ports_arg */

/* The netns argument: None (fd -1), an fd of a network namespace, or a path
 * to one, opened here (owned, closed by ttpy_netns_release).  Linux only. */
typedef struct {
    int fd;
    int owned;
} ttpy_netns_arg;
int ttpy_netns_open(PyObject *obj, ttpy_netns_arg *out);
void ttpy_netns_release(ttpy_netns_arg *ns);
/* Makes `ns` own its descriptor (a dup of a caller's fd), for an object that
 * keeps it past the call; 0, or -1 with OSError set. */
int ttpy_netns_keep(ttpy_netns_arg *ns);

/* errors.c */
void ttpy_raise_backend_error(const tt_error *err);
void ttpy_raise_interrupted(const tt_error *err, int attempts);

/* calls.c: ttpy_run_backend() runs call(arg, &err) without the GIL, again
 * after each EINTR once signal handlers ran (pausing between tries, up to a
 * bound); 0, or -1 with an exception set.  ttpy_collect() runs the dump for
 * `q` that way (and sorts with `sort`). */
int ttpy_run_backend(int (*call)(void *arg, tt_error *err), void *arg);
int ttpy_collect(const tt_query *q, int sort, tt_rows *rows);
/* A query of `family` with TCPTABLE_BACKEND's source and the namespace
 * `netns` opened into *ns, which the caller releases on every path. */
int ttpy_start_query(tt_query *q, int family, PyObject *netns, ttpy_netns_arg *ns);
/* The port filters into the query (pointing at `local` and `remote`); 0
 * when one is an empty set (nothing can match). */
int ttpy_set_ports(tt_query *q, const ttpy_ports_arg *local, const ttpy_ports_arg *remote);
PyObject *ttpy_tcp6(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_tcp4(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_counts(PyObject *module, PyObject *args, PyObject *kwargs);

/* stats.c */
int ttpy_add_stats_type(PyObject *module, ttpy_state *st);
PyObject *ttpy_stats(PyObject *module, PyObject *args, PyObject *kwargs);

/* watcher.c */
int ttpy_add_watcher_types(PyObject *module, ttpy_state *st);

/* namespaces.c */
int ttpy_add_namespace_type(PyObject *module, ttpy_state *st);
PyObject *ttpy_namespaces(PyObject *module, PyObject *unused);

#endif
