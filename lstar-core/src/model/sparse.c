/* Block iteration over a CSR/CSC matrix (data, indices, indptr) through the
 * public lstar_array API, whatever backs the arrays.
 *
 * indptr is read through a sliding window of SPARSE_INDPTR_WINDOW entries, the
 * block's indices/data are read per block, so memory is O(block) whatever the
 * matrix size.  A block gathers whole major slices while the total stays
 * within target_nnz (a single slice may exceed it); it also stops after
 * max(target_nnz, SPARSE_MIN_MAJOR_CAP) slices so runs of empty slices stay
 * bounded too.
 */
#include "lstar/sparse.h"

#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

#define SPARSE_DEFAULT_TARGET ((uint64_t)1 << 20)
#define SPARSE_INDPTR_WINDOW ((uint64_t)1 << 16)
#define SPARSE_MIN_MAJOR_CAP ((uint64_t)4096)

struct lstar_sparse_iter {
    const lstar_array *data, *indices, *indptr; /* borrowed */
    uint64_t major_len, minor_len, nnz, target, max_major;
    lstar_dtype data_dtype;
    size_t data_esize;
    /* position */
    uint64_t pos;      /* next major slice */
    uint64_t pos_nnz;  /* indptr[pos] */
    /* indptr window: win[i] = indptr[win_start + i], i < win_len */
    int64_t *win;
    uint64_t win_start, win_len;
    /* current block */
    int64_t *blk_indptr;
    uint64_t blk_indptr_cap; /* entries */
    int64_t *blk_indices;
    uint64_t blk_indices_cap; /* entries */
    uint8_t *blk_data;
    uint64_t blk_data_cap; /* bytes */
    struct lstar_pool *pool; /* borrowed; decodes data/indices chunks (may be NULL) */
};

/* Grow *buf to hold at least `need` items of `size` bytes (never shrinks). */
static lstar_status grow(void **buf, uint64_t *cap, uint64_t need, size_t size, const char *what, lstar_error *err) {
    if (need <= *cap) return LSTAR_OK;
    if (need > LSTAR_MAX_CHUNK_BYTES / size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, what,
                          "a block of %llu entries exceeds the %llu-byte block limit (one major slice too large?)",
                          (unsigned long long)need, (unsigned long long)LSTAR_MAX_CHUNK_BYTES);
    uint64_t ncap = *cap ? *cap : 64;
    while (ncap < need) ncap = ncap > LSTAR_MAX_CHUNK_BYTES / size / 2 ? need : ncap * 2;
    void *p = lstar_realloc(*buf, (size_t)(ncap * size));
    if (!p) return LSTAR_NOMEM(err, what);
    *buf = p;
    *cap = ncap;
    return LSTAR_OK;
}

/* indptr[i] through the window (forward moves reload it). */
static lstar_status indptr_at(lstar_sparse_iter *it, uint64_t i, int64_t *v, lstar_error *err) {
    if (i < it->win_start || i >= it->win_start + it->win_len) {
        uint64_t n = it->major_len + 1 - i;
        if (n > SPARSE_INDPTR_WINDOW) n = SPARSE_INDPTR_WINDOW;
        it->win_len = 0;
        lstar_status st = lstar_array_read_1d_as(it->indptr, i, n, LSTAR_DTYPE_INT64, it->win, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, "indptr");
            return st;
        }
        it->win_start = i;
        it->win_len = n;
    }
    *v = it->win[i - it->win_start];
    return LSTAR_OK;
}

static lstar_status check_1d(const lstar_array *a, const char *name, lstar_error *err) {
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, name, "%s array is NULL", name);
    if (lstar_array_rank(a) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "%s must be 1-D, not rank %d", name, lstar_array_rank(a));
    return LSTAR_OK;
}

