/* Compressors: zlib (RFC 1950), gzip (RFC 1952), zstd (RFC 8878), blosc (c-blosc 1 frame), lz4 (numcodecs
 * framing).  Byte formats are those of numcodecs / zarr-python; see docs/internals/codecs.md. */
#include <blosc.h>
#include <libdeflate.h>
#include <limits.h>
#include <lz4.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "codec/codec_internal.h"
#include "common/error.h"
#include "lstar/alloc.h"

/* Smallest first guess for an output of unknown size. */
#define GROW_MIN ((size_t)64 * 1024)

/* Shrink an encoder's worst-case buffer to its real size (keeps the old block if realloc fails). */
static uint8_t *shrink(uint8_t *p, size_t n) {
    uint8_t *q = lstar_realloc(p, n ? n : 1);
    return q ? q : p;
}

/* Next capacity of a growable output bounded by hard_cap (= max + 1 so that overflow is detectable). */
static size_t grow_cap(size_t cap, size_t hard_cap) {
    size_t ncap = cap < GROW_MIN ? GROW_MIN : (cap > hard_cap / 2 ? hard_cap : cap * 2);
    return ncap > hard_cap ? hard_cap : ncap;
}

static size_t first_guess(size_t in_size, size_t hard_cap) {
    size_t g = in_size > ((size_t)-1) / 4 ? (size_t)-1 : in_size * 4;
    if (g < GROW_MIN) g = GROW_MIN;
    return g > hard_cap ? hard_cap : g;
}

/* Grow a streaming decoder's output *bufp (capacity *capp, decoding `in_size` input bytes) towards hard_cap. */
static lstar_status grow_out(uint8_t **bufp, size_t *capp, size_t in_size, size_t hard_cap, lstar_error *err) {
    size_t ncap = *capp ? grow_cap(*capp, hard_cap) : first_guess(in_size, hard_cap);
    uint8_t *nb = lstar_realloc(*bufp, ncap);
    if (!nb) return LSTAR_NOMEM(err, NULL);
    *bufp = nb;
    *capp = ncap;
    return LSTAR_OK;
}

/* Hand over the output of a streaming decode that returned `st`: shrunk to its size, a 1-byte block for an
 * empty result; freed on failure. */
static lstar_status stream_result(lstar_status st, uint8_t *buf, size_t produced, uint8_t **out, size_t *out_size,
                                  lstar_error *err) {
    if (st == LSTAR_OK && !buf && !(buf = lstar_codec_alloc_out(0))) st = LSTAR_NOMEM(err, NULL);
    if (st != LSTAR_OK) {
        lstar_free(buf);
        return st;
    }
    *out = shrink(buf, produced);
    *out_size = produced;
    return LSTAR_OK;
}

/* Decode a stream whose header declared its decoded size (already checked against the caller's limit)
 * into a new buffer of exactly that size. */
static lstar_status decode_declared(const lstar_codec *c, lstar_codec_decode_into_fn into, const uint8_t *in,
                                    size_t n, size_t declared, uint8_t **out, size_t *out_size, lstar_error *err) {
    uint8_t *buf = lstar_codec_alloc_out(declared);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    lstar_status st = into(c, in, n, buf, declared, err);
    if (st != LSTAR_OK) {
        lstar_free(buf);
        return st;
    }
    *out = buf;
    *out_size = declared;
    return LSTAR_OK;
}

/* ---- deflate family ---------------------------------------------------------------------------- */

static lstar_status deflate_encode(const lstar_codec *c, int gzip, const uint8_t *in, size_t n, uint8_t **out,
                                   size_t *out_size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *buf = NULL;
    const char *id = gzip ? "gzip" : "zlib";
    struct libdeflate_compressor *comp = libdeflate_alloc_compressor(c->level < 0 ? 6 : c->level);
    if (!comp) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    size_t bound = gzip ? libdeflate_gzip_compress_bound(comp, n) : libdeflate_zlib_compress_bound(comp, n);
    buf = lstar_malloc(bound);
    if (!buf) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    size_t r = gzip ? libdeflate_gzip_compress(comp, in, n, buf, bound)
                    : libdeflate_zlib_compress(comp, in, n, buf, bound);
    if (r == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CODEC, NULL, "%s: compression failed", id);
        goto done;
    }
    *out = shrink(buf, r);
    *out_size = r;
    buf = NULL;
