/* The serving driver ("lstar"): H5Fopen(store, H5F_ACC_RDONLY, …, fapl with
 * H5Pset_fapl_lstar) builds (or reuses) the store's image and answers HDF5's
 * reads from it.  Read-only: write intent and writes fail on the HDF5 error
 * stack.  Under HDF5 >= 1.14 the library is also a VFD plugin
 * (H5PLget_plugin_type / H5PLget_plugin_info; untested, see vfd_compat.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "vfd_compat.h"
#include "vfd_internal.h"

/* The driver's file access info: copied by HDF5 as plain bytes. */
typedef struct drv_fapl {
    int has_plugin_dir, has_modality;
    char plugin_dir[PATH_MAX];
    char modality[256];
} drv_fapl;

typedef struct drv_file {
    H5FD_t pub; /* first: HDF5 casts */
    lstar_vfd_image *img;
    haddr_t eoa;
} drv_file;

static hid_t g_drv_id = -1;
static pthread_mutex_t g_drv_lock = PTHREAD_MUTEX_INITIALIZER;

/* Images in use, by real path: a second open of the same store shares the image. */
typedef struct open_image {
    char *key;
    lstar_vfd_image *img;
    int uses;
    struct open_image *next;
} open_image;
static open_image *g_open;

static lstar_vfd_image *image_acquire(const char *name, const drv_fapl *fa, lstar_error *err) {
    char real[PATH_MAX];
    const char *key = realpath(name, real) ? real : name;
    lstar_vfd_image *img = NULL;
    pthread_mutex_lock(&g_drv_lock);
    for (open_image *o = g_open; o; o = o->next) {
        if (strcmp(o->key, key) == 0) {
            o->uses++;
            img = o->img;
            break;
        }
    }
    pthread_mutex_unlock(&g_drv_lock);
    if (img) return img;
    lstar_vfd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (fa && fa->has_plugin_dir) cfg.plugin_dir = fa->plugin_dir;
    if (fa && fa->has_modality) cfg.modality = fa->modality;
    /* built outside our lock: this runs HDF5 (the writer) under HDF5's own recursive lock */
    if (lstar_vfd_image_open(name, &cfg, &img, err) != LSTAR_OK) return NULL;
    open_image *o = lstar_calloc(1, sizeof *o);
    if (!o || !(o->key = lstar_strdup(key))) {
        lstar_free(o);
        lstar_vfd_image_close(img);
        LSTAR_NOMEM(err, name);
        return NULL;
    }
    o->img = img;
    o->uses = 1;
    pthread_mutex_lock(&g_drv_lock);
    o->next = g_open;
    g_open = o;
    pthread_mutex_unlock(&g_drv_lock);
    return img;
}

static void image_release(lstar_vfd_image *img) {
    open_image *gone = NULL;
    pthread_mutex_lock(&g_drv_lock);
    for (open_image **p = &g_open; *p; p = &(*p)->next) {
        if ((*p)->img == img) {
            if (--(*p)->uses == 0) {
                gone = *p;
                *p = gone->next;
            }
            break;
        }
    }
    pthread_mutex_unlock(&g_drv_lock);
    if (gone) {
        lstar_vfd_image_close(gone->img);
        lstar_free(gone->key);
        lstar_free(gone);
    }
}

static H5FD_t *drv_open(const char *name, unsigned flags, hid_t fapl, haddr_t maxaddr) {
    (void)maxaddr;
    if (flags & (H5F_ACC_RDWR | H5F_ACC_TRUNC | H5F_ACC_CREAT | H5F_ACC_EXCL)) {
        LSTAR_VFD_PUSH(H5E_CANTOPENFILE,
                       "the lstar driver is read-only: open '%s' read-only (H5F_ACC_RDONLY, h5py mode 'r')", name);
        return NULL;
    }
    const drv_fapl *fa = H5Pget_driver_info(fapl);
    lstar_error e;
    memset(&e, 0, sizeof e);
    lstar_vfd_image *img = image_acquire(name, fa, &e);
    if (!img) {
        LSTAR_VFD_PUSH(H5E_CANTOPENFILE, "lstar driver: cannot present '%s' as h5ad: %s%s%s%s", name, e.message,
                       e.where[0] ? " (" : "", e.where, e.where[0] ? ")" : "");
        return NULL;
    }
    drv_file *f = lstar_calloc(1, sizeof *f);
    if (!f) {
        image_release(img);
        LSTAR_VFD_PUSH(H5E_CANTALLOC, "out of memory");
        return NULL;
    }
    f->img = img;
    return &f->pub;
}

static herr_t drv_close(H5FD_t *file) {
    drv_file *f = (drv_file *)file;
    image_release(f->img);
    lstar_free(f);
    return 0;
}

