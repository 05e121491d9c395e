/* Internal to liblstar_vfd: the image (image.c), the recording driver
 * (record.c) and the serving driver (driver.c). */
#ifndef LSTAR_VFD_INTERNAL_H
#define LSTAR_VFD_INTERNAL_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lstar/status.h"
#include "lstar/store.h"
#include "lstar/strings.h"
#include "lstar/vfd.h"

#define VFD_PAGE 4096u

/* One page of bytes HDF5 wrote (metadata, small arrays, strings). */
typedef struct vfd_page {
    uint64_t idx; /* address / VFD_PAGE */
    uint8_t *data;
} vfd_page;

enum { VFD_REF_STORE = 0, VFD_REF_BLOB = 1, VFD_REF_DECODE = 2 };

/* An address range served from elsewhere: a store object (key at key_off in
 * the key arena) or a blob (an encoded fill chunk). */
typedef struct vfd_ref {
    uint64_t addr;
    uint32_t len;
    uint32_t kind;
    uint64_t id;      /* VFD_REF_STORE: key offset; VFD_REF_BLOB: blob index; VFD_REF_DECODE: array index */
    uint64_t obj_off; /* VFD_REF_STORE: offset in the object (inner chunk of a shard);
                         VFD_REF_DECODE: C-order index of the chunk in the array's grid */
} vfd_ref;

/* An array whose chunks the driver decodes (VFD_REF_DECODE), opened lazily. */
typedef struct vfd_array {
    char *path;                    /* Zarr path in the store */
    struct lstar_zarr_array *za;   /* NULL until first read */
} vfd_array;

typedef struct vfd_blob {
    uint8_t *data;
    size_t size;
} vfd_blob;

struct lstar_vfd_image {
    int refs; /* guarded by g_image_lock (image.c) */
    char *path;
    lstar_store *store;
    pthread_mutex_t store_lock;
    uint64_t size;
    vfd_page *pages;
    size_t npages, pages_cap;
    vfd_ref *refs_v;
    size_t nrefs, refs_cap;
    char *keys;
    size_t keys_len, keys_cap;
    vfd_blob *blobs;
    size_t nblobs, blobs_cap;
    uint64_t fill_chunks;
    lstar_strings dropped;
    /* decode-on-read (guarded by store_lock) */
    vfd_array *arrays;
    size_t narrays, arrays_cap;
    struct lstar_zarr *z;          /* the store's hierarchy, opened at the first decode */
    uint8_t *dec;                  /* the last decoded chunk */
    size_t dec_cap;
    const vfd_ref *dec_ref;        /* which ref `dec` holds (NULL: none) */
    uint64_t decode_chunks;
};

/* ---- image building blocks (image.c) ---- */
struct lstar_dataset;
/* Build the image of the store at `path` from `ds`, the dataset read from it (borrowed; its lazy
 * arrays are the store's).  lstar_vfd_image_open = detection + read + this. */
lstar_status vfd_image_build(const char *path, const struct lstar_dataset *ds, const lstar_vfd_config *cfg,
                             lstar_vfd_image **out, lstar_error *err);
/* Copy `size` bytes at `addr` into the image's pages. */
lstar_status vfd_image_put(lstar_vfd_image *img, uint64_t addr, const void *buf, size_t size, lstar_error *err);
/* Append a ref (refs are sorted by vfd_image_finish). */
lstar_status vfd_image_add_ref(lstar_vfd_image *img, uint64_t addr, uint32_t len, uint32_t kind, uint64_t id,
                               uint64_t obj_off, lstar_error *err);
/* Append `key` to the key arena; *off receives its offset. */
lstar_status vfd_image_add_key(lstar_vfd_image *img, const char *key, uint64_t *off, lstar_error *err);
/* Add a blob, or reuse the last one when equal; *idx receives its index. */
lstar_status vfd_image_add_blob(lstar_vfd_image *img, const void *data, size_t size, uint64_t *idx,
                                lstar_error *err);
/* Sort refs and check that they do not overlap; set the size. */
lstar_status vfd_image_finish(lstar_vfd_image *img, uint64_t size, lstar_error *err);
/* Read from pages only (zeros where nothing was written): the recording driver's reads. */
void vfd_image_read_pages(const lstar_vfd_image *img, uint64_t addr, void *buf, size_t size);

/* ---- the recording driver (record.c) ---- */
typedef struct vfd_recorder {
    lstar_vfd_image *img;
    lstar_store *store;   /* borrowed (the image's) */
    int pending;          /* a chunk write is announced */
    int pending_blob;     /* ... of an encoded fill chunk (bytes kept) */
    uint64_t pending_size;
    uint64_t pending_key; /* key offset of the announced chunk */
    uint64_t pending_off; /* its offset in the object */
    uint64_t last_key;    /* key offset computed by the last chunk_size call */
    uint64_t last_off;
    /* the last shard whose index was read (v3 sharding) */
    char *shard_key;
    uint64_t shard_key_off;
    uint64_t *shard_index; /* 2 * n entries: offset, nbytes (native) */
    uint64_t shard_n;
    int shard_missing;
    /* decode-on-read: the last array announced, and its index in img->arrays */
    const struct lstar_zarr_array *last_za;
    uint64_t last_array;
    int pending_decode;
    /* directory stores: chunk sizes by fstatat() relative to the chunk's directory (kept open) */
    int is_dir;
    int dirfd;
    char *dirkey; /* the key prefix dirfd is open on */
    uint64_t eoa, eof;
    lstar_status failed;  /* first failure inside a driver callback */
    lstar_error err;
} vfd_recorder;

/* The recording driver's id (registered on first use), negative on failure. */
hid_t vfd_recorder_driver(void);
/* Put the recording driver with `rec` on `fapl`. */
herr_t vfd_recorder_set_fapl(hid_t fapl, vfd_recorder *rec);

/* Default plugin directories (build tree, install). */
const char *vfd_default_plugin_dir(void);

#endif
