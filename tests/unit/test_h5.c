/* Unit tests: the HDF5 backend (lstar/h5.h) against real h5ad/h5mu files and
 * write-then-read round trips.
 *
 * Expected values were computed once with /usr/bin/python3 + h5py 3.7 on the
 * files in ../shared/data (the commands are quoted next to each value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <zlib.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/array.h"
#include "lstar/h5.h"

#define PBMC LSTAR_SHARED_DATA "/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.h5ad"
#define V050 LSTAR_SHARED_DATA "/scverse_anndata/tests/data/archives/v0.5.0/adata.h5ad"
#define V070 LSTAR_SHARED_DATA "/scverse_anndata/tests/data/archives/v0.7.0/adata.h5ad"
#define EXAMPLE LSTAR_SHARED_DATA "/scverse_anndataR/inst/extdata/example.h5ad"
#define H5MU LSTAR_SHARED_DATA "/scverse_mudata/tests/data/archives/v0.4.1/mdata_axis0.h5mu"
#define NANF LSTAR_SHARED_DATA "/chanzuckerberg_cellxgene/test/fixtures/nan.h5ad"

#define OK OKE
/* For calls that take `&e_` as their error record. */
#define E (&e_)

static lstar_h5_file *open_ro(const char *path) {
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_READ, &f, E));
    return f;
}

static char *attr_str(lstar_h5_file *f, const char *path, const char *name) {
    char *s = NULL;
    OK(lstar_h5_attr_read_string(f, path, name, &s, E));
    return s;
}

static void assert_item(const lstar_strings *s, size_t i, const char *want) {
    char buf[512];
    assert_true(i < s->n);
    assert_string_equal(lstar_strings_get_cstr(s, i, buf, sizeof buf), want);
}

static double sum_f32(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return s;
}

/* ---- 10x_pbmc68k_reduced.h5ad (modern encoding) -------------------------------------- */

static void test_pbmc_dense_x(void **state) {
    (void)state;
    lt_need(PBMC);
    lstar_h5_file *f = open_ro(PBMC);
    lstar_h5_node_type nt;
    OK(lstar_h5_node_type_at(f, "X", &nt, E));
    assert_int_equal(nt, LSTAR_H5_NODE_DATASET);
    OK(lstar_h5_node_type_at(f, "/raw/X", &nt, E));
    assert_int_equal(nt, LSTAR_H5_NODE_GROUP);
    OK(lstar_h5_node_type_at(f, "/nope/deeper", &nt, E));
    assert_int_equal(nt, LSTAR_H5_NODE_NONE);
    assert_int_equal(lstar_h5_userblock(f), 0);

    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_open(f, "X", &d, E));
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->kind, LSTAR_H5_TYPE_NUMERIC);
    assert_int_equal(di->dtype, LSTAR_DTYPE_FLOAT32);
    assert_int_equal(di->rank, 2);
    assert_int_equal(di->shape[0], 700);
    assert_int_equal(di->shape[1], 765);
    assert_int_equal(di->layout, LSTAR_H5_LAYOUT_CHUNKED);
    assert_int_equal(di->chunks[0], 44);
    assert_int_equal(di->chunks[1], 96);
    assert_int_equal(di->nfilters, 1);
    assert_int_equal(di->filters[0].id, 1); /* deflate, level 4 (h5py: get_filter(0) == (1, 1, (4,), b'deflate')) */
    assert_int_equal(di->filters[0].ncd, 1);
    assert_int_equal(di->filters[0].cd[0], 4);
    assert_int_equal(di->filters[0].flags, LSTAR_H5_FILTER_OPTIONAL);
    assert_string_equal(di->filters[0].name, "deflate");
    assert_int_equal(di->filters[0].available, 1);
    assert_int_equal(di->offset, UINT64_MAX);
    free(di);

    /* Chunks: 16 x 8 = 128 (h5py: X.id.get_num_chunks() == 128). */
    uint64_t nch = 0;
    OK(lstar_h5_dataset_num_chunks(d, &nch, E));
    assert_int_equal(nch, 128);
    lstar_h5_chunk_info ci;
    uint64_t org[2] = {0, 0};
    OK(lstar_h5_dataset_chunk_info_at(d, org, &ci, E));
    /* h5py: X.id.get_chunk_info_by_coord((0,0)) == StoreInfo((0,0), 0, 8760, 7060) */
    assert_int_equal(ci.addr, 8760);
    assert_int_equal(ci.size, 7060);
    assert_int_equal(ci.filter_mask, 0);
    uint64_t edge[2] = {660, 672};
    OK(lstar_h5_dataset_chunk_info_at(d, edge, &ci, E));
    assert_int_equal(ci.addr, 904867);
    assert_int_equal(ci.size, 6640);
    /* Enumerating finds every chunk once. */
    uint64_t seen = 0, total = 0;
    for (uint64_t i = 0; i < nch; i++) {
        OK(lstar_h5_dataset_chunk_info(d, i, &ci, E));
        assert_int_equal(ci.offset[0] % 44, 0);
        assert_int_equal(ci.offset[1] % 96, 0);
        if (ci.offset[0] == 660 && ci.offset[1] == 672) seen++;
        total += ci.size;
    }
    assert_int_equal(seen, 1);
    /* h5py: X.id.get_storage_size() == 894899 == the sum of the chunk sizes */
    assert_int_equal(total, 894899);

    /* Raw chunk (0,0): zlib stream that inflates to the 44x96 block. */
    uint8_t *raw = malloc(7060);
    size_t rawn = 0;
    unsigned mask = 99;
    lstar_error e1;
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_dataset_read_chunk(d, org, raw, 100, &rawn, &mask, &e1), LSTAR_ERR_LIMIT);
    OK(lstar_h5_dataset_read_chunk(d, org, raw, 7060, &rawn, &mask, E));
    assert_int_equal(rawn, 7060);
    assert_int_equal(mask, 0);
    float *chunk = malloc(44 * 96 * 4);
    uLongf outn = 44 * 96 * 4;
    assert_int_equal(uncompress((Bytef *)chunk, &outn, raw, rawn), Z_OK);
    assert_int_equal(outn, 44 * 96 * 4);
    float *blk = malloc(44 * 96 * 4);
    uint64_t cnt[2] = {44, 96};
    OK(lstar_h5_dataset_read(d, org, cnt, blk, E));
    assert_memory_equal(chunk, blk, 44 * 96 * 4);
    free(raw);
    free(chunk);
    free(blk);
    lstar_h5_dataset_close(d);

    /* As an lstar_array. */
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "/X", &a, E));
    lstar_h5_close(f); /* the array keeps the file open */
    assert_string_equal(lstar_array_kind(a), "hdf5");
    const lstar_array_info *info = lstar_array_get_info(a);
    assert_int_equal(info->dtype, LSTAR_DTYPE_FLOAT32);
    assert_int_equal(info->block[0], 44);
    assert_int_equal(info->block[1], 96);
    void *all = NULL;
    size_t nb = 0;
    OK(lstar_array_read_all(a, 0, &all, &nb, E));
    assert_int_equal(nb, 700 * 765 * 4);
    /* h5py: float(X[()].astype(np.float64).sum()) == -243.681057988666 */
    assert_true(fabs(sum_f32(all, 700 * 765) - -243.681057988666) < 1e-6);
    const float *x = all;
    assert_true(x[0] == -0.32600000500679016f);
    assert_true(x[699 * 765 + 764] == -0.49000000953674316f);
    lstar_free(all);
    /* Rows 40..50 cross the chunk boundary at row 44: sum 26.666992204030976. */
    float *rows = malloc(10 * 765 * 4);
    uint64_t st2[2] = {40, 0}, ct2[2] = {10, 765};
    OK(lstar_array_read(a, st2, ct2, rows, E));
    assert_true(fabs(sum_f32(rows, 10 * 765) - 26.666992204030976) < 1e-9);
    free(rows);
    /* A 3x3 window around the corner of four chunks: X[43:46, 95:98]. */
    float w[9];
    uint64_t st3[2] = {43, 95}, ct3[2] = {3, 3};
    OK(lstar_array_read(a, st3, ct3, w, E));
    const float want[9] = {0.9559999704360962f,  -0.40700000524520874f, -0.7549999952316284f,
                           -0.5120000243186951f, -0.40700000524520874f, 0.09300000220537186f,
                           -0.5120000243186951f, 0.9679999947547913f,   -0.7549999952316284f};
    assert_memory_equal(w, want, sizeof want);
    lstar_array_free(a);
}

