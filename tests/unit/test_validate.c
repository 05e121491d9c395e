/* Unit tests: lstar_dataset_validate.  A valid dataset has no errors; each
 * test then breaks exactly one invariant and checks its code and severity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lstar/lstar.h"

/* ---- array makers ---------------------------------------------------------- */

static lstar_array *mk(lstar_dtype t, uint64_t n, const void *v) {
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(t, 1, &n, v, &a, NULL), LSTAR_OK);
    return a;
}
static lstar_array *mk2(lstar_dtype t, uint64_t r, uint64_t c, const void *v) {
    uint64_t shape[2] = {r, c};
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(t, 2, shape, v, &a, NULL), LSTAR_OK);
    return a;
}
static lstar_array *mk_str(size_t n, const char *const *items) {
    lstar_strings s;
    assert_int_equal(lstar_strings_from_cstrs(&s, items, n, NULL), LSTAR_OK);
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_strings(&s, &a, NULL), LSTAR_OK);
    return a;
}
static void axis(lstar_dataset *ds, const char *name, size_t n, const char *const *labels, const char *role) {
    lstar_strings s;
    assert_int_equal(lstar_strings_from_cstrs(&s, labels, n, NULL), LSTAR_OK);
    lstar_axis *ax = NULL;
    assert_int_equal(lstar_dataset_add_axis(ds, name, &s, &ax, NULL), LSTAR_OK);
    assert_int_equal(lstar_axis_set_role(ax, role, NULL), LSTAR_OK);
}
static lstar_field *field(lstar_dataset *ds, const char *name, lstar_encoding enc, const char *a0, const char *a1,
                          const char *role) {
    const char *span[2] = {a0, a1};
    lstar_field *f = NULL;
    assert_int_equal(lstar_dataset_add_field(ds, name, enc, a1 ? 2 : 1, span, &f, NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, role, NULL), LSTAR_OK);
    return f;
}
static void set(lstar_field *f, const char *name, lstar_array *a) {
    assert_int_equal(lstar_field_set_array(f, name, a, NULL), LSTAR_OK);
}
static void shape2(lstar_field *f, uint64_t r, uint64_t c) {
    uint64_t s[2] = {r, c};
    assert_int_equal(lstar_field_set_shape(f, 2, s, NULL), LSTAR_OK);
}

static const char *const k_cells[4] = {"c0", "c1", "c2", "c3"};
static const char *const k_genes[3] = {"g0", "g1", "g2"};
static const char *const k_cats[3] = {"T", "B", "NK"};

