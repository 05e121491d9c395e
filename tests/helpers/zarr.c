/* lstar_test_zarr — drives the Zarr layer for interop tests.
 *
 *   lstar_test_zarr write <storedir> <2|3> <case>   write a hierarchy of test arrays
 *   lstar_test_zarr list  <store>                   print every array path, one per line
 *   lstar_test_zarr dump  <store> <array path>      print {"shape","dtype","data"} as JSON
 *
 * Cases: "all" (every dtype × codec chain, strings, fill values with missing
 * chunks, v3 sharding) and "basic" (a few arrays).  Values follow formulas
 * the peers recompute (see expected_* in tests/interop/test_zarr_python.py):
 *   bool: i % 3 == 0; signed: (i*7+3) % 100 - 50; unsigned: (i*7+3) % 200;
 *   float: i*0.5 - 20.25; complex: (i*0.5 - 1) + (-i)j; strings: "s<i>" + "é"*(i%3).
 * Exit status 0 on success; errors go to stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/alloc.h"
#include "lstar/store.h"
#include "lstar/zarr.h"

static int fail(const char *what, const lstar_error *e) {
    char buf[2048];
    fprintf(stderr, "lstar_test_zarr: %s: %s\n", what, lstar_error_format(e, buf, sizeof buf));
    return 1;
}

#define TRY(what, expr)                                                                                       \
    do {                                                                                                      \
        if ((expr) != LSTAR_OK) return fail(what, &err);                                                      \
    } while (0)

static void value(lstar_dtype t, uint64_t i, void *p) {
    long long sv = (long long)((i * 7 + 3) % 100) - 50;
    unsigned long long uv = (i * 7 + 3) % 200;
    double fv = (double)i * 0.5 - 20.25;
    switch (t) {
    case LSTAR_DTYPE_BOOL: *(uint8_t *)p = i % 3 == 0; break;
    case LSTAR_DTYPE_INT8: *(int8_t *)p = (int8_t)sv; break;
    case LSTAR_DTYPE_INT16: *(int16_t *)p = (int16_t)sv; break;
    case LSTAR_DTYPE_INT32: *(int32_t *)p = (int32_t)sv; break;
    case LSTAR_DTYPE_INT64: *(int64_t *)p = (int64_t)sv; break;
    case LSTAR_DTYPE_UINT8: *(uint8_t *)p = (uint8_t)uv; break;
    case LSTAR_DTYPE_UINT16: *(uint16_t *)p = (uint16_t)uv; break;
    case LSTAR_DTYPE_UINT32: *(uint32_t *)p = (uint32_t)uv; break;
    case LSTAR_DTYPE_UINT64: *(uint64_t *)p = (uint64_t)uv; break;
    case LSTAR_DTYPE_FLOAT32: *(float *)p = (float)fv; break;
    case LSTAR_DTYPE_FLOAT64: *(double *)p = fv; break;
    case LSTAR_DTYPE_COMPLEX64: {
        float c[2] = {(float)((double)i * 0.5 - 1), -(float)i};
        memcpy(p, c, 8);
        break;
    }
    case LSTAR_DTYPE_COMPLEX128: {
        double c[2] = {(double)i * 0.5 - 1, -(double)i};
        memcpy(p, c, 16);
        break;
    }
    default: break;
    }
}

static const lstar_dtype k_types[] = {
    LSTAR_DTYPE_BOOL,  LSTAR_DTYPE_INT8,   LSTAR_DTYPE_INT16,   LSTAR_DTYPE_INT32,     LSTAR_DTYPE_INT64,
    LSTAR_DTYPE_UINT8, LSTAR_DTYPE_UINT16, LSTAR_DTYPE_UINT32,  LSTAR_DTYPE_UINT64,    LSTAR_DTYPE_FLOAT32,
    LSTAR_DTYPE_FLOAT64, LSTAR_DTYPE_COMPLEX64, LSTAR_DTYPE_COMPLEX128,
};

typedef struct chain {
    const char *name, *filters, *compression;
    int v2, v3; /* which formats get it */
} chain;

