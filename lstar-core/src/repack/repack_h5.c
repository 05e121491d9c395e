/* lstar repack for HDF5 files: copy the tree, re-encode numeric datasets.
 *
 * The whole repack runs on the calling thread under the HDF5 backend's lock
 * (h5_enter/h5_leave); lstar_pool workers only decode and encode chunk
 * buffers and never call HDF5.  See docs/internals/repack.md. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/pool.h"
#include "lstar/repack.h"
#include "repack/repack_internal.h"

#define RP_FILTER_ZSTD 32015u
#define RP_FILTER_DELTA 56855u
#define RP_FILTER_LZF 32000u
/* Raw chunk buffers are never sized above this (HDF5 caps chunks at 4 GiB − 1). */
#define RP_MAX_CHUNK ((size_t)LSTAR_MAX_CHUNK_BYTES)
/* Chunk cache of the source dataset when rechunking through H5Dread. */
#define RP_MAX_CACHE_BYTES ((size_t)256 * 1024 * 1024)
/* Attribute (and reference dataset) payloads read whole. */
#define RP_MAX_ATTR_BYTES ((size_t)LSTAR_MAX_METADATA_BYTES)

/* ---- small growable lists ------------------------------------------------------------ */

typedef struct rp_hardlink {
    haddr_t addr;
    char *dst_path;
} rp_hardlink;

/* A reference to re-point after the copy: attribute `attr` of `path`, or the
 * data of dataset `path` when attr is NULL. */
typedef struct rp_reffix {
    char *path;
    char *attr;
} rp_reffix;

typedef struct rp_ctx {
    const lstar_repack_opts *o;
    hid_t sfid, dfid;
    lstar_pool *pool;
    lstar_repack_stats *stats;
    rp_hardlink *links;
    size_t nlinks, caplinks;
    rp_reffix *fixes;
    size_t nfixes, capfixes;
} rp_ctx;

static char *rp_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = lstar_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *rp_join(const char *parent, const char *name) {
    size_t a = strlen(parent), b = strlen(name);
    int root = a == 1 && parent[0] == '/';
    char *p = lstar_malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, parent, a);
    size_t k = root ? 1 : a;
    if (!root) p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static lstar_status rp_add_fix(rp_ctx *c, const char *path, const char *attr, lstar_error *err) {
    if (c->nfixes == c->capfixes) {
        size_t cap = c->capfixes ? 2 * c->capfixes : 16;
        rp_reffix *n = lstar_realloc(c->fixes, cap * sizeof *n);
        if (!n) return LSTAR_NOMEM(err, path);
        c->fixes = n;
        c->capfixes = cap;
    }
    rp_reffix *f = &c->fixes[c->nfixes];
    f->path = rp_strdup(path);
    f->attr = attr ? rp_strdup(attr) : NULL;
    if (!f->path || (attr && !f->attr)) {
        lstar_free(f->path);
        lstar_free(f->attr);
        return LSTAR_NOMEM(err, path);
    }
    c->nfixes++;
    return LSTAR_OK;
}

static lstar_status rp_add_link(rp_ctx *c, haddr_t addr, const char *dst_path, lstar_error *err) {
    if (c->nlinks == c->caplinks) {
        size_t cap = c->caplinks ? 2 * c->caplinks : 16;
        rp_hardlink *n = lstar_realloc(c->links, cap * sizeof *n);
        if (!n) return LSTAR_NOMEM(err, dst_path);
        c->links = n;
        c->caplinks = cap;
    }
    c->links[c->nlinks].addr = addr;
    c->links[c->nlinks].dst_path = rp_strdup(dst_path);
    if (!c->links[c->nlinks].dst_path) return LSTAR_NOMEM(err, dst_path);
    c->nlinks++;
    return LSTAR_OK;
}

static const char *rp_find_link(const rp_ctx *c, haddr_t addr) {
    for (size_t i = 0; i < c->nlinks; i++)
        if (c->links[i].addr == addr) return c->links[i].dst_path;
    return NULL;
}

/* ---- plugins ------------------------------------------------------------------------- */

/* Lock held.  See the same workaround in src/hdf5 (Debian's LZF plugin lacks
 * its liblzf dependency). */
static int rp_filter_avail(unsigned id) {
    static int lzf_tried = 0;
    htri_t a = H5Zfilter_avail((H5Z_filter_t)id);
    H5Eclear2(H5E_DEFAULT);
    if (a > 0) return 1;
    if (id == RP_FILTER_LZF && !lzf_tried) {
        lzf_tried = 1;
        if (dlopen("liblzf.so.1", RTLD_NOW | RTLD_GLOBAL) != NULL) {
            a = H5Zfilter_avail((H5Z_filter_t)id);
            H5Eclear2(H5E_DEFAULT);
        }
    }
    return a > 0;
}

/* Lock held. */
static lstar_status rp_enable_plugins(const char *dir, unsigned id, lstar_error *err) {
    if (dir && dir[0]) {
        unsigned n = 0;
        int present = 0;
        if (H5PLsize(&n) >= 0) {
            for (unsigned i = 0; i < n && !present; i++) {
                char buf[4096];
                ssize_t len = H5PLget(i, buf, sizeof buf);
                if (len > 0 && (size_t)len < sizeof buf && strcmp(buf, dir) == 0) present = 1;
            }
        }
        H5Eclear2(H5E_DEFAULT);
        if (!present && H5PLprepend(dir) < 0)
            return h5_fail(err, LSTAR_ERR_IO, dir, "cannot add the HDF5 plugin directory");
    }
    if (id != 0 && !rp_filter_avail(id))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, dir && dir[0] ? dir : NULL,
                          "HDF5 filter %u (%s) cannot be loaded: give lstar's plugin directory "
                          "(`lstar plugin-path`) or set HDF5_PLUGIN_PATH",
                          id, id == RP_FILTER_ZSTD ? "zstd" : id == RP_FILTER_DELTA ? "lstar delta" : "plugin");
    return LSTAR_OK;
}

lstar_status lstar_h5_enable_plugins(const char *dir, unsigned id, lstar_error *err) {
    h5_guard g;
    h5_enter(&g);
    lstar_status st = rp_enable_plugins(dir, id, err);
    h5_leave(&g);
    return st;
}

/* ---- attributes ------------------------------------------------------------------------ */

/* Index to iterate links/attributes in: creation order when the object
 * tracks and indexes it, else name order. */
