/* The streaming writer: rows are buffered one unit (row of chunks or shards)
 * at a time — times the thread count — encoded (in parallel with a pool) and
 * written in order; finish() pads the last unit and rewrites the metadata.
 *
 * Fast path (every array whose trailing chunk dimensions are the whole
 * trailing dimensions — the L★ and AnnData writers' layout): each chunk is a
 * contiguous run of the caller's rows.  Workers encode a chunk straight from
 * the caller's memory (an empty codec chain stores those bytes with no copy;
 * only a fill-padded last chunk goes through per-worker scratch) and store it
 * themselves (distinct keys may be set concurrently).  Sharded (v3) arrays
 * buffer whole chunks, not whole shards: encoded chunks are appended to the
 * one shard being assembled, which is written with its index when complete,
 * so memory is one shard plus a batch of chunks.  Bytes written are the same
 * as lstar_zarr_write_rows' for any thread count. */
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "zarr/zarr_internal.h"

struct lstar_zarr_writer {
    lstar_zarr_array *a;
    lstar_pool *pool;
    uint8_t *buf;         /* buffered rows */
    uint64_t cap_rows;    /* rows the buffer holds */
    uint64_t buf_rows;    /* rows in the buffer */
    uint64_t buf_row0;    /* global index of the first buffered row */
    uint64_t rows;        /* rows appended so far */
    size_t row_bytes;
    int finished;
    /* fast path (see the top of the file) */
    int fast;
    uint8_t **scratch;    /* per worker, chunk_bytes (fill-padded edge chunks) */
    int nworkers;
    uint8_t **res;        /* sharded: encoded chunks of one batch */
    size_t *res_size;
    uint8_t *res_owned;   /* sharded: res[t] is lstar_malloc'd (else it points into the caller's rows) */
    size_t batch_cap;     /* chunks per batch */
    /* sharded: the shard being assembled */
    uint8_t *shard;
    size_t shard_cap, shard_pos; /* bytes allocated / used (the reserved start index included) */
    uint64_t *shard_index;       /* 2 * shard_n entries: offset, size */
    uint64_t shard_g0;           /* grid coordinate (axis 0) of the open shard */
    uint64_t shard_filled;       /* inner chunks appended to it */
    int shard_open;
};

/* ---- fast path ---------------------------------------------------------------------------------------- */

static int fast_eligible(const lstar_zarr_array *a) {
    if (a->rank < 1 || a->chain.ab != ZARR_AB_BYTES || a->chunk_bytes == 0) return 0;
    for (int d = 1; d < a->rank; d++) {
        if (a->chunks[d] != a->shape[d]) return 0;
        if (a->sharded && a->grid[d] != a->chunks[d]) return 0;
    }
    if (a->sharded && (a->shard_n != a->cps[0] || a->shard_n == 0)) return 0;
    return 1;
}

static int identity_chain(const lstar_zarr_array *a) {
    return a->chain.n_aa == 0 && a->chain.n_bb == 0 && a->chain.big_endian == lstar_zarr_native_big_endian();
}

typedef struct fast_job {
    lstar_zarr_writer *w;
    const uint8_t *src;
    uint64_t row0, nrows; /* rows held by src */
    uint64_t c0;          /* first chunk (axis-0 chunk coordinate) of the batch */
} fast_job;

/* The decoded bytes of chunk c: straight from src when whole, else fill-padded into scratch. */
static lstar_status fast_chunk_in(fast_job *j, uint64_t c, int worker, const uint8_t **in, lstar_error *err) {
    lstar_zarr_writer *w = j->w;
    lstar_zarr_array *a = w->a;
    uint64_t r0 = c * a->chunks[0], lim = j->row0 + j->nrows;
    if (a->shape[0] < lim) lim = a->shape[0];
    uint64_t have = r0 < lim ? (lim - r0 < a->chunks[0] ? lim - r0 : a->chunks[0]) : 0;
    const uint8_t *p = j->src + (size_t)(r0 - j->row0) * w->row_bytes;
    if (have == a->chunks[0]) {
        *in = p;
        return LSTAR_OK;
    }
    if (!w->scratch[worker]) {
        w->scratch[worker] = lstar_malloc(a->chunk_bytes);
        if (!w->scratch[worker]) return LSTAR_NOMEM(err, a->path);
    }
    uint8_t *s = w->scratch[worker];
    size_t nb = (size_t)have * w->row_bytes;
    if (nb) memcpy(s, p, nb);
    uint64_t row_elems = w->row_bytes / a->itemsize;
    lstar_zarr_fill(a, s + nb, (a->chunks[0] - have) * row_elems);
    *in = s;
    return LSTAR_OK;
}

