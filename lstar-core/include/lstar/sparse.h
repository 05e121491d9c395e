/* lstar/sparse.h — block iteration over a CSR/CSC matrix (data, indices, indptr).
 *
 * The iterator walks the major axis (rows for CSR, columns for CSC) in blocks
 * holding about `target_nnz` stored entries (never splitting a major slice),
 * reading only the part of data/indices/indptr each block needs.  Memory is
 * O(block), independent of nnz.  Every block is validated: indptr starts at 0,
 * is non-decreasing and ends at len(data) == len(indices); indices lie in
 * [0, minor_len).  Violations → LSTAR_ERR_CORRUPT naming the array and position.
 */
#ifndef LSTAR_SPARSE_H
#define LSTAR_SPARSE_H
#include <stdint.h>
#include "lstar/array.h"
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_sparse_iter lstar_sparse_iter;

typedef struct lstar_sparse_block {
    uint64_t major_start;   /* first row (CSR) / column (CSC) of the block */
    uint64_t major_count;   /* number of rows/columns in the block */
    uint64_t nnz_start;     /* position of the block's first entry in data/indices */
    uint64_t nnz;           /* entries in the block */
    const int64_t *indptr;  /* major_count+1 entries, relative: indptr[0] == 0 */
    const int64_t *indices; /* nnz entries, widened to int64 */
    const void *data;       /* nnz entries of data_dtype, native order */
    lstar_dtype data_dtype;
} lstar_sparse_block;

/* Arrays are borrowed (must outlive the iterator).  `major_len` is the number
 * of rows (CSR) / columns (CSC); `minor_len` the other dimension.
 * target_nnz 0 = a default near 1M entries. */
lstar_status lstar_sparse_iter_new(const lstar_array *data, const lstar_array *indices, const lstar_array *indptr,
                                   uint64_t major_len, uint64_t minor_len, uint64_t target_nnz,
                                   lstar_sparse_iter **out, lstar_error *err);
/* Next block; *done = 1 (and blk untouched) when exhausted.  Block pointers
 * stay valid until the next call or free. */
lstar_status lstar_sparse_iter_next(lstar_sparse_iter *it, lstar_sparse_block *blk, int *done, lstar_error *err);
/* Restart from the first block. */
void lstar_sparse_iter_rewind(lstar_sparse_iter *it);
void lstar_sparse_iter_free(lstar_sparse_iter *it); /* NULL accepted */

/* (appended) Decode the chunks of each block's data and indices on the
 * workers of `pool` (lstar_array_read_pool; borrowed, NULL = the calling
 * thread).  Blocks are the same whatever the pool.  Do not call
 * lstar_sparse_iter_next from inside a task of that pool. */
struct lstar_pool;
void lstar_sparse_iter_set_pool(lstar_sparse_iter *it, struct lstar_pool *pool);

#ifdef __cplusplus
}
#endif
#endif
