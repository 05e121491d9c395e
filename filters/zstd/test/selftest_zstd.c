/* selftest_zstd.c — in-process self-test of the zstd filter (32015): compiled with h5z_zstd.c, the class
 * is registered with H5Zregister and driven through HDF5 on an in-memory file, and its filter
 * function is also called directly with hostile input.  Runs in the sanitizer build too. */
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "h5z_selftest.h"
#include "lstar_h5z_zstd.h"

static const H5Z_class2_t *cls(void) { return H5PLget_plugin_info(); }

/* Call the filter function on a copy of `data` in an HDF5-allocated buffer; returns its result, and
 * the output in *out (H5free_memory it) when it is not 0. */
static size_t call_filter(unsigned flags, size_t n_cd, const unsigned *cd, const void *data, size_t n, void **out) {
    size_t buf_size = n ? n : 1;
    void *buf = H5allocate_memory(buf_size, 0);
    memcpy(buf, data, n);
    size_t r = cls()->filter(flags, n_cd, cd, n, &buf_size, &buf);
    *out = buf;
    return r;
}

/* A valid zstd frame of raw-RLE blocks that decodes to `total` zero bytes (a multiple of 128 KiB). */
static uint8_t *rle_bomb(uint64_t total, size_t *len) {
    size_t nblocks = (size_t)(total >> 17);
    uint8_t *f = malloc(14 + 4 * nblocks);
    size_t p = 0;
    const uint8_t head[6] = {0x28, 0xb5, 0x2f, 0xfd, 0xC0, 0x38}; /* magic, FCS 8 bytes, window 128 KiB */
    memcpy(f, head, 6);
    p = 6;
    for (int i = 0; i < 8; i++) f[p++] = (uint8_t)(total >> (8 * i));
    for (size_t b = 0; b < nblocks; b++) {
        uint32_t h = (b + 1 == nblocks ? 1u : 0u) | (1u << 1) | ((uint32_t)1 << 17 << 3);
        f[p++] = (uint8_t)h;
        f[p++] = (uint8_t)(h >> 8);
        f[p++] = (uint8_t)(h >> 16);
        f[p++] = 0;
    }
    *len = p;
    return f;
}

static void test_roundtrip(hid_t file) {
    enum { N = 1001 };
    int32_t a[N], b[N];
    for (int i = 0; i < N; i++) a[i] = i * 37 - 5000;
    hsize_t dims[1] = {N}, chunks[1] = {64};
    st_filter z = {LSTAR_H5Z_ZSTD_ID, 1, {5}};
    hid_t d = st_create(file, "i32", H5T_STD_I32LE, 1, dims, chunks, &z, 1);
    ST_CHECK(d >= 0, "create i32");
    unsigned cd[8];
    int n = st_cd_values(d, LSTAR_H5Z_ZSTD_ID, cd, 8);
    ST_CHECK(n == 4 && cd[0] == 5 && cd[1] == LSTAR_H5Z_ZSTD_MARKER && cd[2] == 256 && cd[3] == 0,
             "cd_values after set_local: n=%d [%u %u %u %u]", n, cd[0], cd[1], cd[2], cd[3]);
    ST_CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0, "write i32");
    ST_CHECK(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0, "read i32");
    ST_CHECK(memcmp(a, b, sizeof a) == 0, "i32 values differ");
    /* the stored chunk is one frame recording the chunk size; the edge chunk is padded with 0 */
    uint8_t raw[4096];
    hsize_t off[1] = {960};
    uint32_t mask = 1;
    hsize_t stored = 0;
    H5Dget_chunk_storage_size(d, off, &stored);
    ST_CHECK(stored > 0 && stored <= sizeof raw && H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw) >= 0,
             "read edge chunk");
    ST_CHECK(mask == 0, "edge chunk filter mask %u", mask);
    ST_CHECK(ZSTD_getFrameContentSize(raw, (size_t)stored) == 256, "edge chunk content size");
    int32_t plain[64];
    ST_CHECK(ZSTD_decompress(plain, sizeof plain, raw, (size_t)stored) == sizeof plain, "edge chunk decompress");
    ST_CHECK(memcmp(plain, a + 960, 41 * 4) == 0 && plain[41] == 0 && plain[63] == 0, "edge chunk content");
    H5Dclose(d);

    /* 2-D doubles with a negative (fast) level, and 1-element chunks of bytes */
    double x[37][23], y[37][23];
    for (int i = 0; i < 37; i++)
        for (int j = 0; j < 23; j++) x[i][j] = (i - 18) * 1e10 / (j + 1);
    hsize_t dims2[2] = {37, 23}, chunks2[2] = {8, 5};
    st_filter zf = {LSTAR_H5Z_ZSTD_ID, 1, {(unsigned)-5}};
    d = st_create(file, "f64", H5T_IEEE_F64LE, 2, dims2, chunks2, &zf, 1);
    ST_CHECK(d >= 0 && H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 &&
                 H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0 && memcmp(x, y, sizeof x) == 0,
             "2-D f64 round trip at level -5");
    H5Dclose(d);
    uint8_t u[7] = {0, 1, 255, 7, 9, 128, 3}, v[7] = {0};
    hsize_t dims3[1] = {7}, chunks3[1] = {1};
    st_filter z0 = {LSTAR_H5Z_ZSTD_ID, 0, {0}};
    d = st_create(file, "u8", H5T_STD_U8LE, 1, dims3, chunks3, &z0, 1);
    n = st_cd_values(d, LSTAR_H5Z_ZSTD_ID, cd, 8);
    ST_CHECK(n == 4 && cd[0] == 3 && cd[2] == 1, "default level 3, chunk 1 byte: n=%d [%u .. %u]", n, cd[0], cd[2]);
    ST_CHECK(H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, u) >= 0 &&
                 H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 && memcmp(u, v, 7) == 0,
             "1-element chunks round trip");
    H5Dclose(d);
}

