/* Unit tests: the lstar HDF5 virtual file driver (vfd/, lstar/vfd.h).
 *
 * Stores are made from the upstream golden L★ store (../shared/data): the
 * store itself, and anndata-zarr v2/v3 copies written with small chunks and
 * none / zlib / zstd (+ a v3 one with gzip, which HDF5 cannot decode as
 * stored).  Each is opened through the driver and compared dataset by
 * dataset (shape, dtype, values, attributes) with the h5ad that
 * lstar_anndata_write makes from the same store; the image bytes are also
 * written to a plain file and read with HDF5's default driver.  Zero-copy
 * is checked from the image statistics; errors: read-only, missing chunk
 * objects after opening, HDF5 inputs, absent stores. */
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/repack.h"
#include "lstar/vfd.h"
#include "lstar/zarr.h"
#include "test_support.h"
#include "vfd_internal.h" /* vfd_image_build: the allocation-failure walk */

#define GOLDEN LSTAR_SHARED_DATA "/kharchenkolab_lstar/conformance/fixtures/golden_v2.lstar.zarr"
#define PLUGINS LSTAR_TEST_TMP "/../../filters/plugins"

/* ---- helpers ------------------------------------------------------------------------------------ */

/* Write the golden store as anndata-zarr (fmt, compression, chunk_elems) or h5ad at `out`. */
static void write_as_sharded(const char *src, const char *out, lstar_anndata_format fmt, const char *comp,
                             uint64_t chunk_elems, uint64_t shard_elems) {
    lstar_dataset *ds = NULL;
    lstar_anndata_write_options o;
    lstar_anndata_write_options_init(&o);
    o.format = fmt;
    o.compression = comp;
    o.chunk_elems = chunk_elems;
    o.shard_elems = shard_elems;
    o.overwrite = 1;
    o.plugin_dir = PLUGINS;
    if (strstr(src, ".lstar.")) {
        OKE(lstar_dataset_read(src, &ds, &e_));
    } else {
        OKE(lstar_anndata_read(src, NULL, &ds, &e_));
    }
    OKE(lstar_anndata_write(ds, out, &o, &e_));
    lstar_dataset_free(ds);
}

static void write_as(const char *src, const char *out, lstar_anndata_format fmt, const char *comp, uint64_t chunk_elems) {
    write_as_sharded(src, out, fmt, comp, chunk_elems, 0);
}

static hid_t open_lstar(const char *store) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    lstar_vfd_config cfg = {PLUGINS, NULL};
    assert_true(fapl >= 0);
    assert_int_equal(H5Pset_fapl_lstar(fapl, &cfg), 0);
    hid_t f = H5Fopen(store, H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    return f;
}

typedef struct cmp_ctx {
    hid_t other;
    int datasets, numeric, attrs;
    char bad[512];
} cmp_ctx;

