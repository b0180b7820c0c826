/* libFuzzer harness for tt_proc_parse_line(), the /proc/net/tcp{,6} line
 * parser.  Input: byte 0 bit 0 picks the family (0 tcp6, 1 tcp); the rest is
 * one line without its newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/linux/backend.h"
#include "row_invariants.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_row row;
    int family;
    char *line;
    size_t len;

    if (size < 1)
        return 0;
    family = data[0] & 1 ? AF_INET : AF_INET6;
    len = size - 1;
    line = malloc(len ? len : 1); /* exact size: ASan sees any overread */
    REQUIRE(line != NULL);
    memcpy(line, data + 1, len);
    if (tt_proc_parse_line(line, len, family, &row) == 0)
        check_row(&row, family);
    free(line);
    return 0;
}
