/* lstar/strings.h — a packed array of UTF-8 strings (bytes + offsets).
 *
 * Item i is bytes[offsets[i] .. offsets[i+1]); offsets has n+1 entries with
 * offsets[0] == 0.  This is the L★ on-disk string layout and the in-memory one
 * for labels, categories and utf8 fields. */
#ifndef LSTAR_STRINGS_H
#define LSTAR_STRINGS_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_strings {
    size_t n;          /* number of items */
    uint8_t *bytes;    /* offsets[n] bytes, lstar_malloc'd (may be NULL when 0) */
    int64_t *offsets;  /* n+1 entries, lstar_malloc'd */
    size_t bytes_cap;  /* allocation sizes (for appending) */
    size_t n_cap;
} lstar_strings;

/* Initialise empty (n = 0, offsets = {0}). */
lstar_status lstar_strings_init(lstar_strings *s, lstar_error *err);
/* Release the buffers (struct is caller-owned); NULL accepted; leaves s zeroed. */
void lstar_strings_destroy(lstar_strings *s);
/* Append one item of `len` bytes (need not be NUL-terminated). */
lstar_status lstar_strings_append(lstar_strings *s, const char *str, size_t len, lstar_error *err);
/* Make room for `n_items` more items and `nbytes` more bytes (appends then do not reallocate). */
lstar_status lstar_strings_reserve(lstar_strings *s, size_t n_items, size_t nbytes, lstar_error *err);
/* Give back the unused capacity (never fails: keeps the buffers when the allocator cannot shrink them). */
void lstar_strings_shrink(lstar_strings *s);
/* Build from C strings (copied). */
lstar_status lstar_strings_from_cstrs(lstar_strings *s, const char *const *items, size_t n, lstar_error *err);
/* Deep copy into an uninitialised dst. */
lstar_status lstar_strings_copy(lstar_strings *dst, const lstar_strings *src, lstar_error *err);
/* Item i (not NUL-terminated); *len receives its byte length. */
const char *lstar_strings_get(const lstar_strings *s, size_t i, size_t *len);
/* Item i copied into buf as a NUL-terminated string (truncated to bufsize-1). */
char *lstar_strings_get_cstr(const lstar_strings *s, size_t i, char *buf, size_t bufsize);
/* 1 if both hold the same items in the same order. */
int lstar_strings_equal(const lstar_strings *a, const lstar_strings *b);
/* Check offsets are monotone, start at 0, end within bytes; LSTAR_ERR_CORRUPT if not. */
lstar_status lstar_strings_check(const lstar_strings *s, size_t nbytes, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
