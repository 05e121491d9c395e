/* lstar_test_h5 — drive the HDF5 backend from the command line (interop tests).
 *
 *   lstar_test_h5 write-h5ad <path>             write a small AnnData file with lstar/h5.h
 *   lstar_test_h5 dump <path> <dataset>         print a dataset through lstar_array_from_h5
 *   lstar_test_h5 dump-member <path> <dataset> <member>
 *   lstar_test_h5 attr <path> <object> <name> string|strings|i64|f64|bool|ref
 *   lstar_test_h5 children <path> <group>
 *
 * dump prints "dtype rank d0 d1 …" then one value per line (numbers with %.17g,
 * strings verbatim).  Exit status: 0 ok, 1 lstar error (status name and message
 * on stderr), 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/lstar.h"
#include "lstar/h5.h"

static int fail(const lstar_error *e) {
    char buf[2048];
    fprintf(stderr, "%s: %s\n", lstar_status_name(e->status), lstar_error_format(e, buf, sizeof buf));
    return 1;
}

#define TRY(call)                                                                                             \
    do {                                                                                                      \
        if ((call) != LSTAR_OK) return fail(&e);                                                              \
    } while (0)

static lstar_status put_strings(lstar_h5_file *f, const char *path, const char *const *items, size_t n,
                                const char *enc, lstar_error *e) {
    lstar_h5_dataset_spec sp;
    lstar_h5_dataset *d = NULL;
    lstar_strings s;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_STRING;
    sp.rank = 1;
    sp.shape[0] = n;
    lstar_status st = lstar_h5_dataset_create(f, path, &sp, &d, e);
    if (st != LSTAR_OK) return st;
    st = lstar_strings_from_cstrs(&s, items, n, e);
    if (st == LSTAR_OK) st = lstar_h5_dataset_write_strings(d, 0, &s, e);
    lstar_strings_destroy(&s);
    lstar_h5_dataset_close(d);
    if (st == LSTAR_OK && enc) st = lstar_h5_attr_write_string(f, path, "encoding-type", enc, e);
    if (st == LSTAR_OK && enc) st = lstar_h5_attr_write_string(f, path, "encoding-version", "0.2.0", e);
    return st;
}

static lstar_status put_numeric(lstar_h5_file *f, const char *path, lstar_dtype dt, int rank, const uint64_t *shape,
                                const uint64_t *chunks, const lstar_h5_filter *fl, size_t nfl, const void *data,
                                lstar_error *e) {
    lstar_h5_dataset_spec sp;
    lstar_h5_dataset *d = NULL;
    uint64_t zero[LSTAR_MAX_RANK] = {0};
    memset(&sp, 0, sizeof sp);
    sp.dtype = dt;
    sp.rank = rank;
    for (int i = 0; i < rank; i++) {
        sp.shape[i] = shape[i];
        sp.chunks[i] = chunks ? chunks[i] : 0;
    }
    sp.filters = fl;
    sp.nfilters = nfl;
    lstar_status st = lstar_h5_dataset_create(f, path, &sp, &d, e);
    if (st != LSTAR_OK) return st;
    st = lstar_h5_dataset_write(d, zero, shape, data, e);
    lstar_h5_dataset_close(d);
    if (st == LSTAR_OK) st = lstar_h5_attr_write_string(f, path, "encoding-type", "array", e);
    if (st == LSTAR_OK) st = lstar_h5_attr_write_string(f, path, "encoding-version", "0.2.0", e);
    return st;
}

static lstar_status set_enc(lstar_h5_file *f, const char *path, const char *type, const char *ver, lstar_error *e) {
    lstar_status st = lstar_h5_attr_write_string(f, path, "encoding-type", type, e);
    if (st == LSTAR_OK) st = lstar_h5_attr_write_string(f, path, "encoding-version", ver, e);
    return st;
}

/* 4 cells x 3 genes: X dense float32 (chunked + gzip), obs with a
 * categorical and a nullable-integer column, var with an empty column-order. */
