/* Filters: shuffle (HDF5 / numcodecs byte planes), delta (numcodecs Delta), crc32c (Zarr v3), fletcher32
 * (HDF5 / numcodecs).  See docs/internals/codecs.md. */
#include <pthread.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "common/error.h"
#include "lstar/alloc.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define LSTAR_HAVE_SSE42_CRC 1
#endif

/* ---- shuffle ----------------------------------------------------------------------------------- */

/* Constant element sizes let the compiler unroll the inner loop. */
#define SHUFFLE_LOOP_(ES)                                                                                     \
    for (size_t i = 0; i < nelem; i++)                                                                        \
        for (size_t j = 0; j < (ES); j++) out[j * nelem + i] = in[i * (ES) + j];
#define UNSHUFFLE_LOOP_(ES)                                                                                   \
    for (size_t i = 0; i < nelem; i++)                                                                        \
        for (size_t j = 0; j < (ES); j++) out[i * (ES) + j] = in[j * nelem + i];

/* HDF5 / numcodecs byte planes: shuffling (inverse = 0) moves byte j of element i to out[j * nelem + i],
 * unshuffling (inverse = 1) moves it back.  The trailing n % es bytes are copied unchanged. */
static void byte_planes(size_t es, const uint8_t *in, uint8_t *out, size_t n, int inverse) {
    size_t nelem = es ? n / es : 0;
    if (es <= 1 || nelem <= 1) {
        if (n) memcpy(out, in, n);
        return;
    }
    if (!inverse) {
        switch (es) {
        case 2: SHUFFLE_LOOP_(2) break;
        case 4: SHUFFLE_LOOP_(4) break;
        case 8: SHUFFLE_LOOP_(8) break;
        case 16: SHUFFLE_LOOP_(16) break;
        default:
            /* Plane by plane: sequential writes, strided reads. */
            for (size_t j = 0; j < es; j++) {
                uint8_t *dst = out + j * nelem;
                const uint8_t *src = in + j;
                for (size_t i = 0; i < nelem; i++) dst[i] = src[i * es];
            }
            break;
        }
    } else {
        switch (es) {
        case 2: UNSHUFFLE_LOOP_(2) break;
        case 4: UNSHUFFLE_LOOP_(4) break;
        case 8: UNSHUFFLE_LOOP_(8) break;
        case 16: UNSHUFFLE_LOOP_(16) break;
        default:
            for (size_t j = 0; j < es; j++) {
                const uint8_t *src = in + j * nelem;
                uint8_t *dst = out + j;
                for (size_t i = 0; i < nelem; i++) dst[i * es] = src[i];
            }
            break;
        }
    }
    size_t done = nelem * es;
    if (n > done) memcpy(out + done, in + done, n - done);
}

void lstar_shuffle_bytes(size_t es, const uint8_t *in, uint8_t *out, size_t n) { byte_planes(es, in, out, n, 0); }

void lstar_unshuffle_bytes(size_t es, const uint8_t *in, uint8_t *out, size_t n) { byte_planes(es, in, out, n, 1); }
#undef SHUFFLE_LOOP_
#undef UNSHUFFLE_LOOP_

/* Filters whose output size equals the input size. */
typedef void (*same_size_fn)(const lstar_codec *c, const uint8_t *in, uint8_t *out, size_t n);

static lstar_status same_size_alloc(const lstar_codec *c, same_size_fn fn, const uint8_t *in, size_t n,
                                    size_t max_size, uint8_t **out, size_t *out_size, const char *id,
                                    lstar_error *err) {
    if (n > max_size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: %zu decoded bytes exceed the %zu-byte limit", id, n,
                          max_size);
    uint8_t *buf = lstar_codec_alloc_out(n);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    fn(c, in, buf, n);
    *out = buf;
    *out_size = n;
    return LSTAR_OK;
}

static void shuffle_fn(const lstar_codec *c, const uint8_t *in, uint8_t *out, size_t n) {
    lstar_shuffle_bytes(c->elementsize, in, out, n);
}
static void unshuffle_fn(const lstar_codec *c, const uint8_t *in, uint8_t *out, size_t n) {
    lstar_unshuffle_bytes(c->elementsize, in, out, n);
}

