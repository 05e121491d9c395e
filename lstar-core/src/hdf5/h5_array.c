/* HDF5 backend of lstar_array: a dataset (or one member of a compound
 * dataset) read by hyperslab into the caller's buffer. */
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/pool.h"

/* HDF5 filter ids lstar's own codecs decode. */
#define H5A_FILTER_ZSTD 32015u
/* Raw chunks in flight per pool thread, and a cap on their decoded bytes. */
#define H5A_SLOTS_PER_THREAD 4
#define H5A_INFLIGHT_BYTES ((size_t)64 * 1024 * 1024)

typedef struct h5arr {
    lstar_h5_dataset *d;
    hid_t memtype; /* numeric/bool read type, or the string read type */
    int vlen;      /* strings: vlen pointers (else fixed items of itemsize bytes) */
    size_t itemsize;
    int pad;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    int member; /* one member of a compound dataset */
    /* Parallel decode (read_pool): set when the dataset is chunked, stored
     * in native layout and every filter is one lstar's codecs decode. */
    int par;
    uint64_t chunks[LSTAR_MAX_RANK];
    size_t chunk_bytes;
    size_t ndec;                           /* decode steps, in pipeline (encode) order */
    lstar_codec *dec[LSTAR_H5_MAX_FILTERS];
    unsigned dec_bit[LSTAR_H5_MAX_FILTERS]; /* the filter's index = its bit in a chunk's filter mask */
} h5arr;

static lstar_status h5arr_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out,
                               lstar_error *err) {
    h5arr *a = ctx;
    h5_guard g;
    h5_enter(&g);
    lstar_status st = h5i_read_region(a->d, a->memtype, start, count, out, err);
    h5_leave(&g);
    return st;
}

static lstar_status h5arr_read_strings(void *ctx, uint64_t start, uint64_t count, lstar_strings *out,
                                       lstar_error *err) {
    h5arr *a = ctx;
    h5_guard g;
    h5_enter(&g);
    lstar_status st = h5i_read_strings(a->d->did, a->memtype, a->vlen, a->itemsize, a->pad, a->rank, a->shape, start,
                                       count, out, a->d->path, err);
    if (st != LSTAR_OK && a->d->missing_filter) st = h5i_read_fail(a->d, err, "cannot read strings");
    h5_leave(&g);
    return st;
}

static void h5arr_close(void *ctx) {
    h5arr *a = ctx;
    h5_guard g;
    if (!a) return;
    h5_enter(&g);
    if (a->memtype >= 0) H5Tclose(a->memtype);
    h5i_dataset_close(a->d);
    h5_leave(&g);
    for (size_t k = 0; k < a->ndec; k++) lstar_codec_free(a->dec[k]);
    lstar_free(a);
}

/* ---- parallel decode -------------------------------------------------------------------------------- */

typedef struct h5slot {
    uint8_t *raw;
    size_t raw_cap, raw_size;
    unsigned mask;
} h5slot;

typedef struct h5par {
    h5arr *a;
    h5slot *slots;
    size_t nslots;
    uint8_t **tmp; /* per worker: intermediate decode steps (chunk_bytes) */
    int nworkers;
    int absent;    /* a chunk is not allocated: the caller falls back to H5Dread */
} h5par;

/* Serial (calling thread): the stored bytes of chunk `coords` into the slot. */
static lstar_status h5par_load(void *ud, const uint64_t *coords, size_t slot, lstar_error *err) {
    h5par *p = ud;
    h5arr *a = p->a;
    h5slot *s = &p->slots[slot];
    hsize_t off[LSTAR_MAX_RANK], size = 0;
    haddr_t addr = HADDR_UNDEF;
    unsigned mask = 0;
    uint32_t m32 = 0;
    lstar_status st = LSTAR_OK;
    h5_guard g;
    for (int d = 0; d < a->rank; d++) off[d] = (hsize_t)(coords[d] * a->chunks[d]);
    h5_enter(&g);
    if (H5Dget_chunk_info_by_coord(a->d->did, off, &mask, &addr, &size) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, a->d->path, "cannot read chunk info");
        goto done;
    }
    if (addr == HADDR_UNDEF) {
        p->absent = 1; /* reads as the fill value: let H5Dread do the whole region */
        st = LSTAR_ERR_NOT_FOUND;
        goto done;
    }
    if (size > LSTAR_MAX_CHUNK_BYTES) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->d->path, "stored chunk of %llu bytes exceeds the cap",
                        (unsigned long long)size);
        goto done;
    }
    if (size > s->raw_cap) {
        size_t ncap = (size_t)size + (size_t)size / 4;
        uint8_t *nb = lstar_realloc(s->raw, ncap ? ncap : 1);
        if (!nb) {
            st = LSTAR_NOMEM(err, a->d->path);
            goto done;
        }
        s->raw = nb;
        s->raw_cap = ncap;
    }
    if (size && H5Dread_chunk(a->d->did, H5P_DEFAULT, off, &m32, s->raw) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, a->d->path, "cannot read the raw chunk at element %llu",
                     (unsigned long long)off[0]);
        goto done;
    }
    s->raw_size = (size_t)size;
    s->mask = m32;
