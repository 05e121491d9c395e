/* h5z_threads_selftest.c — concurrency self-test of one lstar filter plugin (compiled with that
 * plugin's sources, like the plugin's own self-test; see lstar_add_h5z_thread_selftest).
 *
 * The plugins keep state across calls: a cache of lstar codecs keyed by the filter parameters
 * (filters/common/lstar_h5z.c) and, for zstd, a pool of decompression contexts
 * (lstar-core/src/codec/codec_fast.c).  This test calls the filter function from many threads at once,
 * each thread cycling through different cd_values (zstd: levels, our layout with the recorded size and
 * the foreign [level] layout; delta: every element size and signedness), encoding and decoding chunks
 * of varied sizes, checking every result against an independent reference (libzstd / a plain delta
 * loop), and mixing in hostile input (truncated and resized frames, wrong sizes) that must fail with a
 * record on the calling thread's error stack.  Meanwhile every thread also writes and reads a dataset
 * of its own through HDF5 (the class is registered in-process), so that HDF5's own calls into the
 * filter interleave with the direct ones.  Debian's HDF5 is built thread-safe (H5_HAVE_THREADSAFE):
 * its API calls serialize on a global lock, the filter code itself runs concurrently.
 *
 * At the end the codec cache must hold exactly one entry per distinct configuration: concurrent first
 * uses of a configuration build it once.  Runs in the sanitizer build too (ASan; TSan-clean design).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "h5z_selftest.h"
#include "lstar_h5z.h"
#include "lstar_h5z_delta.h"
#include "lstar_h5z_zstd.h"

#if !defined(H5_HAVE_THREADSAFE)
#error "this test needs a thread-safe HDF5 build"
#endif

enum { NTHREADS = 8, ITERS = 120, MAX_CHUNK = 64 * 1024 };

static const int zstd_levels[] = {-5, 1, 3, 7, 13};
#define N_LEVELS ((int)(sizeof zstd_levels / sizeof zstd_levels[0]))

static const H5Z_class2_t *cls(void) { return H5PLget_plugin_info(); }
static int is_zstd(void) { return cls()->id == LSTAR_H5Z_ZSTD_ID; }

/* Failures are counted atomically: ST_CHECK's counters are not thread-safe. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static int thread_failures = 0;
static long thread_checks = 0;
#define T_CHECK(cond, ...)                                                                                     \
    do {                                                                                                       \
        int ok_ = (cond) ? 1 : 0;                                                                              \
        pthread_mutex_lock(&fail_lock);                                                                        \
        thread_checks++;                                                                                       \
        if (!ok_) {                                                                                            \
            thread_failures++;                                                                                 \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                        \
            printf(__VA_ARGS__);                                                                               \
            printf("\n");                                                                                      \
        }                                                                                                      \
        pthread_mutex_unlock(&fail_lock);                                                                      \
    } while (0)

static uint64_t rnd(uint64_t *s) { /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Sorted-ish integers (what delta is for) or compressible bytes (zstd), n bytes. */
static void make_data(uint8_t *p, size_t n, uint64_t *s) {
    uint64_t acc = rnd(s) & 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0) acc += rnd(s) % 5;
        p[i] = (uint8_t)(i % 8 < 4 ? acc >> (8 * (i % 4)) : rnd(s) % 3);
    }
}

/* The filter function, called like HDF5 does: the input in an H5allocate_memory buffer that the
 * filter may replace.  Returns the output size (0 = failure); *out gets the buffer (free it). */
static size_t call_filter(unsigned flags, size_t nelmts, const unsigned *cd, const void *in, size_t n, void **out) {
    size_t buf_size = n ? n : 1;
    void *buf = H5allocate_memory(buf_size, 0);
    if (n) memcpy(buf, in, n);
    size_t r = cls()->filter(flags, nelmts, cd, n, &buf_size, &buf);
    *out = buf;
    return r;
}

/* 1 when the calling thread's error stack mentions the filter (and clears it). */
static int stack_mentions_filter(void) {
    st_stack_text t;
    st_take_stack(&t);
    return strstr(t.text, is_zstd() ? "lstar zstd filter (32015)" : "lstar delta filter (56855)") != NULL;
}