static void test_pbmc_sparse_and_obs(void **state) {
    (void)state;
    lt_need(PBMC);
    lstar_h5_file *f = open_ro(PBMC);
    char *s = attr_str(f, "/", "encoding-type");
    assert_string_equal(s, "anndata");
    lstar_free(s);
    s = attr_str(f, "raw/X", "encoding-type");
    assert_string_equal(s, "csr_matrix");
    lstar_free(s);
    int64_t *shape = NULL;
    size_t n = 0;
    OK(lstar_h5_attr_read_i64(f, "raw/X", "shape", &shape, &n, E));
    assert_int_equal(n, 2);
    assert_int_equal(shape[0], 700);
    assert_int_equal(shape[1], 765);
    lstar_free(shape);

    lstar_array *data = NULL, *indices = NULL, *indptr = NULL;
    OK(lstar_array_from_h5(f, "raw/X/data", &data, E));
    OK(lstar_array_from_h5(f, "raw/X/indices", &indices, E));
    OK(lstar_array_from_h5(f, "raw/X/indptr", &indptr, E));
    assert_int_equal(lstar_array_shape(data)[0], 174400);
    assert_int_equal(lstar_array_shape(indices)[0], 174400);
    assert_int_equal(lstar_array_dtype(indices), LSTAR_DTYPE_INT32);
    assert_int_equal(lstar_array_shape(indptr)[0], 701);
    assert_int_equal(lstar_array_get_info(data)->block[0], 2725);
    int64_t ip[5];
    OK(lstar_array_read_1d_as(indptr, 0, 5, LSTAR_DTYPE_INT64, ip, E));
    assert_int_equal(ip[1], 217);
    assert_int_equal(ip[4], 891);
    OK(lstar_array_read_1d_as(indptr, 700, 1, LSTAR_DTYPE_INT64, ip, E));
    assert_int_equal(ip[0], 174400);
    void *buf = NULL;
    size_t nb;
    OK(lstar_array_read_all(data, 0, &buf, &nb, E));
    /* h5py: float(raw/X/data[:].astype(np.float64).sum()) == 319044.23824107647 */
    assert_true(fabs(sum_f32(buf, 174400) - 319044.23824107647) < 1e-6);
    lstar_free(buf);
    int32_t ix[5];
    uint64_t z = 0, five = 5;
    OK(lstar_array_read(indices, &z, &five, ix, E));
    assert_int_equal(ix[0], 764);
    assert_int_equal(ix[4], 758);
    lstar_array_free(data);
    lstar_array_free(indices);
    lstar_array_free(indptr);

    /* obs dataframe */
    lstar_strings co;
    OK(lstar_h5_attr_read_strings(f, "obs", "column-order", &co, E));
    assert_int_equal(co.n, 8);
    assert_item(&co, 0, "bulk_labels");
    assert_item(&co, 7, "louvain");
    lstar_strings_destroy(&co);
    s = attr_str(f, "obs", "_index");
    assert_string_equal(s, "index");
    lstar_free(s);
    lstar_strings kids;
    OK(lstar_h5_list_children(f, "obs", &kids, E));
    assert_int_equal(kids.n, 9); /* name order, as h5py iterates */
    assert_item(&kids, 0, "G2M_score");
    assert_item(&kids, 2, "bulk_labels");
    assert_item(&kids, 8, "phase");
    lstar_strings_destroy(&kids);
    lstar_strings an;
    OK(lstar_h5_attr_names(f, "obs/bulk_labels", &an, E));
    assert_int_equal(an.n, 3);
    lstar_strings_destroy(&an);

    lstar_array *idx = NULL;
    OK(lstar_array_from_h5(f, "obs/index", &idx, E));
    assert_int_equal(lstar_array_dtype(idx), LSTAR_DTYPE_STRING);
    lstar_strings lab;
    OK(lstar_array_read_strings(idx, 0, 3, &lab, E));
    assert_item(&lab, 0, "AAAGCCTGGCTAAC-1");
    assert_item(&lab, 1, "AAATTCGATGCACA-1");
    assert_item(&lab, 2, "AACACGTGGTCTTT-1");
    lstar_strings_destroy(&lab);
    OK(lstar_array_read_strings(idx, 0, 700, &lab, E));
    assert_int_equal(lab.n, 700);
    lstar_strings_destroy(&lab);
    lstar_array_free(idx);

    /* categorical */
    int ordered = -1;
    OK(lstar_h5_attr_read_bool(f, "obs/bulk_labels", "ordered", &ordered, E));
    assert_int_equal(ordered, 0);
    lstar_h5_attr_info ai;
    OK(lstar_h5_attr_get_info(f, "obs/bulk_labels", "ordered", &ai, E));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_BOOL);
    assert_int_equal(ai.rank, 0);
    lstar_array *codes = NULL, *cats = NULL;
    OK(lstar_array_from_h5(f, "obs/bulk_labels/codes", &codes, E));
    assert_int_equal(lstar_array_dtype(codes), LSTAR_DTYPE_INT8);
    int8_t c[10];
    uint64_t ten = 10;
    OK(lstar_array_read(codes, &z, &ten, c, E));
    const int8_t wc[10] = {5, 9, 8, 0, 9, 6, 9, 9, 3, 5};
    assert_memory_equal(c, wc, 10);
    OK(lstar_array_from_h5(f, "obs/bulk_labels/categories", &cats, E));
    OK(lstar_array_read_strings(cats, 0, 10, &lab, E));
    assert_item(&lab, 0, "CD4+/CD25 T Reg");
    assert_item(&lab, 9, "Dendritic");
    lstar_strings_destroy(&lab);
    lstar_array_free(codes);
    lstar_array_free(cats);

    /* rank_genes_groups/names: compound with vlen-string members. */
    lstar_h5_dataset *d = NULL;
    lstar_h5_member *m = NULL;
    OK(lstar_h5_dataset_open(f, "uns/rank_genes_groups/names", &d, E));
    OK(lstar_h5_dataset_members(d, &m, &n, E));
    assert_int_equal(n, 10);
    assert_string_equal(m[0].name, "CD4+/CD25 T Reg");
    assert_int_equal(m[0].kind, LSTAR_H5_TYPE_VLEN_STRING);
    lstar_free(m);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
}

