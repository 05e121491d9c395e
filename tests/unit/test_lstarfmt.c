/* L★ store format: options, chunking rule, write → read round trips (v2/v3,
 * none/gzip/zstd, multi-chunk, sharded, threads), exact attributes and dtypes
 * against the upstream golden store, datasets built in memory (dtype
 * conversions, streamed strings, rank-0 leaves, large arrays), memory stores,
 * progress, and the temporary-name-then-rename behaviour of
 * lstar_dataset_write. */
#include <dirent.h>
#include <jansson.h>
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
#include "test_support.h"

#define FIXTURES LSTAR_SHARED_DATA "/kharchenkolab_lstar/conformance/fixtures"
#define GOLDEN_V2 FIXTURES "/golden_v2.lstar.zarr"
#define GOLDEN_V3 FIXTURES "/golden_v3.lstar.zarr"
#define TMP LSTAR_TEST_TMP "/lstarfmt"

/* ---- helpers ------------------------------------------------------------- */

static void ok(lstar_status st, const lstar_error *err) {
    if (st != LSTAR_OK) {
        char buf[2048];
        fprintf(stderr, "status %s: %s\n", lstar_status_name(st), lstar_error_format(err, buf, sizeof buf));
    }
    assert_int_equal(st, LSTAR_OK);
}

/* A fresh path under TMP (also clearing siblings an interrupted earlier run left). */
static void tmp_path(char *buf, size_t n, const char *name) {
    char cmd[2048];
    mkdir(LSTAR_TEST_TMP, 0777);
    mkdir(TMP, 0777);
    snprintf(buf, n, "%s/%s", TMP, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.tmp-* '%s'.old-*", buf, buf, buf);
    assert_int_equal(system(cmd), 0);
}

/* Entries of TMP whose name starts with `prefix` and contains ".tmp-" or ".old-". */
static int leftovers(const char *prefix) {
    int n = 0;
    DIR *d = opendir(TMP);
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            (strstr(e->d_name, ".tmp-") || strstr(e->d_name, ".old-")))
            n++;
    }
    closedir(d);
    return n;
}

static lstar_dataset *read_path(const char *path) {
    lstar_dataset *ds = NULL;
    lstar_error err;
    lstar_error_clear(&err);
    ok(lstar_dataset_read(path, &ds, &err), &err);
    return ds;
}

static void assert_same_opt(const char *a, const char *b) {
    if (!a || !b)
        assert_true(a == b);
    else
        assert_string_equal(a, b);
}

static void assert_same_array(const lstar_array *a, const lstar_array *b) {
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(lstar_array_dtype(a), lstar_array_dtype(b));
    assert_int_equal(lstar_array_rank(a), lstar_array_rank(b));
    for (int d = 0; d < lstar_array_rank(a); d++) assert_int_equal(lstar_array_shape(a)[d], lstar_array_shape(b)[d]);
    if (lstar_array_dtype(a) == LSTAR_DTYPE_STRING) {
        lstar_strings sa, sb;
        ok(lstar_array_read_strings(a, 0, lstar_array_size(a), &sa, NULL), NULL);
        ok(lstar_array_read_strings(b, 0, lstar_array_size(b), &sb, NULL), NULL);
        assert_true(lstar_strings_equal(&sa, &sb));
        lstar_strings_destroy(&sa);
        lstar_strings_destroy(&sb);
        return;
    }
    void *va = NULL, *vb = NULL;
    size_t na, nb;
    ok(lstar_array_read_all(a, 0, &va, &na, NULL), NULL);
    ok(lstar_array_read_all(b, 0, &vb, &nb, NULL), NULL);
    assert_int_equal(na, nb);
    assert_memory_equal(va, vb, na);
    lstar_free(va);
    lstar_free(vb);
}

/* Everything the model holds must be equal. */
static void assert_same_dataset(const lstar_dataset *a, const lstar_dataset *b) {
    static const char *const extra[] = {"mask", "index", NULL};
    assert_int_equal(lstar_dataset_kind(a), lstar_dataset_kind(b));
    assert_string_equal(lstar_dataset_spec_version(a), lstar_dataset_spec_version(b));
    assert_int_equal(lstar_dataset_profile_count(a), lstar_dataset_profile_count(b));
    for (size_t i = 0; i < lstar_dataset_profile_count(a); i++)
        assert_string_equal(lstar_dataset_profile(a, i), lstar_dataset_profile(b, i));
    assert_int_equal(lstar_dataset_dropped_count(a), lstar_dataset_dropped_count(b));
    for (size_t i = 0; i < lstar_dataset_dropped_count(a); i++)
        assert_string_equal(lstar_dataset_dropped(a, i), lstar_dataset_dropped(b, i));
    assert_int_equal(lstar_dataset_axis_count(a), lstar_dataset_axis_count(b));
    for (size_t i = 0; i < lstar_dataset_axis_count(a); i++) {
        const lstar_axis *x = lstar_dataset_axis_at(a, i), *y = lstar_dataset_axis_at(b, i);
        assert_string_equal(lstar_axis_name(x), lstar_axis_name(y));
        assert_true(lstar_strings_equal(lstar_axis_labels(x), lstar_axis_labels(y)));
        assert_same_opt(lstar_axis_origin(x), lstar_axis_origin(y));
        assert_same_opt(lstar_axis_role(x), lstar_axis_role(y));
        assert_same_opt(lstar_axis_induced_by(x), lstar_axis_induced_by(y));
        assert_string_equal(lstar_axis_provenance(x), lstar_axis_provenance(y));
    }
    assert_int_equal(lstar_dataset_field_count(a), lstar_dataset_field_count(b));
    for (size_t i = 0; i < lstar_dataset_field_count(a); i++) {
        const lstar_field *x = lstar_dataset_field_at(a, i), *y = lstar_dataset_field_at(b, i);
        assert_string_equal(lstar_field_name(x), lstar_field_name(y));
        assert_int_equal(lstar_field_encoding(x), lstar_field_encoding(y));
        assert_int_equal(lstar_field_span_count(x), lstar_field_span_count(y));
        for (size_t k = 0; k < lstar_field_span_count(x); k++)
            assert_string_equal(lstar_field_span(x, k), lstar_field_span(y, k));
        assert_same_opt(lstar_field_role(x), lstar_field_role(y));
        assert_same_opt(lstar_field_state(x), lstar_field_state(y));
        assert_same_opt(lstar_field_subtype(x), lstar_field_subtype(y));
        assert_same_opt(lstar_field_uncertainty(x), lstar_field_uncertainty(y));
        assert_same_opt(lstar_field_index_axis(x), lstar_field_index_axis(y));
        assert_string_equal(lstar_field_coverage(x), lstar_field_coverage(y));
        assert_string_equal(lstar_field_provenance(x), lstar_field_provenance(y));
        assert_int_equal(lstar_field_directed(x), lstar_field_directed(y));
        assert_int_equal(lstar_field_weighted(x), lstar_field_weighted(y));
        if (lstar_field_encoding(x) == LSTAR_ENC_CATEGORICAL)
            assert_int_equal(lstar_field_ordered(x), lstar_field_ordered(y));
        assert_int_equal(lstar_field_nullable(x), lstar_field_nullable(y));
        uint64_t dx[LSTAR_MAX_RANK], dy[LSTAR_MAX_RANK];
        int rx = lstar_field_shape(x, dx, LSTAR_MAX_RANK), ry = lstar_field_shape(y, dy, LSTAR_MAX_RANK);
        assert_int_equal(rx, ry);
        for (int d = 0; d < rx; d++) assert_int_equal(dx[d], dy[d]);
        const char *const *names = lstar_encoding_arrays(lstar_field_encoding(x));
        for (size_t k = 0; names[k]; k++) assert_same_array(lstar_field_array(x, names[k]), lstar_field_array(y, names[k]));
        for (size_t k = 0; extra[k]; k++) {
            const lstar_array *ax = lstar_field_array(x, extra[k]), *ay = lstar_field_array(y, extra[k]);
            assert_true((ax == NULL) == (ay == NULL));
            if (ax) assert_same_array(ax, ay);
        }
    }
    assert_int_equal(lstar_dataset_passthrough_count(a), lstar_dataset_passthrough_count(b));
    for (size_t i = 0; i < lstar_dataset_passthrough_count(a); i++) {
        const lstar_passthrough *x = lstar_dataset_passthrough_at(a, i), *y = lstar_dataset_passthrough_at(b, i);
        assert_string_equal(lstar_passthrough_namespace(x), lstar_passthrough_namespace(y));
        assert_string_equal(lstar_passthrough_tree(x), lstar_passthrough_tree(y));
        assert_int_equal(lstar_passthrough_leaf_count(x), lstar_passthrough_leaf_count(y));
        for (size_t k = 0; k < lstar_passthrough_leaf_count(x); k++) {
            assert_string_equal(lstar_passthrough_leaf_id(x, k), lstar_passthrough_leaf_id(y, k));
            assert_string_equal(lstar_passthrough_leaf_kind(x, k), lstar_passthrough_leaf_kind(y, k));
            assert_same_array(lstar_passthrough_leaf(x, k), lstar_passthrough_leaf(y, k));
        }
    }
}

