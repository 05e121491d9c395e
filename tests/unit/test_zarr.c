/* Unit tests of the Zarr layer: round trips through the memory store for
 * every dtype × format × codec chain × rank, keys and separators, missing
 * chunks, sharding, hand-made big-endian / F-order / transpose chunks,
 * strings and region reads. */
#include <math.h>
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
#include "lstar/array.h"
#include "lstar/codec.h"
#include "lstar/store.h"
#include "lstar/zarr.h"

/* The same, with an explicit error record named e_ in the expression. */

static lstar_store *mem_store(void) {
    lstar_store *s = NULL;
    OKE(lstar_store_new_memory(&s, &e_));
    return s;
}

static void put(lstar_store *s, const char *key, const void *data, size_t n) {
    OKE(lstar_store_set(s, key, data, n, &e_));
}

static void put_str(lstar_store *s, const char *key, const char *text) { put(s, key, text, strlen(text)); }

/* Deterministic element i of dtype t into p. */
static void make_value(lstar_dtype t, uint64_t i, uint8_t *p) {
    uint64_t h = i * 2654435761u + 12345;
    switch (t) {
    case LSTAR_DTYPE_BOOL: p[0] = (uint8_t)(h >> 7) & 1; break;
    case LSTAR_DTYPE_INT8: { int8_t v = (int8_t)(h >> 3); memcpy(p, &v, 1); break; }
    case LSTAR_DTYPE_UINT8: { uint8_t v = (uint8_t)(h >> 3); memcpy(p, &v, 1); break; }
    case LSTAR_DTYPE_INT16: { int16_t v = (int16_t)(h >> 2); memcpy(p, &v, 2); break; }
    case LSTAR_DTYPE_UINT16: { uint16_t v = (uint16_t)(h >> 2); memcpy(p, &v, 2); break; }
    case LSTAR_DTYPE_FLOAT16: { uint16_t v = (uint16_t)(0x3c00 + (i % 512)); memcpy(p, &v, 2); break; }
    case LSTAR_DTYPE_INT32: { int32_t v = (int32_t)(h - 100000); memcpy(p, &v, 4); break; }
    case LSTAR_DTYPE_UINT32: { uint32_t v = (uint32_t)h; memcpy(p, &v, 4); break; }
    case LSTAR_DTYPE_INT64: { int64_t v = (int64_t)(h * 977) - 5; memcpy(p, &v, 8); break; }
    case LSTAR_DTYPE_UINT64: { uint64_t v = h * 1000003; memcpy(p, &v, 8); break; }
    case LSTAR_DTYPE_FLOAT32: { float v = (float)i * 0.5f - 3.25f; memcpy(p, &v, 4); break; }
    case LSTAR_DTYPE_FLOAT64: { double v = (double)i * 1.25 - 7.0; memcpy(p, &v, 8); break; }
    case LSTAR_DTYPE_COMPLEX64: { float v[2] = {(float)i, -(float)i * 0.5f}; memcpy(p, v, 8); break; }
    case LSTAR_DTYPE_COMPLEX128: { double v[2] = {(double)i + 0.25, (double)i * 3}; memcpy(p, v, 16); break; }
    default: break;
    }
}

static const lstar_dtype k_dtypes[] = {
    LSTAR_DTYPE_BOOL,   LSTAR_DTYPE_INT8,   LSTAR_DTYPE_INT16,   LSTAR_DTYPE_INT32,     LSTAR_DTYPE_INT64,
    LSTAR_DTYPE_UINT8,  LSTAR_DTYPE_UINT16, LSTAR_DTYPE_UINT32,  LSTAR_DTYPE_UINT64,    LSTAR_DTYPE_FLOAT16,
    LSTAR_DTYPE_FLOAT32, LSTAR_DTYPE_FLOAT64, LSTAR_DTYPE_COMPLEX64, LSTAR_DTYPE_COMPLEX128,
};

typedef struct chain_case {
    const char *filters, *compression;
} chain_case;

static const chain_case k_chains[] = {
    {NULL, NULL},       {NULL, "zlib:3"}, {NULL, "gzip:5"},          {NULL, "zstd:3"},
    {NULL, "blosc:lz4:5:shuffle"}, {"shuffle", "zstd"}, {"delta", "zstd"}, {NULL, "crc32c"},
};

