/* The h5ad image of a Zarr store: pages of bytes HDF5 wrote (metadata, small
 * arrays, strings) + address ranges served from store objects.
 *
 * Building: the store is read into the L★ model (lstar_dataset_read for L★
 * stores, lstar_anndata_read for anndata-zarr), then written as h5ad by the
 * AnnData writer in recording mode (ad_write_recorded) into an HDF5 file
 * created with the recording driver (record.c): chunk writes announced by the
 * writer become refs, everything else becomes pages.  See docs/vfd.md. */
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
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

lstar_status vfd_image_add_ref(lstar_vfd_image *img, uint64_t addr, uint32_t len, uint32_t kind, uint64_t id,
                               uint64_t obj_off, lstar_error *err) {
    if (grow((void **)&img->refs_v, &img->refs_cap, img->nrefs + 1, sizeof *img->refs_v) < 0)
        return LSTAR_NOMEM(err, img->path);
    img->refs_v[img->nrefs++] = (vfd_ref){addr, len, kind, id, obj_off};
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
    img->blobs[img->nblobs] = (vfd_blob){d, size};
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
    return LSTAR_OK;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static pthread_mutex_t g_image_lock = PTHREAD_MUTEX_INITIALIZER;

static void image_free(lstar_vfd_image *img) {
    if (!img) return;
    for (size_t i = 0; i < img->npages; i++) lstar_free(img->pages[i].data);
    lstar_free(img->pages);
    lstar_free(img->refs_v);
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
    for (size_t i = 0; i < img->nrefs; i++) s->chunk_refs += img->refs_v[i].kind == VFD_REF_STORE;
    s->fill_chunks = img->fill_chunks;
    s->decoded_chunks = img->decode_chunks;
    s->key_bytes = img->keys_len;
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

/* Decode the chunk of ref `r` (VFD_REF_DECODE) into img->dec (store_lock held). */
static lstar_status decode_chunk(lstar_vfd_image *img, const vfd_ref *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    if (img->dec_ref == r) return LSTAR_OK;
    img->dec_ref = NULL;
    vfd_array *a = &img->arrays[r->id];
    if (!img->z) LSTAR_CHECK(lstar_zarr_open(img->store, &img->z, err));
    if (!a->za) LSTAR_CHECK(lstar_zarr_array_open(img->z, a->path, &a->za, err));
    lstar_zarr_array *za = a->za;
    uint64_t coords[LSTAR_MAX_RANK], lin = r->obj_off, celems = 1;
    for (int d = za->rank - 1; d >= 0; d--) {
        uint64_t g = za->shape[d] / za->chunks[d] + (za->shape[d] % za->chunks[d] != 0);
        coords[d] = lin % g;
        lin /= g;
        celems *= za->chunks[d];
    }
    if (celems * za->itemsize != r->len)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "the array changed since the image was built");
    if (r->len > img->dec_cap) {
        lstar_free(img->dec);
        img->dec = lstar_malloc(r->len);
        img->dec_cap = img->dec ? r->len : 0;
        if (!img->dec) return LSTAR_NOMEM(err, a->path);
    }
    LSTAR_CHECK(lstar_zarr_array_read_chunk(za, coords, img->dec, err));
    img->dec_ref = r;
done:
    return st;
}

static lstar_status ref_read(lstar_vfd_image *img, const vfd_ref *r, uint64_t off, uint8_t *dst, size_t n,
                             lstar_error *err) {
    if (r->kind == VFD_REF_BLOB) {
        const vfd_blob *b = &img->blobs[r->id];
        if (off + n > b->size) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, img->path, "fill chunk shorter than recorded");
        memcpy(dst, b->data + off, n);
        return LSTAR_OK;
    }
    if (r->kind == VFD_REF_DECODE) {
        pthread_mutex_lock(&img->store_lock);
        lstar_status st = decode_chunk(img, r, err);
        if (st == LSTAR_OK) memcpy(dst, img->dec + off, n);
        pthread_mutex_unlock(&img->store_lock);
        return st;
    }
    const char *key = img->keys + r->id;
    pthread_mutex_lock(&img->store_lock);
    lstar_status st = lstar_store_get_range(img->store, key, r->obj_off + off, n, dst, err);
    pthread_mutex_unlock(&img->store_lock);
    if (st == LSTAR_ERR_NOT_FOUND || st == LSTAR_ERR_CORRUPT || st == LSTAR_ERR_IO) {
        if (err) err->status = LSTAR_ERR_CORRUPT;
        lstar_err_add_where(err, key);
        return LSTAR_ERR_CORRUPT;
    }
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

/* Load the index of shard `key` (v3 sharding_indexed) into the recorder's one-shard cache. */
static lstar_status load_shard_index(vfd_recorder *rec, const lstar_zarr_array *za, const char *key,
                                     lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *raw = NULL;
    if (rec->shard_key && strcmp(rec->shard_key, key) == 0) return LSTAR_OK;
    lstar_free(rec->shard_key);
    rec->shard_key = NULL;
    uint64_t n = za->shard_n, objsize = 0;
    size_t isz = (size_t)(n * 16 + (za->index_crc ? 4 : 0));
    if (n == 0 || n > (uint64_t)LSTAR_MAX_CHUNK_BYTES / 16)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "shard of %llu inner chunks", (unsigned long long)n);
    if (rec->shard_n != n) {
        lstar_free(rec->shard_index);
        rec->shard_index = lstar_malloc((size_t)(2 * n * sizeof *rec->shard_index));
        rec->shard_n = rec->shard_index ? n : 0;
        if (!rec->shard_index) return LSTAR_NOMEM(err, key);
    }
    lstar_error e;
    memset(&e, 0, sizeof e);
    st = lstar_store_size(rec->store, key, &objsize, &e);
    rec->shard_missing = st == LSTAR_ERR_NOT_FOUND;
    if (rec->shard_missing) {
        st = LSTAR_OK;
    } else if (st != LSTAR_OK) {
        if (err) *err = e;
        return st;
    }
    if (!rec->shard_missing) {
        if (objsize < isz) return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard shorter than its index");
        raw = lstar_malloc(isz);
        if (!raw) return LSTAR_NOMEM(err, key);
        LSTAR_CHECK(lstar_store_get_range(rec->store, key, za->index_at_start ? 0 : objsize - isz, isz, raw, err));
        for (uint64_t i = 0; i < 2 * n; i++) {
            uint64_t v = 0;
            for (int b = 0; b < 8; b++) {
                unsigned sh = za->index_big_endian ? (unsigned)(7 - b) * 8 : (unsigned)b * 8;
                v |= (uint64_t)raw[i * 8 + (uint64_t)b] << sh;
            }
            rec->shard_index[i] = v;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off = rec->shard_index[2 * i], len = rec->shard_index[2 * i + 1];
            if (off == UINT64_MAX && len == UINT64_MAX) continue;
            if (off > objsize || len > objsize - off) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard index entry %llu points past the object",
                                (unsigned long long)i);
                goto done;
            }
        }
        LSTAR_CHECK(vfd_image_add_key(rec->img, key, &rec->shard_key_off, err));
    }
    rec->shard_key = lstar_strdup(key);
    if (!rec->shard_key) st = LSTAR_NOMEM(err, key);
