/* Unit tests: the L★ model.  Builds the golden store of lstar-format.md §2.11
 * in memory from the fixture's raw (uncompressed) chunks and checks every
 * getter, plus the values frozen in expected.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_support.h"
#include "lstar/lstar.h"
#include "model/model_internal.h"

#define GOLDEN LSTAR_SHARED_DATA "/kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr/"

/* Read a raw chunk file into an lstar_malloc'd buffer. */
static void *load(const char *rel, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", GOLDEN, rel);
    return lt_read_file(path, n);
}

/* A numeric 1-D (or given-shape) memory array from a chunk file. */
static lstar_array *load_array(const char *rel, lstar_dtype t, int rank, const uint64_t *shape) {
    size_t n;
    void *buf = load(rel, &n);
    uint64_t s1[1];
    if (rank == 1 && !shape) {
        s1[0] = n / lstar_dtype_size(t);
        shape = s1;
    }
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_owned(t, rank, shape, buf, &a, NULL), LSTAR_OK);
    return a;
}

/* Strings from `<name>/0` bytes and `<name>_offsets/0`; the offsets chunk may be
 * fill-padded past n+1 entries (the fixture pads nothing, but be exact). */
static void load_strings(const char *bytes_rel, const char *offs_rel, size_t nitems, lstar_strings *s) {
    size_t nb, no;
    uint8_t *bytes = load(bytes_rel, &nb);
    int64_t *offs = load(offs_rel, &no);
    assert_true(no / 8 >= nitems + 1);
    assert_int_equal(lstar_strings_init(s, NULL), LSTAR_OK);
    for (size_t i = 0; i < nitems; i++)
        assert_int_equal(lstar_strings_append(s, (const char *)bytes + offs[i], (size_t)(offs[i + 1] - offs[i]), NULL),
                         LSTAR_OK);
    lstar_free(bytes);
    lstar_free(offs);
}

static lstar_array *load_string_array(const char *bytes_rel, const char *offs_rel, size_t nitems) {
    lstar_strings s;
    load_strings(bytes_rel, offs_rel, nitems, &s);
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_strings(&s, &a, NULL), LSTAR_OK);
    return a;
}

static void add_axis(lstar_dataset *ds, const char *name, size_t n, const char *origin, const char *role) {
    char b[256], o[256];
    snprintf(b, sizeof b, "axes/%s/labels/0", name);
    snprintf(o, sizeof o, "axes/%s/labels_offsets/0", name);
    lstar_strings s;
    load_strings(b, o, n, &s);
    lstar_axis *ax = NULL;
    assert_int_equal(lstar_dataset_add_axis(ds, name, &s, &ax, NULL), LSTAR_OK);
    assert_null(s.offsets);
    assert_int_equal(lstar_axis_set_origin(ax, origin, NULL), LSTAR_OK);
    assert_int_equal(lstar_axis_set_role(ax, role, NULL), LSTAR_OK);
}

static lstar_field *add_sparse(lstar_dataset *ds, const char *name, lstar_encoding enc, const char *a0, const char *a1,
                               uint64_t r, uint64_t c) {
    const char *span[2] = {a0, a1};
    lstar_field *f = NULL;
    char p[256];
    assert_int_equal(lstar_dataset_add_field(ds, name, enc, 2, span, &f, NULL), LSTAR_OK);
    snprintf(p, sizeof p, "fields/%s/data/0", name);
    assert_int_equal(lstar_field_set_array(f, "data", load_array(p, LSTAR_DTYPE_FLOAT32, 1, NULL), NULL), LSTAR_OK);
    snprintf(p, sizeof p, "fields/%s/indices/0", name);
    assert_int_equal(lstar_field_set_array(f, "indices", load_array(p, LSTAR_DTYPE_INT32, 1, NULL), NULL), LSTAR_OK);
    snprintf(p, sizeof p, "fields/%s/indptr/0", name);
    assert_int_equal(lstar_field_set_array(f, "indptr", load_array(p, LSTAR_DTYPE_INT32, 1, NULL), NULL), LSTAR_OK);
    uint64_t shape[2] = {r, c};
    assert_int_equal(lstar_field_set_shape(f, 2, shape, NULL), LSTAR_OK);
    return f;
}

