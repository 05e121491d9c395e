/* The block-streaming kernel layer: block plan, parallel block reads, ordered
 * reduction (see kernel.h and docs/internals/stats.md). */
#include "stats/kernel.h"

#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/pool.h"

/* Default stored entries per block: large enough that per-block overheads
 * (zeroing and merging an O(columns) partial) stay small, small enough that
 * a block of data + indices per worker is a few MB. */
#define KSTREAM_DEFAULT_BLOCK ((uint64_t)1 << 20)

typedef struct kplan {
    uint64_t e0, e1, m0, m1; /* sparse */
    uint64_t r0, nr;         /* dense */
} kplan;

typedef struct kscratch {
    void *data;
    size_t data_cap;
    void *idx;
    size_t idx_cap;
} kscratch;

struct lstar_kstream {
    lstar_stats_matrix m;
    int sparse;
    uint64_t major_len, minor_len, nnz;
    int64_t *indptr;
    kplan *plan;
    size_t nblocks;
    uint64_t max_block;
    lstar_dtype data_dtype, idx_dtype;
    size_t data_esize;
    lstar_pool *pool;
    kscratch *scratch; /* one per worker */
    int nworkers;
    size_t slots;
    /* current pass */
    lstar_kwork_fn work;
    lstar_kstore_fn store;
    void *ud;
};

size_t lstar_kstream_slots(const lstar_kstream *ks) { return ks->slots; }
int lstar_kstream_threads(const lstar_kstream *ks) { return ks->nworkers; }
size_t lstar_kstream_blocks(const lstar_kstream *ks) { return ks->nblocks; }
uint64_t lstar_kstream_nnz(const lstar_kstream *ks) { return ks->nnz; }
const lstar_stats_matrix *lstar_kstream_matrix(const lstar_kstream *ks) { return &ks->m; }
const int64_t *lstar_kstream_indptr(const lstar_kstream *ks) { return ks->indptr; }
uint64_t lstar_kstream_max_block(const lstar_kstream *ks) { return ks->max_block; }

uint64_t lstar_kstream_max_span(const lstar_kstream *ks) {
    uint64_t best = 0;
    for (size_t k = 0; k < ks->nblocks; k++) {
        uint64_t span = ks->sparse ? ks->plan[k].m1 - ks->plan[k].m0 : ks->plan[k].nr;
        if (span > best) best = span;
    }
    return best;
}

void lstar_kstream_free(lstar_kstream *ks) {
    if (!ks) return;
    lstar_pool_free(ks->pool);
    if (ks->scratch)
        for (int w = 0; w < ks->nworkers; w++) {
            lstar_free(ks->scratch[w].data);
            lstar_free(ks->scratch[w].idx);
        }
    lstar_free(ks->scratch);
    lstar_free(ks->plan);
    lstar_free(ks->indptr);
    lstar_free(ks);
}

/* Round `target` up to a multiple of `unit` (unit 0 = no rounding). */
static uint64_t round_up(uint64_t target, uint64_t unit) {
    if (unit == 0 || target % unit == 0) return target;
    uint64_t r = (target / unit + 1) * unit;
    return r < target ? target : r;
}