done:
    lstar_free(raw);
    return st;
}

/* Size of the object at `key` of a directory store: fstatat() on the key's directory, kept open
 * across calls (chunks of one array share it), instead of a path walk from the root per chunk. */
static lstar_status dir_size(vfd_recorder *rec, const char *key, uint64_t *size, lstar_error *err) {
    const char *slash = strrchr(key, '/');
    size_t dl = slash ? (size_t)(slash - key) : 0;
    const char *base = slash ? slash + 1 : key;
    if (strstr(key, "..") || key[0] == '/') return lstar_store_size(rec->store, key, size, err);
    if (!rec->dirkey || strlen(rec->dirkey) != dl || strncmp(rec->dirkey, key, dl) != 0) {
        char path[PATH_MAX];
        if (rec->dirfd >= 0) close(rec->dirfd);
        rec->dirfd = -1;
        lstar_free(rec->dirkey);
        rec->dirkey = NULL;
        int n = snprintf(path, sizeof path, "%s/%.*s", rec->img->path, (int)dl, key);
        if (n < 0 || (size_t)n >= sizeof path) return lstar_store_size(rec->store, key, size, err);
        rec->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rec->dirkey = lstar_malloc(dl + 1);
        if (!rec->dirkey) return LSTAR_NOMEM(err, key);
        memcpy(rec->dirkey, key, dl);
        rec->dirkey[dl] = 0;
    }
    struct stat sb;
    if (rec->dirfd < 0 || fstatat(rec->dirfd, base, &sb, 0) != 0 || !S_ISREG(sb.st_mode))
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such object"); /* absent chunk: fill */
    *size = (uint64_t)sb.st_size;
    return LSTAR_OK;
}