typedef struct shape_case {
    int rank;
    uint64_t shape[3], chunks[3];
} shape_case;

static const shape_case k_shapes[] = {
    {0, {0}, {0}},
    {1, {13}, {5}},
    {2, {7, 5}, {3, 2}},
    {3, {4, 3, 5}, {2, 2, 3}},
};

static uint64_t elems_of(int rank, const uint64_t *shape) {
    uint64_t n = 1;
    for (int d = 0; d < rank; d++) n *= shape[d];
    return n;
}

static void roundtrip_one(int fmt, lstar_dtype t, const chain_case *cc, const shape_case *sc, int sharded) {
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_create(s, fmt, &z, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = sc->rank;
    for (int d = 0; d < sc->rank; d++) {
        spec.shape[d] = sc->shape[d];
        spec.chunks[d] = sc->chunks[d];
        if (sharded) spec.shard[d] = sc->chunks[d] * 2;
    }
    spec.dtype = t;
    spec.filters = cc->filters;
    spec.compression = cc->compression;
    OKE(lstar_zarr_array_create(z, "arr", &spec, &a, &e_));
    size_t is = lstar_dtype_size(t);
    uint64_t n = elems_of(sc->rank, sc->shape);
    uint8_t *data = malloc((size_t)(n * is)), *back = malloc((size_t)(n * is));
    for (uint64_t i = 0; i < n; i++) make_value(t, i, data + i * is);
    OKE(lstar_zarr_array_write(a, data, &e_));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    /* reopen from the store alone */
    OKE(lstar_zarr_open(s, &z, &e_));
    assert_int_equal(lstar_zarr_format(z), fmt);
    OKE(lstar_zarr_array_open(z, "arr", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), t);
    assert_int_equal(lstar_zarr_array_rank(a), sc->rank);
    uint64_t start[3] = {0, 0, 0};
    memset(back, 0xAB, (size_t)(n * is));
    OKE(lstar_zarr_array_read(a, start, sc->shape, back, &e_));
    if (memcmp(data, back, (size_t)(n * is)) != 0)
        fail_msg("round trip differs: format %d dtype %s filters %s compression %s rank %d sharded %d", fmt,
                 lstar_dtype_name(t), cc->filters ? cc->filters : "-", cc->compression ? cc->compression : "-",
                 sc->rank, sharded);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
    free(data);
    free(back);
}

static int delta_ok(lstar_dtype t) {
    return lstar_dtype_is_integer(t) || t == LSTAR_DTYPE_FLOAT32 || t == LSTAR_DTYPE_FLOAT64;
}

static void test_roundtrip_matrix(void **state) {
    (void)state;
    int count = 0;
    for (int fmt = 2; fmt <= 3; fmt++)
        for (size_t ti = 0; ti < sizeof k_dtypes / sizeof k_dtypes[0]; ti++)
            for (size_t ci = 0; ci < sizeof k_chains / sizeof k_chains[0]; ci++)
                for (size_t si = 0; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
                    if (k_chains[ci].filters && strcmp(k_chains[ci].filters, "delta") == 0 && !delta_ok(k_dtypes[ti]))
                        continue;
                    roundtrip_one(fmt, k_dtypes[ti], &k_chains[ci], &k_shapes[si], 0);
                    count++;
                }
    assert_true(count > 800);
}

static void test_roundtrip_sharded(void **state) {
    (void)state;
    for (size_t ti = 0; ti < sizeof k_dtypes / sizeof k_dtypes[0]; ti++)
        for (size_t ci = 0; ci < sizeof k_chains / sizeof k_chains[0]; ci++)
            for (size_t si = 1; si < sizeof k_shapes / sizeof k_shapes[0]; si++) {
                if (k_chains[ci].filters && strcmp(k_chains[ci].filters, "delta") == 0 && !delta_ok(k_dtypes[ti]))
                    continue;
                roundtrip_one(3, k_dtypes[ti], &k_chains[ci], &k_shapes[si], 1);
            }
}

/* ---- keys, separators, missing chunks ---------------------------------- */

static void expect_key(lstar_zarr_array *a, const uint64_t *c, const char *want) {
    char *k = lstar_zarr_array_chunk_key(a, c);
    assert_non_null(k);
    assert_string_equal(k, want);
    lstar_free(k);
}

static lstar_zarr_array *make_i32(lstar_zarr *z, const char *path, int rank, const uint64_t *shape,
                                  const uint64_t *chunks, char sep, int v2keys, const uint64_t *shard) {
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = rank;
    for (int d = 0; d < rank; d++) {
        spec.shape[d] = shape[d];
        spec.chunks[d] = chunks[d];
        if (shard) spec.shard[d] = shard[d];
    }
    spec.dtype = LSTAR_DTYPE_INT32;
    spec.dimension_separator = sep;
    spec.v2_chunk_key_encoding = v2keys;
    spec.has_fill_value = 1;
    spec.fill_value = -7;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_create(z, path, &spec, &a, &e_));
    return a;
}

