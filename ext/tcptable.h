/* The contract between the OS backends and the Python glue.
 *
 * Nothing here knows about Python: the glue fills one query, a backend fills
 * a plain, growable array of rows and reports failure as (kind, code, step).
 * The glue turns rows into structseq objects and errors into exceptions.  The
 * row layout is private to this extension (never exposed as ABI), so fields
 * can be added freely. */
#ifndef TCPTABLE_H
#define TCPTABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h> /* AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP */
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

/* TCP states as MIB_TCP_STATE numbers: the public TcpState values. */
enum {
    TT_CLOSE = 1,
    TT_LISTEN,
    TT_SYN_SENT,
    TT_SYN_RECV,
    TT_ESTABLISHED,
    TT_FIN_WAIT1,
    TT_FIN_WAIT2,
    TT_CLOSE_WAIT,
    TT_CLOSING,
    TT_LAST_ACK,
    TT_TIME_WAIT,
    TT_DELETE_TCB,
    TT_STATE_MAX = TT_DELETE_TCB
};

/* Set membership is TT_*_IN(); TT_HAS_* (below) are the fields a row holds.
 * A set of states: bit n set means MIB state n is wanted (bits 1..12). */
typedef uint16_t tt_state_set;
#define TT_ALL_STATES ((tt_state_set)(((1u << (TT_STATE_MAX + 1)) - 1) & ~1u))
#define TT_STATE_IN(set, s) (((set) >> (s)) & 1u)

/* A set of ports: bit p of the map set means port p is wanted. */
typedef struct {
    uint64_t map[65536 / 64];
    uint32_t count; /* ports in the set */
} tt_port_set;
#define TT_PORT_IN(set, p) (((set)->map[(p) >> 6] >> ((p) & 63)) & 1u)

static inline void
tt_port_set_add(tt_port_set *set, uint16_t port)
{
    if (!TT_PORT_IN(set, port)) {
        set->map[port >> 6] |= (uint64_t)1 << (port & 63);
        set->count++;
    }
}

/* What the glue asks a backend for. */
typedef enum {
    TT_SOURCE_ANY = 0, /* Linux: netlink, /proc where netlink is unavailable */
    TT_SOURCE_NETLINK, /* TCPTABLE_BACKEND=netlink: never /proc */
    TT_SOURCE_PROC,    /* TCPTABLE_BACKEND=proc */
} tt_source;

/* Optional work a query asks for (tt_query.want). */
enum {
    TT_WANT_OWNERS = 1, /* pid, and on Linux uid and inode */
    TT_WANT_INFO = 2,   /* TCP: each connection's tcp_info (tt_rows.info; Linux netlink) */
};

/* The table is (protocol, family), as iproute2's inet_show_netlink(f, dump_fp,
 * protocol): every backend keys its sources on both, never on TCP alone. */
typedef struct {
    int protocol;        /* IPPROTO_TCP or IPPROTO_UDP; 0 with AF_UNIX */
    int family;          /* AF_INET or AF_INET6; AF_UNIX (Linux) */
    tt_state_set states; /* rows in these states; the glue answers an empty set itself */
    tt_source source;
    unsigned want;                   /* TT_WANT_* bits */
    const tt_port_set *local_ports;  /* NULL: any local port */
    const tt_port_set *remote_ports; /* NULL: any remote port */
    const int *netns_fd; /* Linux: an open network namespace to read; NULL: the caller's */
} tt_query;

/* Which optional fields of a row hold values (tt_row.has). */
enum {
    TT_HAS_QUEUES = 1, /* rx_queue, tx_queue (Linux) */
    TT_HAS_PID = 2,
    TT_HAS_UID = 4,   /* Linux, with TT_WANT_OWNERS, for full sockets */
    TT_HAS_INODE = 8, /* likewise */
    TT_HAS_DROPS = 16, /* drops (Linux UDP) */
    /* UDP: the state says whether the socket is connected (ESTABLISHED) and
     * the remote fields hold its peer (Linux).  Without it (Windows, whose
     * UDP rows have no peer) both are unknown: the state reads CLOSE and
     * the remote port 0 to filters, but the row shows them as None. */
    TT_HAS_CONNECTED = 32,
    TT_HAS_PEER = 64,  /* peer_inode (AF_UNIX, netlink) */
    TT_HAS_NAME = 128, /* name_off, name_len (AF_UNIX: a bound socket) */
};