/* Parsed attributes of a node, "lstar" member (borrowed from *doc). */
static json_t *node_lstar(lstar_zarr *z, const char *path, json_t **doc) {
    char *text = NULL;
    ok(lstar_zarr_get_attrs(z, path, &text, NULL), NULL);
    json_error_t je;
    *doc = json_loads(text, 0, &je);
    lstar_free(text);
    assert_non_null(*doc);
    return json_object_get(*doc, "lstar");
}

/* ---- a proxy backend: forwards to a memory array, optionally fails ------- */

typedef struct proxy {
    lstar_array *inner;
    int fail;
} proxy;

static lstar_status proxy_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err) {
    proxy *p = ctx;
    if (p->fail) {
        if (err) {
            lstar_error_clear(err);
            err->status = LSTAR_ERR_IO;
            snprintf(err->message, sizeof err->message, "injected read failure");
        }
        return LSTAR_ERR_IO;
    }
    return lstar_array_read(p->inner, start, count, out, err);
}

static lstar_status proxy_read_strings(void *ctx, uint64_t start, uint64_t count, lstar_strings *out,
                                       lstar_error *err) {
    proxy *p = ctx;
    return lstar_array_read_strings(p->inner, start, count, out, err);
}

static void proxy_close(void *ctx) {
    proxy *p = ctx;
    lstar_array_free(p->inner);
    lstar_free(p);
}

static const lstar_array_ops k_proxy_ops = {LSTAR_ARRAY_OPS_VERSION, "proxy", proxy_read, proxy_read_strings,
                                            proxy_close, NULL};

static lstar_array *proxy_of(lstar_array *inner, int fail) {
    proxy *p = lstar_calloc(1, sizeof *p);
    lstar_array *out = NULL;
    assert_non_null(p);
    p->inner = inner;
    p->fail = fail;
    lstar_array_info info = *lstar_array_get_info(inner);
    ok(lstar_array_from_ops(&k_proxy_ops, p, &info, &out, NULL), NULL);
    return out;
}

static lstar_array *mem(lstar_dtype dt, int rank, const uint64_t *shape, const void *data) {
    lstar_array *a = NULL;
    ok(lstar_array_new_copy(dt, rank, shape, data, &a, NULL), NULL);
    return a;
}

static lstar_array *strs(const char *const *items, size_t n) {
    lstar_strings s;
    lstar_array *a = NULL;
    ok(lstar_strings_from_cstrs(&s, items, n, NULL), NULL);
    ok(lstar_array_new_strings(&s, &a, NULL), NULL);
    return a;
}

static void add_axis(lstar_dataset *ds, const char *name, const char *const *labels, size_t n) {
    lstar_strings s;
    lstar_axis *ax = NULL;
    ok(lstar_strings_from_cstrs(&s, labels, n, NULL), NULL);
    ok(lstar_dataset_add_axis(ds, name, &s, &ax, NULL), NULL);
}

/* A dataset built in memory that exercises conversions and both string paths. */
static lstar_dataset *build_dataset(int fail_values) {
    lstar_dataset *ds = NULL;
    lstar_field *f = NULL;
    lstar_passthrough *p = NULL;
    static const char *const cells[] = {"AAAC", "AAAG", "AACT", "ACGT", "TTTT"};
    static const char *const genes[] = {"MT-1", "CD3E", "ünï"};
    static const char *const groups[] = {"x", "y"};
    ok(lstar_dataset_new(&ds, NULL), NULL);
    ok(lstar_dataset_add_profile(ds, "test@0.1", NULL), NULL);
    ok(lstar_dataset_add_dropped(ds, "uns/foo (unsupported)", NULL), NULL);
    add_axis(ds, "cells", cells, 5);
    add_axis(ds, "genes", genes, 3);
    add_axis(ds, "grp", groups, 2);
    lstar_axis *g = lstar_dataset_axis(ds, "grp");
    ok(lstar_axis_set_origin(g, "derived", NULL), NULL);
    ok(lstar_axis_set_role(g, "factor", NULL), NULL);
    ok(lstar_axis_set_induced_by(g, "grp", NULL), NULL);
    ok(lstar_axis_set_provenance(lstar_dataset_axis(ds, "cells"), "{\"z\":1,\"a\":[1,2]}", NULL), NULL);

    /* dense 5x3 float64 (through the proxy backend: not a memory array) */
    static const char *const span2[] = {"cells", "genes"};
    double X[15];
    for (int i = 0; i < 15; i++) X[i] = i * 0.5 - 3;
    uint64_t s53[2] = {5, 3};
    ok(lstar_dataset_add_field(ds, "X", LSTAR_ENC_DENSE, 2, span2, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "measure", NULL), NULL);
    ok(lstar_field_set_state(f, "lognorm", NULL), NULL);
    ok(lstar_field_set_provenance(f, "{\"anndata\":\"X\"}", NULL), NULL);
    ok(lstar_field_set_array(f, "values", proxy_of(mem(LSTAR_DTYPE_FLOAT64, 2, s53, X), fail_values), NULL), NULL);

    /* csr 5x3, int64 indptr, int32 indices, float32 data */
    float data[4] = {1, 2, 3, 4};
    int32_t ind[4] = {0, 2, 1, 2};
    int64_t ptr[6] = {0, 1, 1, 3, 3, 4};
    uint64_t n4 = 4, n6 = 6;
    ok(lstar_dataset_add_field(ds, "counts", LSTAR_ENC_CSR, 2, span2, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "measure", NULL), NULL);
    ok(lstar_field_set_state(f, "raw", NULL), NULL);
    ok(lstar_field_set_shape(f, 2, s53, NULL), NULL);
    ok(lstar_field_set_array(f, "data", mem(LSTAR_DTYPE_FLOAT32, 1, &n4, data), NULL), NULL);
    ok(lstar_field_set_array(f, "indices", mem(LSTAR_DTYPE_INT32, 1, &n4, ind), NULL), NULL);
    ok(lstar_field_set_array(f, "indptr", mem(LSTAR_DTYPE_INT64, 1, &n6, ptr), NULL), NULL);

    /* utf8 through the proxy (streamed string path), with a mask given as bool */
    static const char *const span1[] = {"cells"};
    static const char *const words[] = {"alpha", "", "gämma", "delta", "e"};
    uint8_t m[5] = {0, 1, 0, 0, 0};
    uint64_t n5 = 5;
    ok(lstar_dataset_add_field(ds, "note", LSTAR_ENC_UTF8, 1, span1, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "label", NULL), NULL);
    ok(lstar_field_set_array(f, "values", proxy_of(strs(words, 5), 0), NULL), NULL);
    ok(lstar_field_set_array(f, "mask", mem(LSTAR_DTYPE_BOOL, 1, &n5, m), NULL), NULL);

    /* categorical with int8 codes (stored as int32) */
    int8_t codes[5] = {0, 1, -1, 1, 0};
    ok(lstar_dataset_add_field(ds, "grp", LSTAR_ENC_CATEGORICAL, 1, span1, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "label", NULL), NULL);
    lstar_field_set_ordered(f, 0);
    ok(lstar_field_set_array(f, "codes", mem(LSTAR_DTYPE_INT8, 1, &n5, codes), NULL), NULL);
    ok(lstar_field_set_array(f, "categories", strs(groups, 2), NULL), NULL);

    /* partial coverage with an int32 index (stored as int64) */
    static const char *const spang[] = {"genes"};
    float pv[2] = {0.25f, -1.5f};
    int32_t pidx[2] = {0, 2};
    uint64_t n2 = 2;
    ok(lstar_dataset_add_field(ds, "hvg_score", LSTAR_ENC_DENSE, 1, spang, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "x-test:score", NULL), NULL);
    ok(lstar_field_set_subtype(f, "recipe_scalar", NULL), NULL);
    ok(lstar_field_set_array(f, "values", mem(LSTAR_DTYPE_FLOAT32, 1, &n2, pv), NULL), NULL);
    ok(lstar_field_set_array(f, "index", mem(LSTAR_DTYPE_INT32, 1, &n2, pidx), NULL), NULL);
    ok(lstar_field_set_index_axis(f, "genes", NULL), NULL);

    /* relation with directed=false, weighted unset, sparse shape derived from the axes */
    static const char *const spancc[] = {"cells", "cells"};
    double w[2] = {0.5, 0.25};
    int64_t wi[2] = {1, 0};
    int32_t wp[6] = {0, 1, 2, 2, 2, 2};
    ok(lstar_dataset_add_field(ds, "graph", LSTAR_ENC_CSC, 2, spancc, &f, NULL), NULL);
    ok(lstar_field_set_role(f, "relation", NULL), NULL);
    lstar_field_set_directed(f, 0);
    ok(lstar_field_set_array(f, "data", mem(LSTAR_DTYPE_FLOAT64, 1, &n2, w), NULL), NULL);
    ok(lstar_field_set_array(f, "indices", mem(LSTAR_DTYPE_INT64, 1, &n2, wi), NULL), NULL);
    ok(lstar_field_set_array(f, "indptr", mem(LSTAR_DTYPE_INT32, 1, &n6, wp), NULL), NULL);

    /* passthrough: dense 2-D int16 leaf, a rank-0 leaf and a utf8 leaf */
    ok(lstar_dataset_add_passthrough(ds, "anndata.uns",
                                     "{\"$obj\": {\"m\": {\"$array\": \"a0\"}, \"s\": {\"$array\": \"a1\"}, "
                                     "\"names\": {\"$strings\": \"a2\", \"shape\": [3]}}}",
                                     &p, NULL),
       NULL);
    int16_t mat[6] = {1, -2, 3, -4, 5, -6};
    uint64_t s23[2] = {2, 3};
    double scalar = 42.5;
    static const char *const leafs[] = {"a", "bb", "ccc"};
    ok(lstar_passthrough_add_leaf(p, "a0", "dense", mem(LSTAR_DTYPE_INT16, 2, s23, mat), NULL), NULL);
    ok(lstar_passthrough_add_leaf(p, "a1", "dense", mem(LSTAR_DTYPE_FLOAT64, 0, NULL, &scalar), NULL), NULL);
    ok(lstar_passthrough_add_leaf(p, "a2", "utf8", strs(leafs, 3), NULL), NULL);
    return ds;
}

