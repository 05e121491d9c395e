/* Unit tests: the AnnData writer (lstar_anndata_write).
 *
 * Datasets are built in memory with every kind of field the writer places
 * (X / layers / raw, obs and var columns of every kind, obsm / varm, obsp /
 * varp, typed uns fields, the uns passthrough) plus fields no slot holds,
 * written as h5ad and as anndata-zarr v2 / v3, and read back with
 * lstar_anndata_read: the axes, fields and values must come back.  Also:
 * the dropped list, temp + rename behaviour, refusing an existing
 * destination, byte identity of the output for any thread count, and
 * collections flattened into one AnnData (union X assembled by name). */
#include <dirent.h>
#include <math.h>
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
#include "lstar/h5.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/store.h"
#include "lstar/zarr.h"
#include "test_support.h"

#define TMP LSTAR_TEST_TMP
#define PLUGINS LSTAR_TEST_TMP "/../../filters/plugins"
#define OK(call) assert_int_equal((call), LSTAR_OK)

/* ---- dataset construction --------------------------------------------------------------------------- */

static void add_axis(lstar_dataset *ds, const char *name, const char *const *labels, size_t n, const char *origin,
                     const char *role) {
    lstar_strings s;
    lstar_axis *a = NULL;
    OK(lstar_strings_from_cstrs(&s, labels, n, NULL));
    OK(lstar_dataset_add_axis(ds, name, &s, &a, NULL));
    OK(lstar_axis_set_origin(a, origin, NULL));
    OK(lstar_axis_set_role(a, role, NULL));
}

static lstar_field *add_dense(lstar_dataset *ds, const char *name, const char *role, lstar_dtype dt, int rank,
                              const uint64_t *shape, const void *data, const char *s0, const char *s1) {
    lstar_field *f = NULL;
    lstar_array *a = NULL;
    const char *span[2] = {s0, s1};
    OK(lstar_dataset_add_field(ds, name, LSTAR_ENC_DENSE, s1 ? 2 : 1, span, &f, NULL));
    if (role) OK(lstar_field_set_role(f, role, NULL));
    OK(lstar_array_new_copy(dt, rank, shape, data, &a, NULL));
    OK(lstar_field_set_array(f, "values", a, NULL));
    return f;
}

static lstar_field *add_sparse(lstar_dataset *ds, const char *name, lstar_encoding enc, const char *s0,
                               const char *s1, uint64_t r, uint64_t c, lstar_dtype ddt, const void *data,
                               const int32_t *indices, uint64_t nnz, const int32_t *indptr, uint64_t np) {
    lstar_field *f = NULL;
    lstar_array *a = NULL;
    const char *span[2] = {s0, s1};
    uint64_t shape[2] = {r, c};
    OK(lstar_dataset_add_field(ds, name, enc, 2, span, &f, NULL));
    OK(lstar_field_set_role(f, "measure", NULL));
    OK(lstar_array_new_copy(ddt, 1, &nnz, data, &a, NULL));
    OK(lstar_field_set_array(f, "data", a, NULL));
    OK(lstar_array_new_copy(LSTAR_DTYPE_INT32, 1, &nnz, indices, &a, NULL));
    OK(lstar_field_set_array(f, "indices", a, NULL));
    OK(lstar_array_new_copy(LSTAR_DTYPE_INT32, 1, &np, indptr, &a, NULL));
    OK(lstar_field_set_array(f, "indptr", a, NULL));
    OK(lstar_field_set_shape(f, 2, shape, NULL));
    return f;
}

static lstar_field *add_utf8(lstar_dataset *ds, const char *name, const char *axis, const char *const *items,
                             size_t n) {
    lstar_field *f = NULL;
    lstar_array *a = NULL;
    lstar_strings s;
    OK(lstar_dataset_add_field(ds, name, LSTAR_ENC_UTF8, 1, &axis, &f, NULL));
    OK(lstar_field_set_role(f, "label", NULL));
    OK(lstar_strings_from_cstrs(&s, items, n, NULL));
    OK(lstar_array_new_strings(&s, &a, NULL));
    OK(lstar_field_set_array(f, "values", a, NULL));
    return f;
}

static void set_mask(lstar_field *f, const uint8_t *m, uint64_t n) {
    lstar_array *a = NULL;
    OK(lstar_array_new_copy(LSTAR_DTYPE_UINT8, 1, &n, m, &a, NULL));
    OK(lstar_field_set_array(f, "mask", a, NULL));
}

static const char *const CELLS[5] = {"c0", "c1", "c2", "c3", "c4"};
static const char *const GENES[4] = {"g0", "g1", "g2", "g3"};

/* X (csr, lognorm), counts (csc, raw), scaled (dense) */
static const float XD[7] = {1, 2, 3, 4, 5, 6, 7};
static const int32_t XI[7] = {0, 2, 1, 3, 0, 1, 2};
static const int32_t XP[6] = {0, 2, 4, 4, 5, 7};
static const int32_t CD[6] = {1, 2, 3, 4, 5, 6};
static const int32_t CI[6] = {0, 1, 4, 2, 3, 0};
static const int32_t CP[5] = {0, 2, 3, 5, 6};

