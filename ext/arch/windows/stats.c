/* stats() on Windows: GetTcpStatisticsEx2 (Windows 10+, 64-bit segment
 * counters), looked up at run time, else GetTcpStatisticsEx (Vista+, 32-bit
 * counters that wrap).  Both report every MIB_TCPSTATS field. */
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

typedef ULONG(WINAPI *stats2_fn)(tt_mib_tcpstats2 *, ULONG);

/* NULL before Windows 10 (a test build fakes that: tests/windows). */
static stats2_fn
find_stats2(void)
{
    HMODULE iphlpapi = GetModuleHandleW(L"iphlpapi.dll"); /* linked: already loaded */
    /* Through a generic function pointer: what GetProcAddress returns. */
    FARPROC found = iphlpapi ? GetProcAddress(iphlpapi, "GetTcpStatisticsEx2") : NULL;
    stats2_fn fn;
    memcpy(&fn, &found, sizeof(fn));
    return fn;
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

int
tt_backend_stats(const tt_query *q, tt_stats *out, tt_error *err)
{
    stats2_fn stats2 = find_stats2();
    tt_mib_tcpstats2 s;
    ULONG rc = stats2 != NULL ? stats2(&s, (ULONG)q->family) : stats_ex(&s, (ULONG)q->family);

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