static lstar_dataset *build_golden(void) {
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_profile(ds, "backcompat@0.1", NULL), LSTAR_OK);
    add_axis(ds, "cells", 12, "observed", "observation");
    add_axis(ds, "genes", 8, "observed", "feature");
    add_axis(ds, "pca", 3, "derived", "coordinate");

    lstar_field *f = add_sparse(ds, "counts", LSTAR_ENC_CSC, "cells", "genes", 12, 8);
    assert_int_equal(lstar_field_set_role(f, "measure", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_state(f, "raw", NULL), LSTAR_OK);
    f = add_sparse(ds, "lognorm", LSTAR_ENC_CSR, "cells", "genes", 12, 8);
    assert_int_equal(lstar_field_set_role(f, "measure", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_state(f, "lognorm", NULL), LSTAR_OK);

    const char *span_pca[2] = {"cells", "pca"};
    assert_int_equal(lstar_dataset_add_field(ds, "pca", LSTAR_ENC_DENSE, 2, span_pca, &f, NULL), LSTAR_OK);
    uint64_t pshape[2] = {12, 3};
    assert_int_equal(
        lstar_field_set_array(f, "values", load_array("fields/pca/values/0.0", LSTAR_DTYPE_FLOAT32, 2, pshape), NULL),
        LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "embedding", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_shape(f, 2, pshape, NULL), LSTAR_OK);

    const char *span_cells[1] = {"cells"};
    uint64_t n12[1] = {12};
    assert_int_equal(lstar_dataset_add_field(ds, "leiden", LSTAR_ENC_UTF8, 1, span_cells, &f, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(
                         f, "values", load_string_array("fields/leiden/values/0", "fields/leiden/values_offsets/0", 12),
                         NULL),
                     LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "label", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_shape(f, 1, n12, NULL), LSTAR_OK);

    assert_int_equal(lstar_dataset_add_field(ds, "celltype", LSTAR_ENC_CATEGORICAL, 1, span_cells, &f, NULL),
                     LSTAR_OK);
    assert_int_equal(
        lstar_field_set_array(f, "codes", load_array("fields/celltype/codes/0", LSTAR_DTYPE_INT32, 1, NULL), NULL),
        LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "categories",
                                           load_string_array("fields/celltype/categories/0",
                                                             "fields/celltype/categories_offsets/0", 3),
                                           NULL),
                     LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "label", NULL), LSTAR_OK);
    lstar_field_set_ordered(f, 1);
    assert_int_equal(lstar_field_set_shape(f, 1, n12, NULL), LSTAR_OK);
    int induced = -5;
    assert_int_equal(lstar_dataset_induce_factor(ds, "celltype", 1, &induced, NULL), LSTAR_OK);
    assert_int_equal(induced, 1);

    assert_int_equal(lstar_dataset_add_field(ds, "qc", LSTAR_ENC_DENSE, 1, span_cells, &f, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "values", load_array("fields/qc/values/0", LSTAR_DTYPE_FLOAT32, 1, NULL),
                                           NULL),
                     LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "mask", load_array("fields/qc/mask/0", LSTAR_DTYPE_UINT8, 1, NULL), NULL),
                     LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "measure", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_shape(f, 1, n12, NULL), LSTAR_OK);

    assert_int_equal(lstar_dataset_add_field(ds, "adt", LSTAR_ENC_DENSE, 1, span_cells, &f, NULL), LSTAR_OK);
    assert_int_equal(
        lstar_field_set_array(f, "values", load_array("fields/adt/values/0", LSTAR_DTYPE_FLOAT32, 1, NULL), NULL),
        LSTAR_OK);
    assert_int_equal(
        lstar_field_set_array(f, "index", load_array("fields/adt/index/0", LSTAR_DTYPE_INT64, 1, NULL), NULL),
        LSTAR_OK);
    assert_int_equal(lstar_field_set_index_axis(f, "cells", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "measure", NULL), LSTAR_OK);
    uint64_t n6[1] = {6};
    assert_int_equal(lstar_field_set_shape(f, 1, n6, NULL), LSTAR_OK);

    f = add_sparse(ds, "knn", LSTAR_ENC_CSR, "cells", "cells", 12, 12);
    assert_int_equal(lstar_field_set_role(f, "graph", NULL), LSTAR_OK);
    lstar_field_set_directed(f, 1);
    lstar_field_set_weighted(f, 1);

    lstar_passthrough *p = NULL;
    static const char tree[] = "{\"$obj\": {\"params\": {\"$obj\": {\"n_pca\": 3, \"method\": \"leiden\"}}, "
                               "\"scores\": {\"$array\": \"a0\"}, \"names\": {\"$list\": [\"a\", \"b\", \"c\"]}}}";
    assert_int_equal(lstar_dataset_add_passthrough(ds, "anndata.uns", tree, &p, NULL), LSTAR_OK);
    assert_int_equal(lstar_passthrough_add_leaf(
                         p, "a0", "dense", load_array("passthrough/anndata.uns/a0/0", LSTAR_DTYPE_FLOAT64, 1, NULL),
                         NULL),
                     LSTAR_OK);
    return ds;
}

