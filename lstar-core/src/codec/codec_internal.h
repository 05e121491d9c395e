/* Internal: the codec object and the per-codec entry points.
 *
 * Layout of the module (see docs/internals/codecs.md):
 *   codec.c          factory (JSON / spec), to_json, dispatch of encode/decode
 *   codec_compress.c zlib, gzip, zstd, blosc, lz4
 *   codec_filters.c  shuffle, delta, crc32c, fletcher32
 *   codec_fast.c     fast paths for the HDF5 plugins: zstd decode with pooled
 *                    contexts, in-place delta
 *
 * Every codec kind provides three functions:
 *   encode       in -> freshly allocated out (lstar_malloc)
 *   decode_into  in -> caller buffer of exactly `out_size` bytes; any other
 *                decoded size is LSTAR_ERR_CORRUPT (zero-copy path)
 *   decode_alloc in -> freshly allocated out of unknown size <= max_size;
 *                larger output is LSTAR_ERR_LIMIT
 */
#ifndef LSTAR_INTERNAL_CODEC_H
#define LSTAR_INTERNAL_CODEC_H
#include <stddef.h>
#include <stdint.h>

#include "lstar/codec.h"

typedef enum lstar_codec_kind {
    LSTAR_CODEC_ZLIB = 1,
    LSTAR_CODEC_GZIP,
    LSTAR_CODEC_ZSTD,
    LSTAR_CODEC_BLOSC,
    LSTAR_CODEC_LZ4,
    LSTAR_CODEC_SHUFFLE,
    LSTAR_CODEC_DELTA,
    LSTAR_CODEC_CRC32C,
    LSTAR_CODEC_FLETCHER32
} lstar_codec_kind;

/* Blosc shuffle modes (same values as c-blosc / numcodecs). */
#define LSTAR_BLOSC_AUTOSHUFFLE (-1)
#define LSTAR_BLOSC_NOSHUFFLE 0
#define LSTAR_BLOSC_SHUFFLE 1
#define LSTAR_BLOSC_BITSHUFFLE 2

struct lstar_codec {
    lstar_codec_kind kind;
    int level;          /* zlib/gzip/zstd level, blosc clevel */
    int checksum;       /* zstd: write a content checksum */
    int acceleration;   /* lz4 */
    char cname[16];     /* blosc inner compressor */
    int shuffle;        /* blosc shuffle as configured (may be AUTOSHUFFLE) */
    size_t typesize;    /* blosc typesize (>= 1) */
    size_t blocksize;   /* blosc blocksize (0 = automatic) */
    size_t elementsize; /* shuffle element size (>= 1) */
    lstar_dtype dtype;  /* delta: decoded element type */
    size_t dsize;       /* delta: its size */
    lstar_dtype astype; /* delta: encoded element type (== dtype, or both integers) */
    size_t asize;       /* delta: its size */
};

/* Decode exactly `out_size` bytes into the caller's buffer `out` (zero-copy
 * variant of lstar_codec_decode with a known expected size).  A stream that
 * decodes to any other size is LSTAR_ERR_CORRUPT; `out` content is undefined
 * on failure.  out may be NULL only when out_size is 0.  Thread-safe like
 * lstar_codec_decode. */
lstar_status lstar_codec_decode_into(const lstar_codec *codec, const void *in, size_t in_size, void *out,
                                     size_t out_size, lstar_error *err);

/* Encoded size of `decoded_size` bytes for the codecs whose output size depends only on the input size:
 * shuffle (same), delta (decoded_size / dtype size * astype size; same when astype == dtype), crc32c and
 * fletcher32 (+4).  Returns 1 and sets *encoded_size, or 0 for the compressors (data-dependent size) and
 * for a delta input that is not a whole number of elements.  Lets a codec chain compute the exact
 * expected size of every intermediate decode step. */
int lstar_codec_encoded_size(const lstar_codec *codec, size_t decoded_size, size_t *encoded_size);

/* Resolve blosc AUTOSHUFFLE for a type size (bitshuffle for 1-byte items). */
int lstar_blosc_effective_shuffle(int shuffle, size_t typesize);

