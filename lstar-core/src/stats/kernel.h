/* Internal: the block-streaming kernel layer shared by compute kernels
 * (stats first; the ones that follow reuse it).  See docs/internals/stats.md.
 *
 * A kernel stream cuts a matrix (CSR, CSC or dense; any lstar_array backend)
 * into blocks and runs one pass over them through lstar_pool_pipeline:
 *
 *   load   (serial)   nothing but bookkeeping: the block plan is made up front
 *   work   (parallel) the worker reads the block's data/indices (or dense rows)
 *                     itself — so Zarr chunk decoding runs on every core — checks
 *                     the indices, then calls the kernel's work function
 *   store  (serial)   the kernel's store function, in BLOCK order
 *
 * Sparse blocks are ranges of stored entries [e0, e1) whose boundaries are
 * multiples of the data array's chunk (whole chunks are decoded straight into
 * the block buffer, none twice); a block may start or end inside a major
 * slice, so kernels must merge per-slice partials across blocks (stats does it
 * exactly, see dd.h).  Dense blocks are ranges of whole rows, multiples of the
 * row chunk.  The plan depends only on the matrix and block_nnz, never on the
 * thread count; work functions get a slot (item % batch) to index per-slot
 * partial results and a worker id for per-worker scratch, and the store stage
 * reduces slots in block order — so results never depend on threads.
 *
 * Memory: the full indptr (major_len + 1 int64: metadata-sized), the block
 * plan (nnz / block entries), and per worker one block of data + indices.
 */
#ifndef LSTAR_INTERNAL_STATS_KERNEL_H
#define LSTAR_INTERNAL_STATS_KERNEL_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/stats.h"

/* One block as a work function sees it.  Pointers are valid during the call. */
typedef struct lstar_kblock {
    size_t index;          /* block number, 0.. */
    /* sparse (CSR/CSC) */
    uint64_t e0, e1;       /* stored entries [e0, e1) */
    uint64_t m0, m1;       /* major slices holding them: [m0, m1); m0/m1-1 may be partial */
    const int64_t *indptr; /* the whole indptr (absolute offsets), major_len + 1 entries */
    const void *data;      /* e1 - e0 values of data_dtype (entry e is data[e - e0]) */
    const int32_t *idx32;  /* e1 - e0 minor indices, checked in [0, minor_len): */
    const int64_t *idx64;  /*   exactly one of idx32 / idx64 is non-NULL */
    /* dense */
    uint64_t r0, nr;       /* rows [r0, r0 + nr) */
    const void *values;    /* nr × ncols values of data_dtype, C order */
    lstar_dtype data_dtype;
} lstar_kblock;

typedef lstar_status (*lstar_kwork_fn)(void *ud, const lstar_kblock *b, size_t slot, int worker, lstar_error *err);
/* Serial, in block order.  `b` carries the ranges only (no data pointers). */
typedef lstar_status (*lstar_kstore_fn)(void *ud, const lstar_kblock *b, size_t slot, lstar_error *err);

typedef struct lstar_kstream lstar_kstream;

/* Plan the blocks of `m` (arrays borrowed; must outlive the stream), validate
 * indptr, start a pool of `threads` (0 = all cores).  block_nnz 0 = default. */
lstar_status lstar_kstream_new(const lstar_stats_matrix *m, uint64_t block_nnz, int threads, lstar_kstream **out,
                               lstar_error *err);
void lstar_kstream_free(lstar_kstream *ks); /* NULL accepted */

/* Per-slot partial results: keep this many (item i uses slot i % slots). */
size_t lstar_kstream_slots(const lstar_kstream *ks);
int lstar_kstream_threads(const lstar_kstream *ks);
size_t lstar_kstream_blocks(const lstar_kstream *ks);
/* Stored entries (dense: elements) one pass streams. */
uint64_t lstar_kstream_nnz(const lstar_kstream *ks);
const lstar_stats_matrix *lstar_kstream_matrix(const lstar_kstream *ks);
/* The validated indptr (NULL for dense). */
const int64_t *lstar_kstream_indptr(const lstar_kstream *ks);
/* The largest block (entries for sparse, rows for dense). */
uint64_t lstar_kstream_max_block(const lstar_kstream *ks);
/* The most major slices (sparse: m1 - m0) or rows (dense) one block touches:
 * the size of per-block partials indexed by slice. */
uint64_t lstar_kstream_max_span(const lstar_kstream *ks);

/* One pass: work on every block (parallel), store in block order (serial).
 * First failure (lowest block) is returned. */
lstar_status lstar_kstream_run(lstar_kstream *ks, lstar_kwork_fn work, lstar_kstore_fn store, void *ud,
                               lstar_error *err);

#endif