static double sum_f32(const lstar_array *a) {
    const float *v = lstar_array_memory(a);
    double s = 0;
    for (uint64_t i = 0; i < lstar_array_size(a); i++) s += v[i];
    return s;
}

static void test_golden_getters(void **state) {
    (void)state;
    lstar_dataset *ds = build_golden();
    char buf[64];

    assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_SAMPLE);
    assert_string_equal(lstar_dataset_spec_version(ds), "0.1");
    assert_int_equal(lstar_dataset_profile_count(ds), 1);
    assert_string_equal(lstar_dataset_profile(ds, 0), "backcompat@0.1");
    assert_null(lstar_dataset_profile(ds, 1));
    assert_int_equal(lstar_dataset_dropped_count(ds), 0);

    /* axes in insertion order */
    static const char *const axes[] = {"cells", "genes", "pca", "celltype"};
    static const uint64_t lens[] = {12, 8, 3, 3};
    assert_int_equal(lstar_dataset_axis_count(ds), 4);
    for (size_t i = 0; i < 4; i++) {
        lstar_axis *ax = lstar_dataset_axis_at(ds, i);
        assert_string_equal(lstar_axis_name(ax), axes[i]);
        assert_ptr_equal(lstar_dataset_axis(ds, axes[i]), ax);
        assert_int_equal(lstar_axis_length(ax), lens[i]);
        assert_string_equal(lstar_axis_provenance(ax), "{}");
    }
    assert_null(lstar_dataset_axis_at(ds, 4));
    assert_null(lstar_dataset_axis(ds, "nope"));
    lstar_axis *cells = lstar_dataset_axis(ds, "cells");
    assert_string_equal(lstar_axis_origin(cells), "observed");
    assert_string_equal(lstar_axis_role(cells), "observation");
    assert_null(lstar_axis_induced_by(cells));
    assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(cells), 11, buf, sizeof buf), "c11");
    lstar_axis *pca = lstar_dataset_axis(ds, "pca");
    assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(pca), 2, buf, sizeof buf), "PC2");
    assert_string_equal(lstar_axis_role(pca), "coordinate");
    lstar_axis *ct = lstar_dataset_axis(ds, "celltype");
    assert_string_equal(lstar_axis_origin(ct), "derived");
    assert_string_equal(lstar_axis_role(ct), "factor");
    assert_string_equal(lstar_axis_induced_by(ct), "celltype");
    assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(ct), 0, buf, sizeof buf), "T");
    assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(ct), 2, buf, sizeof buf), "NK");

    /* fields in insertion order */
    static const char *const fields[] = {"counts", "lognorm", "pca", "leiden", "celltype", "qc", "adt", "knn"};
    static const lstar_encoding encs[] = {LSTAR_ENC_CSC,  LSTAR_ENC_CSR,         LSTAR_ENC_DENSE, LSTAR_ENC_UTF8,
                                          LSTAR_ENC_CATEGORICAL, LSTAR_ENC_DENSE, LSTAR_ENC_DENSE, LSTAR_ENC_CSR};
    assert_int_equal(lstar_dataset_field_count(ds), 8);
    for (size_t i = 0; i < 8; i++) {
        lstar_field *f = lstar_dataset_field_at(ds, i);
        assert_string_equal(lstar_field_name(f), fields[i]);
        assert_ptr_equal(lstar_dataset_field(ds, fields[i]), f);
        assert_int_equal(lstar_field_encoding(f), encs[i]);
        assert_string_equal(lstar_field_provenance(f), "{}");
        assert_null(lstar_field_subtype(f));
        assert_null(lstar_field_uncertainty(f));
    }

    lstar_field *counts = lstar_dataset_field(ds, "counts");
    assert_string_equal(lstar_field_role(counts), "measure");
    assert_string_equal(lstar_field_state(counts), "raw");
    assert_int_equal(lstar_field_span_count(counts), 2);
    assert_string_equal(lstar_field_span(counts, 0), "cells");
    assert_string_equal(lstar_field_span(counts, 1), "genes");
    assert_null(lstar_field_span(counts, 2));
    assert_string_equal(lstar_field_coverage(counts), "full");
    assert_null(lstar_field_index_axis(counts));
    assert_int_equal(lstar_field_directed(counts), LSTAR_UNSET);
    assert_int_equal(lstar_field_weighted(counts), LSTAR_UNSET);
    assert_int_equal(lstar_field_ordered(counts), LSTAR_UNSET);
    assert_int_equal(lstar_field_nullable(counts), 0);
    uint64_t dims[4] = {0};
    assert_int_equal(lstar_field_shape(counts, dims, 4), 2);
    assert_int_equal(dims[0], 12);
    assert_int_equal(dims[1], 8);
    /* expected.json: counts nnz 44, sum 112 */
    assert_int_equal(lstar_array_size(lstar_field_array(counts, "data")), 44);
    assert_true(sum_f32(lstar_field_array(counts, "data")) == 112.0);
    assert_int_equal(lstar_array_size(lstar_field_array(counts, "indptr")), 9);
    assert_null(lstar_field_array(counts, "values"));
    assert_null(lstar_field_array(counts, "bogus"));

    lstar_field *lognorm = lstar_dataset_field(ds, "lognorm");
    assert_string_equal(lstar_field_state(lognorm), "lognorm");
    assert_int_equal(lstar_array_size(lstar_field_array(lognorm, "indptr")), 13);
    assert_true(sum_f32(lstar_field_array(lognorm, "data")) == 112.0);

    lstar_field *fp = lstar_dataset_field(ds, "pca");
    assert_string_equal(lstar_field_role(fp), "embedding");
    assert_null(lstar_field_state(fp));
    assert_int_equal(lstar_field_shape(fp, dims, 4), 2);
    assert_int_equal(dims[0], 12);
    assert_int_equal(dims[1], 3);
    double s = sum_f32(lstar_field_array(fp, "values"));
    assert_true(s > -2.26255 && s < -2.26245);

    lstar_field *leiden = lstar_dataset_field(ds, "leiden");
    assert_string_equal(lstar_field_role(leiden), "label");
    lstar_strings ls;
    assert_int_equal(lstar_array_read_strings(lstar_field_array(leiden, "values"), 0, 12, &ls, NULL), LSTAR_OK);
    static const char *const exp_leiden[3] = {"cl0", "cl1", "cl2"};
    for (size_t i = 0; i < 12; i++)
        assert_string_equal(lstar_strings_get_cstr(&ls, i, buf, sizeof buf), exp_leiden[i % 3]);
    lstar_strings_destroy(&ls);
    assert_int_equal(lstar_field_shape(leiden, dims, 4), 1);
    assert_int_equal(dims[0], 12);

    lstar_field *celltype = lstar_dataset_field(ds, "celltype");
    assert_int_equal(lstar_field_ordered(celltype), 1);
    int32_t codes[12];
    assert_int_equal(lstar_array_read_1d_as(lstar_field_array(celltype, "codes"), 0, 12, LSTAR_DTYPE_INT32, codes, NULL),
                     LSTAR_OK);
    static const int32_t exp_codes[12] = {0, 1, 2, -1, 0, 1, 2, 0, 1, 2, 0, 1};
    assert_memory_equal(codes, exp_codes, sizeof codes);

    lstar_field *qc = lstar_dataset_field(ds, "qc");
    assert_int_equal(lstar_field_nullable(qc), 1);
    const uint8_t *mask = lstar_array_memory(lstar_field_array(qc, "mask"));
    const float *qv = lstar_array_memory(lstar_field_array(qc, "values"));
    double present = 0;
    for (int i = 0; i < 12; i++) {
        assert_int_equal(mask[i], i == 2 || i == 7);
        if (!mask[i]) present += qv[i];
    }
    assert_true(present > 66.4517 && present < 66.4519);

    lstar_field *adt = lstar_dataset_field(ds, "adt");
    assert_string_equal(lstar_field_coverage(adt), "partial");
    assert_string_equal(lstar_field_index_axis(adt), "cells");
    int64_t idx[6];
    assert_int_equal(lstar_array_read_1d_as(lstar_field_array(adt, "index"), 0, 6, LSTAR_DTYPE_INT64, idx, NULL),
                     LSTAR_OK);
    for (int i = 0; i < 6; i++) assert_int_equal(idx[i], 2 * i);
    s = sum_f32(lstar_field_array(adt, "values"));
    assert_true(s > 6.68255 && s < 6.68265);
    assert_int_equal(lstar_field_shape(adt, dims, 4), 1);
    assert_int_equal(dims[0], 6);

    lstar_field *knn = lstar_dataset_field(ds, "knn");
    assert_string_equal(lstar_field_role(knn), "graph");
    assert_int_equal(lstar_field_directed(knn), 1);
    assert_int_equal(lstar_field_weighted(knn), 1);
    assert_int_equal(lstar_array_size(lstar_field_array(knn, "data")), 43);
    assert_string_equal(lstar_field_span(knn, 1), "cells");

    assert_int_equal(lstar_dataset_passthrough_count(ds), 1);
    lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_ptr_equal(p, lstar_dataset_passthrough_at(ds, 0));
    assert_string_equal(lstar_passthrough_namespace(p), "anndata.uns");
    assert_non_null(strstr(lstar_passthrough_tree(p), "{\"$obj\": {\"params\""));
    assert_int_equal(lstar_passthrough_leaf_count(p), 1);
    assert_string_equal(lstar_passthrough_leaf_id(p, 0), "a0");
    assert_string_equal(lstar_passthrough_leaf_kind(p, 0), "dense");
    const double *a0 = lstar_array_memory(lstar_passthrough_leaf(p, 0));
    assert_true(a0[0] == 0.0 && a0[3] == 3.0);
    assert_null(lstar_passthrough_leaf(p, 1));
    assert_null(lstar_dataset_passthrough(ds, "seurat.misc"));

    /* the golden dataset validates without errors; the only warning is the non-core role "graph" */
    lstar_findings *fs = NULL;
    assert_int_equal(lstar_dataset_validate(ds, &fs, NULL), LSTAR_OK);
    assert_int_equal(lstar_findings_errors(fs), 0);
    assert_int_equal(lstar_findings_warnings(fs), 1);
    assert_string_equal(lstar_findings_at(fs, 0)->code, "noncore-role");
    assert_string_equal(lstar_findings_at(fs, 0)->where, "fields/knn");
    lstar_findings_free(fs);

    lstar_dataset_free(ds);
}

