/* Internal: the AnnData element-tree abstraction ("node layer").
 *
 * One AnnData container (an .h5ad file, an anndata-zarr store in a directory
 * or a zip, v2 or v3, or one modality of a MuData file) seen as a tree of
 * groups and arrays with attributes, the way anndata's IO registry sees it.
 * Two backends fill the versioned, append-only ad_node_ops table: HDF5
 * (lstar/h5.h) and Zarr (lstar/zarr.h over any lstar_store).  The reader
 * (ad_read.c) and the writer (ad_write*.c) only use the ad_* wrappers below,
 * never HDF5 or Zarr directly; the one exception is the writer's chunk copy,
 * which takes the HDF5 file of the output (ad_container_h5) and the Zarr
 * array behind a source lstar_array to move stored chunks with lstar/h5.h and
 * lstar/zarr.h.
 *
 * Paths are '/'-separated and relative to the AnnData root ("" is the root,
 * "obs/cell_type/codes").  A container opened on a MuData modality prefixes
 * every path with "mod/<m>/" before handing it to the backend; the prefix is
 * invisible to callers (and appears in err->where as the backend reports it).
 *
 * Ownership: ad_container_close releases the backend (file / store).  Arrays
 * returned by open_array hold their own reference on the HDF5 file; Zarr
 * arrays borrow the store, so a dataset built from a container must keep the
 * container alive (lstar_dataset_attach(ds, c, ad_container_release)).
 *
 * Not thread-safe for metadata calls; lazy arrays follow their backend's rules. */
#ifndef LSTAR_ANNDATA_AD_NODE_H
#define LSTAR_ANNDATA_AD_NODE_H
#include <stddef.h>
#include <stdint.h>

#include "lstar/anndata.h"
#include "lstar/array.h"
#include "lstar/dtype.h"
#include "lstar/limits.h"
#include "lstar/pool.h"
#include "lstar/status.h"
#include "lstar/store.h"
#include "lstar/strings.h"

typedef enum ad_kind { AD_NONE = 0, AD_GROUP = 1, AD_ARRAY = 2 } ad_kind;

/* What the elements of an array are. */
typedef enum ad_elem {
    AD_ELEM_OTHER = 0,   /* unsupported element type (references, opaque, …) */
    AD_ELEM_NUMERIC = 1, /* ints, floats (incl. float16), complex */
    AD_ELEM_BOOL = 2,
    AD_ELEM_STRING = 3,  /* HDF5 vlen/fixed; Zarr vlen-utf8, |S<n>, <U<n> */
    AD_ELEM_STRUCT = 4,  /* compound / structured records */
    AD_ELEM_NULL = 5     /* HDF5 null dataspace (h5py.Empty) */
} ad_elem;

typedef struct ad_array_info {
    ad_elem elem;
    lstar_dtype dtype; /* numeric/bool dtype; STRING for strings; STRUCT; INVALID otherwise */
    int rank;          /* -1 for a null dataspace */
    uint64_t shape[LSTAR_MAX_RANK];
    size_t nmembers;   /* STRUCT */
} ad_array_info;

/* One field of a compound / structured array. */
typedef struct ad_member {
    char name[256];
    ad_elem elem;      /* NUMERIC, BOOL, STRING or OTHER (unsupported: nested records, arrays of non-numbers) */
    lstar_dtype dtype; /* as read_member returns it */
    int sub_rank;      /* subarray fields ("X_pca", "<f4", [50]; HDF5 array members): rank of the per-record shape */
    uint64_t sub_shape[4];
} ad_member;

/* What the writer asks for when creating an array (zero-initialise). */
typedef struct ad_array_spec {
    lstar_dtype dtype;               /* numeric, BOOL, STRING, FIXED_BYTES (write_array, raw items) */
    int rank;                        /* 0 = scalar */
    uint64_t shape[LSTAR_MAX_RANK];  /* initial shape (with `grow`: dim 0 may be 0) */
    uint64_t chunks[LSTAR_MAX_RANK]; /* all 0 = contiguous (HDF5) / one chunk (Zarr) */
    uint64_t shard[LSTAR_MAX_RANK];  /* Zarr v3 only; all 0 = unsharded */
    const char *compression;         /* "gzip[:l]"/"zlib[:l]", "zstd[:l]", "lzf" (HDF5), any codec spec (Zarr), NULL/"none" */
    int grow;                        /* dim 0 grows by appending (HDF5 maxshape None); needs chunks[0] */
    /* Appenders: encoder threads (Zarr streaming writer; 0/1 = serial) and,
     * for HDF5, a pool (borrowed, may be NULL = serial) whose workers encode
     * whole chunks that are then stored with the raw chunk write. */
    int threads;
    struct lstar_pool *pool;
    size_t itemsize;                 /* dtype FIXED_BYTES (HDF5 fixed-length string, Zarr |S<n>) only */
} ad_array_spec;