lstar_status lstar_codec_shuffle_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                        size_t *out_size, lstar_error *err) {
    return same_size_alloc(c, shuffle_fn, in, n, (size_t)-1, out, out_size, "shuffle", err);
}
lstar_status lstar_codec_shuffle_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                             size_t out_size, lstar_error *err) {
    if (n != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "shuffle: %zu bytes, expected %zu", n, out_size);
    lstar_unshuffle_bytes(c->elementsize, in, out, n);
    return LSTAR_OK;
}
lstar_status lstar_codec_shuffle_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                              uint8_t **out, size_t *out_size, lstar_error *err) {
    return same_size_alloc(c, unshuffle_fn, in, n, max_size, out, out_size, "shuffle", err);
}

/* ---- delta ------------------------------------------------------------------------------------- */

/* IEEE half <-> float, bit-exact with numpy's npy_half_to_float / npy_float_to_half. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24, exact */
        memcpy(&bits, &f, 4);
        bits |= sign;
    } else if (e == 31) {
        bits = sign | 0x7f800000u | (m << 13);
    } else {
        bits = sign | ((e + 112u) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xff) {
        if (!m) return (uint16_t)(sign | 0x7c00u);
        uint32_t hm = m >> 13;
        return (uint16_t)(sign | 0x7c00u | (hm ? hm : 1u));
    }
    int exp = (int)e - 112; /* half exponent field */
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t hm = m >> shift, rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (hm & 1u))) hm++;
        return (uint16_t)(sign | hm);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (m >> 13);
    uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
    return (uint16_t)h;
}

/* Element-wise kernels over possibly unaligned little-endian buffers (x86/arm64 hosts are LE): the first
 * element is kept as is, then a[i] - a[i-1] in the element type (wrap-around for the unsigned integer
 * types, element precision for floats: numpy np.diff); decode is the running sum in the element type
 * (numpy cumsum). */
#define DELTA_(T)                                                                                              \
    static void delta_enc_##T(const uint8_t *in, uint8_t *out, size_t ne) {                                   \
        T prev = 0;                                                                                           \
        for (size_t i = 0; i < ne; i++) {                                                                     \
            T v, d;                                                                                           \
            memcpy(&v, in + i * sizeof(T), sizeof(T));                                                        \
            d = i ? (T)(v - prev) : v;                                                                        \
            memcpy(out + i * sizeof(T), &d, sizeof(T));                                                       \
            prev = v;                                                                                         \
        }                                                                                                     \
    }                                                                                                         \
    static void delta_dec_##T(const uint8_t *in, uint8_t *out, size_t ne) {                                   \
        T acc = 0;                                                                                            \
        for (size_t i = 0; i < ne; i++) {                                                                     \
            T d;                                                                                              \
            memcpy(&d, in + i * sizeof(T), sizeof(T));                                                        \
            acc = i ? (T)(acc + d) : d;                                                                       \
            memcpy(out + i * sizeof(T), &acc, sizeof(T));                                                     \
        }                                                                                                     \
    }
DELTA_(uint8_t)
DELTA_(uint16_t)
DELTA_(uint32_t)
DELTA_(uint64_t)
DELTA_(float)
DELTA_(double)
#undef DELTA_

static void delta_enc_half(const uint8_t *in, uint8_t *out, size_t ne) {
    uint16_t prev = 0;
    for (size_t i = 0; i < ne; i++) {
        uint16_t v, d;
        memcpy(&v, in + 2 * i, 2);
        d = i ? float_to_half(half_to_float(v) - half_to_float(prev)) : v;
        memcpy(out + 2 * i, &d, 2);
        prev = v;
    }
}
static void delta_dec_half(const uint8_t *in, uint8_t *out, size_t ne) {
    uint16_t acc = 0;
    for (size_t i = 0; i < ne; i++) {
        uint16_t d;
        memcpy(&d, in + 2 * i, 2);
        acc = i ? float_to_half(half_to_float(acc) + half_to_float(d)) : d;
        memcpy(out + 2 * i, &acc, 2);
    }
}