static H5_index_t rp_index_for(unsigned crt_flags) {
    return (crt_flags & H5P_CRT_ORDER_TRACKED) && (crt_flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER
                                                                                      : H5_INDEX_NAME;
}

/* Classify a datatype for reference handling: 0 none, 1 object references
 * (whole type), -1 references we cannot re-point (region references,
 * references inside compounds/arrays/vlens). */
static int rp_ref_kind(hid_t t) {
    htri_t has = H5Tdetect_class(t, H5T_REFERENCE);
    if (has <= 0) return 0;
    if (H5Tget_class(t) != H5T_REFERENCE) return -1;
    htri_t obj = H5Tequal(t, H5T_STD_REF_OBJ);
    return obj > 0 ? 1 : -1;
}

/* Copy every attribute of src_oid onto dst_oid (same order, types,
 * dataspaces, creation properties).  Object references are written null
 * and recorded for rp_fix_refs.  `crt_flags`: the object's attribute
 * creation-order flags.  Lock held. */
static lstar_status rp_copy_attrs(rp_ctx *c, hid_t src_oid, hid_t dst_oid, unsigned crt_flags, const char *path,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    H5O_info_t oi;
    hid_t aid = -1, type = -1, space = -1, acpl = -1, dattr = -1;
    void *buf = NULL;
    char *name = NULL;
    if (H5Oget_info2(src_oid, &oi, H5O_INFO_NUM_ATTRS) < 0)
        return h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read object info");
    H5_index_t idx = rp_index_for(crt_flags);
    for (hsize_t i = 0; i < oi.num_attrs; i++) {
        aid = H5Aopen_by_idx(src_oid, ".", idx, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
        if (aid < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot open attribute %llu", (unsigned long long)i);
            goto done;
        }
        ssize_t nl = H5Aget_name(aid, 0, NULL);
        if (nl < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read an attribute name");
            goto done;
        }
        name = lstar_malloc((size_t)nl + 1);
        if (!name) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        H5Aget_name(aid, (size_t)nl + 1, name);
        hid_t ftype = H5Aget_type(aid);
        if (ftype < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "attribute '%s': cannot read its datatype", name);
            goto done;
        }
        type = H5Tcopy(ftype); /* transient, also for committed types */
        H5Tclose(ftype);
        space = H5Aget_space(aid);
        acpl = H5Aget_create_plist(aid);
        if (type < 0 || space < 0 || acpl < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "attribute '%s': cannot read its properties", name);
            goto done;
        }
        int refk = rp_ref_kind(type);
        if (refk < 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                            "attribute '%s' holds region references or references inside a compound type; "
                            "repack re-points only object references",
                            name);
            goto done;
        }
        dattr = H5Acreate2(dst_oid, name, type, space, acpl, H5P_DEFAULT);
        if (dattr < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, path, "attribute '%s': cannot create it", name);
            goto done;
        }
        if (H5Sget_simple_extent_type(space) != H5S_NULL) {
            hssize_t np = H5Sget_simple_extent_npoints(space);
            size_t ts = H5Tget_size(type);
            if (np < 0 || ts == 0 || (np > 0 && (size_t)np > RP_MAX_ATTR_BYTES / ts)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "attribute '%s' is too large", name);
                goto done;
            }
            size_t nbytes = (size_t)np * ts;
            buf = lstar_calloc(1, nbytes ? nbytes : 1);
            if (!buf) {
                st = LSTAR_NOMEM(err, path);
                goto done;
            }
            if (refk == 0 && np > 0 && H5Aread(aid, type, buf) < 0) {
                st = h5_fail(err, LSTAR_ERR_FORMAT, path, "attribute '%s': cannot read it", name);
                goto done;
            }
            /* References: null for now, re-pointed once every object exists. */
            herr_t w = np > 0 ? H5Awrite(dattr, type, buf) : 0;
            if (refk == 0 && np > 0) H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
            if (w < 0) {
                st = h5_fail(err, LSTAR_ERR_IO, path, "attribute '%s': cannot write it", name);
                goto done;
            }
            if (refk == 1 && np > 0) LSTAR_CHECK(rp_add_fix(c, path, name, err));
            lstar_free(buf);
            buf = NULL;
        }
        H5Aclose(dattr);
        dattr = -1;
        H5Pclose(acpl);
        acpl = -1;
        H5Sclose(space);
        space = -1;
        H5Tclose(type);
        type = -1;
        H5Aclose(aid);
        aid = -1;
        lstar_free(name);
        name = NULL;
    }
done:
    lstar_free(buf);
    lstar_free(name);
    if (dattr >= 0) H5Aclose(dattr);
    if (acpl >= 0) H5Pclose(acpl);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (aid >= 0) H5Aclose(aid);
    return st;
}

/* Record the object-reference attributes of a source object that H5Ocopy
 * copied (it writes them null without H5O_COPY_EXPAND_REFERENCE_FLAG). */
static lstar_status rp_scan_ref_attrs(rp_ctx *c, hid_t src_oid, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    H5O_info_t oi;
    if (H5Oget_info2(src_oid, &oi, H5O_INFO_NUM_ATTRS) < 0)
        return h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read object info");
    for (hsize_t i = 0; i < oi.num_attrs && st == LSTAR_OK; i++) {
        hid_t aid = H5Aopen_by_idx(src_oid, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
        if (aid < 0) return h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot open an attribute");
        hid_t t = H5Aget_type(aid);
        int k = t >= 0 ? rp_ref_kind(t) : 0;
        if (k != 0) {
            char name[1024];
            ssize_t nl = H5Aget_name(aid, sizeof name, name);
            if (nl < 0 || (size_t)nl >= sizeof name)
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "reference attribute name too long");
            else if (k < 0)
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                                "attribute '%s' holds region references; repack re-points only object references",
                                name);
            else
                st = rp_add_fix(c, path, name, err);
        }
        if (t >= 0) H5Tclose(t);
        H5Aclose(aid);
    }
    return st;
}

/* Re-point every recorded object reference: dereference in the source,
 * take the object's path, create the reference to the same path in dst. */
