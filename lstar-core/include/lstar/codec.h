/* lstar/codec.h — chunk codecs (Zarr v2 filters/compressors, Zarr v3 codecs).
 *
 * A codec is created from its JSON configuration, exactly as it appears in Zarr
 * metadata: v2 `{"id": "zstd", "level": 3}` or v3 `{"name": "zstd",
 * "configuration": {...}}` (also the `numcodecs.<id>` v3 names).  Supported:
 *   bytes->bytes: zlib, gzip, zstd, blosc (every inner compressor libblosc
 *                 has), lz4 (numcodecs framing), shuffle, crc32c, fletcher32
 *   array->array on the flat element stream: delta (numcodecs Delta)
 * The array-level codecs (v3 `bytes`, `transpose`, `sharding_indexed`,
 * `vlen-utf8`) are handled by the Zarr layer, not here.
 *
 * Decoders never trust sizes found in the encoded bytes: every decode takes the
 * exact (or maximum) decoded size the caller expects and fails with
 * LSTAR_ERR_CORRUPT when the data disagrees.
 *
 * Thread safety: a codec object is immutable after creation; encode/decode may
 * run on many threads at once with the same codec.
 */
#ifndef LSTAR_CODEC_H
#define LSTAR_CODEC_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/dtype.h"
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_codec lstar_codec;

/* Create from a JSON text config.  `dtype`/`itemsize` describe the elements
 * the codec sees (needed by shuffle/delta/blosc defaults; itemsize 0 = from
 * dtype).  Unknown ids → LSTAR_ERR_UNSUPPORTED naming the codec.  Free with
 * lstar_codec_free. */
lstar_status lstar_codec_from_json(const char *json_config, lstar_dtype dtype, size_t itemsize,
                                   lstar_codec **out, lstar_error *err);
/* Create from a short spec as used on the command line: "none" (→ *out = NULL,
 * LSTAR_OK), "zlib[:L]", "gzip[:L]", "zstd[:L]", "lz4", "shuffle",
 * "blosc[:cname[:clevel[:shuffle]]]" (e.g. "blosc:lz4:5:shuffle"),
 * "delta", "crc32c". */
lstar_status lstar_codec_from_spec(const char *spec, lstar_dtype dtype, size_t itemsize, lstar_codec **out,
                                   lstar_error *err);
void lstar_codec_free(lstar_codec *codec); /* NULL accepted */

/* The canonical id ("zstd", "blosc", …). Static or codec-owned string. */
const char *lstar_codec_id(const lstar_codec *codec);
/* The configuration as JSON text for Zarr v2 (`{"id":…}`) or v3
 * (`{"name":…,"configuration":…}`); free with lstar_free. */
char *lstar_codec_to_json(const lstar_codec *codec, int zarr_format);

/* Encode `in_size` bytes.  *out allocated with lstar_malloc (free with lstar_free). */
lstar_status lstar_codec_encode(const lstar_codec *codec, const void *in, size_t in_size, uint8_t **out,
                                size_t *out_size, lstar_error *err);
/* Decode.  `expected_size` is the decoded size the caller needs, or 0 when
 * unknown (then `max_size` bounds the output, 0 = LSTAR_MAX_CHUNK_BYTES).
 * When expected_size != 0, a different decoded size is LSTAR_ERR_CORRUPT. */
lstar_status lstar_codec_decode(const lstar_codec *codec, const void *in, size_t in_size, size_t expected_size,
                                size_t max_size, uint8_t **out, size_t *out_size, lstar_error *err);

/* CRC-32C (Castagnoli) as used by Zarr v3 `crc32c`; `crc` is the running value (start with 0). */
uint32_t lstar_crc32c(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
