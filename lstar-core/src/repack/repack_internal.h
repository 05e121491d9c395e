/* Internal: shared by the HDF5 and Zarr halves of lstar repack (src/repack/).  Not API. */
#ifndef LSTAR_INTERNAL_REPACK_H
#define LSTAR_INTERNAL_REPACK_H
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "lstar/codec.h"
#include "lstar/repack.h"

/* Chunks encoded both ways by LSTAR_REPACK_SHUFFLE_AUTO. */
#define RP_AUTO_SAMPLE_CHUNKS 4

/* Target chunk dims of a re-encoded array: the source's (`src_chunk` not
 * NULL and o->chunk_elems == 0), else the chunk_elems rule (1-D: N
 * elements; N-D: max(1, N / prod(other dims)) full rows, never more rows
 * than the extent), halving the largest trailing dim while a chunk exceeds
 * max_bytes / 2.  maxshape: UINT64_MAX = unlimited.  Returns 0 when no valid
 * chunking exists (a fixed zero-sized dimension). */
int rp_target_chunks(const lstar_repack_opts *o, int rank, const uint64_t *shape, const uint64_t *maxshape,
                     const uint64_t *src_chunk, size_t esize, uint64_t max_bytes, uint64_t *out);

/* lstar_codec_from_spec with `where` added to the error. */
lstar_status rp_codec(const char *spec, lstar_dtype dt, size_t esize, lstar_codec **out, const char *where,
                      lstar_error *err);
/* The integer dtype of `esize` bytes (INVALID for other sizes). */
lstar_dtype rp_int_dtype(size_t esize, int is_signed);
/* 1 for the names delta applies to: "indices", "indptr". */
int rp_is_index_name(const char *name);
/* One sample chunk of LSTAR_REPACK_SHUFFLE_AUTO: add its encoded size with
 * [delta] shuffle comp to *with and with [delta] comp to *without. */
lstar_status rp_shuffle_sample(const uint8_t *chunk, size_t n, const lstar_codec *delta, const lstar_codec *shuf,
                               const lstar_codec *comp, uint64_t *with, uint64_t *without, const char *where,
                               lstar_error *err);

/* Create "<dst>.<tag>-<pid>-<n>" (a file, or a directory when `dir`) that
 * did not exist, with the usual permissions (0666 / 0777 minus the umask);
 * *out is its name (free with lstar_free). */
lstar_status rp_make_temp(const char *dst, const char *tag, int dir, char **out, lstar_error *err);

#endif
