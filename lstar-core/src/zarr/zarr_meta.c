/* Zarr array metadata: v2 .zarray and v3 zarr.json parsing (dtypes, fill
 * values, codec chains, sharding) and building the metadata of new arrays. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "zarr/zarr_internal.h"

int lstar_zarr_mul(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int lstar_zarr_native_big_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 0;
}

void lstar_zarr_bswap(void *buf, uint64_t n, size_t size, lstar_dtype dtype) {
    if (dtype == LSTAR_DTYPE_COMPLEX64 || dtype == LSTAR_DTYPE_COMPLEX128) {
        size /= 2;
        n *= 2;
    } else if (dtype == LSTAR_DTYPE_FIXED_UTF32) {
        n *= size / 4;
        size = 4;
    }
    if (size < 2) return;
    uint8_t *p = buf;
    for (uint64_t i = 0; i < n; i++, p += size)
        for (size_t j = 0; j < size / 2; j++) {
            uint8_t t = p[j];
            p[j] = p[size - 1 - j];
            p[size - 1 - j] = t;
        }
}

void lstar_zarr_chain_destroy(zarr_chain *c) {
    if (!c) return;
    for (int i = 0; i < c->n_aa; i++) lstar_codec_free(c->aa[i].codec);
    for (int i = 0; i < c->n_bb; i++) lstar_codec_free(c->bb[i]);
    memset(c, 0, sizeof *c);
}

/* ---- dtypes ------------------------------------------------------------- */

typedef struct dtype_info {
    lstar_dtype dtype;
    size_t itemsize;
    int big_endian;
    int is_object;
} dtype_info;

static lstar_status parse_typestr(const char *s, dtype_info *di, const char *path, lstar_error *err) {
    memset(di, 0, sizeof *di);
    size_t len = strlen(s);
    if (len < 2) goto unsupported;
    char order = s[0], kind = s[1];
    if (order != '<' && order != '>' && order != '|' && order != '=') goto unsupported;
    if (kind == 'O') {
        if (len != 2 && strcmp(s + 2, "8") != 0) goto unsupported;
        di->dtype = LSTAR_DTYPE_STRING;
        di->is_object = 1;
        return LSTAR_OK;
    }
    if (len < 3 || len > 12) goto unsupported;
    char *end = NULL;
    unsigned long long n = strtoull(s + 2, &end, 10);
    if (!end || *end || s[2] < '0' || s[2] > '9') goto unsupported;
    di->big_endian = order == '>' || (order == '=' && lstar_zarr_native_big_endian());
    switch (kind) {
    case 'b':
        if (n != 1) goto unsupported;
        di->dtype = LSTAR_DTYPE_BOOL;
        break;
    case 'i':
        di->dtype = n == 1 ? LSTAR_DTYPE_INT8 : n == 2 ? LSTAR_DTYPE_INT16 : n == 4 ? LSTAR_DTYPE_INT32
                  : n == 8 ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_INVALID;
        break;
    case 'u':
        di->dtype = n == 1 ? LSTAR_DTYPE_UINT8 : n == 2 ? LSTAR_DTYPE_UINT16 : n == 4 ? LSTAR_DTYPE_UINT32
                  : n == 8 ? LSTAR_DTYPE_UINT64 : LSTAR_DTYPE_INVALID;
        break;
    case 'f':
        di->dtype = n == 2 ? LSTAR_DTYPE_FLOAT16 : n == 4 ? LSTAR_DTYPE_FLOAT32 : n == 8 ? LSTAR_DTYPE_FLOAT64
                  : LSTAR_DTYPE_INVALID;
        break;
    case 'c':
        di->dtype = n == 8 ? LSTAR_DTYPE_COMPLEX64 : n == 16 ? LSTAR_DTYPE_COMPLEX128 : LSTAR_DTYPE_INVALID;
        break;
    case 'S':
        if (n == 0 || n > LSTAR_MAX_STRING_BYTES) goto unsupported;
        di->dtype = LSTAR_DTYPE_FIXED_BYTES;
        di->itemsize = (size_t)n;
        return LSTAR_OK;
    case 'U':
        if (n == 0 || n > LSTAR_MAX_STRING_BYTES / 4) goto unsupported;
        di->dtype = LSTAR_DTYPE_FIXED_UTF32;
        di->itemsize = (size_t)n * 4;
        return LSTAR_OK;
    case 'V':
        if (n == 0 || n > LSTAR_MAX_STRING_BYTES) goto unsupported;
        di->dtype = LSTAR_DTYPE_STRUCT;
        di->itemsize = (size_t)n;
        return LSTAR_OK;
    default: goto unsupported;
    }
    if (di->dtype == LSTAR_DTYPE_INVALID) goto unsupported;
    di->itemsize = lstar_dtype_size(di->dtype);
    if (di->itemsize == 1) di->big_endian = 0;
    return LSTAR_OK;
unsupported:
    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported dtype \"%s\"", s);
}

/* Structured dtype: [[name, typestr(, shape)], …] → total record size. */
static lstar_status parse_struct(const json_t *list, int depth, size_t *size, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t total = 0;
    if (depth > 8) return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "structured dtype nested too deeply");
    if (!json_is_array(list) || json_array_size(list) == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "structured dtype must be a non-empty list of fields");
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f) {
        if (!json_is_array(f) || json_array_size(f) < 2 || json_array_size(f) > 3 ||
            !json_is_string(json_array_get(f, 0)))
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "structured dtype field %zu is not [name, type(, shape)]",
                              i);
        json_t *t = json_array_get(f, 1);
        size_t fsize = 0;
        if (json_is_string(t)) {
            dtype_info di;
            st = parse_typestr(json_string_value(t), &di, path, err);
            if (st != LSTAR_OK) return st;
            if (di.is_object)
                return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported dtype \"|O\" inside a structured dtype");
            fsize = di.itemsize;
        } else {
            st = parse_struct(t, depth + 1, &fsize, path, err);
            if (st != LSTAR_OK) return st;
        }
        uint64_t fs = fsize;
        if (json_array_size(f) == 3) {
            json_t *shp = json_array_get(f, 2);
            if (!json_is_array(shp))
                return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "structured dtype field %zu: shape is not a list", i);
            size_t k;
            json_t *d;
            json_array_foreach(shp, k, d) {
                if (!json_is_integer(d) || json_integer_value(d) < 0 || lstar_zarr_mul(fs, (uint64_t)json_integer_value(d), &fs))
                    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "structured dtype field %zu: bad shape", i);
            }
        }
        total += fs;
        if (total > LSTAR_MAX_STRING_BYTES)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "structured dtype record is too large");
    }
    *size = (size_t)total;
    return LSTAR_OK;
}

