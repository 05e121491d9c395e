/* lstar/dtype.h — element types shared by Zarr arrays, HDF5 datasets and the model. */
#ifndef LSTAR_DTYPE_H
#define LSTAR_DTYPE_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum lstar_dtype {
    LSTAR_DTYPE_INVALID = 0,
    LSTAR_DTYPE_BOOL = 1, /* one byte, 0 or 1 */
    LSTAR_DTYPE_INT8 = 2,
    LSTAR_DTYPE_INT16 = 3,
    LSTAR_DTYPE_INT32 = 4,
    LSTAR_DTYPE_INT64 = 5,
    LSTAR_DTYPE_UINT8 = 6,
    LSTAR_DTYPE_UINT16 = 7,
    LSTAR_DTYPE_UINT32 = 8,
    LSTAR_DTYPE_UINT64 = 9,
    LSTAR_DTYPE_FLOAT32 = 10,
    LSTAR_DTYPE_FLOAT64 = 11,
    LSTAR_DTYPE_STRING = 12,   /* variable-length UTF-8 (Zarr vlen-utf8 / v3 "string") */
    LSTAR_DTYPE_FLOAT16 = 13,  /* read as raw 2-byte elements */
    LSTAR_DTYPE_COMPLEX64 = 14,
    LSTAR_DTYPE_COMPLEX128 = 15,
    LSTAR_DTYPE_FIXED_BYTES = 16, /* "|S<n>" null-padded bytes; itemsize n */
    LSTAR_DTYPE_FIXED_UTF32 = 17, /* "<U<n>" UTF-32; itemsize 4n */
    LSTAR_DTYPE_STRUCT = 18,      /* structured / "|V<n>": raw records; layout in the descriptor */
    LSTAR_DTYPE_COUNT_
} lstar_dtype;

/* Bytes per element (STRING: 0; FIXED_* and STRUCT: 0, use the array's itemsize). */
size_t lstar_dtype_size(lstar_dtype t);
/* "bool", "int8", …, "float64", "string", … (the Zarr v3 names). Static string. */
const char *lstar_dtype_name(lstar_dtype t);
/* Inverse of lstar_dtype_name for the numeric/bool/string names; INVALID otherwise. */
lstar_dtype lstar_dtype_from_name(const char *name);
int lstar_dtype_is_integer(lstar_dtype t); /* signed or unsigned ints (not bool) */
int lstar_dtype_is_signed(lstar_dtype t);
int lstar_dtype_is_float(lstar_dtype t);   /* float16/32/64 */
int lstar_dtype_is_numeric(lstar_dtype t); /* bool, ints, floats (not complex/strings) */

/* Convert n elements from one numeric/bool type to another (native byte order).
 * Out-of-range integers wrap as C casts do; callers that care check first.
 * Returns 0 on success, -1 if either type is not numeric/bool. */
int lstar_dtype_convert(lstar_dtype from, const void *src, lstar_dtype to, void *dst, size_t n);
/* Read element i of a native-order numeric/bool buffer as double / int64. */
double lstar_dtype_get_f64(lstar_dtype t, const void *buf, size_t i);
long long lstar_dtype_get_i64(lstar_dtype t, const void *buf, size_t i);

#ifdef __cplusplus
}
#endif
#endif
