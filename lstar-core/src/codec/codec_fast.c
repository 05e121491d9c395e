/* Fast paths for callers that decode one chunk at a time into a buffer they own (the HDF5 filter
 * plugins): zstd with reused decompression contexts, delta in place.  See codec_internal.h.
 *
 * The checks are the ones of codec_compress.c / codec_filters.c: the sizes declared in a zstd frame
 * are never trusted beyond what the caller expects, and every disagreement is LSTAR_ERR_CORRUPT.
 */
#include <pthread.h>
#include <string.h>
#include <zstd.h>

#include "codec/codec_internal.h"
#include "common/error.h"

/* ---- zstd: declared size ------------------------------------------------------------------------ */


lstar_status lstar_codec_zstd_declared_size(const void *in, size_t n, unsigned long long *total, int *known,
                                            lstar_error *err) {
    const uint8_t *p = in;
    *known = 0;
    *total = 0;
    if (!p || n == 0) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: empty input");
    unsigned long long t = 0;
    for (size_t pos = 0; pos < n;) {
        unsigned long long fcs = ZSTD_getFrameContentSize(p + pos, n - pos);
        if (fcs == ZSTD_CONTENTSIZE_ERROR)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: no valid frame header at byte %zu", pos);
        if (fcs == ZSTD_CONTENTSIZE_UNKNOWN) return LSTAR_OK; /* only a bounded streaming decode can tell */
        size_t fsize = ZSTD_findFrameCompressedSize(p + pos, n - pos);
        if (ZSTD_isError(fsize))
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: truncated or corrupt frame at byte %zu: %s", pos,
                              ZSTD_getErrorName(fsize));
        if (fcs > ~0ull - t) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: declared frame sizes overflow");
        t += fcs;
        pos += fsize;
    }
    if (t > (unsigned long long)n * ZSTD_MAX_RATIO)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL,
                          "zstd: frame declares %llu decoded bytes, impossible for %zu input bytes", t, n);
    *total = t;
    *known = 1;
    return LSTAR_OK;
}

/* ---- zstd: a small pool of decompression contexts ----------------------------------------------- */

/* A ZSTD_DCtx holds ~100 KiB of tables; creating one per chunk costs an allocation (often an mmap) and
 * page faults on every chunk.  The pool keeps a few for reuse by whichever thread needs one.  A pool
 * rather than thread-local storage: the code may live in a dlopen()ed HDF5 plugin, and a thread-exit
 * destructor must never point into an unloaded library. */
#define DCTX_POOL_MAX 16
static pthread_mutex_t dctx_lock = PTHREAD_MUTEX_INITIALIZER;
static ZSTD_DCtx *dctx_pool[DCTX_POOL_MAX];
static int dctx_count = 0;
static int dctx_closed = 0;

static ZSTD_DCtx *dctx_acquire(void) {
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&dctx_lock);
    if (dctx_count > 0) d = dctx_pool[--dctx_count];
    pthread_mutex_unlock(&dctx_lock);
    return d ? d : ZSTD_createDCtx();
}

