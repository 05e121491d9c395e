/* lstar/anndata.h — AnnData (.h5ad and anndata-zarr) ↔ the L★ model.
 *
 * Reading maps an AnnData container onto an lstar_dataset following the
 * upstream AnnData profile (lstar-format.md §3.2): axes `cells`/`genes` from
 * obs_names/var_names, X / raw / layers → measures, obs/var columns → labels
 * and measures (categoricals induce factor axes), obsm → embeddings over
 * coordinate axes, varm → loadings, obsp/varp → relations, uns → the
 * passthrough namespace "anndata.uns" (node grammar of §2.9) with the known
 * promotions (color palettes, PCA variance, one-vs-rest rank_genes_groups,
 * square sparse graphs).  Every field records its native location in
 * provenance {"anndata": "<element path>"}; whatever cannot be represented is
 * listed in the dataset's `dropped` manifest with its element path.
 *
 * Every anndata on-disk generation is read: the registry encodings of
 * anndata ≥ 0.8 (formats.md §1.2), 0.7-era files (dataframe 0.1.0 with
 * `__categories`, no encoding attributes on arrays and dicts) and pre-0.7
 * files (compound obs/var, h5sparse groups, raw.X / raw.var / raw.cat,
 * categories in uns['<col>_categories']).
 *
 * Memory: matrix-sized arrays (X, layers, raw/X, obsm/varm/obsp/varp values,
 * sparse data/indices/indptr, uns arrays) stay lazy lstar_arrays reading from
 * the file or store; only obs/var index labels, string columns, categories
 * and small uns scalars are read into memory.  The dataset keeps the
 * container open until lstar_dataset_free.
 *
 * Errors fill `err->where` with the AnnData element path ("obs/cell_type/codes")
 * as the backend sees it (h5: "/obs/cell_type/codes").
 */
#ifndef LSTAR_ANNDATA_H
#define LSTAR_ANNDATA_H
#include <stddef.h>
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a path holds.  Append-only. */
typedef enum lstar_anndata_format {
    LSTAR_ANNDATA_UNKNOWN = 0,
    LSTAR_ANNDATA_H5AD = 1,        /* HDF5 AnnData */
    LSTAR_ANNDATA_ZARR_V2 = 2,     /* anndata-zarr, Zarr v2 (directory or zip) */
    LSTAR_ANNDATA_ZARR_V3 = 3,     /* anndata-zarr, Zarr v3 */
    LSTAR_ANNDATA_H5MU = 4,        /* MuData in HDF5 (modalities under /mod) */
    LSTAR_ANNDATA_MUDATA_ZARR = 5  /* MuData in Zarr (v2 or v3) */
} lstar_anndata_format;

/* "h5ad", "anndata-zarr v2", "anndata-zarr v3", "h5mu", "mudata-zarr",
 * "unknown".  Static string. */
const char *lstar_anndata_format_name(lstar_anndata_format f);

/* Detect what `path` holds (content, not extension: HDF5 signature also after a
 * userblock, zip, directory with a Zarr root; MuData by its root attributes or
 * /mod group).  LSTAR_ERR_NOT_FOUND if `path` does not exist, LSTAR_ERR_FORMAT
 * if it is neither HDF5 nor Zarr. */
lstar_status lstar_anndata_detect(const char *path, lstar_anndata_format *out, lstar_error *err);

typedef struct lstar_anndata_read_options {
    /* MuData files: the modality to read as an AnnData (/mod/<modality>).
     * NULL: a MuData file is refused with LSTAR_ERR_UNSUPPORTED naming its
     * modalities. */
    const char *modality;
    /* Factor-axis induction guard of rule 2 (skip identifier-like
     * categoricals: k > 0.5·n and k > 100).  Default 1. */
    int induce_guard;
    /* Out, optional: the detected container format. */
    lstar_anndata_format format;
} lstar_anndata_read_options;

void lstar_anndata_read_options_init(lstar_anndata_read_options *o);

/* Read the AnnData at `path` (h5ad file, anndata-zarr directory or zip, or
 * with o->modality one modality of a MuData file) into a new dataset (*out;
 * free with lstar_dataset_free).  `o` may be NULL (defaults); o->format is
 * set on return.  Profiles: ["anndata@0.1", "anndata@<root encoding-version
 * or 'unknown'>"].  Unknown encoding types, missing required elements or
 * attributes, and shape inconsistencies fail with LSTAR_ERR_FORMAT /
 * LSTAR_ERR_SHAPE and the element path in err->where. */
lstar_status lstar_anndata_read(const char *path, lstar_anndata_read_options *o, lstar_dataset **out,
                                lstar_error *err);


/* ---- writing ------------------------------------------------------------------------------- */

/* Options of lstar_anndata_write.  Initialise with lstar_anndata_write_options_init
 * (zero-initialising is not enough: format/compression/chunk_copy have defaults). */
