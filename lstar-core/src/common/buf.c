#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

void lstar_buf_init(lstar_buf *b, size_t limit) {
    memset(b, 0, sizeof *b);
    b->limit = limit ? limit : (size_t)LSTAR_MAX_CHUNK_BYTES;
}

void lstar_buf_destroy(lstar_buf *b) {
    if (!b) return;
    lstar_free(b->data);
    b->data = NULL;
    b->size = b->cap = 0;
}

lstar_status lstar_buf_reserve(lstar_buf *b, size_t extra, lstar_error *err) {
    if (extra > b->limit || b->size > b->limit - extra)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "buffer would exceed its %zu-byte limit", b->limit);
    size_t need = b->size + extra;
    if (need <= b->cap) return LSTAR_OK;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) ncap = ncap > b->limit / 2 ? b->limit : ncap * 2;
    uint8_t *p = lstar_realloc(b->data, ncap);
    if (!p) return LSTAR_NOMEM(err, NULL);
    b->data = p;
    b->cap = ncap;
    return LSTAR_OK;
}

lstar_status lstar_buf_append(lstar_buf *b, const void *data, size_t n, lstar_error *err) {
    lstar_status st = lstar_buf_reserve(b, n, err);
    if (st != LSTAR_OK) return st;
    if (n) memcpy(b->data + b->size, data, n);
    b->size += n;
    return LSTAR_OK;
}

lstar_status lstar_buf_appendf(lstar_buf *b, lstar_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, NULL, "format error");
    lstar_status st = lstar_buf_reserve(b, (size_t)n + 1, err);
    if (st != LSTAR_OK) return st;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->size, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->size += (size_t)n;
    return LSTAR_OK;
}

uint8_t *lstar_buf_detach(lstar_buf *b, size_t *size) {
    uint8_t *d = b->data;
    if (size) *size = b->size;
    b->data = NULL;
    b->size = b->cap = 0;
    return d;
}