/* Read a whole dataset (or attribute) in its own file type, as bytes; vlen strings are compared by value. */
static int same_values(hid_t a, hid_t b, int is_attr, const char *name, char *bad, size_t badsz) {
    hid_t ta = is_attr ? H5Aget_type(a) : H5Dget_type(a), tb = is_attr ? H5Aget_type(b) : H5Dget_type(b);
    hid_t sa = is_attr ? H5Aget_space(a) : H5Dget_space(a), sb = is_attr ? H5Aget_space(b) : H5Dget_space(b);
    /* current extents (maxshape may differ: chunk-copied datasets are fixed-size, streamed ones growable) */
    hsize_t da[H5S_MAX_RANK], db[H5S_MAX_RANK];
    int ra_ = H5Sget_simple_extent_dims(sa, da, NULL), rb_ = H5Sget_simple_extent_dims(sb, db, NULL);
    int ok = H5Tequal(ta, tb) > 0 && H5Sget_simple_extent_type(sa) == H5Sget_simple_extent_type(sb) && ra_ == rb_ &&
             (ra_ <= 0 || memcmp(da, db, (size_t)ra_ * sizeof *da) == 0);
    if (!ok) snprintf(bad, badsz, "%s: type or shape differs", name);
    hssize_t n = H5Sget_simple_extent_npoints(sa);
    int vlen = H5Tdetect_class(ta, H5T_VLEN) > 0 || H5Tis_variable_str(ta) > 0;
    if (ok && n > 0 && !vlen) {
        size_t sz = H5Tget_size(ta) * (size_t)n;
        void *x = malloc(sz), *y = malloc(sz);
        herr_t ra = is_attr ? H5Aread(a, ta, x) : H5Dread(a, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        herr_t rb = is_attr ? H5Aread(b, tb, y) : H5Dread(b, tb, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
        ok = ra >= 0 && rb >= 0 && memcmp(x, y, sz) == 0;
        if (!ok) snprintf(bad, badsz, "%s: values differ (read %d/%d)", name, (int)ra, (int)rb);
        free(x);
        free(y);
    } else if (ok && n > 0 && H5Tis_variable_str(ta) > 0 && H5Tget_class(ta) == H5T_STRING) {
        char **x = calloc((size_t)n, sizeof *x), **y = calloc((size_t)n, sizeof *y);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(ta));
        herr_t ra = is_attr ? H5Aread(a, mt, x) : H5Dread(a, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
        herr_t rb = is_attr ? H5Aread(b, mt, y) : H5Dread(b, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, y);
        ok = ra >= 0 && rb >= 0;
        for (hssize_t i = 0; ok && i < n; i++) ok = x[i] && y[i] && strcmp(x[i], y[i]) == 0;
        if (!ok) snprintf(bad, badsz, "%s: strings differ", name);
        if (ra >= 0) H5Dvlen_reclaim(mt, sa, H5P_DEFAULT, x);
        if (rb >= 0) H5Dvlen_reclaim(mt, sb, H5P_DEFAULT, y);
        H5Tclose(mt);
        free(x);
        free(y);
    }
    H5Tclose(ta);
    H5Tclose(tb);
    H5Sclose(sa);
    H5Sclose(sb);
    return ok;
}

typedef struct attr_ctx {
    hid_t other_obj;
    cmp_ctx *c;
    const char *obj;
} attr_ctx;

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *ud) {
    (void)info;
    attr_ctx *ac = ud;
    char where[600];
    snprintf(where, sizeof where, "%s@%s", ac->obj, name);
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t b = H5Aexists(ac->other_obj, name) > 0 ? H5Aopen(ac->other_obj, name, H5P_DEFAULT) : -1;
    int ok = a >= 0 && b >= 0 && same_values(a, b, 1, where, ac->c->bad, sizeof ac->c->bad);
    if (b < 0) snprintf(ac->c->bad, sizeof ac->c->bad, "%s: missing", where);
    ac->c->attrs++;
    if (a >= 0) H5Aclose(a);
    if (b >= 0) H5Aclose(b);
    return ok ? 0 : 1;
}

static herr_t visit_cb(hid_t root, const char *name, const H5O_info_t *info, void *ud) {
    cmp_ctx *c = ud;
    hid_t a = H5Oopen(root, name, H5P_DEFAULT);
    int is_root = strcmp(name, ".") == 0;
    hid_t b = is_root || H5Lexists(c->other, name, H5P_DEFAULT) > 0 ? H5Oopen(c->other, name, H5P_DEFAULT) : -1;
    int ok = a >= 0 && b >= 0;
    if (!ok) snprintf(c->bad, sizeof c->bad, "%s: missing in the reference", name);
    if (ok && info->type == H5O_TYPE_DATASET) {
        c->datasets++;
        hid_t t = H5Dget_type(a);
        c->numeric += H5Tget_class(t) == H5T_FLOAT || H5Tget_class(t) == H5T_INTEGER;
        H5Tclose(t);
        ok = same_values(a, b, 0, name, c->bad, sizeof c->bad);
    }
    if (ok) {
        attr_ctx ac = {b, c, name};
        hsize_t idx = 0;
        H5O_info_t ib;
        H5Oget_info2(b, &ib, H5O_INFO_NUM_ATTRS);
        ok = H5Aiterate2(a, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &ac) == 0 && ib.num_attrs == info->num_attrs;
        if (ok == 0 && !c->bad[0]) snprintf(c->bad, sizeof c->bad, "%s: attribute count differs", name);
    }
    if (a >= 0) H5Oclose(a);
    if (b >= 0) H5Oclose(b);
    return ok ? 0 : 1;
}

/* Every object, attribute and value of `f` equals the one in `ref` and both have the same number of objects. */
static void assert_same_file(hid_t f, hid_t ref, int min_numeric) {
    cmp_ctx c;
    memset(&c, 0, sizeof c);
    c.other = ref;
    herr_t r = H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &c, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS);
    if (r != 0) fail_msg("differs: %s", c.bad);
    cmp_ctx d;
    memset(&d, 0, sizeof d);
    d.other = f;
    r = H5Ovisit2(ref, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &d, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS);
    if (r != 0) fail_msg("reference differs: %s", d.bad);
    assert_true(c.numeric >= min_numeric);
    assert_true(c.attrs > 0);
}