static void delta_run(const lstar_codec *c, int encode, const uint8_t *in, uint8_t *out, size_t ne) {
    switch (c->dtype) {
    case LSTAR_DTYPE_FLOAT16: (encode ? delta_enc_half : delta_dec_half)(in, out, ne); break;
    case LSTAR_DTYPE_FLOAT32: (encode ? delta_enc_float : delta_dec_float)(in, out, ne); break;
    case LSTAR_DTYPE_FLOAT64: (encode ? delta_enc_double : delta_dec_double)(in, out, ne); break;
    default:
        switch (c->dsize) {
        case 1: (encode ? delta_enc_uint8_t : delta_dec_uint8_t)(in, out, ne); break;
        case 2: (encode ? delta_enc_uint16_t : delta_dec_uint16_t)(in, out, ne); break;
        case 4: (encode ? delta_enc_uint32_t : delta_dec_uint32_t)(in, out, ne); break;
        default: (encode ? delta_enc_uint64_t : delta_dec_uint64_t)(in, out, ne); break;
        }
    }
}

/* Integers of different widths (numcodecs Delta(dtype, astype)): the differences are taken in `dtype`
 * (wrapping) and cast to `astype` like numpy (two's complement truncation, sign or zero extension by the
 * source type); decode casts each astype value to dtype and accumulates in dtype (numpy cumsum with out=). */
static uint64_t load_int(const uint8_t *p, size_t size, int is_signed) {
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++) v |= (uint64_t)p[k] << (8 * k);
    if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1u) v |= ~0ull << (8 * size);
    return v;
}
static void store_int(uint8_t *p, uint64_t v, size_t size) {
    for (size_t k = 0; k < size; k++) p[k] = (uint8_t)(v >> (8 * k));
}
static uint64_t trunc_ext(uint64_t v, size_t size, int is_signed) {
    uint8_t tmp[8];
    store_int(tmp, v, size);
    return load_int(tmp, size, is_signed);
}

static void delta_mixed(const lstar_codec *c, int encode, const uint8_t *in, uint8_t *out, size_t ne) {
    const int sd = lstar_dtype_is_signed(c->dtype), sa = lstar_dtype_is_signed(c->astype);
    uint64_t acc = 0;
    for (size_t i = 0; i < ne; i++) {
        if (encode) {
            uint64_t v = load_int(in + i * c->dsize, c->dsize, sd);
            store_int(out + i * c->asize, trunc_ext(v - acc, c->dsize, sd), c->asize);
            acc = v;
        } else {
            acc = trunc_ext(acc + load_int(in + i * c->asize, c->asize, sa), c->dsize, sd);
            store_int(out + i * c->dsize, acc, c->dsize);
        }
    }
}

/* Input element size, output element size of one direction. */
static void delta_sizes(const lstar_codec *c, int encode, size_t *isz, size_t *osz) {
    *isz = encode ? c->dsize : c->asize;
    *osz = encode ? c->asize : c->dsize;
}

static lstar_status delta_check(const lstar_codec *c, int encode, size_t n, size_t *out_n, lstar_error *err) {
    size_t isz, osz;
    delta_sizes(c, encode, &isz, &osz);
    if (n % isz)
        return LSTAR_FAIL(err, encode ? LSTAR_ERR_INVALID_ARG : LSTAR_ERR_CORRUPT, NULL,
                          "delta: %zu bytes is not a whole number of %zu-byte %s elements", n, isz,
                          lstar_dtype_name(encode ? c->dtype : c->astype));
    if (n / isz > ((size_t)-1) / osz)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "delta: %zu elements overflow the output size", n / isz);
    *out_n = n / isz * osz;
    return LSTAR_OK;
}

static void delta_apply(const lstar_codec *c, int encode, const uint8_t *in, uint8_t *out, size_t n) {
    size_t isz, osz;
    delta_sizes(c, encode, &isz, &osz);
    if (c->astype == c->dtype)
        delta_run(c, encode, in, out, n / isz);
    else
        delta_mixed(c, encode, in, out, n / isz);
}

