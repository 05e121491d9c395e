/* bench/filters/read_x — read X (every dataset under /X, or /X itself when
 * dense) of an h5ad fully with lstar, and print the seconds it took.
 *
 *   read_x FILE.h5ad hdf5      lstar_h5_dataset_read in blocks of whole chunks:
 *                              HDF5 runs the filter pipeline (plugins), one thread
 *   read_x FILE.h5ad parallel  raw chunks read on the calling thread, decoded by
 *                              lstar_codec in lstar_pool workers (deflate, shuffle,
 *                              zstd, delta; other filters fall back to "hdf5")
 *
 * Output: "<seconds> <decoded bytes> <checksum>" (the checksum is a sum of the
 * decoded bytes, so both modes can be compared).  Public API only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lstar/lstar.h"

typedef struct job {
    lstar_h5_dataset *d;
    lstar_h5_dataset_info info;
    lstar_codec *dec[8];
    unsigned bit[8];
    size_t ndec, chunk_bytes, batch;
    uint64_t nchunks, grid[LSTAR_MAX_RANK];
    uint8_t **raw;
    size_t *raw_size, *raw_cap;
    unsigned *mask;
    int *absent;
    uint64_t *sums;
    uint64_t sum, bytes;
} job;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void offset_of(const job *j, size_t i, uint64_t *off) {
    for (int d = j->info.rank - 1; d >= 0; d--) {
        off[d] = (i % j->grid[d]) * j->info.chunks[d];
        i /= j->grid[d];
    }
}

static uint64_t byte_sum(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

static lstar_status load(void *ud, size_t i, int w, lstar_error *err) {
    job *j = ud;
    size_t s = i % j->batch;
    uint64_t off[LSTAR_MAX_RANK];
    lstar_h5_chunk_info ci;
    (void)w;
    offset_of(j, i, off);
    lstar_status st = lstar_h5_dataset_chunk_info_at(j->d, off, &ci, err);
    j->absent[s] = st == LSTAR_ERR_NOT_FOUND;
    if (j->absent[s]) return LSTAR_OK;
    if (st != LSTAR_OK) return st;
    if (ci.size > j->raw_cap[s]) {
        uint8_t *p = realloc(j->raw[s], ci.size);
        if (!p) return LSTAR_ERR_NOMEM;
        j->raw[s] = p;
        j->raw_cap[s] = ci.size;
    }
    return lstar_h5_dataset_read_chunk(j->d, off, j->raw[s], j->raw_cap[s], &j->raw_size[s], &j->mask[s], err);
}

static lstar_status work(void *ud, size_t i, int w, lstar_error *err) {
    job *j = ud;
    size_t s = i % j->batch;
    (void)w;
    if (j->absent[s]) return LSTAR_OK;
    uint8_t *cur = NULL;
    const uint8_t *data = j->raw[s];
    size_t size = j->raw_size[s];
    for (size_t k = j->ndec; k-- > 0;) {
        if (j->mask[s] & (1u << j->bit[k])) continue;
        uint8_t *o = NULL;
        size_t osz = 0;
        lstar_status st = lstar_codec_decode(j->dec[k], data, size, j->chunk_bytes, 0, &o, &osz, err);
        lstar_free(cur);
        if (st != LSTAR_OK) return st;
        cur = o;
        data = o;
        size = osz;
    }
    j->sums[s] = byte_sum(data, size);
    lstar_free(cur);
    return LSTAR_OK;
}

static lstar_status store(void *ud, size_t i, int w, lstar_error *err) {
    job *j = ud;
    size_t s = i % j->batch;
    (void)w;
    (void)err;
    if (j->absent[s]) return LSTAR_OK;
    j->sum += j->sums[s];
    j->bytes += j->chunk_bytes;
    return LSTAR_OK;
}

/* 1 if every filter has an lstar codec. */
static int setup_codecs(job *j) {
    for (size_t k = 0; k < j->info.nfilters; k++) {
        const lstar_h5_filter *f = &j->info.filters[k];
        char spec[64];
        lstar_dtype dt = LSTAR_DTYPE_UINT8;
        size_t es = 1;
        switch (f->id) {
        case 1: snprintf(spec, sizeof spec, "zlib"); break;
        case 32015: snprintf(spec, sizeof spec, "zstd"); break;
        case 2: snprintf(spec, sizeof spec, "shuffle:%zu", j->info.itemsize); break;
        case 56855:
            snprintf(spec, sizeof spec, "delta");
            dt = j->info.dtype;
            es = j->info.itemsize;
            break;
        default: return 0;
        }
        if (j->ndec == 8 || lstar_codec_from_spec(spec, dt, es, &j->dec[j->ndec], NULL) != LSTAR_OK) return 0;
        j->bit[j->ndec++] = (unsigned)k;
    }
    return 1;
}

