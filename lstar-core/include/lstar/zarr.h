/* lstar/zarr.h — Zarr v2 and v3 hierarchies and arrays over an lstar_store.
 *
 * Reading: any rank, regular chunk grids, C order (v2 "F" order and v3
 * `transpose` are read too), every dtype of lstar/dtype.h in either byte order,
 * fill values, missing chunks read as fill, edge chunks, dimension separators
 * "." and "/", v3 `default` and `v2` chunk key encodings, the codecs of
 * lstar/codec.h plus v3 `bytes`, `transpose`, `sharding_indexed`, `vlen-utf8`,
 * consolidated metadata (v2 `.zmetadata`, v3 inline in the root zarr.json).
 * Writing: C order, little endian, the same codecs, sharding (v3), vlen-utf8
 * strings, consolidated metadata.
 *
 * Memory: reading a region decodes one chunk at a time (one chunk buffer plus
 * one encoded buffer); the streaming writer holds one chunk (or one shard) of
 * rows.  Nothing is ever proportional to the whole array unless the caller asks
 * for the whole array.
 *
 * Paths are '/'-separated node paths relative to the store root ("" is the
 * root, "fields/X/data" an array).
 *
 * Thread safety: a lstar_zarr and its arrays may be read from several threads
 * at once (read_chunk/read/read_strings).  Metadata-changing calls (create,
 * set_attrs, consolidate) must not run concurrently with anything else on the
 * same lstar_zarr.  write_chunk on distinct chunks of an unsharded array may
 * run concurrently.
 */
#ifndef LSTAR_ZARR_H
#define LSTAR_ZARR_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/dtype.h"
#include "lstar/limits.h"
#include "lstar/status.h"
#include "lstar/store.h"
#include "lstar/strings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_zarr lstar_zarr;
typedef struct lstar_zarr_array lstar_zarr_array;
typedef struct lstar_zarr_writer lstar_zarr_writer;

typedef enum lstar_zarr_node {
    LSTAR_ZARR_NONE = 0,
    LSTAR_ZARR_GROUP = 1,
    LSTAR_ZARR_ARRAY = 2
} lstar_zarr_node;

/* ---- hierarchy ---------------------------------------------------------- */

/* Open the hierarchy in `store` (borrowed: must outlive the handle).  The
 * format is detected from the root (.zgroup/.zarray/.zmetadata → 2,
 * zarr.json → 3; LSTAR_ERR_FORMAT if neither).  Consolidated metadata, when
 * present, is loaded and answers metadata look-ups without touching the
 * store.  Free with lstar_zarr_close. */
lstar_status lstar_zarr_open(lstar_store *store, lstar_zarr **out, lstar_error *err);
/* Start writing a hierarchy of `zarr_format` (2 or 3) into a writable store. */
lstar_status lstar_zarr_create(lstar_store *store, int zarr_format, lstar_zarr **out, lstar_error *err);
void lstar_zarr_close(lstar_zarr *z); /* NULL accepted */

int lstar_zarr_format(const lstar_zarr *z);
/* 1 if metadata came from consolidated metadata. */
int lstar_zarr_is_consolidated(const lstar_zarr *z);
lstar_store *lstar_zarr_get_store(const lstar_zarr *z);

/* What is at `path`. Errors (other than absence) go to err and return NONE. */
lstar_zarr_node lstar_zarr_node_type(lstar_zarr *z, const char *path, lstar_error *err);
/* User attributes of a group or array as JSON object text ("{}" when none).
 * Free with lstar_free. */
lstar_status lstar_zarr_get_attrs(lstar_zarr *z, const char *path, char **json, lstar_error *err);
/* Replace the attributes of an existing group or array. */
lstar_status lstar_zarr_set_attrs(lstar_zarr *z, const char *path, const char *json, lstar_error *err);
/* Names (last path segment) of the child groups and arrays of group `path`,
 * sorted, each once. */
lstar_status lstar_zarr_list_children(lstar_zarr *z, const char *path, lstar_store_list_cb cb, void *ud,
                                      lstar_error *err);
/* Create a group (parents are not created implicitly). `attrs_json` NULL = none. */
lstar_status lstar_zarr_group_create(lstar_zarr *z, const char *path, const char *attrs_json, lstar_error *err);
/* Write consolidated metadata for everything now in the store: v2 `.zmetadata`
 * ({"zarr_consolidated_format":1,"metadata":{…}}), v3 inline
 * `consolidated_metadata` in the root zarr.json. */