/* ---- options and the chunking rule ---------------------------------------- */

static void test_options_init(void **state) {
    (void)state;
    lstar_write_options o;
    memset(&o, 0x5a, sizeof o);
    lstar_write_options_init(&o);
    assert_int_equal(o.zarr_format, 2);
    assert_null(o.compression);
    assert_int_equal(o.chunk_elems, 0);
    assert_int_equal(o.shard_elems, 0);
    assert_int_equal(o.threads, 0);
    assert_int_equal(o.overwrite, 0);
    assert_int_equal(o.consolidate, 1);
    assert_null(o.progress);
    assert_null(o.progress_ud);
}

static void test_chunk_rows(void **state) {
    (void)state;
    uint64_t s1[1] = {44}, s2[2] = {12, 3}, s3[3] = {100, 4, 5}, z[2] = {7, 0};
    assert_int_equal(lstar_chunk_rows(0, 1, s1), 44);     /* 0 = single chunk */
    assert_int_equal(lstar_chunk_rows(5, 1, s1), 5);
    assert_int_equal(lstar_chunk_rows(44, 1, s1), 44);
    assert_int_equal(lstar_chunk_rows(1000, 1, s1), 44);  /* rows >= shape[0] → whole axis */
    assert_int_equal(lstar_chunk_rows(7, 2, s2), 2);      /* 7 // 3 */
    assert_int_equal(lstar_chunk_rows(2, 2, s2), 1);      /* max(1, 2 // 3) */
    assert_int_equal(lstar_chunk_rows(36, 2, s2), 12);
    assert_int_equal(lstar_chunk_rows(60, 3, s3), 3);     /* 60 // 20 */
    assert_int_equal(lstar_chunk_rows(5, 2, z), 5);       /* empty trailing dim counts as 1 */
    assert_int_equal(lstar_chunk_rows(1000000, 1, s1), 44);
}

/* ---- golden round trips ---------------------------------------------------- */

typedef struct variant {
    const char *name;
    int fmt;
    const char *compression;
    const char *codec_word; /* expected in the codec description, or NULL */
    uint64_t chunk_elems;
    uint64_t shard_elems;
    int threads;
} variant;

static const variant k_variants[] = {
    {"v2-none-single", 2, NULL, NULL, 0, 0, 1},
    {"v2-gzip-multi", 2, "gzip:5", "gzip", 5, 0, 2},
    {"v2-zstd-multi", 2, "zstd:3", "zstd", 7, 0, 0},
    {"v2-none-1", 2, "none", NULL, 1, 0, 1},
    {"v3-none-single", 3, NULL, NULL, 0, 0, 1},
    {"v3-gzip-multi", 3, "gzip:1", "gzip", 5, 0, 2},
    {"v3-zstd-sharded", 3, "zstd:3", "zstd", 4, 20, 2},
};

/* Array `path` of `z` has dtype `dtype`. */
static void expect_array_dtype(lstar_zarr *z, const char *path, lstar_dtype dtype) {
    lstar_zarr_array *za = NULL;
    ok(lstar_zarr_array_open(z, path, &za, NULL), NULL);
    assert_int_equal(lstar_zarr_array_dtype(za), dtype);
    lstar_zarr_array_close(za);
}

static void check_chunking(lstar_zarr *z, const variant *v) {
    lstar_zarr_array *za = NULL;
    /* fields/counts/data: 1-D, 44 entries */
    ok(lstar_zarr_array_open(z, "fields/counts/data", &za, NULL), NULL);
    uint64_t want = v->chunk_elems ? (v->chunk_elems < 44 ? v->chunk_elems : 44) : 44;
    assert_int_equal(lstar_zarr_array_chunks(za)[0], want);
    assert_int_equal(lstar_zarr_array_num_chunks(za), (44 + want - 1) / want);
    assert_int_equal(lstar_zarr_array_dtype(za), LSTAR_DTYPE_FLOAT32);
    if (v->shard_elems) {
        const uint64_t *sh = lstar_zarr_array_shard_shape(za);
        assert_non_null(sh);
        assert_int_equal(sh[0], (v->shard_elems / want) * want);
    } else {
        assert_null(lstar_zarr_array_shard_shape(za));
    }
    char *desc = lstar_zarr_array_codecs_desc(za);
    assert_non_null(desc);
    if (v->codec_word) {
        if (!strstr(desc, v->codec_word)) fprintf(stderr, "codecs: %s\n", desc);
        assert_non_null(strstr(desc, v->codec_word));
    } else {
        assert_null(strstr(desc, "gzip"));
        assert_null(strstr(desc, "zstd"));
    }
    lstar_free(desc);
    lstar_zarr_array_close(za);
    /* fields/pca/values: 12 x 3, only the first axis is chunked */
    ok(lstar_zarr_array_open(z, "fields/pca/values", &za, NULL), NULL);
    uint64_t rows = v->chunk_elems ? (v->chunk_elems / 3 ? v->chunk_elems / 3 : 1) : 12;
    if (rows > 12) rows = 12;
    assert_int_equal(lstar_zarr_array_chunks(za)[0], rows);
    assert_int_equal(lstar_zarr_array_chunks(za)[1], 3);
    lstar_zarr_array_close(za);
    /* dtypes as upstream writes them */
    expect_array_dtype(z, "axes/cells/labels", LSTAR_DTYPE_UINT8);
    ok(lstar_zarr_array_open(z, "axes/cells/labels_offsets", &za, NULL), NULL);
    assert_int_equal(lstar_zarr_array_dtype(za), LSTAR_DTYPE_INT64);
    assert_int_equal(lstar_zarr_array_shape(za)[0], 13);
    lstar_zarr_array_close(za);
    expect_array_dtype(z, "fields/celltype/codes", LSTAR_DTYPE_INT32);
    expect_array_dtype(z, "fields/qc/mask", LSTAR_DTYPE_UINT8);
    expect_array_dtype(z, "fields/adt/index", LSTAR_DTYPE_INT64);
}

/* Our attributes must equal upstream's, key for key (values and order). */
/* 1 if both objects list the same keys in the same order. */
static int keys_in_order(json_t *a, json_t *b) {
    void *ia = json_object_iter(a), *ib = json_object_iter(b);
    while (ia && ib) {
        if (strcmp(json_object_iter_key(ia), json_object_iter_key(ib)) != 0) return 0;
        ia = json_object_iter_next(a, ia);
        ib = json_object_iter_next(b, ib);
    }
    return ia == NULL && ib == NULL;
}

static int keys_sorted(json_t *a) {
    const char *prev = NULL;
    for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it)) {
        const char *k = json_object_iter_key(it);
        if (prev && strcmp(prev, k) > 0) return 0;
        prev = k;
    }
    return 1;
}