static lstar_status parse_v3_dtype_d(const json_t *dt, dtype_info *di, int depth, const char *path,
                                     lstar_error *err) {
    memset(di, 0, sizeof *di);
    const char *name = NULL;
    const json_t *cfg = NULL;
    if (json_is_string(dt)) {
        name = json_string_value(dt);
    } else if (json_is_object(dt) && json_is_string(json_object_get(dt, "name"))) {
        name = json_string_value(json_object_get(dt, "name"));
        cfg = json_object_get(dt, "configuration");
    } else {
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "data_type must be a string or an object with a name");
    }
    lstar_dtype t = lstar_dtype_from_name(name);
    if (t != LSTAR_DTYPE_INVALID) {
        di->dtype = t;
        di->itemsize = lstar_dtype_size(t);
        return LSTAR_OK;
    }
    if (name[0] == 'r' && name[1] >= '1' && name[1] <= '9') {
        char *end = NULL;
        unsigned long bits = strtoul(name + 1, &end, 10);
        if (end && !*end && bits % 8 == 0 && bits / 8 <= LSTAR_MAX_STRING_BYTES) {
            di->dtype = LSTAR_DTYPE_STRUCT;
            di->itemsize = bits / 8;
            return LSTAR_OK;
        }
    }
    if (strcmp(name, "struct") == 0) {
        const json_t *fields = json_object_get(cfg, "fields");
        uint64_t total = 0;
        size_t i;
        json_t *f;
        if (!json_is_array(fields) || json_array_size(fields) == 0 || depth > 8)
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "data_type struct needs a list of fields");
        json_array_foreach(fields, i, f) {
            const json_t *fdt = json_is_object(f) ? json_object_get(f, "data_type") : NULL;
            dtype_info fi;
            if (!fdt) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "struct field %zu lacks a data_type", i);
            lstar_status st = parse_v3_dtype_d(fdt, &fi, depth + 1, path, err);
            if (st != LSTAR_OK) return st;
            if (fi.dtype == LSTAR_DTYPE_STRING)
                return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported data type \"string\" inside a struct");
            total += fi.itemsize;
            if (total > LSTAR_MAX_STRING_BYTES)
                return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "struct record is too large");
        }
        di->dtype = LSTAR_DTYPE_STRUCT;
        di->itemsize = (size_t)total;
        return LSTAR_OK;
    }
    if (strcmp(name, "null_terminated_bytes") == 0 || strcmp(name, "fixed_length_utf32") == 0) {
        json_t *lb = json_object_get(cfg, "length_bytes");
        json_int_t n = json_is_integer(lb) ? json_integer_value(lb) : 0;
        int utf32 = name[0] == 'f';
        if (n <= 0 || n > (json_int_t)LSTAR_MAX_STRING_BYTES || (utf32 && n % 4))
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "data_type %s: bad length_bytes", name);
        di->dtype = utf32 ? LSTAR_DTYPE_FIXED_UTF32 : LSTAR_DTYPE_FIXED_BYTES;
        di->itemsize = (size_t)n;
        return LSTAR_OK;
    }
    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported data type \"%s\"", name);
}

static lstar_status parse_v3_dtype(const json_t *dt, dtype_info *di, const char *path, lstar_error *err) {
    return parse_v3_dtype_d(dt, di, 0, path, err);
}

/* ---- fill values -------------------------------------------------------- */

static uint16_t double_to_half(double d) {
    float f = (float)d;
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    uint32_t mant = x & 0x7fffffu;
    if (exp == 255) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    exp = exp - 127 + 15;
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = mant >> shift;
        if ((mant >> (shift - 1)) & 1) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
    if (mant & 0x1000u) h++;
    return (uint16_t)h;
}

/* Store a double/int64 fill into `out` for a numeric dtype (native order). */
static void put_number(lstar_dtype t, uint8_t *out, double d, long long i, int is_int) {
    switch (t) {
    case LSTAR_DTYPE_BOOL: out[0] = is_int ? (i != 0) : (d != 0.0); break;
    case LSTAR_DTYPE_INT8: { int8_t v = (int8_t)(is_int ? i : (long long)d); memcpy(out, &v, 1); break; }
    case LSTAR_DTYPE_INT16: { int16_t v = (int16_t)(is_int ? i : (long long)d); memcpy(out, &v, 2); break; }
    case LSTAR_DTYPE_INT32: { int32_t v = (int32_t)(is_int ? i : (long long)d); memcpy(out, &v, 4); break; }
    case LSTAR_DTYPE_INT64: { int64_t v = (int64_t)(is_int ? i : (long long)d); memcpy(out, &v, 8); break; }
    case LSTAR_DTYPE_UINT8: { uint8_t v = (uint8_t)(is_int ? i : (long long)d); memcpy(out, &v, 1); break; }
    case LSTAR_DTYPE_UINT16: { uint16_t v = (uint16_t)(is_int ? i : (long long)d); memcpy(out, &v, 2); break; }
    case LSTAR_DTYPE_UINT32: { uint32_t v = (uint32_t)(is_int ? i : (long long)d); memcpy(out, &v, 4); break; }
    case LSTAR_DTYPE_UINT64: {
        uint64_t v = is_int ? (uint64_t)i : (d < 0 ? (uint64_t)(long long)d : (uint64_t)d);
        memcpy(out, &v, 8);
        break;
    }
    case LSTAR_DTYPE_FLOAT16: { uint16_t v = double_to_half(is_int ? (double)i : d); memcpy(out, &v, 2); break; }
    case LSTAR_DTYPE_FLOAT32: { float v = (float)(is_int ? (double)i : d); memcpy(out, &v, 4); break; }
    case LSTAR_DTYPE_FLOAT64: { double v = is_int ? (double)i : d; memcpy(out, &v, 8); break; }
    default: break;
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One scalar fill component (number, special float string, hex) of `size` bytes. */
static lstar_status scalar_fill(lstar_dtype t, size_t size, const json_t *v, uint8_t *out, const char *path,
                                lstar_error *err) {
    if (json_is_integer(v)) {
        put_number(t, out, 0, (long long)json_integer_value(v), 1);
        return LSTAR_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (lstar_dtype_is_integer(t) && d != floor(d))
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "fill_value %g is not an integer", d);
        put_number(t, out, d, 0, 0);
        return LSTAR_OK;
    }
    if (json_is_boolean(v)) {
        put_number(t, out, 0, json_is_true(v) ? 1 : 0, 1);
        return LSTAR_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (lstar_dtype_is_float(t) || t == LSTAR_DTYPE_COMPLEX64 || t == LSTAR_DTYPE_COMPLEX128) {
            double d;
            if (strcmp(s, "NaN") == 0) d = NAN;
            else if (strcmp(s, "Infinity") == 0) d = INFINITY;
            else if (strcmp(s, "-Infinity") == 0) d = -INFINITY;
            else d = 0;
            if (strcmp(s, "NaN") == 0 || strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
                put_number(t == LSTAR_DTYPE_COMPLEX64 ? LSTAR_DTYPE_FLOAT32
                           : t == LSTAR_DTYPE_COMPLEX128 ? LSTAR_DTYPE_FLOAT64 : t,
                           out, d, 0, 0);
                return LSTAR_OK;
            }
        }
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && strlen(s + 2) == 2 * size && size <= 8) {
            uint64_t bits = 0;
            for (const char *p = s + 2; *p; p++) {
                int h = hexval(*p);
                if (h < 0) goto bad;
                bits = (bits << 4) | (uint64_t)h;
            }
            switch (size) {
            case 1: { uint8_t x = (uint8_t)bits; memcpy(out, &x, 1); break; }
            case 2: { uint16_t x = (uint16_t)bits; memcpy(out, &x, 2); break; }
            case 4: { uint32_t x = (uint32_t)bits; memcpy(out, &x, 4); break; }
            default: memcpy(out, &bits, 8); break;
            }
            return LSTAR_OK;
        }
    }
bad:
    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "unsupported fill_value for dtype %s", lstar_dtype_name(t));
}

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 into out (at most cap bytes; extra decoded bytes are an error). */
static lstar_status base64_fill(const char *s, uint8_t *out, size_t cap, const char *path, lstar_error *err) {
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '=') break;
        int v = b64val(*p);
        if (v < 0) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "fill_value is not valid base64");
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= cap) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "base64 fill_value longer than the dtype");
            out[n++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1u;
        }
    }
    return LSTAR_OK;
}

