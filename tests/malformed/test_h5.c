/* Hostile input for the HDF5 backend: one test per defect.  Every case must
 * fail with a clear lstar_error (status, where, message), never crash,
 * never print, never leak (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/array.h"
#include "lstar/h5.h"

#define PBMC LSTAR_SHARED_DATA "/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad"
#define V070 LSTAR_SHARED_DATA "/scverse_anndata/tests/data/archives/v0.7.0/adata.h5ad"

#define OK OKE
#define E (&e_)

/* Copy the first `n` bytes of `src` to `dst`. */
static void copy_prefix(const char *src, const char *dst, long n) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    long left = n;
    while (left > 0) {
        size_t want = left < (long)sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, in);
        if (got == 0) break;
        fwrite(buf, 1, got, out);
        left -= (long)got;
    }
    fclose(in);
    fclose(out);
}

static void test_truncated_h5ad(void **state) {
    (void)state;
    lt_need(PBMC);
    const char *path = LSTAR_TEST_TMP "/h5_truncated.h5ad";
    const long cuts[3] = {200000, 4096, 100};
    for (int i = 0; i < 3; i++) {
        copy_prefix(PBMC, path, cuts[i]);
        lstar_h5_file *f = NULL;
        lstar_error e;
        lstar_error_clear(&e);
        lstar_status st = lstar_h5_open(path, LSTAR_H5_READ, &f, &e);
        assert_null(f);
        if (cuts[i] >= 4096) {
            assert_int_equal(st, LSTAR_ERR_CORRUPT);
            assert_non_null(strstr(e.message, "truncated"));
        } else {
            /* 100 bytes do not even hold a whole superblock */
            assert_true(st == LSTAR_ERR_CORRUPT || st == LSTAR_ERR_FORMAT);
        }
        assert_string_equal(e.where, path);
        assert_non_null(strstr(e.message, "HDF5: "));
    }
}

static void test_not_hdf5(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_not_hdf5.h5ad";
    lt_write_text(path, "this is not an HDF5 file, just some text that is long enough to look like data\n");
    lstar_h5_file *f = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_open(path, LSTAR_H5_READ, &f, &e), LSTAR_ERR_FORMAT);
    assert_null(f);
    assert_string_equal(e.where, path);
    assert_non_null(strstr(e.message, "signature"));
}

static void test_empty_file(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_empty.h5ad";
    lt_write_text(path, "");
    lstar_h5_file *f = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_open(path, LSTAR_H5_READ, &f, &e), LSTAR_ERR_FORMAT);
    assert_null(f);
}

static void test_missing_file(void **state) {
    (void)state;
    lstar_h5_file *f = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_open(LSTAR_TEST_TMP "/no/such/file.h5ad", LSTAR_H5_READ, &f, &e),
                     LSTAR_ERR_NOT_FOUND);
    assert_string_equal(e.where, LSTAR_TEST_TMP "/no/such/file.h5ad");
}

/* main() points HDF5_PLUGIN_PATH at an empty directory: LZF is unavailable. */
static void test_missing_lzf_plugin(void **state) {
    (void)state;
    lt_need(V070);
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(V070, LSTAR_H5_READ, &f, E));
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "X/data", &a, E)); /* opening is fine: metadata only */
    float v[228];
    uint64_t z = 0, n = 228;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read(a, &z, &n, v, &e), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(e.where, "/X/data");
    assert_non_null(strstr(e.message, "required filter 'lzf' (32000) is not available"));
    lstar_array_free(a);

    /* strings too */
    OK(lstar_array_from_h5(f, "obs/_index", &a, E));
    lstar_strings s;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read_strings(a, 0, 3, &s, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "'lzf' (32000)"));
    assert_null(s.offsets);
    lstar_array_free(a);

    /* the raw chunk path still works: the pipeline decodes elsewhere */
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_open(f, "X/data", &d, E));
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->filters[0].id, 32000);
    assert_int_equal(di->filters[0].available, 0);
    free(di);
    lstar_h5_chunk_info ci;
    OK(lstar_h5_dataset_chunk_info_at(d, &z, &ci, E));
    assert_true(ci.size > 0 && ci.size < 228 * 4);
    uint8_t raw[1024];
    size_t got = 0;
    unsigned mask = 7;
    OK(lstar_h5_dataset_read_chunk(d, &z, raw, sizeof raw, &got, &mask, E));
    assert_int_equal(got, ci.size);
    assert_int_equal(mask, 0);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
}

