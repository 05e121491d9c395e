/* lstar repack: options, presets and the pieces shared by the HDF5 and
 * Zarr halves (chunking rule, codecs, the shuffle decision). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lstar/alloc.h"
#include "repack/repack_internal.h"

void lstar_repack_opts_init(lstar_repack_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->compressor = LSTAR_REPACK_ZSTD;
    opts->level = 3;
}

void lstar_repack_opts_best(lstar_repack_opts *opts) {
    /* Chosen from the sweep in docs/benchmarks.md ("HDF5 filters and
     * repack", "Choosing --best"):
     * - zstd 13: zstd decodes at the same speed at every level; 13 is the
     *   first level of the btlazy2 strategy, which takes the dense count
     *   matrix of 10x-10k-subset from 0.84x (level 9) to 0.72x of gzip-4,
     *   for 1 % on sparse ones; 15-19 cost 1.5-4x the encode time.
     * - shuffle decided per dataset: it halves sparse indices after delta and
     *   shrinks integer-valued float data, but grows scaled floats
     *   (pbmc68k X: 1.62x of gzip-4 with shuffle, 0.93x without).
     * - delta on indices/indptr: 47 MB -> 18.6 MB of indices (synth 25k).
     * - 65536-element chunks (256 KiB of float32): on the synthetic counts
     *   4 % smaller than 262144-element chunks at level 13 (zstd tunes its
     *   parameters for inputs up to 256 KiB) and 2-5 % smaller than h5py's
     *   ~48 KiB chunks; decoded chunks stay in the L2 cache.
     * - the 1.10 file format: small files are mostly metadata (anndataR's
     *   example.h5ad: 0.97x -> 0.61x of gzip-4). */
    opts->compressor = LSTAR_REPACK_ZSTD;
    opts->level = 13;
    opts->shuffle = LSTAR_REPACK_SHUFFLE_AUTO;
    opts->delta_indices = 1;
    opts->chunk_elems = 65536;
    opts->latest_format = 1;
}

int rp_target_chunks(const lstar_repack_opts *o, int rank, const uint64_t *shape, const uint64_t *maxshape,
                     const uint64_t *src_chunk, size_t esize, uint64_t max_bytes, uint64_t *out) {
    for (int d = 0; d < rank; d++)
        if (maxshape[d] == 0) return 0;
    if (src_chunk && o->chunk_elems == 0) {
        for (int d = 0; d < rank; d++) out[d] = src_chunk[d];
        return 1;
    }
    uint64_t n = o->chunk_elems ? o->chunk_elems : LSTAR_REPACK_DEFAULT_CHUNK_ELEMS;
    /* Rows of full trailing dims; a trailing dim of extent 0 counts as 1. */
    uint64_t other = 1;
    for (int d = 1; d < rank; d++) {
        out[d] = shape[d] ? shape[d] : 1;
        if (out[d] > maxshape[d]) out[d] = maxshape[d];
        other *= out[d];
    }
    uint64_t rows = other >= n ? 1 : n / other;
    /* Never more rows than the array has (also when it may grow: h5py sizes
     * the chunks of resizable datasets from their extent too). */
    if (rows > maxshape[0]) rows = maxshape[0];
    if (shape[0] > 0 && rows > shape[0]) rows = shape[0];
    out[0] = rows ? rows : 1;
    /* Keep chunks under the cap by halving the largest trailing dim. */
    for (;;) {
        uint64_t el = 1;
        for (int d = 0; d < rank; d++) el *= out[d];
        if (el * esize <= max_bytes / 2) break;
        int big = 0;
        for (int d = 1; d < rank; d++)
            if (out[d] > out[big]) big = d;
        if (out[big] <= 1) return 0;
        out[big] = (out[big] + 1) / 2;
    }
    return 1;
}

lstar_status rp_codec(const char *spec, lstar_dtype dt, size_t esize, lstar_codec **out, const char *where,
                      lstar_error *err) {
    lstar_status st = lstar_codec_from_spec(spec, dt, esize, out, err);
    if (st != LSTAR_OK) lstar_err_add_where(err, where);
    return st;
}

lstar_dtype rp_int_dtype(size_t esize, int is_signed) {
    switch (esize) {
    case 1: return is_signed ? LSTAR_DTYPE_INT8 : LSTAR_DTYPE_UINT8;
    case 2: return is_signed ? LSTAR_DTYPE_INT16 : LSTAR_DTYPE_UINT16;
    case 4: return is_signed ? LSTAR_DTYPE_INT32 : LSTAR_DTYPE_UINT32;
    case 8: return is_signed ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_UINT64;
    default: return LSTAR_DTYPE_INVALID;
    }
}

int rp_is_index_name(const char *name) { return strcmp(name, "indices") == 0 || strcmp(name, "indptr") == 0; }

/* Encode `n` bytes through `chain` (k codecs); *size = the final size. */
static lstar_status chain_size(const lstar_codec *const *chain, size_t k, const uint8_t *in, size_t n, uint64_t *size,
                               const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *cur = NULL;
    const uint8_t *data = in;
    for (size_t i = 0; i < k; i++) {
        uint8_t *o = NULL;
        size_t osz = 0;
        st = lstar_codec_encode(chain[i], data, n, &o, &osz, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, where);
            break;
        }
        lstar_free(cur);
        cur = o;
        data = cur;
        n = osz;
    }
    lstar_free(cur);
    *size += n;
    return st;
}

lstar_status rp_shuffle_sample(const uint8_t *chunk, size_t n, const lstar_codec *delta, const lstar_codec *shuf,
                               const lstar_codec *comp, uint64_t *with, uint64_t *without, const char *where,
                               lstar_error *err) {
    const lstar_codec *a[3], *b[3];
    size_t na = 0, nb = 0;
    if (delta) a[na++] = delta, b[nb++] = delta;
    b[nb++] = shuf;
    a[na++] = comp, b[nb++] = comp;
    lstar_status st = chain_size(a, na, chunk, n, without, where, err);
    if (st == LSTAR_OK) st = chain_size(b, nb, chunk, n, with, where, err);
    return st;
}

lstar_status rp_make_temp(const char *dst, const char *tag, int dir, char **out, lstar_error *err) {
    static atomic_uint counter;
    size_t n = strlen(dst) + 64;
    char *p = lstar_malloc(n);
    *out = NULL;
    if (!p) return LSTAR_NOMEM(err, dst);
    for (int attempt = 0; attempt < 1000; attempt++) {
        snprintf(p, n, "%s.%s-%ld-%u", dst, tag, (long)getpid(), atomic_fetch_add(&counter, 1u));
        int rc;
        if (dir) {
            rc = mkdir(p, 0777); /* the umask applies, as for any new directory */
        } else {
            int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0666);
            rc = fd < 0 ? -1 : close(fd);
        }
        if (rc == 0) {
            *out = p;
            return LSTAR_OK;
        }
        if (errno != EEXIST) break;
    }
    lstar_status st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot create a temporary %s beside it: %s",
                                 dir ? "directory" : "file", strerror(errno));
    lstar_free(p);
    return st;
}