static void test_chunk_keys(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    lstar_zarr *z2 = NULL, *z3 = NULL;
    OKE(lstar_zarr_create(s, 2, &z2, &e_));
    uint64_t shape[2] = {10, 10}, chunks[2] = {4, 4}, c[2] = {2, 1}, shard[2] = {8, 8};
    lstar_zarr_array *a = make_i32(z2, "dot", 2, shape, chunks, 0, 0, NULL);
    expect_key(a, c, "dot/2.1");
    lstar_zarr_array_close(a);
    a = make_i32(z2, "slash", 2, shape, chunks, '/', 0, NULL);
    expect_key(a, c, "slash/2/1");
    lstar_zarr_array_close(a);
    a = make_i32(z2, "scalar", 0, shape, chunks, 0, 0, NULL);
    expect_key(a, NULL, "scalar/0");
    lstar_zarr_array_close(a);
    lstar_zarr_close(z2);
    lstar_store_close(s);

    s = mem_store();
    OKE(lstar_zarr_create(s, 3, &z3, &e_));
    a = make_i32(z3, "def", 2, shape, chunks, 0, 0, NULL);
    expect_key(a, c, "def/c/2/1");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "defdot", 2, shape, chunks, '.', 0, NULL);
    expect_key(a, c, "defdot/c.2.1");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "v2enc", 2, shape, chunks, 0, 1, NULL);
    expect_key(a, c, "v2enc/2.1");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "v2slash", 2, shape, chunks, '/', 1, NULL);
    expect_key(a, c, "v2slash/2/1");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "scalar", 0, shape, chunks, 0, 0, NULL);
    expect_key(a, NULL, "scalar/c");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "scalar2", 0, shape, chunks, 0, 1, NULL);
    expect_key(a, NULL, "scalar2/0");
    lstar_zarr_array_close(a);
    a = make_i32(z3, "sharded", 2, shape, chunks, 0, 0, shard);
    /* read-unit chunk (2,1) lives in shard (1,0) */
    expect_key(a, c, "sharded/c/1/0");
    assert_non_null(lstar_zarr_array_shard_shape(a));
    assert_int_equal(lstar_zarr_array_shard_shape(a)[0], 8);
    assert_int_equal(lstar_zarr_array_chunks(a)[0], 4);
    assert_int_equal(lstar_zarr_array_num_chunks(a), 9);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z3);
    lstar_store_close(s);
}

/* Write some chunks, check the keys present and that the rest reads as fill. */
static void separators_and_missing(int fmt, char sep, int v2keys, const char *key_written) {
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_create(s, fmt, &z, &e_));
    uint64_t shape[2] = {5, 6}, chunks[2] = {2, 4};
    lstar_zarr_array *a = make_i32(z, "m", 2, shape, chunks, sep, v2keys, NULL);
    int32_t chunk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint64_t c[2] = {2, 1}; /* the corner edge chunk: rows 4..5, cols 4..7 */
    OKE(lstar_zarr_array_write_chunk(a, c, chunk, &e_));
    assert_true(lstar_store_exists(s, key_written, NULL));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    OKE(lstar_zarr_open(s, &z, &e_));
    OKE(lstar_zarr_array_open(z, "m", &a, &e_));
    int32_t all[30];
    uint64_t st[2] = {0, 0};
    OKE(lstar_zarr_array_read(a, st, shape, all, &e_));
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++) {
            int32_t want = -7;
            if (i == 4 && j >= 4) want = chunk[(i - 4) * 4 + (j - 4)];
            assert_int_equal(all[i * 6 + j], want);
        }
    /* read_chunk of a missing chunk = fill */
    int32_t buf[8];
    uint64_t c0[2] = {0, 0};
    OKE(lstar_zarr_array_read_chunk(a, c0, buf, &e_));
    for (int i = 0; i < 8; i++) assert_int_equal(buf[i], -7);
    uint64_t bytes = 0;
    OKE(lstar_zarr_array_stored_bytes(a, &bytes, &e_));
    uint64_t one = 0;
    OKE(lstar_store_size(s, key_written, &one, &e_));
    assert_int_equal(bytes, one);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_separators_missing_chunks(void **state) {
    (void)state;
    separators_and_missing(2, 0, 0, "m/2.1");
    separators_and_missing(2, '/', 0, "m/2/1");
    separators_and_missing(3, 0, 0, "m/c/2/1");
    separators_and_missing(3, '.', 0, "m/c.2.1");
    separators_and_missing(3, 0, 1, "m/2.1");
}