static lstar_status delta_alloc(const lstar_codec *c, int encode, const uint8_t *in, size_t n, size_t max_size,
                                uint8_t **out, size_t *out_size, lstar_error *err) {
    size_t on = 0;
    lstar_status st = delta_check(c, encode, n, &on, err);
    if (st != LSTAR_OK) return st;
    if (on > max_size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "delta: %zu decoded bytes exceed the %zu-byte limit", on,
                          max_size);
    uint8_t *buf = lstar_codec_alloc_out(on);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    delta_apply(c, encode, in, buf, n);
    *out = buf;
    *out_size = on;
    return LSTAR_OK;
}

lstar_status lstar_codec_delta_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                      size_t *out_size, lstar_error *err) {
    return delta_alloc(c, 1, in, n, (size_t)-1, out, out_size, err);
}
lstar_status lstar_codec_delta_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                           size_t out_size, lstar_error *err) {
    size_t on = 0;
    lstar_status st = delta_check(c, 0, n, &on, err);
    if (st != LSTAR_OK) return st;
    if (on != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "delta: %zu bytes decode to %zu bytes, expected %zu", n, on,
                          out_size);
    delta_apply(c, 0, in, out, n);
    return LSTAR_OK;
}
lstar_status lstar_codec_delta_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                            uint8_t **out, size_t *out_size, lstar_error *err) {
    return delta_alloc(c, 0, in, n, max_size, out, out_size, err);
}

/* ---- crc32c ------------------------------------------------------------------------------------ */

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli */
static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
#ifdef LSTAR_HAVE_SSE42_CRC
static int crc32c_hw;
#endif

static void crc32c_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^ crc32c_table[0][crc32c_table[t - 1][i] & 0xffu];
#ifdef LSTAR_HAVE_SSE42_CRC
    __builtin_cpu_init();
    crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* Slicing-by-8 on the inverted register value. */
static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n) {
    while (n && ((uintptr_t)p & 7u)) {
        c = crc32c_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        lo ^= c;
        c = crc32c_table[7][lo & 0xffu] ^ crc32c_table[6][(lo >> 8) & 0xffu] ^ crc32c_table[5][(lo >> 16) & 0xffu] ^
            crc32c_table[4][lo >> 24] ^ crc32c_table[3][hi & 0xffu] ^ crc32c_table[2][(hi >> 8) & 0xffu] ^
            crc32c_table[1][(hi >> 16) & 0xffu] ^ crc32c_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = crc32c_table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
    return c;
}

#ifdef LSTAR_HAVE_SSE42_CRC
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw_run(uint32_t c, const uint8_t *p, size_t n) {
    uint64_t c64 = c;
    while (n && ((uintptr_t)p & 7u)) {
        c64 = _mm_crc32_u8((uint32_t)c64, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        n -= 8;
    }
    while (n--) c64 = _mm_crc32_u8((uint32_t)c64, *p++);
    return (uint32_t)c64;
}
#endif

uint32_t lstar_crc32c(uint32_t crc, const void *data, size_t n) {
    pthread_once(&crc32c_once, crc32c_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    if (!n) return crc;
#ifdef LSTAR_HAVE_SSE42_CRC
    if (crc32c_hw) return ~crc32c_hw_run(c, p, n);
#endif
    return ~crc32c_sw(c, p, n);
}

/* ---- fletcher32 -------------------------------------------------------------------------------- */

/* HDF5 H5_checksum_fletcher32: 16-bit big-endian words, a trailing odd byte as the high half of a word,
 * sums folded every 360 words. */
uint32_t lstar_fletcher32(const void *data, size_t n) {
    const uint8_t *p = data;
    size_t words = n / 2;
    uint32_t s1 = 0, s2 = 0;
    while (words) {
        size_t t = words > 360 ? 360 : words;
        words -= t;
        do {
            s1 += ((uint32_t)p[0] << 8) | p[1];
            s2 += s1;
            p += 2;
        } while (--t);
        s1 = (s1 & 0xffffu) + (s1 >> 16);
        s2 = (s2 & 0xffffu) + (s2 >> 16);
    }
    if (n & 1u) {
        s1 += (uint32_t)p[0] << 8;
        s2 += s1;
        s1 = (s1 & 0xffffu) + (s1 >> 16);
        s2 = (s2 & 0xffffu) + (s2 >> 16);
    }
    s1 = (s1 & 0xffffu) + (s1 >> 16);
    s2 = (s2 & 0xffffu) + (s2 >> 16);
    return (s2 << 16) | s1;
}

/* ---- trailing 4-byte little-endian checksums ---------------------------------------------------- */

static uint32_t checksum_of(const lstar_codec *c, const uint8_t *p, size_t n) {
    return c->kind == LSTAR_CODEC_CRC32C ? lstar_crc32c(0, p, n) : lstar_fletcher32(p, n);
}
static const char *checksum_id(const lstar_codec *c) { return c->kind == LSTAR_CODEC_CRC32C ? "crc32c" : "fletcher32"; }

static lstar_status checksum_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                    size_t *out_size, lstar_error *err) {
    uint8_t *buf = lstar_malloc(n + 4);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    if (n) memcpy(buf, in, n);
    uint32_t v = checksum_of(c, in, n);
    buf[n] = (uint8_t)v;
    buf[n + 1] = (uint8_t)(v >> 8);
    buf[n + 2] = (uint8_t)(v >> 16);
    buf[n + 3] = (uint8_t)(v >> 24);
    *out = buf;
    *out_size = n + 4;
    return LSTAR_OK;
}

static lstar_status checksum_verify(const lstar_codec *c, const uint8_t *in, size_t n, lstar_error *err) {
    if (n < 4)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: %zu bytes is shorter than the 4-byte checksum",
                          checksum_id(c), n);
    const uint8_t *t = in + n - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    uint32_t actual = checksum_of(c, in, n - 4);
    if (stored != actual)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: checksum mismatch (stored 0x%08x, computed 0x%08x)",
                          checksum_id(c), stored, actual);
    return LSTAR_OK;
}

