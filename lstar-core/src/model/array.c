/* The element layer: lstar_array wraps a backend behind lstar_array_ops;
 * this file holds the generic entry points (argument checks, conversions)
 * and the memory backend (numeric n-d arrays and 1-D string arrays).
 * The Zarr backend (lstar_array_from_zarr) lives in src/zarr/. */
#include "lstar/array.h"

#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/pool.h"
#include "lstar/zarr.h"
#include "model/model_internal.h"

struct lstar_array {
    const lstar_array_ops *ops;
    void *ctx;
    lstar_array_info info;
    lstar_array_read_pool_fn read_pool; /* optional parallel read (lstar_array_set_read_pool) */
};

/* ---- memory backend ------------------------------------------------------ */

typedef struct mem_array {
    lstar_dtype dtype;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    size_t esize;
    void *data;        /* numeric/bool: C-order elements (NULL when empty) */
    lstar_strings str; /* STRING arrays */
    int is_strings;
} mem_array;

static lstar_status mem_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err) {
    const mem_array *m = ctx;
    (void)err;
    if (m->rank == 0) {
        memcpy(out, m->data, m->esize);
        return LSTAR_OK;
    }
    for (int d = 0; d < m->rank; d++)
        if (count[d] == 0) return LSTAR_OK;
    /* Collapse the trailing dimensions that are read whole into one
     * contiguous run. Sizes fit in size_t: the array exists in memory. */
    int inner = m->rank - 1;
    size_t run = (size_t)count[inner];
    while (inner > 0 && count[inner] == m->shape[inner] && start[inner] == 0) {
        inner--;
        run *= (size_t)count[inner];
    }
    /* Element strides of the source. */
    size_t stride[LSTAR_MAX_RANK];
    stride[m->rank - 1] = 1;
    for (int d = m->rank - 1; d > 0; d--) stride[d - 1] = stride[d] * (size_t)m->shape[d];
    size_t run_bytes = run * m->esize;
    uint64_t idx[LSTAR_MAX_RANK] = {0}; /* position within count for dims < inner */
    const uint8_t *src = m->data;
    uint8_t *dst = out;
    for (;;) {
        size_t off = 0;
        for (int d = 0; d < inner; d++) off += (size_t)(start[d] + idx[d]) * stride[d];
        off += (size_t)start[inner] * stride[inner];
        memcpy(dst, src + off * m->esize, run_bytes);
        dst += run_bytes;
        int d = inner - 1;
        while (d >= 0) {
            if (++idx[d] < count[d]) break;
            idx[d] = 0;
            d--;
        }
        if (d < 0) break;
    }
    return LSTAR_OK;
}

static lstar_status mem_read_strings(void *ctx, uint64_t start, uint64_t count, lstar_strings *out,
                                     lstar_error *err) {
    const mem_array *m = ctx;
    memset(out, 0, sizeof *out);
    size_t n = (size_t)count;
    int64_t base = m->str.offsets[start];
    size_t nbytes = (size_t)(m->str.offsets[start + count] - base);
    out->offsets = lstar_malloc(sizeof(int64_t) * (n + 1));
    out->bytes = lstar_malloc(nbytes ? nbytes : 1);
    if (!out->offsets || !out->bytes) {
        lstar_strings_destroy(out);
        return LSTAR_NOMEM(err, NULL);
    }
    for (size_t i = 0; i <= n; i++) out->offsets[i] = m->str.offsets[start + i] - base;
    if (nbytes) memcpy(out->bytes, m->str.bytes + base, nbytes);
    out->n = n;
    out->n_cap = n;
    out->bytes_cap = nbytes ? nbytes : 1;
    return LSTAR_OK;
}

static void mem_close(void *ctx) {
    mem_array *m = ctx;
    if (!m) return;
    lstar_free(m->data);
    lstar_strings_destroy(&m->str);
    lstar_free(m);
}

static const lstar_array_ops k_mem_ops = {
    LSTAR_ARRAY_OPS_VERSION, "memory", mem_read, NULL, mem_close, NULL,
};
static const lstar_array_ops k_mem_string_ops = {
    LSTAR_ARRAY_OPS_VERSION, "memory", NULL, mem_read_strings, mem_close, NULL,
};

/* ---- helpers ------------------------------------------------------------- */

