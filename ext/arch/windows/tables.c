/* Windows: iphlpapi (Vista and later).  TCP: GetTcp6Table / GetTcpTable, and
 * GetTcp6Table2 / GetTcpTable2 when owners are asked for.  UDP: GetUdp6Table /
 * GetUdpTable, and GetExtendedUdpTable(UDP_TABLE_OWNER_PID) with owners.
 *
 * The API sizes its own buffer: a call with too small a buffer returns
 * ERROR_INSUFFICIENT_BUFFER and the size it needed, but the table can grow
 * before the next call, so the sizing is a loop with headroom, one for every
 * table.  Rows come unsorted (Order = FALSE): sorting is the glue's,
 * identical everywhere.
 *
 * TT_WANT_INFO is not served yet: every row's info stays 0 (None).  Windows'
 * per-connection figures (GetPerTcp6ConnectionEStats) are one call per
 * connection, and are collected only for connections someone enabled
 * extended statistics on, which needs administrator rights
 * (SetPerTcpConnectionEStats); that opt-in is an API of its own (issue 18). */
#include <winsock2.h>
#include <ws2tcpip.h> /* before iphlpapi.h, which declares GetTcp6Table only after it */
#include <iphlpapi.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* GetTcpTable documents this NTSTATUS when the table changed size during the
 * call; ntstatus.h clashes with winnt.h, so it is spelled out here. */
#define TT_STATUS_UNSUCCESSFUL 0xC0000001UL

/* Tries before giving up on a table that keeps growing.  A test build may
 * define fewer, to prove the "never settles" error (tests/windows). */
#ifndef TT_WIN_TRIES
#define TT_WIN_TRIES 10
#endif

/* The first buffer: enough for a quiet machine's table, so one call usually
 * does.  The test builds' fake calls (tests/windows/fake_calls.c) know a
 * dump's first call by this size. */
#define TT_WIN_FIRST_SIZE (64UL * 1024)

#define TT_STR_(x) #x
#define TT_STR(x) TT_STR_(x)

/* One row of any of the eight tables, as the conversion loop reads it. */
typedef struct {
    unsigned long state;
    const void *local_addr;  /* network order, 16 or 4 bytes */
    const void *remote_addr; /* likewise; NULL: the table has no peer (UDP) */
    DWORD local_scope_id, local_port, remote_scope_id, remote_port;
    DWORD pid; /* 0: none reported (TIME_WAIT), or a table without owners */
} raw_row;

/* One table call: GetTcp6Table / GetTcpTable, or their "2" siblings, which
 * add each row's owning pid at the same cost (same rows, same order); the
 * same for UDP, whose owners come from GetExtendedUdpTable. */
typedef struct {
    const char *call;      /* step text of a failed call */
    const char *unsettled; /* step text of a table that never settled */
    const char *overrun;   /* step text of a row count that does not fit */
    ULONG (*get)(void *table, ULONG *size);
    size_t header, row_size, addr_len; /* table[] offset, sizeof(row), address bytes */
    void (*read)(const void *row, raw_row *out);
} table_api;

static ULONG
get_tcp6(void *table, ULONG *size)
{
    return GetTcp6Table(table, size, FALSE);
}

static ULONG
get_tcp4(void *table, ULONG *size)
{
    return GetTcpTable(table, size, FALSE);
}

static ULONG
get_tcp6_owners(void *table, ULONG *size)
{
    return GetTcp6Table2(table, size, FALSE);
}

static ULONG
get_tcp4_owners(void *table, ULONG *size)
{
    return GetTcpTable2(table, size, FALSE);
}

static ULONG
get_udp6(void *table, ULONG *size)
{
    return GetUdp6Table(table, size, FALSE);
}

static ULONG
get_udp4(void *table, ULONG *size)
{
    return GetUdpTable(table, size, FALSE);
}

static ULONG
get_udp6_owners(void *table, ULONG *size)
{
    return GetExtendedUdpTable(table, size, FALSE, AF_INET6, UDP_TABLE_OWNER_PID, 0);
}

static ULONG
get_udp4_owners(void *table, ULONG *size)
{
    return GetExtendedUdpTable(table, size, FALSE, AF_INET, UDP_TABLE_OWNER_PID, 0);
}

/* The raw scope DWORD is the interface index, as .NET reads it (the
 * documentation's ntohl() example is wrong). */
static void
read_tcp6(const void *row, raw_row *r)
{
    const MIB_TCP6ROW *s = row;
    *r = (raw_row){(unsigned long)s->State, &s->LocalAddr, &s->RemoteAddr, s->dwLocalScopeId,
                   s->dwLocalPort, s->dwRemoteScopeId, s->dwRemotePort, 0};
}

static void
read_tcp6_owners(const void *row, raw_row *r)
{
    const MIB_TCP6ROW2 *s = row;
    *r = (raw_row){(unsigned long)s->State, &s->LocalAddr, &s->RemoteAddr, s->dwLocalScopeId,
                   s->dwLocalPort, s->dwRemoteScopeId, s->dwRemotePort, s->dwOwningPid};
}