/* ---- v0.5.0: compound obs, h5sparse raw.X, fixed strings ------------------------------ */

static void test_v050_legacy(void **state) {
    (void)state;
    lt_need(V050);
    lstar_h5_file *f = open_ro(V050);
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_open(f, "obs", &d, E));
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->kind, LSTAR_H5_TYPE_COMPOUND);
    assert_int_equal(di->dtype, LSTAR_DTYPE_STRUCT);
    assert_int_equal(di->nmembers, 9);
    assert_int_equal(di->chunks[0], 175);
    free(di);
    lstar_h5_member *m = NULL;
    size_t n = 0;
    OK(lstar_h5_dataset_members(d, &m, &n, E));
    assert_int_equal(n, 9);
    const char *names[9] = {"index", "bulk_labels", "n_genes", "percent_mito", "n_counts",
                            "S_score", "G2M_score", "phase", "louvain"};
    for (size_t i = 0; i < 9; i++) assert_string_equal(m[i].name, names[i]);
    assert_int_equal(m[0].kind, LSTAR_H5_TYPE_FIXED_STRING);
    assert_int_equal(m[0].itemsize, 16);
    assert_int_equal(m[1].dtype, LSTAR_DTYPE_INT8);
    assert_int_equal(m[2].dtype, LSTAR_DTYPE_INT64);
    assert_int_equal(m[3].dtype, LSTAR_DTYPE_FLOAT32);
    lstar_free(m);
    lstar_h5_dataset_close(d);

    lstar_error e1;
    lstar_error_clear(&e1);
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_from_h5(f, "obs", &a, &e1), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(e1.where, "/obs");
    lstar_error_clear(&e1);
    assert_int_equal(lstar_array_from_h5_member(f, "obs", "nope", &a, &e1), LSTAR_ERR_NOT_FOUND);

    lstar_array *idx = NULL, *ng = NULL, *pm = NULL;
    OK(lstar_array_from_h5_member(f, "obs", "index", &idx, E));
    assert_int_equal(lstar_array_dtype(idx), LSTAR_DTYPE_STRING);
    lstar_strings s;
    OK(lstar_array_read_strings(idx, 0, 3, &s, E));
    assert_item(&s, 0, "AAAGCCTGGCTAAC-1");
    assert_item(&s, 2, "AACACGTGGTCTTT-1");
    lstar_strings_destroy(&s);
    OK(lstar_array_read_strings(idx, 699, 1, &s, E));
    assert_int_equal(s.n, 1);
    lstar_strings_destroy(&s);
    OK(lstar_array_from_h5_member(f, "obs", "n_genes", &ng, E));
    assert_int_equal(lstar_array_dtype(ng), LSTAR_DTYPE_INT64);
    int64_t *v = malloc(700 * 8);
    uint64_t z = 0, cnt = 700;
    OK(lstar_array_read(ng, &z, &cnt, v, E));
    int64_t tot = 0;
    for (int i = 0; i < 700; i++) tot += v[i];
    assert_int_equal(tot, 830061); /* h5py: obs['n_genes'].sum() */
    assert_int_equal(v[0], 1003);
    assert_int_equal(v[2], 1228);
    free(v);
    OK(lstar_array_from_h5_member(f, "obs", "percent_mito", &pm, E));
    float p3[3];
    uint64_t three = 3;
    OK(lstar_array_read(pm, &z, &three, p3, E));
    assert_true(fabsf(p3[0] - 0.02385608f) < 1e-7f);
    assert_true(fabsf(p3[2] - 0.01681912f) < 1e-7f);
    lstar_array_free(idx);
    lstar_array_free(ng);
    lstar_array_free(pm);

    /* h5sparse attributes on raw.X: vlen UTF-8 string and int64[2]. */
    char *fmt = attr_str(f, "raw.X", "h5sparse_format");
    assert_string_equal(fmt, "csr");
    lstar_free(fmt);
    int64_t *sh = NULL;
    OK(lstar_h5_attr_read_i64(f, "raw.X", "h5sparse_shape", &sh, &n, E));
    assert_int_equal(n, 2);
    assert_int_equal(sh[0], 700);
    assert_int_equal(sh[1], 765);
    lstar_free(sh);
    lstar_array *rd = NULL;
    OK(lstar_array_from_h5(f, "raw.X/data", &rd, E));
    assert_int_equal(lstar_array_shape(rd)[0], 174400);
    lstar_array_free(rd);

    /* Fixed-length strings |S28 in uns. */
    lstar_array *cats = NULL;
    OK(lstar_array_from_h5(f, "uns/bulk_labels_categories", &cats, E));
    assert_int_equal(lstar_array_dtype(cats), LSTAR_DTYPE_STRING);
    OK(lstar_array_read_strings(cats, 0, 3, &s, E));
    assert_item(&s, 0, "CD4+/CD25 T Reg");
    assert_item(&s, 1, "CD4+/CD45RA+/CD25- Naive T");
    assert_item(&s, 2, "CD4+/CD45RO+ Memory");
    lstar_strings_destroy(&s);
    lstar_array_free(cats);
    lstar_h5_close(f);
}

/* ---- v0.7.0: LZF, object-reference categories ---------------------------------------- */