typedef struct ad_appender ad_appender;

/* One field of a record array to write: numeric/bool `data` (n native
 * elements of dtype) or, for dtype STRING, `strings` (n items). */
typedef struct ad_record_field {
    const char *name;
    lstar_dtype dtype;
    const void *data;
    const lstar_strings *strings;
} ad_record_field;

#define AD_NODE_OPS_VERSION 2
/* Backend table.  Append-only: new members go at the end and bump the version.
 * Paths passed to backends already carry the container prefix. */
typedef struct ad_node_ops {
    int version;
    const char *name; /* "hdf5", "zarr" */
    /* ---- read ---- */
    /* What is at `path` (absence is not an error). */
    lstar_status (*kind)(void *ctx, const char *path, ad_kind *out, lstar_error *err);
    /* Child names of group `path`, in the order anndata iterates them
     * (HDF5: creation order if tracked, else name order; Zarr: sorted). */
    lstar_status (*list)(void *ctx, const char *path, lstar_strings *names, lstar_error *err);
    lstar_status (*attr_exists)(void *ctx, const char *path, const char *name, int *exists, lstar_error *err);
    /* A single string (NOT_FOUND when absent, FORMAT when not a string). *out: lstar_free. */
    lstar_status (*attr_string)(void *ctx, const char *path, const char *name, char **out, lstar_error *err);
    /* A list of strings; an empty list of any dtype gives 0 strings. */
    lstar_status (*attr_strings)(void *ctx, const char *path, const char *name, lstar_strings *out,
                                 lstar_error *err);
    /* Integers (scalar or list). *vals: lstar_free. */
    lstar_status (*attr_i64)(void *ctx, const char *path, const char *name, int64_t **vals, size_t *n,
                             lstar_error *err);
    /* A single bool (h5py enum / numpy bool / JSON bool / integer). */
    lstar_status (*attr_bool)(void *ctx, const char *path, const char *name, int *out, lstar_error *err);
    /* A reference to another node (anndata 0.7 `categories`): HDF5 object
     * reference or Zarr string path (relative to the parent group of `path`,
     * or absolute from the store root).  *target: backend path, lstar_free. */
    lstar_status (*attr_ref)(void *ctx, const char *path, const char *name, char **target, lstar_error *err);
    /* Any attribute as JSON text (strings, numbers, bools, lists); *json: lstar_free. */
    lstar_status (*attr_json)(void *ctx, const char *path, const char *name, char **json, lstar_error *err);
    lstar_status (*array_info)(void *ctx, const char *path, ad_array_info *info, lstar_error *err);
    /* A lazy lstar_array over a numeric/bool array (rank 0 allowed). */
    lstar_status (*open_array)(void *ctx, const char *path, lstar_array **out, lstar_error *err);
    /* Every element of a string array, flattened C order, into an uninitialised *out. */
    lstar_status (*read_strings)(void *ctx, const char *path, lstar_strings *out, lstar_error *err);
    /* Fields of a compound array.  *members: lstar_free. */
    lstar_status (*members)(void *ctx, const char *path, ad_member **members, size_t *n, lstar_error *err);
    /* One field as an lstar_array of shape (n_records, *sub_shape): numeric /
     * bool (lazy or memory) or a 1-D STRING memory array. */
    lstar_status (*read_member)(void *ctx, const char *path, const char *member, lstar_array **out,
                                lstar_error *err);
    /* ---- write ---- */
    lstar_status (*create_group)(void *ctx, const char *path, lstar_error *err);
    lstar_status (*write_attr_string)(void *ctx, const char *path, const char *name, const char *value,
                                      lstar_error *err);
    /* A list of strings (n == 0 writes what h5py writes for [] / a JSON []). */
    lstar_status (*write_attr_strings)(void *ctx, const char *path, const char *name, const lstar_strings *s,
                                       lstar_error *err);
    /* int64 values: rank 0 (n == 1) or rank 1. */
    lstar_status (*write_attr_i64)(void *ctx, const char *path, const char *name, const int64_t *vals, size_t n,
                                   int rank, lstar_error *err);
    lstar_status (*write_attr_bool)(void *ctx, const char *path, const char *name, int value, lstar_error *err);
    /* Create an array and write it whole from `data` (numeric/bool, C order,
     * native; NULL only for zero elements). */
    lstar_status (*write_array)(void *ctx, const char *path, const ad_array_spec *spec, const void *data,
                                lstar_error *err);
    /* Create a STRING array of spec->shape (s->n == product) and write it whole. */
    lstar_status (*write_strings)(void *ctx, const char *path, const ad_array_spec *spec, const lstar_strings *s,
                                  lstar_error *err);
    /* Streaming creation (spec->grow): rows of prod(shape[1:]) elements are
     * appended; finish writes the final shape. */
    lstar_status (*appender_new)(void *ctx, const char *path, const ad_array_spec *spec, ad_appender **out,
                                 lstar_error *err);
    lstar_status (*appender_append)(ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err);
    lstar_status (*appender_finish)(ad_appender *a, lstar_error *err);
    void (*appender_free)(ad_appender *a);
    /* Make everything durable (HDF5 flush; Zarr consolidated metadata). */
    lstar_status (*flush)(void *ctx, lstar_error *err);
    void (*close)(void *ctx);
    /* ---- version 2 ---- */
    /* Create a 1-D record array (compound / structured) of n records with the
     * given fields and write it whole.  NULL when the backend cannot. */
    lstar_status (*write_records)(void *ctx, const char *path, const struct ad_record_field *fields, size_t nfields,
                                  uint64_t n, lstar_error *err);
} ad_node_ops;

