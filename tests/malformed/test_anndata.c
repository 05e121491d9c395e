/* Malformed AnnData input: one test per hostile-input defect.  Each must fail
 * with a clear status and an error naming the element path, without crashing
 * or leaking (run under the sanitizer build too).  Fixtures are built with the
 * node layer's write operations, as h5ad and as anndata-zarr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "anndata/ad_node.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/sparse.h"

#define EXAMPLE LSTAR_SHARED_DATA "/scverse_anndataR/inst/extdata/example.h5ad"

enum {
    F_NO_OBS = 1 << 0,
    F_INDPTR_LEN = 1 << 1,
    F_NONMONOTONE = 1 << 2,
    F_OBSM_ROWS = 1 << 3,
    F_UNKNOWN_ENC = 1 << 4,
    F_NO_INDEX_ATTR = 1 << 5,
    F_NO_ORDERED = 1 << 6,
    F_NO_SHAPE = 1 << 7,
    F_CODES_LEN = 1 << 8,
    F_INDPTR_END = 1 << 9,
    F_X_SHAPE = 1 << 10,
    F_NO_INDICES = 1 << 11,
    F_COLUMN_MISSING = 1 << 12
};

#define OKW(call) assert_int_equal((call), LSTAR_OK)

static void write_i32(ad_container *c, const char *path, const int32_t *v, uint64_t n) {
    ad_array_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT32;
    sp.rank = 1;
    sp.shape[0] = n;
    OKW(ad_write_array(c, path, &sp, v, NULL));
}

static void write_strs(ad_container *c, const char *path, const char *const *items, size_t n) {
    lstar_strings s;
    ad_array_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.rank = 1;
    sp.shape[0] = n;
    OKW(lstar_strings_from_cstrs(&s, items, n, NULL));
    OKW(ad_write_strings(c, path, &sp, &s, NULL));
    OKW(ad_write_encoding(c, path, "string-array", "0.2.0", NULL));
    lstar_strings_destroy(&s);
}

static void write_df(ad_container *c, const char *path, const char *const *index, size_t n, const char *const *cols,
                     size_t ncols, unsigned flags) {
    lstar_strings co;
    OKW(ad_create_group(c, path, NULL));
    OKW(ad_write_encoding(c, path, "dataframe", "0.2.0", NULL));
    if (!(flags & F_NO_INDEX_ATTR)) OKW(ad_write_attr_string(c, path, "_index", "_index", NULL));
    OKW(lstar_strings_from_cstrs(&co, cols, ncols, NULL));
    OKW(ad_write_attr_strings(c, path, "column-order", &co, NULL));
    lstar_strings_destroy(&co);
    char p[256];
    snprintf(p, sizeof p, "%s/_index", path);
    write_strs(c, p, index, n);
}

/* A 3 x 2 AnnData with a csr X, a categorical obs column and obsm/X_pca, with defects per `flags`. */
static void build(lstar_anndata_format fmt, const char *path, unsigned flags) {
    static const char *const cells[3] = {"c0", "c1", "c2"};
    static const char *const genes[2] = {"g0", "g1"};
    static const char *const cats[2] = {"A", "B"};
    static const char *const cat_col[1] = {"cat"};
    ad_container *c = NULL;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    OKW(ad_container_create(path, fmt, &c, NULL));
    OKW(ad_write_encoding(c, "", "anndata", "0.1.0", NULL));
    if (!(flags & F_NO_OBS)) {
        write_df(c, "obs", cells, 3, cat_col, 1, flags);
        if (!(flags & F_COLUMN_MISSING)) {
            OKW(ad_create_group(c, "obs/cat", NULL));
            OKW(ad_write_encoding(c, "obs/cat", (flags & F_UNKNOWN_ENC) ? "fancy-array" : "categorical", "0.2.0", NULL));
            if (!(flags & F_NO_ORDERED)) OKW(ad_write_attr_bool(c, "obs/cat", "ordered", 0, NULL));
            int32_t codes[3] = {0, 1, -1};
            write_i32(c, "obs/cat/codes", codes, (flags & F_CODES_LEN) ? 2 : 3);
            write_strs(c, "obs/cat/categories", cats, 2);
        }
    }
    write_df(c, "var", genes, 2, NULL, 0, 0);
    OKW(ad_create_group(c, "X", NULL));
    OKW(ad_write_encoding(c, "X", "csr_matrix", "0.1.0", NULL));
    int64_t shape[2] = {3, (flags & F_X_SHAPE) ? 5 : 2};
    if (!(flags & F_NO_SHAPE)) OKW(ad_write_attr_i64(c, "X", "shape", shape, 2, 1, NULL));
    ad_array_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT32;
    sp.rank = 1;
    sp.shape[0] = 3;
    float data[3] = {1, 2, 3};
    OKW(ad_write_array(c, "X/data", &sp, data, NULL));
    int32_t indices[3] = {0, 1, 1};
    if (!(flags & F_NO_INDICES)) write_i32(c, "X/indices", indices, 3);
    int32_t indptr[4] = {0, 1, 2, 3};
    if (flags & F_NONMONOTONE) indptr[1] = 3, indptr[2] = 1;
    if (flags & F_INDPTR_END) indptr[3] = 5;
    write_i32(c, "X/indptr", indptr, (flags & F_INDPTR_LEN) ? 3 : 4);
    OKW(ad_create_group(c, "obsm", NULL));
    OKW(ad_write_encoding(c, "obsm", "dict", "0.1.0", NULL));
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT64;
    sp.rank = 2;
    sp.shape[0] = (flags & F_OBSM_ROWS) ? 2 : 3;
    sp.shape[1] = 2;
    double pcs[6] = {1, 2, 3, 4, 5, 6};
    OKW(ad_write_array(c, "obsm/X_pca", &sp, pcs, NULL));
    OKW(ad_write_encoding(c, "obsm/X_pca", "array", "0.2.0", NULL));
    OKW(ad_flush(c, NULL));
    ad_container_close(c);
}

