/* The upstream L★ conformance fixtures (kharchenkolab/lstar
 * conformance/fixtures): golden_v2 and golden_v3 read through
 * lstar_dataset_read must reproduce every value of expected.json, plus the
 * axes, their labels and the field attributes of lstar-format.md §2.11. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "lstar/lstar.h"

#define FIXTURES LSTAR_SHARED_DATA "/kharchenkolab_lstar/conformance/fixtures"

static json_t *g_expected;

static int load_expected(void **state) {
    (void)state;
    json_error_t je;
    g_expected = json_load_file(FIXTURES "/expected.json", 0, &je);
    if (!g_expected) {
        fprintf(stderr, "cannot load %s/expected.json (%s): are the shared fixtures present?\n", FIXTURES, je.text);
        return -1;
    }
    return 0;
}

static int free_expected(void **state) {
    (void)state;
    json_decref(g_expected);
    return 0;
}

static lstar_dataset *open_store(const char *name) {
    char path[1024];
    lstar_dataset *ds = NULL;
    lstar_error err;
    lstar_error_clear(&err);
    snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
    lstar_status st = lstar_dataset_read(path, &ds, &err);
    if (st != LSTAR_OK) {
        char buf[2048];
        fprintf(stderr, "read %s: %s\n", path, lstar_error_format(&err, buf, sizeof buf));
    }
    assert_int_equal(st, LSTAR_OK);
    assert_non_null(ds);
    return ds;
}

static double round4(double v) { return round(v * 10000.0) / 10000.0; }

static void assert_close4(double got, const json_t *exp) {
    assert_true(json_is_number(exp));
    double e = json_number_value(exp);
    if (fabs(round4(got) - e) > 1e-9) fprintf(stderr, "got %.6f (rounded %.4f), expected %.4f\n", got, round4(got), e);
    assert_true(fabs(round4(got) - e) < 1e-9);
}

/* Whole numeric array as doubles (test sizes only). */
static double *read_f64(const lstar_array *a, uint64_t *n) {
    assert_non_null(a);
    uint64_t total = lstar_array_size(a);
    int rank = lstar_array_rank(a);
    lstar_dtype dt = lstar_array_dtype(a);
    size_t es = lstar_dtype_size(dt);
    void *raw = malloc(total * es + 1);
    double *out = malloc(total * sizeof(double) + 1);
    assert_non_null(raw);
    assert_non_null(out);
    uint64_t start[LSTAR_MAX_RANK] = {0};
    assert_int_equal(lstar_array_read(a, start, lstar_array_shape(a), raw, NULL), LSTAR_OK);
    (void)rank;
    for (uint64_t i = 0; i < total; i++) out[i] = lstar_dtype_get_f64(dt, raw, i);
    free(raw);
    *n = total;
    return out;
}

static double sum_of(const lstar_array *a) {
    uint64_t n;
    double *v = read_f64(a, &n);
    double s = 0;
    for (uint64_t i = 0; i < n; i++) s += v[i];
    free(v);
    return s;
}

static void assert_shape_attr(const lstar_field *f, const json_t *exp) {
    uint64_t dims[LSTAR_MAX_RANK];
    int r = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
    assert_int_equal(r, (int)json_array_size(exp));
    for (int d = 0; d < r; d++) assert_int_equal(dims[d], json_integer_value(json_array_get(exp, (size_t)d)));
}

static void assert_strings_json(const lstar_array *a, const json_t *exp) {
    lstar_strings s;
    assert_non_null(a);
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_STRING);
    assert_int_equal(lstar_array_read_strings(a, 0, lstar_array_size(a), &s, NULL), LSTAR_OK);
    assert_int_equal(s.n, json_array_size(exp));
    for (size_t i = 0; i < s.n; i++) {
        char buf[256];
        lstar_strings_get_cstr(&s, i, buf, sizeof buf);
        assert_string_equal(buf, json_string_value(json_array_get(exp, i)));
    }
    lstar_strings_destroy(&s);
}

