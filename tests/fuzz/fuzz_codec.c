/* Fuzz target: one codec's decoder (FUZZ_CODEC = zlib, gzip, zstd, blosc, lz4,
 * shuffle, delta, crc32c or fletcher32; one binary per codec).
 *
 * Input: byte 0 = mode (bits 0-1) and parameter selector (bits 2-7), bytes
 * 1-3 = expected decoded size (little-endian, below FUZZ_MAX_DECODED), then
 * the encoded bytes.
 *   mode 0: lstar_codec_decode with the expected size (success ⇒ exactly that size);
 *   mode 1: lstar_codec_decode with an unknown size bounded by FUZZ_MAX_DECODED;
 *           on success the same input decoded with the size it produced must
 *           succeed with identical bytes (the allocating and the exact-size
 *           paths agree);
 *   mode 2: lstar_codec_decode_into (internal, caller buffer) with the expected size;
 *   mode 3: encode the payload and decode it back (round trip must be exact,
 *           except for delta on floats, which is lossy by design).
 * The selector picks shuffle's element size and delta's dtype/astype. */
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "fuzz_common.h"
#include "lstar/alloc.h"

#ifndef FUZZ_CODEC
#error "define FUZZ_CODEC"
#endif
#define STR_(x) #x
#define STR(x) STR_(x)

static const char *const delta_types[] = {"<i1", "<i2", "<i4", "<i8", "<u1", "<u2",
                                          "<u4", "<u8", "<f2", "<f4", "<f8"};

/* Config JSON for this codec and selector; *lossy set when a round trip may differ. */
static void make_config(unsigned sel, char *buf, size_t n, int *lossy) {
    const char *id = STR(FUZZ_CODEC);
    *lossy = 0;
    if (strcmp(id, "shuffle") == 0) {
        snprintf(buf, n, "{\"id\":\"shuffle\",\"elementsize\":%u}", 1 + sel % 17);
    } else if (strcmp(id, "delta") == 0) {
        unsigned t = sel % 11, a = (sel / 11) % 8;
        /* astype differs from dtype only between integer types */
        const char *astype = t < 8 && (sel / 11) % 2 ? delta_types[a] : delta_types[t];
        snprintf(buf, n, "{\"id\":\"delta\",\"dtype\":\"%s\",\"astype\":\"%s\"}", delta_types[t], astype);
        *lossy = t >= 8 || astype != delta_types[t];
    } else {
        snprintf(buf, n, "{\"id\":\"%s\"}", id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    unsigned head = (unsigned)fuzz_take_le(&p, end, 1);
    size_t expected = (size_t)fuzz_take_le(&p, end, 3) % FUZZ_MAX_DECODED;
    const uint8_t *in = p;
    size_t n = (size_t)(end - p);
    unsigned mode = head & 3, sel = head >> 2;
    char cfg[160];
    int lossy;
    make_config(sel, cfg, sizeof cfg, &lossy);
    lstar_codec *c = NULL;
    if (lstar_codec_from_json(cfg, LSTAR_DTYPE_UINT8, 1, &c, NULL) != LSTAR_OK) return 0;
    uint8_t *out = NULL, *again = NULL, *enc = NULL;
    size_t out_n = 0, again_n = 0, enc_n = 0;
    switch (mode) {
    case 0:
        /* expected 0 means "unknown": then any size up to the bound */
        if (lstar_codec_decode(c, in, n, expected, FUZZ_MAX_DECODED, &out, &out_n, NULL) == LSTAR_OK)
            FUZZ_CHECK(out && (expected == 0 ? out_n <= FUZZ_MAX_DECODED : out_n == expected));
        else
            FUZZ_CHECK(!out && out_n == 0);
        break;
    case 1:
        if (lstar_codec_decode(c, in, n, 0, FUZZ_MAX_DECODED, &out, &out_n, NULL) != LSTAR_OK) {
            FUZZ_CHECK(!out && out_n == 0);
            break;
        }
        FUZZ_CHECK(out && out_n <= FUZZ_MAX_DECODED);
        if (out_n == 0) break;
        FUZZ_CHECK(lstar_codec_decode(c, in, n, out_n, FUZZ_MAX_DECODED, &again, &again_n, NULL) == LSTAR_OK);
        FUZZ_CHECK(again_n == out_n && memcmp(again, out, out_n) == 0);
        break;
    case 2:
        out = lstar_malloc(expected ? expected : 1);
        if (out) (void)lstar_codec_decode_into(c, in, n, out, expected, NULL);
        break;
    default:
        if (lstar_codec_encode(c, in, n, &enc, &enc_n, NULL) != LSTAR_OK) break;
        if (lstar_codec_decode(c, enc, enc_n, n, 0, &out, &out_n, NULL) == LSTAR_OK) {
            FUZZ_CHECK(out_n == n);
            FUZZ_CHECK(lossy || n == 0 || memcmp(out, in, n) == 0);
        } else {
            /* delta rejects inputs that are not whole elements; everything else must round-trip */
            FUZZ_CHECK(lossy || strcmp(STR(FUZZ_CODEC), "delta") == 0);
        }
        break;
    }
    lstar_free(out);
    lstar_free(again);
    lstar_free(enc);
    lstar_codec_free(c);
    return 0;
}
