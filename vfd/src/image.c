/* The h5ad image of a Zarr store: pages of bytes HDF5 wrote (metadata, small
 * arrays, strings) + address ranges served from store objects.
 *
 * Building: the store is read into the L★ model (lstar_dataset_read for L★
 * stores, lstar_anndata_read for anndata-zarr), then written as h5ad by the
 * AnnData writer in recording mode (ad_write_recorded) into an HDF5 file
 * created with the recording driver (record.c): chunk writes announced by the
 * writer become refs, everything else becomes pages.  See docs/vfd.md. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <hdf5.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/codec.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/zarr.h"
#include "vfd_internal.h"
#include "zarr/zarr_internal.h" /* shard layout of an array (sharded, cps, shard_n, index_*) */

/* ---- pages, refs, keys, blobs ------------------------------------------------------------------ */

static size_t page_find(const lstar_vfd_image *img, uint64_t idx, int *found) {
    size_t lo = 0, hi = img->npages;
    if (hi && img->pages[hi - 1].idx < idx) { /* the common case: appending */
        *found = 0;
        return hi;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (img->pages[mid].idx < idx) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < img->npages && img->pages[lo].idx == idx;
    return lo;
}

static int grow(void **v, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need) n *= 2;
    void *p = lstar_realloc(*v, n * elem);
    if (!p) return -1;
    *v = p;
    *cap = n;
    return 0;
}

lstar_status vfd_image_put(lstar_vfd_image *img, uint64_t addr, const void *buf, size_t size, lstar_error *err) {
    const uint8_t *src = buf;
    while (size) {
        uint64_t idx = addr / VFD_PAGE;
        size_t in = (size_t)(addr % VFD_PAGE), n = VFD_PAGE - in < size ? VFD_PAGE - in : size;
        int found = 0;
        size_t at = page_find(img, idx, &found);
        if (!found) {
            if (grow((void **)&img->pages, &img->pages_cap, img->npages + 1, sizeof *img->pages) < 0)
                return LSTAR_NOMEM(err, img->path);
            uint8_t *d = lstar_calloc(1, VFD_PAGE);
            if (!d) return LSTAR_NOMEM(err, img->path);
            memmove(img->pages + at + 1, img->pages + at, (img->npages - at) * sizeof *img->pages);
            img->pages[at].idx = idx;
            img->pages[at].data = d;
            img->npages++;
        }
        memcpy(img->pages[at].data + in, src, n);
        src += n;
        addr += n;
        size -= n;
    }
    return LSTAR_OK;
}

void vfd_image_read_pages(const lstar_vfd_image *img, uint64_t addr, void *buf, size_t size) {
    uint8_t *dst = buf;
    while (size) {
        uint64_t idx = addr / VFD_PAGE;
        size_t in = (size_t)(addr % VFD_PAGE), n = VFD_PAGE - in < size ? VFD_PAGE - in : size;
        int found = 0;
        size_t at = page_find(img, idx, &found);
        if (found) memcpy(dst, img->pages[at].data + in, n);
        else memset(dst, 0, n);
        dst += n;
        addr += n;
        size -= n;
    }
}

lstar_status vfd_image_add_ref(lstar_vfd_image *img, uint64_t addr, uint32_t len, uint32_t src, uint64_t arg,
                               lstar_error *err) {
    if (grow((void **)&img->refs_v, &img->refs_cap, img->nrefs + 1, sizeof *img->refs_v) < 0)
        return LSTAR_NOMEM(err, img->path);
    img->refs_v[img->nrefs++] = (vfd_ref){addr, len, src, arg};
    return LSTAR_OK;
}

lstar_status vfd_image_add_src(lstar_vfd_image *img, uint32_t kind, uint32_t idx, uint64_t key, uint32_t *out,
                               lstar_error *err) {
    if (img->nsrcs >= UINT32_MAX) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, img->path, "too many chunk sources");
    if (grow((void **)&img->srcs, &img->srcs_cap, img->nsrcs + 1, sizeof *img->srcs) < 0)
        return LSTAR_NOMEM(err, img->path);
    img->srcs[img->nsrcs] = (vfd_src){kind, idx, key};
    *out = (uint32_t)img->nsrcs++;
    return LSTAR_OK;
}

lstar_status vfd_image_add_key(lstar_vfd_image *img, const char *key, uint64_t *off, lstar_error *err) {
    size_t n = strlen(key) + 1;
    if (grow((void **)&img->keys, &img->keys_cap, img->keys_len + n, 1) < 0) return LSTAR_NOMEM(err, key);
    memcpy(img->keys + img->keys_len, key, n);
    *off = img->keys_len;
    img->keys_len += n;
    return LSTAR_OK;
}