static void check_attrs_like_golden(lstar_zarr *ours, lstar_zarr *gold, int fmt) {
    static const char *const nodes[] = {"",
                                        "axes/cells",
                                        "axes/genes",
                                        "axes/pca",
                                        "axes/celltype",
                                        "fields/counts",
                                        "fields/lognorm",
                                        "fields/pca",
                                        "fields/leiden",
                                        "fields/celltype",
                                        "fields/qc",
                                        "fields/adt",
                                        "fields/knn",
                                        "passthrough/anndata.uns",
                                        NULL};
    for (size_t i = 0; nodes[i]; i++) {
        json_t *da, *db;
        json_t *a = node_lstar(ours, nodes[i], &da), *b = node_lstar(gold, nodes[i], &db);
        assert_non_null(a);
        assert_non_null(b);
        if (!json_equal(a, b)) {
            char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
            fprintf(stderr, "%s:\n ours:   %s\n golden: %s\n", nodes[i], x, y);
            free(x);
            free(y);
        }
        assert_true(json_equal(a, b));
        /* key order: the upstream writer's (v3, and v2 when the Zarr layer
         * keeps insertion order like zarr-python 3) or sorted (v2 serialised
         * like zarr-python 2, i.e. upstream 0.1.0-0.1.6) */
        int same = keys_in_order(a, b), sorted = keys_sorted(a);
        if (!same && !(fmt == 2 && sorted)) fprintf(stderr, "%s: key order differs from upstream\n", nodes[i]);
        assert_true(same || (fmt == 2 && sorted));
        json_decref(da);
        json_decref(db);
    }
    /* group attributes of the containers are {} */
    static const char *const empty[] = {"axes", "fields", "models", "passthrough", NULL};
    for (size_t i = 0; empty[i]; i++) {
        char *text = NULL;
        ok(lstar_zarr_get_attrs(ours, empty[i], &text, NULL), NULL);
        assert_string_equal(text, "{}");
        lstar_free(text);
    }
    assert_int_equal(lstar_zarr_node_type(ours, "models", NULL), LSTAR_ZARR_GROUP);
}

static void roundtrip_variant(const variant *v) {
    char path[1024];
    lstar_error err;
    lstar_write_options o;
    lstar_error_clear(&err);
    tmp_path(path, sizeof path, v->name);
    lstar_dataset *gold = read_path(v->fmt == 2 ? GOLDEN_V2 : GOLDEN_V3);
    lstar_write_options_init(&o);
    o.zarr_format = v->fmt;
    o.compression = v->compression;
    o.chunk_elems = v->chunk_elems;
    o.shard_elems = v->shard_elems;
    o.threads = v->threads;
    ok(lstar_dataset_write(gold, path, &o, &err), &err);

    /* on-disk layout */
    char key[1200];
    if (v->fmt == 2) {
        snprintf(key, sizeof key, "%s/.zmetadata", path);
        assert_true(lt_path_exists(key));
        snprintf(key, sizeof key, "%s/fields/counts/data/0", path);
        assert_true(lt_path_exists(key));
        snprintf(key, sizeof key, "%s/models/.zgroup", path);
        assert_true(lt_path_exists(key));
        snprintf(key, sizeof key, "%s/zarr.json", path);
        assert_false(lt_path_exists(key));
    } else {
        snprintf(key, sizeof key, "%s/zarr.json", path);
        assert_true(lt_path_exists(key));
        snprintf(key, sizeof key, "%s/fields/counts/data/c/0", path);
        assert_true(lt_path_exists(key));
        snprintf(key, sizeof key, "%s/.zgroup", path);
        assert_false(lt_path_exists(key));
    }

    /* metadata: chunking, codecs, dtypes, attributes equal to upstream */
    lstar_store *s = NULL, *gs = NULL;
    lstar_zarr *z = NULL, *gz = NULL;
    ok(lstar_store_open(path, LSTAR_STORE_READ, &s, NULL), NULL);
    ok(lstar_zarr_open(s, &z, NULL), NULL);
    assert_int_equal(lstar_zarr_format(z), v->fmt);
    assert_int_equal(lstar_zarr_is_consolidated(z), 1);
    check_chunking(z, v);
    ok(lstar_store_open(v->fmt == 2 ? GOLDEN_V2 : GOLDEN_V3, LSTAR_STORE_READ, &gs, NULL), NULL);
    ok(lstar_zarr_open(gs, &gz, NULL), NULL);
    check_attrs_like_golden(z, gz, v->fmt);
    lstar_zarr_close(gz);
    lstar_store_close(gs);
    lstar_zarr_close(z);
    lstar_store_close(s);

    /* values */
    lstar_dataset *back = read_path(path);
    assert_same_dataset(gold, back);
    lstar_dataset_free(back);
    lstar_dataset_free(gold);
    assert_int_equal(leftovers(v->name), 0);
    lt_rm_rf(path);
}

static void test_roundtrip_v2_none_single(void **state) { (void)state; roundtrip_variant(&k_variants[0]); }
static void test_roundtrip_v2_gzip_multi(void **state) { (void)state; roundtrip_variant(&k_variants[1]); }
static void test_roundtrip_v2_zstd_multi(void **state) { (void)state; roundtrip_variant(&k_variants[2]); }
static void test_roundtrip_v2_chunk1(void **state) { (void)state; roundtrip_variant(&k_variants[3]); }
static void test_roundtrip_v3_none_single(void **state) { (void)state; roundtrip_variant(&k_variants[4]); }
static void test_roundtrip_v3_gzip_multi(void **state) { (void)state; roundtrip_variant(&k_variants[5]); }
static void test_roundtrip_v3_zstd_sharded(void **state) { (void)state; roundtrip_variant(&k_variants[6]); }

/* v2 golden → v3 → v2 keeps everything. */
static void test_cross_format(void **state) {
    (void)state;
    char p3[1024], p2[1024];
    lstar_write_options o;
    lstar_error err;
    lstar_error_clear(&err);
    tmp_path(p3, sizeof p3, "cross-v3");
    tmp_path(p2, sizeof p2, "cross-v2");
    lstar_dataset *gold = read_path(GOLDEN_V2);
    lstar_write_options_init(&o);
    o.zarr_format = 3;
    ok(lstar_dataset_write(gold, p3, &o, &err), &err);
    lstar_dataset *mid = read_path(p3);
    o.zarr_format = 2;
    o.chunk_elems = 3;
    ok(lstar_dataset_write(mid, p2, &o, &err), &err);
    lstar_dataset *back = read_path(p2);
    assert_same_dataset(gold, back);
    assert_same_dataset(mid, back);
    lstar_dataset_free(back);
    lstar_dataset_free(mid);
    lstar_dataset_free(gold);
    lt_rm_rf(p3);
    lt_rm_rf(p2);
}

/* Attribute key order as written on disk: a v3 zarr.json keeps the upstream
 * writer order (zarr-python 3 does too). */
static const char *find_after(const char *from, const char *key) {
    const char *at = strstr(from, key);
    if (!at) fprintf(stderr, "%s not found in order\n", key);
    assert_non_null(at);
    return at;
}

static void test_v3_attr_text_order(void **state) {
    (void)state;
    char path[1024];
    lstar_error err;
    lstar_write_options o;
    lstar_error_clear(&err);
    tmp_path(path, sizeof path, "keyorder");
    lstar_dataset *gold = read_path(GOLDEN_V2);
    lstar_write_options_init(&o);
    o.zarr_format = 3;
    ok(lstar_dataset_write(gold, path, &o, &err), &err);
    lstar_store *s = NULL;
    uint8_t *data = NULL;
    size_t n = 0;
    ok(lstar_store_open(path, LSTAR_STORE_READ, &s, NULL), NULL);
    ok(lstar_store_get(s, "fields/celltype/zarr.json", 0, &data, &n, NULL), NULL);
    char *text = malloc(n + 1);
    memcpy(text, data, n);
    text[n] = '\0';
    static const char *const keys[] = {"\"kind\"",     "\"role\"",     "\"span\"",     "\"state\"",
                                       "\"encoding\"", "\"coverage\"", "\"directed\"", "\"weighted\"",
                                       "\"subtype\"",  "\"uncertainty\"", "\"provenance\"", "\"ordered\"",
                                       "\"shape\"",    NULL};
    const char *at = text;
    for (size_t i = 0; keys[i]; i++) at = find_after(at, keys[i]);
    assert_null(strstr(text, "\"nullable\""));
    assert_null(strstr(text, "\"index_axis\""));
    free(text);
    lstar_free(data);
    ok(lstar_store_get(s, "fields/adt/zarr.json", 0, &data, &n, NULL), NULL);
    text = malloc(n + 1);
    memcpy(text, data, n);
    text[n] = '\0';
    at = find_after(text, "\"provenance\"");
    at = find_after(at, "\"shape\"");
    at = find_after(at, "\"index_axis\"");
    free(text);
    lstar_free(data);
    ok(lstar_store_get(s, "zarr.json", 0, &data, &n, NULL), NULL);
    text = malloc(n + 1);
    memcpy(text, data, n);
    text[n] = '\0';
    static const char *const rkeys[] = {"\"spec_version\"", "\"kind\"",   "\"profiles\"",    "\"dropped\"",
                                        "\"axes\"",         "\"fields\"", "\"passthrough\"", NULL};
    at = text;
    for (size_t i = 0; rkeys[i]; i++) at = find_after(at, rkeys[i]);
    free(text);
    lstar_free(data);
    lstar_store_close(s);
    lstar_dataset_free(gold);
    lt_rm_rf(path);
}