static void assert_labels(const lstar_dataset *ds, const char *axis, size_t n, const char *const *first) {
    const lstar_axis *a = lstar_dataset_axis(ds, axis);
    assert_non_null(a);
    assert_int_equal(lstar_axis_length(a), n);
    const lstar_strings *s = lstar_axis_labels(a);
    assert_int_equal(s->n, n);
    for (size_t i = 0; first[i]; i++) {
        char buf[64];
        lstar_strings_get_cstr(s, i, buf, sizeof buf);
        assert_string_equal(buf, first[i]);
    }
}

static void assert_opt(const char *got, const char *want) {
    if (!want)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(got, want);
    }
}

/* Every check that holds for both fixtures (and for our own copies of them). */
static void check_golden(const lstar_dataset *ds) {
    const json_t *x = g_expected;
    const lstar_field *f;

    /* ---- root ---- */
    assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_SAMPLE);
    assert_string_equal(lstar_dataset_spec_version(ds), "0.1");
    assert_int_equal(lstar_dataset_profile_count(ds), 1);
    assert_string_equal(lstar_dataset_profile(ds, 0), "backcompat@0.1");
    assert_int_equal(lstar_dataset_dropped_count(ds), 0);
    static const char *const axes[] = {"cells", "genes", "pca", "celltype"};
    assert_int_equal(lstar_dataset_axis_count(ds), 4);
    for (size_t i = 0; i < 4; i++) assert_string_equal(lstar_axis_name(lstar_dataset_axis_at(ds, i)), axes[i]);
    static const char *const fields[] = {"counts", "lognorm", "pca", "leiden", "celltype", "qc", "adt", "knn"};
    assert_int_equal(lstar_dataset_field_count(ds), 8);
    for (size_t i = 0; i < 8; i++) assert_string_equal(lstar_field_name(lstar_dataset_field_at(ds, i)), fields[i]);

    /* ---- axes ---- */
    static const char *const cells0[] = {"c0", "c1", "c2", NULL};
    assert_labels(ds, "cells", 12, cells0);
    assert_int_equal(lstar_axis_labels(lstar_dataset_axis(ds, "cells"))->offsets[12], 26);
    static const char *const genes0[] = {"g0", "g1", NULL};
    assert_labels(ds, "genes", 8, genes0);
    static const char *const pca0[] = {"PC0", "PC1", "PC2", NULL};
    assert_labels(ds, "pca", 3, pca0);
    static const char *const ct[] = {"T", "B", "NK", NULL};
    assert_labels(ds, "celltype", 3, ct);
    const lstar_axis *a = lstar_dataset_axis(ds, "cells");
    assert_opt(lstar_axis_origin(a), "observed");
    assert_opt(lstar_axis_role(a), "observation");
    assert_null(lstar_axis_induced_by(a));
    assert_string_equal(lstar_axis_provenance(a), "{}");
    a = lstar_dataset_axis(ds, "pca");
    assert_opt(lstar_axis_origin(a), "derived");
    assert_opt(lstar_axis_role(a), "coordinate");
    assert_null(lstar_axis_induced_by(a));
    a = lstar_dataset_axis(ds, "celltype");
    assert_opt(lstar_axis_origin(a), "derived");
    assert_opt(lstar_axis_role(a), "factor");
    assert_opt(lstar_axis_induced_by(a), "celltype");

    /* ---- counts: csc measure, raw ---- */
    f = lstar_dataset_field(ds, "counts");
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSC);
    assert_opt(lstar_field_role(f), "measure");
    assert_opt(lstar_field_state(f), "raw");
    assert_int_equal(lstar_field_span_count(f), 2);
    assert_string_equal(lstar_field_span(f, 0), "cells");
    assert_string_equal(lstar_field_span(f, 1), "genes");
    assert_string_equal(lstar_field_coverage(f), "full");
    assert_null(lstar_field_index_axis(f));
    assert_null(lstar_field_subtype(f));
    assert_null(lstar_field_uncertainty(f));
    assert_int_equal(lstar_field_directed(f), LSTAR_UNSET);
    assert_int_equal(lstar_field_nullable(f), 0);
    assert_shape_attr(f, json_object_get(json_object_get(x, "counts"), "shape"));
    assert_int_equal(lstar_array_size(lstar_field_array(f, "data")), json_integer_value(json_object_get(json_object_get(x, "counts"), "nnz")));
    assert_int_equal(lstar_array_size(lstar_field_array(f, "indices")), 44);
    assert_int_equal(lstar_array_size(lstar_field_array(f, "indptr")), 9); /* csc: ncols + 1 */
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "data")), LSTAR_DTYPE_FLOAT32);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "indices")), LSTAR_DTYPE_INT32);
    assert_close4(sum_of(lstar_field_array(f, "data")), json_object_get(json_object_get(x, "counts"), "sum"));
    /* lazy: the matrix-sized arrays stay in the store */
    assert_string_equal(lstar_array_kind(lstar_field_array(f, "data")), "zarr");
    assert_non_null(lstar_array_zarr(lstar_field_array(f, "indptr")));

    /* ---- lognorm: csr ---- */
    f = lstar_dataset_field(ds, "lognorm");
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSR);
    assert_opt(lstar_field_state(f), "lognorm");
    assert_shape_attr(f, json_object_get(json_object_get(x, "lognorm"), "shape"));
    assert_int_equal(lstar_array_size(lstar_field_array(f, "data")), json_integer_value(json_object_get(json_object_get(x, "lognorm"), "nnz")));
    assert_int_equal(lstar_array_size(lstar_field_array(f, "indptr")), 13); /* csr: nrows + 1 */
    assert_close4(sum_of(lstar_field_array(f, "data")), json_object_get(json_object_get(x, "lognorm"), "sum"));

    /* ---- pca: dense embedding ---- */
    f = lstar_dataset_field(ds, "pca");
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_DENSE);
    assert_opt(lstar_field_role(f), "embedding");
    assert_null(lstar_field_state(f));
    const lstar_array *v = lstar_field_array(f, "values");
    const json_t *pshape = json_object_get(json_object_get(x, "pca"), "shape");
    assert_int_equal(lstar_array_rank(v), 2);
    assert_int_equal(lstar_array_shape(v)[0], json_integer_value(json_array_get(pshape, 0)));
    assert_int_equal(lstar_array_shape(v)[1], json_integer_value(json_array_get(pshape, 1)));
    assert_shape_attr(f, pshape);
    assert_close4(sum_of(v), json_object_get(json_object_get(x, "pca"), "sum"));

    /* ---- leiden: utf8 label ---- */
    f = lstar_dataset_field(ds, "leiden");
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_UTF8);
    assert_opt(lstar_field_role(f), "label");
    assert_strings_json(lstar_field_array(f, "values"), json_object_get(x, "leiden"));

    /* ---- celltype: categorical ---- */
    f = lstar_dataset_field(ds, "celltype");
    const json_t *xc = json_object_get(x, "celltype");
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CATEGORICAL);
    assert_opt(lstar_field_role(f), "label");
    assert_int_equal(lstar_field_ordered(f), json_is_true(json_object_get(xc, "ordered")) ? 1 : 0);
    assert_strings_json(lstar_field_array(f, "categories"), json_object_get(xc, "categories"));
    {
        const lstar_array *codes = lstar_field_array(f, "codes");
        assert_int_equal(lstar_array_dtype(codes), LSTAR_DTYPE_INT32);
        int64_t c[12];
        assert_int_equal(lstar_array_size(codes), json_array_size(json_object_get(xc, "codes")));
        assert_int_equal(lstar_array_read_1d_as(codes, 0, 12, LSTAR_DTYPE_INT64, c, NULL), LSTAR_OK);
        for (size_t i = 0; i < 12; i++) assert_int_equal(c[i], json_integer_value(json_array_get(json_object_get(xc, "codes"), i)));
    }

    /* ---- qc: nullable dense ---- */
    f = lstar_dataset_field(ds, "qc");
    assert_int_equal(lstar_field_nullable(f), 1);
    {
        const json_t *xq = json_object_get(x, "qc");
        uint8_t mask[12];
        uint64_t n;
        double *vals = read_f64(lstar_field_array(f, "values"), &n);
        assert_int_equal(n, 12);
        assert_int_equal(lstar_array_dtype(lstar_field_array(f, "mask")), LSTAR_DTYPE_UINT8);
        assert_int_equal(lstar_array_read_1d_as(lstar_field_array(f, "mask"), 0, 12, LSTAR_DTYPE_UINT8, mask, NULL),
                         LSTAR_OK);
        double present = 0;
        size_t nmiss = 0;
        const json_t *miss = json_object_get(xq, "missing_positions");
        for (size_t i = 0; i < 12; i++) {
            if (mask[i]) {
                assert_true(nmiss < json_array_size(miss));
                assert_int_equal(i, json_integer_value(json_array_get(miss, nmiss)));
                nmiss++;
            } else {
                present += vals[i];
            }
        }
        assert_int_equal(nmiss, json_array_size(miss));
        assert_close4(present, json_object_get(xq, "present_sum"));
        free(vals);
    }

    /* ---- adt: partial coverage ---- */
    f = lstar_dataset_field(ds, "adt");
    {
        const json_t *xa = json_object_get(x, "adt");
        assert_string_equal(lstar_field_coverage(f), "partial");
        assert_opt(lstar_field_index_axis(f), "cells");
        const lstar_array *idx = lstar_field_array(f, "index");
        assert_int_equal(lstar_array_dtype(idx), LSTAR_DTYPE_INT64);
        int64_t iv[6];
        assert_int_equal(lstar_array_size(idx), json_array_size(json_object_get(xa, "index")));
        assert_int_equal(lstar_array_read_1d_as(idx, 0, 6, LSTAR_DTYPE_INT64, iv, NULL), LSTAR_OK);
        for (size_t i = 0; i < 6; i++) assert_int_equal(iv[i], json_integer_value(json_array_get(json_object_get(xa, "index"), i)));
        assert_close4(sum_of(lstar_field_array(f, "values")), json_object_get(xa, "sum"));
        uint64_t dims[2];
        assert_int_equal(lstar_field_shape(f, dims, 2), 1);
        assert_int_equal(dims[0], 6);
    }

    /* ---- knn: relation with the non-core role "graph" ---- */
    f = lstar_dataset_field(ds, "knn");
    {
        const json_t *xk = json_object_get(x, "knn");
        assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSR);
        assert_opt(lstar_field_role(f), "graph");
        assert_string_equal(lstar_field_span(f, 0), "cells");
        assert_string_equal(lstar_field_span(f, 1), "cells");
        assert_int_equal(lstar_field_directed(f), json_is_true(json_object_get(xk, "directed")) ? 1 : 0);
        assert_int_equal(lstar_field_weighted(f), json_is_true(json_object_get(xk, "weighted")) ? 1 : 0);
        assert_int_equal(lstar_array_size(lstar_field_array(f, "data")), json_integer_value(json_object_get(xk, "nnz")));
        uint64_t dims[2];
        assert_int_equal(lstar_field_shape(f, dims, 2), 2);
        assert_int_equal(dims[0], 12);
        assert_int_equal(dims[1], 12);
    }

    /* ---- passthrough anndata.uns ---- */
    assert_int_equal(lstar_dataset_passthrough_count(ds), 1);
    const lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(p);
    {
        const json_t *xa = json_object_get(x, "aux");
        json_error_t je;
        json_t *tree = json_loads(lstar_passthrough_tree(p), 0, &je);
        assert_non_null(tree);
        json_t *top = json_object_get(tree, "$obj");
        json_t *params = json_object_get(json_object_get(top, "params"), "$obj");
        assert_int_equal(json_integer_value(json_object_get(params, "n_pca")), json_integer_value(json_object_get(xa, "n_pca")));
        assert_string_equal(json_string_value(json_object_get(params, "method")), "leiden");
        json_t *names = json_object_get(json_object_get(top, "names"), "$list");
        assert_true(json_equal(names, json_object_get(xa, "names")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(top, "scores"), "$array")), "a0");
        /* the tree is kept verbatim (key order of the writer) */
        assert_non_null(strstr(lstar_passthrough_tree(p), "{\"$obj\": {\"params\""));
        json_decref(tree);
        assert_int_equal(lstar_passthrough_leaf_count(p), 1);
        assert_string_equal(lstar_passthrough_leaf_id(p, 0), "a0");
        assert_string_equal(lstar_passthrough_leaf_kind(p, 0), "dense");
        const lstar_array *a0 = lstar_passthrough_leaf(p, 0);
        assert_int_equal(lstar_array_dtype(a0), LSTAR_DTYPE_FLOAT64);
        uint64_t n;
        double *vals = read_f64(a0, &n);
        assert_int_equal(n, 4);
        for (uint64_t i = 0; i < 4; i++) assert_true(vals[i] == (double)i); /* arange(4) */
        free(vals);
    }

    /* ---- validation ---- */
    lstar_findings *fi = NULL;
    assert_int_equal(lstar_dataset_validate(ds, &fi, NULL), LSTAR_OK);
    for (size_t i = 0; i < lstar_findings_count(fi); i++) {
        const lstar_finding *e = lstar_findings_at(fi, i);
        if (e->severity == LSTAR_SEVERITY_ERROR) fprintf(stderr, "finding %s %s: %s\n", e->code, e->where, e->message);
    }
    assert_int_equal(lstar_findings_errors(fi), 0);
    lstar_findings_free(fi);
}

