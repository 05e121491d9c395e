/* Hostile / broken L★ stores: one test per defect.  Each starts from a good
 * v2 store (our copy of the upstream golden store, unconsolidated, in a
 * memory store), breaks one thing with raw store writes, and checks that
 * lstar_dataset_read_store fails with a clear status and names the element. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lstar/lstar.h"

#define GOLDEN_V2 LSTAR_SHARED_DATA "/kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr"

static lstar_store *good_store(void) {
    lstar_dataset *ds = NULL;
    lstar_store *m = NULL;
    lstar_write_options o;
    lstar_error err;
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_read(GOLDEN_V2, &ds, &err), LSTAR_OK);
    assert_int_equal(lstar_store_new_memory(&m, NULL), LSTAR_OK);
    lstar_write_options_init(&o);
    o.consolidate = 0; /* raw edits below must not be shadowed by .zmetadata */
    assert_int_equal(lstar_dataset_write_store(ds, m, &o, &err), LSTAR_OK);
    lstar_dataset_free(ds);
    return m;
}

static void put(lstar_store *m, const char *key, const char *text) {
    assert_int_equal(lstar_store_set(m, key, text, strlen(text), NULL), LSTAR_OK);
}

static void put_i64(lstar_store *m, const char *key, const int64_t *v, size_t n) {
    assert_int_equal(lstar_store_set(m, key, v, n * sizeof *v, NULL), LSTAR_OK);
}

typedef struct keys {
    char k[64][256];
    size_t n;
} keys;

static int collect(void *ud, const char *key) {
    keys *ks = ud;
    if (ks->n < 64) snprintf(ks->k[ks->n++], 256, "%s", key);
    return 0;
}

static void erase_prefix(lstar_store *m, const char *prefix) {
    static keys ks;
    ks.n = 0;
    assert_int_equal(lstar_store_list(m, prefix, collect, &ks, NULL), LSTAR_OK);
    assert_true(ks.n > 0);
    for (size_t i = 0; i < ks.n; i++) assert_int_equal(lstar_store_erase(m, ks.k[i], NULL), LSTAR_OK);
}

/* Read (consumes m); returns the status and fills err. */
static lstar_status read_broken(lstar_store *m, lstar_error *err) {
    lstar_dataset *ds = NULL;
    lstar_error_clear(err);
    lstar_status st = lstar_dataset_read_store(m, &ds, err);
    assert_null(ds);
    if (st != LSTAR_OK) {
        char buf[2048];
        fprintf(stderr, "  [%s] %s\n", lstar_status_name(st), lstar_error_format(err, buf, sizeof buf));
    }
    return st;
}

static void test_sanity_good_store_reads(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    assert_int_equal(lstar_dataset_read_store(good_store(), &ds, NULL), LSTAR_OK);
    assert_int_equal(lstar_dataset_field_count(ds), 8);
    lstar_dataset_free(ds);
}

static void test_root_attrs_missing_axes(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"lstar\": {\"spec_version\": \"0.1\", \"fields\": []}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(err.message, "axes"));
}

static void test_root_attrs_missing_fields(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"lstar\": {\"axes\": [\"cells\"]}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(err.message, "fields"));
}

static void test_root_without_lstar_attr(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"other\": 1}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(err.message, "lstar"));
}

static void test_root_axes_not_strings(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"lstar\": {\"axes\": [\"cells\", 7], \"fields\": []}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(err.message, "axes[1]"));
}

static void test_field_listed_but_group_missing(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/qc/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/qc");
    assert_non_null(strstr(err.message, "missing"));
}

static void test_axis_listed_but_group_missing(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "axes/pca/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/pca");
}

static void test_axis_name_escapes_the_tree(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"lstar\": {\"axes\": [\"../fields\"], \"fields\": []}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes");
}

static void test_labels_offsets_past_the_bytes(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    /* cells: 12 labels in 26 bytes; claim the last one ends at byte 27 */
    int64_t o[13] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23, 27};
    put_i64(m, "axes/cells/labels_offsets/0", o, 13);
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/cells/labels_offsets");
    assert_non_null(strstr(err.message, "inconsistent"));
}

