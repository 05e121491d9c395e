/* Allocation-failure harness (sqlite test_malloc style): an allocator that
 * fails the N-th allocation, for N = 1, 2, 3, … over a representative model
 * workload (axes, categorical field + induction, sparse/dense/utf8/partial/
 * nullable fields, passthrough, attachment, validation, element reads).  Each
 * run must either succeed or fail cleanly with LSTAR_ERR_NOMEM and leave no
 * allocation behind (counted here; ASan checks the rest), until a run sees no
 * injected failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lstar/lstar.h"
#include "test_support.h"

#define CK(expr)                                                                                              \
    do {                                                                                                      \
        st = (expr);                                                                                          \
        if (st != LSTAR_OK) goto done;                                                                        \
    } while (0)

static lstar_status add_axis(lstar_dataset *ds, const char *name, size_t n, const char *const *labels,
                             const char *origin, const char *role, lstar_error *err) {
    lstar_strings s;
    lstar_axis *ax = NULL;
    lstar_status st = lstar_strings_from_cstrs(&s, labels, n, err);
    if (st != LSTAR_OK) return st;
    st = lstar_dataset_add_axis(ds, name, &s, &ax, err);
    if (st != LSTAR_OK) return st;
    st = lstar_axis_set_origin(ax, origin, err);
    if (st == LSTAR_OK) st = lstar_axis_set_role(ax, role, err);
    return st;
}

static lstar_status set_copy(lstar_field *f, const char *name, lstar_dtype t, int rank, const uint64_t *shape,
                             const void *v, lstar_error *err) {
    lstar_array *a = NULL;
    lstar_status st = lstar_array_new_copy(t, rank, shape, v, &a, err);
    if (st != LSTAR_OK) return st;
    return lstar_field_set_array(f, name, a, err);
}

static lstar_status set_strings(lstar_field *f, const char *name, size_t n, const char *const *items,
                                lstar_error *err) {
    lstar_strings s;
    lstar_array *a = NULL;
    lstar_status st = lstar_strings_from_cstrs(&s, items, n, err);
    if (st != LSTAR_OK) return st;
    st = lstar_array_new_strings(&s, &a, err);
    if (st != LSTAR_OK) return st;
    return lstar_field_set_array(f, name, a, err);
}

/* The workload; *errors receives the validation error count. */
static lstar_status workload(size_t *errors, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_dataset *ds = NULL;
    lstar_findings *fs = NULL;
    lstar_field *f = NULL;
    lstar_passthrough *p = NULL;
    lstar_array *a = NULL;
    lstar_strings rs;
    void *all = NULL, *att = NULL;
    memset(&rs, 0, sizeof rs);
    static const char *const cells[6] = {"c0", "c1", "c2", "c3", "c4", "c5"};
    static const char *const genes[3] = {"g0", "g1", "g2"};
    static const char *const pcs[2] = {"PC0", "PC1"};
    static const char *const cats[3] = {"T", "B", "NK"};
    static const char *const leiden[6] = {"0", "1", "0", "1", "0", "1"};

    CK(lstar_dataset_new(&ds, err));
    CK(lstar_dataset_add_profile(ds, "anndata@0.1", err));
    CK(lstar_dataset_add_dropped(ds, "uns/velocity_graph", err));
    CK(add_axis(ds, "cells", 6, cells, "observed", "observation", err));
    CK(add_axis(ds, "genes", 3, genes, "observed", "feature", err));
    CK(add_axis(ds, "pca", 2, pcs, "derived", "coordinate", err));
    CK(lstar_axis_set_provenance(lstar_dataset_axis(ds, "pca"), "{\"anndata\": \"obsm/X_pca\", \"n\": [1, 2]}", err));

    /* categorical + induced factor axis */
    const char *span1[1] = {"cells"};
    CK(lstar_dataset_add_field(ds, "celltype", LSTAR_ENC_CATEGORICAL, 1, span1, &f, err));
    static const int32_t codes[6] = {0, 1, 2, -1, 0, 1};
    uint64_t n6 = 6, n3 = 3;
    CK(set_copy(f, "codes", LSTAR_DTYPE_INT32, 1, &n6, codes, err));
    CK(set_strings(f, "categories", 3, cats, err));
    CK(lstar_field_set_role(f, "label", err));
    lstar_field_set_ordered(f, 1);
    CK(lstar_field_set_shape(f, 1, &n6, err));
    CK(lstar_dataset_induce_factor(ds, "celltype", 1, NULL, err));

    /* sparse csr */
    const char *span2[2] = {"cells", "genes"};
    CK(lstar_dataset_add_field(ds, "counts", LSTAR_ENC_CSR, 2, span2, &f, err));
    static const float data[4] = {1, 2, 3, 4};
    static const int32_t ind[4] = {0, 2, 1, 0};
    static const int32_t ptr[7] = {0, 1, 2, 2, 3, 4, 4};
    uint64_t n4 = 4, n7 = 7;
    CK(set_copy(f, "data", LSTAR_DTYPE_FLOAT32, 1, &n4, data, err));
    CK(set_copy(f, "indices", LSTAR_DTYPE_INT32, 1, &n4, ind, err));
    CK(set_copy(f, "indptr", LSTAR_DTYPE_INT32, 1, &n7, ptr, err));
    uint64_t shp[2] = {6, 3};
    CK(lstar_field_set_shape(f, 2, shp, err));
    CK(lstar_field_set_role(f, "measure", err));
    CK(lstar_field_set_state(f, "raw", err));
    CK(lstar_field_set_provenance(f, "{\"anndata\": \"layers/counts\"}", err));

    /* dense 2-D */
    const char *spanp[2] = {"cells", "pca"};
    CK(lstar_dataset_add_field(ds, "pca", LSTAR_ENC_DENSE, 2, spanp, &f, err));
    static const double pv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    uint64_t pshape[2] = {6, 2};
    CK(set_copy(f, "values", LSTAR_DTYPE_FLOAT64, 2, pshape, pv, err));
    CK(lstar_field_set_role(f, "embedding", err));

    /* utf8 */
    CK(lstar_dataset_add_field(ds, "leiden", LSTAR_ENC_UTF8, 1, span1, &f, err));
    CK(set_strings(f, "values", 6, leiden, err));
    CK(lstar_field_set_role(f, "label", err));

    /* nullable dense + partial coverage */
    CK(lstar_dataset_add_field(ds, "qc", LSTAR_ENC_DENSE, 1, span1, &f, err));
    static const uint8_t mask[6] = {0, 0, 1, 0, 0, 0};
    CK(set_copy(f, "values", LSTAR_DTYPE_FLOAT64, 1, &n6, pv, err));
    CK(set_copy(f, "mask", LSTAR_DTYPE_UINT8, 1, &n6, mask, err));
    CK(lstar_dataset_add_field(ds, "adt", LSTAR_ENC_DENSE, 1, span1, &f, err));
    static const int64_t idx[3] = {0, 2, 4};
    CK(set_copy(f, "values", LSTAR_DTYPE_FLOAT64, 1, &n3, pv, err));
    CK(set_copy(f, "index", LSTAR_DTYPE_INT64, 1, &n3, idx, err));
    CK(lstar_field_set_index_axis(f, "cells", err));

    /* passthrough with a dense and a utf8 leaf */
    CK(lstar_dataset_add_passthrough(ds, "anndata.uns", "{\"$obj\": {\"scores\": {\"$array\": \"a0\"}}}", &p, err));
    CK(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &n4, pv, &a, err));
    st = lstar_passthrough_add_leaf(p, "a0", "dense", a, err);
    a = NULL; /* owned by the leaf or freed */
    if (st != LSTAR_OK) goto done;
    CK(lstar_strings_from_cstrs(&rs, cats, 3, err));
    CK(lstar_array_new_strings(&rs, &a, err));
    st = lstar_passthrough_add_leaf(p, "a1", "utf8", a, err);
    a = NULL;
    if (st != LSTAR_OK) goto done;

    /* an attachment released with the dataset (not on a failed attach) */
    att = lstar_malloc(32);
    if (!att) {
        st = LSTAR_ERR_NOMEM;
        goto done;
    }
    CK(lstar_dataset_attach(ds, att, lstar_free, err));
    att = NULL;

    /* a warning (non-core role) so that findings are allocated too */
    CK(lstar_field_set_role(lstar_dataset_field(ds, "counts"), "graph", err));
    CK(lstar_dataset_validate(ds, &fs, err));
    *errors = lstar_findings_errors(fs);
    if (lstar_findings_warnings(fs) != 1) {
        st = LSTAR_ERR_INTERNAL;
        goto done;
    }
    /* re-inducing reuses the axis (reads the categories again) */
    CK(lstar_dataset_induce_factor(ds, "celltype", 1, NULL, err));

    /* element reads that allocate */
    size_t nb;
    CK(lstar_array_read_all(lstar_field_array(lstar_dataset_field(ds, "pca"), "values"), 0, &all, &nb, err));
    double conv[6];
    CK(lstar_array_read_1d_as(lstar_field_array(lstar_dataset_field(ds, "celltype"), "codes"), 0, 6,
                              LSTAR_DTYPE_FLOAT64, conv, err));
    CK(lstar_array_read_strings(lstar_field_array(lstar_dataset_field(ds, "celltype"), "categories"), 1, 2, &rs,
                                err));