static lstar_status checksum_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                         size_t out_size, lstar_error *err) {
    lstar_status st = checksum_verify(c, in, n, err);
    if (st != LSTAR_OK) return st;
    if (n - 4 != out_size)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "%s: %zu data bytes, expected %zu", checksum_id(c), n - 4,
                          out_size);
    if (out_size) memcpy(out, in, out_size);
    return LSTAR_OK;
}

static lstar_status checksum_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                          uint8_t **out, size_t *out_size, lstar_error *err) {
    lstar_status st = checksum_verify(c, in, n, err);
    if (st != LSTAR_OK) return st;
    if (n - 4 > max_size)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: %zu data bytes exceed the %zu-byte limit", checksum_id(c),
                          n - 4, max_size);
    uint8_t *buf = lstar_codec_alloc_out(n - 4);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    if (n > 4) memcpy(buf, in, n - 4);
    *out = buf;
    *out_size = n - 4;
    return LSTAR_OK;
}

lstar_status lstar_codec_crc32c_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                       size_t *out_size, lstar_error *err) {
    return checksum_encode(c, in, n, out, out_size, err);
}
lstar_status lstar_codec_crc32c_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                            size_t out_size, lstar_error *err) {
    return checksum_decode_into(c, in, n, out, out_size, err);
}
lstar_status lstar_codec_crc32c_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n, size_t max_size,
                                             uint8_t **out, size_t *out_size, lstar_error *err) {
    return checksum_decode_alloc(c, in, n, max_size, out, out_size, err);
}
lstar_status lstar_codec_fletcher32_encode(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                                           size_t *out_size, lstar_error *err) {
    return checksum_encode(c, in, n, out, out_size, err);
}
lstar_status lstar_codec_fletcher32_decode_into(const lstar_codec *c, const uint8_t *in, size_t n, uint8_t *out,
                                                size_t out_size, lstar_error *err) {
    return checksum_decode_into(c, in, n, out, out_size, err);
}
lstar_status lstar_codec_fletcher32_decode_alloc(const lstar_codec *c, const uint8_t *in, size_t n,
                                                 size_t max_size, uint8_t **out, size_t *out_size,
                                                 lstar_error *err) {
    return checksum_decode_alloc(c, in, n, max_size, out, out_size, err);
}