/* ---- datasets built in memory ---------------------------------------------- */

/* Same JSON value (key order aside: v2 attribute documents may be sorted). */
static void assert_json_text(const char *got, const char *want) {
    json_error_t je;
    json_t *a = json_loads(got, 0, &je), *b = json_loads(want, 0, &je);
    assert_non_null(a);
    assert_non_null(b);
    if (!json_equal(a, b)) fprintf(stderr, "JSON %s != %s\n", got, want);
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
}

static void check_built(const lstar_dataset *ds) {
    const lstar_field *f;
    assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_SAMPLE);
    assert_string_equal(lstar_dataset_dropped(ds, 0), "uns/foo (unsupported)");
    assert_json_text(lstar_axis_provenance(lstar_dataset_axis(ds, "cells")), "{\"z\":1,\"a\":[1,2]}");
    char buf[32];
    lstar_strings_get_cstr(lstar_axis_labels(lstar_dataset_axis(ds, "genes")), 2, buf, sizeof buf);
    assert_string_equal(buf, "ünï");
    assert_string_equal(lstar_axis_induced_by(lstar_dataset_axis(ds, "grp")), "grp");

    f = lstar_dataset_field(ds, "X");
    double X[15];
    uint64_t st[2] = {0, 0}, ct[2] = {5, 3};
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "values")), LSTAR_DTYPE_FLOAT64);
    ok(lstar_array_read(lstar_field_array(f, "values"), st, ct, X, NULL), NULL);
    for (int i = 0; i < 15; i++) assert_true(X[i] == i * 0.5 - 3);
    assert_string_equal(lstar_field_provenance(f), "{\"anndata\":\"X\"}");
    uint64_t dims[2];
    assert_int_equal(lstar_field_shape(f, dims, 2), 2);
    assert_int_equal(dims[0], 5);
    assert_int_equal(dims[1], 3);

    f = lstar_dataset_field(ds, "counts");
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "indptr")), LSTAR_DTYPE_INT64);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "indices")), LSTAR_DTYPE_INT32);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "data")), LSTAR_DTYPE_FLOAT32);

    f = lstar_dataset_field(ds, "note");
    assert_int_equal(lstar_field_nullable(f), 1);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "mask")), LSTAR_DTYPE_UINT8);
    lstar_strings s;
    ok(lstar_array_read_strings(lstar_field_array(f, "values"), 0, 5, &s, NULL), NULL);
    lstar_strings_get_cstr(&s, 2, buf, sizeof buf);
    assert_string_equal(buf, "gämma");
    lstar_strings_get_cstr(&s, 1, buf, sizeof buf);
    assert_string_equal(buf, "");
    lstar_strings_destroy(&s);

    f = lstar_dataset_field(ds, "grp");
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "codes")), LSTAR_DTYPE_INT32);
    int32_t codes[5];
    ok(lstar_array_read_1d_as(lstar_field_array(f, "codes"), 0, 5, LSTAR_DTYPE_INT32, codes, NULL), NULL);
    assert_int_equal(codes[2], -1);
    assert_int_equal(codes[3], 1);
    assert_int_equal(lstar_field_ordered(f), 0);

    f = lstar_dataset_field(ds, "hvg_score");
    assert_string_equal(lstar_field_coverage(f), "partial");
    assert_string_equal(lstar_field_index_axis(f), "genes");
    assert_string_equal(lstar_field_role(f), "x-test:score");
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "index")), LSTAR_DTYPE_INT64);
    int64_t idx[2];
    ok(lstar_array_read_1d_as(lstar_field_array(f, "index"), 0, 2, LSTAR_DTYPE_INT64, idx, NULL), NULL);
    assert_int_equal(idx[1], 2);

    f = lstar_dataset_field(ds, "graph");
    assert_int_equal(lstar_field_directed(f), 0);
    assert_int_equal(lstar_field_weighted(f), LSTAR_UNSET);
    assert_int_equal(lstar_field_shape(f, dims, 2), 2); /* derived from the axes on write */
    assert_int_equal(dims[0], 5);
    assert_int_equal(dims[1], 5);

    const lstar_passthrough *p = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(p);
    const lstar_array *a1 = lstar_passthrough_leaf(p, 1);
    assert_int_equal(lstar_array_rank(a1), 0);
    double scalar = 0;
    ok(lstar_array_read(a1, NULL, NULL, &scalar, NULL), NULL);
    assert_true(scalar == 42.5);
    const lstar_array *a0 = lstar_passthrough_leaf(p, 0);
    assert_int_equal(lstar_array_dtype(a0), LSTAR_DTYPE_INT16);
    assert_int_equal(lstar_array_shape(a0)[1], 3);
    assert_string_equal(lstar_passthrough_leaf_kind(p, 2), "utf8");
    ok(lstar_array_read_strings(lstar_passthrough_leaf(p, 2), 0, 3, &s, NULL), NULL);
    lstar_strings_get_cstr(&s, 2, buf, sizeof buf);
    assert_string_equal(buf, "ccc");
    lstar_strings_destroy(&s);

    lstar_findings *fi = NULL;
    ok(lstar_dataset_validate(ds, &fi, NULL), NULL);
    for (size_t i = 0; i < lstar_findings_count(fi); i++) {
        const lstar_finding *e = lstar_findings_at(fi, i);
        if (e->severity == LSTAR_SEVERITY_ERROR) fprintf(stderr, "finding %s %s: %s\n", e->code, e->where, e->message);
    }
    assert_int_equal(lstar_findings_errors(fi), 0);
    lstar_findings_free(fi);
}

static void built_roundtrip(int fmt, const char *comp, uint64_t ce, uint64_t shard) {
    char path[1024];
    lstar_write_options o;
    lstar_error err;
    lstar_error_clear(&err);
    tmp_path(path, sizeof path, "built");
    lstar_dataset *ds = build_dataset(0);
    lstar_write_options_init(&o);
    o.zarr_format = fmt;
    o.compression = comp;
    o.chunk_elems = ce;
    o.shard_elems = shard;
    ok(lstar_dataset_write(ds, path, &o, &err), &err);
    lstar_dataset *back = read_path(path);
    check_built(back);
    /* a second generation is identical to the first */
    char path2[1024];
    tmp_path(path2, sizeof path2, "built2");
    ok(lstar_dataset_write(back, path2, &o, &err), &err);
    lstar_dataset *back2 = read_path(path2);
    assert_same_dataset(back, back2);
    lstar_dataset_free(back2);
    lstar_dataset_free(back);
    lstar_dataset_free(ds);
    lt_rm_rf(path);
    lt_rm_rf(path2);
}

static void test_built_v2(void **state) { (void)state; built_roundtrip(2, NULL, 0, 0); }
static void test_built_v2_chunked(void **state) { (void)state; built_roundtrip(2, "gzip:9", 2, 0); }
static void test_built_v3_sharded(void **state) { (void)state; built_roundtrip(3, "zstd:1", 2, 5); }

/* ---- memory stores --------------------------------------------------------- */

static void test_memory_store(void **state) {
    (void)state;
    lstar_store *m = NULL;
    lstar_error err;
    lstar_write_options o;
    lstar_error_clear(&err);
    lstar_dataset *gold = read_path(GOLDEN_V3);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    assert_int_equal(lstar_store_is_lstar(m), 0);
    lstar_write_options_init(&o);
    o.zarr_format = 3;
    o.chunk_elems = 10;
    ok(lstar_dataset_write_store(gold, m, &o, &err), &err);
    assert_int_equal(lstar_store_is_lstar(m), 1);
    /* a second write into the same (now non-empty) store is refused */
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write_store(gold, m, &o, &err), LSTAR_ERR_EXISTS);
    lstar_dataset *back = NULL;
    ok(lstar_dataset_read_store(m, &back, &err), &err); /* takes m */
    assert_same_dataset(gold, back);
    lstar_dataset_free(back);
    lstar_dataset_free(gold);
}

