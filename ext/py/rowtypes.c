/* The one row schema.  ROW_FIELDS drives the four structseq types (which
 * fields, their order, their docs), building each row, and the shape the
 * stubs (python/tcptable/_tcptable.pyi) must have, which a test compares.
 *
 * Rows are tuples in MIB_TCP6ROW / MIB_TCPROW / MIB_UDP6ROW / MIB_UDPROW
 * order (UnixRow: path, type, state); later fields are reachable by name only, as os.stat_result adds
 * fields, so unpacking a row keeps working when fields are added. */
#include <string.h>

#include "glue.h"

/* The row types, as bits: a field names those whose tuple holds it and
 * those that have it by name only. */
enum {
    IN_TCP4 = 1,
    IN_TCP6 = 2,
    IN_UDP4 = 4,
    IN_UDP6 = 8,
    IN_UNIX = 16,
};
#define IN_TCP (IN_TCP4 | IN_TCP6)
#define IN_UDP (IN_UDP4 | IN_UDP6)
#define IN_V6 (IN_TCP6 | IN_UDP6)
#define IN_ALL (IN_TCP | IN_UDP)

/* X(NAME, tuple, by_name, "name", "doc"): the tuple's fields first, in MIB
 * order, then the fields reachable by name only (a field may be in one
 * type's tuple and another's by-name part: make_type() checks the order).
 * Field NAME's value is value_NAME(), below. */
#define ROW_FIELDS(X)                                                                     \
    X(PATH, IN_UNIX, 0, "path",                                                           \
      "the name the socket is bound to ('@' first for an abstract one), None if unbound") \
    X(TYPE, IN_UNIX, 0, "type", "socket.SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET")       \
    X(STATE, IN_TCP | IN_UNIX, 0, "state",                                                \
      "TcpState of the connection (UNIX: LISTEN, ESTABLISHED, or CLOSE: unconnected)")    \
    X(LOCAL_ADDR, IN_ALL, 0, "local_addr", "local address, standard text form")           \
    X(LOCAL_SCOPE_ID, IN_V6, 0, "local_scope_id",                                         \
      "interface index of the local address (Linux: of a link-local one, else 0)")       \
    X(LOCAL_PORT, IN_ALL, 0, "local_port", "local port")                                  \
    X(REMOTE_ADDR, IN_TCP, IN_UDP, "remote_addr",                                         \
      "remote address (TCP: all zero for LISTEN; UDP: the connected peer's, None for an " \
      "unconnected socket and on Windows)")                                               \
    X(REMOTE_SCOPE_ID, IN_TCP6, IN_UDP6, "remote_scope_id",                               \
      "interface index of the remote address (Linux: of a link-local one, else 0; UDP: " \
      "None for an unconnected socket and on Windows)")                                   \
    X(REMOTE_PORT, IN_TCP, IN_UDP, "remote_port",                                         \
      "remote port (TCP: 0 for LISTEN; UDP: None for an unconnected socket and on "      \
      "Windows)")                                                                         \
    X(CONNECTED, 0, IN_UDP, "connected",                                                  \
      "whether the socket is connected to one peer (Linux; None on Windows)")            \
    X(PID, 0, IN_ALL | IN_UNIX, "pid",                                                              \
      "owning process id with pids=True; None without, for sockets no process holds, "   \
      "and for owners the caller may not see")                                            \
    X(UID, 0, IN_ALL | IN_UNIX, "uid",                                                              \
      "Linux, with pids=True: the socket's user id (None for TIME_WAIT and request "     \
      "sockets); None otherwise and on Windows")                                          \
    X(INODE, 0, IN_ALL | IN_UNIX, "inode",                                                \
      "Linux, with pids=True: the socket's inode (None for TIME_WAIT and request "       \
      "sockets); None otherwise and on Windows; UNIX: always")                            \
    X(RX_QUEUE, 0, IN_ALL | IN_UNIX, "rx_queue",                                                    \
      "Linux: bytes received and not yet read (LISTEN: connections waiting to be "       \
      "accepted); None on Windows")                                                       \
    X(TX_QUEUE, 0, IN_ALL | IN_UNIX, "tx_queue",                                                    \
      "Linux: bytes sent and not yet acknowledged (LISTEN: the backlog limit with "      \
      "netlink, 0 from /proc); None on Windows")                                          \
    X(PEER_INODE, 0, IN_UNIX, "peer_inode",                                               \
      "the connected peer's inode (netlink); None for none and from /proc")               \
    X(DROPS, 0, IN_UDP, "drops",                                                          \
      "Linux: datagrams dropped on this socket (a full receive buffer, a failed "        \
      "filter); None on Windows and with netlink before Linux 4.7")                      \
    X(INFO, 0, IN_TCP, "info",                                                            \
      "with info=True, the connection's TcpInfo (Linux netlink); None without, for "     \
      "TIME_WAIT and request sockets, from /proc and on Windows")