static lstar_dataset *build(void) {
    lstar_dataset *ds = NULL;
    lstar_field *f;
    OK(lstar_dataset_new(&ds, NULL));
    add_axis(ds, "cells", CELLS, 5, "observed", "observation");
    add_axis(ds, "genes", GENES, 4, "observed", "feature");
    static const char *const PCA[2] = {"pca0", "pca1"};
    add_axis(ds, "pca", PCA, 2, "derived", "coordinate");

    f = add_sparse(ds, "X", LSTAR_ENC_CSR, "cells", "genes", 5, 4, LSTAR_DTYPE_FLOAT32, XD, XI, 7, XP, 6);
    OK(lstar_field_set_state(f, "lognorm", NULL));
    f = add_sparse(ds, "counts", LSTAR_ENC_CSC, "cells", "genes", 5, 4, LSTAR_DTYPE_INT32, CD, CI, 6, CP, 5);
    OK(lstar_field_set_state(f, "raw", NULL));
    double sc[20];
    for (int i = 0; i < 20; i++) sc[i] = i * 0.5 - 3;
    uint64_t s54[2] = {5, 4};
    f = add_dense(ds, "scaled", "measure", LSTAR_DTYPE_FLOAT64, 2, s54, sc, "cells", "genes");
    OK(lstar_field_set_state(f, "scaled", NULL));

    /* obs columns */
    {
        lstar_array *codes = NULL, *cats = NULL;
        lstar_strings cs;
        static const char *const CT[3] = {"T", "B", "NK"};
        int32_t cv[5] = {0, 1, 2, -1, 1};
        uint64_t n5 = 5;
        const char *span = "cells";
        OK(lstar_dataset_add_field(ds, "ct", LSTAR_ENC_CATEGORICAL, 1, &span, &f, NULL));
        OK(lstar_field_set_role(f, "label", NULL));
        lstar_field_set_ordered(f, 1);
        OK(lstar_array_new_copy(LSTAR_DTYPE_INT32, 1, &n5, cv, &codes, NULL));
        OK(lstar_field_set_array(f, "codes", codes, NULL));
        OK(lstar_strings_from_cstrs(&cs, CT, 3, NULL));
        OK(lstar_array_new_strings(&cs, &cats, NULL));
        OK(lstar_field_set_array(f, "categories", cats, NULL));
        OK(lstar_dataset_induce_factor(ds, "ct", 0, NULL, NULL));
    }
    static const char *const NAMES[5] = {"alpha", "beta", "", "delta", "épsilon"};
    add_utf8(ds, "name", "cells", NAMES, 5);
    uint64_t n5 = 5, n4 = 4;
    int64_t nv[5] = {10, 20, 0, 40, 50};
    static const uint8_t nm[5] = {0, 0, 1, 0, 0};
    f = add_dense(ds, "n", "measure", LSTAR_DTYPE_INT64, 1, &n5, nv, "cells", NULL);
    set_mask(f, nm, 5);
    uint8_t bv[5] = {1, 0, 0, 1, 1};
    static const uint8_t bm[5] = {0, 1, 0, 0, 0};
    f = add_dense(ds, "flag", "label", LSTAR_DTYPE_BOOL, 1, &n5, bv, "cells", NULL);
    set_mask(f, bm, 5);
    float qv[5] = {1.5f, 2.5f, 99, 4.5f, 5.5f};
    static const uint8_t qm[5] = {0, 0, 1, 0, 0};
    f = add_dense(ds, "qc", "measure", LSTAR_DTYPE_FLOAT32, 1, &n5, qv, "cells", NULL);
    set_mask(f, qm, 5);
    {
        double av[2] = {7.0, 9.0};
        int64_t ix[2] = {1, 3};
        uint64_t n2 = 2;
        lstar_array *a = NULL;
        f = add_dense(ds, "adt", "measure", LSTAR_DTYPE_FLOAT64, 1, &n2, av, "cells", NULL);
        OK(lstar_array_new_copy(LSTAR_DTYPE_INT64, 1, &n2, ix, &a, NULL));
        OK(lstar_field_set_array(f, "index", a, NULL));
        OK(lstar_field_set_index_axis(f, "cells", NULL));
    }
    /* var column */
    double mv[4] = {0.1, 0.2, 0.3, 0.4};
    add_dense(ds, "mean", "measure", LSTAR_DTYPE_FLOAT64, 1, &n4, mv, "genes", NULL);
    /* embedding, loading */
    float pv[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint64_t s52[2] = {5, 2}, s42[2] = {4, 2};
    add_dense(ds, "pca", "embedding", LSTAR_DTYPE_FLOAT32, 2, s52, pv, "cells", "pca");
    double lv[8] = {-1, -2, -3, -4, -5, -6, -7, -8};
    add_dense(ds, "pca_loadings", "loading", LSTAR_DTYPE_FLOAT64, 2, s42, lv, "genes", "pca");
    /* relations */
    static const double KD[3] = {0.5, 0.25, 1};
    static const int32_t KI[3] = {1, 0, 4};
    static const int32_t KP[6] = {0, 1, 2, 2, 2, 3};
    f = add_sparse(ds, "knn", LSTAR_ENC_CSR, "cells", "cells", 5, 5, LSTAR_DTYPE_FLOAT64, KD, KI, 3, KP, 6);
    OK(lstar_field_set_role(f, "relation", NULL));
    double gg[16] = {0};
    gg[1] = 1;
    gg[14] = 2;
    uint64_t s44[2] = {4, 4};
    f = add_dense(ds, "coexp", "relation", LSTAR_DTYPE_FLOAT64, 2, s44, gg, "genes", "genes");
    /* typed uns */
    static const char *const COL[3] = {"#ff0000", "#00ff00", "#0000ff"};
    f = add_utf8(ds, "ct_colors", "ct", COL, 3);
    OK(lstar_field_set_subtype(f, "color", NULL));
    double var2[2] = {3.5, 1.25};
    uint64_t n2 = 2;
    f = add_dense(ds, "pca_variance", "measure", LSTAR_DTYPE_FLOAT64, 1, &n2, var2, "pca", NULL);
    OK(lstar_field_set_subtype(f, "pca_var", NULL));
    /* differential expression over [ct, genes] → uns['rank_genes_groups'] (h5ad) */
    {
        uint64_t s34[2] = {3, 4};
        double score[12] = {1, 3, NAN, 2, /* T */ 0.5, 0.5, 0.1, NAN, /* B */ -1, -2, -3, -4 /* NK */};
        double lfc[12] = {10, 30, NAN, 20, 5, 6, 1, NAN, -10, -20, -30, -40};
        f = add_dense(ds, "de.ct.score", "measure", LSTAR_DTYPE_FLOAT64, 2, s34, score, "ct", "genes");
        OK(lstar_field_set_subtype(f, "de", NULL));
        OK(lstar_field_set_provenance(f, "{\"anndata\": \"uns/rank_genes_groups\", \"de_factor\": \"ct\", "
                                         "\"de_stat\": \"score\", \"method\": \"wilcoxon\", \"reference\": \"rest\", "
                                         "\"use_raw\": false}",
                                      NULL));
        f = add_dense(ds, "de.ct.lfc", "measure", LSTAR_DTYPE_FLOAT64, 2, s34, lfc, "ct", "genes");
        OK(lstar_field_set_subtype(f, "de", NULL));
    }
    /* no slot: a measure over the pca axis, an embedding of genes over cells */
    add_dense(ds, "weird", "measure", LSTAR_DTYPE_FLOAT64, 1, &n2, var2, "pca", NULL);
    float ge[20] = {0};
    uint64_t s45[2] = {4, 5};
    add_dense(ds, "genes_by_cells", "embedding", LSTAR_DTYPE_FLOAT32, 2, s45, ge, "genes", "cells");
    /* passthrough uns */
    {
        lstar_passthrough *pt = NULL;
        lstar_array *a = NULL;
        double arr[3] = {1, 2, 3};
        uint64_t n3 = 3;
        static const char *const SS[2] = {"p", "q"};
        lstar_strings s;
        OK(lstar_dataset_add_passthrough(
            ds, "anndata.uns",
            "{\"$obj\": {\"params\": {\"$obj\": {\"n\": 3, \"m\": \"x\", \"f\": 1.5, \"b\": true}}, \"arr\": "
            "{\"$array\": \"a0\"}, \"names\": {\"$list\": [\"a\", \"b\"]}, \"nums\": {\"$list\": [1, 2]}, \"s\": "
            "{\"$strings\": \"a1\", \"shape\": [2]}, \"gone\": {\"$dropped\": \"csr_matrix\"}, \"nothing\": null, "
            "\"rec\": {\"$record\": {\"fields\": {\"id\": {\"$strings\": \"a2\", \"shape\": [2]}, \"w\": "
            "{\"$array\": \"a3\"}}, \"length\": 2}}, \"s2\": {\"$strings\": \"a4\", \"shape\": [2, 2]}, \"by\": {\"$bytes\": \"ab\\u00ffc\"}, "
            "\"wide\": {\"$bytes\": \"\\u0100\"}}}",
            &pt, NULL));
        OK(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 1, &n3, arr, &a, NULL));
        OK(lstar_passthrough_add_leaf(pt, "a0", "dense", a, NULL));
        OK(lstar_strings_from_cstrs(&s, SS, 2, NULL));
        OK(lstar_array_new_strings(&s, &a, NULL));
        OK(lstar_passthrough_add_leaf(pt, "a1", "utf8", a, NULL));
        static const char *const IDS[2] = {"r1", "rëcord-2"};
        float wv[2] = {0.25f, 0.75f};
        uint64_t n2r = 2;
        OK(lstar_strings_from_cstrs(&s, IDS, 2, NULL));
        OK(lstar_array_new_strings(&s, &a, NULL));
        OK(lstar_passthrough_add_leaf(pt, "a2", "utf8", a, NULL));
        OK(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 1, &n2r, wv, &a, NULL));
        OK(lstar_passthrough_add_leaf(pt, "a3", "dense", a, NULL));
        static const char *const M2[4] = {"m00", "m01", "m10", "m11"};
        OK(lstar_strings_from_cstrs(&s, M2, 4, NULL));
        OK(lstar_array_new_strings(&s, &a, NULL));
        OK(lstar_passthrough_add_leaf(pt, "a4", "utf8", a, NULL));
    }
    return ds;
}

/* ---- checking ------------------------------------------------------------------------------------------ */

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char c[4096];
            snprintf(c, sizeof c, "%s/%s", path, e->d_name);
            rm_rf(c);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Number of entries in TMP whose name starts with `prefix`. */
static int count_prefixed(const char *prefix) {
    DIR *d = opendir(TMP);
    struct dirent *e;
    int n = 0;
    size_t pl = strlen(prefix);
    while (d && (e = readdir(d)) != NULL) n += strncmp(e->d_name, prefix, pl) == 0;
    if (d) closedir(d);
    return n;
}

static void *all(const lstar_array *a) {
    void *buf = NULL;
    size_t nb = 0;
    assert_non_null(a);
    OK(lstar_array_read_all(a, 0, &buf, &nb, NULL));
    return buf;
}

static void same_array(const lstar_array *got, lstar_dtype dt, const void *want, uint64_t n) {
    assert_non_null(got);
    assert_int_equal(lstar_array_size(got), n);
    size_t es = lstar_dtype_size(dt);
    void *conv = lstar_malloc(n * es + 1);
    OK(lstar_array_read_1d_as(got, 0, n, dt, conv, NULL));
    assert_memory_equal(conv, want, n * es);
    lstar_free(conv);
}