/* Unsharded: encode and store chunk c0 + i (worker). */
static lstar_status fast_task(void *ud, size_t i, int worker, lstar_error *err) {
    fast_job *j = ud;
    lstar_zarr_array *a = j->w->a;
    uint64_t cc[LSTAR_MAX_RANK] = {0};
    char key[LSTAR_MAX_KEY_BYTES + 1];
    const uint8_t *in = NULL;
    uint8_t *enc = NULL;
    size_t n = 0;
    cc[0] = j->c0 + i;
    lstar_status st = lstar_zarr_grid_key(a, cc, key, err);
    if (st == LSTAR_OK) st = fast_chunk_in(j, cc[0], worker, &in, err);
    if (st != LSTAR_OK) return st;
    if (identity_chain(a)) return lstar_store_set(a->z->store, key, in, a->chunk_bytes, err);
    st = lstar_zarr_chunk_encode(a, in, &enc, &n, err);
    if (st == LSTAR_OK) st = lstar_store_set(a->z->store, key, enc, n, err);
    lstar_free(enc);
    return st;
}

/* Sharded: encode chunk c0 + i into res[i] (worker); identity chains point into src/scratch. */
static lstar_status fast_encode_task(void *ud, size_t i, int worker, lstar_error *err) {
    fast_job *j = ud;
    lstar_zarr_writer *w = j->w;
    lstar_zarr_array *a = w->a;
    const uint8_t *in = NULL;
    w->res[i] = NULL;
    w->res_size[i] = 0;
    w->res_owned[i] = 0;
    lstar_status st = fast_chunk_in(j, j->c0 + i, worker, &in, err);
    if (st != LSTAR_OK) return st;
    if (identity_chain(a) && in != w->scratch[worker]) {
        w->res[i] = (uint8_t *)(uintptr_t)in;
        w->res_size[i] = a->chunk_bytes;
        return LSTAR_OK;
    }
    st = lstar_zarr_chunk_encode(a, in, &w->res[i], &w->res_size[i], err);
    if (st == LSTAR_OK) w->res_owned[i] = 1;
    return st;
}

static size_t shard_index_bytes(const lstar_zarr_array *a) {
    return (size_t)(16 * a->shard_n + (a->index_crc ? 4 : 0));
}

static void put64(uint8_t *p, uint64_t v, int big) {
    for (int k = 0; k < 8; k++) p[big ? 7 - k : k] = (uint8_t)(v >> (8 * k));
}

/* Write the open shard (its missing trailing chunks empty) and close it. */
static lstar_status shard_close(lstar_zarr_writer *w, lstar_error *err) {
    lstar_zarr_array *a = w->a;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint64_t g[LSTAR_MAX_RANK] = {0};
    if (!w->shard_open) return LSTAR_OK;
    size_t ib = shard_index_bytes(a);
    size_t total = w->shard_pos + (a->index_at_start ? 0 : ib);
    if (total > LSTAR_MAX_CHUNK_BYTES) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "shard too large");
    if (total > w->shard_cap) {
        uint8_t *nb = lstar_realloc(w->shard, total);
        if (!nb) return LSTAR_NOMEM(err, a->path);
        w->shard = nb;
        w->shard_cap = total;
    }
    uint8_t *index = a->index_at_start ? w->shard : w->shard + w->shard_pos;
    for (uint64_t i = 0; i < 2 * a->shard_n; i++)
        put64(index + 8 * i, i / 2 < w->shard_filled ? w->shard_index[i] : UINT64_MAX, a->index_big_endian);
    if (a->index_crc) {
        uint32_t crc = lstar_crc32c(0, index, (size_t)(16 * a->shard_n));
        uint8_t *q = index + 16 * a->shard_n;
        q[0] = (uint8_t)crc, q[1] = (uint8_t)(crc >> 8), q[2] = (uint8_t)(crc >> 16), q[3] = (uint8_t)(crc >> 24);
    }
    g[0] = w->shard_g0;
    LSTAR_CHECK_RET(lstar_zarr_grid_key(a, g, key, err));
    LSTAR_CHECK_RET(lstar_store_set(a->z->store, key, w->shard, total, err));
    w->shard_open = 0;
    return LSTAR_OK;
}