done:
    lstar_strings_destroy(&rs);
    lstar_free(all);
    lstar_free(att);
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
    return st;
}

/* A collection: samples axis, per-sample axes (one unknown), sample label. */
static lstar_status collection_workload(size_t *errors, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_dataset *ds = NULL;
    lstar_findings *fs = NULL;
    lstar_field *f = NULL;
    static const char *const samples[2] = {"s1", "s2"};
    static const char *const c1[2] = {"a", "b"};
    static const char *const u[3] = {"s1_a", "s1_b", "s9_c"};
    static const char *const sv[3] = {"s1", "s1", "s9"};
    CK(lstar_dataset_new(&ds, err));
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    CK(add_axis(ds, "samples", 2, samples, "observed", "sample", err));
    CK(add_axis(ds, "cells.s1", 2, c1, "observed", "observation", err));
    CK(add_axis(ds, "cells.s9", 1, c1, "observed", "observation", err));
    CK(add_axis(ds, "cells", 3, u, "derived", "observation", err));
    const char *span[1] = {"cells"};
    CK(lstar_dataset_add_field(ds, "sample", LSTAR_ENC_UTF8, 1, span, &f, err));
    CK(set_strings(f, "values", 3, sv, err));
    CK(lstar_field_set_subtype(f, "design", err));
    CK(lstar_dataset_validate(ds, &fs, err));
    *errors = lstar_findings_errors(fs);
    if (lstar_findings_warnings(fs) != 1) st = LSTAR_ERR_INTERNAL;
done:
    lstar_findings_free(fs);
    lstar_dataset_free(ds);
    return st;
}