static lstar_status rp_fix_refs(rp_ctx *c, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hobj_ref_t *refs = NULL;
    for (size_t i = 0; i < c->nfixes && st == LSTAR_OK; i++) {
        const rp_reffix *f = &c->fixes[i];
        hid_t so = -1, dobj = -1, sa = -1, da = -1, space = -1;
        hssize_t np = 0;
        so = H5Oopen(c->sfid, f->path, H5P_DEFAULT);
        dobj = H5Oopen(c->dfid, f->path, H5P_DEFAULT);
        if (so < 0 || dobj < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, f->path, "cannot reopen the object to re-point its references");
            goto next;
        }
        if (f->attr) {
            sa = H5Aopen(so, f->attr, H5P_DEFAULT);
            da = H5Aopen(dobj, f->attr, H5P_DEFAULT);
            space = sa >= 0 ? H5Aget_space(sa) : -1;
        } else {
            space = H5Dget_space(so);
        }
        if ((f->attr && (sa < 0 || da < 0)) || space < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, f->path, "cannot reopen reference attribute '%s'",
                         f->attr ? f->attr : "(data)");
            goto next;
        }
        np = H5Sget_simple_extent_npoints(space);
        if (np < 0 || (size_t)np > RP_MAX_ATTR_BYTES / sizeof(hobj_ref_t)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, f->path, "too many references");
            goto next;
        }
        refs = lstar_calloc((size_t)np ? (size_t)np : 1, sizeof *refs);
        if (!refs) {
            st = LSTAR_NOMEM(err, f->path);
            goto next;
        }
        if (np > 0) {
            herr_t r = f->attr ? H5Aread(sa, H5T_STD_REF_OBJ, refs)
                               : H5Dread(so, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, refs);
            if (r < 0) {
                st = h5_fail(err, LSTAR_ERR_FORMAT, f->path, "cannot read references");
                goto next;
            }
        }
        for (hssize_t k = 0; k < np; k++) {
            hobj_ref_t zero;
            memset(&zero, 0, sizeof zero);
            if (memcmp(&refs[k], &zero, sizeof zero) == 0) continue; /* null reference stays null */
            hid_t target = H5Rdereference2(so, H5P_DEFAULT, H5R_OBJECT, &refs[k]);
            char tpath[4096];
            ssize_t tl = target >= 0 ? H5Iget_name(target, tpath, sizeof tpath) : -1;
            if (target >= 0) H5Oclose(target);
            H5Eclear2(H5E_DEFAULT);
            if (tl <= 0 || (size_t)tl >= sizeof tpath) {
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, f->path,
                                "reference %lld of '%s' points to an object without a (short enough) path",
                                (long long)k, f->attr ? f->attr : "(data)");
                goto next;
            }
            if (H5Rcreate(&refs[k], c->dfid, tpath, H5R_OBJECT, -1) < 0) {
                st = h5_fail(err, LSTAR_ERR_IO, f->path, "cannot create a reference to %s", tpath);
                goto next;
            }
        }
        if (np > 0) {
            herr_t w = f->attr ? H5Awrite(da, H5T_STD_REF_OBJ, refs)
                               : H5Dwrite(dobj, H5T_STD_REF_OBJ, H5S_ALL, H5S_ALL, H5P_DEFAULT, refs);
            if (w < 0) st = h5_fail(err, LSTAR_ERR_IO, f->path, "cannot write references");
        }
    next:
        lstar_free(refs);
        refs = NULL;
        if (space >= 0) H5Sclose(space);
        if (da >= 0) H5Aclose(da);
        if (sa >= 0) H5Aclose(sa);
        if (dobj >= 0) H5Oclose(dobj);
        if (so >= 0) H5Oclose(so);
    }
    return st;
}

/* ---- numeric datasets ------------------------------------------------------------------ */

enum { RP_MODE_COPY_RAW = 0, RP_MODE_RAW = 1, RP_MODE_READ = 2 };

typedef struct rp_slot {
    uint8_t *in;
    size_t in_cap, in_size;
    unsigned mask;
    int absent;
    uint8_t *out; /* owned (lstar_malloc) unless == in */
    size_t out_size;
} rp_slot;

typedef struct rp_job {
    rp_ctx *c;
    const char *path;
    hid_t sdid, ddid;
    int rank, mode;
    hsize_t shape[LSTAR_MAX_RANK], chunk[LSTAR_MAX_RANK], grid[LSTAR_MAX_RANK];
    size_t esize, chunk_bytes;
    /* decode chain of the source, in pipeline order; dec_bit = filter index (mask bit) */
    lstar_codec *dec[LSTAR_H5_MAX_FILTERS];
    unsigned dec_bit[LSTAR_H5_MAX_FILTERS];
    size_t ndec;
    lstar_codec *enc[3];
    size_t nenc;
    rp_slot *slots;
    size_t batch;
    hid_t memspace, filespace; /* READ mode */
    uint64_t chunks_written, bytes_written;
} rp_job;

static void rp_chunk_offset(const rp_job *j, size_t i, hsize_t *off) {
    for (int d = j->rank - 1; d >= 0; d--) {
        off[d] = (hsize_t)(i % j->grid[d]) * j->chunk[d];
        i /= j->grid[d];
    }
}

static lstar_status rp_grow(uint8_t **p, size_t *cap, size_t need, const char *where, lstar_error *err) {
    if (*cap >= need) return LSTAR_OK;
    uint8_t *n = lstar_realloc(*p, need ? need : 1);
    if (!n) return LSTAR_NOMEM(err, where);
    *p = n;
    *cap = need;
    return LSTAR_OK;
}

/* Read the box of the chunk at `off` (clipped to the extent) through
 * HDF5 into `buf` laid out as a full chunk (padding zeroed), in the file's
 * own datatype.  Lock held. */
static lstar_status rp_read_box(hid_t did, int rank, const hsize_t *shape, const hsize_t *chunk, const hsize_t *off,
                                hid_t memspace, hid_t filespace, uint8_t *buf, size_t chunk_bytes, const char *where,
                                lstar_error *err) {
    hsize_t cnt[LSTAR_MAX_RANK], zero[LSTAR_MAX_RANK];
    lstar_status st = LSTAR_OK;
    for (int d = 0; d < rank; d++) {
        cnt[d] = shape[d] - off[d] < chunk[d] ? shape[d] - off[d] : chunk[d];
        zero[d] = 0;
    }
    memset(buf, 0, chunk_bytes);
    if (H5Sselect_hyperslab(filespace, H5S_SELECT_SET, off, NULL, cnt, NULL) < 0 ||
        H5Sselect_hyperslab(memspace, H5S_SELECT_SET, zero, NULL, cnt, NULL) < 0)
        return h5_fail(err, LSTAR_ERR_INTERNAL, where, "cannot select a chunk region");
    hid_t t = H5Dget_type(did);
    if (t < 0) return h5_fail(err, LSTAR_ERR_FORMAT, where, "cannot read the datatype");
    if (H5Dread(did, t, memspace, filespace, H5P_DEFAULT, buf) < 0)
        st = h5_fail(err, LSTAR_ERR_IO, where, "cannot read the chunk at element %llu", (unsigned long long)off[0]);
    H5Tclose(t);
    return st;
}

static lstar_status rp_load(void *ud, size_t i, int worker, lstar_error *err) {
    rp_job *j = ud;
    rp_slot *s = &j->slots[i % j->batch];
    hsize_t off[LSTAR_MAX_RANK];
    (void)worker;
    rp_chunk_offset(j, i, off);
    s->absent = 0;
    s->mask = 0;
    if (s->out && s->out != s->in) lstar_free(s->out);
    s->out = NULL;
    s->out_size = 0;
    if (j->mode == RP_MODE_READ) {
        lstar_status st = rp_grow(&s->in, &s->in_cap, j->chunk_bytes, j->path, err);
        if (st != LSTAR_OK) return st;
        st = rp_read_box(j->sdid, j->rank, j->shape, j->chunk, off, j->memspace, j->filespace, s->in, j->chunk_bytes,
                         j->path, err);
        s->in_size = j->chunk_bytes;
        return st;
    }
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(j->sdid, off, &mask, &addr, &size) < 0)
        return h5_fail(err, LSTAR_ERR_IO, j->path, "cannot read chunk info");
    if (addr == HADDR_UNDEF) {
        s->absent = 1; /* reads as the fill value; the new dataset has the same fill */
        return LSTAR_OK;
    }
    if (size > RP_MAX_CHUNK)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, j->path, "stored chunk of %llu bytes exceeds the cap",
                          (unsigned long long)size);
    lstar_status st = rp_grow(&s->in, &s->in_cap, (size_t)size, j->path, err);
    if (st != LSTAR_OK) return st;
    uint32_t m32 = 0;
    if (H5Dread_chunk(j->sdid, H5P_DEFAULT, off, &m32, s->in) < 0)
        return h5_fail(err, LSTAR_ERR_IO, j->path, "cannot read the raw chunk at element %llu",
                       (unsigned long long)off[0]);
    s->in_size = (size_t)size;
    s->mask = m32;
    return LSTAR_OK;
}