/* Append encoded chunk `c` (axis-0 chunk coordinate) to its shard. */
static lstar_status shard_append(lstar_zarr_writer *w, uint64_t c, const uint8_t *enc, size_t n, lstar_error *err) {
    lstar_zarr_array *a = w->a;
    uint64_t g = c / a->shard_n;
    if (w->shard_open && g != w->shard_g0) LSTAR_CHECK_RET(shard_close(w, err));
    if (!w->shard_open) {
        w->shard_open = 1;
        w->shard_g0 = g;
        w->shard_filled = 0;
        w->shard_pos = a->index_at_start ? shard_index_bytes(a) : 0;
    }
    if ((uint64_t)w->shard_pos + n + shard_index_bytes(a) > LSTAR_MAX_CHUNK_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "shard too large");
    size_t need = w->shard_pos + n;
    if (need > w->shard_cap) {
        size_t ncap = w->shard_cap ? w->shard_cap : a->chunk_bytes + shard_index_bytes(a);
        while (ncap < need) ncap = ncap > LSTAR_MAX_CHUNK_BYTES / 2 ? need : ncap * 2;
        uint8_t *nb = lstar_realloc(w->shard, ncap);
        if (!nb) return LSTAR_NOMEM(err, a->path);
        w->shard = nb;
        w->shard_cap = ncap;
    }
    uint64_t k = c % a->shard_n; /* chunks arrive in order: k == shard_filled */
    if (n) memcpy(w->shard + w->shard_pos, enc, n);
    w->shard_index[2 * k] = w->shard_pos;
    w->shard_index[2 * k + 1] = n;
    w->shard_pos += n;
    w->shard_filled = k + 1;
    return LSTAR_OK;
}

/* Write rows [row0, row0+nrows) from src; row0 is a multiple of chunks[0]; only the array's last chunk may be
 * partial. */
static lstar_status fast_write_rows(lstar_zarr_writer *w, const void *src, uint64_t row0, uint64_t nrows,
                                    lstar_error *err) {
    lstar_zarr_array *a = w->a;
    lstar_status st = LSTAR_OK;
    fast_job j;
    memset(&j, 0, sizeof j);
    j.w = w;
    j.src = src;
    j.row0 = row0;
    j.nrows = nrows;
    uint64_t cfirst = row0 / a->chunks[0], cend = (row0 + nrows + a->chunks[0] - 1) / a->chunks[0];
    /* Chunks wholly beyond the array (the padding of a last shard) are never written. */
    uint64_t clim = (a->shape[0] + a->chunks[0] - 1) / a->chunks[0];
    if (cend > clim) cend = clim;
    for (uint64_t c = cfirst; c < cend; c += w->batch_cap) {
        size_t nt = (size_t)(cend - c < w->batch_cap ? cend - c : w->batch_cap);
        j.c0 = c;
        if (!a->sharded) {
            LSTAR_CHECK_RET(lstar_pool_run(w->pool, nt, fast_task, &j, err));
            continue;
        }
        st = lstar_pool_run(w->pool, nt, fast_encode_task, &j, err);
        for (size_t t = 0; t < nt && st == LSTAR_OK; t++) st = shard_append(w, c + t, w->res[t], w->res_size[t], err);
        for (size_t t = 0; t < nt; t++) {
            if (w->res_owned[t]) lstar_free(w->res[t]);
            w->res[t] = NULL;
            w->res_owned[t] = 0;
        }
        if (st != LSTAR_OK) return st;
        /* A shard is complete once its last chunk is in. */
        if (w->shard_open && w->shard_filled == a->shard_n) LSTAR_CHECK_RET(shard_close(w, err));
    }
    return LSTAR_OK;
}

static lstar_status write_rows(lstar_zarr_writer *w, const void *src, uint64_t row0, uint64_t nrows,
                               lstar_error *err) {
    if (w->fast) return fast_write_rows(w, src, row0, nrows, err);
    return lstar_zarr_write_rows(w->a, src, row0, nrows, w->pool, err);
}

