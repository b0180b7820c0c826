/* Internal to the Linux backend: the two table sources and their pure
 * decoders, which the fuzz harnesses call directly. */
#ifndef TCPTABLE_LINUX_H
#define TCPTABLE_LINUX_H

#include "tcptable.h"

/* Linux TCP state numbers (include/net/tcp_states.h is not uapi) mapped to
 * MIB numbers; 0 marks a number Linux does not define. */
#define TT_LINUX_STATE_COUNT 13
extern const uint8_t tt_linux_to_mib[TT_LINUX_STATE_COUNT];

/* What one netlink batch held. */
enum { TT_NL_MORE = 0, TT_NL_DONE = 1 };

/* Decodes one received batch of sock_diag messages into `out`, keeping rows
 * whose state is in `states`.  Messages with another sequence number or port
 * id are skipped.  Returns TT_NL_MORE, TT_NL_DONE, or -1 with *err set.
 * Every length in `buf` is untrusted. */
int tt_nl_decode(const void *buf, size_t len, uint32_t seq, uint32_t portid,
                 int family, tt_state_set states, tt_rows *out, tt_error *err);

/* Parses one line of /proc/net/tcp (family AF_INET) or /proc/net/tcp6
 * (AF_INET6), without its newline.  Returns 0 with *row filled, or -1 when
 * the line is malformed. */
int tt_proc_parse_line(const char *line, size_t len, int family, tt_row *row);

int tt_netlink_dump(int family, tt_state_set states, tt_rows *out, tt_error *err);
int tt_proc_dump(int family, tt_state_set states, tt_rows *out, tt_error *err);

#endif
