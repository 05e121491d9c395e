/* The zstd decode ceiling of `lstar stats`: how many stored entries per CPU-second libzstd alone can
 * decompress, for the data and indices arrays of a CSR matrix.  No lstar code: one ZSTD_DCtx, reused,
 * decoding every chunk into one reused buffer (the best case for any reader).
 *
 *   zstd_ceiling decode DATA_DIR INDICES_DIR [REPS]
 *       decode the chunk files (Zarr v2 keys 0, 1, ...) of a zstd store as they are
 *   zstd_ceiling recompress RAW_DATA_DIR RAW_INDICES_DIR CHUNK_ELEMS LEVEL[,LEVEL...] [MAX_ELEMS] [REPS]
 *       read the chunks of an uncompressed store (4-byte items), re-chunk to CHUNK_ELEMS, compress at each
 *       level with libzstd and decode that
 *
 * Build: cc -O2 -o zstd_ceiling bench/stats/zstd_ceiling.c -lzstd
 * Times are CPU time of this process (CLOCK_PROCESS_CPUTIME_ID); the best of REPS passes (default 3). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

typedef struct chunks {
    blob *c;
    size_t n, cap;
    size_t max_out; /* largest decoded chunk */
    size_t total_in, total_out;
} chunks;

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "zstd_ceiling: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

/* Read file `dir/k`; returns 0 when it does not exist. */
static int read_file(const char *dir, size_t k, blob *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%zu", dir, k);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    if (fseek(f, 0, SEEK_END) != 0) die("cannot seek", path);
    long s = ftell(f);
    if (s < 0 || fseek(f, 0, SEEK_SET) != 0) die("cannot size", path);
    b->n = (size_t)s;
    b->p = malloc(b->n ? b->n : 1);
    if (!b->p) die("out of memory", NULL);
    if (fread(b->p, 1, b->n, f) != b->n) die("cannot read", path);
    fclose(f);
    return 1;
}

static void push(chunks *cs, blob b) {
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 64;
        cs->c = realloc(cs->c, cs->cap * sizeof *cs->c);
        if (!cs->c) die("out of memory", NULL);
    }
    cs->c[cs->n++] = b;
}

/* Chunk files 0, 1, ... of a zstd-compressed 1-D array. */
static chunks load_compressed(const char *dir) {
    chunks cs;
    memset(&cs, 0, sizeof cs);
    blob b;
    for (size_t k = 0; read_file(dir, k, &b); k++) {
        unsigned long long sz = ZSTD_getFrameContentSize(b.p, b.n);
        if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN) die("not a sized zstd frame", dir);
        if (sz > cs.max_out) cs.max_out = (size_t)sz;
        cs.total_in += b.n;
        cs.total_out += (size_t)sz;
        push(&cs, b);
    }
    if (!cs.n) die("no chunk files (0, 1, ...) in", dir);
    return cs;
}

/* The raw bytes of an uncompressed array (chunk files concatenated), at most max_bytes. */
static blob load_raw(const char *dir, size_t max_bytes) {
    blob all = {NULL, 0}, b;
    for (size_t k = 0; all.n < max_bytes && read_file(dir, k, &b); k++) {
        size_t take = b.n < max_bytes - all.n ? b.n : max_bytes - all.n;
        all.p = realloc(all.p, all.n + take);
        if (!all.p) die("out of memory", NULL);
        memcpy(all.p + all.n, b.p, take);
        all.n += take;
        free(b.p);
    }
    if (!all.n) die("no chunk files (0, 1, ...) in", dir);
    return all;
}

static chunks compress_all(const blob *raw, size_t chunk_bytes, int level) {
    chunks cs;
    memset(&cs, 0, sizeof cs);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    if (!cc) die("out of memory", NULL);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
    for (size_t off = 0; off < raw->n; off += chunk_bytes) {
        size_t n = raw->n - off < chunk_bytes ? raw->n - off : chunk_bytes;
        blob b;
        size_t cap = ZSTD_compressBound(n);
        b.p = malloc(cap);
        if (!b.p) die("out of memory", NULL);
        b.n = ZSTD_compress2(cc, b.p, cap, raw->p + off, n);
        if (ZSTD_isError(b.n)) die("compression failed", ZSTD_getErrorName(b.n));
        if (n > cs.max_out) cs.max_out = n;
        cs.total_in += b.n;
        cs.total_out += n;
        push(&cs, b);
    }
    ZSTD_freeCCtx(cc);
    return cs;
}

