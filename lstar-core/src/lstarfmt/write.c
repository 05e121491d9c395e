/* L★ store writer (spec 0.1, lstar-format.md §2.2–2.10; docs/lstar-store-format.md).
 *
 * Layout, attribute keys and key order follow the upstream Python writer:
 * root {"lstar": {spec_version, kind, profiles, dropped, axes, fields,
 * passthrough}}, groups axes/ fields/ models/ (always) and passthrough/ (only
 * with namespaces), axis and field groups with their "lstar" attributes, value
 * arrays by encoding, strings as uint8 bytes + int64 offsets.
 *
 * Every array is streamed from its lstar_array source through the Zarr
 * streaming writer in blocks of whole chunks (or whole shards) along axis 0,
 * so memory stays at a few chunks whatever the array size.  Chunking: only the
 * first axis (lstar_chunk_rows); chunk_elems 0 means one chunk per array as
 * upstream, except for arrays above LSTAR_DEFAULT_STREAM_CHUNK_ELEMS elements,
 * which get chunks of that many elements (a single chunk would have to be held
 * whole in memory). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/h5.h"
#include "lstar/limits.h"
#include "lstar/lstarstore.h"
#include "lstar/pool.h"
#include "lstar/zarr.h"
#include "lstarfmt/lstarfmt_internal.h"

/* Upper bound for one copy block when several chunks are batched for the
 * encoder threads (a single chunk may be larger; it is the unit). */
#define BLOCK_BYTES_TARGET ((size_t)64 * 1024 * 1024)
/* Items per read_strings call when copying a non-memory string array. */
#define STRING_BLOCK_ITEMS ((uint64_t)65536)

typedef struct writer {
    lstar_zarr *z;
    const lstar_dataset *ds;
    const lstar_write_options *o;
    int threads;
    lstar_pool *pool;     /* decodes source chunks (lstar_array_read_pool); NULL with one thread */
    uint64_t done, total; /* progress, in elements (a string counts as one) */
    struct value_check *check; /* the array being written: values to validate (NULL: none) */
} writer;

/* ---- value checks of sparse components (the source is never trusted) ------------------------------------ */

enum { VC_INDICES = 1, VC_INDPTR = 2 };
typedef struct value_check {
    int kind;      /* VC_INDICES: 0 <= v < lim; VC_INDPTR: starts at 0, never decreases, ends at lim */
    uint64_t lim;
    int64_t last;  /* VC_INDPTR: the last value seen so far (in order) */
} value_check;

#define VC_SCAN(T)                                                                                            \
    do {                                                                                                      \
        const T *x = v;                                                                                       \
        for (size_t k = 0; k < n; k++) bad |= (uint64_t)(int64_t)x[k] >= lim;                                 \
    } while (0)

/* Values [first, first+n) of the array (dtype dt): the order-free part of the check (indices in range;
 * indptr non-decreasing inside the block, 0 first).  *lo / *hi: the block's first and last values. */
static lstar_status vc_block(const value_check *c, lstar_dtype dt, const void *v, size_t n, uint64_t first,
                             int64_t *lo, int64_t *hi, const char *path, lstar_error *err) {
    if (!c || n == 0) return LSTAR_OK;
    if (!lstar_dtype_is_integer(dt)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "%s values, not integers",
                                                       lstar_dtype_name(dt));
    if (c->kind == VC_INDICES) {
        uint64_t lim = c->lim;
        int bad = 0;
        switch (dt) { /* branch-free scans for the usual widths; a negative value is a huge unsigned one */
        case LSTAR_DTYPE_INT32: VC_SCAN(int32_t); break;
        case LSTAR_DTYPE_INT64: VC_SCAN(int64_t); break;
        case LSTAR_DTYPE_UINT32: VC_SCAN(uint32_t); break;
        default: bad = 1; break;
        }
        if (!bad) return LSTAR_OK;
        for (size_t k = 0; k < n; k++) {
            long long x = lstar_dtype_get_i64(dt, v, k);
            if (x < 0 || (uint64_t)x >= lim || (dt == LSTAR_DTYPE_UINT64 && ((const uint64_t *)v)[k] >= lim))
                return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "index %lld at position %llu is outside [0, %llu)",
                                  x, (unsigned long long)(first + k), (unsigned long long)lim);
        }
        return LSTAR_OK;
    }
    long long prev = lstar_dtype_get_i64(dt, v, 0);
    if (first == 0 && prev != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "indptr starts at %lld, not 0", prev);
    for (size_t k = 1; k < n; k++) {
        long long x = lstar_dtype_get_i64(dt, v, k);
        if (x < prev)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "indptr decreases at position %llu (%lld after %lld)",
                              (unsigned long long)(first + k), x, prev);
        prev = x;
    }
    *lo = lstar_dtype_get_i64(dt, v, 0);
    *hi = prev;
    return LSTAR_OK;
}

/* The in-order part, block after block: indptr continues from the previous block. */
static lstar_status vc_order(value_check *c, uint64_t first, int64_t lo, int64_t hi, const char *path,
                             lstar_error *err) {
    if (!c || c->kind != VC_INDPTR) return LSTAR_OK;
    if (first > 0 && lo < c->last)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "indptr decreases at position %llu (%lld after %lld)",
                          (unsigned long long)first, (long long)lo, (long long)c->last);
    c->last = hi;
    return LSTAR_OK;
}

static lstar_status vc_end(const value_check *c, const char *path, lstar_error *err) {
    if (!c || c->kind != VC_INDPTR || (uint64_t)c->last == c->lim) return LSTAR_OK;
    return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "indptr ends at %lld, but there are %llu stored entries",
                      (long long)c->last, (unsigned long long)c->lim);
}

static void progress(writer *w, uint64_t n) {
    w->done += n;
    if (w->o->progress) w->o->progress(w->o->progress_ud, w->done, w->total);
}

/* ---- chunking ------------------------------------------------------------- */

/* Fill the array spec for `rank`/`shape`/`dtype` under the options: first-axis
 * chunks, whole trailing dimensions, optional v3 shards of k whole chunks. */
static void make_spec(const writer *w, lstar_dtype dtype, int rank, const uint64_t *shape,
                      lstar_zarr_array_spec *spec) {
    lstar_zarr_array_spec_init(spec);
    spec->rank = rank;
    spec->dtype = dtype;
    spec->compression = w->o->compression;
    spec->threads = w->threads;
    spec->attrs_json = "{}";
    if (rank == 0) return;
    uint64_t elems = 1, inner = 1;
    for (int d = 0; d < rank; d++) {
        spec->shape[d] = shape[d];
        elems = (shape[d] && elems > UINT64_MAX / shape[d]) ? UINT64_MAX : elems * shape[d];
        if (d > 0) {
            /* Zarr chunk sizes must be positive, also for empty dimensions. */
            spec->chunks[d] = shape[d] ? shape[d] : 1;
            inner = (inner > UINT64_MAX / spec->chunks[d]) ? UINT64_MAX : inner * spec->chunks[d];
        }
    }
    uint64_t ce = w->o->chunk_elems;
    if (ce == 0 && elems > LSTAR_DEFAULT_STREAM_CHUNK_ELEMS) ce = LSTAR_DEFAULT_STREAM_CHUNK_ELEMS;
    uint64_t rows = lstar_chunk_rows(ce, rank, shape);
    if (rows == 0) rows = 1;
    spec->chunks[0] = rows;
    /* One chunk: nothing to encode in parallel, so no worker threads. */
    if (shape[0] <= rows) spec->threads = 1;
    if (w->o->zarr_format == 3 && w->o->shard_elems > 0) {
        uint64_t chunk_elems = (rows > UINT64_MAX / inner) ? UINT64_MAX : rows * inner;
        uint64_t k = w->o->shard_elems / chunk_elems;
        uint64_t nchunks = shape[0] ? (shape[0] + rows - 1) / rows : 1;
        if (k < 1) k = 1;
        if (k > nchunks) k = nchunks;
        if (k > LSTAR_MAX_SHARD_CHUNKS) k = LSTAR_MAX_SHARD_CHUNKS;
        spec->shard[0] = k * rows;
        for (int d = 1; d < rank; d++) spec->shard[d] = spec->chunks[d];
    }
}