/* 4 cells × 3 genes with one field per encoding and feature. */
static lstar_dataset *build_valid(void) {
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    axis(ds, "cells", 4, k_cells, "observation");
    axis(ds, "genes", 3, k_genes, "feature");
    static const char *const pcs[2] = {"PC0", "PC1"};
    axis(ds, "pca", 2, pcs, "coordinate");

    /* counts: csc 4×3, indptr over genes (4 entries) */
    lstar_field *f = field(ds, "counts", LSTAR_ENC_CSC, "cells", "genes", "measure");
    assert_int_equal(lstar_field_set_state(f, "raw", NULL), LSTAR_OK);
    static const float data[5] = {1, 2, 3, 4, 5};
    static const int32_t ind[5] = {0, 2, 1, 3, 0};
    static const int32_t ptr_c[4] = {0, 2, 3, 5};
    set(f, "data", mk(LSTAR_DTYPE_FLOAT32, 5, data));
    set(f, "indices", mk(LSTAR_DTYPE_INT32, 5, ind));
    set(f, "indptr", mk(LSTAR_DTYPE_INT32, 4, ptr_c));
    shape2(f, 4, 3);

    /* X: csr 4×3, indptr over cells (5 entries), int64 */
    f = field(ds, "X", LSTAR_ENC_CSR, "cells", "genes", "measure");
    assert_int_equal(lstar_field_set_state(f, "lognorm", NULL), LSTAR_OK);
    static const int64_t ptr_r[5] = {0, 1, 2, 4, 5};
    static const int64_t ind_r[5] = {0, 2, 0, 1, 2};
    set(f, "data", mk(LSTAR_DTYPE_FLOAT32, 5, data));
    set(f, "indices", mk(LSTAR_DTYPE_INT64, 5, ind_r));
    set(f, "indptr", mk(LSTAR_DTYPE_INT64, 5, ptr_r));
    shape2(f, 4, 3);

    /* edges: coo 4×4 */
    f = field(ds, "edges", LSTAR_ENC_COO, "cells", "cells", "relation");
    static const int32_t rc[2] = {0, 3};
    set(f, "row", mk(LSTAR_DTYPE_INT32, 2, rc));
    set(f, "col", mk(LSTAR_DTYPE_INT32, 2, rc));
    set(f, "weight", mk(LSTAR_DTYPE_FLOAT32, 2, data));
    shape2(f, 4, 4);

    /* pca: dense 4×2 */
    f = field(ds, "pca", LSTAR_ENC_DENSE, "cells", "pca", "embedding");
    static const double pv[8] = {0};
    set(f, "values", mk2(LSTAR_DTYPE_FLOAT64, 4, 2, pv));
    shape2(f, 4, 2);

    /* leiden: utf8 */
    f = field(ds, "leiden", LSTAR_ENC_UTF8, "cells", NULL, "label");
    static const char *const lv[4] = {"0", "1", "0", "1"};
    set(f, "values", mk_str(4, lv));

    /* celltype: categorical with -1, induced */
    f = field(ds, "celltype", LSTAR_ENC_CATEGORICAL, "cells", NULL, "label");
    static const int32_t codes[4] = {0, 1, 2, -1};
    set(f, "codes", mk(LSTAR_DTYPE_INT32, 4, codes));
    set(f, "categories", mk_str(3, k_cats));
    lstar_field_set_ordered(f, 0);
    assert_int_equal(lstar_dataset_induce_factor(ds, "celltype", 1, NULL, NULL), LSTAR_OK);

    /* qc: dense + mask */
    f = field(ds, "qc", LSTAR_ENC_DENSE, "cells", NULL, "measure");
    static const float qv[4] = {1, 2, 3, 4};
    static const uint8_t mv[4] = {0, 1, 0, 0};
    set(f, "values", mk(LSTAR_DTYPE_FLOAT32, 4, qv));
    set(f, "mask", mk(LSTAR_DTYPE_UINT8, 4, mv));

    /* adt: partial coverage over cells {0, 2} */
    f = field(ds, "adt", LSTAR_ENC_DENSE, "cells", NULL, "measure");
    static const int64_t idx[2] = {0, 2};
    set(f, "values", mk(LSTAR_DTYPE_FLOAT32, 2, qv));
    set(f, "index", mk(LSTAR_DTYPE_INT64, 2, idx));
    assert_int_equal(lstar_field_set_index_axis(f, "cells", NULL), LSTAR_OK);

    /* prot: partial csr over [cells, genes] with 2 covered cells */
    f = field(ds, "prot", LSTAR_ENC_CSR, "cells", "genes", "measure");
    static const int32_t pptr[3] = {0, 1, 2};
    static const int32_t pind[2] = {0, 1};
    set(f, "data", mk(LSTAR_DTYPE_FLOAT32, 2, data));
    set(f, "indices", mk(LSTAR_DTYPE_INT32, 2, pind));
    set(f, "indptr", mk(LSTAR_DTYPE_INT32, 3, pptr));
    set(f, "index", mk(LSTAR_DTYPE_INT64, 2, idx));
    assert_int_equal(lstar_field_set_index_axis(f, "cells", NULL), LSTAR_OK);
    shape2(f, 2, 3);

    /* knn: relation csr 4×4 */
    f = field(ds, "knn", LSTAR_ENC_CSR, "cells", "cells", "relation");
    static const int32_t kptr[5] = {0, 1, 2, 3, 4};
    static const int32_t kind_[4] = {1, 0, 3, 2};
    set(f, "data", mk(LSTAR_DTYPE_FLOAT32, 4, data));
    set(f, "indices", mk(LSTAR_DTYPE_INT32, 4, kind_));
    set(f, "indptr", mk(LSTAR_DTYPE_INT32, 5, kptr));
    shape2(f, 4, 4);
    lstar_field_set_directed(f, 0);
    lstar_field_set_weighted(f, 1);
    assert_int_equal(lstar_field_set_subtype(f, "similarity", NULL), LSTAR_OK);
    return ds;
}