static int read_hdf5(lstar_h5_dataset *d, const lstar_h5_dataset_info *info, uint64_t *sum, uint64_t *bytes) {
    lstar_error err = {0};
    uint64_t rows = info->layout == LSTAR_H5_LAYOUT_CHUNKED ? info->chunks[0] : 65536, row_elems = 1;
    for (int k = 1; k < info->rank; k++) row_elems *= info->shape[k];
    rows = rows * 16; /* 16 chunks per read */
    uint8_t *buf = malloc(rows * row_elems * info->itemsize + 1);
    if (!buf) return -1;
    for (uint64_t r = 0; r < info->shape[0]; r += rows) {
        uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
        start[0] = r;
        count[0] = info->shape[0] - r < rows ? info->shape[0] - r : rows;
        for (int k = 1; k < info->rank; k++) count[k] = info->shape[k];
        if (lstar_h5_dataset_read(d, start, count, buf, &err) != LSTAR_OK) {
            fprintf(stderr, "read_x: %s: %s\n", err.where, err.message);
            free(buf);
            return -1;
        }
        size_t n = (size_t)(count[0] * row_elems * info->itemsize);
        *sum += byte_sum(buf, n);
        *bytes += n;
    }
    free(buf);
    return 0;
}

static int read_one(lstar_h5_file *f, const char *path, int parallel, lstar_pool *pool, uint64_t *sum,
                    uint64_t *bytes) {
    lstar_error err = {0};
    job j;
    int rc = -1;
    memset(&j, 0, sizeof j);
    if (lstar_h5_dataset_open(f, path, &j.d, &err) != LSTAR_OK ||
        lstar_h5_dataset_get_info(j.d, &j.info, &err) != LSTAR_OK) {
        fprintf(stderr, "read_x: %s: %s\n", err.where, err.message);
        goto done;
    }
    if (!parallel || j.info.layout != LSTAR_H5_LAYOUT_CHUNKED || !setup_codecs(&j)) {
        rc = read_hdf5(j.d, &j.info, sum, bytes);
        goto done;
    }
    j.nchunks = 1;
    j.chunk_bytes = j.info.itemsize;
    for (int d = 0; d < j.info.rank; d++) {
        j.grid[d] = (j.info.shape[d] + j.info.chunks[d] - 1) / j.info.chunks[d];
        j.nchunks *= j.grid[d];
        j.chunk_bytes *= j.info.chunks[d];
    }
    j.batch = (size_t)lstar_pool_threads(pool) * 4;
    j.raw = calloc(j.batch, sizeof *j.raw);
    j.raw_size = calloc(j.batch, sizeof *j.raw_size);
    j.raw_cap = calloc(j.batch, sizeof *j.raw_cap);
    j.mask = calloc(j.batch, sizeof *j.mask);
    j.absent = calloc(j.batch, sizeof *j.absent);
    j.sums = calloc(j.batch, sizeof *j.sums);
    if (!j.raw || !j.raw_size || !j.raw_cap || !j.mask || !j.absent || !j.sums) goto done;
    if (lstar_pool_pipeline(pool, (size_t)j.nchunks, j.batch, load, work, store, &j, &err) != LSTAR_OK) {
        fprintf(stderr, "read_x: %s: %s\n", err.where, err.message);
        goto done;
    }
    /* the padding of edge chunks is counted too; subtract nothing (both modes differ there) */
    *sum += j.sum;
    *bytes += j.bytes;
    rc = 0;
done:
    for (size_t k = 0; k < j.ndec; k++) lstar_codec_free(j.dec[k]);
    for (size_t k = 0; j.raw && k < j.batch; k++) free(j.raw[k]);
    free(j.raw);
    free(j.raw_size);
    free(j.raw_cap);
    free(j.mask);
    free(j.absent);
    free(j.sums);
    lstar_h5_dataset_close(j.d);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "hdf5") != 0 && strcmp(argv[2], "parallel") != 0)) {
        fprintf(stderr, "usage: read_x FILE.h5ad hdf5|parallel\n");
        return 2;
    }
    int parallel = strcmp(argv[2], "parallel") == 0;
    lstar_error err = {0};
    lstar_h5_file *f = NULL;
    lstar_pool *pool = NULL;
    lstar_h5_node_type t;
    uint64_t sum = 0, bytes = 0;
    int rc = 2;
    double t0 = now();
    if (lstar_h5_open(argv[1], LSTAR_H5_READ, &f, &err) != LSTAR_OK || lstar_pool_new(0, &pool, &err) != LSTAR_OK ||
        lstar_h5_node_type_at(f, "X", &t, &err) != LSTAR_OK) {
        fprintf(stderr, "read_x: %s: %s\n", err.where, err.message);
        goto done;
    }
    if (t == LSTAR_H5_NODE_DATASET) {
        if (read_one(f, "X", parallel, pool, &sum, &bytes)) goto done;
    } else {
        static const char *const parts[] = {"X/data", "X/indices", "X/indptr"};
        for (int i = 0; i < 3; i++)
            if (read_one(f, parts[i], parallel, pool, &sum, &bytes)) goto done;
    }
    printf("%.6f %llu %llu\n", now() - t0, (unsigned long long)bytes, (unsigned long long)sum);
    rc = 0;
done:
    lstar_pool_free(pool);
    lstar_h5_close(f);
    return rc;
}