static void strings_are(const lstar_array *a, const char *const *want, size_t n) {
    lstar_strings s;
    char buf[64];
    assert_non_null(a);
    assert_int_equal(lstar_array_size(a), n);
    OK(lstar_array_read_strings(a, 0, n, &s, NULL));
    for (size_t i = 0; i < n; i++) assert_string_equal(lstar_strings_get_cstr(&s, i, buf, sizeof buf), want[i]);
    lstar_strings_destroy(&s);
}

static const char *prov_of(const lstar_field *f) { return lstar_field_provenance(f); }

static int has_dropped(const lstar_strings *d, const char *prefix) {
    for (size_t i = 0; i < d->n; i++) {
        size_t len;
        const char *p = lstar_strings_get(d, i, &len);
        if (len >= strlen(prefix) && strncmp(p, prefix, strlen(prefix)) == 0) return 1;
    }
    return 0;
}

static void check_readback(const char *path, lstar_anndata_format want) {
    lstar_anndata_read_options ro;
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_anndata_read_options_init(&ro);
    lstar_status st = lstar_anndata_read(path, &ro, &ds, &e);
    if (st != LSTAR_OK) print_message("read back %s: %s: %s\n", path, e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    assert_int_equal(ro.format, want);
    assert_string_equal(lstar_dataset_profile(ds, 1), "anndata@0.1.0");
    /* axes */
    lstar_axis *ax = lstar_dataset_axis(ds, "cells");
    assert_non_null(ax);
    assert_int_equal(lstar_axis_length(ax), 5);
    char buf[64];
    assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(ax), 4, buf, sizeof buf), "c4");
    assert_int_equal(lstar_axis_length(lstar_dataset_axis(ds, "genes")), 4);
    /* X keeps its state through uns['lstar/state'] */
    lstar_field *f = lstar_dataset_field(ds, "X");
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSR);
    assert_string_equal(lstar_field_state(f), "lognorm");
    same_array(lstar_field_array(f, "data"), LSTAR_DTYPE_FLOAT32, XD, 7);
    same_array(lstar_field_array(f, "indices"), LSTAR_DTYPE_INT32, XI, 7);
    same_array(lstar_field_array(f, "indptr"), LSTAR_DTYPE_INT32, XP, 6);
    /* counts → layers/counts, csc, int32 data */
    f = lstar_dataset_field(ds, "counts");
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSC);
    assert_non_null(strstr(prov_of(f), "layers/counts"));
    assert_string_equal(lstar_field_state(f), "raw");
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "data")), LSTAR_DTYPE_INT32);
    same_array(lstar_field_array(f, "data"), LSTAR_DTYPE_INT32, CD, 6);
    same_array(lstar_field_array(f, "indices"), LSTAR_DTYPE_INT32, CI, 6);
    same_array(lstar_field_array(f, "indptr"), LSTAR_DTYPE_INT32, CP, 5);
    /* scaled → layers/scaled */
    f = lstar_dataset_field(ds, "scaled");
    assert_non_null(f);
    assert_string_equal(lstar_field_state(f), "scaled");
    double *sc = all(lstar_field_array(f, "values"));
    for (int i = 0; i < 20; i++) assert_true(sc[i] == i * 0.5 - 3);
    lstar_free(sc);
    /* categorical with its factor axis, ordered, -1 kept */
    f = lstar_dataset_field(ds, "ct");
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CATEGORICAL);
    assert_int_equal(lstar_field_ordered(f), 1);
    static const int32_t CV[5] = {0, 1, 2, -1, 1};
    same_array(lstar_field_array(f, "codes"), LSTAR_DTYPE_INT32, CV, 5);
    static const char *const CT[3] = {"T", "B", "NK"};
    strings_are(lstar_field_array(f, "categories"), CT, 3);
    assert_non_null(lstar_dataset_axis(ds, "ct"));
    /* strings */
    static const char *const NAMES[5] = {"alpha", "beta", "", "delta", "épsilon"};
    strings_are(lstar_field_array(lstar_dataset_field(ds, "name"), "values"), NAMES, 5);
    /* nullable integer / boolean */
    f = lstar_dataset_field(ds, "n");
    assert_non_null(f);
    assert_int_equal(lstar_field_nullable(f), 1);
    static const uint8_t NM[5] = {0, 0, 1, 0, 0};
    same_array(lstar_field_array(f, "mask"), LSTAR_DTYPE_UINT8, NM, 5);
    static const int64_t NV[5] = {10, 20, 0, 40, 50};
    same_array(lstar_field_array(f, "values"), LSTAR_DTYPE_INT64, NV, 5);
    f = lstar_dataset_field(ds, "flag");
    assert_non_null(f);
    assert_int_equal(lstar_array_dtype(lstar_field_array(f, "values")), LSTAR_DTYPE_BOOL);
    static const uint8_t BM[5] = {0, 1, 0, 0, 0};
    same_array(lstar_field_array(f, "mask"), LSTAR_DTYPE_UINT8, BM, 5);
    /* float + mask → NaN; partial → NaN where uncovered */
    f = lstar_dataset_field(ds, "qc");
    float *qv = all(lstar_field_array(f, "values"));
    assert_true(qv[0] == 1.5f && isnan(qv[2]) && qv[4] == 5.5f);
    lstar_free(qv);
    f = lstar_dataset_field(ds, "adt");
    assert_non_null(f);
    double *av = all(lstar_field_array(f, "values"));
    assert_true(isnan(av[0]) && av[1] == 7.0 && isnan(av[2]) && av[3] == 9.0 && isnan(av[4]));
    lstar_free(av);
    /* var column */
    static const double MV[4] = {0.1, 0.2, 0.3, 0.4};
    same_array(lstar_field_array(lstar_dataset_field(ds, "mean"), "values"), LSTAR_DTYPE_FLOAT64, MV, 4);
    /* obsm X_pca → embedding pca over the pca axis; varm PCs → pca_loadings */
    f = lstar_dataset_field(ds, "pca");
    assert_non_null(f);
    assert_string_equal(lstar_field_role(f), "embedding");
    assert_non_null(strstr(prov_of(f), "obsm/X_pca"));
    float *pv = all(lstar_field_array(f, "values"));
    assert_true(pv[0] == 1 && pv[9] == 10);
    lstar_free(pv);
    f = lstar_dataset_field(ds, "pca_loadings");
    assert_non_null(f);
    assert_non_null(strstr(prov_of(f), "varm/PCs"));
    /* relations */
    f = lstar_dataset_field(ds, "knn");
    assert_non_null(f);
    assert_string_equal(lstar_field_role(f), "relation");
    static const double KD[3] = {0.5, 0.25, 1};
    same_array(lstar_field_array(f, "data"), LSTAR_DTYPE_FLOAT64, KD, 3);
    f = lstar_dataset_field(ds, "coexp_varp");
    assert_non_null(f);
    assert_non_null(strstr(prov_of(f), "varp/coexp"));
    /* typed uns regenerated and promoted again */
    f = lstar_dataset_field(ds, "ct_colors");
    assert_non_null(f);
    assert_string_equal(lstar_field_subtype(f), "color");
    static const char *const COL[3] = {"#ff0000", "#00ff00", "#0000ff"};
    strings_are(lstar_field_array(f, "values"), COL, 3);
    f = lstar_dataset_field(ds, "pca_variance");
    assert_non_null(f);
    static const double PV[2] = {3.5, 1.25};
    same_array(lstar_field_array(f, "values"), LSTAR_DTYPE_FLOAT64, PV, 2);
    /* DE: regenerated into uns['rank_genes_groups'] (h5ad: compound datasets; Zarr: structured dtypes
     * with fixed-length U fields) and promoted again by the reader */
    f = lstar_dataset_field(ds, "de.ct.score");
    {
        assert_non_null(f);
        assert_string_equal(lstar_field_subtype(f), "de");
        assert_non_null(strstr(prov_of(f), "wilcoxon"));
        double *dv = all(lstar_field_array(f, "values"));
        /* float32 in the rec-array, NaN kept where the score was NaN */
        assert_true(dv[0] == 1 && dv[1] == 3 && isnan(dv[2]) && dv[3] == 2);
        assert_true(dv[4] == 0.5 && dv[6] == (double)0.1f && isnan(dv[7]) && dv[11] == -4);
        lstar_free(dv);
        f = lstar_dataset_field(ds, "de.ct.lfc");
        assert_non_null(f);
        dv = all(lstar_field_array(f, "values"));
        assert_true(dv[1] == 30 && isnan(dv[2]) && dv[8] == -10);
        lstar_free(dv);
    }
    /* fields without a slot are gone */
    assert_null(lstar_dataset_field(ds, "weird"));
    assert_null(lstar_dataset_field(ds, "genes_by_cells"));
    /* passthrough */
    lstar_passthrough *pt = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(pt);
    const char *tree = lstar_passthrough_tree(pt);
    assert_non_null(strstr(tree, "\"params\""));
    assert_non_null(strstr(tree, "\"n\": 3") ? strstr(tree, "\"n\": 3") : strstr(tree, "\"n\":3"));
    assert_non_null(strstr(tree, "\"names\""));
    assert_non_null(strstr(tree, "\"arr\""));
    assert_null(strstr(tree, "\"gone\""));
    assert_non_null(strstr(tree, "\"rec\":{\"$record\":{\"fields\":{\"id\":{\"$strings\":"));
    assert_non_null(strstr(tree, "\"length\":2}"));
    /* bytes come back as bytes (encoding-type bytes) */
    assert_non_null(strstr(tree, "\"by\":{\"$bytes\":\"ab\xc3\xbf\x63\"}"));
    assert_null(strstr(tree, "\"wide\""));
    /* the 2-D string array keeps its shape (Zarr too) */
    assert_non_null(strstr(tree, "\"s2\":{\"$strings\":\"a6\",\"shape\":[2,2]}"));
    for (size_t i = 0; i < lstar_passthrough_leaf_count(pt); i++) {
        const lstar_array *leaf = lstar_passthrough_leaf(pt, i);
        if (lstar_array_dtype(leaf) != LSTAR_DTYPE_STRING) continue;
        lstar_strings ls;
        char b0[16], b3[16];
        OK(lstar_array_read_strings(leaf, 0, lstar_array_size(leaf), &ls, NULL));
        if (ls.n == 4) { /* s2 */
            assert_string_equal(lstar_strings_get_cstr(&ls, 0, b0, sizeof b0), "m00");
            assert_string_equal(lstar_strings_get_cstr(&ls, 3, b3, sizeof b3), "m11");
        } else if (ls.n == 2 && strcmp(lstar_strings_get_cstr(&ls, 0, b0, sizeof b0), "r1") == 0) { /* rec id */
            assert_string_equal(lstar_strings_get_cstr(&ls, 1, b3, sizeof b3), "rëcord-2");
        }
        lstar_strings_destroy(&ls);
    }
    assert_null(strstr(tree, "lstar"));
    lstar_dataset_free(ds);
}

