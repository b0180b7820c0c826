/* The Windows backend with its API calls behind fakes: test builds compile
 * this file in place of ext/arch/windows/tables.c and stats.c (build.sh,
 * cpython.py), so the production files hold no test code.  The fakes pass
 * every call through to the real API, but for what one macro asks:
 *   TT_FAKE_FIRST_CALL_CODE=C  the first table call of each dump answers C
 *                              without calling the API
 *   TT_FAKE_TINY_FIRST_CALL    the first table call of each dump gets a
 *                              1-byte buffer: too small for any table
 *   TT_FAKE_NO_STATS2          GetTcpStatisticsEx2 is not found, as before
 *                              Windows 10: stats() takes its fallback
 * The first call of a dump is the one given the first guess's size
 * (TT_WIN_FIRST_SIZE): every later one asks for more, with headroom. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>

/* The backend's table calls, each as (its return type, name, parameters,
 * the parameters past the table and its size): renamed to the fakes defined
 * below the backend's sources. */
#define TABLE_CALLS(X)                                                                        \
    X(ULONG, GetTcp6Table, (PMIB_TCP6TABLE table, PULONG size, BOOL order), order)            \
    X(ULONG, GetTcpTable, (PMIB_TCPTABLE table, PULONG size, BOOL order), order)              \
    X(ULONG, GetTcp6Table2, (PMIB_TCP6TABLE2 table, PULONG size, BOOL order), order)          \
    X(ULONG, GetTcpTable2, (PMIB_TCPTABLE2 table, PULONG size, BOOL order), order)            \
    X(ULONG, GetUdp6Table, (PMIB_UDP6TABLE table, PULONG size, BOOL order), order)            \
    X(ULONG, GetUdpTable, (PMIB_UDPTABLE table, PULONG size, BOOL order), order)              \
    X(DWORD, GetExtendedUdpTable,                                                             \
      (PVOID table, PDWORD size, BOOL order, ULONG af, UDP_TABLE_CLASS kind, ULONG reserved), \
      order, af, kind, reserved)

#define GetTcp6Table fake_GetTcp6Table
#define GetTcpTable fake_GetTcpTable
#define GetTcp6Table2 fake_GetTcp6Table2
#define GetTcpTable2 fake_GetTcpTable2
#define GetUdp6Table fake_GetUdp6Table
#define GetUdpTable fake_GetUdpTable
#define GetExtendedUdpTable fake_GetExtendedUdpTable
#define GetProcAddress fake_GetProcAddress
#define DECLARE_FAKE(type, real, params, ...) static type WINAPI real params;
TABLE_CALLS(DECLARE_FAKE)
static FARPROC WINAPI fake_GetProcAddress(HMODULE module, LPCSTR name);

#include "arch/windows/stats.c"
#include "arch/windows/tables.c"

#undef GetTcp6Table
#undef GetTcpTable
#undef GetTcp6Table2
#undef GetTcpTable2
#undef GetUdp6Table
#undef GetUdpTable
#undef GetExtendedUdpTable
#undef GetProcAddress

#if defined(TT_FAKE_FIRST_CALL_CODE)
#define FIRST_CALL(real, table, size, ...) ((void)(table), (ULONG)(TT_FAKE_FIRST_CALL_CODE))
#elif defined(TT_FAKE_TINY_FIRST_CALL)
/* The real API's answer for a 1-byte buffer: ERROR_INSUFFICIENT_BUFFER and
 * the size it needs. */
#define FIRST_CALL(real, table, size, ...) (*(size) = 1, real((table), (size), __VA_ARGS__))
#else
#define FIRST_CALL(real, table, size, ...) real((table), (size), __VA_ARGS__)
#endif

#define FAKE_TABLE_CALL(type, real, params, ...)                                              \
    static type WINAPI fake_##real params                                                     \
    {                                                                                         \
        if (*size == TT_WIN_FIRST_SIZE)                                                       \
            return FIRST_CALL(real, table, size, __VA_ARGS__);                                \
        return real(table, size, __VA_ARGS__);                                                \
    }
TABLE_CALLS(FAKE_TABLE_CALL)

static FARPROC WINAPI
fake_GetProcAddress(HMODULE module, LPCSTR name)
{
#ifdef TT_FAKE_NO_STATS2
    if (strcmp(name, "GetTcpStatisticsEx2") == 0)
        return NULL;
#endif
    return GetProcAddress(module, name);
}
