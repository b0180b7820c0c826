/* libFuzzer harness for tt_proc_parse_line(), the /proc/net/{tcp,udp}{,6}
 * and /proc/net/unix line parser.  Input: byte 0 bit 0 picks the family (0
 * tcp6, 1 tcp), bit 1 the protocol (0 TCP, 1 UDP), bit 2 /proc/net/unix
 * instead; the rest is one line without its newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/linux/backend.h"
#include "row_invariants.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_row row;
    int family, protocol;
    char *line;
    size_t len;

    if (size < 1)
        return 0;
    family = data[0] & 4 ? AF_UNIX : data[0] & 1 ? AF_INET : AF_INET6;
    protocol = family == AF_UNIX ? 0 : data[0] & 2 ? IPPROTO_UDP : IPPROTO_TCP;
    len = size - 1;
    line = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    REQUIRE(line != NULL);
    memcpy(line, data + 1, len);
    if (tt_proc_parse_line(line, len, protocol, family, &row) == 0) {
        if (family == AF_UNIX)
            check_unix_row(&row, len);
        else
            check_row(&row, protocol, family);
    }
    free(line);
    return 0;
}