/* ---- hand-made metadata: byte order, F order, transpose ------------------ */

static lstar_zarr *open_mem(lstar_store *s) {
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_open(s, &z, &e_));
    return z;
}

static void test_big_endian_v2(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, ".zgroup", "{\"zarr_format\":2}");
    put_str(s, "be/.zarray",
            "{\"zarr_format\":2,\"shape\":[3],\"chunks\":[2],\"dtype\":\">i4\",\"compressor\":null,"
            "\"fill_value\":-1,\"order\":\"C\",\"filters\":null}");
    const uint8_t c0[8] = {0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe}; /* 258, -2 */
    const uint8_t c1[8] = {0x7f, 0, 0, 0, 0, 0, 0, 0};          /* 2130706432, pad */
    put(s, "be/0", c0, 8);
    put(s, "be/1", c1, 8);
    put_str(s, "bef/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":\">f8\",\"compressor\":{\"id\":\"zlib\",\"level\":1},"
            "\"fill_value\":\"NaN\",\"order\":\"C\",\"filters\":null}");
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "be", &a, &e_));
    assert_string_equal(lstar_zarr_array_dtype_text(a), ">i4");
    int32_t v[3];
    uint64_t st = 0, n = 3;
    OKE(lstar_zarr_array_read(a, &st, &n, v, &e_));
    assert_int_equal(v[0], 258);
    assert_int_equal(v[1], -2);
    assert_int_equal(v[2], 2130706432);
    lstar_zarr_array_close(a);
    /* missing chunk of a NaN-filled big-endian float array */
    OKE(lstar_zarr_array_open(z, "bef", &a, &e_));
    double d[2];
    n = 2;
    OKE(lstar_zarr_array_read(a, &st, &n, d, &e_));
    assert_true(isnan(d[0]) && isnan(d[1]));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_order_f_v2(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, ".zgroup", "{\"zarr_format\":2}");
    /* 2x3 array in one F-ordered chunk: values a[i][j] = 10*i + j */
    put_str(s, "f2/.zarray",
            "{\"zarr_format\":2,\"shape\":[2,3],\"chunks\":[2,3],\"dtype\":\"<i2\",\"compressor\":null,"
            "\"fill_value\":0,\"order\":\"F\",\"filters\":null}");
    const int16_t f2[6] = {0, 10, 1, 11, 2, 12};
    put(s, "f2/0.0", f2, sizeof f2);
    /* 3-D 2x2x3 F-order chunk, edge: shape 2x2x2; a[i][j][k] = 100i + 10j + k */
    put_str(s, "f3/.zarray",
            "{\"zarr_format\":2,\"shape\":[2,2,2],\"chunks\":[2,2,3],\"dtype\":\"<i4\",\"compressor\":null,"
            "\"fill_value\":0,\"order\":\"F\",\"filters\":null}");
    int32_t f3[12];
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 2; i++) f3[k * 4 + j * 2 + i] = 100 * i + 10 * j + k;
    put(s, "f3/0.0.0", f3, sizeof f3);
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "f2", &a, &e_));
    int16_t v[6];
    uint64_t st[3] = {0, 0, 0}, n[3] = {2, 3, 0};
    OKE(lstar_zarr_array_read(a, st, n, v, &e_));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) assert_int_equal(v[i * 3 + j], 10 * i + j);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "f3", &a, &e_));
    int32_t w[8];
    uint64_t n3[3] = {2, 2, 2};
    OKE(lstar_zarr_array_read(a, st, n3, w, &e_));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) assert_int_equal(w[i * 4 + j * 2 + k], 100 * i + 10 * j + k);
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "order(F)");
    lstar_free(desc);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_transpose_big_endian_v3(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, "zarr.json", "{\"zarr_format\":3,\"node_type\":\"group\",\"attributes\":{}}");
    /* shape 2x3x4, one chunk, transpose order [2,0,1]: encoded shape (4,2,3),
     * encoded[k][i][j] = a[i][j][k]; then big-endian uint16 via bytes, then gzip */
    put_str(s, "t/zarr.json",
            "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[2,3,4],\"data_type\":\"uint16\","
            "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[2,3,4]}},"
            "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":\"0x0000\","
            "\"codecs\":[{\"name\":\"transpose\",\"configuration\":{\"order\":[2,0,1]}},"
            "{\"name\":\"bytes\",\"configuration\":{\"endian\":\"big\"}},\"crc32c\"],"
            "\"dimension_names\":[\"x\",null,\"z\"],\"attributes\":{\"a\":1}}");
    uint8_t enc[48 + 4];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                uint16_t v = (uint16_t)(1000 * i + 100 * j + k + 256);
                size_t o = (size_t)(k * 6 + i * 3 + j) * 2;
                enc[o] = (uint8_t)(v >> 8);
                enc[o + 1] = (uint8_t)v;
            }
    uint32_t crc = lstar_crc32c(0, enc, 48);
    for (int b = 0; b < 4; b++) enc[48 + b] = (uint8_t)(crc >> (8 * b));
    put(s, "t/c/0/0/0", enc, sizeof enc);
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "t", &a, &e_));
    uint16_t v[24];
    uint64_t st[3] = {0, 0, 0}, n[3] = {2, 3, 4};
    OKE(lstar_zarr_array_read(a, st, n, v, &e_));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) assert_int_equal(v[i * 12 + j * 4 + k], 1000 * i + 100 * j + k + 256);
    char *attrs = NULL;
    OKE(lstar_zarr_array_get_attrs(a, &attrs, &e_));
    assert_string_equal(attrs, "{\"a\":1}");
    lstar_free(attrs);
    char *desc = lstar_zarr_array_codecs_desc(a);
    assert_string_equal(desc, "transpose([2,0,1]) | bytes(big) | crc32c");
    lstar_free(desc);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* v3 fill values: hex, NaN, complex pairs, bool; string short-hand codecs. */
