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

/* What a ref's bytes are (vfd_src.kind). */
enum {
    VFD_SRC_CHUNK = 0,  /* chunk objects of an unsharded Zarr array: key computed from the chunk index */
    VFD_SRC_SHARD = 1,  /* one shard object (v3 sharding_indexed): key stored, ref arg = offset in it */
    VFD_SRC_BLOB = 2,   /* an encoded fill chunk held in memory */
    VFD_SRC_DECODE = 3  /* chunks of a Zarr array decoded by the driver */
};

/* An address range served from elsewhere (24 bytes per chunk; sorted by addr).  `arg`:
 * VFD_SRC_CHUNK / VFD_SRC_DECODE: C-order index of the chunk in its array's grid;
 * VFD_SRC_SHARD: offset of the inner chunk in the shard object; VFD_SRC_BLOB: 0. */
typedef struct vfd_ref {
    uint64_t addr;
    uint32_t len;
    uint32_t src; /* index in img->srcs */
    uint64_t arg;
} vfd_ref;

/* Where the refs of one array / shard / fill chunk come from (few: not per chunk). */
typedef struct vfd_src {
    uint32_t kind; /* VFD_SRC_* */
    uint32_t idx;  /* CHUNK, SHARD, DECODE: index in img->arrays; BLOB: index in img->blobs */
    uint64_t key;  /* SHARD: offset of the shard's key in the key arena */
} vfd_src;

/* A Zarr array mapped chunk by chunk, reopened lazily from the store when its chunks are read. */
typedef struct vfd_array {
    char *path;                    /* Zarr path in the store */
    uint64_t nchunks;              /* its chunk grid (inner chunks) when the image was built */
    struct lstar_zarr_array *za;   /* NULL until first read */
} vfd_array;

typedef struct vfd_blob {
    uint8_t *data;
    size_t size;
    uint32_t src; /* its vfd_src (UINT32_MAX: none yet) */
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
    vfd_src *srcs;
    size_t nsrcs, srcs_cap;
    char *keys; /* shard keys */
    size_t keys_len, keys_cap;
    vfd_blob *blobs;
    size_t nblobs, blobs_cap;
    uint64_t fill_chunks;
    lstar_strings dropped;
    /* mapped arrays (za opened lazily, guarded by store_lock) */
    vfd_array *arrays;
    size_t narrays, arrays_cap;
    struct lstar_zarr *z;          /* the store's hierarchy, opened at the first chunk read */
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
lstar_status vfd_image_add_ref(lstar_vfd_image *img, uint64_t addr, uint32_t len, uint32_t src, uint64_t arg,
                               lstar_error *err);
/* Append a source; *idx receives its index. */
lstar_status vfd_image_add_src(lstar_vfd_image *img, uint32_t kind, uint32_t idx, uint64_t key, uint32_t *out,
                               lstar_error *err);
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

/* A shard whose index was read (v3 sharding): the recorder keeps the last few. */
#define VFD_SHARD_SLOTS 16
typedef struct vfd_shard_slot {
    char *key;         /* NULL: empty */
    uint64_t *index;   /* 2 * n entries: offset, nbytes (native); NULL when the shard is missing */
    uint64_t n;
    uint32_t src;      /* its VFD_SRC_SHARD source */
    uint64_t used;     /* LRU stamp */
} vfd_shard_slot;

typedef struct vfd_recorder {
    lstar_vfd_image *img;
    lstar_store *store;   /* borrowed (the image's) */
    int pending;          /* a chunk write is announced */
    int pending_blob;     /* ... of an encoded fill chunk (bytes kept) */
    uint64_t pending_size;
    uint32_t pending_src; /* the announced chunk: source and argument (see vfd_ref) */
    uint64_t pending_arg;
    uint32_t last_src;    /* computed by the last chunk_size call */
    uint64_t last_arg;
    /* the array being written (arrays are written one after the other) */
    const struct lstar_zarr_array *cur_za;
    uint32_t cur_array;      /* its index in img->arrays */
    uint32_t cur_chunk_src;  /* its VFD_SRC_CHUNK / VFD_SRC_DECODE sources (UINT32_MAX: none yet) */
    uint32_t cur_decode_src;
    /* directory stores: the sizes of all chunk objects of cur_za, looked up at once by a few threads
     * (VFD_SIZE_ABSENT: no such object, VFD_SIZE_ASK: ask the store) */
    uint64_t *sizes;
    uint64_t sizes_first, nsizes; /* sizes[i] is chunk sizes_first + i */
    vfd_shard_slot shards[VFD_SHARD_SLOTS];
    uint64_t shard_clock;
    int is_dir; /* a directory store */
    uint64_t eoa, eof;
    lstar_status failed;  /* first failure inside a driver callback */
    lstar_error err;
} vfd_recorder;

#define VFD_SIZE_ABSENT UINT64_MAX
#define VFD_SIZE_ASK (UINT64_MAX - 1)

/* The recording driver's id (registered on first use), negative on failure. */
hid_t vfd_recorder_driver(void);
/* Put the recording driver with `rec` on `fapl`. */
herr_t vfd_recorder_set_fapl(hid_t fapl, vfd_recorder *rec);

/* Default plugin directories (build tree, install). */
const char *vfd_default_plugin_dir(void);

#endif