done:
    libdeflate_free_compressor(comp);
    lstar_free(buf);
    return st;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return lstar_calloc(items, size);
}
static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    lstar_free(p);
}

/* Streaming inflate for outputs of unknown size, into *bufp grown up to limit + 1 bytes.
 * gzip: RFC 1952, several members, zero padding between/after members accepted (as Python's gzip).
 * zlib: one RFC 1950 stream; bytes after its end are ignored (as zlib.decompress / HDF5). */
static lstar_status inflate_stream(int gzip, const uint8_t *in, size_t n, size_t limit, uint8_t **bufp,
                                   size_t *capp, size_t *produced, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const char *id = gzip ? "gzip" : "zlib";
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    int inited = 0;
    size_t pos = 0, inpos = 0;
    size_t hard_cap = limit < (size_t)-1 ? limit + 1 : limit;
    if (inflateInit2(&zs, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    inited = 1;
    for (;;) {
        uint8_t *dst;
        size_t room;
        if (pos < *capp) {
            dst = *bufp + pos;
            room = *capp - pos;
        } else if (*capp < hard_cap) {
            LSTAR_CHECK(grow_out(bufp, capp, n, hard_cap, err));
            continue;
        } else {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: data decodes to more than the %zu-byte limit", id, limit);
            goto done;
        }
        if (room > UINT_MAX) room = UINT_MAX;
        size_t in_room = n - inpos > UINT_MAX ? UINT_MAX : n - inpos;
        zs.next_in = (Bytef *)(uintptr_t)(in + inpos);
        zs.avail_in = (uInt)in_room;
        zs.next_out = dst;
        zs.avail_out = (uInt)room;
        int r = inflate(&zs, Z_NO_FLUSH);
        size_t used_in = in_room - zs.avail_in, used_out = room - zs.avail_out;
        inpos += used_in;
        pos += used_out;
        if (r == Z_STREAM_END) {
            if (!gzip) break;
            while (inpos < n && in[inpos] == 0) inpos++; /* zero padding after a member */
            if (inpos == n) break;
            if (inflateReset(&zs) != Z_OK) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: cannot restart after a member", id);
                goto done;
            }
            continue;
        }
        if (r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_STREAM_ERROR) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: corrupt stream (%s)", id, zs.msg ? zs.msg : "bad data");
            goto done;
        }
        if (r == Z_MEM_ERROR) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
        if (used_in == 0 && used_out == 0 && inpos == n) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: truncated stream", id);
            goto done;
        }
    }
    if (pos > limit) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: data decodes to more than the %zu-byte limit", id, limit);
        goto done;
    }
    *produced = pos;
done:
    if (inited) inflateEnd(&zs);
    return st;
}

static lstar_status inflate_into(int gzip, const uint8_t *in, size_t n, uint8_t *out, size_t out_size,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const char *id = gzip ? "gzip" : "zlib";
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) return LSTAR_NOMEM(err, NULL);
    size_t inpos = 0, pos = 0;
    do {
        size_t in_used = 0, out_used = 0;
        enum libdeflate_result r =
            gzip ? libdeflate_gzip_decompress_ex(d, in + inpos, n - inpos, out + pos, out_size - pos, &in_used,
                                                 &out_used)
                 : libdeflate_zlib_decompress_ex(d, in + inpos, n - inpos, out + pos, out_size - pos, &in_used,
                                                 &out_used);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: data decodes to more than the expected %zu bytes", id,
                            out_size);
            goto done;
        }
        if (r != LIBDEFLATE_SUCCESS) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: corrupt or truncated stream", id);
            goto done;
        }
        inpos += in_used;
        pos += out_used;
        if (!gzip) break;
        while (inpos < n && in[inpos] == 0) inpos++;
    } while (inpos < n);
    if (pos != out_size)
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: data decodes to %zu bytes, expected %zu", id, pos,
                        out_size);
done:
    libdeflate_free_decompressor(d);
    return st;
}