/* Decode the source chunk (RAW mode) into exactly chunk_bytes, then run the
 * target chain.  Workers: no HDF5 here. */
static lstar_status rp_work(void *ud, size_t i, int worker, lstar_error *err) {
    rp_job *j = ud;
    rp_slot *s = &j->slots[i % j->batch];
    lstar_status st = LSTAR_OK;
    uint8_t *cur = NULL; /* owned intermediate */
    (void)worker;
    if (s->absent) return LSTAR_OK;
    if (j->mode == RP_MODE_COPY_RAW) {
        s->out = s->in;
        s->out_size = s->in_size;
        return LSTAR_OK;
    }
    const uint8_t *data = s->in;
    size_t size = s->in_size;
    if (j->mode == RP_MODE_RAW) {
        for (size_t k = j->ndec; k-- > 0;) {
            if (s->mask & (1u << j->dec_bit[k])) continue; /* this filter was skipped for the chunk */
            uint8_t *o = NULL;
            size_t osz = 0;
            st = lstar_codec_decode(j->dec[k], data, size, j->chunk_bytes, 0, &o, &osz, err);
            if (st != LSTAR_OK) {
                lstar_err_add_where(err, j->path);
                goto done;
            }
            lstar_free(cur);
            cur = o;
            data = cur;
            size = osz;
        }
        if (size != j->chunk_bytes) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, j->path, "chunk decodes to %zu bytes, expected %zu", size,
                            j->chunk_bytes);
            goto done;
        }
    }
    for (size_t k = 0; k < j->nenc; k++) {
        uint8_t *o = NULL;
        size_t osz = 0;
        st = lstar_codec_encode(j->enc[k], data, size, &o, &osz, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, j->path);
            goto done;
        }
        lstar_free(cur);
        cur = o;
        data = cur;
        size = osz;
    }
    if (cur) {
        s->out = cur;
        cur = NULL;
    } else {
        s->out = s->in; /* no filter at all: the decoded bytes as they are */
    }
    s->out_size = size;
done:
    lstar_free(cur);
    return st;
}

static lstar_status rp_store(void *ud, size_t i, int worker, lstar_error *err) {
    rp_job *j = ud;
    rp_slot *s = &j->slots[i % j->batch];
    hsize_t off[LSTAR_MAX_RANK];
    (void)worker;
    if (s->absent) return LSTAR_OK;
    rp_chunk_offset(j, i, off);
    unsigned mask = j->mode == RP_MODE_COPY_RAW ? s->mask : 0;
    if (H5Dwrite_chunk(j->ddid, H5P_DEFAULT, mask, off, s->out_size, s->out) < 0)
        return h5_fail(err, LSTAR_ERR_IO, j->path, "cannot write the chunk at element %llu",
                       (unsigned long long)off[0]);
    j->chunks_written++;
    j->bytes_written += s->out_size;
    if (s->out != s->in) lstar_free(s->out);
    s->out = NULL;
    return LSTAR_OK;
}

/* rp_target_chunks on HDF5 dims (UNLIMITED maps to UINT64_MAX). */
static int rp_h5_target_chunks(const lstar_repack_opts *o, int rank, const hsize_t *shape, const hsize_t *maxshape,
                               int src_chunked, const hsize_t *src_chunk, size_t esize, hsize_t *out) {
    uint64_t sh[LSTAR_MAX_RANK], mx[LSTAR_MAX_RANK], sc[LSTAR_MAX_RANK], oc[LSTAR_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        sh[d] = shape[d];
        mx[d] = maxshape[d] == H5S_UNLIMITED ? UINT64_MAX : maxshape[d];
        sc[d] = src_chunked ? src_chunk[d] : 0;
    }
    if (!rp_target_chunks(o, rank, sh, mx, src_chunked ? sc : NULL, esize, RP_MAX_CHUNK, oc)) return 0;
    for (int d = 0; d < rank; d++) out[d] = oc[d];
    return 1;
}

/* Shuffle or not (LSTAR_REPACK_SHUFFLE_AUTO): encode up to
 * RP_AUTO_SAMPLE_CHUNKS chunks spread over the dataset with and without
 * shuffle and keep the smaller.  `chain` = [delta?] compressor, shuffle
 * codec separate.  Deterministic (same samples, same codecs).  Lock held. */
static lstar_status rp_auto_shuffle(hid_t did, const rp_job *j, lstar_codec *delta, lstar_codec *shuf,
                                    lstar_codec *comp, int *use, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *buf = NULL;
    hid_t mem = -1, file = -1;
    uint64_t nchunks = 1;
    uint64_t with = 0, without = 0;
    for (int d = 0; d < j->rank; d++) nchunks *= j->grid[d];
    *use = 0;
    if (nchunks == 0 || !comp) return LSTAR_OK;
    buf = lstar_malloc(j->chunk_bytes ? j->chunk_bytes : 1);
    mem = H5Screate_simple(j->rank, j->chunk, NULL);
    file = H5Dget_space(did);
    if (!buf) {
        st = LSTAR_NOMEM(err, j->path);
        goto done;
    }
    if (mem < 0 || file < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, j->path, "cannot create dataspaces");
        goto done;
    }
    uint64_t ns = nchunks < RP_AUTO_SAMPLE_CHUNKS ? nchunks : RP_AUTO_SAMPLE_CHUNKS;
    for (uint64_t k = 0; k < ns; k++) {
        hsize_t off[LSTAR_MAX_RANK];
        rp_chunk_offset(j, (size_t)(k * nchunks / ns), off);
        LSTAR_CHECK(rp_read_box(did, j->rank, j->shape, j->chunk, off, mem, file, buf, j->chunk_bytes, j->path, err));
        LSTAR_CHECK(rp_shuffle_sample(buf, j->chunk_bytes, delta, shuf, comp, &with, &without, j->path, err));
    }
    *use = with < without;
done:
    if (mem >= 0) H5Sclose(mem);
    if (file >= 0) H5Sclose(file);
    lstar_free(buf);
    return st;
}

/* 1 if this dataset is re-encoded; fills the facts needed. */
typedef struct rp_dset_facts {
    int rank;
    hsize_t shape[LSTAR_MAX_RANK], maxshape[LSTAR_MAX_RANK], chunk[LSTAR_MAX_RANK];
    H5D_layout_t layout;
    size_t esize;
    int is_int, is_signed, little;
    hsize_t storage;
} rp_dset_facts;