static const char *tmp_path(lstar_anndata_format fmt, const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/mal_%s.%s", LSTAR_TEST_TMP, name, fmt == LSTAR_ANNDATA_H5AD ? "h5ad" : "zarr");
    return buf;
}

/* Build with `flags` in both formats and expect `want` with `where` containing `in_where`
 * and the message containing `in_msg`. */
static void expect_failure(const char *name, unsigned flags, lstar_status want, const char *in_where,
                           const char *in_msg) {
    lstar_anndata_format fmts[2] = {LSTAR_ANNDATA_H5AD, LSTAR_ANNDATA_ZARR_V2};
    for (int i = 0; i < 2; i++) {
        char path[512];
        tmp_path(fmts[i], name, path, sizeof path);
        build(fmts[i], path, flags);
        lstar_dataset *ds = NULL;
        lstar_error e;
        memset(&e, 0, sizeof e);
        lstar_status st = lstar_anndata_read(path, NULL, &ds, &e);
        if (st != want || !strstr(e.where, in_where) || (in_msg && !strstr(e.message, in_msg)))
            print_message("%s (%s): got %s where '%s': %s\n", name, lstar_anndata_format_name(fmts[i]),
                          lstar_status_name(st), e.where, e.message);
        assert_int_equal(st, want);
        assert_null(ds);
        assert_non_null(strstr(e.where, in_where));
        if (in_msg) assert_non_null(strstr(e.message, in_msg));
    }
}

static void test_fixture_is_valid(void **state) {
    (void)state;
    lstar_anndata_format fmts[2] = {LSTAR_ANNDATA_H5AD, LSTAR_ANNDATA_ZARR_V2};
    for (int i = 0; i < 2; i++) {
        char path[512];
        tmp_path(fmts[i], "ok", path, sizeof path);
        build(fmts[i], path, 0);
        lstar_dataset *ds = NULL;
        lstar_error e;
        memset(&e, 0, sizeof e);
        assert_int_equal(lstar_anndata_read(path, NULL, &ds, &e), LSTAR_OK);
        assert_non_null(lstar_dataset_field(ds, "cat"));
        assert_non_null(lstar_dataset_field(ds, "pca"));
        lstar_dataset_free(ds);
    }
}

static void test_missing_obs(void **state) {
    (void)state;
    expect_failure("no_obs", F_NO_OBS, LSTAR_ERR_FORMAT, "obs", "missing");
}

static void test_shape_attr_vs_indptr_length(void **state) {
    (void)state;
    expect_failure("indptr_len", F_INDPTR_LEN, LSTAR_ERR_SHAPE, "X", "indptr of 4 entries");
}

static void test_indptr_end_vs_nnz(void **state) {
    (void)state;
    expect_failure("indptr_end", F_INDPTR_END, LSTAR_ERR_CORRUPT, "X", "indptr runs from 0 to 5");
}

static void test_x_shape_vs_axes(void **state) {
    (void)state;
    /* shape [3, 5] is self-consistent (indptr 4) but var has 2 names */
    expect_failure("x_shape", F_X_SHAPE, LSTAR_ERR_SHAPE, "X", "expected [3, 2]");
}

static void test_obsm_rows(void **state) {
    (void)state;
    expect_failure("obsm_rows", F_OBSM_ROWS, LSTAR_ERR_SHAPE, "obsm/X_pca", "expected 3");
}

static void test_unknown_encoding(void **state) {
    (void)state;
    expect_failure("unknown_enc", F_UNKNOWN_ENC, LSTAR_ERR_UNSUPPORTED, "obs/cat", "'fancy-array'");
}