/* One connection.  Addresses are in network byte order; an IPv4 address
 * occupies the first 4 bytes and the other 12 are zero, so one comparison
 * serves both families.  Ports are in host order. */
typedef struct {
    uint8_t local_addr[16];
    uint8_t remote_addr[16];
    uint32_t local_scope_id;
    uint32_t remote_scope_id;
    uint16_t local_port;
    uint16_t remote_port;
    uint8_t state; /* MIB number, 1..12; UDP: CLOSE, or ESTABLISHED once connected */
    uint8_t has;   /* TT_HAS_* bits */
    uint32_t rx_queue; /* bytes received, unread (LISTEN: connections to accept) */
    uint32_t tx_queue; /* bytes sent, unacknowledged (LISTEN: the backlog limit) */
    uint32_t pid;
    uint32_t uid;
    uint64_t inode;
    uint32_t drops; /* UDP: datagrams the socket dropped */
    /* AF_UNIX: the name is tt_rows.names[name_off..+name_len), an abstract
     * one with '@' for each NUL as ss and /proc/net/unix show it. */
    uint32_t name_off;
    uint16_t name_len;
    uint8_t type; /* AF_UNIX: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET */
    /* With TT_WANT_INFO: 1 + the index of this row's tt_rows.info entry;
     * 0 where the OS sent none.  It fills a padding hole: rows stay 96 bytes,
     * and it travels with the row through the sort. */
    uint32_t info;
    uint64_t peer_inode; /* AF_UNIX: the peer's inode */
} tt_row;

/* One connection's quality figures (TT_WANT_INFO), as the OS sent them:
 * value[TT_INFO_*] where bit TT_INFO_* of `has` is set, absent (the
 * attribute was too short, the OS has no such figure) where it is not.
 * Units are the public TcpInfo's: microseconds (_US), milliseconds (_MS),
 * bytes and bytes per second. */
enum {
    TT_INFO_RTT_US,
    TT_INFO_RTTVAR_US,
    TT_INFO_MIN_RTT_US,
    TT_INFO_RTO_US,
    TT_INFO_ATO_US,
    TT_INFO_SND_MSS,
    TT_INFO_RCV_MSS,
    TT_INFO_SND_CWND,
    TT_INFO_SND_SSTHRESH,
    TT_INFO_RCV_SPACE,
    TT_INFO_RETRANSMITS,
    TT_INFO_TOTAL_RETRANS,
    TT_INFO_LOST,
    TT_INFO_UNACKED,
    TT_INFO_SACKED,
    TT_INFO_REORDERING,
    TT_INFO_BYTES_ACKED,
    TT_INFO_BYTES_RECEIVED,
    TT_INFO_BYTES_SENT,
    TT_INFO_BYTES_RETRANS,
    TT_INFO_SEGS_IN,
    TT_INFO_SEGS_OUT,
    TT_INFO_DATA_SEGS_IN,
    TT_INFO_DATA_SEGS_OUT,
    TT_INFO_DELIVERY_RATE,
    TT_INFO_PACING_RATE,
    TT_INFO_BUSY_TIME_US,
    TT_INFO_RWND_LIMITED_US,
    TT_INFO_SNDBUF_LIMITED_US,
    TT_INFO_NOTSENT_BYTES,
    TT_INFO_LAST_DATA_SENT_MS,
    TT_INFO_LAST_DATA_RECV_MS,
    TT_INFO_LAST_ACK_RECV_MS,
    TT_INFO_CA_STATE,
    TT_INFO_CONGESTION, /* the name, in `congestion`, not in value[] */
    TT_INFO_RMEM_ALLOC,
    TT_INFO_RCVBUF,
    TT_INFO_WMEM_ALLOC,
    TT_INFO_SNDBUF,
    TT_INFO_DROPS,
    TT_INFO_COUNT
};

/* Linux's TCP_CA_NAME_MAX: 15 characters and a NUL. */
#define TT_CONGESTION_MAX 16

typedef struct {
    uint64_t value[TT_INFO_COUNT];
    uint64_t has;                       /* bit TT_INFO_*: value (or name) present */
    char congestion[TT_CONGESTION_MAX]; /* NUL-terminated, ASCII as the kernel sent it */
} tt_tcp_info;

/* The rows of one table; protocol and family say which (the glue's collect
 * copies them from the query), so whoever builds objects needs no query. */
