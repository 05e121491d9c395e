/* Hostile Zarr input: one test per defect.  Each must fail with the right
 * status (and where/message), never crash, never leak (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/store.h"
#include "lstar/zarr.h"


#define V2_GROUP "{\"zarr_format\":2}"
#define V3_GROUP "{\"zarr_format\":3,\"node_type\":\"group\"}"

static lstar_store *store_with(const char *root_key, const char *root_doc) {
    lstar_store *s = NULL;
    OKE(lstar_store_new_memory(&s, &e_));
    if (root_key) OKE(lstar_store_set(s, root_key, root_doc, strlen(root_doc), &e_));
    return s;
}

static void put(lstar_store *s, const char *key, const void *data, size_t n) {
    OKE(lstar_store_set(s, key, data, n, &e_));
}

static void put_str(lstar_store *s, const char *key, const char *text) { put(s, key, text, strlen(text)); }

/* Open array `path` of a store and expect `want`; returns the error record. */
static lstar_error expect_open_fails(lstar_store *s, const char *path, lstar_status want) {
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    OKE(lstar_zarr_open(s, &z, &e_));
    lstar_status st = lstar_zarr_array_open(z, path, &a, &e);
    if (st != want)
        fail_msg("open %s: got %s (%s), wanted %s", path, lstar_status_name(st), e.message, lstar_status_name(want));
    assert_null(a);
    assert_string_equal(e.where, path);
    lstar_zarr_close(z);
    return e;
}

/* Open (must succeed) and read everything; expect the read to fail with `want`. */
static lstar_error expect_read_fails(lstar_store *s, const char *path, lstar_status want) {
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    OKE(lstar_zarr_open(s, &z, &e_));
    OKE(lstar_zarr_array_open(z, path, &a, &e_));
    uint64_t n = lstar_zarr_array_shape(a)[0], st0 = 0;
    lstar_status st;
    if (lstar_zarr_array_dtype(a) == LSTAR_DTYPE_STRING) {
        lstar_strings out;
        st = lstar_zarr_array_read_strings(a, 0, n, &out, &e);
        if (st == LSTAR_OK) lstar_strings_destroy(&out);
    } else {
        uint8_t buf[4096];
        assert_true(n * lstar_zarr_array_itemsize(a) <= sizeof buf);
        st = lstar_zarr_array_read(a, &st0, &n, buf, &e);
    }
    if (st != want)
        fail_msg("read %s: got %s (%s), wanted %s", path, lstar_status_name(st), e.message, lstar_status_name(want));
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    return e;
}

#define ZARRAY_V2(shape, chunks, dtype, comp, filters)                                                        \
    "{\"zarr_format\":2,\"shape\":" shape ",\"chunks\":" chunks ",\"dtype\":" dtype ",\"compressor\":" comp      \
    ",\"fill_value\":0,\"order\":\"C\",\"filters\":" filters "}"

#define ZARR_V3(shape, chunks, dtype, codecs)                                                                 \
    "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":" shape ",\"data_type\":" dtype                        \
    ",\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":" chunks "}},"                   \
    "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":0,\"codecs\":" codecs "}"

/* ---- hierarchy / metadata ------------------------------------------------ */

static void test_empty_store_is_not_zarr(void **state) {
    (void)state;
    lstar_store *s = store_with(NULL, NULL);
    lstar_zarr *z = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_open(s, &z, &e), LSTAR_ERR_FORMAT);
    assert_null(z);
    lstar_store_close(s);
}