static const chain k_chains[] = {
    {"raw", NULL, NULL, 1, 1},
    {"zlib", NULL, "zlib:5", 1, 0},
    {"gzip", NULL, "gzip:4", 1, 1},
    {"zstd", NULL, "zstd:3", 1, 1},
    {"blosc", NULL, "blosc:lz4:5:shuffle", 1, 1},
    {"bloscz", NULL, "blosc:zstd:3:bitshuffle", 1, 1},
    {"lz4", NULL, "lz4", 1, 0},
    {"shufzstd", "shuffle", "zstd", 1, 0},
    {"deltazlib", "delta", "zlib:1", 1, 0},
    {"crc", NULL, "crc32c", 0, 1},
};

static int is_delta_ok(lstar_dtype t) {
    return lstar_dtype_is_integer(t) || t == LSTAR_DTYPE_FLOAT32 || t == LSTAR_DTYPE_FLOAT64;
}

/* shape (13, 7), chunks (5, 3): edge chunks in both dimensions. */
static int write_numeric(lstar_zarr *z, const char *name, lstar_dtype t, const char *filters, const char *comp,
                         int sharded) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 2;
    spec.shape[0] = 13;
    spec.shape[1] = 7;
    spec.chunks[0] = 5;
    spec.chunks[1] = 3;
    if (sharded) {
        spec.shard[0] = 10;
        spec.shard[1] = 6;
    }
    spec.dtype = t;
    spec.filters = filters;
    spec.compression = comp;
    lstar_zarr_array *a = NULL;
    TRY(name, lstar_zarr_array_create(z, name, &spec, &a, &err));
    size_t is = lstar_dtype_size(t);
    uint8_t *buf = malloc(91 * is);
    for (uint64_t i = 0; i < 91; i++) value(t, i, buf + i * is);
    lstar_status st = lstar_zarr_array_write(a, buf, &err);
    free(buf);
    lstar_zarr_array_close(a);
    if (st != LSTAR_OK) return fail(name, &err);
    return 0;
}

static int write_strings(lstar_zarr *z, const char *name, lstar_dtype t, const char *comp, int sharded) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = 11;
    spec.chunks[0] = 4;
    if (sharded) spec.shard[0] = 8;
    spec.dtype = t;
    spec.itemsize = 8;
    spec.compression = comp;
    lstar_strings s;
    TRY("strings", lstar_strings_init(&s, &err));
    for (int i = 0; i < 11; i++) {
        char item[64];
        snprintf(item, sizeof item, "s%d%s", i, i % 3 == 1 ? "\xc3\xa9" : i % 3 == 2 ? "\xc3\xa9\xc3\xa9" : "");
        TRY("strings", lstar_strings_append(&s, item, strlen(item), &err));
    }
    lstar_zarr_array *a = NULL;
    lstar_status st = lstar_zarr_array_create(z, name, &spec, &a, &err);
    if (st == LSTAR_OK) st = lstar_zarr_array_write_strings(a, &s, &err);
    lstar_zarr_array_close(a);
    lstar_strings_destroy(&s);
    if (st != LSTAR_OK) return fail(name, &err);
    return 0;
}

/* Fill values with missing chunks: only chunk 1 of (10,) chunks (4,) is written. */
static int write_fill(lstar_zarr *z, const char *name, lstar_dtype t, double fill) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = 10;
    spec.chunks[0] = 4;
    spec.dtype = t;
    spec.has_fill_value = 1;
    spec.fill_value = fill;
    spec.compression = "zlib:1";
    lstar_zarr_array *a = NULL;
    TRY(name, lstar_zarr_array_create(z, name, &spec, &a, &err));
    uint8_t buf[64];
    size_t is = lstar_dtype_size(t);
    for (uint64_t i = 0; i < 4; i++) value(t, 4 + i, buf + i * is);
    uint64_t c = 1;
    lstar_status st = lstar_zarr_array_write_chunk(a, &c, buf, &err);
    lstar_zarr_array_close(a);
    if (st != LSTAR_OK) return fail(name, &err);
    return 0;
}