done:
    h5_leave(&g);
    return st;
}

/* Pool worker: undo the filters (last first) into dst (chunk_bytes).  No HDF5 here. */
static lstar_status h5par_decode(void *ud, const uint64_t *coords, size_t slot, int worker, void *dst,
                                 lstar_error *err) {
    h5par *p = ud;
    h5arr *a = p->a;
    h5slot *s = &p->slots[slot];
    (void)coords;
    size_t steps[LSTAR_H5_MAX_FILTERS], nsteps = 0;
    for (size_t k = a->ndec; k-- > 0;)
        if (!(s->mask & (1u << a->dec_bit[k]))) steps[nsteps++] = k;
    if (nsteps == 0) {
        if (s->raw_size != a->chunk_bytes)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->d->path, "unfiltered chunk of %zu bytes, expected %zu",
                              s->raw_size, a->chunk_bytes);
        memcpy(dst, s->raw, a->chunk_bytes);
        return LSTAR_OK;
    }
    /* Alternate between the per-worker buffer and dst so the last step lands in dst. */
    if (nsteps > 1 && !p->tmp[worker]) {
        p->tmp[worker] = lstar_malloc(a->chunk_bytes ? a->chunk_bytes : 1);
        if (!p->tmp[worker]) return LSTAR_NOMEM(err, a->d->path);
    }
    const uint8_t *in = s->raw;
    size_t in_size = s->raw_size;
    for (size_t i = 0; i < nsteps; i++) {
        uint8_t *o = ((nsteps - 1 - i) % 2 == 0) ? (uint8_t *)dst : p->tmp[worker];
        lstar_status st = lstar_codec_decode_into_fast(a->dec[steps[i]], in, in_size, o, a->chunk_bytes, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, a->d->path);
            return st;
        }
        in = o;
        in_size = a->chunk_bytes;
    }
    return LSTAR_OK;
}

static lstar_status h5arr_read_pool(void *ctx, const uint64_t *start, const uint64_t *count, void *out,
                                    lstar_pool *pool, lstar_error *err) {
    h5arr *a = ctx;
    lstar_status st = LSTAR_OK;
    h5par p;
    memset(&p, 0, sizeof p);
    if (!a->par || a->chunk_bytes == 0) return h5arr_read(ctx, start, count, out, err);
    int nt = pool ? lstar_pool_threads(pool) : 1;
    p.a = a;
    p.nworkers = nt;
    p.nslots = (size_t)nt * H5A_SLOTS_PER_THREAD;
    size_t cap = H5A_INFLIGHT_BYTES / a->chunk_bytes;
    if (p.nslots > cap) p.nslots = cap > (size_t)nt ? cap : (size_t)nt;
    p.slots = lstar_calloc(p.nslots, sizeof *p.slots);
    p.tmp = lstar_calloc((size_t)nt, sizeof *p.tmp);
    if (!p.slots || !p.tmp) {
        st = LSTAR_NOMEM(err, a->d->path);
        goto done;
    }
    lstar_chunk_walk w;
    memset(&w, 0, sizeof w);
    w.rank = a->rank;
    w.shape = a->shape;
    w.chunks = a->chunks;
    w.itemsize = a->chunk_bytes;
    for (int d = 0; d < a->rank; d++) w.itemsize /= (size_t)a->chunks[d];
    w.nslots = p.nslots;
    w.load = h5par_load;
    w.decode = h5par_decode;
    w.ud = &p;
    st = lstar_chunk_walk_read(&w, start, count, out, pool, err);
    if (st != LSTAR_OK && p.absent) st = h5arr_read(ctx, start, count, out, err);
done:
    if (p.slots)
        for (size_t k = 0; k < p.nslots; k++) lstar_free(p.slots[k].raw);
    if (p.tmp)
        for (int k = 0; k < nt; k++) lstar_free(p.tmp[k]);
    lstar_free(p.slots);
    lstar_free(p.tmp);
    return st;
}

/* Set up parallel decode when every filter of the pipeline is one lstar decodes (called from build, lock
 * held).  Leaves a->par 0 otherwise; never fails the open. */