/* kind "collection", empty profile/dropped lists, no passthrough. */
static void test_collection_kind_minimal(void **state) {
    (void)state;
    lstar_dataset *ds = NULL, *back = NULL;
    lstar_store *m = NULL;
    lstar_error err;
    static const char *const s[] = {"s1", "s2"};
    lstar_error_clear(&err);
    ok(lstar_dataset_new(&ds, NULL), NULL);
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    add_axis(ds, "samples", s, 2);
    ok(lstar_axis_set_role(lstar_dataset_axis(ds, "samples"), "sample", NULL), NULL);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    ok(lstar_dataset_write_store(ds, m, NULL, &err), &err);
    /* no passthrough group when there is no namespace; models/ always */
    assert_int_equal(lstar_store_exists(m, "passthrough/.zgroup", NULL), 0);
    assert_int_equal(lstar_store_exists(m, "models/.zgroup", NULL), 1);
    uint8_t *data = NULL;
    size_t n = 0;
    ok(lstar_store_get(m, ".zattrs", 0, &data, &n, NULL), NULL);
    json_error_t je;
    json_t *root = json_loadb((const char *)data, n, 0, &je);
    lstar_free(data);
    assert_non_null(root);
    json_t *l = json_object_get(root, "lstar");
    assert_string_equal(json_string_value(json_object_get(l, "kind")), "collection");
    assert_string_equal(json_string_value(json_object_get(l, "spec_version")), "0.1");
    assert_int_equal(json_array_size(json_object_get(l, "passthrough")), 0);
    assert_int_equal(json_array_size(json_object_get(l, "profiles")), 0);
    assert_int_equal(json_array_size(json_object_get(l, "fields")), 0);
    json_decref(root);
    ok(lstar_dataset_read_store(m, &back, &err), &err);
    assert_same_dataset(ds, back);
    assert_int_equal(lstar_dataset_kind(back), LSTAR_KIND_COLLECTION);
    lstar_dataset_free(back);
    lstar_dataset_free(ds);
}

/* `ds` written to a new memory store without consolidated metadata. */
static lstar_store *unconsolidated_copy(const lstar_dataset *ds) {
    lstar_store *m = NULL;
    lstar_write_options o;
    lstar_error err;
    lstar_error_clear(&err);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_write_options_init(&o);
    o.consolidate = 0;
    ok(lstar_dataset_write_store(ds, m, &o, &err), &err);
    return m;
}

/* What the upstream C++/R writer and minimal writers emit: role/state/
 * subtype/index_axis as "", nullable null, no dense shape, root without the
 * optional keys, partial coverage without index_axis (defaults to span[0]). */
static void put_text(lstar_store *m, const char *key, const char *text) {
    ok(lstar_store_set(m, key, text, strlen(text), NULL), NULL);
}

static void test_read_cpp_writer_variant(void **state) {
    (void)state;
    lstar_error err;
    lstar_error_clear(&err);
    lstar_dataset *gold = read_path(GOLDEN_V2);
    lstar_store *m = unconsolidated_copy(gold);
    put_text(m, ".zattrs",
             "{\"lstar\":{\"axes\":[\"cells\",\"genes\",\"pca\",\"celltype\"],"
             "\"fields\":[\"pca\",\"celltype\",\"adt\"]}}");
    put_text(m, "axes/pca/.zattrs",
             "{\"lstar\":{\"induced_by\":\"\",\"kind\":\"axis\",\"origin\":\"derived\",\"provenance\":{},"
             "\"role\":\"\"}}");
    put_text(m, "fields/pca/.zattrs",
             "{\"lstar\":{\"coverage\":\"full\",\"directed\":null,\"encoding\":\"dense\",\"index_axis\":\"\","
             "\"kind\":\"field\",\"nullable\":null,\"provenance\":{\"tool\":\"cpp\"},\"role\":\"\","
             "\"span\":[\"cells\",\"pca\"],\"state\":\"\",\"subtype\":\"\",\"uncertainty\":null,"
             "\"weighted\":null}}");
    put_text(m, "fields/celltype/.zattrs",
             "{\"lstar\":{\"coverage\":\"full\",\"directed\":null,\"encoding\":\"categorical\",\"index_axis\":null,"
             "\"kind\":\"field\",\"nullable\":false,\"ordered\":false,\"provenance\":{},\"role\":\"label\","
             "\"shape\":[12],\"span\":[\"cells\"],\"state\":\"\",\"subtype\":\"\",\"uncertainty\":null,"
             "\"weighted\":null}}");
    put_text(m, "fields/adt/.zattrs",
             "{\"lstar\":{\"coverage\":\"partial\",\"encoding\":\"dense\",\"span\":[\"cells\"],"
             "\"role\":\"measure\"}}");
    lstar_dataset *ds = NULL;
    ok(lstar_dataset_read_store(m, &ds, &err), &err);
    assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_SAMPLE);
    assert_string_equal(lstar_dataset_spec_version(ds), "0.1");
    assert_int_equal(lstar_dataset_profile_count(ds), 0);
    assert_int_equal(lstar_dataset_dropped_count(ds), 0);
    assert_int_equal(lstar_dataset_passthrough_count(ds), 0); /* not listed → not read */
    assert_int_equal(lstar_dataset_field_count(ds), 3);
    const lstar_axis *ax = lstar_dataset_axis(ds, "pca");
    assert_null(lstar_axis_role(ax));
    assert_null(lstar_axis_induced_by(ax));
    assert_string_equal(lstar_axis_origin(ax), "derived");
    const lstar_field *f = lstar_dataset_field(ds, "pca");
    assert_null(lstar_field_role(f));
    assert_null(lstar_field_state(f));
    assert_null(lstar_field_subtype(f));
    assert_null(lstar_field_index_axis(f));
    assert_string_equal(lstar_field_coverage(f), "full");
    assert_int_equal(lstar_field_nullable(f), 0);
    assert_int_equal(lstar_field_weighted(f), LSTAR_UNSET);
    assert_json_text(lstar_field_provenance(f), "{\"tool\":\"cpp\"}");
    uint64_t dims[2];
    assert_int_equal(lstar_field_shape(f, dims, 2), 2); /* from the values array */
    assert_int_equal(dims[0], 12);
    assert_int_equal(dims[1], 3);
    f = lstar_dataset_field(ds, "celltype");
    assert_int_equal(lstar_field_ordered(f), 0);
    assert_string_equal(lstar_field_role(f), "label");
    f = lstar_dataset_field(ds, "adt");
    assert_string_equal(lstar_field_coverage(f), "partial");
    assert_string_equal(lstar_field_index_axis(f), "cells");
    assert_non_null(lstar_field_array(f, "index"));
    lstar_findings *fi = NULL;
    ok(lstar_dataset_validate(ds, &fi, NULL), NULL);
    assert_int_equal(lstar_findings_errors(fi), 0);
    lstar_findings_free(fi);
    lstar_dataset_free(ds);
    lstar_dataset_free(gold);
}

/* v2 without consolidation: no .zmetadata, still readable. */
static void test_unconsolidated(void **state) {
    (void)state;
    lstar_error err;
    lstar_error_clear(&err);
    lstar_dataset *gold = read_path(GOLDEN_V2);
    lstar_store *m = unconsolidated_copy(gold);
    assert_int_equal(lstar_store_exists(m, ".zmetadata", NULL), 0);
    assert_int_equal(lstar_store_exists(m, "fields/qc/mask/.zarray", NULL), 1);
    lstar_dataset *back = NULL;
    ok(lstar_dataset_read_store(m, &back, &err), &err);
    assert_same_dataset(gold, back);
    lstar_dataset_free(back);
    lstar_dataset_free(gold);
}

/* Above LSTAR_DEFAULT_STREAM_CHUNK_ELEMS elements, chunk_elems 0 streams in
 * chunks of that many elements instead of one huge chunk. */
static void test_large_array_default_chunks(void **state) {
    (void)state;
    const uint64_t n = LSTAR_DEFAULT_STREAM_CHUNK_ELEMS + 1000;
    static const char *const one[] = {"only"};
    float *v = lstar_malloc(n * sizeof(float));
    assert_non_null(v);
    for (uint64_t i = 0; i < n; i++) v[i] = (float)(i % 1000);
    lstar_dataset *ds = NULL;
    lstar_field *f = NULL;
    lstar_passthrough *p = NULL;
    ok(lstar_dataset_new(&ds, NULL), NULL);
    add_axis(ds, "x", one, 1);
    ok(lstar_dataset_add_passthrough(ds, "big", "{\"$array\": \"a0\"}", &p, NULL), NULL);
    lstar_array *a = NULL;
    ok(lstar_array_new_owned(LSTAR_DTYPE_FLOAT32, 1, &n, v, &a, NULL), NULL);
    ok(lstar_passthrough_add_leaf(p, "a0", "dense", a, NULL), NULL);
    (void)f;
    lstar_store *m = NULL;
    lstar_error err;
    lstar_error_clear(&err);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    ok(lstar_dataset_write_store(ds, m, NULL, &err), &err);
    lstar_zarr *z = NULL;
    lstar_zarr_array *za = NULL;
    ok(lstar_zarr_open(m, &z, NULL), NULL);
    ok(lstar_zarr_array_open(z, "passthrough/big/a0", &za, NULL), NULL);
    assert_int_equal(lstar_zarr_array_shape(za)[0], n);
    assert_int_equal(lstar_zarr_array_chunks(za)[0], LSTAR_DEFAULT_STREAM_CHUNK_ELEMS);
    assert_int_equal(lstar_zarr_array_num_chunks(za), 2);
    float tail[3];
    uint64_t start = n - 3, count = 3;
    ok(lstar_zarr_array_read(za, &start, &count, tail, NULL), NULL);
    assert_true(tail[2] == (float)((n - 1) % 1000));
    lstar_zarr_array_close(za);
    /* small arrays keep a single chunk */
    ok(lstar_zarr_array_open(z, "axes/x/labels_offsets", &za, NULL), NULL);
    assert_int_equal(lstar_zarr_array_chunks(za)[0], 2);
    lstar_zarr_array_close(za);
    lstar_zarr_close(z);
    lstar_store_close(m);
    lstar_dataset_free(ds);
}