/* ---- numeric arrays ------------------------------------------------------ */

/* A source of rows: reads rows [r0, r0+nr) in `dtype`, C order. */
typedef struct row_source {
    lstar_dtype dtype;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    lstar_status (*read_rows)(const struct row_source *s, uint64_t r0, uint64_t nr, void *out, lstar_error *err);
    const lstar_array *arr; /* array sources */
    const void *mem;        /* memory sources */
    int quiet;              /* do not report progress (the caller counts items) */
    lstar_pool *pool;       /* array sources: chunk decoding on these workers */
} row_source;

static lstar_status rows_from_array(const row_source *s, uint64_t r0, uint64_t nr, void *out, lstar_error *err) {
    uint64_t start[LSTAR_MAX_RANK], count[LSTAR_MAX_RANK];
    for (int d = 0; d < s->rank; d++) {
        start[d] = 0;
        count[d] = s->shape[d];
    }
    if (s->rank > 0) {
        start[0] = r0;
        count[0] = nr;
    }
    return lstar_array_read_pool(s->arr, start, count, out, s->pool, err);
}

static lstar_status rows_from_memory(const row_source *s, uint64_t r0, uint64_t nr, void *out, lstar_error *err) {
    (void)err;
    size_t inner = 1;
    for (int d = 1; d < s->rank; d++) inner *= (size_t)s->shape[d];
    size_t es = lstar_dtype_size(s->dtype);
    size_t n = (size_t)nr * inner * es;
    if (n) memcpy(out, (const uint8_t *)s->mem + (size_t)r0 * inner * es, n);
    return LSTAR_OK;
}

/* Convert n elements, refusing integer targets that cannot hold a value. */
static lstar_status convert_checked(lstar_dtype from, const void *src, lstar_dtype to, void *dst, size_t n,
                                    const char *path, lstar_error *err) {
    if (lstar_dtype_is_integer(to)) {
        double lo, hi;
        switch (to) {
        case LSTAR_DTYPE_INT8: lo = -128.0, hi = 127.0; break;
        case LSTAR_DTYPE_INT16: lo = -32768.0, hi = 32767.0; break;
        case LSTAR_DTYPE_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
        case LSTAR_DTYPE_UINT8: lo = 0, hi = 255.0; break;
        case LSTAR_DTYPE_UINT16: lo = 0, hi = 65535.0; break;
        case LSTAR_DTYPE_UINT32: lo = 0, hi = 4294967295.0; break;
        case LSTAR_DTYPE_UINT64: lo = 0, hi = 18446744073709551615.0; break;
        default: lo = -9223372036854775808.0, hi = 9223372036854775807.0; break;
        }
        for (size_t i = 0; i < n; i++) {
            double v;
            if (lstar_dtype_is_integer(from) && from != LSTAR_DTYPE_UINT64)
                v = (double)lstar_dtype_get_i64(from, src, i);
            else
                v = lstar_dtype_get_f64(from, src, i);
            if (!(v >= lo && v <= hi) || (lstar_dtype_is_float(from) && v != floor(v)))
                return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "value %g at element %zu does not fit %s", v, i,
                                  lstar_dtype_name(to));
        }
    }
    if (lstar_dtype_convert(from, src, to, dst, n) != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "cannot convert %s to %s", lstar_dtype_name(from),
                          lstar_dtype_name(to));
    return LSTAR_OK;
}

/* Stream `src` into a new array at `path` stored as `to` (INVALID = the source dtype). */
static lstar_status write_rows(writer *w, const char *path, const row_source *src, lstar_dtype to,
                               lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr_array_spec spec;
    lstar_zarr_writer *zw = NULL;
    lstar_zarr_array *za = NULL;
    uint8_t *buf = NULL, *cbuf = NULL;
    lstar_dtype from = src->dtype;
    if (to == LSTAR_DTYPE_INVALID) to = from;
    size_t es_from = lstar_dtype_size(from), es_to = lstar_dtype_size(to);
    if (es_from == 0 || es_to == 0 || from == LSTAR_DTYPE_STRING ||
        (from != to && (!lstar_dtype_is_numeric(from) || !lstar_dtype_is_numeric(to)))) {
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "cannot store a %s array as %s", lstar_dtype_name(from),
                          lstar_dtype_name(to));
    }
    make_spec(w, to, src->rank, src->shape, &spec);
    if (src->rank == 0) {
        uint64_t one[2], conv[2]; /* one element of up to 16 bytes, suitably aligned */
        LSTAR_CHECK(src->read_rows(src, 0, 1, one, err));
        if (from != to) LSTAR_CHECK(convert_checked(from, one, to, conv, 1, path, err));
        LSTAR_CHECK(lstar_zarr_array_create(w->z, path, &spec, &za, err));
        LSTAR_CHECK(lstar_zarr_array_write(za, from != to ? (const void *)conv : (const void *)one, err));
        if (!src->quiet) progress(w, 1);
        goto done;
    }
    uint64_t inner = 1;
    for (int d = 1; d < src->rank; d++) inner *= src->shape[d]; /* product fits: the array exists */
    /* Blocks of whole chunks (a few per thread), also when sharded: the streaming writer assembles a shard
     * chunk by chunk, so a block never needs to hold a whole shard. */
    uint64_t unit = spec.chunks[0];
    uint64_t nunits = w->threads > 1 ? (uint64_t)w->threads : 1;
    size_t es = es_from > es_to ? es_from : es_to;
    uint64_t row_bytes = inner * es;
    while (nunits > 1 && row_bytes && unit * nunits > BLOCK_BYTES_TARGET / row_bytes) nunits--;
    uint64_t block_rows = unit * nunits;
    if (block_rows > src->shape[0]) block_rows = src->shape[0];
    if (block_rows == 0) block_rows = 1;
    if (row_bytes && block_rows > (uint64_t)LSTAR_MAX_CHUNK_BYTES / row_bytes) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path,
                        "one chunk of %llu rows x %llu elements exceeds the %llu-byte chunk limit",
                        (unsigned long long)block_rows, (unsigned long long)inner,
                        (unsigned long long)LSTAR_MAX_CHUNK_BYTES);
        goto done;
    }
    size_t bufsize = (size_t)(block_rows * row_bytes);
    buf = lstar_malloc(bufsize ? bufsize : 1);
    if (from != to) cbuf = lstar_malloc(bufsize ? bufsize : 1);
    if (!buf || (from != to && !cbuf)) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    st = lstar_zarr_writer_new(w->z, path, &spec, &zw, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        goto done;
    }
    for (uint64_t r0 = 0; r0 < src->shape[0]; r0 += block_rows) {
        uint64_t nr = src->shape[0] - r0 < block_rows ? src->shape[0] - r0 : block_rows;
        st = src->read_rows(src, r0, nr, buf, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, path);
            goto done;
        }
        if (w->check) {
            int64_t lo = 0, hi = 0;
            LSTAR_CHECK(vc_block(w->check, from, buf, (size_t)(nr * inner), r0 * inner, &lo, &hi, path, err));
            LSTAR_CHECK(vc_order(w->check, r0 * inner, lo, hi, path, err));
        }
        const void *rows = buf;
        if (from != to) {
            LSTAR_CHECK(convert_checked(from, buf, to, cbuf, (size_t)(nr * inner), path, err));
            rows = cbuf;
        }
        st = lstar_zarr_writer_append(zw, rows, nr, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, path);
            goto done;
        }
        if (!src->quiet) progress(w, nr * inner);
    }
    LSTAR_CHECK(vc_end(w->check, path, err));
    st = lstar_zarr_writer_finish(zw, err);
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
done:
    lstar_zarr_writer_free(zw);
    lstar_zarr_array_close(za);
    lstar_free(buf);
    lstar_free(cbuf);
    return st;
}