static void dctx_release(ZSTD_DCtx *d, int failed) {
    if (!d) return;
    /* After a failure the context may be mid-frame: start clean (single-shot decoding would anyway). */
    if (failed) ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    pthread_mutex_lock(&dctx_lock);
    if (!dctx_closed && dctx_count < DCTX_POOL_MAX) {
        dctx_pool[dctx_count++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&dctx_lock);
    ZSTD_freeDCtx(d); /* NULL accepted */
}

/* Runs at exit or when the library holding this code is unloaded; later calls still work, they just
 * stop pooling. */
__attribute__((destructor)) static void dctx_pool_fini(void) {
    pthread_mutex_lock(&dctx_lock);
    dctx_closed = 1;
    while (dctx_count > 0) ZSTD_freeDCtx(dctx_pool[--dctx_count]);
    pthread_mutex_unlock(&dctx_lock);
}

static lstar_status zstd_decode_pooled(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                       size_t out_size, lstar_error *err) {
    unsigned long long total = 0;
    int known = 0;
    lstar_status st = lstar_codec_zstd_declared_size(in, n, &total, &known, err);
    if (st != LSTAR_OK) return st;
    if (!known) /* a frame without a content size: the bounded streaming decoder of codec_compress.c */
        return lstar_codec_zstd_decode_into(c, in, n, out, out_size, err);
    if (total != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: frame declares %llu decoded bytes, expected %zu", total,
                          out_size);
    ZSTD_DCtx *d = dctx_acquire();
    if (!d) return LSTAR_NOMEM(err, NULL);
    size_t r = ZSTD_decompressDCtx(d, out, out_size, in, n);
    dctx_release(d, ZSTD_isError(r));
    if (ZSTD_isError(r))
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: corrupt data: %s", ZSTD_getErrorName(r));
    if (r != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: data decodes to %zu bytes, expected %zu", r,
                          out_size);
    return LSTAR_OK;
}

lstar_status lstar_codec_decode_into_fast(const lstar_codec *codec, const void *in, size_t in_size, void *out,
                                          size_t out_size, lstar_error *err) {
    if (!codec || !in || !out || !out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec decode: invalid arguments");
    if (codec->kind == LSTAR_CODEC_ZSTD) return zstd_decode_pooled(codec, in, in_size, out, out_size, err);
    return lstar_codec_decode_into(codec, in, in_size, out, out_size, err);
}

/* ---- delta in place ----------------------------------------------------------------------------- */

/* Encode walks backwards (each difference needs the original previous element), decode forwards (a
 * running sum): both read an element before overwriting it, so one buffer suffices.  Same results as
 * codec_filters.c's kernels (wrapping arithmetic in the element type). */
#define FAST_DELTA_(T)                                                                                         \
    static void delta_enc_inplace_##T(uint8_t *p, size_t ne) {                                                \
        if (ne < 2) return;                                                                                   \
        T cur;                                                                                                \
        memcpy(&cur, p + (ne - 1) * sizeof(T), sizeof(T));                                                    \
        for (size_t i = ne - 1; i > 0; i--) {                                                                 \
            T prev, d;                                                                                        \
            memcpy(&prev, p + (i - 1) * sizeof(T), sizeof(T));                                                \
            d = (T)(cur - prev);                                                                              \
            memcpy(p + i * sizeof(T), &d, sizeof(T));                                                         \
            cur = prev;                                                                                       \
        }                                                                                                     \
    }                                                                                                         \
    static void delta_dec_inplace_##T(uint8_t *p, size_t ne) {                                                \
        T acc = 0;                                                                                            \
        for (size_t i = 0; i < ne; i++) {                                                                     \
            T d;                                                                                              \
            memcpy(&d, p + i * sizeof(T), sizeof(T));                                                         \
            acc = (T)(acc + d);                                                                               \
            memcpy(p + i * sizeof(T), &acc, sizeof(T));                                                       \
        }                                                                                                     \
    }
FAST_DELTA_(uint8_t)
FAST_DELTA_(uint16_t)
FAST_DELTA_(uint32_t)
FAST_DELTA_(uint64_t)
#undef FAST_DELTA_

lstar_status lstar_codec_delta_inplace(const lstar_codec *codec, int encode, void *buf, size_t n,
                                       lstar_error *err) {
    if (!codec || codec->kind != LSTAR_CODEC_DELTA || (!buf && n))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "delta in place: invalid arguments");
    if (codec->astype != codec->dtype || !lstar_dtype_is_integer(codec->dtype))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL,
                          "delta in place: only integer codecs with astype == dtype (this one: %s -> %s)",
                          lstar_dtype_name(codec->dtype), lstar_dtype_name(codec->astype));
    size_t es = codec->dsize;
    if (n % es)
        return LSTAR_FAIL(err, encode ? LSTAR_ERR_INVALID_ARG : LSTAR_ERR_CORRUPT, NULL,
                          "delta: %zu bytes is not a whole number of %zu-byte %s elements", n, es,
                          lstar_dtype_name(codec->dtype));
    uint8_t *p = buf;
    size_t ne = n / es;
    switch (es) {
    case 1: (encode ? delta_enc_inplace_uint8_t : delta_dec_inplace_uint8_t)(p, ne); break;
    case 2: (encode ? delta_enc_inplace_uint16_t : delta_dec_inplace_uint16_t)(p, ne); break;
    case 4: (encode ? delta_enc_inplace_uint32_t : delta_dec_inplace_uint32_t)(p, ne); break;
    case 8: (encode ? delta_enc_inplace_uint64_t : delta_dec_inplace_uint64_t)(p, ne); break;
    default:
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "delta in place: %zu-byte elements are not supported", es);
    }
    return LSTAR_OK;
}
