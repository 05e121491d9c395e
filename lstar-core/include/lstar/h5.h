/* lstar/h5.h — the HDF5 backend of the element layer.
 *
 * Files, groups, attributes and datasets of an HDF5 file (h5ad, h5mu, 10x
 * .h5 …), read and written the way h5py does, plus an lstar_array backend
 * for datasets and raw chunk access for parallel codec pipelines and
 * chunk-copy fast paths.  See docs/internals/hdf5.md for the type mapping.
 *
 * Paths are absolute or relative to the root ("/obs/_index" == "obs/_index";
 * "/" or "" is the root group).
 *
 * Ownership: every handle (lstar_h5_file, lstar_h5_dataset, lstar_array)
 * is owned by the caller and released with its _close/_free function, which
 * accept NULL.  Datasets and arrays opened from a file hold a reference to
 * it: the file may be closed before them, the HDF5 file stays open until the
 * last of them is released.
 *
 * Thread safety: every call that touches HDF5 takes one library-wide lock
 * (HDF5 itself is only safe behind a global lock), so all handles may be
 * used from several threads, but HDF5 work serialises.  For parallelism,
 * read raw chunks with lstar_h5_dataset_read_chunk on one thread and decode
 * them in lstar_pool workers.
 *
 * Errors: HDF5's automatic error printing is disabled for the duration of
 * each call; a failure fills the lstar_error with `where` = the HDF5 object
 * path (or the file name for file-level failures) and a message that ends
 * with HDF5's innermost error description.  A dataset whose filter is not
 * available fails on read with LSTAR_ERR_UNSUPPORTED and a message naming
 * the filter ("required filter 'lzf' (32000) is not available").
 */
#ifndef LSTAR_H5_H
#define LSTAR_H5_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/array.h"
#include "lstar/dtype.h"
#include "lstar/limits.h"
#include "lstar/status.h"
#include "lstar/strings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_h5_file lstar_h5_file;
typedef struct lstar_h5_dataset lstar_h5_dataset;

/* ---- files ---------------------------------------------------------------- */

/* Flags of lstar_h5_open.  0 = read-only. */
#define LSTAR_H5_READ 0x0u
#define LSTAR_H5_WRITE 0x1u         /* open an existing file read-write */
#define LSTAR_H5_CREATE 0x2u        /* create a new file; LSTAR_ERR_EXISTS if it exists (unless TRUNCATE) */
#define LSTAR_H5_TRUNCATE 0x4u      /* with CREATE: overwrite an existing file */
#define LSTAR_H5_LIBVER_LATEST 0x8u /* with CREATE: newest file format (default: earliest, like h5py) */
#define LSTAR_H5_TRACK_ORDER 0x10u  /* with CREATE: the root group tracks and indexes creation order */

/* Options of lstar_h5_open_with (zero-initialise). */
typedef struct lstar_h5_open_opts {
    /* CREATE: bytes reserved before the HDF5 superblock (0, or a power of two
     * >= 512; h5mu uses 512).  Filled with zeros; write it with plain file I/O
     * after closing. */
    uint64_t userblock;
    /* A file access list (hid_t) to start from, e.g. one carrying a driver; copied, its libver bounds
     * kept (LSTAR_H5_LIBVER_LATEST then has no effect).  0 = HDF5's default list. */
    int64_t fapl;
} lstar_h5_open_opts;

/* Open or create an HDF5 file.  Files with a userblock (h5mu) open
 * transparently.  LSTAR_ERR_NOT_FOUND if `path` does not exist (read/write),
 * LSTAR_ERR_FORMAT if it is not an HDF5 file, LSTAR_ERR_CORRUPT if truncated.
 * *out: close with lstar_h5_close. */
lstar_status lstar_h5_open(const char *path, unsigned flags, lstar_h5_file **out, lstar_error *err);
/* Same with options (`opts` may be NULL). */
lstar_status lstar_h5_open_with(const char *path, unsigned flags, const lstar_h5_open_opts *opts,
                                lstar_h5_file **out, lstar_error *err);
/* Drop the caller's reference; the file is flushed and closed when no
 * dataset handle or array still uses it.  NULL accepted. */
void lstar_h5_close(lstar_h5_file *f);
/* Flush written data to disk. */
lstar_status lstar_h5_flush(lstar_h5_file *f, lstar_error *err);
/* Userblock size in bytes (512 for h5mu, 0 for h5ad). */
uint64_t lstar_h5_userblock(const lstar_h5_file *f);
/* The path given at open (borrowed). */
const char *lstar_h5_path(const lstar_h5_file *f);

