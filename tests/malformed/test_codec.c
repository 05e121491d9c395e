/* Hostile-input tests for the codecs: one test per defect.  Every decode must fail with the documented
 * status (LSTAR_ERR_CORRUPT for bad bytes, LSTAR_ERR_LIMIT for output above the caller's bound), never
 * crash, and never allocate more than the caller's bound because the bytes said so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <zstd.h>

#include "codec/codec_internal.h"
#include "lstar/lstar.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

/* Allocator that records the largest single request made through lstar_malloc/lstar_realloc. */
static size_t g_largest = 0;
static void *track_malloc(void *ud, size_t n) {
    (void)ud;
    if (n > g_largest) g_largest = n;
    return malloc(n ? n : 1);
}
static void *track_realloc(void *ud, void *p, size_t n) {
    (void)ud;
    if (n > g_largest) g_largest = n;
    return realloc(p, n ? n : 1);
}
static void track_free(void *ud, void *p) {
    (void)ud;
    free(p);
}
static const lstar_allocator tracker = {track_malloc, track_realloc, track_free, NULL};

static int setup(void **state) {
    (void)state;
    g_largest = 0;
    lstar_set_allocator(&tracker);
    return 0;
}
static int teardown(void **state) {
    (void)state;
    lstar_set_allocator(NULL);
    return 0;
}

static lstar_codec *mk(const char *json) {
    lstar_codec *c = NULL;
    lstar_error e = {0};
    if (lstar_codec_from_json(json, LSTAR_DTYPE_INT32, 0, &c, &e) != LSTAR_OK) fail_msg("%s: %s", json, e.message);
    return c;
}

static uint8_t *data(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * 7) ^ (i >> 5));
    return p;
}

static uint8_t *enc(const lstar_codec *c, const uint8_t *d, size_t n, size_t *en) {
    uint8_t *o = NULL;
    assert_int_equal(lstar_codec_encode(c, d, n, &o, en, NULL), LSTAR_OK);
    return o;
}

/* Decode with a known size and with an unknown size; both must fail with `st` and return nothing. */
static void expect_fail(const lstar_codec *c, const uint8_t *in, size_t n, size_t expected, lstar_status st_known,
                        lstar_status st_unknown, size_t max_size) {
    uint8_t *out = (uint8_t *)1;
    size_t outn = 99;
    lstar_error e = {0};
    if (st_known != LSTAR_OK) {
        lstar_status st = lstar_codec_decode(c, in, n, expected, 0, &out, &outn, &e);
        if (st != st_known)
            fail_msg("%s known-size decode of %zu bytes: %s (%s)", lstar_codec_id(c), n, lstar_status_name(st),
                     e.message);
        assert_null(out);
        assert_int_equal(outn, 0);
        assert_int_equal(e.status, st_known);
        assert_true(e.message[0] != '\0');
    }
    if (st_unknown != LSTAR_OK) {
        lstar_error_clear(&e);
        lstar_status st = lstar_codec_decode(c, in, n, 0, max_size, &out, &outn, &e);
        if (st != st_unknown)
            fail_msg("%s unknown-size decode of %zu bytes: %s (%s)", lstar_codec_id(c), n, lstar_status_name(st),
                     e.message);
        assert_null(out);
        assert_int_equal(outn, 0);
    }
}

/* A codec and the encoding of data(n) with it. */
typedef struct sample {
    lstar_codec *c;
    uint8_t *d, *e; /* the n input bytes, their en-byte encoding */
    size_t n, en;
} sample;

static sample encode_sample(const char *json, size_t n) {
    sample x = {mk(json), data(n), NULL, n, 0};
    x.e = enc(x.c, x.d, n, &x.en);
    return x;
}

static void sample_free(sample *x) {
    lstar_free(x->e);
    free(x->d);
    lstar_codec_free(x->c);
}