/* The store through the driver == lstar_anndata_write's h5ad of it == the image bytes read by sec2. */
static void check_store(const char *store, const char *tag, int expect_refs, int expect_decoded) {
    char ref[512], raw[512];
    lt_tmp_path(ref, sizeof ref, "vfd", tag);
    strcat(ref, ".ref.h5ad");
    lt_tmp_path(raw, sizeof raw, "vfd", tag);
    strcat(raw, ".image.h5ad");
    write_as(store, ref, LSTAR_ANNDATA_H5AD, "zstd", 0);
    hid_t f = open_lstar(store);
    assert_true(f >= 0);
    hid_t r = H5Fopen(ref, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(r >= 0);
    assert_same_file(f, r, 5);
    H5Fclose(f);

    lstar_vfd_image *img = NULL;
    lstar_vfd_config cfg = {PLUGINS, NULL};
    OKE(lstar_vfd_image_open(store, &cfg, &img, &e_));
    lstar_vfd_image_stats st;
    lstar_vfd_image_get_stats(img, &st);
    if (expect_refs) {
        assert_true(st.chunk_refs >= (uint64_t)expect_refs);
        /* the address map: 24 bytes per chunk plus per-array / per-shard entries, no key per chunk */
        assert_true(st.map_bytes >= 24 * st.chunk_refs);
    } else {
        assert_int_equal(st.chunk_refs, 0);
    }
    if (expect_decoded > 0) assert_true(st.decoded_chunks >= (uint64_t)expect_decoded);
    else if (expect_decoded == 0) assert_int_equal(st.decoded_chunks, 0); /* < 0: not checked */
    assert_int_equal(st.size, lstar_vfd_image_size(img));
    size_t n = (size_t)st.size;
    uint8_t *bytes = malloc(n);
    OKE(lstar_vfd_image_read(img, 0, bytes, n, &e_));
    FILE *fp = fopen(raw, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
    /* reads that straddle chunk boundaries give the same bytes as one big read */
    uint8_t piece[777];
    for (uint64_t off = 0; off + sizeof piece <= n; off += 5000) {
        OKE(lstar_vfd_image_read(img, off, piece, sizeof piece, &e_));
        assert_memory_equal(piece, bytes + off, sizeof piece);
    }
    free(bytes);
    lstar_vfd_image_close(img);
    hid_t g = H5Fopen(raw, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(g >= 0);
    assert_same_file(g, r, 5);
    H5Fclose(g);
    H5Fclose(r);
    unlink(ref);
    unlink(raw);
}

/* ---- tests -------------------------------------------------------------------------------------- */

static void test_register_idempotent(void **state) {
    (void)state;
    hid_t a = lstar_vfd_register(), b = lstar_vfd_register();
    assert_true(a >= 0);
    assert_int_equal(a, b);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    assert_int_equal(H5Pset_fapl_lstar(fapl, NULL), 0);
    assert_int_equal(H5Pget_driver(fapl), a);
    H5Pclose(fapl);
}

static void test_lstar_store(void **state) {
    (void)state;
    lt_need(GOLDEN);
    check_store(GOLDEN, "golden", 1, 0);
}

static void test_anndata_zarr_codecs(void **state) {
    (void)state;
    lt_need(GOLDEN);
    static const struct {
        lstar_anndata_format fmt;
        const char *comp, *tag;
        uint64_t shard;
    } cases[] = {
        {LSTAR_ANNDATA_ZARR_V2, "none", "v2none", 0},
        {LSTAR_ANNDATA_ZARR_V2, "zlib:5", "v2zlib", 0},
        {LSTAR_ANNDATA_ZARR_V2, "zstd:3", "v2zstd", 0},
        {LSTAR_ANNDATA_ZARR_V3, "zstd:1", "v3zstd", 0},
        {LSTAR_ANNDATA_ZARR_V3, "zstd:1", "v3shard", 64}, /* inner chunks of shards */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char store[512];
        lt_tmp_path(store, sizeof store, "vfd", cases[i].tag);
        strcat(store, ".zarr");
        /* 16 elements per chunk: many chunks */
        write_as_sharded(GOLDEN, store, cases[i].fmt, cases[i].comp, 16, cases[i].shard);
        check_store(store, cases[i].tag, 4, 0);
        lt_rm_rf(store);
    }
}

static void test_gzip_v3_decode_on_read(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512];
    lt_tmp_path(store, sizeof store, "vfd", "v3gzip");
    strcat(store, ".zarr");
    /* v3 gzip has no HDF5 equivalent: presented unfiltered, decoded by the driver on read */
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V3, "gzip", 16);
    check_store(store, "v3gzip", 0, 4);
    lt_rm_rf(store);
}

static void test_blosc(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512];
    lt_tmp_path(store, sizeof store, "vfd", "v2blosc");
    strcat(store, ".zarr");
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V2, "blosc:lz4:5:shuffle", 16);
    /* pass-through to Debian's hdf5-blosc (32001) when HDF5 can load it, else decode-on-read */
    if (H5Zfilter_avail(32001) > 0) check_store(store, "v2blosc", 4, 0);
    else check_store(store, "v2blosc", 0, 4);
    lt_rm_rf(store);
}