static void test_labels_offsets_decreasing(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    int64_t o[13] = {0, 2, 4, 6, 8, 10, 3, 14, 16, 18, 20, 23, 26};
    put_i64(m, "axes/cells/labels_offsets/0", o, 13);
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/cells/labels_offsets");
    assert_non_null(strstr(err.message, "decrease"));
}

static void test_labels_offsets_not_starting_at_zero(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    int64_t o[13] = {1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23, 26};
    put_i64(m, "axes/cells/labels_offsets/0", o, 13);
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/cells/labels_offsets");
}

static void test_labels_offsets_negative(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    int64_t o[13] = {0, -4, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23, 26};
    put_i64(m, "axes/cells/labels_offsets/0", o, 13);
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/cells/labels_offsets");
}

static void test_labels_offsets_empty(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "axes/genes/labels_offsets/.zarray",
        "{\"chunks\":[1],\"compressor\":null,\"dtype\":\"<i8\",\"fill_value\":0,\"filters\":null,"
        "\"order\":\"C\",\"shape\":[0],\"zarr_format\":2}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/genes/labels_offsets");
}

/* A tiny store claiming 2^40 labels (chunks absent, would read as fill)
 * must be refused before anything is allocated for them. */
static void test_labels_offsets_huge_claim(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "axes/genes/labels_offsets/.zarray",
        "{\"chunks\":[1000],\"compressor\":null,\"dtype\":\"<i8\",\"fill_value\":0,\"filters\":null,"
        "\"order\":\"C\",\"shape\":[1099511627776],\"zarr_format\":2}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_LIMIT);
    assert_string_equal(err.where, "axes/genes/labels_offsets");
}

static void test_labels_bytes_huge_claim(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "axes/genes/labels/.zarray",
        "{\"chunks\":[1000],\"compressor\":null,\"dtype\":\"|u1\",\"fill_value\":0,\"filters\":null,"
        "\"order\":\"C\",\"shape\":[1099511627776],\"zarr_format\":2}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_LIMIT);
    assert_string_equal(err.where, "axes/genes/labels");
}

static void test_labels_bytes_wrong_dtype(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "axes/genes/labels/.zarray",
        "{\"chunks\":[4],\"compressor\":null,\"dtype\":\"<f4\",\"fill_value\":0,\"filters\":null,"
        "\"order\":\"C\",\"shape\":[4],\"zarr_format\":2}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "axes/genes/labels");
}

static void test_unknown_encoding(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs",
        "{\"lstar\": {\"kind\": \"field\", \"role\": \"embedding\", \"span\": [\"cells\", \"pca\"], "
        "\"encoding\": \"hologram\"}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(err.where, "fields/pca");
    assert_non_null(strstr(err.message, "hologram"));
}

static void test_missing_encoding(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs", "{\"lstar\": {\"kind\": \"field\", \"span\": [\"cells\", \"pca\"]}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca");
    assert_non_null(strstr(err.message, "encoding"));
}

static void test_missing_span(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs", "{\"lstar\": {\"kind\": \"field\", \"encoding\": \"dense\"}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca");
    assert_non_null(strstr(err.message, "span"));
}

static void test_missing_value_array(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/counts/indptr/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/counts/indptr");
    assert_non_null(strstr(err.message, "missing"));
}

static void test_missing_categories_offsets(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/celltype/categories_offsets/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/celltype/categories_offsets");
}

static void test_nullable_without_mask(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/qc/mask/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/qc/mask");
}

static void test_partial_without_index(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/adt/index/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/adt/index");
}

static void test_bad_coverage(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs",
        "{\"lstar\": {\"span\": [\"cells\", \"pca\"], \"encoding\": \"dense\", \"coverage\": \"most\"}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca");
}

static void test_shape_attr_negative(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs",
        "{\"lstar\": {\"span\": [\"cells\", \"pca\"], \"encoding\": \"dense\", \"shape\": [12, -3]}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca");
}