static void test_v3_fill_values(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, "zarr.json", "{\"zarr_format\":3,\"node_type\":\"group\"}");
#define V3_FILL_TMPL \
        "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[2],\"data_type\":\"%s\"," \
        "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[2]}}," \
        "\"chunk_key_encoding\":{\"name\":\"default\",\"configuration\":{\"separator\":\"/\"}}," \
        "\"fill_value\":%s,\"codecs\":[\"bytes\"]}"
    struct {
        const char *name, *dt, *fv;
    } cases[] = {{"h", "float32", "\"0x7fc00000\""}, {"n", "float64", "\"-Infinity\""},
                 {"c", "complex64", "[1.5,\"NaN\"]"}, {"b", "bool", "true"},
                 {"u", "uint64", "\"0xffffffffffffffff\""}, {"i", "int8", "-3"}};
    char buf[1024], key[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, V3_FILL_TMPL, cases[i].dt, cases[i].fv);
        snprintf(key, sizeof key, "%s/zarr.json", cases[i].name);
        put_str(s, key, buf);
    }
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    uint64_t st = 0, n = 2;
    float f[4];
    double d[2];
    uint8_t b[2];
    uint64_t u[2];
    int8_t i8[2];
    OKE(lstar_zarr_array_open(z, "h", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, f, &e_));
    assert_true(isnan(f[0]) && isnan(f[1]));
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "n", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, d, &e_));
    assert_true(isinf(d[1]) && d[1] < 0);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "c", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, f, &e_));
    assert_true(f[2] == 1.5f && isnan(f[3]));
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "b", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, b, &e_));
    assert_int_equal(b[0], 1);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "u", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, u, &e_));
    assert_true(u[1] == UINT64_MAX);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "i", &a, &e_));
    OKE(lstar_zarr_array_read(a, &st, &n, i8, &e_));
    assert_int_equal(i8[0], -3);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* v2 structured dtype with a base64 fill; |S and <U strings. */
