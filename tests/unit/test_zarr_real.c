/* The Zarr layer against real third-party stores (../shared/data): a v2
 * directory store with blosc-lz4 and structured dtypes, a v3 sharded zip
 * written by zarr-python 3, v2 zips of several anndata versions and the
 * upstream L★ golden stores. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/store.h"
#include "lstar/zarr.h"


#define DATA(p) LSTAR_SHARED_DATA "/" p

static int have(const char *path) {
    if (access(path, R_OK) == 0) return 1;
    print_message("shared test data missing: %s (skipped)\n", path);
    return 0;
}

static lstar_zarr *open_path(const char *path, lstar_store **s) {
    lstar_zarr *z = NULL;
    OKE(lstar_store_open(path, LSTAR_STORE_READ, s, &e_));
    OKE(lstar_zarr_open(*s, &z, &e_));
    return z;
}

static void test_10x_10k_subset_v2(void **state) {
    (void)state;
    const char *p = DATA("scverse_scanpy/tests/_data/10x-10k-subset.zarr");
    if (!have(p)) skip();
    lstar_store *s = NULL;
    lstar_zarr *z = open_path(p, &s);
    assert_int_equal(lstar_zarr_format(z), 2);
    assert_int_equal(lstar_zarr_is_consolidated(z), 0);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "X", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_FLOAT32);
    assert_int_equal(lstar_zarr_array_shape(a)[0], 10000);
    assert_int_equal(lstar_zarr_array_shape(a)[1], 1000);
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "blosc(lz4,5,shuffle)");
    lstar_free(desc);
    float *x = malloc(sizeof(float) * 10000 * 1000);
    uint64_t st[2] = {0, 0}, cnt[2] = {10000, 1000};
    OKE(lstar_zarr_array_read(a, st, cnt, x, &e_));
    uint64_t nnz = 0;
    double sum = 0;
    for (size_t i = 0; i < 10000u * 1000u; i++) {
        nnz += x[i] != 0.0f;
        sum += x[i];
    }
    /* numbers from SOURCES.md and zarr-python 2.13:
     * np.count_nonzero(X) == 691914, X.astype(np.float64).sum() == 1597698.0 */
    assert_int_equal(nnz, 691914);
    assert_true(sum == 1597698.0);
    /* a region crossing a chunk boundary matches the full read */
    float reg[6 * 3];
    uint64_t rs[2] = {1998, 500}, rc[2] = {6, 3};
    OKE(lstar_zarr_array_read(a, rs, rc, reg, &e_));
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++) assert_true(reg[i * 3 + j] == x[(1998 + i) * 1000 + 500 + j]);
    free(x);
    uint64_t bytes = 0;
    OKE(lstar_zarr_array_stored_bytes(a, &bytes, &e_));
    assert_int_equal(bytes, 917850u + 918726u + 922150u + 928651u + 913135u);
    lstar_zarr_array_close(a);
    /* var: structured [(index,S13),(gene_ids,S18)] */
    OKE(lstar_zarr_array_open(z, "var", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_STRUCT);
    assert_int_equal(lstar_zarr_array_itemsize(a), 31);
    assert_string_equal(lstar_zarr_array_dtype_text(a), "[[\"index\",\"|S13\"],[\"gene_ids\",\"|S18\"]]");
    uint8_t rec[31 * 2];
    uint64_t vs = 0, vc = 2;
    OKE(lstar_zarr_array_read(a, &vs, &vc, rec, &e_));
    assert_memory_equal(rec, "Xkr4\0", 5);
    assert_memory_equal(rec + 13, "ENSMUSG00000051951", 18);
    assert_memory_equal(rec + 31, "Gm1992\0", 7);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_pbmc68k_v3_sharded_zip(void **state) {
    (void)state;
    const char *p = DATA("scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip");
    if (!have(p)) skip();
    lstar_store *s = NULL;
    lstar_zarr *z = open_path(p, &s);
    assert_int_equal(lstar_zarr_format(z), 3);
    assert_int_equal(lstar_zarr_is_consolidated(z), 1);
    assert_int_equal(lstar_zarr_node_type(z, "X", NULL), LSTAR_ZARR_ARRAY);
    assert_int_equal(lstar_zarr_node_type(z, "obs", NULL), LSTAR_ZARR_GROUP);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "X", &a, &e_));
    assert_non_null(lstar_zarr_array_shard_shape(a));
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "sharded[bytes(little) | zstd(0)]");
    lstar_free(desc);
    float *x = malloc(sizeof(float) * 700 * 765);
    uint64_t st[2] = {0, 0}, cnt[2] = {700, 765};
    OKE(lstar_zarr_array_read(a, st, cnt, x, &e_));
    double sum = 0;
    for (size_t i = 0; i < 700u * 765u; i++) sum += x[i];
    /* Expected values computed once with h5py from the same dataset's h5ad:
     *   X = h5py.File("10x_pbmc68k_reduced.h5ad")["X"][:]
     *   X.astype(np.float64).sum() == -243.681057988666
     *   X[0,0] == -0.326, X[699,764] == -0.49, X[123,456] == -0.604, X[350,400] == 1.998 (float32) */
    assert_true(fabs(sum - (-243.681057988666)) < 1e-6);
    assert_true(x[0] == -0.326f);
    assert_true(x[699 * 765 + 764] == -0.49f);
    assert_true(x[123 * 765 + 456] == -0.604f);
    assert_true(x[350 * 765 + 400] == 1.998f);
    /* region read across shard boundaries */
    float reg[4 * 4];
    uint64_t rs[2] = {173, 381}, rc[2] = {4, 4};
    OKE(lstar_zarr_array_read(a, rs, rc, reg, &e_));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) assert_true(reg[i * 4 + j] == x[(173 + i) * 765 + 381 + j]);
    free(x);
    lstar_zarr_array_close(a);
    /* vlen-utf8 strings in a shard: obs/index */
    OKE(lstar_zarr_array_open(z, "obs/index", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_STRING);
    lstar_strings names;
    OKE(lstar_zarr_array_read_strings(a, 0, 700, &names, &e_));
    char item[64];
    assert_int_equal(names.n, 700);
    assert_string_equal(lstar_strings_get_cstr(&names, 0, item, sizeof item), "AAAGCCTGGCTAAC-1");
    assert_string_equal(lstar_strings_get_cstr(&names, 699, item, sizeof item), "TTGAGGTGGAGAGC-8");
    lstar_strings_destroy(&names);
    lstar_zarr_array_close(a);
    char *attrs = NULL;
    OKE(lstar_zarr_get_attrs(z, "obs/louvain", &attrs, &e_));
    assert_non_null(strstr(attrs, "\"encoding-type\":\"categorical\""));
    lstar_free(attrs);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* Open and read one whole array (numeric: every element; strings: every item). */
static void read_array(lstar_zarr *z, const char *path, int *narrays) {
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, path, &a, &e_));
    int rank = lstar_zarr_array_rank(a);
    const uint64_t *shape = lstar_zarr_array_shape(a);
    uint64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    lstar_dtype dt = lstar_zarr_array_dtype(a);
    if (dt == LSTAR_DTYPE_STRING || dt == LSTAR_DTYPE_FIXED_BYTES || dt == LSTAR_DTYPE_FIXED_UTF32) {
        lstar_strings s;
        OKE(lstar_zarr_array_read_strings(a, 0, n, &s, &e_));
        assert_int_equal(s.n, n);
        lstar_strings_destroy(&s);
    } else {
        void *buf = malloc((size_t)(n * lstar_zarr_array_itemsize(a)) + 1);
        uint64_t st[32] = {0};
        OKE(lstar_zarr_array_read(a, st, shape, buf, &e_));
        free(buf);
    }
    lstar_zarr_array_close(a);
    (*narrays)++;
}