static int rp_wants_encoding(const rp_ctx *c, hid_t did, hid_t dcpl, rp_dset_facts *f) {
    int ok = 0;
    hid_t t = H5Dget_type(did), sp = H5Dget_space(did);
    memset(f, 0, sizeof *f);
    if (t < 0 || sp < 0) goto done;
    H5T_class_t cls = H5Tget_class(t);
    if (cls == H5T_ENUM) {
        hid_t base = H5Tget_super(t);
        int base_int = base >= 0 && H5Tget_class(base) == H5T_INTEGER;
        if (base >= 0) H5Tclose(base);
        if (!base_int) goto done;
    } else if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        goto done;
    }
    f->esize = H5Tget_size(t);
    if (f->esize == 0 || f->esize > 16) goto done;
    f->is_int = cls == H5T_INTEGER;
    f->is_signed = f->is_int && H5Tget_sign(t) == H5T_SGN_2;
    f->little = f->esize == 1 || H5Tget_order(t) == H5T_ORDER_LE;
    if (H5Sget_simple_extent_type(sp) != H5S_SIMPLE) goto done;
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank < 1 || rank > LSTAR_MAX_RANK) goto done;
    f->rank = rank;
    H5Sget_simple_extent_dims(sp, f->shape, f->maxshape);
    f->layout = H5Pget_layout(dcpl);
    if (H5Pget_external_count(dcpl) > 0) goto done;
    f->storage = H5Dget_storage_size(did);
    if (f->layout == H5D_CHUNKED) {
        if (H5Pget_chunk(dcpl, rank, f->chunk) != rank) goto done;
        ok = 1;
    } else if (f->layout == H5D_CONTIGUOUS) {
        uint64_t n = 1;
        for (int d = 0; d < rank; d++) n *= f->shape[d];
        int pipeline = c->o->compressor != LSTAR_REPACK_NONE || c->o->shuffle || c->o->chunk_elems;
        ok = pipeline && n * f->esize >= LSTAR_REPACK_MIN_CONTIGUOUS_BYTES;
    }
done:
    H5Eclear2(H5E_DEFAULT);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    return ok;
}


/* Read the filters of a dcpl into `fl` (at most LSTAR_H5_MAX_FILTERS). */
static int rp_get_filters(hid_t dcpl, lstar_h5_filter *fl, size_t *n) {
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0 || nf > LSTAR_H5_MAX_FILTERS) return -1;
    for (int k = 0; k < nf; k++) {
        size_t ncd = LSTAR_H5_MAX_CD_VALUES;
        unsigned cfg = 0;
        memset(&fl[k], 0, sizeof fl[k]);
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)k, &fl[k].flags, &ncd, fl[k].cd, sizeof fl[k].name,
                                         fl[k].name, &cfg);
        if (id < 0 || ncd > LSTAR_H5_MAX_CD_VALUES) return -1;
        fl[k].id = (unsigned)id;
        fl[k].ncd = ncd;
    }
    *n = (size_t)nf;
    return 0;
}

static int rp_same_filters(const lstar_h5_filter *a, size_t na, const lstar_h5_filter *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t k = 0; k < na; k++) {
        if (a[k].id != b[k].id || a[k].ncd != b[k].ncd || (a[k].flags & H5Z_FLAG_OPTIONAL) != (b[k].flags & H5Z_FLAG_OPTIONAL))
            return 0;
        if (memcmp(a[k].cd, b[k].cd, a[k].ncd * sizeof a[k].cd[0]) != 0) return 0;
    }
    return 1;
}