static void test_encoding_names(void **state) {
    (void)state;
    static const char *const names[] = {"dense", "csr", "csc", "coo", "utf8", "categorical"};
    for (int i = 0; i < LSTAR_ENC_COUNT_; i++) {
        assert_string_equal(lstar_encoding_name((lstar_encoding)i), names[i]);
        assert_int_equal(lstar_encoding_from_name(names[i]), i);
    }
    assert_null(lstar_encoding_name(LSTAR_ENC_COUNT_));
    assert_int_equal(lstar_encoding_from_name("edge_list"), -1);
    assert_int_equal(lstar_encoding_from_name(NULL), -1);
    const char *const *a = lstar_encoding_arrays(LSTAR_ENC_CSC);
    assert_string_equal(a[0], "data");
    assert_string_equal(a[1], "indices");
    assert_string_equal(a[2], "indptr");
    assert_null(a[3]);
    a = lstar_encoding_arrays(LSTAR_ENC_COO);
    assert_string_equal(a[0], "row");
    assert_string_equal(a[2], "weight");
    a = lstar_encoding_arrays(LSTAR_ENC_CATEGORICAL);
    assert_string_equal(a[0], "codes");
    assert_string_equal(a[1], "categories");
    assert_null(a[2]);
    a = lstar_encoding_arrays(LSTAR_ENC_UTF8);
    assert_string_equal(a[0], "values");
    assert_null(a[1]);
    assert_null(lstar_encoding_arrays(LSTAR_ENC_COUNT_)[0]);
}