/* First m in [lo, hi] with indptr[m] > v (hi if none). */
static uint64_t upper_bound(const int64_t *p, uint64_t lo, uint64_t hi, uint64_t v) {
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((uint64_t)p[mid] > v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static lstar_status plan_sparse(lstar_kstream *ks, uint64_t block_nnz, lstar_error *err) {
    const lstar_array *data = ks->m.data;
    const lstar_array_info *di = lstar_array_get_info(data);
    uint64_t chunk = di->block[0];
    if (chunk >= ks->nnz) chunk = 0;
    uint64_t b = round_up(block_nnz, chunk);
    if (b > LSTAR_MAX_CHUNK_BYTES / 16) b = LSTAR_MAX_CHUNK_BYTES / 16;
    if (chunk && b % chunk) b = chunk; /* a huge chunk: one per block */
    ks->nblocks = (size_t)((ks->nnz + b - 1) / b);
    ks->max_block = ks->nnz < b ? ks->nnz : b;
    if (ks->nblocks == 0) return LSTAR_OK;
    ks->plan = lstar_calloc(ks->nblocks, sizeof *ks->plan);
    if (!ks->plan) return LSTAR_NOMEM(err, NULL);
    for (size_t k = 0; k < ks->nblocks; k++) {
        kplan *p = &ks->plan[k];
        p->e0 = (uint64_t)k * b;
        p->e1 = p->e0 + b < ks->nnz ? p->e0 + b : ks->nnz;
        /* the slice holding e0: indptr[m0] <= e0 < indptr[m0+1] */
        p->m0 = upper_bound(ks->indptr, 0, ks->major_len, p->e0) - 1;
        /* first slice starting at or after e1 */
        p->m1 = upper_bound(ks->indptr, p->m0, ks->major_len, p->e1 - 1);
    }
    return LSTAR_OK;
}

static lstar_status plan_dense(lstar_kstream *ks, uint64_t block_nnz, lstar_error *err) {
    const lstar_array_info *vi = lstar_array_get_info(ks->m.values);
    uint64_t ncols = ks->m.ncols ? ks->m.ncols : 1;
    uint64_t rows = block_nnz / ncols;
    if (rows == 0) rows = 1;
    uint64_t rc = vi->block[0];
    if (rc >= ks->m.nrows) rc = 0;
    rows = round_up(rows, rc);
    if (rows > LSTAR_MAX_CHUNK_BYTES / 16 / ncols) rows = LSTAR_MAX_CHUNK_BYTES / 16 / ncols ? LSTAR_MAX_CHUNK_BYTES / 16 / ncols : 1;
    ks->nblocks = (size_t)((ks->m.nrows + rows - 1) / rows);
    ks->max_block = ks->m.nrows < rows ? ks->m.nrows : rows;
    if (ks->nblocks == 0) return LSTAR_OK;
    ks->plan = lstar_calloc(ks->nblocks, sizeof *ks->plan);
    if (!ks->plan) return LSTAR_NOMEM(err, NULL);
    for (size_t k = 0; k < ks->nblocks; k++) {
        ks->plan[k].r0 = (uint64_t)k * rows;
        ks->plan[k].nr = ks->plan[k].r0 + rows < ks->m.nrows ? rows : ks->m.nrows - ks->plan[k].r0;
    }
    return LSTAR_OK;
}

static lstar_status load_indptr(lstar_kstream *ks, lstar_error *err) {
    const lstar_stats_matrix *m = &ks->m;
    if (lstar_array_rank(m->data) != 1 || lstar_array_rank(m->indices) != 1 || lstar_array_rank(m->indptr) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, "data", "data, indices and indptr must be 1-D arrays");
    if (!lstar_dtype_is_integer(lstar_array_dtype(m->indices)))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "indices", "indices must be integers, not %s",
                          lstar_dtype_name(lstar_array_dtype(m->indices)));
    if (!lstar_dtype_is_integer(lstar_array_dtype(m->indptr)))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "indptr", "indptr must be integers, not %s",
                          lstar_dtype_name(lstar_array_dtype(m->indptr)));
    ks->nnz = lstar_array_shape(m->data)[0];
    if (lstar_array_shape(m->indices)[0] != ks->nnz)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indices", "indices has %llu entries but data has %llu",
                          (unsigned long long)lstar_array_shape(m->indices)[0], (unsigned long long)ks->nnz);
    if (lstar_array_shape(m->indptr)[0] != ks->major_len + 1)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr has %llu entries, expected %llu",
                          (unsigned long long)lstar_array_shape(m->indptr)[0],
                          (unsigned long long)ks->major_len + 1);
    if (ks->major_len + 1 > LSTAR_MAX_CHUNK_BYTES / sizeof(int64_t))
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, "indptr", "indptr of %llu entries is too large",
                          (unsigned long long)ks->major_len + 1);
    ks->indptr = lstar_malloc((size_t)(ks->major_len + 1) * sizeof(int64_t));
    if (!ks->indptr) return LSTAR_NOMEM(err, "indptr");
    lstar_status st = lstar_array_read_1d_as(m->indptr, 0, ks->major_len + 1, LSTAR_DTYPE_INT64, ks->indptr, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, "indptr");
        return st;
    }
    if (ks->indptr[0] != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr[0] is %lld, must be 0", (long long)ks->indptr[0]);
    for (uint64_t i = 0; i < ks->major_len; i++)
        if (ks->indptr[i + 1] < ks->indptr[i])
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr decreases at position %llu (%lld after %lld)",
                              (unsigned long long)i + 1, (long long)ks->indptr[i + 1], (long long)ks->indptr[i]);
    if ((uint64_t)ks->indptr[ks->major_len] != ks->nnz)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indptr", "indptr[%llu] is %lld, must equal len(data) = %llu",
                          (unsigned long long)ks->major_len, (long long)ks->indptr[ks->major_len],
                          (unsigned long long)ks->nnz);
    return LSTAR_OK;
}