static void write_ok(const lstar_dataset *ds, const char *path, lstar_anndata_write_options *o) {
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_status st = lstar_anndata_write(ds, path, o, &e);
    if (st != LSTAR_OK) print_message("write %s: %s %s: %s\n", path, lstar_status_name(e.status), e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
}

static void roundtrip(lstar_anndata_format fmt, const char *name, const char *compression) {
    char path[1024];
    lstar_anndata_write_options o;
    lstar_strings dropped;
    lstar_dataset *ds = build();
    snprintf(path, sizeof path, "%s/%s", TMP, name);
    rm_rf(path);
    lstar_anndata_write_options_init(&o);
    o.format = fmt;
    o.compression = compression;
    o.threads = 2;
    o.chunk_elems = 3; /* many chunks, even for the tiny matrices */
    o.shard_elems = fmt == LSTAR_ANNDATA_ZARR_V3 ? 9 : 0;
    o.dropped_out = &dropped;
    write_ok(ds, path, &o);
    /* what could not be placed is reported */
    assert_true(has_dropped(&dropped, "weird ("));
    assert_true(has_dropped(&dropped, "genes_by_cells ("));
    assert_true(has_dropped(&dropped, "uns/gone ("));
    assert_true(has_dropped(&dropped, "uns/nothing ("));
    assert_false(has_dropped(&dropped, "X ("));
    assert_false(has_dropped(&dropped, "de.ct.score ("));
    assert_false(has_dropped(&dropped, "uns/rec"));
    assert_false(has_dropped(&dropped, "uns/s2"));
    assert_false(has_dropped(&dropped, "uns/by"));
    assert_true(has_dropped(&dropped, "uns/wide (bytes value whose text is not latin-1"));
    assert_true(has_dropped(&dropped, "uns/nothing (None: anndata 0.8 has no encoding for it)"));
    lstar_strings_destroy(&dropped);
    check_readback(path, fmt);
    /* the temporary name is gone */
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s.tmp-", name);
    assert_int_equal(count_prefixed(prefix), 0);
    rm_rf(path);
    lstar_dataset_free(ds);
}

static void test_roundtrip_h5ad(void **state) {
    (void)state;
    roundtrip(LSTAR_ANNDATA_H5AD, "w_plain.h5ad", NULL);
}

static void test_roundtrip_h5ad_gzip(void **state) {
    (void)state;
    roundtrip(LSTAR_ANNDATA_H5AD, "w_gzip.h5ad", "gzip:6");
}

static void test_roundtrip_zarr2(void **state) {
    (void)state;
    roundtrip(LSTAR_ANNDATA_ZARR_V2, "w_v2.zarr", "zlib:3");
}

static void test_roundtrip_zarr3(void **state) {
    (void)state;
    roundtrip(LSTAR_ANNDATA_ZARR_V3, "w_v3.zarr", "zstd:3");
}

/* uns['lstar/dropped'] carries the names of the fields no slot held. */
static void test_uns_lstar_dropped(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = build();
    lstar_h5_file *f = NULL;
    lstar_h5_dataset *d = NULL;
    lstar_strings s;
    snprintf(path, sizeof path, "%s/w_dropped.h5ad", TMP);
    rm_rf(path);
    write_ok(ds, path, NULL);
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, NULL));
    OK(lstar_h5_dataset_open(f, "uns/lstar/dropped", &d, NULL));
    lstar_h5_dataset_info info;
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    OK(lstar_h5_dataset_read_strings(d, 0, info.shape[0], &s, NULL));
    int weird = 0, gbc = 0;
    char buf[128];
    for (size_t i = 0; i < s.n; i++) {
        lstar_strings_get_cstr(&s, i, buf, sizeof buf);
        weird |= strcmp(buf, "weird") == 0;
        gbc |= strcmp(buf, "genes_by_cells") == 0;
    }
    assert_true(weird && gbc);
    lstar_strings_destroy(&s);
    /* encoding attributes as anndata writes them */
    char *v = NULL;
    OK(lstar_h5_attr_read_string(f, "/", "encoding-type", &v, NULL));
    assert_string_equal(v, "anndata");
    lstar_free(v);
    OK(lstar_h5_attr_read_string(f, "obs", "encoding-version", &v, NULL));
    assert_string_equal(v, "0.2.0");
    lstar_free(v);
    OK(lstar_h5_attr_read_string(f, "X", "encoding-type", &v, NULL));
    assert_string_equal(v, "csr_matrix");
    lstar_free(v);
    int64_t *shape = NULL;
    size_t n = 0;
    OK(lstar_h5_attr_read_i64(f, "X", "shape", &shape, &n, NULL));
    assert_int_equal(n, 2);
    assert_int_equal(shape[0], 5);
    assert_int_equal(shape[1], 4);
    lstar_free(shape);
    lstar_h5_attr_info ai;
    OK(lstar_h5_attr_get_info(f, "obs/ct", "ordered", &ai, NULL));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_BOOL);
    lstar_h5_dataset_close(d);
    d = NULL;
    /* sparse arrays are resizable (maxshape None), like h5py's */
    OK(lstar_h5_dataset_open(f, "X/data", &d, NULL));
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    assert_true(info.maxshape[0] == UINT64_MAX);
    assert_int_equal(info.layout, LSTAR_H5_LAYOUT_CHUNKED);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
    rm_rf(path);
    lstar_dataset_free(ds);
}