/* A valid encoding of n bytes followed by `junk` is corrupt. */
static void expect_garbage_fails(const char *json, size_t n, const char *junk) {
    sample x = encode_sample(json, n);
    size_t jn = strlen(junk);
    uint8_t *g = malloc(x.en + jn);
    memcpy(g, x.e, x.en);
    memcpy(g + x.en, junk, jn);
    expect_fail(x.c, g, x.en + jn, n, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    free(g);
    sample_free(&x);
}

/* A valid encoding of n bytes with byte `from_end` (counted from the end, 1 = last) xor-ed with `mask` is
 * corrupt. */
static void expect_flip_fails(const char *json, size_t n, size_t from_end, uint8_t mask) {
    sample x = encode_sample(json, n);
    x.e[x.en - from_end] ^= mask;
    expect_fail(x.c, x.e, x.en, n, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    sample_free(&x);
}

/* Every proper prefix of a valid encoding is corrupt. */
static void truncations(const char *json, size_t n) {
    sample x = encode_sample(json, n);
    for (size_t cut = 0; cut < x.en; cut += (cut < 64 || x.en - cut < 64) ? 1 : 97)
        expect_fail(x.c, x.e, cut, n, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    sample_free(&x);
}

/* ---- truncated streams ------------------------------------------------------------------------- */

static void test_zlib_truncated_stream(void **state) {
    (void)state;
    truncations("{\"id\":\"zlib\",\"level\":6}", 20000);
}
static void test_gzip_truncated_stream(void **state) {
    (void)state;
    truncations("{\"id\":\"gzip\",\"level\":6}", 20000);
}
static void test_zstd_truncated_frame(void **state) {
    (void)state;
    truncations("{\"id\":\"zstd\",\"level\":3,\"checksum\":true}", 20000);
}
static void test_blosc_truncated_frame(void **state) {
    (void)state;
    truncations("{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1}", 20000);
    truncations("{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":5,\"shuffle\":2}", 20000);
}
static void test_lz4_truncated_block(void **state) {
    (void)state;
    truncations("{\"id\":\"lz4\"}", 20000);
}
static void test_checksum_shorter_than_4_bytes(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"name\":\"crc32c\"}");
    lstar_codec *f = mk("{\"id\":\"fletcher32\"}");
    for (size_t n = 0; n < 4; n++) {
        expect_fail(c, (const uint8_t *)"abc", n, 1, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
        expect_fail(f, (const uint8_t *)"abc", n, 1, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    }
    lstar_codec_free(c);
    lstar_codec_free(f);
}

/* ---- sizes that lie ---------------------------------------------------------------------------- */

/* A zstd frame header declaring 2^40 decoded bytes followed by one tiny raw block. */
static void test_zstd_huge_declared_content_size(void **state) {
    (void)state;
    const uint8_t frame[] = {
        0x28, 0xB5, 0x2F, 0xFD, /* magic */
        0xE0,                   /* FHD: FCS field 8 bytes, single segment */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, /* content size 2^40 */
        0x19, 0x00, 0x00, /* last block, raw, size 3 */
        'a',  'b',  'c',
    };
    lstar_codec *c = mk("{\"id\":\"zstd\"}");
    assert_int_equal(ZSTD_getFrameContentSize(frame, sizeof frame), 1ull << 40);
    g_largest = 0;
    expect_fail(c, frame, sizeof frame, 3, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    assert_true(g_largest < 4096); /* nothing sized from the header */
    lstar_codec_free(c);
}

/* A frame declaring 1 MiB (plausible for its size) when the caller allows 64 KiB. */
static void test_zstd_declared_size_above_max(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"id\":\"zstd\"}");
    uint8_t *z = calloc(1, 1 << 20);
    size_t en = 0;
    uint8_t *e = enc(c, z, 1 << 20, &en);
    g_largest = 0;
    expect_fail(c, e, en, 1000, LSTAR_ERR_CORRUPT, LSTAR_ERR_LIMIT, 65536);
    assert_true(g_largest <= 65536 + 1);
    lstar_free(e);
    free(z);
    lstar_codec_free(c);
}

/* No content size in the frame (streaming encoder) and more output than the caller allows. */
static void test_zstd_unsized_frame_overflows_max(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"id\":\"zstd\"}");
    size_t n = 1 << 20;
    uint8_t *z = calloc(1, n);
    size_t cap = ZSTD_compressBound(n);
    uint8_t *f = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer ib = {z, n, 0};
    ZSTD_outBuffer ob = {f, cap, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    expect_fail(c, f, ob.pos, n - 1, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
    g_largest = 0;
    expect_fail(c, f, ob.pos, 0, LSTAR_OK, LSTAR_ERR_LIMIT, 100000);
    assert_true(g_largest <= 100001);
    /* and a known size one byte too small is corrupt, not an overflow */
    uint8_t *buf = malloc(n);
    assert_int_equal(lstar_codec_decode_into(c, f, ob.pos, buf, n - 1, NULL), LSTAR_ERR_CORRUPT);
    assert_int_equal(lstar_codec_decode_into(c, f, ob.pos, buf, n, NULL), LSTAR_OK);
    free(buf);
    free(f);
    free(z);
    lstar_codec_free(c);
}

static void test_zstd_garbage_after_frame(void **state) {
    (void)state;
    expect_garbage_fails("{\"id\":\"zstd\"}", 1000, "JUNK!");
}

static void test_zstd_checksum_mismatch(void **state) {
    (void)state;
    /* the 4-byte content checksum ends the frame */
    expect_flip_fails("{\"id\":\"zstd\",\"checksum\":true}", 1000, 1, 0x55);
}

static void test_blosc_nbytes_above_expected(void **state) {
    (void)state;
    sample x = encode_sample("{\"id\":\"blosc\",\"cname\":\"lz4\"}", 4000);
    /* header says 4000; the caller expects 1000 */
    expect_fail(x.c, x.e, x.en, 1000, LSTAR_ERR_CORRUPT, LSTAR_ERR_LIMIT, 1000);
    /* header rewritten to claim 1 GiB */
    x.e[4] = 0;
    x.e[5] = 0;
    x.e[6] = 0;
    x.e[7] = 0x40;
    expect_fail(x.c, x.e, x.en, 4000, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
    /* 1 GiB from 4 KB is beyond any inner compressor's ratio: corrupt, whatever the caller's bound */
    g_largest = 0;
    expect_fail(x.c, x.e, x.en, 0, LSTAR_OK, LSTAR_ERR_CORRUPT, 0);
    assert_true(g_largest < 4096);
    sample_free(&x);
}

static void test_blosc_cbytes_above_input(void **state) {
    (void)state;
    sample x = encode_sample("{\"id\":\"blosc\",\"cname\":\"lz4\"}", 4000);
    uint32_t cb = (uint32_t)x.en + 100;
    x.e[12] = (uint8_t)cb;
    x.e[13] = (uint8_t)(cb >> 8);
    x.e[14] = (uint8_t)(cb >> 16);
    x.e[15] = (uint8_t)(cb >> 24);
    expect_fail(x.c, x.e, x.en, 4000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    sample_free(&x);
}

static void test_blosc_bad_block_offsets(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":1024}");
    uint8_t *d = calloc(1, 8000);
    for (size_t i = 0; i < 8000; i += 100) d[i] = (uint8_t)i;
    size_t en = 0;
    uint8_t *e = enc(c, d, 8000, &en);
    assert_false(e[2] & 0x2); /* compressed, so block starts follow the header */
    /* first block start points past the end of the buffer */
    e[16] = 0xff;
    e[17] = 0xff;
    e[18] = 0xff;
    e[19] = 0x7f;
    expect_fail(c, e, en, 8000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    lstar_free(e);
    free(d);
    lstar_codec_free(c);
}

static void test_lz4_size_prefix_lies(void **state) {
    (void)state;
    sample x = encode_sample("{\"id\":\"lz4\"}", 5000);
    /* prefix one larger than the real block: known size 5001 and unknown size both corrupt */
    x.e[0] = (uint8_t)(5001 & 0xff);
    x.e[1] = (uint8_t)(5001 >> 8);
    expect_fail(x.c, x.e, x.en, 5001, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    /* prefix smaller than the real block */
    x.e[0] = (uint8_t)(4000 & 0xff);
    x.e[1] = (uint8_t)(4000 >> 8);
    expect_fail(x.c, x.e, x.en, 4000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    /* prefix disagrees with the caller */
    x.e[0] = (uint8_t)(5000 & 0xff);
    x.e[1] = (uint8_t)(5000 >> 8);
    expect_fail(x.c, x.e, x.en, 4999, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
    /* prefix claiming 4 GiB - 1: impossible for the block size, rejected before allocating */
    x.e[0] = x.e[1] = x.e[2] = x.e[3] = 0xff;
    expect_fail(x.c, x.e, x.en, 5000, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
    g_largest = 0;
    expect_fail(x.c, x.e, x.en, 0, LSTAR_OK, LSTAR_ERR_CORRUPT, 0);
    assert_true(g_largest < 4096);
    sample_free(&x);
}

static void test_lz4_prefix_above_max(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"id\":\"lz4\"}");
    uint8_t *z = calloc(1, 200000);
    size_t en = 0;
    uint8_t *e = enc(c, z, 200000, &en);
    g_largest = 0;
    expect_fail(c, e, en, 1, LSTAR_ERR_CORRUPT, LSTAR_ERR_LIMIT, 100000);
    assert_true(g_largest < 4096);
    lstar_free(e);
    free(z);
    lstar_codec_free(c);
}

/* ---- compression bombs ------------------------------------------------------------------------- */

static void deflate_bomb(const char *json) {
    lstar_codec *c = mk(json);
    size_t n = 8 << 20;
    uint8_t *z = calloc(1, n);
    size_t en = 0;
    uint8_t *e = enc(c, z, n, &en);
    assert_true(en < n / 500);
    g_largest = 0;
    expect_fail(c, e, en, 1 << 20, LSTAR_ERR_CORRUPT, LSTAR_ERR_LIMIT, 1 << 20);
    assert_true(g_largest <= (1u << 20) + 1);
    lstar_free(e);
    free(z);
    lstar_codec_free(c);
}
static void test_zlib_bomb_above_max(void **state) {
    (void)state;
    deflate_bomb("{\"id\":\"zlib\",\"level\":9}");
}
static void test_gzip_bomb_above_max(void **state) {
    (void)state;
    deflate_bomb("{\"id\":\"gzip\",\"level\":9}");
}

/* ---- corrupt payloads -------------------------------------------------------------------------- */

static void test_zlib_bad_adler32(void **state) {
    (void)state;
    expect_flip_fails("{\"id\":\"zlib\"}", 3000, 1, 1);
}

static void test_gzip_bad_crc32(void **state) {
    (void)state;
    /* CRC32 precedes ISIZE in the trailer */
    expect_flip_fails("{\"id\":\"gzip\"}", 3000, 8, 1);
}

static void test_gzip_trailing_garbage(void **state) {
    (void)state;
    expect_garbage_fails("{\"id\":\"gzip\"}", 3000, "xyz");
}

static void test_crc32c_mismatch(void **state) {
    (void)state;
    sample x = encode_sample("{\"name\":\"crc32c\"}", 1000);
    x.e[500] ^= 0x10; /* data bit */
    expect_fail(x.c, x.e, x.en, 1000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    x.e[500] ^= 0x10;
    x.e[x.en - 2] ^= 0x01; /* checksum bit */
    expect_fail(x.c, x.e, x.en, 1000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    sample_free(&x);
}

static void test_fletcher32_mismatch(void **state) {
    (void)state;
    sample x = encode_sample("{\"id\":\"fletcher32\"}", 1001);
    x.e[1000] ^= 0x80; /* the odd trailing byte counts */
    expect_fail(x.c, x.e, x.en, 1001, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    x.e[1000] ^= 0x80;
    x.e[x.en - 4] ^= 0x01;
    expect_fail(x.c, x.e, x.en, 1001, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    /* a byte-swapped (pre-HDF5-1.6.3) checksum is not accepted either */
    x.e[x.en - 4] ^= 0x01;
    uint8_t t0 = x.e[x.en - 4], t1 = x.e[x.en - 3];
    x.e[x.en - 4] = x.e[x.en - 2];
    x.e[x.en - 3] = x.e[x.en - 1];
    x.e[x.en - 2] = t0;
    x.e[x.en - 1] = t1;
    expect_fail(x.c, x.e, x.en, 1001, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    sample_free(&x);
}

/* ---- size disagreements ------------------------------------------------------------------------ */

static void test_expected_size_mismatch(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\"}",    "{\"id\":\"gzip\"}",    "{\"id\":\"zstd\"}",   "{\"id\":\"blosc\"}",
        "{\"id\":\"lz4\"}",     "{\"id\":\"shuffle\"}", "{\"id\":\"crc32c\"}", "{\"id\":\"fletcher32\"}",
        "{\"id\":\"delta\"}",
    };
    uint8_t *d = data(4096);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        lstar_codec *c = mk(configs[i]);
        size_t en = 0;
        uint8_t *e = enc(c, d, 4096, &en);
        expect_fail(c, e, en, 4092, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
        expect_fail(c, e, en, 4100, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
        expect_fail(c, e, en, 1, LSTAR_ERR_CORRUPT, LSTAR_OK, 0);
        lstar_free(e);
        lstar_codec_free(c);
    }
    free(d);
}

static void test_delta_partial_element(void **state) {
    (void)state;
    lstar_codec *c = mk("{\"id\":\"delta\",\"dtype\":\"<i8\"}");
    uint8_t buf[13] = {0};
    expect_fail(c, buf, 13, 13, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
    lstar_codec_free(c);
}

/* ---- garbage ----------------------------------------------------------------------------------- */

static void test_garbage_input(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\"}", "{\"id\":\"gzip\"}",   "{\"id\":\"zstd\"}",       "{\"id\":\"blosc\"}",
        "{\"id\":\"lz4\"}",  "{\"id\":\"crc32c\"}", "{\"id\":\"fletcher32\"}",
    };
    uint64_t s = 0x1234567887654321ull;
    uint8_t g[4096];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof g; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            g[i] = (uint8_t)s;
        }
        size_t n = 1 + (size_t)(s % sizeof g);
        for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
            lstar_codec *c = mk(configs[k]);
            expect_fail(c, g, n, 10000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
            lstar_codec_free(c);
        }
    }
}

/* Valid magic, garbage after it. */
static void test_magic_then_garbage(void **state) {
    (void)state;
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 37 + 11);
    static const struct { const char *json; uint8_t magic[4]; size_t mlen; } cases[] = {
        {"{\"id\":\"zlib\"}", {0x78, 0x9c}, 2},
        {"{\"id\":\"gzip\"}", {0x1f, 0x8b, 0x08, 0x00}, 4},
        {"{\"id\":\"zstd\"}", {0x28, 0xB5, 0x2F, 0xFD}, 4},
        {"{\"id\":\"blosc\"}", {0x02, 0x01, 0x01, 0x04}, 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(buf, cases[k].magic, cases[k].mlen);
        lstar_codec *c = mk(cases[k].json);
        expect_fail(c, buf, sizeof buf, 1000, LSTAR_ERR_CORRUPT, LSTAR_ERR_CORRUPT, 0);
        lstar_codec_free(c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_zlib_truncated_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_truncated_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_truncated_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blosc_truncated_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lz4_truncated_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checksum_shorter_than_4_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_huge_declared_content_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_declared_size_above_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_unsized_frame_overflows_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_garbage_after_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_checksum_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blosc_nbytes_above_expected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blosc_cbytes_above_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blosc_bad_block_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lz4_size_prefix_lies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lz4_prefix_above_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zlib_bomb_above_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_bomb_above_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zlib_bad_adler32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_bad_crc32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_trailing_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crc32c_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fletcher32_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expected_size_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delta_partial_element, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_magic_then_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
