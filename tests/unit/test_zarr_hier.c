/* Unit tests of Zarr hierarchies (groups, attributes, children, consolidated
 * metadata) and of the streaming writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/store.h"
#include "lstar/zarr.h"


static lstar_store *mem_store(void) {
    lstar_store *s = NULL;
    OKE(lstar_store_new_memory(&s, &e_));
    return s;
}

typedef struct names {
    char buf[1024];
} names;

static int join_cb(void *ud, const char *name) {
    names *n = ud;
    if (n->buf[0]) strcat(n->buf, ",");
    strcat(n->buf, name);
    return 0;
}

static const char *children(lstar_zarr *z, const char *path, names *n) {
    n->buf[0] = '\0';
    OKE(lstar_zarr_list_children(z, path, join_cb, n, &e_));
    return n->buf;
}

static lstar_zarr_array *vec_f64(lstar_zarr *z, const char *path, uint64_t n, const char *attrs) {
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = n;
    spec.chunks[0] = 4;
    spec.dtype = LSTAR_DTYPE_FLOAT64;
    spec.attrs_json = attrs;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_create(z, path, &spec, &a, &e_));
    double v[16];
    for (uint64_t i = 0; i < n && i < 16; i++) v[i] = (double)i + 0.5;
    OKE(lstar_zarr_array_write(a, v, &e_));
    return a;
}

static void build_tree(lstar_zarr *z) {
    OKE(lstar_zarr_set_attrs(z, "", "{\"lstar\":{\"kind\":\"sample\"}}", &e_));
    OKE(lstar_zarr_group_create(z, "axes", "{}", &e_));
    OKE(lstar_zarr_group_create(z, "axes/cells", "{\"n\":3}", &e_));
    OKE(lstar_zarr_group_create(z, "fields", NULL, &e_));
    lstar_zarr_array_close(vec_f64(z, "fields/x", 10, "{\"unit\":\"m\"}"));
    lstar_zarr_array_close(vec_f64(z, "axes/cells/labels", 3, NULL));
}

static void check_tree(lstar_zarr *z) {
    names n;
    assert_string_equal(children(z, "", &n), "axes,fields");
    assert_string_equal(children(z, "axes", &n), "cells");
    assert_string_equal(children(z, "/axes/cells/", &n), "labels");
    assert_string_equal(children(z, "fields", &n), "x");
    assert_int_equal(lstar_zarr_node_type(z, "", NULL), LSTAR_ZARR_GROUP);
    assert_int_equal(lstar_zarr_node_type(z, "axes/cells", NULL), LSTAR_ZARR_GROUP);
    assert_int_equal(lstar_zarr_node_type(z, "fields/x", NULL), LSTAR_ZARR_ARRAY);
    assert_int_equal(lstar_zarr_node_type(z, "fields/nope", NULL), LSTAR_ZARR_NONE);
    char *j = NULL;
    OKE(lstar_zarr_get_attrs(z, "", &j, &e_));
    assert_string_equal(j, "{\"lstar\":{\"kind\":\"sample\"}}");
    lstar_free(j);
    OKE(lstar_zarr_get_attrs(z, "axes/cells", &j, &e_));
    assert_string_equal(j, "{\"n\":3}");
    lstar_free(j);
    OKE(lstar_zarr_get_attrs(z, "fields", &j, &e_));
    assert_string_equal(j, "{}");
    lstar_free(j);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "fields/x", &a, &e_));
    OKE(lstar_zarr_array_get_attrs(a, &j, &e_));
    assert_string_equal(j, "{\"unit\":\"m\"}");
    lstar_free(j);
    double v[10];
    uint64_t st = 0, cnt = 10;
    OKE(lstar_zarr_array_read(a, &st, &cnt, v, &e_));
    assert_true(v[9] == 9.5);
    lstar_zarr_array_close(a);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_get_attrs(z, "nope", &j, &e), LSTAR_ERR_NOT_FOUND);
    assert_int_equal(lstar_zarr_array_open(z, "axes", &a, &e), LSTAR_ERR_NOT_FOUND);
}

static int count_cb(void *ud, const char *key) {
    (void)key;
    (*(int *)ud)++;
    return 0;
}

static void test_hierarchy_consolidated(void **state) {
    (void)state;
    for (int fmt = 2; fmt <= 3; fmt++) {
        lstar_store *s = mem_store();
        lstar_zarr *z = NULL;
        OKE(lstar_zarr_create(s, fmt, &z, &e_));
        build_tree(z);
        check_tree(z); /* served from the written record */
        lstar_error e;
        lstar_error_clear(&e);
        assert_int_equal(lstar_zarr_group_create(z, "no/parent", NULL, &e), LSTAR_ERR_NOT_FOUND);
        lstar_zarr_close(z);
        /* unconsolidated reopen: children come from listing the store */
        OKE(lstar_zarr_open(s, &z, &e_));
        assert_int_equal(lstar_zarr_is_consolidated(z), 0);
        check_tree(z);
        OKE(lstar_zarr_consolidate(z, &e_)); /* opened handle: reads metadata back from the store */
        lstar_zarr_close(z);
        OKE(lstar_zarr_open(s, &z, &e_));
        assert_int_equal(lstar_zarr_is_consolidated(z), 1);
        check_tree(z);
        lstar_zarr_close(z);
        /* consolidated metadata alone answers: remove the per-node files */
        const char *meta_keys2[] = {".zgroup", ".zattrs", "axes/.zgroup", "axes/.zattrs", "axes/cells/.zgroup",
                                    "axes/cells/.zattrs", "fields/.zgroup", "fields/x/.zarray", "fields/x/.zattrs",
                                    "axes/cells/labels/.zarray", NULL};
        const char *meta_keys3[] = {"axes/zarr.json", "axes/cells/zarr.json", "fields/zarr.json",
                                    "fields/x/zarr.json", "axes/cells/labels/zarr.json", NULL};
        for (const char *const *k = fmt == 2 ? meta_keys2 : meta_keys3; *k; k++) OKE(lstar_store_erase(s, *k, &e_));
        OKE(lstar_zarr_open(s, &z, &e_));
        assert_int_equal(lstar_zarr_format(z), fmt);
        check_tree(z);
        lstar_zarr_close(z);
        lstar_store_close(s);

        /* consolidate on a freshly created hierarchy (from the in-memory record) */
        s = mem_store();
        OKE(lstar_zarr_create(s, fmt, &z, &e_));
        build_tree(z);
        OKE(lstar_zarr_consolidate(z, &e_));
        lstar_zarr_close(z);
        uint8_t *doc = NULL;
        size_t n = 0;
        OKE(lstar_store_get(s, fmt == 2 ? ".zmetadata" : "zarr.json", 0, &doc, &n, &e_));
        char *text = malloc(n + 1);
        memcpy(text, doc, n);
        text[n] = '\0';
        lstar_free(doc);
        if (fmt == 2) {
            assert_non_null(strstr(text, "\"zarr_consolidated_format\": 1"));
            assert_non_null(strstr(text, "\"fields/x/.zarray\": {"));
            assert_non_null(strstr(text, "\"axes/cells/.zattrs\": {"));
        } else {
            assert_non_null(strstr(text, "\"kind\": \"inline\""));
            assert_non_null(strstr(text, "\"must_understand\": false"));
            assert_non_null(strstr(text, "\"fields/x\": {"));
        }
        free(text);
        OKE(lstar_zarr_open(s, &z, &e_));
        assert_int_equal(lstar_zarr_is_consolidated(z), 1);
        check_tree(z);
        int nkeys = 0;
        OKE(lstar_store_list(s, "", count_cb, &nkeys, &e_));
        assert_true(nkeys > 8);
        lstar_zarr_close(z);
        lstar_store_close(s);
    }
}

