/* Internal to the Linux backend: the table sources, their pure decoders
 * (which the fuzz harnesses call directly, and which call nothing back), the
 * state map they share, and the /proc helpers (procfs.c). */
#ifndef TCPTABLE_LINUX_BACKEND_H
#define TCPTABLE_LINUX_BACKEND_H

#include "tcptable.h"

/* Linux TCP state numbers mapped to MIB numbers; 0 marks a number Linux does
 * not define (states.c). */
#define TT_LINUX_STATE_COUNT 13
extern const uint8_t tt_linux_to_mib[TT_LINUX_STATE_COUNT];

/* The idiag_states bits that ask the kernel for `states`.  With
 * `orphans_need_time_wait`, asking for FIN_WAIT2 also asks for TIME_WAIT
 * (kernels that match timewait sockets on TIME_WAIT, not on their substate). */
uint32_t tt_linux_state_mask(tt_state_set states, int orphans_need_time_wait);

/* Whether a row in MIB `state` has a peer whose endpoint the row shows: a
 * TCP socket but a listener, a UDP socket once connected (the kernel reports
 * an unconnected one as TCP_CLOSE, a connected one as TCP_ESTABLISHED). */
static inline int
tt_linux_has_peer(int protocol, unsigned state)
{
    return protocol == IPPROTO_UDP ? state == TT_ESTABLISHED : state != TT_LISTEN;
}

/* The fields a row from sock_diag or /proc holds: the queues; uid and inode
 * for a full socket (a TIME_WAIT or SYN_RECV mini-socket has inode 0 and no
 * owner); for UDP, whether it is connected (its state: CLOSE or ESTABLISHED). */
static inline uint8_t
tt_linux_row_has(int protocol, uint64_t inode)
{
    return (uint8_t)(TT_HAS_QUEUES | (inode != 0 ? TT_HAS_UID | TT_HAS_INODE : 0) |
                     (protocol == IPPROTO_UDP ? TT_HAS_CONNECTED : 0));
}

/* SK_MEMINFO_DROPS, the index of the drop count in INET_DIAG_SKMEMINFO's
 * u32 array (linux/sock_diag.h, Linux 4.7; older headers lack it, older
 * kernels send fewer values). */
#define TT_SK_MEMINFO_DROPS 8

/* tcp_info.c, the pure decoders of a connection's quality attributes into
 * *out (TT_WANT_INFO), each given the attribute's payload, `len` untrusted
 * bytes: struct tcp_info (INET_DIAG_INFO) by the length the kernel sent,
 * a field past `len` left absent; the congestion control's name
 * (INET_DIAG_CONG); the socket memory counters (INET_DIAG_SKMEMINFO). */
void tt_tcp_info_decode(const uint8_t *info, size_t len, tt_tcp_info *out);
void tt_tcp_info_congestion(const uint8_t *name, size_t len, tt_tcp_info *out);
void tt_tcp_info_meminfo(const uint8_t *mem, size_t len, tt_tcp_info *out);

/* What one netlink batch held. */
enum { TT_NL_MORE = 0, TT_NL_DONE = 1 };

/* Decodes one received batch of sock_diag messages into `out`, keeping the
 * rows the query asks for, with uid and inode as the kernel sent them (and
 * for UDP the drop count of INET_DIAG_SKMEMINFO, where the kernel sent one;
 * for TCP with TT_WANT_INFO an entry of out->info where it sent any of
 * INET_DIAG_INFO, INET_DIAG_CONG and INET_DIAG_SKMEMINFO).
 * Messages with another sequence number or port id are skipped.  Returns
 * TT_NL_MORE, TT_NL_DONE, or -1 with *err set.  Every length in `buf` is
 * untrusted. */
int tt_nl_decode(const void *buf, size_t len, uint32_t seq, uint32_t portid,
                 const tt_query *q, tt_rows *out, tt_error *err);

/* UNIX_DIAG_UID and UDIAG_SHOW_UID (linux/unix_diag.h, Linux 5.3; older
 * headers lack them, older kernels ignore the bit). */
#define TT_UNIX_DIAG_UID 7
#define TT_UDIAG_SHOW_UID 0x40

/* Decodes one AF_UNIX sock_diag message (a unix_diag_msg and its
 * attributes, `len` untrusted bytes) into a row of `out` when its state is
 * one the query asks for: type, state, inode, and the name, peer, queues and
 * uid the kernel sent (unixdiag.c; tt_nl_decode() calls it for AF_UNIX
 * queries).  0, or -1 with *err set. */
