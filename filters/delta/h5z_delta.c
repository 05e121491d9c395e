/* h5z_delta.c — HDF5 filter plugin: numcodecs-compatible delta coding of integer chunks.
 *
 * Encoding keeps the first element of the chunk and replaces every following element by its
 * difference to the previous one, in the element's own type (wrapping), exactly like numcodecs
 * Delta(dtype=X, astype=X) on a little-endian X.  A chunk is the flat C-order run of its elements, so
 * an HDF5 pipeline delta + shuffle(2) + zstd(32015) produces the same bytes as a Zarr v2 chunk with
 * filters [Delta, Shuffle] and compressor Zstd.  The arithmetic is lstar's delta codec.
 *
 * Only little-endian (or 1-byte) integer datasets of 1, 2, 4 or 8 bytes are accepted: numcodecs also
 * allows floats, but float differences do not round-trip exactly, so a lossless filter refuses them.
 */
#include <H5PLextern.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h" /* delta in place (lstar-core/src) */
#include "lstar/codec.h"
#include "lstar_h5z.h"
#include "lstar_h5z_delta.h"

#define DELTA_FILTER_NAME "lstar delta filter (56855)"

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "floating-point";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
    }
}

/* Check the dataset's datatype; on success set *size and *is_signed.  Pushes an error with minor
 * `min` and returns -1 when the type is not a supported integer. */
static int check_type(hid_t type_id, hid_t min, size_t *size, int *is_signed) {
    H5T_class_t cls = H5Tget_class(type_id);
    if (cls != H5T_INTEGER) {
        LSTAR_H5Z_ERROR(min, "%s: only integer datasets can be delta-coded; this dataset's datatype is %s%s",
                        DELTA_FILTER_NAME, class_name(cls),
                        cls == H5T_FLOAT ? " (floats are refused: float differences do not round-trip exactly)" : "");
        return -1;
    }
    size_t sz = H5Tget_size(type_id);
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8) {
        LSTAR_H5Z_ERROR(min, "%s: integers of %zu bytes are not supported (only 1, 2, 4 or 8 bytes)",
                        DELTA_FILTER_NAME, sz);
        return -1;
    }
    H5T_order_t order = H5Tget_order(type_id);
    if (sz > 1 && order != H5T_ORDER_LE) {
        LSTAR_H5Z_ERROR(min, "%s: only little-endian integers are supported (this dataset's are %s)",
                        DELTA_FILTER_NAME, order == H5T_ORDER_BE ? "big-endian" : "of an unusual byte order");
        return -1;
    }
    H5T_sign_t sign = H5Tget_sign(type_id);
    if (sign == H5T_SGN_ERROR) {
        LSTAR_H5Z_ERROR(min, "%s: cannot get the signedness of the dataset's integers", DELTA_FILTER_NAME);
        return -1;
    }
    int prec_ok = H5Tget_precision(type_id) == 8 * sz && H5Tget_offset(type_id) == 0;
    if (!prec_ok) {
        LSTAR_H5Z_ERROR(min, "%s: integers with padding bits (precision %zu of %zu bits) are not supported",
                        DELTA_FILTER_NAME, H5Tget_precision(type_id), 8 * sz);
        return -1;
    }
    *size = sz;
    *is_signed = (sign == H5T_SGN_2);
    return 0;
}

static htri_t delta_can_apply(hid_t dcpl_id, hid_t type_id, hid_t space_id) {
    (void)dcpl_id;
    (void)space_id;
    size_t size = 0;
    int is_signed = 0;
    return check_type(type_id, H5E_CANAPPLY, &size, &is_signed) < 0 ? -1 : 1;
}