lstar_status lstar_model_shape_elems(int rank, const uint64_t *shape, uint64_t *elems, lstar_error *err) {
    uint64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] != 0 && n > UINT64_MAX / shape[d])
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "array shape overflows 64 bits");
        n *= shape[d];
    }
    /* A zero-length dimension makes the product 0 whatever the others hold. */
    for (int d = 0; d < rank; d++)
        if (shape[d] == 0) n = 0;
    *elems = n;
    return LSTAR_OK;
}

static lstar_status mem_bytes(lstar_dtype dtype, int rank, const uint64_t *shape, size_t *nbytes, uint64_t *elems,
                              lstar_error *err) {
    if (!lstar_dtype_is_numeric(dtype) && dtype != LSTAR_DTYPE_COMPLEX64 && dtype != LSTAR_DTYPE_COMPLEX128)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "memory arrays hold fixed-size numeric dtypes, not %s",
                          lstar_dtype_name(dtype));
    if (rank < 0 || rank > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "rank %d outside 0..%d", rank, LSTAR_MAX_RANK);
    if (rank > 0 && !shape) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "shape is NULL");
    lstar_status st = lstar_model_shape_elems(rank, shape, elems, err);
    if (st != LSTAR_OK) return st;
    size_t es = lstar_dtype_size(dtype);
    if (*elems > SIZE_MAX / es) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "array too large for memory");
    *nbytes = (size_t)*elems * es;
    return LSTAR_OK;
}

/* ---- construction -------------------------------------------------------- */

lstar_status lstar_array_from_ops(const lstar_array_ops *ops, void *ctx, const lstar_array_info *info,
                                  lstar_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_array *a = NULL;
    uint64_t elems;
    if (out) *out = NULL;
    if (!ops || !info || !out || ops->version < 1 || !ops->close) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_array_from_ops: missing ops, info or out");
        goto done;
    }
    if (info->rank < 0 || info->rank > LSTAR_MAX_RANK) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "rank %d outside 0..%d", info->rank, LSTAR_MAX_RANK);
        goto done;
    }
    if ((int)info->dtype <= LSTAR_DTYPE_INVALID || info->dtype >= LSTAR_DTYPE_COUNT_) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid dtype %d", (int)info->dtype);
        goto done;
    }
    if (info->dtype == LSTAR_DTYPE_STRING ? !ops->read_strings : !ops->read) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "backend lacks the read function for dtype %s",
                        lstar_dtype_name(info->dtype));
        goto done;
    }
    LSTAR_CHECK(lstar_model_shape_elems(info->rank, info->shape, &elems, err));
    a = lstar_calloc(1, sizeof *a);
    if (!a) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    a->ops = ops;
    a->ctx = ctx;
    a->info = *info;
    for (int d = info->rank; d < LSTAR_MAX_RANK; d++) a->info.shape[d] = a->info.block[d] = 0;
    *out = a;
done:
    if (st != LSTAR_OK && ops && ops->close && ctx) ops->close(ctx);
    return st;
}

static lstar_status mem_wrap(mem_array *m, const lstar_array_ops *ops, lstar_array **out, lstar_error *err) {
    lstar_array_info info;
    memset(&info, 0, sizeof info);
    info.dtype = m->dtype;
    info.rank = m->rank;
    for (int d = 0; d < m->rank; d++) info.shape[d] = m->shape[d];
    return lstar_array_from_ops(ops, m, &info, out, err);
}

lstar_status lstar_array_new_owned(lstar_dtype dtype, int rank, const uint64_t *shape, void *data,
                                   lstar_array **out, lstar_error *err) {
    lstar_status st;
    mem_array *m = NULL;
    size_t nbytes = 0;
    uint64_t elems;
    if (out) *out = NULL;
    if (!out) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
        goto done;
    }
    LSTAR_CHECK(mem_bytes(dtype, rank, shape, &nbytes, &elems, err));
    if (nbytes && !data) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "data is NULL for a non-empty array");
        goto done;
    }
    m = lstar_calloc(1, sizeof *m);
    if (!m) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    m->dtype = dtype;
    m->rank = rank;
    for (int d = 0; d < rank; d++) m->shape[d] = shape[d];
    m->esize = lstar_dtype_size(dtype);
    m->data = data;
    data = NULL;
    st = mem_wrap(m, &k_mem_ops, out, err); /* closes m on failure */
    m = NULL;
done:
    lstar_free(data);
    return st;
}