static void test_exists_refused(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = build();
    lstar_error e;
    memset(&e, 0, sizeof e);
    snprintf(path, sizeof path, "%s/w_exists.h5ad", TMP);
    rm_rf(path);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("keep me", fp);
    fclose(fp);
    assert_int_equal(lstar_anndata_write(ds, path, NULL, &e), LSTAR_ERR_EXISTS);
    assert_string_equal(e.where, path);
    char buf[16] = {0};
    fp = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "keep me");
    assert_int_equal(count_prefixed("w_exists.h5ad."), 0);
    /* with overwrite the old file is replaced */
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.overwrite = 1;
    write_ok(ds, path, &o);
    lstar_anndata_format fmt;
    OK(lstar_anndata_detect(path, &fmt, NULL));
    assert_int_equal(fmt, LSTAR_ANNDATA_H5AD);
    assert_int_equal(count_prefixed("w_exists.h5ad."), 0);
    rm_rf(path);
    lstar_dataset_free(ds);
}

/* A failing write (a compression h5ad cannot do) leaves nothing behind. */
static void test_failure_leaves_nothing(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = build();
    lstar_anndata_write_options o;
    lstar_strings dropped;
    lstar_error e;
    memset(&e, 0, sizeof e);
    snprintf(path, sizeof path, "%s/w_fail.h5ad", TMP);
    rm_rf(path);
    lstar_anndata_write_options_init(&o);
    o.compression = "blosc";
    o.dropped_out = &dropped;
    assert_int_equal(lstar_anndata_write(ds, path, &o, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "blosc"));
    assert_int_equal(dropped.n, 0);
    lstar_strings_destroy(&dropped);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_prefixed("w_fail.h5ad"), 0);
    /* a Zarr codec that does not exist fails while writing: the temporary directory goes too */
    snprintf(path, sizeof path, "%s/w_fail.zarr", TMP);
    o.format = LSTAR_ANNDATA_ZARR_V2;
    o.compression = "nosuchcodec";
    o.dropped_out = NULL;
    assert_int_not_equal(lstar_anndata_write(ds, path, &o, &e), LSTAR_OK);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_prefixed("w_fail.zarr"), 0);
    lstar_dataset_free(ds);
}

/* A collection (upstream's collection_from layout): samples a (CSR counts over its own genes) and b
 * (CSC counts over other genes, in another order), a union cells axis in interleaved order with one
 * cell no sample holds, joint fields over the union cells, per-sample and samples-axis fields. */
static lstar_dataset *build_collection(void) {
    lstar_dataset *ds = NULL;
    lstar_field *f;
    OK(lstar_dataset_new(&ds, NULL));
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    static const char *const CA[3] = {"a_c0", "a_c1", "a_c2"}, *const GA[3] = {"g1", "g2", "g3"};
    static const char *const CB[2] = {"b_c0", "b_c1"}, *const GB[3] = {"g3", "g4", "g1"};
    static const char *const PA[2] = {"pca0", "pca1"}, *const SM[2] = {"a", "b"};
    static const char *const U[6] = {"b_c1", "a_c0", "a_c1", "z", "b_c0", "a_c2"};
    static const char *const EM[2] = {"emb0", "emb1"};
    add_axis(ds, "cells.a", CA, 3, "observed", "observation");
    add_axis(ds, "genes.a", GA, 3, "observed", "feature");
    add_axis(ds, "pca.a", PA, 2, "derived", "coordinate");
    add_axis(ds, "cells.b", CB, 2, "observed", "observation");
    add_axis(ds, "genes.b", GB, 3, "observed", "feature");
    add_axis(ds, "samples", SM, 2, "observed", "sample");
    add_axis(ds, "cells", U, 6, "derived", "observation");
    add_axis(ds, "emb", EM, 2, "derived", "coordinate");
    static const int32_t AD[5] = {1, 2, 3, 4, 5}, AI[5] = {0, 2, 1, 0, 2}, AP[4] = {0, 2, 3, 5};
    f = add_sparse(ds, "counts.a", LSTAR_ENC_CSR, "cells.a", "genes.a", 3, 3, LSTAR_DTYPE_INT32, AD, AI, 5, AP, 4);
    OK(lstar_field_set_state(f, "raw", NULL));
    static const int32_t BD[4] = {6, 8, 7, 9}, BI[4] = {0, 1, 0, 1}, BP[4] = {0, 1, 2, 4};
    f = add_sparse(ds, "counts.b", LSTAR_ENC_CSC, "cells.b", "genes.b", 2, 3, LSTAR_DTYPE_INT32, BD, BI, 4, BP, 4);
    OK(lstar_field_set_state(f, "raw", NULL));
    float pa[6] = {1, 2, 3, 4, 5, 6};
    uint64_t s32[2] = {3, 2}, s62[2] = {6, 2}, n2 = 2;
    add_dense(ds, "pca.a", "embedding", LSTAR_DTYPE_FLOAT32, 2, s32, pa, "cells.a", "pca.a");
    int64_t nc[2] = {3, 2};
    add_dense(ds, "n_cells", "measure", LSTAR_DTYPE_INT64, 1, &n2, nc, "samples", NULL);
    static const char *const SAMPLE[6] = {"b", "a", "a", "", "b", "a"};
    f = add_utf8(ds, "sample", "cells", SAMPLE, 6);
    OK(lstar_field_set_subtype(f, "design", NULL));
    double em[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    add_dense(ds, "emb", "embedding", LSTAR_DTYPE_FLOAT64, 2, s62, em, "cells", "emb");
    static const double KD[3] = {0.5, 0.25, 1};
    static const int32_t KI[3] = {1, 0, 5}, KP[7] = {0, 1, 2, 2, 2, 3, 3};
    f = add_sparse(ds, "graph", LSTAR_ENC_CSR, "cells", "cells", 6, 6, LSTAR_DTYPE_FLOAT64, KD, KI, 3, KP, 7);
    OK(lstar_field_set_role(f, "relation", NULL));
    OK(lstar_field_set_subtype(f, "knn", NULL));
    return ds;
}

/* The union X of build_collection: rows b_c1, a_c0, a_c1, z, b_c0, a_c2 over g1, g2, g3, g4. */
static const int32_t UX_D[9] = {9, 8, 1, 2, 3, 7, 6, 4, 5};
static const int32_t UX_I[9] = {0, 3, 0, 2, 1, 0, 2, 0, 2};
static const int32_t UX_P[7] = {0, 2, 4, 5, 5, 7, 9};

static void check_collection(const char *path, lstar_anndata_format fmt) {
    lstar_dataset *ds = NULL;
    lstar_error e;
    char buf[64];
    memset(&e, 0, sizeof e);
    lstar_status st = lstar_anndata_read(path, NULL, &ds, &e);
    if (st != LSTAR_OK) print_message("read back %s: %s: %s\n", path, e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    static const char *const U[6] = {"b_c1", "a_c0", "a_c1", "z", "b_c0", "a_c2"};
    static const char *const G[4] = {"g1", "g2", "g3", "g4"};
    const lstar_axis *cells = lstar_dataset_axis(ds, "cells"), *genes = lstar_dataset_axis(ds, "genes");
    assert_non_null(cells);
    assert_non_null(genes);
    assert_int_equal(lstar_axis_length(cells), 6);
    assert_int_equal(lstar_axis_length(genes), 4);
    for (int i = 0; i < 6; i++) assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(cells), (size_t)i, buf, sizeof buf), U[i]);
    for (int i = 0; i < 4; i++) assert_string_equal(lstar_strings_get_cstr(lstar_axis_labels(genes), (size_t)i, buf, sizeof buf), G[i]);
    const lstar_field *x = lstar_dataset_field(ds, "X");
    assert_non_null(x);
    assert_int_equal(lstar_field_encoding(x), LSTAR_ENC_CSR);
    assert_string_equal(lstar_field_state(x), "raw");
    uint64_t dims[2];
    assert_int_equal(lstar_field_shape(x, dims, 2), 2);
    assert_int_equal(dims[0], 6);
    assert_int_equal(dims[1], 4);
    assert_int_equal(lstar_array_dtype(lstar_field_array(x, "data")), LSTAR_DTYPE_INT32);
    same_array(lstar_field_array(x, "data"), LSTAR_DTYPE_INT32, UX_D, 9);
    same_array(lstar_field_array(x, "indices"), LSTAR_DTYPE_INT32, UX_I, 9);
    same_array(lstar_field_array(x, "indptr"), LSTAR_DTYPE_INT32, UX_P, 7);
    static const char *const SAMPLE[6] = {"b", "a", "a", "", "b", "a"};
    strings_are(lstar_field_array(lstar_dataset_field(ds, "sample"), "values"), SAMPLE, 6);
    const lstar_field *emb = lstar_dataset_field(ds, "emb");
    assert_non_null(emb);
    assert_string_equal(lstar_field_role(emb), "embedding");
    assert_non_null(strstr(prov_of(emb), "obsm/X_emb"));
    double em[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    double *ev = all(lstar_field_array(emb, "values"));
    assert_memory_equal(ev, em, sizeof em);
    lstar_free(ev);
    static const double KD[3] = {0.5, 0.25, 1};
    static const int32_t KI[3] = {1, 0, 5};
    const char *graphs[2] = {"graph", "connectivities"};
    for (int g = 0; g < 2; g++) {
        const lstar_field *k = lstar_dataset_field(ds, graphs[g]);
        assert_non_null(k);
        assert_string_equal(lstar_field_role(k), "relation");
        same_array(lstar_field_array(k, "data"), LSTAR_DTYPE_FLOAT64, KD, 3);
        same_array(lstar_field_array(k, "indices"), LSTAR_DTYPE_INT32, KI, 3);
    }
    /* per-sample and samples-axis fields are not there */
    assert_null(lstar_dataset_field(ds, "pca.a"));
    assert_null(lstar_dataset_field(ds, "n_cells"));
    assert_null(lstar_dataset_field(ds, "counts"));
    /* uns: the neighbors entry of the aliased graph (the lstar/… keys are not passthrough) */
    const lstar_passthrough *pt = lstar_dataset_passthrough(ds, "anndata.uns");
    assert_non_null(pt);
    const char *tree = lstar_passthrough_tree(pt);
    assert_string_equal(tree, "{\"$obj\":{\"neighbors\":{\"$obj\":{\"connectivities_key\":\"connectivities\","
                              "\"distances_key\":\"distances\",\"params\":{\"$obj\":{\"method\":\"conos\","
                              "\"metric\":\"euclidean\"}}}}}}");
    (void)fmt;
    lstar_dataset_free(ds);
}

static void collection_case(lstar_anndata_format fmt, const char *name, int via_store) {
    char path[1024], store[1024];
    lstar_anndata_write_options o;
    lstar_strings dropped;
    lstar_dataset *ds = build_collection();
    snprintf(path, sizeof path, "%s/%s", TMP, name);
    rm_rf(path);
    if (via_store) { /* the collection written as an L★ store and read back lazily */
        lstar_write_options wo;
        lstar_write_options_init(&wo);
        wo.overwrite = 1;
        wo.chunk_elems = 2;
        snprintf(store, sizeof store, "%s/%s.lstar.zarr", TMP, name);
        OK(lstar_dataset_write(ds, store, &wo, NULL));
        lstar_dataset_free(ds);
        ds = NULL;
        OK(lstar_dataset_read(store, &ds, NULL));
        assert_int_equal(lstar_dataset_kind(ds), LSTAR_KIND_COLLECTION);
    }
    lstar_anndata_write_options_init(&o);
    o.format = fmt;
    o.threads = 2;
    o.chunk_elems = 2; /* several blocks per sample; the CSC sample is scanned once per block */
    o.dropped_out = &dropped;
    write_ok(ds, path, &o);
    assert_int_equal(dropped.n, 2);
    assert_true(has_dropped(&dropped, "pca.a (collection field over [cells.a, pca.a]"));
    assert_true(has_dropped(&dropped, "n_cells (collection field over [samples]"));
    lstar_strings_destroy(&dropped);
    check_collection(path, fmt);
    rm_rf(path);
    if (via_store) rm_rf(store);
    lstar_dataset_free(ds);
}

static void test_collection_h5ad(void **state) {
    (void)state;
    collection_case(LSTAR_ANNDATA_H5AD, "w_coll.h5ad", 0);
    collection_case(LSTAR_ANNDATA_H5AD, "w_coll_store.h5ad", 1);
}

static void test_collection_zarr(void **state) {
    (void)state;
    collection_case(LSTAR_ANNDATA_ZARR_V2, "w_coll.zarr", 0);
    collection_case(LSTAR_ANNDATA_ZARR_V3, "w_coll3.zarr", 1);
}

/* Collections the flattening cannot assemble fail, naming the element, and leave nothing. */
static void test_collection_errors(void **state) {
    (void)state;
    char path[1024];
    lstar_error e;
    snprintf(path, sizeof path, "%s/w_coll_bad.h5ad", TMP);
    rm_rf(path);
    /* no per-sample measure: nothing to put in X (upstream raises too) */
    lstar_dataset *ds = build();
    lstar_dataset_set_kind(ds, LSTAR_KIND_COLLECTION);
    memset(&e, 0, sizeof e);
    assert_int_equal(lstar_anndata_write(ds, path, NULL, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "per-sample"));
    assert_int_equal(access(path, F_OK), -1);
    lstar_dataset_free(ds);
    /* a per-sample cell missing from the union axis */
    ds = build_collection();
    static const char *const CC[3] = {"a_c0", "a_c1", "nowhere"};
    add_axis(ds, "cells.c", CC, 3, "observed", "observation");
    static const int32_t D[1] = {1}, I[1] = {0}, P[4] = {0, 1, 1, 1};
    add_sparse(ds, "counts.c", LSTAR_ENC_CSR, "cells.c", "genes.a", 3, 3, LSTAR_DTYPE_INT32, D, I, 1, P, 4);
    memset(&e, 0, sizeof e);
    assert_int_equal(lstar_anndata_write(ds, path, NULL, &e), LSTAR_ERR_FORMAT);
    assert_non_null(strstr(e.message, "'a_c0'")); /* held twice (a and c) comes first */
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_prefixed("w_coll_bad.h5ad"), 0);
    lstar_dataset_free(ds);
}