static herr_t find_msg(unsigned n, const H5E_error2_t *e, void *ud) {
    (void)n;
    if (e->desc && strstr(e->desc, "read-only")) *(int *)ud = 1;
    return 0;
}

static void test_read_only(void **state) {
    (void)state;
    lt_need(GOLDEN);
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    assert_int_equal(H5Pset_fapl_lstar(fapl, NULL), 0);
    hid_t f = H5Fopen(GOLDEN, H5F_ACC_RDWR, fapl);
    assert_true(f < 0);
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_msg, &found);
    assert_true(found);
    H5Eclear2(H5E_DEFAULT);
    /* create through the driver: refused too */
    f = H5Fcreate(LSTAR_TEST_TMP "/vfd_never.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    assert_true(f < 0);
    H5Eclear2(H5E_DEFAULT);
    /* a read-only open works, and writing a dataset fails */
    f = H5Fopen(GOLDEN, H5F_ACC_RDONLY, fapl);
    assert_true(f >= 0);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, "/new", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d < 0);
    H5Sclose(sp);
    H5Fclose(f);
    H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
}

static void test_chunk_removed_after_open(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512], key[600];
    lt_tmp_path(store, sizeof store, "vfd", "gone");
    strcat(store, ".zarr");
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V2, "zstd:3", 16);
    lstar_vfd_image *img = NULL;
    lstar_vfd_config cfg = {PLUGINS, NULL};
    OKE(lstar_vfd_image_open(store, &cfg, &img, &e_));
    snprintf(key, sizeof key, "%s/obsm/X_pca/0.0", store);
    assert_true(lt_path_exists(key));
    unlink(key);
    size_t n = (size_t)lstar_vfd_image_size(img);
    uint8_t *bytes = malloc(n);
    lstar_error err;
    lstar_error_clear(&err);
    assert_int_equal(lstar_vfd_image_read(img, 0, bytes, n, &err), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(err.where, "obsm/X_pca/0.0"));
    free(bytes);
    lstar_vfd_image_close(img);
    /* opened again: the chunk is missing from the store, so it reads as the fill value (0) */
    hid_t f = open_lstar(store);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, "/obsm/X_pca", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(s, dims, NULL);
    double *v = malloc(dims[0] * dims[1] * sizeof *v);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    assert_true(v[0] == 0.0);
    free(v);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    lt_rm_rf(store);
}

/* numcodecs delta on indices / indptr (lstar repack --delta-indices of a Zarr store): integers with
 * astype == dtype, the bytes of lstar's delta filter (56855). */
static void test_delta(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char plain[512], store[512];
    lt_tmp_path(plain, sizeof plain, "vfd", "v2plain");
    strcat(plain, ".zarr");
    lt_tmp_path(store, sizeof store, "vfd", "v2delta");
    strcat(store, ".zarr");
    write_as(GOLDEN, plain, LSTAR_ANNDATA_ZARR_V2, "none", 16);
    lstar_repack_opts o;
    lstar_repack_opts_init(&o);
    o.delta_indices = 1;
    o.shuffle = 1;
    o.overwrite = 1;
    o.plugin_dir = PLUGINS;
    OKE(lstar_repack_zarr(plain, store, &o, NULL, &e_));
    lt_rm_rf(plain);
    /* values, attributes and tree as lstar_anndata_write's h5ad of the same store; X/indices and
     * X/indptr pass through lstar's delta filter (56855): nothing is decoded by the driver */
    check_store(store, "v2delta", 4, 0);
    lt_rm_rf(store);
}