lstar_status lstar_array_new_copy(lstar_dtype dtype, int rank, const uint64_t *shape, const void *data,
                                  lstar_array **out, lstar_error *err) {
    lstar_status st;
    size_t nbytes = 0;
    uint64_t elems;
    void *copy = NULL;
    if (out) *out = NULL;
    st = mem_bytes(dtype, rank, shape, &nbytes, &elems, err);
    if (st != LSTAR_OK) return st;
    if (nbytes) {
        if (!data) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "data is NULL for a non-empty array");
        copy = lstar_malloc(nbytes);
        if (!copy) return LSTAR_NOMEM(err, NULL);
        memcpy(copy, data, nbytes);
    }
    return lstar_array_new_owned(dtype, rank, shape, copy, out, err);
}

lstar_status lstar_array_new_strings(lstar_strings *s, lstar_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    mem_array *m = NULL;
    if (out) *out = NULL;
    if (!s || !out) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_array_new_strings: NULL argument");
        goto done;
    }
    m = lstar_calloc(1, sizeof *m);
    if (!m) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    if (!s->offsets) {
        LSTAR_CHECK(lstar_strings_init(&m->str, err));
    } else {
        m->str = *s;
        memset(s, 0, sizeof *s);
    }
    m->dtype = LSTAR_DTYPE_STRING;
    m->rank = 1;
    m->shape[0] = m->str.n;
    m->is_strings = 1;
    st = mem_wrap(m, &k_mem_string_ops, out, err); /* closes m on failure */
    m = NULL;
done:
    mem_close(m);
    if (s) lstar_strings_destroy(s);
    return st;
}

void lstar_array_free(lstar_array *a) {
    if (!a) return;
    if (a->ops && a->ops->close) a->ops->close(a->ctx);
    lstar_free(a);
}

/* ---- accessors ----------------------------------------------------------- */

const lstar_array_info *lstar_array_get_info(const lstar_array *a) { return a ? &a->info : NULL; }
lstar_dtype lstar_array_dtype(const lstar_array *a) { return a ? a->info.dtype : LSTAR_DTYPE_INVALID; }
int lstar_array_rank(const lstar_array *a) { return a ? a->info.rank : 0; }
const uint64_t *lstar_array_shape(const lstar_array *a) { return a ? a->info.shape : NULL; }

uint64_t lstar_array_size(const lstar_array *a) {
    uint64_t n = 0;
    if (!a || lstar_model_shape_elems(a->info.rank, a->info.shape, &n, NULL) != LSTAR_OK) return 0;
    return n;
}

const char *lstar_array_kind(const lstar_array *a) {
    return a && a->ops->kind ? a->ops->kind : "unknown";
}

struct lstar_zarr_array *lstar_array_zarr(const lstar_array *a) {
    if (!a || a->ops->version < 1 || !a->ops->zarr) return NULL;
    return a->ops->zarr(a->ctx);
}

const void *lstar_array_memory(const lstar_array *a) {
    if (!a || a->ops != &k_mem_ops) return NULL;
    return ((const mem_array *)a->ctx)->data;
}

const lstar_strings *lstar_array_memory_strings(const lstar_array *a) {
    if (!a || a->ops != &k_mem_string_ops) return NULL;
    return &((const mem_array *)a->ctx)->str;
}

/* ---- reads --------------------------------------------------------------- */

/* Check a region against the shape; *elems receives its element count. */
static lstar_status check_region(const lstar_array *a, const uint64_t *start, const uint64_t *count,
                                 uint64_t *elems, lstar_error *err) {
    uint64_t n = 1;
    int rank = a->info.rank;
    if (rank > 0 && (!start || !count))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "start/count are NULL for a rank-%d array", rank);
    for (int d = 0; d < rank; d++) {
        if (start[d] > a->info.shape[d] || count[d] > a->info.shape[d] - start[d])
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL,
                              "region [%llu, +%llu) outside dimension %d of length %llu",
                              (unsigned long long)start[d], (unsigned long long)count[d], d,
                              (unsigned long long)a->info.shape[d]);
        n *= count[d]; /* bounded by the array size, which fits */
    }
    for (int d = 0; d < rank; d++)
        if (count[d] == 0) n = 0;
    *elems = n;
    return LSTAR_OK;
}

/* The checks every numeric region read makes: a numeric array, the region inside it, `out` set unless the
 * region is empty (*elems = its element count). */
