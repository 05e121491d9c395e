#include "lstar/dtype.h"

#include <stdint.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} k_dtypes[LSTAR_DTYPE_COUNT_] = {
    [LSTAR_DTYPE_INVALID] = {"invalid", 0},   [LSTAR_DTYPE_BOOL] = {"bool", 1},
    [LSTAR_DTYPE_INT8] = {"int8", 1},         [LSTAR_DTYPE_INT16] = {"int16", 2},
    [LSTAR_DTYPE_INT32] = {"int32", 4},       [LSTAR_DTYPE_INT64] = {"int64", 8},
    [LSTAR_DTYPE_UINT8] = {"uint8", 1},       [LSTAR_DTYPE_UINT16] = {"uint16", 2},
    [LSTAR_DTYPE_UINT32] = {"uint32", 4},     [LSTAR_DTYPE_UINT64] = {"uint64", 8},
    [LSTAR_DTYPE_FLOAT32] = {"float32", 4},   [LSTAR_DTYPE_FLOAT64] = {"float64", 8},
    [LSTAR_DTYPE_STRING] = {"string", 0},     [LSTAR_DTYPE_FLOAT16] = {"float16", 2},
    [LSTAR_DTYPE_COMPLEX64] = {"complex64", 8}, [LSTAR_DTYPE_COMPLEX128] = {"complex128", 16},
    [LSTAR_DTYPE_FIXED_BYTES] = {"bytes", 0}, [LSTAR_DTYPE_FIXED_UTF32] = {"utf32", 0},
    [LSTAR_DTYPE_STRUCT] = {"struct", 0},
};

size_t lstar_dtype_size(lstar_dtype t) {
    if ((int)t < 0 || t >= LSTAR_DTYPE_COUNT_) return 0;
    return k_dtypes[t].size;
}

const char *lstar_dtype_name(lstar_dtype t) {
    if ((int)t < 0 || t >= LSTAR_DTYPE_COUNT_) return "invalid";
    return k_dtypes[t].name;
}

lstar_dtype lstar_dtype_from_name(const char *name) {
    if (!name) return LSTAR_DTYPE_INVALID;
    for (int t = 1; t < LSTAR_DTYPE_COUNT_; t++)
        if (t <= LSTAR_DTYPE_COMPLEX128 && strcmp(k_dtypes[t].name, name) == 0) return (lstar_dtype)t;
    return LSTAR_DTYPE_INVALID;
}

int lstar_dtype_is_integer(lstar_dtype t) { return t >= LSTAR_DTYPE_INT8 && t <= LSTAR_DTYPE_UINT64; }
int lstar_dtype_is_signed(lstar_dtype t) {
    return (t >= LSTAR_DTYPE_INT8 && t <= LSTAR_DTYPE_INT64) || lstar_dtype_is_float(t);
}
int lstar_dtype_is_float(lstar_dtype t) {
    return t == LSTAR_DTYPE_FLOAT32 || t == LSTAR_DTYPE_FLOAT64 || t == LSTAR_DTYPE_FLOAT16;
}
int lstar_dtype_is_numeric(lstar_dtype t) {
    return t == LSTAR_DTYPE_BOOL || lstar_dtype_is_integer(t) || lstar_dtype_is_float(t);
}

static double half_to_double(uint16_t h) {
    uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0)
        v = mant * (1.0 / 16777216.0); /* 2^-24 */
    else if (exp == 31)
        v = mant ? (0.0 / 0.0) : (1.0 / 0.0);
    else {
        v = 1.0 + mant / 1024.0;
        int e = (int)exp - 15;
        while (e > 0) { v *= 2; e--; }
        while (e < 0) { v /= 2; e++; }
    }
    return sign ? -v : v;
}