/* UTF-8 → UTF-32LE (native) into out (cap bytes, zero padded). */
static void utf8_to_utf32(const char *s, uint8_t *out, size_t cap) {
    const uint8_t *p = (const uint8_t *)s;
    size_t n = 0;
    while (*p && n + 4 <= cap) {
        uint32_t c = *p++;
        int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (extra) c &= (uint32_t)(0x3f >> extra);
        while (extra-- > 0 && (*p & 0xc0) == 0x80) c = (c << 6) | (*p++ & 0x3fu);
        memcpy(out + n, &c, 4);
        n += 4;
    }
}

/* v3 struct fill: an object of field name → value; best effort per field
 * (fields whose value we cannot interpret stay zero). */
static void struct_fill(const json_t *dtj, const json_t *fv, uint8_t *out, size_t cap, int depth) {
    const json_t *fields = json_object_get(json_object_get(dtj, "configuration"), "fields");
    size_t off = 0, i;
    json_t *f;
    if (depth > 8 || !json_is_object(fv)) return;
    json_array_foreach(fields, i, f) {
        const json_t *fdt = json_object_get(f, "data_type");
        const char *fname = lstar_json_str(f, "name");
        dtype_info fi;
        if (parse_v3_dtype_d(fdt, &fi, depth + 1, NULL, NULL) != LSTAR_OK || off + fi.itemsize > cap) return;
        const json_t *v = fname ? json_object_get(fv, fname) : NULL;
        if (v && !json_is_null(v)) {
            if (fi.dtype == LSTAR_DTYPE_STRUCT)
                struct_fill(fdt, v, out + off, fi.itemsize, depth + 1);
            else if (fi.dtype == LSTAR_DTYPE_FIXED_UTF32 && json_is_string(v))
                utf8_to_utf32(json_string_value(v), out + off, fi.itemsize);
            else if (fi.dtype == LSTAR_DTYPE_FIXED_BYTES && json_is_string(v))
                (void)base64_fill(json_string_value(v), out + off, fi.itemsize, NULL, NULL);
            else if (lstar_dtype_is_numeric(fi.dtype))
                (void)scalar_fill(fi.dtype, fi.itemsize, v, out + off, NULL, NULL);
        }
        off += fi.itemsize;
    }
}

static lstar_status parse_fill(lstar_zarr_array *a, const json_t *fv, const json_t *dtj, const char *path,
                               lstar_error *err) {
    if (a->dtype == LSTAR_DTYPE_STRING) {
        a->fill_str = lstar_strdup(json_is_string(fv) ? json_string_value(fv) : "");
        return a->fill_str ? LSTAR_OK : LSTAR_NOMEM(err, path);
    }
    a->fill = lstar_calloc(1, a->itemsize ? a->itemsize : 1);
    if (!a->fill) return LSTAR_NOMEM(err, path);
    if (!fv || json_is_null(fv)) return LSTAR_OK;
    switch (a->dtype) {
    case LSTAR_DTYPE_FIXED_BYTES:
    case LSTAR_DTYPE_STRUCT:
        if (json_is_string(fv)) return base64_fill(json_string_value(fv), a->fill, a->itemsize, path, err);
        if (json_is_array(fv)) { /* v3 r<N>: list of byte values */
            size_t i;
            json_t *b;
            json_array_foreach(fv, i, b) {
                if (i >= a->itemsize || !json_is_integer(b)) break;
                a->fill[i] = (uint8_t)json_integer_value(b);
            }
            return LSTAR_OK;
        }
        if (json_is_integer(fv) && json_integer_value(fv) == 0) return LSTAR_OK;
        if (json_is_object(fv) && dtj) {
            struct_fill(dtj, fv, a->fill, a->itemsize, 0);
            return LSTAR_OK;
        }
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "unsupported fill_value for a %s dtype",
                          lstar_dtype_name(a->dtype));
    case LSTAR_DTYPE_FIXED_UTF32:
        if (json_is_string(fv)) {
            utf8_to_utf32(json_string_value(fv), a->fill, a->itemsize);
            return LSTAR_OK;
        }
        if (json_is_integer(fv) && json_integer_value(fv) == 0) return LSTAR_OK;
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "unsupported fill_value for a utf32 dtype");
    case LSTAR_DTYPE_COMPLEX64:
    case LSTAR_DTYPE_COMPLEX128: {
        lstar_dtype half = a->dtype == LSTAR_DTYPE_COMPLEX64 ? LSTAR_DTYPE_FLOAT32 : LSTAR_DTYPE_FLOAT64;
        size_t hs = a->itemsize / 2;
        if (json_is_array(fv) && json_array_size(fv) == 2) {
            lstar_status st = scalar_fill(half, hs, json_array_get(fv, 0), a->fill, path, err);
            if (st == LSTAR_OK) st = scalar_fill(half, hs, json_array_get(fv, 1), a->fill + hs, path, err);
            return st;
        }
        return scalar_fill(half, hs, fv, a->fill, path, err);
    }
    default: return scalar_fill(a->dtype, a->itemsize, fv, a->fill, path, err);
    }
}

/* ---- codec chains ------------------------------------------------------- */

static const char *codec_name(const json_t *c, int v3) {
    if (json_is_string(c)) return json_string_value(c);
    if (!json_is_object(c)) return NULL;
    return lstar_json_str(c, v3 ? "name" : "id");
}

static lstar_status make_codec(const json_t *cfg, const char *name, lstar_dtype dtype, size_t itemsize,
                               lstar_codec **out, const char *path, lstar_error *err) {
    char *text = lstar_json_dump(cfg, 0);
    if (!text) return LSTAR_NOMEM(err, path);
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_codec_from_json(text, dtype, itemsize, out, &e);
    lstar_free(text);
    if (st == LSTAR_ERR_UNSUPPORTED)
        return LSTAR_FAIL(err, st, path, "unsupported codec \"%s\" (%s)", name, e.message);
    if (st != LSTAR_OK) return LSTAR_FAIL(err, st, path, "codec \"%s\": %s", name, e.message);
    return LSTAR_OK;
}