static void test_corrupt_zarray_json(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", "{\"zarr_format\":2,\"shape\":[3],");
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    OKE(lstar_zarr_open(s, &z, &e_));
    assert_int_equal(lstar_zarr_array_open(z, "a", &a, &e), LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, "a/.zarray");
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_corrupt_root_zarr_json(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", "[1,2");
    lstar_zarr *z = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_open(s, &z, &e), LSTAR_ERR_FORMAT);
    lstar_store_close(s);
    s = store_with("zarr.json", "{\"zarr_format\":2}");
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_open(s, &z, &e), LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_corrupt_zmetadata(void **state) {
    (void)state;
    lstar_store *s = store_with(".zmetadata", "{\"metadata\": 5}");
    lstar_zarr *z = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_zarr_open(s, &z, &e), LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, ".zmetadata");
    lstar_store_close(s);
}

static void test_zarray_not_an_object(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", "[]");
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_missing_shape_key(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray",
            "{\"zarr_format\":2,\"chunks\":[2],\"dtype\":\"<i4\",\"compressor\":null,\"fill_value\":0,"
            "\"order\":\"C\",\"filters\":null}");
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    assert_non_null(strstr(e.message, "shape"));
    lstar_store_close(s);
}

static void test_missing_compressor_key(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":\"<i4\",\"fill_value\":0,"
            "\"order\":\"C\",\"filters\":null}");
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    assert_non_null(strstr(e.message, "compressor"));
    lstar_store_close(s);
}

static void test_missing_v3_codecs(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[2],\"data_type\":\"int8\","
            "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[2]}},"
            "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":0}");
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_negative_shape(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[-3]", "[2]", "\"<i4\"", "null", "null"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_zero_chunk(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[3]", "[0]", "\"<i4\"", "null", "null"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_shape_rank_mismatch(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[3,3]", "[2]", "\"<i4\"", "null", "null"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_absurd_shape_overflows(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray",
            ZARRAY_V2("[4611686018427387904,4611686018427387904]", "[1,1]", "\"<f8\"", "null", "null"));
    expect_open_fails(s, "a", LSTAR_ERR_LIMIT);
    lstar_store_close(s);
}

static void test_rank_over_limit(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    char shape[256] = "[";
    for (int i = 0; i < 33; i++) strcat(shape, i ? ",1" : "1");
    strcat(shape, "]");
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"zarr_format\":2,\"shape\":%s,\"chunks\":%s,\"dtype\":\"<i4\",\"compressor\":null,"
             "\"fill_value\":0,\"order\":\"C\",\"filters\":null}",
             shape, shape);
    put_str(s, "a/.zarray", doc);
    expect_open_fails(s, "a", LSTAR_ERR_LIMIT);
    lstar_store_close(s);
}

static void test_chunk_size_over_limit(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[100000,100000]", "[100000,100000]", "\"<f8\"", "null", "null"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_LIMIT);
    assert_non_null(strstr(e.message, "limit"));
    lstar_store_close(s);
}

static void test_shard_too_many_inner_chunks(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            ZARR_V3("[1000000000]", "[1000000000]", "\"uint8\"",
                    "[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[1],"
                    "\"codecs\":[\"bytes\"],\"index_codecs\":[\"bytes\",\"crc32c\"]}}]"));
    expect_open_fails(s, "a", LSTAR_ERR_LIMIT);
    lstar_store_close(s);
}

static void test_unknown_codec_named_v3(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "grp/zarr.json", V3_GROUP);
    put_str(s, "grp/a/zarr.json",
            ZARR_V3("[4]", "[4]", "\"int32\"", "[\"bytes\",{\"name\":\"frobnicate-9\",\"configuration\":{}}]"));
    lstar_error e = expect_open_fails(s, "grp/a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "\"frobnicate-9\""));
    lstar_store_close(s);
}

static void test_unknown_codec_must_understand_false(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            ZARR_V3("[4]", "[4]", "\"int32\"",
                    "[\"bytes\",{\"name\":\"frobnicate-9\",\"must_understand\":false}]"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "frobnicate-9"));
    lstar_store_close(s);
}

static void test_unknown_compressor_named_v2(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[4]", "[4]", "\"<i4\"", "{\"id\":\"snappy-x\"}", "null"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "\"snappy-x\""));
    lstar_store_close(s);
}

static void test_unknown_object_codec(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[4]", "[4]", "\"|O\"", "null", "[{\"id\":\"msgpack2\"}]"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "msgpack2"));
    lstar_store_close(s);
}

static void test_object_dtype_without_filter(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[4]", "[4]", "\"|O\"", "null", "null"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "|O"));
    lstar_store_close(s);
}

