/* The row array shared by every backend, and the one sort order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcptable.h"

/* tt_row.info filled a padding hole: a row is as large as before it. */
_Static_assert(sizeof(void *) != 8 || sizeof(tt_row) == 96, "a row is 96 bytes on 64-bit");

int
tt_fail(tt_error *err, tt_err_kind kind, long code, const char *step)
{
    err->kind = kind;
    err->code = code;
    err->step = step;
    return -1;
}

tt_row *
tt_rows_push(tt_rows *rows, tt_error *err)
{
    if (rows->len == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 256;
        tt_row *grown;
        if (cap > SIZE_MAX / sizeof(tt_row)) {
            tt_fail(err, TT_ERR_NOMEM, 0, "growing the row array");
            return NULL;
        }
        grown = realloc(rows->rows, cap * sizeof(tt_row));
        if (grown == NULL) {
            tt_fail(err, TT_ERR_NOMEM, 0, "growing the row array");
            return NULL;
        }
        rows->rows = grown;
        rows->cap = cap;
    }
    tt_row *row = &rows->rows[rows->len++];
    memset(row, 0, sizeof(*row));
    return row;
}

void
tt_rows_free(tt_rows *rows)
{
    free(rows->rows);
    free(rows->names);
    free(rows->info);
    rows->rows = NULL;
    rows->names = NULL;
    rows->info = NULL;
    rows->len = rows->cap = 0;
    rows->names_len = rows->names_cap = 0;
    rows->info_len = rows->info_cap = 0;
}

tt_tcp_info *
tt_rows_push_info(tt_rows *rows, tt_row *row, tt_error *err)
{
    tt_tcp_info *info;

    if (rows->info_len == rows->info_cap) {
        size_t cap = rows->info_cap ? rows->info_cap * 2 : 64;
        tt_tcp_info *grown;
        if (cap > UINT32_MAX - 1 || cap > SIZE_MAX / sizeof(tt_tcp_info) ||
            (grown = realloc(rows->info, cap * sizeof(tt_tcp_info))) == NULL) {
            tt_fail(err, TT_ERR_NOMEM, 0, "growing the tcp_info array");
            return NULL;
        }
        rows->info = grown;
        rows->info_cap = cap;
    }
    info = &rows->info[rows->info_len++];
    memset(info, 0, sizeof(*info));
    row->info = (uint32_t)rows->info_len;
    return info;
}

int
tt_rows_set_name(tt_rows *rows, tt_row *row, const char *name, size_t len, int abstract,
                 tt_error *err)
{
    if (len > UINT16_MAX || rows->names_len > UINT32_MAX - len)
        return tt_fail(err, TT_ERR_PROTO, EPROTO, "a socket name too long");
    if (rows->names_len + len > rows->names_cap) {
        size_t cap = rows->names_cap ? rows->names_cap : 4096;
        char *grown;
        while (cap < rows->names_len + len)
            cap *= 2;
        if ((grown = realloc(rows->names, cap)) == NULL)
            return tt_fail(err, TT_ERR_NOMEM, 0, "growing the socket names");
        rows->names = grown;
        rows->names_cap = cap;
    }
    memcpy(rows->names + rows->names_len, name, len);
    if (abstract)
        for (size_t i = 0; i < len; i++)
            if (rows->names[rows->names_len + i] == '\0')
                rows->names[rows->names_len + i] = '@';
    row->name_off = (uint32_t)rows->names_len;
    row->name_len = (uint16_t)len;
    row->has |= TT_HAS_NAME;
    rows->names_len += len;
    return 0;
}

/* The sort key of a row, most significant byte first: local address bytes,
 * local scope id, local port, remote address bytes, remote scope id, remote
 * port (numbers big-endian, so that byte order is numeric order). */
#define KEY_BYTES 44

static void
put_be(uint8_t *p, uint32_t v, int bytes)
{
    while (bytes-- > 0) {
        p[bytes] = (uint8_t)v;
        v >>= 8;
    }
}

static void
sort_key(int family, const tt_row *r, uint8_t key[KEY_BYTES])
{
    if (family == AF_UNIX) {
        memset(key, 0, KEY_BYTES);
        put_be(key, (uint32_t)(r->inode >> 32), 4);
        put_be(key + 4, (uint32_t)r->inode, 4);
        return;
    }
    memcpy(key, r->local_addr, 16);
    put_be(key + 16, r->local_scope_id, 4);
    put_be(key + 20, r->local_port, 2);
    memcpy(key + 22, r->remote_addr, 16);
    put_be(key + 38, r->remote_scope_id, 4);
    put_be(key + 42, r->remote_port, 2);
}

/* A least-significant-digit radix sort, one byte per pass, that skips the
 * key bytes every row shares: tables repeat address prefixes, zero scope ids
 * and server ports, so a few passes over a byte column (small enough for the
 * L1 cache) order the rows.  Comparison sorts spent most of their time in
 * the comparator; this reads each row three times and moves 4-byte indexes. */
int
tt_rows_sort(tt_rows *rows, tt_error *err)
{
    size_t n = rows->len;
    uint8_t first[KEY_BYTES], key[KEY_BYTES], differs[KEY_BYTES] = {0};
    uint8_t *columns = NULL;
    uint32_t (*counts)[256] = NULL, *order = NULL, *spare = NULL;
    tt_row *sorted = NULL;
    int varying[KEY_BYTES], nvarying = 0, rc = -1;

    if (n < 2)
        return 0;
    sort_key(rows->family, &rows->rows[0], first);
    for (size_t i = 1; i < n; i++) {
        sort_key(rows->family, &rows->rows[i], key);
        for (int j = 0; j < KEY_BYTES; j++)
            differs[j] |= key[j] ^ first[j];
    }
    for (int j = 0; j < KEY_BYTES; j++)
        if (differs[j])
            varying[nvarying++] = j;
    if (nvarying == 0) /* every key equal: any order is sorted */
        return 0;
    if (n > UINT32_MAX || (counts = calloc((size_t)nvarying, sizeof(*counts))) == NULL ||
        (columns = malloc(n * (size_t)nvarying)) == NULL ||
        (order = malloc(n * sizeof(*order))) == NULL ||
        (spare = malloc(n * sizeof(*spare))) == NULL ||
        (sorted = malloc(n * sizeof(tt_row))) == NULL) {
        tt_fail(err, TT_ERR_NOMEM, 0, "sorting the rows");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        sort_key(rows->family, &rows->rows[i], key);
        for (int v = 0; v < nvarying; v++) {
            uint8_t b = key[varying[v]];
            columns[(size_t)v * n + i] = b;
            counts[v][b]++;
        }
        order[i] = (uint32_t)i;
    }
    for (int v = nvarying - 1; v >= 0; v--) {
        const uint8_t *column = columns + (size_t)v * n;
        uint32_t next[256], sum = 0, *swap;
        for (int b = 0; b < 256; b++) {
            next[b] = sum;
            sum += counts[v][b];
        }
        for (size_t i = 0; i < n; i++)
            spare[next[column[order[i]]]++] = order[i];
        swap = order, order = spare, spare = swap;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = rows->rows[order[i]];
    free(rows->rows);
    rows->rows = sorted;
    rows->cap = n;
    sorted = NULL;
    rc = 0;
done:
    free(sorted);
    free(spare);
    free(order);
    free(columns);
    free(counts);
    return rc;
}
