/* What every decoded row must satisfy, checked by the decoders' fuzz
 * harnesses, and REQUIRE, which fuzz_diff.c uses too: a violation aborts,
 * which libFuzzer reports as a crash with its input.  Inline functions, so
 * a harness that checks no decoded row leaves them unused. */
#ifndef TT_ROW_INVARIANTS_H
#define TT_ROW_INVARIANTS_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcptable.h"

#define REQUIRE(cond)                                                        \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "invariant broken: %s (%s:%d)\n", #cond,         \
                    __FILE__, __LINE__);                                     \
            abort();                                                         \
        }                                                                    \
    } while (0)

static inline int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The extension's address text must equal the C library's inet_ntop. */
static inline void
check_addr_text(int family, const uint8_t addr[16])
{
    char ours[TT_ADDRSTRLEN], libc[INET6_ADDRSTRLEN];
    size_t len = tt_format_addr(family, addr, ours);

    REQUIRE(len < TT_ADDRSTRLEN && strlen(ours) == len);
    REQUIRE(inet_ntop(family, addr, libc, sizeof(libc)) != NULL);
    if (strcmp(ours, libc) != 0) {
        fprintf(stderr, "address text %s, inet_ntop says %s\n", ours, libc);
        abort();
    }
}

/* `protocol` is the query's: a UDP row shows a peer only once connected
 * (ESTABLISHED), and only UDP rows carry drops. */
static inline void
check_row(const tt_row *r, int protocol, int family)
{
    int link_local_l = r->local_addr[0] == 0xfe && (r->local_addr[1] & 0xc0) == 0x80;
    int link_local_r = r->remote_addr[0] == 0xfe && (r->remote_addr[1] & 0xc0) == 0x80;
    int no_peer = protocol == IPPROTO_UDP ? r->state != TT_ESTABLISHED : r->state == TT_LISTEN;

    REQUIRE(r->state >= TT_CLOSE && r->state < TT_DELETE_TCB);
    if (family == AF_INET) {
        REQUIRE(all_zero(r->local_addr + 4, 12) && all_zero(r->remote_addr + 4, 12));
        REQUIRE(r->local_scope_id == 0 && r->remote_scope_id == 0);
    }
    REQUIRE(r->local_scope_id == 0 || (family == AF_INET6 && link_local_l));
    REQUIRE(r->remote_scope_id == 0 || (family == AF_INET6 && link_local_r));
    if (no_peer)
        REQUIRE(all_zero(r->remote_addr, 16) && r->remote_port == 0 &&
                r->remote_scope_id == 0);
    REQUIRE(protocol == IPPROTO_UDP || !(r->has & TT_HAS_DROPS));
    check_addr_text(family, r->local_addr);
    check_addr_text(family, r->remote_addr);
}

/* An AF_UNIX row: no endpoints, its name inside the `names_len` bytes that
 * hold it (the rows' side table, or the parsed line). */
static inline void
check_unix_row(const tt_row *r, size_t names_len)
{
    REQUIRE(r->state >= TT_CLOSE && r->state < TT_DELETE_TCB);
    REQUIRE(all_zero(r->local_addr, 16) && all_zero(r->remote_addr, 16));
    REQUIRE(r->local_port == 0 && r->remote_port == 0 && !(r->has & TT_HAS_DROPS));
    if (r->has & TT_HAS_NAME)
        REQUIRE(r->name_len > 0 && (size_t)r->name_off + r->name_len <= names_len);
    else
        REQUIRE(r->name_off == 0 && r->name_len == 0);
    REQUIRE(!(r->has & TT_HAS_PEER) || r->peer_inode != 0);
}

/* A row's info entry (TT_WANT_INFO): only where asked, inside the side
 * array, one per row, with known fields and a printable congestion name. */
static inline void
check_info(const tt_rows *rows, const tt_row *r, int asked)
{
    const tt_tcp_info *info;

    REQUIRE(rows->info_len <= rows->info_cap && rows->info_len <= rows->len);
    if (r->info == 0)
        return;
    REQUIRE(asked && r->info <= rows->info_len);
    info = &rows->info[r->info - 1];
    REQUIRE((info->has >> TT_INFO_COUNT) == 0);
    if (info->has & ((uint64_t)1 << TT_INFO_CONGESTION)) {
        size_t n = strnlen(info->congestion, TT_CONGESTION_MAX);
        REQUIRE(n > 0 && n < TT_CONGESTION_MAX);
        for (size_t i = 0; i < n; i++)
            REQUIRE(info->congestion[i] > 0x20 && info->congestion[i] < 0x7f);
    }
    else
        REQUIRE(info->congestion[0] == '\0');
    for (int i = 0; i < TT_INFO_COUNT; i++)
        REQUIRE((info->has >> i & 1) || info->value[i] == 0);
}

#endif