/* A larger random sparse + dense dataset for the thread-identity test. */
static lstar_dataset *build_big(void) {
    enum { R = 600, C = 50 };
    lstar_dataset *ds = NULL;
    OK(lstar_dataset_new(&ds, NULL));
    char **cl = lstar_calloc(R, sizeof *cl), **gl = lstar_calloc(C, sizeof *gl);
    for (int i = 0; i < R; i++) {
        cl[i] = lstar_malloc(16);
        snprintf(cl[i], 16, "cell%d", i);
    }
    for (int i = 0; i < C; i++) {
        gl[i] = lstar_malloc(16);
        snprintf(gl[i], 16, "gene%d", i);
    }
    add_axis(ds, "cells", (const char *const *)cl, R, "observed", "observation");
    add_axis(ds, "genes", (const char *const *)gl, C, "observed", "feature");
    for (int i = 0; i < R; i++) lstar_free(cl[i]);
    for (int i = 0; i < C; i++) lstar_free(gl[i]);
    lstar_free(cl);
    lstar_free(gl);
    float *d = lstar_malloc(R * C * sizeof *d);
    int32_t *ix = lstar_malloc(R * C * sizeof *ix), *ip = lstar_malloc((R + 1) * sizeof *ip);
    uint32_t seed = 12345;
    int nnz = 0;
    ip[0] = 0;
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 5 == 0) {
                d[nnz] = (float)((seed >> 8) % 1000) / 7.0f;
                ix[nnz++] = c;
            }
        }
        ip[r + 1] = nnz;
    }
    add_sparse(ds, "X", LSTAR_ENC_CSR, "cells", "genes", R, C, LSTAR_DTYPE_FLOAT32, d, ix, (uint64_t)nnz, ip, R + 1);
    double *dd = lstar_malloc(R * C * sizeof *dd);
    for (int i = 0; i < R * C; i++) dd[i] = (double)((i * 7919) % 1013) / 3.0;
    uint64_t shape[2] = {R, C};
    add_dense(ds, "dense", "measure", LSTAR_DTYPE_FLOAT64, 2, shape, dd, "cells", "genes");
    lstar_free(d);
    lstar_free(ix);
    lstar_free(ip);
    lstar_free(dd);
    return ds;
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_int_equal(fread(b, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

/* Every file under a and b (same relative names) has the same bytes. */
static void same_tree(const char *a, const char *b) {
    struct stat sa, sb;
    assert_int_equal(lstat(a, &sa), 0);
    assert_int_equal(lstat(b, &sb), 0);
    if (S_ISDIR(sa.st_mode)) {
        assert_true(S_ISDIR(sb.st_mode));
        DIR *d = opendir(a);
        struct dirent *e;
        int n = 0;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char ca[2048], cb[2048];
            snprintf(ca, sizeof ca, "%s/%s", a, e->d_name);
            snprintf(cb, sizeof cb, "%s/%s", b, e->d_name);
            same_tree(ca, cb);
            n++;
        }
        closedir(d);
        assert_true(n > 0);
        return;
    }
    size_t na, nb;
    uint8_t *ba = slurp(a, &na), *bb = slurp(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    free(ba);
    free(bb);
}

static void threads_identical(lstar_anndata_format fmt, const char *ext, const char *compression) {
    lstar_dataset *ds = build_big();
    char p1[1024], p4[1024];
    snprintf(p1, sizeof p1, "%s/w_t1.%s", TMP, ext);
    snprintf(p4, sizeof p4, "%s/w_t4.%s", TMP, ext);
    rm_rf(p1);
    rm_rf(p4);
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.format = fmt;
    o.compression = compression;
    o.chunk_elems = 1000; /* ~30 chunks per array: several pipeline batches */
    o.threads = 1;
    write_ok(ds, p1, &o);
    o.threads = 4;
    write_ok(ds, p4, &o);
    same_tree(p1, p4);
    /* and the values are right */
    lstar_dataset *back = NULL;
    OK(lstar_anndata_read(p4, NULL, &back, NULL));
    const lstar_field *f = lstar_dataset_field(back, "X"), *g = lstar_dataset_field(ds, "X");
    void *a = all(lstar_field_array(f, "data")), *b = all(lstar_field_array(g, "data"));
    assert_int_equal(lstar_array_size(lstar_field_array(f, "data")), lstar_array_size(lstar_field_array(g, "data")));
    assert_memory_equal(a, b, lstar_array_size(lstar_field_array(g, "data")) * 4);
    lstar_free(a);
    lstar_free(b);
    f = lstar_dataset_field(back, "dense");
    g = lstar_dataset_field(ds, "dense");
    assert_non_null(f);
    a = all(lstar_field_array(f, "values"));
    b = all(lstar_field_array(g, "values"));
    assert_memory_equal(a, b, 600 * 50 * 8);
    lstar_free(a);
    lstar_free(b);
    lstar_dataset_free(back);
    rm_rf(p1);
    rm_rf(p4);
    lstar_dataset_free(ds);
}

static void test_threads_identical_h5ad(void **state) {
    (void)state;
    threads_identical(LSTAR_ANNDATA_H5AD, "h5ad", "gzip:5");
}

static void test_threads_identical_zarr(void **state) {
    (void)state;
    threads_identical(LSTAR_ANNDATA_ZARR_V3, "zarr", "zstd:1");
}

/* zstd in h5ad needs our plugin: with plugin_dir the filter is found. */
static void test_h5ad_zstd_plugin(void **state) {
    (void)state;
    char path[1024];
    if (access(PLUGINS "/liblstar_h5z_zstd.so", R_OK) != 0) {
        print_message("zstd plugin not built in %s (skipping)\n", PLUGINS);
        skip();
    }
    lstar_dataset *ds = build_big();
    snprintf(path, sizeof path, "%s/w_zstd.h5ad", TMP);
    rm_rf(path);
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.compression = "zstd:5";
    o.plugin_dir = PLUGINS;
    o.chunk_elems = 4000;
    o.threads = 2;
    write_ok(ds, path, &o);
    lstar_h5_file *f = NULL;
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info info;
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, NULL));
    OK(lstar_h5_dataset_open(f, "X/data", &d, NULL));
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    assert_int_equal(info.nfilters, 1);
    assert_int_equal(info.filters[0].id, 32015);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
    lstar_dataset *back = NULL;
    OK(lstar_anndata_read(path, NULL, &back, NULL));
    const lstar_field *x = lstar_dataset_field(back, "dense");
    double *v = all(lstar_field_array(x, "values"));
    assert_true(v[600 * 50 - 1] == (double)(((600 * 50 - 1) * 7919) % 1013) / 3.0);
    lstar_free(v);
    lstar_dataset_free(back);
    rm_rf(path);
    lstar_dataset_free(ds);
}