static lstar_status check_read(const lstar_array *a, const uint64_t *start, const uint64_t *count, const void *out,
                               uint64_t *elems, lstar_error *err) {
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "array is NULL");
    if (!a->ops->read || a->info.dtype == LSTAR_DTYPE_STRING)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "%s array: use lstar_array_read_strings",
                          lstar_dtype_name(a->info.dtype));
    lstar_status st = check_region(a, start, count, elems, err);
    if (st != LSTAR_OK || *elems == 0) return st;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    return LSTAR_OK;
}

lstar_status lstar_array_read(const lstar_array *a, const uint64_t *start, const uint64_t *count, void *out,
                              lstar_error *err) {
    uint64_t elems = 0;
    lstar_status st = check_read(a, start, count, out, &elems, err);
    if (st != LSTAR_OK || elems == 0) return st;
    return a->ops->read(a->ctx, start, count, out, err);
}

lstar_status lstar_array_read_1d_as(const lstar_array *a, uint64_t start, uint64_t count, lstar_dtype as,
                                    void *out, lstar_error *err) {
    return lstar_array_read_1d_as_pool(a, start, count, as, out, NULL, err);
}

lstar_status lstar_array_read_all(const lstar_array *a, size_t max_bytes, void **out, size_t *nbytes,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    void *buf = NULL;
    uint64_t elems, start[LSTAR_MAX_RANK] = {0};
    if (out) *out = NULL;
    if (nbytes) *nbytes = 0;
    if (!a || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_array_read_all: NULL argument");
    size_t es = lstar_dtype_size(a->info.dtype);
    if (!a->ops->read || es == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "read_all needs a fixed-size dtype, not %s",
                          lstar_dtype_name(a->info.dtype));
    unsigned long long cap = max_bytes ? (unsigned long long)max_bytes : LSTAR_MAX_CHUNK_BYTES;
    st = lstar_model_shape_elems(a->info.rank, a->info.shape, &elems, err);
    if (st != LSTAR_OK) return st;
    if (elems > cap / es)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "array of %llu elements exceeds the %llu-byte read cap",
                          (unsigned long long)elems, cap);
    size_t n = (size_t)elems * es;
    buf = lstar_malloc(n ? n : 1);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    if (n) LSTAR_CHECK(a->ops->read(a->ctx, start, a->info.shape, buf, err));
    *out = buf;
    buf = NULL;
    if (nbytes) *nbytes = n;
done:
    lstar_free(buf);
    return st;
}

lstar_status lstar_array_read_strings(const lstar_array *a, uint64_t start, uint64_t count, lstar_strings *out,
                                      lstar_error *err) {
    uint64_t elems;
    if (out) memset(out, 0, sizeof *out);
    if (!a || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_array_read_strings: NULL argument");
    if (a->info.dtype != LSTAR_DTYPE_STRING || !a->ops->read_strings)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "not a string array (dtype %s)",
                          lstar_dtype_name(a->info.dtype));
    lstar_status st = lstar_model_shape_elems(a->info.rank, a->info.shape, &elems, err);
    if (st != LSTAR_OK) return st;
    if (start > elems || count > elems - start)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "strings [%llu, +%llu) outside %llu items",
                          (unsigned long long)start, (unsigned long long)count, (unsigned long long)elems);
    if (count > LSTAR_MAX_STRING_ITEMS)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%llu strings exceed the in-memory cap",
                          (unsigned long long)count);
    st = a->ops->read_strings(a->ctx, start, count, out, err);
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    return st;
}

/* ---- parallel block reads ------------------------------------------------------------------------ */

/* Chunks per worker in flight (encoded bytes held by the walker's user). */
#define WALK_SLOTS_PER_THREAD 4

typedef struct walk_job {
    const lstar_chunk_walk *w;
    const uint64_t *start, *count;
    uint8_t *out;
    uint64_t g0[LSTAR_MAX_RANK], gn[LSTAR_MAX_RANK]; /* first grid coordinate and grid extent of the region */
    size_t chunk_bytes;
    uint8_t **scratch; /* per worker, chunk_bytes */
    int nworkers;
} walk_job;

static void walk_coords(const walk_job *j, size_t i, uint64_t *cc) {
    uint64_t t = (uint64_t)i;
    for (int d = j->w->rank - 1; d >= 0; d--) {
        cc[d] = j->g0[d] + t % j->gn[d];
        t /= j->gn[d];
    }
}

