/* Unit tests: codecs (zlib, gzip, zstd, blosc, lz4, shuffle, delta, crc32c, fletcher32). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <blosc.h>
#include <pthread.h>
#include <zlib.h>
#include <zstd.h>

#include "codec/codec_internal.h"
#include "test_support.h"
#include "lstar/lstar.h"

/* ---- helpers ----------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Half compressible, half random: runs of a repeated byte interleaved with noise. */
static uint8_t *make_data(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    size_t i = 0;
    while (i < n) {
        size_t run = 1 + rng() % 64;
        uint8_t v = (uint8_t)rng();
        int noisy = (rng() & 1) != 0;
        for (size_t k = 0; k < run && i < n; k++, i++) p[i] = noisy ? (uint8_t)rng() : v;
    }
    return p;
}

static lstar_codec *codec_json(const char *json, lstar_dtype dt, size_t itemsize) {
    lstar_codec *c = NULL;
    lstar_error e = {0};
    lstar_status st = lstar_codec_from_json(json, dt, itemsize, &c, &e);
    if (st != LSTAR_OK) fail_msg("from_json(%s): %s", json, e.message);
    assert_non_null(c);
    return c;
}

static char *to_json(const lstar_codec *c, int fmt) {
    char *s = lstar_codec_to_json(c, fmt);
    assert_non_null(s);
    return s;
}

static void check_json(const char *in, lstar_dtype dt, size_t isz, int fmt, const char *expect) {
    lstar_codec *c = codec_json(in, dt, isz);
    char *s = to_json(c, fmt);
    if (strcmp(s, expect) != 0) fail_msg("%s -> v%d %s, expected %s", in, fmt, s, expect);
    lstar_free(s);
    lstar_codec_free(c);
}

/* Encode, then decode three ways (exact size, unknown size, into a caller buffer); all must give `data`. */
static void roundtrip(const lstar_codec *c, const uint8_t *data, size_t n) {
    uint8_t *enc = NULL, *dec = NULL;
    size_t encn = 0, decn = 0;
    lstar_error e = {0};
    if (lstar_codec_encode(c, data, n, &enc, &encn, &e) != LSTAR_OK)
        fail_msg("%s encode %zu: %s", lstar_codec_id(c), n, e.message);
    assert_non_null(enc);
    if (lstar_codec_decode(c, enc, encn, n, 0, &dec, &decn, &e) != LSTAR_OK)
        fail_msg("%s decode(expected) %zu: %s", lstar_codec_id(c), n, e.message);
    assert_int_equal(decn, n);
    assert_non_null(dec);
    if (n) assert_memory_equal(dec, data, n);
    lstar_free(dec);
    dec = NULL;
    if (lstar_codec_decode(c, enc, encn, 0, n + 1, &dec, &decn, &e) != LSTAR_OK)
        fail_msg("%s decode(unknown) %zu: %s", lstar_codec_id(c), n, e.message);
    assert_int_equal(decn, n);
    assert_non_null(dec);
    if (n) assert_memory_equal(dec, data, n);
    lstar_free(dec);
    uint8_t *buf = malloc(n + 1);
    if (lstar_codec_decode_into(c, enc, encn, buf, n, &e) != LSTAR_OK)
        fail_msg("%s decode_into %zu: %s", lstar_codec_id(c), n, e.message);
    if (n) assert_memory_equal(buf, data, n);
    /* one byte too many / too few expected is corruption */
    assert_int_equal(lstar_codec_decode_into(c, enc, encn, buf, n + 1, NULL), LSTAR_ERR_CORRUPT);
    if (n) assert_int_equal(lstar_codec_decode_into(c, enc, encn, buf, n - 1, NULL), LSTAR_ERR_CORRUPT);
    free(buf);
    lstar_free(enc);
}

static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 100, 1000, 1001, 4096, 65539, 300001};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* ---- round trips ------------------------------------------------------------------------------- */

static void test_roundtrip_bytes_codecs(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\",\"level\":1}",      "{\"id\":\"zlib\",\"level\":9}",
        "{\"id\":\"zlib\",\"level\":0}",      "{\"id\":\"zlib\",\"level\":-1}",
        "{\"id\":\"gzip\",\"level\":1}",      "{\"id\":\"gzip\",\"level\":9}",
        "{\"id\":\"zstd\",\"level\":0}",      "{\"id\":\"zstd\",\"level\":19,\"checksum\":true}",
        "{\"id\":\"zstd\",\"level\":-5}",     "{\"id\":\"lz4\",\"acceleration\":1}",
        "{\"id\":\"lz4\",\"acceleration\":10}", "{\"id\":\"blosc\"}",
        "{\"name\":\"crc32c\"}",              "{\"id\":\"fletcher32\"}",
    };
    for (size_t k = 0; k < sizeof configs / sizeof configs[0]; k++) {
        lstar_codec *c = codec_json(configs[k], LSTAR_DTYPE_UINT8, 0);
        for (size_t i = 0; i < NSIZES; i++) {
            uint8_t *d = make_data(sizes[i]);
            roundtrip(c, d, sizes[i]);
            free(d);
        }
        lstar_codec_free(c);
    }
}

static void test_roundtrip_shuffle(void **state) {
    (void)state;
    static const size_t es[] = {1, 2, 3, 4, 5, 8, 12, 16, 255};
    for (size_t k = 0; k < sizeof es / sizeof es[0]; k++) {
        char json[64];
        snprintf(json, sizeof json, "{\"id\":\"shuffle\",\"elementsize\":%zu}", es[k]);
        lstar_codec *c = codec_json(json, LSTAR_DTYPE_INVALID, 0);
        for (size_t i = 0; i < NSIZES; i++) {
            uint8_t *d = make_data(sizes[i]);
            roundtrip(c, d, sizes[i]);
            free(d);
        }
        lstar_codec_free(c);
    }
}