/* A sparse field stored over [genes, cells] is written transposed into X. */
static void test_flip_sparse(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = NULL;
    OK(lstar_dataset_new(&ds, NULL));
    add_axis(ds, "cells", CELLS, 5, "observed", "observation");
    add_axis(ds, "genes", GENES, 4, "observed", "feature");
    /* CSC over [genes, cells] = CSR over [cells, genes] with the same arrays */
    add_sparse(ds, "X", LSTAR_ENC_CSC, "genes", "cells", 4, 5, LSTAR_DTYPE_FLOAT32, XD, XI, 7, XP, 6);
    snprintf(path, sizeof path, "%s/w_flip.zarr", TMP);
    rm_rf(path);
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.format = LSTAR_ANNDATA_ZARR_V2;
    write_ok(ds, path, &o);
    lstar_dataset *back = NULL;
    OK(lstar_anndata_read(path, NULL, &back, NULL));
    const lstar_field *f = lstar_dataset_field(back, "X");
    assert_non_null(f);
    assert_int_equal(lstar_field_encoding(f), LSTAR_ENC_CSR);
    assert_string_equal(lstar_field_span(f, 0), "cells");
    same_array(lstar_field_array(f, "indptr"), LSTAR_DTYPE_INT32, XP, 6);
    uint64_t dims[2];
    assert_int_equal(lstar_field_shape(f, dims, 2), 2);
    assert_int_equal(dims[0], 5);
    assert_int_equal(dims[1], 4);
    lstar_dataset_free(back);
    rm_rf(path);
    lstar_dataset_free(ds);
}

/* Progress reaches the total. */
static uint64_t g_done, g_total;
static void on_progress(void *ud, uint64_t done, uint64_t total) {
    (void)ud;
    assert_true(done >= g_done);
    g_done = done;
    g_total = total;
}

static void test_progress(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = build_big();
    snprintf(path, sizeof path, "%s/w_progress.h5ad", TMP);
    rm_rf(path);
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.progress = on_progress;
    o.chunk_elems = 5000;
    g_done = g_total = 0;
    write_ok(ds, path, &o);
    assert_true(g_total > 600 * 50);
    assert_int_equal(g_done, g_total);
    rm_rf(path);
    lstar_dataset_free(ds);
}

/* A Zarr-backed dense field whose codec HDF5 can run (zlib → deflate) is
 * copied chunk by chunk without re-encoding: the h5ad dataset gets the Zarr
 * chunk shape and the very same chunk bytes. */