double lstar_dtype_get_f64(lstar_dtype t, const void *buf, size_t i) {
    switch (t) {
    case LSTAR_DTYPE_BOOL: return ((const uint8_t *)buf)[i] ? 1.0 : 0.0;
    case LSTAR_DTYPE_INT8: return ((const int8_t *)buf)[i];
    case LSTAR_DTYPE_INT16: return ((const int16_t *)buf)[i];
    case LSTAR_DTYPE_INT32: return ((const int32_t *)buf)[i];
    case LSTAR_DTYPE_INT64: return (double)((const int64_t *)buf)[i];
    case LSTAR_DTYPE_UINT8: return ((const uint8_t *)buf)[i];
    case LSTAR_DTYPE_UINT16: return ((const uint16_t *)buf)[i];
    case LSTAR_DTYPE_UINT32: return ((const uint32_t *)buf)[i];
    case LSTAR_DTYPE_UINT64: return (double)((const uint64_t *)buf)[i];
    case LSTAR_DTYPE_FLOAT32: return ((const float *)buf)[i];
    case LSTAR_DTYPE_FLOAT64: return ((const double *)buf)[i];
    case LSTAR_DTYPE_FLOAT16: return half_to_double(((const uint16_t *)buf)[i]);
    default: return 0.0;
    }
}

long long lstar_dtype_get_i64(lstar_dtype t, const void *buf, size_t i) {
    switch (t) {
    case LSTAR_DTYPE_BOOL: return ((const uint8_t *)buf)[i] ? 1 : 0;
    case LSTAR_DTYPE_INT8: return ((const int8_t *)buf)[i];
    case LSTAR_DTYPE_INT16: return ((const int16_t *)buf)[i];
    case LSTAR_DTYPE_INT32: return ((const int32_t *)buf)[i];
    case LSTAR_DTYPE_INT64: return ((const int64_t *)buf)[i];
    case LSTAR_DTYPE_UINT8: return ((const uint8_t *)buf)[i];
    case LSTAR_DTYPE_UINT16: return ((const uint16_t *)buf)[i];
    case LSTAR_DTYPE_UINT32: return ((const uint32_t *)buf)[i];
    case LSTAR_DTYPE_UINT64: return (long long)((const uint64_t *)buf)[i];
    case LSTAR_DTYPE_FLOAT32: return (long long)((const float *)buf)[i];
    case LSTAR_DTYPE_FLOAT64: return (long long)((const double *)buf)[i];
    case LSTAR_DTYPE_FLOAT16: return (long long)half_to_double(((const uint16_t *)buf)[i]);
    default: return 0;
    }
}

#define CONVERT_LOOP(TO_T, EXPR)                                                                              \
    do {                                                                                                      \
        TO_T *d = (TO_T *)dst;                                                                                \
        for (size_t i = 0; i < n; i++) d[i] = (TO_T)(EXPR);                                                   \
    } while (0)

/* Typed loops for the common pairs (sparse indices/indptr widened to int64 and back, float widths): one
 * plain cast per element, which the compiler vectorises; same values as the generic path (integer → integer
 * goes through long long there too, i.e. C's modular conversion). */
#define FAST_LOOP(FROM_T, TO_T)                                                                               \
    do {                                                                                                      \
        const FROM_T *s_ = (const FROM_T *)src;                                                               \
        TO_T *d_ = (TO_T *)dst;                                                                               \
        for (size_t i = 0; i < n; i++) d_[i] = (TO_T)s_[i];                                                   \
    } while (0)

