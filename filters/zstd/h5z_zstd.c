/* h5z_zstd.c — HDF5 filter plugin: Zstandard, registered filter id 32015.
 *
 * On-disk format: one zstd frame per chunk, content size in the frame header, no checksum — what
 * the HDF Group's H5Zzstd plugin, hdf5plugin and numcodecs Zstd read and write, so chunks move
 * between them (and to/from Zarr) unchanged.  The compression itself is lstar's zstd codec.
 *
 * Decoding never sizes an allocation from the frame alone: when set_local recorded the decoded chunk
 * size in cd_values (our datasets), the frame must declare exactly that size; otherwise (datasets
 * written by other zstd filters, cd_values = [level]) the decoded size is bounded by HDF5's chunk
 * limit and by the codec's own cap.  Every failure returns 0 with a record on the HDF5 error stack.
 */
#include <H5PLextern.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <zstd.h>

#include "codec/codec_internal.h" /* decode fast paths (lstar-core/src) */
#include "lstar/codec.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar_h5z.h"
#include "lstar_h5z_delta.h"
#include "lstar_h5z_zstd.h"

#define ZSTD_FILTER_NAME "lstar zstd filter (32015)"

/* cd_values[0] is an int stored in an unsigned slot (h5py and h5repack pass negative levels as their
 * two's complement). */
static int level_from_cd(unsigned v) {
    if (v <= (unsigned)INT_MAX) return (int)v;
    return -(int)(~v) - 1;
}

static int level_ok(int level) { return level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel(); }

static htri_t zstd_can_apply(hid_t dcpl_id, hid_t type_id, hid_t space_id) {
    (void)space_id;
    /* zstd works on bytes: every datatype is fine, but the parameters must be. */
    if (H5Tget_size(type_id) == 0) {
        LSTAR_H5Z_ERROR(H5E_CANAPPLY, "%s: cannot get the size of the dataset's datatype", ZSTD_FILTER_NAME);
        return -1;
    }
    unsigned flags = 0, cd[8];
    size_t n = 0;
    if (lstar_h5z_get_cd_values(dcpl_id, LSTAR_H5Z_ZSTD_ID, ZSTD_FILTER_NAME, &flags, &n, cd, 8) < 0) return -1;
    if (n >= 1 && !level_ok(level_from_cd(cd[0]))) {
        LSTAR_H5Z_ERROR(H5E_CANAPPLY, "%s: compression level %d is outside zstd's range [%d, %d] (cd_values[0])",
                        ZSTD_FILTER_NAME, level_from_cd(cd[0]), ZSTD_minCLevel(), ZSTD_maxCLevel());
        return -1;
    }
    return 1;
}

static herr_t zstd_set_local(hid_t dcpl_id, hid_t type_id, hid_t space_id) {
    (void)space_id;
    unsigned flags = 0, cd[8];
    size_t n = 0;
    if (lstar_h5z_get_cd_values(dcpl_id, LSTAR_H5Z_ZSTD_ID, ZSTD_FILTER_NAME, &flags, &n, cd, 8) < 0) return -1;
    int level = n >= 1 ? level_from_cd(cd[0]) : LSTAR_H5Z_ZSTD_DEFAULT_LEVEL;
    if (!level_ok(level)) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: compression level %d is outside zstd's range [%d, %d] (cd_values[0])",
                        ZSTD_FILTER_NAME, level, ZSTD_minCLevel(), ZSTD_maxCLevel());
        return -1;
    }
    uint64_t chunk_bytes = 0;
    if (lstar_h5z_chunk_bytes(dcpl_id, type_id, ZSTD_FILTER_NAME, &chunk_bytes) < 0) return -1;
    /* Record the size only when it is certainly what zstd will decode to: no filter before us may
     * change the byte count (shuffle and delta do not). */
    static const H5Z_filter_t same_size[] = {LSTAR_H5Z_DELTA_ID};
    int exact = lstar_h5z_input_is_chunk(dcpl_id, LSTAR_H5Z_ZSTD_ID, same_size, 1, NULL);
    if (exact < 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: cannot inspect the dataset's filter pipeline", ZSTD_FILTER_NAME);
        return -1;
    }
    if (!exact) chunk_bytes = 0;
    unsigned out[LSTAR_H5Z_ZSTD_CD_NELMTS] = {(unsigned)level, LSTAR_H5Z_ZSTD_MARKER,
                                              (unsigned)(chunk_bytes & 0xFFFFFFFFu), (unsigned)(chunk_bytes >> 32)};
    if (H5Pmodify_filter(dcpl_id, LSTAR_H5Z_ZSTD_ID, flags, LSTAR_H5Z_ZSTD_CD_NELMTS, out) < 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: cannot store the filter parameters", ZSTD_FILTER_NAME);
        return -1;
    }
    return 0;
}