static lstar_status inflate_alloc(int gzip, const uint8_t *in, size_t n, size_t max_size, uint8_t **out,
                                  size_t *out_size, lstar_error *err) {
    uint8_t *buf = NULL;
    size_t cap = 0, produced = 0;
    lstar_status st = inflate_stream(gzip, in, n, max_size, &buf, &cap, &produced, err);
    return stream_result(st, buf, produced, out, out_size, err);
}

lstar_status lstar_codec_zlib_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                     size_t *out_size, lstar_error *err) {
    return deflate_encode(c, 0, in, n, out, out_size, err);
}
lstar_status lstar_codec_zlib_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                          size_t out_size, lstar_error *err) {
    (void)c;
    return inflate_into(0, in, n, out, out_size, err);
}
lstar_status lstar_codec_zlib_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                           uint8_t **out, size_t *out_size, lstar_error *err) {
    (void)c;
    return inflate_alloc(0, in, n, max_size, out, out_size, err);
}
lstar_status lstar_codec_gzip_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                     size_t *out_size, lstar_error *err) {
    return deflate_encode(c, 1, in, n, out, out_size, err);
}
lstar_status lstar_codec_gzip_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                          size_t out_size, lstar_error *err) {
    (void)c;
    return inflate_into(1, in, n, out, out_size, err);
}
lstar_status lstar_codec_gzip_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                           uint8_t **out, size_t *out_size, lstar_error *err) {
    (void)c;
    return inflate_alloc(1, in, n, max_size, out, out_size, err);
}

/* ---- zstd -------------------------------------------------------------------------------------- */

/* ZSTD_MAX_RATIO (codec_internal.h): no inner compressor of blosc does better, so the same bound applies to
 * blosc frames. */

lstar_status lstar_codec_zstd_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                     size_t *out_size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *buf = NULL;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!cc) return LSTAR_NOMEM(err, NULL);
    size_t r = ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, c->level);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, c->checksum ? 1 : 0);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    if (ZSTD_isError(r)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CODEC, NULL, "zstd: %s", ZSTD_getErrorName(r));
        goto done;
    }
    size_t bound = ZSTD_compressBound(n);
    buf = lstar_malloc(bound);
    if (!buf) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    r = ZSTD_compress2(cc, buf, bound, in, n);
    if (ZSTD_isError(r)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CODEC, NULL, "zstd: compression failed: %s", ZSTD_getErrorName(r));
        goto done;
    }
    *out = shrink(buf, r);
    *out_size = r;
    buf = NULL;
done:
    ZSTD_freeCCtx(cc);
    lstar_free(buf);
    return st;
}

/* Streaming decode of one or more frames (some without a content size) into *bufp, growing up to limit when
 * growable, else into exactly *capp bytes (a 1-byte probe detects overlong data). */
static lstar_status zstd_stream(const uint8_t *in, size_t n, int growable, size_t limit, uint8_t **bufp,
                                size_t *capp, size_t *produced, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    size_t hard_cap = limit < (size_t)-1 ? limit + 1 : limit;
    size_t pos = 0, ret = 1;
    uint8_t scratch = 0;
    ZSTD_inBuffer ib = {in, n, 0};
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) return LSTAR_NOMEM(err, NULL);
    for (;;) {
        if (ib.pos == ib.size && ret == 0) break;
        uint8_t *dst;
        size_t room;
        if (pos < *capp) {
            dst = *bufp + pos;
            room = *capp - pos;
        } else if (growable && *capp < hard_cap) {
            LSTAR_CHECK(grow_out(bufp, capp, n, hard_cap, err));
            continue;
        } else if (growable) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "zstd: data decodes to more than the %zu-byte limit", limit);
            goto done;
        } else {
            dst = &scratch;
            room = 1;
        }
        ZSTD_outBuffer ob = {dst, room, 0};
        size_t inpos = ib.pos;
        ret = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(ret)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: corrupt data: %s", ZSTD_getErrorName(ret));
            goto done;
        }
        if (dst == &scratch && ob.pos) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: data decodes to more than the expected %zu bytes",
                            *capp);
            goto done;
        }
        if (dst != &scratch) pos += ob.pos;
        if (ob.pos == 0 && ib.pos == inpos && ret != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: truncated frame");
            goto done;
        }
    }
    if (growable && pos > limit) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "zstd: data decodes to more than the %zu-byte limit", limit);
        goto done;
    }
    *produced = pos;