/* ---- verbatim chunk copy: HDF5 deflate / zstd chunks → Zarr zlib / zstd ------------------------------ */

/* Default chunking adopts the source's chunks only from this decoded size up: smaller chunks (h5py's guess
 * for a large 1-D array is ~48 KiB) would multiply the number of chunk objects (one file each in a
 * directory store, where creating them costs more than re-encoding saves); --chunk-elems equal to the
 * source chunk still copies them. */
#define RAW_COPY_MIN_CHUNK_BYTES ((uint64_t)256 * 1024)
/* Zarr v3 targets: small source chunks are packed into shards of about this many elements (64 MB of
 * float32) when no --shard-elems is given. */
#define RAW_COPY_SHARD_ELEMS ((uint64_t)16 * 1024 * 1024)
/* Raw chunks in flight per pool thread. */
#define RAW_SLOTS_PER_THREAD 8
#define HDF5_FILTER_DEFLATE 1u
#define HDF5_FILTER_ZSTD 32015u

typedef struct raw_slot {
    uint8_t *buf;
    size_t cap, size;
    int reencode; /* buf holds the decoded chunk (unallocated or partly filtered source chunk) */
    uint8_t *enc; /* sharded: the re-encoded chunk (lstar_free) */
    size_t enc_size;
    int64_t lo, hi; /* first and last values (indptr checks) */
} raw_slot;

typedef struct raw_copy {
    lstar_h5_dataset *d;
    const lstar_array *src;
    lstar_zarr_array *za;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK], chunks[LSTAR_MAX_RANK];
    size_t es, chunk_bytes;
    raw_slot *slots;
    size_t nslots;
    const char *path;
    lstar_zarr_writer *zw; /* sharded targets: chunks go through the writer, in order */
    lstar_codec *verify;   /* decodes each copied chunk once: a corrupt source chunk is an error, not a copy */
    uint8_t **scratch;     /* per worker, chunk_bytes */
    int nworkers;
    lstar_dtype dtype;
    value_check *check;    /* the writer's (NULL: none) */
} raw_copy;

/* Worker: decode a chunk that is copied as stored (exactly chunk_bytes, or it is corrupt) and check its
 * values; a re-encoded chunk is checked as decoded.  Only the array's own elements of an edge chunk count. */
static lstar_status raw_verify(raw_copy *r, size_t i, int worker, lstar_error *err) {
    raw_slot *s = &r->slots[i % r->nslots];
    const uint8_t *vals = s->buf;
    if (!s->reencode) {
        if (!r->scratch[worker]) {
            r->scratch[worker] = lstar_malloc(r->chunk_bytes ? r->chunk_bytes : 1);
            if (!r->scratch[worker]) return LSTAR_NOMEM(err, r->path);
        }
        lstar_status st = lstar_codec_decode_into_fast(r->verify, s->buf, s->size, r->scratch[worker], r->chunk_bytes, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, r->path);
            return st;
        }
        vals = r->scratch[worker];
    }
    if (!r->check) return LSTAR_OK;
    uint64_t r0 = (uint64_t)i * r->chunks[0];
    uint64_t rows = r->shape[0] - r0 < r->chunks[0] ? r->shape[0] - r0 : r->chunks[0];
    uint64_t inner = r->chunk_bytes / r->es / r->chunks[0];
    return vc_block(r->check, r->dtype, vals, (size_t)(rows * inner), r0 * inner, &s->lo, &s->hi, r->path, err);
}

/* Calling thread, in chunk order: the indptr check across chunks. */
static lstar_status raw_order(raw_copy *r, size_t i, lstar_error *err) {
    raw_slot *s = &r->slots[i % r->nslots];
    uint64_t inner = r->chunk_bytes / r->es / r->chunks[0];
    return vc_order(r->check, (uint64_t)i * r->chunks[0] * inner, s->lo, s->hi, r->path, err);
}

static lstar_status raw_ordered(void *ud, size_t i, int worker, lstar_error *err) {
    (void)worker;
    return raw_order(ud, i, err);
}

/* The source chunk along axis 0 (trailing dimensions are one chunk). */
static void raw_offset(const raw_copy *r, size_t i, uint64_t *off) {
    for (int d = 0; d < r->rank; d++) off[d] = 0;
    off[0] = (uint64_t)i * r->chunks[0];
}

static lstar_status raw_grow(raw_slot *s, size_t need, const char *path, lstar_error *err) {
    if (need <= s->cap) return LSTAR_OK;
    uint8_t *nb = lstar_realloc(s->buf, need ? need : 1);
    if (!nb) return LSTAR_NOMEM(err, path);
    s->buf = nb;
    s->cap = need;
    return LSTAR_OK;
}

/* Serial: the stored bytes of chunk i (HDF5 calls only here). */
static lstar_status raw_load(void *ud, size_t i, int worker, lstar_error *err) {
    raw_copy *r = ud;
    raw_slot *s = &r->slots[i % r->nslots];
    uint64_t off[LSTAR_MAX_RANK];
    lstar_h5_chunk_info ci;
    lstar_error e2;
    (void)worker;
    raw_offset(r, i, off);
    s->reencode = 0;
    lstar_error_clear(&e2);
    lstar_status st = lstar_h5_dataset_chunk_info_at(r->d, off, &ci, &e2);
    if (st == LSTAR_OK && ci.filter_mask == 0) {
        if (ci.size > LSTAR_MAX_CHUNK_BYTES)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, r->path, "stored chunk of %llu bytes exceeds the cap",
                              (unsigned long long)ci.size);
        LSTAR_CHECK_RET(raw_grow(s, (size_t)ci.size, r->path, err));
        unsigned mask = 0;
        LSTAR_CHECK_RET(lstar_h5_dataset_read_chunk(r->d, off, s->buf, s->cap, &s->size, &mask, err));
        if (mask == 0) return LSTAR_OK;
    } else if (st != LSTAR_OK && st != LSTAR_ERR_NOT_FOUND) {
        if (err) *err = e2;
        return st;
    }
    /* Not allocated (fill) or stored with a filter skipped: the decoded values, encoded by the target chain. */
    uint64_t start[LSTAR_MAX_RANK], count[LSTAR_MAX_RANK];
    for (int d = 0; d < r->rank; d++) {
        start[d] = off[d];
        count[d] = d == 0 ? (r->shape[0] - off[0] < r->chunks[0] ? r->shape[0] - off[0] : r->chunks[0]) : r->shape[d];
    }
    LSTAR_CHECK_RET(raw_grow(s, r->chunk_bytes, r->path, err));
    memset(s->buf, 0, r->chunk_bytes);
    LSTAR_CHECK_RET(lstar_array_read(r->src, start, count, s->buf, err));
    s->reencode = 1;
    return LSTAR_OK;
}

