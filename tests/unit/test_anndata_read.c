/* Unit tests: the AnnData reader (lstar/anndata.h) on every h5ad and
 * anndata-zarr file in ../shared/data, and the node layer's write operations.
 *
 * Expected values were obtained once with /usr/bin/python3 + anndata 0.8 /
 * h5py 3.7, e.g.
 *   a = anndata.read_h5ad(f); a.shape, a.obs_names[0], a.var_names[-1],
 *   a.X.sum(), a.X.nnz, a.obs[c].cat.categories, a.obsm[k].shape, a.obsp[k].nnz
 * (quoted next to each value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>

#include "anndata/ad_node.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/array.h"
#include "lstar/model.h"

#define D LSTAR_SHARED_DATA
#define PBMC D "/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad"
#define PBMC_Z D "/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip"
#define EXAMPLE D "/scverse_anndataR/inst/extdata/example.h5ad"
#define V050 D "/scverse_anndata/tests/data/archives/v0.5.0/adata.h5ad"
#define V070 D "/scverse_anndata/tests/data/archives/v0.7.0/adata.h5ad"
#define V078 D "/scverse_anndata/tests/data/archives/v0.7.8/adata.h5ad"
#define V0114 D "/scverse_anndata/tests/data/archives/v0.11.4/adata.h5ad"
#define V070_Z D "/scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip"
#define V078_Z D "/scverse_anndata/tests/data/archives/v0.7.8/adata.zarr.zip"
#define V0114_Z D "/scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip"
#define SAMPLE D "/kaizhang_anndata-rs/anndata-test-utils/tests/data/sample.h5ad"
#define KBET D "/scverse_scanpy/scanpy/tests/_data/kbet-sim.h5ad"
#define CXG D "/chanzuckerberg_cellxgene/test/fixtures/1e4dfec4-c0b2-46ad-a04e-ff3ffb3c0a8f.h5ad"
#define NANF D "/chanzuckerberg_cellxgene/test/fixtures/nan.h5ad"
#define NEIGH D "/scverse_scanpy/tests/_data/neighbors_shortcut_ref.h5ad"
#define TCELLS D "/scverse_scanpy/tests/_data/t-cells.h5ad"
#define TENK D "/scverse_scanpy/tests/_data/10x-10k-subset.zarr"
#define H5MU D "/scverse_mudata/tests/data/archives/v0.4.1/mdata_axis0.h5mu"

static void need(const char *path) {
    if (access(path, R_OK) != 0) {
        print_message("shared test data missing: %s (skipping)\n", path);
        skip();
    }
}

static lstar_dataset *read_ok(const char *path, lstar_anndata_format want) {
    need(path);
    lstar_anndata_read_options o;
    lstar_anndata_read_options_init(&o);
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_status st = lstar_anndata_read(path, &o, &ds, &e);
    if (st != LSTAR_OK) print_message("read %s: %s: %s\n", path, e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    assert_int_equal(o.format, want);
    /* every dataset must validate cleanly */
    lstar_findings *f = NULL;
    assert_int_equal(lstar_dataset_validate(ds, &f, &e), LSTAR_OK);
    for (size_t i = 0; i < lstar_findings_count(f); i++)
        print_message("finding %s %s: %s\n", lstar_findings_at(f, i)->code, lstar_findings_at(f, i)->where,
                      lstar_findings_at(f, i)->message);
    assert_int_equal(lstar_findings_errors(f), 0);
    lstar_findings_free(f);
    assert_string_equal(lstar_dataset_profile(ds, 0), "anndata@0.1");
    return ds;
}

static void axis_is(lstar_dataset *ds, const char *name, uint64_t len, const char *first, const char *last) {
    lstar_axis *a = lstar_dataset_axis(ds, name);
    char buf[256];
    assert_non_null(a);
    assert_int_equal(lstar_axis_length(a), len);
    if (first) assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(a), 0, buf, sizeof buf), first);
    if (last) assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(a), len - 1, buf, sizeof buf), last);
}

/* Field `name` with encoding, role, span and (optionally) shape. */
static lstar_field *field_is(lstar_dataset *ds, const char *name, lstar_encoding enc, const char *role, const char *s0,
                             const char *s1, uint64_t d0, uint64_t d1) {
    lstar_field *f = lstar_dataset_field(ds, name);
    if (!f) print_message("no field %s\n", name);
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), enc);
    if (role) assert_string_equal(lstar_field_role(f), role);
    assert_int_equal(lstar_field_span_count(f), s1 ? 2 : 1);
    assert_string_equal(lstar_field_span(f, 0), s0);
    if (s1) assert_string_equal(lstar_field_span(f, 1), s1);
    uint64_t dims[4] = {0};
    int rank = lstar_field_shape(f, dims, 4);
    if (d0) {
        assert_int_equal(rank, s1 ? 2 : 1);
        assert_int_equal(dims[0], d0);
        if (s1) assert_int_equal(dims[1], d1);
    }
    return f;
}

/* Sum of a numeric array (NaN skipped). */
static double array_sum(const lstar_array *a, uint64_t *nan_count) {
    void *buf = NULL;
    size_t nb = 0;
    double s = 0;
    assert_int_equal(lstar_array_read_all(a, 0, &buf, &nb, NULL), LSTAR_OK);
    if (nan_count) *nan_count = 0;
    for (uint64_t i = 0; i < lstar_array_size(a); i++) {
        double v = lstar_dtype_get_f64(lstar_array_dtype(a), buf, i);
        if (isnan(v)) {
            if (nan_count) (*nan_count)++;
            continue;
        }
        s += v;
    }
    lstar_free(buf);
    return s;
}

static double field_sum(const lstar_field *f) {
    lstar_array *a = lstar_field_array(f, lstar_field_encoding(f) == LSTAR_ENC_DENSE ? "values" : "data");
    assert_non_null(a);
    return array_sum(a, NULL);
}

static uint64_t nnz(const lstar_field *f) { return lstar_array_size(lstar_field_array(f, "data")); }