lstar_status vfd_image_add_blob(lstar_vfd_image *img, const void *data, size_t size, uint64_t *idx,
                                lstar_error *err) {
    for (size_t i = img->nblobs; i-- > 0 && i + 8 >= img->nblobs;) { /* the last few: one per array */
        if (img->blobs[i].size == size && memcmp(img->blobs[i].data, data, size) == 0) {
            *idx = i;
            return LSTAR_OK;
        }
    }
    if (grow((void **)&img->blobs, &img->blobs_cap, img->nblobs + 1, sizeof *img->blobs) < 0)
        return LSTAR_NOMEM(err, img->path);
    uint8_t *d = lstar_malloc(size ? size : 1);
    if (!d) return LSTAR_NOMEM(err, img->path);
    memcpy(d, data, size);
    img->blobs[img->nblobs] = (vfd_blob){d, size, UINT32_MAX};
    *idx = img->nblobs++;
    return LSTAR_OK;
}

static int ref_cmp(const void *a, const void *b) {
    const vfd_ref *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

lstar_status vfd_image_finish(lstar_vfd_image *img, uint64_t size, lstar_error *err) {
    if (img->nrefs) qsort(img->refs_v, img->nrefs, sizeof *img->refs_v, ref_cmp);
    for (size_t i = 0; i < img->nrefs; i++) {
        const vfd_ref *r = &img->refs_v[i];
        if ((i + 1 < img->nrefs && r->addr + r->len > img->refs_v[i + 1].addr) || r->addr + r->len > size)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, img->path, "chunk ranges of the image overlap (HDF5 reused space)");
    }
    img->size = size;
    /* the tables stay for the image's lifetime: give back what doubling over-allocated */
    if (img->refs_cap > img->nrefs && img->nrefs) {
        vfd_ref *r = lstar_realloc(img->refs_v, img->nrefs * sizeof *img->refs_v);
        if (r) {
            img->refs_v = r;
            img->refs_cap = img->nrefs;
        }
    }
    if (img->keys_cap > img->keys_len && img->keys_len) {
        char *k = lstar_realloc(img->keys, img->keys_len);
        if (k) {
            img->keys = k;
            img->keys_cap = img->keys_len;
        }
    }
    return LSTAR_OK;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static pthread_mutex_t g_image_lock = PTHREAD_MUTEX_INITIALIZER;

static void image_free(lstar_vfd_image *img) {
    if (!img) return;
    for (size_t i = 0; i < img->npages; i++) lstar_free(img->pages[i].data);
    lstar_free(img->pages);
    lstar_free(img->refs_v);
    lstar_free(img->srcs);
    lstar_free(img->keys);
    for (size_t i = 0; i < img->nblobs; i++) lstar_free(img->blobs[i].data);
    lstar_free(img->blobs);
    lstar_strings_destroy(&img->dropped);
    for (size_t i = 0; i < img->narrays; i++) {
        lstar_zarr_array_close(img->arrays[i].za);
        lstar_free(img->arrays[i].path);
    }
    lstar_free(img->arrays);
    lstar_free(img->dec);
    lstar_zarr_close(img->z);
    lstar_store_close(img->store);
    pthread_mutex_destroy(&img->store_lock);
    lstar_free(img->path);
    lstar_free(img);
}

void lstar_vfd_image_ref(lstar_vfd_image *img) {
    if (!img) return;
    pthread_mutex_lock(&g_image_lock);
    img->refs++;
    pthread_mutex_unlock(&g_image_lock);
}

void lstar_vfd_image_close(lstar_vfd_image *img) {
    if (!img) return;
    pthread_mutex_lock(&g_image_lock);
    int last = --img->refs == 0;
    pthread_mutex_unlock(&g_image_lock);
    if (last) image_free(img);
}

uint64_t lstar_vfd_image_size(const lstar_vfd_image *img) { return img ? img->size : 0; }

const lstar_strings *lstar_vfd_image_dropped(const lstar_vfd_image *img) { return img ? &img->dropped : NULL; }

void lstar_vfd_image_get_stats(const lstar_vfd_image *img, lstar_vfd_image_stats *s) {
    memset(s, 0, sizeof *s);
    if (!img) return;
    s->size = img->size;
    s->metadata_bytes = (uint64_t)img->npages * VFD_PAGE;
    for (size_t i = 0; i < img->nrefs; i++) s->chunk_refs += img->srcs[img->refs_v[i].src].kind <= VFD_SRC_SHARD;
    s->fill_chunks = img->fill_chunks;
    s->decoded_chunks = img->decode_chunks;
    s->key_bytes = img->keys_len;
    s->map_bytes = img->refs_cap * sizeof *img->refs_v + img->srcs_cap * sizeof *img->srcs + img->keys_cap +
                   img->arrays_cap * sizeof *img->arrays + img->pages_cap * sizeof *img->pages;
    for (size_t i = 0; i < img->narrays; i++) s->map_bytes += strlen(img->arrays[i].path) + 1;
    for (size_t i = 0; i < img->nblobs; i++) s->map_bytes += img->blobs[i].size;
}

/* ---- reads ----------------------------------------------------------------------------------- */

/* The first ref ending after `addr`. */
static size_t ref_first(const lstar_vfd_image *img, uint64_t addr) {
    size_t lo = 0, hi = img->nrefs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vfd_ref *r = &img->refs_v[mid];
        if (r->addr + r->len <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Array `idx` of the image, opened from the store at its first use (store_lock held): a mapped array
 * whose chunk grid changed since the image was built is refused. */
static lstar_status image_array(lstar_vfd_image *img, uint32_t idx, lstar_zarr_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    vfd_array *a = &img->arrays[idx];
    lstar_zarr_array *za = NULL;
    if (!a->za) {
        if (!img->z) LSTAR_CHECK(lstar_zarr_open(img->store, &img->z, err));
        LSTAR_CHECK(lstar_zarr_array_open(img->z, a->path, &za, err));
        if (lstar_zarr_array_num_chunks(za) != a->nchunks) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "the array changed since the image was built");
            goto done;
        }
        a->za = za;
        za = NULL;
    }
    *out = a->za;
done:
    lstar_zarr_array_close(za);
    return st;
}

/* Grid coordinates of chunk `lin` (C order) of `za`. */
static void chunk_coords(const lstar_zarr_array *za, uint64_t lin, uint64_t *coords) {
    for (int d = za->rank - 1; d >= 0; d--) {
        uint64_t g = za->shape[d] / za->chunks[d] + (za->shape[d] % za->chunks[d] != 0);
        coords[d] = lin % g;
        lin /= g;
    }
}

/* Decode the chunk of ref `r` (VFD_SRC_DECODE) into img->dec (store_lock held). */
static lstar_status decode_chunk(lstar_vfd_image *img, const vfd_ref *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr_array *za = NULL;
    if (img->dec_ref == r) return LSTAR_OK;
    img->dec_ref = NULL;
    LSTAR_CHECK(image_array(img, img->srcs[r->src].idx, &za, err));
    uint64_t coords[LSTAR_MAX_RANK], celems = 1;
    chunk_coords(za, r->arg, coords);
    for (int d = 0; d < za->rank; d++) celems *= za->chunks[d];
    if (celems * za->itemsize != r->len)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, za->path, "the array changed since the image was built");
    if (r->len > img->dec_cap) {
        lstar_free(img->dec);
        img->dec = lstar_malloc(r->len);
        img->dec_cap = img->dec ? r->len : 0;
        if (!img->dec) return LSTAR_NOMEM(err, za->path);
    }
    LSTAR_CHECK(lstar_zarr_array_read_chunk(za, coords, img->dec, err));
    img->dec_ref = r;
done:
    return st;
}

