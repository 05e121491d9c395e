/* HDF5 backend: datatypes, dataset handles, region and string I/O, compound
 * members, chunk-level access. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"

/* ---- types ---------------------------------------------------------------------------- */

hid_t h5i_bool_type(void) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    signed char v0 = 0, v1 = 1;
    if (t < 0) return -1;
    if (H5Tenum_insert(t, "FALSE", &v0) < 0 || H5Tenum_insert(t, "TRUE", &v1) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t h5i_vlen_str_type(H5T_cset_t cset) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, cset == H5T_CSET_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

lstar_dtype h5i_int_dtype(size_t size, int sgn) {
    switch (size) {
    case 1:
        return sgn ? LSTAR_DTYPE_INT8 : LSTAR_DTYPE_UINT8;
    case 2:
        return sgn ? LSTAR_DTYPE_INT16 : LSTAR_DTYPE_UINT16;
    case 4:
        return sgn ? LSTAR_DTYPE_INT32 : LSTAR_DTYPE_UINT32;
    case 8:
        return sgn ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_UINT64;
    default:
        return LSTAR_DTYPE_INVALID;
    }
}

int h5i_is_bool_enum(hid_t t) {
    if (H5Tget_class(t) != H5T_ENUM || H5Tget_nmembers(t) != 2) return 0;
    hid_t base = H5Tget_super(t);
    if (base < 0) return 0;
    size_t bs = H5Tget_size(base);
    H5Tclose(base);
    if (bs != 1) return 0;
    int ok = 1;
    for (unsigned i = 0; i < 2 && ok; i++) {
        char *nm = H5Tget_member_name(t, i);
        signed char v = -1;
        if (!nm || H5Tget_member_value(t, i, &v) < 0)
            ok = 0;
        else if (!((strcmp(nm, "FALSE") == 0 && v == 0) || (strcmp(nm, "TRUE") == 0 && v == 1)))
            ok = 0;
        if (nm) H5free_memory(nm);
    }
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

/* h5py complex: compound {r, i} of two equal IEEE floats. */
static lstar_dtype complex_dtype(hid_t t) {
    if (H5Tget_nmembers(t) != 2) return LSTAR_DTYPE_INVALID;
    lstar_dtype res = LSTAR_DTYPE_INVALID;
    char *n0 = H5Tget_member_name(t, 0), *n1 = H5Tget_member_name(t, 1);
    hid_t t0 = H5Tget_member_type(t, 0), t1 = H5Tget_member_type(t, 1);
    if (n0 && n1 && t0 >= 0 && t1 >= 0 && strcmp(n0, "r") == 0 && strcmp(n1, "i") == 0 &&
        H5Tget_class(t0) == H5T_FLOAT && H5Tget_class(t1) == H5T_FLOAT && H5Tget_size(t0) == H5Tget_size(t1)) {
        if (H5Tget_size(t0) == 4) res = LSTAR_DTYPE_COMPLEX64;
        if (H5Tget_size(t0) == 8) res = LSTAR_DTYPE_COMPLEX128;
    }
    if (n0) H5free_memory(n0);
    if (n1) H5free_memory(n1);
    if (t0 >= 0) H5Tclose(t0);
    if (t1 >= 0) H5Tclose(t1);
    return res;
}

void h5i_classify(hid_t ftype, h5_type *t) {
    memset(t, 0, sizeof *t);
    t->kind = LSTAR_H5_TYPE_UNSUPPORTED;
    t->dtype = LSTAR_DTYPE_INVALID;
    t->itemsize = H5Tget_size(ftype);
    switch (H5Tget_class(ftype)) {
    case H5T_INTEGER:
        t->dtype = h5i_int_dtype(t->itemsize, H5Tget_sign(ftype) == H5T_SGN_2);
        t->big_endian = H5Tget_order(ftype) == H5T_ORDER_BE;
        if (t->dtype != LSTAR_DTYPE_INVALID) t->kind = LSTAR_H5_TYPE_NUMERIC;
        break;
    case H5T_FLOAT:
        t->big_endian = H5Tget_order(ftype) == H5T_ORDER_BE;
        t->dtype = t->itemsize == 4 ? LSTAR_DTYPE_FLOAT32
                   : t->itemsize == 8 ? LSTAR_DTYPE_FLOAT64
                   : t->itemsize == 2 ? LSTAR_DTYPE_FLOAT16
                                      : LSTAR_DTYPE_INVALID;
        if (t->dtype != LSTAR_DTYPE_INVALID) t->kind = LSTAR_H5_TYPE_NUMERIC;
        break;
    case H5T_ENUM:
        if (h5i_is_bool_enum(ftype)) {
            t->kind = LSTAR_H5_TYPE_BOOL;
            t->dtype = LSTAR_DTYPE_BOOL;
        } else {
            hid_t base = H5Tget_super(ftype);
            if (base >= 0) {
                t->dtype = h5i_int_dtype(H5Tget_size(base), H5Tget_sign(base) == H5T_SGN_2);
                t->big_endian = H5Tget_order(base) == H5T_ORDER_BE;
                H5Tclose(base);
                if (t->dtype != LSTAR_DTYPE_INVALID) t->kind = LSTAR_H5_TYPE_NUMERIC;
            }
        }
        break;
    case H5T_STRING:
        t->dtype = LSTAR_DTYPE_STRING;
        t->utf8 = H5Tget_cset(ftype) == H5T_CSET_UTF8;
        if (H5Tis_variable_str(ftype) > 0) {
            t->kind = LSTAR_H5_TYPE_VLEN_STRING;
        } else {
            t->kind = LSTAR_H5_TYPE_FIXED_STRING;
            t->str_pad = (int)H5Tget_strpad(ftype);
        }
        break;
    case H5T_COMPOUND:
        t->kind = LSTAR_H5_TYPE_COMPOUND;
        t->nmembers = H5Tget_nmembers(ftype);
        t->dtype = complex_dtype(ftype);
        if (t->dtype == LSTAR_DTYPE_INVALID) t->dtype = LSTAR_DTYPE_STRUCT;
        break;
    case H5T_REFERENCE:
        t->kind = LSTAR_H5_TYPE_REFERENCE;
        break;
    default:
        break;
    }
    H5Eclear2(H5E_DEFAULT);
}

/* h5py's complex layout: compound {r, i} of two `part` floats of `es` bytes (H5Tclose it). <0 on failure. */
static hid_t complex_type(hid_t part, size_t es) {
    hid_t t = H5Tcreate(H5T_COMPOUND, 2 * es);
    if (t < 0) return -1;
    if (H5Tinsert(t, "r", 0, part) < 0 || H5Tinsert(t, "i", es, part) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int type_pair(hid_t *native, hid_t *file, hid_t n, hid_t f) {
    *native = n;
    *file = f;
    return 1;
}

/* The native (memory) and little-endian file types of the integer and float32/64 dtypes (borrowed ids);
 * 0 for the other dtypes. */
static int plain_types(lstar_dtype dtype, hid_t *native, hid_t *file) {
    switch (dtype) {
    case LSTAR_DTYPE_INT8: return type_pair(native, file, H5T_NATIVE_INT8, H5T_STD_I8LE);
    case LSTAR_DTYPE_INT16: return type_pair(native, file, H5T_NATIVE_INT16, H5T_STD_I16LE);
    case LSTAR_DTYPE_INT32: return type_pair(native, file, H5T_NATIVE_INT32, H5T_STD_I32LE);
    case LSTAR_DTYPE_INT64: return type_pair(native, file, H5T_NATIVE_INT64, H5T_STD_I64LE);
    case LSTAR_DTYPE_UINT8: return type_pair(native, file, H5T_NATIVE_UINT8, H5T_STD_U8LE);
    case LSTAR_DTYPE_UINT16: return type_pair(native, file, H5T_NATIVE_UINT16, H5T_STD_U16LE);
    case LSTAR_DTYPE_UINT32: return type_pair(native, file, H5T_NATIVE_UINT32, H5T_STD_U32LE);
    case LSTAR_DTYPE_UINT64: return type_pair(native, file, H5T_NATIVE_UINT64, H5T_STD_U64LE);
    case LSTAR_DTYPE_FLOAT32: return type_pair(native, file, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE);
    case LSTAR_DTYPE_FLOAT64: return type_pair(native, file, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE);
    default: return 0;
    }
}

hid_t h5i_memtype(lstar_dtype dtype, hid_t ftype) {
    hid_t native, file;
    if (plain_types(dtype, &native, &file)) {
        /* Enums convert only to enums: read them through their native form
         * (the values are the base integers). */
        if (lstar_dtype_is_integer(dtype) && ftype >= 0 && H5Tget_class(ftype) == H5T_ENUM)
            return H5Tget_native_type(ftype, H5T_DIR_ASCEND);
        return H5Tcopy(native);
    }
    switch (dtype) {
    case LSTAR_DTYPE_BOOL:
        return h5i_bool_type();
    case LSTAR_DTYPE_FLOAT16: {
        /* The file's own 2-byte float layout, in native byte order. */
        hid_t t = ftype >= 0 ? H5Tcopy(ftype) : -1;
        if (t >= 0 && H5Tset_order(t, H5T_ORDER_LE) < 0) {
            H5Tclose(t);
            return -1;
        }
        return t;
    }
    case LSTAR_DTYPE_COMPLEX64:
        return complex_type(H5T_NATIVE_FLOAT, 4);
    case LSTAR_DTYPE_COMPLEX128:
        return complex_type(H5T_NATIVE_DOUBLE, 8);
    default:
        return -1;
    }
}

/* File type for creating a dataset of `dtype`. */
static hid_t file_type_for(lstar_dtype dtype, size_t itemsize) {
    hid_t native, file;
    if (plain_types(dtype, &native, &file)) return H5Tcopy(file);
    switch (dtype) {
    case LSTAR_DTYPE_BOOL:
        return h5i_bool_type();
    case LSTAR_DTYPE_FLOAT16: {
        /* IEEE half precision, laid out as h5py does. */
        hid_t t = H5Tcopy(H5T_IEEE_F32LE);
        if (t < 0) return -1;
        if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
            H5Tclose(t);
            return -1;
        }
        return t;
    }
    case LSTAR_DTYPE_STRING:
        return h5i_vlen_str_type(H5T_CSET_UTF8);
    case LSTAR_DTYPE_FIXED_BYTES: {
        hid_t t = H5Tcopy(H5T_C_S1);
        if (t < 0) return -1;
        if (H5Tset_size(t, itemsize) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0) {
            H5Tclose(t);
            return -1;
        }
        return t;
    }
    case LSTAR_DTYPE_COMPLEX64:
        return complex_type(H5T_IEEE_F32LE, 4);
    case LSTAR_DTYPE_COMPLEX128:
        return complex_type(H5T_IEEE_F64LE, 8);
    default:
        return -1;
    }
}

size_t h5i_fixed_len(const char *p, size_t size, int pad) {
    size_t n;
    if (pad == H5T_STR_NULLTERM) {
        for (n = 0; n < size && p[n]; n++) {
        }
        return n;
    }
    n = size;
    while (n > 0 && (p[n - 1] == '\0' || (pad == H5T_STR_SPACEPAD && p[n - 1] == ' '))) n--;
    return n;
}

/* ---- selections ------------------------------------------------------------------------ */

static lstar_status select_box(hid_t space, const uint64_t *start, const uint64_t *count, int rank, int first,
                               const char *where, lstar_error *err) {
    hsize_t s[LSTAR_MAX_RANK], c[LSTAR_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        s[d] = start[d];
        c[d] = count[d];
    }
    if (H5Sselect_hyperslab(space, first ? H5S_SELECT_SET : H5S_SELECT_OR, s, NULL, c, NULL) < 0)
        return h5_fail(err, LSTAR_ERR_INTERNAL, where, "cannot select a region");
    return LSTAR_OK;
}

lstar_status h5i_select_flat(hid_t space, int rank, const uint64_t *shape, uint64_t start, uint64_t count,
                             const char *where, lstar_error *err) {
    uint64_t stride[LSTAR_MAX_RANK];
    if (rank == 0) {
        if (H5Sselect_all(space) < 0) return h5_fail(err, LSTAR_ERR_INTERNAL, where, "cannot select");
        return LSTAR_OK;
    }
    stride[rank - 1] = 1;
    for (int d = rank - 1; d > 0; d--) stride[d - 1] = stride[d] * shape[d];
    uint64_t s = start, e = start + count;
    int first = 1;
    while (s < e) {
        uint64_t coord[LSTAR_MAX_RANK], cnt[LSTAR_MAX_RANK];
        uint64_t rem = s;
        for (int d = 0; d < rank; d++) {
            coord[d] = rem / stride[d];
            rem %= stride[d];
        }
        /* Outermost dimension k at which the box can start (s aligned to
         * stride[k]) and hold at least one full slab. */
        int k = 0;
        uint64_t nslab = 0;
        for (k = 0; k < rank; k++) {
            if (s % stride[k] != 0) continue;
            nslab = (e - s) / stride[k];
            if (nslab > shape[k] - coord[k]) nslab = shape[k] - coord[k];
            if (nslab > 0) break;
        }
        if (k == rank) { /* cannot happen: stride[rank-1] == 1 */
            return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, where, "flat selection did not progress");
        }
        for (int d = 0; d < rank; d++) cnt[d] = d < k ? 1 : d == k ? nslab : shape[d];
        for (int d = k + 1; d < rank; d++) coord[d] = 0;
        lstar_status st = select_box(space, coord, cnt, rank, first, where, err);
        if (st != LSTAR_OK) return st;
        first = 0;
        s += nslab * stride[k];
    }
    return LSTAR_OK;
}

/* ---- dataset handles --------------------------------------------------------------------- */

/* Debian's LZF plugin (hdf5-plugin-lzf, liblzf_filter.so) does not record
 * its dependency on liblzf.so.1, so HDF5's dlopen of it fails with
 * "undefined symbol: lzf_decompress" unless liblzf is already loaded (h5py
 * bundles its own lzf, which hides the bug).  Load liblzf globally once,
 * then ask HDF5 again.  Lock held. */
static int filter_avail(H5Z_filter_t id) {
    static int lzf_tried = 0;
    htri_t a = H5Zfilter_avail(id);
    H5Eclear2(H5E_DEFAULT);
    if (a > 0) return 1;
    if (id == 32000 && !lzf_tried) {
        lzf_tried = 1;
        if (dlopen("liblzf.so.1", RTLD_NOW | RTLD_GLOBAL) != NULL) {
            a = H5Zfilter_avail(id);
            H5Eclear2(H5E_DEFAULT);
        }
    }
    return a > 0;
}

static void check_filters(lstar_h5_dataset *d) {
    hid_t dcpl = H5Dget_create_plist(d->did);
    if (dcpl < 0) {
        H5Eclear2(H5E_DEFAULT);
        return;
    }
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, cfg = 0;
        size_t ncd = 0;
        char name[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, NULL, sizeof name, name, &cfg);
        if (id < 0) continue;
        if (!filter_avail(id)) {
            d->missing_filter = (unsigned)id;
            snprintf(d->missing_name, sizeof d->missing_name, "%s", name[0] ? name : "unnamed");
            break;
        }
    }
    H5Pclose(dcpl);
    H5Eclear2(H5E_DEFAULT);
}

lstar_status h5i_dataset_open(lstar_h5_file *f, const char *path, lstar_h5_dataset **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset *d = NULL;
    *out = NULL;
    d = lstar_calloc(1, sizeof *d);
    if (!d || !(d->path = h5i_abspath(path))) {
        lstar_free(d);
        return LSTAR_NOMEM(err, path);
    }
    d->did = -1;
    H5O_info_t oi;
    htri_t ok = 1;
    /* Walk the links so a missing path is NOT_FOUND without HDF5 noise. */
    {
        char buf[LSTAR_MAX_KEY_BYTES];
        size_t n = strlen(d->path);
        if (n >= sizeof buf) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "path too long");
            goto done;
        }
        memcpy(buf, d->path, n + 1);
        for (size_t i = 1; i <= n && ok > 0; i++) {
            if (buf[i] == '/' || buf[i] == '\0') {
                char c = buf[i];
                buf[i] = '\0';
                ok = H5Lexists(f->fid, buf, H5P_DEFAULT);
                buf[i] = c;
            }
        }
        H5Eclear2(H5E_DEFAULT);
    }
    if (ok <= 0 || strcmp(d->path, "/") == 0 ||
        H5Oget_info_by_name2(f->fid, d->path, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        H5Eclear2(H5E_DEFAULT);
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, d->path, "no such dataset");
        goto done;
    }
    if (oi.type != H5O_TYPE_DATASET) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "not a dataset");
        goto done;
    }
    if ((d->did = H5Dopen2(f->fid, d->path, H5P_DEFAULT)) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot open dataset");
        goto done;
    }
    check_filters(d);
    d->file = f;
    h5i_file_ref(f);
    *out = d;
    d = NULL;