/* Validate; returns the findings (caller frees). */
static lstar_findings *run(const lstar_dataset *ds) {
    lstar_findings *fs = NULL;
    assert_int_equal(lstar_dataset_validate(ds, &fs, NULL), LSTAR_OK);
    assert_non_null(fs);
    return fs;
}

/* Assert `code` appears with severity `sev` at `where`, and that every error
 * found has that code (so exactly that invariant broke). */
static void expect_only(lstar_dataset *ds, const char *code, lstar_severity sev, const char *where) {
    lstar_findings *fs = run(ds);
    int seen = 0;
    for (size_t i = 0; i < lstar_findings_count(fs); i++) {
        const lstar_finding *f = lstar_findings_at(fs, i);
        if (strcmp(f->code, code) == 0) {
            assert_int_equal(f->severity, sev);
            if (where) assert_string_equal(f->where, where);
            assert_true(f->message[0] != '\0');
            seen = 1;
        } else if (f->severity == LSTAR_SEVERITY_ERROR) {
            fail_msg("unexpected error %s at %s: %s", f->code, f->where, f->message);
        } else if (sev == LSTAR_SEVERITY_WARNING) {
            fail_msg("unexpected warning %s at %s: %s", f->code, f->where, f->message);
        }
    }
    if (!seen) fail_msg("finding %s not reported", code);
    if (sev == LSTAR_SEVERITY_WARNING) assert_int_equal(lstar_findings_errors(fs), 0);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
}