static void test_v2_struct_and_fixed_strings(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, ".zgroup", "{\"zarr_format\":2}");
    put_str(s, "rec/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":[[\"a\",\"<i4\"],[\"b\",\"|S3\",[2]]],"
            "\"compressor\":null,\"fill_value\":\"AQAAAGFiY2RlZg==\",\"order\":\"C\",\"filters\":null}");
    put_str(s, "s/.zarray",
            "{\"zarr_format\":2,\"shape\":[3],\"chunks\":[2],\"dtype\":\"|S4\",\"compressor\":null,"
            "\"fill_value\":\"\",\"order\":\"C\",\"filters\":null}");
    put(s, "s/0", "ab\0\0abcd", 8);
    put_str(s, "u/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":\">U2\",\"compressor\":null,"
            "\"fill_value\":\"\",\"order\":\"C\",\"filters\":null}");
    const uint8_t u[16] = {0, 0, 0, 'h', 0, 0, 0, 'i', 0, 0, 0, 0xe9, 0, 0, 0, 0};
    put(s, "u/0", u, 16);
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "rec", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_STRUCT);
    assert_int_equal(lstar_zarr_array_itemsize(a), 10);
    uint8_t rec[20];
    uint64_t st = 0, n = 2;
    OKE(lstar_zarr_array_read(a, &st, &n, rec, &e_)); /* missing: both records = fill */
    int32_t first;
    memcpy(&first, rec + 10, 4);
    assert_int_equal(first, 1);
    assert_memory_equal(rec + 14, "abcdef", 6);
    lstar_zarr_array_close(a);
    lstar_strings out;
    OKE(lstar_zarr_array_open(z, "s", &a, &e_));
    OKE(lstar_zarr_array_read_strings(a, 0, 3, &out, &e_));
    char item[16];
    assert_int_equal(out.n, 3);
    assert_string_equal(lstar_strings_get_cstr(&out, 0, item, sizeof item), "ab");
    assert_string_equal(lstar_strings_get_cstr(&out, 1, item, sizeof item), "abcd");
    assert_string_equal(lstar_strings_get_cstr(&out, 2, item, sizeof item), "");
    lstar_strings_destroy(&out);
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_array_open(z, "u", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_FIXED_UTF32);
    OKE(lstar_zarr_array_read_strings(a, 0, 2, &out, &e_));
    assert_string_equal(lstar_strings_get_cstr(&out, 0, item, sizeof item), "hi");
    assert_string_equal(lstar_strings_get_cstr(&out, 1, item, sizeof item), "\xc3\xa9");
    lstar_strings_destroy(&out);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* ---- strings ------------------------------------------------------------- */

static void strings_roundtrip(int fmt, const char *comp, int sharded) {
    lstar_store *s = mem_store();
    lstar_zarr *z = NULL;
    OKE(lstar_zarr_create(s, fmt, &z, &e_));
    const char *items[] = {"alpha", "", "γάμμα", "delta-delta-delta", "e", "zz", "x"};
    lstar_strings in, out;
    OKE(lstar_strings_from_cstrs(&in, items, 7, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = 7;
    spec.chunks[0] = 3;
    if (sharded) spec.shard[0] = 6;
    spec.dtype = LSTAR_DTYPE_STRING;
    spec.compression = comp;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_create(z, "s", &spec, &a, &e_));
    OKE(lstar_zarr_array_write_strings(a, &in, &e_));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    z = open_mem(s);
    OKE(lstar_zarr_array_open(z, "s", &a, &e_));
    assert_int_equal(lstar_zarr_array_dtype(a), LSTAR_DTYPE_STRING);
    OKE(lstar_zarr_array_read_strings(a, 0, 7, &out, &e_));
    assert_true(lstar_strings_equal(&in, &out));
    lstar_strings_destroy(&out);
    OKE(lstar_zarr_array_read_strings(a, 2, 3, &out, &e_));
    char item[64];
    assert_int_equal(out.n, 3);
    assert_string_equal(lstar_strings_get_cstr(&out, 0, item, sizeof item), "γάμμα");
    assert_string_equal(lstar_strings_get_cstr(&out, 2, item, sizeof item), "e");
    lstar_strings_destroy(&out);
    /* numeric reads are refused for strings */
    uint64_t st = 0, n = 1;
    char dummy[8];
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_array_read(a, &st, &n, dummy, &e), LSTAR_ERR_INVALID_ARG);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_strings_destroy(&in);
    lstar_store_close(s);
}

static void test_strings_vlen(void **state) {
    (void)state;
    strings_roundtrip(2, NULL, 0);
    strings_roundtrip(2, "zstd", 0);
    strings_roundtrip(2, "blosc:lz4:5:shuffle", 0);
    strings_roundtrip(3, NULL, 0);
    strings_roundtrip(3, "gzip:1", 0);
    strings_roundtrip(3, "zstd:0", 1);
}

static void test_strings_missing_chunk_and_fixed_write(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, ".zgroup", "{\"zarr_format\":2}");
    put_str(s, "o/.zarray",
            "{\"zarr_format\":2,\"shape\":[3],\"chunks\":[2],\"dtype\":\"|O\",\"compressor\":null,"
            "\"fill_value\":\"nan\",\"order\":\"C\",\"filters\":[{\"id\":\"vlen-utf8\"}]}");
    const uint8_t c1[] = {1, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'};
    put(s, "o/1", c1, sizeof c1);
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    lstar_strings out;
    char item[16];
    /* chunk 1 has one item although chunks=[2]: must fail */
    OKE(lstar_zarr_array_open(z, "o", &a, &e_));
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_array_read_strings(a, 0, 3, &out, &e), LSTAR_ERR_CORRUPT);
    OKE(lstar_zarr_array_read_strings(a, 0, 2, &out, &e_));
    assert_string_equal(lstar_strings_get_cstr(&out, 0, item, sizeof item), "nan");
    lstar_strings_destroy(&out);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);

    /* FIXED_BYTES write */
    s = mem_store();
    OKE(lstar_zarr_create(s, 2, &z, &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 1;
    spec.shape[0] = 3;
    spec.chunks[0] = 2;
    spec.dtype = LSTAR_DTYPE_FIXED_BYTES;
    spec.itemsize = 4;
    OKE(lstar_zarr_array_create(z, "fb", &spec, &a, &e_));
    const char *items[] = {"ab", "abcdef", ""};
    lstar_strings in;
    OKE(lstar_strings_from_cstrs(&in, items, 3, &e_));
    OKE(lstar_zarr_array_write_strings(a, &in, &e_));
    assert_string_equal(lstar_zarr_array_dtype_text(a), "|S4");
    OKE(lstar_zarr_array_read_strings(a, 0, 3, &out, &e_));
    assert_string_equal(lstar_strings_get_cstr(&out, 0, item, sizeof item), "ab");
    assert_string_equal(lstar_strings_get_cstr(&out, 1, item, sizeof item), "abcd");
    assert_string_equal(lstar_strings_get_cstr(&out, 2, item, sizeof item), "");
    lstar_strings_destroy(&out);
    lstar_strings_destroy(&in);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

/* ---- region reads --------------------------------------------------------- */

static void test_region_reads(void **state) {
    (void)state;
    for (int fmt = 2; fmt <= 3; fmt++)
        for (int sharded = 0; sharded <= (fmt == 3); sharded++) {
            lstar_store *s = mem_store();
            lstar_zarr *z = NULL;
            OKE(lstar_zarr_create(s, fmt, &z, &e_));
            uint64_t shape[3] = {9, 7, 5}, chunks[3] = {4, 3, 2}, shard[3] = {8, 6, 4};
            lstar_zarr_array *a = make_i32(z, "r", 3, shape, chunks, 0, 0, sharded ? shard : NULL);
            int32_t *full = malloc(sizeof(int32_t) * 315);
            for (int i = 0; i < 315; i++) full[i] = i * 3 - 100;
            OKE(lstar_zarr_array_write(a, full, &e_));
            lstar_zarr_array_close(a);
            lstar_zarr_close(z);
            z = open_mem(s);
            OKE(lstar_zarr_array_open(z, "r", &a, &e_));
            const uint64_t regions[][6] = {{0, 0, 0, 9, 7, 5}, {1, 2, 1, 5, 4, 3}, {8, 6, 4, 1, 1, 1},
                                           {3, 0, 0, 4, 7, 5}, {0, 3, 0, 9, 3, 2}, {2, 1, 3, 7, 6, 2},
                                           {4, 0, 0, 4, 7, 5}};
            for (size_t r = 0; r < sizeof regions / sizeof regions[0]; r++) {
                const uint64_t *st = regions[r], *cnt = regions[r] + 3;
                size_t n = (size_t)(cnt[0] * cnt[1] * cnt[2]);
                int32_t *got = malloc(sizeof(int32_t) * n);
                OKE(lstar_zarr_array_read(a, st, cnt, got, &e_));
                size_t o = 0;
                for (uint64_t i = 0; i < cnt[0]; i++)
                    for (uint64_t j = 0; j < cnt[1]; j++)
                        for (uint64_t k = 0; k < cnt[2]; k++)
                            assert_int_equal(got[o++], full[(st[0] + i) * 35 + (st[1] + j) * 5 + st[2] + k]);
                free(got);
            }
            /* out of range */
            uint64_t st[3] = {5, 0, 0}, cnt[3] = {5, 1, 1};
            int32_t x[5];
            lstar_error e;
            lstar_error_clear(&e);
            assert_int_equal(lstar_zarr_array_read(a, st, cnt, x, &e), LSTAR_ERR_INVALID_ARG);
            assert_string_equal(e.where, "r");
            /* the lstar_array backend */
            lstar_array *arr = NULL;
            OKE(lstar_array_from_zarr(a, &arr, &e_));
            assert_string_equal(lstar_array_kind(arr), "zarr");
            assert_true(lstar_array_zarr(arr) == a);
            assert_int_equal(lstar_array_get_info(arr)->block[1], 3);
            int32_t v[2];
            uint64_t s1[3] = {8, 6, 3}, c1[3] = {1, 1, 2};
            OKE(lstar_array_read(arr, s1, c1, v, &e_));
            assert_int_equal(v[0], full[8 * 35 + 6 * 5 + 3]);
            assert_int_equal(v[1], full[8 * 35 + 6 * 5 + 4]);
            lstar_array_free(arr);
            lstar_zarr_close(z);
            lstar_store_close(s);
            free(full);
        }
}

/* Hand-built shard: index at the start, one empty inner chunk, big-endian index. */
static void test_shard_index_start(void **state) {
    (void)state;
    lstar_store *s = mem_store();
    put_str(s, "zarr.json", "{\"zarr_format\":3,\"node_type\":\"group\"}");
    put_str(s, "sh/zarr.json",
            "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[5],\"data_type\":\"int16\","
            "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[6]}},"
            "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":9,"
            "\"codecs\":[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[2],"
            "\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}}],"
            "\"index_codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"big\"}}],"
            "\"index_location\":\"start\"}}]}");
    /* 3 inner chunks; index 48 bytes; chunk 2 stored first, chunk 1 empty, chunk 0 second */
    uint8_t obj[48 + 8];
    memset(obj, 0, sizeof obj);
    const int16_t ch2[2] = {40, 41}, ch0[2] = {10, 11};
    memcpy(obj + 48, ch2, 4);
    memcpy(obj + 52, ch0, 4);
    uint64_t idx[6] = {52, 4, UINT64_MAX, UINT64_MAX, 48, 4};
    for (int i = 0; i < 6; i++)
        for (int b = 0; b < 8; b++) obj[i * 8 + b] = (uint8_t)(idx[i] >> (8 * (7 - b)));
    put(s, "sh/c/0", obj, sizeof obj);
    lstar_zarr *z = open_mem(s);
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_array_open(z, "sh", &a, &e_));
    int16_t v[5];
    uint64_t st = 0, n = 5;
    OKE(lstar_zarr_array_read(a, &st, &n, v, &e_));
    const int16_t want[5] = {10, 11, 9, 9, 40};
    assert_memory_equal(v, want, sizeof want);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_matrix),
        cmocka_unit_test(test_roundtrip_sharded),
        cmocka_unit_test(test_chunk_keys),
        cmocka_unit_test(test_separators_missing_chunks),
        cmocka_unit_test(test_big_endian_v2),
        cmocka_unit_test(test_order_f_v2),
        cmocka_unit_test(test_transpose_big_endian_v3),
        cmocka_unit_test(test_v3_fill_values),
        cmocka_unit_test(test_v2_struct_and_fixed_strings),
        cmocka_unit_test(test_strings_vlen),
        cmocka_unit_test(test_strings_missing_chunk_and_fixed_write),
        cmocka_unit_test(test_region_reads),
        cmocka_unit_test(test_shard_index_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