static void test_v2_metadata_text(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_create(s, 2, &z, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 2;
    spec.shape[0] = 10;
    spec.shape[1] = 3;
    spec.chunks[0] = 4;
    spec.dtype = LSTAR_DTYPE_FLOAT32;
    spec.compression = "zstd:3";
    spec.filters = "shuffle";
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_create(z, "m", &spec, &a, &e_));
    assert_int_equal(lstar_zarr_array_chunks(a)[1], 3);
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "shuffle(4) | zstd(3)");
    lstar_free(desc);
    lstar_zarr_array_close(a);
    uint8_t *doc = NULL;
    size_t n = 0;
    OKE(lstar_store_get(s, "m/.zarray", 0, &doc, &n, &e_));
    const char *want = "{\n"
                       "    \"chunks\": [\n        4,\n        3\n    ],\n"
                       "    \"compressor\": {\n        \"id\": \"zstd\",\n        \"level\": 3\n    },\n"
                       "    \"dimension_separator\": \".\",\n"
                       "    \"dtype\": \"<f4\",\n"
                       "    \"fill_value\": 0.0,\n"
                       "    \"filters\": [\n        {\n            \"elementsize\": 4,\n            \"id\": \"shuffle\"\n        }\n    ],\n"
                       "    \"order\": \"C\",\n"
                       "    \"shape\": [\n        10,\n        3\n    ],\n"
                       "    \"zarr_format\": 2\n}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(doc, want, n);
    lstar_free(doc);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_v3_metadata_sharded(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_create(s, 3, &z, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = 100;
    spec.chunks[0] = 10;
    spec.shard[0] = 40;
    spec.dtype = LSTAR_DTYPE_INT64;
    spec.compression = "gzip:1";
    spec.filters = "delta";
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_create(z, "v", &spec, &a, &e_));
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "sharded[delta | bytes(little) | gzip(1)]");
    lstar_free(desc);
    int64_t v[100];
    for (int i = 0; i < 100; i++) v[i] = 1000 + 3 * i;
    OKE(lstar_zarr_array_write(a, v, &e_));
    /* three shards: c/0, c/1, c/2 */
    assert_true(lstar_store_exists(s, "v/c/2", NULL));
    assert_false(lstar_store_exists(s, "v/c/3", NULL));
    /* the last shard holds 2 inner chunks + 2 empty entries: index = 4*16+4 bytes */
    uint8_t *obj = NULL;
    size_t n = 0;
    OKE(lstar_store_get(s, "v/c/2", 0, &obj, &n, &e_));
    uint64_t off = 0, nb = 0;
    for (int b = 7; b >= 0; b--) {
        off = (off << 8) | obj[n - 68 + 32 + b];
        nb = (nb << 8) | obj[n - 68 + 40 + b];
    }
    assert_true(off == UINT64_MAX && nb == UINT64_MAX);
    lstar_free(obj);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    OKE(lstar_zarr_open(s, &z, &e_));
    OKE(lstar_zarr_array_open(z, "v", &a, &e_));
    int64_t back[100];
    uint64_t st = 0, cnt = 100;
    OKE(lstar_zarr_array_read(a, &st, &cnt, back, &e_));
    assert_memory_equal(back, v, sizeof v);
    uint64_t coords = 9;
    OKE(lstar_zarr_array_read_chunk(a, &coords, back, &e_));
    assert_int_equal(back[0], v[90]);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_array_write_chunk(a, &coords, v, &e), LSTAR_ERR_UNSUPPORTED);
    uint8_t *raw = NULL;
    assert_int_equal(lstar_zarr_array_read_raw_chunk(a, &coords, &raw, &n, &e), LSTAR_ERR_UNSUPPORTED);
    lstar_zarr_array_close(a);
    uint8_t *doc = NULL;
    OKE(lstar_store_get(s, "v/zarr.json", 0, &doc, &n, &e_));
    char *text = malloc(n + 1);
    memcpy(text, doc, n);
    text[n] = '\0';
    lstar_free(doc);
    assert_true(strncmp(text, "{\n  \"shape\": [\n    100\n  ],\n  \"data_type\": \"int64\",", 51) == 0);
    assert_non_null(strstr(text, "\"index_location\": \"end\""));
    assert_non_null(strstr(text, "\"name\": \"numcodecs.delta\""));
    assert_non_null(strstr(text, "\"storage_transformers\": []"));
    free(text);
    lstar_zarr_close(z);
    lstar_store_close(s);

    /* sharding is v3 only */
    s = mem_store();
    OKE(lstar_zarr_create(s, 2, &z, &e_));
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_array_create(z, "v", &spec, &a, &e), LSTAR_ERR_UNSUPPORTED);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* ---- streaming writer ----------------------------------------------------- */