/* ---- bounded memory: a generated array never held anywhere ---------------- */

typedef struct gen {
    uint64_t n, max_read, reads;
} gen;

static lstar_status gen_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err) {
    gen *g = ctx;
    (void)err;
    float *o = out;
    if (count[0] > g->max_read) g->max_read = count[0];
    g->reads++;
    for (uint64_t i = 0; i < count[0]; i++) o[i] = (float)((start[0] + i) % 977);
    return LSTAR_OK;
}

static void gen_close(void *ctx) { (void)ctx; }

static const lstar_array_ops k_gen_ops = {LSTAR_ARRAY_OPS_VERSION, "generated", gen_read, NULL, gen_close, NULL};

static void streamed_write(uint64_t chunk_elems, int threads, uint64_t want_chunk, uint64_t max_read) {
    gen g = {3000000, 0, 0};
    lstar_array_info info;
    memset(&info, 0, sizeof info);
    info.dtype = LSTAR_DTYPE_FLOAT32;
    info.rank = 1;
    info.shape[0] = g.n;
    lstar_array *a = NULL;
    ok(lstar_array_from_ops(&k_gen_ops, &g, &info, &a, NULL), NULL);
    lstar_dataset *ds = NULL;
    lstar_passthrough *p = NULL;
    ok(lstar_dataset_new(&ds, NULL), NULL);
    ok(lstar_dataset_add_passthrough(ds, "gen", "{\"$array\": \"a0\"}", &p, NULL), NULL);
    ok(lstar_passthrough_add_leaf(p, "a0", "dense", a, NULL), NULL);
    lstar_store *m = NULL;
    lstar_write_options o;
    lstar_error err;
    lstar_error_clear(&err);
    lstar_write_options_init(&o);
    o.zarr_format = 3;
    o.compression = "zstd:1";
    o.chunk_elems = chunk_elems;
    o.threads = threads;
    ok(lstar_store_new_memory(&m, NULL), NULL);
    ok(lstar_dataset_write_store(ds, m, &o, &err), &err);
    /* the source was read in blocks of whole chunks, never whole */
    assert_true(g.max_read <= max_read);
    assert_true(g.reads >= g.n / max_read);
    lstar_zarr *z = NULL;
    lstar_zarr_array *za = NULL;
    ok(lstar_zarr_open(m, &z, NULL), NULL);
    ok(lstar_zarr_array_open(z, "passthrough/gen/a0", &za, NULL), NULL);
    assert_int_equal(lstar_zarr_array_shape(za)[0], g.n);
    assert_int_equal(lstar_zarr_array_chunks(za)[0], want_chunk);
    float v[4];
    uint64_t start = 2999996, count = 4;
    ok(lstar_zarr_array_read(za, &start, &count, v, NULL), NULL);
    for (int i = 0; i < 4; i++) assert_true(v[i] == (float)((2999996 + (uint64_t)i) % 977));
    start = 1234567;
    count = 1;
    ok(lstar_zarr_array_read(za, &start, &count, v, NULL), NULL);
    assert_true(v[0] == (float)(1234567 % 977));
    lstar_zarr_array_close(za);
    lstar_zarr_close(z);
    lstar_store_close(m);
    lstar_dataset_free(ds);
}

static void test_streaming_is_bounded(void **state) {
    (void)state;
    streamed_write(100000, 1, 100000, 100000);   /* one chunk per block */
    streamed_write(100000, 3, 100000, 300000);   /* up to one chunk per encoder thread */
    streamed_write(0, 1, LSTAR_DEFAULT_STREAM_CHUNK_ELEMS, LSTAR_DEFAULT_STREAM_CHUNK_ELEMS); /* > 1M: 1M chunks */
}

/* ---- progress ---------------------------------------------------------------- */

typedef struct prog {
    uint64_t calls, last_done, total;
    int monotone;
} prog;

static void on_progress(void *ud, uint64_t done, uint64_t total) {
    prog *p = ud;
    if (done < p->last_done || (p->calls && total != p->total)) p->monotone = 0;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static void test_progress(void **state) {
    (void)state;
    lstar_store *m = NULL;
    lstar_write_options o;
    prog pr = {0, 0, 0, 1};
    lstar_dataset *gold = read_path(GOLDEN_V2);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_write_options_init(&o);
    o.chunk_elems = 4;
    o.progress = on_progress;
    o.progress_ud = &pr;
    ok(lstar_dataset_write_store(gold, m, &o, NULL), NULL);
    assert_true(pr.calls > 10);
    assert_true(pr.monotone);
    /* labels 12+8+3+3, counts 44+44+9, lognorm 44+44+13, pca 36, leiden 12,
     * celltype 12+3, qc 12+12, adt 6+6, knn 43+43+13, a0 4 */
    assert_int_equal(pr.total, 26 + 97 + 101 + 36 + 12 + 15 + 24 + 12 + 99 + 4);
    assert_int_equal(pr.last_done, pr.total);
    lstar_store_close(m);
    lstar_dataset_free(gold);
}

/* ---- temporary name, rename, overwrite --------------------------------------- */

static void test_write_existing_refused(void **state) {
    (void)state;
    char path[1024], marker[1200];
    lstar_error err;
    lstar_error_clear(&err);
    tmp_path(path, sizeof path, "exists.lstar.zarr");
    assert_int_equal(mkdir(path, 0777), 0);
    snprintf(marker, sizeof marker, "%s/marker", path);
    lt_write_text(marker, "keep me");
    lstar_dataset *gold = read_path(GOLDEN_V2);
    assert_int_equal(lstar_dataset_write(gold, path, NULL, &err), LSTAR_ERR_EXISTS);
    assert_non_null(strstr(err.where, "exists.lstar.zarr"));
    assert_true(lt_path_exists(marker));
    assert_int_equal(leftovers("exists.lstar.zarr"), 0);
    /* with a trailing slash too */
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", path);
    assert_int_equal(lstar_dataset_write(gold, slash, NULL, NULL), LSTAR_ERR_EXISTS);
    assert_true(lt_path_exists(marker));

    /* overwrite replaces it and leaves no sibling behind */
    lstar_write_options o;
    lstar_write_options_init(&o);
    o.overwrite = 1;
    ok(lstar_dataset_write(gold, slash, &o, &err), &err);
    assert_false(lt_path_exists(marker));
    assert_int_equal(leftovers("exists.lstar.zarr"), 0);
    lstar_dataset *back = read_path(path);
    assert_same_dataset(gold, back);
    lstar_dataset_free(back);
    lstar_dataset_free(gold);
    lt_rm_rf(path);
}

static void test_write_failure_leaves_nothing(void **state) {
    (void)state;
    char path[1024];
    lstar_error err;
    lstar_error_clear(&err);
    tmp_path(path, sizeof path, "fail.lstar.zarr");
    lstar_dataset *bad = build_dataset(1); /* X/values fails on read */
    assert_int_equal(lstar_dataset_write(bad, path, NULL, &err), LSTAR_ERR_IO);
    assert_non_null(strstr(err.where, "fields/X/values"));
    assert_false(lt_path_exists(path));
    assert_int_equal(leftovers("fail.lstar.zarr"), 0);

    /* an existing store survives a failed overwrite */
    lstar_dataset *good = read_path(GOLDEN_V2);
    ok(lstar_dataset_write(good, path, NULL, &err), &err);
    lstar_write_options o;
    lstar_write_options_init(&o);
    o.overwrite = 1;
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write(bad, path, &o, &err), LSTAR_ERR_IO);
    assert_int_equal(leftovers("fail.lstar.zarr"), 0);
    lstar_dataset *back = read_path(path);
    assert_same_dataset(good, back);
    lstar_dataset_free(back);
    lstar_dataset_free(good);
    lstar_dataset_free(bad);
    lt_rm_rf(path);
}