static void test_role_not_a_string(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs", "{\"lstar\": {\"span\": [\"cells\", \"pca\"], \"encoding\": \"dense\", \"role\": 5}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca");
}

static void test_field_attrs_not_json(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "fields/pca/.zattrs", "{\"lstar\": {\"span\": [");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(err.where, "fields/pca"));
}

static void test_value_array_is_a_group(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "fields/pca/values/");
    put(m, "fields/pca/values/.zgroup", "{\"zarr_format\": 2}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "fields/pca/values");
}

static void test_passthrough_without_tree(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "passthrough/anndata.uns/.zattrs", "{\"lstar\": {\"kind\": \"passthrough\", \"arrays\": []}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "passthrough/anndata.uns");
}

static void test_passthrough_leaf_missing(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    erase_prefix(m, "passthrough/anndata.uns/a0/");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_FORMAT);
    assert_string_equal(err.where, "passthrough/anndata.uns/a0");
}

static void test_passthrough_leaf_unknown_kind(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, "passthrough/anndata.uns/.zattrs",
        "{\"lstar\": {\"kind\": \"passthrough\", \"tree\": \"{}\", \"arrays\": [{\"id\": \"a0\", \"kind\": \"blob\"}]}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(err.where, "passthrough/anndata.uns/a0");
}

static void test_unknown_dataset_kind(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = good_store();
    put(m, ".zattrs", "{\"lstar\": {\"kind\": \"galaxy\", \"axes\": [], \"fields\": []}}");
    assert_int_equal(read_broken(m, &err), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "galaxy"));
}

static void test_not_zarr_at_all(void **state) {
    (void)state;
    lstar_error err;
    lstar_store *m = NULL;
    assert_int_equal(lstar_store_new_memory(&m, NULL), LSTAR_OK);
    put(m, "readme.txt", "hello");
    assert_int_not_equal(read_broken(m, &err), LSTAR_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanity_good_store_reads),
        cmocka_unit_test(test_root_attrs_missing_axes),
        cmocka_unit_test(test_root_attrs_missing_fields),
        cmocka_unit_test(test_root_without_lstar_attr),
        cmocka_unit_test(test_root_axes_not_strings),
        cmocka_unit_test(test_field_listed_but_group_missing),
        cmocka_unit_test(test_axis_listed_but_group_missing),
        cmocka_unit_test(test_axis_name_escapes_the_tree),
        cmocka_unit_test(test_labels_offsets_past_the_bytes),
        cmocka_unit_test(test_labels_offsets_decreasing),
        cmocka_unit_test(test_labels_offsets_not_starting_at_zero),
        cmocka_unit_test(test_labels_offsets_negative),
        cmocka_unit_test(test_labels_offsets_empty),
        cmocka_unit_test(test_labels_offsets_huge_claim),
        cmocka_unit_test(test_labels_bytes_huge_claim),
        cmocka_unit_test(test_labels_bytes_wrong_dtype),
        cmocka_unit_test(test_unknown_encoding),
        cmocka_unit_test(test_missing_encoding),
        cmocka_unit_test(test_missing_span),
        cmocka_unit_test(test_missing_value_array),
        cmocka_unit_test(test_missing_categories_offsets),
        cmocka_unit_test(test_nullable_without_mask),
        cmocka_unit_test(test_partial_without_index),
        cmocka_unit_test(test_bad_coverage),
        cmocka_unit_test(test_shape_attr_negative),
        cmocka_unit_test(test_role_not_a_string),
        cmocka_unit_test(test_field_attrs_not_json),
        cmocka_unit_test(test_value_array_is_a_group),
        cmocka_unit_test(test_passthrough_without_tree),
        cmocka_unit_test(test_passthrough_leaf_missing),
        cmocka_unit_test(test_passthrough_leaf_unknown_kind),
        cmocka_unit_test(test_unknown_dataset_kind),
        cmocka_unit_test(test_not_zarr_at_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