static int drv_cmp(const H5FD_t *a, const H5FD_t *b) {
    const lstar_vfd_image *x = ((const drv_file *)a)->img, *y = ((const drv_file *)b)->img;
    return x < y ? -1 : x > y;
}

static herr_t drv_query(const H5FD_t *file, unsigned long *flags) {
    (void)file;
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
    return 0;
}

static haddr_t drv_get_eoa(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return ((const drv_file *)file)->eoa;
}

static herr_t drv_set_eoa(H5FD_t *file, H5FD_mem_t type, haddr_t addr) {
    (void)type;
    ((drv_file *)file)->eoa = addr;
    return 0;
}

static haddr_t drv_get_eof(const H5FD_t *file, H5FD_mem_t type) {
    (void)type;
    return (haddr_t)lstar_vfd_image_size(((const drv_file *)file)->img);
}

static herr_t drv_get_handle(H5FD_t *file, hid_t fapl, void **handle) {
    (void)fapl;
    *handle = ((drv_file *)file)->img;
    return 0;
}

static herr_t drv_read(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, void *buf) {
    (void)type;
    (void)dxpl;
    lstar_error e;
    memset(&e, 0, sizeof e);
    if (lstar_vfd_image_read(((drv_file *)file)->img, addr, buf, size, &e) != LSTAR_OK) {
        LSTAR_VFD_PUSH(H5E_READERROR, "lstar driver: %s%s%s%s", e.message, e.where[0] ? " (" : "", e.where,
                       e.where[0] ? ")" : "");
        return -1;
    }
    return 0;
}

static herr_t drv_write(H5FD_t *file, H5FD_mem_t type, hid_t dxpl, haddr_t addr, size_t size, const void *buf) {
    (void)file;
    (void)type;
    (void)dxpl;
    (void)addr;
    (void)size;
    (void)buf;
    LSTAR_VFD_PUSH(H5E_WRITEERROR, "the lstar driver is read-only: writes are refused");
    return -1;
}

static herr_t drv_truncate(H5FD_t *file, hid_t dxpl, hbool_t closing) {
    (void)file;
    (void)dxpl;
    (void)closing;
    return 0;
}

static const H5FD_class_t k_drv_class = {
    LSTAR_H5FD_CLASS_HEAD(LSTAR_VFD_VALUE)
    .name = LSTAR_VFD_NAME,
    .maxaddr = (haddr_t)1 << 62,
    .fc_degree = H5F_CLOSE_WEAK,
    .fapl_size = sizeof(drv_fapl),
    .open = drv_open,
    .close = drv_close,
    .cmp = drv_cmp,
    .query = drv_query,
    .get_eoa = drv_get_eoa,
    .set_eoa = drv_set_eoa,
    .get_eof = drv_get_eof,
    .get_handle = drv_get_handle,
    .read = drv_read,
    .write = drv_write,
    .truncate = drv_truncate,
    .fl_map = H5FD_FLMAP_DICHOTOMY,
};

hid_t lstar_vfd_register(void) {
    pthread_mutex_lock(&g_drv_lock);
    if (g_drv_id < 0 || H5Iis_valid(g_drv_id) <= 0) g_drv_id = H5FDregister(&k_drv_class);
    hid_t id = g_drv_id;
    pthread_mutex_unlock(&g_drv_lock);
    return id;
}

herr_t H5Pset_fapl_lstar(hid_t fapl, const lstar_vfd_config *cfg) {
    drv_fapl fa;
    memset(&fa, 0, sizeof fa);
    if (cfg && cfg->plugin_dir) {
        if (strlen(cfg->plugin_dir) >= sizeof fa.plugin_dir) {
            LSTAR_VFD_PUSH(H5E_BADVALUE, "plugin_dir too long");
            return -1;
        }
        fa.has_plugin_dir = 1;
        strcpy(fa.plugin_dir, cfg->plugin_dir);
    }
    if (cfg && cfg->modality) {
        if (strlen(cfg->modality) >= sizeof fa.modality) {
            LSTAR_VFD_PUSH(H5E_BADVALUE, "modality too long");
            return -1;
        }
        fa.has_modality = 1;
        strcpy(fa.modality, cfg->modality);
    }
    hid_t id = lstar_vfd_register();
    if (id < 0) return -1;
    return H5Pset_driver(fapl, id, &fa);
}

#if LSTAR_VFD_HAVE_PLUGINS
/* HDF5 >= 1.14 dynamically loaded VFD (HDF5_DRIVER=lstar, HDF5_PLUGIN_PATH
 * naming the directory of liblstar_vfd.so).  Untested: no 1.14 here. */
#include <H5PLextern.h>
H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_VFD; }
const void *H5PLget_plugin_info(void) { return &k_drv_class; }
#endif
