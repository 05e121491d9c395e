/* Internal: the Zarr layer's shared structures (hierarchy, parsed array
 * metadata, codec chains) and the functions the zarr_*.c files share.
 * Nothing here is API. */
#ifndef LSTAR_INTERNAL_ZARR_H
#define LSTAR_INTERNAL_ZARR_H
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lstar/codec.h"
#include "lstar/limits.h"
#include "lstar/pool.h"
#include "lstar/store.h"
#include "lstar/strings.h"
#include "lstar/zarr.h"

/* ---- hierarchy ---------------------------------------------------------- */

struct lstar_zarr {
    lstar_store *store;  /* borrowed */
    int format;          /* 2 or 3 */
    int consolidated;    /* 1 if `cons` was loaded from the store */
    int created;         /* 1 if made by lstar_zarr_create (the `written` record is complete) */
    /* Consolidated metadata, immutable after open.  v2: store key → JSON
     * (".zgroup", "a/.zarray", …); v3: node path → node JSON ("a", "a/b").
     * NULL when absent. */
    json_t *cons;
    /* v3: the root zarr.json as read at open (NULL for v2). */
    json_t *root_doc;
    /* Everything this handle wrote, keyed like `cons`; guarded by `mu`. */
    json_t *written;
    pthread_mutex_t mu;
};

/* Join a node path and a name: "" + "x" → "x", "a" + "x" → "a/x".  Returns an
 * lstar_malloc'd string or NULL on OOM. */
char *lstar_zarr_join(const char *path, const char *name);
/* LSTAR_OK when the parent of normalised node path `p` is a group (the root is its own parent), else
 * LSTAR_ERR_NOT_FOUND "parent group … does not exist" with `p` as where. */
lstar_status lstar_zarr_check_parent(lstar_zarr *z, const char *p, lstar_error *err);

/* Metadata document of node `path`: v2 `kind` is ".zarray", ".zgroup" or
 * ".zattrs"; v3 `kind` is ignored (the node's zarr.json).  Looks at what this
 * handle wrote, then consolidated metadata, then the store.  *out is a new
 * reference; LSTAR_ERR_NOT_FOUND when absent (err untouched then). */
lstar_status lstar_zarr_meta_get(lstar_zarr *z, const char *path, const char *kind, json_t **out,
                                 lstar_error *err);
/* Write a metadata document (v2: path/kind, v3: path/zarr.json) to the store
 * and record it.  `doc` is borrowed; a reference is recorded, so the caller
 * must not modify it afterwards (modify a json_deep_copy instead). */
lstar_status lstar_zarr_meta_put(lstar_zarr *z, const char *path, const char *kind, json_t *doc,
                                 lstar_error *err);
/* Serialise a metadata document the way zarr-python does (v2: sorted keys,
 * indent 4; v3: insertion order, indent 2).  lstar_malloc'd. */
char *lstar_zarr_meta_dump(int format, const json_t *doc);

/* ---- codec chains ------------------------------------------------------- */

typedef enum zarr_aa_kind {
    ZARR_AA_TRANSPOSE = 1, /* permute axes (v2 order F, v3 transpose) */
    ZARR_AA_CODEC = 2      /* a flat element-stream codec (numcodecs delta) */
} zarr_aa_kind;

typedef struct zarr_aa {
    zarr_aa_kind kind;
    int order[LSTAR_MAX_RANK]; /* TRANSPOSE: encoded axis k is decoded axis order[k] */
    lstar_codec *codec;        /* CODEC */
} zarr_aa;

typedef enum zarr_ab_kind {
    ZARR_AB_BYTES = 1,     /* raw elements, given endianness */
    ZARR_AB_VLEN_UTF8 = 2, /* u32le count, then (u32le length, bytes)* */
    ZARR_AB_VLEN_BYTES = 3 /* same layout, arbitrary bytes */
} zarr_ab_kind;

#define ZARR_MAX_CODECS 16

/* One decoded-chunk ↔ stored-bytes pipeline: array→array steps, one
 * array→bytes step, bytes→bytes steps (encode order). */
typedef struct zarr_chain {
    int n_aa;
    zarr_aa aa[ZARR_MAX_CODECS];
    zarr_ab_kind ab;
    int big_endian; /* BYTES: elements stored big-endian */
    int n_bb;
    lstar_codec *bb[ZARR_MAX_CODECS];
    /* Size-preservation of each bb codec: +0 (shuffle, delta), +4 (crc32c,
     * fletcher32) or -1 (unknown: compressors). */
    int bb_growth[ZARR_MAX_CODECS];
} zarr_chain;

void lstar_zarr_chain_destroy(zarr_chain *c);

/* ---- arrays ------------------------------------------------------------- */