static void category_is(const lstar_field *f, size_t k, size_t i, const char *want) {
    char buf[256];
    const lstar_array *c = lstar_field_array(f, "categories");
    assert_non_null(c);
    assert_int_equal(lstar_array_size(c), k);
    const lstar_strings *s = lstar_array_memory_strings(c);
    assert_non_null(s);
    assert_string_equal(lstar_strings_get_cstr(s, i, buf, sizeof buf), want);
}

static const char *prov(const lstar_field *f) { return lstar_field_provenance(f); }

static int has_dropped(lstar_dataset *ds, const char *prefix) {
    for (size_t i = 0; i < lstar_dataset_dropped_count(ds); i++)
        if (strncmp(lstar_dataset_dropped(ds, i), prefix, strlen(prefix)) == 0) return 1;
    return 0;
}

/* ---- modern h5ad ----------------------------------------------------------------------------------- */

static void test_example_h5ad(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(EXAMPLE, LSTAR_ANNDATA_H5AD);
    assert_string_equal(lstar_dataset_profile(ds, 1), "anndata@0.1.0");
    /* a.shape (50, 100); a.obs_names[0] 'Cell000'; a.var_names[-1] 'Gene099' */
    axis_is(ds, "cells", 50, "Cell000", NULL);
    axis_is(ds, "genes", 100, NULL, "Gene099");
    /* a.X: csr, sum 4791.2246, nnz 4317 */
    lstar_field *x = field_is(ds, "X", LSTAR_ENC_CSR, "measure", "cells", "genes", 50, 100);
    assert_true(fabs(field_sum(x) - 4791.2249407) < 1e-4); /* a.X.data.astype("f8").sum() */
    assert_int_equal(nnz(x), 4317);
    assert_null(lstar_field_state(x));
    assert_string_equal(prov(x), "{\"anndata\":\"X\"}");
    /* layers: counts csr 9805.0, csc_counts csc, dense_X 9675.0, dense_counts 9805.0 */
    lstar_field *f = field_is(ds, "counts", LSTAR_ENC_CSR, "measure", "cells", "genes", 50, 100);
    assert_string_equal(lstar_field_state(f), "raw");
    assert_true(fabs(field_sum(f) - 9805.0) < 1e-6);
    f = field_is(ds, "csc_counts", LSTAR_ENC_CSC, "measure", "cells", "genes", 50, 100);
    assert_string_equal(prov(f), "{\"anndata\":\"layers/csc_counts\"}");
    f = field_is(ds, "dense_X", LSTAR_ENC_DENSE, "measure", "cells", "genes", 50, 100);
    assert_null(lstar_field_state(f));
    assert_true(fabs(field_sum(f) - 9675.0000158) < 1e-4); /* np.asarray(dense_X, "f8").sum() */
    f = field_is(ds, "dense_counts", LSTAR_ENC_DENSE, "measure", "cells", "genes", 50, 100);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "values")), LSTAR_DTYPE_INT64);
    /* obs: IntNA (Int64, 1 NA), BoolNA (boolean, 1 NA), leiden categorical 0..5 */
    f = field_is(ds, "IntNA", LSTAR_ENC_DENSE, "measure", "cells", NULL, 50, 0);
    assert_true(lstar_field_nullable(f));
    assert_true(fabs(array_sum(lstar_field_array(f, "mask"), NULL) - 1.0) < 1e-9);
    f = field_is(ds, "BoolNA", LSTAR_ENC_DENSE, "label", "cells", NULL, 50, 0);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "values")), LSTAR_DTYPE_BOOL);
    assert_true(lstar_field_nullable(f));
    f = field_is(ds, "leiden", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 50, 0);
    assert_int_equal(lstar_field_ordered(f), 0);
    category_is(f, 6, 5, "5");
    lstar_axis *lax = lstar_dataset_axis(ds, "leiden");
    assert_non_null(lax);
    assert_string_equal(lstar_axis_role(lax), "factor");
    assert_string_equal(lstar_axis_induced_by(lax), "leiden");
    /* var: total_counts clashes with obs total_counts → total_counts.genes */
    field_is(ds, "total_counts.genes", LSTAR_ENC_DENSE, "measure", "genes", NULL, 100, 0);
    f = field_is(ds, "String", LSTAR_ENC_UTF8, "label", "genes", NULL, 100, 0);
    /* obsm X_pca (50, 38), X_umap (50, 2); varm PCs (100, 38) */
    field_is(ds, "pca", LSTAR_ENC_DENSE, "embedding", "cells", "pca", 50, 38);
    field_is(ds, "umap", LSTAR_ENC_DENSE, "embedding", "cells", "umap", 50, 2);
    axis_is(ds, "pca", 38, "pca0", "pca37");
    assert_string_equal(lstar_axis_role(lstar_dataset_axis(ds, "pca")), "coordinate");
    f = field_is(ds, "pca_loadings", LSTAR_ENC_DENSE, "loading", "genes", "pca", 100, 38);
    assert_string_equal(prov(f), "{\"anndata\":\"varm/PCs\"}");
    /* obsp connectivities (sum 322.2255, nnz 964), distances; varp test_varp */
    f = field_is(ds, "connectivities", LSTAR_ENC_CSR, "relation", "cells", "cells", 50, 50);
    assert_string_equal(lstar_field_subtype(f), "similarity");
    assert_int_equal(lstar_field_weighted(f), 1);
    assert_int_equal(nnz(f), 964);
    assert_true(fabs(field_sum(f) - 322.2255) < 0.01);
    f = field_is(ds, "distances", LSTAR_ENC_CSR, "relation", "cells", "cells", 50, 50);
    assert_string_equal(lstar_field_subtype(f), "distance");
    field_is(ds, "test_varp_varp", LSTAR_ENC_DENSE, "relation", "genes", "genes", 100, 100);
    /* promotions: pca variance (38), rank_genes_groups t-test vs rest over leiden */
    f = field_is(ds, "pca_variance", LSTAR_ENC_DENSE, "measure", "pca", NULL, 38, 0);
    assert_string_equal(lstar_field_subtype(f), "pca_var");
    field_is(ds, "pca_variance_ratio", LSTAR_ENC_DENSE, "measure", "pca", NULL, 38, 0);
    f = field_is(ds, "de.leiden.padj", LSTAR_ENC_DENSE, "measure", "leiden", "genes", 6, 100);
    assert_string_equal(lstar_field_subtype(f), "de");
    uint64_t nans = 0;
    array_sum(lstar_field_array(f, "values"), &nans);
    assert_int_equal(nans, 0); /* every group ranked all 100 genes */
    /* uns passthrough */
    lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(p);
    const char *tree = lstar_passthrough_tree(p);
    assert_non_null(strstr(tree, "\"IntScalar\": 1") ? strstr(tree, "\"IntScalar\": 1") : strstr(tree, "\"IntScalar\":1"));
    assert_non_null(strstr(tree, "\"StringScalar\":\"A string\""));
    assert_non_null(strstr(tree, "\"Category\":{\"$dropped\":\"Categorical\"}"));
    assert_null(strstr(tree, "rank_genes_groups"));
    assert_null(strstr(tree, "variance_ratio"));
    assert_true(has_dropped(ds, "uns/Sparse1D (csc_matrix)"));
    assert_true(has_dropped(ds, "uns/IntNA (IntegerArray)"));
    lstar_dataset_free(ds);
}

