/* Malformed datasets given to the AnnData writer: one test per defect.  Each
 * must fail with a clear status and an error naming the element, leave
 * nothing at the destination (and no temporary file or directory next to
 * it), for h5ad and for anndata-zarr.  Collections: a corrupt per-sample
 * measure fails the union X naming it.  Run under the sanitizer build too. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/array.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/store.h"
#include "lstar/zarr.h"

#define TMP LSTAR_TEST_TMP
#define OK(call) assert_int_equal((call), LSTAR_OK)

enum defect {
    D_NONE,
    D_INDPTR_NONMONOTONE,
    D_INDICES_RANGE,
    D_INDPTR_END,
    D_INDPTR_LEN,
    D_CODES_RANGE,
    D_PARTIAL_INDEX,
    D_MISSING_LEAF,
    D_BAD_TREE,
    D_COLUMN_LEN,
    /* collections: the union X assembled from the per-sample measures */
    D_COLL_CSR_INDICES,
    D_COLL_CSR_INDPTR,
    D_COLL_CSC_INDICES,
    D_COLL_GENE_DUP
};

static void add_axis(lstar_dataset *ds, const char *name, const char *const *labels, size_t n) {
    lstar_strings s;
    lstar_axis *a = NULL;
    OK(lstar_strings_from_cstrs(&s, labels, n, NULL));
    OK(lstar_dataset_add_axis(ds, name, &s, &a, NULL));
}

static void set_arr(lstar_field *f, const char *name, lstar_dtype dt, uint64_t n, const void *data) {
    lstar_array *a = NULL;
    OK(lstar_array_new_copy(dt, 1, &n, data, &a, NULL));
    OK(lstar_field_set_array(f, name, a, NULL));
}

/* 4 cells x 3 genes; X csr; the defect decides what is broken. */
static lstar_dataset *build(enum defect d) {
    static const char *const C[4] = {"c0", "c1", "c2", "c3"};
    static const char *const G[3] = {"g0", "g1", "g2"};
    lstar_dataset *ds = NULL;
    lstar_field *f = NULL;
    OK(lstar_dataset_new(&ds, NULL));
    add_axis(ds, "cells", C, 4);
    add_axis(ds, "genes", G, 3);
    const char *span[2] = {"cells", "genes"};
    OK(lstar_dataset_add_field(ds, "X", LSTAR_ENC_CSR, 2, span, &f, NULL));
    OK(lstar_field_set_role(f, "measure", NULL));
    float data[5] = {1, 2, 3, 4, 5};
    int32_t indices[5] = {0, 2, 1, 0, 2};
    int32_t indptr[5] = {0, 2, 3, 3, 5};
    uint64_t np = 5;
    if (d == D_INDPTR_NONMONOTONE) indptr[2] = 1; /* 0 2 1 3 5 */
    if (d == D_INDICES_RANGE) indices[3] = 7;     /* genes has 3 */
    if (d == D_INDPTR_END) indptr[4] = 4;         /* != nnz */
    if (d == D_INDPTR_LEN) np = 4;                /* != rows + 1 */
    set_arr(f, "data", LSTAR_DTYPE_FLOAT32, 5, data);
    set_arr(f, "indices", LSTAR_DTYPE_INT32, 5, indices);
    set_arr(f, "indptr", LSTAR_DTYPE_INT32, np, indptr);
    uint64_t shape[2] = {4, 3};
    OK(lstar_field_set_shape(f, 2, shape, NULL));
    if (d == D_CODES_RANGE) {
        static const char *const K[2] = {"a", "b"};
        const char *c = "cells";
        int32_t codes[4] = {0, 1, 5, -1};
        lstar_strings s;
        lstar_array *a = NULL;
        OK(lstar_dataset_add_field(ds, "cat", LSTAR_ENC_CATEGORICAL, 1, &c, &f, NULL));
        OK(lstar_field_set_role(f, "label", NULL));
        set_arr(f, "codes", LSTAR_DTYPE_INT32, 4, codes);
        OK(lstar_strings_from_cstrs(&s, K, 2, NULL));
        OK(lstar_array_new_strings(&s, &a, NULL));
        OK(lstar_field_set_array(f, "categories", a, NULL));
    }
    if (d == D_PARTIAL_INDEX) {
        const char *c = "cells";
        double v[2] = {1, 2};
        int64_t ix[2] = {0, 9};
        OK(lstar_dataset_add_field(ds, "adt", LSTAR_ENC_DENSE, 1, &c, &f, NULL));
        OK(lstar_field_set_role(f, "measure", NULL));
        set_arr(f, "values", LSTAR_DTYPE_FLOAT64, 2, v);
        set_arr(f, "index", LSTAR_DTYPE_INT64, 2, ix);
        OK(lstar_field_set_index_axis(f, "cells", NULL));
    }
    if (d == D_COLUMN_LEN) {
        const char *c = "cells";
        double v[3] = {1, 2, 3};
        OK(lstar_dataset_add_field(ds, "short", LSTAR_ENC_DENSE, 1, &c, &f, NULL));
        OK(lstar_field_set_role(f, "measure", NULL));
        set_arr(f, "values", LSTAR_DTYPE_FLOAT64, 3, v);
    }
    if (d == D_MISSING_LEAF || d == D_BAD_TREE) {
        lstar_passthrough *pt = NULL;
        OK(lstar_dataset_add_passthrough(ds, "anndata.uns",
                                         d == D_MISSING_LEAF ? "{\"$obj\": {\"x\": {\"$array\": \"a7\"}}}"
                                                             : "{\"$list\": [1, 2]}",
                                         &pt, NULL));
    }
    return ds;
}

