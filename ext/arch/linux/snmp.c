/* stats() and udp_stats() on Linux: the `Tcp:` or `Udp:` lines of
 * /proc/thread-self/net/snmp (before Linux 3.17, /proc/net/snmp), a line of
 * names and a line of values, or for IPv6 UDP the `Udp6` lines of
 * .../net/snmp6, a name and a value each.  Linux keeps one set of TCP
 * counters for both families, so the query's family changes nothing there;
 * its UDP counters are per family.  Linux reports no table size (NumConns,
 * NumAddrs): those fields stay unreported. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define SNMP_MAX 65536 /* the files are about 1.5 and 6 KiB; more is not snmp */

typedef struct {
    const char *name;
    int field;
} snmp_name;

static const snmp_name tcp_names[] = {
    {"RtoAlgorithm", TT_STAT_RTO_ALGORITHM}, {"RtoMin", TT_STAT_RTO_MIN},
    {"RtoMax", TT_STAT_RTO_MAX},             {"MaxConn", TT_STAT_MAX_CONN},
    {"ActiveOpens", TT_STAT_ACTIVE_OPENS},   {"PassiveOpens", TT_STAT_PASSIVE_OPENS},
    {"AttemptFails", TT_STAT_ATTEMPT_FAILS}, {"EstabResets", TT_STAT_ESTAB_RESETS},
    {"CurrEstab", TT_STAT_CURR_ESTAB},       {"InSegs", TT_STAT_IN_SEGS},
    {"OutSegs", TT_STAT_OUT_SEGS},           {"RetransSegs", TT_STAT_RETRANS_SEGS},
    {"InErrs", TT_STAT_IN_ERRS},             {"OutRsts", TT_STAT_OUT_RSTS},
    {NULL, 0},
};

static const snmp_name udp_names[] = {
    {"InDatagrams", TT_UDP_STAT_IN_DATAGRAMS},    {"NoPorts", TT_UDP_STAT_NO_PORTS},
    {"InErrors", TT_UDP_STAT_IN_ERRORS},          {"OutDatagrams", TT_UDP_STAT_OUT_DATAGRAMS},
    {"RcvbufErrors", TT_UDP_STAT_RCVBUF_ERRORS},  {"SndbufErrors", TT_UDP_STAT_SNDBUF_ERRORS},
    {"InCsumErrors", TT_UDP_STAT_IN_CSUM_ERRORS}, {NULL, 0},
};

typedef struct {
    tt_proc_file file;
    const char *too_long, *missing;
} snmp_file;

/* Where one protocol and family's counters are.  The step texts name the
 * file actually read: /proc/net/... before 3.17. */
typedef struct {
    const char *prefix; /* of each line that holds them */
    int one_per_line;   /* snmp6: "Udp6InDatagrams 5"; snmp: a names line, a values line */
    const snmp_name *names;
    snmp_file files[2]; /* /proc/thread-self/net/..., /proc/net/... */
} snmp_source;

#define SNMP_FILE(path, what) {TT_PROC_FILE_(path), path " is too long", path " has no valid " what}
#define SNMP_FILES(name, what)                                                                \
    {SNMP_FILE("/proc/thread-self/net/" name, what), SNMP_FILE("/proc/net/" name, what)}
static const snmp_source tcp_source = {"Tcp:", 0, tcp_names, SNMP_FILES("snmp", "Tcp: lines")};
static const snmp_source udp_source = {"Udp:", 0, udp_names, SNMP_FILES("snmp", "Udp: lines")};
static const snmp_source udp6_source = {"Udp6", 1, udp_names,
                                        SNMP_FILES("snmp6", "Udp6 lines")};

static const snmp_source *
source_of(int protocol, int family)
{
    if (protocol == IPPROTO_TCP)
        return &tcp_source;
    return family == AF_INET6 ? &udp6_source : &udp_source;
}

static int
field_of(const snmp_name *names, const char *name, size_t len)
{
    for (; names->name != NULL; names++)
        if (strlen(names->name) == len && memcmp(names->name, name, len) == 0)
            return names->field;
    return -1; /* a counter the MIB structure lacks (InCsumErrors for TCP) */
}

/* The next line at or after *at that starts with `prefix`, without the
 * prefix; NULL if none. */