static lstar_status rp_encode_dataset(rp_ctx *c, hid_t sgid, hid_t dgid, const char *name, const char *path,
                                      hid_t lcpl, hid_t sdid, hid_t sdcpl, const rp_dset_facts *f,
                                      lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_repack_opts *o = c->o;
    rp_job j;
    hid_t dcpl = -1, ftype = -1, space = -1, ddcpl = -1, dapl = -1, sdid2 = -1;
    lstar_h5_filter sfl[LSTAR_H5_MAX_FILTERS], dfl[LSTAR_H5_MAX_FILTERS];
    size_t nsfl = 0, ndfl = 0;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.path = path;
    j.sdid = sdid;
    j.ddid = -1;
    j.memspace = j.filespace = -1;
    j.rank = f->rank;
    j.esize = f->esize;
    for (int d = 0; d < f->rank; d++) j.shape[d] = f->shape[d];

    int src_chunked = f->layout == H5D_CHUNKED;
    if (!rp_h5_target_chunks(o, f->rank, f->shape, f->maxshape, src_chunked, f->chunk, f->esize, j.chunk))
        return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, path, "no valid chunking");
    uint64_t cel = 1;
    for (int d = 0; d < f->rank; d++) cel *= j.chunk[d];
    j.chunk_bytes = (size_t)(cel * f->esize);
    if ((uint64_t)j.chunk_bytes > (uint64_t)RP_MAX_CHUNK) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "chunk too large");

    /* New creation properties: the source's (fill value, allocation time,
     * track times, attribute order …) with a new layout and pipeline. */
    dcpl = H5Pcopy(sdcpl);
    if (dcpl < 0 || rp_get_filters(sdcpl, sfl, &nsfl) < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the dataset's creation properties");
        goto done;
    }
    for (size_t k = 0; k < nsfl; k++) (void)rp_filter_avail(sfl[k].id); /* load plugins (lzf workaround) */
    if ((nsfl > 0 && H5Premove_filter(dcpl, H5Z_FILTER_ALL) < 0) || H5Pset_chunk(dcpl, f->rank, j.chunk) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot set up the new layout");
        goto done;
    }
    /* Chunk grid, in C order. */
    uint64_t nchunks = 1;
    for (int d = 0; d < f->rank; d++) {
        j.grid[d] = (f->shape[d] + j.chunk[d] - 1) / j.chunk[d];
        nchunks *= j.grid[d];
    }
    /* Target codecs, in pipeline order: [delta] [shuffle] [compressor]. */
    int delta = o->delta_indices && f->is_int && f->little && rp_is_index_name(name);
    int shuffle = o->shuffle && f->esize > 1;
    lstar_codec *cdelta = NULL, *cshuf = NULL, *ccomp = NULL;
    {
        char spec[64];
        if (delta) {
            LSTAR_CHECK(rp_codec("delta", rp_int_dtype(f->esize, f->is_signed), f->esize, &j.enc[j.nenc], path, err));
            cdelta = j.enc[j.nenc++];
        }
        if (shuffle) {
            snprintf(spec, sizeof spec, "shuffle:%zu", f->esize);
            LSTAR_CHECK(rp_codec(spec, LSTAR_DTYPE_UINT8, 1, &j.enc[j.nenc], path, err));
            cshuf = j.enc[j.nenc++];
        }
        if (o->compressor != LSTAR_REPACK_NONE) {
            snprintf(spec, sizeof spec, "%s:%d", o->compressor == LSTAR_REPACK_GZIP ? "zlib" : "zstd", o->level);
            LSTAR_CHECK(rp_codec(spec, LSTAR_DTYPE_UINT8, 1, &j.enc[j.nenc], path, err));
            ccomp = j.enc[j.nenc++];
        }
    }
    if (shuffle && o->shuffle == LSTAR_REPACK_SHUFFLE_AUTO) {
        LSTAR_CHECK(rp_auto_shuffle(sdid, &j, cdelta, cshuf, ccomp, &shuffle, err));
        if (!shuffle) { /* drop it from the chain */
            size_t w = 0;
            for (size_t k = 0; k < j.nenc; k++)
                if (j.enc[k] != cshuf) j.enc[w++] = j.enc[k];
            j.nenc = w;
            lstar_codec_free(cshuf);
            cshuf = NULL;
        }
    }
    if (delta && H5Pset_filter(dcpl, RP_FILTER_DELTA, H5Z_FLAG_MANDATORY, 0, NULL) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot add the delta filter");
        goto done;
    }
    if (shuffle && H5Pset_shuffle(dcpl) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot add the shuffle filter");
        goto done;
    }
    if (o->compressor == LSTAR_REPACK_GZIP && H5Pset_deflate(dcpl, (unsigned)o->level) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot add the deflate filter");
        goto done;
    }
    if (o->compressor == LSTAR_REPACK_ZSTD) {
        unsigned cd = (unsigned)o->level;
        if (H5Pset_filter(dcpl, RP_FILTER_ZSTD, H5Z_FLAG_MANDATORY, 1, &cd) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot add the zstd filter");
            goto done;
        }
    }
    ftype = H5Dget_type(sdid);
    hid_t tt = ftype >= 0 ? H5Tcopy(ftype) : -1;
    if (ftype >= 0) H5Tclose(ftype);
    ftype = tt;
    space = H5Dget_space(sdid);
    if (ftype < 0 || space < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the dataset's type and shape");
        goto done;
    }
    j.ddid = H5Dcreate2(dgid, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    if (j.ddid < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, path, "cannot create the re-encoded dataset");
        goto done;
    }
    ddcpl = H5Dget_create_plist(j.ddid);
    if (ddcpl < 0 || rp_get_filters(ddcpl, dfl, &ndfl) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the new dataset's pipeline");
        goto done;
    }
    {
        unsigned acrt = 0;
        H5Pget_attr_creation_order(sdcpl, &acrt);
        LSTAR_CHECK(rp_copy_attrs(c, sdid, j.ddid, acrt, path, err));
    }

    /* How to read the source. */
    int same_chunks = src_chunked;
    for (int d = 0; d < f->rank && same_chunks; d++) same_chunks = f->chunk[d] == j.chunk[d];
    if (same_chunks && rp_same_filters(sfl, nsfl, dfl, ndfl)) {
        j.mode = RP_MODE_COPY_RAW;
    } else if (same_chunks) {
        j.mode = RP_MODE_RAW;
        int ncomp = 0;
        for (size_t k = 0; k < nsfl && j.mode == RP_MODE_RAW; k++) {
            char spec[64];
            const char *sp = NULL;
            lstar_dtype dt = LSTAR_DTYPE_UINT8;
            size_t es = 1;
            switch (sfl[k].id) {
            case H5Z_FILTER_DEFLATE: sp = "zlib"; ncomp++; break;
            case RP_FILTER_ZSTD: sp = "zstd"; ncomp++; break;
            case H5Z_FILTER_SHUFFLE:
                snprintf(spec, sizeof spec, "shuffle:%u", sfl[k].ncd > 0 && sfl[k].cd[0] ? sfl[k].cd[0] : (unsigned)f->esize);
                sp = spec;
                break;
            case RP_FILTER_DELTA:
                if (!f->is_int || !f->little) break;
                sp = "delta";
                dt = rp_int_dtype(f->esize, f->is_signed);
                es = f->esize;
                break;
            default: break;
            }
            if (!sp || ncomp > 1) {
                j.mode = RP_MODE_READ; /* a filter only HDF5 can run (lzf, blosc, fletcher32 …) */
                break;
            }
            LSTAR_CHECK(rp_codec(sp, dt, es, &j.dec[j.ndec], path, err));
            j.dec_bit[j.ndec] = (unsigned)k;
            j.ndec++;
        }
    } else {
        j.mode = RP_MODE_READ;
    }
    if (j.mode == RP_MODE_READ) {
        for (size_t k = 0; k < nsfl; k++)
            if (!rp_filter_avail(sfl[k].id)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "required filter '%s' (%u) is not available",
                                sfl[k].name[0] ? sfl[k].name : "?", sfl[k].id);
                goto done;
            }
        /* A chunk cache that holds every source chunk one target chunk
         * touches, so that no source chunk is decoded twice per row band. */
        size_t cache = 1u << 20;
        if (src_chunked) {
            uint64_t n = 1;
            for (int d = 0; d < f->rank; d++) n *= (j.chunk[d] + f->chunk[d] - 1) / f->chunk[d] + 1;
            uint64_t sc = f->esize;
            for (int d = 0; d < f->rank; d++) sc *= f->chunk[d];
            uint64_t want = n * sc * 2;
            cache = want > RP_MAX_CACHE_BYTES ? RP_MAX_CACHE_BYTES : want < cache ? cache : (size_t)want;
        }
        dapl = H5Pcreate(H5P_DATASET_ACCESS);
        if (dapl < 0 || H5Pset_chunk_cache(dapl, 100003, cache, 1.0) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot set up the chunk cache");
            goto done;
        }
        sdid2 = H5Dopen2(sgid, name, dapl);
        if (sdid2 < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, path, "cannot reopen the dataset");
            goto done;
        }
        j.sdid = sdid2;
        j.filespace = H5Dget_space(sdid2);
        j.memspace = H5Screate_simple(f->rank, j.chunk, NULL);
        if (j.filespace < 0 || j.memspace < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot create dataspaces");
            goto done;
        }
    }

    int threads = lstar_pool_threads(c->pool);
    j.batch = (size_t)(threads > 1 ? 2 * threads : 1);
    j.slots = lstar_calloc(j.batch, sizeof *j.slots);
    if (!j.slots) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    if (nchunks > 0)
        LSTAR_CHECK(lstar_pool_pipeline(c->pool, (size_t)nchunks, j.batch, rp_load, rp_work, rp_store, &j, err));
    c->stats->datasets_encoded++;
    c->stats->chunks_written += j.chunks_written;
    c->stats->bytes_in += f->storage;
    c->stats->bytes_out += j.bytes_written;
done:
    if (j.slots) {
        for (size_t k = 0; k < j.batch; k++) {
            if (j.slots[k].out && j.slots[k].out != j.slots[k].in) lstar_free(j.slots[k].out);
            lstar_free(j.slots[k].in);
        }
        lstar_free(j.slots);
    }
    for (size_t k = 0; k < j.ndec; k++) lstar_codec_free(j.dec[k]);
    for (size_t k = 0; k < j.nenc; k++) lstar_codec_free(j.enc[k]);
    if (j.memspace >= 0) H5Sclose(j.memspace);
    if (j.filespace >= 0) H5Sclose(j.filespace);
    if (sdid2 >= 0) H5Dclose(sdid2);
    if (dapl >= 0) H5Pclose(dapl);
    if (j.ddid >= 0) H5Dclose(j.ddid);
    if (ddcpl >= 0) H5Pclose(ddcpl);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    if (dcpl >= 0) H5Pclose(dcpl);
    return st;
}

/* ---- the tree -------------------------------------------------------------------------- */