typedef struct store_dump {
    char *keys[512];
    int n;
} store_dump;

static int dump_cb(void *ud, const char *key) {
    store_dump *d = ud;
    if (d->n < 512) d->keys[d->n++] = strdup(key);
    return 0;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* 1 if both stores hold the same keys with the same bytes. */
static void assert_same_store(lstar_store *a, lstar_store *b) {
    store_dump da = {{0}, 0}, db = {{0}, 0};
    OKE(lstar_store_list(a, "", dump_cb, &da, &e_));
    OKE(lstar_store_list(b, "", dump_cb, &db, &e_));
    assert_int_equal(da.n, db.n);
    qsort(da.keys, (size_t)da.n, sizeof(char *), cmp);
    qsort(db.keys, (size_t)db.n, sizeof(char *), cmp);
    for (int i = 0; i < da.n; i++) {
        assert_string_equal(da.keys[i], db.keys[i]);
        uint8_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        OKE(lstar_store_get(a, da.keys[i], 0, &x, &nx, &e_));
        OKE(lstar_store_get(b, db.keys[i], 0, &y, &ny, &e_));
        if (nx != ny || memcmp(x, y, nx) != 0) fail_msg("store objects differ at %s", da.keys[i]);
        lstar_free(x);
        lstar_free(y);
        free(da.keys[i]);
        free(db.keys[i]);
    }
}

static void writer_case(int fmt, int sharded, const char *comp) {
    enum { ROWS = 53, COLS = 7 };
    float *data = malloc(sizeof(float) * ROWS * COLS);
    for (int i = 0; i < ROWS * COLS; i++) data[i] = (float)i * 0.25f - 11.0f;
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 2;
    spec.shape[0] = ROWS;
    spec.shape[1] = COLS;
    spec.chunks[0] = 6;
    spec.chunks[1] = 3;
    if (sharded) {
        spec.shard[0] = 12;
        spec.shard[1] = 6;
    }
    spec.dtype = LSTAR_DTYPE_FLOAT32;
    spec.compression = comp;
    spec.has_fill_value = 1;
    spec.fill_value = -1;
    /* reference: whole-array write */
    lstar_store *ref = mem_store();
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_create(ref, fmt, &z, &e_));
    OKE(lstar_zarr_array_create(z, "w", &spec, &a, &e_));
    OKE(lstar_zarr_array_write(a, data, &e_));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    const uint64_t blocks[] = {1, 5, 13, 2, 7, 11, 3, 11};
    for (int threads = 1; threads <= 3; threads += 2) {
        lstar_store *s = mem_store();
        OKE(lstar_zarr_create(s, fmt, &z, &e_));
        lstar_zarr_array_spec ws = spec;
        ws.threads = threads;
        lstar_zarr_writer *w = NULL;
        OKE(lstar_zarr_writer_new(z, "w", &ws, &w, &e_));
        uint64_t row = 0;
        for (size_t b = 0; row < ROWS; b++) {
            uint64_t k = blocks[b % (sizeof blocks / sizeof blocks[0])];
            if (k > ROWS - row) k = ROWS - row;
            OKE(lstar_zarr_writer_append(w, data + row * COLS, k, &e_));
            row += k;
        }
        assert_int_equal(lstar_zarr_writer_rows(w), ROWS);
        OKE(lstar_zarr_writer_finish(w, &e_));
        lstar_zarr_writer_free(w);
        lstar_zarr_close(z);
        assert_same_store(ref, s);
        /* read back through a fresh handle */
        OKE(lstar_zarr_open(s, &z, &e_));
        OKE(lstar_zarr_array_open(z, "w", &a, &e_));
        assert_int_equal(lstar_zarr_array_shape(a)[0], ROWS);
        float *back = malloc(sizeof(float) * ROWS * COLS);
        uint64_t st[2] = {0, 0}, cnt[2] = {ROWS, COLS};
        OKE(lstar_zarr_array_read(a, st, cnt, back, &e_));
        assert_memory_equal(back, data, sizeof(float) * ROWS * COLS);
        free(back);
        lstar_zarr_array_close(a);
        lstar_zarr_close(z);
        lstar_store_close(s);
    }
    lstar_store_close(ref);
    free(data);
}