static lstar_status rec_chunk_size(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t *size,
                                   int *found, lstar_error *err) {
    vfd_recorder *rec = ud;
    lstar_status st = LSTAR_OK;
    *found = 0;
    *size = 0;
    rec->last_off = 0;
    if (za->sharded) {
        char key[LSTAR_MAX_KEY_BYTES + 1];
        uint64_t g[LSTAR_MAX_RANK], j = 0;
        for (int d = 0; d < za->rank; d++) {
            g[d] = coords[d] / za->cps[d];
            j = j * za->cps[d] + coords[d] % za->cps[d];
        }
        LSTAR_CHECK(lstar_zarr_grid_key(za, g, key, err));
        LSTAR_CHECK(load_shard_index(rec, za, key, err));
        if (rec->shard_missing) return LSTAR_OK;
        uint64_t off = rec->shard_index[2 * j], len = rec->shard_index[2 * j + 1];
        if (off == UINT64_MAX && len == UINT64_MAX) return LSTAR_OK; /* empty inner chunk: fill */
        *found = 1;
        *size = len;
        rec->last_key = rec->shard_key_off;
        rec->last_off = off;
        return LSTAR_OK;
    }
    char *key = lstar_zarr_array_chunk_key(za, coords);
    if (!key) return LSTAR_NOMEM(err, lstar_zarr_array_path(za));
    lstar_error e;
    memset(&e, 0, sizeof e);
    st = rec->is_dir ? dir_size(rec, key, size, &e) : lstar_store_size(rec->store, key, size, &e);
    if (st == LSTAR_ERR_NOT_FOUND) {
        st = LSTAR_OK;
    } else if (st != LSTAR_OK) {
        if (err) *err = e;
    } else {
        *found = 1;
        st = vfd_image_add_key(rec->img, key, &rec->last_key, err);
    }
    lstar_free(key);
    return st;
done:
    return st;
}

static void rec_chunk_begin(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size) {
    vfd_recorder *rec = ud;
    (void)za;
    rec->pending = 1;
    rec->pending_blob = coords == NULL;
    rec->pending_size = size;
    rec->pending_key = rec->last_key;
    rec->pending_off = rec->last_off;
}

static void rec_decode_begin(void *ud, struct lstar_zarr_array *za, const uint64_t *coords, uint64_t size) {
    vfd_recorder *rec = ud;
    lstar_vfd_image *img = rec->img;
    if (rec->last_za != za) { /* a new array: remember its path (arrays are written one after the other) */
        if (grow((void **)&img->arrays, &img->arrays_cap, img->narrays + 1, sizeof *img->arrays) < 0 ||
            !(img->arrays[img->narrays].path = lstar_strdup(lstar_zarr_array_path(za)))) {
            if (rec->failed == LSTAR_OK) rec->failed = LSTAR_NOMEM(&rec->err, img->path);
            return;
        }
        img->arrays[img->narrays].za = NULL;
        rec->last_array = img->narrays++;
        rec->last_za = za;
    }
    uint64_t lin = 0;
    for (int d = 0; d < za->rank; d++) lin = lin * (za->shape[d] / za->chunks[d] + (za->shape[d] % za->chunks[d] != 0)) + coords[d];
    rec->pending = 1;
    rec->pending_blob = 0;
    rec->pending_decode = 1;
    rec->pending_size = size;
    rec->pending_key = rec->last_array;
    rec->pending_off = lin;
}

static void rec_chunk_end(void *ud) {
    vfd_recorder *rec = ud;
    if (rec->pending && rec->failed == LSTAR_OK) {
        /* HDF5 did not issue the announced write as one raw write: the map would be wrong */
        rec->failed = LSTAR_FAIL(&rec->err, LSTAR_ERR_UNSUPPORTED, rec->img->path,
                                 "HDF5 did not write a chunk as one raw write (cannot map it)");
    }
    rec->pending = 0;
    rec->pending_decode = 0;
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
    rec.dirfd = -1;
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
        /* a metadata cache large enough that chunk-index nodes are not evicted and re-read while the
         * writer inserts thousands of chunks (transient: freed at H5Fclose) */
        H5AC_cache_config_t mdc;
        memset(&mdc, 0, sizeof mdc);
        mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
        if (H5Pget_mdc_config(fapl, &mdc) >= 0) {
            mdc.set_initial_size = 1;
            mdc.initial_size = 32u << 20;
            mdc.max_size = 128u << 20; /* H5C's upper bound */
            if (mdc.min_size > mdc.initial_size) mdc.min_size = mdc.initial_size;
            H5E_BEGIN_TRY { H5Pset_mdc_config(fapl, &mdc); } H5E_END_TRY; /* best effort */
        }
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
    lstar_free(rec.shard_key);
    lstar_free(rec.dirkey);
    if (rec.dirfd >= 0) close(rec.dirfd);
    lstar_free(rec.shard_index);
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
    return st;
}