/* Bytes [off, off + n) of a chunk object (store_lock held). */
static lstar_status object_read(lstar_vfd_image *img, const vfd_ref *r, const vfd_src *s, uint64_t off, uint8_t *dst,
                                size_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char buf[LSTAR_MAX_KEY_BYTES + 1];
    const char *key = buf;
    uint64_t at = off;
    if (s->kind == VFD_SRC_SHARD) {
        key = img->keys + s->key;
        at += r->arg;
    } else {
        lstar_zarr_array *za = NULL;
        uint64_t coords[LSTAR_MAX_RANK];
        LSTAR_CHECK(image_array(img, s->idx, &za, err));
        chunk_coords(za, r->arg, coords);
        LSTAR_CHECK(lstar_zarr_grid_key(za, coords, buf, err));
    }
    st = lstar_store_get_range(img->store, key, at, n, dst, err);
    if (st == LSTAR_ERR_NOT_FOUND || st == LSTAR_ERR_CORRUPT || st == LSTAR_ERR_IO) {
        if (err) err->status = LSTAR_ERR_CORRUPT;
        lstar_err_add_where(err, key);
        st = LSTAR_ERR_CORRUPT;
    }
done:
    return st;
}

static lstar_status ref_read(lstar_vfd_image *img, const vfd_ref *r, uint64_t off, uint8_t *dst, size_t n,
                             lstar_error *err) {
    const vfd_src *s = &img->srcs[r->src];
    lstar_status st = LSTAR_OK;
    if (s->kind == VFD_SRC_BLOB) {
        const vfd_blob *b = &img->blobs[s->idx];
        if (off + n > b->size) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, img->path, "fill chunk shorter than recorded");
        memcpy(dst, b->data + off, n);
        return LSTAR_OK;
    }
    pthread_mutex_lock(&img->store_lock);
    if (s->kind == VFD_SRC_DECODE) {
        st = decode_chunk(img, r, err);
        if (st == LSTAR_OK) memcpy(dst, img->dec + off, n);
    } else {
        st = object_read(img, r, s, off, dst, n, err);
    }
    pthread_mutex_unlock(&img->store_lock);
    return st;
}