static void test_shuffle_layout(void **state) {
    (void)state;
    /* 10 bytes, elementsize 4: planes of the 2 whole elements, then the 2 trailing bytes unchanged (HDF5). */
    uint8_t in[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const uint8_t expect[10] = {0, 4, 1, 5, 2, 6, 3, 7, 8, 9};
    lstar_codec *c = codec_json("{\"id\":\"shuffle\",\"elementsize\":4}", LSTAR_DTYPE_INVALID, 0);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(lstar_codec_encode(c, in, 10, &out, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 10);
    assert_memory_equal(out, expect, 10);
    lstar_free(out);
    lstar_codec_free(c);
    /* 3 elements of 2 bytes */
    uint8_t in2[6] = {0xA0, 0xA1, 0xB0, 0xB1, 0xC0, 0xC1};
    const uint8_t ex2[6] = {0xA0, 0xB0, 0xC0, 0xA1, 0xB1, 0xC1};
    c = codec_json("{\"name\":\"numcodecs.shuffle\",\"configuration\":{\"elementsize\":2}}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, in2, 6, &out, &n, NULL), LSTAR_OK);
    assert_memory_equal(out, ex2, 6);
    lstar_free(out);
    lstar_codec_free(c);
}

static void test_roundtrip_delta(void **state) {
    (void)state;
    static const char *types[] = {"|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8"};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        char json[96];
        snprintf(json, sizeof json, "{\"id\":\"delta\",\"dtype\":\"%s\",\"astype\":\"%s\"}", types[k], types[k]);
        lstar_codec *c = codec_json(json, LSTAR_DTYPE_INVALID, 0);
        size_t es = (size_t)(types[k][2] - '0');
        for (size_t i = 0; i < NSIZES; i++) {
            uint8_t *d = make_data(sizes[i]);
            if (sizes[i] % es == 0) {
                roundtrip(c, d, sizes[i]);
            } else {
                uint8_t *o = NULL;
                size_t on = 0;
                assert_int_equal(lstar_codec_encode(c, d, sizes[i], &o, &on, NULL), LSTAR_ERR_INVALID_ARG);
                assert_null(o);
                assert_int_equal(lstar_codec_decode(c, d, sizes[i], 0, 0, &o, &on, NULL), LSTAR_ERR_CORRUPT);
            }
            free(d);
        }
        lstar_codec_free(c);
    }
    /* floats: exact arithmetic on small integers round-trips exactly */
    double dv[200];
    float fv[200];
    for (int i = 0; i < 200; i++) {
        dv[i] = (double)((int)(rng() % 2001) - 1000) * 0.5;
        fv[i] = (float)dv[i];
    }
    lstar_codec *c = codec_json("{\"id\":\"delta\",\"dtype\":\"<f8\"}", LSTAR_DTYPE_INVALID, 0);
    roundtrip(c, (const uint8_t *)dv, sizeof dv);
    lstar_codec_free(c);
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"<f4\"}", LSTAR_DTYPE_INVALID, 0);
    roundtrip(c, (const uint8_t *)fv, sizeof fv);
    lstar_codec_free(c);
}

static void test_delta_values(void **state) {
    (void)state;
    uint8_t *out = NULL;
    size_t n = 0;
    /* numcodecs docstring example: arange(100, 120, 2) */
    int32_t x[10], d[10];
    for (int i = 0; i < 10; i++) x[i] = 100 + 2 * i;
    lstar_codec *c = codec_json("{\"id\":\"delta\",\"dtype\":\"<i4\",\"astype\":\"<i4\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, x, sizeof x, &out, &n, NULL), LSTAR_OK);
    memcpy(d, out, sizeof d);
    assert_int_equal(d[0], 100);
    for (int i = 1; i < 10; i++) assert_int_equal(d[i], 2);
    lstar_free(out);
    lstar_codec_free(c);
    /* uint8 wraps: 250, 5 -> 250, 11 */
    uint8_t u[2] = {250, 5};
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"|u1\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, u, 2, &out, &n, NULL), LSTAR_OK);
    assert_int_equal(out[0], 250);
    assert_int_equal(out[1], 11);
    lstar_free(out);
    lstar_codec_free(c);
    /* int64 extremes wrap */
    int64_t big[3] = {INT64_MAX, INT64_MIN, 0};
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"<i8\"}", LSTAR_DTYPE_INVALID, 0);
    roundtrip(c, (const uint8_t *)big, sizeof big);
    assert_int_equal(lstar_codec_encode(c, big, sizeof big, &out, &n, NULL), LSTAR_OK);
    int64_t dd[3];
    memcpy(dd, out, sizeof dd);
    assert_true(dd[1] == 1); /* INT64_MIN - INT64_MAX wraps to 1 */
    lstar_free(out);
    lstar_codec_free(c);
    /* float16 (IEEE half): 1.0, 1.5, 3.0 -> 1.0, 0.5, 1.5 */
    uint16_t h[3] = {0x3C00, 0x3E00, 0x4200};
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"<f2\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, h, sizeof h, &out, &n, NULL), LSTAR_OK);
    uint16_t hd[3];
    memcpy(hd, out, sizeof hd);
    assert_int_equal(hd[0], 0x3C00);
    assert_int_equal(hd[1], 0x3800);
    assert_int_equal(hd[2], 0x3E00);
    lstar_free(out);
    roundtrip(c, (const uint8_t *)h, sizeof h);
    lstar_codec_free(c);
    /* astype narrower than dtype (numcodecs docstring: Delta(dtype='i2', astype='i1')) */
    int16_t x2[10];
    for (int i = 0; i < 10; i++) x2[i] = (int16_t)(100 + 2 * i);
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\"|i1\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, x2, sizeof x2, &out, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 10);
    assert_int_equal(out[0], 100);
    for (int i = 1; i < 10; i++) assert_int_equal(out[i], 2);
    uint8_t *back = NULL;
    size_t bn = 0;
    assert_int_equal(lstar_codec_decode(c, out, n, sizeof x2, 0, &back, &bn, NULL), LSTAR_OK);
    assert_int_equal(bn, sizeof x2);
    assert_memory_equal(back, x2, sizeof x2);
    lstar_free(back);
    assert_int_equal(lstar_codec_decode(c, out, n, 0, 0, &back, &bn, NULL), LSTAR_OK);
    assert_int_equal(bn, sizeof x2);
    assert_memory_equal(back, x2, sizeof x2);
    lstar_free(back);
    uint8_t into[20];
    assert_int_equal(lstar_codec_decode_into(c, out, n, into, sizeof into, NULL), LSTAR_OK);
    assert_memory_equal(into, x2, sizeof x2);
    assert_int_equal(lstar_codec_decode_into(c, out, n, into, 10, NULL), LSTAR_ERR_CORRUPT);
    assert_int_equal(lstar_codec_decode(c, out, n, 0, 19, &back, &bn, NULL), LSTAR_ERR_LIMIT);
    char *js = to_json(c, 2);
    assert_string_equal(js, "{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\"|i1\"}");
    lstar_free(js);
    lstar_free(out);
    lstar_codec_free(c);
    /* widening: uint8 -> int64 differences (sign of the uint8 difference comes from the wrapped uint8) */
    uint8_t u8[4] = {10, 5, 255, 0};
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"|u1\",\"astype\":\"<i8\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, u8, 4, &out, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 32);
    int64_t w[4];
    memcpy(w, out, 32);
    assert_true(w[0] == 10 && w[1] == 251 && w[2] == 250 && w[3] == 1); /* numpy: uint8 diff then astype */
    lstar_free(out);
    roundtrip(c, u8, 4);
    lstar_codec_free(c);

    /* sizes of the size-determined codecs */
    size_t es = 0;
    c = codec_json("{\"id\":\"delta\",\"dtype\":\"<i8\",\"astype\":\"<i2\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encoded_size(c, 80, &es), 1);
    assert_int_equal(es, 20);
    assert_int_equal(lstar_codec_encoded_size(c, 81, &es), 0);
    lstar_codec_free(c);
    c = codec_json("{\"name\":\"crc32c\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encoded_size(c, 80, &es), 1);
    assert_int_equal(es, 84);
    lstar_codec_free(c);
    c = codec_json("{\"id\":\"shuffle\",\"elementsize\":4}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encoded_size(c, 81, &es), 1);
    assert_int_equal(es, 81);
    lstar_codec_free(c);
    c = codec_json("{\"id\":\"zstd\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encoded_size(c, 80, &es), 0);
    lstar_codec_free(c);

    /* dtype from the factory argument when the config has none; v3 numcodecs name */
    c = codec_json("{\"name\":\"numcodecs.delta\",\"configuration\":{}}", LSTAR_DTYPE_INT16, 0);
    char *s = to_json(c, 2);
    assert_string_equal(s, "{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\"<i2\"}");
    lstar_free(s);
    lstar_codec_free(c);
}

static void test_blosc_matrix(void **state) {
    (void)state;
    char names[256];
    snprintf(names, sizeof names, "%s", blosc_list_compressors());
    int ncomp = 0;
    for (char *tok = strtok(names, ","); tok; tok = strtok(NULL, ",")) {
        ncomp++;
        static const int shuffles[] = {-1, 0, 1, 2};
        static const size_t typesizes[] = {1, 2, 4, 8};
        for (size_t s = 0; s < 4; s++) {
            for (size_t t = 0; t < 4; t++) {
                char json[160];
                snprintf(json, sizeof json,
                         "{\"id\":\"blosc\",\"cname\":\"%s\",\"clevel\":5,\"shuffle\":%d,\"blocksize\":0}", tok,
                         shuffles[s]);
                lstar_codec *c = codec_json(json, LSTAR_DTYPE_INVALID, typesizes[t]);
                static const size_t bs[] = {0, 1, 7, 64, 1000, 65536 + 8, 300000};
                for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
                    uint8_t *d = make_data(bs[i]);
                    roundtrip(c, d, bs[i]);
                    if (bs[i] >= 64) { /* header: typesize byte and shuffle flags */
                        uint8_t *enc = NULL;
                        size_t en = 0;
                        assert_int_equal(lstar_codec_encode(c, d, bs[i], &enc, &en, NULL), LSTAR_OK);
                        assert_int_equal(enc[3], typesizes[t]);
                        int eff = shuffles[s] == -1 ? (typesizes[t] == 1 ? 2 : 1) : shuffles[s];
                        if (!(enc[2] & 0x2)) { /* not memcpyed */
                            assert_int_equal((enc[2] & 0x1) != 0, eff == 1);
                            assert_int_equal((enc[2] & 0x4) != 0, eff == 2);
                        }
                        lstar_free(enc);
                    }
                    free(d);
                }
                lstar_codec_free(c);
            }
        }
        /* v3 form with typesize and a string shuffle */
        char json[200];
        snprintf(json, sizeof json,
                 "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"%s\",\"clevel\":9,\"shuffle\":\"bitshuffle\","
                 "\"typesize\":4,\"blocksize\":0}}",
                 tok);
        lstar_codec *c = codec_json(json, LSTAR_DTYPE_INVALID, 0);
        uint8_t *d = make_data(10000);
        roundtrip(c, d, 10000);
        free(d);
        lstar_codec_free(c);
    }
    assert_true(ncomp >= 5); /* blosclz, lz4, lz4hc, zlib, zstd at least */
    /* explicit blocksize */
    lstar_codec *c = codec_json("{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":3,\"shuffle\":1,\"blocksize\":4096}",
                                LSTAR_DTYPE_FLOAT64, 0);
    uint8_t *d = make_data(100000);
    roundtrip(c, d, 100000);
    free(d);
    lstar_codec_free(c);
}

/* ---- JSON configs ------------------------------------------------------------------------------ */

static void test_json_defaults_and_forms(void **state) {
    (void)state;
    /* defaults */
    check_json("{\"id\":\"zlib\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"zlib\",\"level\":1}");
    check_json("{\"id\":\"gzip\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"gzip\",\"level\":1}");
    check_json("{\"id\":\"zstd\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"zstd\",\"level\":0}");
    check_json("{\"id\":\"zstd\"}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"zstd\",\"configuration\":{\"level\":0,\"checksum\":false}}");
    check_json("{\"id\":\"blosc\"}", LSTAR_DTYPE_FLOAT32, 0, 2,
               "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}");
    check_json("{\"id\":\"blosc\"}", LSTAR_DTYPE_FLOAT32, 0, 3,
               "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":\"shuffle\","
               "\"typesize\":4,\"blocksize\":0}}");
    check_json("{\"id\":\"lz4\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"lz4\",\"acceleration\":1}");
    check_json("{\"id\":\"shuffle\"}", LSTAR_DTYPE_INT64, 0, 2, "{\"id\":\"shuffle\",\"elementsize\":8}");
    check_json("{\"id\":\"shuffle\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"shuffle\",\"elementsize\":4}");
    check_json("{\"id\":\"shuffle\"}", LSTAR_DTYPE_FIXED_BYTES, 12, 2, "{\"id\":\"shuffle\",\"elementsize\":12}");
    /* v2 and v3 spellings of the same codec */
    check_json("{\"id\":\"zlib\",\"level\":5}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"numcodecs.zlib\",\"configuration\":{\"level\":5}}");
    check_json("{\"name\":\"numcodecs.zlib\",\"configuration\":{\"level\":5}}", LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"zlib\",\"level\":5}");
    check_json("{\"name\":\"gzip\",\"configuration\":{\"level\":6}}", LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"gzip\",\"level\":6}");
    check_json("{\"name\":\"numcodecs.gzip\",\"configuration\":{\"level\":6}}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"gzip\",\"configuration\":{\"level\":6}}");
    check_json("{\"name\":\"zstd\",\"configuration\":{\"level\":1,\"checksum\":true}}", LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"zstd\",\"level\":1,\"checksum\":true}");
    check_json("{\"name\":\"numcodecs.zstd\",\"configuration\":{\"level\":5,\"checksum\":true}}", LSTAR_DTYPE_INVALID,
               0, 3, "{\"name\":\"zstd\",\"configuration\":{\"level\":5,\"checksum\":true}}");
    check_json("{\"name\":\"numcodecs.blosc\",\"configuration\":{\"cname\":\"zstd\",\"clevel\":5,\"shuffle\":2,"
               "\"blocksize\":0}}",
               LSTAR_DTYPE_INT32, 0, 3,
               "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"zstd\",\"clevel\":5,\"shuffle\":\"bitshuffle\","
               "\"typesize\":4,\"blocksize\":0}}");
    check_json("{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":1,\"shuffle\":\"noshuffle\","
               "\"typesize\":2,\"blocksize\":0}}",
               LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":1,\"shuffle\":0,\"blocksize\":0}");
    /* autoshuffle resolves for v3 by typesize */
    check_json("{\"id\":\"blosc\",\"shuffle\":-1}", LSTAR_DTYPE_UINT8, 0, 3,
               "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":\"bitshuffle\","
               "\"typesize\":1,\"blocksize\":0}}");
    check_json("{\"id\":\"blosc\",\"shuffle\":-1}", LSTAR_DTYPE_UINT16, 0, 3,
               "{\"name\":\"blosc\",\"configuration\":{\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":\"shuffle\","
               "\"typesize\":2,\"blocksize\":0}}");
    check_json("{\"name\":\"numcodecs.lz4\",\"configuration\":{\"acceleration\":3}}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"numcodecs.lz4\",\"configuration\":{\"acceleration\":3}}");
    check_json("{\"name\":\"crc32c\"}", LSTAR_DTYPE_INVALID, 0, 3, "{\"name\":\"crc32c\"}");
    check_json("\"crc32c\"", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"crc32c\"}");
    check_json("{\"name\":\"numcodecs.crc32c\",\"configuration\":{}}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"crc32c\"}");
    check_json("{\"id\":\"crc32c\",\"location\":\"end\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"crc32c\"}");
    check_json("{\"name\":\"numcodecs.fletcher32\"}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"fletcher32\"}");
    check_json("{\"id\":\"fletcher32\"}", LSTAR_DTYPE_INVALID, 0, 3, "{\"name\":\"numcodecs.fletcher32\"}");
    check_json("{\"id\":\"delta\",\"dtype\":\"<f8\",\"astype\":\"<f8\"}", LSTAR_DTYPE_INVALID, 0, 3,
               "{\"name\":\"numcodecs.delta\",\"configuration\":{\"dtype\":\"<f8\",\"astype\":\"<f8\"}}");
    check_json("{\"id\":\"delta\",\"dtype\":\"i2\"}", LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"delta\",\"dtype\":\"<i2\",\"astype\":\"<i2\"}");
    check_json("{\"id\":\"delta\",\"dtype\":\"uint32\"}", LSTAR_DTYPE_INVALID, 0, 2,
               "{\"id\":\"delta\",\"dtype\":\"<u4\",\"astype\":\"<u4\"}");
    /* null members take defaults; integral reals accepted */
    check_json("{\"id\":\"zlib\",\"level\":null}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"zlib\",\"level\":1}");
    check_json("{\"id\":\"zlib\",\"level\":4.0}", LSTAR_DTYPE_INVALID, 0, 2, "{\"id\":\"zlib\",\"level\":4}");

    lstar_codec *c = codec_json("{\"name\":\"zstd\",\"configuration\":{\"level\":3}}", LSTAR_DTYPE_INVALID, 0);
    assert_string_equal(lstar_codec_id(c), "zstd");
    lstar_codec_free(c);
    assert_null(lstar_codec_id(NULL));
    assert_null(lstar_codec_to_json(NULL, 2));
}

static void test_json_errors(void **state) {
    (void)state;
    lstar_codec *c = (lstar_codec *)1;
    lstar_error e = {0};
    assert_int_equal(lstar_codec_from_json("{\"id\":\"bz2\",\"level\":1}", LSTAR_DTYPE_INVALID, 0, &c, &e),
                     LSTAR_ERR_UNSUPPORTED);
    assert_null(c);
    assert_string_equal(e.message, "unknown codec 'bz2'");
    assert_int_equal(lstar_codec_from_json("{\"name\":\"bytes\",\"configuration\":{\"endian\":\"little\"}}",
                                           LSTAR_DTYPE_INVALID, 0, &c, &e),
                     LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "'bytes'"));
    static const struct { const char *json; lstar_status st; } bad[] = {
        {"{\"id\":\"zlib\",\"level\":10}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zlib\",\"level\":\"1\"}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zlib\",\"level\":1.5}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zlib\",\"level\":1e300}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zlib\",\"level\":-1e300}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zlib\",\"level\":12345678901234567890}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"crc32c\",\"location\":\"start\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"zstd\",\"level\":23}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"zstd\",\"checksum\":\"yes\"}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"blosc\",\"cname\":\"nope\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"blosc\",\"clevel\":10}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"blosc\",\"shuffle\":3}", LSTAR_ERR_FORMAT},
        {"{\"name\":\"blosc\",\"configuration\":{\"shuffle\":\"sideways\"}}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"blosc\",\"blocksize\":-1}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"shuffle\",\"elementsize\":-2}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"delta\"}", LSTAR_ERR_FORMAT},
        {"{\"id\":\"delta\",\"dtype\":\"<i4\",\"astype\":\"<f4\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"delta\",\"dtype\":\"<f8\",\"astype\":\"<f4\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"delta\",\"dtype\":\">i4\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"delta\",\"dtype\":\"<c8\"}", LSTAR_ERR_UNSUPPORTED},
        {"{\"id\":\"delta\",\"dtype\":\"|O\"}", LSTAR_ERR_FORMAT},
        {"{\"name\":\"zstd\",\"configuration\":[1]}", LSTAR_ERR_FORMAT},
        {"{\"level\":1}", LSTAR_ERR_FORMAT},
        {"[1,2]", LSTAR_ERR_FORMAT},
        {"{\"id\":", LSTAR_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lstar_error_clear(&e);
        lstar_status st = lstar_codec_from_json(bad[i].json, LSTAR_DTYPE_INVALID, 0, &c, &e);
        if (st != bad[i].st) fail_msg("%s: got %s (%s)", bad[i].json, lstar_status_name(st), e.message);
        assert_null(c);
        assert_int_equal(e.status, bad[i].st);
    }
    /* delta with a dtype argument that is not numeric */
    assert_int_equal(lstar_codec_from_json("{\"id\":\"delta\"}", LSTAR_DTYPE_STRING, 0, &c, NULL),
                     LSTAR_ERR_UNSUPPORTED);
    assert_int_equal(lstar_codec_from_json(NULL, LSTAR_DTYPE_INVALID, 0, &c, NULL), LSTAR_ERR_INVALID_ARG);
}

static void test_to_json_roundtrip(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\",\"level\":7}",
        "{\"id\":\"gzip\",\"level\":2}",
        "{\"id\":\"zstd\",\"level\":-3,\"checksum\":true}",
        "{\"id\":\"zstd\",\"level\":22}",
        "{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":9,\"shuffle\":2,\"blocksize\":65536}",
        "{\"id\":\"blosc\",\"cname\":\"blosclz\",\"clevel\":0,\"shuffle\":0,\"blocksize\":0}",
        "{\"id\":\"lz4\",\"acceleration\":5}",
        "{\"id\":\"shuffle\",\"elementsize\":3}",
        "{\"id\":\"delta\",\"dtype\":\"|u1\",\"astype\":\"|u1\"}",
        "{\"id\":\"crc32c\"}",
        "{\"id\":\"fletcher32\"}",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        for (int fmt = 2; fmt <= 3; fmt++) {
            lstar_codec *a = codec_json(configs[i], LSTAR_DTYPE_INT16, 0);
            char *ja = to_json(a, fmt);
            lstar_codec *b = codec_json(ja, LSTAR_DTYPE_INT16, 0);
            char *jb = to_json(b, fmt);
            assert_string_equal(ja, jb);
            char *v2 = to_json(b, 2);
            if (fmt == 2) assert_string_equal(v2, configs[i]);
            lstar_free(v2);
            lstar_free(ja);
            lstar_free(jb);
            lstar_codec_free(a);
            lstar_codec_free(b);
        }
    }
    lstar_codec *c = codec_json("{\"id\":\"zlib\"}", LSTAR_DTYPE_INVALID, 0);
    assert_null(lstar_codec_to_json(c, 4));
    lstar_codec_free(c);
}

static void test_from_spec(void **state) {
    (void)state;
    static const struct { const char *spec; lstar_dtype dt; const char *v2; } ok[] = {
        {"zlib", LSTAR_DTYPE_INVALID, "{\"id\":\"zlib\",\"level\":1}"},
        {"zlib:9", LSTAR_DTYPE_INVALID, "{\"id\":\"zlib\",\"level\":9}"},
        {"gzip:4", LSTAR_DTYPE_INVALID, "{\"id\":\"gzip\",\"level\":4}"},
        {"zstd", LSTAR_DTYPE_INVALID, "{\"id\":\"zstd\",\"level\":0}"},
        {"zstd:-7", LSTAR_DTYPE_INVALID, "{\"id\":\"zstd\",\"level\":-7}"},
        {"lz4", LSTAR_DTYPE_INVALID, "{\"id\":\"lz4\",\"acceleration\":1}"},
        {"shuffle", LSTAR_DTYPE_FLOAT64, "{\"id\":\"shuffle\",\"elementsize\":8}"},
        {"shuffle:2", LSTAR_DTYPE_INVALID, "{\"id\":\"shuffle\",\"elementsize\":2}"},
        {"blosc", LSTAR_DTYPE_INT32, "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}"},
        {"blosc:zstd", LSTAR_DTYPE_INT32,
         "{\"id\":\"blosc\",\"cname\":\"zstd\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}"},
        {"blosc:lz4:5:shuffle", LSTAR_DTYPE_INT32,
         "{\"id\":\"blosc\",\"cname\":\"lz4\",\"clevel\":5,\"shuffle\":1,\"blocksize\":0}"},
        {"blosc:zlib:1:bitshuffle", LSTAR_DTYPE_INT32,
         "{\"id\":\"blosc\",\"cname\":\"zlib\",\"clevel\":1,\"shuffle\":2,\"blocksize\":0}"},
        {"blosc:blosclz:9:noshuffle", LSTAR_DTYPE_INT32,
         "{\"id\":\"blosc\",\"cname\":\"blosclz\",\"clevel\":9,\"shuffle\":0,\"blocksize\":0}"},
        {"blosc:lz4hc:3:-1", LSTAR_DTYPE_INT32,
         "{\"id\":\"blosc\",\"cname\":\"lz4hc\",\"clevel\":3,\"shuffle\":-1,\"blocksize\":0}"},
        {"delta", LSTAR_DTYPE_INT32, "{\"id\":\"delta\",\"dtype\":\"<i4\",\"astype\":\"<i4\"}"},
        {"crc32c", LSTAR_DTYPE_INVALID, "{\"id\":\"crc32c\"}"},
        {"fletcher32", LSTAR_DTYPE_INVALID, "{\"id\":\"fletcher32\"}"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        lstar_codec *c = NULL;
        lstar_error e = {0};
        if (lstar_codec_from_spec(ok[i].spec, ok[i].dt, 0, &c, &e) != LSTAR_OK)
            fail_msg("spec %s: %s", ok[i].spec, e.message);
        char *s = to_json(c, 2);
        if (strcmp(s, ok[i].v2) != 0) fail_msg("spec %s -> %s", ok[i].spec, s);
        lstar_free(s);
        lstar_codec_free(c);
    }
    lstar_codec *c = (lstar_codec *)1;
    assert_int_equal(lstar_codec_from_spec("none", LSTAR_DTYPE_INT32, 0, &c, NULL), LSTAR_OK);
    assert_null(c);
    static const struct { const char *spec; lstar_dtype dt; lstar_status st; } bad[] = {
        {"bz2", LSTAR_DTYPE_INVALID, LSTAR_ERR_UNSUPPORTED},
        {"zlib:10", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"zlib:x", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"zlib:", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"zlib:1:2", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"zstd:99", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"blosc:nope", LSTAR_DTYPE_INT32, LSTAR_ERR_INVALID_ARG},
        {"blosc:lz4:11", LSTAR_DTYPE_INT32, LSTAR_ERR_INVALID_ARG},
        {"blosc:lz4:5:twist", LSTAR_DTYPE_INT32, LSTAR_ERR_INVALID_ARG},
        {"blosc:lz4:5:shuffle:0", LSTAR_DTYPE_INT32, LSTAR_ERR_INVALID_ARG},
        {"delta", LSTAR_DTYPE_STRING, LSTAR_ERR_INVALID_ARG},
        {"shuffle", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"crc32c:1", LSTAR_DTYPE_INVALID, LSTAR_ERR_INVALID_ARG},
        {"", LSTAR_DTYPE_INVALID, LSTAR_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lstar_error e = {0};
        lstar_status st = lstar_codec_from_spec(bad[i].spec, bad[i].dt, 0, &c, &e);
        if (st != bad[i].st) fail_msg("spec '%s': got %s (%s)", bad[i].spec, lstar_status_name(st), e.message);
        assert_null(c);
    }
    lstar_error e = {0};
    assert_int_equal(lstar_codec_from_spec("bz2:9", LSTAR_DTYPE_INVALID, 0, &c, &e), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(e.message, "unknown codec 'bz2'");
}

/* ---- checksums --------------------------------------------------------------------------------- */

static void test_crc32c_known_answers(void **state) {
    (void)state;
    assert_int_equal(lstar_crc32c(0, "123456789", 9), 0xE3069283u);
    uint8_t buf[32];
    memset(buf, 0, 32); /* RFC 3720 B.4 vectors */
    assert_int_equal(lstar_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    assert_int_equal(lstar_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(lstar_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(lstar_crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(lstar_crc32c(0, NULL, 0), 0u);
    assert_int_equal(lstar_crc32c(0x12345678u, NULL, 0), 0x12345678u);
    /* running value over any split (and any alignment) equals the one-shot value */
    uint8_t *d = make_data(5003);
    uint32_t whole = lstar_crc32c(0, d, 5003);
    for (size_t cut = 0; cut < 40; cut++) {
        uint32_t part = lstar_crc32c(lstar_crc32c(0, d, cut * 97), d + cut * 97, 5003 - cut * 97);
        assert_int_equal(part, whole);
    }
    for (size_t off = 1; off < 9; off++) {
        uint32_t a = lstar_crc32c(0, d + off, 1000);
        uint8_t *copy = malloc(1000);
        memcpy(copy, d + off, 1000);
        assert_int_equal(lstar_crc32c(0, copy, 1000), a);
        free(copy);
    }
    free(d);
    /* the codec appends it little-endian */
    lstar_codec *c = codec_json("{\"name\":\"crc32c\"}", LSTAR_DTYPE_INVALID, 0);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(lstar_codec_encode(c, "123456789", 9, &out, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 13);
    static const uint8_t tail[4] = {0x83, 0x92, 0x06, 0xE3};
    assert_memory_equal(out + 9, tail, 4);
    lstar_free(out);
    lstar_codec_free(c);
}

static void test_fletcher32_known_answers(void **state) {
    (void)state;
    /* values read back from h5py/HDF5 1.10 chunks written with fletcher32=True */
    assert_int_equal(lstar_fletcher32("123456789", 9), 0x09df09d5u);
    assert_int_equal(lstar_fletcher32("abcdefgh", 8), 0xe1eb9195u);
    uint8_t buf[1025];
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 256; i++) buf[r * 256 + i] = (uint8_t)i;
    buf[1024] = 'x';
    assert_int_equal(lstar_fletcher32(buf, 1025), 0x8e1578ffu);
    uint8_t ff[1001];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(lstar_fletcher32(ff, 1001), 0xff00ff00u);
    lstar_codec *c = codec_json("{\"id\":\"fletcher32\"}", LSTAR_DTYPE_INVALID, 0);
    uint8_t *out = NULL;
    size_t n = 0;
    assert_int_equal(lstar_codec_encode(c, "123456789", 9, &out, &n, NULL), LSTAR_OK);
    static const uint8_t tail[4] = {0xd5, 0x09, 0xdf, 0x09};
    assert_int_equal(n, 13);
    assert_memory_equal(out + 9, tail, 4);
    lstar_free(out);
    lstar_codec_free(c);
}

/* ---- compatibility with the plain libraries ----------------------------------------------------- */

static void test_outputs_decode_with_plain_libraries(void **state) {
    (void)state;
    size_t n = 100003;
    uint8_t *d = make_data(n);
    uint8_t *enc = NULL, *dec = malloc(n);
    size_t encn = 0;
    /* zlib -> uncompress() */
    lstar_codec *c = codec_json("{\"id\":\"zlib\",\"level\":6}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, d, n, &enc, &encn, NULL), LSTAR_OK);
    uLongf dl = (uLongf)n;
    assert_int_equal(uncompress(dec, &dl, enc, (uLong)encn), Z_OK);
    assert_int_equal(dl, n);
    assert_memory_equal(dec, d, n);
    lstar_free(enc);
    lstar_codec_free(c);
    /* gzip -> inflateInit2(16+15); header magic 1f 8b 08 */
    c = codec_json("{\"name\":\"gzip\",\"configuration\":{\"level\":5}}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, d, n, &enc, &encn, NULL), LSTAR_OK);
    assert_int_equal(enc[0], 0x1f);
    assert_int_equal(enc[1], 0x8b);
    assert_int_equal(enc[2], 8);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
    zs.next_in = enc;
    zs.avail_in = (uInt)encn;
    zs.next_out = dec;
    zs.avail_out = (uInt)n;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, n);
    inflateEnd(&zs);
    assert_memory_equal(dec, d, n);
    lstar_free(enc);
    lstar_codec_free(c);
    /* zstd -> single frame with the content size, ZSTD_decompress */
    c = codec_json("{\"id\":\"zstd\",\"level\":3}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, d, n, &enc, &encn, NULL), LSTAR_OK);
    assert_int_equal(ZSTD_getFrameContentSize(enc, encn), n);
    assert_int_equal(ZSTD_findFrameCompressedSize(enc, encn), encn);
    assert_int_equal(ZSTD_decompress(dec, n, enc, encn), n);
    assert_memory_equal(dec, d, n);
    lstar_free(enc);
    lstar_codec_free(c);
    /* lz4 -> 4-byte LE size prefix */
    c = codec_json("{\"id\":\"lz4\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_encode(c, d, n, &enc, &encn, NULL), LSTAR_OK);
    assert_int_equal(enc[0] | enc[1] << 8 | enc[2] << 16 | enc[3] << 24, (int)n);
    lstar_free(enc);
    lstar_codec_free(c);
    free(dec);
    free(d);
}

static void test_decode_foreign_streams(void **state) {
    (void)state;
    size_t n = 50000;
    uint8_t *d = make_data(n);
    uint8_t *out = NULL;
    size_t outn = 0;
    lstar_error e = {0};
    /* zlib compress2() output */
    uLongf zl = compressBound((uLong)n);
    uint8_t *z = malloc(zl);
    assert_int_equal(compress2(z, &zl, d, (uLong)n, 9), Z_OK);
    lstar_codec *c = codec_json("{\"id\":\"zlib\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_decode(c, z, zl, n, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, z, zl, 0, 0, &out, &outn, &e), LSTAR_OK);
    assert_int_equal(outn, n);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    lstar_codec_free(c);
    free(z);

    /* gzip: two members, the first with FNAME/FCOMMENT/FEXTRA/FHCRC, zero padding in between and after */
    uint8_t *g = malloc(2 * n + 4096);
    size_t gl = 0;
    for (int member = 0; member < 2; member++) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        gz_header h;
        memset(&h, 0, sizeof h);
        static unsigned char extra[4] = {'A', 'B', 0, 0};
        if (member == 0) {
            h.name = (Bytef *)"chunk.bin";
            h.comment = (Bytef *)"a comment";
            h.extra = extra;
            h.extra_len = 4;
            h.hcrc = 1;
            h.time = 1700000000;
            assert_int_equal(deflateSetHeader(&zs, &h), Z_OK);
        }
        zs.next_in = d + member * (n / 2);
        zs.avail_in = (uInt)(n / 2);
        zs.next_out = g + gl;
        zs.avail_out = (uInt)(2 * n + 4096 - gl);
        assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
        gl += zs.total_out;
        deflateEnd(&zs);
        g[gl++] = 0;
        g[gl++] = 0;
    }
    c = codec_json("{\"id\":\"gzip\"}", LSTAR_DTYPE_INVALID, 0);
    assert_int_equal(lstar_codec_decode(c, g, gl, n, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, g, gl, 0, 0, &out, &outn, &e), LSTAR_OK);
    assert_int_equal(outn, n);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    /* two of our own members concatenated */
    uint8_t *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(lstar_codec_encode(c, d, 1000, &e1, &n1, NULL), LSTAR_OK);
    assert_int_equal(lstar_codec_encode(c, d + 1000, 2000, &e2, &n2, NULL), LSTAR_OK);
    uint8_t *cat = malloc(n1 + n2);
    memcpy(cat, e1, n1);
    memcpy(cat + n1, e2, n2);
    assert_int_equal(lstar_codec_decode(c, cat, n1 + n2, 3000, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, 3000);
    lstar_free(out);
    free(cat);
    lstar_free(e1);
    lstar_free(e2);
    lstar_codec_free(c);
    free(g);

    /* zstd: a frame without content size (streaming) followed by a normal frame */
    c = codec_json("{\"id\":\"zstd\"}", LSTAR_DTYPE_INVALID, 0);
    size_t cap = ZSTD_compressBound(n) + 64;
    uint8_t *zf = malloc(cap);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer ib = {d, n / 2, 0};
    ZSTD_outBuffer ob = {zf, cap, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    assert_int_equal(ZSTD_getFrameContentSize(zf, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
    size_t first = ob.pos;
    assert_int_equal(lstar_codec_decode(c, zf, first, n / 2, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, n / 2);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, zf, first, 0, 0, &out, &outn, &e), LSTAR_OK);
    assert_int_equal(outn, n / 2);
    lstar_free(out);
    size_t r = ZSTD_compress(zf + first, cap - first, d + n / 2, n - n / 2, 1);
    assert_false(ZSTD_isError(r));
    assert_int_equal(lstar_codec_decode(c, zf, first + r, n, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, zf, first + r, 0, 0, &out, &outn, &e), LSTAR_OK);
    assert_int_equal(outn, n);
    assert_memory_equal(out, d, n);
    lstar_free(out);
    /* two frames with content sizes */
    size_t r1 = ZSTD_compress(zf, cap, d, 1000, 3);
    size_t r2 = ZSTD_compress(zf + r1, cap - r1, d + 1000, 3000, 3);
    assert_int_equal(lstar_codec_decode(c, zf, r1 + r2, 4000, 0, &out, &outn, &e), LSTAR_OK);
    assert_memory_equal(out, d, 4000);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, zf, r1 + r2, 0, 0, &out, &outn, &e), LSTAR_OK);
    assert_int_equal(outn, 4000);
    lstar_free(out);
    assert_int_equal(lstar_codec_decode(c, zf, r1 + r2, 3999, 0, &out, &outn, &e), LSTAR_ERR_CORRUPT);
    lstar_codec_free(c);
    free(zf);
    free(d);
}

/* ---- limits and chains ------------------------------------------------------------------------- */

static void test_decode_limits(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\"}",    "{\"id\":\"gzip\"}",    "{\"id\":\"zstd\"}",    "{\"id\":\"blosc\"}",
        "{\"id\":\"lz4\"}",     "{\"id\":\"shuffle\"}", "{\"id\":\"crc32c\"}", "{\"id\":\"fletcher32\"}",
        "{\"id\":\"delta\"}",
    };
    size_t n = 200000;
    uint8_t *d = make_data(n);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        lstar_codec *c = codec_json(configs[i], LSTAR_DTYPE_UINT32, 0);
        uint8_t *enc = NULL, *out = NULL;
        size_t encn = 0, outn = 0;
        assert_int_equal(lstar_codec_encode(c, d, n, &enc, &encn, NULL), LSTAR_OK);
        lstar_error e = {0};
        /* unknown size above max */
        assert_int_equal(lstar_codec_decode(c, enc, encn, 0, n - 1, &out, &outn, &e), LSTAR_ERR_LIMIT);
        assert_null(out);
        assert_int_equal(outn, 0);
        /* exactly max is fine */
        assert_int_equal(lstar_codec_decode(c, enc, encn, 0, n, &out, &outn, &e), LSTAR_OK);
        assert_int_equal(outn, n);
        lstar_free(out);
        /* expected above max */
        assert_int_equal(lstar_codec_decode(c, enc, encn, n, n - 1, &out, &outn, &e), LSTAR_ERR_LIMIT);
        /* wrong expected size */
        assert_int_equal(lstar_codec_decode(c, enc, encn, n - 4, 0, &out, &outn, &e), LSTAR_ERR_CORRUPT);
        assert_int_equal(lstar_codec_decode(c, enc, encn, n + 4, 0, &out, &outn, &e), LSTAR_ERR_CORRUPT);
        assert_null(out);
        lstar_free(enc);
        lstar_codec_free(c);
    }
    free(d);
    lstar_codec *c = codec_json("{\"id\":\"zlib\"}", LSTAR_DTYPE_INVALID, 0);
    uint8_t *out = (uint8_t *)1;
    size_t outn = 7;
    assert_int_equal(lstar_codec_decode(c, NULL, 5, 0, 0, &out, &outn, NULL), LSTAR_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(outn, 0);
    assert_int_equal(lstar_codec_encode(NULL, "x", 1, &out, &outn, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_codec_decode(c, "x", 1, (size_t)LSTAR_MAX_CHUNK_BYTES + 1, 0, &out, &outn, NULL),
                     LSTAR_ERR_LIMIT);
    lstar_codec_free(c);
    lstar_codec_free(NULL);
}

/* A v3-style chain: shuffle -> zstd -> crc32c forward, then reverse with expected 0 for the inner steps. */
static void test_chain(void **state) {
    (void)state;
    lstar_codec *chain[3] = {codec_json("{\"name\":\"numcodecs.shuffle\",\"configuration\":{\"elementsize\":8}}",
                                        LSTAR_DTYPE_FLOAT64, 0),
                             codec_json("{\"name\":\"zstd\",\"configuration\":{\"level\":1,\"checksum\":true}}",
                                        LSTAR_DTYPE_FLOAT64, 0),
                             codec_json("{\"name\":\"crc32c\"}", LSTAR_DTYPE_FLOAT64, 0)};
    double v[4096];
    for (int i = 0; i < 4096; i++) v[i] = i * 0.25;
    uint8_t *cur = NULL;
    size_t curn = sizeof v;
    const uint8_t *src = (const uint8_t *)v;
    for (int k = 0; k < 3; k++) {
        uint8_t *o = NULL;
        size_t on = 0;
        assert_int_equal(lstar_codec_encode(chain[k], src, curn, &o, &on, NULL), LSTAR_OK);
        lstar_free(cur);
        cur = o;
        curn = on;
        src = cur;
    }
    assert_true(curn < sizeof v / 4);
    for (int k = 2; k >= 0; k--) {
        uint8_t *o = NULL;
        size_t on = 0;
        assert_int_equal(lstar_codec_decode(chain[k], cur, curn, k == 0 ? sizeof v : 0, sizeof v, &o, &on, NULL),
                         LSTAR_OK);
        lstar_free(cur);
        cur = o;
        curn = on;
    }
    assert_int_equal(curn, sizeof v);
    assert_memory_equal(cur, v, sizeof v);
    lstar_free(cur);
    for (int k = 0; k < 3; k++) lstar_codec_free(chain[k]);
}

/* ---- threads and allocation failure ------------------------------------------------------------ */

static lstar_codec *g_thread_codecs[4];

static void *thread_body(void *arg) {
    uintptr_t id = (uintptr_t)arg;
    size_t n = 30000 + id * 17;
    uint8_t *d = malloc(n);
    for (size_t i = 0; i < n; i++) d[i] = (uint8_t)((i * (id + 3)) ^ (i >> 7));
    for (int it = 0; it < 20; it++) {
        lstar_codec *c = g_thread_codecs[(id + (uintptr_t)it) % 4];
        uint8_t *enc = NULL, *dec = NULL;
        size_t en = 0, dn = 0;
        if (lstar_codec_encode(c, d, n, &enc, &en, NULL) != LSTAR_OK) return (void *)1;
        if (lstar_codec_decode(c, enc, en, n, 0, &dec, &dn, NULL) != LSTAR_OK || memcmp(dec, d, n) != 0)
            return (void *)1;
        lstar_free(enc);
        lstar_free(dec);
    }
    free(d);
    return NULL;
}

static void test_threads_share_codecs(void **state) {
    (void)state;
    g_thread_codecs[0] = codec_json("{\"id\":\"zstd\",\"level\":3}", LSTAR_DTYPE_INVALID, 0);
    g_thread_codecs[1] = codec_json("{\"id\":\"blosc\",\"cname\":\"lz4\"}", LSTAR_DTYPE_INT32, 0);
    g_thread_codecs[2] = codec_json("{\"id\":\"gzip\"}", LSTAR_DTYPE_INVALID, 0);
    g_thread_codecs[3] = codec_json("{\"name\":\"crc32c\"}", LSTAR_DTYPE_INVALID, 0);
    pthread_t th[4];
    for (uintptr_t i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, thread_body, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *ret = NULL;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    for (int i = 0; i < 4; i++) lstar_codec_free(g_thread_codecs[i]);
}

static void test_allocation_failures(void **state) {
    (void)state;
    static const char *configs[] = {
        "{\"id\":\"zlib\"}",    "{\"id\":\"gzip\"}",    "{\"id\":\"zstd\"}",   "{\"id\":\"blosc\"}",
        "{\"id\":\"lz4\"}",     "{\"id\":\"shuffle\"}", "{\"id\":\"crc32c\"}", "{\"id\":\"fletcher32\"}",
        "{\"name\":\"numcodecs.delta\",\"configuration\":{\"dtype\":\"<i4\"}}",
    };
    size_t n = 20000;
    uint8_t *d = make_data(n);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        int succeeded = 0;
        for (int k = 0; k < 200 && !succeeded; k++) {
            lt_failing f; /* allocations k+1, k+2, ... fail */
            lt_failing_start(&f, k + 1, 1);
            lstar_codec *c = NULL;
            uint8_t *enc = NULL, *dec = NULL, *dec2 = NULL;
            size_t en = 0, dn = 0, dn2 = 0;
            lstar_status st = lstar_codec_from_json(configs[i], LSTAR_DTYPE_INT32, 0, &c, NULL);
            /* jansson reports some of its own allocation failures as syntax errors */
            int parse_failed = st == LSTAR_ERR_FORMAT;
            if (st == LSTAR_OK) st = lstar_codec_encode(c, d, n, &enc, &en, NULL);
            if (st == LSTAR_OK) st = lstar_codec_decode(c, enc, en, n, 0, &dec, &dn, NULL);
            if (st == LSTAR_OK) st = lstar_codec_decode(c, enc, en, 0, 0, &dec2, &dn2, NULL);
            lt_failing_stop();
            if (st == LSTAR_OK) {
                succeeded = 1;
                assert_memory_equal(dec, d, n);
                assert_memory_equal(dec2, d, n);
            } else if (!parse_failed) {
                if (st != LSTAR_ERR_NOMEM) fail_msg("%s: failing allocation %d gave %s", configs[i], k,
                                                    lstar_status_name(st));
            }
            /* freed with the C allocator (fail_free == free) */
            free(enc);
            free(dec);
            free(dec2);
            lstar_codec_free(c);
        }
        assert_true(succeeded);
    }
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_bytes_codecs),
        cmocka_unit_test(test_roundtrip_shuffle),
        cmocka_unit_test(test_shuffle_layout),
        cmocka_unit_test(test_roundtrip_delta),
        cmocka_unit_test(test_delta_values),
        cmocka_unit_test(test_blosc_matrix),
        cmocka_unit_test(test_json_defaults_and_forms),
        cmocka_unit_test(test_json_errors),
        cmocka_unit_test(test_to_json_roundtrip),
        cmocka_unit_test(test_from_spec),
        cmocka_unit_test(test_crc32c_known_answers),
        cmocka_unit_test(test_fletcher32_known_answers),
        cmocka_unit_test(test_outputs_decode_with_plain_libraries),
        cmocka_unit_test(test_decode_foreign_streams),
        cmocka_unit_test(test_decode_limits),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_threads_share_codecs),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