static void check_pbmc_common(lstar_dataset *ds) {
    /* a.shape (700, 765); obs_names[0] 'AAAGCCTGGCTAAC-1'; var_names[-1] 'MT-ND3' */
    axis_is(ds, "cells", 700, "AAAGCCTGGCTAAC-1", NULL);
    axis_is(ds, "genes", 765, NULL, "MT-ND3");
    /* a.X.sum() -243.68103 (dense float32) */
    lstar_field *x = field_is(ds, "X", LSTAR_ENC_DENSE, "measure", "cells", "genes", 700, 765);
    assert_true(fabs(field_sum(x) - (-243.68103)) < 0.05);
    /* bulk_labels: 10 categories, first 'CD4+/CD25 T Reg' */
    lstar_field *f = field_is(ds, "bulk_labels", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 700, 0);
    category_is(f, 10, 0, "CD4+/CD25 T Reg");
    f = field_is(ds, "louvain_colors", LSTAR_ENC_UTF8, "label", "louvain", NULL, 11, 0);
    assert_string_equal(lstar_field_subtype(f), "color");
    /* obsp connectivities nnz 9992 sum 3999.3202 */
    f = field_is(ds, "connectivities", LSTAR_ENC_CSR, "relation", "cells", "cells", 700, 700);
    assert_int_equal(nnz(f), 9992);
    assert_true(fabs(field_sum(f) - 3999.3202) < 0.01);
    field_is(ds, "pca", LSTAR_ENC_DENSE, "embedding", "cells", "pca", 700, 50);
    field_is(ds, "pca_loadings", LSTAR_ENC_DENSE, "loading", "genes", "pca", 765, 50);
    /* rank_genes_groups: logreg vs rest, 10 groups x 100 names, scores only */
    f = field_is(ds, "de.bulk_labels.score", LSTAR_ENC_DENSE, "measure", "bulk_labels", "genes", 10, 765);
    uint64_t nans = 0;
    array_sum(lstar_field_array(f, "values"), &nans);
    assert_int_equal(nans, 10 * 765 - 1000);
    assert_null(lstar_dataset_field(ds, "de.bulk_labels.pval"));
}

static void test_pbmc_h5ad(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(PBMC, LSTAR_ANNDATA_H5AD);
    check_pbmc_common(ds);
    /* a.raw: (700, 765), csr, sum 319044.25, nnz 174400, same var_names → span genes */
    lstar_field *f = field_is(ds, "raw", LSTAR_ENC_CSR, "measure", "cells", "genes", 700, 765);
    assert_string_equal(lstar_field_state(f), "raw");
    assert_int_equal(nnz(f), 174400);
    assert_true(fabs(field_sum(f) - 319044.25) < 0.5);
    assert_null(lstar_dataset_axis(ds, "genes_raw"));
    assert_int_equal(lstar_dataset_dropped_count(ds), 0);
    lstar_dataset_free(ds);
}

static void test_pbmc_zarr_v3(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(PBMC_Z, LSTAR_ANNDATA_ZARR_V3);
    check_pbmc_common(ds);
    /* raw is an anndata `null` element here; layers/counts is csr */
    assert_null(lstar_dataset_field(ds, "raw"));
    lstar_field *f = field_is(ds, "counts", LSTAR_ENC_CSR, "measure", "cells", "genes", 700, 765);
    assert_string_equal(lstar_field_state(f), "raw");
    assert_string_equal(lstar_array_kind(lstar_field_array(f, "data")), "zarr"); /* lazy */
    lstar_dataset_free(ds);
}

/* ---- 0.7-era and pre-0.7 -------------------------------------------------------------------------- */