/* ---- nodes ---------------------------------------------------------------- */

typedef enum lstar_h5_node_type {
    LSTAR_H5_NODE_NONE = 0,    /* nothing at that path (or a dangling link) */
    LSTAR_H5_NODE_GROUP = 1,
    LSTAR_H5_NODE_DATASET = 2,
    LSTAR_H5_NODE_OTHER = 3    /* committed datatype */
} lstar_h5_node_type;

/* What is at `path`.  A missing path (or missing parent) is not an error:
 * *type = LSTAR_H5_NODE_NONE. */
lstar_status lstar_h5_node_type_at(lstar_h5_file *f, const char *path, lstar_h5_node_type *type,
                                   lstar_error *err);
/* Names of the children of group `path` into an uninitialised *names
 * (destroy with lstar_strings_destroy): in creation order when the group
 * tracks it (h5py track_order=True, anndata dataframes with > 5000
 * columns), else in name order (the order h5py iterates by default).
 * NOT_FOUND if there is no group at `path`. */
lstar_status lstar_h5_list_children(lstar_h5_file *f, const char *path, lstar_strings *names, lstar_error *err);
/* Create group `path` (its parent must exist).  flags: LSTAR_H5_TRACK_ORDER.
 * LSTAR_ERR_EXISTS if something is there. */
lstar_status lstar_h5_create_group(lstar_h5_file *f, const char *path, unsigned flags, lstar_error *err);
/* Delete the link `path` (the space is not reclaimed, as in HDF5). */
lstar_status lstar_h5_delete(lstar_h5_file *f, const char *path, lstar_error *err);

/* ---- attributes ----------------------------------------------------------- */
/* `path` names the group or dataset holding the attribute. */

typedef enum lstar_h5_attr_class {
    LSTAR_H5_ATTR_OTHER = 0,
    LSTAR_H5_ATTR_STRING = 1,    /* vlen or fixed, ASCII or UTF-8 */
    LSTAR_H5_ATTR_INTEGER = 2,
    LSTAR_H5_ATTR_FLOAT = 3,
    LSTAR_H5_ATTR_BOOL = 4,      /* h5py enum(int8){FALSE=0, TRUE=1} */
    LSTAR_H5_ATTR_REFERENCE = 5, /* object reference */
    LSTAR_H5_ATTR_ENUM = 6,      /* other enums */
    LSTAR_H5_ATTR_COMPOUND = 7
} lstar_h5_attr_class;

typedef struct lstar_h5_attr_info {
    lstar_h5_attr_class cls;
    int rank;   /* 0 = scalar; -1 = null dataspace (h5py.Empty) */
    uint64_t nelems;
    uint64_t shape[LSTAR_MAX_RANK];
    size_t itemsize; /* stored element size (H5Tget_size; vlen strings: pointer size) */
    int is_signed;   /* INTEGER */
} lstar_h5_attr_info;

/* Names of the attributes of `path` (creation order when tracked, else name
 * order) into an uninitialised *names. */
lstar_status lstar_h5_attr_names(lstar_h5_file *f, const char *path, lstar_strings *names, lstar_error *err);
/* *exists = 1 if attribute `name` is on `path` (LSTAR_ERR_NOT_FOUND if `path` is missing). */
lstar_status lstar_h5_attr_exists(lstar_h5_file *f, const char *path, const char *name, int *exists,
                                  lstar_error *err);
lstar_status lstar_h5_attr_get_info(lstar_h5_file *f, const char *path, const char *name, lstar_h5_attr_info *info,
                                    lstar_error *err);
/* A string attribute (vlen or fixed; scalar or a 1-element array; ASCII or
 * UTF-8; fixed strings lose their NUL/space padding) as a NUL-terminated
 * string in *out (free with lstar_free).  LSTAR_ERR_NOT_FOUND when absent,
 * LSTAR_ERR_FORMAT when not a single string. */
lstar_status lstar_h5_attr_read_string(lstar_h5_file *f, const char *path, const char *name, char **out,
                                       lstar_error *err);
/* A string attribute of any rank (flattened; a scalar gives one item) into an
 * uninitialised *out.  An empty attribute of any type (h5py writes `[]` as an
 * empty float64 array) gives 0 strings. */
lstar_status lstar_h5_attr_read_strings(lstar_h5_file *f, const char *path, const char *name, lstar_strings *out,
                                        lstar_error *err);
/* Integer/float/bool attribute (scalar or any rank, flattened) converted to
 * int64 / double: *vals is lstar_malloc'd (NULL when *n == 0; free with
 * lstar_free).  Floats read as int64 must be integral (LSTAR_ERR_FORMAT). */