static lstar_status walk_load(void *ud, size_t i, int worker, lstar_error *err) {
    walk_job *j = ud;
    uint64_t cc[LSTAR_MAX_RANK];
    (void)worker;
    walk_coords(j, i, cc);
    return j->w->load(j->w->ud, cc, i % j->w->nslots, err);
}

static lstar_status walk_work(void *ud, size_t i, int worker, lstar_error *err) {
    walk_job *j = ud;
    const lstar_chunk_walk *w = j->w;
    const int r = w->rank;
    uint64_t cc[LSTAR_MAX_RANK], lo[LSTAR_MAX_RANK], ext[LSTAR_MAX_RANK];
    walk_coords(j, i, cc);
    /* The chunk's box inside the region; direct = whole chunk, contiguous in out. */
    int direct = 1;
    for (int d = 0; d < r; d++) {
        uint64_t c0 = cc[d] * w->chunks[d], c1 = c0 + w->chunks[d];
        uint64_t r0 = j->start[d], r1 = j->start[d] + j->count[d];
        lo[d] = c0 > r0 ? c0 : r0;
        ext[d] = (c1 < r1 ? c1 : r1) - lo[d];
        if (ext[d] != w->chunks[d] || (d > 0 && j->count[d] != w->chunks[d])) direct = 0;
    }
    uint64_t ostride[LSTAR_MAX_RANK], cstride[LSTAR_MAX_RANK], os = 1, cs = 1;
    for (int d = r - 1; d >= 0; d--) {
        ostride[d] = os;
        os *= j->count[d];
        cstride[d] = cs;
        cs *= w->chunks[d];
    }
    const size_t is = w->itemsize;
    if (direct) {
        uint64_t off = 0;
        for (int d = 0; d < r; d++) off += (lo[d] - j->start[d]) * ostride[d];
        return w->decode(w->ud, cc, i % w->nslots, worker, j->out + off * is, err);
    }
    if (!j->scratch[worker]) {
        j->scratch[worker] = lstar_malloc(j->chunk_bytes ? j->chunk_bytes : 1);
        if (!j->scratch[worker]) return LSTAR_NOMEM(err, NULL);
    }
    uint8_t *buf = j->scratch[worker];
    lstar_status st = w->decode(w->ud, cc, i % w->nslots, worker, buf, err);
    if (st != LSTAR_OK) return st;
    /* Copy the box: runs along the last dimension. */
    uint64_t idx[LSTAR_MAX_RANK] = {0};
    size_t run = (size_t)(ext[r - 1] * is);
    for (;;) {
        uint64_t so = 0, doff = 0;
        for (int d = 0; d < r; d++) {
            so += (lo[d] - cc[d] * w->chunks[d] + idx[d]) * cstride[d];
            doff += (lo[d] - j->start[d] + idx[d]) * ostride[d];
        }
        memcpy(j->out + doff * is, buf + so * is, run);
        int d = r - 2;
        for (; d >= 0; d--) {
            if (++idx[d] < ext[d]) break;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
    return LSTAR_OK;
}

lstar_status lstar_chunk_walk_read(const lstar_chunk_walk *w, const uint64_t *start, const uint64_t *count,
                                   void *out, lstar_pool *pool, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    walk_job j;
    memset(&j, 0, sizeof j);
    if (!w || !w->decode || w->rank < 1 || w->rank > LSTAR_MAX_RANK || w->nslots < 1 || !start || !count || !out)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_chunk_walk_read: invalid arguments");
    uint64_t n = 1, cb = w->itemsize;
    for (int d = 0; d < w->rank; d++) {
        if (w->chunks[d] == 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "zero chunk dimension");
        if (count[d] == 0) return LSTAR_OK;
        if (start[d] > w->shape[d] || count[d] > w->shape[d] - start[d])
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "region outside the array");
        j.g0[d] = start[d] / w->chunks[d];
        j.gn[d] = (start[d] + count[d] - 1) / w->chunks[d] - j.g0[d] + 1;
        if (n > UINT64_MAX / j.gn[d] || cb > LSTAR_MAX_CHUNK_BYTES / w->chunks[d])
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "chunk grid too large");
        n *= j.gn[d];
        cb *= w->chunks[d];
    }
    if (n > SIZE_MAX) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "too many chunks");
    j.w = w;
    j.start = start;
    j.count = count;
    j.out = out;
    j.chunk_bytes = (size_t)cb;
    j.nworkers = pool ? lstar_pool_threads(pool) : 1;
    j.scratch = lstar_calloc((size_t)j.nworkers, sizeof *j.scratch);
    if (!j.scratch) return LSTAR_NOMEM(err, NULL);
    st = lstar_pool_pipeline(pool, (size_t)n, w->nslots, w->load ? walk_load : NULL, walk_work, NULL, &j, err);
    for (int k = 0; k < j.nworkers; k++) lstar_free(j.scratch[k]);
    lstar_free(j.scratch);
    return st;
}