static void check_v07(lstar_dataset *ds, double xsum, uint64_t xnnz, double rawsum, uint64_t rawnnz,
                      const char *first_cat) {
    assert_string_equal(lstar_dataset_profile(ds, 1), "anndata@unknown");
    axis_is(ds, "cells", 30, "cell0", NULL);
    axis_is(ds, "genes", 20, NULL, "gene19");
    lstar_field *x = field_is(ds, "X", LSTAR_ENC_CSR, "measure", "cells", "genes", 30, 20);
    assert_true(fabs(field_sum(x) - xsum) < 1e-6);
    assert_int_equal(nnz(x), xnnz);
    /* raw over its own 40 genes */
    lstar_field *r = field_is(ds, "raw", LSTAR_ENC_CSR, "measure", "cells", "genes_raw", 30, 40);
    assert_true(fabs(field_sum(r) - rawsum) < 1e-6);
    assert_int_equal(nnz(r), rawnnz);
    assert_string_equal(lstar_axis_role(lstar_dataset_axis(ds, "genes_raw")), "feature");
    /* dataframe 0.1.0 categoricals: codes + categories reference */
    lstar_field *f = field_is(ds, "obs_cat", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 30, 0);
    char buf[64];
    assert_string_equal(lstar_strings_get_cstr(lstar_array_memory_strings(lstar_field_array(f, "categories")), 0, buf,
                                               sizeof buf),
                        first_cat);
    assert_int_equal(lstar_field_ordered(f), 0);
    f = field_is(ds, "cat_ordered", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 30, 0);
    assert_int_equal(lstar_field_ordered(f), 1);
    field_is(ds, "cat_ordered.genes", LSTAR_ENC_CATEGORICAL, "label", "genes", NULL, 20, 0);
    field_is(ds, "uint8", LSTAR_ENC_DENSE, "measure", "cells", NULL, 30, 0);
    /* obsm: dense array (30, 50), sparse csr (30, 100), dataframe dropped */
    field_is(ds, "array.obsm", LSTAR_ENC_DENSE, "embedding", "cells", "array", 30, 50);
    field_is(ds, "sparse.obsm", LSTAR_ENC_CSR, "embedding", "cells", "sparse", 30, 100);
    field_is(ds, "array.obsp", LSTAR_ENC_DENSE, "relation", "cells", "cells", 30, 30);
    field_is(ds, "sparse_varp", LSTAR_ENC_CSR, "relation", "genes", "genes", 20, 20);
    assert_true(has_dropped(ds, "obsm/df (dataframe)"));
    assert_true(has_dropped(ds, "varm/df (dataframe)"));
    assert_true(has_dropped(ds, "raw/var/var_cat"));
    /* uns O_recarray: compound with vlen strings → $record of 5 string leaves */
    lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(p);
    assert_non_null(strstr(lstar_passthrough_tree(p), "\"O_recarray\":{\"$record\":{\"fields\":"));
    assert_non_null(strstr(lstar_passthrough_tree(p), "\"length\":20"));
}

static void test_v070_h5ad(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(V070, LSTAR_ANNDATA_H5AD);
    /* X sum 285 nnz 228; raw sum 627 nnz 480; obs_cat categories ['B', 'D', 'E', …] */
    check_v07(ds, 285.0, 228, 627.0, 480, "B");
    lstar_dataset_free(ds);
}

static void test_v070_zarr(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(V070_Z, LSTAR_ANNDATA_ZARR_V2);
    check_v07(ds, 285.0, 228, 627.0, 480, "B");
    lstar_dataset_free(ds);
}

static void test_v078(void **state) {
    (void)state;
    /* X sum 302 nnz 239; raw sum 568 nnz 453; obs_cat categories ['A', 'B', 'E', …] */
    lstar_dataset *ds = read_ok(V078, LSTAR_ANNDATA_H5AD);
    check_v07(ds, 302.0, 239, 568.0, 453, "A");
    assert_non_null(strstr(lstar_passthrough_tree(lstar_dataset_passthrough(ds, "anndata.uns")), "\"nested\":{\"$obj\""));
    lstar_dataset_free(ds);
    ds = read_ok(V078_Z, LSTAR_ANNDATA_ZARR_V2);
    check_v07(ds, 302.0, 239, 568.0, 453, "A");
    lstar_dataset_free(ds);
}

static void test_v050_legacy(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(V050, LSTAR_ANNDATA_H5AD);
    axis_is(ds, "cells", 700, "AAAGCCTGGCTAAC-1", NULL);
    axis_is(ds, "genes", 765, NULL, "MT-ND3");
    /* compound obs; categorical codes + uns['bulk_labels_categories'] */
    lstar_field *f = field_is(ds, "bulk_labels", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 700, 0);
    category_is(f, 10, 0, "CD4+/CD25 T Reg");
    assert_string_equal(prov(f), "{\"anndata\":\"obs/bulk_labels\"}");
    f = field_is(ds, "n_genes", LSTAR_ENC_DENSE, "measure", "cells", NULL, 700, 0);
    field_is(ds, "highly_variable", LSTAR_ENC_DENSE, "label", "genes", NULL, 765, 0);
    /* raw.X h5sparse csr, nnz 174400 */
    f = field_is(ds, "raw", LSTAR_ENC_CSR, "measure", "cells", "genes", 700, 765);
    assert_int_equal(nnz(f), 174400);
    /* uns/neighbors graphs migrate to obsp like anndata does (connectivities nnz 9992) */
    f = field_is(ds, "connectivities", LSTAR_ENC_CSR, "relation", "cells", "cells", 700, 700);
    assert_int_equal(nnz(f), 9992);
    assert_string_equal(prov(f), "{\"anndata\":\"obsp/connectivities\"}");
    field_is(ds, "bulk_labels_colors", LSTAR_ENC_UTF8, "label", "bulk_labels", NULL, 10, 0);
    /* compound obsm / varm with array-typed fields ('X_pca', '<f4', (50,)): (n, k) embeddings */
    assert_false(has_dropped(ds, "obsm/"));
    assert_false(has_dropped(ds, "varm/"));
    f = field_is(ds, "pca", LSTAR_ENC_DENSE, "embedding", "cells", "pca", 700, 50);
    assert_string_equal(prov(f), "{\"anndata\":\"obsm/X_pca\"}");
    {
        lstar_array *v = lstar_field_array(f, "values");
        assert_int_equal(lstar_array_dtype(v), LSTAR_DTYPE_FLOAT32);
        float *pv = NULL;
        size_t nb = 0;
        assert_int_equal(lstar_array_read_all(v, 0, (void **)&pv, &nb, NULL), LSTAR_OK);
        assert_true(pv[0] == -7.939618110656738f && pv[699 * 50 + 49] == 0.6459726691246033f);
        lstar_free(pv);
    }
    f = field_is(ds, "umap", LSTAR_ENC_DENSE, "embedding", "cells", "umap", 700, 2);
    {
        double *uv = NULL;
        size_t nb = 0;
        assert_int_equal(lstar_array_read_all(lstar_field_array(f, "values"), 0, (void **)&uv, &nb, NULL), LSTAR_OK);
        assert_true(uv[3 * 2 + 1] == -3.9644535454580883);
        lstar_free(uv);
    }
    f = field_is(ds, "pca_loadings", LSTAR_ENC_DENSE, "loading", "genes", "pca", 765, 50);
    assert_string_equal(prov(f), "{\"anndata\":\"varm/PCs\"}");
    const char *tree = lstar_passthrough_tree(lstar_dataset_passthrough(ds, "anndata.uns"));
    assert_null(strstr(tree, "bulk_labels_categories"));
    assert_null(strstr(tree, "connectivities"));
    lstar_dataset_free(ds);
}