lstar_status lstar_kstream_new(const lstar_stats_matrix *m, uint64_t block_nnz, int threads, lstar_kstream **out,
                               lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_kstream *ks = NULL;
    if (!out || !m) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (threads < 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "threads must be >= 0");
    ks = lstar_calloc(1, sizeof *ks);
    if (!ks) return LSTAR_NOMEM(err, NULL);
    ks->m = *m;
    if (block_nnz == 0) block_nnz = KSTREAM_DEFAULT_BLOCK;
    if (m->encoding == LSTAR_ENC_CSR || m->encoding == LSTAR_ENC_CSC) {
        if (!m->data || !m->indices || !m->indptr) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "a sparse matrix needs data, indices and indptr");
            goto done;
        }
        ks->sparse = 1;
        ks->major_len = m->encoding == LSTAR_ENC_CSR ? m->nrows : m->ncols;
        ks->minor_len = m->encoding == LSTAR_ENC_CSR ? m->ncols : m->nrows;
        ks->data_dtype = lstar_array_dtype(m->data);
        ks->idx_dtype = lstar_array_dtype(m->indices);
        LSTAR_CHECK(load_indptr(ks, err));
        LSTAR_CHECK(plan_sparse(ks, block_nnz, err));
    } else if (m->encoding == LSTAR_ENC_DENSE) {
        if (!m->values) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "a dense matrix needs values");
            goto done;
        }
        const uint64_t *sh = lstar_array_shape(m->values);
        if (lstar_array_rank(m->values) != 2 || sh[0] != m->nrows || sh[1] != m->ncols) {
            st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, "values", "values must have shape [%llu, %llu]",
                            (unsigned long long)m->nrows, (unsigned long long)m->ncols);
            goto done;
        }
        ks->data_dtype = lstar_array_dtype(m->values);
        ks->nnz = m->nrows * m->ncols;
        LSTAR_CHECK(plan_dense(ks, block_nnz, err));
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "encoding %s is not a csr, csc or dense matrix",
                        lstar_encoding_name(m->encoding) ? lstar_encoding_name(m->encoding) : "?");
        goto done;
    }
    if (!lstar_dtype_is_numeric(ks->data_dtype)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, ks->sparse ? "data" : "values",
                        "values of dtype %s are not numeric", lstar_dtype_name(ks->data_dtype));
        goto done;
    }
    ks->data_esize = lstar_dtype_size(ks->data_dtype);
    LSTAR_CHECK(lstar_pool_new(threads, &ks->pool, err));
    ks->nworkers = lstar_pool_threads(ks->pool);
    ks->slots = (size_t)ks->nworkers * 2;
    ks->scratch = lstar_calloc((size_t)ks->nworkers, sizeof *ks->scratch);
    if (!ks->scratch) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    *out = ks;
    ks = NULL;
done:
    lstar_kstream_free(ks);
    return st;
}

static lstar_status grow(void **buf, size_t *cap, size_t need, lstar_error *err) {
    if (need <= *cap) return LSTAR_OK;
    void *p = lstar_realloc(*buf, need);
    if (!p) return LSTAR_NOMEM(err, NULL);
    *buf = p;
    *cap = need;
    return LSTAR_OK;
}

/* Any int32 index outside [0, minor)?  Signed compares only, so the loop
 * vectorises with baseline SSE2. */
static int any_bad32(const int32_t *ix, uint64_t n, uint64_t minor) {
    int bad = 0;
    if (minor > (uint64_t)INT32_MAX) {
        for (uint64_t k = 0; k < n; k++) bad |= ix[k] < 0;
    } else {
        const int32_t lim = (int32_t)minor;
        for (uint64_t k = 0; k < n; k++) bad |= (ix[k] < 0) | (ix[k] >= lim);
    }
    return bad;
}

static int any_bad64(const int64_t *ix, uint64_t n, uint64_t minor) {
    int bad = 0;
    for (uint64_t k = 0; k < n; k++) bad |= (uint64_t)ix[k] >= minor;
    return bad;
}

