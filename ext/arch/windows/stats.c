/* stats() on Windows: GetTcpStatisticsEx2 (Windows 10+, 64-bit segment
 * counters), looked up at run time, else GetTcpStatisticsEx (Vista+, 32-bit
 * counters that wrap).  Both report every MIB_TCPSTATS field.  udp_stats():
 * GetUdpStatisticsEx2 (64-bit datagram counters) else GetUdpStatisticsEx,
 * the same way; Linux's own UDP counters stay unreported. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <string.h>

#include "backend.h"

/* MIB_TCPSTATS2 as tcpmib.h declares it for Windows 10 (mingw-w64 lacks it):
 * natural alignment puts 4 bytes of padding before dw64InSegs, as MSVC does. */
typedef struct {
    DWORD RtoAlgorithm;
    DWORD dwRtoMin, dwRtoMax, dwMaxConn, dwActiveOpens, dwPassiveOpens, dwAttemptFails;
    DWORD dwEstabResets, dwCurrEstab;
    unsigned __int64 dw64InSegs, dw64OutSegs;
    DWORD dwRetransSegs, dwInErrs, dwOutRsts, dwNumConns;
} tt_mib_tcpstats2;

/* MIB_UDPSTATS2 likewise. */
typedef struct {
    unsigned __int64 dw64InDatagrams;
    DWORD dwNoPorts, dwInErrors;
    unsigned __int64 dw64OutDatagrams;
    DWORD dwNumAddrs;
} tt_mib_udpstats2;

typedef ULONG(WINAPI *tcp_stats2_fn)(tt_mib_tcpstats2 *, ULONG);
typedef ULONG(WINAPI *udp_stats2_fn)(tt_mib_udpstats2 *, ULONG);

/* iphlpapi's function `name` into *fn (a pointer to a function pointer):
 * NULL before Windows 10 (a test build fakes that: tests/windows). */
static void
find_stats2(const char *name, void *fn)
{
    HMODULE iphlpapi = GetModuleHandleW(L"iphlpapi.dll"); /* linked: already loaded */
    /* Through a generic function pointer: what GetProcAddress returns. */
    FARPROC found = iphlpapi ? GetProcAddress(iphlpapi, name) : NULL;
    memcpy(fn, &found, sizeof(found));
}

#define SIGNED_MAX_CONN(d) ((uint64_t)(int64_t)(int32_t)(d)) /* (DWORD)-1: dynamic */

/* GetTcpStatisticsEx's 32-bit answer in the Windows 10 layout. */
static ULONG
stats_ex(tt_mib_tcpstats2 *out, ULONG family)
{
    MIB_TCPSTATS s;
    ULONG rc = GetTcpStatisticsEx(&s, family);

    if (rc == NO_ERROR) {
        tt_mib_tcpstats2 wide = {
            s.dwRtoAlgorithm, s.dwRtoMin,       s.dwRtoMax,       s.dwMaxConn,
            s.dwActiveOpens,  s.dwPassiveOpens, s.dwAttemptFails, s.dwEstabResets,
            s.dwCurrEstab,    s.dwInSegs,       s.dwOutSegs,      s.dwRetransSegs,
            s.dwInErrs,       s.dwOutRsts,      s.dwNumConns,
        };
        *out = wide;
    }
    return rc;
}

static int
tcp_stats(ULONG family, tt_stats *out, tt_error *err)
{
    tcp_stats2_fn stats2;
    tt_mib_tcpstats2 s;
    ULONG rc;

    find_stats2("GetTcpStatisticsEx2", &stats2);
    rc = stats2 != NULL ? stats2(&s, family) : stats_ex(&s, family);
    if (rc != NO_ERROR)
        return tt_fail(err, TT_ERR_WIN, (long)rc,
                       stats2 != NULL ? "GetTcpStatisticsEx2" : "GetTcpStatisticsEx");
    uint64_t v[TT_STAT_COUNT] = {
        s.RtoAlgorithm,  s.dwRtoMin,       s.dwRtoMax,       SIGNED_MAX_CONN(s.dwMaxConn),
        s.dwActiveOpens, s.dwPassiveOpens, s.dwAttemptFails, s.dwEstabResets,
        s.dwCurrEstab,   s.dw64InSegs,     s.dw64OutSegs,    s.dwRetransSegs,
        s.dwInErrs,      s.dwOutRsts,      s.dwNumConns,
    };
    memcpy(out->value, v, sizeof(v));
    out->has = (1u << TT_STAT_COUNT) - 1;
    return 0;
}

/* GetUdpStatisticsEx's 32-bit answer in the Windows 10 layout. */
static ULONG
udp_stats_ex(tt_mib_udpstats2 *out, ULONG family)
{
    MIB_UDPSTATS s;
    ULONG rc = GetUdpStatisticsEx(&s, family);

    if (rc == NO_ERROR) {
        tt_mib_udpstats2 wide = {s.dwInDatagrams, s.dwNoPorts, s.dwInErrors, s.dwOutDatagrams,
                                 s.dwNumAddrs};
        *out = wide;
    }
    return rc;
}

static int
udp_stats(ULONG family, tt_stats *out, tt_error *err)
{
    udp_stats2_fn stats2;
    tt_mib_udpstats2 s;
    ULONG rc;

    find_stats2("GetUdpStatisticsEx2", &stats2);
    rc = stats2 != NULL ? stats2(&s, family) : udp_stats_ex(&s, family);
    if (rc != NO_ERROR)
        return tt_fail(err, TT_ERR_WIN, (long)rc,
                       stats2 != NULL ? "GetUdpStatisticsEx2" : "GetUdpStatisticsEx");
    memset(out, 0, sizeof(*out));
    out->value[TT_UDP_STAT_IN_DATAGRAMS] = s.dw64InDatagrams;
    out->value[TT_UDP_STAT_NO_PORTS] = s.dwNoPorts;
    out->value[TT_UDP_STAT_IN_ERRORS] = s.dwInErrors;
    out->value[TT_UDP_STAT_OUT_DATAGRAMS] = s.dw64OutDatagrams;
    out->value[TT_UDP_STAT_NUM_ADDRS] = s.dwNumAddrs;
    out->has = (1u << (TT_UDP_STAT_NUM_ADDRS + 1)) - 1; /* the MIB_UDPSTATS fields */
    return 0;
}

int
tt_backend_stats(const tt_query *q, tt_stats *out, tt_error *err)
{
    return q->protocol == IPPROTO_TCP ? tcp_stats((ULONG)q->family, out, err)
                                      : udp_stats((ULONG)q->family, out, err);
}
