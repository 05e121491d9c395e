/* lstar/vfd.h — the lstar HDF5 virtual file driver: open a Zarr store (an L★
 * store or an anndata-zarr store, v2 or v3, directory or zip) as the h5ad
 * file `lstar convert STORE x.h5ad` would write, without converting it.
 *
 * The driver presents an in-memory *image* of that h5ad: HDF5 metadata
 * (superblock, object headers, chunk B-trees, attributes, small arrays,
 * strings) is held in memory, chunk data is read from the store's chunk
 * objects when HDF5 asks for it.  See docs/vfd.md for the design.
 *
 * Library: liblstar_vfd (links liblstar and the system HDF5).  Supported
 * HDF5: 1.10.x (tested: Debian's 1.10.8).  1.12 and 1.14 compile (their
 * H5FD_class_t layouts are handled in vfd/src/vfd_compat.h) but are untested;
 * with 1.14 the library also exports H5PLget_plugin_type/H5PLget_plugin_info
 * so HDF5_DRIVER=lstar loads it.
 *
 * Read-only: opening with H5F_ACC_RDWR / creating, and any write, fail with
 * an error on the HDF5 error stack ("the lstar driver is read-only").
 *
 * Thread safety: the driver is called under HDF5's own lock; images may be
 * read from several threads at once (lstar_vfd_image_read serialises store
 * access internally). */
#ifndef LSTAR_VFD_H
#define LSTAR_VFD_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "lstar/status.h"
#include "lstar/strings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The driver's name, as given to h5py.register_driver and HDF5_DRIVER (1.14). */
#define LSTAR_VFD_NAME "lstar"
/* Its H5FD_class_value_t under HDF5 >= 1.14 (>= 256: not library-reserved). */
#define LSTAR_VFD_VALUE 1337

/* Register the driver with HDF5 (idempotent; thread-safe).  Returns the
 * driver id (an hid_t valid until HDF5 terminates) or a negative value with
 * the reason on the HDF5 error stack. */
hid_t lstar_vfd_register(void);

/* Options of a driver-opened file (all may be left zero / NULL). */
typedef struct lstar_vfd_config {
    /* Directories holding HDF5 filter plugins (':'-separated), prepended to
     * HDF5's plugin path before the image is built.  Stores compressed with
     * zstd need filter 32015 (lstar's plugin); NULL: the LSTAR_PLUGIN_DIR
     * environment variable, else the build tree's / install's plugin dir. */
    const char *plugin_dir;
    /* MuData stores: the modality to present (NULL: refuse MuData). */
    const char *modality;
} lstar_vfd_config;

/* Select the lstar driver on the file access list `fapl` (registering it if
 * needed).  `cfg` may be NULL; it is copied.  Then H5Fopen(store_path,
 * H5F_ACC_RDONLY, H5P_DEFAULT, fapl) opens the store as an h5ad.
 * Returns 0 or a negative value (HDF5 error stack). */
herr_t H5Pset_fapl_lstar(hid_t fapl, const lstar_vfd_config *cfg);

/* ---- images (the front ends: FUSE, tests) --------------------------------------------------- */

typedef struct lstar_vfd_image lstar_vfd_image;

/* Build the h5ad image of the store at `path` (a directory or .zip holding an
 * L★ store or an anndata-zarr store).  Memory: the HDF5 metadata (its chunk
 * index: ~15 bytes per chunk in the HDF5 1.10 format, ~40 with v1 B-trees),
 * labels and strings, 24 bytes per chunk of address map, plus (see
 * docs/vfd.md) the (rare) values of Zarr arrays the writer cannot map chunk
 * by chunk.
 * `cfg` may be NULL.  *out: release with lstar_vfd_image_close.  HDF5 files
 * (an .h5ad is already one) are refused with LSTAR_ERR_UNSUPPORTED. */
lstar_status lstar_vfd_image_open(const char *path, const lstar_vfd_config *cfg, lstar_vfd_image **out,
                                  lstar_error *err);
/* Drop a reference (NULL accepted); the image is freed with its last one. */
void lstar_vfd_image_close(lstar_vfd_image *img);
/* Take another reference. */
void lstar_vfd_image_ref(lstar_vfd_image *img);
/* Size of the h5ad in bytes. */
uint64_t lstar_vfd_image_size(const lstar_vfd_image *img);
/* Read bytes [offset, offset+len) of the h5ad into buf (past the end reads
 * as zeros).  Chunk bytes come from the store: a missing or shorter-than-
 * recorded chunk object fails with LSTAR_ERR_CORRUPT naming its key. */
lstar_status lstar_vfd_image_read(lstar_vfd_image *img, uint64_t offset, void *buf, size_t len, lstar_error *err);

/* What an image holds. */
typedef struct lstar_vfd_image_stats {
    uint64_t size;            /* bytes of the h5ad */
    uint64_t metadata_bytes;  /* bytes held in memory (pages of metadata and small arrays) */
    uint64_t chunk_refs;      /* chunks served from store objects */
    uint64_t fill_chunks;     /* chunks the store lacks, served from one encoded fill chunk per array */
    uint64_t key_bytes;       /* bytes of store keys held (shard keys; chunk keys are computed) */
    uint64_t decoded_chunks;  /* chunks the driver decodes itself (codec chains HDF5 cannot decode) */
    uint64_t map_bytes;       /* bytes of the address map: refs (24 per chunk), sources, array paths, keys,
                                 fill chunks, page table */
} lstar_vfd_image_stats;
void lstar_vfd_image_get_stats(const lstar_vfd_image *img, lstar_vfd_image_stats *st);
/* What the image does not present, one "<name> (<reason>)" per entry: what the AnnData writer
 * could not write, then what reading the store into the L★ model dropped (e.g. "obsm/df
 * (dataframe)"); borrowed. */
const lstar_strings *lstar_vfd_image_dropped(const lstar_vfd_image *img);

#ifdef __cplusplus
}
#endif
#endif
