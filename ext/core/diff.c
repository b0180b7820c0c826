/* What changed between two dumps of one query: rows opened, closed, and
 * rows whose state changed, keyed on the endpoints.  Plain C, run without
 * the GIL (Watcher.poll()). */
#include <stdlib.h>
#include <string.h>

#include "tcptable.h"

/* The key: local and remote address, scope id and port, a row's first
 * bytes (tcptable.h keeps them first and tt_rows_push() zeroes each row). */
#define KEY_BYTES offsetof(tt_row, state)

static int
same_key(const tt_row *a, const tt_row *b)
{
    return memcmp(a, b, KEY_BYTES) == 0;
}

static int
same_row(const tt_row *a, const tt_row *b)
{
    return a->state == b->state && same_key(a, b);
}

static uint32_t
key_hash(const tt_row *r)
{
    const uint8_t *p = (const uint8_t *)r;
    uint64_t h = 0, w;
    size_t i;

    for (i = 0; i + 8 <= KEY_BYTES; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15u;
        h ^= h >> 29;
    }
    for (; i < KEY_BYTES; i++)
        h = (h ^ p[i]) * 0x100000001B3u;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Grows `*buf` to hold `n` items of `size` bytes; 0, or -1 with *err set. */
static int
reserve(void **buf, size_t *cap, size_t n, size_t size, tt_error *err)
{
    void *bigger;

    if (n <= *cap)
        return 0;
    if (n > SIZE_MAX / size || (bigger = realloc(*buf, n * size)) == NULL)
        return tt_fail(err, TT_ERR_NOMEM, 0, "growing the diff's buffers");
    *buf = bigger;
    *cap = n;
    return 0;
}

/* The hash table of prev's rows in [from, to): slots hold (hash << 32) |
 * (index + 1), 0 for empty; at most half full, probed linearly. */
static int
index_rows(tt_diff *d, const tt_rows *prev, size_t from, size_t to, tt_error *err)
{
    size_t n_slots = 16;

    while (n_slots < 2 * (to - from))
        n_slots *= 2;
    if (reserve((void **)&d->slots, &d->slots_cap, n_slots, sizeof(*d->slots), err) < 0)
        return -1;
    memset(d->slots, 0, n_slots * sizeof(*d->slots));
    d->n_slots = n_slots;
    for (size_t i = from; i < to; i++) {
        uint32_t h = key_hash(&prev->rows[i]);
        size_t s = h & (n_slots - 1);
        while (d->slots[s] != 0)
            s = (s + 1) & (n_slots - 1);
        d->slots[s] = (uint64_t)h << 32 | (uint32_t)(i + 1);
    }
    return 0;
}

/* An unmatched prev row with `r`'s key (and with `exact`, its state), now
 * matched; SIZE_MAX when there is none. */
static size_t
take_match(tt_diff *d, const tt_rows *prev, const tt_row *r, int exact)
{
    uint32_t h = key_hash(r);
    size_t mask = d->n_slots - 1;

    for (size_t s = h & mask; d->slots[s] != 0; s = (s + 1) & mask) {
        size_t i = (uint32_t)d->slots[s] - 1;
        const tt_row *old = &prev->rows[i];
        if ((uint32_t)(d->slots[s] >> 32) != h || d->matched[i] ||
            !(exact ? same_row(old, r) : same_key(old, r)))
            continue;
        d->matched[i] = 1;
        return i;
    }
    return SIZE_MAX;
}

int
tt_rows_diff(const tt_rows *prev, const tt_rows *cur, tt_diff *d, tt_error *err)
{
    size_t head = 0, tail = 0, n_pending = 0;

    d->n_opened = d->n_closed = d->n_changed = 0;
    if (prev->len > UINT32_MAX - 1 || cur->len > UINT32_MAX - 1)
        return tt_fail(err, TT_ERR_NOMEM, 0, "diffing more rows than 32-bit indexes hold");
    /* Dumps of an unchanged table come in the same order: the rows both
     * start and end with need no lookup (all of them, most polls). */
    while (head < prev->len && head < cur->len && same_row(&prev->rows[head], &cur->rows[head]))
        head++;
    while (tail < prev->len - head && tail < cur->len - head &&
           same_row(&prev->rows[prev->len - 1 - tail], &cur->rows[cur->len - 1 - tail]))
        tail++;
    size_t prev_end = prev->len - tail, cur_end = cur->len - tail;
    size_t n_prev = prev_end - head, n_cur = cur_end - head;
    size_t pairs = n_prev < n_cur ? n_prev : n_cur;

    if (reserve((void **)&d->opened, &d->opened_cap, n_cur, sizeof(*d->opened), err) < 0 ||
        reserve((void **)&d->closed, &d->closed_cap, n_prev, sizeof(*d->closed), err) < 0 ||
        reserve((void **)&d->changed, &d->changed_cap, 2 * pairs, sizeof(*d->changed), err) <
            0 ||
        reserve((void **)&d->matched, &d->matched_cap, prev->len, 1, err) < 0)
        return -1;
    if (n_prev == 0) {
        for (size_t j = head; j < cur_end; j++)
            d->opened[d->n_opened++] = (uint32_t)j;
        return 0;
    }
    if (index_rows(d, prev, head, prev_end, err) < 0)
        return -1;
    memset(d->matched, 0, prev->len);
    /* Rows unchanged first, so that of several rows with one key (listeners
     * sharing a port with SO_REUSEPORT), the ones whose state stayed are
     * not taken for changed ones; the rest pair up by key, or are new. */
    for (size_t j = head; j < cur_end; j++)
        if (take_match(d, prev, &cur->rows[j], 1) == SIZE_MAX)
            d->opened[n_pending++] = (uint32_t)j;
    for (size_t k = 0; k < n_pending; k++) {
        uint32_t j = d->opened[k];
        size_t i = take_match(d, prev, &cur->rows[j], 0);
        if (i == SIZE_MAX)
            d->opened[d->n_opened++] = j;
        else {
            d->changed[2 * d->n_changed] = (uint32_t)i;
            d->changed[2 * d->n_changed++ + 1] = j;
        }
    }
    for (size_t i = head; i < prev_end; i++)
        if (!d->matched[i])
            d->closed[d->n_closed++] = (uint32_t)i;
    return 0;
}

void
tt_diff_free(tt_diff *d)
{
    free(d->opened);
    free(d->closed);
    free(d->changed);
    free(d->slots);
    free(d->matched);
    memset(d, 0, sizeof(*d));
}
