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

#ifdef __cplusplus
}
#endif
#endif