typedef struct {
    tt_row *rows;
    size_t len;
    size_t cap;
    int protocol;
    int family;
    char *names; /* AF_UNIX: the socket names rows point into */
    size_t names_len, names_cap;
    tt_tcp_info *info; /* TT_WANT_INFO: what tt_row.info indexes; else NULL */
    size_t info_len, info_cap;
} tt_rows;

typedef enum {
    TT_OK = 0,
    TT_ERR_OS,     /* code is an errno value */
    TT_ERR_WIN,    /* code is a Win32 error returned by the API */
    TT_ERR_NOMEM,  /* an allocation failed */
    TT_ERR_INTR,   /* a system call was interrupted: check signals, call again */
    TT_ERR_PROTO,  /* the OS sent something malformed; code is an errno value */
} tt_err_kind;

typedef struct {
    tt_err_kind kind;
    long code;
    const char *step; /* static text: which step failed */
    /* The failure that made the backend try another source (netlink, before
     * /proc), kept for the message; cause_kind is TT_OK when there was none. */
    tt_err_kind cause_kind;
    long cause_code;
    const char *cause_step;
} tt_error;

/* Sets *err and returns -1, so failures read `return tt_fail(...)`. */
int tt_fail(tt_error *err, tt_err_kind kind, long code, const char *step);

/* Appends one zeroed row; NULL (and err set) when memory runs out. */
tt_row *tt_rows_push(tt_rows *rows, tt_error *err);
void tt_rows_free(tt_rows *rows);

/* Appends one zeroed info entry for `row` (its tt_row.info); NULL (and err
 * set) when memory runs out or the index would not fit. */
tt_tcp_info *tt_rows_push_info(tt_rows *rows, tt_row *row, tt_error *err);

/* Stores `name` (len bytes) as `row`'s (TT_HAS_NAME); with `abstract`, its
 * NULs become '@'.  0, or -1 with *err set (memory, or a name too long). */
int tt_rows_set_name(tt_rows *rows, tt_row *row, const char *name, size_t len, int abstract,
                     tt_error *err);

/* Orders rows as GetTcp6Table(Order=TRUE) does: local address bytes, local
 * scope id, local port, remote address bytes, remote scope id, remote port;
 * which is GetUdp6Table(Order=TRUE)'s order too, whose rows end at the local
 * port (a UDP peer only breaks ties).  AF_UNIX rows (rows->family) sort
 * by inode: a socket's one lasting identity, where most have no name.
 * Returns 0, or -1 with *err set (memory); the rows are unchanged then. */
int tt_rows_sort(tt_rows *rows, tt_error *err);

/* What changed from one dump of a query to the next (tt_rows_diff()).  A
 * row is the same connection in both when its endpoints are equal (local
 * and remote address, scope id and port); of several rows with one key
 * (listeners sharing a port), unchanged ones match first.  Indexes are
 * uint32_t: into `cur` for opened, into `prev` for closed, and pairs
 * (prev, cur) for changed, the same endpoints in another state.  The
 * buffers are kept and reused from call to call; tt_diff_free() frees them. */
typedef struct {
    uint32_t *opened;
    size_t n_opened, opened_cap;
    uint32_t *closed;
    size_t n_closed, closed_cap;
    uint32_t *changed; /* 2 * n_changed: prev index, cur index */
    size_t n_changed, changed_cap;
    uint64_t *slots; /* scratch: a hash table of prev's rows */
    size_t n_slots, slots_cap;
    uint8_t *matched; /* scratch: per prev row */
    size_t matched_cap;
} tt_diff;

/* Fills `d` with what changed from `prev` to `cur`.  Applying it to prev
 * (closed rows out, changed ones replaced, opened ones in) gives cur, as
 * multisets.  Returns 0, or -1 with *err set (memory).  No Python: called
 * without the GIL. */
int tt_rows_diff(const tt_rows *prev, const tt_rows *cur, tt_diff *d, tt_error *err);
void tt_diff_free(tt_diff *d);

/* Whether a row in `state` with these ports (the remote port 0 for LISTEN
 * and for an unconnected UDP socket) is one the query asks for.  Every
 * backend filters with this, after any filter the OS applied, so no row
 * outside the query can come back. */
