/* lstar_h5z.h — helpers shared by lstar's HDF5 filter plugins (internal; compiled into each plugin).
 *
 * Everything here has hidden visibility (the plugins are built with -fvisibility=hidden), so each
 * plugin carries a private copy.  Errors are reported on the HDF5 error stack of the calling thread
 * (HDF5's own error class, major H5E_PLINE, a specific minor), never printed.
 *
 * Thread safety: HDF5 1.10 calls filter callbacks with its global lock held, but nothing here relies
 * on it.  The only state is the codec cache (lstar_h5z_codec), which is safe to use from any number
 * of threads at once.
 */
#ifndef LSTAR_H5Z_H
#define LSTAR_H5Z_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "lstar/codec.h"

/* HDF5 stores a chunk's size in 32 bits: no chunk (encoded or decoded) is larger than this. */
#define LSTAR_H5Z_MAX_CHUNK_BYTES 0xFFFFFFFFu

#if defined(__GNUC__)
#define LSTAR_H5Z_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LSTAR_H5Z_PRINTF(a, b)
#endif

/* Push one record (major H5E_PLINE, minor `min`) on the default error stack.  The message is
 * formatted with printf semantics and truncated to 1 KiB.  Call it after every other HDF5 call of
 * the failing path: most HDF5 API calls clear the stack on entry. */
void lstar_h5z_push_error(const char *file, const char *func, unsigned line, hid_t min, const char *fmt, ...)
    LSTAR_H5Z_PRINTF(5, 6);
#define LSTAR_H5Z_ERROR(min, ...) lstar_h5z_push_error(__FILE__, __func__, __LINE__, (min), __VA_ARGS__)

/* Bytes of one full chunk of a dataset being created: product of the dcpl's chunk dims times the
 * size of `type_id` (the dataset's datatype as given to set_local).  Returns 0 and sets *out, or -1
 * after pushing an error naming `filter_name` (not chunked, overflow, or more than
 * LSTAR_H5Z_MAX_CHUNK_BYTES). */
int lstar_h5z_chunk_bytes(hid_t dcpl_id, hid_t type_id, const char *filter_name, uint64_t *out);

/* 1 if every filter placed before `filter_id` in the dcpl's pipeline leaves the byte count
 * unchanged (HDF5 shuffle, and the filter ids listed in `same_size_ids`), 0 if one may change it
 * (its id goes to *resizer when resizer is not NULL), -1 on error.  Used to decide whether the
 * chunk size is what `filter_id` sees. */
int lstar_h5z_input_is_chunk(hid_t dcpl_id, H5Z_filter_t filter_id, const H5Z_filter_t *same_size_ids,
                             size_t n_same_size_ids, H5Z_filter_t *resizer);

/* Give `n` bytes of `data` to HDF5 as the filter's output: copied into *buf when it fits
 * (*buf_size is left as the allocation size), otherwise into a new buffer from H5allocate_memory
 * that replaces *buf (the old one is released with H5free_memory).  Returns 0, or -1 without
 * touching *buf when memory is short (no error pushed: the caller reports). */
int lstar_h5z_set_output(void **buf, size_t *buf_size, const void *data, size_t n);

/* Read the filter's current cd_values from a dcpl (up to `max` values; *n gets the count, which may
 * exceed `max` if more are stored) together with its flags.  Returns 0 or -1 (error pushed). */
int lstar_h5z_get_cd_values(hid_t dcpl_id, H5Z_filter_t filter_id, const char *filter_name, unsigned *flags,
                            size_t *n, unsigned cd_values[], size_t max);

/* The lstar codec for a JSON configuration (lstar_codec_from_json with `dtype` and `itemsize`), built
 * on the first call and kept for the life of the plugin, so that filters do not rebuild it per chunk.
 * Lookups take no lock (entries are published once, complete, and never change); building a new entry
 * takes a mutex.  Returns the codec, or NULL with *err set.  *owned = 1 when the codec could not be
 * cached (more than 64 configurations, a configuration longer than 95 characters, or the plugin being
 * unloaded): pass it back to lstar_h5z_codec_done in every case.  Codecs are immutable: the same one
 * may encode/decode on many threads at once. */
lstar_codec *lstar_h5z_codec(const char *json, lstar_dtype dtype, size_t itemsize, int *owned, lstar_error *err);
void lstar_h5z_codec_done(lstar_codec *codec, int owned);

/* Number of codecs in the cache (for the self-tests). */
size_t lstar_h5z_codec_cache_size(void);

#endif