static void test_writer(void **state) {
    (void)state;
    writer_case(2, 0, NULL);
    writer_case(2, 0, "zstd:3");
    writer_case(3, 0, "gzip:1");
    writer_case(3, 1, "zstd");
    writer_case(3, 1, NULL);
}

static void test_writer_empty_and_1d(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_create(s, 3, &z, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.chunks[0] = 1000;
    spec.dtype = LSTAR_DTYPE_INT32;
    spec.threads = 2;
    lstar_zarr_writer *w = NULL;
    OKE(lstar_zarr_writer_new(z, "empty", &spec, &w, &e_));
    OKE(lstar_zarr_writer_finish(w, &e_));
    lstar_zarr_writer_free(w);
    OKE(lstar_zarr_writer_new(z, "ints", &spec, &w, &e_));
    int32_t *v = malloc(sizeof(int32_t) * 4500);
    for (int i = 0; i < 4500; i++) v[i] = i * i;
    OKE(lstar_zarr_writer_append(w, v, 4500, &e_));
    OKE(lstar_zarr_writer_finish(w, &e_));
    lstar_zarr_writer_free(w);
    OKE(lstar_zarr_consolidate(z, &e_));
    lstar_zarr_close(z);
    OKE(lstar_zarr_open(s, &z, &e_));
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "empty", &a, &e_));
    assert_int_equal(lstar_zarr_array_shape(a)[0], 0);
    assert_int_equal(lstar_zarr_array_num_chunks(a), 0);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "ints", &a, &e_));
    assert_int_equal(lstar_zarr_array_shape(a)[0], 4500);
    assert_int_equal(lstar_zarr_array_num_chunks(a), 5);
    int32_t got[10];
    uint64_t st = 4495, cnt = 5;
    OKE(lstar_zarr_array_read(a, &st, &cnt, got, &e_));
    for (int i = 0; i < 5; i++) assert_int_equal(got[i], v[4495 + i]);
    /* the padded edge chunk is full size, the pad = fill (0) */
    int32_t chunk[1000];
    uint64_t c = 4;
    OKE(lstar_zarr_array_read_chunk(a, &c, chunk, &e_));
    assert_int_equal(chunk[499], v[4499]);
    assert_int_equal(chunk[500], 0);
    uint8_t *raw = NULL;
    size_t n = 0;
    OKE(lstar_zarr_array_read_raw_chunk(a, &c, &raw, &n, &e_));
    assert_int_equal(n, 4000);
    lstar_free(raw);
    lstar_zarr_array_close(a);
    free(v);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hierarchy_consolidated),
        cmocka_unit_test(test_v2_metadata_text),
        cmocka_unit_test(test_v3_metadata_sharded),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_empty_and_1d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