static void test_kbet_nan_legacy(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(KBET, LSTAR_ANNDATA_H5AD);
    /* (200, 1000); integer index → '0'; X.sum() 682686.0625; batch ['Batch1', 'Batch2'] */
    axis_is(ds, "cells", 200, "0", "199");
    axis_is(ds, "genes", 1000, NULL, NULL);
    assert_true(fabs(field_sum(lstar_dataset_field(ds, "X")) - 682686.0625) < 1.0);
    lstar_field *f = field_is(ds, "batch", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 200, 0);
    category_is(f, 2, 1, "Batch2");
    assert_null(lstar_dataset_passthrough(ds, "anndata.uns")); /* batch_categories consumed */
    lstar_dataset_free(ds);

    ds = read_ok(NANF, LSTAR_ANNDATA_H5AD);
    axis_is(ds, "cells", 100, "AAACATACAACCAC-1", NULL);
    axis_is(ds, "genes", 100, NULL, "ST7L");
    uint64_t nans = 0;
    array_sum(lstar_field_array(lstar_dataset_field(ds, "X"), "values"), &nans);
    assert_true(nans > 0);
    f = field_is(ds, "louvain", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 100, 0);
    category_is(f, 8, 0, "CD4 T cells");
    field_is(ds, "var_with_nans", LSTAR_ENC_DENSE, "measure", "genes", NULL, 100, 0);
    assert_false(has_dropped(ds, "obsm/"));
    f = field_is(ds, "tsne", LSTAR_ENC_DENSE, "embedding", "cells", "tsne", 100, 2);
    {
        double *tv = NULL;
        size_t nb = 0;
        assert_int_equal(lstar_array_read_all(lstar_field_array(f, "values"), 0, (void **)&tv, &nb, NULL), LSTAR_OK);
        assert_true(tv[5 * 2 + 1] == 7.861320635317176);
        lstar_free(tv);
    }
    field_is(ds, "pca", LSTAR_ENC_DENSE, "embedding", "cells", "pca", 100, 50);
    field_is(ds, "umap", LSTAR_ENC_DENSE, "embedding", "cells", "umap", 100, 2);
    lstar_dataset_free(ds);
}

/* ---- other files ----------------------------------------------------------------------------------- */

static void test_v0114_empty(void **state) {
    (void)state;
    const char *paths[2] = {V0114, V0114_Z};
    lstar_anndata_format fmts[2] = {LSTAR_ANNDATA_H5AD, LSTAR_ANNDATA_ZARR_V2};
    for (int i = 0; i < 2; i++) {
        lstar_dataset *ds = read_ok(paths[i], fmts[i]);
        /* AnnData(shape=(10, 20)): no X, empty obs/var */
        axis_is(ds, "cells", 10, "0", "9");
        axis_is(ds, "genes", 20, "0", "19");
        assert_int_equal(lstar_dataset_field_count(ds), 0);
        assert_int_equal(lstar_dataset_passthrough_count(ds), 0);
        lstar_dataset_free(ds);
    }
}

static void test_sample_no_x(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(SAMPLE, LSTAR_ANNDATA_H5AD);
    /* (999, 1); X absent */
    axis_is(ds, "cells", 999, "10X381_1:GGAATCTTCCTTCGAC", NULL);
    axis_is(ds, "genes", 1, "ENSG00000187122", NULL);
    assert_null(lstar_dataset_field(ds, "X"));
    lstar_field *f = field_is(ds, "roi", LSTAR_ENC_CATEGORICAL, "label", "cells", NULL, 999, 0);
    category_is(f, 1, 0, "Human PN");
    /* subcluster_id: 64 categories over 999 cells → factor axis (guard not hit) */
    axis_is(ds, "subcluster_id", 64, NULL, NULL);
    lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(p);
    assert_non_null(strstr(lstar_passthrough_tree(p), "\"schema_version\":"));
    lstar_dataset_free(ds);
}

static void test_cellxgene_neighbors_tcells(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(CXG, LSTAR_ANNDATA_H5AD);
    /* (3, 4), X.sum() 12.0; string_category ['a', 'b']; X_awesome_embedding (3, 2) sum 2.5122 */
    assert_true(fabs(field_sum(lstar_dataset_field(ds, "X")) - 12.0) < 1e-9);
    category_is(lstar_dataset_field(ds, "string_category"), 2, 1, "b");
    lstar_field *f = field_is(ds, "awesome_embedding", LSTAR_ENC_DENSE, "embedding", "cells", "awesome_embedding", 3, 2);
    assert_true(fabs(field_sum(f) - 2.5122) < 1e-3);
    field_is(ds, "bool_category", LSTAR_ENC_DENSE, "label", "genes", NULL, 4, 0);
    lstar_dataset_free(ds);

    ds = read_ok(NEIGH, LSTAR_ANNDATA_H5AD);
    /* (100, 5); obsp connectivities nnz 2518 sum 633.0362; obsm normalized_X (100, 5) */
    f = field_is(ds, "connectivities", LSTAR_ENC_CSR, "relation", "cells", "cells", 100, 100);
    assert_int_equal(nnz(f), 2518);
    assert_true(fabs(field_sum(f) - 633.0362) < 1e-3);
    field_is(ds, "normalized_X", LSTAR_ENC_DENSE, "embedding", "cells", "normalized_X", 100, 5);
    lstar_dataset_free(ds);

    ds = read_ok(TCELLS, LSTAR_ANNDATA_H5AD);
    /* (8, 4); X.sum() 11.0; layers raw_counts csr sum 12 nnz 10; obsm X_scAR (8, 15) */
    axis_is(ds, "cells", 8, "AAACCTGAGCACGCCT-1_dLN-66", NULL);
    assert_true(fabs(field_sum(lstar_dataset_field(ds, "X")) - 11.0) < 1e-6);
    f = field_is(ds, "raw_counts", LSTAR_ENC_CSR, "measure", "cells", "genes", 8, 4);
    assert_string_equal(lstar_field_state(f), "raw");
    assert_int_equal(nnz(f), 10);
    field_is(ds, "scAR", LSTAR_ENC_DENSE, "embedding", "cells", "scAR", 8, 15);
    field_is(ds, "umap_uncorrected", LSTAR_ENC_DENSE, "embedding", "cells", "umap_uncorrected", 8, 2);
    lstar_dataset_free(ds);
}