static int cmd_write(const char *dir, int fmt, const char *which) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_store *s = NULL;
    lstar_zarr *z = NULL;
    TRY(dir, lstar_store_open_dir(dir, LSTAR_STORE_READ | LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &s, &err));
    TRY(dir, lstar_zarr_create(s, fmt, &z, &err));
    TRY("root attrs", lstar_zarr_set_attrs(z, "", "{\"writer\":\"lstar_test_zarr\",\"case\":\"all\"}", &err));
    int rc = 0, all = strcmp(which, "all") == 0;
    char name[128];
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0] && !rc; ti++)
        for (size_t ci = 0; ci < sizeof k_chains / sizeof k_chains[0] && !rc; ci++) {
            const chain *c = &k_chains[ci];
            if (!(fmt == 2 ? c->v2 : c->v3)) continue;
            if (c->filters && strcmp(c->filters, "delta") == 0 && !is_delta_ok(k_types[ti])) continue;
            if (!all && ci > 3) continue;
            snprintf(name, sizeof name, "%s_%s", lstar_dtype_name(k_types[ti]), c->name);
            rc = write_numeric(z, name, k_types[ti], c->filters, c->compression, 0);
        }
    if (!rc) rc = write_strings(z, "str_raw", LSTAR_DTYPE_STRING, NULL, 0);
    if (!rc) rc = write_strings(z, "str_zstd", LSTAR_DTYPE_STRING, "zstd", 0);
    if (!rc && fmt == 2) rc = write_strings(z, "str_blosc", LSTAR_DTYPE_STRING, "blosc:lz4:5:shuffle", 0);
    if (!rc && fmt == 2) rc = write_strings(z, "fixed_bytes", LSTAR_DTYPE_FIXED_BYTES, NULL, 0);
    if (!rc) rc = write_fill(z, "fill_f64", LSTAR_DTYPE_FLOAT64, NAN);
    if (!rc) rc = write_fill(z, "fill_i32", LSTAR_DTYPE_INT32, -9);
    if (!rc) rc = write_fill(z, "fill_f32", LSTAR_DTYPE_FLOAT32, 2.5);
    if (!rc && fmt == 3 && all) {
        rc = write_numeric(z, "sharded_f32_zstd", LSTAR_DTYPE_FLOAT32, NULL, "zstd", 1);
        if (!rc) rc = write_numeric(z, "sharded_i64_gzip", LSTAR_DTYPE_INT64, NULL, "gzip:1", 1);
        if (!rc) rc = write_numeric(z, "sharded_u8_raw", LSTAR_DTYPE_UINT8, NULL, NULL, 1);
        if (!rc) rc = write_numeric(z, "sharded_f64_crc", LSTAR_DTYPE_FLOAT64, NULL, "crc32c", 1);
        if (!rc) rc = write_strings(z, "sharded_str_zstd", LSTAR_DTYPE_STRING, "zstd", 1);
    }
    if (!rc && lstar_zarr_group_create(z, "grp", "{\"k\":[1,2]}", &err) != LSTAR_OK) rc = fail("grp", &err);
    if (!rc) rc = write_numeric(z, "grp/nested_f64", LSTAR_DTYPE_FLOAT64, NULL, "gzip:1", 0);
    if (!rc && lstar_zarr_consolidate(z, &err) != LSTAR_OK) rc = fail("consolidate", &err);
    lstar_zarr_close(z);
    lstar_store_close(s);
    return rc;
}

/* ---- list / dump ---------------------------------------------------------- */

typedef struct names {
    char **v;
    size_t n;
} names;

static int collect(void *ud, const char *name) {
    names *n = ud;
    n->v = realloc(n->v, (n->n + 1) * sizeof *n->v);
    n->v[n->n++] = strdup(name);
    return 0;
}

static int list_rec(lstar_zarr *z, const char *path) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_zarr_node t = lstar_zarr_node_type(z, path, &err);
    if (t == LSTAR_ZARR_ARRAY) {
        printf("%s\n", path);
        return 0;
    }
    if (t != LSTAR_ZARR_GROUP) return fail(path, &err);
    names n = {NULL, 0};
    TRY(path, lstar_zarr_list_children(z, path, collect, &n, &err));
    int rc = 0;
    for (size_t i = 0; i < n.n; i++) {
        char child[4096];
        snprintf(child, sizeof child, "%s%s%s", path, path[0] ? "/" : "", n.v[i]);
        if (!rc) rc = list_rec(z, child);
        free(n.v[i]);
    }
    free(n.v);
    return rc;
}