/* Add obsm/X_many (n_obs × 100 float32, 1×1 chunks: thousands of chunk objects) to the anndata-zarr
 * store at `store`, re-consolidating its metadata. */
static void add_many_chunk_array(const char *store) {
    lstar_store *st = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *pca = NULL, *a = NULL;
    OKE(lstar_store_open(store, LSTAR_STORE_READ | LSTAR_STORE_WRITE, &st, &e_));
    OKE(lstar_zarr_open(st, &z, &e_));
    OKE(lstar_zarr_array_open(z, "obsm/X_pca", &pca, &e_));
    uint64_t nobs = lstar_zarr_array_shape(pca)[0];
    lstar_zarr_array_close(pca);
    lstar_zarr_array_spec sp;
    lstar_zarr_array_spec_init(&sp);
    sp.rank = 2;
    sp.shape[0] = nobs;
    sp.shape[1] = 100;
    sp.chunks[0] = sp.chunks[1] = 1;
    sp.dtype = LSTAR_DTYPE_FLOAT32;
    sp.compression = "zstd:1";
    sp.attrs_json = "{\"encoding-type\": \"array\", \"encoding-version\": \"0.2.0\"}";
    OKE(lstar_zarr_array_create(z, "obsm/X_many", &sp, &a, &e_));
    float *v = malloc(nobs * 100 * sizeof *v);
    for (uint64_t i = 0; i < nobs * 100; i++) v[i] = (float)i + 0.5f;
    OKE(lstar_zarr_array_write(a, v, &e_));
    free(v);
    lstar_zarr_array_close(a);
    if (lstar_zarr_is_consolidated(z)) OKE(lstar_zarr_consolidate(z, &e_));
    lstar_zarr_close(z);
    lstar_store_close(st);
}

/* Thousands of chunk objects in one array (their sizes looked up by several threads), some missing
 * (fill), and a v3 store whose chunk directories are partly missing. */
static void test_many_chunks(void **state) {
    (void)state;
    lt_need(GOLDEN);
    static const struct {
        lstar_anndata_format fmt;
        const char *tag, *gone, *gone_dir;
    } cases[] = {
        {LSTAR_ANNDATA_ZARR_V2, "many2", "obsm/X_many/5.1", NULL},
        {LSTAR_ANNDATA_ZARR_V3, "many3", "obsm/X_many/c/5/3", "obsm/X_many/c/7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char store[512], key[700];
        lt_tmp_path(store, sizeof store, "vfd", cases[i].tag);
        strcat(store, ".zarr");
        write_as(GOLDEN, store, cases[i].fmt, "zstd:1", 16);
        add_many_chunk_array(store);
        snprintf(key, sizeof key, "%s/%s", store, cases[i].gone);
        assert_true(lt_path_exists(key));
        unlink(key);
        if (cases[i].gone_dir) {
            snprintf(key, sizeof key, "%s/%s", store, cases[i].gone_dir);
            assert_true(lt_path_exists(key));
            lt_rm_rf(key);
        }
        lstar_vfd_image *img = NULL;
        lstar_vfd_config cfg = {PLUGINS, NULL};
        OKE(lstar_vfd_image_open(store, &cfg, &img, &e_));
        lstar_vfd_image_stats st;
        lstar_vfd_image_get_stats(img, &st);
        assert_true(st.chunk_refs > 600);
        assert_true(st.fill_chunks >= (cases[i].gone_dir ? 101u : 1u));
        assert_int_equal(st.key_bytes, 0); /* chunk keys are computed when read */
        lstar_vfd_image_close(img);
        /* the values: as lstar_anndata_write writes the (damaged) store */
        char ref[512];
        lt_tmp_path(ref, sizeof ref, "vfd", "many_ref.h5ad");
        write_as(store, ref, LSTAR_ANNDATA_H5AD, "none", 0);
        hid_t f = open_lstar(store), r = H5Fopen(ref, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(f >= 0 && r >= 0);
        assert_same_file(f, r, 5);
        hid_t d = H5Dopen2(f, "/obsm/X_many", H5P_DEFAULT);
        assert_true(d >= 0);
        float row[100];
        hsize_t start[2] = {5, 0}, count[2] = {1, 100};
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(2, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        assert_true(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, row) >= 0);
        int v3 = cases[i].fmt == LSTAR_ANNDATA_ZARR_V3;
        assert_true(row[0] == 500.5f && row[99] == 599.5f);
        assert_true(row[1] == (v3 ? 501.5f : 0.0f) && row[3] == (v3 ? 0.0f : 503.5f));
        H5Sclose(ms);
        H5Sclose(fs);
        H5Dclose(d);
        H5Fclose(f);
        H5Fclose(r);
        unlink(ref);
        lt_rm_rf(store);
    }
}

/* v3 shard indexes carry a crc32c: a damaged index fails opening with the shard's key. */
static void test_shard_index_checksum(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512], key[700];
    lt_tmp_path(store, sizeof store, "vfd", "v3crc");
    strcat(store, ".zarr");
    write_as_sharded(GOLDEN, store, LSTAR_ANNDATA_ZARR_V3, "zstd:1", 16, 64);
    snprintf(key, sizeof key, "%s/obsm/X_pca/c/0/0", store);
    FILE *fp = fopen(key, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -5, SEEK_END), 0); /* the last byte of the index, before its crc32c */
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, -5, SEEK_END), 0);
    fputc(c ^ 0x40, fp);
    fclose(fp);
    lstar_vfd_image *img = NULL;
    lstar_vfd_config cfg = {PLUGINS, NULL};
    lstar_error err;
    lstar_error_clear(&err);
    assert_int_equal(lstar_vfd_image_open(store, &cfg, &img, &err), LSTAR_ERR_CORRUPT);
    assert_null(img);
    assert_non_null(strstr(err.message, "checksum"));
    assert_non_null(strstr(err.where, "obsm/X_pca/c/0/0"));
    lt_rm_rf(store);
}