static int bb_growth(const lstar_codec *c) {
    const char *id = lstar_codec_id(c);
    if (!id) return -1;
    if (strcmp(id, "shuffle") == 0 || strcmp(id, "delta") == 0) return 0;
    if (strcmp(id, "crc32c") == 0 || strcmp(id, "fletcher32") == 0) return 4;
    return -1;
}

static lstar_status chain_add_bb(zarr_chain *ch, const json_t *cfg, const char *name, lstar_dtype dtype,
                                 size_t itemsize, const char *path, lstar_error *err) {
    if (ch->n_bb >= ZARR_MAX_CODECS) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "too many codecs");
    lstar_codec *c = NULL;
    lstar_status st = make_codec(cfg, name, dtype, itemsize, &c, path, err);
    if (st != LSTAR_OK) return st;
    ch->bb[ch->n_bb] = c;
    ch->bb_growth[ch->n_bb] = bb_growth(c);
    ch->n_bb++;
    return LSTAR_OK;
}

static lstar_status v2_chain(lstar_zarr_array *a, const json_t *meta, const dtype_info *di, const char *path,
                             lstar_error *err) {
    lstar_status st = LSTAR_OK;
    zarr_chain *ch = &a->chain;
    const json_t *filters = json_object_get(meta, "filters");
    const json_t *comp = json_object_get(meta, "compressor");
    const char *order = lstar_json_str(meta, "order");
    if (!filters || !comp || !order)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, ".zarray lacks %s",
                          !filters ? "\"filters\"" : !comp ? "\"compressor\"" : "\"order\"");
    if (!json_is_null(filters) && !json_is_array(filters))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "\"filters\" must be null or a list");
    if (!json_is_null(comp) && !json_is_object(comp))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "\"compressor\" must be null or an object");
    if (strcmp(order, "C") != 0 && strcmp(order, "F") != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "\"order\" must be \"C\" or \"F\"");
    ch->ab = ZARR_AB_BYTES;
    ch->big_endian = di->big_endian;
    size_t nf = json_is_array(filters) ? json_array_size(filters) : 0;
    for (size_t i = 0; i < nf; i++) {
        const json_t *f = json_array_get(filters, i);
        const char *name = codec_name(f, 0);
        if (!name) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "filter %zu has no \"id\"", i);
        int is_vlen = strcmp(name, "vlen-utf8") == 0 || strcmp(name, "vlen-bytes") == 0;
        if (is_vlen) {
            if (!di->is_object || i != 0)
                return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "object codec \"%s\" %s", name,
                                  di->is_object ? "must be the first filter" : "on a non-object dtype");
            ch->ab = name[5] == 'u' ? ZARR_AB_VLEN_UTF8 : ZARR_AB_VLEN_BYTES;
            continue;
        }
        if (di->is_object && i == 0)
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported object codec \"%s\"", name);
        st = chain_add_bb(ch, f, name, a->dtype, a->itemsize, path, err);
        if (st != LSTAR_OK) return st;
    }
    if (di->is_object && ch->ab == ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "object dtype \"|O\" without a vlen-utf8 filter");
    if (json_is_object(comp)) {
        const char *name = codec_name(comp, 0);
        if (!name) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "compressor has no \"id\"");
        st = chain_add_bb(ch, comp, name, a->dtype, a->itemsize, path, err);
        if (st != LSTAR_OK) return st;
    }
    if (order[0] == 'F' && a->rank > 1) {
        if (di->is_object) return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "order \"F\" for object arrays");
        zarr_aa *t = &ch->aa[ch->n_aa++];
        t->kind = ZARR_AA_TRANSPOSE;
        for (int k = 0; k < a->rank; k++) t->order[k] = a->rank - 1 - k;
    }
    return LSTAR_OK;
}

/* Parse a v3 codec list into `ch`.  `inner`: inside sharding_indexed. */
static lstar_status v3_chain(lstar_zarr_array *a, const json_t *codecs, zarr_chain *ch, int inner,
                             const char *path, lstar_error *err);

static lstar_status parse_shape_list(const json_t *list, int rank, uint64_t *out, int allow_zero, const char *what,
                                     const char *path, lstar_error *err) {
    if (!json_is_array(list) || (int)json_array_size(list) != rank)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "%s must be a list of %d integers", what, rank);
    for (int i = 0; i < rank; i++) {
        json_t *v = json_array_get(list, (size_t)i);
        if (!json_is_integer(v) || json_integer_value(v) < (allow_zero ? 0 : 1))
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "%s[%d] must be an integer >= %d", what, i,
                              allow_zero ? 0 : 1);
        out[i] = (uint64_t)json_integer_value(v);
    }
    return LSTAR_OK;
}

static lstar_status parse_sharding(lstar_zarr_array *a, const json_t *cfg, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    if (!json_is_object(cfg))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "sharding_indexed needs a configuration");
    st = parse_shape_list(json_object_get(cfg, "chunk_shape"), a->rank, a->chunks, 0, "sharding chunk_shape", path,
                          err);
    if (st != LSTAR_OK) return st;
    uint64_t n = 1;
    for (int d = 0; d < a->rank; d++) {
        if (a->grid[d] % a->chunks[d])
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path,
                              "inner chunk_shape[%d]=%llu does not divide the shard shape %llu", d,
                              (unsigned long long)a->chunks[d], (unsigned long long)a->grid[d]);
        a->cps[d] = a->grid[d] / a->chunks[d];
        if (lstar_zarr_mul(n, a->cps[d], &n) || n > LSTAR_MAX_SHARD_CHUNKS)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "more than %llu inner chunks per shard",
                              (unsigned long long)LSTAR_MAX_SHARD_CHUNKS);
    }
    a->shard_n = n;
    a->sharded = 1;
    const char *loc = lstar_json_str(cfg, "index_location");
    if (loc && strcmp(loc, "start") != 0 && strcmp(loc, "end") != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "index_location must be \"start\" or \"end\"");
    a->index_at_start = loc && strcmp(loc, "start") == 0;
    const json_t *ic = json_object_get(cfg, "index_codecs");
    if (!json_is_array(ic)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "sharding_indexed lacks index_codecs");
    int seen_bytes = 0;
    size_t i;
    json_t *c;
    json_array_foreach(ic, i, c) {
        const char *name = codec_name(c, 1);
        if (!name) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "index codec %zu has no name", i);
        if (strcmp(name, "bytes") == 0 && !seen_bytes) {
            const char *endian = lstar_json_str(json_object_get(c, "configuration"), "endian");
            a->index_big_endian = endian && strcmp(endian, "big") == 0;
            seen_bytes = 1;
        } else if (strcmp(name, "crc32c") == 0 && seen_bytes && !a->index_crc) {
            a->index_crc = 1;
        } else {
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported shard index codec \"%s\"", name);
        }
    }
    if (!seen_bytes) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "shard index_codecs lack \"bytes\"");
    const json_t *codecs = json_object_get(cfg, "codecs");
    return v3_chain(a, codecs, &a->chain, 1, path, err);
}