#define FIELD_ENTRY(NAME, tuple, by_name, name, doc) {tuple, by_name, name, doc},
static const struct {
    unsigned tuple, by_name; /* IN_* bits */
    const char *name;
    const char *doc;
} FIELDS[] = {ROW_FIELDS(FIELD_ENTRY)};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

/* The by-name fields of row type `type` (an IN_* bit): row_dealloc() counts
 * a row's items as its length plus these, and make_type() checks the type
 * CPython made has them.  A constant for a constant `type`. */
#define COUNT_BY_NAME(NAME, tuple, by_name, name, doc) +((by_name) & type ? 1 : 0)
static inline Py_ssize_t
by_name_fields(const unsigned type)
{
    return 0 ROW_FIELDS(COUNT_BY_NAME);
}

/* ---- per-call object caches --------------------------------------------- */

/* Servers repeat their local address and port on every row, clients their
 * peer's, a few processes and users own every socket, and most queues are
 * empty: one object each serves the whole table.  Direct-mapped, per call,
 * so nothing outlives the call and nothing is shared between threads.
 * Ports, pids, uids and queue sizes share the number cache. */
#define ADDR_CACHE_SIZE 256
#define NUMBER_CACHE_SIZE 1024

typedef struct {
    struct {
        uint8_t addr[16];
        PyObject *text;
    } addrs[ADDR_CACHE_SIZE];
    struct {
        uint32_t number;
        PyObject *value;
    } numbers[NUMBER_CACHE_SIZE];
} object_cache;