/* IPv4 addresses are already in network order; IPv4 has no scope ids. */
static void
read_tcp4(const void *row, raw_row *r)
{
    const MIB_TCPROW *s = row;
    *r = (raw_row){s->dwState, &s->dwLocalAddr, &s->dwRemoteAddr, 0, s->dwLocalPort, 0,
                   s->dwRemotePort, 0};
}

static void
read_tcp4_owners(const void *row, raw_row *r)
{
    const MIB_TCPROW2 *s = row;
    *r = (raw_row){s->dwState, &s->dwLocalAddr, &s->dwRemoteAddr, 0, s->dwLocalPort, 0,
                   s->dwRemotePort, s->dwOwningPid};
}

/* UDP rows hold the local endpoint only: no peer, connected or not, and no
 * state.  They read as an unconnected Linux socket's (CLOSE, remote port 0)
 * to the filters, the sort and the Watcher; without TT_HAS_CONNECTED the
 * glue shows connected and the remote fields as None. */
static void
read_udp6(const void *row, raw_row *r)
{
    const MIB_UDP6ROW *s = row;
    *r = (raw_row){TT_CLOSE, &s->dwLocalAddr, NULL, s->dwLocalScopeId, s->dwLocalPort, 0, 0, 0};
}

static void
read_udp6_owners(const void *row, raw_row *r)
{
    const MIB_UDP6ROW_OWNER_PID *s = row;
    *r = (raw_row){TT_CLOSE, s->ucLocalAddr, NULL, s->dwLocalScopeId, s->dwLocalPort, 0, 0,
                   s->dwOwningPid};
}

static void
read_udp4(const void *row, raw_row *r)
{
    const MIB_UDPROW *s = row;
    *r = (raw_row){TT_CLOSE, &s->dwLocalAddr, NULL, 0, s->dwLocalPort, 0, 0, 0};
}

static void
read_udp4_owners(const void *row, raw_row *r)
{
    const MIB_UDPROW_OWNER_PID *s = row;
    *r = (raw_row){TT_CLOSE, &s->dwLocalAddr, NULL, 0, s->dwLocalPort, 0, 0, s->dwOwningPid};
}

#define UNSETTLED(call) call " (" TT_STR(TT_WIN_TRIES) " calls, the table never settled)"
#define OVERRUN(call) call " reported more rows than fit"

/* Every table call, at API_INDEX(protocol, family, owners): each of the
 * eight has its entry, so any query finds its call. */
#define API_INDEX(protocol, family, owners)                                                  \
    (((protocol) == IPPROTO_UDP) * 4 + ((owners) != 0) * 2 + ((family) == AF_INET))
#define API(call, get, table_type, row_type, addr_len, read)                                   \
    {call,          UNSETTLED(call),  OVERRUN(call), get, offsetof(table_type, table),          \
     sizeof(row_type), addr_len, read}
static const table_api apis[8] = {
    [API_INDEX(IPPROTO_TCP, AF_INET6, 0)] =
        API("GetTcp6Table()", get_tcp6, MIB_TCP6TABLE, MIB_TCP6ROW, 16, read_tcp6),
    [API_INDEX(IPPROTO_TCP, AF_INET, 0)] =
        API("GetTcpTable()", get_tcp4, MIB_TCPTABLE, MIB_TCPROW, 4, read_tcp4),
    [API_INDEX(IPPROTO_TCP, AF_INET6, 1)] = API("GetTcp6Table2()", get_tcp6_owners,
                                                MIB_TCP6TABLE2, MIB_TCP6ROW2, 16,
                                                read_tcp6_owners),
    [API_INDEX(IPPROTO_TCP, AF_INET, 1)] = API("GetTcpTable2()", get_tcp4_owners,
                                               MIB_TCPTABLE2, MIB_TCPROW2, 4, read_tcp4_owners),
    [API_INDEX(IPPROTO_UDP, AF_INET6, 0)] =
        API("GetUdp6Table()", get_udp6, MIB_UDP6TABLE, MIB_UDP6ROW, 16, read_udp6),
    [API_INDEX(IPPROTO_UDP, AF_INET, 0)] =
        API("GetUdpTable()", get_udp4, MIB_UDPTABLE, MIB_UDPROW, 4, read_udp4),
    [API_INDEX(IPPROTO_UDP, AF_INET6, 1)] =
        API("GetExtendedUdpTable(AF_INET6, UDP_TABLE_OWNER_PID)", get_udp6_owners,
            MIB_UDP6TABLE_OWNER_PID, MIB_UDP6ROW_OWNER_PID, 16, read_udp6_owners),
    [API_INDEX(IPPROTO_UDP, AF_INET, 1)] =
        API("GetExtendedUdpTable(AF_INET, UDP_TABLE_OWNER_PID)", get_udp4_owners,
            MIB_UDPTABLE_OWNER_PID, MIB_UDPROW_OWNER_PID, 4, read_udp4_owners),
};

static const table_api *
api_of(const tt_query *q)
{
    return &apis[API_INDEX(q->protocol, q->family, q->want & TT_WANT_OWNERS)];
}

/* Ports are in network order in the low 16 bits; the upper bits are
 * undefined, hence the cast before ntohs(). */
