/* tt_nl_decode() over a 4 GiB batch whose first message claims nlmsg_len
 * 0xFFFFFFFF: aligning that length in 32-bit arithmetic wraps to 0, and a
 * decoder that steps by it loops forever on the same message.  The batch is
 * a sparse mapping: only its first page is ever touched.  Exits 0 when the
 * decoder stops (after the message, at the end of the batch). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/netlink.h>

#include "arch/linux/backend.h"

int
main(void)
{
    size_t len = (size_t)0xFFFFFFFF + 1;
    struct nlmsghdr h = {.nlmsg_len = 0xFFFFFFFF, .nlmsg_type = NLMSG_NOOP};
    tt_rows rows = {0};
    tt_error err = {0};
    tt_query q = {.protocol = IPPROTO_TCP, .family = AF_INET6, .states = TT_ALL_STATES};
    int rc;
    void *batch = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (batch == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    memcpy(batch, &h, sizeof(h));
    rc = tt_nl_decode(batch, len, 1, 0, &q, &rows, &err);
    printf("tt_nl_decode returned %d with %zu rows\n", rc, rows.len);
    tt_rows_free(&rows);
    munmap(batch, len);
    return rc == TT_NL_MORE && rows.len == 0 ? 0 : 1;
}
