/* The fallback: /proc/net/tcp and /proc/net/tcp6, read in large chunks and
 * parsed in place.  The kernel prints each address as 32-bit words in host
 * byte order (%08X), so storing each word natively gives network order. */
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

int
tt_proc_parse_line(const char *line, size_t len, int family, tt_row *row)
{
    const char *p = line, *end = line + len;
    int words = family == AF_INET ? 1 : 4;
    uint32_t state;

    memset(row, 0, sizeof(*row));
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
        (p < end && *p != ' '))
        return -1;
    if (state >= TT_LINUX_STATE_COUNT || tt_linux_to_mib[state] == 0)
        return -1;
    row->state = tt_linux_to_mib[state];
    if (row->state == TT_LISTEN) {
        memset(row->remote_addr, 0, sizeof(row->remote_addr));
        row->remote_port = 0;
    }
    return 0;
}

/* Parses the complete lines in buf[0..len) and returns how many bytes were
 * consumed; the first line of the file is its header. */
static int
parse_lines(const char *buf, size_t len, int *seen_header, int family,
            tt_state_set states, tt_rows *out, size_t *consumed, tt_error *err)
{
    const char *p = buf, *end = buf + len, *nl;

    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        tt_row row;
        if (!*seen_header) {
            *seen_header = 1;
        }
        else if (tt_proc_parse_line(p, (size_t)(nl - p), family, &row) < 0) {
            return tt_fail(err, TT_ERR_PROTO, EPROTO,
                           family == AF_INET ? "parsing /proc/net/tcp"
                                             : "parsing /proc/net/tcp6");
        }
        else if (TT_HAS_STATE(states, row.state)) {
            tt_row *slot = tt_rows_push(out, err);
            if (slot == NULL)
                return -1;
            *slot = row;
        }
        p = nl + 1;
    }
    *consumed = (size_t)(p - buf);
    return 0;
}

int
tt_proc_dump(int family, tt_state_set states, tt_rows *out, tt_error *err)
{
    const char *path = family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
    const char *read_step = family == AF_INET ? "reading /proc/net/tcp"
                                              : "reading /proc/net/tcp6";
    char *buf = NULL;
    size_t held = 0;
    int seen_header = 0, rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return tt_fail(err, TT_ERR_OS, errno,
                       family == AF_INET ? "opening /proc/net/tcp"
                                         : "opening /proc/net/tcp6");
    if ((buf = malloc(READ_CHUNK)) == NULL) {
        tt_fail(err, TT_ERR_NOMEM, 0, "allocating the /proc read buffer");
        goto done;
    }
    for (;;) {
        size_t consumed = 0;
        ssize_t n = read(fd, buf + held, READ_CHUNK - held);
        if (n < 0) {
            tt_fail(err, errno == EINTR ? TT_ERR_INTR : TT_ERR_OS, errno, read_step);
            goto done;
        }
        if (n == 0)
            break;
        held += (size_t)n;
        if (parse_lines(buf, held, &seen_header, family, states, out, &consumed,
                        err) < 0)
            goto done;
        if (consumed == 0 && held == READ_CHUNK) {
            tt_fail(err, TT_ERR_PROTO, EPROTO, read_step); /* absurd line */
            goto done;
        }
        memmove(buf, buf + consumed, held - consumed);
        held -= consumed;
    }
    if (held != 0) {
        tt_fail(err, TT_ERR_PROTO, EPROTO, read_step); /* no final newline */
        goto done;
    }
    rc = 0;
done:
    free(buf);
    close(fd);
    return rc;
}