static void print_double(double d) {
    if (isnan(d))
        printf("\"NaN\"");
    else if (isinf(d))
        printf(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    else
        printf("%.17g", d);
}

/* A complex value as the JSON pair [re,im]. */
static void print_complex(double re, double im) {
    putchar('[');
    print_double(re);
    putchar(',');
    print_double(im);
    putchar(']');
}

static void print_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int cmd_dump(const char *path, const char *apath) {
    lstar_error err;
    lstar_error_clear(&err);
    lstar_store *s = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    TRY(path, lstar_store_open(path, LSTAR_STORE_READ, &s, &err));
    TRY(path, lstar_zarr_open(s, &z, &err));
    TRY(apath, lstar_zarr_array_open(z, apath, &a, &err));
    int rank = lstar_zarr_array_rank(a);
    const uint64_t *shape = lstar_zarr_array_shape(a);
    lstar_dtype t = lstar_zarr_array_dtype(a);
    uint64_t n = 1;
    printf("{\"shape\":[");
    for (int d = 0; d < rank; d++) {
        printf("%s%llu", d ? "," : "", (unsigned long long)shape[d]);
        n *= shape[d];
    }
    printf("],\"dtype\":\"%s\",\"data\":[", lstar_dtype_name(t));
    if (t == LSTAR_DTYPE_STRING || t == LSTAR_DTYPE_FIXED_BYTES || t == LSTAR_DTYPE_FIXED_UTF32) {
        lstar_strings str;
        TRY(apath, lstar_zarr_array_read_strings(a, 0, n, &str, &err));
        for (size_t i = 0; i < str.n; i++) {
            size_t len;
            const char *p = lstar_strings_get(&str, i, &len);
            if (i) putchar(',');
            print_json_string(p, len);
        }
        lstar_strings_destroy(&str);
    } else {
        size_t is = lstar_zarr_array_itemsize(a);
        uint8_t *buf = malloc((size_t)(n * is) + 1);
        uint64_t start[LSTAR_MAX_RANK] = {0};
        if (lstar_zarr_array_read(a, start, shape, buf, &err) != LSTAR_OK) {
            free(buf);
            return fail(apath, &err);
        }
        for (uint64_t i = 0; i < n; i++) {
            if (i) putchar(',');
            const uint8_t *p = buf + i * is;
            switch (t) {
            case LSTAR_DTYPE_BOOL: printf(p[0] ? "true" : "false"); break;
            case LSTAR_DTYPE_INT8:
            case LSTAR_DTYPE_INT16:
            case LSTAR_DTYPE_INT32:
            case LSTAR_DTYPE_INT64: printf("%lld", lstar_dtype_get_i64(t, buf, (size_t)i)); break;
            case LSTAR_DTYPE_UINT8:
            case LSTAR_DTYPE_UINT16:
            case LSTAR_DTYPE_UINT32:
            case LSTAR_DTYPE_UINT64: {
                uint64_t v = 0;
                memcpy(&v, p, is);
                if (is == 1) v = p[0];
                else if (is == 2) { uint16_t x; memcpy(&x, p, 2); v = x; }
                else if (is == 4) { uint32_t x; memcpy(&x, p, 4); v = x; }
                printf("%llu", (unsigned long long)v);
                break;
            }
            case LSTAR_DTYPE_FLOAT16:
            case LSTAR_DTYPE_FLOAT32:
            case LSTAR_DTYPE_FLOAT64: print_double(lstar_dtype_get_f64(t, buf, (size_t)i)); break;
            case LSTAR_DTYPE_COMPLEX64: {
                float c[2];
                memcpy(c, p, 8);
                print_complex(c[0], c[1]);
                break;
            }
            case LSTAR_DTYPE_COMPLEX128: {
                double c[2];
                memcpy(c, p, 16);
                print_complex(c[0], c[1]);
                break;
            }
            default: { /* raw records as hex */
                putchar('"');
                for (size_t k = 0; k < is; k++) printf("%02x", p[k]);
                putchar('"');
            }
            }
        }
        free(buf);
    }
    printf("]}\n");
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "write") == 0) return cmd_write(argv[2], atoi(argv[3]), argv[4]);
    if (argc == 3 && strcmp(argv[1], "list") == 0) {
        lstar_error err;
        lstar_error_clear(&err);
        lstar_store *s = NULL;
        lstar_zarr *z = NULL;
        TRY(argv[2], lstar_store_open(argv[2], LSTAR_STORE_READ, &s, &err));
        TRY(argv[2], lstar_zarr_open(s, &z, &err));
        int rc = list_rec(z, "");
        lstar_zarr_close(z);
        lstar_store_close(s);
        return rc;
    }
    if (argc == 4 && strcmp(argv[1], "dump") == 0) return cmd_dump(argv[2], argv[3]);
    fprintf(stderr, "usage: lstar_test_zarr write <dir> <2|3> <all|basic> | list <store> | dump <store> <path>\n");
    return 2;
}