static void test_level_rejected(hid_t file) {
    hsize_t dims[1] = {10}, chunks[1] = {5};
    st_filter z = {LSTAR_H5Z_ZSTD_ID, 1, {23}};
    st_stack_text t;
    H5E_BEGIN_TRY { ST_CHECK(st_create(file, "bad_level", H5T_STD_I32LE, 1, dims, chunks, &z, 1) < 0, "level 23"); }
    H5E_END_TRY;
    st_take_stack(&t);
    ST_CHECK(strstr(t.text, "lstar zstd filter (32015): compression level 23 is outside") != NULL,
             "level 23 message: %s", t.text);
}

static void test_corrupt_chunks(hid_t file) {
    enum { N = 1000 };
    int32_t a[N], b[N];
    for (int i = 0; i < N; i++) a[i] = i;
    hsize_t dims[1] = {N}, chunks[1] = {250};
    st_filter z = {LSTAR_H5Z_ZSTD_ID, 1, {3}};
    hid_t d = st_create(file, "corrupt", H5T_STD_I32LE, 1, dims, chunks, &z, 1);
    ST_CHECK(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0, "write");
    uint8_t good[2048];
    hsize_t off[1] = {0}, stored = 0;
    uint32_t mask = 0;
    H5Dget_chunk_storage_size(d, off, &stored);
    H5Dread_chunk(d, H5P_DEFAULT, off, &mask, good);
    uint8_t other[2048];
    size_t other_n = ZSTD_compress(other, sizeof other, a, 300 * 4, 3); /* a frame of 1200 bytes */
    uint8_t bad_magic[2048];
    memcpy(bad_magic, good, (size_t)stored);
    bad_magic[0] ^= 0xFF;
    struct {
        const char *name;
        const void *bytes;
        size_t n;
        const char *words;
    } cases[] = {
        {"truncated", good, (size_t)stored / 2, "cannot decompress"},
        {"bad magic", bad_magic, (size_t)stored, "cannot decompress"},
        {"other size", other, other_n, "expected 1000 decoded bytes"},
        {"one byte", good, 1, "cannot decompress"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        st_stack_text t;
        ST_CHECK(H5Dwrite_chunk(d, H5P_DEFAULT, 0, off, cases[i].n, cases[i].bytes) >= 0, "write_chunk %s",
                 cases[i].name);
        H5Fflush(file, H5F_SCOPE_LOCAL);
        /* evict the cached chunk: reopen the dataset */
        H5Dclose(d);
        d = H5Dopen2(file, "corrupt", H5P_DEFAULT);
        herr_t r;
        H5E_BEGIN_TRY { r = H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, b); }
        H5E_END_TRY;
        st_take_stack(&t);
        ST_CHECK(r < 0, "%s chunk: read did not fail", cases[i].name);
        ST_CHECK(strstr(t.text, "lstar zstd filter (32015)") && strstr(t.text, cases[i].words),
                 "%s chunk: error stack lacks '%s': %s", cases[i].name, cases[i].words, t.text);
    }
    H5Dclose(d);
}