typedef struct lstar_anndata_write_options {
    /* LSTAR_ANNDATA_H5AD (default), LSTAR_ANNDATA_ZARR_V2 or LSTAR_ANNDATA_ZARR_V3
     * (directory store). */
    lstar_anndata_format format;
    /* Compression of every array written:
     *   "none" / NULL (default),
     *   "gzip[:L]" and "zlib[:L]"  h5ad: HDF5 deflate (filter 1, level L, default 4);
     *                              zarr: numcodecs/v3 gzip resp. zlib (default level 5),
     *   "zstd[:L]"                 h5ad: filter 32015 (needs the zstd plugin: see plugin_dir);
     *                              zarr: zstd (default level 3),
     *   "lzf"                      h5ad only (filter 32000, Debian's hdf5-plugin-lzf),
     *   "blosc[:cname[:clevel[:shuffle]]]", "lz4"   zarr only.
     * A filter that cannot be set fails with LSTAR_ERR_UNSUPPORTED naming it. */
    const char *compression;
    /* Elements per chunk of every streamed array (first-axis chunking, like
     * lstar_chunk_rows); 0 = LSTAR_DEFAULT_STREAM_CHUNK_ELEMS for matrices and
     * sparse data/indices, whole array for metadata-sized ones. */
    uint64_t chunk_elems;
    /* Zarr v3: elements per shard (a multiple of the chunk); 0 = unsharded. */
    uint64_t shard_elems;
    /* Encoder threads (0 = all cores).  The output never depends on it. */
    int threads;
    /* Replace an existing destination (default 0: LSTAR_ERR_EXISTS before any work). */
    int overwrite;
    /* Copy compressed chunks verbatim when the source array's codec chain and
     * chunk shape are representable in the target (Zarr zlib ↔ HDF5 deflate,
     * zstd ↔ 32015, shuffle ↔ HDF5 shuffle).  Default 1. */
    int chunk_copy;
    /* h5ad: directories holding HDF5 filter plugins (':'-separated), prepended
     * to HDF5's plugin search path before any dataset is created (e.g. the
     * build tree's filters/plugins for zstd 32015).  NULL = HDF5's own path. */
    const char *plugin_dir;
    /* Progress over the value elements copied (may be NULL). */
    lstar_progress_fn progress;
    void *progress_ud;
    /* Out, optional: one line per field or uns element the writer could not
     * write, "<field name or uns path> (<reason>)", e.g. "x (dense embedding
     * over [genes, pca2]: no AnnData slot)", "uns/g (csr_matrix, dropped when
     * the source was read)".  (uns['lstar/dropped'] in the output lists the
     * bare names.)  If non-NULL, *dropped_out is initialised by the call
     * (success or failure; empty on failure) and must be released with
     * lstar_strings_destroy. */
    lstar_strings *dropped_out;
} lstar_anndata_write_options;

void lstar_anndata_write_options_init(lstar_anndata_write_options *o);

/* Write `ds` as an AnnData at `path` (.h5ad file, or an anndata-zarr directory
 * store of Zarr v2/v3), exactly as anndata >= 0.8 writes it: encoding-type /
 * encoding-version on every element (root anndata 0.1.0), dataframes 0.2.0
 * with _index and column-order, csr/csc_matrix 0.1.0 with int64 shape,
 * vlen UTF-8 strings, categoricals with the h5py bool `ordered`, nullable
 * integer/boolean columns.
 *
 * Placement (lstar-format.md §3.2 write side): provenance {"anndata": "<slot>"}
 * when present, else the role → slot contract (measure [cells,genes] → X /
 * layers, embedding → obsm/X_<name>, loading → varm, arity-1 fields over
 * cells/genes → obs/var columns, relations → obsp/varp, typed uns subtypes
 * and the "anndata.uns" passthrough → uns).  Axes `cells` and `genes`
 * (else the observation/feature axes) give obs_names / var_names.  Fields no
 * slot holds are listed in uns['lstar/dropped'] and o->dropped_out; a state
 * on X is kept in uns['lstar/state'].  de.* fields regenerate
 * uns['rank_genes_groups'] and uns `$record` nodes become rec-arrays in h5ad;
 * anndata-zarr cannot hold record arrays yet (reported as dropped).
 * Collections are refused (LSTAR_ERR_UNSUPPORTED).
 * A Zarr-backed dense array whose codec chain HDF5 can decode (zlib/zstd,
 * optional shuffle) is copied chunk by chunk into h5ad without re-encoding
 * when o->chunk_copy and the compression family match.
 *
 * Streaming: matrices are copied block by block from their lstar_arrays
 * (sparse through lstar_sparse_iter, which validates indptr/indices:
 * violations fail with LSTAR_ERR_CORRUPT naming the field) into chunked,
 * growable arrays; encoding runs on o->threads workers; memory is bounded by
 * a few chunks per thread.  The output is built under a temporary name next
 * to `path` ("<path>.tmp-<pid>-<n>") and renamed on success; on failure
 * nothing is left (an existing destination is untouched).  `ds` and the
 * files it reads from are never modified.  `o` may be NULL (defaults).
 * An existing `path` without o->overwrite fails with LSTAR_ERR_EXISTS before
 * any work.  Thread safety: concurrent writes of different datasets are
 * fine; o->plugin_dir changes HDF5's process-wide plugin path. */
lstar_status lstar_anndata_write(const lstar_dataset *ds, const char *path, const lstar_anndata_write_options *o,
                                 lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