static lstar_status v3_chain(lstar_zarr_array *a, const json_t *codecs, zarr_chain *ch, int inner,
                             const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    if (!json_is_array(codecs) || json_array_size(codecs) == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "\"codecs\" must be a non-empty list");
    int have_ab = 0;
    size_t i;
    json_t *c;
    json_array_foreach(codecs, i, c) {
        const char *name = codec_name(c, 1);
        if (!name) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "codec %zu has no \"name\"", i);
        const json_t *cfg = json_is_object(c) ? json_object_get(c, "configuration") : NULL;
        const char *base = strncmp(name, "numcodecs.", 10) == 0 ? name + 10 : name;
        if (!have_ab) {
            if (strcmp(name, "transpose") == 0) {
                if (ch->n_aa >= ZARR_MAX_CODECS) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "too many codecs");
                zarr_aa *t = &ch->aa[ch->n_aa];
                const json_t *ord = json_object_get(cfg, "order");
                int used[LSTAR_MAX_RANK] = {0};
                if (json_is_string(ord) && (strcmp(json_string_value(ord), "C") == 0 ||
                                            strcmp(json_string_value(ord), "F") == 0)) {
                    int f = json_string_value(ord)[0] == 'F';
                    for (int k = 0; k < a->rank; k++) t->order[k] = f ? a->rank - 1 - k : k;
                } else {
                    if (!json_is_array(ord) || (int)json_array_size(ord) != a->rank)
                        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "transpose order must list %d axes", a->rank);
                    for (int k = 0; k < a->rank; k++) {
                        json_t *v = json_array_get(ord, (size_t)k);
                        json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
                        if (x < 0 || x >= a->rank || used[x])
                            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "transpose order is not a permutation");
                        used[x] = 1;
                        t->order[k] = (int)x;
                    }
                }
                if (a->dtype == LSTAR_DTYPE_STRING)
                    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "transpose of string arrays");
                t->kind = ZARR_AA_TRANSPOSE;
                ch->n_aa++;
                continue;
            }
            if (strcmp(base, "delta") == 0) {
                if (ch->n_aa >= ZARR_MAX_CODECS) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "too many codecs");
                zarr_aa *t = &ch->aa[ch->n_aa];
                st = make_codec(c, name, a->dtype, a->itemsize, &t->codec, path, err);
                if (st != LSTAR_OK) return st;
                t->kind = ZARR_AA_CODEC;
                ch->n_aa++;
                continue;
            }
            if (strcmp(name, "bytes") == 0) {
                const char *endian = lstar_json_str(cfg, "endian");
                if (endian && strcmp(endian, "big") != 0 && strcmp(endian, "little") != 0)
                    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "bytes endian must be \"little\" or \"big\"");
                if (a->dtype == LSTAR_DTYPE_STRING)
                    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "data type \"string\" needs vlen-utf8, not bytes");
                ch->ab = ZARR_AB_BYTES;
                ch->big_endian = endian && strcmp(endian, "big") == 0 && a->itemsize > 1;
                if (ch->big_endian && a->dtype == LSTAR_DTYPE_STRUCT)
                    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "big-endian struct data types");
                have_ab = 1;
                continue;
            }
            if (strcmp(name, "vlen-utf8") == 0 || strcmp(name, "vlen-bytes") == 0) {
                if (a->dtype != LSTAR_DTYPE_STRING)
                    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "codec \"%s\" needs data type \"string\"", name);
                ch->ab = name[5] == 'u' ? ZARR_AB_VLEN_UTF8 : ZARR_AB_VLEN_BYTES;
                have_ab = 1;
                continue;
            }
            if (strcmp(name, "sharding_indexed") == 0) {
                if (inner) return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "nested sharding_indexed");
                if (ch->n_aa)
                    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "array->array codecs before sharding_indexed");
                if (i + 1 != json_array_size(codecs))
                    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "bytes->bytes codecs after sharding_indexed");
                return parse_sharding(a, cfg, path, err);
            }
            /* Not an array->array or array->bytes codec we know. */
            lstar_codec *probe = NULL;
            st = make_codec(c, name, a->dtype, a->itemsize, &probe, path, err);
            lstar_codec_free(probe);
            if (st != LSTAR_OK) return st;
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "codec \"%s\" appears before the array->bytes codec", name);
        }
        if (strcmp(name, "bytes") == 0 || strcmp(name, "vlen-utf8") == 0 || strcmp(name, "transpose") == 0 ||
            strcmp(name, "sharding_indexed") == 0 || strcmp(name, "vlen-bytes") == 0)
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "codec \"%s\" after the array->bytes codec", name);
        st = chain_add_bb(ch, c, name, a->dtype, a->itemsize, path, err);
        if (st != LSTAR_OK) return st;
    }
    if (!have_ab) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "codecs lack an array->bytes codec");
    return LSTAR_OK;
}

/* ---- array metadata ----------------------------------------------------- */

static lstar_status finish_layout(lstar_zarr_array *a, const char *path, lstar_error *err) {
    uint64_t elems = 1;
    for (int d = 0; d < a->rank; d++)
        if (lstar_zarr_mul(elems, a->chunks[d], &elems))
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "chunk element count overflows");
    a->chunk_elems = elems;
    if (a->dtype == LSTAR_DTYPE_STRING) {
        if (elems > LSTAR_MAX_STRING_ITEMS)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "string chunk of %llu items exceeds the limit",
                              (unsigned long long)elems);
        a->chunk_bytes = 0;
    } else {
        uint64_t bytes;
        if (lstar_zarr_mul(elems, a->itemsize, &bytes) || bytes > LSTAR_MAX_CHUNK_BYTES)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "chunk of %llu elements x %zu bytes exceeds the %llu-byte limit",
                              (unsigned long long)elems, a->itemsize, (unsigned long long)LSTAR_MAX_CHUNK_BYTES);
        a->chunk_bytes = (size_t)bytes;
    }
    /* The number of chunks and elements must be representable. */
    uint64_t total = 1, nchunks = 1;
    for (int d = 0; d < a->rank; d++) {
        uint64_t nc = a->shape[d] / a->chunks[d] + (a->shape[d] % a->chunks[d] != 0);
        if (lstar_zarr_mul(total, a->shape[d], &total) || lstar_zarr_mul(nchunks, nc, &nchunks))
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "array shape is too large");
    }
    uint64_t tb;
    if (lstar_zarr_mul(total, a->itemsize ? a->itemsize : 1, &tb) || tb > (UINT64_MAX >> 2))
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "array shape is too large");
    return LSTAR_OK;
}