static void test_v070_lzf_refs(void **state) {
    (void)state;
    lt_need(V070);
    lstar_h5_file *f = open_ro(V070);
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_open(f, "X/data", &d, E));
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->nfilters, 1);
    assert_int_equal(di->filters[0].id, 32000);
    assert_string_equal(di->filters[0].name, "lzf");
    assert_int_equal(di->filters[0].available, 1);
    free(di);
    lstar_h5_dataset_close(d);

    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "X/data", &a, E));
    void *buf = NULL;
    size_t nb;
    OK(lstar_array_read_all(a, 0, &buf, &nb, E));
    assert_int_equal(nb, 228 * 4);
    assert_true(sum_f32(buf, 228) == 285.0); /* h5py: X/data[:].sum() */
    lstar_free(buf);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "layers/array", &a, E));
    OK(lstar_array_read_all(a, 0, &buf, &nb, E));
    double t = 0;
    for (size_t i = 0; i < 600; i++) t += ((double *)buf)[i];
    assert_true(fabs(t - 302.83045121571445) < 1e-9);
    lstar_free(buf);
    lstar_array_free(a);

    char *target = NULL;
    OK(lstar_h5_attr_read_ref(f, "obs/obs_cat", "categories", &target, E));
    assert_string_equal(target, "/obs/__categories/obs_cat");
    lstar_free(target);
    OK(lstar_h5_attr_read_ref(f, "raw/var/var_cat", "categories", &target, E));
    assert_string_equal(target, "/raw/var/__categories/var_cat");
    lstar_free(target);
    lstar_h5_attr_info ai;
    OK(lstar_h5_attr_get_info(f, "obs/obs_cat", "categories", &ai, E));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_REFERENCE);
    int ord = -1;
    OK(lstar_h5_attr_read_bool(f, "obs/__categories/cat_ordered", "ordered", &ord, E));
    assert_int_equal(ord, 1);

    lstar_strings s;
    OK(lstar_array_from_h5(f, "obs/__categories/obs_cat", &a, E));
    OK(lstar_array_read_strings(a, 0, 3, &s, E));
    assert_item(&s, 0, "B");
    assert_item(&s, 1, "D");
    assert_item(&s, 2, "E");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "obs/uint8", &a, E));
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_UINT8);
    assert_int_equal(lstar_array_get_info(a)->block[0], 30); /* contiguous: whole rows */
    uint8_t u[3];
    uint64_t z = 0, three = 3;
    OK(lstar_array_read(a, &z, &three, u, E));
    assert_int_equal(u[0], 226);
    assert_int_equal(u[1], 69);
    assert_int_equal(u[2], 251);
    lstar_array_free(a);

    /* Contiguous dataset: file offset + size. */
    OK(lstar_h5_dataset_open(f, "obs/int64", &d, E));
    di = malloc(sizeof *di);
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->layout, LSTAR_H5_LAYOUT_CONTIGUOUS);
    assert_int_equal(di->storage_size, 240);
    assert_true(di->offset != UINT64_MAX && di->offset > 0);
    free(di);
    lstar_h5_dataset_close(d);

    /* uns/O_recarray: compound of vlen strings, member read through LZF. */
    OK(lstar_array_from_h5_member(f, "uns/O_recarray", "idCmW", &a, E));
    OK(lstar_array_read_strings(a, 0, 2, &s, E));
    assert_item(&s, 0, "IRRZ");
    assert_item(&s, 1, "RGe");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    lstar_h5_close(f);
}

/* ---- anndataR example.h5ad: nullable groups, bools, empty column-order ------------------- */

static void test_example_encodings(void **state) {
    (void)state;
    lt_need(EXAMPLE);
    lstar_h5_file *f = open_ro(EXAMPLE);
    char *s = attr_str(f, "obs/IntNA", "encoding-type");
    assert_string_equal(s, "nullable-integer");
    lstar_free(s);
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "obs/Bool/values", &a, E));
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_BOOL);
    uint8_t b[50];
    uint64_t z = 0, n50 = 50;
    OK(lstar_array_read(a, &z, &n50, b, E));
    int tot = 0;
    for (int i = 0; i < 50; i++) {
        assert_true(b[i] <= 1);
        tot += b[i];
    }
    assert_int_equal(tot, 49);
    assert_int_equal(b[0], 0);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "obs/IntNA/mask", &a, E));
    OK(lstar_array_read(a, &z, &n50, b, E));
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0);
    lstar_array_free(a);
    int64_t iv[3];
    OK(lstar_array_from_h5(f, "uns/IntNA/values", &a, E));
    uint64_t three = 3;
    OK(lstar_array_read(a, &z, &three, iv, E));
    assert_int_equal(iv[0], 1);
    assert_int_equal(iv[1], 2);
    assert_int_equal(iv[2], 0);
    lstar_array_free(a);

    /* Empty column-order: a float64 array of length 0 → 0 strings. */
    lstar_h5_attr_info ai;
    OK(lstar_h5_attr_get_info(f, "uns/DataFrameEmpty", "column-order", &ai, E));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_FLOAT);
    assert_int_equal(ai.rank, 1);
    assert_int_equal(ai.nelems, 0);
    lstar_strings co;
    OK(lstar_h5_attr_read_strings(f, "uns/DataFrameEmpty", "column-order", &co, E));
    assert_int_equal(co.n, 0);
    lstar_strings_destroy(&co);
    int ord = -1;
    OK(lstar_h5_attr_read_bool(f, "obs/leiden", "ordered", &ord, E));
    assert_int_equal(ord, 0);

    /* Scalars: numeric-scalar int64, bool, float64; string scalar. */
    OK(lstar_array_from_h5(f, "uns/IntScalar", &a, E));
    assert_int_equal(lstar_array_rank(a), 0);
    int64_t one = 0;
    OK(lstar_array_read(a, NULL, NULL, &one, E));
    assert_int_equal(one, 1);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "uns/pca/params/zero_center", &a, E));
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_BOOL);
    uint8_t zc = 7;
    OK(lstar_array_read(a, NULL, NULL, &zc, E));
    assert_int_equal(zc, 1);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "uns/umap/params/a", &a, E));
    double av = 0;
    OK(lstar_array_read(a, NULL, NULL, &av, E));
    assert_true(av == 0.5830300205483709);
    lstar_array_free(a);
    lstar_strings ss;
    OK(lstar_array_from_h5(f, "uns/StringScalar", &a, E));
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_STRING);
    assert_int_equal(lstar_array_rank(a), 0);
    OK(lstar_array_read_strings(a, 0, 1, &ss, E));
    assert_item(&ss, 0, "A string");
    lstar_strings_destroy(&ss);
    lstar_array_free(a);

    /* 2-D string array read flattened across a row boundary. */
    OK(lstar_array_from_h5(f, "uns/String2D", &a, E));
    assert_int_equal(lstar_array_rank(a), 2);
    OK(lstar_array_read_strings(a, 8, 5, &ss, E));
    assert_int_equal(ss.n, 5);
    assert_item(&ss, 0, "row8col0");
    assert_item(&ss, 1, "row9col0");
    assert_item(&ss, 2, "row0col1");
    assert_item(&ss, 4, "row2col1");
    lstar_strings_destroy(&ss);
    OK(lstar_array_read_strings(a, 0, 50, &ss, E));
    assert_item(&ss, 49, "row9col4");
    lstar_strings_destroy(&ss);
    lstar_array_free(a);

    /* rec-array of vlen strings / of float32, read by member. */
    OK(lstar_array_from_h5_member(f, "uns/rank_genes_groups/names", "3", &a, E));
    OK(lstar_array_read_strings(a, 0, 3, &ss, E));
    assert_item(&ss, 0, "Gene076");
    assert_item(&ss, 2, "Gene051");
    lstar_strings_destroy(&ss);
    lstar_array_free(a);
    OK(lstar_array_from_h5_member(f, "uns/rank_genes_groups/scores", "3", &a, E));
    float sc[100];
    uint64_t n100 = 100;
    OK(lstar_array_read(a, &z, &n100, sc, E));
    assert_true(fabs(sum_f32(sc, 100) - 13.899555771611631) < 1e-5);
    lstar_array_free(a);

    /* 2-D chunks (25, 50): region across all four inner chunk corners. */
    OK(lstar_array_from_h5(f, "varp/test_varp", &a, E));
    assert_int_equal(lstar_array_get_info(a)->block[0], 25);
    assert_int_equal(lstar_array_get_info(a)->block[1], 50);
    double w[4];
    uint64_t st[2] = {24, 49}, ct[2] = {2, 2};
    OK(lstar_array_read(a, st, ct, w, E));
    assert_true(fabs(w[0] - 0.16614987) < 1e-8);
    assert_true(fabs(w[1] - 0.58073191) < 1e-8);
    assert_true(fabs(w[2] - 0.26649478) < 1e-8);
    assert_true(fabs(w[3] - 0.72014507) < 1e-8);
    lstar_array_free(a);
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_open(f, "varp/test_varp", &d, E));
    uint64_t nch = 0;
    OK(lstar_h5_dataset_num_chunks(d, &nch, E));
    assert_int_equal(nch, 8);
    lstar_h5_chunk_info ci;
    uint64_t off[2] = {25, 50};
    OK(lstar_h5_dataset_chunk_info_at(d, off, &ci, E));
    assert_int_equal(ci.addr, 195483); /* h5py get_chunk_info: (25, 50) 0 195483 9411 */
    assert_int_equal(ci.size, 9411);
    lstar_h5_dataset_close(d);
    lstar_h5_close(f);
}