static inline int
tt_query_wants(const tt_query *q, unsigned state, uint16_t local_port, uint16_t remote_port)
{
    return TT_STATE_IN(q->states, state) &&
           (q->local_ports == NULL || TT_PORT_IN(q->local_ports, local_port)) &&
           (q->remote_ports == NULL || TT_PORT_IN(q->remote_ports, remote_port));
}

/* The backend: append every row the query asks for to `out`.  Returns 0, or
 * -1 with *err set; on failure `out` may hold rows already appended, which
 * the caller frees.  Called without the GIL: no Python, no mutable globals. */
int tt_backend_dump(const tt_query *q, tt_rows *out, tt_error *err);

/* TCP statistics: MIB_TCPSTATS's fields, in its order (stats()). */
enum {
    TT_STAT_RTO_ALGORITHM,
    TT_STAT_RTO_MIN,
    TT_STAT_RTO_MAX,
    TT_STAT_MAX_CONN, /* signed: -1 means dynamic (no fixed limit) */
    TT_STAT_ACTIVE_OPENS,
    TT_STAT_PASSIVE_OPENS,
    TT_STAT_ATTEMPT_FAILS,
    TT_STAT_ESTAB_RESETS,
    TT_STAT_CURR_ESTAB,
    TT_STAT_IN_SEGS,
    TT_STAT_OUT_SEGS,
    TT_STAT_RETRANS_SEGS,
    TT_STAT_IN_ERRS,
    TT_STAT_OUT_RSTS,
    TT_STAT_NUM_CONNS,
    TT_STAT_COUNT
};

/* UDP statistics: MIB_UDPSTATS's fields, in its order, then the counters
 * only Linux keeps (udp_stats()). */
enum {
    TT_UDP_STAT_IN_DATAGRAMS,
    TT_UDP_STAT_NO_PORTS,
    TT_UDP_STAT_IN_ERRORS,
    TT_UDP_STAT_OUT_DATAGRAMS,
    TT_UDP_STAT_NUM_ADDRS,
    TT_UDP_STAT_RCVBUF_ERRORS,
    TT_UDP_STAT_SNDBUF_ERRORS,
    TT_UDP_STAT_IN_CSUM_ERRORS,
    TT_UDP_STAT_COUNT
};
_Static_assert((int)TT_UDP_STAT_COUNT <= (int)TT_STAT_COUNT, "tt_stats.value holds either protocol's");

typedef struct {
    /* indexed by TT_STAT_* for TCP, TT_UDP_STAT_* for UDP (the query's
     * protocol); TT_STAT_MAX_CONN holds an int64_t */
    uint64_t value[TT_STAT_COUNT];
    uint32_t has; /* bit i: the OS reported value[i] */
} tt_stats;

/* The statistics of the query's protocol and family (and on Linux its
 * netns_fd).  Returns 0, or -1 with *err set.  Called without the GIL. */
int tt_backend_stats(const tt_query *q, tt_stats *out, tt_error *err);

/* Sleeps about `microseconds`: the glue's pause between interrupted tries. */
void tt_sleep_us(unsigned long microseconds);

#ifdef __linux__
/* Network namespaces (Linux, netns.c). */

/* What a file descriptor is, for a query's netns_fd: tt_netns_check()
 * returns one of these, or -1 with *err set. */
enum { TT_NETNS_OK = 0, TT_NETNS_NOT_NAMESPACE, TT_NETNS_OTHER_TYPE };
int tt_netns_check(int fd, tt_error *err);

typedef struct {
    uint64_t inode;
    char path[288]; /* /run/netns/NAME where named, else /proc/PID/ns/net */
    uint32_t *pids; /* ascending */
    size_t n_pids;
    size_t pids_cap;
} tt_namespace;

typedef struct {
    tt_namespace *items; /* ascending inode */
    size_t len;
    size_t cap;
} tt_namespaces;

/* Every network namespace named in /run/netns or held by a process we may
 * inspect; processes that exit meanwhile are skipped.  0, or -1 with *err
 * set; the caller frees `all` on both paths. */
int tt_list_namespaces(tt_namespaces *all, tt_error *err);
void tt_namespaces_free(tt_namespaces *all);
#endif

/* Writes the standard text form of an address (inet_ntop's, identical on
 * every platform) and a NUL; returns its length.  `out` needs TT_ADDRSTRLEN. */
#define TT_ADDRSTRLEN 46
size_t tt_format_addr(int family, const uint8_t addr[16], char *out);

#endif
