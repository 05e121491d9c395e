/* Internal: shared by the L★ store reader (read.c), writer (write.c) and the
 * directory front end (write_dir.c).  See docs/lstar-store-format.md. */
#ifndef LSTAR_INTERNAL_LSTARFMT_H
#define LSTAR_INTERNAL_LSTARFMT_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"

/* 1 if `name` may be used as one path segment of the store (axis, field,
 * passthrough namespace, leaf id): non-empty, not "." / "..", no '/' or '\\',
 * no control characters, shorter than 1024 bytes. */
int lstarfmt_name_ok(const char *name);

/* snprintf "%s/%s" (or just `b` when `a` is "") into buf; LSTAR_ERR_LIMIT
 * (where = a) if it does not fit in LSTAR_MAX_KEY_BYTES. */
lstar_status lstarfmt_join(char *buf, size_t bufsize, const char *a, const char *b, lstar_error *err);

#endif