/* ---- h5mu with a 512-byte userblock; nan.h5ad ---------------------------------------------- */

static void test_h5mu_userblock(void **state) {
    (void)state;
    lt_need(H5MU);
    lstar_h5_file *f = open_ro(H5MU);
    assert_int_equal(lstar_h5_userblock(f), 512);
    char *s = attr_str(f, "/", "encoding-type");
    assert_string_equal(s, "MuData");
    lstar_free(s);
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "mod/mod1/X", &a, E));
    void *buf = NULL;
    size_t nb;
    OK(lstar_array_read_all(a, 0, &buf, &nb, E));
    assert_true(fabs(sum_f32(buf, 2000) - 199900.00349935144) < 1e-6);
    lstar_free(buf);
    lstar_array_free(a);
    lstar_h5_node_type nt;
    OK(lstar_h5_node_type_at(f, "obs/_index", &nt, E));
    assert_int_equal(nt, LSTAR_H5_NODE_GROUP);
    OK(lstar_array_from_h5(f, "obs/_index/values", &a, E));
    lstar_strings ss;
    OK(lstar_array_read_strings(a, 0, 3, &ss, E));
    assert_item(&ss, 2, "obs_2");
    lstar_strings_destroy(&ss);
    lstar_array_free(a);
    lstar_h5_close(f);
}

static void test_nan_values(void **state) {
    (void)state;
    lt_need(NANF);
    lstar_h5_file *f = open_ro(NANF);
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "X", &a, E));
    assert_int_equal(lstar_array_get_info(a)->block[0], 50);
    void *buf = NULL;
    size_t nb;
    OK(lstar_array_read_all(a, 0, &buf, &nb, E));
    const float *x = buf;
    int nans = 0;
    double s = 0;
    for (int i = 0; i < 10000; i++) {
        if (isnan(x[i]))
            nans++;
        else
            s += x[i];
    }
    assert_int_equal(nans, 2556); /* h5py: np.isnan(X).sum() */
    assert_true(fabs(s - -108.55404550361709) < 1e-6);
    assert_true(isnan(x[5]) && isnan(x[6]) && !isnan(x[0]));
    lstar_free(buf);
    lstar_array_free(a);
    OK(lstar_array_from_h5_member(f, "obs", "percent_mito", &a, E));
    float pm[100];
    uint64_t z = 0, n = 100;
    OK(lstar_array_read(a, &z, &n, pm, E));
    nans = 0;
    for (int i = 0; i < 100; i++) nans += isnan(pm[i]) != 0;
    assert_int_equal(nans, 20);
    lstar_array_free(a);
    lstar_h5_close(f);
}

/* ---- round trips ------------------------------------------------------------------------------ */