static lstar_field *F(lstar_dataset *ds, const char *name) {
    lstar_field *f = lstar_dataset_field(ds, name);
    assert_non_null(f);
    return f;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_valid(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    lstar_findings *fs = run(ds);
    for (size_t i = 0; i < lstar_findings_count(fs); i++)
        print_message("%s %s: %s\n", lstar_findings_at(fs, i)->code, lstar_findings_at(fs, i)->where,
                      lstar_findings_at(fs, i)->message);
    assert_int_equal(lstar_findings_count(fs), 0);
    assert_int_equal(lstar_findings_errors(fs), 0);
    assert_int_equal(lstar_findings_warnings(fs), 0);
    assert_null(lstar_findings_at(fs, 0));
    lstar_findings_free(fs);
    lstar_findings_free(NULL);
    assert_int_equal(lstar_dataset_validate(NULL, &fs, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_dataset_free(ds);
}

static void test_span_unknown_axis(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    lstar_field *f = field(ds, "ghost", LSTAR_ENC_DENSE, "cells", "nope", "measure");
    static const float v[4] = {0};
    set(f, "values", mk2(LSTAR_DTYPE_FLOAT32, 4, 1, v));
    expect_only(ds, "span-unknown-axis", LSTAR_SEVERITY_ERROR, "fields/ghost");
}

static void test_missing_array(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    set(F(ds, "counts"), "indices", NULL);
    expect_only(ds, "missing-array", LSTAR_SEVERITY_ERROR, "fields/counts");
    ds = build_valid();
    set(F(ds, "leiden"), "values", NULL);
    expect_only(ds, "missing-array", LSTAR_SEVERITY_ERROR, "fields/leiden");
    /* partial coverage declared without the index array */
    ds = build_valid();
    set(F(ds, "adt"), "index", NULL);
    expect_only(ds, "missing-array", LSTAR_SEVERITY_ERROR, "fields/adt");
}

static void test_sparse_arity(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    lstar_field *f = field(ds, "flat", LSTAR_ENC_CSR, "cells", NULL, "measure");
    static const float d[1] = {1};
    static const int32_t i0[2] = {0, 1};
    set(f, "data", mk(LSTAR_DTYPE_FLOAT32, 1, d));
    set(f, "indices", mk(LSTAR_DTYPE_INT32, 1, i0));
    set(f, "indptr", mk(LSTAR_DTYPE_INT32, 2, i0));
    expect_only(ds, "sparse-arity", LSTAR_SEVERITY_ERROR, "fields/flat");
}

static void test_sparse_shape(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    shape2(F(ds, "counts"), 4, 4);
    expect_only(ds, "sparse-shape", LSTAR_SEVERITY_ERROR, "fields/counts");
    /* the partial axis length is len(index), not the axis length */
    ds = build_valid();
    shape2(F(ds, "prot"), 4, 3);
    expect_only(ds, "sparse-shape", LSTAR_SEVERITY_ERROR, "fields/prot");
    /* no shape attribute at all */
    ds = build_valid();
    assert_int_equal(lstar_field_set_shape(F(ds, "X"), -1, NULL, NULL), LSTAR_OK);
    expect_only(ds, "sparse-shape", LSTAR_SEVERITY_ERROR, "fields/X");
    ds = build_valid();
    shape2(F(ds, "edges"), 4, 3);
    expect_only(ds, "sparse-shape", LSTAR_SEVERITY_ERROR, "fields/edges");
}

static void test_sparse_indptr(void **state) {
    (void)state;
    /* csc indptr must have len(genes)+1 entries */
    lstar_dataset *ds = build_valid();
    static const int32_t p5[5] = {0, 2, 3, 5, 5};
    set(F(ds, "counts"), "indptr", mk(LSTAR_DTYPE_INT32, 5, p5));
    expect_only(ds, "sparse-indptr", LSTAR_SEVERITY_ERROR, "fields/counts");
    /* last entry must equal nnz */
    ds = build_valid();
    static const int32_t p4[4] = {0, 2, 3, 4};
    set(F(ds, "counts"), "indptr", mk(LSTAR_DTYPE_INT32, 4, p4));
    expect_only(ds, "sparse-indptr", LSTAR_SEVERITY_ERROR, "fields/counts");
}

static void test_sparse_nnz(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const int32_t ind[5] = {0, 1, 2, 3, 0};
    set(F(ds, "X"), "indices", mk(LSTAR_DTYPE_INT32, 4, ind)); /* 4 indices for 5 data */
    static const int32_t ptr[5] = {0, 1, 2, 3, 4};
    set(F(ds, "X"), "indptr", mk(LSTAR_DTYPE_INT32, 5, ptr));
    expect_only(ds, "sparse-nnz", LSTAR_SEVERITY_ERROR, "fields/X");
}

static void test_relation_arity(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    assert_int_equal(lstar_field_set_role(F(ds, "qc"), "relation", NULL), LSTAR_OK);
    expect_only(ds, "relation-arity", LSTAR_SEVERITY_ERROR, "fields/qc");
}

static void test_categorical_length(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const int32_t c[3] = {0, 1, 2};
    set(F(ds, "celltype"), "codes", mk(LSTAR_DTYPE_INT32, 3, c));
    expect_only(ds, "categorical-length", LSTAR_SEVERITY_ERROR, "fields/celltype");
}

static void test_codes_out_of_range(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const int32_t hi[4] = {0, 1, 3, -1};
    set(F(ds, "celltype"), "codes", mk(LSTAR_DTYPE_INT32, 4, hi));
    expect_only(ds, "codes-out-of-range", LSTAR_SEVERITY_ERROR, "fields/celltype");
    ds = build_valid();
    static const int8_t lo[4] = {0, -2, 1, 1};
    set(F(ds, "celltype"), "codes", mk(LSTAR_DTYPE_INT8, 4, lo));
    expect_only(ds, "codes-out-of-range", LSTAR_SEVERITY_ERROR, "fields/celltype");
}

static void test_utf8_length(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const char *const v[5] = {"a", "b", "c", "d", "e"};
    set(F(ds, "leiden"), "values", mk_str(5, v));
    expect_only(ds, "utf8-length", LSTAR_SEVERITY_ERROR, "fields/leiden");
}

static void test_dense_rank(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const double v[8] = {0};
    set(F(ds, "pca"), "values", mk(LSTAR_DTYPE_FLOAT64, 8, v));
    assert_int_equal(lstar_field_set_shape(F(ds, "pca"), -1, NULL, NULL), LSTAR_OK);
    expect_only(ds, "dense-rank", LSTAR_SEVERITY_ERROR, "fields/pca");
}

static void test_dense_shape(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const double v[12] = {0};
    set(F(ds, "pca"), "values", mk2(LSTAR_DTYPE_FLOAT64, 4, 3, v));
    shape2(F(ds, "pca"), 4, 3);
    expect_only(ds, "dense-shape", LSTAR_SEVERITY_ERROR, "fields/pca");
    /* partial: the values must have len(index) rows */
    ds = build_valid();
    static const float q[4] = {0};
    set(F(ds, "adt"), "values", mk(LSTAR_DTYPE_FLOAT32, 4, q));
    expect_only(ds, "dense-shape", LSTAR_SEVERITY_ERROR, "fields/adt");
}

static void test_shape_attr(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    uint64_t five = 5;
    assert_int_equal(lstar_field_set_shape(F(ds, "qc"), 1, &five, NULL), LSTAR_OK);
    expect_only(ds, "shape-attr", LSTAR_SEVERITY_ERROR, "fields/qc");
}

static void test_partial_index_axis(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    assert_int_equal(lstar_field_set_index_axis(F(ds, "adt"), "genes", NULL), LSTAR_OK);
    expect_only(ds, "partial-index-axis", LSTAR_SEVERITY_ERROR, "fields/adt");
    /* an index array without index_axis */
    ds = build_valid();
    assert_int_equal(lstar_field_set_index_axis(F(ds, "adt"), NULL, NULL), LSTAR_OK);
    expect_only(ds, "partial-index-axis", LSTAR_SEVERITY_ERROR, "fields/adt");
}

static void test_partial_index_range(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const int64_t idx[2] = {0, 4};
    set(F(ds, "adt"), "index", mk(LSTAR_DTYPE_INT64, 2, idx));
    expect_only(ds, "partial-index-range", LSTAR_SEVERITY_ERROR, "fields/adt");
    ds = build_valid();
    static const int64_t neg[2] = {-1, 2};
    set(F(ds, "adt"), "index", mk(LSTAR_DTYPE_INT64, 2, neg));
    expect_only(ds, "partial-index-range", LSTAR_SEVERITY_ERROR, "fields/adt");
}

static void test_duplicate_index(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const int32_t idx[2] = {2, 2};
    set(F(ds, "adt"), "index", mk(LSTAR_DTYPE_INT32, 2, idx));
    expect_only(ds, "duplicate-index", LSTAR_SEVERITY_WARNING, "fields/adt");
}

static void test_mask(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const float fm[4] = {0};
    set(F(ds, "qc"), "mask", mk(LSTAR_DTYPE_FLOAT32, 4, fm));
    expect_only(ds, "mask-dtype", LSTAR_SEVERITY_ERROR, "fields/qc");
    ds = build_valid();
    static const uint8_t m3[3] = {0};
    set(F(ds, "qc"), "mask", mk(LSTAR_DTYPE_UINT8, 3, m3));
    expect_only(ds, "mask-length", LSTAR_SEVERITY_ERROR, "fields/qc");
    /* bool masks are fine */
    ds = build_valid();
    static const uint8_t mb[4] = {0, 1, 0, 1};
    set(F(ds, "qc"), "mask", mk(LSTAR_DTYPE_BOOL, 4, mb));
    lstar_findings *fs = run(ds);
    assert_int_equal(lstar_findings_count(fs), 0);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
}

static void test_factor_induced_by_missing(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const char *const l[1] = {"x"};
    axis(ds, "clusters", 1, l, "factor");
    assert_int_equal(lstar_axis_set_induced_by(lstar_dataset_axis(ds, "clusters"), "ghost", NULL), LSTAR_OK);
    expect_only(ds, "factor-induced-by-missing", LSTAR_SEVERITY_ERROR, "axes/clusters");
}

static void test_factor_labels_mismatch(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const char *const c2[3] = {"T", "B", "Mono"};
    set(F(ds, "celltype"), "categories", mk_str(3, c2));
    expect_only(ds, "factor-labels-mismatch", LSTAR_SEVERITY_ERROR, "axes/celltype");
    /* induced by a field that is not categorical */
    ds = build_valid();
    assert_int_equal(lstar_axis_set_induced_by(lstar_dataset_axis(ds, "celltype"), "qc", NULL), LSTAR_OK);
    expect_only(ds, "factor-labels-mismatch", LSTAR_SEVERITY_ERROR, "axes/celltype");
}

static void test_vocabulary(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    assert_int_equal(lstar_field_set_role(F(ds, "knn"), "graph", NULL), LSTAR_OK);
    expect_only(ds, "noncore-role", LSTAR_SEVERITY_WARNING, "fields/knn");
    ds = build_valid();
    assert_int_equal(lstar_field_set_state(F(ds, "X"), "normalized", NULL), LSTAR_OK);
    expect_only(ds, "noncore-state", LSTAR_SEVERITY_WARNING, "fields/X");
    /* x- extensions and states on non-measures are silent */
    ds = build_valid();
    assert_int_equal(lstar_field_set_role(F(ds, "knn"), "x-velo:transition", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_state(F(ds, "X"), "x-sct", NULL), LSTAR_OK);
    assert_int_equal(lstar_field_set_state(F(ds, "pca"), "whatever", NULL), LSTAR_OK);
    lstar_findings *fs = run(ds);
    assert_int_equal(lstar_findings_count(fs), 0);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
}

static void test_categorical_name_clash(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const char *const l[2] = {"x", "y"};
    axis(ds, "batch", 2, l, NULL);
    lstar_field *f = field(ds, "batch", LSTAR_ENC_CATEGORICAL, "cells", NULL, "label");
    static const int32_t codes[4] = {0, 1, 1, 0};
    set(f, "codes", mk(LSTAR_DTYPE_INT32, 4, codes));
    static const char *const cats[2] = {"b1", "b2"};
    set(f, "categories", mk_str(2, cats));
    expect_only(ds, "categorical-name-clash", LSTAR_SEVERITY_WARNING, "fields/batch");
    /* same labels: no clash */
    ds = build_valid();
    axis(ds, "batch", 2, cats, NULL);
    f = field(ds, "batch", LSTAR_ENC_CATEGORICAL, "cells", NULL, "label");
    set(f, "codes", mk(LSTAR_DTYPE_INT32, 4, codes));
    set(f, "categories", mk_str(2, cats));
    lstar_findings *fs = run(ds);
    assert_int_equal(lstar_findings_count(fs), 0);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
}

static void test_array_dtype(void **state) {
    (void)state;
    lstar_dataset *ds = build_valid();
    static const float c[4] = {0, 1, 2, 0};
    set(F(ds, "celltype"), "codes", mk(LSTAR_DTYPE_FLOAT32, 4, c));
    expect_only(ds, "array-dtype", LSTAR_SEVERITY_ERROR, "fields/celltype");
    ds = build_valid();
    static const uint8_t b[2] = {'a', 'b'};
    set(F(ds, "leiden"), "values", mk(LSTAR_DTYPE_UINT8, 2, b));
    expect_only(ds, "array-dtype", LSTAR_SEVERITY_ERROR, "fields/leiden");
    ds = build_valid();
    static const float p[4] = {0, 2, 3, 5};
    set(F(ds, "counts"), "indptr", mk(LSTAR_DTYPE_FLOAT32, 4, p));
    expect_only(ds, "array-dtype", LSTAR_SEVERITY_ERROR, "fields/counts");
}

/* Codes longer than one read block (1M elements) are scanned block by block. */
static void test_codes_scan_blocks(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    const uint64_t n = 2500000;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    lstar_strings s;
    assert_int_equal(lstar_strings_init(&s, NULL), LSTAR_OK);
    for (uint64_t i = 0; i < n; i++) assert_int_equal(lstar_strings_append(&s, "c", 1, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_axis(ds, "cells", &s, NULL, NULL), LSTAR_OK);
    lstar_field *f = field(ds, "g", LSTAR_ENC_CATEGORICAL, "cells", NULL, "label");
    int16_t *codes = lstar_malloc(n * sizeof *codes);
    for (uint64_t i = 0; i < n; i++) codes[i] = (int16_t)(i % 2);
    codes[n - 1] = 2; /* in the third block */
    lstar_array *a = NULL;
    uint64_t shape[1] = {n};
    assert_int_equal(lstar_array_new_owned(LSTAR_DTYPE_INT16, 1, shape, codes, &a, NULL), LSTAR_OK);
    set(f, "codes", a);
    static const char *const cats[2] = {"x", "y"};
    set(f, "categories", mk_str(2, cats));
    expect_only(ds, "codes-out-of-range", LSTAR_SEVERITY_ERROR, "fields/g");
}

/* ---- collections (§1.6) ------------------------------------------------------ */

static lstar_dataset *build_collection(int with_sample) {
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    static const char *const samples[2] = {"s1", "s2"};
    axis(ds, "samples", 2, samples, "sample");
    static const char *const c1[2] = {"a", "b"};
    static const char *const c2[1] = {"c"};
    axis(ds, "cells.s1", 2, c1, "observation");
    axis(ds, "cells.s2", 1, c2, "observation");
    axis(ds, "genes.s1", 3, k_genes, "feature");
    axis(ds, "genes.s2", 3, k_genes, "feature");
    static const char *const u[3] = {"s1_a", "s1_b", "s2_c"};
    axis(ds, "cells", 3, u, "observation");
    assert_int_equal(lstar_axis_set_origin(lstar_dataset_axis(ds, "cells"), "derived", NULL), LSTAR_OK);
    lstar_field *f = field(ds, "n_cells", LSTAR_ENC_DENSE, "samples", NULL, "measure");
    static const int64_t n[2] = {2, 1};
    set(f, "values", mk(LSTAR_DTYPE_INT64, 2, n));
    if (with_sample) {
        f = field(ds, "sample", LSTAR_ENC_UTF8, "cells", NULL, "label");
        assert_int_equal(lstar_field_set_subtype(f, "design", NULL), LSTAR_OK);
        static const char *const sv[3] = {"s1", "s1", "s2"};
        set(f, "values", mk_str(3, sv));
    }
    return ds;
}

static void test_collection(void **state) {
    (void)state;
    lstar_dataset *ds = build_collection(1);
    lstar_findings *fs = run(ds);
    assert_int_equal(lstar_findings_count(fs), 0);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);

    /* no samples axis */
    ds = NULL;
    assert_int_equal(lstar_dataset_new(&ds, NULL), LSTAR_OK);
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    axis(ds, "cells", 4, k_cells, "observation");
    expect_only(ds, "collection-samples-axis", LSTAR_SEVERITY_ERROR, "axes/samples");
    /* samples axis with the wrong role */
    ds = build_collection(1);
    assert_int_equal(lstar_axis_set_role(lstar_dataset_axis(ds, "samples"), "observation", NULL), LSTAR_OK);
    expect_only(ds, "collection-samples-axis", LSTAR_SEVERITY_ERROR, "axes/samples");
    /* per-sample axis of an unknown sample */
    ds = build_collection(1);
    static const char *const c9[1] = {"z"};
    axis(ds, "cells.s9", 1, c9, "observation");
    expect_only(ds, "collection-unknown-sample", LSTAR_SEVERITY_WARNING, "axes/cells.s9");
    /* the sample label must be utf8/categorical over [cells] */
    ds = build_collection(0);
    lstar_field *f = field(ds, "sample", LSTAR_ENC_DENSE, "cells.s1", NULL, "label");
    static const float v[2] = {0, 1};
    set(f, "values", mk(LSTAR_DTYPE_FLOAT32, 2, v));
    expect_only(ds, "collection-sample-label", LSTAR_SEVERITY_ERROR, "fields/sample");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_span_unknown_axis),
        cmocka_unit_test(test_missing_array),
        cmocka_unit_test(test_sparse_arity),
        cmocka_unit_test(test_sparse_shape),
        cmocka_unit_test(test_sparse_indptr),
        cmocka_unit_test(test_sparse_nnz),
        cmocka_unit_test(test_relation_arity),
        cmocka_unit_test(test_categorical_length),
        cmocka_unit_test(test_codes_out_of_range),
        cmocka_unit_test(test_utf8_length),
        cmocka_unit_test(test_dense_rank),
        cmocka_unit_test(test_dense_shape),
        cmocka_unit_test(test_shape_attr),
        cmocka_unit_test(test_partial_index_axis),
        cmocka_unit_test(test_partial_index_range),
        cmocka_unit_test(test_duplicate_index),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_factor_induced_by_missing),
        cmocka_unit_test(test_factor_labels_mismatch),
        cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_categorical_name_clash),
        cmocka_unit_test(test_array_dtype),
        cmocka_unit_test(test_codes_scan_blocks),
        cmocka_unit_test(test_collection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