static void test_missing_index_attr(void **state) {
    (void)state;
    expect_failure("no_index", F_NO_INDEX_ATTR, LSTAR_ERR_FORMAT, "obs", "'_index'");
}

static void test_missing_ordered_attr(void **state) {
    (void)state;
    expect_failure("no_ordered", F_NO_ORDERED, LSTAR_ERR_FORMAT, "obs/cat", "'ordered'");
}

static void test_missing_shape_attr(void **state) {
    (void)state;
    expect_failure("no_shape", F_NO_SHAPE, LSTAR_ERR_FORMAT, "X", "'shape'");
}

static void test_codes_length(void **state) {
    (void)state;
    expect_failure("codes_len", F_CODES_LEN, LSTAR_ERR_SHAPE, "obs/cat/codes", "expected 3");
}

static void test_missing_indices(void **state) {
    (void)state;
    expect_failure("no_indices", F_NO_INDICES, LSTAR_ERR_FORMAT, "X/indices", "no 'indices'");
}

static void test_listed_column_missing(void **state) {
    (void)state;
    expect_failure("col_missing", F_COLUMN_MISSING, LSTAR_ERR_FORMAT, "obs/cat", "column-order");
}

/* indptr not monotone passes the read-time checks (first/last entries are
 * right); the sparse iterator catches it lazily. */
static void test_indptr_not_monotone_lazy(void **state) {
    (void)state;
    char path[512];
    tmp_path(LSTAR_ANNDATA_H5AD, "nonmono", path, sizeof path);
    build(LSTAR_ANNDATA_H5AD, path, F_NONMONOTONE);
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(lstar_anndata_read(path, NULL, &ds, &e), LSTAR_OK);
    lstar_field *x = lstar_dataset_field(ds, "X");
    lstar_sparse_iter *it = NULL;
    assert_int_equal(lstar_sparse_iter_new(lstar_field_array(x, "data"), lstar_field_array(x, "indices"),
                                           lstar_field_array(x, "indptr"), 3, 2, 0, &it, &e),
                     LSTAR_OK);
    lstar_sparse_block blk;
    int done = 0;
    lstar_status st = LSTAR_OK;
    while (st == LSTAR_OK && !done) st = lstar_sparse_iter_next(it, &blk, &done, &e);
    assert_int_equal(st, LSTAR_ERR_CORRUPT);
    lstar_sparse_iter_free(it);
    lstar_dataset_free(ds);
}

static void test_truncated_h5ad(void **state) {
    (void)state;
    if (access(EXAMPLE, R_OK) != 0) skip();
    FILE *in = fopen(EXAMPLE, "rb");
    assert_non_null(in);
    static unsigned char buf[200000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    assert_true(n > 100000);
    const size_t cuts[3] = {100, 4096, 100000};
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/mal_trunc_%d.h5ad", LSTAR_TEST_TMP, i);
        FILE *out = fopen(path, "wb");
        assert_non_null(out);
        assert_int_equal(fwrite(buf, 1, cuts[i], out), cuts[i]);
        fclose(out);
        lstar_dataset *ds = NULL;
        lstar_error e;
        memset(&e, 0, sizeof e);
        lstar_status st = lstar_anndata_read(path, NULL, &ds, &e);
        assert_int_not_equal(st, LSTAR_OK);
        assert_null(ds);
        assert_true(e.where[0] != 0);
    }
}

static void test_not_anndata(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/mal_text.h5ad", LSTAR_TEST_TMP);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    fputs("this is not an h5ad file\n", out);
    fclose(out);
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(lstar_anndata_read(path, NULL, &ds, &e), LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, path);
    assert_int_equal(lstar_anndata_read(LSTAR_TEST_TMP "/does-not-exist.h5ad", NULL, &ds, &e), LSTAR_ERR_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_is_valid),
        cmocka_unit_test(test_missing_obs),
        cmocka_unit_test(test_shape_attr_vs_indptr_length),
        cmocka_unit_test(test_indptr_end_vs_nnz),
        cmocka_unit_test(test_x_shape_vs_axes),
        cmocka_unit_test(test_obsm_rows),
        cmocka_unit_test(test_unknown_encoding),
        cmocka_unit_test(test_missing_index_attr),
        cmocka_unit_test(test_missing_ordered_attr),
        cmocka_unit_test(test_missing_shape_attr),
        cmocka_unit_test(test_codes_length),
        cmocka_unit_test(test_missing_indices),
        cmocka_unit_test(test_listed_column_missing),
        cmocka_unit_test(test_indptr_not_monotone_lazy),
        cmocka_unit_test(test_truncated_h5ad),
        cmocka_unit_test(test_not_anndata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