lstar_status lstar_zarr_writer_new(lstar_zarr *z, const char *path, const lstar_zarr_array_spec *spec,
                                   lstar_zarr_writer **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr_writer *w = NULL;
    if (out) *out = NULL;
    if (!z || !spec || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    if (spec->rank < 1) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "the streaming writer needs rank >= 1");
    if (spec->chunks[0] == 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "chunks[0] must be > 0");
    if (spec->dtype == LSTAR_DTYPE_STRING)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "the streaming writer does not write string arrays");
    lstar_zarr_array_spec s = *spec;
    s.shape[0] = 0;
    w = lstar_calloc(1, sizeof *w);
    if (!w) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(lstar_zarr_array_create(z, path, &s, &w->a, err));
    lstar_zarr_array *a = w->a;
    uint64_t row_elems = 1, rb;
    for (int d = 1; d < a->rank; d++)
        if (lstar_zarr_mul(row_elems, a->shape[d], &row_elems)) goto toobig;
    if (lstar_zarr_mul(row_elems, a->itemsize, &rb)) goto toobig;
    w->row_bytes = (size_t)rb;
    w->fast = fast_eligible(a);
    uint64_t units = a->threads > 1 && (!a->sharded || w->fast) ? (uint64_t)a->threads : 1;
    uint64_t unit_rows = w->fast ? a->chunks[0] : a->grid[0];
    uint64_t unit_bytes;
    if (lstar_zarr_mul(rb, a->grid[0], &unit_bytes) || unit_bytes > LSTAR_MAX_CHUNK_BYTES) goto toobig;
    /* Fast path: batches of chunks (a few per thread) whatever the shard size. */
    if (w->fast)
        while (units > 1 && unit_rows * units * rb > (uint64_t)LSTAR_MAX_CHUNK_BYTES) units--;
    w->cap_rows = unit_rows * units;
    if (a->threads > 1) LSTAR_CHECK(lstar_pool_new(a->threads, &w->pool, err));
    if (w->fast) {
        w->nworkers = w->pool ? lstar_pool_threads(w->pool) : 1;
        w->batch_cap = (size_t)units;
        w->scratch = lstar_calloc((size_t)w->nworkers, sizeof *w->scratch);
        w->res = lstar_calloc(w->batch_cap, sizeof *w->res);
        w->res_size = lstar_calloc(w->batch_cap, sizeof *w->res_size);
        w->res_owned = lstar_calloc(w->batch_cap, 1);
        w->shard_index = a->sharded ? lstar_calloc((size_t)(2 * a->shard_n), sizeof *w->shard_index) : NULL;
        if (!w->scratch || !w->res || !w->res_size || !w->res_owned || (a->sharded && !w->shard_index)) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
    }
    w->buf = lstar_malloc((w->cap_rows * w->row_bytes) != 0 ? (size_t)(w->cap_rows * w->row_bytes) : 1);
    if (!w->buf) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    *out = w;
    w = NULL;
    goto done;
toobig:
    st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "one row of chunks/shards exceeds the %llu-byte limit",
                    (unsigned long long)LSTAR_MAX_CHUNK_BYTES);
done:
    lstar_zarr_writer_free(w);
    return st;
}

static lstar_status flush_buf(lstar_zarr_writer *w, lstar_error *err) {
    if (!w->buf_rows) return LSTAR_OK;
    lstar_status st = write_rows(w, w->buf, w->buf_row0, w->buf_rows, err);
    if (st != LSTAR_OK) return st;
    w->buf_row0 += w->buf_rows;
    w->buf_rows = 0;
    return LSTAR_OK;
}

lstar_status lstar_zarr_writer_append(lstar_zarr_writer *w, const void *rows, uint64_t nrows, lstar_error *err) {
    if (!w || (!rows && nrows)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    if (w->finished) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, w->a->path, "writer already finished");
    const uint8_t *src = rows;
    while (nrows) {
        if (w->buf_rows == 0 && nrows >= w->cap_rows) {
            /* Whole buffers' worth of aligned rows: encode straight from the caller's memory. */
            uint64_t k = nrows - nrows % w->cap_rows;
            w->a->shape[0] = w->buf_row0 + k;
            lstar_status st = write_rows(w, src, w->buf_row0, k, err);
            if (st != LSTAR_OK) return st;
            w->buf_row0 += k;
            w->rows += k;
            src += k * w->row_bytes;
            nrows -= k;
            continue;
        }
        uint64_t k = w->cap_rows - w->buf_rows;
        if (k > nrows) k = nrows;
        if (k && w->row_bytes) memcpy(w->buf + w->buf_rows * w->row_bytes, src, (size_t)(k * w->row_bytes));
        src += k * w->row_bytes;
        w->buf_rows += k;
        w->rows += k;
        nrows -= k;
        if (w->buf_rows == w->cap_rows) {
            w->a->shape[0] = w->buf_row0 + w->buf_rows;
            lstar_status st = flush_buf(w, err);
            if (st != LSTAR_OK) return st;
        }
    }
    return LSTAR_OK;
}

