/* lstar/store.h — key/value stores that hold Zarr hierarchies.
 *
 * A store maps '/'-separated keys ("fields/X/data/.zarray", "c/0/1") to byte
 * objects.  Backends: a directory (read/write), a zip file (read-only:
 * STORED and DEFLATE entries, ZIP64, last duplicate central-directory entry
 * wins), and memory (read/write; for tests and staging).  Applications can
 * add their own backend by filling an lstar_store_ops table.
 *
 * Thread safety: once opened, get/get_range/size/exists may be called from
 * several threads at once on the same store.  set/erase on *different* keys may
 * also run concurrently for the directory and memory backends.  Close must not
 * race with anything.
 */
#ifndef LSTAR_STORE_H
#define LSTAR_STORE_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_store lstar_store;

/* open flags */
#define LSTAR_STORE_READ 0x1u   /* read access (always implied) */
#define LSTAR_STORE_WRITE 0x2u  /* allow set/erase */
#define LSTAR_STORE_CREATE 0x4u /* directory: create it (and parents) if missing */

/* Called once per key by lstar_store_list; return non-zero to stop early (the
 * list call then returns LSTAR_OK).  `key` is borrowed for the call only. */
typedef int (*lstar_store_list_cb)(void *ud, const char *key);

/* Backend table.  Append-only: new members go at the end and bump
 * LSTAR_STORE_OPS_VERSION.  Every pointer but the optional ones must be set.
 * Keys passed to backends are already normalised (no leading/trailing '/',
 * no '//', no '.' or '..' segments). */
#define LSTAR_STORE_OPS_VERSION 1
typedef struct lstar_store_ops {
    int version; /* LSTAR_STORE_OPS_VERSION the backend was written for */
    const char *name; /* "directory", "zip", "memory", … */
    /* Whole object: *data allocated with lstar_malloc (caller frees with
     * lstar_free); LSTAR_ERR_NOT_FOUND if absent.  `max_size` caps the object
     * size (LSTAR_ERR_LIMIT if larger). */
    lstar_status (*get)(void *ctx, const char *key, size_t max_size, uint8_t **data, size_t *size,
                        lstar_error *err);
    /* Bytes [offset, offset+length) into caller's buf; LSTAR_ERR_CORRUPT if the
     * object is shorter.  Optional (NULL: emulated through get). */
    lstar_status (*get_range)(void *ctx, const char *key, uint64_t offset, size_t length, uint8_t *buf,
                              lstar_error *err);
    /* Object size; LSTAR_ERR_NOT_FOUND if absent. */
    lstar_status (*size)(void *ctx, const char *key, uint64_t *size, lstar_error *err);
    /* Create or replace.  NULL for read-only backends. */
    lstar_status (*set)(void *ctx, const char *key, const uint8_t *data, size_t size, lstar_error *err);
    /* Remove a key; absent keys are not an error.  NULL for read-only backends. */
    lstar_status (*erase)(void *ctx, const char *key, lstar_error *err);
    /* Every key that starts with `prefix` (prefix "" = all keys), any order. */
    lstar_status (*list)(void *ctx, const char *prefix, lstar_store_list_cb cb, void *ud, lstar_error *err);
    /* Make written data durable (directory: nothing or fsync). Optional. */
    lstar_status (*flush)(void *ctx, lstar_error *err);
    /* Release ctx. */
    void (*close)(void *ctx);
} lstar_store_ops;

/* Wrap a backend.  `ops` is borrowed (must outlive the store); `ctx` is owned
 * by the store from then on and released with ops->close (also on failure). */
lstar_status lstar_store_from_ops(const lstar_store_ops *ops, void *ctx, unsigned flags, lstar_store **out,
                                  lstar_error *err);

/* Open a directory store at `path`.  With LSTAR_STORE_CREATE the directory is
 * created if needed.  Free with lstar_store_close. */
lstar_status lstar_store_open_dir(const char *path, unsigned flags, lstar_store **out, lstar_error *err);
/* Open a zip file read-only.  The central directory is read at open (capped by
 * LSTAR_MAX_ZIP_CDIR_BYTES); where a name appears twice the last entry wins. */
lstar_status lstar_store_open_zip(const char *path, lstar_store **out, lstar_error *err);
/* A new, empty read/write memory store. */
lstar_status lstar_store_new_memory(lstar_store **out, lstar_error *err);
/* Open `path` as a zip if it is a regular file starting with a zip signature,
 * else as a directory (flags as for lstar_store_open_dir). */
lstar_status lstar_store_open(const char *path, unsigned flags, lstar_store **out, lstar_error *err);

/* Release the store (NULL accepted). Flushes writable stores; errors are lost:
 * call lstar_store_flush first if they matter. */
void lstar_store_close(lstar_store *store);

/* The backend name ("directory", "zip", "memory"). Static string. */
const char *lstar_store_backend(const lstar_store *store);
/* Non-zero if the store was opened with LSTAR_STORE_WRITE. */
int lstar_store_writable(const lstar_store *store);

/* Read a whole object (see ops->get).  `max_size` 0 means LSTAR_MAX_CHUNK_BYTES. */
lstar_status lstar_store_get(lstar_store *store, const char *key, size_t max_size, uint8_t **data, size_t *size,
                             lstar_error *err);
lstar_status lstar_store_get_range(lstar_store *store, const char *key, uint64_t offset, size_t length,
                                   uint8_t *buf, lstar_error *err);
lstar_status lstar_store_size(lstar_store *store, const char *key, uint64_t *size, lstar_error *err);
/* 1 if the key exists, 0 if not; errors other than not-found are reported as 0
 * and copied to err. */
int lstar_store_exists(lstar_store *store, const char *key, lstar_error *err);
lstar_status lstar_store_set(lstar_store *store, const char *key, const void *data, size_t size,
                             lstar_error *err);
lstar_status lstar_store_erase(lstar_store *store, const char *key, lstar_error *err);
/* Every key starting with `prefix`.  Use a trailing '/' ("fields/X/") to list
 * one subtree; "" lists all. */
lstar_status lstar_store_list(lstar_store *store, const char *prefix, lstar_store_list_cb cb, void *ud,
                              lstar_error *err);
/* Immediate children of directory `dir` ("" = root): the distinct next path
 * segments of keys under "dir/", each reported once, in sorted order. */
lstar_status lstar_store_list_dir(lstar_store *store, const char *dir, lstar_store_list_cb cb, void *ud,
                                  lstar_error *err);
lstar_status lstar_store_flush(lstar_store *store, lstar_error *err);

/* Normalise a key in place: '\\' -> '/', strip leading/trailing '/', collapse
 * '//'.  Returns LSTAR_ERR_INVALID_ARG for '.'/'..' segments or over-long keys. */
lstar_status lstar_store_normalize_key(char *key, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