static void test_direct_calls(void) {
    void *out = NULL;
    /* encode, then decode with our cd layout and with the foreign [level] layout */
    uint8_t data[5000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * i % 251);
    unsigned cd1[1] = {7};
    size_t enc_n = call_filter(0, 1, cd1, data, sizeof data, &out);
    ST_CHECK(enc_n > 0 && ZSTD_getFrameContentSize(out, enc_n) == sizeof data, "direct encode");
    uint8_t *enc = malloc(enc_n);
    memcpy(enc, out, enc_n);
    H5free_memory(out);
    unsigned ours[4] = {7, LSTAR_H5Z_ZSTD_MARKER, sizeof data, 0};
    size_t r = call_filter(H5Z_FLAG_REVERSE, 4, ours, enc, enc_n, &out);
    ST_CHECK(r == sizeof data && memcmp(out, data, sizeof data) == 0, "decode, our layout");
    H5free_memory(out);
    r = call_filter(H5Z_FLAG_REVERSE, 1, cd1, enc, enc_n, &out);
    ST_CHECK(r == sizeof data && memcmp(out, data, sizeof data) == 0, "decode, foreign layout");
    H5free_memory(out);
    unsigned wrong[4] = {7, LSTAR_H5Z_ZSTD_MARKER, sizeof data + 1, 0};
    H5E_BEGIN_TRY { r = call_filter(H5Z_FLAG_REVERSE, 4, wrong, enc, enc_n, &out); }
    H5E_END_TRY;
    H5free_memory(out);
    ST_CHECK(r == 0, "decode with a different recorded size must fail");
    unsigned huge[4] = {7, LSTAR_H5Z_ZSTD_MARKER, 0, 1}; /* 4 GiB recorded: corrupt parameters */
    st_stack_text t;
    H5E_BEGIN_TRY { r = call_filter(H5Z_FLAG_REVERSE, 4, huge, enc, enc_n, &out); }
    H5E_END_TRY;
    H5free_memory(out);
    st_take_stack(&t);
    ST_CHECK(r == 0 && strstr(t.text, "corrupt filter parameters"), "4 GiB recorded size: %s", t.text);
    /* a frame without a content size decodes in the foreign layout (streaming, bounded) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    uint8_t nosize[8192];
    size_t nosize_n = ZSTD_compress2(cc, nosize, sizeof nosize, data, sizeof data);
    ZSTD_freeCCtx(cc);
    ST_CHECK(!ZSTD_isError(nosize_n) && ZSTD_getFrameContentSize(nosize, nosize_n) == ZSTD_CONTENTSIZE_UNKNOWN,
             "made a frame without content size");
    r = call_filter(H5Z_FLAG_REVERSE, 1, cd1, nosize, nosize_n, &out);
    ST_CHECK(r == sizeof data && memcmp(out, data, sizeof data) == 0, "decode a frame without content size");
    H5free_memory(out);
    /* bombs: valid frames decoding to 3 GiB and 5 GiB are refused before allocating */
    for (uint64_t gib = 3; gib <= 5; gib += 2) {
        size_t bomb_n = 0;
        uint8_t *bomb = rle_bomb(gib << 30, &bomb_n);
        H5E_BEGIN_TRY { r = call_filter(H5Z_FLAG_REVERSE, 1, cd1, bomb, bomb_n, &out); }
        H5E_END_TRY;
        H5free_memory(out);
        st_take_stack(&t);
        ST_CHECK(r == 0 && strstr(t.text, "above the"), "%llu GiB bomb: r=%zu %s", (unsigned long long)gib, r, t.text);
        H5E_BEGIN_TRY { r = call_filter(H5Z_FLAG_REVERSE, 4, ours, bomb, bomb_n, &out); }
        H5E_END_TRY;
        H5free_memory(out);
        ST_CHECK(r == 0, "%llu GiB bomb in our layout", (unsigned long long)gib);
        free(bomb);
    }
    /* an empty frame, garbage, and nothing */
    uint8_t empty[32];
    size_t empty_n = ZSTD_compress(empty, sizeof empty, "", 0, 3);
    const uint8_t garbage[7] = {1, 2, 3, 4, 5, 6, 7};
    H5E_BEGIN_TRY {
        r = call_filter(H5Z_FLAG_REVERSE, 1, cd1, empty, empty_n, &out);
        H5free_memory(out);
        ST_CHECK(r == 0, "empty frame");
        r = call_filter(H5Z_FLAG_REVERSE, 1, cd1, garbage, sizeof garbage, &out);
        H5free_memory(out);
        ST_CHECK(r == 0, "garbage");
        r = call_filter(H5Z_FLAG_REVERSE, 0, NULL, garbage, 0, &out);
        H5free_memory(out);
        ST_CHECK(r == 0, "zero bytes");
    }
    H5E_END_TRY;
    free(enc);
}

int main(void) {
    ST_CHECK(H5Zregister(cls()) >= 0, "H5Zregister");
    ST_CHECK(H5PLget_plugin_type() == H5PL_TYPE_FILTER, "plugin type");
    hid_t file = st_memory_file("selftest_zstd.h5");
    test_roundtrip(file);
    test_level_rejected(file);
    test_corrupt_chunks(file);
    test_direct_calls();
    H5Fclose(file);
    return st_finish("selftest_zstd");
}