/* Per-kind entry points (codec_compress.c / codec_filters.c). */
typedef lstar_status (*lstar_codec_encode_fn)(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                              size_t *out_size, lstar_error *err);
typedef lstar_status (*lstar_codec_decode_into_fn)(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                                   size_t out_size, lstar_error *err);
typedef lstar_status (*lstar_codec_decode_alloc_fn)(const lstar_codec *c, const uint8_t *in, size_t n,
                                                    size_t max_size, uint8_t **out, size_t *out_size,
                                                    lstar_error *err);

#define LSTAR_CODEC_DECLARE_(name)                                                                            \
    lstar_status lstar_codec_##name##_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,  \
                                             size_t *out_size, lstar_error *err);                              \
    lstar_status lstar_codec_##name##_decode_into(const lstar_codec *c, const uint8_t *in, size_t n,           \
                                                  uint8_t *out, size_t out_size, lstar_error *err);            \
    lstar_status lstar_codec_##name##_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n,          \
                                                   size_t max_size, uint8_t **out, size_t *out_size,           \
                                                   lstar_error *err);
LSTAR_CODEC_DECLARE_(zlib)
LSTAR_CODEC_DECLARE_(gzip)
LSTAR_CODEC_DECLARE_(zstd)
LSTAR_CODEC_DECLARE_(blosc)
LSTAR_CODEC_DECLARE_(lz4)
LSTAR_CODEC_DECLARE_(shuffle)
LSTAR_CODEC_DECLARE_(delta)
LSTAR_CODEC_DECLARE_(crc32c)
LSTAR_CODEC_DECLARE_(fletcher32)
#undef LSTAR_CODEC_DECLARE_

/* Byte shuffle / unshuffle with HDF5's layout: byte j of element i goes to
 * out[j*nelem + i] with nelem = n / elementsize; the trailing n % elementsize
 * bytes are copied unchanged.  in and out must not overlap. */
void lstar_shuffle_bytes(size_t elementsize, const uint8_t *in, uint8_t *out, size_t n);
void lstar_unshuffle_bytes(size_t elementsize, const uint8_t *in, uint8_t *out, size_t n);
/* HDF5 / numcodecs Fletcher-32 of n bytes. */
uint32_t lstar_fletcher32(const void *data, size_t n);

/* Allocate the result of a decode/encode: at least 1 byte so that a
 * successful call always returns a non-NULL pointer. */
uint8_t *lstar_codec_alloc_out(size_t n);

/* ---- Fast paths (codec_fast.c) for callers that decode one chunk at a time into their own buffer ---- */

/* No valid zstd input of n bytes decodes to more than n * 32768 bytes (a block of at most 128 KiB costs at
 * least 4 bytes: 3-byte header + 1 RLE byte). */
#define ZSTD_MAX_RATIO 32768ull
/* Total content size declared by the zstd frames of `in`: LSTAR_OK with *known = 1 and *total set, or
 * *known = 0 when some frame does not declare it.  Fails (LSTAR_ERR_CORRUPT) on empty input, a bad or
 * truncated frame header, and a total above n * 32768 bytes, which no valid input reaches. */
lstar_status lstar_codec_zstd_declared_size(const void *in, size_t n, unsigned long long *total, int *known,
                                            lstar_error *err);
/* lstar_codec_decode_into with the same checks, faster for zstd: decompression contexts are kept in a
 * small process-wide pool and reused instead of being created per call.  Other kinds go to
 * lstar_codec_decode_into.  out_size must be > 0.  Thread-safe. */
lstar_status lstar_codec_decode_into_fast(const lstar_codec *codec, const void *in, size_t in_size, void *out,
                                          size_t out_size, lstar_error *err);
/* Delta encode (encode = 1) or decode (0) of `n` bytes in place, for integer delta codecs with
 * astype == dtype (LSTAR_ERR_UNSUPPORTED otherwise).  A size that is not a whole number of elements is
 * LSTAR_ERR_INVALID_ARG (encode) or LSTAR_ERR_CORRUPT (decode).  Same bytes as lstar_codec_encode /
 * lstar_codec_decode. */
lstar_status lstar_codec_delta_inplace(const lstar_codec *codec, int encode, void *buf, size_t n,
                                       lstar_error *err);

#endif