static const char *
next_line(const char *text, size_t len, const char *prefix, size_t *at, size_t *line_len)
{
    size_t plen = strlen(prefix);

    while (*at < len) {
        const char *line = text + *at;
        const char *end = memchr(line, '\n', len - *at);
        size_t n = end ? (size_t)(end - line) : len - *at;
        *at += n + 1;
        if (n >= plen && memcmp(line, prefix, plen) == 0) {
            *line_len = n - plen;
            return line + plen;
        }
    }
    return NULL;
}

static int
blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated token of [*p, end): its start and length. */
static size_t
token(const char **p, const char *end, const char **start)
{
    while (*p < end && blank(**p))
        (*p)++;
    *start = *p;
    while (*p < end && !blank(**p))
        (*p)++;
    return (size_t)(*p - *start);
}

/* Stores the value of counter `name` if *out has a field for it; 0, or -1
 * when the value is no number. */
static int
store(const snmp_name *names, const char *name, size_t nl, const char *value, size_t vl,
      tt_stats *out)
{
    char number[32], *stop;
    int field;

    if (vl == 0 || vl >= sizeof(number))
        return -1;
    memcpy(number, value, vl);
    number[vl] = '\0';
    if ((field = field_of(names, name, nl)) < 0)
        return 0;
    errno = 0;
    if (number[0] == '-') /* MaxConn: -1 */
        out->value[field] = (uint64_t)strtoll(number, &stop, 10);
    else
        out->value[field] = strtoull(number, &stop, 10);
    if (*stop != '\0' || errno != 0)
        return -1;
    out->has |= 1u << field;
    return 0;
}

/* snmp: the first two lines with the prefix, names then values. */
static int
parse_table(const snmp_source *source, const char *text, size_t len, tt_stats *out)
{
    size_t at = 0, names_len, values_len;
    const char *names = next_line(text, len, source->prefix, &at, &names_len);
    const char *values = names ? next_line(text, len, source->prefix, &at, &values_len) : NULL;
    const char *n_end, *v_end;

    if (values == NULL)
        return -1;
    n_end = names + names_len;
    v_end = values + values_len;
    for (;;) {
        const char *name, *value;
        size_t nl = token(&names, n_end, &name), vl = token(&values, v_end, &value);

        if (nl == 0 || vl == 0)
            return nl == vl ? 0 : -1; /* as many values as names */
        if (store(source->names, name, nl, value, vl, out) < 0)
            return -1;
    }
}

/* snmp6: every line with the prefix, its name and one value. */
static int
parse_per_line(const snmp_source *source, const char *text, size_t len, tt_stats *out)
{
    size_t at = 0, line_len;
    const char *line;
    int found = 0;

    while ((line = next_line(text, len, source->prefix, &at, &line_len)) != NULL) {
        const char *end = line + line_len, *name, *value, *rest;
        size_t nl = token(&line, end, &name), vl = token(&line, end, &value);

        if (nl == 0 || token(&line, end, &rest) != 0)
            return -1; /* a name and one value */
        if (store(source->names, name, nl, value, vl, out) < 0)
            return -1;
        found = 1;
    }
    return found ? 0 : -1;
}

int
tt_snmp_parse(int protocol, int family, const char *text, size_t len, tt_stats *out)
{
    const snmp_source *source = source_of(protocol, family);

    memset(out, 0, sizeof(*out));
    return source->one_per_line ? parse_per_line(source, text, len, out)
                               : parse_table(source, text, len, out);
}

typedef struct {
    const tt_query *q;
    tt_stats *out;
} snmp_job;

static int
read_snmp(void *arg, tt_error *err)
{
    const snmp_job *job = arg;
    const snmp_source *source = source_of(job->q->protocol, job->q->family);
    const snmp_file *f = &source->files[tt_linux_has_thread_self() ? 0 : 1];
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
    if (tt_snmp_parse(job->q->protocol, job->q->family, buf, held, job->out) < 0)
        tt_fail(err, TT_ERR_PROTO, EPROTO, f->missing);
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
    snmp_job job = {q, out};

    return q->netns_fd != NULL ? tt_linux_in_netns(*q->netns_fd, read_snmp, &job, err)
                               : read_snmp(&job, err);
}