typedef struct walk {
    lstar_zarr *z;
    char base[512];
    char kids[512][128];
    int n;
} walk;

static int walk_cb(void *ud, const char *name) {
    walk *w = ud;
    if (w->n < 512) snprintf(w->kids[w->n++], 128, "%s", name);
    return 0;
}

static void walk_tree(lstar_zarr *z, const char *path, int *narrays, int *ngroups) {
    lstar_zarr_node t = lstar_zarr_node_type(z, path, NULL);
    if (t == LSTAR_ZARR_ARRAY) {
        read_array(z, path, narrays);
        return;
    }
    assert_int_equal(t, LSTAR_ZARR_GROUP);
    (*ngroups)++;
    walk *w = calloc(1, sizeof *w);
    OKE(lstar_zarr_list_children(z, path, walk_cb, w, &e_));
    for (int i = 0; i < w->n; i++) {
        char child[1024];
        snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "/" : "", w->kids[i]);
        walk_tree(z, child, narrays, ngroups);
    }
    free(w);
}

static void test_walk_real_stores(void **state) {
    (void)state;
    const struct {
        const char *path;
        int format, min_arrays;
    } stores[] = {
        {DATA("scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip"), 2, 20},
        {DATA("scverse_anndata/tests/data/archives/v0.7.8/adata.zarr.zip"), 2, 20},
        {DATA("scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip"), 2, 2},
        {DATA("scverse_mudata/tests/data/archives/v0.1.2/mdata_axis0.zarr.zip"), 2, 5},
        {DATA("scverse_mudata/tests/data/archives/v0.4.1/mdata_axis0.zarr.zip"), 3, 5},
        {DATA("scverse_mudata/tests/data/archives/v0.4.1/mdata_axis1.zarr.zip"), 3, 5},
        {DATA("scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip"), 3, 20},
        {DATA("kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr"), 2, 20},
        {DATA("kharchenkolab_lstar/conformance/fixtures/golden_v3.lstar.zarr"), 3, 20},
    };
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        if (!have(stores[i].path)) continue;
        lstar_store *s = NULL;
        lstar_zarr *z = open_path(stores[i].path, &s);
        assert_int_equal(lstar_zarr_format(z), stores[i].format);
        int narrays = 0, ngroups = 0;
        walk_tree(z, "", &narrays, &ngroups);
        if (narrays < stores[i].min_arrays)
            fail_msg("%s: only %d arrays found", stores[i].path, narrays);
        lstar_zarr_close(z);
        lstar_store_close(s);
    }
}