/* A filter id nobody registers, stored as optional, with a chunk written
 * raw under mask 0 (so the reader must run the filter). */
static void test_unregistered_filter(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_badfilter.h5";
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, E));
    lstar_h5_filter fl;
    memset(&fl, 0, sizeof fl);
    fl.id = 47011;
    lstar_h5_dataset_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT32;
    sp.rank = 1;
    sp.shape[0] = 8;
    sp.chunks[0] = 8;
    sp.nfilters = 1;
    sp.filters = &fl;
    lstar_error e;
    lstar_error_clear(&e);
    /* mandatory + unavailable: refused up front */
    assert_int_equal(lstar_h5_dataset_create(f, "mandatory", &sp, NULL, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "47011"));
    fl.flags = LSTAR_H5_FILTER_OPTIONAL;
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_create(f, "optional", &sp, &d, E));
    int32_t vals[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t z = 0;
    OK(lstar_h5_dataset_write_chunk(d, &z, 0, vals, sizeof vals, E));
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);

    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, E));
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "optional", &a, E));
    int32_t out[8];
    uint64_t n = 8;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read(a, &z, &n, out, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "(47011) is not available"));
    assert_string_equal(e.where, "/optional");
    lstar_array_free(a);
    lstar_h5_close(f);
}

/* A deflate dataset whose chunk holds garbage: a codec failure, reported. */
static void test_corrupt_deflate_chunk(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_badchunk.h5";
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, E));
    lstar_h5_filter fl;
    memset(&fl, 0, sizeof fl);
    fl.id = 1;
    fl.ncd = 1;
    fl.cd[0] = 4;
    lstar_h5_dataset_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT64;
    sp.rank = 1;
    sp.shape[0] = 16;
    sp.chunks[0] = 16;
    sp.nfilters = 1;
    sp.filters = &fl;
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_create(f, "x", &sp, &d, E));
    uint8_t junk[40];
    for (int i = 0; i < 40; i++) junk[i] = (uint8_t)(i * 37 + 11);
    uint64_t z = 0;
    OK(lstar_h5_dataset_write_chunk(d, &z, 0, junk, sizeof junk, E));
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);

    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, E));
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "x", &a, E));
    double out[16];
    uint64_t n = 16;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read(a, &z, &n, out, &e), LSTAR_ERR_CODEC);
    assert_string_equal(e.where, "/x");
    assert_non_null(strstr(e.message, "HDF5: "));
    lstar_array_free(a);
    lstar_h5_close(f);
}

