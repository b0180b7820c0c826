/* The fallback: /proc/thread-self/net/tcp, tcp6, udp, udp6 and unix (one table of
 * files keyed by protocol and family), read in large chunks and parsed in
 * place.  The kernel prints each address as 32-bit words in host byte order
 * (%08X), so storing each word natively gives network order.
 * thread-self, not self: the table of the calling thread's network namespace,
 * as netlink gives. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

#define READ_CHUNK 65536

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads exactly `digits` hex digits at *p into *value. */
static int
take_hex(const char **p, const char *end, int digits, uint32_t *value)
{
    uint32_t v = 0;
    if (end - *p < digits)
        return -1;
    for (int i = 0; i < digits; i++) {
        int d = hex_digit((*p)[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *p += digits;
    *value = v;
    return 0;
}

/* Skips spaces, then reads a decimal number of at most 20 digits (the
 * kernel's %lu); a '-' sign is read and the value is then 0 (timeouts). */
static int
take_dec(const char **p, const char *end, uint64_t *value)
{
    uint64_t v = 0;
    int digits = 0, negative = 0;

    while (*p < end && **p == ' ')
        ++*p;
    if (*p < end && **p == '-')
        negative = 1, ++*p;
    for (; *p < end && **p >= '0' && **p <= '9'; ++*p, digits++) {
        uint64_t d = (uint64_t)(**p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (digits == 0 || (*p < end && **p != ' '))
        return -1;
    *value = negative ? 0 : v;
    return 0;
}

static int
take_char(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    ++*p;
    return 0;
}

/* "ADDR:PORT", ADDR being 1 (IPv4) or 4 (IPv6) words of 8 hex digits. */
static int
take_endpoint(const char **p, const char *end, int words, uint8_t *addr,
              uint16_t *port)
{
    uint32_t v;
    for (int i = 0; i < words; i++) {
        if (take_hex(p, end, 8, &v) < 0)
            return -1;
        memcpy(addr + 4 * i, &v, 4);
    }
    if (take_char(p, end, ':') < 0 || take_hex(p, end, 4, &v) < 0)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* The columns after the state: "TX:RX TR:WHEN RETRNSMT UID TIMEOUT INODE",
 * the first three in hex, the rest decimal. */
static int
take_counters(const char **p, const char *end, tt_row *row)
{
    uint32_t hex;
    uint64_t uid, timeout, inode;

    if (take_char(p, end, ' ') < 0 || take_hex(p, end, 8, &row->tx_queue) < 0 ||
        take_char(p, end, ':') < 0 || take_hex(p, end, 8, &row->rx_queue) < 0 ||
        take_char(p, end, ' ') < 0 || take_hex(p, end, 2, &hex) < 0 ||
        take_char(p, end, ':') < 0 || take_hex(p, end, 8, &hex) < 0 ||
        take_char(p, end, ' ') < 0 || take_hex(p, end, 8, &hex) < 0 ||
        take_dec(p, end, &uid) < 0 || take_dec(p, end, &timeout) < 0 ||
        take_dec(p, end, &inode) < 0 || uid > UINT32_MAX)
        return -1;
    row->uid = (uint32_t)uid;
    row->inode = inode;
    return 0;
}

/* UDP's columns after the inode: "REF POINTER DROPS", the pointer in hex
 * (zeros where kptr_restrict hides it), then the spaces udp4 pads with. */
static int
take_drops(const char **p, const char *end, tt_row *row)
{
    uint64_t ref, drops;
    uint32_t hex;

    if (take_dec(p, end, &ref) < 0 || take_char(p, end, ' ') < 0)
        return -1;
    while (*p < end && **p != ' ')
        if (take_hex(p, end, 1, &hex) < 0)
            return -1;
    if (take_dec(p, end, &drops) < 0 || drops > UINT32_MAX)
        return -1;
    while (*p < end && **p == ' ')
        ++*p;
    if (*p != end)
        return -1;
    row->drops = (uint32_t)drops;
    row->has |= TT_HAS_DROPS;
    return 0;
}

/* __SO_ACCEPTCON in the Flags column: a listener. */
#define UNIX_ACCEPTCON 0x10000
/* The St column: the socket's SS_* state (SS_CONNECTING for a connection
 * queued on a listener, not yet accepted). */
#define SS_CONNECTING_ 2
#define SS_CONNECTED_ 3

/* "Num: RefCount Protocol Flags Type St Inode[ Path]", Num a hex pointer
 * (zeros where kptr_restrict hides it), the next five hex, the inode
 * decimal; the path as bound, '@' first for an abstract name.  It has no
 * peer and no queues. */
static int
parse_unix_line(const char *line, const char *end, tt_row *row)
{
    const char *p = line;
    uint32_t hex, flags, type, st;
    uint64_t inode;

    while (p < end && *p != ':')
        if (take_hex(&p, end, 1, &hex) < 0)
            return -1;
    if (p == line || take_char(&p, end, ':') < 0 || take_char(&p, end, ' ') < 0 ||
        take_hex(&p, end, 8, &hex) < 0 || take_char(&p, end, ' ') < 0 ||
        take_hex(&p, end, 8, &hex) < 0 || take_char(&p, end, ' ') < 0 ||
        take_hex(&p, end, 8, &flags) < 0 || take_char(&p, end, ' ') < 0 ||
        take_hex(&p, end, 4, &type) < 0 || take_char(&p, end, ' ') < 0 ||
        take_hex(&p, end, 2, &st) < 0 || take_dec(&p, end, &inode) < 0 || type > UINT8_MAX)
        return -1;
    row->type = (uint8_t)type;
    row->inode = inode;
    /* Inode 0: a connection queued on a listener, not accepted yet, which
     * has no socket; netlink skips it, and so does tt_proc_dump(). */
    row->has = inode != 0 ? TT_HAS_INODE : 0;
    row->state = flags & UNIX_ACCEPTCON ? TT_LISTEN
                 : st == SS_CONNECTED_ || st == SS_CONNECTING_ ? TT_ESTABLISHED
                                                               : TT_CLOSE;
    if (p < end) {
        if (take_char(&p, end, ' ') < 0 || p == end || end - p > UINT16_MAX)
            return -1;
        row->name_off = (uint32_t)(p - line);
        row->name_len = (uint16_t)(end - p);
        row->has |= TT_HAS_NAME;
    }
    return 0;
}

int
tt_proc_parse_line(const char *line, size_t len, int protocol, int family, tt_row *row)
{
    const char *p = line, *end = line + len;
    int words = family == AF_INET ? 1 : 4;
    uint32_t state;

    memset(row, 0, sizeof(*row));
    if (family == AF_UNIX)
        return parse_unix_line(line, end, row);
    while (p < end && *p == ' ')
        p++;
    if (p == end || *p < '0' || *p > '9') /* the slot number, decimal */
        return -1;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (take_char(&p, end, ':') < 0 || take_char(&p, end, ' ') < 0 ||
        take_endpoint(&p, end, words, row->local_addr, &row->local_port) < 0 ||
        take_char(&p, end, ' ') < 0 ||
        take_endpoint(&p, end, words, row->remote_addr, &row->remote_port) < 0 ||
        take_char(&p, end, ' ') < 0 || take_hex(&p, end, 2, &state) < 0 ||
        take_counters(&p, end, row) < 0)
        return -1;
    if (state >= TT_LINUX_STATE_COUNT || tt_linux_to_mib[state] == 0)
        return -1;
    row->state = tt_linux_to_mib[state];
    row->has = tt_linux_row_has(protocol, row->inode);
    if (protocol == IPPROTO_UDP && take_drops(&p, end, row) < 0)
        return -1;
    if (!tt_linux_has_peer(protocol, row->state)) {
        memset(row->remote_addr, 0, sizeof(row->remote_addr));
        row->remote_port = 0;
    }
    return 0;
}

int
tt_proc_is_header(int family, const char *line, size_t len)
{
    const char *column = family == AF_UNIX ? "Inode" : "local_address";
    size_t n = strlen(column);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(line + i, column, n) == 0)
            return 1;
    return 0;
}

typedef struct {
    const tt_query *q;
    const char *path;
    int seen_header;
} proc_reader;

/* Parses the complete lines in buf[0..len) and returns how many bytes were
 * consumed; the first line of the file must be its header. */
static int
parse_lines(proc_reader *r, const char *buf, size_t len, tt_rows *out, size_t *consumed,
            tt_error *err)
{
    const char *p = buf, *end = buf + len, *nl;

    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        tt_row row;
        if (!r->seen_header) {
            if (!tt_proc_is_header(r->q->family, p, (size_t)(nl - p)))
                return tt_fail(err, TT_ERR_PROTO, EPROTO, r->path);
            r->seen_header = 1;
        }
        else if (tt_proc_parse_line(p, (size_t)(nl - p), r->q->protocol, r->q->family, &row) <
                 0) {
            return tt_fail(err, TT_ERR_PROTO, EPROTO, r->path);
        }
        else if (r->q->family == AF_UNIX && !(row.has & TT_HAS_INODE)) {
            /* no socket yet (parse_unix_line()) */
        }
        else if (tt_query_wants(r->q, row.state, row.local_port, row.remote_port)) {
            tt_row *slot = tt_rows_push(out, err);
            if (slot == NULL)
                return -1;
            *slot = row;
            /* A UNIX socket's name is in the line: keep a copy. */
            if ((row.has & TT_HAS_NAME) &&
                tt_rows_set_name(out, slot, p + row.name_off, row.name_len, p[row.name_off] == '@',
                                 err) < 0)
                return -1;
        }
        p = nl + 1;
    }
    *consumed = (size_t)(p - buf);
    return 0;
}

/* Each table's files, by protocol and family. */
static const struct {
    int protocol, family;
    tt_proc_file files[2];
} tables[] = {
    {IPPROTO_TCP, AF_INET, TT_PROC_NET_FILES("tcp")},
    {IPPROTO_TCP, AF_INET6, TT_PROC_NET_FILES("tcp6")},
    {IPPROTO_UDP, AF_INET, TT_PROC_NET_FILES("udp")},
    {IPPROTO_UDP, AF_INET6, TT_PROC_NET_FILES("udp6")},
    {0, AF_UNIX, TT_PROC_NET_FILES("unix")},
};

/* This kernel's file of the table (protocol, family); NULL: none is known. */
static const tt_proc_file *
file_of(int protocol, int family)
{
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        if (tables[i].protocol == protocol && tables[i].family == family)
            return tt_proc_file_here(tables[i].files);
    return NULL;
}

int
tt_proc_dump(const tt_query *q, tt_rows *out, tt_error *err)
{
    const tt_proc_file *table = file_of(q->protocol, q->family), *v4;
    proc_reader reader = {q, NULL, 0};
    char *buf = NULL;
    size_t held = 0;
    int rc = -1, fd;

    if (table == NULL)
        return tt_fail(err, TT_ERR_OS, EPROTONOSUPPORT, "no /proc table of this protocol");
    if ((fd = open(table->path, O_RDONLY | O_CLOEXEC)) < 0) {
        int saved = errno;
        /* A kernel without IPv6 (ipv6.disable=1) has no tcp6 beside tcp:
         * its IPv6 table is empty, as netlink reports. */
        if (saved == ENOENT && q->family == AF_INET6 &&
            (v4 = file_of(q->protocol, AF_INET)) != NULL && tt_proc_file_opens(v4->path))
            return 0;
        return tt_fail(err, TT_ERR_OS, saved, table->open_step);
    }
    reader.path = table->parse_step;
    if ((buf = malloc(READ_CHUNK)) == NULL) {
        tt_fail(err, TT_ERR_NOMEM, 0, "allocating the /proc read buffer");
        goto done;
    }
    for (;;) {
        size_t consumed = 0;
        ssize_t n = read(fd, buf + held, READ_CHUNK - held);
        if (n < 0) {
            tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno, table->read_step);
            goto done;
        }
        if (n == 0)
            break;
        held += (size_t)n;
        if (parse_lines(&reader, buf, held, out, &consumed, err) < 0)
            goto done;
        if (consumed == 0 && held == READ_CHUNK) {
            tt_fail(err, TT_ERR_PROTO, EPROTO, table->parse_step); /* absurd line */
            goto done;
        }
        memmove(buf, buf + consumed, held - consumed);
        held -= consumed;
    }
    /* No final newline, or no header at all (an empty file is not a table). */
    if (held != 0 || !reader.seen_header) {
        tt_fail(err, TT_ERR_PROTO, EPROTO, table->parse_step);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    close(fd);
    return rc;
}