static void test_10k_structured_zarr(void **state) {
    (void)state;
    lstar_dataset *ds = read_ok(TENK, LSTAR_ANNDATA_ZARR_V2);
    /* (10000, 1000); obs/var structured [(index,S18)], [(index,S13),(gene_ids,S18)]; X.sum() 1597698 */
    axis_is(ds, "cells", 10000, "AAACCTGAGATAGGAG-1", NULL);
    axis_is(ds, "genes", 1000, NULL, "Gm29630");
    lstar_field *x = field_is(ds, "X", LSTAR_ENC_DENSE, "measure", "cells", "genes", 10000, 1000);
    assert_string_equal(lstar_array_kind(lstar_field_array(x, "values")), "zarr"); /* never loaded */
    assert_true(fabs(field_sum(x) - 1597698.0) < 1.0);
    lstar_field *g = field_is(ds, "gene_ids", LSTAR_ENC_UTF8, "label", "genes", NULL, 1000, 0);
    char buf[64];
    const lstar_strings *s = lstar_array_memory_strings(lstar_field_array(g, "values"));
    assert_non_null(s);
    assert_int_equal(strncmp(lstar_strings_get_cstr(s, 0, buf, sizeof buf), "ENSMUSG", 7), 0);
    lstar_dataset_free(ds);
}

/* ---- MuData, detection ---------------------------------------------------------------------------- */

static void test_h5mu_modality(void **state) {
    (void)state;
    need(H5MU);
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_anndata_read_options o;
    lstar_anndata_read_options_init(&o);
    assert_int_equal(lstar_anndata_read(H5MU, &o, &ds, &e), LSTAR_ERR_UNSUPPORTED);
    assert_null(ds);
    assert_int_equal(o.format, LSTAR_ANNDATA_H5MU);
    assert_non_null(strstr(e.message, "MuData"));
    assert_non_null(strstr(e.message, "mod1, mod2"));
    o.modality = "nope";
    assert_int_equal(lstar_anndata_read(H5MU, &o, &ds, &e), LSTAR_ERR_NOT_FOUND);
    o.modality = "mod1";
    assert_int_equal(lstar_anndata_read(H5MU, &o, &ds, &e), LSTAR_OK);
    /* mdata['mod1']: 100 x 20 */
    axis_is(ds, "cells", 100, NULL, NULL);
    axis_is(ds, "genes", 20, NULL, NULL);
    field_is(ds, "X", LSTAR_ENC_DENSE, "measure", "cells", "genes", 100, 20);
    lstar_dataset_free(ds);
}

static void test_detect(void **state) {
    (void)state;
    lstar_anndata_format f;
    need(PBMC_Z);
    assert_int_equal(lstar_anndata_detect(PBMC, &f, NULL), LSTAR_OK);
    assert_int_equal(f, LSTAR_ANNDATA_H5AD);
    assert_int_equal(lstar_anndata_detect(PBMC_Z, &f, NULL), LSTAR_OK);
    assert_int_equal(f, LSTAR_ANNDATA_ZARR_V3);
    assert_string_equal(lstar_anndata_format_name(f), "anndata-zarr v3");
    assert_int_equal(lstar_anndata_detect(TENK, &f, NULL), LSTAR_OK);
    assert_int_equal(f, LSTAR_ANNDATA_ZARR_V2);
    assert_int_equal(lstar_anndata_detect(H5MU, &f, NULL), LSTAR_OK);
    assert_int_equal(f, LSTAR_ANNDATA_H5MU);
    assert_int_equal(lstar_anndata_detect(D "/nonexistent.h5ad", &f, NULL), LSTAR_ERR_NOT_FOUND);
    assert_int_equal(lstar_anndata_detect(D "/SOURCES.md", &f, NULL), LSTAR_ERR_FORMAT);
}

/* ---- node layer writes ---------------------------------------------------------------------------- */