/* Worker: store chunk i (distinct keys may be set concurrently). */
static lstar_status raw_store(void *ud, size_t i, int worker, lstar_error *err) {
    raw_copy *r = ud;
    raw_slot *s = &r->slots[i % r->nslots];
    uint64_t cc[LSTAR_MAX_RANK] = {0};
    cc[0] = (uint64_t)i;
    LSTAR_CHECK_RET(raw_verify(r, i, worker, err));
    if (s->reencode) return lstar_zarr_array_write_chunk(r->za, cc, s->buf, err);
    return lstar_zarr_array_write_raw_chunk(r->za, cc, s->buf, s->size, err);
}

/* Codec family of a compression spec whose stream an HDF5 filter stores byte for byte: numcodecs zlib is
 * HDF5 deflate (1), zstd is the zstd filter (32015).  0 otherwise (gzip adds a header, blosc, lz4, none…). */
/* Sharded target, worker: re-encode a chunk the source did not store as is. */
static lstar_status raw_encode(void *ud, size_t i, int worker, lstar_error *err) {
    raw_copy *r = ud;
    raw_slot *s = &r->slots[i % r->nslots];
    lstar_free(s->enc);
    s->enc = NULL;
    LSTAR_CHECK_RET(raw_verify(r, i, worker, err));
    if (!s->reencode) return LSTAR_OK;
    return lstar_zarr_writer_encode_chunk(r->zw, s->buf, &s->enc, &s->enc_size, err);
}

/* Sharded target, calling thread, in chunk order: into the shard being assembled. */
static lstar_status raw_append(void *ud, size_t i, int worker, lstar_error *err) {
    raw_copy *r = ud;
    raw_slot *s = &r->slots[i % r->nslots];
    uint64_t r0 = (uint64_t)i * r->chunks[0];
    uint64_t rows = r->shape[0] - r0 < r->chunks[0] ? r->shape[0] - r0 : r->chunks[0];
    (void)worker;
    LSTAR_CHECK_RET(raw_order(r, i, err));
    lstar_status st = s->reencode ? lstar_zarr_writer_append_encoded(r->zw, rows, s->enc, s->enc_size, err)
                                  : lstar_zarr_writer_append_encoded(r->zw, rows, s->buf, s->size, err);
    lstar_free(s->enc);
    s->enc = NULL;
    return st;
}

static unsigned spec_filter(const char *spec) {
    if (!spec) return 0;
    if (!strncmp(spec, "zlib", 4) && (spec[4] == 0 || spec[4] == ':')) return HDF5_FILTER_DEFLATE;
    if (!strncmp(spec, "zstd", 4) && (spec[4] == 0 || spec[4] == ':')) return HDF5_FILTER_ZSTD;
    return 0;
}

/* Copy an HDF5 array's chunks verbatim when the requested compression is the source's only filter and its
 * chunks span the trailing dimensions (the array keeps the source's first-axis chunking).  *done = 0 when
 * the array does not qualify (nothing written). */
static lstar_status copy_h5_chunks(writer *w, const char *path, const lstar_array *a, lstar_dtype to, int *done,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset_info *di = NULL;
    lstar_zarr_array *za = NULL;
    raw_copy r;
    memset(&r, 0, sizeof r);
    *done = 0;
    lstar_h5_dataset *d = lstar_array_h5_dataset(a);
    unsigned want = spec_filter(w->o->compression);
    const lstar_array_info *info = lstar_array_get_info(a);
    if (!d || !want || info->rank < 1 || (to != LSTAR_DTYPE_INVALID && to != info->dtype)) return LSTAR_OK;
    di = lstar_malloc(sizeof *di);
    if (!di) return LSTAR_NOMEM(err, path);
    lstar_error e2;
    lstar_error_clear(&e2);
    if (lstar_h5_dataset_get_info(d, di, &e2) != LSTAR_OK) goto done; /* the normal path reports it */
    size_t es = lstar_dtype_size(info->dtype);
    if (di->layout != LSTAR_H5_LAYOUT_CHUNKED || di->nfilters != 1 || di->filters[0].id != want ||
        di->kind != LSTAR_H5_TYPE_NUMERIC || !lstar_dtype_is_numeric(info->dtype) ||
        info->dtype == LSTAR_DTYPE_FLOAT16 || es == 0 || di->itemsize != es || (di->big_endian && es > 1) ||
        di->rank != info->rank || di->shape[0] == 0)
        goto done;
    uint64_t cb = es;
    for (int k = 0; k < di->rank; k++) {
        if (k > 0 && di->chunks[k] != di->shape[k]) goto done;
        if (di->chunks[k] == 0 || cb > LSTAR_MAX_CHUNK_BYTES / di->chunks[k]) goto done;
        cb *= di->chunks[k];
    }
    uint64_t nchunks = (di->shape[0] + di->chunks[0] - 1) / di->chunks[0];
    /* Keep the source chunking only where the options leave it open: default chunking of an array that is
     * not a single chunk anyway, or the very chunk rows the options ask for. */
    uint64_t want_rows = w->o->chunk_elems ? lstar_chunk_rows(w->o->chunk_elems, di->rank, di->shape) : 0;
    /* Zarr v3 packs small source chunks into shards (one object per shard, not per chunk), also by default. */
    int v3 = w->o->zarr_format == 3;
    int pack = v3 && (w->o->shard_elems > 0 || (!w->o->chunk_elems && cb < RAW_COPY_MIN_CHUNK_BYTES));
    if (w->o->chunk_elems ? want_rows != di->chunks[0] : (nchunks < 2 || (cb < RAW_COPY_MIN_CHUNK_BYTES && !pack)))
        goto done;
    r.d = d;
    r.src = a;
    r.rank = di->rank;
    r.es = es;
    r.chunk_bytes = (size_t)cb;
    r.path = path;
    for (int k = 0; k < di->rank; k++) {
        r.shape[k] = di->shape[k];
        r.chunks[k] = di->chunks[k];
    }
    lstar_zarr_array_spec spec;
    make_spec(w, info->dtype, info->rank, info->shape, &spec);
    spec.chunks[0] = di->chunks[0];
    if (pack) {
        uint64_t inner = cb / es / di->chunks[0]; /* elements per row */
        uint64_t target = w->o->shard_elems ? w->o->shard_elems : RAW_COPY_SHARD_ELEMS;
        uint64_t k = target / (di->chunks[0] * inner);
        if (k < 1) k = 1;
        if (k > nchunks) k = nchunks;
        if (k > LSTAR_MAX_SHARD_CHUNKS) k = LSTAR_MAX_SHARD_CHUNKS;
        spec.shard[0] = k * di->chunks[0];
        for (int q = 1; q < info->rank; q++) spec.shard[q] = spec.chunks[q];
    } else {
        for (int q = 0; q < info->rank; q++) spec.shard[q] = 0;
    }
    r.nslots = (size_t)(w->threads > 1 ? w->threads : 1) * RAW_SLOTS_PER_THREAD;
    r.slots = lstar_calloc(r.nslots, sizeof *r.slots);
    r.nworkers = w->pool ? lstar_pool_threads(w->pool) : 1;
    r.scratch = lstar_calloc((size_t)r.nworkers, sizeof *r.scratch);
    r.dtype = info->dtype;
    r.check = w->check;
    if (!r.slots || !r.scratch) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    st = lstar_codec_from_json(want == HDF5_FILTER_ZSTD ? "{\"id\": \"zstd\", \"level\": 3}" : "{\"id\": \"zlib\", \"level\": 1}",
                               LSTAR_DTYPE_UINT8, 1, &r.verify, err);
    if (st != LSTAR_OK) goto done;
    if (pack) {
        spec.threads = 1; /* this function's pool encodes; the writer only assembles shards */
        st = lstar_zarr_writer_new(w->z, path, &spec, &r.zw, err);
        if (st == LSTAR_OK) {
            *done = 1;
            st = lstar_pool_pipeline(w->pool, (size_t)nchunks, r.nslots, raw_load, raw_encode, raw_append, &r, err);
        }
        if (st == LSTAR_OK) st = vc_end(r.check, path, err);
        if (st == LSTAR_OK) st = lstar_zarr_writer_finish(r.zw, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, path);
            goto done;
        }
        progress(w, lstar_array_size(a));
        goto done;
    }
    st = lstar_zarr_array_create(w->z, path, &spec, &za, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        goto done;
    }
    *done = 1;
    r.za = za;
    st = lstar_pool_pipeline(w->pool, (size_t)nchunks, r.nslots, raw_load, raw_store, raw_ordered, &r, err);
    if (st == LSTAR_OK) st = vc_end(r.check, path, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        goto done;
    }
    progress(w, lstar_array_size(a));