static void test_unknown_dtype_v2(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[4]", "[4]", "\"<M8[ns]\"", "null", "null"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "\"<M8[ns]\""));
    lstar_store_close(s);
}

static void test_unknown_dtype_v3(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", ZARR_V3("[4]", "[4]", "\"float8_e4m3\"", "[\"bytes\"]"));
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "\"float8_e4m3\""));
    lstar_store_close(s);
}

static void test_unknown_metadata_field_must_understand(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[2],\"data_type\":\"int8\","
            "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[2]}},"
            "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":0,\"codecs\":[\"bytes\"],"
            "\"x-ext\":{\"name\":\"x-ext\"},\"y-ext\":{\"name\":\"y\",\"must_understand\":false}}");
    lstar_error e = expect_open_fails(s, "a", LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "x-ext"));
    lstar_store_close(s);
}

static void test_transpose_not_a_permutation(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            ZARR_V3("[2,2]", "[2,2]", "\"int8\"",
                    "[{\"name\":\"transpose\",\"configuration\":{\"order\":[0,0]}},\"bytes\"]"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_no_array_to_bytes_codec(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", ZARR_V3("[2]", "[2]", "\"int8\"", "[{\"name\":\"gzip\",\"configuration\":{\"level\":1}}]"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_bad_order(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":\"<i4\",\"compressor\":null,"
            "\"fill_value\":0,\"order\":\"K\",\"filters\":null}");
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_bad_fill_value(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray",
            "{\"zarr_format\":2,\"shape\":[2],\"chunks\":[2],\"dtype\":\"<i4\",\"compressor\":null,"
            "\"fill_value\":\"banana\",\"order\":\"C\",\"filters\":null}");
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

static void test_shard_inner_chunk_not_dividing(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            ZARR_V3("[10]", "[10]", "\"int8\"",
                    "[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[3],"
                    "\"codecs\":[\"bytes\"],\"index_codecs\":[\"bytes\",\"crc32c\"]}}]"));
    expect_open_fails(s, "a", LSTAR_ERR_FORMAT);
    lstar_store_close(s);
}

/* ---- chunk data ---------------------------------------------------------- */

static void test_truncated_compressed_chunk(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[64]", "[64]", "\"<i4\"", "{\"id\":\"zlib\",\"level\":1}", "null"));
    /* compress a real chunk, store only half of it */
    lstar_codec *c = NULL;
    OKE(lstar_codec_from_spec("zlib:1", LSTAR_DTYPE_INT32, 4, &c, &e_));
    int32_t v[64];
    for (int i = 0; i < 64; i++) v[i] = i * 7919;
    uint8_t *enc = NULL;
    size_t n = 0;
    OKE(lstar_codec_encode(c, v, sizeof v, &enc, &n, &e_));
    put(s, "a/0", enc, n / 2);
    lstar_free(enc);
    lstar_codec_free(c);
    lstar_error e = expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    assert_string_equal(e.where, "a");
    lstar_store_close(s);
}

static void test_uncompressed_chunk_wrong_size(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", ZARRAY_V2("[4]", "[4]", "\"<i4\"", "null", "null"));
    put(s, "a/0", "0123456789", 10);
    lstar_error e = expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    assert_string_equal(e.where, "a");
    lstar_store_close(s);
}

static void test_chunk_decodes_to_wrong_size(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            ZARR_V3("[4]", "[4]", "\"int32\"", "[\"bytes\",{\"name\":\"zstd\",\"configuration\":{\"level\":1}}]"));
    lstar_codec *c = NULL;
    OKE(lstar_codec_from_spec("zstd:1", LSTAR_DTYPE_INT32, 4, &c, &e_));
    int32_t v[5] = {1, 2, 3, 4, 5}; /* one element too many */
    uint8_t *enc = NULL;
    size_t n = 0;
    OKE(lstar_codec_encode(c, v, sizeof v, &enc, &n, &e_));
    put(s, "a/c/0", enc, n);
    lstar_free(enc);
    lstar_codec_free(c);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

