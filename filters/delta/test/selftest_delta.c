/* selftest_delta.c — in-process self-test of the delta filter (56855): compiled with h5z_delta.c, the
 * class is registered with H5Zregister and driven through HDF5 on an in-memory file, and its filter
 * function is also called directly with bad parameters.  Runs in the sanitizer build too. */
#include <stdint.h>
#include <stdlib.h>

#include "h5z_selftest.h"
#include "lstar_h5z_delta.h"

static const H5Z_class2_t *cls(void) { return H5PLget_plugin_info(); }

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64 */
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static uint64_t get_le(const uint8_t *p, size_t size) {
    uint64_t v = 0;
    for (size_t k = 0; k < size; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* Independent reference: numcodecs Delta on little-endian elements (wrapping). */
static void reference_delta(const uint8_t *in, uint8_t *out, size_t n, size_t size) {
    uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = get_le(in + i * size, size);
        uint64_t d = i == 0 ? v : ((v - prev) & mask);
        for (size_t k = 0; k < size; k++) out[i * size + k] = (uint8_t)(d >> (8 * k));
        prev = v;
    }
}

static void test_types(hid_t file) {
    static const struct {
        const char *name;
        size_t size;
        int is_signed;
    } types[] = {
        {"i8", 1, 1}, {"i16", 2, 1}, {"i32", 4, 1}, {"i64", 8, 1},
        {"u8", 1, 0}, {"u16", 2, 0}, {"u32", 4, 0}, {"u64", 8, 0},
    };
    hid_t htypes[8] = {H5T_STD_I8LE, H5T_STD_I16LE, H5T_STD_I32LE, H5T_STD_I64LE,
                       H5T_STD_U8LE, H5T_STD_U16LE, H5T_STD_U32LE, H5T_STD_U64LE};
    enum { N = 1001, C = 64 };
    for (int t = 0; t < 8; t++) {
        size_t sz = types[t].size;
        uint8_t *a = malloc(N * sz), *b = malloc(N * sz), *want = malloc(C * sz), *raw = malloc(C * sz);
        for (size_t i = 0; i < N * sz; i++) a[i] = (uint8_t)rnd(); /* full range: differences wrap */
        hsize_t dims[1] = {N}, chunks[1] = {C};
        st_filter f = {LSTAR_H5Z_DELTA_ID, 0, {0}};
        hid_t d = st_create(file, types[t].name, htypes[t], 1, dims, chunks, &f, 1);
        ST_CHECK(d >= 0, "%s: create", types[t].name);
        unsigned cd[8];
        int n = st_cd_values(d, LSTAR_H5Z_DELTA_ID, cd, 8);
        ST_CHECK(n == 4 && cd[0] == sz && cd[1] == (unsigned)types[t].is_signed && cd[2] == C * sz && cd[3] == 0,
                 "%s: cd_values n=%d [%u %u %u %u]", types[t].name, n, cd[0], cd[1], cd[2], cd[3]);
        ST_CHECK(H5Dwrite(d, htypes[t], H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0, "%s: write", types[t].name);
        ST_CHECK(H5Dread(d, htypes[t], H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0 && memcmp(a, b, N * sz) == 0,
                 "%s: round trip", types[t].name);
        /* every stored chunk equals the reference coding (edge chunk padded with 0) */
        for (hsize_t o = 0; o < N; o += C) {
            uint8_t padded[C * 8] = {0};
            size_t len = (o + C <= N ? C : N - o) * sz;
            memcpy(padded, a + o * sz, len);
            reference_delta(padded, want, C, sz);
            hsize_t off[1] = {o};
            uint32_t mask = 1;
            ST_CHECK(H5Dread_chunk(d, H5P_DEFAULT, off, &mask, raw) >= 0 && mask == 0 &&
                         memcmp(raw, want, C * sz) == 0,
                     "%s: chunk at %llu differs from numcodecs Delta", types[t].name, (unsigned long long)o);
        }
        H5Dclose(d);
        free(a);
        free(b);
        free(want);
        free(raw);
    }
}

static void expect_create_fails(hid_t file, const char *name, hid_t type, const st_filter *f, int nf,
                                const char *words) {
    hsize_t dims[1] = {10}, chunks[1] = {5};
    st_stack_text t;
    hid_t d;
    H5E_BEGIN_TRY { d = st_create(file, name, type, 1, dims, chunks, f, nf); }
    H5E_END_TRY;
    st_take_stack(&t);
    ST_CHECK(d < 0, "%s: creation did not fail", name);
    ST_CHECK(strstr(t.text, "lstar delta filter (56855)") && strstr(t.text, words), "%s: stack lacks '%s': %s",
             name, words, t.text);
    if (d >= 0) H5Dclose(d);
}

static void test_rejections(hid_t file) {
    st_filter f = {LSTAR_H5Z_DELTA_ID, 0, {0}};
    expect_create_fails(file, "f32", H5T_IEEE_F32LE, &f, 1, "only integer datasets can be delta-coded");
    expect_create_fails(file, "f64", H5T_IEEE_F64LE, &f, 1, "floating-point");
    expect_create_fails(file, "be", H5T_STD_I32BE, &f, 1, "only little-endian integers");
    hid_t s5 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s5, 5);
    expect_create_fails(file, "str", s5, &f, 1, "datatype is string");
    H5Tclose(s5);
    hid_t odd = H5Tcopy(H5T_STD_I32LE);
    H5Tset_precision(odd, 20);
    expect_create_fails(file, "prec", odd, &f, 1, "padding bits");
    H5Tclose(odd);
    st_filter so_then_delta[2] = {{H5Z_FILTER_SCALEOFFSET, 2, {H5Z_SO_INT, 0}}, {LSTAR_H5Z_DELTA_ID, 0, {0}}};
    expect_create_fails(file, "so", H5T_STD_I32LE, so_then_delta, 2, "(filter 6 comes first)");
    /* shuffle first keeps the byte count: accepted */
    st_filter shuf_then_delta[2] = {{H5Z_FILTER_SHUFFLE, 0, {0}}, {LSTAR_H5Z_DELTA_ID, 0, {0}}};
    hsize_t dims[1] = {10}, chunks[1] = {5};
    hid_t d = st_create(file, "shuf_delta", H5T_STD_I16LE, 1, dims, chunks, shuf_then_delta, 2);
    ST_CHECK(d >= 0, "shuffle + delta accepted");
    if (d >= 0) H5Dclose(d);
}

static void test_direct_calls(void) {
    uint8_t data[40];
    for (int i = 0; i < 40; i++) data[i] = (uint8_t)(i * 7);
    struct {
        const char *name;
        size_t n_cd;
        unsigned cd[4];
        size_t nbytes;
        const char *words;
    } cases[] = {
        {"no cd_values", 0, {0}, 40, "missing the element size"},
        {"element size 3", 2, {3, 1}, 39, "not an element size"},
        {"partial element", 2, {8, 1}, 36, "not a whole number of 8-byte elements"},
        {"short chunk", 4, {4, 1, 80, 0}, 40, "the chunk has 40 bytes, the dataset's chunks have 80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned flags = 0; flags <= H5Z_FLAG_REVERSE; flags += H5Z_FLAG_REVERSE) {
            size_t buf_size = sizeof data;
            void *buf = H5allocate_memory(buf_size, 0);
            memcpy(buf, data, sizeof data);
            size_t r;
            st_stack_text t;
            H5E_BEGIN_TRY { r = cls()->filter(flags, cases[i].n_cd, cases[i].cd, cases[i].nbytes, &buf_size, &buf); }
            H5E_END_TRY;
            st_take_stack(&t);
            ST_CHECK(r == 0 && strstr(t.text, cases[i].words), "%s (%s): r=%zu %s", cases[i].name,
                     flags ? "decode" : "encode", r, t.text);
            ST_CHECK(memcmp(buf, data, sizeof data) == 0, "%s: buffer changed on failure", cases[i].name);
            H5free_memory(buf);
        }
    }
    /* the old two-value layout (no recorded size) still works */
    unsigned cd2[2] = {2, 0};
    size_t buf_size = sizeof data;
    void *buf = H5allocate_memory(buf_size, 0);
    memcpy(buf, data, sizeof data);
    size_t r1 = cls()->filter(0, 2, cd2, sizeof data, &buf_size, &buf);
    size_t r2 = cls()->filter(H5Z_FLAG_REVERSE, 2, cd2, sizeof data, &buf_size, &buf);
    ST_CHECK(r1 == sizeof data && r2 == sizeof data && memcmp(buf, data, sizeof data) == 0, "2-value cd round trip");
    H5free_memory(buf);
}

int main(void) {
    ST_CHECK(H5Zregister(cls()) >= 0, "H5Zregister");
    ST_CHECK(H5PLget_plugin_type() == H5PL_TYPE_FILTER, "plugin type");
    hid_t file = st_memory_file("selftest_delta.h5");
    test_types(file);
    test_rejections(file);
    test_direct_calls();
    H5Fclose(file);
    return st_finish("selftest_delta");
}
