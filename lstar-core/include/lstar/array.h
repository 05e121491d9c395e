/* lstar/array.h — the element layer: one typed n-d array, whatever holds it.
 *
 * An lstar_array is an n-d array of one dtype backed by memory, by a Zarr
 * array, or (later) by an HDF5 dataset; the model's fields hold their value
 * arrays as lstar_arrays, so the same code reads a field from an L★ store, an
 * h5ad file or memory, block by block.  Backends implement lstar_array_ops
 * (a versioned, append-only table).
 *
 * Thread safety: reads may run concurrently on the same array if the backend
 * allows it (memory and Zarr do).
 */
#ifndef LSTAR_ARRAY_H
#define LSTAR_ARRAY_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/dtype.h"
#include "lstar/limits.h"
#include "lstar/status.h"
#include "lstar/strings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_array lstar_array;
struct lstar_zarr_array;
struct lstar_pool;

#define LSTAR_ARRAY_OPS_VERSION 1
typedef struct lstar_array_ops {
    int version;
    const char *kind; /* "memory", "zarr", "hdf5", … */
    /* Read [start, start+count) densely in C order, native byte order
     * (numeric/bool dtypes). */
    lstar_status (*read)(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err);
    /* Read flattened elements [start, start+count) of a STRING array into an
     * uninitialised `out`.  NULL for non-string backends. */
    lstar_status (*read_strings)(void *ctx, uint64_t start, uint64_t count, lstar_strings *out,
                                 lstar_error *err);
    /* Release ctx. */
    void (*close)(void *ctx);
    /* The Zarr array behind this one, or NULL (for raw chunk copy). Optional. */
    struct lstar_zarr_array *(*zarr)(void *ctx);
} lstar_array_ops;

/* Description shared by every backend. */
typedef struct lstar_array_info {
    lstar_dtype dtype;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t block[LSTAR_MAX_RANK]; /* preferred read unit (the chunk shape); 0 = whole dimension */
} lstar_array_info;

/* Wrap a backend: `ops` borrowed, `ctx` owned from now on (released by
 * ops->close, also when this call fails). */
lstar_status lstar_array_from_ops(const lstar_array_ops *ops, void *ctx, const lstar_array_info *info,
                                  lstar_array **out, lstar_error *err);
/* A memory array holding a copy of `data` (C order, native; may be NULL for
 * zero elements). */
lstar_status lstar_array_new_copy(lstar_dtype dtype, int rank, const uint64_t *shape, const void *data,
                                  lstar_array **out, lstar_error *err);
/* A memory array that takes ownership of `data` (lstar_malloc'd). On failure
 * `data` is freed too. */
lstar_status lstar_array_new_owned(lstar_dtype dtype, int rank, const uint64_t *shape, void *data,
                                   lstar_array **out, lstar_error *err);
/* A 1-D STRING memory array; takes ownership of the contents of *s (s is
 * left zeroed).  On failure *s is destroyed. */
lstar_status lstar_array_new_strings(lstar_strings *s, lstar_array **out, lstar_error *err);
/* An array backed by a Zarr array; takes ownership of `za` (closed with the
 * array, also on failure). */
lstar_status lstar_array_from_zarr(struct lstar_zarr_array *za, lstar_array **out, lstar_error *err);
void lstar_array_free(lstar_array *a); /* NULL accepted */

const lstar_array_info *lstar_array_get_info(const lstar_array *a);
lstar_dtype lstar_array_dtype(const lstar_array *a);
int lstar_array_rank(const lstar_array *a);
const uint64_t *lstar_array_shape(const lstar_array *a);
/* Product of the shape (1 for rank 0). */
uint64_t lstar_array_size(const lstar_array *a);
const char *lstar_array_kind(const lstar_array *a);
/* The Zarr array behind it, or NULL. Borrowed. */
struct lstar_zarr_array *lstar_array_zarr(const lstar_array *a);
/* For memory arrays: the data pointer (borrowed), else NULL. */
const void *lstar_array_memory(const lstar_array *a);
/* For memory STRING arrays: the strings (borrowed), else NULL. */
const lstar_strings *lstar_array_memory_strings(const lstar_array *a);

lstar_status lstar_array_read(const lstar_array *a, const uint64_t *start, const uint64_t *count, void *out,
                              lstar_error *err);