static double sum_f32(lstar_zarr *z, const char *path, uint64_t *n_out) {
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, path, &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_FLOAT32);
    uint64_t n = lstar_zarr_array_shape(a)[0], st = 0;
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    OKE(lstar_zarr_array_read(a, &st, &n, v, &e_));
    double s = 0;
    for (uint64_t i = 0; i < n; i++) s += v[i];
    free(v);
    lstar_zarr_array_close(a);
    *n_out = n;
    return s;
}

static void test_golden_lstar_stores(void **state) {
    (void)state;
    const char *paths[] = {DATA("kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr"),
                           DATA("kharchenkolab_lstar/conformance/fixtures/golden_v3.lstar.zarr")};
    for (int f = 0; f < 2; f++) {
        if (!have(paths[f])) continue;
        lstar_store *s = NULL;
        lstar_zarr *z = open_path(paths[f], &s);
        assert_int_equal(lstar_zarr_format(z), 2 + f);
        assert_int_equal(lstar_zarr_is_consolidated(z), 1);
        uint64_t n = 0;
        /* expected.json: counts {nnz 44, sum 112.0}; knn {nnz 43} */
        assert_true(sum_f32(z, "fields/counts/data", &n) == 112.0);
        assert_int_equal(n, 44);
        sum_f32(z, "fields/knn/data", &n);
        assert_int_equal(n, 43);
        /* celltype codes (expected.json) */
        lstar_zarr_array *a = NULL;
        OKE(lstar_zarr_array_open(z, "fields/celltype/codes", &a, &e_));
        int32_t codes[12];
        uint64_t st = 0, cnt = 12;
        OKE(lstar_zarr_array_read(a, &st, &cnt, codes, &e_));
        const int32_t want[12] = {0, 1, 2, -1, 0, 1, 2, 0, 1, 2, 0, 1};
        assert_memory_equal(codes, want, sizeof want);
        lstar_zarr_array_close(a);
        /* adt index [0,2,4,6,8,10] */
        OKE(lstar_zarr_array_open(z, "fields/adt/index", &a, &e_));
        int64_t idx[6];
        cnt = 6;
        OKE(lstar_zarr_array_read(a, &st, &cnt, idx, &e_));
        for (int i = 0; i < 6; i++) assert_int_equal(idx[i], 2 * i);
        lstar_zarr_array_close(a);
        /* leiden utf8 bytes: "cl0cl1cl2..." */
        OKE(lstar_zarr_array_open(z, "fields/leiden/values", &a, &e_));
        uint8_t bytes[36];
        cnt = 36;
        OKE(lstar_zarr_array_read(a, &st, &cnt, bytes, &e_));
        assert_memory_equal(bytes, "cl0cl1cl2cl0", 12);
        lstar_zarr_array_close(a);
        char *attrs = NULL;
        OKE(lstar_zarr_get_attrs(z, "", &attrs, &e_));
        assert_non_null(strstr(attrs, "\"spec_version\":\"0.1\""));
        lstar_free(attrs);
        lstar_zarr_close(z);
        lstar_store_close(s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_10x_10k_subset_v2),
        cmocka_unit_test(test_pbmc68k_v3_sharded_zip),
        cmocka_unit_test(test_walk_real_stores),
        cmocka_unit_test(test_golden_lstar_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
