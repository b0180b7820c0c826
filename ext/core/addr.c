/* Address text, written here rather than by the C library's inet_ntop so
 * that every platform prints the same text (glibc's rules: the first longest
 * run of two or more zero groups becomes "::", lowercase hex, and the last 32
 * bits in dotted form for ::a.b.c.d and ::ffff:a.b.c.d), and because it is
 * several times faster than a call that must honour the locale. */
#include "tcptable.h"

static char *
put_dec(char *p, unsigned v)
{
    if (v >= 100)
        *p++ = (char)('0' + v / 100);
    if (v >= 10)
        *p++ = (char)('0' + v / 10 % 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *
put_ipv4(char *p, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p = put_dec(p, a[i]);
    }
    return p;
}

static char *
put_hex(char *p, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 12;
    while (shift > 0 && (v >> shift) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *p++ = digits[(v >> shift) & 0xf];
    return p;
}

static char *
put_ipv6(char *p, const uint8_t *a)
{
    unsigned words[8];
    int best = -1, best_len = 0, cur = -1, cur_len = 0;

    for (int i = 0; i < 8; i++) {
        words[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
        if (words[i] == 0) {
            if (cur < 0)
                cur = i, cur_len = 0;
            if (++cur_len > best_len)
                best = cur, best_len = cur_len;
        }
        else {
            cur = -1;
        }
    }
    if (best_len < 2)
        best = -1;

    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i)
            *p++ = ':';
        if (i == 6 && best == 0 &&
            (best_len == 6 || (best_len == 5 && words[5] == 0xffff)))
            return put_ipv4(p, a + 12);
        p = put_hex(p, words[i]);
    }
    if (best >= 0 && best + best_len == 8)
        *p++ = ':';
    return p;
}

size_t
tt_format_addr(int family, const uint8_t addr[16], char *out)
{
    char *end = family == AF_INET ? put_ipv4(out, addr) : put_ipv6(out, addr);
    *end = '\0';
    return (size_t)(end - out);
}