typedef struct ad_container ad_container;

/* Open `path` read-only, detecting the backend from content: an HDF5
 * signature at 0, 512, 1024, … (userblock), a zip, or a directory holding a
 * Zarr hierarchy.  *fmt receives what it is (AnnData or MuData flavour). */
lstar_status ad_container_open(const char *path, ad_container **out, lstar_anndata_format *fmt, lstar_error *err);
/* Create a new container for writing: LSTAR_ANNDATA_H5AD (HDF5 file) or
 * LSTAR_ANNDATA_ZARR_V2 / _V3 (directory store). */
lstar_status ad_container_create(const char *path, lstar_anndata_format fmt, ad_container **out,
                                 lstar_error *err);
void ad_container_close(ad_container *c); /* NULL accepted */
void ad_container_release(void *c);       /* for lstar_dataset_attach */
/* Make every path relative to "<prefix>/" from now on (MuData modality). */
lstar_status ad_container_set_prefix(ad_container *c, const char *prefix, lstar_error *err);
const char *ad_container_backend(const ad_container *c);
/* The HDF5 file behind an unprefixed HDF5 container (borrowed), else NULL
 * (for the writer's raw chunk copy). */
struct lstar_h5_file *ad_container_h5(ad_container *c);

/* Wrappers: join the prefix and dispatch.  Same contracts as the ops. */
lstar_status ad_kind_at(ad_container *c, const char *path, ad_kind *out, lstar_error *err);
lstar_status ad_list(ad_container *c, const char *path, lstar_strings *names, lstar_error *err);
lstar_status ad_attr_exists(ad_container *c, const char *path, const char *name, int *exists, lstar_error *err);
lstar_status ad_attr_string(ad_container *c, const char *path, const char *name, char **out, lstar_error *err);
/* Optional string attribute: *out NULL when absent. */
lstar_status ad_attr_string_opt(ad_container *c, const char *path, const char *name, char **out, lstar_error *err);
lstar_status ad_attr_strings(ad_container *c, const char *path, const char *name, lstar_strings *out,
                             lstar_error *err);
lstar_status ad_attr_i64(ad_container *c, const char *path, const char *name, int64_t **vals, size_t *n,
                         lstar_error *err);
lstar_status ad_attr_bool(ad_container *c, const char *path, const char *name, int *out, lstar_error *err);
/* The referenced node as a path relative to the container root. */
lstar_status ad_attr_ref(ad_container *c, const char *path, const char *name, char **target, lstar_error *err);
lstar_status ad_attr_json(ad_container *c, const char *path, const char *name, char **json, lstar_error *err);
lstar_status ad_array_info_at(ad_container *c, const char *path, ad_array_info *info, lstar_error *err);
lstar_status ad_open_array(ad_container *c, const char *path, lstar_array **out, lstar_error *err);
lstar_status ad_read_strings(ad_container *c, const char *path, lstar_strings *out, lstar_error *err);
lstar_status ad_members(ad_container *c, const char *path, ad_member **members, size_t *n, lstar_error *err);
lstar_status ad_read_member(ad_container *c, const char *path, const char *member, lstar_array **out,
                            lstar_error *err);