static void node_roundtrip(lstar_anndata_format fmt, const char *path) {
    ad_container *c = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ad_container_create(path, fmt, &c, &e), LSTAR_OK);
    assert_int_equal(ad_write_encoding(c, "", "anndata", "0.1.0", &e), LSTAR_OK);
    assert_int_equal(ad_create_group(c, "obs", &e), LSTAR_OK);
    assert_int_equal(ad_write_encoding(c, "obs", "dataframe", "0.2.0", &e), LSTAR_OK);
    assert_int_equal(ad_write_attr_string(c, "obs", "_index", "_index", &e), LSTAR_OK);
    lstar_strings cols;
    const char *names[2] = {"a", "b"};
    assert_int_equal(lstar_strings_from_cstrs(&cols, names, 2, &e), LSTAR_OK);
    assert_int_equal(ad_write_attr_strings(c, "obs", "column-order", &cols, &e), LSTAR_OK);
    ad_array_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.rank = 1;
    sp.shape[0] = 2;
    assert_int_equal(ad_write_strings(c, "obs/_index", &sp, &cols, &e), LSTAR_OK);
    lstar_strings_destroy(&cols);
    assert_int_equal(ad_create_group(c, "X", &e), LSTAR_OK);
    int64_t shape[2] = {2, 3};
    assert_int_equal(ad_write_attr_i64(c, "X", "shape", shape, 2, 1, &e), LSTAR_OK);
    assert_int_equal(ad_write_attr_bool(c, "X", "ordered", 1, &e), LSTAR_OK);
    double vals[6] = {1, 2, 3, 4, 5, 6};
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT64;
    sp.rank = 2;
    sp.shape[0] = 2;
    sp.shape[1] = 3;
    sp.compression = "gzip:4";
    assert_int_equal(ad_write_array(c, "X/v", &sp, vals, &e), LSTAR_OK);
    /* streaming: 5 rows appended in two calls */
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT32;
    sp.rank = 1;
    sp.chunks[0] = 2;
    sp.grow = 1;
    ad_appender *ap = NULL;
    int32_t rows[5] = {7, 8, 9, 10, 11};
    assert_int_equal(ad_appender_new(c, "X/indptr", &sp, &ap, &e), LSTAR_OK);
    assert_int_equal(ad_appender_append(c, ap, rows, 3, &e), LSTAR_OK);
    assert_int_equal(ad_appender_append(c, ap, rows + 3, 2, &e), LSTAR_OK);
    assert_int_equal(ad_appender_finish(c, ap, &e), LSTAR_OK);
    ad_appender_free(c, ap);
    assert_int_equal(ad_flush(c, &e), LSTAR_OK);
    ad_container_close(c);

    /* read back through the node layer */
    lstar_anndata_format got;
    if (e.status) print_message("%s: %s\n", e.where, e.message);
    assert_int_equal(ad_container_open(path, &c, &got, &e), LSTAR_OK);
    assert_int_equal(got, fmt);
    char *s = NULL;
    assert_int_equal(ad_attr_string(c, "", "encoding-type", &s, &e), LSTAR_OK);
    assert_string_equal(s, "anndata");
    lstar_free(s);
    lstar_strings got_cols;
    assert_int_equal(ad_attr_strings(c, "obs", "column-order", &got_cols, &e), LSTAR_OK);
    assert_int_equal(got_cols.n, 2);
    lstar_strings_destroy(&got_cols);
    int64_t *sh = NULL;
    size_t n = 0;
    assert_int_equal(ad_attr_i64(c, "X", "shape", &sh, &n, &e), LSTAR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sh[1], 3);
    lstar_free(sh);
    char *js = NULL;
    assert_int_equal(ad_attr_json(c, "X", "shape", &js, &e), LSTAR_OK);
    assert_string_equal(js, "[2,3]");
    lstar_free(js);
    assert_int_equal(ad_attr_json(c, "X", "ordered", &js, &e), LSTAR_OK);
    assert_string_equal(js, "true");
    lstar_free(js);
    assert_int_equal(ad_attr_json(c, "obs", "_index", &js, &e), LSTAR_OK);
    assert_string_equal(js, "\"_index\"");
    lstar_free(js);
    assert_int_equal(ad_attr_json(c, "obs", "column-order", &js, &e), LSTAR_OK);
    assert_string_equal(js, "[\"a\",\"b\"]");
    lstar_free(js);
    int b = 0;
    assert_int_equal(ad_attr_bool(c, "X", "ordered", &b, &e), LSTAR_OK);
    assert_int_equal(b, 1);
    lstar_array *a = NULL;
    assert_int_equal(ad_open_array(c, "X/v", &a, &e), LSTAR_OK);
    assert_true(fabs(array_sum(a, NULL) - 21.0) < 1e-12);
    lstar_array_free(a);
    assert_int_equal(ad_open_array(c, "X/indptr", &a, &e), LSTAR_OK);
    assert_int_equal(lstar_array_size(a), 5);
    assert_true(fabs(array_sum(a, NULL) - 45.0) < 1e-12);
    lstar_array_free(a);
    lstar_strings idx;
    assert_int_equal(ad_read_strings(c, "obs/_index", &idx, &e), LSTAR_OK);
    assert_int_equal(idx.n, 2);
    lstar_strings_destroy(&idx);
    ad_kind k;
    assert_int_equal(ad_kind_at(c, "X", &k, &e), LSTAR_OK);
    assert_int_equal(k, AD_GROUP);
    assert_int_equal(ad_kind_at(c, "nope", &k, &e), LSTAR_OK);
    assert_int_equal(k, AD_NONE);
    ad_container_close(c);
}

static void test_node_write_h5(void **state) {
    (void)state;
    node_roundtrip(LSTAR_ANNDATA_H5AD, LSTAR_TEST_TMP "/ad_node.h5ad");
}

static void test_node_write_zarr(void **state) {
    (void)state;
    node_roundtrip(LSTAR_ANNDATA_ZARR_V2, LSTAR_TEST_TMP "/ad_node_v2.zarr");
    node_roundtrip(LSTAR_ANNDATA_ZARR_V3, LSTAR_TEST_TMP "/ad_node_v3.zarr");
}

/* X's state comes from uns['lstar/state'] (written by anndata as the nested group uns/lstar); the
 * "lstar/…" keys never reach the passthrough. */
