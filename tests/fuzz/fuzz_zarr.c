/* Fuzz target: Zarr array metadata (v2 .zarray with FUZZ_ZARR_FORMAT=2, v3
 * zarr.json with 3) plus one chunk, through a memory store.
 *
 * Input: the metadata document, a NUL byte, then the bytes of chunk 0 (or
 * shard 0).  The chunk is stored under the key the array itself names for
 * grid position 0, and the first chunk is read (numeric: read_chunk and a
 * region read; strings: read_strings) when its decoded size is bounded. */
#include <string.h>

#include "fuzz_common.h"
#include "lstar/alloc.h"
#include "lstar/strings.h"
#include "lstar/zarr.h"

#ifndef FUZZ_ZARR_FORMAT
#define FUZZ_ZARR_FORMAT 2
#endif

#if FUZZ_ZARR_FORMAT == 2
#define ROOT_KEY ".zgroup"
#define ROOT_DOC "{\"zarr_format\":2}"
#define META_KEY "a/.zarray"
#else
#define ROOT_KEY "zarr.json"
#define ROOT_DOC "{\"zarr_format\":3,\"node_type\":\"group\"}"
#define META_KEY "a/zarr.json"
#endif

static void read_first_chunk(lstar_zarr_array *a) {
    int rank = lstar_zarr_array_rank(a);
    const uint64_t *shape = lstar_zarr_array_shape(a), *chunks = lstar_zarr_array_chunks(a);
    size_t item = lstar_zarr_array_itemsize(a);
    uint64_t zero[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    uint64_t chunk_elems = 1, region_elems = 1;
    for (int d = 0; d < rank; d++) {
        count[d] = shape[d] < chunks[d] ? shape[d] : chunks[d];
        if (chunks[d] && chunk_elems > FUZZ_MAX_DECODED / chunks[d]) return;
        chunk_elems *= chunks[d];
        region_elems *= count[d];
    }
    if (lstar_zarr_array_dtype(a) == LSTAR_DTYPE_STRING || item == 0) {
        if (region_elems > 4096) return;
        lstar_strings s;
        if (lstar_zarr_array_read_strings(a, 0, region_elems, &s, NULL) == LSTAR_OK) {
            FUZZ_CHECK(s.n == region_elems);
            lstar_strings_destroy(&s);
        }
        return;
    }
    if (chunk_elems > FUZZ_MAX_DECODED / item) return;
    size_t nbytes = (size_t)chunk_elems * item;
    uint8_t *buf = lstar_malloc(nbytes ? nbytes : 1);
    if (!buf) return;
    (void)lstar_zarr_array_read_chunk(a, zero, buf, NULL);
    (void)lstar_zarr_array_read(a, zero, count, buf, NULL);
    lstar_free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t meta_n = nul ? (size_t)(nul - data) : size;
    const uint8_t *chunk = nul ? nul + 1 : data + size;
    size_t chunk_n = (size_t)(data + size - chunk);
    lstar_store *s = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    char *key = NULL, *attrs = NULL, *desc = NULL;
    if (lstar_store_new_memory(&s, NULL) != LSTAR_OK) return 0;
    if (lstar_store_set(s, ROOT_KEY, ROOT_DOC, strlen(ROOT_DOC), NULL) != LSTAR_OK ||
        lstar_store_set(s, META_KEY, data, meta_n, NULL) != LSTAR_OK)
        goto done;
    if (lstar_zarr_open(s, &z, NULL) != LSTAR_OK) goto done;
    if (lstar_zarr_array_open(z, "a", &a, NULL) != LSTAR_OK) goto done;
    uint64_t zero[LSTAR_MAX_RANK] = {0};
    if (lstar_zarr_array_num_chunks(a) > 0 && (key = lstar_zarr_array_chunk_key(a, zero)) != NULL &&
        lstar_store_set(s, key, chunk, chunk_n, NULL) != LSTAR_OK)
        goto done;
    desc = lstar_zarr_array_codecs_desc(a);
    (void)lstar_zarr_array_get_attrs(a, &attrs, NULL);
    if (lstar_zarr_array_num_chunks(a) > 0) read_first_chunk(a);
done:
    lstar_free(attrs);
    lstar_free(desc);
    lstar_free(key);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
    return 0;
}