static void test_roundtrip_attrs_groups(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_attrs.h5";
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, E));
    lstar_error e1;
    lstar_error_clear(&e1);
    lstar_h5_file *f2 = NULL;
    assert_int_equal(lstar_h5_open(path, LSTAR_H5_CREATE, &f2, &e1), LSTAR_ERR_EXISTS);
    OK(lstar_h5_create_group(f, "obs", 0, E));
    OK(lstar_h5_create_group(f, "ordered", LSTAR_H5_TRACK_ORDER, E));
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_create_group(f, "obs", 0, &e1), LSTAR_ERR_EXISTS);
    const char *kids[3] = {"zeta", "alpha", "mid"};
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "ordered/%s", kids[i]);
        OK(lstar_h5_create_group(f, p, 0, E));
        snprintf(p, sizeof p, "obs/%s", kids[i]);
        OK(lstar_h5_create_group(f, p, 0, E));
    }
    OK(lstar_h5_attr_write_string(f, "/", "encoding-type", "anndata", E));
    OK(lstar_h5_attr_write_string(f, "/", "encoding-version", "0.1.0", E));
    OK(lstar_h5_attr_write_string(f, "obs", "_index", "ünïcode", E));
    lstar_strings co;
    const char *cols[3] = {"a", "bb", ""};
    OK(lstar_strings_from_cstrs(&co, cols, 3, E));
    OK(lstar_h5_attr_write_strings(f, "obs", "column-order", &co, E));
    lstar_strings_destroy(&co);
    OK(lstar_strings_init(&co, E));
    OK(lstar_h5_attr_write_strings(f, "ordered", "column-order", &co, E));
    lstar_strings_destroy(&co);
    int64_t shape[2] = {700, 765};
    OK(lstar_h5_attr_write_i64(f, "obs", "shape", shape, 2, 1, E));
    int64_t len = 42;
    OK(lstar_h5_attr_write_i64(f, "obs", "length", &len, 1, 0, E));
    double fv[2] = {0.5, -1.25};
    OK(lstar_h5_attr_write_f64(f, "obs", "floats", fv, 2, 1, E));
    OK(lstar_h5_attr_write_bool(f, "obs", "ordered", 1, E));
    OK(lstar_h5_attr_write_bool(f, "obs", "ordered", 0, E)); /* replaces */
    OK(lstar_h5_attr_write_string(f, "obs", "tmp", "x", E));
    OK(lstar_h5_attr_delete(f, "obs", "tmp", E));
    OK(lstar_h5_create_group(f, "gone", 0, E));
    OK(lstar_h5_delete(f, "gone", E));
    lstar_h5_node_type nt;
    OK(lstar_h5_node_type_at(f, "gone", &nt, E));
    assert_int_equal(nt, LSTAR_H5_NODE_NONE);
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_delete(f, "gone", &e1), LSTAR_ERR_NOT_FOUND);
    lstar_h5_close(f);
    /* newest file format */
    OK(lstar_h5_open(LSTAR_TEST_TMP "/h5_latest.h5", LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE | LSTAR_H5_LIBVER_LATEST, &f, E));
    OK(lstar_h5_attr_write_bool(f, "/", "flag", 1, E));
    lstar_h5_close(f);
    f = open_ro(LSTAR_TEST_TMP "/h5_latest.h5");
    int fl = 0;
    OK(lstar_h5_attr_read_bool(f, "/", "flag", &fl, E));
    assert_int_equal(fl, 1);
    lstar_h5_close(f);

    f = open_ro(path);
    char *s = attr_str(f, "/", "encoding-type");
    assert_string_equal(s, "anndata");
    lstar_free(s);
    s = attr_str(f, "/obs", "_index");
    assert_string_equal(s, "ünïcode");
    lstar_free(s);
    OK(lstar_h5_attr_read_strings(f, "obs", "column-order", &co, E));
    assert_int_equal(co.n, 3);
    assert_item(&co, 1, "bb");
    assert_item(&co, 2, "");
    lstar_strings_destroy(&co);
    lstar_h5_attr_info ai;
    OK(lstar_h5_attr_get_info(f, "ordered", "column-order", &ai, E));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_FLOAT); /* h5py's [] */
    assert_int_equal(ai.nelems, 0);
    OK(lstar_h5_attr_read_strings(f, "ordered", "column-order", &co, E));
    assert_int_equal(co.n, 0);
    lstar_strings_destroy(&co);
    int64_t *iv = NULL;
    size_t n = 0;
    OK(lstar_h5_attr_read_i64(f, "obs", "shape", &iv, &n, E));
    assert_int_equal(n, 2);
    assert_int_equal(iv[1], 765);
    lstar_free(iv);
    OK(lstar_h5_attr_get_info(f, "obs", "length", &ai, E));
    assert_int_equal(ai.rank, 0);
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_INTEGER);
    assert_int_equal(ai.is_signed, 1);
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_attr_read_i64(f, "obs", "floats", &iv, &n, &e1), LSTAR_ERR_FORMAT);
    assert_null(iv);
    double *dv = NULL;
    OK(lstar_h5_attr_read_f64(f, "obs", "floats", &dv, &n, E));
    assert_true(dv[0] == 0.5 && dv[1] == -1.25);
    lstar_free(dv);
    OK(lstar_h5_attr_read_f64(f, "obs", "shape", &dv, &n, E));
    assert_true(dv[0] == 700.0);
    lstar_free(dv);
    int b = -1;
    OK(lstar_h5_attr_read_bool(f, "obs", "ordered", &b, E));
    assert_int_equal(b, 0);
    OK(lstar_h5_attr_get_info(f, "obs", "ordered", &ai, E));
    assert_int_equal(ai.cls, LSTAR_H5_ATTR_BOOL);
    int ex = 1;
    OK(lstar_h5_attr_exists(f, "obs", "tmp", &ex, E));
    assert_int_equal(ex, 0);
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_attr_read_string(f, "obs", "tmp", &s, &e1), LSTAR_ERR_NOT_FOUND);
    assert_string_equal(e1.where, "/obs");
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_attr_read_string(f, "obs", "shape", &s, &e1), LSTAR_ERR_FORMAT);
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_attr_read_string(f, "missing/group", "x", &s, &e1), LSTAR_ERR_NOT_FOUND);

    lstar_strings k;
    OK(lstar_h5_list_children(f, "ordered", &k, E));
    assert_int_equal(k.n, 3);
    assert_item(&k, 0, "zeta"); /* creation order */
    assert_item(&k, 1, "alpha");
    assert_item(&k, 2, "mid");
    lstar_strings_destroy(&k);
    OK(lstar_h5_list_children(f, "obs", &k, E));
    assert_item(&k, 0, "alpha"); /* name order */
    assert_item(&k, 2, "zeta");
    lstar_strings_destroy(&k);
    OK(lstar_h5_attr_names(f, "obs", &k, E));
    assert_int_equal(k.n, 6);
    lstar_strings_destroy(&k);
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_create_group(f, "new", 0, &e1), LSTAR_ERR_READONLY);
    lstar_h5_close(f);
}