lstar_status lstar_h5_attr_read_i64(lstar_h5_file *f, const char *path, const char *name, int64_t **vals, size_t *n,
                                    lstar_error *err);
lstar_status lstar_h5_attr_read_f64(lstar_h5_file *f, const char *path, const char *name, double **vals, size_t *n,
                                    lstar_error *err);
/* A single bool: h5py's enum, numpy bool, or an integer (non-zero = 1). */
lstar_status lstar_h5_attr_read_bool(lstar_h5_file *f, const char *path, const char *name, int *out,
                                     lstar_error *err);
/* A single object reference (anndata 0.7 `categories`): the absolute path
 * of the referenced object into *target (free with lstar_free). */
lstar_status lstar_h5_attr_read_ref(lstar_h5_file *f, const char *path, const char *name, char **target,
                                    lstar_error *err);

/* Writers replace an existing attribute of the same name, as h5py does. */
/* Scalar vlen UTF-8 string. */
lstar_status lstar_h5_attr_write_string(lstar_h5_file *f, const char *path, const char *name, const char *value,
                                        lstar_error *err);
/* 1-D vlen UTF-8 string array of `s` (n items, not NUL-terminated).  n == 0
 * writes an empty float64 array, exactly as h5py does for `[]`. */
lstar_status lstar_h5_attr_write_strings(lstar_h5_file *f, const char *path, const char *name,
                                         const lstar_strings *s, lstar_error *err);
/* int64 (H5T_STD_I64LE) / float64 values: rank 0 (n must be 1) or rank 1. */
lstar_status lstar_h5_attr_write_i64(lstar_h5_file *f, const char *path, const char *name, const int64_t *vals,
                                     size_t n, int rank, lstar_error *err);
lstar_status lstar_h5_attr_write_f64(lstar_h5_file *f, const char *path, const char *name, const double *vals,
                                     size_t n, int rank, lstar_error *err);
/* Scalar bool as h5py's enum(int8){FALSE=0, TRUE=1}. */
lstar_status lstar_h5_attr_write_bool(lstar_h5_file *f, const char *path, const char *name, int value,
                                      lstar_error *err);
lstar_status lstar_h5_attr_delete(lstar_h5_file *f, const char *path, const char *name, lstar_error *err);

/* ---- datasets ------------------------------------------------------------- */

typedef enum lstar_h5_layout {
    LSTAR_H5_LAYOUT_OTHER = 0, /* virtual */
    LSTAR_H5_LAYOUT_COMPACT = 1,
    LSTAR_H5_LAYOUT_CONTIGUOUS = 2,
    LSTAR_H5_LAYOUT_CHUNKED = 3
} lstar_h5_layout;

#define LSTAR_H5_MAX_FILTERS 32   /* HDF5's H5Z_MAX_NFILTERS */
#define LSTAR_H5_MAX_CD_VALUES 32 /* cd_values per filter we carry (larger pipelines: LSTAR_ERR_LIMIT) */
#define LSTAR_H5_FILTER_OPTIONAL 0x1u /* H5Z_FLAG_OPTIONAL */

/* One stage of a filter pipeline (ids: deflate 1, shuffle 2, fletcher32 3,
 * szip 4, nbit 5, scaleoffset 6, lzf 32000, blosc 32001, lz4 32004, zstd 32015). */
typedef struct lstar_h5_filter {
    unsigned id;
    unsigned flags; /* LSTAR_H5_FILTER_OPTIONAL or 0 (mandatory) */
    size_t ncd;
    unsigned cd[LSTAR_H5_MAX_CD_VALUES];
    char name[64];  /* as recorded in the file (may be ""); ignored on create */
    int available;  /* info only: 1 if the filter can run here (registered or loadable plugin) */
} lstar_h5_filter;

/* Element kinds of a dataset, beyond its lstar dtype. */
typedef enum lstar_h5_type_kind {
    LSTAR_H5_TYPE_UNSUPPORTED = 0, /* opaque, bitfield, array, vlen sequences, references, … */
    LSTAR_H5_TYPE_NUMERIC = 1,     /* integers, floats (incl. 2-byte floats as FLOAT16), enums of integers */
    LSTAR_H5_TYPE_BOOL = 2,        /* h5py enum(int8){FALSE, TRUE} */
    LSTAR_H5_TYPE_VLEN_STRING = 3,
    LSTAR_H5_TYPE_FIXED_STRING = 4,
    LSTAR_H5_TYPE_COMPOUND = 5,    /* (COMPLEX64/128 when h5py's {r, i} pair) */
    LSTAR_H5_TYPE_REFERENCE = 6
} lstar_h5_type_kind;