/* Read elements [start, start+count) of a 1-D array, converting to `as` (a
 * numeric/bool dtype). Convenience for metadata-sized vectors and blocks. */
lstar_status lstar_array_read_1d_as(const lstar_array *a, uint64_t start, uint64_t count, lstar_dtype as,
                                    void *out, lstar_error *err);
/* The whole array into a new lstar_malloc'd buffer (caller frees with
 * lstar_free).  Refuses (LSTAR_ERR_LIMIT) above `max_bytes` (0 = LSTAR_MAX_CHUNK_BYTES):
 * only for metadata-sized arrays. */
lstar_status lstar_array_read_all(const lstar_array *a, size_t max_bytes, void **out, size_t *nbytes,
                                  lstar_error *err);
lstar_status lstar_array_read_strings(const lstar_array *a, uint64_t start, uint64_t count, lstar_strings *out,
                                      lstar_error *err);

/* ---- parallel block reads (appended) ------------------------------------------------------------ */

/* lstar_array_read, with the chunk decoding spread over the workers of `pool`
 * (NULL: the calling thread decodes; still the faster path where it exists).
 * HDF5 arrays whose filters lstar's codecs decode (deflate via libdeflate,
 * shuffle, zstd 32015) read raw chunks serially on the calling thread and
 * decode them on the workers; Zarr arrays decode their chunks on the workers;
 * other backends and HDF5 filters (lzf, blosc, …) fall back to `read`.  The
 * result is byte-identical to lstar_array_read for any thread count.  Memory:
 * a few encoded and decoded chunks per worker.  Not re-entrant on `pool` (do
 * not call from inside one of its tasks). */
lstar_status lstar_array_read_pool(const lstar_array *a, const uint64_t *start, const uint64_t *count, void *out,
                                   struct lstar_pool *pool, lstar_error *err);
/* A backend's parallel read: like lstar_array_ops.read (same ctx), but chunk
 * decoding may run on the workers of `pool` (NULL = inline). */
typedef lstar_status (*lstar_array_read_pool_fn)(void *ctx, const uint64_t *start, const uint64_t *count,
                                                 void *out, struct lstar_pool *pool, lstar_error *err);
/* For backends: attach a parallel read to an array made by
 * lstar_array_from_ops (kept out of lstar_array_ops so the table's layout
 * stays unchanged).  Call before the array is shared. */
void lstar_array_set_read_pool(lstar_array *a, lstar_array_read_pool_fn fn);
/* For backends: the ctx of `a` if it was made by lstar_array_from_ops with
 * exactly `ops` (borrowed), else NULL. */
void *lstar_array_backend_ctx(const lstar_array *a, const lstar_array_ops *ops);
/* lstar_array_read_1d_as through lstar_array_read_pool. */
lstar_status lstar_array_read_1d_as_pool(const lstar_array *a, uint64_t start, uint64_t count, lstar_dtype as,
                                         void *out, struct lstar_pool *pool, lstar_error *err);

/* The chunk walker behind read_pool, for backends: reads the region
 * [start, start+count) of a chunked n-d array (regular grid `chunks` over
 * `shape`, `itemsize` bytes per element) into `out` (C order).  For each
 * chunk meeting the region, in C order of grid coordinates: `load` runs
 * serially on the calling thread (fetch the encoded bytes into slot `slot`,
 * slot < nslots, reused every nslots chunks), then `decode` runs on a pool
 * worker and writes the whole chunk (prod(chunks) * itemsize bytes, C order)
 * to `dst` — straight into `out` when the chunk lies inside the region and
 * is contiguous there, else into per-worker scratch from which the region's
 * part is copied.  `load` may be NULL. */
typedef struct lstar_chunk_walk {
    int rank;
    const uint64_t *shape;
    const uint64_t *chunks;
    size_t itemsize;
    size_t nslots; /* >= 1 */
    lstar_status (*load)(void *ud, const uint64_t *coords, size_t slot, lstar_error *err);
    lstar_status (*decode)(void *ud, const uint64_t *coords, size_t slot, int worker, void *dst, lstar_error *err);
    void *ud;
} lstar_chunk_walk;
lstar_status lstar_chunk_walk_read(const lstar_chunk_walk *w, const uint64_t *start, const uint64_t *count,
                                   void *out, struct lstar_pool *pool, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
