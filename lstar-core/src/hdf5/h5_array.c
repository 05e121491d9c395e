/* HDF5 backend of lstar_array: a dataset (or one member of a compound
 * dataset) read by hyperslab into the caller's buffer. */
#include <string.h>

#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"

typedef struct h5arr {
    lstar_h5_dataset *d;
    hid_t memtype; /* numeric/bool read type, or the string read type */
    int vlen;      /* strings: vlen pointers (else fixed items of itemsize bytes) */
    size_t itemsize;
    int pad;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
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
    lstar_free(a);
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
    a->d = d;
    *ctx_out = a;
    a = NULL;
done:
    if (elem >= 0) H5Tclose(elem);
    if (mftype >= 0) H5Tclose(mftype);
    if (ftype >= 0) H5Tclose(ftype);
    if (a && a->memtype >= 0) H5Tclose(a->memtype);
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
    return lstar_array_from_ops(info.dtype == LSTAR_DTYPE_STRING ? &k_h5_string_ops : &k_h5_ops, a, &info, out, err);
}

lstar_status lstar_array_from_h5(lstar_h5_file *f, const char *path, lstar_array **out, lstar_error *err) {
    return from_h5(f, path, NULL, out, err);
}

lstar_status lstar_array_from_h5_member(lstar_h5_file *f, const char *path, const char *member, lstar_array **out,
                                        lstar_error *err) {
    if (!member) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "member name is NULL");
    return from_h5(f, path, member, out, err);
}