static void setup_par(h5arr *a, const lstar_h5_dataset_info *di, const h5_type *t, int member) {
    if (member || di->layout != LSTAR_H5_LAYOUT_CHUNKED || di->rank < 1 || di->nfilters == 0) return;
    if (t->kind != LSTAR_H5_TYPE_NUMERIC && t->kind != LSTAR_H5_TYPE_BOOL) return;
    if (t->dtype == LSTAR_DTYPE_FLOAT16 || !lstar_dtype_is_numeric(t->dtype)) return;
    size_t es = lstar_dtype_size(t->dtype);
    if (es == 0 || di->itemsize != es || (di->big_endian && es > 1)) return;
    uint64_t cb = es;
    for (int d = 0; d < di->rank; d++) {
        if (di->chunks[d] == 0 || cb > LSTAR_MAX_CHUNK_BYTES / di->chunks[d]) return;
        cb *= di->chunks[d];
        a->chunks[d] = di->chunks[d];
    }
    int ncomp = 0;
    for (size_t k = 0; k < di->nfilters; k++) {
        const lstar_h5_filter *f = &di->filters[k];
        char cfg[96];
        if (f->id == 1) {
            snprintf(cfg, sizeof cfg, "{\"id\": \"zlib\", \"level\": 1}");
            ncomp++;
        } else if (f->id == H5A_FILTER_ZSTD) {
            snprintf(cfg, sizeof cfg, "{\"id\": \"zstd\", \"level\": 3}");
            ncomp++;
        } else if (f->id == 2) {
            unsigned e = f->ncd > 0 && f->cd[0] ? f->cd[0] : (unsigned)es;
            snprintf(cfg, sizeof cfg, "{\"id\": \"shuffle\", \"elementsize\": %u}", e);
        } else {
            goto fail; /* lzf, blosc, fletcher32, szip, nbit, scaleoffset …: HDF5 decodes */
        }
        if (ncomp > 1 || lstar_codec_from_json(cfg, LSTAR_DTYPE_UINT8, 1, &a->dec[a->ndec], NULL) != LSTAR_OK)
            goto fail;
        a->dec_bit[a->ndec++] = (unsigned)k;
    }
    a->chunk_bytes = (size_t)cb;
    a->par = 1;
    return;
fail:
    for (size_t k = 0; k < a->ndec; k++) lstar_codec_free(a->dec[k]);
    a->ndec = 0;
}

static const lstar_array_ops k_h5_ops = {
    LSTAR_ARRAY_OPS_VERSION, "hdf5", h5arr_read, NULL, h5arr_close, NULL,
};
static const lstar_array_ops k_h5_string_ops = {
    LSTAR_ARRAY_OPS_VERSION, "hdf5", NULL, h5arr_read_strings, h5arr_close, NULL,
};

/* The preferred read unit: chunks, or a row block of about
 * LSTAR_DEFAULT_STREAM_CHUNK_ELEMS elements. */
static void pick_block(const lstar_h5_dataset_info *di, lstar_array_info *info) {
    if (di->layout == LSTAR_H5_LAYOUT_CHUNKED) {
        for (int i = 0; i < di->rank; i++) info->block[i] = di->chunks[i];
        return;
    }
    if (di->rank == 0) return;
    uint64_t row = 1;
    for (int i = 1; i < di->rank; i++) {
        info->block[i] = di->shape[i];
        if (di->shape[i] && row <= UINT64_MAX / di->shape[i]) row *= di->shape[i];
    }
    uint64_t rows = row ? LSTAR_DEFAULT_STREAM_CHUNK_ELEMS / row : di->shape[0];
    if (rows == 0) rows = 1;
    if (rows > di->shape[0]) rows = di->shape[0];
    info->block[0] = rows;
}

/* Build the array for dataset `d` (lock held; *ctx_out receives the ctx
 * to wrap after unlocking).  member == NULL: the whole dataset. */