static herr_t delta_set_local(hid_t dcpl_id, hid_t type_id, hid_t space_id) {
    (void)space_id;
    size_t size = 0;
    int is_signed = 0;
    if (check_type(type_id, H5E_SETLOCAL, &size, &is_signed) < 0) return -1;
    unsigned flags = 0, cd[8];
    size_t n = 0;
    if (lstar_h5z_get_cd_values(dcpl_id, LSTAR_H5Z_DELTA_ID, DELTA_FILTER_NAME, &flags, &n, cd, 8) < 0) return -1;
    uint64_t chunk_bytes = 0;
    if (lstar_h5z_chunk_bytes(dcpl_id, type_id, DELTA_FILTER_NAME, &chunk_bytes) < 0) return -1;
    /* Delta codes whole elements of the dataset's type: nothing before it may change the bytes'
     * count (a size-changing filter such as scaleoffset would hand it a packed bit stream, and the
     * write would only fail later, when HDF5 flushes the chunk). */
    H5Z_filter_t resizer = H5Z_FILTER_NONE;
    int exact = lstar_h5z_input_is_chunk(dcpl_id, LSTAR_H5Z_DELTA_ID, NULL, 0, &resizer);
    if (exact < 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: cannot inspect the dataset's filter pipeline", DELTA_FILTER_NAME);
        return -1;
    }
    if (!exact) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL,
                        "%s: must come before every filter that changes the chunk's size in the pipeline "
                        "(filter %d comes first); put delta first",
                        DELTA_FILTER_NAME, (int)resizer);
        return -1;
    }
    unsigned out[LSTAR_H5Z_DELTA_CD_NELMTS] = {(unsigned)size, (unsigned)is_signed,
                                               (unsigned)(chunk_bytes & 0xFFFFFFFFu), (unsigned)(chunk_bytes >> 32)};
    if (H5Pmodify_filter(dcpl_id, LSTAR_H5Z_DELTA_ID, flags, LSTAR_H5Z_DELTA_CD_NELMTS, out) < 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: cannot store the filter parameters", DELTA_FILTER_NAME);
        return -1;
    }
    return 0;
}

/* numcodecs dtype string of a little-endian integer type. */
static const char *typestr(unsigned size, int is_signed) {
    switch (size) {
    case 1: return is_signed ? "|i1" : "|u1";
    case 2: return is_signed ? "<i2" : "<u2";
    case 4: return is_signed ? "<i4" : "<u4";
    case 8: return is_signed ? "<i8" : "<u8";
    default: return NULL;
    }
}

/* Delta keeps the byte count, so both directions run in place on HDF5's buffer (encode walks
 * backwards, decode is a running sum), with the codec cached per element type (lstar_h5z_codec). */
static size_t delta_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                           size_t *buf_size, void **buf) {
    size_t ret = 0;
    int owned = 0;
    lstar_codec *codec = NULL;
    lstar_error err = {0};
    int decoding = (flags & H5Z_FLAG_REVERSE) != 0;
    const char *ts = cd_nelmts >= 1 ? typestr(cd_values[0], cd_nelmts >= 2 ? cd_values[1] != 0 : 1) : NULL;
    if (!ts) {
        if (cd_nelmts >= 1)
            snprintf(err.message, sizeof err.message, "cd_values[0] = %u is not an element size of 1, 2, 4 or 8",
                     cd_values[0]);
        else
            snprintf(err.message, sizeof err.message, "cd_values are missing the element size");
        goto done;
    }
    uint64_t expected = 0;
    if (cd_nelmts >= 4) expected = (uint64_t)cd_values[2] | ((uint64_t)cd_values[3] << 32);
    if (expected && nbytes != expected) {
        snprintf(err.message, sizeof err.message, "the chunk has %zu bytes, the dataset's chunks have %llu", nbytes,
                 (unsigned long long)expected);
        goto done;
    }
    if (nbytes == 0 || nbytes % cd_values[0] != 0) {
        snprintf(err.message, sizeof err.message, "the chunk (%zu bytes) is not a whole number of %u-byte elements",
                 nbytes, cd_values[0]);
        goto done;
    }
    if (!*buf || *buf_size < nbytes) { /* HDF5 never does this; refuse rather than touch foreign memory */
        snprintf(err.message, sizeof err.message, "the filter buffer (%zu bytes) is smaller than the chunk",
                 *buf ? *buf_size : 0);
        goto done;
    }
    char json[96];
    snprintf(json, sizeof json, "{\"id\":\"delta\",\"dtype\":\"%s\",\"astype\":\"%s\"}", ts, ts);
    codec = lstar_h5z_codec(json, LSTAR_DTYPE_INVALID, 0, &owned, &err);
    if (!codec || lstar_codec_delta_inplace(codec, !decoding, *buf, nbytes, &err) != LSTAR_OK) goto done;
    ret = nbytes;
done:
    lstar_h5z_codec_done(codec, owned);
    if (!ret)
        LSTAR_H5Z_ERROR(H5E_CANTFILTER, "%s: cannot %s a %zu-byte chunk: %s", DELTA_FILTER_NAME,
                        decoding ? "decode" : "encode", nbytes, err.message[0] ? err.message : "unknown error");
    return ret;
}

static const H5Z_class2_t lstar_h5z_delta_class = {
    H5Z_CLASS_T_VERS,
    (H5Z_filter_t)LSTAR_H5Z_DELTA_ID,
    1, /* encoder present */
    1, /* decoder present */
    "delta (lstar, numcodecs-compatible)",
    delta_can_apply,
    delta_set_local,
    delta_filter,
};

H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }
const void *H5PLget_plugin_info(void) { return &lstar_h5z_delta_class; }