static lstar_status parse_v2(lstar_zarr_array *a, const json_t *meta, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const json_t *zf = json_object_get(meta, "zarr_format");
    if (!json_is_integer(zf) || json_integer_value(zf) != 2)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, ".zarray: zarr_format must be 2");
    const json_t *shape = json_object_get(meta, "shape");
    const json_t *chunks = json_object_get(meta, "chunks");
    const json_t *dtype = json_object_get(meta, "dtype");
    if (!json_is_array(shape) || !json_is_array(chunks) || !dtype)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, ".zarray lacks %s",
                          !json_is_array(shape) ? "a \"shape\" list" : !json_is_array(chunks) ? "a \"chunks\" list"
                                                                                              : "\"dtype\"");
    if (!json_object_get(meta, "fill_value"))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, ".zarray lacks \"fill_value\"");
    if (json_array_size(shape) > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "rank %zu exceeds %d", json_array_size(shape), LSTAR_MAX_RANK);
    a->rank = (int)json_array_size(shape);
    st = parse_shape_list(shape, a->rank, a->shape, 1, "shape", path, err);
    if (st != LSTAR_OK) return st;
    st = parse_shape_list(chunks, a->rank, a->chunks, 0, "chunks", path, err);
    if (st != LSTAR_OK) return st;
    memcpy(a->grid, a->chunks, sizeof a->grid);
    dtype_info di;
    if (json_is_string(dtype)) {
        st = parse_typestr(json_string_value(dtype), &di, path, err);
        if (st != LSTAR_OK) return st;
        a->dtype_text = lstar_strdup(json_string_value(dtype));
    } else if (json_is_array(dtype)) {
        memset(&di, 0, sizeof di);
        st = parse_struct(dtype, 0, &di.itemsize, path, err);
        if (st != LSTAR_OK) return st;
        di.dtype = LSTAR_DTYPE_STRUCT;
        a->dtype_text = lstar_json_dump(dtype, 0);
    } else {
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "\"dtype\" must be a string or a list");
    }
    if (!a->dtype_text) return LSTAR_NOMEM(err, path);
    a->dtype = di.dtype;
    a->itemsize = di.itemsize;
    const char *sep = lstar_json_str(json_object_get(meta, "dimension_separator") ? meta : NULL,
                                     "dimension_separator");
    if (json_object_get(meta, "dimension_separator") && !json_is_null(json_object_get(meta, "dimension_separator")) &&
        (!sep || (strcmp(sep, ".") != 0 && strcmp(sep, "/") != 0)))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "dimension_separator must be \".\" or \"/\"");
    a->sep = sep ? sep[0] : '.';
    a->v2_keys = 1;
    st = finish_layout(a, path, err);
    if (st != LSTAR_OK) return st;
    st = v2_chain(a, meta, &di, path, err);
    if (st != LSTAR_OK) return st;
    return parse_fill(a, json_object_get(meta, "fill_value"), NULL, path, err);
}

static const char *const k_v3_known[] = {"zarr_format", "node_type", "shape", "data_type", "chunk_grid",
                                         "chunk_key_encoding", "fill_value", "codecs", "attributes",
                                         "storage_transformers", "dimension_names", "consolidated_metadata", NULL};

static lstar_status parse_v3(lstar_zarr_array *a, const json_t *meta, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const json_t *zf = json_object_get(meta, "zarr_format");
    if (!json_is_integer(zf) || json_integer_value(zf) != 3)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json: zarr_format must be 3");
    const char *nt = lstar_json_str(meta, "node_type");
    if (!nt || strcmp(nt, "array") != 0) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json: not an array");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        int known = 0;
        for (int i = 0; k_v3_known[i]; i++) known |= strcmp(key, k_v3_known[i]) == 0;
        if (known) continue;
        if (json_is_object(val) && json_is_false(json_object_get(val, "must_understand"))) continue;
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported metadata field \"%s\"", key);
    }
    const json_t *shape = json_object_get(meta, "shape");
    if (!json_is_array(shape)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json lacks a \"shape\" list");
    if (json_array_size(shape) > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "rank %zu exceeds %d", json_array_size(shape), LSTAR_MAX_RANK);
    a->rank = (int)json_array_size(shape);
    st = parse_shape_list(shape, a->rank, a->shape, 1, "shape", path, err);
    if (st != LSTAR_OK) return st;
    const json_t *dt = json_object_get(meta, "data_type");
    if (!dt) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json lacks \"data_type\"");
    dtype_info di;
    st = parse_v3_dtype(dt, &di, path, err);
    if (st != LSTAR_OK) return st;
    a->dtype = di.dtype;
    a->itemsize = di.itemsize;
    a->dtype_text = json_is_string(dt) ? lstar_strdup(json_string_value(dt)) : lstar_json_dump(dt, 0);
    if (!a->dtype_text) return LSTAR_NOMEM(err, path);
    /* chunk grid */
    const json_t *cg = json_object_get(meta, "chunk_grid");
    const char *cgname = codec_name(cg, 1);
    if (!cgname) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json lacks \"chunk_grid\"");
    if (strcmp(cgname, "regular") != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported chunk grid \"%s\"", cgname);
    st = parse_shape_list(json_object_get(json_object_get(cg, "configuration"), "chunk_shape"), a->rank, a->grid, 0,
                          "chunk_shape", path, err);
    if (st != LSTAR_OK) return st;
    memcpy(a->chunks, a->grid, sizeof a->chunks);
    for (int d = 0; d < a->rank; d++) a->cps[d] = 1;
    a->shard_n = 1;
    /* chunk key encoding */
    const json_t *cke = json_object_get(meta, "chunk_key_encoding");
    const char *ckname = codec_name(cke, 1);
    if (!ckname) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json lacks \"chunk_key_encoding\"");
    const char *sep = json_is_object(cke) ? lstar_json_str(json_object_get(cke, "configuration"), "separator") : NULL;
    if (strcmp(ckname, "default") == 0) {
        a->v2_keys = 0;
        a->sep = sep ? sep[0] : '/';
    } else if (strcmp(ckname, "v2") == 0) {
        a->v2_keys = 1;
        a->sep = sep ? sep[0] : '.';
    } else {
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unsupported chunk key encoding \"%s\"", ckname);
    }
    if (sep && strcmp(sep, ".") != 0 && strcmp(sep, "/") != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "chunk key separator must be \".\" or \"/\"");
    const json_t *stf = json_object_get(meta, "storage_transformers");
    if (stf && !json_is_null(stf) && (!json_is_array(stf) || json_array_size(stf) != 0))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "storage transformers are not supported");
    if (!json_object_get(meta, "fill_value"))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "zarr.json lacks \"fill_value\"");
    st = v3_chain(a, json_object_get(meta, "codecs"), &a->chain, 0, path, err);
    if (st != LSTAR_OK) return st;
    st = finish_layout(a, path, err);
    if (st != LSTAR_OK) return st;
    return parse_fill(a, json_object_get(meta, "fill_value"), dt, path, err);
}