struct lstar_zarr_array {
    lstar_zarr *z; /* borrowed */
    char *path;
    int format;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t chunks[LSTAR_MAX_RANK]; /* read unit (inner chunk when sharded) */
    uint64_t grid[LSTAR_MAX_RANK];   /* chunk_grid shape: the shard shape when sharded */
    uint64_t cps[LSTAR_MAX_RANK];    /* inner chunks per shard per dimension (1 when unsharded) */
    int sharded;
    uint64_t shard_n;                /* inner chunks per shard */
    int index_at_start;
    int index_crc;
    int index_big_endian;
    lstar_dtype dtype;
    size_t itemsize;  /* decoded bytes per element (0 for STRING) */
    char *dtype_text; /* as in the metadata */
    char sep;
    int v2_keys;      /* keys are "<i>.<j>" (v2 format or v3 "v2" encoding); else "c/<i>/<j>" */
    uint8_t *fill;    /* itemsize bytes, native order (NULL for STRING) */
    char *fill_str;   /* STRING fill */
    uint64_t chunk_elems;
    size_t chunk_bytes; /* chunk_elems * itemsize */
    zarr_chain chain;   /* the chain for one read unit (inner chain when sharded) */
    json_t *meta;       /* the full metadata document (.zarray / zarr.json) */
    int threads;        /* encoder threads (write paths) */
    pthread_mutex_t write_mu; /* serialises metadata rewrites */
};

/* Parse and validate array metadata `meta` (borrowed; a reference is kept).
 * `path` names the array in errors. */
lstar_status lstar_zarr_array_from_meta(lstar_zarr *z, const char *path, int format, json_t *meta,
                                        lstar_zarr_array **out, lstar_error *err);
/* Build the metadata document for a new array (v2 .zarray or v3 zarr.json). */
lstar_status lstar_zarr_meta_build(int format, const char *path, const lstar_zarr_array_spec *spec,
                                   json_t **out, lstar_error *err);

/* Store key of the chunk object at chunk_grid coordinates `gcoords` into buf
 * (LSTAR_MAX_KEY_BYTES + 1). */
lstar_status lstar_zarr_grid_key(const lstar_zarr_array *a, const uint64_t *gcoords, char *buf,
                                 lstar_error *err);

/* Per-call cache of one shard index (not shared between threads). */
typedef struct zarr_shard_cache {
    int valid;
    uint64_t gcoords[LSTAR_MAX_RANK];
    int missing;       /* the shard object does not exist */
    uint64_t obj_size;
    uint64_t *index;   /* 2 * shard_n entries, native */
} zarr_shard_cache;

void lstar_zarr_shard_cache_destroy(zarr_shard_cache *c);

/* Decode one read-unit chunk (coords in read-unit grid) into `out`
 * (chunk_bytes, C order, native).  Missing → fill.  Not for vlen arrays. */
lstar_status lstar_zarr_chunk_read(lstar_zarr_array *a, const uint64_t *coords, void *out, zarr_shard_cache *sc,
                                   lstar_error *err);
/* Fetch the encoded bytes of one read-unit chunk; *data NULL when missing. */
lstar_status lstar_zarr_chunk_fetch(lstar_zarr_array *a, const uint64_t *coords, zarr_shard_cache *sc,
                                    uint8_t **data, size_t *size, lstar_error *err);
/* Decode encoded bytes of a numeric chunk into out (chunk_bytes). */
lstar_status lstar_zarr_chunk_decode(const lstar_zarr_array *a, const uint8_t *enc, size_t enc_size, void *out,
                                     lstar_error *err);
/* Decode encoded bytes of a vlen chunk into `out` (uninitialised) holding chunk_elems items. */
lstar_status lstar_zarr_chunk_decode_strings(const lstar_zarr_array *a, const uint8_t *enc, size_t enc_size,
                                             lstar_strings *out, lstar_error *err);
/* Encode a chunk (chunk_bytes, C order, native) through the chain. */
lstar_status lstar_zarr_chunk_encode(const lstar_zarr_array *a, const void *in, uint8_t **out, size_t *out_size,
                                     lstar_error *err);
/* Encode `n` strings [first, first+n) of s (plus `pad` fill items) as a vlen chunk. */
lstar_status lstar_zarr_chunk_encode_strings(const lstar_zarr_array *a, const lstar_strings *s, size_t first,
                                             size_t n, size_t pad, uint8_t **out, size_t *out_size,
                                             lstar_error *err);
/* Fill `n` elements of `buf` with the fill value. */
void lstar_zarr_fill(const lstar_zarr_array *a, void *buf, uint64_t n);

/* Assemble a shard object from `n` (= shard_n) encoded inner chunks (NULL =
 * empty) in C order of inner coordinates. */
lstar_status lstar_zarr_shard_assemble(const lstar_zarr_array *a, uint8_t *const *chunks, const size_t *sizes,
                                       uint8_t **out, size_t *out_size, lstar_error *err);

/* Write rows [row0, row0+nrows) of the array from `src` (nrows * row elements,
 * C order, native); row0 must be a multiple of the unit (grid[0]); the last
 * unit may be partial only if it ends the array (padded with fill).  rank 0:
 * row0 = 0, nrows = 1.  `pool` may be NULL. */
lstar_status lstar_zarr_write_rows(lstar_zarr_array *a, const void *src, uint64_t row0, uint64_t nrows,
                                   lstar_pool *pool, lstar_error *err);

/* Checked product: returns 0 and sets *out, or -1 on overflow. */
int lstar_zarr_mul(uint64_t a, uint64_t b, uint64_t *out);

/* Byte-swap n elements of `size` bytes (complex: each half). */
void lstar_zarr_bswap(void *buf, uint64_t n, size_t size, lstar_dtype dtype);
int lstar_zarr_native_big_endian(void);

#endif
