/* The recording driver ("lstar-record"): the HDF5 file the AnnData writer
 * creates while an image is built.  Nothing reaches a disk:
 *
 *   - a raw-data write announced by the writer (chunk_begin: "the next raw
 *     write of N bytes is store object K") becomes a ref (addr, N) → K and
 *     its (dummy) bytes are dropped; an announced fill chunk keeps its bytes
 *     once per array (a blob);
 *   - every other write (superblock, object headers, B-tree nodes, heaps,
 *     small contiguous arrays, vlen strings) is copied into the image's pages;
 *   - reads (HDF5 reads back metadata it evicted) come from the pages.
 *
 * The end of allocated space (EOA) HDF5 sets becomes the image size. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "vfd_compat.h"
#include "vfd_internal.h"

typedef struct rec_fapl {
    vfd_recorder *rec;
} rec_fapl;

typedef struct rec_file {
    H5FD_t pub; /* first: HDF5 casts */
    vfd_recorder *rec;
} rec_file;

static hid_t g_rec_id = -1;
static pthread_mutex_t g_rec_lock = PTHREAD_MUTEX_INITIALIZER;

static H5FD_t *rec_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)name;
    (void)flags;
    (void)maxaddr;
    const rec_fapl *fa = H5Pget_driver_info(fapl);
    if (!fa || !fa->rec) {
        LSTAR_VFD_PUSH(H5E_CANTOPENFILE, "the lstar recording driver needs its recorder");
        return NULL;
    }
    rec_file *f = lstar_calloc(1, sizeof *f);
    if (!f) {
        LSTAR_VFD_PUSH(H5E_CANTALLOC, "out of memory");
        return NULL;
    }
    f->rec = fa->rec;
    return &f->pub;
}

static herr_t rec_close(H5FD_t *file) {
    lstar_free(file);
    return 0;
}

static herr_t rec_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    /* metadata and small raw data aggregated into blocks: fewer, fuller pages */
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t rec_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const rec_file *)file)->rec->eoa;
}

static herr_t rec_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((rec_file *)file)->rec->eoa = addr;
    return 0;
}

static haddr_t rec_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const rec_file *)file)->rec->eof;
}

static herr_t rec_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
    (void)type;
    (void)dxpl;
    vfd_image_read_pages(((rec_file *)file)->rec->img, addr, buf, size);
    return 0;
}

static herr_t rec_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf) {
    (void)dxpl;
    vfd_recorder *rec = ((rec_file *)file)->rec;
    lstar_status st = LSTAR_OK;
    lstar_error e;
    memset(&e, 0, sizeof e);
    if (rec->pending && type == H5FD_MEM_DRAW && size == rec->pending_size) {
        uint32_t src = rec->pending_src;
        if (size >= ((uint64_t)1 << 32)) {
            st = LSTAR_FAIL(&e, LSTAR_ERR_LIMIT, rec->img->path, "chunk too large");
        } else if (rec->pending_blob) {
            uint64_t b = 0;
            st = vfd_image_add_blob(rec->img, buf, size, &b, &e);
            if (st == LSTAR_OK) {
                vfd_blob *bl = &rec->img->blobs[b];
                if (bl->src == UINT32_MAX) st = vfd_image_add_src(rec->img, VFD_SRC_BLOB, (uint32_t)b, 0, &bl->src, &e);
                src = bl->src;
                rec->img->fill_chunks++;
            }
        } else if (rec->img->srcs[src].kind == VFD_SRC_DECODE) {
            rec->img->decode_chunks++;
        }
        if (st == LSTAR_OK) st = vfd_image_add_ref(rec->img, addr, (uint32_t)size, src, rec->pending_arg, &e);
        rec->pending = 0;
    } else {
        st = vfd_image_put(rec->img, addr, buf, size, &e);
    }
    if (st != LSTAR_OK) {
        if (rec->failed == LSTAR_OK) {
            rec->failed = st;
            rec->err = e;
        }
        LSTAR_VFD_PUSH(H5E_WRITEERROR, "lstar recording driver: %s", e.message);
        return -1;
    }
    if (addr + size > rec->eof) rec->eof = addr + size;
    return 0;
}

static herr_t rec_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)dxpl;
    (void)closing;
    vfd_recorder *rec = ((rec_file *)file)->rec;
    rec->eof = rec->eoa;
    return 0;
}

static const H5FD_class_t k_rec_class = {
    LSTAR_H5FD_CLASS_HEAD(LSTAR_VFD_VALUE + 1)
    .name = "lstar-record",
    .maxaddr = (haddr_t)1 << 62,
    .fc_degree = H5F_CLOSE_WEAK,
    .fapl_size = sizeof(rec_fapl),
    .open = rec_open,
    .close = rec_close,
    .query = rec_query,
    .get_eoa = rec_get_eoa,
    .set_eoa = rec_set_eoa,
    .get_eof = rec_get_eof,
    .read = rec_read,
    .write = rec_write,
    .truncate = rec_truncate,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t vfd_recorder_driver(void) {
    pthread_mutex_lock(&g_rec_lock);
    if (g_rec_id < 0 || H5Iis_valid(g_rec_id) <= 0) g_rec_id = H5FDregister(&k_rec_class);
    hid_t id = g_rec_id;
    pthread_mutex_unlock(&g_rec_lock);
    return id;
}

herr_t vfd_recorder_set_fapl(hid_t fapl, vfd_recorder *rec) {
    rec_fapl fa = {rec};
    hid_t id = vfd_recorder_driver();
    if (id < 0) return -1;
    return H5Pset_driver(fapl, id, &fa);
}