lstar_status lstar_zarr_consolidate(lstar_zarr *z, lstar_error *err);

/* ---- arrays ------------------------------------------------------------- */

typedef struct lstar_zarr_array_spec {
    int rank;                             /* 0..LSTAR_MAX_RANK */
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t chunks[LSTAR_MAX_RANK];      /* chunk shape (inner chunk when sharded); 0 = whole dimension */
    uint64_t shard[LSTAR_MAX_RANK];       /* v3: shard shape, a multiple of chunks; all 0 = unsharded */
    lstar_dtype dtype;                    /* numeric, bool, STRING (vlen-utf8), FIXED_BYTES */
    size_t itemsize;                      /* FIXED_BYTES only */
    const char *compression;              /* codec spec (lstar_codec_from_spec) or NULL/"none" */
    const char *filters;                  /* comma-separated specs applied before compression
                                             ("shuffle", "delta"), or NULL */
    int has_fill_value;                   /* 0: fill is 0 / false / "" */
    double fill_value;                    /* numeric fill when has_fill_value */
    char dimension_separator;             /* '.' or '/'; 0 = default ('.' for v2, '/' for v3) */
    int v2_chunk_key_encoding;            /* v3: use the "v2" chunk key encoding */
    const char *attrs_json;               /* array attributes, NULL = {} */
    int threads;                          /* encoder threads for the streaming writer; 0/1 = serial */
} lstar_zarr_array_spec;

/* Zero the spec and set defaults (rank 0, dtype INVALID, everything unset). */
void lstar_zarr_array_spec_init(lstar_zarr_array_spec *spec);

/* Open an array.  Unknown codec or dtype → LSTAR_ERR_UNSUPPORTED with the array
 * path in err->where and the codec/dtype named in the message. */
lstar_status lstar_zarr_array_open(lstar_zarr *z, const char *path, lstar_zarr_array **out, lstar_error *err);
/* Create an array (writes its metadata; chunks are written later). */
lstar_status lstar_zarr_array_create(lstar_zarr *z, const char *path, const lstar_zarr_array_spec *spec,
                                     lstar_zarr_array **out, lstar_error *err);
void lstar_zarr_array_close(lstar_zarr_array *a); /* NULL accepted */

const char *lstar_zarr_array_path(const lstar_zarr_array *a);
int lstar_zarr_array_rank(const lstar_zarr_array *a);
const uint64_t *lstar_zarr_array_shape(const lstar_zarr_array *a);
/* The read unit: the chunk shape, or the inner chunk shape when sharded. */
const uint64_t *lstar_zarr_array_chunks(const lstar_zarr_array *a);
/* Shard shape, or NULL when not sharded. */
const uint64_t *lstar_zarr_array_shard_shape(const lstar_zarr_array *a);
lstar_dtype lstar_zarr_array_dtype(const lstar_zarr_array *a);
/* Bytes per element in decoded memory (native order); 0 for STRING. */
size_t lstar_zarr_array_itemsize(const lstar_zarr_array *a);
/* The dtype as written in the metadata (e.g. "<f4", "|O", "float32", a
 * structured-dtype JSON list).  Borrowed. */
const char *lstar_zarr_array_dtype_text(const lstar_zarr_array *a);
/* Number of read-unit chunks in the grid (product over dims of ceil(shape/chunks)). */
uint64_t lstar_zarr_array_num_chunks(const lstar_zarr_array *a);
/* Human description of the codec chain, e.g. "bytes(little) | zstd(3)" or
 * "shuffle(4) | blosc(lz4,5,shuffle)"; "sharded[...]" for shards.  Free with lstar_free. */
char *lstar_zarr_array_codecs_desc(const lstar_zarr_array *a);
/* Bytes the array's chunk objects occupy in the store (sum of object sizes). */
lstar_status lstar_zarr_array_stored_bytes(lstar_zarr_array *a, uint64_t *bytes, lstar_error *err);
/* Attributes as JSON text; free with lstar_free. */
lstar_status lstar_zarr_array_get_attrs(lstar_zarr_array *a, char **json, lstar_error *err);

/* Read one read-unit chunk at grid coordinates `coords` into `out`
 * (prod(chunks) * itemsize bytes, C order, native byte order, the edge part
 * beyond the array shape filled with the fill value).  Missing → fill.
 * Not for STRING arrays. */
lstar_status lstar_zarr_array_read_chunk(lstar_zarr_array *a, const uint64_t *coords, void *out,
                                         lstar_error *err);