static void test_roundtrip_datasets(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_datasets.h5";
    lstar_h5_file *f = NULL;
    OK(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, E));

    /* chunked + shuffle + deflate float64 100x30, chunks 16x8 */
    lstar_h5_filter fl[2];
    memset(fl, 0, sizeof fl);
    fl[0].id = 2;
    fl[0].flags = LSTAR_H5_FILTER_OPTIONAL;
    fl[1].id = 1;
    fl[1].flags = LSTAR_H5_FILTER_OPTIONAL;
    fl[1].ncd = 1;
    fl[1].cd[0] = 6;
    lstar_h5_dataset_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT64;
    sp.rank = 2;
    sp.shape[0] = 100;
    sp.shape[1] = 30;
    sp.chunks[0] = 16;
    sp.chunks[1] = 8;
    sp.nfilters = 2;
    sp.filters = fl;
    lstar_h5_dataset *d = NULL;
    OK(lstar_h5_dataset_create(f, "dense", &sp, &d, E));
    double *v = malloc(3000 * sizeof *v);
    for (int i = 0; i < 3000; i++) v[i] = i * 0.5 - 7;
    uint64_t z2[2] = {0, 0};
    OK(lstar_h5_dataset_write(d, z2, sp.shape, v, E));
    uint64_t nch = 0;
    OK(lstar_h5_dataset_num_chunks(d, &nch, E));
    assert_int_equal(nch, 7 * 4);
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->nfilters, 2);
    assert_int_equal(di->filters[0].id, 2);
    assert_int_equal(di->filters[1].id, 1);
    assert_int_equal(di->filters[1].cd[0], 6);
    assert_int_equal(di->chunks[1], 8);

    /* raw-copy every chunk into a twin dataset, then read it normally */
    lstar_h5_dataset *twin = NULL;
    OK(lstar_h5_dataset_create(f, "twin", &sp, &twin, E));
    uint8_t *raw = malloc(16 * 8 * 8 + 64);
    for (uint64_t i = 0; i < nch; i++) {
        lstar_h5_chunk_info ci;
        OK(lstar_h5_dataset_chunk_info(d, i, &ci, E));
        size_t got = 0;
        unsigned mask = 0;
        OK(lstar_h5_dataset_read_chunk(d, ci.offset, raw, 16 * 8 * 8 + 64, &got, &mask, E));
        assert_int_equal(got, ci.size);
        OK(lstar_h5_dataset_write_chunk(twin, ci.offset, mask, raw, got, E));
    }
    free(raw);
    lstar_h5_dataset_close(twin);
    lstar_h5_dataset_close(d);
    free(di);

    /* vlen string dataset (chunked, resizable) and a scalar string */
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_STRING;
    sp.rank = 1;
    sp.shape[0] = 5;
    sp.maxshape[0] = UINT64_MAX;
    sp.chunks[0] = 2;
    OK(lstar_h5_dataset_create(f, "labels", &sp, &d, E));
    lstar_strings s;
    const char *items[5] = {"cell-0", "", "ζ-utf8", "a longer label here", "x"};
    OK(lstar_strings_from_cstrs(&s, items, 5, E));
    OK(lstar_h5_dataset_write_strings(d, 0, &s, E));
    lstar_strings_destroy(&s);
    uint64_t seven = 7;
    OK(lstar_h5_dataset_resize(d, &seven, E));
    const char *more[2] = {"six", "seven"};
    OK(lstar_strings_from_cstrs(&s, more, 2, E));
    OK(lstar_h5_dataset_write_strings(d, 5, &s, E));
    lstar_strings_destroy(&s);
    lstar_h5_dataset_close(d);
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_STRING;
    OK(lstar_h5_dataset_create(f, "scalar_str", &sp, &d, E));
    const char *one[1] = {"A string"};
    OK(lstar_strings_from_cstrs(&s, one, 1, E));
    OK(lstar_h5_dataset_write_strings(d, 0, &s, E));
    lstar_strings_destroy(&s);
    lstar_h5_dataset_close(d);
    OK(lstar_h5_attr_write_string(f, "scalar_str", "encoding-type", "string", E));
    /* numeric scalar; bool array; fixed bytes; contiguous int32 */
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT64;
    OK(lstar_h5_dataset_create(f, "scalar_i64", &sp, &d, E));
    int64_t sv = -123456789012LL;
    OK(lstar_h5_dataset_write(d, NULL, NULL, &sv, E));
    lstar_h5_dataset_close(d);
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_BOOL;
    sp.rank = 1;
    sp.shape[0] = 4;
    OK(lstar_h5_dataset_create(f, "mask", &sp, &d, E));
    uint8_t bv[4] = {1, 0, 0, 1};
    uint64_t z1 = 0;
    OK(lstar_h5_dataset_write(d, &z1, sp.shape, bv, E));
    lstar_h5_dataset_close(d);
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FIXED_BYTES;
    sp.itemsize = 6;
    sp.rank = 1;
    sp.shape[0] = 2;
    OK(lstar_h5_dataset_create(f, "fixed", &sp, &d, E));
    const char *fx[2] = {"abc", "sixsix"};
    OK(lstar_strings_from_cstrs(&s, fx, 2, E));
    OK(lstar_h5_dataset_write_strings(d, 0, &s, E));
    lstar_strings_destroy(&s);
    lstar_h5_dataset_close(d);
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_INT32;
    sp.rank = 1;
    sp.shape[0] = 3000000;
    sp.fill_set = 1;
    sp.fill_value = -7;
    OK(lstar_h5_dataset_create(f, "contig", &sp, &d, E));
    lstar_h5_dataset_close(d);
    lstar_error e1;
    lstar_error_clear(&e1);
    assert_int_equal(lstar_h5_dataset_create(f, "contig", &sp, NULL, &e1), LSTAR_ERR_EXISTS);
    lstar_h5_close(f);

    /* read back */
    f = open_ro(path);
    lstar_array *a = NULL, *b = NULL;
    OK(lstar_array_from_h5(f, "dense", &a, E));
    OK(lstar_array_from_h5(f, "twin", &b, E));
    double *r1 = malloc(3000 * 8), *r2 = malloc(3000 * 8);
    uint64_t st[2] = {0, 0}, ct[2] = {100, 30};
    OK(lstar_array_read(a, st, ct, r1, E));
    OK(lstar_array_read(b, st, ct, r2, E));
    assert_memory_equal(r1, v, 3000 * 8);
    assert_memory_equal(r2, v, 3000 * 8);
    /* rows 15..33, cols 7..17: crosses chunk rows 16 and 32, chunk cols 8 and 16 */
    uint64_t st2[2] = {15, 7}, ct2[2] = {19, 11};
    OK(lstar_array_read(a, st2, ct2, r1, E));
    for (uint64_t i = 0; i < 19; i++)
        for (uint64_t j = 0; j < 11; j++) assert_true(r1[i * 11 + j] == v[(15 + i) * 30 + 7 + j]);
    free(r1);
    free(r2);
    lstar_array_free(a);
    lstar_array_free(b);
    free(v);

    OK(lstar_array_from_h5(f, "labels", &a, E));
    assert_int_equal(lstar_array_shape(a)[0], 7);
    OK(lstar_array_read_strings(a, 1, 6, &s, E));
    assert_item(&s, 0, "");
    assert_item(&s, 1, "ζ-utf8");
    assert_item(&s, 2, "a longer label here");
    assert_item(&s, 5, "seven");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    char *es = attr_str(f, "scalar_str", "encoding-type");
    assert_string_equal(es, "string");
    lstar_free(es);
    OK(lstar_array_from_h5(f, "scalar_str", &a, E));
    OK(lstar_array_read_strings(a, 0, 1, &s, E));
    assert_item(&s, 0, "A string");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "scalar_i64", &a, E));
    int64_t got = 0;
    OK(lstar_array_read(a, NULL, NULL, &got, E));
    assert_int_equal(got, -123456789012LL);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "mask", &a, E));
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_BOOL);
    uint8_t bb[4];
    uint64_t z1b = 0, four = 4;
    OK(lstar_array_read(a, &z1b, &four, bb, E));
    assert_memory_equal(bb, bv, 4);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "fixed", &a, E));
    OK(lstar_array_read_strings(a, 0, 2, &s, E));
    assert_item(&s, 0, "abc");
    assert_item(&s, 1, "sixsix");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "contig", &a, E));
    /* contiguous: a row block of LSTAR_DEFAULT_STREAM_CHUNK_ELEMS */
    assert_int_equal(lstar_array_get_info(a)->block[0], LSTAR_DEFAULT_STREAM_CHUNK_ELEMS);
    int32_t fillv[2];
    uint64_t at = 2999998, two = 2;
    OK(lstar_array_read(a, &at, &two, fillv, E));
    assert_int_equal(fillv[0], -7);
    assert_int_equal(fillv[1], -7);
    lstar_array_free(a);
    lstar_h5_close(f);
}