static lstar_field *coll_measure(lstar_dataset *ds, const char *name, lstar_encoding enc, const char *s0,
                                 const char *s1, uint64_t r, uint64_t c, const float *data, const int32_t *indices,
                                 uint64_t nnz, const int32_t *indptr, uint64_t np) {
    lstar_field *f = NULL;
    const char *span[2] = {s0, s1};
    uint64_t shape[2] = {r, c};
    OK(lstar_dataset_add_field(ds, name, enc, 2, span, &f, NULL));
    OK(lstar_field_set_role(f, "measure", NULL));
    OK(lstar_field_set_state(f, "raw", NULL));
    set_arr(f, "data", LSTAR_DTYPE_FLOAT32, nnz, data);
    set_arr(f, "indices", LSTAR_DTYPE_INT32, nnz, indices);
    set_arr(f, "indptr", LSTAR_DTYPE_INT32, np, indptr);
    OK(lstar_field_set_shape(f, 2, shape, NULL));
    return f;
}

/* A collection: sample a (3 cells, CSR over g0 g1 g2), sample b (2 cells, CSC over g2 g3), union cells. */
static lstar_dataset *build_coll(enum defect d) {
    static const char *const CA[3] = {"a0", "a1", "a2"}, *const GA[3] = {"g0", "g1", "g2"};
    static const char *const CB[2] = {"b0", "b1"}, *const GB[2] = {"g2", "g3"}, *const GD[2] = {"g2", "g2"};
    static const char *const U[5] = {"a0", "a1", "a2", "b0", "b1"};
    lstar_dataset *ds = NULL;
    OK(lstar_dataset_new(&ds, NULL));
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    add_axis(ds, "cells.a", CA, 3);
    add_axis(ds, "genes.a", GA, 3);
    add_axis(ds, "cells.b", CB, 2);
    add_axis(ds, "genes.b", d == D_COLL_GENE_DUP ? GD : GB, 2);
    add_axis(ds, "cells", U, 5);
    float da[5] = {1, 2, 3, 4, 5}, db[3] = {6, 7, 8};
    int32_t ia[5] = {0, 2, 1, 0, 2}, pa[4] = {0, 2, 3, 5};
    int32_t ib[3] = {0, 1, 1}, pb[3] = {0, 2, 3};
    if (d == D_COLL_CSR_INDICES) ia[3] = 7; /* genes.a has 3 */
    if (d == D_COLL_CSR_INDPTR) pa[2] = 1;  /* 0 2 1 5 */
    if (d == D_COLL_CSC_INDICES) ib[1] = 5; /* cells.b has 2 */
    coll_measure(ds, "counts.a", LSTAR_ENC_CSR, "cells.a", "genes.a", 3, 3, da, ia, 5, pa, 4);
    coll_measure(ds, "counts.b", LSTAR_ENC_CSC, "cells.b", "genes.b", 2, 2, db, ib, 3, pb, 3);
    return ds;
}