static int convert_fast(lstar_dtype from, const void *src, lstar_dtype to, void *dst, size_t n) {
    /* The buffers may not overlap here (memmove semantics are only promised for from == to). */
    const uint8_t *sb = src;
    uint8_t *db = dst;
    size_t sn = n * lstar_dtype_size(from), dn = n * lstar_dtype_size(to);
    if (n && sb < db + dn && db < sb + sn) return 0;
    if (to == LSTAR_DTYPE_INT64) {
        switch (from) {
        case LSTAR_DTYPE_INT8: FAST_LOOP(int8_t, int64_t); return 1;
        case LSTAR_DTYPE_INT16: FAST_LOOP(int16_t, int64_t); return 1;
        case LSTAR_DTYPE_INT32: FAST_LOOP(int32_t, int64_t); return 1;
        case LSTAR_DTYPE_UINT8: FAST_LOOP(uint8_t, int64_t); return 1;
        case LSTAR_DTYPE_UINT16: FAST_LOOP(uint16_t, int64_t); return 1;
        case LSTAR_DTYPE_UINT32: FAST_LOOP(uint32_t, int64_t); return 1;
        case LSTAR_DTYPE_UINT64: FAST_LOOP(uint64_t, int64_t); return 1;
        default: return 0;
        }
    }
    if (from == LSTAR_DTYPE_INT64) {
        switch (to) {
        case LSTAR_DTYPE_INT8: FAST_LOOP(int64_t, int8_t); return 1;
        case LSTAR_DTYPE_INT16: FAST_LOOP(int64_t, int16_t); return 1;
        case LSTAR_DTYPE_INT32: FAST_LOOP(int64_t, int32_t); return 1;
        case LSTAR_DTYPE_UINT8: FAST_LOOP(int64_t, uint8_t); return 1;
        case LSTAR_DTYPE_UINT16: FAST_LOOP(int64_t, uint16_t); return 1;
        case LSTAR_DTYPE_UINT32: FAST_LOOP(int64_t, uint32_t); return 1;
        case LSTAR_DTYPE_UINT64: FAST_LOOP(int64_t, uint64_t); return 1;
        default: return 0;
        }
    }
    if (from == LSTAR_DTYPE_INT32 && to == LSTAR_DTYPE_UINT32) {
        FAST_LOOP(int32_t, uint32_t);
        return 1;
    }
    if (from == LSTAR_DTYPE_FLOAT32 && to == LSTAR_DTYPE_FLOAT64) {
        FAST_LOOP(float, double);
        return 1;
    }
    if (from == LSTAR_DTYPE_FLOAT64 && to == LSTAR_DTYPE_FLOAT32) {
        FAST_LOOP(double, float);
        return 1;
    }
    return 0;
}

int lstar_dtype_convert(lstar_dtype from, const void *src, lstar_dtype to, void *dst, size_t n) {
    if (!lstar_dtype_is_numeric(from) || !lstar_dtype_is_numeric(to) || to == LSTAR_DTYPE_FLOAT16) return -1;
    if (from == to) {
        if (n) memmove(dst, src, n * lstar_dtype_size(from));
        return 0;
    }
    if (convert_fast(from, src, to, dst, n)) return 0;
    int from_float = lstar_dtype_is_float(from);
    switch (to) {
    case LSTAR_DTYPE_BOOL: CONVERT_LOOP(uint8_t, lstar_dtype_get_f64(from, src, i) != 0.0); break;
    case LSTAR_DTYPE_INT8: CONVERT_LOOP(int8_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_INT16: CONVERT_LOOP(int16_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_INT32: CONVERT_LOOP(int32_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_INT64: CONVERT_LOOP(int64_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_UINT8: CONVERT_LOOP(uint8_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_UINT16: CONVERT_LOOP(uint16_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_UINT32: CONVERT_LOOP(uint32_t, lstar_dtype_get_i64(from, src, i)); break;
    case LSTAR_DTYPE_UINT64:
        if (from == LSTAR_DTYPE_UINT64 || !from_float)
            CONVERT_LOOP(uint64_t, (uint64_t)lstar_dtype_get_i64(from, src, i));
        else
            CONVERT_LOOP(uint64_t, lstar_dtype_get_f64(from, src, i));
        break;
    case LSTAR_DTYPE_FLOAT32: CONVERT_LOOP(float, lstar_dtype_get_f64(from, src, i)); break;
    case LSTAR_DTYPE_FLOAT64: CONVERT_LOOP(double, lstar_dtype_get_f64(from, src, i)); break;
    default: return -1;
    }
    return 0;
}
