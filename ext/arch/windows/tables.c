/* Windows: GetTcp6Table / GetTcpTable from iphlpapi (Vista and later).
 *
 * The API sizes its own buffer: a call with too small a buffer returns
 * ERROR_INSUFFICIENT_BUFFER and the size it needed, but the table can grow
 * before the next call, so the sizing is a loop with headroom.  Rows come
 * unsorted (Order = FALSE): sorting is the glue's, identical everywhere. */
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

/* Tries before giving up on a table that keeps growing.  Overridable only so
 * a test build can prove the "never settles" error (-DTT_WIN_TRIES=1). */
#ifndef TT_WIN_TRIES
#define TT_WIN_TRIES 10
#endif

/* The first buffer: enough for a quiet machine's table, so one call usually
 * does.  The test build makes it too small for any table (not even the row
 * count fits), so every call goes through ERROR_INSUFFICIENT_BUFFER. */
#ifdef TCPTABLE_TEST_TINY_FIRST_GUESS
#define TT_WIN_FIRST_SIZE 1UL
#else
#define TT_WIN_FIRST_SIZE (64UL * 1024)
#endif

#define TT_STR_(x) #x
#define TT_STR(x) TT_STR_(x)

typedef struct {
    const char *call;      /* step text of a failed call */
    const char *unsettled; /* step text of a table that never settled */
    ULONG (*get)(void *table, ULONG *size);
    int (*convert)(const void *table, ULONG size, const tt_query *q, tt_rows *out,
                   tt_error *err);
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

/* Reads the row count of a table the call filled (`size` bytes: a DWORD
 * count, then rows of `row_size` from offset `header`), checking they fit. */
static int
count_entries(const void *table, ULONG size, size_t header, size_t row_size, const char *step,
              DWORD *count, tt_error *err)
{
    if (size < header)
        return tt_fail(err, TT_ERR_PROTO, EINVAL, step);
    *count = *(const DWORD *)table;
    if (*count > (size - header) / row_size)
        return tt_fail(err, TT_ERR_PROTO, EINVAL, step);
    return 0;
}

/* Ports are in network order in the low 16 bits; the upper bits are
 * undefined, hence the cast before ntohs(). */
static uint16_t
port_of(DWORD raw)
{
    return ntohs((u_short)raw);
}

/* Sets *row to a new row of `out` in `state`, or to NULL when the query does
 * not ask for it.  A number outside 1..12 has no TcpState: it is an error,
 * never a dropped row.  The remote port of a listener means nothing: 0. */
static int
start_row(unsigned long state, uint16_t local_port, uint16_t remote_port, const tt_query *q,
          tt_rows *out, tt_row **row, tt_error *err)
{
    *row = NULL;
    if (state < 1 || state > TT_STATE_MAX)
        return tt_fail(err, TT_ERR_PROTO, EINVAL, "the TCP table held a state outside 1..12");
    if (state == TT_LISTEN)
        remote_port = 0;
    if (!tt_query_wants(q, (unsigned)state, local_port, remote_port))
        return 0;
    if ((*row = tt_rows_push(out, err)) == NULL)
        return -1;
    (*row)->state = (uint8_t)state;
    (*row)->local_port = local_port;
    (*row)->remote_port = remote_port;
    return 0;
}

static int
convert_tcp6(const void *buf, ULONG size, const tt_query *q, tt_rows *out, tt_error *err)
{
    const MIB_TCP6TABLE *t = buf;
    DWORD count = 0;

    if (count_entries(buf, size, offsetof(MIB_TCP6TABLE, table), sizeof(MIB_TCP6ROW),
                      "GetTcp6Table() reported more rows than fit", &count, err) < 0)
        return -1;
    for (DWORD i = 0; i < count; i++) {
        const MIB_TCP6ROW *src = &t->table[i];
        tt_row *row;

        if (start_row((unsigned long)src->State, port_of(src->dwLocalPort),
                      port_of(src->dwRemotePort), q, out, &row, err) < 0)
            return -1;
        if (row == NULL)
            continue;
        memcpy(row->local_addr, &src->LocalAddr, 16);
        /* The raw DWORD is the interface index, as .NET reads it (the
         * documentation's ntohl() example is wrong). */
        row->local_scope_id = src->dwLocalScopeId;
        if (row->state == TT_LISTEN) /* the remote end of a listener means nothing */
            continue;
        memcpy(row->remote_addr, &src->RemoteAddr, 16);
        row->remote_scope_id = src->dwRemoteScopeId;
    }
    return 0;
}

static int
convert_tcp4(const void *buf, ULONG size, const tt_query *q, tt_rows *out, tt_error *err)
{
    const MIB_TCPTABLE *t = buf;
    DWORD count = 0;

    if (count_entries(buf, size, offsetof(MIB_TCPTABLE, table), sizeof(MIB_TCPROW),
                      "GetTcpTable() reported more rows than fit", &count, err) < 0)
        return -1;
    for (DWORD i = 0; i < count; i++) {
        const MIB_TCPROW *src = &t->table[i];
        tt_row *row;

        if (start_row((unsigned long)src->dwState, port_of(src->dwLocalPort),
                      port_of(src->dwRemotePort), q, out, &row, err) < 0)
            return -1;
        if (row == NULL)
            continue;
        memcpy(row->local_addr, &src->dwLocalAddr, 4); /* already network order */
        if (row->state == TT_LISTEN)
            continue;
        memcpy(row->remote_addr, &src->dwRemoteAddr, 4);
    }
    return 0;
}

static const table_api tcp6_api = {
    "GetTcp6Table()",
    "GetTcp6Table() (" TT_STR(TT_WIN_TRIES) " calls, the table never settled)",
    get_tcp6,
    convert_tcp6,
};

static const table_api tcp4_api = {
    "GetTcpTable()",
    "GetTcpTable() (" TT_STR(TT_WIN_TRIES) " calls, the table never settled)",
    get_tcp4,
    convert_tcp4,
};

/* The next buffer size: what the API asked for plus a quarter and a few rows
 * more, so rows added before the next call still fit.  0 on overflow. */
static ULONG
with_headroom(ULONG needed)
{
    ULONG extra = needed / 4 + 64 * (ULONG)sizeof(MIB_TCP6ROW);
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
    const table_api *api = q->family == AF_INET6 ? &tcp6_api : &tcp4_api;
    ULONG size = TT_WIN_FIRST_SIZE, rc = NO_ERROR;

    memset(calls, 0, sizeof(*calls));
    while (calls->calls < TT_WIN_TRIES) {
        ULONG asked = size;
        void *buf = malloc(size);
        int result;

        if (buf == NULL)
            return tt_fail(err, TT_ERR_NOMEM, 0, "allocating the TCP table buffer");
        rc = api->get(buf, &size);
        calls->calls++;
        result = rc == NO_ERROR ? api->convert(buf, asked, q, out, err) : 0;
        free(buf);
        if (rc == NO_ERROR)
            return result;
        if (!count_retry(rc, calls))
            return tt_fail(err, TT_ERR_WIN, (long)rc, api->call);
        /* Only ERROR_INSUFFICIENT_BUFFER sets a size: else grow what we had. */
        if ((size = with_headroom(size > asked ? size : asked)) == 0)
            return tt_fail(err, TT_ERR_NOMEM, 0, "sizing the TCP table buffer");
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
