/* stats() on Linux: the `Tcp:` lines of /proc/thread-self/net/snmp (before
 * Linux 3.17, /proc/net/snmp), a line of names and a line of values.  Linux keeps one set of TCP counters for
 * both families, so the query's family changes nothing.  Linux reports no
 * table size (NumConns): that field stays unreported. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define SNMP_MAX 65536 /* the file is about 1.5 KiB; more is not snmp */

/* The step texts name the file actually read: /proc/net/snmp before 3.17. */
#define SNMP_FILE(path) {TT_PROC_FILE_(path), path " is too long", path " has no valid Tcp: lines"}
typedef struct {
    tt_proc_file file;
    const char *too_long, *no_tcp_lines;
} snmp_file;
static const snmp_file snmp_files[2] = {SNMP_FILE("/proc/thread-self/net/snmp"), SNMP_FILE("/proc/net/snmp")};

static const struct {
    const char *name;
    int field;
} snmp_names[] = {
    {"RtoAlgorithm", TT_STAT_RTO_ALGORITHM}, {"RtoMin", TT_STAT_RTO_MIN},
    {"RtoMax", TT_STAT_RTO_MAX},             {"MaxConn", TT_STAT_MAX_CONN},
    {"ActiveOpens", TT_STAT_ACTIVE_OPENS},   {"PassiveOpens", TT_STAT_PASSIVE_OPENS},
    {"AttemptFails", TT_STAT_ATTEMPT_FAILS}, {"EstabResets", TT_STAT_ESTAB_RESETS},
    {"CurrEstab", TT_STAT_CURR_ESTAB},       {"InSegs", TT_STAT_IN_SEGS},
    {"OutSegs", TT_STAT_OUT_SEGS},           {"RetransSegs", TT_STAT_RETRANS_SEGS},
    {"InErrs", TT_STAT_IN_ERRS},             {"OutRsts", TT_STAT_OUT_RSTS},
};

static int
field_of(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(snmp_names) / sizeof(snmp_names[0]); i++)
        if (strlen(snmp_names[i].name) == len && memcmp(snmp_names[i].name, name, len) == 0)
            return snmp_names[i].field;
    return -1; /* a counter MIB_TCPSTATS lacks (InCsumErrors) */
}

/* The next "Tcp:" line at or after *at, without the prefix; NULL if none. */
static const char *
tcp_line(const char *text, size_t len, size_t *at, size_t *line_len)
{
    while (*at < len) {
        const char *line = text + *at;
        const char *end = memchr(line, '\n', len - *at);
        size_t n = end ? (size_t)(end - line) : len - *at;
        *at += n + 1;
        if (n >= 4 && memcmp(line, "Tcp:", 4) == 0) {
            *line_len = n - 4;
            return line + 4;
        }
    }
    return NULL;
}

/* The next space-separated token of [*p, end): its start and length. */
static size_t
token(const char **p, const char *end, const char **start)
{
    while (*p < end && **p == ' ')
        (*p)++;
    *start = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    return (size_t)(*p - *start);
}

int
tt_snmp_parse(const char *text, size_t len, tt_stats *out)
{
    size_t at = 0, names_len, values_len;
    const char *names = tcp_line(text, len, &at, &names_len);
    const char *values = names ? tcp_line(text, len, &at, &values_len) : NULL;
    const char *n_end, *v_end;

    if (values == NULL)
        return -1;
    memset(out, 0, sizeof(*out));
    n_end = names + names_len;
    v_end = values + values_len;
    for (;;) {
        const char *name, *value;
        size_t nl = token(&names, n_end, &name), vl = token(&values, v_end, &value);
        char number[32], *stop;
        int field;

        if (nl == 0 || vl == 0)
            return nl == vl ? 0 : -1; /* as many values as names */
        if (vl >= sizeof(number))
            return -1;
        memcpy(number, value, vl);
        number[vl] = '\0';
        if ((field = field_of(name, nl)) < 0)
            continue;
        errno = 0;
        if (number[0] == '-') /* MaxConn: -1 */
            out->value[field] = (uint64_t)strtoll(number, &stop, 10);
        else
            out->value[field] = strtoull(number, &stop, 10);
        if (*stop != '\0' || errno != 0)
            return -1;
        out->has |= 1u << field;
    }
}

static int
read_snmp(void *arg, tt_error *err)
{
    const snmp_file *f = &snmp_files[tt_linux_has_thread_self() ? 0 : 1];
    char *buf = malloc(SNMP_MAX);
    size_t held = 0;
    int rc = -1, fd;

    if (buf == NULL)
        return tt_fail(err, TT_ERR_NOMEM, 0, "allocating the snmp buffer");
    if ((fd = open(f->file.path, O_RDONLY | O_CLOEXEC)) < 0) {
        tt_fail(err, TT_ERR_OS, errno, f->file.open_step);
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf + held, SNMP_MAX - held);
        if (n < 0) {
            tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno, f->file.read_step);
            goto done;
        }
        if (n == 0)
            break;
        if ((held += (size_t)n) == SNMP_MAX) {
            tt_fail(err, TT_ERR_PROTO, EPROTO, f->too_long);
            goto done;
        }
    }
    if (tt_snmp_parse(buf, held, arg) < 0)
        tt_fail(err, TT_ERR_PROTO, EPROTO, f->no_tcp_lines);
    else
        rc = 0;
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int
tt_backend_stats(const tt_query *q, tt_stats *out, tt_error *err)
{
    return q->netns_fd != NULL ? tt_linux_in_netns(*q->netns_fd, read_snmp, out, err)
                               : read_snmp(out, err);
}