static void test_crc32c_chunk_mismatch(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", ZARR_V3("[2]", "[2]", "\"int16\"", "[\"bytes\",\"crc32c\"]"));
    const uint8_t chunk[8] = {1, 0, 2, 0, 0xde, 0xad, 0xbe, 0xef};
    put(s, "a/c/0", chunk, sizeof chunk);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

#define SHARD_META                                                                                            \
    ZARR_V3("[4]", "[4]", "\"int16\"",                                                                        \
            "[{\"name\":\"sharding_indexed\",\"configuration\":{\"chunk_shape\":[2],"                          \
            "\"codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}}],"                    \
            "\"index_codecs\":[{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}},\"crc32c\"],"   \
            "\"index_location\":\"end\"}}]")

/* A valid 2-chunk shard: 8 data bytes + 32-byte index + crc. */
static void make_shard(uint8_t *obj, uint64_t off1) {
    const int16_t d[4] = {1, 2, 3, 4};
    memcpy(obj, d, 8);
    uint64_t idx[4] = {0, 4, off1, 4};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++) obj[8 + i * 8 + b] = (uint8_t)(idx[i] >> (8 * b));
    uint32_t crc = lstar_crc32c(0, obj + 8, 32);
    for (int b = 0; b < 4; b++) obj[40 + b] = (uint8_t)(crc >> (8 * b));
}

static void test_shard_valid_control(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    uint8_t obj[44];
    make_shard(obj, 4);
    put(s, "a/c/0", obj, sizeof obj);
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_open(s, &z, &e_));
    OKE(lstar_zarr_array_open(z, "a", &a, &e_));
    int16_t v[4];
    uint64_t st = 0, n = 4;
    OKE(lstar_zarr_array_read(a, &st, &n, v, &e_));
    assert_int_equal(v[3], 4);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
}

static void test_shard_index_crc_mismatch(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    uint8_t obj[44];
    make_shard(obj, 4);
    obj[9] ^= 0x40; /* flip an index bit */
    put(s, "a/c/0", obj, sizeof obj);
    lstar_error e = expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "checksum"));
    assert_string_equal(e.where, "a/c/0");
    lstar_store_close(s);
}

static void test_shard_offsets_outside_object(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    uint8_t obj[44];
    make_shard(obj, 1000000); /* valid CRC, offset beyond the 44-byte object */
    put(s, "a/c/0", obj, sizeof obj);
    lstar_error e = expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "outside"));
    lstar_store_close(s);
}