static void test_x_state_from_uns(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/ad_state.h5ad";
    ad_container *c = NULL;
    remove(path);
    assert_int_equal(ad_container_create(path, LSTAR_ANNDATA_H5AD, &c, NULL), LSTAR_OK);
    assert_int_equal(ad_write_encoding(c, "", "anndata", "0.1.0", NULL), LSTAR_OK);
    const char *sides[2] = {"obs", "var"};
    const char *one[1] = {"n0"};
    for (int i = 0; i < 2; i++) {
        char p[64];
        lstar_strings s;
        ad_array_spec sp;
        memset(&sp, 0, sizeof sp);
        sp.rank = 1;
        sp.shape[0] = 1;
        assert_int_equal(ad_create_group(c, sides[i], NULL), LSTAR_OK);
        assert_int_equal(ad_write_encoding(c, sides[i], "dataframe", "0.2.0", NULL), LSTAR_OK);
        assert_int_equal(ad_write_attr_string(c, sides[i], "_index", "_index", NULL), LSTAR_OK);
        assert_int_equal(lstar_strings_init(&s, NULL), LSTAR_OK);
        assert_int_equal(ad_write_attr_strings(c, sides[i], "column-order", &s, NULL), LSTAR_OK);
        lstar_strings_destroy(&s);
        snprintf(p, sizeof p, "%s/_index", sides[i]);
        assert_int_equal(lstar_strings_from_cstrs(&s, one, 1, NULL), LSTAR_OK);
        assert_int_equal(ad_write_strings(c, p, &sp, &s, NULL), LSTAR_OK);
        lstar_strings_destroy(&s);
    }
    ad_array_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT32;
    sp.rank = 2;
    sp.shape[0] = sp.shape[1] = 1;
    float v = 2.5f;
    assert_int_equal(ad_write_array(c, "X", &sp, &v, NULL), LSTAR_OK);
    assert_int_equal(ad_create_group(c, "uns", NULL), LSTAR_OK);
    assert_int_equal(ad_create_group(c, "uns/lstar", NULL), LSTAR_OK);
    lstar_strings s;
    const char *st[1] = {"lognorm"};
    assert_int_equal(lstar_strings_from_cstrs(&s, st, 1, NULL), LSTAR_OK);
    memset(&sp, 0, sizeof sp); /* rank 0 string, as h5py writes a str */
    assert_int_equal(ad_write_strings(c, "uns/lstar/state", &sp, &s, NULL), LSTAR_OK);
    const char *other[1] = {"kept"};
    lstar_strings_destroy(&s);
    assert_int_equal(lstar_strings_from_cstrs(&s, other, 1, NULL), LSTAR_OK);
    assert_int_equal(ad_write_strings(c, "uns/note", &sp, &s, NULL), LSTAR_OK);
    lstar_strings_destroy(&s);
    assert_int_equal(ad_flush(c, NULL), LSTAR_OK);
    ad_container_close(c);

    lstar_dataset *ds = read_ok(path, LSTAR_ANNDATA_H5AD);
    lstar_field *x = field_is(ds, "X", LSTAR_ENC_DENSE, "measure", "cells", "genes", 1, 1);
    assert_string_equal(lstar_field_state(x), "lognorm");
    assert_string_equal(lstar_passthrough_tree(lstar_dataset_passthrough(ds, "anndata.uns")), "{\"$obj\":{\"note\":\"kept\"}}");
    lstar_dataset_free(ds);
}

/* ---- allocation failure ------------------------------------------------------------------------- */

static long g_fail_at = -1, g_count = 0, g_live = 0;

static void *oom_malloc(void *ud, size_t n) {
    (void)ud;
    if (g_fail_at >= 0 && g_count++ == g_fail_at) return NULL;
    void *p = malloc(n);
    if (p) g_live++;
    return p;
}

static void *oom_realloc(void *ud, void *ptr, size_t n) {
    (void)ud;
    if (g_fail_at >= 0 && g_count++ == g_fail_at) return NULL;
    void *p = realloc(ptr, n);
    if (p && !ptr) g_live++;
    return p;
}

static void oom_free(void *ud, void *ptr) {
    (void)ud;
    if (ptr) g_live--;
    free(ptr);
}

/* Fail the N-th allocation for N = 0, 1, …: every run must fail cleanly (no
 * crash, nothing left allocated) until one succeeds. */
static void oom_walk(const char *path) {
    need(path);
    lstar_allocator a = {oom_malloc, oom_realloc, oom_free, NULL};
    lstar_set_allocator(&a);
    long n;
    for (n = 0; n < 20000; n++) {
        g_fail_at = n;
        g_count = 0;
        g_live = 0;
        lstar_dataset *ds = NULL;
        lstar_error e;
        memset(&e, 0, sizeof e);
        lstar_status st = lstar_anndata_read(path, NULL, &ds, &e);
        lstar_dataset_free(ds);
        if (g_live != 0) print_message("%s: fail at %ld: %ld blocks live (%s %s: %s)\n", path, n, g_live,
                                       lstar_status_name(st), e.where, e.message);
        assert_int_equal(g_live, 0);
        if (st == LSTAR_OK && g_count <= n) break; /* no failure injected: done */
        if (st != LSTAR_OK) assert_true(e.message[0] != 0); /* a failure always says why */
    }
    lstar_set_allocator(NULL);
    g_fail_at = -1;
    print_message("%s: %ld failure points walked\n", path, n);
    assert_true(n > 10 && n < 20000);
}

static void test_alloc_failure(void **state) {
    (void)state;
    /* Files whose passthrough tree has no escaped strings: jansson 2.14 asserts in lex_scan_string
     * when its token buffer cannot grow while decoding an escape (a jansson bug, reached through
     * lstar_dataset_add_passthrough's json_loads and every Zarr metadata parse), so the Zarr stores
     * and most files are left out (even lstar_field_set_provenance can hit it); see
     * docs/internals/anndata.md. */
    oom_walk(KBET);  /* legacy compound obs/var, categorical from uns, uns fully consumed */
    oom_walk(V0114); /* modern dataframes, no fields */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_h5ad),
        cmocka_unit_test(test_pbmc_h5ad),
        cmocka_unit_test(test_pbmc_zarr_v3),
        cmocka_unit_test(test_v070_h5ad),
        cmocka_unit_test(test_v070_zarr),
        cmocka_unit_test(test_v078),
        cmocka_unit_test(test_v050_legacy),
        cmocka_unit_test(test_kbet_nan_legacy),
        cmocka_unit_test(test_v0114_empty),
        cmocka_unit_test(test_sample_no_x),
        cmocka_unit_test(test_cellxgene_neighbors_tcells),
        cmocka_unit_test(test_10k_structured_zarr),
        cmocka_unit_test(test_h5mu_modality),
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_node_write_h5),
        cmocka_unit_test(test_node_write_zarr),
        cmocka_unit_test(test_x_state_from_uns),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