lstar_status lstar_zarr_writer_append_encoded(lstar_zarr_writer *w, uint64_t nrows, const void *enc, size_t n,
                                              lstar_error *err) {
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint64_t cc[LSTAR_MAX_RANK] = {0};
    if (!w || (!enc && n)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    lstar_zarr_array *a = w->a;
    if (w->finished) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "writer already finished");
    if (!w->fast || w->buf_rows || w->rows % a->chunks[0] || nrows == 0 || nrows > a->chunks[0])
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path,
                          "an encoded chunk of %llu rows cannot be appended after %llu rows (chunks of %llu rows)",
                          (unsigned long long)nrows, (unsigned long long)w->rows, (unsigned long long)a->chunks[0]);
    uint64_t c = w->rows / a->chunks[0];
    w->rows += nrows;
    w->buf_row0 = w->rows;
    a->shape[0] = w->rows;
    if (!a->sharded) {
        cc[0] = c;
        LSTAR_CHECK_RET(lstar_zarr_grid_key(a, cc, key, err));
        return lstar_store_set(a->z->store, key, enc, n, err);
    }
    LSTAR_CHECK_RET(shard_append(w, c, enc, n, err));
    if (w->shard_filled == a->shard_n) LSTAR_CHECK_RET(shard_close(w, err));
    return LSTAR_OK;
}

lstar_status lstar_zarr_writer_encode_chunk(const lstar_zarr_writer *w, const void *chunk, uint8_t **out,
                                            size_t *out_size, lstar_error *err) {
    if (!w || !chunk || !out || !out_size) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    return lstar_zarr_chunk_encode(w->a, chunk, out, out_size, err);
}

lstar_status lstar_zarr_writer_finish(lstar_zarr_writer *w, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *meta = NULL;
    if (!w) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "writer is NULL");
    if (w->finished) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, w->a->path, "writer already finished");
    lstar_zarr_array *a = w->a;
    a->shape[0] = w->rows;
    LSTAR_CHECK(flush_buf(w, err));
    if (w->fast) LSTAR_CHECK(shard_close(w, err));
    /* A shallow copy with a new "shape": the other members stay shared, unmodified. */
    meta = json_copy(a->meta);
    json_t *shape = json_copy(json_object_get(a->meta, "shape"));
    if (!meta || !json_is_array(shape) || json_array_set_new(shape, 0, json_integer((json_int_t)w->rows))) {
        json_decref(shape);
        st = LSTAR_NOMEM(err, a->path);
        goto done;
    }
    if (json_object_set_new(meta, "shape", shape)) { /* steals shape */
        st = LSTAR_NOMEM(err, a->path);
        goto done;
    }
    LSTAR_CHECK(lstar_zarr_meta_put(a->z, a->path, ".zarray", meta, err));
    json_decref(a->meta);
    a->meta = meta;
    meta = NULL;
    w->finished = 1;
done:
    json_decref(meta);
    return st;
}

uint64_t lstar_zarr_writer_rows(const lstar_zarr_writer *w) { return w ? w->rows : 0; }

void lstar_zarr_writer_free(lstar_zarr_writer *w) {
    if (!w) return;
    lstar_zarr_array_close(w->a);
    lstar_pool_free(w->pool);
    lstar_free(w->buf);
    if (w->scratch)
        for (int k = 0; k < w->nworkers; k++) lstar_free(w->scratch[k]);
    if (w->res && w->res_owned)
        for (size_t t = 0; t < w->batch_cap; t++)
            if (w->res_owned[t]) lstar_free(w->res[t]);
    lstar_free(w->scratch);
    lstar_free(w->res);
    lstar_free(w->res_size);
    lstar_free(w->res_owned);
    lstar_free(w->shard);
    lstar_free(w->shard_index);
    lstar_free(w);
}