done:
    if (r.slots)
        for (size_t k = 0; k < r.nslots; k++) {
            lstar_free(r.slots[k].buf);
            lstar_free(r.slots[k].enc);
        }
    if (r.scratch)
        for (int k = 0; k < r.nworkers; k++) lstar_free(r.scratch[k]);
    lstar_free(r.scratch);
    lstar_codec_free(r.verify);
    lstar_zarr_writer_free(r.zw);
    lstar_free(r.slots);
    lstar_zarr_array_close(za);
    lstar_free(di);
    return st;
}

static lstar_status write_array(writer *w, const char *dir, const char *name, const lstar_array *a, lstar_dtype to,
                                lstar_error *err) {
    char path[LSTAR_MAX_KEY_BYTES];
    row_source s;
    lstar_status st = lstarfmt_join(path, sizeof path, dir, name, err);
    if (st != LSTAR_OK) return st;
    const lstar_array_info *info = lstar_array_get_info(a);
    memset(&s, 0, sizeof s);
    s.dtype = info->dtype;
    s.rank = info->rank;
    for (int d = 0; d < info->rank; d++) s.shape[d] = info->shape[d];
    s.read_rows = rows_from_array;
    s.arr = a;
    s.pool = w->pool;
    int copied = 0;
    st = copy_h5_chunks(w, path, a, to, &copied, err);
    if (st != LSTAR_OK || copied) return st;
    return write_rows(w, path, &s, to, err);
}

static lstar_status write_memory_1d(writer *w, const char *path, lstar_dtype dtype, uint64_t n, const void *data,
                                    lstar_error *err) {
    row_source s;
    memset(&s, 0, sizeof s);
    s.quiet = 1;
    s.dtype = dtype;
    s.rank = 1;
    s.shape[0] = n;
    s.read_rows = rows_from_memory;
    s.mem = data;
    return write_rows(w, path, &s, dtype, err);
}

/* ---- strings: <name> (uint8 bytes) + <name>_offsets (int64, n+1) ---------- */

static lstar_status write_strings_mem(writer *w, const char *dir, const char *name, const lstar_strings *s,
                                      lstar_error *err) {
    char bpath[LSTAR_MAX_KEY_BYTES], opath[LSTAR_MAX_KEY_BYTES], oname[1100];
    static const int64_t zero = 0;
    lstar_status st;
    snprintf(oname, sizeof oname, "%s_offsets", name);
    st = lstarfmt_join(bpath, sizeof bpath, dir, name, err);
    if (st == LSTAR_OK) st = lstarfmt_join(opath, sizeof opath, dir, oname, err);
    if (st != LSTAR_OK) return st;
    uint64_t nbytes = s->offsets ? (uint64_t)s->offsets[s->n] : 0;
    st = write_memory_1d(w, bpath, LSTAR_DTYPE_UINT8, nbytes, s->bytes, err);
    if (st != LSTAR_OK) return st;
    return write_memory_1d(w, opath, LSTAR_DTYPE_INT64, (uint64_t)s->n + 1, s->offsets ? s->offsets : &zero, err);
}

/* Items in the block of a string array of n items that starts at item i. */
static uint64_t block_items(uint64_t i, uint64_t n) { return n - i < STRING_BLOCK_ITEMS ? n - i : STRING_BLOCK_ITEMS; }

/* A STRING lstar_array that is not in memory: count its bytes, then stream
 * bytes and offsets together in blocks of items. */
static lstar_status write_strings_stream(writer *w, const char *dir, const char *name, const lstar_array *a,
                                         lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char bpath[LSTAR_MAX_KEY_BYTES], opath[LSTAR_MAX_KEY_BYTES], oname[1100];
    lstar_zarr_writer *bw = NULL, *ow = NULL;
    lstar_zarr_array_spec bspec, ospec;
    lstar_strings blk;
    int64_t *offs = NULL;
    uint64_t n = lstar_array_shape(a)[0], total = 0;
    memset(&blk, 0, sizeof blk);
    snprintf(oname, sizeof oname, "%s_offsets", name);
    LSTAR_CHECK(lstarfmt_join(bpath, sizeof bpath, dir, name, err));
    LSTAR_CHECK(lstarfmt_join(opath, sizeof opath, dir, oname, err));
    for (uint64_t i = 0; i < n; i += STRING_BLOCK_ITEMS) {
        LSTAR_CHECK(lstar_array_read_strings(a, i, block_items(i, n), &blk, err)); /* where: bpath (done) */
        total += (uint64_t)(blk.offsets[blk.n] - blk.offsets[0]);
        lstar_strings_destroy(&blk);
    }
    uint64_t oshape = n + 1;
    make_spec(w, LSTAR_DTYPE_UINT8, 1, &total, &bspec);
    make_spec(w, LSTAR_DTYPE_INT64, 1, &oshape, &ospec);
    offs = lstar_malloc(sizeof(int64_t) * (size_t)(STRING_BLOCK_ITEMS + 1));
    if (!offs) {
        st = LSTAR_NOMEM(err, opath);
        goto done;
    }
    LSTAR_CHECK(lstar_zarr_writer_new(w->z, bpath, &bspec, &bw, err));
    LSTAR_CHECK(lstar_zarr_writer_new(w->z, opath, &ospec, &ow, err));
    int64_t base = 0;
    offs[0] = 0;
    LSTAR_CHECK(lstar_zarr_writer_append(ow, offs, 1, err));
    for (uint64_t i = 0; i < n; i += STRING_BLOCK_ITEMS) {
        LSTAR_CHECK(lstar_array_read_strings(a, i, block_items(i, n), &blk, err)); /* where: bpath (done) */
        int64_t b0 = blk.offsets[0]; /* blocks normally start at 0; do not rely on it */
        uint64_t nb = (uint64_t)(blk.offsets[blk.n] - b0);
        if ((uint64_t)base + nb > total) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, bpath, "string array changed while being copied");
            goto done;
        }
        for (size_t k = 0; k < blk.n; k++) offs[k] = base + (blk.offsets[k + 1] - b0);
        if (nb) LSTAR_CHECK(lstar_zarr_writer_append(bw, blk.bytes + b0, nb, err));
        LSTAR_CHECK(lstar_zarr_writer_append(ow, offs, blk.n, err));
        base += (int64_t)nb;
        progress(w, blk.n);
        lstar_strings_destroy(&blk);
    }
    if ((uint64_t)base != total) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, bpath, "string array changed while being copied");
        goto done;
    }
    LSTAR_CHECK(lstar_zarr_writer_finish(bw, err));
    LSTAR_CHECK(lstar_zarr_writer_finish(ow, err));
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, bpath);
    lstar_strings_destroy(&blk);
    lstar_free(offs);
    lstar_zarr_writer_free(bw);
    lstar_zarr_writer_free(ow);
    return st;
}