/* The lstar zstd codec for a level (cached per level: see lstar_h5z_codec). */
static lstar_codec *zstd_codec(int level, int *owned, lstar_error *err) {
    char json[64];
    snprintf(json, sizeof json, "{\"id\":\"zstd\",\"level\":%d}", level);
    return lstar_h5z_codec(json, LSTAR_DTYPE_UINT8, 1, owned, err);
}

static size_t zstd_encode(size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t *buf_size,
                          void **buf) {
    size_t ret = 0;
    int owned = 0;
    lstar_codec *codec = NULL;
    uint8_t *out = NULL;
    size_t out_size = 0;
    lstar_error err = {0};
    int level = cd_nelmts >= 1 ? level_from_cd(cd_values[0]) : LSTAR_H5Z_ZSTD_DEFAULT_LEVEL;
    /* set_local refuses bad levels for datasets created with this plugin; a dataset created by
     * another zstd filter may carry any value, and like that filter we clamp instead of failing. */
    if (level < ZSTD_minCLevel()) level = ZSTD_minCLevel();
    if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
    codec = zstd_codec(level, &owned, &err);
    if (!codec || lstar_codec_encode(codec, *buf, nbytes, &out, &out_size, &err) != LSTAR_OK) goto done;
    if (out_size > LSTAR_H5Z_MAX_CHUNK_BYTES) {
        lstar_error_clear(&err);
        snprintf(err.message, sizeof err.message, "the compressed chunk (%zu bytes) exceeds HDF5's chunk limit",
                 out_size);
        err.status = LSTAR_ERR_LIMIT;
        goto done;
    }
    if (lstar_h5z_set_output(buf, buf_size, out, out_size) < 0) {
        err.status = LSTAR_ERR_NOMEM;
        snprintf(err.message, sizeof err.message, "out of memory for %zu bytes", out_size);
        goto done;
    }
    ret = out_size;
done:
    lstar_free(out);
    lstar_h5z_codec_done(codec, owned);
    if (!ret) LSTAR_H5Z_ERROR(H5E_CANTFILTER, "%s: cannot compress a %zu-byte chunk: %s", ZSTD_FILTER_NAME, nbytes,
                              err.message[0] ? err.message : "unknown error");
    return ret;
}

/* Decoding allocates the output once, with H5allocate_memory and of the exact decoded size, decodes
 * straight into it (reusing zstd contexts: lstar_codec_decode_into_fast) and hands it to HDF5 in place
 * of the input buffer.  The size is the one recorded in cd_values; without one (datasets of other
 * zstd filters) the size the frames declare, once checked against HDF5's and the codec's limits; for
 * frames that declare none, the bounded streaming decoder of lstar_codec_decode. */
