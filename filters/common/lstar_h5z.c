/* lstar_h5z.c — helpers shared by lstar's HDF5 filter plugins; see lstar_h5z.h. */
#include "lstar_h5z.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

void lstar_h5z_push_error(const char *file, const char *func, unsigned line, hid_t min, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* "%s": the message is data, never a format string for HDF5. */
    H5Epush2(H5E_DEFAULT, file, func, line, H5E_ERR_CLS, H5E_PLINE, min, "%s", msg);
}

int lstar_h5z_chunk_bytes(hid_t dcpl_id, hid_t type_id, const char *filter_name, uint64_t *out) {
    hsize_t dims[H5S_MAX_RANK];
    int rank = H5Pget_chunk(dcpl_id, H5S_MAX_RANK, dims);
    if (rank <= 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: the dataset is not chunked (filters need a chunked layout)",
                        filter_name);
        return -1;
    }
    size_t type_size = H5Tget_size(type_id);
    if (type_size == 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: cannot get the size of the dataset's datatype", filter_name);
        return -1;
    }
    uint64_t bytes = type_size;
    for (int i = 0; i < rank; i++) {
        if (dims[i] == 0 || bytes > LSTAR_H5Z_MAX_CHUNK_BYTES / dims[i]) {
            LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: a chunk of this dataset would be larger than %u bytes", filter_name,
                            LSTAR_H5Z_MAX_CHUNK_BYTES);
            return -1;
        }
        bytes *= dims[i];
    }
    *out = bytes;
    return 0;
}

int lstar_h5z_input_is_chunk(hid_t dcpl_id, H5Z_filter_t filter_id, const H5Z_filter_t *same_size_ids,
                             size_t n_same_size_ids, H5Z_filter_t *resizer) {
    int nfilters = H5Pget_nfilters(dcpl_id);
    if (nfilters < 0) return -1;
    for (int i = 0; i < nfilters; i++) {
        unsigned flags = 0, config = 0;
        size_t nelmts = 0; /* ask for no cd_values */
        H5Z_filter_t id = H5Pget_filter2(dcpl_id, (unsigned)i, &flags, &nelmts, NULL, 0, NULL, &config);
        if (id < 0) return -1;
        if (id == filter_id) return 1;
        int same = (id == H5Z_FILTER_SHUFFLE);
        for (size_t k = 0; k < n_same_size_ids && !same; k++) same = (id == same_size_ids[k]);
        if (!same) {
            if (resizer) *resizer = id;
            return 0;
        }
    }
    return 0; /* the filter is not in the pipeline: nothing to promise */
}

int lstar_h5z_set_output(void **buf, size_t *buf_size, const void *data, size_t n) {
    if (n <= *buf_size && *buf) {
        memmove(*buf, data, n);
        return 0;
    }
    void *fresh = H5allocate_memory(n ? n : 1, 0);
    if (!fresh) return -1;
    memcpy(fresh, data, n);
    H5free_memory(*buf);
    *buf = fresh;
    *buf_size = n ? n : 1;
    return 0;
}

int lstar_h5z_get_cd_values(hid_t dcpl_id, H5Z_filter_t filter_id, const char *filter_name, unsigned *flags,
                            size_t *n, unsigned cd_values[], size_t max) {
    unsigned config = 0;
    size_t nelmts = max;
    if (H5Pget_filter_by_id2(dcpl_id, filter_id, flags, &nelmts, cd_values, 0, NULL, &config) < 0) {
        LSTAR_H5Z_ERROR(H5E_SETLOCAL, "%s: the filter is not in the dataset's creation property list", filter_name);
        return -1;
    }
    *n = nelmts;
    return 0;
}

/* ---- codec cache -------------------------------------------------------------------------------- */

#define CODEC_CACHE_MAX 64
#define CODEC_JSON_MAX 96

typedef struct codec_entry {
    char json[CODEC_JSON_MAX];
    lstar_dtype dtype;
    size_t itemsize;
    lstar_codec *codec;
} codec_entry;

/* Entries [0, cache_count) are complete and immutable: a writer fills entry cache_count under
 * cache_lock and then publishes it by incrementing cache_count with release order; readers load the
 * count with acquire order and scan without a lock. */
static codec_entry cache[CODEC_CACHE_MAX];
static atomic_size_t cache_count;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static int cache_closed; /* under cache_lock */

static lstar_codec *cache_find(size_t n, const char *json, lstar_dtype dtype, size_t itemsize) {
    for (size_t i = 0; i < n; i++)
        if (cache[i].dtype == dtype && cache[i].itemsize == itemsize && strcmp(cache[i].json, json) == 0)
            return cache[i].codec;
    return NULL;
}

lstar_codec *lstar_h5z_codec(const char *json, lstar_dtype dtype, size_t itemsize, int *owned, lstar_error *err) {
    *owned = 0;
    lstar_codec *c = cache_find(atomic_load_explicit(&cache_count, memory_order_acquire), json, dtype, itemsize);
    if (c) return c;
    pthread_mutex_lock(&cache_lock);
    size_t n = atomic_load_explicit(&cache_count, memory_order_relaxed);
    c = cache_find(n, json, dtype, itemsize); /* another thread may have built it meanwhile */
    if (!c && lstar_codec_from_json(json, dtype, itemsize, &c, err) == LSTAR_OK) {
        if (!cache_closed && n < CODEC_CACHE_MAX && strlen(json) < CODEC_JSON_MAX) {
            memcpy(cache[n].json, json, strlen(json) + 1);
            cache[n].dtype = dtype;
            cache[n].itemsize = itemsize;
            cache[n].codec = c;
            atomic_store_explicit(&cache_count, n + 1, memory_order_release);
        } else {
            *owned = 1;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return c;
}

void lstar_h5z_codec_done(lstar_codec *codec, int owned) {
    if (owned) lstar_codec_free(codec);
}

size_t lstar_h5z_codec_cache_size(void) { return atomic_load_explicit(&cache_count, memory_order_acquire); }

/* Runs when the plugin is unloaded (HDF5 closes its plugins when the library shuts down, after the
 * last filter call) or at exit.  A filter call after this still works, with codecs it frees itself. */
__attribute__((destructor)) static void codec_cache_fini(void) {
    pthread_mutex_lock(&cache_lock);
    cache_closed = 1;
    size_t n = atomic_load_explicit(&cache_count, memory_order_relaxed);
    atomic_store_explicit(&cache_count, 0, memory_order_release);
    for (size_t i = 0; i < n; i++) {
        lstar_codec_free(cache[i].codec);
        cache[i].codec = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
}