static lstar_status write_strings(writer *w, const char *dir, const char *name, const lstar_array *a,
                                  lstar_error *err) {
    char path[LSTAR_MAX_KEY_BYTES];
    lstar_status st = lstarfmt_join(path, sizeof path, dir, name, err);
    if (st != LSTAR_OK) return st;
    if (lstar_array_dtype(a) != LSTAR_DTYPE_STRING || lstar_array_rank(a) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "expected a 1-D string array, got rank %d %s",
                          lstar_array_rank(a), lstar_dtype_name(lstar_array_dtype(a)));
    const lstar_strings *s = lstar_array_memory_strings(a);
    if (s) {
        st = write_strings_mem(w, dir, name, s, err);
        if (st == LSTAR_OK) progress(w, s->n);
        return st;
    }
    return write_strings_stream(w, dir, name, a, err);
}

/* ---- JSON attribute builders --------------------------------------------- */

/* A string or null; NULL on failure (invalid UTF-8 or out of memory). */
static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *jtri(int v) { return v == LSTAR_UNSET ? json_null() : json_boolean(v != 0); }

/* Append key → value (value reference stolen).  Returns -1 on failure. */
static int put(json_t *obj, const char *key, json_t *v) {
    if (!v) return -1;
    return json_object_set_new(obj, key, v);
}