static size_t zstd_decode(size_t cd_nelmts, const unsigned cd_values[], size_t nbytes, size_t *buf_size,
                          void **buf) {
    size_t ret = 0;
    int owned = 0;
    lstar_codec *codec = NULL;
    uint8_t *out = NULL;      /* lstar buffer (streaming path) */
    void *h5out = NULL;       /* H5allocate_memory buffer (sized path) */
    size_t out_size = 0;
    lstar_error err = {0};
    uint64_t expected = 0;
    if (cd_nelmts >= LSTAR_H5Z_ZSTD_CD_NELMTS && cd_values[1] == LSTAR_H5Z_ZSTD_MARKER)
        expected = (uint64_t)cd_values[2] | ((uint64_t)cd_values[3] << 32);
    if (expected > LSTAR_H5Z_MAX_CHUNK_BYTES) {
        snprintf(err.message, sizeof err.message,
                 "cd_values record a chunk of %llu bytes, above HDF5's limit: corrupt filter parameters",
                 (unsigned long long)expected);
        goto done;
    }
    /* Decoding needs no parameter: one cached codec serves every level. */
    codec = lstar_h5z_codec("{\"id\":\"zstd\"}", LSTAR_DTYPE_UINT8, 1, &owned, &err);
    if (!codec) goto done;
    uint64_t size = expected;
    if (!size) {
        unsigned long long declared = 0;
        int known = 0;
        if (lstar_codec_zstd_declared_size(*buf, nbytes, &declared, &known, &err) != LSTAR_OK) goto done;
        if (!known) {
            /* No declared size: bounded streaming decode into an lstar buffer, then into HDF5's. */
            if (lstar_codec_decode(codec, *buf, nbytes, 0, LSTAR_H5Z_MAX_CHUNK_BYTES, &out, &out_size, &err) !=
                LSTAR_OK)
                goto done;
            if (out_size == 0) { /* no HDF5 chunk is empty, and 0 would read as failure anyway */
                snprintf(err.message, sizeof err.message, "the data decode to 0 bytes");
                goto done;
            }
            if (lstar_h5z_set_output(buf, buf_size, out, out_size) < 0) {
                err.status = LSTAR_ERR_NOMEM;
                snprintf(err.message, sizeof err.message, "out of memory for %zu bytes", out_size);
                goto done;
            }
            ret = out_size;
            goto done;
        }
        if (declared == 0) {
            snprintf(err.message, sizeof err.message, "the data decode to 0 bytes");
            goto done;
        }
        size = declared;
    }
    /* The recorded size too is checked against the codec's cap (what lstar_codec_decode applied). */
    uint64_t limit = LSTAR_MAX_CHUNK_BYTES < LSTAR_H5Z_MAX_CHUNK_BYTES ? LSTAR_MAX_CHUNK_BYTES
                                                                       : LSTAR_H5Z_MAX_CHUNK_BYTES;
    if (size > limit) {
        snprintf(err.message, sizeof err.message, "zstd: frame declares %llu decoded bytes, above the %llu-byte limit",
                 (unsigned long long)size, (unsigned long long)limit);
        goto done;
    }
    h5out = H5allocate_memory((size_t)size, 0);
    if (!h5out) {
        err.status = LSTAR_ERR_NOMEM;
        snprintf(err.message, sizeof err.message, "out of memory for %llu bytes", (unsigned long long)size);
        goto done;
    }
    if (lstar_codec_decode_into_fast(codec, *buf, nbytes, h5out, (size_t)size, &err) != LSTAR_OK) goto done;
    H5free_memory(*buf);
    *buf = h5out;
    *buf_size = (size_t)size;
    h5out = NULL;
    ret = (size_t)size;
done:
    if (h5out) H5free_memory(h5out);
    lstar_free(out);
    lstar_h5z_codec_done(codec, owned);
    if (!ret) {
        if (expected)
            LSTAR_H5Z_ERROR(H5E_CANTFILTER,
                            "%s: cannot decompress a %zu-byte chunk (expected %llu decoded bytes): %s",
                            ZSTD_FILTER_NAME, nbytes, (unsigned long long)expected,
                            err.message[0] ? err.message : "unknown error");
        else
            LSTAR_H5Z_ERROR(H5E_CANTFILTER, "%s: cannot decompress a %zu-byte chunk: %s", ZSTD_FILTER_NAME, nbytes,
                            err.message[0] ? err.message : "unknown error");
    }
    return ret;
}

static size_t zstd_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                          size_t *buf_size, void **buf) {
    if (flags & H5Z_FLAG_REVERSE) return zstd_decode(cd_nelmts, cd_values, nbytes, buf_size, buf);
    return zstd_encode(cd_nelmts, cd_values, nbytes, buf_size, buf);
}

static const H5Z_class2_t lstar_h5z_zstd_class = {
    H5Z_CLASS_T_VERS,
    (H5Z_filter_t)LSTAR_H5Z_ZSTD_ID,
    1, /* encoder present */
    1, /* decoder present */
    "zstd (lstar)",
    zstd_can_apply,
    zstd_set_local,
    zstd_filter,
};

H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }
const void *H5PLget_plugin_info(void) { return &lstar_h5z_zstd_class; }