/* A mapped array whose chunk grid changed after the image was built is refused when read. */
static void test_array_changed(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512];
    lt_tmp_path(store, sizeof store, "vfd", "changed");
    strcat(store, ".zarr");
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V2, "zstd:3", 16);
    lstar_vfd_image *img = NULL;
    lstar_vfd_config cfg = {PLUGINS, NULL};
    OKE(lstar_vfd_image_open(store, &cfg, &img, &e_));
    /* obsm/X_pca re-chunked in place: its metadata from a store written with other chunks */
    char other[512], meta[700];
    lt_tmp_path(other, sizeof other, "vfd", "changed32");
    strcat(other, ".zarr");
    write_as(GOLDEN, other, LSTAR_ANNDATA_ZARR_V2, "zstd:3", 32);
    static const char *const metas[] = {"obsm/X_pca/.zarray", ".zmetadata"};
    for (int k = 0; k < 2; k++) {
        snprintf(meta, sizeof meta, "%s/%s", other, metas[k]);
        size_t ml = 0;
        char *text = lt_read_file(meta, &ml);
        assert_non_null(text);
        snprintf(meta, sizeof meta, "%s/%s", store, metas[k]);
        FILE *mf = fopen(meta, "wb");
        assert_non_null(mf);
        assert_int_equal(fwrite(text, 1, ml, mf), ml);
        fclose(mf);
        free(text);
    }
    lt_rm_rf(other);
    size_t n = (size_t)lstar_vfd_image_size(img);
    uint8_t *bytes = malloc(n);
    lstar_error err;
    lstar_error_clear(&err);
    lstar_status rs = lstar_vfd_image_read(img, 0, bytes, n, &err);
    assert_int_equal(rs, LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(err.message, "changed"));
    free(bytes);
    lstar_vfd_image_close(img);
    lt_rm_rf(store);
}

static herr_t find_driver_msg(unsigned n, const H5E_error2_t *e, void *ud) {
    (void)n;
    if (e->desc && strstr(e->desc, "lstar driver:")) *(int *)ud = 1;
    return 0;
}