static json_t *jprov(const char *text) {
    json_t *v = NULL;
    if (!text) return json_object();
    if (lstar_json_parse(text, strlen(text), NULL, &v, NULL) != LSTAR_OK) return NULL;
    if (!json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* {"lstar": inner} as compact text (insertion order kept). */
static lstar_status wrap_dump(json_t *inner, const char *where, char **out, lstar_error *err) {
    *out = NULL;
    json_t *doc = json_object();
    if (!doc || json_object_set_new(doc, "lstar", inner) != 0) {
        if (!doc) json_decref(inner);
        json_decref(doc);
        return LSTAR_NOMEM(err, where);
    }
    *out = lstar_json_dump(doc, 0);
    json_decref(doc);
    return *out ? LSTAR_OK : LSTAR_NOMEM(err, where);
}

static lstar_status group(writer *w, const char *path, json_t *inner, lstar_error *err) {
    char *text = NULL;
    lstar_status st;
    if (inner) {
        st = wrap_dump(inner, path, &text, err);
        if (st != LSTAR_OK) return st;
    }
    st = lstar_zarr_group_create(w->z, path, text ? text : "{}", err);
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    lstar_free(text);
    return st;
}

static json_t *name_list(size_t n, const char *(*get)(const lstar_dataset *, size_t), const lstar_dataset *ds) {
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, jstr(get(ds, i))) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static const char *axis_name_at(const lstar_dataset *ds, size_t i) {
    return lstar_axis_name(lstar_dataset_axis_at(ds, i));
}
static const char *field_name_at(const lstar_dataset *ds, size_t i) {
    return lstar_field_name(lstar_dataset_field_at(ds, i));
}
static const char *pass_name_at(const lstar_dataset *ds, size_t i) {
    return lstar_passthrough_namespace(lstar_dataset_passthrough_at(ds, i));
}

static lstar_status write_root(writer *w, lstar_error *err) {
    const lstar_dataset *ds = w->ds;
    json_t *l = json_object();
    int bad = !l;
    if (l) {
        bad |= put(l, "spec_version", jstr(lstar_dataset_spec_version(ds) ? lstar_dataset_spec_version(ds)
                                                                          : LSTAR_SPEC_VERSION));
        bad |= put(l, "kind", jstr(lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample"));
        bad |= put(l, "profiles", name_list(lstar_dataset_profile_count(ds), lstar_dataset_profile, ds));
        bad |= put(l, "dropped", name_list(lstar_dataset_dropped_count(ds), lstar_dataset_dropped, ds));
        bad |= put(l, "axes", name_list(lstar_dataset_axis_count(ds), axis_name_at, ds));
        bad |= put(l, "fields", name_list(lstar_dataset_field_count(ds), field_name_at, ds));
        bad |= put(l, "passthrough", name_list(lstar_dataset_passthrough_count(ds), pass_name_at, ds));
    }
    if (bad) {
        json_decref(l);
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "",
                          "cannot build the root attributes (out of memory or a string is not valid UTF-8)");
    }
    return group(w, "", l, err);
}

/* ---- axes ---------------------------------------------------------------- */

static lstar_status write_axis(writer *w, const lstar_axis *ax, lstar_error *err) {
    char path[LSTAR_MAX_KEY_BYTES];
    lstar_status st;
    const char *name = lstar_axis_name(ax);
    st = lstarfmt_join(path, sizeof path, "axes", name, err);
    if (st != LSTAR_OK) return st;
    json_t *l = json_object();
    int bad = !l;
    if (l) {
        bad |= put(l, "kind", json_string("axis"));
        bad |= put(l, "origin", jstr(lstar_axis_origin(ax)));
        bad |= put(l, "role", jstr(lstar_axis_role(ax)));
        bad |= put(l, "induced_by", jstr(lstar_axis_induced_by(ax)));
        bad |= put(l, "provenance", jprov(lstar_axis_provenance(ax)));
    }
    if (bad) {
        json_decref(l);
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path,
                          "cannot build the axis attributes (out of memory, invalid UTF-8 or provenance not an object)");
    }
    st = group(w, path, l, err);
    if (st != LSTAR_OK) return st;
    st = write_strings_mem(w, path, "labels", lstar_axis_labels(ax), err);
    if (st == LSTAR_OK) progress(w, lstar_axis_labels(ax)->n);
    return st;
}

/* ---- fields -------------------------------------------------------------- */

/* The logical shape written in the `shape` attribute. */
static lstar_status field_shape(const writer *w, const lstar_field *f, uint64_t *dims, int *rank,
                                const char *path, lstar_error *err) {
    int r = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
    size_t nspan = lstar_field_span_count(f);
    lstar_encoding enc = lstar_field_encoding(f);
    if (r > 0 || (r == 0 && nspan == 0)) {
        *rank = r;
        return LSTAR_OK;
    }
    /* Sparse fields without a recorded shape: the span's axis lengths, with
     * len(index) along a partial index axis. */
    if (enc != LSTAR_ENC_CSR && enc != LSTAR_ENC_CSC && enc != LSTAR_ENC_COO) {
        *rank = r < 0 ? 0 : r;
        return LSTAR_OK;
    }
    const char *ia = lstar_field_index_axis(f);
    const lstar_array *index = lstar_field_array(f, "index");
    for (size_t i = 0; i < nspan && i < LSTAR_MAX_RANK; i++) {
        const char *an = lstar_field_span(f, i);
        if (ia && index && strcmp(an, ia) == 0) {
            dims[i] = lstar_array_size(index);
            continue;
        }
        const lstar_axis *ax = lstar_dataset_axis(w->ds, an);
        if (!ax)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path,
                              "sparse field has no shape and its span axis '%.200s' does not exist", an);
        dims[i] = lstar_axis_length(ax);
    }
    *rank = (int)nspan;
    return LSTAR_OK;
}

static json_t *field_attrs(const lstar_field *f, const uint64_t *dims, int rank) {
    json_t *l = json_object(), *span = json_array(), *shape = json_array();
    int bad = !l || !span || !shape;
    if (bad) goto out;
    lstar_encoding enc = lstar_field_encoding(f);
    const char *ia = lstar_field_index_axis(f);
    for (size_t i = 0; i < lstar_field_span_count(f); i++)
        bad |= json_array_append_new(span, jstr(lstar_field_span(f, i)));
    for (int d = 0; d < rank; d++) bad |= json_array_append_new(shape, json_integer((json_int_t)dims[d]));
    bad |= put(l, "kind", json_string("field"));
    bad |= put(l, "role", jstr(lstar_field_role(f)));
    bad |= put(l, "span", span);
    span = NULL;
    bad |= put(l, "state", jstr(lstar_field_state(f)));
    bad |= put(l, "encoding", jstr(lstar_encoding_name(enc)));
    bad |= put(l, "coverage", json_string(ia ? "partial" : "full"));
    bad |= put(l, "directed", jtri(lstar_field_directed(f)));
    bad |= put(l, "weighted", jtri(lstar_field_weighted(f)));
    bad |= put(l, "subtype", jstr(lstar_field_subtype(f)));
    bad |= put(l, "uncertainty", jstr(lstar_field_uncertainty(f)));
    bad |= put(l, "provenance", jprov(lstar_field_provenance(f)));
    if (enc == LSTAR_ENC_CATEGORICAL) bad |= put(l, "ordered", json_boolean(lstar_field_ordered(f) == 1));
    bad |= put(l, "shape", shape);
    shape = NULL;
    if (lstar_field_array(f, "mask")) bad |= put(l, "nullable", json_true());
    if (ia) bad |= put(l, "index_axis", json_string(ia));
out:
    json_decref(span);
    json_decref(shape);
    if (bad) {
        json_decref(l);
        return NULL;
    }
    return l;
}

static lstar_status write_field(writer *w, const lstar_field *f, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char path[LSTAR_MAX_KEY_BYTES];
    uint64_t dims[LSTAR_MAX_RANK];
    int rank = 0;
    const char *name = lstar_field_name(f);
    lstar_encoding enc = lstar_field_encoding(f);
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, "fields", name, err));
    const char *const *names = lstar_encoding_arrays(enc);
    LSTAR_CHECK(field_shape(w, f, dims, &rank, path, err));
    json_t *l = field_attrs(f, dims, rank);
    if (!l) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path,
                        "cannot build the field attributes (out of memory, invalid UTF-8 or provenance not an object)");
        goto done;
    }
    LSTAR_CHECK(group(w, path, l, err));
    switch (enc) {
    case LSTAR_ENC_UTF8:
        LSTAR_CHECK(write_strings(w, path, "values", lstar_field_array(f, "values"), err));
        break;
    case LSTAR_ENC_CATEGORICAL:
        LSTAR_CHECK(write_array(w, path, "codes", lstar_field_array(f, "codes"), LSTAR_DTYPE_INT32, err));
        LSTAR_CHECK(write_strings(w, path, "categories", lstar_field_array(f, "categories"), err));
        break;
    default:
        /* dense values, csr/csc data/indices/indptr, coo row/col/weight: source dtypes kept; the indices
         * and indptr of csr/csc are validated as they stream (a corrupt source fails, naming the array) */
        for (size_t i = 0; names[i]; i++) {
            value_check vc;
            memset(&vc, 0, sizeof vc);
            if ((enc == LSTAR_ENC_CSR || enc == LSTAR_ENC_CSC) && rank == 2 && lstar_field_array(f, "indices")) {
                if (strcmp(names[i], "indices") == 0) {
                    vc.kind = VC_INDICES;
                    vc.lim = dims[enc == LSTAR_ENC_CSR ? 1 : 0];
                } else if (strcmp(names[i], "indptr") == 0) {
                    vc.kind = VC_INDPTR;
                    vc.lim = lstar_array_size(lstar_field_array(f, "indices"));
                }
            }
            w->check = vc.kind ? &vc : NULL;
            st = write_array(w, path, names[i], lstar_field_array(f, names[i]), LSTAR_DTYPE_INVALID, err);
            w->check = NULL;
            LSTAR_CHECK(st);
        }
        break;
    }
    if (lstar_field_array(f, "mask"))
        LSTAR_CHECK(write_array(w, path, "mask", lstar_field_array(f, "mask"), LSTAR_DTYPE_UINT8, err));
    if (lstar_field_index_axis(f))
        LSTAR_CHECK(write_array(w, path, "index", lstar_field_array(f, "index"), LSTAR_DTYPE_INT64, err));
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    return st;
}

/* ---- passthrough ---------------------------------------------------------- */

static lstar_status write_passthrough(writer *w, const lstar_passthrough *p, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char path[LSTAR_MAX_KEY_BYTES];
    size_t n = lstar_passthrough_leaf_count(p);
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, "passthrough", lstar_passthrough_namespace(p), err));
    json_t *l = json_object(), *arrays = json_array();
    int bad = !l || !arrays;
    for (size_t i = 0; !bad && i < n; i++) {
        const char *id = lstar_passthrough_leaf_id(p, i), *kind = lstar_passthrough_leaf_kind(p, i);
        if (!lstarfmt_name_ok(id)) {
            json_decref(l);
            json_decref(arrays);
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "leaf id '%.200s' is not a valid path segment",
                            id ? id : "");
            goto done;
        }
        json_t *e = json_object();
        bad |= !e;
        if (e) {
            bad |= put(e, "id", jstr(id));
            bad |= put(e, "kind", jstr(kind));
            bad |= json_array_append_new(arrays, e);
        }
    }
    if (!bad) {
        bad |= put(l, "kind", json_string("passthrough"));
        bad |= put(l, "tree", jstr(lstar_passthrough_tree(p) ? lstar_passthrough_tree(p) : "{\"$obj\": {}}"));
        bad |= put(l, "arrays", arrays);
        arrays = NULL;
    }
    json_decref(arrays);
    if (bad) {
        json_decref(l);
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path,
                        "cannot build the passthrough attributes (out of memory or invalid UTF-8)");
        goto done;
    }
    LSTAR_CHECK(group(w, path, l, err));
    for (size_t i = 0; i < n; i++) {
        const char *id = lstar_passthrough_leaf_id(p, i), *kind = lstar_passthrough_leaf_kind(p, i);
        const lstar_array *a = lstar_passthrough_leaf(p, i);
        if (kind && strcmp(kind, "utf8") == 0)
            LSTAR_CHECK(write_strings(w, path, id, a, err));
        else if (kind && strcmp(kind, "dense") == 0)
            LSTAR_CHECK(write_array(w, path, id, a, LSTAR_DTYPE_INVALID, err));
        else {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "leaf '%.200s' has unknown kind '%.100s'", id,
                            kind ? kind : "");
            goto done;
        }
    }
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    return st;
}