done:
    h5i_dataset_close(d);
    return st;
}

void h5i_dataset_close(lstar_h5_dataset *d) {
    if (!d) return;
    if (d->did >= 0) H5Dclose(d->did);
    if (d->file) h5i_file_unref(d->file);
    lstar_free(d->path);
    lstar_free(d);
}

lstar_status lstar_h5_dataset_open(lstar_h5_file *f, const char *path, lstar_h5_dataset **out, lstar_error *err) {
    h5_guard g;
    if (out) *out = NULL;
    if (!f || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_dataset_open: NULL argument");
    h5_enter(&g);
    lstar_status st = h5i_dataset_open(f, path, out, err);
    h5_leave(&g);
    return st;
}

void lstar_h5_dataset_close(lstar_h5_dataset *d) {
    h5_guard g;
    if (!d) return;
    h5_enter(&g);
    h5i_dataset_close(d);
    h5_leave(&g);
}

const char *lstar_h5_dataset_path(const lstar_h5_dataset *d) { return d ? d->path : NULL; }

lstar_status lstar_h5_dataset_create(lstar_h5_file *f, const char *path, const lstar_h5_dataset_spec *spec,
                                     lstar_h5_dataset **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, space = -1, dcpl = -1, lcpl = -1, did = -1;
    h5_guard g;
    char *abs = NULL;
    if (out) *out = NULL;
    if (!f || !spec) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_dataset_create: NULL argument");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (!f->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, abs, "file is open read-only");
        goto done;
    }
    if (spec->rank < 0 || spec->rank > LSTAR_MAX_RANK) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "rank %d outside 0..%d", spec->rank, LSTAR_MAX_RANK);
        goto done;
    }
    if (spec->dtype == LSTAR_DTYPE_FIXED_BYTES && spec->itemsize == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "fixed-size strings need an itemsize");
        goto done;
    }
    if (spec->nfilters > LSTAR_H5_MAX_FILTERS || (spec->nfilters && !spec->filters)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "bad filter list");
        goto done;
    }
    int chunked = 0;
    for (int d = 0; d < spec->rank; d++) chunked |= spec->chunks[d] != 0;
    if (chunked) {
        for (int d = 0; d < spec->rank; d++)
            if (spec->chunks[d] == 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "chunk dimension %d is 0", d);
                goto done;
            }
    }
    int unlimited = 0;
    for (int d = 0; d < spec->rank; d++) unlimited |= spec->maxshape[d] == UINT64_MAX;
    if ((spec->nfilters || unlimited) && !chunked) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "filters and unlimited dimensions need chunks");
        goto done;
    }
    if (h5i_node_type(f->fid, abs) != LSTAR_H5_NODE_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, abs, "an object exists at this path");
        goto done;
    }
    if ((ftype = file_type_for(spec->dtype, spec->itemsize)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, abs, "cannot create a dataset of dtype %s",
                        lstar_dtype_name(spec->dtype));
        goto done;
    }
    if (spec->rank == 0) {
        space = H5Screate(H5S_SCALAR);
    } else {
        hsize_t dims[LSTAR_MAX_RANK], maxd[LSTAR_MAX_RANK];
        for (int d = 0; d < spec->rank; d++) {
            dims[d] = spec->shape[d];
            maxd[d] = spec->maxshape[d] == UINT64_MAX ? H5S_UNLIMITED
                      : spec->maxshape[d] == 0        ? spec->shape[d]
                                                      : spec->maxshape[d];
        }
        space = H5Screate_simple(spec->rank, dims, maxd);
    }
    if (space < 0) {
        st = h5_fail(err, LSTAR_ERR_INVALID_ARG, abs, "bad shape");
        goto done;
    }
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || (lcpl = H5Pcreate(H5P_LINK_CREATE)) < 0 ||
        H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0 || H5Pset_obj_track_times(dcpl, 0) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, abs, "cannot set up dataset creation");
        goto done;
    }
    if (chunked) {
        hsize_t ch[LSTAR_MAX_RANK];
        for (int d = 0; d < spec->rank; d++) ch[d] = spec->chunks[d];
        if (H5Pset_chunk(dcpl, spec->rank, ch) < 0) {
            st = h5_fail(err, LSTAR_ERR_INVALID_ARG, abs, "bad chunk shape");
            goto done;
        }
    }
    for (size_t i = 0; i < spec->nfilters; i++) {
        const lstar_h5_filter *fl = &spec->filters[i];
        if (fl->ncd > LSTAR_H5_MAX_CD_VALUES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, abs, "filter %u has %zu cd_values", fl->id, fl->ncd);
            goto done;
        }
        int optional = (fl->flags & LSTAR_H5_FILTER_OPTIONAL) != 0;
        if (!optional && !filter_avail((H5Z_filter_t)fl->id)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, abs, "required filter %u is not available", fl->id);
            goto done;
        }
        if (H5Pset_filter(dcpl, (H5Z_filter_t)fl->id, optional ? H5Z_FLAG_OPTIONAL : H5Z_FLAG_MANDATORY, fl->ncd,
                          fl->cd) < 0) {
            st = h5_fail(err, LSTAR_ERR_UNSUPPORTED, abs, "cannot add filter %u", fl->id);
            goto done;
        }
    }
    if (spec->fill_set && lstar_dtype_is_numeric(spec->dtype) && spec->dtype != LSTAR_DTYPE_FLOAT16 &&
        spec->dtype != LSTAR_DTYPE_BOOL) {
        if (H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &spec->fill_value) < 0) {
            st = h5_fail(err, LSTAR_ERR_INVALID_ARG, abs, "bad fill value");
            goto done;
        }
    }
    if ((did = H5Dcreate2(f->fid, abs, ftype, space, lcpl, dcpl, H5P_DEFAULT)) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot create dataset");
        goto done;
    }
    H5Dclose(did);
    did = -1;
    if (out) LSTAR_CHECK(h5i_dataset_open(f, abs, out, err));