lstar_status lstar_sparse_iter_new(const lstar_array *data, const lstar_array *indices, const lstar_array *indptr,
                                   uint64_t major_len, uint64_t minor_len, uint64_t target_nnz,
                                   lstar_sparse_iter **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_sparse_iter *it = NULL;
    if (out) *out = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    LSTAR_CHECK(check_1d(data, "data", err));
    LSTAR_CHECK(check_1d(indices, "indices", err));
    LSTAR_CHECK(check_1d(indptr, "indptr", err));
    lstar_dtype dt = lstar_array_dtype(data);
    size_t esize = lstar_dtype_size(dt);
    if (dt == LSTAR_DTYPE_STRING || esize == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, "data", "sparse data of dtype %s is not supported",
                        lstar_dtype_name(dt));
        goto done;
    }
    if (!lstar_dtype_is_integer(lstar_array_dtype(indices))) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "indices", "indices must be integers, not %s",
                        lstar_dtype_name(lstar_array_dtype(indices)));
        goto done;
    }
    if (!lstar_dtype_is_integer(lstar_array_dtype(indptr))) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "indptr", "indptr must be integers, not %s",
                        lstar_dtype_name(lstar_array_dtype(indptr)));
        goto done;
    }
    uint64_t nnz = lstar_array_shape(data)[0], nidx = lstar_array_shape(indices)[0];
    uint64_t nptr = lstar_array_shape(indptr)[0];
    if (major_len == UINT64_MAX || nptr != major_len + 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr has %llu entries, expected %llu (major length + 1)",
                        (unsigned long long)nptr, (unsigned long long)major_len + 1);
        goto done;
    }
    if (nidx != nnz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indices", "indices has %llu entries but data has %llu",
                        (unsigned long long)nidx, (unsigned long long)nnz);
        goto done;
    }
    if (nnz > (uint64_t)INT64_MAX) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, "data", "%llu stored entries exceed int64", (unsigned long long)nnz);
        goto done;
    }
    it = lstar_calloc(1, sizeof *it);
    if (!it) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    it->data = data;
    it->indices = indices;
    it->indptr = indptr;
    it->major_len = major_len;
    it->minor_len = minor_len;
    it->nnz = nnz;
    it->target = target_nnz ? target_nnz : SPARSE_DEFAULT_TARGET;
    it->max_major = it->target > SPARSE_MIN_MAJOR_CAP ? it->target : SPARSE_MIN_MAJOR_CAP;
    it->data_dtype = dt;
    it->data_esize = esize;
    it->win = lstar_malloc((size_t)SPARSE_INDPTR_WINDOW * sizeof *it->win);
    if (!it->win) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    /* small initial buffers so block pointers are never NULL */
    LSTAR_CHECK(grow((void **)&it->blk_indptr, &it->blk_indptr_cap, 2, sizeof(int64_t), "indptr", err));
    LSTAR_CHECK(grow((void **)&it->blk_indices, &it->blk_indices_cap, 1, sizeof(int64_t), "indices", err));
    LSTAR_CHECK(grow((void **)&it->blk_data, &it->blk_data_cap, esize, 1, "data", err));
    /* the ends of indptr, checked up front */
    int64_t first = 0, last = 0;
    LSTAR_CHECK(indptr_at(it, major_len, &last, err));
    LSTAR_CHECK(indptr_at(it, 0, &first, err));
    if (first != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr[0] is %lld, must be 0", (long long)first);
        goto done;
    }
    if (last < 0 || (uint64_t)last != nnz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr[%llu] is %lld, must equal len(data) = %llu",
                        (unsigned long long)major_len, (long long)last, (unsigned long long)nnz);
        goto done;
    }
    *out = it;
    it = NULL;
done:
    lstar_sparse_iter_free(it);
    return st;
}