static int leftovers(const char *name) {
    DIR *dir = opendir(TMP);
    struct dirent *e;
    int n = 0;
    while (dir && (e = readdir(dir)) != NULL) n += strncmp(e->d_name, name, strlen(name)) == 0;
    if (dir) closedir(dir);
    return n;
}

static void expect(enum defect d, lstar_status want, const char *where_has, const char *msg_has) {
    static const lstar_anndata_format fmts[3] = {LSTAR_ANNDATA_H5AD, LSTAR_ANNDATA_ZARR_V2, LSTAR_ANNDATA_ZARR_V3};
    static const char *const names[3] = {"mal_w.h5ad", "mal_w2.zarr", "mal_w3.zarr"};
    for (int i = 0; i < 3; i++) {
        char path[1024];
        lstar_dataset *ds = d >= D_COLL_CSR_INDICES ? build_coll(d) : build(d);
        lstar_anndata_write_options o;
        lstar_error e;
        memset(&e, 0, sizeof e);
        snprintf(path, sizeof path, "%s/%s", TMP, names[i]);
        lstar_anndata_write_options_init(&o);
        o.format = fmts[i];
        o.chunk_elems = 2; /* the defect is met after some blocks were written */
        o.threads = 2;
        lstar_status st = lstar_anndata_write(ds, path, &o, &e);
        print_message("%s: %s %s: %s\n", names[i], lstar_status_name(st), e.where, e.message);
        assert_int_equal(st, want);
        assert_int_equal(e.status, want);
        assert_non_null(strstr(e.where, where_has));
        if (msg_has) assert_non_null(strstr(e.message, msg_has));
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(leftovers(names[i]), 0);
        lstar_dataset_free(ds);
    }
}

static void test_collection_member_indices(void **state) {
    (void)state;
    expect(D_COLL_CSR_INDICES, LSTAR_ERR_CORRUPT, "counts.a/indices", "index 7");
}

static void test_collection_member_indptr(void **state) {
    (void)state;
    expect(D_COLL_CSR_INDPTR, LSTAR_ERR_CORRUPT, "counts.a/indptr", "decreasing");
}

static void test_collection_csc_member_indices(void **state) {
    (void)state;
    expect(D_COLL_CSC_INDICES, LSTAR_ERR_CORRUPT, "counts.b/indices", NULL);
}

static void test_collection_gene_label_twice(void **state) {
    (void)state;
    expect(D_COLL_GENE_DUP, LSTAR_ERR_FORMAT, "genes.b", "g2");
}

static void test_indptr_not_monotone(void **state) {
    (void)state;
    expect(D_INDPTR_NONMONOTONE, LSTAR_ERR_CORRUPT, "X", NULL);
}

static void test_indices_out_of_range(void **state) {
    (void)state;
    expect(D_INDICES_RANGE, LSTAR_ERR_CORRUPT, "X", NULL);
}

static void test_indptr_end_not_nnz(void **state) {
    (void)state;
    expect(D_INDPTR_END, LSTAR_ERR_CORRUPT, "X", NULL);
}

static void test_indptr_length(void **state) {
    (void)state;
    expect(D_INDPTR_LEN, LSTAR_ERR_CORRUPT, "X", NULL);
}