lstar_status ad_create_group(ad_container *c, const char *path, lstar_error *err);
lstar_status ad_write_attr_string(ad_container *c, const char *path, const char *name, const char *value,
                                  lstar_error *err);
lstar_status ad_write_attr_strings(ad_container *c, const char *path, const char *name, const lstar_strings *s,
                                   lstar_error *err);
lstar_status ad_write_attr_i64(ad_container *c, const char *path, const char *name, const int64_t *vals, size_t n,
                               int rank, lstar_error *err);
lstar_status ad_write_attr_bool(ad_container *c, const char *path, const char *name, int value, lstar_error *err);
/* encoding-type / encoding-version pair, as anndata's registry writes them. */
lstar_status ad_write_encoding(ad_container *c, const char *path, const char *type, const char *version,
                               lstar_error *err);
lstar_status ad_write_array(ad_container *c, const char *path, const ad_array_spec *spec, const void *data,
                            lstar_error *err);
lstar_status ad_write_strings(ad_container *c, const char *path, const ad_array_spec *spec, const lstar_strings *s,
                              lstar_error *err);
lstar_status ad_appender_new(ad_container *c, const char *path, const ad_array_spec *spec, ad_appender **out,
                             lstar_error *err);
lstar_status ad_appender_append(ad_container *c, ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err);
lstar_status ad_appender_finish(ad_container *c, ad_appender *a, lstar_error *err);
void ad_appender_free(ad_container *c, ad_appender *a);
lstar_status ad_flush(ad_container *c, lstar_error *err);
/* LSTAR_ERR_UNSUPPORTED when the backend has no record writer (Zarr). */
lstar_status ad_write_records(ad_container *c, const char *path, const ad_record_field *fields, size_t nfields,
                              uint64_t n, lstar_error *err);
/* 1 if the backend can write record arrays. */
int ad_can_write_records(const ad_container *c);

/* Backend constructors (ad_h5.c, ad_zarr.c).  *ops is static; ctx owned by the container. */
lstar_status ad_h5_open(const char *path, int create, const ad_node_ops **ops, void **ctx, lstar_error *err);
/* Prepend the ':'-separated directories to HDF5's plugin search path
 * (process-global; directories already on it are skipped). */
lstar_status ad_h5_plugin_prepend(const char *dirs, lstar_error *err);
/* 1 if HDF5 can run filter `id` here (registered, or a plugin it can load). */
int ad_h5_filter_available(unsigned id);
/* Zarr: `store` is taken over (closed with the ctx, also on failure). */
lstar_status ad_zarr_open(lstar_store *store, int create_format, const ad_node_ops **ops, void **ctx,
                          int *zarr_format, lstar_error *err);

/* Join "a" + "b" → "a/b" ("" + "b" → "b") into buf; LSTAR_ERR_LIMIT if too long. */
lstar_status ad_join(char *buf, size_t size, const char *a, const char *b, lstar_error *err);

/* ---- writer internals (ad_write*.c) ------------------------------------------------------------ */

#include "lstar/lstarstore.h"
#include "lstar/model.h"

/* Resolved streaming options shared by the writer's element functions. */
typedef struct ad_wopts {
    const char *compression; /* node-layer compression spec, NULL = none */
    uint64_t chunk_elems;    /* > 0 */
    uint64_t shard_elems;    /* Zarr v3; 0 = unsharded */
    int zarr_format;         /* 0 for HDF5 */
    int threads;             /* Zarr encoder threads */
    struct lstar_pool *pool; /* HDF5 chunk encoders (may be NULL) */
    lstar_progress_fn progress;
    void *progress_ud;
    uint64_t *done; /* progress counter (may be NULL) */
    uint64_t total;
    int chunk_copy;           /* allow verbatim chunk copy (Zarr source → h5ad) */
    uint64_t chunks_copied;   /* out: chunks copied verbatim */
    const struct ad_recorder *rec; /* recording mode (see ad_write_recorded), else NULL */
} ad_wopts;

/* A numeric/bool array read whole and written as one element (metadata-sized). */
lstar_status ad_write_small(ad_container *c, const char *dest, const lstar_array *a, const ad_wopts *w,
                            lstar_error *err);
/* A dense numeric/bool array: whole when at most chunk_elems elements, else
 * streamed in row blocks into a growing chunked array. */
lstar_status ad_write_dense(ad_container *c, const char *dest, const lstar_array *a, ad_wopts *w,
                            lstar_error *err);
/* A csr/csc field as a csr_matrix/csc_matrix group (flip: the transposed
 * matrix, i.e. csr over [a,b] written as csc over [b,a]), streamed through
 * lstar_sparse_iter (indptr/indices validated: LSTAR_ERR_CORRUPT). */