/* Bad arguments against a valid dataset: bounds, chunk offsets, types. */
static void test_bad_regions_and_offsets(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_regions.h5";
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, E));
    lstar_h5_dataset_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT16;
    sp.rank = 2;
    sp.shape[0] = 10;
    sp.shape[1] = 10;
    sp.chunks[0] = 4;
    sp.chunks[1] = 4;
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_create(f, "m", &sp, &d, E));
    lstar_error e;
    uint64_t off[2] = {2, 0}, ok0[2] = {0, 0}, past[2] = {12, 0};
    uint8_t buf[64];
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read_chunk(d, off, buf, sizeof buf, NULL, NULL, &e), LSTAR_ERR_INVALID_ARG);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read_chunk(d, past, buf, sizeof buf, NULL, NULL, &e), LSTAR_ERR_INVALID_ARG);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read_chunk(d, ok0, buf, sizeof buf, NULL, NULL, &e), LSTAR_ERR_NOT_FOUND);
    lstar_h5_chunk_info ci;
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_chunk_info_at(d, ok0, &ci, &e), LSTAR_ERR_NOT_FOUND);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_chunk_info(d, 0, &ci, &e), LSTAR_ERR_INVALID_ARG);
    lstar_strings s;
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read_strings(d, 0, 1, &s, &e), LSTAR_ERR_INVALID_ARG);
    int16_t v[4];
    uint64_t st[2] = {8, 8}, ct[2] = {2, 3};
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read(d, st, ct, v, &e), LSTAR_ERR_INVALID_ARG);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_read(d, NULL, NULL, v, &e), LSTAR_ERR_INVALID_ARG);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_write(d, NULL, NULL, v, &e), LSTAR_ERR_INVALID_ARG);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);

    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, E));
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "m", &a, E));
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read(a, st, ct, v, &e), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_from_h5(f, "nope/m", &a, &e), LSTAR_ERR_NOT_FOUND);
    assert_string_equal(e.where, "/nope/m");
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_from_h5(f, "/", &a, &e), LSTAR_ERR_NOT_FOUND);
    lstar_error_clear(&e);
    assert_int_equal(lstar_h5_dataset_write_chunk(NULL, ok0, 0, buf, 4, &e), LSTAR_ERR_INVALID_ARG);
    lstar_h5_close(f);
}

/* Element types we cannot expose: array members, null dataspaces, references. */
static void test_unsupported_types(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_types.h5";
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(fid >= 0);
    hsize_t three = 3, two = 2;
    hid_t arr = H5Tarray_create2(H5T_NATIVE_INT, 1, &two);
    hid_t ct = H5Tcreate(H5T_COMPOUND, 4 + 8);
    H5Tinsert(ct, "a", 0, H5T_NATIVE_INT);
    H5Tinsert(ct, "pair", 4, arr);
    hid_t sp = H5Screate_simple(1, &three, NULL);
    hid_t did = H5Dcreate2(fid, "rec", ct, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(did);
    did = H5Dcreate2(fid, "refs", H5T_STD_REF_OBJ, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(did);
    H5Sclose(sp);
    sp = H5Screate(H5S_NULL);
    did = H5Dcreate2(fid, "empty", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(did);
    H5Sclose(sp);
    H5Tclose(ct);
    H5Tclose(arr);
    H5Fclose(fid);

    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, E));
    lstar_array *a = NULL;
    lstar_error e;
    OK(lstar_array_from_h5_member(f, "rec", "a", &a, E));
    lstar_array_free(a);
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_from_h5_member(f, "rec", "pair", &a, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "pair"));
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_from_h5(f, "refs", &a, &e), LSTAR_ERR_UNSUPPORTED);
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_from_h5(f, "empty", &a, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "null dataspace"));
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_open(f, "empty", &d, E));
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->rank, -1);
    assert_int_equal(di->dtype, LSTAR_DTYPE_FLOAT32);
    free(di);
    lstar_h5_dataset_close(d);
    lstar_error_clear(&e);
    char *t = NULL;
    assert_int_equal(lstar_h5_attr_read_ref(f, "rec", "none", &t, &e), LSTAR_ERR_NOT_FOUND);
    lstar_h5_close(f);
}

int main(void) {
    /* An empty plugin directory: HDF5 finds no dynamically loaded filters. */
    if (setenv("HDF5_PLUGIN_PATH", LSTAR_TEST_TMP "/h5_no_plugins", 1) != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_h5ad),
        cmocka_unit_test(test_not_hdf5),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_missing_lzf_plugin),
        cmocka_unit_test(test_unregistered_filter),
        cmocka_unit_test(test_corrupt_deflate_chunk),
        cmocka_unit_test(test_bad_regions_and_offsets),
        cmocka_unit_test(test_unsupported_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