done:
    ZSTD_freeDCtx(d);
    return st;
}


lstar_status lstar_codec_zstd_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                          size_t out_size, lstar_error *err) {
    (void)c;
    unsigned long long total = 0;
    int known = 0;
    lstar_status st = lstar_codec_zstd_declared_size(in, n, &total, &known, err);
    if (st != LSTAR_OK) return st;
    if (known) {
        if (total != out_size)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: frame declares %llu decoded bytes, expected %zu",
                              total, out_size);
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d) return LSTAR_NOMEM(err, NULL);
        size_t r = ZSTD_decompressDCtx(d, out, out_size, in, n);
        ZSTD_freeDCtx(d);
        if (ZSTD_isError(r))
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: corrupt data: %s", ZSTD_getErrorName(r));
        if (r != out_size)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: data decodes to %zu bytes, expected %zu", r,
                              out_size);
        return LSTAR_OK;
    }
    size_t cap = out_size, produced = 0;
    st = zstd_stream(in, n, 0, out_size, &out, &cap, &produced, err);
    if (st == LSTAR_OK && produced != out_size)
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "zstd: data decodes to %zu bytes, expected %zu", produced,
                        out_size);
    return st;
}

lstar_status lstar_codec_zstd_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                           uint8_t **out, size_t *out_size, lstar_error *err) {
    unsigned long long total = 0;
    int known = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, produced = 0;
    lstar_status st = lstar_codec_zstd_declared_size(in, n, &total, &known, err);
    if (st != LSTAR_OK) return st;
    if (known) {
        if (total > max_size)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL,
                              "zstd: frame declares %llu decoded bytes, above the %zu-byte limit", total, max_size);
        return decode_declared(c, lstar_codec_zstd_decode_into, in, n, (size_t)total, out, out_size, err);
    }
    st = zstd_stream(in, n, 1, max_size, &buf, &cap, &produced, err);
    return stream_result(st, buf, produced, out, out_size, err);
}

/* ---- blosc (c-blosc 1 frame) ------------------------------------------------------------------- */

lstar_status lstar_codec_blosc_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                      size_t *out_size, lstar_error *err) {
    if (n > (size_t)BLOSC_MAX_BUFFERSIZE)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "blosc: %zu-byte chunk exceeds the blosc1 limit of %d bytes", n,
                          BLOSC_MAX_BUFFERSIZE);
    size_t cap = n + BLOSC_MAX_OVERHEAD;
    uint8_t *buf = lstar_malloc(cap);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    int shuffle = lstar_blosc_effective_shuffle(c->shuffle, c->typesize);
    int r = blosc_compress_ctx(c->level, shuffle, c->typesize, n, in, buf, cap, c->cname, c->blocksize, 1);
    if (r <= 0) {
        lstar_free(buf);
        return LSTAR_FAIL(err, LSTAR_ERR_CODEC, NULL, "blosc: compression with '%s' failed (%d)", c->cname, r);
    }
    *out = shrink(buf, (size_t)r);
    *out_size = (size_t)r;
    return LSTAR_OK;
}

/* Validate the 16-byte header against the input; *nbytes = declared decoded size. */
static lstar_status blosc_header(const uint8_t *in, size_t n, size_t *nbytes, lstar_error *err) {
    size_t nb = 0, cb = 0, bs = 0;
    if (n < BLOSC_MIN_HEADER_LENGTH)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "blosc: %zu bytes is shorter than the 16-byte header", n);
    blosc_cbuffer_sizes(in, &nb, &cb, &bs);
    if (cb > n)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "blosc: header says %zu compressed bytes, only %zu present",
                          cb, n);
    if (blosc_cbuffer_validate(in, n, &nb) != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "blosc: invalid frame header");
    int memcpyed = (in[2] & 0x2) != 0;
    if (memcpyed ? nb + BLOSC_MAX_OVERHEAD != cb : (unsigned long long)nb > (unsigned long long)cb * ZSTD_MAX_RATIO)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL,
                          "blosc: header declares %zu decoded bytes, impossible for %zu compressed bytes", nb, cb);
    *nbytes = nb;
    return LSTAR_OK;
}