static void walk(lstar_status (*fn)(size_t *, lstar_error *), long min_allocs) {
    long n;
    int clean_success = 0;
    for (n = 1; n < 100000 && !clean_success; n++) {
        lt_failing fl;
        lstar_error e;
        size_t errors = 99;
        lstar_error_clear(&e);
        lt_failing_start(&fl, n, 0);
        lstar_status st = fn(&errors, &e);
        lt_failing_stop();
        if (fl.live != 0) fail_msg("allocation %ld failed: %ld block(s) leaked", n, fl.live);
        if (fl.injected) {
            if (st != LSTAR_ERR_NOMEM)
                fail_msg("allocation %ld failed: got %s (%s: %s)", n, lstar_status_name(st), e.where, e.message);
        } else {
            assert_int_equal(st, LSTAR_OK);
            assert_int_equal(errors, 0);
            clean_success = 1;
        }
    }
    assert_true(clean_success);
    print_message("workload needs %ld allocations\n", n - 1);
    assert_true(n > min_allocs);
}

static void test_collection_allocation_failures(void **state) {
    (void)state;
    walk(collection_workload, 20);
}

static void test_every_allocation_fails_cleanly(void **state) {
    (void)state;
    walk(workload, 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_cleanly),
        cmocka_unit_test(test_collection_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