static void test_golden_v2(void **state) {
    (void)state;
    lstar_dataset *ds = open_store("golden_v2.lstar.zarr");
    check_golden(ds);
    lstar_dataset_free(ds);
}

static void test_golden_v3(void **state) {
    (void)state;
    lstar_dataset *ds = open_store("golden_v3.lstar.zarr");
    check_golden(ds);
    lstar_dataset_free(ds);
}

/* Store detection: both fixtures are L★ roots, a plain sub-group is not. */
static void test_golden_is_lstar(void **state) {
    (void)state;
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_open(FIXTURES "/golden_v2.lstar.zarr", LSTAR_STORE_READ, &s, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_is_lstar(s), 1);
    lstar_store_close(s);
    assert_int_equal(lstar_store_open(FIXTURES "/golden_v3.lstar.zarr", LSTAR_STORE_READ, &s, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_is_lstar(s), 1);
    lstar_store_close(s);
    assert_int_equal(lstar_store_open(FIXTURES "/golden_v2.lstar.zarr/fields", LSTAR_STORE_READ, &s, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_is_lstar(s), 0);
    lstar_store_close(s);
}

/* Both fixtures hold the same dataset. */
static void test_golden_v2_equals_v3(void **state) {
    (void)state;
    lstar_dataset *a = open_store("golden_v2.lstar.zarr");
    lstar_dataset *b = open_store("golden_v3.lstar.zarr");
    for (size_t i = 0; i < lstar_dataset_field_count(a); i++) {
        const lstar_field *fa = lstar_dataset_field_at(a, i);
        const lstar_field *fb = lstar_dataset_field_at(b, i);
        assert_string_equal(lstar_field_name(fa), lstar_field_name(fb));
        assert_int_equal(lstar_field_encoding(fa), lstar_field_encoding(fb));
        const char *const *names = lstar_encoding_arrays(lstar_field_encoding(fa));
        for (size_t k = 0; names[k]; k++) {
            const lstar_array *x = lstar_field_array(fa, names[k]), *y = lstar_field_array(fb, names[k]);
            assert_int_equal(lstar_array_dtype(x), lstar_array_dtype(y));
            assert_int_equal(lstar_array_size(x), lstar_array_size(y));
            if (lstar_array_dtype(x) == LSTAR_DTYPE_STRING) {
                lstar_strings sx, sy;
                assert_int_equal(lstar_array_read_strings(x, 0, lstar_array_size(x), &sx, NULL), LSTAR_OK);
                assert_int_equal(lstar_array_read_strings(y, 0, lstar_array_size(y), &sy, NULL), LSTAR_OK);
                assert_true(lstar_strings_equal(&sx, &sy));
                lstar_strings_destroy(&sx);
                lstar_strings_destroy(&sy);
            } else {
                uint64_t nx, ny;
                double *vx = read_f64(x, &nx), *vy = read_f64(y, &ny);
                assert_int_equal(nx, ny);
                assert_memory_equal(vx, vy, nx * sizeof(double));
                free(vx);
                free(vy);
            }
        }
    }
    lstar_dataset_free(a);
    lstar_dataset_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_v2),
        cmocka_unit_test(test_golden_v3),
        cmocka_unit_test(test_golden_is_lstar),
        cmocka_unit_test(test_golden_v2_equals_v3),
    };
    return cmocka_run_group_tests(tests, load_expected, free_expected);
}
