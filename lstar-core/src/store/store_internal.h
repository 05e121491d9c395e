/* Internal: the store handle and helpers shared by the store backends. */
#ifndef LSTAR_INTERNAL_STORE_H
#define LSTAR_INTERNAL_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "lstar/limits.h"
#include "lstar/store.h"

struct lstar_store {
    const lstar_store_ops *ops; /* borrowed */
    void *ctx;                  /* owned, released by ops->close */
    unsigned flags;             /* LSTAR_STORE_* */
};

/* Room for one normalised key plus its NUL. */
#define LSTAR_STORE_KEY_BUF (LSTAR_MAX_KEY_BYTES + 1)

/* Copy `key` into `out` (LSTAR_STORE_KEY_BUF bytes) and normalise it.
 * allow_empty: accept "" (the root, for list prefixes); otherwise an empty key
 * is LSTAR_ERR_INVALID_ARG. */
lstar_status lstar_store_key_copy(const char *key, char *out, int allow_empty, lstar_error *err);

#endif
