/* Internal: growable byte buffer with a hard cap (curl dynbuf style). */
#ifndef LSTAR_INTERNAL_BUF_H
#define LSTAR_INTERNAL_BUF_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"
#include "common/error.h"

typedef struct lstar_buf {
    uint8_t *data; /* lstar_malloc'd */
    size_t size;
    size_t cap;
    size_t limit; /* 0 = LSTAR_MAX_CHUNK_BYTES */
} lstar_buf;

void lstar_buf_init(lstar_buf *b, size_t limit);
void lstar_buf_destroy(lstar_buf *b);
/* Ensure room for `extra` more bytes. LSTAR_ERR_LIMIT past the cap, NOMEM on failure. */
lstar_status lstar_buf_reserve(lstar_buf *b, size_t extra, lstar_error *err);
lstar_status lstar_buf_append(lstar_buf *b, const void *data, size_t n, lstar_error *err);
lstar_status lstar_buf_appendf(lstar_buf *b, lstar_error *err, const char *fmt, ...) LSTAR_PRINTF(3, 4);
/* Hand the data over (caller frees with lstar_free); buffer becomes empty. */
uint8_t *lstar_buf_detach(lstar_buf *b, size_t *size);

#endif