static void test_categorical_code_out_of_range(void **state) {
    (void)state;
    expect(D_CODES_RANGE, LSTAR_ERR_CORRUPT, "cat", "code 5");
}

static void test_partial_index_out_of_range(void **state) {
    (void)state;
    expect(D_PARTIAL_INDEX, LSTAR_ERR_CORRUPT, "adt", "out of range");
}

static void test_passthrough_leaf_missing(void **state) {
    (void)state;
    expect(D_MISSING_LEAF, LSTAR_ERR_FORMAT, "uns/x", "a7");
}

static void test_passthrough_tree_not_obj(void **state) {
    (void)state;
    expect(D_BAD_TREE, LSTAR_ERR_FORMAT, "anndata.uns", "$obj");
}

static void test_column_length(void **state) {
    (void)state;
    expect(D_COLUMN_LEN, LSTAR_ERR_SHAPE, "short", "expected 4");
}

/* Zarr-backed sparse X whose data chunks are copied verbatim into h5ad: the
 * indices are still validated (an index out of range written into the L★
 * store behind the writer's back fails the write, leaving nothing). */
static void test_indices_out_of_range_chunk_copy(void **state) {
    (void)state;
    char store[1024], path[1024];
    lstar_dataset *ds = build(D_NONE), *lz = NULL;
    snprintf(store, sizeof store, "%s/mal_cc.lstar.zarr", TMP);
    snprintf(path, sizeof path, "%s/mal_cc.h5ad", TMP);
    lstar_write_options wo;
    lstar_write_options_init(&wo);
    wo.compression = "zlib:1";
    wo.overwrite = 1;
    OK(lstar_dataset_write(ds, store, &wo, NULL));
    /* corrupt fields/X/indices in place */
    lstar_store *st = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *za = NULL;
    OK(lstar_store_open_dir(store, LSTAR_STORE_READ | LSTAR_STORE_WRITE, &st, NULL));
    OK(lstar_zarr_open(st, &z, NULL));
    OK(lstar_zarr_array_open(z, "fields/X/indices", &za, NULL));
    int32_t bad[5] = {0, 2, 1, 9, 2};
    uint64_t c0[1] = {0};
    assert_int_equal(lstar_zarr_array_chunks(za)[0], 5);
    OK(lstar_zarr_array_write_chunk(za, c0, bad, NULL));
    lstar_zarr_array_close(za);
    lstar_zarr_close(z);
    lstar_store_close(st);
    OK(lstar_dataset_read(store, &lz, NULL));
    lstar_anndata_write_options o;
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_anndata_write_options_init(&o);
    o.compression = "gzip";
    lstar_status rc = lstar_anndata_write(lz, path, &o, &e);
    print_message("%s %s: %s\n", lstar_status_name(rc), e.where, e.message);
    assert_int_equal(rc, LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.where, "X"));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(leftovers("mal_cc.h5ad"), 0);
    lstar_dataset_free(lz);
    lstar_dataset_free(ds);
}

int main(void) {
    mkdir(TMP, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indptr_not_monotone),
        cmocka_unit_test(test_collection_member_indices),
        cmocka_unit_test(test_collection_member_indptr),
        cmocka_unit_test(test_collection_csc_member_indices),
        cmocka_unit_test(test_collection_gene_label_twice),
        cmocka_unit_test(test_indices_out_of_range),
        cmocka_unit_test(test_indptr_end_not_nnz),
        cmocka_unit_test(test_indptr_length),
        cmocka_unit_test(test_categorical_code_out_of_range),
        cmocka_unit_test(test_partial_index_out_of_range),
        cmocka_unit_test(test_passthrough_leaf_missing),
        cmocka_unit_test(test_passthrough_tree_not_obj),
        cmocka_unit_test(test_column_length),
        cmocka_unit_test(test_indices_out_of_range_chunk_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