done:
    if (did >= 0) H5Dclose(did);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    lstar_free(abs);
    return st;
}

/* ---- info ----------------------------------------------------------------------------------------- */

/* Shape of the dataset (lock held); rank -1 for a null dataspace. */
static lstar_status get_shape(lstar_h5_dataset *d, int *rank, uint64_t *shape, uint64_t *maxshape,
                              lstar_error *err) {
    hid_t space = H5Dget_space(d->did);
    hsize_t dims[LSTAR_MAX_RANK], maxd[LSTAR_MAX_RANK];
    if (space < 0) return h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the dataspace");
    if (H5Sget_simple_extent_type(space) == H5S_NULL) {
        *rank = -1;
        H5Sclose(space);
        return LSTAR_OK;
    }
    int r = H5Sget_simple_extent_ndims(space);
    if (r < 0 || r > LSTAR_MAX_RANK) {
        H5Sclose(space);
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, d->path, "unsupported dataspace rank %d", r);
    }
    H5Sget_simple_extent_dims(space, dims, maxd);
    H5Sclose(space);
    *rank = r;
    for (int i = 0; i < r; i++) {
        shape[i] = dims[i];
        if (maxshape) maxshape[i] = maxd[i] == H5S_UNLIMITED ? UINT64_MAX : maxd[i];
    }
    return LSTAR_OK;
}