static void reference_delta(const uint8_t *in, uint8_t *out, size_t n, size_t size) {
    uint64_t mask = size == 8 ? ~0ull : ((1ull << (8 * size)) - 1), prev = 0;
    for (size_t i = 0; i < n / size; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < size; k++) v |= (uint64_t)in[i * size + k] << (8 * k);
        uint64_t d = i == 0 ? v : ((v - prev) & mask);
        for (size_t k = 0; k < size; k++) out[i * size + k] = (uint8_t)(d >> (8 * k));
        prev = v;
    }
}

static void zstd_round(int t, int it, uint64_t *s, uint8_t *data, uint8_t *ref) {
    int level = zstd_levels[(t + it) % N_LEVELS];
    size_t n = 1 + (size_t)(rnd(s) % MAX_CHUNK);
    make_data(data, n, s);
    unsigned cd1[1] = {(unsigned)level};
    unsigned ours[4] = {(unsigned)level, LSTAR_H5Z_ZSTD_MARKER, (unsigned)n, 0};
    void *enc = NULL, *dec = NULL;
    size_t en = call_filter(0, (it & 1) ? 4 : 1, (it & 1) ? ours : cd1, data, n, &enc);
    T_CHECK(en > 0, "thread %d: zstd-%d encode of %zu bytes failed", t, level, n);
    if (!en) {
        H5free_memory(enc);
        return;
    }
    /* independent check of the frame */
    size_t rn = ZSTD_decompress(ref, MAX_CHUNK, enc, en);
    T_CHECK(!ZSTD_isError(rn) && rn == n && memcmp(ref, data, n) == 0, "thread %d: libzstd disagrees (level %d)",
            t, level);
    /* decode in both layouts */
    for (int layout = 0; layout < 2; layout++) {
        size_t dn = call_filter(H5Z_FLAG_REVERSE, layout ? 4 : 1, layout ? ours : cd1, enc, en, &dec);
        T_CHECK(dn == n && memcmp(dec, data, n) == 0, "thread %d: zstd-%d decode (layout %d) of %zu bytes: got %zu",
                t, level, layout, n, dn);
        H5free_memory(dec);
    }
    /* hostile: truncated frame, and a recorded size that disagrees with the frame */
    size_t r = call_filter(H5Z_FLAG_REVERSE, 4, ours, enc, en / 2, &dec);
    H5free_memory(dec);
    T_CHECK(r == 0 && stack_mentions_filter(), "thread %d: truncated frame: r=%zu", t, r);
    unsigned wrong[4] = {(unsigned)level, LSTAR_H5Z_ZSTD_MARKER, (unsigned)n + 1, 0};
    r = call_filter(H5Z_FLAG_REVERSE, 4, wrong, enc, en, &dec);
    H5free_memory(dec);
    T_CHECK(r == 0 && stack_mentions_filter(), "thread %d: wrong recorded size: r=%zu", t, r);
    H5free_memory(enc);
}

static void delta_round(int t, int it, uint64_t *s, uint8_t *data, uint8_t *ref) {
    static const unsigned sizes[4] = {1, 2, 4, 8};
    unsigned es = sizes[(t + it) % 4];
    unsigned sign = (unsigned)((t + it / 4) & 1);
    size_t n = es * (1 + (size_t)(rnd(s) % (MAX_CHUNK / es)));
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)rnd(s); /* full range: differences wrap */
    unsigned cd[4] = {es, sign, (unsigned)n, 0};
    void *enc = NULL, *dec = NULL;
    size_t en = call_filter(0, 4, cd, data, n, &enc);
    reference_delta(data, ref, n, es);
    T_CHECK(en == n && memcmp(enc, ref, n) == 0, "thread %d: delta encode (%u bytes, signed %u) of %zu bytes", t, es,
            sign, n);
    size_t dn = call_filter(H5Z_FLAG_REVERSE, 4, cd, enc, en, &dec);
    T_CHECK(dn == n && memcmp(dec, data, n) == 0, "thread %d: delta decode (%u bytes) of %zu bytes", t, es, n);
    H5free_memory(dec);
    /* hostile: a chunk of another size than recorded, and a bad element size */
    size_t r = call_filter(H5Z_FLAG_REVERSE, 4, cd, enc, en > 1 ? en - 1 : 0, &dec);
    H5free_memory(dec);
    T_CHECK(r == 0 && stack_mentions_filter(), "thread %d: delta wrong size: r=%zu", t, r);
    unsigned bad[4] = {3, 0, (unsigned)n, 0};
    r = call_filter(H5Z_FLAG_REVERSE, 4, bad, enc, en, &dec);
    H5free_memory(dec);
    T_CHECK(r == 0 && stack_mentions_filter(), "thread %d: delta element size 3: r=%zu", t, r);
    H5free_memory(enc);
}