static uint16_t
port_of(DWORD raw)
{
    return ntohs((u_short)raw);
}

/* Appends the rows the query asks for from a table the call filled (`size`
 * bytes: a DWORD count, then rows from offset `header`).  A count that does
 * not fit, or a state outside 1..12, is an error, never a dropped row. */
static int
convert(const table_api *api, const void *table, ULONG size, const tt_query *q, tt_rows *out,
        tt_error *err)
{
    DWORD count;

    if (size < api->header)
        return tt_fail(err, TT_ERR_PROTO, EINVAL, api->overrun);
    count = *(const DWORD *)table;
    if (count > (size - api->header) / api->row_size)
        return tt_fail(err, TT_ERR_PROTO, EINVAL, api->overrun);
    for (DWORD i = 0; i < count; i++) {
        raw_row r;
        uint16_t local_port, remote_port;
        int has_peer;
        tt_row *row;

        /* &table[i] of the API's own row type, whatever padding it has. */
        api->read((const char *)table + api->header + (size_t)i * api->row_size, &r);
        if (r.state < 1 || r.state > TT_STATE_MAX)
            return tt_fail(err, TT_ERR_PROTO, EINVAL,
                           "the TCP table held a state outside 1..12");
        local_port = port_of(r.local_port);
        /* No peer: a UDP table; the remote end of a listener means
         * nothing: all zero. */
        has_peer = r.remote_addr != NULL && r.state != TT_LISTEN;
        remote_port = has_peer ? port_of(r.remote_port) : 0;
        if (!tt_query_wants(q, (unsigned)r.state, local_port, remote_port))
            continue;
        if ((row = tt_rows_push(out, err)) == NULL)
            return -1;
        row->state = (uint8_t)r.state;
        memcpy(row->local_addr, r.local_addr, api->addr_len);
        row->local_scope_id = r.local_scope_id;
        row->local_port = local_port;
        if (has_peer) {
            memcpy(row->remote_addr, r.remote_addr, api->addr_len);
            row->remote_scope_id = r.remote_scope_id;
            row->remote_port = remote_port;
        }
        if (r.pid != 0) {
            row->pid = r.pid;
            row->has |= TT_HAS_PID;
        }
    }
    return 0;
}

/* The next buffer size: what the API asked for plus a quarter and a few rows
 * more, so rows added before the next call still fit.  0 on overflow. */
static ULONG
with_headroom(ULONG needed)
{
    ULONG extra = needed / 4 + 64 * (ULONG)sizeof(MIB_TCP6ROW2);
    return needed > ULONG_MAX - extra ? 0 : needed + extra;
}

/* Counts a failed call whose code is worth repeating, or returns 0.  Those
 * codes mean the table changed size while the call was sizing it:
 * ERROR_INSUFFICIENT_BUFFER (our buffer), STATUS_UNSUCCESSFUL (GetTcpTable's
 * documented "call again"), and ERROR_OUTOFMEMORY, which Wine 8's NSI layer
 * returns when its own five sizing attempts all lost the race against a
 * growing table (seen under churn).  A code that persists is still reported,
 * as the API's own code, once the tries run out. */
static int
count_retry(ULONG rc, tt_win_calls *calls)
{
    switch (rc) {
    case ERROR_INSUFFICIENT_BUFFER:
        calls->insufficient_buffer++;
        return 1;
    case TT_STATUS_UNSUCCESSFUL:
        calls->unsuccessful++;
        return 1;
    case ERROR_OUTOFMEMORY:
        calls->out_of_memory++;
        return 1;
    default:
        return 0;
    }
}

int
tt_windows_dump(const tt_query *q, tt_rows *out, tt_error *err, tt_win_calls *calls)
{
    const table_api *api = api_of(q);
    ULONG size = TT_WIN_FIRST_SIZE, rc = NO_ERROR;

    memset(calls, 0, sizeof(*calls));
    while (calls->calls < TT_WIN_TRIES) {
        ULONG asked = size;
        void *buf = malloc(size);
        int result;

        if (buf == NULL)
            return tt_fail(err, TT_ERR_NOMEM, 0, "allocating the table buffer");
        rc = api->get(buf, &size);
        calls->calls++;
        result = rc == NO_ERROR ? convert(api, buf, asked, q, out, err) : 0;
        free(buf);
        if (rc == NO_ERROR)
            return result;
        if (!count_retry(rc, calls))
            return tt_fail(err, TT_ERR_WIN, (long)rc, api->call);
        /* Only ERROR_INSUFFICIENT_BUFFER sets a size: else grow what we had. */
        if ((size = with_headroom(size > asked ? size : asked)) == 0)
            return tt_fail(err, TT_ERR_NOMEM, 0, "sizing the table buffer");
    }
    return tt_fail(err, TT_ERR_WIN, (long)rc, api->unsettled);
}

int
tt_backend_dump(const tt_query *q, tt_rows *out, tt_error *err)
{
    tt_win_calls calls;
    return tt_windows_dump(q, out, err, &calls);
}

void
tt_sleep_us(unsigned long microseconds)
{
    Sleep((DWORD)((microseconds + 999) / 1000));
}