lstar_status h5i_dataset_info(lstar_h5_dataset *d, lstar_h5_dataset_info *info, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, dcpl = -1;
    memset(info, 0, sizeof *info);
    info->offset = UINT64_MAX;
    LSTAR_CHECK(get_shape(d, &info->rank, info->shape, info->maxshape, err));
    if ((ftype = H5Dget_type(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the datatype");
        goto done;
    }
    h5_type t;
    h5i_classify(ftype, &t);
    info->kind = t.kind;
    info->dtype = t.dtype;
    info->itemsize = t.itemsize;
    info->big_endian = t.big_endian;
    info->utf8 = t.utf8;
    info->str_pad = t.str_pad;
    info->nmembers = t.nmembers;
    if ((dcpl = H5Dget_create_plist(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the creation properties");
        goto done;
    }
    switch (H5Pget_layout(dcpl)) {
    case H5D_COMPACT:
        info->layout = LSTAR_H5_LAYOUT_COMPACT;
        break;
    case H5D_CONTIGUOUS:
        info->layout = LSTAR_H5_LAYOUT_CONTIGUOUS;
        break;
    case H5D_CHUNKED:
        info->layout = LSTAR_H5_LAYOUT_CHUNKED;
        break;
    default:
        info->layout = LSTAR_H5_LAYOUT_OTHER;
        break;
    }
    if (info->layout == LSTAR_H5_LAYOUT_CHUNKED) {
        hsize_t ch[LSTAR_MAX_RANK];
        int r = H5Pget_chunk(dcpl, LSTAR_MAX_RANK, ch);
        if (r != info->rank) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, d->path, "chunk rank %d does not match rank %d", r, info->rank);
            goto done;
        }
        for (int i = 0; i < r; i++) {
            if (ch[i] == 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, d->path, "chunk dimension %d is 0", i);
                goto done;
            }
            info->chunks[i] = ch[i];
        }
    }
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0 || nf > LSTAR_H5_MAX_FILTERS) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, d->path, "bad filter pipeline");
        goto done;
    }
    for (int i = 0; i < nf; i++) {
        lstar_h5_filter *fl = &info->filters[i];
        unsigned flags = 0, cfg = 0;
        size_t ncd = LSTAR_H5_MAX_CD_VALUES;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, fl->cd, sizeof fl->name, fl->name, &cfg);
        if (id < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read filter %d", i);
            goto done;
        }
        if (ncd > LSTAR_H5_MAX_CD_VALUES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "filter %d has %zu cd_values (cap %d)", (int)id, ncd,
                            LSTAR_H5_MAX_CD_VALUES);
            goto done;
        }
        fl->id = (unsigned)id;
        fl->flags = (flags & H5Z_FLAG_OPTIONAL) ? LSTAR_H5_FILTER_OPTIONAL : 0;
        fl->ncd = ncd;
        fl->name[sizeof fl->name - 1] = '\0';
        fl->available = filter_avail(id);
    }
    info->nfilters = (size_t)nf;
    info->storage_size = H5Dget_storage_size(d->did);
    if (info->layout == LSTAR_H5_LAYOUT_CONTIGUOUS) {
        haddr_t off = H5Dget_offset(d->did);
        H5Eclear2(H5E_DEFAULT); /* HADDR_UNDEF when never written */
        if (off != HADDR_UNDEF) info->offset = off;
    }
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    if (ftype >= 0) H5Tclose(ftype);
    return st;
}