/* Check minor indices of a block; the first bad one fails. */
#define ANY_BAD_int32_t any_bad32
#define ANY_BAD_int64_t any_bad64
#define CHECK_INDICES(T, arr)                                                                                 \
    do {                                                                                                      \
        const T *ix_ = (arr);                                                                                 \
        if (ANY_BAD_##T(ix_, n, ks->minor_len))                                                                                        \
            for (uint64_t k_ = 0; k_ < n; k_++)                                                               \
                if (ix_[k_] < 0 || (uint64_t)ix_[k_] >= ks->minor_len)                                        \
                    return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "indices",                                      \
                                      "indices[%llu] = %lld is outside [0, %llu)",                            \
                                      (unsigned long long)(p->e0 + k_), (long long)ix_[k_],                   \
                                      (unsigned long long)ks->minor_len);                                     \
    } while (0)

static lstar_status kwork(void *ud, size_t i, int worker, lstar_error *err) {
    lstar_kstream *ks = ud;
    const kplan *p = &ks->plan[i];
    kscratch *sc = &ks->scratch[worker];
    lstar_kblock b;
    lstar_status st;
    memset(&b, 0, sizeof b);
    b.index = i;
    b.data_dtype = ks->data_dtype;
    if (ks->sparse) {
        uint64_t n = p->e1 - p->e0, start = p->e0;
        b.e0 = p->e0;
        b.e1 = p->e1;
        b.m0 = p->m0;
        b.m1 = p->m1;
        b.indptr = ks->indptr;
        st = grow(&sc->data, &sc->data_cap, (size_t)n * ks->data_esize, err);
        if (st != LSTAR_OK) return st;
        st = lstar_array_read(ks->m.data, &start, &n, sc->data, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, "data");
            return st;
        }
        if (ks->idx_dtype == LSTAR_DTYPE_INT32) {
            st = grow(&sc->idx, &sc->idx_cap, (size_t)n * sizeof(int32_t), err);
            if (st == LSTAR_OK) st = lstar_array_read(ks->m.indices, &start, &n, sc->idx, err);
            if (st != LSTAR_OK) {
                lstar_err_add_where(err, "indices");
                return st;
            }
            CHECK_INDICES(int32_t, (const int32_t *)sc->idx);
            b.idx32 = sc->idx;
        } else {
            st = grow(&sc->idx, &sc->idx_cap, (size_t)n * sizeof(int64_t), err);
            if (st != LSTAR_OK) return st;
            if (ks->idx_dtype == LSTAR_DTYPE_INT64)
                st = lstar_array_read(ks->m.indices, &start, &n, sc->idx, err);
            else
                st = lstar_array_read_1d_as(ks->m.indices, start, n, LSTAR_DTYPE_INT64, sc->idx, err);
            if (st != LSTAR_OK) {
                lstar_err_add_where(err, "indices");
                return st;
            }
            CHECK_INDICES(int64_t, (const int64_t *)sc->idx);
            b.idx64 = sc->idx;
        }
        b.data = sc->data;
    } else {
        uint64_t start[2] = {p->r0, 0}, count[2] = {p->nr, ks->m.ncols};
        b.r0 = p->r0;
        b.nr = p->nr;
        st = grow(&sc->data, &sc->data_cap, (size_t)(p->nr * ks->m.ncols) * ks->data_esize, err);
        if (st != LSTAR_OK) return st;
        if (p->nr > 0 && ks->m.ncols > 0) {
            st = lstar_array_read(ks->m.values, start, count, sc->data, err);
            if (st != LSTAR_OK) {
                lstar_err_add_where(err, "values");
                return st;
            }
        }
        b.values = sc->data;
    }
    return ks->work(ks->ud, &b, i % ks->slots, worker, err);
}

static lstar_status kstore(void *ud, size_t i, int worker, lstar_error *err) {
    lstar_kstream *ks = ud;
    const kplan *p = &ks->plan[i];
    lstar_kblock b;
    (void)worker;
    memset(&b, 0, sizeof b);
    b.index = i;
    b.e0 = p->e0;
    b.e1 = p->e1;
    b.m0 = p->m0;
    b.m1 = p->m1;
    b.r0 = p->r0;
    b.nr = p->nr;
    b.indptr = ks->indptr;
    b.data_dtype = ks->data_dtype;
    return ks->store(ks->ud, &b, i % ks->slots, err);
}

lstar_status lstar_kstream_run(lstar_kstream *ks, lstar_kwork_fn work, lstar_kstore_fn store, void *ud,
                               lstar_error *err) {
    if (!ks || !work) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "NULL argument");
    ks->work = work;
    ks->store = store;
    ks->ud = ud;
    return lstar_pool_pipeline(ks->pool, ks->nblocks, ks->slots, NULL, kwork, store ? kstore : NULL, ks, err);
}
