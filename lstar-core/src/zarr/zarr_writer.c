/* The streaming writer: rows are buffered one unit (row of chunks or shards)
 * at a time — times the thread count — encoded (in parallel with a pool) and
 * written in order; finish() pads the last unit and rewrites the metadata. */
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
};

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
    uint64_t units = a->threads > 1 && !a->sharded ? (uint64_t)a->threads : 1;
    uint64_t unit_bytes;
    if (lstar_zarr_mul(rb, a->grid[0], &unit_bytes) || unit_bytes > LSTAR_MAX_CHUNK_BYTES) goto toobig;
    w->cap_rows = a->grid[0] * units;
    if (a->threads > 1) LSTAR_CHECK(lstar_pool_new(a->threads, &w->pool, err));
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
    lstar_status st = lstar_zarr_write_rows(w->a, w->buf, w->buf_row0, w->buf_rows, w->pool, err);
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
            lstar_status st = lstar_zarr_write_rows(w->a, src, w->buf_row0, k, w->pool, err);
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

lstar_status lstar_zarr_writer_finish(lstar_zarr_writer *w, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *meta = NULL;
    if (!w) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "writer is NULL");
    if (w->finished) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, w->a->path, "writer already finished");
    lstar_zarr_array *a = w->a;
    a->shape[0] = w->rows;
    LSTAR_CHECK(flush_buf(w, err));
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
    lstar_free(w);
}