lstar_status lstar_h5_dataset_get_info(lstar_h5_dataset *d, lstar_h5_dataset_info *info, lstar_error *err) {
    h5_guard g;
    if (!d || !info) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_get_info: NULL argument");
    h5_enter(&g);
    lstar_status st = h5i_dataset_info(d, info, err);
    h5_leave(&g);
    return st;
}

/* ---- region I/O ------------------------------------------------------------------------------------- */

/* Failure of a data read: name a filter that cannot run. */
lstar_status h5i_read_fail(lstar_h5_dataset *d, lstar_error *err, const char *what) {
    if (d->missing_filter)
        return h5_fail(err, LSTAR_ERR_UNSUPPORTED, d->path, "required filter '%s' (%u) is not available",
                       d->missing_name, d->missing_filter);
    return h5_fail(err, LSTAR_ERR_IO, d->path, "%s", what);
}

/* Select [start, start+count) in a fresh file space and build the memory
 * space (lock held). */
static lstar_status region_spaces(lstar_h5_dataset *d, int rank, const uint64_t *shape, const uint64_t *start,
                                  const uint64_t *count, hid_t *fspace, hid_t *mspace, lstar_error *err) {
    *fspace = *mspace = -1;
    if ((*fspace = H5Dget_space(d->did)) < 0) return h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read dataspace");
    if (rank == 0) {
        *mspace = H5Screate(H5S_SCALAR);
    } else {
        hsize_t c[LSTAR_MAX_RANK];
        for (int i = 0; i < rank; i++) {
            if (!start || !count || start[i] > shape[i] || count[i] > shape[i] - start[i])
                return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "region outside dimension %d", i);
            c[i] = count[i];
        }
        lstar_status st = select_box(*fspace, start, count, rank, 1, d->path, err);
        if (st != LSTAR_OK) return st;
        *mspace = H5Screate_simple(rank, c, NULL);
    }
    if (*mspace < 0) return h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot create a memory space");
    return LSTAR_OK;
}

/* Read a region through `memtype` (lock held). */
lstar_status h5i_read_region(lstar_h5_dataset *d, hid_t memtype, const uint64_t *start,
                                       const uint64_t *count, void *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t fspace = -1, mspace = -1;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    LSTAR_CHECK(get_shape(d, &rank, shape, NULL, err));
    if (rank < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path, "dataset has a null dataspace (no values)");
        goto done;
    }
    if (rank > 0 && (!start || !count)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "start/count are NULL for a rank-%d dataset", rank);
        goto done;
    }
    for (int i = 0; i < rank; i++)
        if (count[i] == 0) goto done;
    LSTAR_CHECK(region_spaces(d, rank, shape, start, count, &fspace, &mspace, err));
    if (H5Dread(d->did, memtype, mspace, fspace, H5P_DEFAULT, out) < 0) {
        st = h5i_read_fail(d, err, "cannot read dataset region");
        goto done;
    }
done:
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return st;
}

/* The file type of a numeric, bool or complex dataset and the memory type to read or write it through
 * (*ftype and *mt: H5Tclose them, also after a failure).  Lock held. */
static lstar_status numeric_memtype(lstar_h5_dataset *d, hid_t *ftype, hid_t *mt, lstar_error *err) {
    if ((*ftype = H5Dget_type(d->did)) < 0) return h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the datatype");
    h5_type t;
    h5i_classify(*ftype, &t);
    if (t.kind != LSTAR_H5_TYPE_NUMERIC && t.kind != LSTAR_H5_TYPE_BOOL &&
        !(t.kind == LSTAR_H5_TYPE_COMPOUND && t.dtype != LSTAR_DTYPE_STRUCT))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "not a numeric dataset");
    if ((*mt = h5i_memtype(t.dtype, *ftype)) < 0)
        return h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot build a memory type");
    return LSTAR_OK;
}

lstar_status lstar_h5_dataset_read(lstar_h5_dataset *d, const uint64_t *start, const uint64_t *count, void *out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, mt = -1;
    h5_guard g;
    if (!d || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_read: NULL argument");
    h5_enter(&g);
    LSTAR_CHECK(numeric_memtype(d, &ftype, &mt, err));
    LSTAR_CHECK(h5i_read_region(d, mt, start, count, out, err));
done:
    if (mt >= 0) H5Tclose(mt);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_write(lstar_h5_dataset *d, const uint64_t *start, const uint64_t *count,
                                    const void *data, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, mt = -1, fspace = -1, mspace = -1;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    h5_guard g;
    if (!d || !data) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_write: NULL argument");
    h5_enter(&g);
    if (!d->file->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, d->path, "file is open read-only");
        goto done;
    }
    LSTAR_CHECK(numeric_memtype(d, &ftype, &mt, err));
    LSTAR_CHECK(get_shape(d, &rank, shape, NULL, err));
    if (rank < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path, "dataset has a null dataspace");
        goto done;
    }
    for (int i = 0; i < rank; i++)
        if (count && count[i] == 0) goto done;
    LSTAR_CHECK(region_spaces(d, rank, shape, start, count, &fspace, &mspace, err));
    if (H5Dwrite(d->did, mt, mspace, fspace, H5P_DEFAULT, data) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot write dataset region");
        goto done;
    }
done:
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (mt >= 0) H5Tclose(mt);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    return st;
}

/* Strings per H5Dread for vlen data; fixed data reads up to 16 MiB per batch. */
#define H5_VLEN_BATCH 65536u
#define H5_FIXED_BATCH_BYTES (16u * 1024u * 1024u)

/* HDF5 sizes vlen string buffers from the file: route them through the
 * lstar allocator and refuse items above LSTAR_MAX_STRING_BYTES before
 * anything is allocated. */
typedef struct vlen_hdr {
    struct vlen_hdr *prev, *next;
} vlen_hdr;
typedef struct vlen_state {
    int nomem, too_long;
    vlen_hdr live; /* circular list of blocks handed to HDF5 and not yet freed */
} vlen_state;
static void *vlen_alloc(size_t size, void *info) {
    vlen_state *vs = info;
    if (size > (size_t)LSTAR_MAX_STRING_BYTES + 1) {
        vs->too_long = 1;
        return NULL;
    }
    vlen_hdr *h = lstar_malloc(sizeof *h + size);
    if (!h) {
        vs->nomem = 1;
        return NULL;
    }
    h->next = vs->live.next;
    h->prev = &vs->live;
    vs->live.next->prev = h;
    vs->live.next = h;
    return h + 1;
}
static void vlen_free(void *p, void *info) {
    (void)info;
    if (!p) return;
    vlen_hdr *h = (vlen_hdr *)p - 1;
    h->prev->next = h->next;
    h->next->prev = h->prev;
    lstar_free(h);
}
/* HDF5 1.10 leaks the strings it converted before a failed allocation:
 * free whatever is still registered. */