static void
cache_clear(object_cache *cache)
{
    for (size_t i = 0; i < ADDR_CACHE_SIZE; i++)
        Py_XDECREF(cache->addrs[i].text);
    for (size_t i = 0; i < NUMBER_CACHE_SIZE; i++)
        Py_XDECREF(cache->numbers[i].value);
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
cached_number(object_cache *cache, uint32_t number)
{
    size_t slot = number % NUMBER_CACHE_SIZE;
    PyObject *value;

    if (cache->numbers[slot].value != NULL && cache->numbers[slot].number == number)
        return Py_NewRef(cache->numbers[slot].value);
    if ((value = PyLong_FromUnsignedLong(number)) == NULL)
        return NULL;
    Py_XSETREF(cache->numbers[slot].value, Py_NewRef(value));
    cache->numbers[slot].number = number;
    return value;
}

/* ---- allocating rows ---------------------------------------------------- */

/* CPython 3.10 to 3.15: rows are allocated and freed here rather than by
 * PyStructSequence_New() and structseq_dealloc(), which look the field counts
 * up in the type's dict for every row (-30% instructions per table).  This
 * mirrors those versions' structseq layout (a tuple of n_fields items whose
 * length is n_visible; 3.14 adds the tuple's cached hash, which 3.15 keeps),
 * which make_type() checks at import.  Later versions take the public API
 * until their layout is reviewed: ttpy_row_allocation says which path this
 * build took, and a test fails on a CPython whose build took the public one. */
#if PY_VERSION_HEX >= 0x030A0000 && PY_VERSION_HEX < 0x03100000 && !defined(TT_PUBLIC_ROWS)
#define OWN_ROW_ALLOCATION 1
const char ttpy_row_allocation[] = "own";

/* Untracked (rows hold no containers), items NULL: row_dealloc tolerates
 * NULL items on the error path. */
static PyObject *
new_row(const ttpy_row_layout *layout)
{
    PyTupleObject *row = PyObject_GC_NewVar(PyTupleObject, layout->type, layout->n_items);

    if (row == NULL)
        return NULL;
    Py_SET_SIZE(row, layout->n_visible);
#if PY_VERSION_HEX >= 0x030E0000
    row->ob_hash = -1;
#endif
    memset(row->ob_item, 0, (size_t)layout->n_fields * sizeof(PyObject *));
    return (PyObject *)row;
}

#define SET_ROW_ITEM(row, i, v) (((PyTupleObject *)(row))->ob_item[(i)] = (v))

/* structseq_dealloc() without the dict lookup: the row types cannot be
 * subclassed and have by_name_fields() hidden items (make_type checks). */
static inline void
row_dealloc(PyObject *row, const unsigned type_bit)
{
    PyTypeObject *type = Py_TYPE(row);
    Py_ssize_t n = Py_SIZE(row) + by_name_fields(type_bit);

    PyObject_GC_UnTrack(row);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(((PyTupleObject *)row)->ob_item[i]);
    PyObject_GC_Del(row);
    Py_DECREF(type); /* instances of heap types own a reference to them */
}

#define ROW_DEALLOC(bit)                                                                  \
    static void row_dealloc_##bit(PyObject *row)                                          \
    {                                                                                     \
        row_dealloc(row, bit);                                                            \
    }
ROW_DEALLOC(IN_TCP6)
ROW_DEALLOC(IN_TCP4)
ROW_DEALLOC(IN_UDP6)
ROW_DEALLOC(IN_UDP4)
ROW_DEALLOC(IN_UNIX)
#elif defined(TT_PUBLIC_ROWS)
/* setup.py's TCPTABLE_PUBLIC_ROWS=1: the public path on any CPython, so CI
 * builds and tests it on every run. */
const char ttpy_row_allocation[] = "public-forced";
#else
const char ttpy_row_allocation[] = "public";
#endif

#ifndef OWN_ROW_ALLOCATION
static PyObject *
new_row(const ttpy_row_layout *layout)
{
    return PyStructSequence_New(layout->type);
}

#define SET_ROW_ITEM(row, i, v) PyStructSequence_SetItem((row), (i), (v))
#endif

/* ---- building rows ------------------------------------------------------ */

typedef struct {
    ttpy_state *st;
    object_cache *cache;
    int family;
    const char *names;       /* AF_UNIX: what name_off indexes */
    const tt_tcp_info *info; /* what tt_row.info indexes; NULL: none */
    const tt_row *r;
} row_source;

static PyObject *
optional_number(object_cache *cache, int present, uint32_t number)
{
    return present ? cached_number(cache, number) : Py_NewRef(Py_None);
}

/* Whether a row of type `type` shows no peer: an unconnected UDP socket
 * (Linux reports a connected one as ESTABLISHED), and any UDP row whose
 * source cannot tell (Windows: no TT_HAS_CONNECTED).  TCP rows always show
 * one, all zero for LISTEN. */
static inline int
no_peer(const row_source *s, const unsigned type)
{
    return (type & IN_UDP) &&
           (!(s->r->has & TT_HAS_CONNECTED) || s->r->state != TT_ESTABLISHED);
}

static inline PyObject *
value_PATH(const row_source *s, const unsigned type)
{
    (void)type;
    if (!(s->r->has & TT_HAS_NAME))
        Py_RETURN_NONE;
    /* As os.fsdecode() gives it: undecodable bytes survive as surrogates. */
    return PyUnicode_DecodeFSDefaultAndSize(s->names + s->r->name_off, s->r->name_len);
}

static inline PyObject *
value_TYPE(const row_source *s, const unsigned type)
{
    (void)type;
    return cached_number(s->cache, s->r->type);
}

static inline PyObject *
value_STATE(const row_source *s, const unsigned type)
{
    (void)type;
    return Py_NewRef(s->st->states[s->r->state]);
}

static inline PyObject *
value_LOCAL_ADDR(const row_source *s, const unsigned type)
{
    (void)type;
    return cached_addr(s->cache, s->family, s->r->local_addr);
}

static inline PyObject *
value_LOCAL_SCOPE_ID(const row_source *s, const unsigned type)
{
    (void)type;
    return PyLong_FromUnsignedLong(s->r->local_scope_id);
}

static inline PyObject *
value_LOCAL_PORT(const row_source *s, const unsigned type)
{
    (void)type;
    return cached_number(s->cache, s->r->local_port);
}

static inline PyObject *
value_REMOTE_ADDR(const row_source *s, const unsigned type)
{
    return no_peer(s, type) ? Py_NewRef(Py_None)
                            : cached_addr(s->cache, s->family, s->r->remote_addr);
}

static inline PyObject *
value_REMOTE_SCOPE_ID(const row_source *s, const unsigned type)
{
    return no_peer(s, type) ? Py_NewRef(Py_None)
                            : PyLong_FromUnsignedLong(s->r->remote_scope_id);
}

static inline PyObject *
value_REMOTE_PORT(const row_source *s, const unsigned type)
{
    return optional_number(s->cache, !no_peer(s, type), s->r->remote_port);
}

static inline PyObject *
value_CONNECTED(const row_source *s, const unsigned type)
{
    return s->r->has & TT_HAS_CONNECTED ? PyBool_FromLong(!no_peer(s, type))
                                        : Py_NewRef(Py_None);
}

static inline PyObject *
value_PID(const row_source *s, const unsigned type)
{
    (void)type;
    return optional_number(s->cache, s->r->has & TT_HAS_PID, s->r->pid);
}

static inline PyObject *
value_UID(const row_source *s, const unsigned type)
{
    (void)type;
    return optional_number(s->cache, s->r->has & TT_HAS_UID, s->r->uid);
}

static inline PyObject *
value_INODE(const row_source *s, const unsigned type)
{
    (void)type;
    return s->r->has & TT_HAS_INODE ? PyLong_FromUnsignedLongLong(s->r->inode)
                                    : Py_NewRef(Py_None);
}

static inline PyObject *
value_RX_QUEUE(const row_source *s, const unsigned type)
{
    (void)type;
    return optional_number(s->cache, s->r->has & TT_HAS_QUEUES, s->r->rx_queue);
}

static inline PyObject *
value_TX_QUEUE(const row_source *s, const unsigned type)
{
    (void)type;
    return optional_number(s->cache, s->r->has & TT_HAS_QUEUES, s->r->tx_queue);
}

static inline PyObject *
value_DROPS(const row_source *s, const unsigned type)
{
    (void)type;
    return optional_number(s->cache, s->r->has & TT_HAS_DROPS, s->r->drops);
}

static inline PyObject *
value_PEER_INODE(const row_source *s, const unsigned type)
{
    (void)type;
    return s->r->has & TT_HAS_PEER ? PyLong_FromUnsignedLongLong(s->r->peer_inode)
                                   : Py_NewRef(Py_None);
}

/* A TcpInfo's ints: rows of one table repeat most (timeouts, segment
 * sizes, buffer sizes), so those that fit share the number cache. */
static PyObject *
info_number(void *cache, uint64_t value)
{
    return value <= UINT32_MAX ? cached_number(cache, (uint32_t)value)
                               : PyLong_FromUnsignedLongLong(value);
}

static inline PyObject *
value_INFO(const row_source *s, const unsigned type)
{
    (void)type;
    return s->r->info != 0 && s->info != NULL
               ? ttpy_info_object(s->st, &s->info[s->r->info - 1], info_number, s->cache)
               : Py_NewRef(Py_None);
}

/* Fills every field of row type `type`, in FIELDS order.  Called with a
 * constant type, so each row type gets straight-line code with no per-field
 * test (a loop over the table cost 10% of a table's build). */
#define PUT_FIELD(NAME, tuple, by_name, name, doc)                                        \
    if (((tuple) | (by_name)) & type) {                                                   \
        PyObject *value = value_##NAME(s, type);                                          \
        if (value == NULL)                                                                \
            return -1;                                                                    \
        SET_ROW_ITEM(row, i++, value);                                                    \
    }

static inline int
fill_row(PyObject *row, const row_source *s, const unsigned type)
{
    Py_ssize_t i = 0;
    ROW_FIELDS(PUT_FIELD)
    return 0;
}

#define FILL(bit)                                                                         \
    static int fill_##bit(PyObject *row, const row_source *s)                             \
    {                                                                                     \
        return fill_row(row, s, bit);                                                     \
    }
FILL(IN_TCP6)
FILL(IN_TCP4)
FILL(IN_UDP6)
FILL(IN_UDP4)
FILL(IN_UNIX)

/* The row type of one table: its layout in the module state, its fill. */
static void
row_type_of(ttpy_state *st, int protocol, int family, const ttpy_row_layout **layout,
            int (**fill)(PyObject *, const row_source *))
{
    if (family == AF_UNIX) {
        *layout = &st->unix_rows;
        *fill = fill_IN_UNIX;
    }
    else if (protocol == IPPROTO_UDP) {
        *layout = family == AF_INET6 ? &st->udp6_rows : &st->udp4_rows;
        *fill = family == AF_INET6 ? fill_IN_UDP6 : fill_IN_UDP4;
    }
    else {
        *layout = family == AF_INET6 ? &st->tcp6_rows : &st->tcp4_rows;
        *fill = family == AF_INET6 ? fill_IN_TCP6 : fill_IN_TCP4;
    }
}

PyObject *
ttpy_build_rows(ttpy_state *st, int protocol, int family, const tt_row *rows,
                const char *names, const tt_tcp_info *info, const uint32_t *index,
                size_t stride, size_t n)
{
    const ttpy_row_layout *layout;
    int (*fill)(PyObject *, const row_source *);
    row_source source = {st, NULL, family, names, info, NULL};
    object_cache *cache = NULL;
    PyObject *table = PyTuple_New((Py_ssize_t)n);

    if (table == NULL || n == 0)
        return table;
    row_type_of(st, protocol, family, &layout, &fill);
    if ((cache = PyMem_Calloc(1, sizeof(*cache))) == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    source.cache = cache;
    for (size_t i = 0; i < n; i++) {
        /* Items are NULL until filled: row_dealloc() frees a part-filled row. */
        PyObject *row = new_row(layout);
        if (row == NULL)
            goto error;
        PyTuple_SET_ITEM(table, (Py_ssize_t)i, row);
        source.r = &rows[index == NULL ? i : index[i * stride]];
        if (fill(row, &source) < 0)
            goto error;
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

PyObject *
ttpy_build_table(ttpy_state *st, const tt_rows *rows)
{
    return ttpy_build_rows(st, rows->protocol, rows->family, rows->rows, rows->names,
                           rows->info, NULL, 0, rows->len);
}

/* ---- the types ---------------------------------------------------------- */

/* What fill_row() and, on CPythons that take it, the own allocation rely
 * on, checked on the type CPython made: its counts, no subclasses, and a
 * tuple's items.  3.12 and later count the hidden items in tp_basicsize
 * too: a row allocates only the items past them (n_items), as allocating
 * n_fields more would cost 40 bytes a row. */
static int
check_type(ttpy_row_layout *layout, unsigned row_type, const char *name)
{
    static const char *const keys[] = {"n_fields", "n_sequence_fields", "n_unnamed_fields"};
    Py_ssize_t want[] = {layout->n_fields, layout->n_visible, 0};
    PyTypeObject *type = layout->type;

#ifdef OWN_ROW_ALLOCATION
    Py_ssize_t inside = type->tp_basicsize - (Py_ssize_t)offsetof(PyTupleObject, ob_item);

    layout->n_items = layout->n_fields - inside / (Py_ssize_t)sizeof(PyObject *);
    if (PyType_HasFeature(type, Py_TPFLAGS_BASETYPE) ||
        layout->n_fields - layout->n_visible != by_name_fields(row_type) || inside < 0 ||
        inside % (Py_ssize_t)sizeof(PyObject *) != 0 || layout->n_items < layout->n_visible ||
        type->tp_itemsize != (Py_ssize_t)sizeof(PyObject *)) {
        PyErr_Format(PyExc_SystemError, "%s does not have the layout rowtypes.c expects", name);
        return -1;
    }
#else
    (void)row_type;
#endif
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        PyObject *v = PyObject_GetAttrString((PyObject *)type, keys[k]);
        Py_ssize_t n = v == NULL ? -1 : PyLong_AsSsize_t(v);
        Py_XDECREF(v);
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n != want[k]) {
            PyErr_Format(PyExc_SystemError, "%s.%s is %zd, expected %zd", name, keys[k], n,
                         want[k]);
            return -1;
        }
    }
    return 0;
}

#ifdef OWN_ROW_ALLOCATION
static destructor
dealloc_of(unsigned row_type)
{
    switch (row_type) {
    case IN_TCP6:
        return row_dealloc_IN_TCP6;
    case IN_TCP4:
        return row_dealloc_IN_TCP4;
    case IN_UDP6:
        return row_dealloc_IN_UDP6;
    case IN_UNIX:
        return row_dealloc_IN_UNIX;
    default:
        return row_dealloc_IN_UDP4;
    }
}
#endif

/* Makes row type `row_type` (an IN_* bit) of the fields it has, in FIELDS
 * order, which fill_row() follows: the tuple's fields, then the by-name
 * ones. */
static int
make_type(PyObject *module, ttpy_row_layout *layout, unsigned row_type, const char *name,
          const char *doc)
{
    PyStructSequence_Field fields[N_FIELDS + 1];
    PyStructSequence_Desc desc = {name, doc, fields, 0};
    Py_ssize_t n = 0;

    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!((FIELDS[i].tuple | FIELDS[i].by_name) & row_type))
            continue;
        if (FIELDS[i].tuple & row_type) {
            if (desc.n_in_sequence != n) {
                PyErr_Format(PyExc_SystemError, "%s: tuple field %s after by-name ones", name,
                             FIELDS[i].name);
                return -1;
            }
            desc.n_in_sequence++;
        }
        fields[n].name = FIELDS[i].name;
        fields[n++].doc = FIELDS[i].doc;
    }
    fields[n].name = NULL;
    fields[n].doc = NULL;
    layout->n_fields = n;
    layout->n_visible = desc.n_in_sequence;
    if ((layout->type = PyStructSequence_NewType(&desc)) == NULL ||
        check_type(layout, row_type, name) < 0)
        return -1;
#ifdef OWN_ROW_ALLOCATION
    layout->type->tp_dealloc = dealloc_of(row_type);
#endif
    /* The name after the last dot is the attribute name. */
    return PyModule_AddObjectRef(module, strrchr(name, '.') + 1, (PyObject *)layout->type);
}

