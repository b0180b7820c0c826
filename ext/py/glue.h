/* What the glue files (the only ones that include Python.h) share: the
 * module state and each file's entry points.
 *
 *   module.c    lifecycle: method table, exec slot, traverse/clear/free
 *   query.c     the one argument parser: every entry point's call into a query
 *   args.c      argument values (states, ports, netns) and TCPTABLE_BACKEND
 *   run.c       the backend without the GIL, EINTR retries, collecting rows
 *   tables.c    tcp6(), tcp4(), udp6(), udp4(), unix(): the rows as structseqs
 *   counts.c    counts(): rows per state, or per port and state
 *   rowtypes.c  the one row schema: structseq types and building rows
 *   errors.c    backend errors as exceptions
 *   namespaces.c  namespaces() and its Namespace rows
 *   stats.c     stats(), udp_stats() and their TcpStats, UdpStats types
 *   info.c      TcpInfo: a connection's tcp_info as a structseq
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
    ttpy_row_layout udp6_rows;
    ttpy_row_layout udp4_rows;
    ttpy_row_layout unix_rows;
    PyObject *state_type;               /* tcptable.state.TcpState */
    PyObject *enum_type;                /* enum.Enum: other enums' members are no states */
    PyObject *states[TT_STATE_MAX + 1]; /* TcpState members by value; [0] unused */
    PyTypeObject *namespace_type;       /* tcptable.Namespace */
    PyTypeObject *stats_type;           /* tcptable.TcpStats */
    PyTypeObject *udp_stats_type;       /* tcptable.UdpStats */
    PyTypeObject *info_type;            /* tcptable.TcpInfo */
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
/* rows->protocol's and rows->family's row type */
PyObject *ttpy_build_table(ttpy_state *st, const tt_rows *rows);
/* A tuple of n rows of the table (protocol, family): rows[index[k * stride]]
 * for k < n (index NULL: rows[k]); `names` holds AF_UNIX rows' names, `info`
 * what TCP rows' info indexes (NULL: every row's info is None). */
PyObject *ttpy_build_rows(ttpy_state *st, int protocol, int family, const tt_row *rows,
                          const char *names, const tt_tcp_info *info, const uint32_t *index,
                          size_t stride, size_t n);
int ttpy_row_types_traverse(ttpy_state *st, visitproc visit, void *arg);
void ttpy_row_types_clear(ttpy_state *st);
extern const char ttpy_row_allocation[]; /* "own" or "public" */

/* args.c: argument values, 0 or -1 with an exception set.  st tells
 * TcpState from other enums; `name` is the argument's, for messages. */
int ttpy_states_arg(PyObject *obj, ttpy_state *st, tt_state_set *out); /* None: all */
int ttpy_ports_arg(PyObject *obj, const char *name, tt_port_set *out); /* None: empty */
int ttpy_bool_arg(PyObject *obj, const char *name, int *out);           /* strictly a bool */
int ttpy_source_from_env(tt_source *source);                            /* TCPTABLE_BACKEND */

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

/* query.c: the options an entry point may take, in the order they are
 * converted (netns last), and what one call asked for. */
enum {
    TTPY_FAMILY,
    TTPY_PROTOCOL, /* before states: a UDP query takes none */
    TTPY_STATES,
    TTPY_SORT,
    TTPY_PIDS,
    TTPY_INFO, /* TCP tables only */
    TTPY_LOCAL_PORTS,
    TTPY_REMOTE_PORTS,
    TTPY_BY,
    TTPY_NETNS,
    TTPY_N_OPTIONS
};
#define TTPY_OPT(o) (1u << (o))

typedef enum { TTPY_BY_NONE, TTPY_BY_LOCAL_PORT, TTPY_BY_REMOTE_PORT } ttpy_count_by;

/* An entry point: its name (for messages), the options it takes, how many
 * of the first ones may come by position, and the table it reads. */
typedef struct {
    const char *name;
    unsigned options;   /* TTPY_OPT() bits */
    unsigned positional;
    int protocol;
    int family;             /* fixed, or the default where family is an option */
    const char *one_family; /* NULL: family=None is every family; else why it is not */
} ttpy_entry;

typedef struct {
    tt_query q; /* family AF_UNSPEC: every family; pointers into this struct */
    ttpy_state *st;
    int sort;
    ttpy_count_by by;
    tt_port_set local_ports, remote_ports;
    ttpy_netns_arg ns;
} ttpy_query;

/* Parses one call into *out (which must not move afterwards: q points into
 * it); 0, or -1 with an exception set.  ttpy_query_release() on every path
 * after a call, failed or not. */
int ttpy_parse_query(ttpy_query *out, ttpy_state *st, const ttpy_entry *entry, PyObject *args,
                     PyObject *kwargs);
void ttpy_query_release(ttpy_query *query);
/* An empty states or ports set: no row can match, the OS is not asked. */
int ttpy_query_matches_nothing(const tt_query *q);

/* The option texts every docstring shares (module.c, watcher.c). */
#define TTPY_DOC_STATES "states: an iterable of TcpState to keep (None: all).\n"
#define TTPY_DOC_PIDS "pids: fill each row's pid (and on Linux uid and inode).\n"
#define TTPY_DOC_INFO                                                                         \
    "info: fill each row's info, a TcpInfo (Linux netlink; None where the OS gives none).\n"
#define TTPY_DOC_PORTS                                                                        \
    "local_ports, remote_ports: iterables of ports a row's must be in (None: any).\n"
#define TTPY_DOC_NETNS                                                                        \
    "netns (Linux): a network namespace's path or fd to read (None: the caller's)."

/* errors.c */
void ttpy_raise_backend_error(const tt_error *err);
void ttpy_raise_interrupted(const tt_error *err, int attempts);

/* run.c: ttpy_run_backend() runs call(arg, &err) without the GIL, again
 * after each EINTR once signal handlers ran (pausing between tries, up to a
 * bound); 0, or -1 with an exception set.  ttpy_collect() runs the dump for
 * `q` that way (and sorts with `sort`); a query that matches nothing gives
 * no rows without asking the OS. */
int ttpy_run_backend(int (*call)(void *arg, tt_error *err), void *arg);
int ttpy_collect(const tt_query *q, int sort, tt_rows *rows);

/* tables.c, counts.c */
PyObject *ttpy_tcp6(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_tcp4(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_udp6(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_udp4(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_unix(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_counts(PyObject *module, PyObject *args, PyObject *kwargs);

/* stats.c */
int ttpy_add_stats_types(PyObject *module, ttpy_state *st);
PyObject *ttpy_stats(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ttpy_udp_stats(PyObject *module, PyObject *args, PyObject *kwargs);

/* info.c */
int ttpy_add_info_type(PyObject *module, ttpy_state *st);
/* A TcpInfo of `info`; number(ctx, v) makes each int (a table's cache). */
PyObject *ttpy_info_object(ttpy_state *st, const tt_tcp_info *info,
                           PyObject *(*number)(void *ctx, uint64_t value), void *ctx);

/* watcher.c */
int ttpy_add_watcher_types(PyObject *module, ttpy_state *st);

/* namespaces.c */
int ttpy_add_namespace_type(PyObject *module, ttpy_state *st);
PyObject *ttpy_namespaces(PyObject *module, PyObject *unused);

#endif