static void vlen_free_all(vlen_state *vs) {
    while (vs->live.next != &vs->live) vlen_free(vs->live.next + 1, vs);
}

lstar_status h5i_read_strings(hid_t did, hid_t memtype, int vlen, size_t itemsize, int pad, int rank,
                              const uint64_t *shape, uint64_t start, uint64_t count, lstar_strings *out,
                              const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t fspace = -1, mspace = -1, dxpl = -1;
    vlen_state vs;
    vs.nomem = vs.too_long = 0;
    vs.live.next = vs.live.prev = &vs.live;
    uint8_t *buf = NULL;
    int need_reclaim = 0;
    size_t esize = vlen ? sizeof(char *) : itemsize;
    if (!vlen && (itemsize == 0 || itemsize > LSTAR_MAX_STRING_BYTES))
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "fixed-string size %zu outside 1..%u", itemsize,
                          LSTAR_MAX_STRING_BYTES);
    uint64_t batch = vlen ? H5_VLEN_BATCH : (H5_FIXED_BATCH_BYTES / itemsize ? H5_FIXED_BATCH_BYTES / itemsize : 1);
    if (count > LSTAR_MAX_STRING_ITEMS)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "%llu strings exceed the in-memory cap",
                          (unsigned long long)count);
    LSTAR_CHECK(lstar_strings_init(out, err));
    if (count == 0) goto done;
    /* Every item's offset now (count is capped above); the bytes grow as they come and are trimmed at the
     * end: labels are held for the whole conversion, doubling slack would be memory per cell. */
    LSTAR_CHECK(lstar_strings_reserve(out, (size_t)count, 0, err));
    if (batch > count) batch = count;
    buf = lstar_calloc((size_t)batch, esize);
    if (!buf) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    if ((fspace = H5Dget_space(did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, where, "cannot read dataspace");
        goto done;
    }
    if ((dxpl = H5Pcreate(H5P_DATASET_XFER)) < 0 ||
        H5Pset_vlen_mem_manager(dxpl, vlen_alloc, &vs, vlen_free, NULL) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, where, "cannot set up the transfer");
        goto done;
    }
    for (uint64_t s = start; s < start + count; s += batch) {
        uint64_t n = start + count - s < batch ? start + count - s : batch;
        hsize_t hn = n;
        LSTAR_CHECK(h5i_select_flat(fspace, rank, shape, s, n, where, err));
        if ((mspace = H5Screate_simple(1, &hn, NULL)) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, where, "cannot create a memory space");
            goto done;
        }
        memset(buf, 0, (size_t)n * esize);
        if (H5Dread(did, memtype, mspace, fspace, dxpl, buf) < 0) {
            need_reclaim = vlen; /* free what the conversion allocated before failing */
            if (vs.too_long)
                st = h5_fail(err, LSTAR_ERR_LIMIT, where, "a string is longer than %u bytes", LSTAR_MAX_STRING_BYTES);
            else if (vs.nomem)
                st = h5_fail(err, LSTAR_ERR_NOMEM, where, "out of memory reading strings");
            else
                st = h5_fail(err, LSTAR_ERR_IO, where, "cannot read strings");
            goto done;
        }
        need_reclaim = vlen;
        for (uint64_t i = 0; i < n; i++) {
            if (vlen) {
                char *p;
                memcpy(&p, buf + i * esize, sizeof p);
                size_t len = p ? strlen(p) : 0;
                if (len > LSTAR_MAX_STRING_BYTES) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "string %llu is longer than %u bytes",
                                    (unsigned long long)(s + i), LSTAR_MAX_STRING_BYTES);
                    goto done;
                }
                LSTAR_CHECK(lstar_strings_append(out, p ? p : "", len, err));
            } else {
                const char *p = (const char *)buf + i * esize;
                LSTAR_CHECK(lstar_strings_append(out, p, h5i_fixed_len(p, itemsize, pad), err));
            }
        }
        if (need_reclaim) H5Dvlen_reclaim(memtype, mspace, dxpl, buf);
        need_reclaim = 0;
        H5Sclose(mspace);
        mspace = -1;
    }
    lstar_strings_shrink(out);
done:
    if (need_reclaim && mspace >= 0) H5Dvlen_reclaim(memtype, mspace, dxpl, buf);
    vlen_free_all(&vs);
    if (dxpl >= 0) H5Pclose(dxpl);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    lstar_free(buf);
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    return st;
}

/* String memory type for a string file type (lock held). */
hid_t h5i_string_memtype(const h5_type *t) {
    if (t->kind == LSTAR_H5_TYPE_VLEN_STRING) return h5i_vlen_str_type(t->utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII);
    hid_t m = H5Tcopy(H5T_C_S1);
    if (m < 0) return -1;
    if (H5Tset_size(m, t->itemsize) < 0 || H5Tset_strpad(m, (H5T_str_t)t->str_pad) < 0 ||
        H5Tset_cset(m, t->utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) < 0) {
        H5Tclose(m);
        return -1;
    }
    return m;
}

/* Shape and element count of a dataset with a simple dataspace (a null one is LSTAR_ERR_UNSUPPORTED). */
static lstar_status flat_shape(lstar_h5_dataset *d, int *rank, uint64_t *shape, uint64_t *elems, lstar_error *err) {
    lstar_status st = get_shape(d, rank, shape, NULL, err);
    if (st != LSTAR_OK) return st;
    if (*rank < 0) return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, d->path, "dataset has a null dataspace");
    *elems = 1;
    for (int i = 0; i < *rank; i++) *elems *= shape[i];
    return LSTAR_OK;
}

/* The file type of a vlen or fixed string dataset, its classification and the memory type to read or write
 * it through (*ftype and *mt: H5Tclose them, also after a failure).  Lock held. */
static lstar_status string_memtype(lstar_h5_dataset *d, hid_t *ftype, hid_t *mt, h5_type *t, lstar_error *err) {
    if ((*ftype = H5Dget_type(d->did)) < 0) return h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the datatype");
    h5i_classify(*ftype, t);
    if (t->kind != LSTAR_H5_TYPE_VLEN_STRING && t->kind != LSTAR_H5_TYPE_FIXED_STRING)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "not a string dataset");
    if ((*mt = h5i_string_memtype(t)) < 0)
        return h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot build a string type");
    return LSTAR_OK;
}

lstar_status lstar_h5_dataset_read_strings(lstar_h5_dataset *d, uint64_t start, uint64_t count, lstar_strings *out,
                                           lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, mt = -1;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK], elems = 1;
    h5_guard g;
    if (out) memset(out, 0, sizeof *out);
    if (!d || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_read_strings: NULL argument");
    h5_enter(&g);
    LSTAR_CHECK(flat_shape(d, &rank, shape, &elems, err));
    if (start > elems || count > elems - start) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "strings [%llu, +%llu) outside %llu items",
                        (unsigned long long)start, (unsigned long long)count, (unsigned long long)elems);
        goto done;
    }
    h5_type t;
    LSTAR_CHECK(string_memtype(d, &ftype, &mt, &t, err));
    st = h5i_read_strings(d->did, mt, t.kind == LSTAR_H5_TYPE_VLEN_STRING, t.itemsize, t.str_pad, rank, shape, start,
                          count, out, d->path, err);
    if (st != LSTAR_OK && d->missing_filter) st = h5i_read_fail(d, err, "cannot read strings");