lstar_status lstar_vfd_image_read(lstar_vfd_image *img, uint64_t offset, void *buf, size_t len, lstar_error *err) {
    uint8_t *dst = buf;
    if (!img || (!buf && len)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_vfd_image_read: NULL argument");
    size_t i = ref_first(img, offset);
    while (len) {
        const vfd_ref *r = i < img->nrefs ? &img->refs_v[i] : NULL;
        if (r && r->addr <= offset) { /* inside a ref */
            uint64_t in = offset - r->addr;
            size_t n = r->len - in < len ? (size_t)(r->len - in) : len;
            lstar_status st = ref_read(img, r, in, dst, n, err);
            if (st != LSTAR_OK) return st;
            dst += n;
            offset += n;
            len -= n;
            i++;
            continue;
        }
        /* pages up to the next ref */
        size_t n = r && r->addr - offset < len ? (size_t)(r->addr - offset) : len;
        vfd_image_read_pages(img, offset, dst, n);
        dst += n;
        offset += n;
        len -= n;
    }
    return LSTAR_OK;
}

/* ---- building -------------------------------------------------------------------------------- */

/* Make `za` the recorder's current array: a new entry of img->arrays when it changes (the writer
 * maps arrays one after the other). */
static lstar_status rec_array(vfd_recorder *rec, const lstar_zarr_array *za, lstar_error *err) {
    lstar_vfd_image *img = rec->img;
    if (rec->cur_za == za) return LSTAR_OK;
    if (img->narrays >= UINT32_MAX) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, img->path, "too many arrays");
    if (grow((void **)&img->arrays, &img->arrays_cap, img->narrays + 1, sizeof *img->arrays) < 0)
        return LSTAR_NOMEM(err, img->path);
    char *p = lstar_strdup(lstar_zarr_array_path(za));
    if (!p) return LSTAR_NOMEM(err, img->path);
    img->arrays[img->narrays] = (vfd_array){p, lstar_zarr_array_num_chunks(za), NULL};
    rec->cur_array = (uint32_t)img->narrays++;
    rec->cur_za = za;
    rec->cur_chunk_src = rec->cur_decode_src = UINT32_MAX;
    lstar_free(rec->sizes);
    rec->sizes = NULL;
    rec->nsizes = 0;
    return LSTAR_OK;
}

/* C-order index of chunk `coords` of `za`. */
static uint64_t chunk_linear(const lstar_zarr_array *za, const uint64_t *coords) {
    uint64_t lin = 0;
    for (int d = 0; d < za->rank; d++)
        lin = lin * (za->shape[d] / za->chunks[d] + (za->shape[d] % za->chunks[d] != 0)) + coords[d];
    return lin;
}

/* ---- v3 shards: the index of each shard is read (and its crc32c checked) once ---- */

static void shard_slot_clear(vfd_shard_slot *s) {
    lstar_free(s->key);
    lstar_free(s->index);
    memset(s, 0, sizeof *s);
}