lstar_status lstar_codec_blosc_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                           size_t out_size, lstar_error *err) {
    (void)c;
    size_t nbytes = 0;
    lstar_status st = blosc_header(in, n, &nbytes, err);
    if (st != LSTAR_OK) return st;
    if (nbytes != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "blosc: frame declares %zu decoded bytes, expected %zu",
                          nbytes, out_size);
    int r = blosc_decompress_ctx(in, out, out_size, 1);
    if (r < 0 || (size_t)r != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL,
                          "blosc: decompression failed (%d): corrupt data or inner compressor not available", r);
    return LSTAR_OK;
}

lstar_status lstar_codec_blosc_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                            uint8_t **out, size_t *out_size, lstar_error *err) {
    size_t nbytes = 0;
    lstar_status st = blosc_header(in, n, &nbytes, err);
    if (st != LSTAR_OK) return st;
    if (nbytes > max_size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL,
                          "blosc: frame declares %zu decoded bytes, above the %zu-byte limit", nbytes, max_size);
    return decode_declared(c, lstar_codec_blosc_decode_into, in, n, nbytes, out, out_size, err);
}

/* ---- lz4 (numcodecs: 4-byte LE decoded size + one raw LZ4 block) ------------------------------ */

/* Each LZ4 input byte yields at most 255 output bytes (match-length extension bytes). */
#define LZ4_MAX_RATIO 256u

lstar_status lstar_codec_lz4_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                    size_t *out_size, lstar_error *err) {
    if (n > (size_t)LZ4_MAX_INPUT_SIZE)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "lz4: %zu-byte chunk exceeds the LZ4 limit of %d bytes", n,
                          LZ4_MAX_INPUT_SIZE);
    int bound = LZ4_compressBound((int)n);
    uint8_t *buf = lstar_malloc((size_t)bound + 4);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    buf[0] = (uint8_t)n;
    buf[1] = (uint8_t)(n >> 8);
    buf[2] = (uint8_t)(n >> 16);
    buf[3] = (uint8_t)(n >> 24);
    int r = LZ4_compress_fast((const char *)in, (char *)buf + 4, (int)n, bound, c->acceleration);
    if (r <= 0) {
        lstar_free(buf);
        return LSTAR_FAIL(err, LSTAR_ERR_CODEC, NULL, "lz4: compression failed");
    }
    *out = shrink(buf, (size_t)r + 4);
    *out_size = (size_t)r + 4;
    return LSTAR_OK;
}

static lstar_status lz4_header(const uint8_t *in, size_t n, size_t *declared, lstar_error *err) {
    if (n < 4) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "lz4: %zu bytes is shorter than the size prefix", n);
    if (n - 4 > (size_t)INT_MAX)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "lz4: %zu-byte block is too large for LZ4", n);
    size_t d = (size_t)in[0] | (size_t)in[1] << 8 | (size_t)in[2] << 16 | (size_t)in[3] << 24;
    if (d > (n - 4) * (size_t)LZ4_MAX_RATIO + 64)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL,
                          "lz4: size prefix says %zu decoded bytes, impossible for a %zu-byte block", d, n - 4);
    *declared = d;
    return LSTAR_OK;
}

lstar_status lstar_codec_lz4_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                         size_t out_size, lstar_error *err) {
    (void)c;
    size_t d = 0;
    lstar_status st = lz4_header(in, n, &d, err);
    if (st != LSTAR_OK) return st;
    if (d != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "lz4: size prefix says %zu decoded bytes, expected %zu", d,
                          out_size);
    if (d > (size_t)INT_MAX)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "lz4: %zu decoded bytes is too large for LZ4", d);
    int r = LZ4_decompress_safe((const char *)in + 4, (char *)out, (int)(n - 4), (int)d);
    if (r < 0 || (size_t)r != d)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "lz4: corrupt or truncated block");
    return LSTAR_OK;
}

lstar_status lstar_codec_lz4_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                          uint8_t **out, size_t *out_size, lstar_error *err) {
    size_t d = 0;
    lstar_status st = lz4_header(in, n, &d, err);
    if (st != LSTAR_OK) return st;
    if (d > max_size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL,
                          "lz4: size prefix says %zu decoded bytes, above the %zu-byte limit", d, max_size);
    return decode_declared(c, lstar_codec_lz4_decode_into, in, n, d, out, out_size, err);
}