/* Best-of-reps CPU seconds to decode every chunk once. */
static double decode_time(const chunks *cs, int reps) {
    ZSTD_DCtx *d = ZSTD_createDCtx();
    unsigned char *out = malloc(cs->max_out ? cs->max_out : 1);
    if (!d || !out) die("out of memory", NULL);
    memset(out, 0, cs->max_out); /* fault the pages in: a reader reuses its block buffer */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        for (size_t i = 0; i < cs->n; i++) {
            size_t got = ZSTD_decompressDCtx(d, out, cs->max_out, cs->c[i].p, cs->c[i].n);
            if (ZSTD_isError(got)) die("corrupt frame", ZSTD_getErrorName(got));
        }
        double t = cpu_now() - t0;
        if (t < best) best = t;
    }
    free(out);
    ZSTD_freeDCtx(d);
    return best;
}

static void free_chunks(chunks *cs) {
    for (size_t i = 0; i < cs->n; i++) free(cs->c[i].p);
    free(cs->c);
}

/* One line per array and the combined ceiling in stored entries (4-byte value + 4-byte index) per second. */
static void report(const char *label, const chunks *data, const chunks *idx, int reps) {
    double td = decode_time(data, reps), ti = decode_time(idx, reps);
    double nd = (double)data->total_out / 4, ni = (double)idx->total_out / 4;
    printf("%-22s data:    %4zu chunks  ratio %5.2f  %6.3f CPU-s  %6.0f MB/s  %6.1f M values/s\n", label, data->n,
           (double)data->total_out / (double)data->total_in, td, (double)data->total_out / td / 1e6, nd / td / 1e6);
    printf("%-22s indices: %4zu chunks  ratio %5.2f  %6.3f CPU-s  %6.0f MB/s  %6.1f M values/s\n", label, idx->n,
           (double)idx->total_out / (double)idx->total_in, ti, (double)idx->total_out / ti / 1e6, ni / ti / 1e6);
    printf("%-22s ceiling: %.1f M stored entries per CPU-second (data + indices decode only)\n", label,
           1.0 / (td / nd + ti / ni) / 1e6);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "decode") == 0) {
        int reps = argc > 4 ? atoi(argv[4]) : 3;
        chunks d = load_compressed(argv[2]), i = load_compressed(argv[3]);
        report("as stored", &d, &i, reps > 0 ? reps : 1);
        free_chunks(&d);
        free_chunks(&i);
        return 0;
    }
    if (argc >= 6 && strcmp(argv[1], "recompress") == 0) {
        size_t chunk = (size_t)strtoull(argv[4], NULL, 10);
        size_t max_elems = argc > 6 ? (size_t)strtoull(argv[6], NULL, 10) : 20000000;
        int reps = argc > 7 ? atoi(argv[7]) : 3;
        if (!chunk || !max_elems) die("CHUNK_ELEMS and MAX_ELEMS must be > 0", NULL);
        blob rd = load_raw(argv[2], max_elems * 4), ri = load_raw(argv[3], max_elems * 4);
        char *levels = strdup(argv[5]);
        for (char *tok = strtok(levels, ","); tok; tok = strtok(NULL, ",")) {
            int level = atoi(tok);
            chunks d = compress_all(&rd, chunk * 4, level), i = compress_all(&ri, chunk * 4, level);
            char label[64];
            snprintf(label, sizeof label, "zstd:%d chunk %zu", level, chunk);
            report(label, &d, &i, reps > 0 ? reps : 1);
            free_chunks(&d);
            free_chunks(&i);
        }
        free(levels);
        free(rd.p);
        free(ri.p);
        return 0;
    }
    fprintf(stderr,
            "usage: zstd_ceiling decode DATA_DIR INDICES_DIR [REPS]\n"
            "       zstd_ceiling recompress RAW_DATA_DIR RAW_INDICES_DIR CHUNK_ELEMS LEVEL[,LEVEL...] [MAX_ELEMS] "
            "[REPS]\n");
    return 2;
}