typedef struct lstar_h5_dataset_info {
    lstar_h5_type_kind kind;
    lstar_dtype dtype;    /* as lstar_array_from_h5 exposes it (strings: STRING; compound: STRUCT or COMPLEX*);
                             INVALID when unsupported */
    int rank;             /* 0 for scalars; -1 for a null dataspace (h5py.Empty) */
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t maxshape[LSTAR_MAX_RANK]; /* UINT64_MAX = unlimited */
    size_t itemsize;      /* stored element size in bytes */
    int big_endian;       /* numeric types stored big-endian */
    int utf8;             /* strings: character set is UTF-8 (else ASCII) */
    int str_pad;          /* fixed strings: 0 NUL-terminated, 1 NUL-padded, 2 space-padded (H5T_str_t) */
    int nmembers;         /* compound member count */
    lstar_h5_layout layout;
    uint64_t chunks[LSTAR_MAX_RANK]; /* CHUNKED only */
    size_t nfilters;
    lstar_h5_filter filters[LSTAR_H5_MAX_FILTERS];
    uint64_t storage_size; /* bytes allocated in the file (H5Dget_storage_size) */
    uint64_t offset;       /* CONTIGUOUS: file offset of the data (H5Dget_offset, includes the
                              userblock); UINT64_MAX when not allocated or not contiguous */
} lstar_h5_dataset_info;

/* Create a dataset.  dtype: numeric (stored little-endian), BOOL (h5py
 * enum), STRING (vlen UTF-8), FIXED_BYTES (itemsize bytes, NUL-padded
 * ASCII).  All chunks 0 = contiguous (filters and unlimited dimensions need
 * chunks).  Zero-initialise and fill. */
typedef struct lstar_h5_dataset_spec {
    lstar_dtype dtype;
    size_t itemsize; /* FIXED_BYTES only */
    int rank;        /* 0 = scalar */
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t maxshape[LSTAR_MAX_RANK]; /* 0 = same as shape; UINT64_MAX = unlimited (h5py maxshape None) */
    uint64_t chunks[LSTAR_MAX_RANK];
    size_t nfilters;
    const lstar_h5_filter *filters; /* borrowed; id, flags, ncd, cd used */
    int fill_set;                   /* numeric: use fill_value (else HDF5's default 0) */
    double fill_value;
} lstar_h5_dataset_spec;

/* Create dataset `path` (parent group must exist) and open it into *out
 * (close with lstar_h5_dataset_close; out may be NULL to only create).
 * A mandatory filter that is not available fails with LSTAR_ERR_UNSUPPORTED. */
lstar_status lstar_h5_dataset_create(lstar_h5_file *f, const char *path, const lstar_h5_dataset_spec *spec,
                                     lstar_h5_dataset **out, lstar_error *err);
lstar_status lstar_h5_dataset_open(lstar_h5_file *f, const char *path, lstar_h5_dataset **out, lstar_error *err);
void lstar_h5_dataset_close(lstar_h5_dataset *d); /* NULL accepted */
/* The dataset's path (borrowed). */
const char *lstar_h5_dataset_path(const lstar_h5_dataset *d);
/* Everything about the dataset (refreshed on each call: shape after resize, storage size …). */
lstar_status lstar_h5_dataset_get_info(lstar_h5_dataset *d, lstar_h5_dataset_info *info, lstar_error *err);

/* Read the region [start, start+count) (NULL for scalars) of a numeric/bool
 * dataset into `out`, C order, native byte order, as `info.dtype` elements
 * (big-endian data converted). */
lstar_status lstar_h5_dataset_read(lstar_h5_dataset *d, const uint64_t *start, const uint64_t *count, void *out,
                                   lstar_error *err);
/* Write a region of a numeric/bool dataset from native C-order elements of
 * the dataset's dtype. */
lstar_status lstar_h5_dataset_write(lstar_h5_dataset *d, const uint64_t *start, const uint64_t *count,
                                    const void *data, lstar_error *err);
/* Read flattened (C-order) elements [start, start+count) of a vlen or fixed
 * string dataset into an uninitialised *out.  Vlen strings are read in
 * bounded batches; fixed strings lose their padding (per H5T_str_pad). */
lstar_status lstar_h5_dataset_read_strings(lstar_h5_dataset *d, uint64_t start, uint64_t count, lstar_strings *out,
                                           lstar_error *err);
/* Write s->n strings at flattened elements [start, start + s->n) of a
 * string dataset (vlen, or fixed: items longer than itemsize → LSTAR_ERR_LIMIT). */