int
ttpy_add_row_types(PyObject *module, ttpy_state *st)
{
    if (make_type(module, &st->tcp6_rows, IN_TCP6, "tcptable.Tcp6Row",
                  "One row of the IPv6 TCP table: a tuple in MIB_TCP6ROW order, "
                  "more fields by name.") < 0 ||
        make_type(module, &st->tcp4_rows, IN_TCP4, "tcptable.Tcp4Row",
                  "One row of the IPv4 TCP table: a tuple in MIB_TCPROW order, "
                  "more fields by name.") < 0 ||
        make_type(module, &st->udp6_rows, IN_UDP6, "tcptable.Udp6Row",
                  "One row of the IPv6 UDP table: a tuple in MIB_UDP6ROW order, "
                  "more fields by name.") < 0 ||
        make_type(module, &st->udp4_rows, IN_UDP4, "tcptable.Udp4Row",
                  "One row of the IPv4 UDP table: a tuple in MIB_UDPROW order, "
                  "more fields by name.") < 0 ||
        make_type(module, &st->unix_rows, IN_UNIX, "tcptable.UnixRow",
                  "One row of the UNIX socket table (Linux): path, type and state, "
                  "more fields by name.") < 0)
        return -1;
    return PyModule_AddStringConstant(module, "_row_allocation", ttpy_row_allocation);
}

int
ttpy_row_types_traverse(ttpy_state *st, visitproc visit, void *arg)
{
    Py_VISIT(st->tcp6_rows.type);
    Py_VISIT(st->tcp4_rows.type);
    Py_VISIT(st->udp6_rows.type);
    Py_VISIT(st->udp4_rows.type);
    Py_VISIT(st->unix_rows.type);
    return 0;
}

void
ttpy_row_types_clear(ttpy_state *st)
{
    Py_CLEAR(st->tcp6_rows.type);
    Py_CLEAR(st->tcp4_rows.type);
    Py_CLEAR(st->udp6_rows.type);
    Py_CLEAR(st->udp4_rows.type);
    Py_CLEAR(st->unix_rows.type);
}