/* Zarr arrays (any backend exposing one): workers read and decode whole chunks. */
typedef struct zarr_walk {
    lstar_zarr_array *za;
} zarr_walk;

static lstar_status zarr_walk_decode(void *ud, const uint64_t *coords, size_t slot, int worker, void *dst,
                                     lstar_error *err) {
    zarr_walk *z = ud;
    (void)slot;
    (void)worker;
    return lstar_zarr_array_read_chunk(z->za, coords, dst, err);
}

lstar_status lstar_array_read_pool(const lstar_array *a, const uint64_t *start, const uint64_t *count, void *out,
                                   lstar_pool *pool, lstar_error *err) {
    uint64_t elems = 0;
    lstar_status st = check_read(a, start, count, out, &elems, err);
    if (st != LSTAR_OK || elems == 0) return st;
    if (a->read_pool) return a->read_pool(a->ctx, start, count, out, pool, err);
    lstar_zarr_array *za = lstar_array_zarr(a);
    if (za && a->info.rank >= 1 && pool && lstar_pool_threads(pool) > 1 &&
        lstar_zarr_array_itemsize(za) == lstar_dtype_size(a->info.dtype)) {
        /* One chunk or less: nothing to spread. */
        const uint64_t *ch = lstar_zarr_array_chunks(za);
        uint64_t nch = 1;
        for (int d = 0; d < a->info.rank && nch < 2; d++)
            nch *= (start[d] + count[d] - 1) / ch[d] - start[d] / ch[d] + 1;
        if (nch >= 2) {
            zarr_walk z = {za};
            lstar_chunk_walk w;
            memset(&w, 0, sizeof w);
            w.rank = a->info.rank;
            w.shape = a->info.shape;
            w.chunks = ch;
            w.itemsize = lstar_dtype_size(a->info.dtype);
            w.nslots = (size_t)lstar_pool_threads(pool) * WALK_SLOTS_PER_THREAD;
            w.decode = zarr_walk_decode;
            w.ud = &z;
            return lstar_chunk_walk_read(&w, start, count, out, pool, err);
        }
    }
    return a->ops->read(a->ctx, start, count, out, err);
}

void *lstar_array_backend_ctx(const lstar_array *a, const lstar_array_ops *ops) {
    return a && ops && a->ops == ops ? a->ctx : NULL;
}

void lstar_array_set_read_pool(lstar_array *a, lstar_array_read_pool_fn fn) {
    if (a) a->read_pool = fn;
}

lstar_status lstar_array_read_1d_as_pool(const lstar_array *a, uint64_t start, uint64_t count, lstar_dtype as,
                                         void *out, lstar_pool *pool, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    void *tmp = NULL;
    uint64_t elems;
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "array is NULL");
    if (a->info.rank != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "expected a 1-D array, got rank %d", a->info.rank);
    lstar_dtype from = a->info.dtype;
    if (!lstar_dtype_is_numeric(from) || !lstar_dtype_is_numeric(as) || as == LSTAR_DTYPE_FLOAT16)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "cannot convert %s to %s", lstar_dtype_name(from),
                          lstar_dtype_name(as));
    st = check_region(a, &start, &count, &elems, err);
    if (st != LSTAR_OK) return st;
    if (elems == 0) return LSTAR_OK;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    if (from == as) return lstar_array_read_pool(a, &start, &count, out, pool, err);
    size_t es = lstar_dtype_size(from);
    if (elems > SIZE_MAX / es) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "read too large for memory");
    tmp = lstar_malloc((size_t)elems * es);
    if (!tmp) return LSTAR_NOMEM(err, NULL);
    LSTAR_CHECK(lstar_array_read_pool(a, &start, &count, tmp, pool, err));
    if (lstar_dtype_convert(from, tmp, as, out, (size_t)elems) != 0)
        st = LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, NULL, "conversion %s -> %s failed", lstar_dtype_name(from),
                        lstar_dtype_name(as));
done:
    lstar_free(tmp);
    return st;
}