/* ---- driver ---------------------------------------------------------------- */

static uint64_t array_units(const lstar_array *a) {
    if (!a) return 0;
    if (lstar_array_rank(a) == 0) return 1;
    return lstar_array_size(a);
}

static uint64_t total_units(const lstar_dataset *ds) {
    uint64_t t = 0;
    static const char *const extra[] = {"mask", "index", NULL};
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) t += lstar_axis_length(lstar_dataset_axis_at(ds, i));
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        const char *const *names = lstar_encoding_arrays(lstar_field_encoding(f));
        for (size_t k = 0; names && names[k]; k++) t += array_units(lstar_field_array(f, names[k]));
        for (size_t k = 0; extra[k]; k++) t += array_units(lstar_field_array(f, extra[k]));
    }
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++) {
        const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
        for (size_t k = 0; k < lstar_passthrough_leaf_count(p); k++) t += array_units(lstar_passthrough_leaf(p, k));
    }
    return t;
}

/* The arrays each field's encoding needs must all be there (checked before
 * anything is written). */
static lstar_status check_field_arrays(const lstar_field *f, lstar_error *err) {
    char path[LSTAR_MAX_KEY_BYTES], ap[LSTAR_MAX_KEY_BYTES];
    lstar_encoding enc = lstar_field_encoding(f);
    lstar_status st = lstarfmt_join(path, sizeof path, "fields", lstar_field_name(f), err);
    if (st != LSTAR_OK) return st;
    if ((int)enc < 0 || enc >= LSTAR_ENC_COUNT_)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid encoding %d", (int)enc);
    const char *const *names = lstar_encoding_arrays(enc);
    for (size_t i = 0; names[i]; i++) {
        const lstar_array *a = lstar_field_array(f, names[i]);
        st = lstarfmt_join(ap, sizeof ap, path, names[i], err);
        if (st != LSTAR_OK) return st;
        if (!a)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, ap, "field (encoding %s) has no '%s' array",
                              lstar_encoding_name(enc), names[i]);
        int want_strings = enc == LSTAR_ENC_UTF8 || (enc == LSTAR_ENC_CATEGORICAL && strcmp(names[i], "categories") == 0);
        if (want_strings != (lstar_array_dtype(a) == LSTAR_DTYPE_STRING))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, ap, "'%s' must be %s array, not %s", names[i],
                              want_strings ? "a string" : "a numeric", lstar_dtype_name(lstar_array_dtype(a)));
    }
    if (lstar_field_index_axis(f) && !lstar_field_array(f, "index")) {
        st = lstarfmt_join(ap, sizeof ap, path, "index", err);
        if (st != LSTAR_OK) return st;
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, ap, "partially covered field has no 'index' array");
    }
    return LSTAR_OK;
}

static lstar_status check_names(const lstar_dataset *ds, lstar_error *err) {
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const char *n = lstar_axis_name(lstar_dataset_axis_at(ds, i));
        if (!lstarfmt_name_ok(n))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "axes", "axis name '%.200s' cannot be a store path segment",
                              n ? n : "");
    }
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
        const char *n = lstar_field_name(lstar_dataset_field_at(ds, i));
        if (!lstarfmt_name_ok(n))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "fields",
                              "field name '%.200s' cannot be a store path segment", n ? n : "");
        lstar_status st = check_field_arrays(lstar_dataset_field_at(ds, i), err);
        if (st != LSTAR_OK) return st;
    }
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++) {
        const char *n = lstar_passthrough_namespace(lstar_dataset_passthrough_at(ds, i));
        if (!lstarfmt_name_ok(n))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "passthrough",
                              "namespace '%.200s' cannot be a store path segment", n ? n : "");
    }
    return LSTAR_OK;
}

lstar_status lstar_dataset_write_store(const lstar_dataset *ds, lstar_store *store, const lstar_write_options *o,
                                       lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_write_options defaults;
    writer w;
    memset(&w, 0, sizeof w);
    if (!ds || !store)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_dataset_write_store: NULL argument");
    if (!o) {
        lstar_write_options_init(&defaults);
        o = &defaults;
    }
    if (o->zarr_format != 2 && o->zarr_format != 3)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "zarr_format must be 2 or 3, not %d", o->zarr_format);
    if (o->shard_elems && o->zarr_format != 3)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "sharding (shard_elems) needs zarr_format 3");
    if (o->threads < 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "threads must be >= 0");
    if (!lstar_store_writable(store)) return LSTAR_FAIL(err, LSTAR_ERR_READONLY, NULL, "the store is not writable");
    st = check_names(ds, err);
    if (st != LSTAR_OK) return st;
    static const char *const roots[] = {".zgroup", ".zarray", ".zattrs", ".zmetadata", "zarr.json", NULL};
    for (size_t i = 0; roots[i]; i++) {
        lstar_error e;
        lstar_error_clear(&e);
        if (lstar_store_exists(store, roots[i], &e))
            return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, roots[i], "the store already holds a Zarr hierarchy");
        if (e.status != LSTAR_OK) {
            if (err) *err = e;
            return e.status;
        }
    }
    w.ds = ds;
    w.o = o;
    w.threads = o->threads ? o->threads : lstar_cpu_count();
    if (w.threads > LSTAR_MAX_THREADS) w.threads = LSTAR_MAX_THREADS;
    w.total = total_units(ds);
    if (w.threads > 1) LSTAR_CHECK(lstar_pool_new(w.threads, &w.pool, err));
    LSTAR_CHECK(lstar_zarr_create(store, o->zarr_format, &w.z, err));
    LSTAR_CHECK(write_root(&w, err));
    LSTAR_CHECK(group(&w, "axes", NULL, err));
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++)
        LSTAR_CHECK(write_axis(&w, lstar_dataset_axis_at(ds, i), err));
    LSTAR_CHECK(group(&w, "fields", NULL, err));
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++)
        LSTAR_CHECK(write_field(&w, lstar_dataset_field_at(ds, i), err));
    LSTAR_CHECK(group(&w, "models", NULL, err));
    if (lstar_dataset_passthrough_count(ds) > 0) {
        LSTAR_CHECK(group(&w, "passthrough", NULL, err));
        for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++)
            LSTAR_CHECK(write_passthrough(&w, lstar_dataset_passthrough_at(ds, i), err));
    }
    if (o->consolidate) LSTAR_CHECK(lstar_zarr_consolidate(w.z, err));
    LSTAR_CHECK(lstar_store_flush(store, err));
done:
    lstar_zarr_close(w.z);
    lstar_pool_free(w.pool);
    return st;
}