lstar_status lstar_zarr_array_from_meta(lstar_zarr *z, const char *path, int format, json_t *meta,
                                        lstar_zarr_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    *out = NULL;
    if (!json_is_object(meta))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "array metadata is not a JSON object");
    lstar_zarr_array *a = lstar_calloc(1, sizeof *a);
    if (!a) return LSTAR_NOMEM(err, path);
    pthread_mutex_init(&a->write_mu, NULL);
    a->z = z;
    a->format = format;
    a->threads = 1;
    a->path = lstar_strdup(path);
    if (!a->path) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (int d = 0; d < LSTAR_MAX_RANK; d++) a->cps[d] = 1;
    a->shard_n = 1;
    st = format == 2 ? parse_v2(a, meta, path, err) : parse_v3(a, meta, path, err);
    if (st != LSTAR_OK) goto done;
    json_incref(meta);
    a->meta = meta;
    *out = a;
    a = NULL;
done:
    lstar_zarr_array_close(a);
    return st;
}

/* ---- building metadata -------------------------------------------------- */

static const char *v2_typestr(lstar_dtype t, char *buf, size_t n, size_t itemsize) {
    switch (t) {
    case LSTAR_DTYPE_BOOL: return "|b1";
    case LSTAR_DTYPE_INT8: return "|i1";
    case LSTAR_DTYPE_UINT8: return "|u1";
    case LSTAR_DTYPE_INT16: return "<i2";
    case LSTAR_DTYPE_INT32: return "<i4";
    case LSTAR_DTYPE_INT64: return "<i8";
    case LSTAR_DTYPE_UINT16: return "<u2";
    case LSTAR_DTYPE_UINT32: return "<u4";
    case LSTAR_DTYPE_UINT64: return "<u8";
    case LSTAR_DTYPE_FLOAT16: return "<f2";
    case LSTAR_DTYPE_FLOAT32: return "<f4";
    case LSTAR_DTYPE_FLOAT64: return "<f8";
    case LSTAR_DTYPE_COMPLEX64: return "<c8";
    case LSTAR_DTYPE_COMPLEX128: return "<c16";
    case LSTAR_DTYPE_STRING: return "|O";
    case LSTAR_DTYPE_FIXED_BYTES: snprintf(buf, n, "|S%zu", itemsize); return buf;
    default: return NULL;
    }
}

/* JSON building helpers.  jansson's *_new functions steal the value even on
 * failure, so `set`/`app` never leak; a NULL value counts as failure.
 * Containers are attached to their parent first and filled afterwards
 * (through the borrowed pointer), so a failure never strands them. */
static int set(json_t *o, const char *k, json_t *v) { return !o || !v || json_object_set_new(o, k, v) != 0; }
static int app(json_t *a, json_t *v) { return !a || !v || json_array_append_new(a, v) != 0; }
/* Attach a new empty object/array under key k (or append when k is NULL); NULL on failure. */
static json_t *child(json_t *parent, const char *k, json_t *c) {
    if (!c) return NULL;
    json_incref(c);
    int rc = k ? set(parent, k, c) : app(parent, c);
    json_decref(c);
    return rc ? NULL : c;
}