static void test_chunk_copy_zarr_to_h5ad(void **state) {
    (void)state;
    char store_path[1024], path[1024];
    lstar_dataset *ds = build_big(), *lz = NULL;
    snprintf(store_path, sizeof store_path, "%s/w_copy.lstar.zarr", TMP);
    snprintf(path, sizeof path, "%s/w_copy.h5ad", TMP);
    rm_rf(store_path);
    rm_rf(path);
    lstar_write_options wo;
    lstar_write_options_init(&wo);
    wo.compression = "zlib:5";
    wo.chunk_elems = 5000; /* 100 rows of 50 */
    OK(lstar_dataset_write(ds, store_path, &wo, NULL));
    OK(lstar_dataset_read(store_path, &lz, NULL));
    assert_string_equal(lstar_array_kind(lstar_field_array(lstar_dataset_field(lz, "dense"), "values")), "zarr");
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.compression = "gzip";
    write_ok(lz, path, &o);
    /* the h5ad dataset: Zarr's chunk shape, deflate level 5, same bytes */
    lstar_h5_file *f = NULL;
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info info;
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, NULL));
    OK(lstar_h5_dataset_open(f, "layers/dense", &d, NULL));
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    assert_int_equal(info.chunks[0], 100);
    assert_int_equal(info.chunks[1], 50);
    assert_int_equal(info.nfilters, 1);
    assert_int_equal(info.filters[0].id, 1);
    assert_int_equal(info.filters[0].cd[0], 5);
    lstar_store *st = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *za = NULL;
    OK(lstar_store_open_dir(store_path, LSTAR_STORE_READ, &st, NULL));
    OK(lstar_zarr_open(st, &z, NULL));
    OK(lstar_zarr_array_open(z, "fields/dense/values", &za, NULL));
    for (uint64_t k = 0; k < 6; k++) {
        uint64_t coords[2] = {k, 0}, off[2] = {k * 100, 0};
        uint8_t *zb = NULL;
        size_t zn = 0, hn = 0;
        OK(lstar_zarr_array_read_raw_chunk(za, coords, &zb, &zn, NULL));
        uint8_t *hb = lstar_malloc(zn + 64);
        OK(lstar_h5_dataset_read_chunk(d, off, hb, zn + 64, &hn, NULL, NULL));
        assert_int_equal(hn, zn);
        assert_memory_equal(hb, zb, zn);
        lstar_free(hb);
        lstar_free(zb);
    }
    lstar_zarr_array_close(za);
    za = NULL;
    lstar_h5_dataset_close(d);
    /* sparse X: data and indices chunks copied too, indptr rebuilt */
    OK(lstar_h5_dataset_open(f, "X/data", &d, NULL));
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    OK(lstar_zarr_array_open(z, "fields/X/data", &za, NULL));
    assert_int_equal(info.chunks[0], lstar_zarr_array_chunks(za)[0]);
    assert_int_equal(info.filters[0].id, 1);
    {
        uint64_t coords[1] = {1}, off[1] = {info.chunks[0]};
        uint8_t *zb = NULL;
        size_t zn = 0, hn = 0;
        OK(lstar_zarr_array_read_raw_chunk(za, coords, &zb, &zn, NULL));
        uint8_t *hb = lstar_malloc(zn + 64);
        OK(lstar_h5_dataset_read_chunk(d, off, hb, zn + 64, &hn, NULL, NULL));
        assert_int_equal(hn, zn);
        assert_memory_equal(hb, zb, zn);
        lstar_free(hb);
        lstar_free(zb);
    }
    lstar_zarr_array_close(za);
    lstar_zarr_close(z);
    lstar_store_close(st);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
    /* and the values read back are the source's */
    lstar_dataset *back = NULL;
    OK(lstar_anndata_read(path, NULL, &back, NULL));
    double *a = all(lstar_field_array(lstar_dataset_field(back, "dense"), "values"));
    double *b = all(lstar_field_array(lstar_dataset_field(ds, "dense"), "values"));
    assert_memory_equal(a, b, 600 * 50 * 8);
    lstar_free(a);
    lstar_free(b);
    for (int k = 0; k < 3; k++) {
        static const char *const parts[3] = {"data", "indices", "indptr"};
        const lstar_array *ga = lstar_field_array(lstar_dataset_field(back, "X"), parts[k]);
        const lstar_array *wa = lstar_field_array(lstar_dataset_field(ds, "X"), parts[k]);
        assert_int_equal(lstar_array_size(ga), lstar_array_size(wa));
        a = all(ga);
        b = all(wa);
        assert_memory_equal(a, b, lstar_array_size(wa) * 4);
        lstar_free(a);
        lstar_free(b);
    }
    lstar_dataset_free(back);
    /* with chunk_copy off the data is re-encoded with the requested chunking */
    rm_rf(path);
    o.chunk_copy = 0;
    o.chunk_elems = 10000;
    write_ok(lz, path, &o);
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, NULL));
    OK(lstar_h5_dataset_open(f, "layers/dense", &d, NULL));
    OK(lstar_h5_dataset_get_info(d, &info, NULL));
    assert_int_equal(info.chunks[0], 200);
    assert_int_equal(info.filters[0].cd[0], 4);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
    rm_rf(path);
    rm_rf(store_path);
    lstar_dataset_free(lz);
    lstar_dataset_free(ds);
}

/* Every allocation of a write fails once in turn: each failure is reported
 * (no crash, no leak under the sanitizer build) and leaves nothing behind.
 * h5ad only, and a dataset without provenance strings or passthrough tree:
 * jansson 2.14 aborts when its string buffer cannot grow while parsing (see
 * the reader's allocation walk), and Zarr attributes are JSON documents. */
static void test_alloc_failure_walk(void **state) {
    (void)state;
    char path[1024];
    lstar_dataset *ds = NULL;
    lstar_field *f;
    OK(lstar_dataset_new(&ds, NULL));
    add_axis(ds, "cells", CELLS, 5, "observed", "observation");
    add_axis(ds, "genes", GENES, 4, "observed", "feature");
    add_sparse(ds, "X", LSTAR_ENC_CSR, "cells", "genes", 5, 4, LSTAR_DTYPE_FLOAT32, XD, XI, 7, XP, 6);
    f = add_sparse(ds, "counts", LSTAR_ENC_CSC, "cells", "genes", 5, 4, LSTAR_DTYPE_INT32, CD, CI, 6, CP, 5);
    OK(lstar_field_set_state(f, "raw", NULL));
    static const char *const NAMES[5] = {"a", "b", "c", "d", "e"};
    add_utf8(ds, "name", "cells", NAMES, 5);
    int64_t nv[5] = {1, 2, 3, 4, 5};
    static const uint8_t nm[5] = {0, 1, 0, 0, 0};
    uint64_t n5 = 5, s52[2] = {5, 2};
    f = add_dense(ds, "n", "measure", LSTAR_DTYPE_INT64, 1, &n5, nv, "cells", NULL);
    set_mask(f, nm, 5);
    static const char *const PCA[2] = {"pca0", "pca1"};
    add_axis(ds, "pca", PCA, 2, "derived", "coordinate");
    float pv[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    add_dense(ds, "pca", "embedding", LSTAR_DTYPE_FLOAT32, 2, s52, pv, "cells", "pca");
    add_dense(ds, "weird", "measure", LSTAR_DTYPE_FLOAT32, 1, &n5, pv, "genes_x", NULL);
    snprintf(path, sizeof path, "%s/w_oom.h5ad", TMP);
    rm_rf(path);
    lstar_anndata_write_options o;
    lstar_strings dropped;
    lstar_anndata_write_options_init(&o);
    o.compression = "gzip:1";
    o.chunk_elems = 4;
    o.threads = 2;
    o.dropped_out = &dropped;
    long failures = 0, n;
    for (n = 1; n < 20000; n++) {
        lt_failing fl;
        lstar_error e;
        memset(&e, 0, sizeof e);
        lt_failing_start(&fl, n, 0);
        lstar_status st = lstar_anndata_write(ds, path, &o, &e);
        lt_failing_stop();
        if (!fl.injected) {
            if (st != LSTAR_OK) print_message("no failure injected, yet: %s %s\n", e.where, e.message);
            assert_int_equal(st, LSTAR_OK);
            assert_true(has_dropped(&dropped, "weird ("));
            lstar_strings_destroy(&dropped);
            break;
        }
        if (st != LSTAR_OK) {
            failures++;
            assert_int_equal(e.status, st);
            assert_int_equal(access(path, F_OK), -1);
            assert_int_equal(dropped.n, 0);
        }
        assert_int_equal(count_prefixed("w_oom.h5ad."), 0);
        lstar_strings_destroy(&dropped);
        rm_rf(path);
    }
    print_message("allocation walk: %ld allocations, %ld failed writes\n", n - 1, failures);
    assert_true(n < 20000);
    assert_true(failures > 50);
    /* the walk's last run wrote a valid file */
    lstar_dataset *back = NULL;
    OK(lstar_anndata_read(path, NULL, &back, NULL));
    assert_non_null(lstar_dataset_field(back, "counts"));
    lstar_dataset_free(back);
    rm_rf(path);
    lstar_dataset_free(ds);
}

int main(void) {
    mkdir(TMP, 0755);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_h5ad),
        cmocka_unit_test(test_roundtrip_h5ad_gzip),
        cmocka_unit_test(test_roundtrip_zarr2),
        cmocka_unit_test(test_roundtrip_zarr3),
        cmocka_unit_test(test_uns_lstar_dropped),
        cmocka_unit_test(test_exists_refused),
        cmocka_unit_test(test_failure_leaves_nothing),
        cmocka_unit_test(test_collection_h5ad),
        cmocka_unit_test(test_collection_zarr),
        cmocka_unit_test(test_collection_errors),
        cmocka_unit_test(test_threads_identical_h5ad),
        cmocka_unit_test(test_threads_identical_zarr),
        cmocka_unit_test(test_h5ad_zstd_plugin),
        cmocka_unit_test(test_flip_sparse),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_chunk_copy_zarr_to_h5ad),
        cmocka_unit_test(test_alloc_failure_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