static void test_write_bad_options(void **state) {
    (void)state;
    lstar_store *m = NULL;
    lstar_write_options o;
    lstar_dataset *gold = read_path(GOLDEN_V2);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_write_options_init(&o);
    o.zarr_format = 4;
    assert_int_equal(lstar_dataset_write_store(gold, m, &o, NULL), LSTAR_ERR_INVALID_ARG);
    o.zarr_format = 2;
    o.shard_elems = 10; /* sharding is v3 only */
    assert_int_equal(lstar_dataset_write_store(gold, m, &o, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_store_close(m);
    /* names that cannot be path segments */
    lstar_dataset *ds = NULL;
    static const char *const one[] = {"a"};
    ok(lstar_dataset_new(&ds, NULL), NULL);
    add_axis(ds, "../evil", one, 1);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_error err;
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write_store(ds, m, NULL, &err), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(err.where, "axes");
    lstar_store_close(m);
    lstar_dataset_free(ds);
    /* a field lacking an array its encoding needs */
    ok(lstar_dataset_new(&ds, NULL), NULL);
    add_axis(ds, "a", one, 1);
    static const char *const span[] = {"a"};
    lstar_field *f = NULL;
    ok(lstar_dataset_add_field(ds, "v", LSTAR_ENC_DENSE, 1, span, &f, NULL), NULL);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write_store(ds, m, NULL, &err), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(err.where, "fields/v/values");
    lstar_store_close(m);
    lstar_dataset_free(ds);
    /* categorical codes that do not fit the int32 the format stores */
    ok(lstar_dataset_new(&ds, NULL), NULL);
    add_axis(ds, "a", one, 1);
    int64_t big = (int64_t)1 << 40;
    uint64_t n1 = 1;
    ok(lstar_dataset_add_field(ds, "c", LSTAR_ENC_CATEGORICAL, 1, span, &f, NULL), NULL);
    ok(lstar_field_set_array(f, "codes", mem(LSTAR_DTYPE_INT64, 1, &n1, &big), NULL), NULL);
    ok(lstar_field_set_array(f, "categories", strs(one, 1), NULL), NULL);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write_store(ds, m, NULL, &err), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(err.where, "fields/c/codes");
    assert_non_null(strstr(err.message, "int32"));
    lstar_store_close(m);
    lstar_dataset_free(ds);
    /* a utf8 field whose values are numbers */
    ok(lstar_dataset_new(&ds, NULL), NULL);
    add_axis(ds, "a", one, 1);
    ok(lstar_dataset_add_field(ds, "u", LSTAR_ENC_UTF8, 1, span, &f, NULL), NULL);
    ok(lstar_field_set_array(f, "values", mem(LSTAR_DTYPE_INT64, 1, &n1, &big), NULL), NULL);
    ok(lstar_store_new_memory(&m, NULL), NULL);
    lstar_error_clear(&err);
    assert_int_equal(lstar_dataset_write_store(ds, m, NULL, &err), LSTAR_ERR_INVALID_ARG);
    assert_string_equal(err.where, "fields/u/values");
    lstar_store_close(m);
    lstar_dataset_free(ds);
    lstar_dataset_free(gold);
}

/* ---- allocation failures: fail the N-th allocation, N = 1, 2, … ---------- */

/* Run op under an allocator failing allocation N for every N until a run
 * sees no failure; every failed run must report an error and free all. */
/* Every N up to `dense`, then every `stride`-th (directory writes are slow
 * enough that walking each of their allocations would take minutes; the
 * memory-store walk covers the writer exhaustively). */
static void walk_failures(lstar_status (*op)(void *ud), void *ud, void (*after_failure)(void *ud),
                          void (*after_absorbed)(void *ud), long dense, long stride) {
    long n, absorbed = 0, runs = 0;
    for (n = 1; n < 200000; n = n < dense ? n + 1 : n + stride) {
        runs++;
        lt_failing f;
        lt_failing_start(&f, n, 0);
        /* jansson 2.14's parser corrupts its state when an allocation fails
         * mid-token (akheron/jansson#735), so JSON allocations are served by
         * libc here; every lstar allocation is still failed in turn. */
        json_set_alloc_funcs(malloc, free);
        lstar_status st = op(ud);
        lt_failing_stop();
        if (f.live != 0) fprintf(stderr, "allocation %ld failed: %ld blocks leaked (status %s)\n", n, f.live,
                                 lstar_status_name(st));
        assert_int_equal(f.live, 0);
        if (!f.injected) {
            assert_int_equal(st, LSTAR_OK);
            break;
        }
        if (st == LSTAR_OK && after_absorbed) after_absorbed(ud);
        /* A failure may be absorbed (e.g. a realloc that only shrinks a
         * buffer); the call must then have fully succeeded. */
        if (st != LSTAR_OK && after_failure) after_failure(ud);
        if (st == LSTAR_OK) absorbed++;
    }
    fprintf(stderr, "  walked %ld allocations in %ld runs (%ld failures absorbed)\n", n, runs, absorbed);
    assert_true(n > 10);
}

static lstar_status op_read(void *ud) {
    lstar_dataset *ds = NULL;
    lstar_status st = lstar_dataset_read((const char *)ud, &ds, NULL);
    if (st == LSTAR_OK) {
        /* touch lazy values and strings too */
        const lstar_field *f = lstar_dataset_field(ds, "counts");
        void *buf = NULL;
        size_t nb;
        st = lstar_array_read_all(lstar_field_array(f, "data"), 0, &buf, &nb, NULL);
        lstar_free(buf);
    }
    lstar_dataset_free(ds);
    return st;
}

static void test_read_alloc_failures(void **state) {
    (void)state;
    walk_failures(op_read, (void *)GOLDEN_V2, NULL, NULL, 1L << 30, 1);
    walk_failures(op_read, (void *)GOLDEN_V3, NULL, NULL, 1L << 30, 1);
}

typedef struct write_job {
    const lstar_dataset *ds;
    lstar_write_options o;
    const char *path; /* NULL = a memory store */
} write_job;

static lstar_status op_write(void *ud) {
    write_job *j = ud;
    if (j->path) return lstar_dataset_write(j->ds, j->path, &j->o, NULL);
    lstar_store *m = NULL;
    lstar_status st = lstar_store_new_memory(&m, NULL);
    if (st == LSTAR_OK) st = lstar_dataset_write_store(j->ds, m, &j->o, NULL);
    lstar_store_close(m);
    return st;
}

static void after_failed_dir_write(void *ud) {
    write_job *j = ud;
    assert_false(lt_path_exists(j->path));
    assert_int_equal(leftovers("allocfail"), 0);
}

static void after_success_reset(void *ud) {
    write_job *j = ud;
    assert_true(lt_path_exists(j->path));
    lt_rm_rf(j->path);
}

static void test_write_alloc_failures(void **state) {
    (void)state;
    char path[1024];
    write_job j;
    lstar_dataset *gold = read_path(GOLDEN_V2);
    lstar_dataset *built = build_dataset(0);
    tmp_path(path, sizeof path, "allocfail.lstar.zarr");
    /* directory, v2, gzip, multi-chunk: a failure never leaves anything at path */
    j.ds = gold;
    lstar_write_options_init(&j.o);
    j.o.compression = "gzip:1";
    j.o.chunk_elems = 5;
    j.o.threads = 1;
    j.path = path;
    walk_failures(op_write, &j, after_failed_dir_write, after_success_reset, 20, 150);
    assert_true(lt_path_exists(path));
    lt_rm_rf(path);
    /* memory, v3, zstd, sharded, the in-memory dataset (conversions, streamed strings) */
    j.ds = built;
    lstar_write_options_init(&j.o);
    j.o.zarr_format = 3;
    j.o.compression = "zstd:1";
    j.o.chunk_elems = 2;
    j.o.shard_elems = 4;
    j.o.threads = 1;
    j.path = NULL;
    walk_failures(op_write, &j, NULL, NULL, 1L << 30, 1);
    lstar_dataset_free(built);
    lstar_dataset_free(gold);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init),
        cmocka_unit_test(test_chunk_rows),
        cmocka_unit_test(test_roundtrip_v2_none_single),
        cmocka_unit_test(test_roundtrip_v2_gzip_multi),
        cmocka_unit_test(test_roundtrip_v2_zstd_multi),
        cmocka_unit_test(test_roundtrip_v2_chunk1),
        cmocka_unit_test(test_roundtrip_v3_none_single),
        cmocka_unit_test(test_roundtrip_v3_gzip_multi),
        cmocka_unit_test(test_roundtrip_v3_zstd_sharded),
        cmocka_unit_test(test_cross_format),
        cmocka_unit_test(test_v3_attr_text_order),
        cmocka_unit_test(test_built_v2),
        cmocka_unit_test(test_built_v2_chunked),
        cmocka_unit_test(test_built_v3_sharded),
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_collection_kind_minimal),
        cmocka_unit_test(test_read_cpp_writer_variant),
        cmocka_unit_test(test_unconsolidated),
        cmocka_unit_test(test_large_array_default_chunks),
        cmocka_unit_test(test_streaming_is_bounded),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_write_existing_refused),
        cmocka_unit_test(test_write_failure_leaves_nothing),
        cmocka_unit_test(test_write_bad_options),
        cmocka_unit_test(test_read_alloc_failures),
        cmocka_unit_test(test_write_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