lstar_status lstar_h5_dataset_write_strings(lstar_h5_dataset *d, uint64_t start, const lstar_strings *s,
                                            lstar_error *err);
/* Change the extent (dimensions within maxshape; chunked datasets). */
lstar_status lstar_h5_dataset_resize(lstar_h5_dataset *d, const uint64_t *shape, lstar_error *err);

/* Compound datasets (pre-0.7 obs/var recarrays, rank_genes_groups). */
typedef struct lstar_h5_member {
    char name[256];
    lstar_h5_type_kind kind;
    lstar_dtype dtype; /* as lstar_array_from_h5_member exposes it; INVALID when unsupported */
    size_t itemsize;   /* stored size */
    size_t offset;     /* byte offset in the stored record */
} lstar_h5_member;
/* Members of a compound dataset: *members is lstar_malloc'd (free with lstar_free). */
lstar_status lstar_h5_dataset_members(lstar_h5_dataset *d, lstar_h5_member **members, size_t *n, lstar_error *err);

/* ---- chunk-level access ------------------------------------------------------ */

typedef struct lstar_h5_chunk_info {
    uint64_t offset[LSTAR_MAX_RANK]; /* first element (multiples of the chunk dims) */
    unsigned filter_mask;            /* bit i set: filter i was skipped for this chunk */
    uint64_t addr;                   /* file address (includes the userblock) */
    uint64_t size;                   /* stored bytes */
} lstar_h5_chunk_info;

/* Number of allocated chunks (0 for non-chunked datasets). */
lstar_status lstar_h5_dataset_num_chunks(lstar_h5_dataset *d, uint64_t *n, lstar_error *err);
/* Info of the index-th allocated chunk (storage order, not logical order). */
lstar_status lstar_h5_dataset_chunk_info(lstar_h5_dataset *d, uint64_t index, lstar_h5_chunk_info *ci,
                                         lstar_error *err);
/* Info of the chunk starting at `offset`; LSTAR_ERR_NOT_FOUND if it is not
 * allocated (reads as fill). */
lstar_status lstar_h5_dataset_chunk_info_at(lstar_h5_dataset *d, const uint64_t *offset, lstar_h5_chunk_info *ci,
                                            lstar_error *err);
/* Read the stored (still filtered) bytes of the chunk at `offset` into
 * `buf` (bufsize >= its stored size, see chunk_info; LSTAR_ERR_LIMIT if
 * smaller).  *size receives the byte count, *filter_mask the chunk's mask
 * (either may be NULL).  LSTAR_ERR_NOT_FOUND if not allocated.  Works
 * without the filters being available. */
lstar_status lstar_h5_dataset_read_chunk(lstar_h5_dataset *d, const uint64_t *offset, void *buf, size_t bufsize,
                                         size_t *size, unsigned *filter_mask, lstar_error *err);
/* Store `size` already-filtered bytes as the chunk at `offset`, with
 * `filter_mask` (0 = every filter of the pipeline was applied). */
lstar_status lstar_h5_dataset_write_chunk(lstar_h5_dataset *d, const uint64_t *offset, unsigned filter_mask,
                                          const void *data, size_t size, lstar_error *err);

/* ---- datasets as lstar_arrays ------------------------------------------------- */

/* An lstar_array (kind "hdf5") over dataset `path`: numeric of any rank and
 * byte order (native on read), bool enums (BOOL), vlen and fixed strings
 * (STRING, via lstar_array_read_strings; flattened C order), h5py complex
 * pairs (COMPLEX64/128), rank 0 scalars.  block = the chunk dims, or for
 * contiguous/compact data a row block of about LSTAR_DEFAULT_STREAM_CHUNK_ELEMS
 * elements (other dims whole).  Compound datasets: LSTAR_ERR_UNSUPPORTED (use
 * lstar_array_from_h5_member).  The array holds a file reference. */
lstar_status lstar_array_from_h5(lstar_h5_file *f, const char *path, lstar_array **out, lstar_error *err);
/* One member of a compound dataset as its own array (numeric, bool or
 * string member; same shape as the dataset).  LSTAR_ERR_NOT_FOUND if there
 * is no such member. */
lstar_status lstar_array_from_h5_member(lstar_h5_file *f, const char *path, const char *member, lstar_array **out,
                                        lstar_error *err);

/* (appended) The dataset behind an array made by lstar_array_from_h5
 * (borrowed, valid while the array lives; for raw chunk copies), else NULL
 * (other backends, compound members). */
lstar_h5_dataset *lstar_array_h5_dataset(const lstar_array *a);

#ifdef __cplusplus
}
#endif
#endif