int tt_unix_decode(const uint8_t *data, size_t len, const tt_query *q, tt_rows *out,
                   tt_error *err);

/* The port filter as inet_diag bytecode (bytecode.c): at most
 * TT_BYTECODE_MAX_RANGES ranges of consecutive ports per direction go to the
 * kernel, whose cost grows with each; larger sets are filtered in C only. */
#define TT_BYTECODE_MAX_RANGES 64
#define TT_BYTECODE_MAX (2 * TT_BYTECODE_MAX_RANGES * 20)

/* Writes into `buf` the bytecode that keeps only sockets on the query's
 * ports; returns its length (0: the query has no port filter), or -1 when
 * it would not fit in `cap` or TT_BYTECODE_MAX bytes. */
int tt_nl_bytecode(const tt_query *q, uint8_t *buf, size_t cap);

/* Parses the counters of `protocol` and `family` (the Tcp: or Udp: lines of
 * /proc/net/snmp, the Udp6 lines of /proc/net/snmp6) into *out (snmp.c); 0,
 * or -1 when they are missing or malformed. */
int tt_snmp_parse(int protocol, int family, const char *text, size_t len, tt_stats *out);

/* Parses one line of /proc/net/tcp or udp (protocol IPPROTO_TCP or
 * IPPROTO_UDP; family AF_INET) or tcp6 or udp6 (AF_INET6), without its
 * newline: endpoints, state, queues, uid and inode, and for UDP the drops.
 * Returns 0 with *row filled (TT_HAS_QUEUES set, TT_HAS_UID and TT_HAS_INODE
 * for a full socket, TT_HAS_DROPS for UDP), or -1 when the line is
 * malformed.  A line of /proc/net/unix (protocol 0, AF_UNIX) gives type,
 * state and inode, and for a bound socket TT_HAS_NAME with name_off and
 * name_len the name's place in `line` (the caller copies it out). */
int tt_proc_parse_line(const char *line, size_t len, int protocol, int family, tt_row *row);

/* Whether a /proc table's first line is its header (`family`'s table). */
int tt_proc_is_header(int family, const char *line, size_t len);

/* Sets pid (TT_HAS_PID) on rows[first..] whose inode a visible process
 * holds: the lowest such pid (owners.c). */
int tt_linux_find_owners(tt_rows *rows, size_t first, tt_error *err);

/* Runs work(arg, err) on a helper thread inside the network namespace `fd`
 * and returns what it returned; the calling thread's namespace never
 * changes (netns.c). */
int tt_linux_in_netns(int fd, int (*work)(void *, tt_error *), void *arg, tt_error *err);

/* procfs.c.  A file of the calling thread's network namespace, and the step
 * texts that name it: TT_PROC_NET_FILES(name) is the pair a kernel serves,
 * /proc/thread-self/net/NAME (Linux 3.17+) and, before it, /proc/net/NAME
 * (the process's namespace); tt_proc_file_here() picks this kernel's. */
typedef struct {
    const char *path, *open_step, *read_step, *parse_step;
} tt_proc_file;
#define TT_PROC_FILE_(path) {path, "opening " path, "reading " path, "parsing " path}
#define TT_PROC_NET_FILES(name)                                                               \
    {TT_PROC_FILE_("/proc/thread-self/net/" name), TT_PROC_FILE_("/proc/net/" name)}
const tt_proc_file *tt_proc_file_here(const tt_proc_file pair[2]);

/* Whether /proc/thread-self exists (Linux 3.17+): its net files are the
 * calling thread's namespace's; before it, /proc/net is the process's. */
int tt_linux_has_thread_self(void);

/* Whether `path` opens (then closed again): tried as a table is opened, so
 * that what denies one denies both. */
int tt_proc_file_opens(const char *path);

/* The pid a /proc entry's name is, or 0 if it is no decimal number. */
uint32_t tt_linux_pid_of_name(const char *name);

/* The two sources of a table: each appends the rows the query asks for,
 * with every field the source saw; tt_backend_dump() (dump.c) applies the
 * owner policy to them. */
int tt_netlink_dump(const tt_query *q, tt_rows *out, tt_error *err);
int tt_proc_dump(const tt_query *q, tt_rows *out, tt_error *err);

#endif