typedef struct rp_names {
    char **v;
    size_t n, cap;
    int nomem;
} rp_names;

static herr_t rp_name_cb(hid_t g, const char *name, const H5L_info_t *info, void *ud) {
    rp_names *ns = ud;
    (void)g;
    (void)info;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 16;
        char **v = lstar_realloc(ns->v, cap * sizeof *v);
        if (!v) {
            ns->nomem = 1;
            return -1;
        }
        ns->v = v;
        ns->cap = cap;
    }
    ns->v[ns->n] = rp_strdup(name);
    if (!ns->v[ns->n]) {
        ns->nomem = 1;
        return -1;
    }
    ns->n++;
    return 0;
}

static void rp_names_free(rp_names *ns) {
    for (size_t i = 0; i < ns->n; i++) lstar_free(ns->v[i]);
    lstar_free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static lstar_status rp_copy_group(rp_ctx *c, hid_t sg, hid_t dg, const char *path, lstar_error *err);

static lstar_status rp_copy_child(rp_ctx *c, hid_t sg, hid_t dg, const char *gpath, const char *name,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *path = rp_join(gpath, name);
    hid_t lcpl = -1, so = -1, dobj = -1, ocpl = -1, ocpypl = -1;
    char *val = NULL;
    H5L_info_t li;
    if (!path) return LSTAR_NOMEM(err, gpath);
    if (H5Lget_info(sg, name, &li, H5P_DEFAULT) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the link");
        goto done;
    }
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_char_encoding(lcpl, li.cset) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, path, "cannot set up link properties");
        goto done;
    }
    if (li.type == H5L_TYPE_SOFT || li.type == H5L_TYPE_EXTERNAL) {
        if (li.u.val_size == 0 || li.u.val_size > 65536) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "link value of %zu bytes", li.u.val_size);
            goto done;
        }
        val = lstar_malloc(li.u.val_size + 1);
        if (!val) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        if (H5Lget_val(sg, name, val, li.u.val_size, H5P_DEFAULT) < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the link value");
            goto done;
        }
        val[li.u.val_size] = '\0';
        herr_t r;
        if (li.type == H5L_TYPE_SOFT) {
            r = H5Lcreate_soft(val, dg, name, lcpl, H5P_DEFAULT);
        } else {
            unsigned fl = 0;
            const char *fname = NULL, *oname = NULL;
            r = H5Lunpack_elink_val(val, li.u.val_size, &fl, &fname, &oname);
            if (r >= 0) r = H5Lcreate_external(fname, oname, dg, name, lcpl, H5P_DEFAULT);
        }
        if (r < 0) st = h5_fail(err, LSTAR_ERR_IO, path, "cannot recreate the link");
        goto done;
    }
    if (li.type != H5L_TYPE_HARD) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "user-defined link type %d", (int)li.type);
        goto done;
    }
    H5O_info_t oi;
    if (H5Oget_info_by_name2(sg, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the object");
        goto done;
    }
    if (oi.rc > 1) {
        const char *first = rp_find_link(c, oi.addr);
        if (first) { /* another hard link to an object already copied */
            if (H5Lcreate_hard(c->dfid, first, dg, name, lcpl, H5P_DEFAULT) < 0)
                st = h5_fail(err, LSTAR_ERR_IO, path, "cannot create a hard link to %s", first);
            goto done;
        }
        LSTAR_CHECK(rp_add_link(c, oi.addr, path, err));
    }
    if (oi.type == H5O_TYPE_GROUP) {
        so = H5Gopen2(sg, name, H5P_DEFAULT);
        ocpl = so >= 0 ? H5Gget_create_plist(so) : -1;
        /* No modification times: the output is reproducible byte for byte. */
        dobj = ocpl >= 0 && H5Pset_obj_track_times(ocpl, 0) >= 0 ? H5Gcreate2(dg, name, lcpl, ocpl, H5P_DEFAULT) : -1;
        if (dobj < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, path, "cannot copy the group");
            goto done;
        }
        LSTAR_CHECK(rp_copy_group(c, so, dobj, path, err));
        goto done;
    }
    if (oi.type == H5O_TYPE_DATASET) {
        rp_dset_facts f;
        so = H5Dopen2(sg, name, H5P_DEFAULT);
        ocpl = so >= 0 ? H5Dget_create_plist(so) : -1;
        if (ocpl < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot open the dataset");
            goto done;
        }
        if (rp_wants_encoding(c, so, ocpl, &f)) {
            st = rp_encode_dataset(c, sg, dg, name, path, lcpl, so, ocpl, &f, err);
            goto done;
        }
        /* Anything else is copied object for object.  Filters must be
         * loadable when HDF5 has to convert (vlen data). */
        lstar_h5_filter fl[LSTAR_H5_MAX_FILTERS];
        size_t nfl = 0;
        if (rp_get_filters(ocpl, fl, &nfl) == 0)
            for (size_t k = 0; k < nfl; k++) (void)rp_filter_avail(fl[k].id);
        hid_t t = H5Dget_type(so);
        int refk = t >= 0 ? rp_ref_kind(t) : 0;
        if (t >= 0) H5Tclose(t);
        if (refk < 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                            "dataset holds region references; repack re-points only object references");
            goto done;
        }
        LSTAR_CHECK(rp_scan_ref_attrs(c, so, path, err));
        if (refk == 1) LSTAR_CHECK(rp_add_fix(c, path, NULL, err));
        c->stats->datasets_copied++;
    }
    /* Datasets not re-encoded and committed datatypes. */
    ocpypl = H5Pcreate(H5P_OBJECT_COPY);
    if (ocpypl < 0 || H5Ocopy(sg, name, dg, name, ocpypl, lcpl) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, path, "cannot copy the object");
        goto done;
    }
done:
    lstar_free(val);
    if (ocpypl >= 0) H5Pclose(ocpypl);
    if (ocpl >= 0) H5Pclose(ocpl);
    if (dobj >= 0) H5Oclose(dobj);
    if (so >= 0) H5Oclose(so);
    if (lcpl >= 0) H5Pclose(lcpl);
    lstar_free(path);
    return st;
}

static lstar_status rp_copy_group(rp_ctx *c, hid_t sg, hid_t dg, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    rp_names ns;
    hid_t gcpl = H5Gget_create_plist(sg);
    unsigned lcrt = 0, acrt = 0;
    memset(&ns, 0, sizeof ns);
    if (gcpl < 0 || H5Pget_link_creation_order(gcpl, &lcrt) < 0 || H5Pget_attr_creation_order(gcpl, &acrt) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot read the group's creation properties");
        goto done;
    }
    c->stats->groups++;
    LSTAR_CHECK(rp_copy_attrs(c, sg, dg, acrt, path, err));
    hsize_t idx = 0;
    if (H5Literate(sg, rp_index_for(lcrt), H5_ITER_INC, &idx, rp_name_cb, &ns) < 0) {
        if (ns.nomem)
            st = LSTAR_NOMEM(err, path);
        else
            st = h5_fail(err, LSTAR_ERR_FORMAT, path, "cannot list the group");
        goto done;
    }
    for (size_t i = 0; i < ns.n; i++) LSTAR_CHECK(rp_copy_child(c, sg, dg, path, ns.v[i], err));
done:
    rp_names_free(&ns);
    if (gcpl >= 0) H5Pclose(gcpl);
    return st;
}