/* Read and check the index of shard `key` of `za` into slot `s` (empty). */
static lstar_status shard_load(vfd_recorder *rec, const lstar_zarr_array *za, const char *key, vfd_shard_slot *s,
                               lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *raw = NULL;
    uint64_t n = za->shard_n, objsize = 0;
    size_t isz = (size_t)(n * 16 + (za->index_crc ? 4 : 0));
    if (n == 0 || n > (uint64_t)LSTAR_MAX_CHUNK_BYTES / 16)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "shard of %llu inner chunks", (unsigned long long)n);
    lstar_error e;
    memset(&e, 0, sizeof e);
    st = lstar_store_size(rec->store, key, &objsize, &e);
    if (st == LSTAR_ERR_NOT_FOUND) { /* the whole shard is fill */
        st = LSTAR_OK;
    } else if (st != LSTAR_OK) {
        if (err) *err = e;
        return st;
    } else {
        if (objsize < isz) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard shorter than its index");
        raw = lstar_malloc(isz);
        s->index = lstar_malloc((size_t)(2 * n * sizeof *s->index));
        if (!raw || !s->index) {
            st = LSTAR_NOMEM(err, key);
            goto done;
        }
        LSTAR_CHECK(lstar_store_get_range(rec->store, key, za->index_at_start ? 0 : objsize - isz, isz, raw, err));
        if (za->index_crc) {
            size_t m = (size_t)(16 * n);
            uint32_t want = (uint32_t)raw[m] | (uint32_t)raw[m + 1] << 8 | (uint32_t)raw[m + 2] << 16 |
                            (uint32_t)raw[m + 3] << 24;
            uint32_t got = lstar_crc32c(0, raw, m);
            if (want != got) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key,
                                "shard index checksum mismatch (stored %08x, computed %08x)", want, got);
                goto done;
            }
        }
        for (uint64_t i = 0; i < 2 * n; i++) {
            uint64_t v = 0;
            for (int b = 0; b < 8; b++) {
                unsigned sh = za->index_big_endian ? (unsigned)(7 - b) * 8 : (unsigned)b * 8;
                v |= (uint64_t)raw[i * 8 + (uint64_t)b] << sh;
            }
            s->index[i] = v;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off = s->index[2 * i], len = s->index[2 * i + 1];
            if (off == UINT64_MAX && len == UINT64_MAX) continue;
            if (off > objsize || len > objsize - off) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard index entry %llu points past the object",
                                (unsigned long long)i);
                goto done;
            }
        }
        uint64_t koff = 0;
        LSTAR_CHECK(vfd_image_add_key(rec->img, key, &koff, err));
        LSTAR_CHECK(vfd_image_add_src(rec->img, VFD_SRC_SHARD, rec->cur_array, koff, &s->src, err));
    }
    s->n = n;
    if (!(s->key = lstar_strdup(key))) st = LSTAR_NOMEM(err, key);
done:
    lstar_free(raw);
    if (st != LSTAR_OK) shard_slot_clear(s);
    return st;
}

/* The slot of shard `key`: one of the last VFD_SHARD_SLOTS shards, else loaded into the least
 * recently used slot (a 2-D shard grid visits shards alternately in C order). */
static lstar_status shard_get(vfd_recorder *rec, const lstar_zarr_array *za, const char *key, vfd_shard_slot **out,
                              lstar_error *err) {
    vfd_shard_slot *lru = &rec->shards[0];
    for (int i = 0; i < VFD_SHARD_SLOTS; i++) {
        vfd_shard_slot *s = &rec->shards[i];
        if (s->key && s->n == za->shard_n && strcmp(s->key, key) == 0) {
            s->used = ++rec->shard_clock;
            *out = s;
            return LSTAR_OK;
        }
        if (!s->key || (lru->key && s->used < lru->used)) lru = s;
    }
    shard_slot_clear(lru);
    lstar_status st = shard_load(rec, za, key, lru, err);
    if (st != LSTAR_OK) return st;
    lru->used = ++rec->shard_clock;
    *out = lru;
    return LSTAR_OK;
}

/* ---- directory stores: the sizes of an array's chunk objects, looked up by a few threads ---- */

#define VFD_SIZE_WINDOW ((uint64_t)1 << 20) /* chunks looked up at once (8 MiB of sizes) */

typedef struct size_job {
    const char *root;              /* the store's directory */
    const lstar_zarr_array *za;
    uint64_t first, n;             /* chunks [first, first + n) of za */
    uint64_t *sizes;
} size_job;

/* Stat chunk objects [first, first + n) relative to their directory, which stays open while
 * consecutive keys share it.  Absent objects (and directories) → VFD_SIZE_ABSENT; anything odd
 * → VFD_SIZE_ASK (the store is asked, and reports the error). */