static json_t *special_real(double v) {
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static int set_fill(json_t *m, const lstar_zarr_array_spec *spec) {
    lstar_dtype t = spec->dtype;
    double v = spec->has_fill_value ? spec->fill_value : 0.0;
    if (t == LSTAR_DTYPE_STRING || t == LSTAR_DTYPE_FIXED_BYTES) return set(m, "fill_value", json_string(""));
    if (t == LSTAR_DTYPE_BOOL) return set(m, "fill_value", json_boolean(v != 0.0));
    if (lstar_dtype_is_integer(t)) return set(m, "fill_value", json_integer((json_int_t)v));
    if (t == LSTAR_DTYPE_COMPLEX64 || t == LSTAR_DTYPE_COMPLEX128) {
        json_t *pair = child(m, "fill_value", json_array());
        return !pair || app(pair, special_real(v)) || app(pair, json_real(0.0));
    }
    return set(m, "fill_value", special_real(v));
}

static int set_shape(json_t *o, const char *k, const uint64_t *v, int rank) {
    json_t *l = child(o, k, json_array());
    if (!l) return 1;
    for (int d = 0; d < rank; d++)
        if (app(l, json_integer((json_int_t)v[d]))) return 1;
    return 0;
}

/* Parse a codec spec; its JSON for `format` → *out (NULL for "none"). */
static lstar_status spec_codec_json(const char *spec, lstar_dtype dt, size_t itemsize, int format, json_t **out,
                                    int *is_delta, const char *path, lstar_error *err) {
    lstar_codec *c = NULL;
    *out = NULL;
    lstar_status st = lstar_codec_from_spec(spec, dt, itemsize, &c, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    if (!c) return LSTAR_OK;
    if (is_delta) *is_delta = strcmp(lstar_codec_id(c), "delta") == 0;
    char *text = lstar_codec_to_json(c, format);
    lstar_codec_free(c);
    if (!text) return LSTAR_NOMEM(err, path);
    st = lstar_json_parse(text, strlen(text), path, out, err);
    lstar_free(text);
    return st;
}

/* Append {"name":"bytes"(,"configuration":{"endian":"little"})} to list. */
static int app_bytes_codec(json_t *list, size_t itemsize) {
    json_t *b = child(list, NULL, json_object());
    if (!b || set(b, "name", json_string("bytes"))) return 1;
    if (itemsize > 1) {
        json_t *cfg = child(b, "configuration", json_object());
        if (!cfg || set(cfg, "endian", json_string("little"))) return 1;
    }
    return 0;
}

/* Append copies of every element of src to dst. */
static int app_all(json_t *dst, const json_t *src) {
    size_t i;
    json_t *v;
    json_array_foreach(src, i, v) if (app(dst, json_incref(v))) return 1;
    return 0;
}

static int build_v2(json_t *m, const lstar_zarr_array_spec *spec, const uint64_t *chunks, size_t itemsize,
                    const json_t *bb, json_t *comp) {
    char tb[32];
    lstar_dtype dt = spec->dtype;
    if (set_shape(m, "chunks", chunks, spec->rank)) return 1;
    if (set(m, "compressor", comp ? json_incref(comp) : json_null())) return 1;
    if (set(m, "dimension_separator", json_string(spec->dimension_separator == '/' ? "/" : "."))) return 1;
    if (set(m, "dtype", json_string(v2_typestr(dt, tb, sizeof tb, itemsize)))) return 1;
    if (set_fill(m, spec)) return 1;
    if (dt == LSTAR_DTYPE_STRING || json_array_size(bb)) {
        json_t *filters = child(m, "filters", json_array());
        if (!filters) return 1;
        if (dt == LSTAR_DTYPE_STRING) {
            json_t *v = child(filters, NULL, json_object());
            if (!v || set(v, "id", json_string("vlen-utf8"))) return 1;
        }
        if (app_all(filters, bb)) return 1;
    } else if (set(m, "filters", json_null())) {
        return 1;
    }
    if (set(m, "order", json_string("C"))) return 1;
    if (set_shape(m, "shape", spec->shape, spec->rank)) return 1;
    return set(m, "zarr_format", json_integer(2));
}

static int build_v3(json_t *m, const lstar_zarr_array_spec *spec, const uint64_t *chunks, const uint64_t *shard,
                    int sharded, size_t itemsize, const json_t *aa, const json_t *bb, json_t *comp, json_t *attrs) {
    lstar_dtype dt = spec->dtype;
    if (set_shape(m, "shape", spec->shape, spec->rank)) return 1;
    if (dt == LSTAR_DTYPE_FIXED_BYTES) {
        json_t *dtj = child(m, "data_type", json_object());
        if (!dtj || set(dtj, "name", json_string("null_terminated_bytes"))) return 1;
        json_t *c = child(dtj, "configuration", json_object());
        if (!c || set(c, "length_bytes", json_integer((json_int_t)itemsize))) return 1;
    } else if (set(m, "data_type", json_string(lstar_dtype_name(dt)))) {
        return 1;
    }
    json_t *cg = child(m, "chunk_grid", json_object());
    if (!cg || set(cg, "name", json_string("regular"))) return 1;
    json_t *cgc = child(cg, "configuration", json_object());
    if (!cgc || set_shape(cgc, "chunk_shape", sharded ? shard : chunks, spec->rank)) return 1;
    json_t *cke = child(m, "chunk_key_encoding", json_object());
    if (!cke || set(cke, "name", json_string(spec->v2_chunk_key_encoding ? "v2" : "default"))) return 1;
    char sep[2] = {spec->dimension_separator ? spec->dimension_separator : (spec->v2_chunk_key_encoding ? '.' : '/'),
                   0};
    json_t *ckec = child(cke, "configuration", json_object());
    if (!ckec || set(ckec, "separator", json_string(sep))) return 1;
    if (set_fill(m, spec)) return 1;
    json_t *codecs = child(m, "codecs", json_array());
    if (!codecs) return 1;
    if (sharded) {
        json_t *sh = child(codecs, NULL, json_object());
        if (!sh || set(sh, "name", json_string("sharding_indexed"))) return 1;
        json_t *shc = child(sh, "configuration", json_object());
        if (!shc || set_shape(shc, "chunk_shape", chunks, spec->rank)) return 1;
        codecs = child(shc, "codecs", json_array());
        if (!codecs) return 1;
        json_t *ic = child(shc, "index_codecs", json_array());
        if (!ic || app_bytes_codec(ic, 8)) return 1;
        json_t *crc = child(ic, NULL, json_object());
        if (!crc || set(crc, "name", json_string("crc32c"))) return 1;
        if (set(shc, "index_location", json_string("end"))) return 1;
    }
    if (app_all(codecs, aa)) return 1;
    if (dt == LSTAR_DTYPE_STRING) {
        json_t *v = child(codecs, NULL, json_object());
        if (!v || set(v, "name", json_string("vlen-utf8")) || set(v, "configuration", json_object())) return 1;
    } else if (app_bytes_codec(codecs, itemsize)) {
        return 1;
    }
    if (app_all(codecs, bb)) return 1;
    if (comp && app(codecs, json_incref(comp))) return 1;
    if (set(m, "attributes", attrs ? json_incref(attrs) : json_object())) return 1;
    if (set(m, "zarr_format", json_integer(3)) || set(m, "node_type", json_string("array"))) return 1;
    return set(m, "storage_transformers", json_array());
}

lstar_status lstar_zarr_meta_build(int format, const char *path, const lstar_zarr_array_spec *spec, json_t **out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *m = NULL, *comp = NULL, *aa = NULL, *bb = NULL, *attrs = NULL, *one = NULL;
    char *fbuf = NULL;
    *out = NULL;
    lstar_dtype dt = spec->dtype;
    size_t itemsize = dt == LSTAR_DTYPE_FIXED_BYTES ? spec->itemsize : lstar_dtype_size(dt);
    int sharded = 0;
    if (spec->rank < 0 || spec->rank > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "rank %d out of range", spec->rank);
    for (int d = 0; d < spec->rank; d++) sharded |= spec->shard[d] != 0;
    if ((int)dt <= LSTAR_DTYPE_INVALID || dt == LSTAR_DTYPE_STRUCT || dt == LSTAR_DTYPE_FIXED_UTF32 ||
        dt >= LSTAR_DTYPE_COUNT_ ||
        (dt == LSTAR_DTYPE_FIXED_BYTES && (spec->itemsize == 0 || spec->itemsize > LSTAR_MAX_STRING_BYTES)))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "cannot create an array of dtype %s",
                          lstar_dtype_name(dt));
    if (sharded && format != 3)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "sharding needs Zarr format 3");
    if (spec->dimension_separator && spec->dimension_separator != '.' && spec->dimension_separator != '/')
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "dimension separator must be '.' or '/'");
    uint64_t chunks[LSTAR_MAX_RANK], shard[LSTAR_MAX_RANK];
    for (int d = 0; d < spec->rank; d++) {
        chunks[d] = spec->chunks[d] ? spec->chunks[d] : (spec->shape[d] ? spec->shape[d] : 1);
        shard[d] = 0;
        if (sharded) {
            shard[d] = spec->shard[d] ? spec->shard[d] : chunks[d];
            if (shard[d] % chunks[d])
                return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "shard shape %llu is not a multiple of chunk %llu",
                                  (unsigned long long)shard[d], (unsigned long long)chunks[d]);
        }
    }
    if (spec->attrs_json) {
        LSTAR_CHECK(lstar_json_parse(spec->attrs_json, strlen(spec->attrs_json), path, &attrs, err));
        if (!json_is_object(attrs)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attributes must be a JSON object");
            goto done;
        }
    }
    /* codecs: filters (comma-separated) then the compressor */
    aa = json_array();
    bb = json_array();
    if (!aa || !bb) goto nomem;
    if (spec->filters && spec->filters[0]) {
        fbuf = lstar_strdup(spec->filters);
        if (!fbuf) goto nomem;
        char *save = NULL;
        for (char *tok = strtok_r(fbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ') tok++;
            if (!*tok) continue;
            int is_delta = 0;
            LSTAR_CHECK(spec_codec_json(tok, dt, itemsize, format, &one, &is_delta, path, err));
            if (!one) continue;
            if (is_delta && dt == LSTAR_DTYPE_STRING) {
                st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "delta filter on a string array");
                goto done;
            }
            int rc = app((format == 3 && is_delta) ? aa : bb, one);
            one = NULL;
            if (rc) goto nomem;
        }
    }
    if (spec->compression && spec->compression[0])
        LSTAR_CHECK(spec_codec_json(spec->compression, dt, itemsize, format, &comp, NULL, path, err));
    m = json_object();
    if (!m) goto nomem;
    if (format == 2 ? build_v2(m, spec, chunks, itemsize, bb, comp)
                    : build_v3(m, spec, chunks, shard, sharded, itemsize, aa, bb, comp, attrs))
        goto nomem;
    *out = m;
    m = NULL;
    goto done;
nomem:
    st = LSTAR_NOMEM(err, path);
done:
    lstar_free(fbuf);
    json_decref(m);
    json_decref(comp);
    json_decref(aa);
    json_decref(bb);
    json_decref(attrs);
    json_decref(one);
    return st;
}
