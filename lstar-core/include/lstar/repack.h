/* lstar/repack.h — re-encode every numeric array of an h5ad/HDF5 file (or of
 * a Zarr store) with a new filter pipeline and chunking, copying everything
 * else exactly.
 *
 * HDF5 sources (h5ad, h5mu, 10x .h5, any HDF5 file): groups are recreated
 * with their creation properties and attributes (every attribute type; object
 * references are re-pointed at the same paths in the new file), non-numeric
 * and small contiguous datasets are copied object for object (H5Ocopy), and
 * every chunked (or contiguous ≥ LSTAR_REPACK_MIN_CONTIGUOUS_BYTES) numeric
 * dataset is rewritten with the requested pipeline, in HDF5 order
 *
 *     [delta 56855 (indices/indptr, integers)] → [shuffle 2] → [zstd 32015 | deflate 1]
 *
 * keeping its datatype, shape, maxshape, fill value and other creation
 * properties.  Chunks are read raw on the calling thread, decoded and
 * re-encoded by lstar_pool workers, and written in order with H5Dwrite_chunk,
 * so the output bytes do not depend on the thread count.  The result is
 * written to a temporary file beside `dst` and renamed on success; the input
 * is never modified.  Memory stays bounded by a few chunks per thread.
 *
 * The zstd and delta filters are our HDF5 plugins (filters/): HDF5 must be
 * able to load them to create datasets that use them.  Give their directory
 * in opts.plugin_dir (it is prepended to HDF5's plugin search path), or set
 * HDF5_PLUGIN_PATH.  Readers need HDF5_PLUGIN_PATH (see `lstar plugin-path`).
 *
 * See docs/internals/repack.md.
 */
#ifndef LSTAR_REPACK_H
#define LSTAR_REPACK_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compressor stage of the pipeline. */
typedef enum lstar_repack_compressor {
    LSTAR_REPACK_NONE = 0, /* no compressor (shuffle/delta may still apply) */
    LSTAR_REPACK_GZIP = 1, /* HDF5 deflate (filter 1), level 0..9 */
    LSTAR_REPACK_ZSTD = 2  /* zstd plugin (filter 32015), level -131072..22 (0 = zstd's default 3) */
} lstar_repack_compressor;

/* lstar_repack_opts.shuffle: decide per dataset (see there). */
#define LSTAR_REPACK_SHUFFLE_AUTO 2

/* Numeric contiguous datasets smaller than this are copied as they are. */
#define LSTAR_REPACK_MIN_CONTIGUOUS_BYTES 16384u
/* Chunk target (elements) for contiguous sources when chunk_elems is 0. */
#define LSTAR_REPACK_DEFAULT_CHUNK_ELEMS 262144u

/* Options.  Initialise with lstar_repack_opts_init (or lstar_repack_opts_best). */
typedef struct lstar_repack_opts {
    lstar_repack_compressor compressor;
    int level;           /* compressor level (gzip default 4, zstd default 3) */
    int shuffle;         /* 1: byte shuffle (filter 2) before the compressor; 0: none;
                            LSTAR_REPACK_SHUFFLE_AUTO: per dataset, whichever of the two is
                            smaller on a sample of up to 4 chunks spread over it */
    int delta_indices;   /* 1: delta (filter 56855) on integer datasets named `indices` or `indptr` */
    uint64_t chunk_elems; /* 0: keep the source chunking; else 1-D chunks of N elements, N-D chunks of
                             max(1, N / (product of the other dims)) full rows */
    int latest_format;   /* 1: write the newest HDF5 file format (HDF5 >= 1.10 readers only; much
                            smaller metadata: v2 object headers, compact groups, v2 B-tree and
                            single-chunk indexes).  0: the earliest format that holds the content,
                            like h5py's default (readable by HDF5 1.8) */
    int threads;         /* encoder threads; 0 = all cores */
    int overwrite;       /* 1: replace an existing dst (never the source itself) */
    const char *plugin_dir; /* borrowed; NULL = HDF5's own search path (HDF5_PLUGIN_PATH) */
} lstar_repack_opts;

/* Defaults: zstd level 3, no shuffle, no delta, source chunking, all cores. */
void lstar_repack_opts_init(lstar_repack_opts *opts);
/* The --best preset for count matrices (the smallest files at zstd-fast
 * decode speed; the measurement behind it is in docs/benchmarks.md): zstd
 * 13, LSTAR_REPACK_SHUFFLE_AUTO, delta_indices, chunk_elems 65536,
 * latest_format.  Leaves threads, overwrite and plugin_dir as they are. */
void lstar_repack_opts_best(lstar_repack_opts *opts);

/* What a repack did (zero-initialised by it). */
typedef struct lstar_repack_stats {
    uint64_t groups;          /* groups recreated (root included) */
    uint64_t datasets_copied; /* datasets copied as they are */
    uint64_t datasets_encoded; /* numeric datasets re-encoded */
    uint64_t chunks_written;
    uint64_t bytes_in;         /* stored bytes of the re-encoded datasets in src */
    uint64_t bytes_out;        /* stored bytes of the re-encoded datasets in dst */
    uint64_t file_bytes_in;
    uint64_t file_bytes_out;
} lstar_repack_stats;

/* Repack HDF5 file `src` into `dst` (a new file).  `opts` NULL = defaults.
 * `stats` may be NULL.  Errors: LSTAR_ERR_EXISTS if dst exists and
 * !overwrite, LSTAR_ERR_INVALID_ARG if dst is src or an option is out of
 * range, LSTAR_ERR_UNSUPPORTED if a needed filter plugin cannot be loaded
 * or an attribute holds region references, and the read errors of the
 * HDF5 backend (FORMAT, CORRUPT …) with `where` = the HDF5 path.  On
 * failure nothing is left at dst (an existing dst is untouched).
 * Thread safety: HDF5 work takes the library's HDF5 lock; the plugin path
 * change (opts.plugin_dir) is process-wide. */
lstar_status lstar_repack_h5(const char *src, const char *dst, const lstar_repack_opts *opts,
                             lstar_repack_stats *stats, lstar_error *err);

/* Repack Zarr store `src` (v2 or v3; a directory or a .zip) into the new
 * directory store `dst` (same Zarr format).  Groups are recreated with their
 * attributes; every numeric or bool array of rank >= 1 is rewritten through
 * the streaming writer (encoding on opts.threads threads, output independent
 * of the count) with the codec chain
 *     v2: filters [delta?, shuffle?] + compressor zstd / gzip
 *     v3: bytes, [numcodecs.delta], [numcodecs.shuffle], zstd / gzip
 * keeping its shape, dtype, fill value, dimension separator and attributes,
 * and the chunking and v3 sharding (with chunk_elems: the new chunking,
 * unsharded).  Strings, rank-0 arrays and arrays whose codecs we
 * cannot decode are copied key for key.  Consolidated metadata is rewritten
 * when the source has it.  Built in a temporary directory beside dst,
 * renamed on success (an existing dst, with overwrite, is replaced only
 * then).  latest_format and plugin_dir do not apply.  Errors as
 * lstar_repack_h5, with `where` = the store key or array path. */
lstar_status lstar_repack_zarr(const char *src, const char *dst, const lstar_repack_opts *opts,
                               lstar_repack_stats *stats, lstar_error *err);

/* Prepend `dir` to HDF5's plugin search path (once per directory and
 * process) and check that filter `id` can be loaded from the search path
 * (0 = no check): LSTAR_ERR_UNSUPPORTED naming the filter otherwise. */
lstar_status lstar_h5_enable_plugins(const char *dir, unsigned id, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