static void *size_worker(void *arg) {
    const size_job *j = arg;
    char key[LSTAR_MAX_KEY_BYTES + 1], path[PATH_MAX], dir[LSTAR_MAX_KEY_BYTES + 1];
    int dirfd = -1, dir_ok = 0;
    dir[0] = 0;
    uint64_t coords[LSTAR_MAX_RANK];
    for (uint64_t k = 0; k < j->n; k++) {
        uint64_t *out = &j->sizes[k];
        *out = VFD_SIZE_ASK;
        chunk_coords(j->za, j->first + k, coords);
        if (lstar_zarr_grid_key(j->za, coords, key, NULL) != LSTAR_OK || key[0] == '/' || strstr(key, "..")) continue;
        const char *slash = strrchr(key, '/');
        size_t dl = slash ? (size_t)(slash - key) : 0;
        const char *base = slash ? slash + 1 : key;
        if (!dir_ok || strlen(dir) != dl || strncmp(dir, key, dl) != 0) {
            if (dirfd >= 0) close(dirfd);
            memcpy(dir, key, dl);
            dir[dl] = 0;
            dir_ok = 1;
            int w = snprintf(path, sizeof path, "%s/%s", j->root, dir);
            dirfd = w < 0 || (size_t)w >= sizeof path ? -2 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dirfd == -1 && errno != ENOENT && errno != ENOTDIR) dirfd = -2;
        }
        if (dirfd == -2) continue;                     /* ask the store */
        if (dirfd < 0) { *out = VFD_SIZE_ABSENT; continue; } /* no such directory: every chunk in it is fill */
        struct stat sb;
        if (fstatat(dirfd, base, &sb, 0) == 0) {
            if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < VFD_SIZE_ASK) *out = (uint64_t)sb.st_size;
        } else if (errno == ENOENT || errno == ENOTDIR) {
            *out = VFD_SIZE_ABSENT;
        }
    }
    if (dirfd >= 0) close(dirfd);
    return NULL;
}

/* Look up the sizes of chunks [first, …) of the current array (a window of them). */
static lstar_status sizes_fetch(vfd_recorder *rec, const lstar_zarr_array *za, uint64_t first, lstar_error *err) {
    uint64_t total = lstar_zarr_array_num_chunks(za);
    uint64_t n = total - first < VFD_SIZE_WINDOW ? total - first : VFD_SIZE_WINDOW;
    if (!rec->sizes || rec->nsizes < n) {
        lstar_free(rec->sizes);
        rec->nsizes = 0;
        rec->sizes = lstar_malloc((size_t)(n ? n : 1) * sizeof *rec->sizes);
        if (!rec->sizes) return LSTAR_NOMEM(err, lstar_zarr_array_path(za));
    }
    rec->nsizes = n;
    rec->sizes_first = first;
    enum { MAX_THREADS = 4, MIN_PER_THREAD = 256 };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t nt = cpus > 1 ? (uint64_t)cpus : 1;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    if (nt > n / MIN_PER_THREAD) nt = n / MIN_PER_THREAD ? n / MIN_PER_THREAD : 1;
    size_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (uint64_t t = 0; t < nt; t++) {
        uint64_t lo = n * t / nt, hi = n * (t + 1) / nt;
        jobs[t] = (size_job){rec->img->path, za, first + lo, hi - lo, rec->sizes + lo};
        if (t > 0) started[t] = pthread_create(&th[t], NULL, size_worker, &jobs[t]) == 0;
    }
    size_worker(&jobs[0]);
    for (uint64_t t = 1; t < nt; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else size_worker(&jobs[t]); /* no thread: do it here */
    }
    return LSTAR_OK;
}

static lstar_status rec_chunk_size(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t *size,
                                   int *found, lstar_error *err) {
    vfd_recorder *rec = ud;
    lstar_status st = LSTAR_OK;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    *found = 0;
    *size = 0;
    LSTAR_CHECK(rec_array(rec, za, err));
    if (za->sharded) {
        uint64_t g[LSTAR_MAX_RANK], j = 0;
        vfd_shard_slot *s = NULL;
        for (int d = 0; d < za->rank; d++) {
            g[d] = coords[d] / za->cps[d];
            j = j * za->cps[d] + coords[d] % za->cps[d];
        }
        LSTAR_CHECK(lstar_zarr_grid_key(za, g, key, err));
        LSTAR_CHECK(shard_get(rec, za, key, &s, err));
        if (!s->index) return LSTAR_OK; /* missing shard: fill */
        uint64_t off = s->index[2 * j], len = s->index[2 * j + 1];
        if (off == UINT64_MAX && len == UINT64_MAX) return LSTAR_OK; /* empty inner chunk: fill */
        *found = 1;
        *size = len;
        rec->last_src = s->src;
        rec->last_arg = off;
        return LSTAR_OK;
    }
    uint64_t lin = chunk_linear(za, coords), v = VFD_SIZE_ASK;
    if (rec->is_dir) {
        if (!rec->sizes || lin < rec->sizes_first || lin - rec->sizes_first >= rec->nsizes)
            LSTAR_CHECK(sizes_fetch(rec, za, lin, err));
        v = rec->sizes[lin - rec->sizes_first];
    }
    if (v == VFD_SIZE_ABSENT) return LSTAR_OK;
    if (v == VFD_SIZE_ASK) {
        lstar_error e;
        memset(&e, 0, sizeof e);
        LSTAR_CHECK(lstar_zarr_grid_key(za, coords, key, err));
        st = lstar_store_size(rec->store, key, &v, &e);
        if (st == LSTAR_ERR_NOT_FOUND) return LSTAR_OK;
        if (st != LSTAR_OK) {
            if (err) *err = e;
            return st;
        }
    }
    if (rec->cur_chunk_src == UINT32_MAX)
        LSTAR_CHECK(vfd_image_add_src(rec->img, VFD_SRC_CHUNK, rec->cur_array, 0, &rec->cur_chunk_src, err));
    *found = 1;
    *size = v;
    rec->last_src = rec->cur_chunk_src;
    rec->last_arg = lin;
done:
    return st;
}