/* Read the hyper-rectangle [start, start+count) into `out`, densely packed in
 * C order, native byte order.  rank-0 arrays: start/count ignored (may be NULL). */
lstar_status lstar_zarr_array_read(lstar_zarr_array *a, const uint64_t *start, const uint64_t *count, void *out,
                                   lstar_error *err);
/* Read elements [start, start+count) of the flattened (C-order) array of
 * strings: vlen-utf8, FIXED_BYTES (trailing NULs stripped) or FIXED_UTF32
 * (converted to UTF-8).  `out` must be uninitialised; destroy with
 * lstar_strings_destroy. */
lstar_status lstar_zarr_array_read_strings(lstar_zarr_array *a, uint64_t start, uint64_t count,
                                           lstar_strings *out, lstar_error *err);

/* Write one whole chunk at grid coordinates (chunk-shaped buffer, C order,
 * native order).  Unsharded arrays only (LSTAR_ERR_UNSUPPORTED otherwise):
 * use lstar_zarr_array_write or the streaming writer for sharded arrays. */
lstar_status lstar_zarr_array_write_chunk(lstar_zarr_array *a, const uint64_t *coords, const void *data,
                                          lstar_error *err);
/* Write the whole array from a dense C-order buffer (any sharding). */
lstar_status lstar_zarr_array_write(lstar_zarr_array *a, const void *data, lstar_error *err);
/* Write a whole 1-D STRING (or FIXED_BYTES) array; s->n must equal shape[0]. */
lstar_status lstar_zarr_array_write_strings(lstar_zarr_array *a, const lstar_strings *s, lstar_error *err);

/* Raw (still encoded) access to one stored chunk object, for chunk-copy fast
 * paths.  Unsharded arrays only.  NOT_FOUND when the chunk is missing. */
lstar_status lstar_zarr_array_read_raw_chunk(lstar_zarr_array *a, const uint64_t *coords, uint8_t **data,
                                             size_t *size, lstar_error *err);
lstar_status lstar_zarr_array_write_raw_chunk(lstar_zarr_array *a, const uint64_t *coords, const void *data,
                                              size_t size, lstar_error *err);
/* The store key of the chunk object at coords (shard key when sharded); free with lstar_free. */
char *lstar_zarr_array_chunk_key(const lstar_zarr_array *a, const uint64_t *coords);

/* ---- streaming writer --------------------------------------------------- */

/* Create an array whose first dimension grows as rows are appended.
 * spec->shape[0] is ignored; spec->chunks[0] is rows per chunk (required > 0);
 * with spec->shard set, rows are buffered a shard at a time.  Memory: one
 * chunk/shard of rows plus encode buffers (times spec->threads). */
lstar_status lstar_zarr_writer_new(lstar_zarr *z, const char *path, const lstar_zarr_array_spec *spec,
                                   lstar_zarr_writer **out, lstar_error *err);
/* Append `nrows` rows (nrows * prod(shape[1:]) elements, C order, native). */
lstar_status lstar_zarr_writer_append(lstar_zarr_writer *w, const void *rows, uint64_t nrows, lstar_error *err);
/* Append the next chunk already in its stored form (`n` bytes encoded by this array's codec chain, e.g.
 * copied from a source with the same chain): it holds the next `nrows` rows, chunks[0] or, for the
 * array's last chunk, fewer.  For arrays whose chunks span every trailing dimension, when no rows are
 * buffered by lstar_zarr_writer_append (LSTAR_ERR_INVALID_ARG otherwise).  Sharded arrays: the chunk goes
 * into the shard being assembled, written with its index when complete. */
lstar_status lstar_zarr_writer_append_encoded(lstar_zarr_writer *w, uint64_t nrows, const void *enc, size_t n,
                                              lstar_error *err);
/* Encode one whole chunk (chunk_bytes of native C-order elements) with the array's codec chain, for
 * lstar_zarr_writer_append_encoded; *out: lstar_free.  Thread-safe. */
lstar_status lstar_zarr_writer_encode_chunk(const lstar_zarr_writer *w, const void *chunk, uint8_t **out,
                                            size_t *out_size, lstar_error *err);
/* Flush the last (fill-padded) chunk and write the final metadata. */
lstar_status lstar_zarr_writer_finish(lstar_zarr_writer *w, lstar_error *err);
/* Rows appended so far. */
uint64_t lstar_zarr_writer_rows(const lstar_zarr_writer *w);
void lstar_zarr_writer_free(lstar_zarr_writer *w); /* NULL accepted; does not finish */

#ifdef __cplusplus
}
#endif
#endif
