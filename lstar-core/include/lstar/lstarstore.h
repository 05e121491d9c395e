/* lstar/lstarstore.h — read and write L★ stores (.lstar.zarr, spec 0.1), Zarr v2 or v3.
 *
 * Reading is lazy: axis labels, categorical/utf8 values and other
 * metadata-sized arrays may be loaded, but matrix-sized arrays stay in the
 * store and are read block by block through lstar_array.
 * Writing streams every array block by block (memory bounded by a few chunks
 * per thread) and builds the output under a temporary name that is renamed to
 * the destination only on success.
 */
#ifndef LSTAR_LSTARSTORE_H
#define LSTAR_LSTARSTORE_H
#include <stdint.h>
#include "lstar/model.h"
#include "lstar/status.h"
#include "lstar/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: called with bytes (or elements) done so far and the total; may be NULL. */
typedef void (*lstar_progress_fn)(void *ud, uint64_t done, uint64_t total);

typedef struct lstar_write_options {
    int zarr_format;          /* 2 (default) or 3 */
    const char *compression;  /* codec spec for every array ("none" default, "gzip:5", "zstd:3", …) */
    uint64_t chunk_elems;     /* first-axis chunking target; 0 = single chunk per array (upstream default),
                                 except arrays above LSTAR_DEFAULT_STREAM_CHUNK_ELEMS elements, which get
                                 chunks of that many elements so they never have to be held whole */
    uint64_t shard_elems;     /* v3: elements per shard (multiple chunks); 0 = unsharded */
    int threads;              /* encoder threads; 0 = all cores */
    int overwrite;            /* replace an existing destination */
    int consolidate;          /* write consolidated metadata (default 1) */
    lstar_progress_fn progress;
    void *progress_ud;
} lstar_write_options;

void lstar_write_options_init(lstar_write_options *o);

/* 1 if `store` holds an L★ root (attribute "lstar" with axes/fields). */
int lstar_store_is_lstar(lstar_store *store);

/* Read the L★ dataset in `store`.  The dataset takes ownership of the store
 * (closed with the dataset, also on failure). */
lstar_status lstar_dataset_read_store(lstar_store *store, lstar_dataset **out, lstar_error *err);
/* Open `path` (directory or zip) and read it. */
lstar_status lstar_dataset_read(const char *path, lstar_dataset **out, lstar_error *err);

/* Write `ds` into the (empty, writable) store. */
lstar_status lstar_dataset_write_store(const lstar_dataset *ds, lstar_store *store, const lstar_write_options *o,
                                       lstar_error *err);
/* Write `ds` as a directory store at `path`: built at "<path>.tmp-<pid>-<n>"
 * and renamed on success; LSTAR_ERR_EXISTS if `path` exists and !overwrite.
 * On failure nothing is left at `path` (and an existing one is untouched). */
lstar_status lstar_dataset_write(const lstar_dataset *ds, const char *path, const lstar_write_options *o,
                                 lstar_error *err);

/* Chunk rows for first-axis chunking (upstream `_chunks_for`):
 * rows = max(1, chunk_elems / prod(shape[1:])), whole axis if 0 or rows >= shape[0]. */
uint64_t lstar_chunk_rows(uint64_t chunk_elems, int rank, const uint64_t *shape);

/* Add every field of `add` to the existing L★ store at `path` (a directory
 * store, Zarr v2 or v3), in place.  The fields' span axes must exist in the
 * store with the same lengths (axes of `add` are only used for that check and
 * are not written).  The new field groups are written first (built under
 * "<path>.append-tmp-<pid>-<n>" with lstar_dataset_write and renamed into
 * <path>/fields/), then the root attributes' `fields` list, then the
 * consolidated metadata (each file replaced atomically), so a failure at any
 * point leaves the old store readable.  o->compression, chunk_elems,
 * shard_elems, threads and overwrite apply (overwrite: replace fields of the
 * same name; otherwise LSTAR_ERR_EXISTS before anything is written);
 * o->zarr_format is ignored (the store's own is used); consolidated metadata
 * is rewritten when the store has it.  `o` may be NULL (defaults).  Not safe
 * against concurrent writers of the same store. */
lstar_status lstar_dataset_append_fields(const char *path, const lstar_dataset *add, const lstar_write_options *o,
                                         lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