/* Big-endian numbers and space-padded fixed strings, written with the HDF5 C API. */
static void test_big_endian_and_spacepad(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_be.h5";
    hid_t fid = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(fid >= 0);
    hsize_t dims[2] = {3, 4};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t did = H5Dcreate2(fid, "be_i32", H5T_STD_I32BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int32_t iv[12];
    for (int i = 0; i < 12; i++) iv[i] = i * 1000 - 5000;
    assert_true(H5Dwrite(did, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, iv) >= 0);
    H5Dclose(did);
    did = H5Dcreate2(fid, "be_f64", H5T_IEEE_F64BE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double dv[12];
    for (int i = 0; i < 12; i++) dv[i] = i / 3.0;
    assert_true(H5Dwrite(did, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv) >= 0);
    H5Dclose(did);
    H5Sclose(sp);
    hsize_t n3 = 3;
    sp = H5Screate_simple(1, &n3, NULL);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 5);
    H5Tset_strpad(st, H5T_STR_SPACEPAD);
    did = H5Dcreate2(fid, "spaced", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(did, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "ab   a b  abcde") >= 0);
    H5Dclose(did);
    H5Tset_strpad(st, H5T_STR_NULLTERM);
    did = H5Dcreate2(fid, "nullterm", st, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(did, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "ab\0xyabcd\0\0\0\0\0\0") >= 0);
    H5Dclose(did);
    H5Tclose(st);
    H5Sclose(sp);
    H5Fclose(fid);

    lstar_h5_file *f = open_ro(path);
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *di = malloc(sizeof *di);
    OK(lstar_h5_dataset_open(f, "be_i32", &d, E));
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->big_endian, 1);
    assert_int_equal(di->dtype, LSTAR_DTYPE_INT32);
    lstar_h5_dataset_close(d);
    OK(lstar_h5_dataset_open(f, "spaced", &d, E));
    OK(lstar_h5_dataset_get_info(d, di, E));
    assert_int_equal(di->kind, LSTAR_H5_TYPE_FIXED_STRING);
    assert_int_equal(di->str_pad, 2);
    assert_int_equal(di->itemsize, 5);
    lstar_h5_dataset_close(d);
    free(di);
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "be_i32", &a, E));
    int32_t r[4];
    uint64_t s0[2] = {1, 0}, c0[2] = {1, 4};
    OK(lstar_array_read(a, s0, c0, r, E));
    assert_int_equal(r[0], -1000);
    assert_int_equal(r[3], 2000);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "be_f64", &a, E));
    double rd[2];
    uint64_t s1[2] = {2, 2}, c1[2] = {1, 2};
    OK(lstar_array_read(a, s1, c1, rd, E));
    assert_true(rd[0] == 10 / 3.0 && rd[1] == 11 / 3.0);
    /* contiguous, 4 elements per row: the whole 3 rows in one block */
    assert_int_equal(lstar_array_get_info(a)->block[0], 3);
    assert_int_equal(lstar_array_get_info(a)->block[1], 4);
    lstar_array_free(a);
    lstar_strings s;
    OK(lstar_array_from_h5(f, "spaced", &a, E));
    OK(lstar_array_read_strings(a, 0, 3, &s, E));
    assert_item(&s, 0, "ab");
    assert_item(&s, 1, "a b");
    assert_item(&s, 2, "abcde");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    OK(lstar_array_from_h5(f, "nullterm", &a, E));
    OK(lstar_array_read_strings(a, 0, 3, &s, E));
    assert_item(&s, 0, "ab");
    assert_item(&s, 1, "abcd");
    assert_item(&s, 2, "");
    lstar_strings_destroy(&s);
    lstar_array_free(a);
    lstar_h5_close(f);
}

static void test_userblock_create(void **state) {
    (void)state;
    const char *path = LSTAR_TEST_TMP "/h5_ub.h5mu";
    lstar_h5_file *f = NULL;
    lstar_h5_open_opts o = {.userblock = 512};
    OK(lstar_h5_open_with(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &o, &f, E));
    OK(lstar_h5_attr_write_string(f, "/", "encoding-type", "MuData", E));
    OK(lstar_h5_flush(f, E));
    lstar_h5_close(f);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fputs("MuData (format-version=0.1.0)", fp);
    fclose(fp);
    f = open_ro(path);
    assert_int_equal(lstar_h5_userblock(f), 512);
    char *s = attr_str(f, "/", "encoding-type");
    assert_string_equal(s, "MuData");
    lstar_free(s);
    lstar_h5_close(f);
    /* write mode reopen */
    OK(lstar_h5_open(path, LSTAR_H5_WRITE, &f, E));
    OK(lstar_h5_create_group(f, "mod", 0, E));
    lstar_h5_close(f);
}

/* Two threads read the same array concurrently; HDF5 work serialises on the lock. */
typedef struct thr_arg {
    lstar_array *a;
    double sum;
    int ok;
} thr_arg;

static void *reader(void *p) {
    thr_arg *t = p;
    float *rows = malloc(44 * 765 * 4);
    t->ok = 1;
    t->sum = 0;
    for (uint64_t r = 0; r < 700; r += 44) {
        uint64_t st[2] = {r, 0}, ct[2] = {r + 44 <= 700 ? 44 : 700 - r, 765};
        if (lstar_array_read(t->a, st, ct, rows, NULL) != LSTAR_OK) t->ok = 0;
        t->sum += sum_f32(rows, (size_t)(ct[0] * 765));
    }
    free(rows);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    lt_need(PBMC);
    lstar_h5_file *f = open_ro(PBMC);
    lstar_array *a = NULL;
    OK(lstar_array_from_h5(f, "X", &a, E));
    lstar_h5_close(f);
    pthread_t th[3];
    thr_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i].a = a;
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
        assert_true(fabs(args[i].sum - -243.681057988666) < 1e-6);
    }
    lstar_array_free(a);
}

/* Every allocation failure on the open/read path fails cleanly (ASan checks leaks). */
static void test_alloc_failures(void **state) {
    (void)state;
    lt_need(EXAMPLE);
    int completed = 0;
    for (int k = 0; k < 200 && !completed; k++) {
        lt_failing fl;
        lt_failing_start(&fl, k + 1, 0);
        lstar_h5_file *f = NULL;
        lstar_array *a = NULL;
        lstar_strings s, co;
        memset(&s, 0, sizeof s);
        memset(&co, 0, sizeof co);
        char *ref = NULL;
        lstar_status st = lstar_h5_open(EXAMPLE, 0, &f, NULL);
        if (st == LSTAR_OK) st = lstar_array_from_h5(f, "uns/String2D", &a, NULL);
        if (st == LSTAR_OK) st = lstar_array_read_strings(a, 3, 20, &s, NULL);
        if (st == LSTAR_OK) st = lstar_h5_attr_read_strings(f, "obs", "column-order", &co, NULL);
        if (st == LSTAR_OK) st = lstar_h5_attr_read_string(f, "obs", "_index", &ref, NULL);
        if (st == LSTAR_OK) completed = 1;
        else assert_int_equal(st, LSTAR_ERR_NOMEM);
        lstar_free(ref);
        lstar_strings_destroy(&s);
        lstar_strings_destroy(&co);
        lstar_array_free(a);
        lstar_h5_close(f);
        lt_failing_stop();
    }
    assert_true(completed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbmc_dense_x),
        cmocka_unit_test(test_pbmc_sparse_and_obs),
        cmocka_unit_test(test_v050_legacy),
        cmocka_unit_test(test_v070_lzf_refs),
        cmocka_unit_test(test_example_encodings),
        cmocka_unit_test(test_h5mu_userblock),
        cmocka_unit_test(test_nan_values),
        cmocka_unit_test(test_roundtrip_attrs_groups),
        cmocka_unit_test(test_roundtrip_datasets),
        cmocka_unit_test(test_big_endian_and_spacepad),
        cmocka_unit_test(test_userblock_create),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
