/* The row array shared by every backend, and the one sort order. */
#include <stdlib.h>
#include <string.h>

#include "tcptable.h"

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
    rows->rows = NULL;
    rows->len = rows->cap = 0;
}

#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static int
compare_rows(const void *pa, const void *pb)
{
    const tt_row *a = pa, *b = pb;
    int c;
    if ((c = memcmp(a->local_addr, b->local_addr, 16)) != 0)
        return c;
    if ((c = CMP(a->local_scope_id, b->local_scope_id)) != 0)
        return c;
    if ((c = CMP(a->local_port, b->local_port)) != 0)
        return c;
    if ((c = memcmp(a->remote_addr, b->remote_addr, 16)) != 0)
        return c;
    if ((c = CMP(a->remote_scope_id, b->remote_scope_id)) != 0)
        return c;
    return CMP(a->remote_port, b->remote_port);
}

void
tt_rows_sort(tt_rows *rows)
{
    if (rows->len > 1)
        qsort(rows->rows, rows->len, sizeof(tt_row), compare_rows);
}