done:
    if (mt >= 0) H5Tclose(mt);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_write_strings(lstar_h5_dataset *d, uint64_t start, const lstar_strings *s,
                                            lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, mt = -1, fspace = -1, mspace = -1;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK], elems = 1;
    char **ptrs = NULL;
    char *fixed = NULL;
    size_t nptrs = 0;
    h5_guard g;
    if (!d || !s) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_write_strings: NULL argument");
    h5_enter(&g);
    if (!d->file->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, d->path, "file is open read-only");
        goto done;
    }
    LSTAR_CHECK(flat_shape(d, &rank, shape, &elems, err));
    if (start > elems || s->n > elems - start) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "strings [%llu, +%zu) outside %llu items",
                        (unsigned long long)start, s->n, (unsigned long long)elems);
        goto done;
    }
    if (s->n == 0) goto done;
    h5_type t;
    LSTAR_CHECK(string_memtype(d, &ftype, &mt, &t, err));
    const void *buf;
    if (t.kind == LSTAR_H5_TYPE_VLEN_STRING) {
        if (!(ptrs = lstar_calloc(s->n, sizeof *ptrs))) {
            st = LSTAR_NOMEM(err, d->path);
            goto done;
        }
        nptrs = s->n;
        for (size_t i = 0; i < s->n; i++) {
            size_t len;
            const char *p = lstar_strings_get(s, i, &len);
            if (!(ptrs[i] = lstar_malloc(len + 1))) {
                st = LSTAR_NOMEM(err, d->path);
                goto done;
            }
            if (len) memcpy(ptrs[i], p, len);
            ptrs[i][len] = '\0';
        }
        buf = ptrs;
    } else {
        if (s->n > LSTAR_MAX_CHUNK_BYTES / t.itemsize) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "too many fixed strings for one write");
            goto done;
        }
        if (!(fixed = lstar_calloc(s->n, t.itemsize))) {
            st = LSTAR_NOMEM(err, d->path);
            goto done;
        }
        for (size_t i = 0; i < s->n; i++) {
            size_t len;
            const char *p = lstar_strings_get(s, i, &len);
            if (len > t.itemsize) {
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "string %zu (%zu bytes) longer than the %zu-byte items",
                                i, len, t.itemsize);
                goto done;
            }
            if (len) memcpy(fixed + i * t.itemsize, p, len);
            if (t.str_pad == H5T_STR_SPACEPAD) memset(fixed + i * t.itemsize + len, ' ', t.itemsize - len);
        }
        buf = fixed;
    }
    hsize_t hn = s->n;
    if ((fspace = H5Dget_space(d->did)) < 0 || (mspace = H5Screate_simple(1, &hn, NULL)) < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, d->path, "cannot create dataspaces");
        goto done;
    }
    LSTAR_CHECK(h5i_select_flat(fspace, rank, shape, start, s->n, d->path, err));
    if (H5Dwrite(d->did, mt, mspace, fspace, H5P_DEFAULT, buf) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot write strings");
        goto done;
    }
done:
    for (size_t i = 0; i < nptrs; i++) lstar_free(ptrs[i]);
    lstar_free(ptrs);
    lstar_free(fixed);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (mt >= 0) H5Tclose(mt);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_resize(lstar_h5_dataset *d, const uint64_t *shape, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    int rank;
    uint64_t cur[LSTAR_MAX_RANK], maxs[LSTAR_MAX_RANK];
    hsize_t dims[LSTAR_MAX_RANK];
    h5_guard g;
    if (!d || !shape) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_resize: NULL argument");
    h5_enter(&g);
    if (!d->file->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, d->path, "file is open read-only");
        goto done;
    }
    LSTAR_CHECK(get_shape(d, &rank, cur, maxs, err));
    for (int i = 0; i < rank; i++) {
        if (shape[i] > maxs[i]) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "dimension %d: %llu exceeds the maximum %llu", i,
                            (unsigned long long)shape[i], (unsigned long long)maxs[i]);
            goto done;
        }
        dims[i] = shape[i];
    }
    if (H5Dset_extent(d->did, dims) < 0) st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot resize");
done:
    h5_leave(&g);
    return st;
}

/* ---- compound members ---------------------------------------------------------------------------- */

lstar_status lstar_h5_dataset_members(lstar_h5_dataset *d, lstar_h5_member **members, size_t *n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1;
    lstar_h5_member *m = NULL;
    h5_guard g;
    if (members) *members = NULL;
    if (n) *n = 0;
    if (!d || !members || !n) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_members: NULL argument");
    h5_enter(&g);
    if ((ftype = H5Dget_type(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the datatype");
        goto done;
    }
    if (H5Tget_class(ftype) != H5T_COMPOUND) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "not a compound dataset");
        goto done;
    }
    int nm = H5Tget_nmembers(ftype);
    if (nm < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot count compound members");
        goto done;
    }
    if (nm > 0 && !(m = lstar_calloc((size_t)nm, sizeof *m))) {
        st = LSTAR_NOMEM(err, d->path);
        goto done;
    }
    for (int i = 0; i < nm; i++) {
        char *name = H5Tget_member_name(ftype, (unsigned)i);
        hid_t mt = H5Tget_member_type(ftype, (unsigned)i);
        if (!name || mt < 0) {
            if (name) H5free_memory(name);
            if (mt >= 0) H5Tclose(mt);
            st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read compound member %d", i);
            goto done;
        }
        snprintf(m[i].name, sizeof m[i].name, "%s", name);
        H5free_memory(name);
        h5_type t;
        h5i_classify(mt, &t);
        H5Tclose(mt);
        m[i].kind = t.kind;
        m[i].dtype = t.kind == LSTAR_H5_TYPE_COMPOUND && t.dtype == LSTAR_DTYPE_STRUCT ? LSTAR_DTYPE_INVALID : t.dtype;
        m[i].itemsize = t.itemsize;
        m[i].offset = H5Tget_member_offset(ftype, (unsigned)i);
    }
    *members = m;
    m = NULL;
    *n = (size_t)nm;
done:
    lstar_free(m);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    return st;
}

/* ---- chunk-level access -------------------------------------------------------------------------------- */