/* Decode-on-read: a chunk that no longer decodes fails the HDF5 read with the driver's message. */
static void test_decode_corrupt_chunk(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512], key[600];
    lt_tmp_path(store, sizeof store, "vfd", "v3gzbad");
    strcat(store, ".zarr");
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V3, "gzip", 16);
    hid_t f = open_lstar(store);
    assert_true(f >= 0);
    snprintf(key, sizeof key, "%s/obsm/X_pca/c/0/0", store);
    assert_true(lt_path_exists(key));
    lt_write_text(key, "this is not a gzip stream");
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t d = H5Dopen2(f, "/obsm/X_pca", H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t s = H5Dget_space(d);
    hsize_t dims[2];
    H5Sget_simple_extent_dims(s, dims, NULL);
    double *v = malloc(dims[0] * dims[1] * sizeof *v);
    assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0);
    int found = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, find_driver_msg, &found);
    assert_true(found);
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    free(v);
    H5Sclose(s);
    H5Dclose(d);
    H5Fclose(f);
    lt_rm_rf(store);
}

/* Every allocation of building an image (the recording write: HDF5 file through the recording
 * driver, pages, refs, keys, shard indexes) fails once in turn: each failure is reported, nothing
 * is left allocated (ASan), and the walk ends with a build that saw no failure.  The store is read
 * into the model before the walk: failing jansson's allocations while it parses can corrupt its
 * heap (a double free on cleanup after a failed json_loadb, seen here with jansson 2.14; see
 * docs/internals/anndata.md "allocation-failure walk"). */
/* One store: the walk (see test_allocation_failures). */
static void allocation_walk(const char *store) {
    lstar_vfd_config cfg = {PLUGINS, NULL};
    lstar_dataset *ds = NULL;
    OKE(lstar_anndata_read(store, NULL, &ds, &e_));
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int done = 0;
    long failures = 0;
    for (long n = 1; n < 200000 && !done; n++) {
        lt_failing f;
        lstar_vfd_image *img = NULL;
        lstar_error err;
        lstar_error_clear(&err);
        lt_failing_start(&f, n, 0);
        lstar_status st = vfd_image_build(store, ds, &cfg, &img, &err);
        lt_failing_stop();
        if (st == LSTAR_OK) {
            assert_non_null(img);
            lstar_vfd_image_close(img);
            done = !f.injected;
        } else {
            assert_null(img);
            assert_true(f.injected);
            assert_true(err.message[0] != 0);
            failures++;
        }
        H5Eclear2(H5E_DEFAULT);
    }
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    lstar_dataset_free(ds);
    assert_true(done);
    assert_true(failures > 10);
}

static void test_allocation_failures(void **state) {
    (void)state;
    lt_need(GOLDEN);
    char store[512];
    lt_tmp_path(store, sizeof store, "vfd", "oom");
    strcat(store, ".zarr");
    write_as(GOLDEN, store, LSTAR_ANNDATA_ZARR_V2, "zstd:3", 16);
    allocation_walk(store);
    lt_rm_rf(store);
    /* v3 shards (shard indexes, shard keys) */
    write_as_sharded(GOLDEN, store, LSTAR_ANNDATA_ZARR_V3, "zstd:1", 16, 64);
    allocation_walk(store);
    lt_rm_rf(store);
}

static void test_refuses_hdf5_and_missing(void **state) {
    (void)state;
    lstar_vfd_image *img = NULL;
    lstar_error err;
    char h5[512];
    lt_tmp_path(h5, sizeof h5, "vfd", "plain.h5ad");
    lt_need(GOLDEN);
    write_as(GOLDEN, h5, LSTAR_ANNDATA_H5AD, "none", 0);
    lstar_error_clear(&err);
    assert_int_equal(lstar_vfd_image_open(h5, NULL, &img, &err), LSTAR_ERR_UNSUPPORTED);
    assert_null(img);
    assert_non_null(strstr(err.message, "HDF5 file"));
    lstar_error_clear(&err);
    assert_int_equal(lstar_vfd_image_open(LSTAR_TEST_TMP "/vfd_no_such_store.zarr", NULL, &img, &err),
                     LSTAR_ERR_NOT_FOUND);
    unlink(h5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_idempotent),
        cmocka_unit_test(test_lstar_store),
        cmocka_unit_test(test_anndata_zarr_codecs),
        cmocka_unit_test(test_gzip_v3_decode_on_read),
        cmocka_unit_test(test_blosc),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_chunk_removed_after_open),
        cmocka_unit_test(test_decode_corrupt_chunk),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_many_chunks),
        cmocka_unit_test(test_shard_index_checksum),
        cmocka_unit_test(test_array_changed),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_refuses_hdf5_and_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