static int write_h5ad(const char *path) {
    lstar_error e;
    lstar_error_clear(&e);
    lstar_h5_file *f = NULL;
    TRY(lstar_h5_open(path, LSTAR_H5_CREATE | LSTAR_H5_TRUNCATE, &f, &e));
    TRY(set_enc(f, "/", "anndata", "0.1.0", &e));
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i * 1.5f - 2.0f;
    uint64_t xs[2] = {4, 3}, xc[2] = {2, 3};
    lstar_h5_filter gz;
    memset(&gz, 0, sizeof gz);
    gz.id = 1;
    gz.flags = LSTAR_H5_FILTER_OPTIONAL;
    gz.ncd = 1;
    gz.cd[0] = 4;
    TRY(put_numeric(f, "X", LSTAR_DTYPE_FLOAT32, 2, xs, xc, &gz, 1, x, &e));

    TRY(lstar_h5_create_group(f, "obs", 0, &e));
    TRY(set_enc(f, "obs", "dataframe", "0.2.0", &e));
    TRY(lstar_h5_attr_write_string(f, "obs", "_index", "_index", &e));
    const char *cols[2] = {"cat", "nint"};
    lstar_strings co;
    TRY(lstar_strings_from_cstrs(&co, cols, 2, &e));
    lstar_status st = lstar_h5_attr_write_strings(f, "obs", "column-order", &co, &e);
    lstar_strings_destroy(&co);
    TRY(st);
    const char *cells[4] = {"cell-α", "cell-1", "cell-2", "cell-3"};
    TRY(put_strings(f, "obs/_index", cells, 4, "string-array", &e));
    TRY(lstar_h5_create_group(f, "obs/cat", 0, &e));
    TRY(set_enc(f, "obs/cat", "categorical", "0.2.0", &e));
    TRY(lstar_h5_attr_write_bool(f, "obs/cat", "ordered", 1, &e));
    int8_t codes[4] = {1, 0, -1, 1};
    uint64_t n4 = 4;
    TRY(put_numeric(f, "obs/cat/codes", LSTAR_DTYPE_INT8, 1, &n4, NULL, NULL, 0, codes, &e));
    const char *cats[2] = {"low", "high"};
    TRY(put_strings(f, "obs/cat/categories", cats, 2, "string-array", &e));
    TRY(lstar_h5_create_group(f, "obs/nint", 0, &e));
    TRY(set_enc(f, "obs/nint", "nullable-integer", "0.1.0", &e));
    int64_t vals[4] = {10, 20, 0, 40};
    uint8_t mask[4] = {0, 0, 1, 0};
    TRY(put_numeric(f, "obs/nint/values", LSTAR_DTYPE_INT64, 1, &n4, NULL, NULL, 0, vals, &e));
    TRY(put_numeric(f, "obs/nint/mask", LSTAR_DTYPE_BOOL, 1, &n4, NULL, NULL, 0, mask, &e));

    TRY(lstar_h5_create_group(f, "var", 0, &e));
    TRY(set_enc(f, "var", "dataframe", "0.2.0", &e));
    TRY(lstar_h5_attr_write_string(f, "var", "_index", "_index", &e));
    TRY(lstar_strings_init(&co, &e));
    st = lstar_h5_attr_write_strings(f, "var", "column-order", &co, &e);
    lstar_strings_destroy(&co);
    TRY(st);
    const char *genes[3] = {"g0", "g1", "g2"};
    TRY(put_strings(f, "var/_index", genes, 3, "string-array", &e));

    TRY(lstar_h5_create_group(f, "uns", LSTAR_H5_TRACK_ORDER, &e));
    TRY(set_enc(f, "uns", "dict", "0.1.0", &e));
    lstar_h5_dataset_spec sp;
    lstar_h5_dataset *d = NULL;
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_STRING;
    TRY(lstar_h5_dataset_create(f, "uns/title", &sp, &d, &e));
    const char *title[1] = {"hello h5ad"};
    lstar_strings ts;
    TRY(lstar_strings_from_cstrs(&ts, title, 1, &e));
    st = lstar_h5_dataset_write_strings(d, 0, &ts, &e);
    lstar_strings_destroy(&ts);
    lstar_h5_dataset_close(d);
    TRY(st);
    TRY(set_enc(f, "uns/title", "string", "0.2.0", &e));
    memset(&sp, 0, sizeof sp);
    sp.dtype = LSTAR_DTYPE_FLOAT64;
    TRY(lstar_h5_dataset_create(f, "uns/pi", &sp, &d, &e));
    double pi = 3.25;
    st = lstar_h5_dataset_write(d, NULL, NULL, &pi, &e);
    lstar_h5_dataset_close(d);
    TRY(st);
    TRY(set_enc(f, "uns/pi", "numeric-scalar", "0.2.0", &e));
    int64_t shp[2] = {4, 3};
    TRY(lstar_h5_attr_write_i64(f, "uns", "shape", shp, 2, 1, &e));
    lstar_h5_close(f);
    return 0;
}