/* Check the dataset is chunked and `offset` is a chunk origin (lock held). */
static lstar_status chunk_check(lstar_h5_dataset *d, const uint64_t *offset, int *rank, hsize_t *hoff,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t dcpl = -1;
    uint64_t shape[LSTAR_MAX_RANK];
    hsize_t ch[LSTAR_MAX_RANK];
    LSTAR_CHECK(get_shape(d, rank, shape, NULL, err));
    if ((dcpl = H5Dget_create_plist(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the creation properties");
        goto done;
    }
    if (H5Pget_layout(dcpl) != H5D_CHUNKED || H5Pget_chunk(dcpl, LSTAR_MAX_RANK, ch) != *rank) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "dataset is not chunked");
        goto done;
    }
    if (!offset) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "chunk offset is NULL");
        goto done;
    }
    for (int i = 0; i < *rank; i++) {
        /* Chunks may start past the current extent after a shrink; allow any
         * multiple of the chunk dimension below the maximum. */
        if (ch[i] == 0 || offset[i] % ch[i] != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path,
                            "offset %llu in dimension %d is not a multiple of the chunk size %llu",
                            (unsigned long long)offset[i], i, (unsigned long long)ch[i]);
            goto done;
        }
        if (offset[i] >= shape[i] && !(shape[i] == 0 && offset[i] == 0)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "offset %llu outside dimension %d of length %llu",
                            (unsigned long long)offset[i], i, (unsigned long long)shape[i]);
            goto done;
        }
        hoff[i] = offset[i];
    }
done:
    if (dcpl >= 0) H5Pclose(dcpl);
    return st;
}

lstar_status lstar_h5_dataset_num_chunks(lstar_h5_dataset *d, uint64_t *n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t dcpl = -1, space = -1;
    h5_guard g;
    if (n) *n = 0;
    if (!d || !n) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_num_chunks: NULL argument");
    h5_enter(&g);
    if ((dcpl = H5Dget_create_plist(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the creation properties");
        goto done;
    }
    if (H5Pget_layout(dcpl) != H5D_CHUNKED) goto done;
    hsize_t hn = 0;
    /* HDF5 1.10 rejects H5S_ALL here: pass the dataset's own dataspace. */
    if ((space = H5Dget_space(d->did)) < 0 || H5Dget_num_chunks(d->did, space, &hn) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot count chunks");
        goto done;
    }
    *n = hn;
done:
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_chunk_info(lstar_h5_dataset *d, uint64_t index, lstar_h5_chunk_info *ci,
                                         lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t space = -1, dcpl = -1;
    h5_guard g;
    if (ci) memset(ci, 0, sizeof *ci);
    if (!d || !ci) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_chunk_info: NULL argument");
    h5_enter(&g);
    if ((dcpl = H5Dget_create_plist(d->did)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, d->path, "cannot read the creation properties");
        goto done;
    }
    if (H5Pget_layout(dcpl) != H5D_CHUNKED) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "dataset is not chunked");
        goto done;
    }
    hsize_t nch = 0, off[LSTAR_MAX_RANK], size = 0;
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    if ((space = H5Dget_space(d->did)) < 0 || H5Dget_num_chunks(d->did, space, &nch) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot count chunks");
        goto done;
    }
    if (index >= nch) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "chunk index %llu outside %llu allocated chunks",
                        (unsigned long long)index, (unsigned long long)nch);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > LSTAR_MAX_RANK) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, d->path, "bad rank");
        goto done;
    }
    if (H5Dget_chunk_info(d->did, space, index, off, &mask, &addr, &size) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot read chunk %llu info", (unsigned long long)index);
        goto done;
    }
    for (int i = 0; i < rank; i++) ci->offset[i] = off[i];
    ci->filter_mask = mask;
    ci->addr = addr;
    ci->size = size;
done:
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_chunk_info_at(lstar_h5_dataset *d, const uint64_t *offset, lstar_h5_chunk_info *ci,
                                            lstar_error *err) {
    lstar_status st = LSTAR_OK;
    int rank;
    hsize_t hoff[LSTAR_MAX_RANK], size = 0;
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    h5_guard g;
    if (ci) memset(ci, 0, sizeof *ci);
    if (!d || !ci) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_chunk_info_at: NULL argument");
    h5_enter(&g);
    LSTAR_CHECK(chunk_check(d, offset, &rank, hoff, err));
    if (H5Dget_chunk_info_by_coord(d->did, hoff, &mask, &addr, &size) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot read chunk info");
        goto done;
    }
    if (addr == HADDR_UNDEF || size == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, d->path, "chunk is not allocated");
        goto done;
    }
    for (int i = 0; i < rank; i++) ci->offset[i] = offset[i];
    ci->filter_mask = mask;
    ci->addr = addr;
    ci->size = size;
done:
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_read_chunk(lstar_h5_dataset *d, const uint64_t *offset, void *buf, size_t bufsize,
                                         size_t *size, unsigned *filter_mask, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    int rank;
    hsize_t hoff[LSTAR_MAX_RANK], nbytes = 0, isize = 0;
    unsigned imask = 0;
    haddr_t addr = HADDR_UNDEF;
    uint32_t mask = 0;
    h5_guard g;
    if (size) *size = 0;
    if (filter_mask) *filter_mask = 0;
    if (!d || !buf) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_read_chunk: NULL argument");
    h5_enter(&g);
    LSTAR_CHECK(chunk_check(d, offset, &rank, hoff, err));
    if (H5Dget_chunk_info_by_coord(d->did, hoff, &imask, &addr, &isize) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot read chunk info");
        goto done;
    }
    if (addr == HADDR_UNDEF) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, d->path, "chunk is not allocated");
        goto done;
    }
    if (H5Dget_chunk_storage_size(d->did, hoff, &nbytes) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot read the chunk size");
        goto done;
    }
    if (nbytes > LSTAR_MAX_CHUNK_BYTES) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "stored chunk of %llu bytes exceeds the cap",
                        (unsigned long long)nbytes);
        goto done;
    }
    if (nbytes > bufsize) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, d->path, "stored chunk of %llu bytes does not fit a %zu-byte buffer",
                        (unsigned long long)nbytes, bufsize);
        goto done;
    }
    if (H5Dread_chunk(d->did, H5P_DEFAULT, hoff, &mask, buf) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot read raw chunk");
        goto done;
    }
    if (size) *size = (size_t)nbytes;
    if (filter_mask) *filter_mask = mask;
done:
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_dataset_write_chunk(lstar_h5_dataset *d, const uint64_t *offset, unsigned filter_mask,
                                          const void *data, size_t size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    int rank;
    hsize_t hoff[LSTAR_MAX_RANK];
    h5_guard g;
    if (!d || (!data && size)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_dataset_write_chunk: NULL argument");
    if (size == 0 || size > 0xFFFFFFFFu)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, d->path, "raw chunk size %zu outside 1..2^32-1", size);
    h5_enter(&g);
    if (!d->file->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, d->path, "file is open read-only");
        goto done;
    }
    LSTAR_CHECK(chunk_check(d, offset, &rank, hoff, err));
    if (H5Dwrite_chunk(d->did, H5P_DEFAULT, filter_mask, hoff, size, data) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot write raw chunk");
        goto done;
    }
done:
    h5_leave(&g);
    return st;
}