lstar_status lstar_sparse_iter_next(lstar_sparse_iter *it, lstar_sparse_block *blk, int *done, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    if (!it || !blk || !done) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "NULL argument");
    *done = 0;
    if (it->pos >= it->major_len) {
        *done = 1;
        return LSTAR_OK;
    }
    const uint64_t start = it->pos, base = it->pos_nnz;
    uint64_t count = 0, prev = base;
    LSTAR_CHECK(grow((void **)&it->blk_indptr, &it->blk_indptr_cap, 2, sizeof(int64_t), "indptr", err));
    it->blk_indptr[0] = 0;
    while (start + count < it->major_len && count < it->max_major) {
        uint64_t i = start + count + 1;
        int64_t v = 0;
        LSTAR_CHECK(indptr_at(it, i, &v, err));
        if (v < 0 || (uint64_t)v < prev) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr decreases at position %llu (%lld after %llu)",
                            (unsigned long long)i, (long long)v, (unsigned long long)prev);
            goto done;
        }
        if ((uint64_t)v > it->nnz) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr",
                            "indptr[%llu] = %lld exceeds the number of stored entries %llu", (unsigned long long)i,
                            (long long)v, (unsigned long long)it->nnz);
            goto done;
        }
        if (i == it->major_len && (uint64_t)v != it->nnz) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr[%llu] is %lld, must equal len(data) = %llu",
                            (unsigned long long)i, (long long)v, (unsigned long long)it->nnz);
            goto done;
        }
        /* keep whole slices; stop before one that would overshoot the target */
        if (count > 0 && (uint64_t)v - base > it->target) break;
        LSTAR_CHECK(grow((void **)&it->blk_indptr, &it->blk_indptr_cap, count + 2, sizeof(int64_t), "indptr", err));
        it->blk_indptr[count + 1] = (int64_t)((uint64_t)v - base);
        count++;
        prev = (uint64_t)v;
        if (prev - base >= it->target) break;
    }
    uint64_t nnz = prev - base;
    LSTAR_CHECK(grow((void **)&it->blk_indices, &it->blk_indices_cap, nnz ? nnz : 1, sizeof(int64_t), "indices", err));
    LSTAR_CHECK(grow((void **)&it->blk_data, &it->blk_data_cap, (nnz ? nnz : 1) * it->data_esize, 1, "data", err));
    if (nnz) {
        st = lstar_array_read_1d_as_pool(it->indices, base, nnz, LSTAR_DTYPE_INT64, it->blk_indices, it->pool, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, "indices");
            goto done;
        }
        /* Branch-free range check (vectorised); a negative index is a huge unsigned one. */
        const int64_t *ix = it->blk_indices;
        const uint64_t lim = it->minor_len;
        int bad = 0;
        for (uint64_t j = 0; j < nnz; j++) bad |= (uint64_t)ix[j] >= lim;
        for (uint64_t j = 0; bad && j < nnz; j++) {
            int64_t c = it->blk_indices[j];
            if (c < 0 || (uint64_t)c >= it->minor_len) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indices",
                                "indices[%llu] = %lld is outside [0, %llu) (major slice %llu)",
                                (unsigned long long)(base + j), (long long)c, (unsigned long long)it->minor_len,
                                (unsigned long long)start);
                goto done;
            }
        }
        uint64_t dstart = base, dcount = nnz;
        st = lstar_array_read_pool(it->data, &dstart, &dcount, it->blk_data, it->pool, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, "data");
            goto done;
        }
    }
    blk->major_start = start;
    blk->major_count = count;
    blk->nnz_start = base;
    blk->nnz = nnz;
    blk->indptr = it->blk_indptr;
    blk->indices = it->blk_indices;
    blk->data = it->blk_data;
    blk->data_dtype = it->data_dtype;
    it->pos = start + count;
    it->pos_nnz = prev;
done:
    return st;
}

void lstar_sparse_iter_set_pool(lstar_sparse_iter *it, struct lstar_pool *pool) {
    if (it) it->pool = pool;
}

void lstar_sparse_iter_rewind(lstar_sparse_iter *it) {
    if (!it) return;
    it->pos = 0;
    it->pos_nnz = 0;
}

void lstar_sparse_iter_free(lstar_sparse_iter *it) {
    if (!it) return;
    lstar_free(it->win);
    lstar_free(it->blk_indptr);
    lstar_free(it->blk_indices);
    lstar_free(it->blk_data);
    lstar_free(it);
}