static int dump(const char *path, const char *ds, const char *member) {
    lstar_error e;
    lstar_error_clear(&e);
    lstar_h5_file *f = NULL;
    lstar_array *a = NULL;
    TRY(lstar_h5_open(path, LSTAR_H5_READ, &f, &e));
    lstar_status st = member ? lstar_array_from_h5_member(f, ds, member, &a, &e) : lstar_array_from_h5(f, ds, &a, &e);
    lstar_h5_close(f);
    if (st != LSTAR_OK) return fail(&e);
    lstar_dtype dt = lstar_array_dtype(a);
    int rank = lstar_array_rank(a);
    printf("%s %d", lstar_dtype_name(dt), rank);
    for (int i = 0; i < rank; i++) printf(" %llu", (unsigned long long)lstar_array_shape(a)[i]);
    printf("\n");
    uint64_t n = lstar_array_size(a);
    if (dt == LSTAR_DTYPE_STRING) {
        lstar_strings s;
        if (lstar_array_read_strings(a, 0, n, &s, &e) != LSTAR_OK) {
            lstar_array_free(a);
            return fail(&e);
        }
        for (size_t i = 0; i < s.n; i++) {
            size_t len;
            const char *p = lstar_strings_get(&s, i, &len);
            printf("%.*s\n", (int)len, p);
        }
        lstar_strings_destroy(&s);
    } else {
        void *buf = NULL;
        size_t nb = 0;
        if (lstar_array_read_all(a, 0, &buf, &nb, &e) != LSTAR_OK) {
            lstar_array_free(a);
            return fail(&e);
        }
        for (uint64_t i = 0; i < n; i++) {
            if (dt == LSTAR_DTYPE_COMPLEX64)
                printf("%.9g %.9g\n", (double)((float *)buf)[2 * i], (double)((float *)buf)[2 * i + 1]);
            else if (dt == LSTAR_DTYPE_COMPLEX128)
                printf("%.17g %.17g\n", ((double *)buf)[2 * i], ((double *)buf)[2 * i + 1]);
            else if (lstar_dtype_is_float(dt))
                printf("%.17g\n", lstar_dtype_get_f64(dt, buf, (size_t)i));
            else
                printf("%lld\n", lstar_dtype_get_i64(dt, buf, (size_t)i));
        }
        lstar_free(buf);
    }
    lstar_array_free(a);
    return 0;
}

static int attr(const char *path, const char *obj, const char *name, const char *kind) {
    lstar_error e;
    lstar_error_clear(&e);
    lstar_h5_file *f = NULL;
    TRY(lstar_h5_open(path, LSTAR_H5_READ, &f, &e));
    lstar_status st = LSTAR_OK;
    if (strcmp(kind, "string") == 0 || strcmp(kind, "ref") == 0) {
        char *s = NULL;
        st = kind[0] == 's' ? lstar_h5_attr_read_string(f, obj, name, &s, &e) : lstar_h5_attr_read_ref(f, obj, name, &s, &e);
        if (st == LSTAR_OK) printf("%s\n", s);
        lstar_free(s);
    } else if (strcmp(kind, "strings") == 0) {
        lstar_strings s;
        st = lstar_h5_attr_read_strings(f, obj, name, &s, &e);
        for (size_t i = 0; st == LSTAR_OK && i < s.n; i++) {
            size_t len;
            const char *p = lstar_strings_get(&s, i, &len);
            printf("%.*s\n", (int)len, p);
        }
        lstar_strings_destroy(&s);
    } else if (strcmp(kind, "i64") == 0) {
        int64_t *v = NULL;
        size_t n = 0;
        st = lstar_h5_attr_read_i64(f, obj, name, &v, &n, &e);
        for (size_t i = 0; st == LSTAR_OK && i < n; i++) printf("%lld\n", (long long)v[i]);
        lstar_free(v);
    } else if (strcmp(kind, "f64") == 0) {
        double *v = NULL;
        size_t n = 0;
        st = lstar_h5_attr_read_f64(f, obj, name, &v, &n, &e);
        for (size_t i = 0; st == LSTAR_OK && i < n; i++) printf("%.17g\n", v[i]);
        lstar_free(v);
    } else if (strcmp(kind, "bool") == 0) {
        int b = 0;
        st = lstar_h5_attr_read_bool(f, obj, name, &b, &e);
        if (st == LSTAR_OK) printf("%d\n", b);
    } else {
        lstar_h5_close(f);
        return 2;
    }
    lstar_h5_close(f);
    return st == LSTAR_OK ? 0 : fail(&e);
}

static int children(const char *path, const char *grp) {
    lstar_error e;
    lstar_error_clear(&e);
    lstar_h5_file *f = NULL;
    lstar_strings s;
    TRY(lstar_h5_open(path, LSTAR_H5_READ, &f, &e));
    lstar_status st = lstar_h5_list_children(f, grp, &s, &e);
    lstar_h5_close(f);
    if (st != LSTAR_OK) return fail(&e);
    for (size_t i = 0; i < s.n; i++) {
        size_t len;
        const char *p = lstar_strings_get(&s, i, &len);
        printf("%.*s\n", (int)len, p);
    }
    lstar_strings_destroy(&s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "write-h5ad") == 0) return write_h5ad(argv[2]);
    if (argc == 4 && strcmp(argv[1], "dump") == 0) return dump(argv[2], argv[3], NULL);
    if (argc == 5 && strcmp(argv[1], "dump-member") == 0) return dump(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "attr") == 0) return attr(argv[2], argv[3], argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "children") == 0) return children(argv[2], argv[3]);
    fprintf(stderr, "usage: lstar_test_h5 write-h5ad|dump|dump-member|attr|children …\n");
    return 2;
}