/* ---- files ----------------------------------------------------------------------------- */

static int rp_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Copy the userblock bytes (h5mu's "MuData (format-version=…)") verbatim. */
static lstar_status rp_copy_userblock(const char *src, const char *dst, hsize_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    FILE *in = fopen(src, "rb"), *out = NULL;
    uint8_t *buf = NULL;
    if (!in) return LSTAR_FAIL(err, LSTAR_ERR_IO, src, "cannot reopen to copy the userblock: %s", strerror(errno));
    out = fopen(dst, "r+b");
    buf = lstar_malloc((size_t)n);
    if (!out || !buf) {
        st = out ? LSTAR_NOMEM(err, dst) : LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot open: %s", strerror(errno));
        goto done;
    }
    if (fread(buf, 1, (size_t)n, in) != (size_t)n || fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot copy the %llu-byte userblock", (unsigned long long)n);
        goto done;
    }
done:
    lstar_free(buf);
    if (out && fclose(out) != 0 && st == LSTAR_OK) st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot close: %s", strerror(errno));
    fclose(in);
    return st;
}

static int rp_file_size(const char *p, uint64_t *n) {
    struct stat sb;
    if (stat(p, &sb) != 0) return -1;
    *n = (uint64_t)sb.st_size;
    return 0;
}

static lstar_status rp_check_opts(const lstar_repack_opts *o, lstar_error *err) {
    if (o->compressor == LSTAR_REPACK_GZIP && (o->level < 0 || o->level > 9))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "gzip level %d is outside 0..9", o->level);
    if (o->compressor == LSTAR_REPACK_ZSTD && (o->level < -131072 || o->level > 22))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "zstd level %d is outside -131072..22", o->level);
    if (o->compressor != LSTAR_REPACK_NONE && o->compressor != LSTAR_REPACK_GZIP && o->compressor != LSTAR_REPACK_ZSTD)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "unknown compressor %d", (int)o->compressor);
    if (o->threads < 0 || o->threads > LSTAR_MAX_THREADS)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "threads %d is outside 0..%d", o->threads,
                          LSTAR_MAX_THREADS);
    return LSTAR_OK;
}

lstar_status lstar_repack_h5(const char *src, const char *dst, const lstar_repack_opts *opts,
                             lstar_repack_stats *stats, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_repack_opts defaults;
    lstar_repack_stats local_stats;
    rp_ctx c;
    h5_guard g;
    int locked = 0;
    char *tmp = NULL;
    hid_t fcpl = -1, fapl = -1, sroot = -1, droot = -1;
    hsize_t ublock = 0;
    memset(&c, 0, sizeof c);
    c.sfid = c.dfid = -1;
    if (!opts) {
        lstar_repack_opts_init(&defaults);
        opts = &defaults;
    }
    if (!stats) stats = &local_stats;
    memset(stats, 0, sizeof *stats);
    c.o = opts;
    c.stats = stats;
    if (!src || !dst) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "source and destination are required");
    LSTAR_CHECK(rp_check_opts(opts, err));
    if (access(src, F_OK) != 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, src, "no such file");
    if (access(dst, F_OK) == 0) {
        if (rp_same_file(src, dst))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, dst, "the destination is the source file");
        if (!opts->overwrite)
            return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, dst, "destination exists (use overwrite to replace it)");
    }
    LSTAR_CHECK(lstar_pool_new(opts->threads, &c.pool, err));

    h5_enter(&g);
    locked = 1;
    if (opts->compressor == LSTAR_REPACK_ZSTD) LSTAR_CHECK(rp_enable_plugins(opts->plugin_dir, RP_FILTER_ZSTD, err));
    if (opts->delta_indices) LSTAR_CHECK(rp_enable_plugins(opts->plugin_dir, RP_FILTER_DELTA, err));
    if (opts->compressor != LSTAR_REPACK_ZSTD && !opts->delta_indices && opts->plugin_dir)
        LSTAR_CHECK(rp_enable_plugins(opts->plugin_dir, 0, err)); /* to read sources that use them */

    c.sfid = H5Fopen(src, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (c.sfid < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, src, "cannot open HDF5 file");
        goto done;
    }
    fcpl = H5Fget_create_plist(c.sfid);
    if (fcpl < 0 || H5Pget_userblock(fcpl, &ublock) < 0 || H5Pset_obj_track_times(fcpl, 0) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, src, "cannot read the file's creation properties");
        goto done;
    }
    /* Temporary file beside dst. */
    LSTAR_CHECK(rp_make_temp(dst, "tmp", 0, &tmp, err));
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_libver_bounds(fapl, opts->latest_format ? H5F_LIBVER_LATEST : H5F_LIBVER_EARLIEST,
                                         H5F_LIBVER_LATEST) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, dst, "cannot set up file access");
        goto done;
    }
    c.dfid = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (c.dfid < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, dst, "cannot create the output file");
        goto done;
    }
    sroot = H5Gopen2(c.sfid, "/", H5P_DEFAULT);
    droot = H5Gopen2(c.dfid, "/", H5P_DEFAULT);
    if (sroot < 0 || droot < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, "/", "cannot open the root group");
        goto done;
    }
    LSTAR_CHECK(rp_copy_group(&c, sroot, droot, "/", err));
    LSTAR_CHECK(rp_fix_refs(&c, err));
    H5Gclose(sroot);
    sroot = -1;
    H5Gclose(droot);
    droot = -1;
    herr_t cr = H5Fclose(c.dfid);
    c.dfid = -1;
    if (cr < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, dst, "cannot close the output file");
        goto done;
    }
    H5Fclose(c.sfid);
    c.sfid = -1;
    h5_leave(&g);
    locked = 0;
    if (ublock > 0) LSTAR_CHECK(rp_copy_userblock(src, tmp, ublock, err));
    if (rename(tmp, dst) != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot rename the temporary file: %s", strerror(errno));
        goto done;
    }
    lstar_free(tmp);
    tmp = NULL;
    rp_file_size(src, &stats->file_bytes_in);
    rp_file_size(dst, &stats->file_bytes_out);
done:
    if (sroot >= 0) H5Gclose(sroot);
    if (droot >= 0) H5Gclose(droot);
    if (c.dfid >= 0) H5Fclose(c.dfid);
    if (c.sfid >= 0) H5Fclose(c.sfid);
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (locked) h5_leave(&g);
    if (tmp) {
        unlink(tmp);
        lstar_free(tmp);
    }
    for (size_t i = 0; i < c.nlinks; i++) lstar_free(c.links[i].dst_path);
    lstar_free(c.links);
    for (size_t i = 0; i < c.nfixes; i++) {
        lstar_free(c.fixes[i].path);
        lstar_free(c.fixes[i].attr);
    }
    lstar_free(c.fixes);
    lstar_pool_free(c.pool);
    return st;
}