static lstar_status build(lstar_h5_dataset *d, const char *member, h5arr **ctx_out, lstar_array_info *info,
                          lstar_error *err) {
    lstar_status st = LSTAR_OK;
    h5arr *a = NULL;
    hid_t ftype = -1, mftype = -1, elem = -1;
    lstar_h5_dataset_info *di = NULL;
    *ctx_out = NULL;
    di = lstar_malloc(sizeof *di);
    a = lstar_calloc(1, sizeof *a);
    if (!di || !a) {
        st = LSTAR_NOMEM(err, d->path);
        goto done;
    }
    a->memtype = -1;
    LSTAR_CHECK(h5i_dataset_info(d, di, err));
    if (di->rank < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path, "dataset has a null dataspace (h5py.Empty): no values");
        goto done;
    }
    if ((ftype = H5Dget_type(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the datatype");
        goto done;
    }
    h5_type t;
    if (member) {
        if (H5Tget_class(ftype) != H5T_COMPOUND) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "not a compound dataset");
            goto done;
        }
        int idx = H5Tget_member_index(ftype, member);
        if (idx < 0) {
            H5Eclear2(H5E_DEFAULT);
            st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, d->path, "no compound member '%s'", member);
            goto done;
        }
        if ((mftype = H5Tget_member_type(ftype, (unsigned)idx)) < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read member '%s'", member);
            goto done;
        }
        h5i_classify(mftype, &t);
    } else {
        h5i_classify(ftype, &t);
        if (t.kind == LSTAR_H5_TYPE_COMPOUND && t.dtype == LSTAR_DTYPE_STRUCT) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path,
                            "compound dataset: read its members with lstar_array_from_h5_member");
            goto done;
        }
    }
    hid_t src = member ? mftype : ftype;
    int is_string = t.kind == LSTAR_H5_TYPE_VLEN_STRING || t.kind == LSTAR_H5_TYPE_FIXED_STRING;
    if (is_string) {
        elem = h5i_string_memtype(&t);
    } else if (t.kind == LSTAR_H5_TYPE_NUMERIC || t.kind == LSTAR_H5_TYPE_BOOL ||
               (t.kind == LSTAR_H5_TYPE_COMPOUND && t.dtype != LSTAR_DTYPE_STRUCT)) {
        elem = h5i_memtype(t.dtype, src);
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path, "%s%s%s: unsupported element type (HDF5 class %d)",
                        member ? "member '" : "", member ? member : "", member ? "'" : "", (int)H5Tget_class(src));
        goto done;
    }
    if (elem < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot build a memory type");
        goto done;
    }
    if (member) {
        /* A one-member compound: HDF5 picks the member out by name. */
        size_t es = H5Tget_size(elem);
        if ((a->memtype = H5Tcreate(H5T_COMPOUND, es)) < 0 || H5Tinsert(a->memtype, member, 0, elem) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot build a member type");
            goto done;
        }
    } else {
        a->memtype = elem;
        elem = -1;
    }
    a->vlen = t.kind == LSTAR_H5_TYPE_VLEN_STRING;
    a->itemsize = t.itemsize;
    a->pad = t.str_pad;
    a->rank = di->rank;
    for (int i = 0; i < di->rank; i++) a->shape[i] = di->shape[i];
    memset(info, 0, sizeof *info);
    info->dtype = is_string ? LSTAR_DTYPE_STRING : t.dtype;
    info->rank = di->rank;
    for (int i = 0; i < di->rank; i++) info->shape[i] = di->shape[i];
    pick_block(di, info);
    a->member = member != NULL;
    if (!is_string) setup_par(a, di, &t, member != NULL);
    a->d = d;
    *ctx_out = a;
    a = NULL;
done:
    if (elem >= 0) H5Tclose(elem);
    if (mftype >= 0) H5Tclose(mftype);
    if (ftype >= 0) H5Tclose(ftype);
    if (a && a->memtype >= 0) H5Tclose(a->memtype);
    if (a)
        for (size_t k = 0; k < a->ndec; k++) lstar_codec_free(a->dec[k]);
    lstar_free(a);
    lstar_free(di);
    return st;
}

static lstar_status from_h5(lstar_h5_file *f, const char *path, const char *member, lstar_array **out,
                            lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset *d = NULL;
    h5arr *a = NULL;
    lstar_array_info info;
    h5_guard g;
    if (out) *out = NULL;
    if (!f || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_array_from_h5: NULL argument");
    h5_enter(&g);
    st = h5i_dataset_open(f, path, &d, err);
    if (st == LSTAR_OK) st = build(d, member, &a, &info, err);
    if (st != LSTAR_OK) h5i_dataset_close(d); /* build did not take it */
    h5_leave(&g);
    if (st != LSTAR_OK) return st;
    /* Outside the lock: on failure from_ops calls h5arr_close, which locks. */
    int par = a->par;
    st = lstar_array_from_ops(info.dtype == LSTAR_DTYPE_STRING ? &k_h5_string_ops : &k_h5_ops, a, &info, out, err);
    if (st == LSTAR_OK && par) lstar_array_set_read_pool(*out, h5arr_read_pool);
    return st;
}

lstar_h5_dataset *lstar_array_h5_dataset(const lstar_array *a) {
    h5arr *h = lstar_array_backend_ctx(a, &k_h5_ops);
    return h && !h->member ? h->d : NULL;
}

lstar_status lstar_array_from_h5(lstar_h5_file *f, const char *path, lstar_array **out, lstar_error *err) {
    return from_h5(f, path, NULL, out, err);
}

lstar_status lstar_array_from_h5_member(lstar_h5_file *f, const char *path, const char *member, lstar_array **out,
                                        lstar_error *err) {
    if (!member) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "member name is NULL");
    return from_h5(f, path, member, out, err);
}