static void rec_chunk_begin(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size) {
    vfd_recorder *rec = ud;
    (void)za;
    rec->pending = 1;
    rec->pending_blob = coords == NULL;
    rec->pending_size = size;
    rec->pending_src = rec->last_src;
    rec->pending_arg = rec->last_arg;
}

static void rec_decode_begin(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size) {
    vfd_recorder *rec = ud;
    lstar_status st = rec_array(rec, za, &rec->err);
    if (st == LSTAR_OK && rec->cur_decode_src == UINT32_MAX)
        st = vfd_image_add_src(rec->img, VFD_SRC_DECODE, rec->cur_array, 0, &rec->cur_decode_src, &rec->err);
    if (st != LSTAR_OK) {
        if (rec->failed == LSTAR_OK) rec->failed = st;
        return; /* the write that follows is recorded as pages; the build fails */
    }
    rec->pending = 1;
    rec->pending_blob = 0;
    rec->pending_size = size;
    rec->pending_src = rec->cur_decode_src;
    rec->pending_arg = chunk_linear(za, coords);
}

static void rec_chunk_end(void *ud) {
    vfd_recorder *rec = ud;
    if (rec->pending && rec->failed == LSTAR_OK) {
        /* HDF5 did not issue the announced write as one raw write: the map would be wrong */
        rec->failed = LSTAR_FAIL(&rec->err, LSTAR_ERR_UNSUPPORTED, rec->img->path,
                                 "HDF5 did not write a chunk as one raw write (cannot map it)");
    }
    rec->pending = 0;
}

const char *vfd_default_plugin_dir(void) {
    const char *env = getenv("LSTAR_PLUGIN_DIR");
    if (env && *env) return env;
    struct stat sb;
#ifdef LSTAR_VFD_BUILD_PLUGIN_DIR
    if (stat(LSTAR_VFD_BUILD_PLUGIN_DIR, &sb) == 0) return LSTAR_VFD_BUILD_PLUGIN_DIR;
#endif
#ifdef LSTAR_VFD_INSTALL_PLUGIN_DIR
    if (stat(LSTAR_VFD_INSTALL_PLUGIN_DIR, &sb) == 0) return LSTAR_VFD_INSTALL_PLUGIN_DIR;
#endif
    (void)sb;
    return NULL;
}

static int is_hdf5_file(const char *path) {
    FILE *f = fopen(path, "rb");
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8];
    int yes = 0;
    if (!f) return 0;
    for (long off = 0; off <= 4096 && !yes; off = off ? off * 2 : 512) {
        if (fseek(f, off, SEEK_SET) != 0 || fread(b, 1, 8, f) != 8) break;
        yes = memcmp(b, sig, 8) == 0;
    }
    fclose(f);
    return yes;
}