static void test_shard_offset_overflow(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    uint8_t obj[44];
    make_shard(obj, UINT64_MAX - 2); /* offset + nbytes wraps around */
    put(s, "a/c/0", obj, sizeof obj);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

static void test_shard_smaller_than_index(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    put(s, "a/c/0", "tiny", 4);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

static void test_shard_inner_chunk_wrong_size(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json", SHARD_META);
    uint8_t obj[44];
    make_shard(obj, 4);
    /* entry 1: nbytes 3 instead of 4 (recompute the CRC) */
    obj[8 + 24] = 3;
    uint32_t crc = lstar_crc32c(0, obj + 8, 32);
    for (int b = 0; b < 4; b++) obj[40 + b] = (uint8_t)(crc >> (8 * b));
    put(s, "a/c/0", obj, sizeof obj);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

#define VLEN_META ZARRAY_V2("[2]", "[2]", "\"|O\"", "null", "[{\"id\":\"vlen-utf8\"}]")

static void test_vlen_lying_length(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", VLEN_META);
    const uint8_t c[] = {2, 0, 0, 0, 1, 0, 0, 0, 'x', 0xff, 0xff, 0xff, 0x7f, 'y'};
    put(s, "a/0", c, sizeof c);
    lstar_error e = expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    assert_string_equal(e.where, "a");
    lstar_store_close(s);
}

static void test_vlen_item_count_mismatch(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", VLEN_META);
    const uint8_t c[] = {0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 'x'};
    put(s, "a/0", c, sizeof c);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

static void test_vlen_truncated_header(void **state) {
    (void)state;
    lstar_store *s = store_with(".zgroup", V2_GROUP);
    put_str(s, "a/.zarray", VLEN_META);
    const uint8_t c[] = {2, 0, 0, 0, 1, 0, 0, 0, 'x', 0};
    put(s, "a/0", c, sizeof c);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    put(s, "a/0", c, 2);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

static void test_vlen_v3_lying_length_after_zstd(void **state) {
    (void)state;
    lstar_store *s = store_with("zarr.json", V3_GROUP);
    put_str(s, "a/zarr.json",
            "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[1],\"data_type\":\"string\","
            "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[1]}},"
            "\"chunk_key_encoding\":{\"name\":\"default\"},\"fill_value\":\"\","
            "\"codecs\":[{\"name\":\"vlen-utf8\",\"configuration\":{}},{\"name\":\"zstd\",\"configuration\":{\"level\":0}}]}");
    const uint8_t raw[] = {1, 0, 0, 0, 100, 0, 0, 0, 'a', 'b'};
    lstar_codec *c = NULL;
    OKE(lstar_codec_from_spec("zstd", LSTAR_DTYPE_UINT8, 1, &c, &e_));
    uint8_t *enc = NULL;
    size_t n = 0;
    OKE(lstar_codec_encode(c, raw, sizeof raw, &enc, &n, &e_));
    put(s, "a/c/0", enc, n);
    lstar_free(enc);
    lstar_codec_free(c);
    expect_read_fails(s, "a", LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_store_is_not_zarr),
        cmocka_unit_test(test_corrupt_zarray_json),
        cmocka_unit_test(test_corrupt_root_zarr_json),
        cmocka_unit_test(test_corrupt_zmetadata),
        cmocka_unit_test(test_zarray_not_an_object),
        cmocka_unit_test(test_missing_shape_key),
        cmocka_unit_test(test_missing_compressor_key),
        cmocka_unit_test(test_missing_v3_codecs),
        cmocka_unit_test(test_negative_shape),
        cmocka_unit_test(test_zero_chunk),
        cmocka_unit_test(test_shape_rank_mismatch),
        cmocka_unit_test(test_absurd_shape_overflows),
        cmocka_unit_test(test_rank_over_limit),
        cmocka_unit_test(test_chunk_size_over_limit),
        cmocka_unit_test(test_shard_too_many_inner_chunks),
        cmocka_unit_test(test_unknown_codec_named_v3),
        cmocka_unit_test(test_unknown_codec_must_understand_false),
        cmocka_unit_test(test_unknown_compressor_named_v2),
        cmocka_unit_test(test_unknown_object_codec),
        cmocka_unit_test(test_object_dtype_without_filter),
        cmocka_unit_test(test_unknown_dtype_v2),
        cmocka_unit_test(test_unknown_dtype_v3),
        cmocka_unit_test(test_unknown_metadata_field_must_understand),
        cmocka_unit_test(test_transpose_not_a_permutation),
        cmocka_unit_test(test_no_array_to_bytes_codec),
        cmocka_unit_test(test_bad_order),
        cmocka_unit_test(test_bad_fill_value),
        cmocka_unit_test(test_shard_inner_chunk_not_dividing),
        cmocka_unit_test(test_truncated_compressed_chunk),
        cmocka_unit_test(test_uncompressed_chunk_wrong_size),
        cmocka_unit_test(test_chunk_decodes_to_wrong_size),
        cmocka_unit_test(test_crc32c_chunk_mismatch),
        cmocka_unit_test(test_shard_valid_control),
        cmocka_unit_test(test_shard_index_crc_mismatch),
        cmocka_unit_test(test_shard_offsets_outside_object),
        cmocka_unit_test(test_shard_offset_overflow),
        cmocka_unit_test(test_shard_smaller_than_index),
        cmocka_unit_test(test_shard_inner_chunk_wrong_size),
        cmocka_unit_test(test_vlen_lying_length),
        cmocka_unit_test(test_vlen_item_count_mismatch),
        cmocka_unit_test(test_vlen_truncated_header),
        cmocka_unit_test(test_vlen_v3_lying_length_after_zstd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
