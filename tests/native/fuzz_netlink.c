/* libFuzzer harness for tt_nl_decode(), the sock_diag batch decoder.
 *
 * Input: byte 0 bit 0 picks the family (0 AF_INET6, 1 AF_INET), bit 1 the
 * protocol (0 TCP, 1 UDP: the drops in INET_DIAG_SKMEMINFO), bit 2 AF_UNIX
 * instead (unix_diag_msg rows), bit 3 TT_WANT_INFO (TCP: INET_DIAG_INFO,
 * CONG and SKMEMINFO decoded into the rows' info entries), bytes 1-2 the
 * MIB state set (little endian), bytes 3-6 our netlink port id (little
 * endian); the rest is one received batch, decoded as if recvmsg() had
 * returned it.  The sequence number is FUZZ_SEQ (the capture tool uses it). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/linux/backend.h"
#include "row_invariants.h"

#define FUZZ_SEQ 0x74637074u
#define PREFIX 7

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_rows rows = {0};
    tt_error err = {0};
    tt_query q = {0};
    int family, protocol;
    tt_state_set states;
    uint32_t portid;
    uint8_t *batch;
    size_t len;
    int rc;

    if (size < PREFIX)
        return 0;
    family = data[0] & 4 ? AF_UNIX : data[0] & 1 ? AF_INET : AF_INET6;
    protocol = family == AF_UNIX ? 0 : data[0] & 2 ? IPPROTO_UDP : IPPROTO_TCP;
    states = (tt_state_set)((data[1] | data[2] << 8) & TT_ALL_STATES);
    portid = (uint32_t)data[3] | (uint32_t)data[4] << 8 |
             (uint32_t)data[5] << 16 | (uint32_t)data[6] << 24;
    /* An exact-size heap copy, so ASan sees any read past the batch. */
    len = size - PREFIX;
    batch = malloc(len ? len : 1);
    REQUIRE(batch != NULL);
    memcpy(batch, data + PREFIX, len);

    /* Owners asked for: the decoder's owner fields are exercised too. */
    q.protocol = protocol;
    q.family = family;
    q.states = states;
    q.want = TT_WANT_OWNERS | (data[0] & 8 ? TT_WANT_INFO : 0);
    rc = tt_nl_decode(batch, len, FUZZ_SEQ, portid, &q, &rows, &err);
    REQUIRE(rc == -1 || rc == TT_NL_MORE || rc == TT_NL_DONE);
    if (rc == -1)
        REQUIRE(err.step != NULL &&
                (err.kind == TT_ERR_OS || err.kind == TT_ERR_PROTO ||
                 err.kind == TT_ERR_NOMEM));
    REQUIRE(rows.len <= rows.cap);
    for (size_t i = 0; i < rows.len; i++) {
        if (family == AF_UNIX)
            check_unix_row(&rows.rows[i], rows.names_len);
        else
            check_row(&rows.rows[i], protocol, family);
        check_info(&rows, &rows.rows[i], protocol == IPPROTO_TCP && (q.want & TT_WANT_INFO));
        REQUIRE(TT_STATE_IN(states, rows.rows[i].state));
    }
    /* The radix sort reads every decoded row: it must not fault on any, and
     * each row keeps its own info entry. */
    REQUIRE(tt_rows_sort(&rows, &err) == 0 || err.kind == TT_ERR_NOMEM);
    for (size_t i = 0; i < rows.len; i++)
        check_info(&rows, &rows.rows[i], protocol == IPPROTO_TCP && (q.want & TT_WANT_INFO));
    tt_rows_free(&rows);
    free(batch);
    return 0;
}