lstar_status vfd_image_build(const char *path, const lstar_dataset *ds, const lstar_vfd_config *cfg,
                             lstar_vfd_image **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_vfd_image *img = NULL;
    vfd_recorder rec;
    hid_t fapl = -1;
    memset(&rec, 0, sizeof rec);
    *out = NULL;
    img = lstar_calloc(1, sizeof *img);
    if (!img || !(img->path = lstar_strdup(path))) {
        lstar_free(img);
        return LSTAR_NOMEM(err, path);
    }
    img->refs = 1;
    pthread_mutex_init(&img->store_lock, NULL);
    LSTAR_CHECK(lstar_store_open(path, LSTAR_STORE_READ, &img->store, err));
    rec.img = img;
    rec.store = img->store;
    rec.is_dir = strcmp(lstar_store_backend(img->store), "directory") == 0;
    if (vfd_recorder_driver() < 0 || (fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 || vfd_recorder_set_fapl(fapl, &rec) < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot set up the recording driver");
        goto done;
    }
    {
        /* HDF5's metadata cache while the writer inserts the chunks: 2 MiB to start with (HDF5's own
         * default; a 32 MiB start kept every node of a v1 B-tree chunk index in memory twice, +10 MB
         * peak at 135k chunks, for no gain in time).  An insert touches one path of the index, which
         * stays cached; H5C grows the cache itself, up to max_size, if its hit rate drops. */
        H5AC_cache_config_t mdc;
        memset(&mdc, 0, sizeof mdc);
        mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
        if (H5Pget_mdc_config(fapl, &mdc) >= 0) {
            mdc.set_initial_size = 1;
            mdc.initial_size = 2u << 20;
            mdc.max_size = 128u << 20; /* H5C's upper bound */
            if (mdc.min_size > mdc.initial_size) mdc.min_size = mdc.initial_size;
            H5E_BEGIN_TRY { H5Pset_mdc_config(fapl, &mdc); } H5E_END_TRY; /* best effort */
        }
    }
    /* HDF5 1.10's file format: chunked datasets with a fixed / extensible array chunk index (about
     * 16 bytes per chunk in the image instead of the v1 B-tree's 90-130); readable by HDF5 >= 1.10
     * (h5py >= 2.8 built on it), not by 1.8.  The AnnData layout (groups, encodings, attributes,
     * values, chunk shapes, filters) is what lstar convert writes either way.  See docs/vfd.md. */
    /* metadata aggregated in 64 KiB blocks (HDF5's default: 2 KiB): chunk-index nodes are not strewn
     * between chunks, each in pages of its own (a v1 B-tree image held 2-3x its bytes in pages) */
    if (H5Pset_meta_block_size(fapl, 64u << 10) < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot set the metadata block size");
        goto done;
    }
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST) < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot set the file format version bounds");
        goto done;
    }
    ad_recorder ar;
    memset(&ar, 0, sizeof ar);
    ar.fapl = fapl;
    ar.name = path;
    ar.plugin_dir = cfg && cfg->plugin_dir ? cfg->plugin_dir : vfd_default_plugin_dir();
    ar.chunk_size = rec_chunk_size;
    ar.chunk_begin = rec_chunk_begin;
    ar.chunk_end = rec_chunk_end;
    ar.decode_begin = rec_decode_begin;
    ar.ud = &rec;
    st = ad_write_recorded(ds, &ar, &img->dropped, err); /* fills img->dropped on success */
    if (st == LSTAR_OK && rec.failed != LSTAR_OK) {
        st = rec.failed;
        if (err) *err = rec.err;
    }
    LSTAR_CHECK(st);
    /* what the reader could not map (e.g. "obsm/df (dataframe)") is missing from the view too */
    for (size_t i = 0; i < lstar_dataset_dropped_count(ds); i++) {
        const char *d = lstar_dataset_dropped(ds, i);
        if (d) LSTAR_CHECK(lstar_strings_append(&img->dropped, d, strlen(d), err));
    }
    LSTAR_CHECK(vfd_image_finish(img, rec.eof > rec.eoa ? rec.eof : rec.eoa, err));
    *out = img;
    img = NULL;
done:
    if (fapl >= 0) H5Pclose(fapl);
    for (int i = 0; i < VFD_SHARD_SLOTS; i++) shard_slot_clear(&rec.shards[i]);
    lstar_free(rec.sizes);
    if (img) image_free(img);
    return st;
}

lstar_status lstar_vfd_image_open(const char *path, const lstar_vfd_config *cfg, lstar_vfd_image **out,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_dataset *ds = NULL;
    lstar_store *store = NULL;
    struct stat sb;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_vfd_image_open: NULL argument");
    if (stat(path, &sb) != 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no such store");
    if (S_ISREG(sb.st_mode) && is_hdf5_file(path))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                          "'%s' is an HDF5 file already: open it without the lstar driver", path);
    LSTAR_CHECK(lstar_store_open(path, LSTAR_STORE_READ, &store, err));
    if (lstar_store_is_lstar(store)) {
        LSTAR_CHECK(lstar_dataset_read(path, &ds, err));
    } else {
        lstar_anndata_read_options ro;
        lstar_anndata_read_options_init(&ro);
        ro.modality = cfg ? cfg->modality : NULL;
        LSTAR_CHECK(lstar_anndata_read(path, &ro, &ds, err));
    }
    st = vfd_image_build(path, ds, cfg, out, err);
done:
    lstar_store_close(store);
    lstar_dataset_free(ds);
    /* building the image is transient (the store's labels, HDF5's metadata cache and free lists, the
     * writer's buffers): hand the freed memory back, so the process keeps what the image holds */
    H5garbage_collect();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return st;
}
