/* libFuzzer harness for tt_rows_diff(), the Watcher's diff.
 *
 * Input: byte 0 picks how many distinct endpoint keys rows use (1..16: few
 * keys make rows share keys, as listeners sharing a port do); then two bytes
 * per row: bit 7 of the first puts the row in `cur` (else `prev`), its low
 * four bits pick the key, the second byte's low bits the state (1..3).  The
 * same rows are diffed twice with one tt_diff, as a Watcher reuses it.
 *
 * What must hold: every index is in range and used once; changed pairs share
 * a key and differ in state; no closed row shares a key with an opened one
 * (they would have been a change); the rows left out of every list match up
 * exactly (unchanged); so replaying the diff over prev gives cur. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "row_invariants.h"
#include "tcptable.h"

#define KEYS 16
#define STATES 4

static void
make_row(tt_row *r, unsigned key, unsigned state)
{
    /* Keys differ in a port and an address byte: both are part of the key. */
    r->local_port = (uint16_t)(1000 + key);
    r->remote_addr[15] = (uint8_t)(key * 7);
    r->state = (uint8_t)state;
}

static void
check(const tt_rows *prev, const tt_rows *cur, const tt_diff *d)
{
    /* counts[side][key][state]: +1 per row, -1 per row a list names. */
    int left[2][KEYS][STATES] = {{{0}}};
    uint8_t *used_prev = calloc(prev->len + 1, 1), *used_cur = calloc(cur->len + 1, 1);
    int closed_keys[KEYS] = {0}, opened_keys[KEYS] = {0};

    REQUIRE(used_prev != NULL && used_cur != NULL);
    for (size_t i = 0; i < prev->len; i++)
        left[0][prev->rows[i].local_port - 1000][prev->rows[i].state]++;
    for (size_t j = 0; j < cur->len; j++)
        left[1][cur->rows[j].local_port - 1000][cur->rows[j].state]++;
    for (size_t k = 0; k < d->n_closed; k++) {
        uint32_t i = d->closed[k];
        REQUIRE(i < prev->len && !used_prev[i]);
        used_prev[i] = 1;
        left[0][prev->rows[i].local_port - 1000][prev->rows[i].state]--;
        closed_keys[prev->rows[i].local_port - 1000] = 1;
    }
    for (size_t k = 0; k < d->n_opened; k++) {
        uint32_t j = d->opened[k];
        REQUIRE(j < cur->len && !used_cur[j]);
        used_cur[j] = 1;
        left[1][cur->rows[j].local_port - 1000][cur->rows[j].state]--;
        opened_keys[cur->rows[j].local_port - 1000] = 1;
    }
    for (size_t k = 0; k < d->n_changed; k++) {
        uint32_t i = d->changed[2 * k], j = d->changed[2 * k + 1];
        REQUIRE(i < prev->len && !used_prev[i] && j < cur->len && !used_cur[j]);
        used_prev[i] = used_cur[j] = 1;
        REQUIRE(memcmp(&prev->rows[i], &cur->rows[j], offsetof(tt_row, state)) == 0);
        REQUIRE(prev->rows[i].state != cur->rows[j].state);
        left[0][prev->rows[i].local_port - 1000][prev->rows[i].state]--;
        left[1][cur->rows[j].local_port - 1000][cur->rows[j].state]--;
    }
    for (int key = 0; key < KEYS; key++) {
        REQUIRE(!(closed_keys[key] && opened_keys[key]));
        for (int s = 0; s < STATES; s++)
            REQUIRE(left[0][key][s] == left[1][key][s] && left[0][key][s] >= 0);
    }
    free(used_prev);
    free(used_cur);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tt_rows prev = {0}, cur = {0};
    tt_diff d;
    tt_error err = {0};
    unsigned keys;

    if (size < 1)
        return 0;
    memset(&d, 0, sizeof(d));
    keys = 1 + data[0] % KEYS;
    for (size_t p = 1; p + 1 < size; p += 2) {
        tt_row *r = tt_rows_push(data[p] & 0x80 ? &cur : &prev, &err);
        REQUIRE(r != NULL);
        make_row(r, (data[p] & 0x0F) % keys, 1 + data[p + 1] % (STATES - 1));
    }
    for (int round = 0; round < 2; round++) {
        REQUIRE(tt_rows_diff(&prev, &cur, &d, &err) == 0);
        check(&prev, &cur, &d);
    }
    tt_diff_free(&d);
    tt_rows_free(&prev);
    tt_rows_free(&cur);
    return 0;
}