/* A dataset of this thread's own in-memory file, written and read through HDF5's pipeline. */
static void hdf5_round(int t, int it, uint64_t *s) {
    char name[64];
    snprintf(name, sizeof name, "threads-%d-%d.h5", t, it);
    hid_t file = st_memory_file(name);
    enum { N = 5000, C = 512 };
    int64_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    int64_t acc = 0;
    for (int i = 0; i < N; i++) a[i] = acc += (int64_t)(rnd(s) % 100);
    hsize_t dims[1] = {N}, chunks[1] = {C};
    st_filter f = {cls()->id, 0, {0}};
    if (is_zstd()) {
        f.n = 1;
        f.cd[0] = (unsigned)zstd_levels[(t + it) % N_LEVELS];
    }
    hid_t d = st_create(file, "x", H5T_STD_I64LE, 1, dims, chunks, &f, 1);
    T_CHECK(d >= 0, "thread %d: create", t);
    if (d >= 0) {
        unsigned cd[8];
        int ncd = st_cd_values(d, cls()->id, cd, 8);
        T_CHECK(ncd == 4 && cd[2] == C * sizeof(int64_t) && cd[3] == 0, "thread %d: cd_values after set_local", t);
        T_CHECK(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, a) >= 0, "thread %d: write", t);
        H5Dclose(d);
        H5Fflush(file, H5F_SCOPE_LOCAL);
        d = H5Dopen2(file, "x", H5P_DEFAULT); /* no cached chunks: the reads decode */
        memset(b, 0, N * sizeof *b);
        T_CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) >= 0 &&
                    memcmp(a, b, N * sizeof *a) == 0,
                "thread %d: HDF5 read back differs", t);
        if (d >= 0) H5Dclose(d);
    }
    H5Fclose(file);
    free(a);
    free(b);
}

static pthread_barrier_t start_line;

static void *worker(void *arg) {
    int t = (int)(intptr_t)arg;
    uint64_t s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(t + 1) * 0xD1B54A32D192ED03ull);
    uint8_t *data = malloc(MAX_CHUNK), *ref = malloc(MAX_CHUNK);
    pthread_barrier_wait(&start_line); /* all threads hit the empty cache together */
    for (int it = 0; it < ITERS; it++) {
        if (is_zstd())
            zstd_round(t, it, &s, data, ref);
        else
            delta_round(t, it, &s, data, ref);
        if (it % 20 == 0) hdf5_round(t, it, &s);
    }
    free(data);
    free(ref);
    return NULL;
}

int main(void) {
    ST_CHECK(H5Zregister(cls()) >= 0, "H5Zregister");
    ST_CHECK(lstar_h5z_codec_cache_size() == 0, "cache starts empty");
    pthread_t th[NTHREADS];
    pthread_barrier_init(&start_line, NULL, NTHREADS);
    for (int t = 0; t < NTHREADS; t++)
        ST_CHECK(pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) == 0, "pthread_create");
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&start_line);
    st_checks += (int)thread_checks;
    st_failures += thread_failures;
    /* One cache entry per configuration: zstd one per level (encode) + one for decoding; delta one per
     * element type (4 sizes x signed/unsigned; element size 3 never gets a codec). */
    size_t want = is_zstd() ? (size_t)N_LEVELS + 1 : 8;
    ST_CHECK(lstar_h5z_codec_cache_size() == want, "codec cache holds %zu entries, expected %zu",
             lstar_h5z_codec_cache_size(), want);
    return st_finish(is_zstd() ? "filters_zstd_threads_selftest" : "filters_delta_threads_selftest");
}