lstar_status ad_write_sparse(ad_container *c, const char *dest, const lstar_field *f, int flip, ad_wopts *w,
                             lstar_error *err);

/* ---- collections (ad_collection.c): upstream's `_flatten_collection` ------------------------------ *
 *
 * The per-sample measures (role measure over [cells.<s>, genes.<s>] or
 * [cells.<s>, genes]) grouped by root name (`counts.<s>` → "counts"), the
 * stable union of their gene labels, and the streamed union matrix of one
 * root (union cells × union genes, assembled by label, csr_matrix). */
typedef struct ad_coll ad_coll;
lstar_status ad_coll_new(const lstar_dataset *ds, const lstar_axis *cells, ad_coll **out, lstar_error *err);
void ad_coll_free(ad_coll *c); /* NULL accepted */
size_t ad_coll_root_count(const ad_coll *c);
const char *ad_coll_root_name(const ad_coll *c, size_t k);
/* The last member state that is set, else "raw" (upstream). */
const char *ad_coll_root_state(const ad_coll *c, size_t k);
int ad_coll_is_member(const ad_coll *c, size_t field);
const lstar_strings *ad_coll_genes(const ad_coll *c);
/* Upper bound of the stored entries of root k (progress). */
uint64_t ad_coll_root_nnz_bound(const ad_coll *c, size_t k);
/* Stream root k as a csr_matrix group at `dest`.  Fails with FORMAT when a
 * member's cell is not in the union axis or held twice, or a sample repeats
 * a gene label; CORRUPT on a bad indptr/indices (naming the member). */
lstar_status ad_coll_write_root(ad_container *c, const char *dest, const ad_coll *cl, size_t k, ad_wopts *w,
                                lstar_error *err);

/* ---- recording mode (the lstar HDF5 virtual file driver, vfd/) --------------------------------- *
 *
 * ad_write_recorded writes `ds` as h5ad into an HDF5 file created with the
 * caller's file access list (an in-memory recording driver), with chunk copy
 * forced for every Zarr-backed array whose codec chain HDF5 can decode
 * (none, zlib, zstd, optional shuffle; any requested compression), and WITHOUT
 * reading those chunks: the stored size comes from chunk_size, a dummy buffer
 * of that size is written with H5Dwrite_chunk between chunk_begin/chunk_end so
 * the driver records "this address range is that store object" instead of
 * keeping the bytes.  Chunks the store lacks are encoded fill chunks, written
 * between chunk_begin(coords = NULL) and chunk_end (the bytes are real).  A
 * sparse matrix whose data and indices are both copied takes indptr from the
 * source (chunk-copied when its dtype is the one anndata writes, else
 * converted block by block; checked: indptr[0] == 0, non-decreasing,
 * indptr[-1] == nnz) and its indices are not walked.  With decode_begin,
 * arrays whose chain HDF5 cannot decode are recorded chunk by chunk too (see
 * decode_begin), so nothing of a Zarr-backed matrix is read at all.  Everything else is
 * written as lstar_anndata_write writes it.  No temporary file, no rename. */
struct lstar_zarr_array;
typedef struct ad_recorder {
    int64_t fapl;           /* hid_t of the file access list used by H5Fcreate */
    const char *name;       /* file name given to H5Fcreate */
    const char *plugin_dir; /* prepended to HDF5's plugin path (may be NULL) */
    /* Stored size of the chunk object at `coords` of `za`; *found = 0 if absent. */
    lstar_status (*chunk_size)(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t *size,
                               int *found, lstar_error *err);
    /* The next raw write of `size` bytes is the stored chunk at `coords` of
     * `za` (coords NULL: an encoded fill chunk, whose bytes are real). */
    void (*chunk_begin)(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size);
    void (*chunk_end)(void *ud);
    void *ud;
    /* Optional: the next raw write of `size` bytes is chunk `coords` of `za`
     * DECODED (C order, native little-endian): used for arrays whose codec
     * chain HDF5 cannot decode as stored; they become unfiltered datasets with
     * the Zarr chunk shape.  Followed by chunk_end.  NULL: such arrays are
     * written with their values (read from the store). */
    void (*decode_begin)(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size);
} ad_recorder;

lstar_status ad_write_recorded(const lstar_dataset *ds, const ad_recorder *rec, lstar_strings *dropped,
                               lstar_error *err);
/* Use `fapl` (a hid_t, -1 = none) for the HDF5 files the calling thread
 * creates through ad_h5_open from now on (recording mode). */
void ad_h5_set_create_fapl(int64_t fapl);

#endif