static void test_setters_and_errors(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_COLLECTION);
    assert_int_equal(lstar_dataset_set_spec_version(ds, "0.2", NULL), LSTAR_OK);
    assert_string_equal(lstar_dataset_spec_version(ds), "0.2");
    assert_int_equal(lstar_dataset_set_spec_version(ds, NULL, NULL), LSTAR_OK);
    assert_string_equal(lstar_dataset_spec_version(ds), "0.1");
    assert_int_equal(lstar_dataset_add_dropped(ds, "uns/velocity_graph", NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_dropped(ds, "colPair/x", NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_dropped_count(ds), 2);
    assert_string_equal(lstar_dataset_dropped(ds, 1), "colPair/x");

    lstar_axis *ax = NULL;
    assert_int_equal(lstar_dataset_add_axis(ds, "cells", NULL, &ax, NULL), LSTAR_OK);
    assert_int_equal(lstar_axis_length(ax), 0);
    lstar_strings s;
    const char *lab[] = {"a"};
    assert_int_equal(lstar_strings_from_cstrs(&s, lab, 1, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_axis(ds, "cells", &s, NULL, &e), LSTAR_ERR_EXISTS);
    assert_null(s.offsets); /* destroyed on failure */
    assert_string_equal(e.where, "axes/cells");
    assert_int_equal(lstar_dataset_add_axis(ds, "", NULL, NULL, NULL), LSTAR_ERR_INVALID_ARG);

    /* "" and NULL unset; provenance canonicalised, order preserved */
    assert_int_equal(lstar_axis_set_role(ax, "observation", NULL), LSTAR_OK);
    assert_int_equal(lstar_axis_set_role(ax, "", NULL), LSTAR_OK);
    assert_null(lstar_axis_role(ax));
    assert_int_equal(lstar_axis_set_origin(ax, "observed", NULL), LSTAR_OK);
    assert_int_equal(lstar_axis_set_origin(ax, NULL, NULL), LSTAR_OK);
    assert_null(lstar_axis_origin(ax));
    assert_int_equal(lstar_axis_set_provenance(ax, " { \"z\" : 1, \"a\" : [1, 2] } ", NULL), LSTAR_OK);
    assert_string_equal(lstar_axis_provenance(ax), "{\"z\":1,\"a\":[1,2]}");
    lstar_error_clear(&e);
    assert_int_equal(lstar_axis_set_provenance(ax, "[1]", &e), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(e.where, "axes/cells");
    assert_int_equal(lstar_axis_set_provenance(ax, "{bad", NULL), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(lstar_axis_provenance(ax), "{\"z\":1,\"a\":[1,2]}"); /* unchanged */
    assert_int_equal(lstar_axis_set_provenance(ax, NULL, NULL), LSTAR_OK);
    assert_string_equal(lstar_axis_provenance(ax), "{}");

    const char *span[2] = {"cells", "genes"};
    lstar_field *f = NULL;
    assert_int_equal(lstar_dataset_add_field(ds, "X", LSTAR_ENC_CSR, 2, span, &f, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_field(ds, "X", LSTAR_ENC_DENSE, 1, span, NULL, NULL), LSTAR_ERR_EXISTS);
    assert_int_equal(lstar_dataset_add_field(ds, "Y", (lstar_encoding)42, 1, span, NULL, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_field_set_provenance(f, "{\"anndata\": \"X\"}", NULL), LSTAR_OK);
    assert_string_equal(lstar_field_provenance(f), "{\"anndata\":\"X\"}");
    assert_int_equal(lstar_field_set_provenance(f, "\"X\"", NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_field_set_state(f, "lognorm", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_state(f, "", NULL), LSTAR_OK);
    assert_null(lstar_field_state(f));
    assert_int_equal(lstar_field_set_subtype(f, "similarity", NULL), LSTAR_OK);
    assert_string_equal(lstar_field_subtype(f), "similarity");
    assert_int_equal(lstar_field_set_uncertainty(f, "X_sd", NULL), LSTAR_OK);
    assert_string_equal(lstar_field_uncertainty(f), "X_sd");
    lstar_field_set_directed(f, 0);
    assert_int_equal(lstar_field_directed(f), 0);
    lstar_field_set_directed(f, LSTAR_UNSET);
    assert_int_equal(lstar_field_directed(f), LSTAR_UNSET);
    /* sparse without a shape attribute has no derivable shape */
    uint64_t dims[2];
    assert_int_equal(lstar_field_shape(f, dims, 2), 0);
    uint64_t shp[2] = {5, 6};
    assert_int_equal(lstar_field_set_shape(f, 2, shp, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_shape(f, dims, 1), 2); /* rank reported, dims clipped to max */
    assert_int_equal(dims[0], 5);
    /* unknown array names are refused and the array freed */
    uint64_t one = 1;
    double d = 1;
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &one, &d, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "offsets", a, NULL), LSTAR_ERR_INVALID_ARG);
    /* replace and remove */
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &one, &d, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "data", a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 1, &one, &(float){2}, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "data", a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "data")), LSTAR_DTYPE_FLOAT32);
    assert_int_equal(lstar_field_set_array(f, "data", NULL, NULL), LSTAR_OK);
    assert_null(lstar_field_array(f, "data"));
    /* mask makes the field nullable; index_axis makes it partial */
    uint8_t m = 0;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_UINT8, 1, &one, &m, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "mask", a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_nullable(f), 1);
    assert_int_equal(lstar_field_set_index_axis(f, "cells", NULL), LSTAR_OK);
    assert_string_equal(lstar_field_coverage(f), "partial");
    assert_int_equal(lstar_field_set_index_axis(f, NULL, NULL), LSTAR_OK);
    assert_string_equal(lstar_field_coverage(f), "full");

    /* passthrough errors */
    lstar_passthrough *p = NULL;
    assert_int_equal(lstar_dataset_add_passthrough(ds, "anndata.uns", NULL, &p, NULL), LSTAR_OK);
    assert_string_equal(lstar_passthrough_tree(p), "{}");
    assert_int_equal(lstar_dataset_add_passthrough(ds, "anndata.uns", "{}", NULL, NULL), LSTAR_ERR_EXISTS);
    assert_int_equal(lstar_dataset_add_passthrough(ds, "bad", "{\"a\":", NULL, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_dataset_passthrough_count(ds), 1);
    lstar_strings ss;
    const char *items[] = {"x", "y"};
    assert_int_equal(lstar_strings_from_cstrs(&ss, items, 2, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_new_strings(&ss, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_passthrough_add_leaf(p, "a0", "dense", a, NULL), LSTAR_ERR_INVALID_ARG); /* kind mismatch */
    assert_int_equal(lstar_strings_from_cstrs(&ss, items, 2, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_new_strings(&ss, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_passthrough_add_leaf(p, "a0", "utf8", a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &one, &d, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_passthrough_add_leaf(p, "a0", "dense", a, NULL), LSTAR_ERR_EXISTS);
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &one, &d, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_passthrough_add_leaf(p, "a1", "ragged", a, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_passthrough_leaf_count(p), 1);
    assert_string_equal(lstar_passthrough_leaf_kind(p, 0), "utf8");

    lstar_dataset_free(ds);
}

/* Induction: guard, reuse, mismatch. */
static lstar_field *add_cat(lstar_dataset *ds, const char *name, size_t n, size_t k) {
    const char *span[1] = {"cells"};
    lstar_field *f = NULL;
    assert_int_equal(lstar_dataset_add_field(ds, name, LSTAR_ENC_CATEGORICAL, 1, span, &f, NULL), LSTAR_OK);
    int32_t *codes = lstar_malloc(n * sizeof *codes);
    for (size_t i = 0; i < n; i++) codes[i] = (int32_t)(i % k);
    uint64_t shape[1] = {n};
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_owned(LSTAR_DTYPE_INT32, 1, shape, codes, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "codes", a, NULL), LSTAR_OK);
    lstar_strings s;
    assert_int_equal(lstar_strings_init(&s, NULL), LSTAR_OK);
    for (size_t i = 0; i < k; i++) {
        char b[32];
        snprintf(b, sizeof b, "k%zu", i);
        assert_int_equal(lstar_strings_append(&s, b, strlen(b), NULL), LSTAR_OK);
    }
    assert_int_equal(lstar_array_new_strings(&s, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_array(f, "categories", a, NULL), LSTAR_OK);
    return f;
}

static void test_induce(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    lstar_error e;
    int induced = -1;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    /* identifier-like: k = 150 > 100 and > 0.5 * 200 */
    add_cat(ds, "barcode", 200, 150);
    assert_int_equal(lstar_dataset_induce_factor(ds, "barcode", 1, &induced, NULL), LSTAR_OK);
    assert_int_equal(induced, 0);
    assert_null(lstar_dataset_axis(ds, "barcode"));
    /* without the guard it is induced */
    assert_int_equal(lstar_dataset_induce_factor(ds, "barcode", 0, &induced, NULL), LSTAR_OK);
    assert_int_equal(induced, 1);
    assert_int_equal(lstar_axis_length(lstar_dataset_axis(ds, "barcode")), 150);
    /* k = 150 but n = 400: 150 <= 200, induced even with the guard */
    add_cat(ds, "big", 400, 150);
    assert_int_equal(lstar_dataset_induce_factor(ds, "big", 1, &induced, NULL), LSTAR_OK);
    assert_int_equal(induced, 1);
    /* k = 80 > 0.5 * 100 but k <= 100: induced */
    add_cat(ds, "small", 100, 80);
    assert_int_equal(lstar_dataset_induce_factor(ds, "small", 1, NULL, NULL), LSTAR_OK);
    assert_non_null(lstar_dataset_axis(ds, "small"));
    /* same name, same labels: reused */
    size_t naxes = lstar_dataset_axis_count(ds);
    assert_int_equal(lstar_dataset_induce_factor(ds, "small", 1, &induced, NULL), LSTAR_OK);
    assert_int_equal(induced, 1);
    assert_int_equal(lstar_dataset_axis_count(ds), naxes);
    /* same name, different labels: validation error */
    lstar_strings s;
    const char *labs[] = {"x", "y"};
    assert_int_equal(lstar_strings_from_cstrs(&s, labs, 2, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_axis(ds, "leiden", &s, NULL, NULL), LSTAR_OK);
    add_cat(ds, "leiden", 10, 3);
    lstar_error_clear(&e);
    assert_int_equal(lstar_dataset_induce_factor(ds, "leiden", 1, &induced, &e), LSTAR_ERR_VALIDATION);
    assert_int_equal(induced, 0);
    assert_string_equal(e.where, "fields/leiden");
    /* errors: no such field, not categorical */
    assert_int_equal(lstar_dataset_induce_factor(ds, "nope", 1, NULL, NULL), LSTAR_ERR_NOT_FOUND);
    const char *span[1] = {"cells"};
    assert_int_equal(lstar_dataset_add_field(ds, "dense", LSTAR_ENC_DENSE, 1, span, NULL, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_induce_factor(ds, "dense", 1, NULL, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_dataset_free(ds);
}

/* Many fields and axes: insertion order kept, lookups by hash. */
static void test_many_names(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "f%d", i);
        const char *span[1] = {"cells"};
        assert_int_equal(lstar_dataset_add_field(ds, name, LSTAR_ENC_DENSE, 1, span, NULL, NULL), LSTAR_OK);
        snprintf(name, sizeof name, "ax%d", i);
        assert_int_equal(lstar_dataset_add_axis(ds, name, NULL, NULL, NULL), LSTAR_OK);
    }
    assert_int_equal(lstar_dataset_field_count(ds), 5000);
    for (int i = 0; i < 5000; i += 7) {
        snprintf(name, sizeof name, "f%d", i);
        assert_ptr_equal(lstar_dataset_field(ds, name), lstar_dataset_field_at(ds, (size_t)i));
        snprintf(name, sizeof name, "ax%d", i);
        assert_ptr_equal(lstar_dataset_axis(ds, name), lstar_dataset_axis_at(ds, (size_t)i));
    }
    assert_null(lstar_dataset_field(ds, "f5000"));
    lstar_dataset_free(ds);
}

static int g_order[3];
static int g_norder;
static void rel(void *p) { g_order[g_norder++] = *(int *)p; }

static void test_attach_order(void **state) {
    (void)state;
    static int ids[3] = {1, 2, 3};
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(lstar_dataset_attach(ds, &ids[i], rel, NULL), LSTAR_OK);
    g_norder = 0;
    lstar_dataset_free(ds);
    assert_int_equal(g_norder, 3);
    assert_int_equal(g_order[0], 3);
    assert_int_equal(g_order[1], 2);
    assert_int_equal(g_order[2], 1);
    lstar_dataset_free(NULL);
}

/* The allocation-free JSON checker agrees with jansson on what is valid. */
static void test_json_check(void **state) {
    (void)state;
    static const char *const good[] = {
        "{}", " [ ] ", "{\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\n\"]}", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "0", "-0.0", "9223372036854775807", "-9223372036854775808", "\"\\ud83d\\ude00\"", "1E+2",
    };
    static const char *const bad[] = {
        "", "{", "{\"a\" 1}", "[1,]", "01", "1.", "-", "tru", "\"\\u0000\"", "\"\\ud83d\"", "\"\\ude00\"",
        "\"\xc3\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"a\tb\"", "9223372036854775808", "1e400",
        "{} x", "\"\\q\"", "[1 2]",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(lstar_json_valid(good[i], strlen(good[i])), 1);
        json_error_t je;
        json_t *v = json_loads(good[i], JSON_DECODE_ANY, &je);
        assert_non_null(v);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (lstar_json_valid(bad[i], strlen(bad[i]))) fail_msg("accepted bad JSON #%zu: %s", i, bad[i]);
        json_error_t je;
        json_t *v = json_loads(bad[i], JSON_DECODE_ANY, &je);
        if (v) fail_msg("jansson accepted bad JSON #%zu: %s", i, bad[i]);
    }
    /* nesting deeper than LSTAR_MAX_JSON_DEPTH is refused */
    char deep[2 * (LSTAR_MAX_JSON_DEPTH + 1) + 1];
    memset(deep, '[', LSTAR_MAX_JSON_DEPTH + 1);
    memset(deep + LSTAR_MAX_JSON_DEPTH + 1, ']', LSTAR_MAX_JSON_DEPTH + 1);
    deep[sizeof deep - 1] = '\0';
    assert_int_equal(lstar_json_valid(deep, strlen(deep)), 0);
    assert_int_equal(lstar_json_valid(deep + 1, strlen(deep + 1) - 1), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_getters), cmocka_unit_test(test_encoding_names),
        cmocka_unit_test(test_setters_and_errors), cmocka_unit_test(test_induce),
        cmocka_unit_test(test_many_names),     cmocka_unit_test(test_attach_order),
        cmocka_unit_test(test_json_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
