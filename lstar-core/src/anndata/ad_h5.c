/* The HDF5 backend of the AnnData node layer (over lstar/h5.h).
 *
 * Five things lstar/h5.h does not offer yet are done with the HDF5 API here
 * (under the library-wide HDF5 lock, h5_enter / h5_leave): the plugin search
 * path (H5PLprepend / H5Zfilter_avail), compound datasets for rec-arrays
 * (h_write_records, on a second handle of the file), compound members of
 * an array type (pre-0.7 obsm/varm: h_members / h_read_member read them
 * through an H5Tarray memory type), and files created with a caller's file
 * access list (recording mode of the lstar VFD: ad_h5_set_create_fapl). */
#include <hdf5.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "common/json.h"
#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/h5.h"
#include "lstar/pool.h"

static lstar_status h_kind(void *ctx, const char *path, ad_kind *out, lstar_error *err) {
    lstar_h5_node_type t = LSTAR_H5_NODE_NONE;
    lstar_status st = lstar_h5_node_type_at(ctx, path, &t, err);
    *out = t == LSTAR_H5_NODE_GROUP ? AD_GROUP : t == LSTAR_H5_NODE_DATASET ? AD_ARRAY : AD_NONE;
    return st;
}

static lstar_status h_list(void *ctx, const char *path, lstar_strings *names, lstar_error *err) {
    return lstar_h5_list_children(ctx, path, names, err);
}

static lstar_status h_attr_exists(void *ctx, const char *path, const char *name, int *exists, lstar_error *err) {
    return lstar_h5_attr_exists(ctx, path, name, exists, err);
}

static lstar_status h_attr_string(void *ctx, const char *path, const char *name, char **out, lstar_error *err) {
    return lstar_h5_attr_read_string(ctx, path, name, out, err);
}

static lstar_status h_attr_strings(void *ctx, const char *path, const char *name, lstar_strings *out,
                                   lstar_error *err) {
    return lstar_h5_attr_read_strings(ctx, path, name, out, err);
}

static lstar_status h_attr_i64(void *ctx, const char *path, const char *name, int64_t **vals, size_t *n,
                               lstar_error *err) {
    return lstar_h5_attr_read_i64(ctx, path, name, vals, n, err);
}

static lstar_status h_attr_bool(void *ctx, const char *path, const char *name, int *out, lstar_error *err) {
    return lstar_h5_attr_read_bool(ctx, path, name, out, err);
}

static lstar_status h_attr_ref(void *ctx, const char *path, const char *name, char **target, lstar_error *err) {
    return lstar_h5_attr_read_ref(ctx, path, name, target, err);
}

static lstar_status h_attr_json(void *ctx, const char *path, const char *name, char **json, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_attr_info info;
    json_t *v = NULL;
    lstar_strings s;
    int64_t *iv = NULL;
    double *fv = NULL;
    size_t n = 0;
    memset(&s, 0, sizeof s);
    *json = NULL;
    LSTAR_CHECK(lstar_h5_attr_get_info(ctx, path, name, &info, err));
    int scalar = info.rank == 0;
    switch (info.cls) {
    case LSTAR_H5_ATTR_STRING:
        LSTAR_CHECK(lstar_h5_attr_read_strings(ctx, path, name, &s, err));
        v = scalar && s.n == 1 ? NULL : json_array();
        for (size_t i = 0; i < s.n; i++) {
            size_t len;
            const char *p = lstar_strings_get(&s, i, &len);
            json_t *e = json_stringn(p, len);
            if (!e) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s' is not valid UTF-8", name);
                goto done;
            }
            if (scalar && s.n == 1) {
                v = e;
            } else if (!v || json_array_append_new(v, e) != 0) {
                st = LSTAR_NOMEM(err, path);
                goto done;
            }
        }
        break;
    case LSTAR_H5_ATTR_BOOL: {
        int b = 0;
        LSTAR_CHECK(lstar_h5_attr_read_bool(ctx, path, name, &b, err));
        v = json_boolean(b);
        break;
    }
    case LSTAR_H5_ATTR_INTEGER:
    case LSTAR_H5_ATTR_ENUM:
        LSTAR_CHECK(lstar_h5_attr_read_i64(ctx, path, name, &iv, &n, err));
        v = scalar && n == 1 ? json_integer(iv[0]) : json_array();
        for (size_t i = 0; !(scalar && n == 1) && v && i < n; i++)
            if (json_array_append_new(v, json_integer(iv[i])) != 0) break;
        break;
    case LSTAR_H5_ATTR_FLOAT:
        LSTAR_CHECK(lstar_h5_attr_read_f64(ctx, path, name, &fv, &n, err));
        v = scalar && n == 1 ? json_real(fv[0]) : json_array();
        for (size_t i = 0; !(scalar && n == 1) && v && i < n; i++)
            if (json_array_append_new(v, json_real(fv[i])) != 0) break;
        break;
    default:
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "attribute '%s' has a type with no JSON form", name);
        goto done;
    }
    if (!v) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    *json = lstar_json_dump(v, 0);
    if (!*json) st = LSTAR_NOMEM(err, path);
done:
    json_decref(v);
    lstar_strings_destroy(&s);
    lstar_free(iv);
    lstar_free(fv);
    return st;
}

static lstar_status h_array_info(void *ctx, const char *path, ad_array_info *info, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *hi = NULL;
    memset(info, 0, sizeof *info);
    hi = lstar_malloc(sizeof *hi); /* large (filter table) */
    if (!hi) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(lstar_h5_dataset_open(ctx, path, &d, err));
    LSTAR_CHECK(lstar_h5_dataset_get_info(d, hi, err));
    info->rank = hi->rank;
    for (int i = 0; i < hi->rank && i < LSTAR_MAX_RANK; i++) info->shape[i] = hi->shape[i];
    info->dtype = hi->dtype;
    switch (hi->kind) {
    case LSTAR_H5_TYPE_NUMERIC: info->elem = AD_ELEM_NUMERIC; break;
    case LSTAR_H5_TYPE_BOOL: info->elem = AD_ELEM_BOOL; break;
    case LSTAR_H5_TYPE_VLEN_STRING:
    case LSTAR_H5_TYPE_FIXED_STRING:
        info->elem = AD_ELEM_STRING;
        info->dtype = LSTAR_DTYPE_STRING;
        break;
    case LSTAR_H5_TYPE_COMPOUND:
        if (hi->dtype == LSTAR_DTYPE_COMPLEX64 || hi->dtype == LSTAR_DTYPE_COMPLEX128) {
            info->elem = AD_ELEM_NUMERIC;
        } else {
            info->elem = AD_ELEM_STRUCT;
            info->dtype = LSTAR_DTYPE_STRUCT;
            info->nmembers = hi->nmembers > 0 ? (size_t)hi->nmembers : 0;
        }
        break;
    default: info->elem = AD_ELEM_OTHER; break;
    }
    if (hi->rank < 0) info->elem = AD_ELEM_NULL;
done:
    lstar_h5_dataset_close(d);
    lstar_free(hi);
    return st;
}

static lstar_status h_open_array(void *ctx, const char *path, lstar_array **out, lstar_error *err) {
    return lstar_array_from_h5(ctx, path, out, err);
}

static lstar_status h_read_strings(void *ctx, const char *path, lstar_strings *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset *d = NULL;
    lstar_h5_dataset_info *hi = NULL;
    memset(out, 0, sizeof *out);
    hi = lstar_malloc(sizeof *hi);
    if (!hi) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(lstar_h5_dataset_open(ctx, path, &d, err));
    LSTAR_CHECK(lstar_h5_dataset_get_info(d, hi, err));
    uint64_t n = 1;
    for (int i = 0; i < hi->rank; i++) n *= hi->shape[i];
    if (hi->rank < 0) n = 0;
    if (n > LSTAR_MAX_STRING_ITEMS) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "string array of %llu items is too large",
                        (unsigned long long)n);
        goto done;
    }
    if (n == 0) {
        st = lstar_strings_init(out, err);
        goto done;
    }
    st = lstar_h5_dataset_read_strings(d, 0, n, out, err);
done:
    lstar_h5_dataset_close(d);
    lstar_free(hi);
    return st;
}

static ad_elem elem_of_kind(lstar_h5_type_kind k, lstar_dtype dt) {
    switch (k) {
    case LSTAR_H5_TYPE_NUMERIC: return AD_ELEM_NUMERIC;
    case LSTAR_H5_TYPE_BOOL: return AD_ELEM_BOOL;
    case LSTAR_H5_TYPE_VLEN_STRING:
    case LSTAR_H5_TYPE_FIXED_STRING: return AD_ELEM_STRING;
    case LSTAR_H5_TYPE_COMPOUND:
        return (dt == LSTAR_DTYPE_COMPLEX64 || dt == LSTAR_DTYPE_COMPLEX128) ? AD_ELEM_NUMERIC : AD_ELEM_OTHER;
    default: return AD_ELEM_OTHER;
    }
}

/* ---- compound members of an array type (pre-0.7 obsm/varm: ('X_pca', '<f4', (50,))) ------------ */

typedef struct arr_member {
    int ok;            /* a numeric array member */
    lstar_dtype dtype; /* of the base type */
    int rank;          /* of the per-record shape (1..4) */
    uint64_t shape[4];
    uint64_t nrec;     /* records (1-D dataset) */
} arr_member;

/* The numeric base of HDF5 type `t` (integer or float, not an enum), or INVALID. */
static lstar_dtype base_dtype(hid_t t) {
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_INTEGER) return h5i_int_dtype(sz, H5Tget_sign(t) == H5T_SGN_2);
    if (c == H5T_FLOAT) return sz == 4 ? LSTAR_DTYPE_FLOAT32 : sz == 8 ? LSTAR_DTYPE_FLOAT64 : LSTAR_DTYPE_INVALID;
    return LSTAR_DTYPE_INVALID;
}

/* Is `member` of the 1-D compound dataset at `path` an array of numbers?  (lock held) */
static void array_member_info(lstar_h5_file *f, const char *path, const char *member, arr_member *am) {
    hid_t did = -1, ft = -1, mt = -1, bt = -1, sp = -1;
    char *abs = h5i_abspath(path);
    memset(am, 0, sizeof *am);
    if (!abs) return;
    did = H5Dopen2(f->fid, abs, H5P_DEFAULT);
    if (did < 0) goto done;
    ft = H5Dget_type(did);
    sp = H5Dget_space(did);
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_COMPOUND || H5Sget_simple_extent_ndims(sp) != 1) goto done;
    int idx = H5Tget_member_index(ft, member);
    if (idx < 0) goto done;
    mt = H5Tget_member_type(ft, (unsigned)idx);
    if (mt < 0 || H5Tget_class(mt) != H5T_ARRAY) goto done;
    int nd = H5Tget_array_ndims(mt);
    hsize_t dims[H5S_MAX_RANK];
    if (nd < 1 || nd > 4 || H5Tget_array_dims2(mt, dims) < 0) goto done;
    bt = H5Tget_super(mt);
    if (bt < 0 || (am->dtype = base_dtype(bt)) == LSTAR_DTYPE_INVALID) goto done;
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    am->rank = nd;
    for (int d = 0; d < nd; d++) am->shape[d] = dims[d];
    am->nrec = n;
    am->ok = 1;
done:
    if (bt >= 0) H5Tclose(bt);
    if (mt >= 0) H5Tclose(mt);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    if (did >= 0) H5Dclose(did);
    lstar_free(abs);
}

/* Read array member `member` whole as an (n, *shape) memory array: a memory compound holding only
 * that member, as an H5Tarray of the native base type. */
static lstar_status read_array_member(lstar_h5_file *f, const char *path, const char *member, const arr_member *am,
                                      lstar_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t did = -1, base = -1, at = -1, ct = -1;
    uint8_t *buf = NULL;
    char *abs = h5i_abspath(path);
    h5_guard g;
    uint64_t row = lstar_dtype_size(am->dtype), total, shape[LSTAR_MAX_RANK];
    if (!abs) return LSTAR_NOMEM(err, path);
    for (int d = 0; d < am->rank; d++) row *= am->shape[d];
    if (row == 0 || am->nrec > (uint64_t)LSTAR_MAX_CHUNK_BYTES / row) {
        lstar_free(abs);
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "record field '%s' of %llu records is too large to read whole",
                          member, (unsigned long long)am->nrec);
    }
    total = am->nrec * row;
    buf = lstar_malloc(total ? (size_t)total : 1);
    if (!buf) {
        lstar_free(abs);
        return LSTAR_NOMEM(err, path);
    }
    h5_enter(&g);
    hsize_t dims[4];
    for (int d = 0; d < am->rank; d++) dims[d] = (hsize_t)am->shape[d];
    base = h5i_memtype(am->dtype, -1);
    if (base < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "record field '%s': no memory type for %s", member,
                        lstar_dtype_name(am->dtype));
        goto leave;
    }
    at = H5Tarray_create2(base, (unsigned)am->rank, dims);
    ct = at < 0 ? -1 : H5Tcreate(H5T_COMPOUND, (size_t)row);
    if (ct < 0 || H5Tinsert(ct, member, 0, at) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, path, "record field '%s': cannot build its memory type", member);
        goto leave;
    }
    did = H5Dopen2(f->fid, abs, H5P_DEFAULT);
    if (did < 0) {
        st = h5_fail(err, LSTAR_ERR_NOT_FOUND, path, "cannot open '%s'", path);
        goto leave;
    }
    if (total && H5Dread(did, ct, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        st = h5_fail(err, LSTAR_ERR_IO, path, "cannot read record field '%s'", member);
leave:
    if (did >= 0) H5Dclose(did);
    if (ct >= 0) H5Tclose(ct);
    if (at >= 0) H5Tclose(at);
    if (base >= 0) H5Tclose(base);
    h5_leave(&g);
    if (st == LSTAR_OK) {
        shape[0] = am->nrec;
        for (int d = 0; d < am->rank; d++) shape[d + 1] = am->shape[d];
        st = lstar_array_new_copy(am->dtype, am->rank + 1, shape, buf, out, err);
    }
    lstar_free(buf);
    lstar_free(abs);
    return st;
}

static lstar_status h_members(void *ctx, const char *path, ad_member **members, size_t *n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset *d = NULL;
    lstar_h5_member *hm = NULL;
    size_t hn = 0;
    *members = NULL;
    *n = 0;
    LSTAR_CHECK(lstar_h5_dataset_open(ctx, path, &d, err));
    LSTAR_CHECK(lstar_h5_dataset_members(d, &hm, &hn, err));
    if (hn) {
        *members = lstar_calloc(hn, sizeof **members);
        if (!*members) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
    }
    for (size_t i = 0; i < hn; i++) {
        ad_member *m = &(*members)[i];
        snprintf(m->name, sizeof m->name, "%s", hm[i].name);
        m->elem = elem_of_kind(hm[i].kind, hm[i].dtype);
        m->dtype = hm[i].kind == LSTAR_H5_TYPE_VLEN_STRING || hm[i].kind == LSTAR_H5_TYPE_FIXED_STRING
                       ? LSTAR_DTYPE_STRING
                       : hm[i].dtype;
        if (m->dtype == LSTAR_DTYPE_INVALID) m->elem = AD_ELEM_OTHER;
        if (hm[i].kind == LSTAR_H5_TYPE_UNSUPPORTED) { /* an array of numbers: (n, *shape) */
            arr_member am;
            h5_guard g;
            h5_enter(&g);
            array_member_info(ctx, path, hm[i].name, &am);
            h5_leave(&g);
            if (am.ok) {
                m->elem = AD_ELEM_NUMERIC;
                m->dtype = am.dtype;
                m->sub_rank = am.rank;
                for (int k = 0; k < am.rank; k++) m->sub_shape[k] = am.shape[k];
            }
        }
    }
    *n = hn;
done:
    lstar_h5_dataset_close(d);
    lstar_free(hm);
    return st;
}

/* A lazy STRING array read whole into a memory STRING array (labels are metadata-sized). */
static lstar_status strings_to_memory(lstar_array **a, const char *where, lstar_error *err) {
    lstar_strings s;
    uint64_t n = lstar_array_size(*a);
    if (lstar_array_rank(*a) < 1) n = 1;
    lstar_status st = lstar_array_read_strings(*a, 0, n, &s, err);
    lstar_array_free(*a);
    *a = NULL;
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, where);
        return st;
    }
    return lstar_array_new_strings(&s, a, err);
}

static lstar_status h_read_member(void *ctx, const char *path, const char *member, lstar_array **out,
                                  lstar_error *err) {
    arr_member am;
    h5_guard g;
    h5_enter(&g);
    array_member_info(ctx, path, member, &am);
    h5_leave(&g);
    if (am.ok) return read_array_member(ctx, path, member, &am, out, err);
    lstar_status st = lstar_array_from_h5_member(ctx, path, member, out, err);
    if (st != LSTAR_OK) return st;
    if (lstar_array_dtype(*out) == LSTAR_DTYPE_STRING) return strings_to_memory(out, path, err);
    return LSTAR_OK;
}

/* ---- write -------------------------------------------------------------------------------------- */

static lstar_status h_create_group(void *ctx, const char *path, lstar_error *err) {
    return lstar_h5_create_group(ctx, path, 0, err);
}

static lstar_status h_write_attr_string(void *ctx, const char *path, const char *name, const char *value,
                                        lstar_error *err) {
    return lstar_h5_attr_write_string(ctx, path, name, value, err);
}

static lstar_status h_write_attr_strings(void *ctx, const char *path, const char *name, const lstar_strings *s,
                                         lstar_error *err) {
    return lstar_h5_attr_write_strings(ctx, path, name, s, err);
}

static lstar_status h_write_attr_i64(void *ctx, const char *path, const char *name, const int64_t *vals, size_t n,
                                     int rank, lstar_error *err) {
    return lstar_h5_attr_write_i64(ctx, path, name, vals, n, rank, err);
}

static lstar_status h_write_attr_bool(void *ctx, const char *path, const char *name, int value, lstar_error *err) {
    return lstar_h5_attr_write_bool(ctx, path, name, value, err);
}

/* "gzip:<l>" / "gzip" (h5py default 4), "zstd:<l>", "lzf", NULL/"none" → one HDF5 filter. */
static lstar_status parse_compression(const char *spec, lstar_h5_filter *f, size_t *nf, const char *where,
                                      lstar_error *err) {
    memset(f, 0, sizeof *f);
    *nf = 0;
    if (!spec || !*spec || strcmp(spec, "none") == 0) return LSTAR_OK;
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    long level = colon ? strtol(colon + 1, NULL, 10) : -1;
    if (nl == 4 && (strncmp(spec, "gzip", 4) == 0 || strncmp(spec, "zlib", 4) == 0)) {
        /* HDF5 deflate is a zlib (RFC 1950) stream whatever h5py calls it; optional, as H5Pset_deflate adds it */
        f->id = 1;
        f->flags = LSTAR_H5_FILTER_OPTIONAL;
        f->ncd = 1;
        f->cd[0] = (unsigned)(level < 0 ? 4 : level);
    } else if (nl == 4 && strncmp(spec, "zstd", 4) == 0) {
        f->id = 32015;
        f->ncd = 1;
        f->cd[0] = (unsigned)(level < 0 ? 3 : level);
    } else if (nl == 3 && strncmp(spec, "lzf", 3) == 0) {
        /* optional, as h5py sets it: an incompressible chunk is stored raw (mask bit set) */
        f->id = 32000;
        f->flags = LSTAR_H5_FILTER_OPTIONAL;
    } else {
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "compression '%s' is not available for h5ad", spec);
    }
    *nf = 1;
    return LSTAR_OK;
}

static lstar_status make_spec(const ad_array_spec *a, lstar_h5_dataset_spec *s, lstar_h5_filter *f,
                              const char *where, lstar_error *err) {
    memset(s, 0, sizeof *s);
    s->dtype = a->dtype;
    s->itemsize = a->itemsize;
    s->rank = a->rank;
    for (int i = 0; i < a->rank; i++) {
        s->shape[i] = a->shape[i];
        s->chunks[i] = a->chunks[i];
    }
    if (a->grow) {
        if (a->rank < 1 || a->chunks[0] == 0)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "a growing array needs rank >= 1 and chunks");
        s->maxshape[0] = UINT64_MAX;
        for (int i = 1; i < a->rank; i++) s->maxshape[i] = a->shape[i];
    }
    size_t nf = 0;
    lstar_status st = parse_compression(a->compression, f, &nf, where, err);
    if (st != LSTAR_OK) return st;
    if (nf) {
        int chunked = 0;
        for (int i = 0; i < a->rank; i++) chunked |= a->chunks[i] != 0;
        if (!chunked) /* filters need chunks: one chunk over the whole array */
            for (int i = 0; i < a->rank; i++) s->chunks[i] = a->shape[i] ? a->shape[i] : 1;
        s->nfilters = 1;
        s->filters = f;
    }
    return LSTAR_OK;
}

static lstar_status h_write_array(void *ctx, const char *path, const ad_array_spec *spec, const void *data,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset_spec s;
    lstar_h5_filter f;
    lstar_h5_dataset *d = NULL;
    uint64_t start[LSTAR_MAX_RANK] = {0};
    lstar_strings fs;
    memset(&fs, 0, sizeof fs);
    LSTAR_CHECK(make_spec(spec, &s, &f, path, err));
    LSTAR_CHECK(lstar_h5_dataset_create(ctx, path, &s, &d, err));
    uint64_t n = 1;
    for (int i = 0; i < spec->rank; i++) n *= spec->shape[i];
    if (n && spec->dtype == LSTAR_DTYPE_FIXED_BYTES) { /* raw items of itemsize bytes: the string writer */
        LSTAR_CHECK(lstar_strings_init(&fs, err));
        for (uint64_t i = 0; i < n; i++)
            LSTAR_CHECK(lstar_strings_append(&fs, (const char *)data + i * spec->itemsize, spec->itemsize, err));
        st = lstar_h5_dataset_write_strings(d, 0, &fs, err);
    } else if (n) {
        st = lstar_h5_dataset_write(d, spec->rank ? start : NULL, spec->rank ? spec->shape : NULL, data, err);
    }
done:
    lstar_strings_destroy(&fs);
    lstar_h5_dataset_close(d);
    return st;
}

static lstar_status h_write_strings(void *ctx, const char *path, const ad_array_spec *spec, const lstar_strings *s,
                                    lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset_spec hs;
    lstar_h5_filter f;
    lstar_h5_dataset *d = NULL;
    ad_array_spec a = *spec;
    a.dtype = LSTAR_DTYPE_STRING;
    LSTAR_CHECK(make_spec(&a, &hs, &f, path, err));
    LSTAR_CHECK(lstar_h5_dataset_create(ctx, path, &hs, &d, err));
    if (s->n) st = lstar_h5_dataset_write_strings(d, 0, s, err);
done:
    lstar_h5_dataset_close(d);
    return st;
}

/* The HDF5 appender.  Rows are gathered into whole chunks (chunk rows x the
 * other dimensions).  When the dataset's pipeline is empty or one filter we
 * can produce ourselves (deflate → the zlib codec, zstd 32015 → the zstd
 * codec), a batch of full chunks goes through lstar_pool_pipeline: workers
 * encode (work stage), the calling thread extends the extent and stores the
 * encoded bytes with H5Dwrite_chunk (store stage), in chunk order, so the
 * file does not depend on the thread count.  Other pipelines (lzf) write
 * the gathered whole chunks with H5Dwrite (HDF5 filters them, serially;
 * never a partial chunk, which HDF5 would have to read back and re-filter).
 * Chunks that do not span the trailing dimensions fall back to H5Dwrite
 * per append. */
/* Chunks encoded per pipeline batch (memory: this many chunks + their encodings per appender). */
#define AD_H5_BATCH 8

struct ad_appender {
    lstar_h5_file *file;       /* borrowed (the container's) */
    lstar_h5_dataset *d;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK]; /* current extent */
    /* raw-chunk path */
    int raw;                   /* rows are gathered into whole chunks */
    int hdf5_filters;          /* chunks are written with H5Dwrite (HDF5 runs the filters), not raw */
    lstar_codec *codec;        /* NULL: chunks stored unfiltered */
    lstar_pool *pool;          /* borrowed, may be NULL */
    size_t esize;              /* bytes per element */
    uint64_t row_elems;        /* elements per row */
    uint64_t chunk_rows;
    size_t chunk_bytes;
    size_t batch;              /* chunk slots */
    uint8_t **slot;            /* batch chunk buffers */
    uint8_t **enc;             /* encoded chunks (owned when codec) */
    size_t *enc_size;
    size_t nfull;              /* full slots waiting */
    uint64_t fill;             /* rows in slot[nfull] */
    uint64_t rows;             /* rows appended */
    uint64_t first_row;        /* first row of slot 0 */
};

static void app_release(ad_appender *a) {
    if (!a) return;
    lstar_h5_dataset_close(a->d);
    lstar_codec_free(a->codec);
    for (size_t i = 0; a->slot && i < a->batch; i++) {
        lstar_free(a->slot[i]);
        if (a->enc && a->codec) lstar_free(a->enc[i]);
    }
    lstar_free(a->slot);
    lstar_free(a->enc);
    lstar_free(a->enc_size);
    lstar_free(a);
}

/* Set up the raw-chunk path when the dataset allows it. */
static lstar_status app_setup_raw(ad_appender *a, const ad_array_spec *sp, const lstar_h5_dataset_spec *hs,
                                  const char *path, lstar_error *err) {
    size_t es = lstar_dtype_size(sp->dtype);
    if (es == 0 || sp->chunks[0] == 0) return LSTAR_OK;
    for (int i = 1; i < sp->rank; i++)
        if (hs->chunks[i] != sp->shape[i] || sp->shape[i] == 0) return LSTAR_OK;
    const char *cspec = NULL;
    char buf[32];
    if (hs->nfilters == 1) {
        const lstar_h5_filter *f = &hs->filters[0];
        if (f->id == 1)
            snprintf(buf, sizeof buf, "zlib:%u", f->ncd ? f->cd[0] : 4u);
        else if (f->id == 32015)
            snprintf(buf, sizeof buf, "zstd:%u", f->ncd ? f->cd[0] : 3u);
        else
            a->hdf5_filters = 1; /* lzf & co: HDF5 runs the filter on whole chunks */
        if (!a->hdf5_filters) cspec = buf;
    } else if (hs->nfilters > 1) {
        a->hdf5_filters = 1;
    }
    uint64_t row = 1;
    for (int i = 1; i < sp->rank; i++) row *= sp->shape[i];
    uint64_t cb = sp->chunks[0] * row * es;
    if (cb == 0 || cb > (uint64_t)LSTAR_MAX_CHUNK_BYTES / 4) return LSTAR_OK;
    lstar_status st = LSTAR_OK;
    if (cspec) LSTAR_CHECK(lstar_codec_from_spec(cspec, sp->dtype, es, &a->codec, err));
    a->pool = sp->pool;
    a->esize = es;
    a->row_elems = row;
    a->chunk_rows = sp->chunks[0];
    a->chunk_bytes = (size_t)cb;
    /* A fixed batch (not the thread count): the order in which the chunks of
     * several appenders reach the file, hence the file's bytes, never depend
     * on the number of threads. */
    a->batch = AD_H5_BATCH;
    a->slot = lstar_calloc(a->batch, sizeof *a->slot);
    a->enc = lstar_calloc(a->batch, sizeof *a->enc);
    a->enc_size = lstar_calloc(a->batch, sizeof *a->enc_size);
    if (!a->slot || !a->enc || !a->enc_size) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    a->raw = 1; /* slots are allocated when first filled */
done:
    return st;
}

static lstar_status h_appender_new(void *ctx, const char *path, const ad_array_spec *spec, ad_appender **out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_dataset_spec s;
    lstar_h5_filter f;
    ad_appender *a = NULL;
    ad_array_spec sp = *spec;
    *out = NULL;
    sp.grow = 1;
    sp.shape[0] = 0;
    LSTAR_CHECK(make_spec(&sp, &s, &f, path, err));
    a = lstar_calloc(1, sizeof *a);
    if (!a) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    a->rank = sp.rank;
    a->file = ctx;
    memcpy(a->shape, sp.shape, sizeof a->shape);
    LSTAR_CHECK(lstar_h5_dataset_create(ctx, path, &s, &a->d, err));
    LSTAR_CHECK(app_setup_raw(a, &sp, &s, path, err));
    *out = a;
    a = NULL;
done:
    app_release(a);
    return st;
}

static lstar_status app_work(void *ud, size_t i, int worker, lstar_error *err) {
    ad_appender *a = ud;
    (void)worker;
    if (a->hdf5_filters) return LSTAR_OK;
    if (!a->codec) {
        a->enc[i] = a->slot[i];
        a->enc_size[i] = a->chunk_bytes;
        return LSTAR_OK;
    }
    lstar_status st = lstar_codec_encode(a->codec, a->slot[i], a->chunk_bytes, &a->enc[i], &a->enc_size[i], err);
    if (st != LSTAR_OK) lstar_err_add_where(err, lstar_h5_dataset_path(a->d));
    return st;
}

static lstar_status app_store(void *ud, size_t i, int worker, lstar_error *err) {
    ad_appender *a = ud;
    lstar_status st = LSTAR_OK;
    uint64_t off[LSTAR_MAX_RANK] = {0};
    (void)worker;
    off[0] = a->first_row + (uint64_t)i * a->chunk_rows;
    uint64_t end = off[0] + a->chunk_rows;
    if (end > a->rows) end = a->rows;
    if (end > a->shape[0]) {
        a->shape[0] = end;
        LSTAR_CHECK(lstar_h5_dataset_resize(a->d, a->shape, err));
    }
    if (a->hdf5_filters) { /* whole chunk rows (the edge chunk: only its rows) through H5Dwrite */
        uint64_t count[LSTAR_MAX_RANK];
        memcpy(count, a->shape, sizeof count);
        count[0] = end - off[0];
        st = lstar_h5_dataset_write(a->d, off, count, a->slot[i], err);
        goto done;
    }
    st = lstar_h5_dataset_write_chunk(a->d, off, 0, a->enc[i], a->enc_size[i], err);
done:
    if (a->codec) lstar_free(a->enc[i]);
    a->enc[i] = NULL;
    return st;
}

/* Encode and store the first n slots. */
static lstar_status app_flush(ad_appender *a, size_t n, lstar_error *err) {
    if (n == 0) return LSTAR_OK;
    lstar_status st = lstar_pool_pipeline(a->pool, n, a->batch, NULL, app_work, app_store, a, err);
    for (size_t i = 0; i < n; i++) { /* after a failure */
        if (a->codec) lstar_free(a->enc[i]);
        a->enc[i] = NULL;
    }
    a->first_row += (uint64_t)n * a->chunk_rows;
    return st;
}

static lstar_status h_appender_append(ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err) {
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    if (nrows == 0) return LSTAR_OK;
    if (a->raw) {
        const uint8_t *p = rows;
        size_t rb = (size_t)(a->row_elems * a->esize);
        while (nrows) {
            uint64_t take = a->chunk_rows - a->fill;
            if (take > nrows) take = nrows;
            if (!a->slot[a->nfull]) {
                a->slot[a->nfull] = lstar_malloc(a->chunk_bytes);
                if (!a->slot[a->nfull]) return LSTAR_NOMEM(err, lstar_h5_dataset_path(a->d));
            }
            memcpy(a->slot[a->nfull] + (size_t)a->fill * rb, p, (size_t)take * rb);
            p += (size_t)take * rb;
            a->fill += take;
            a->rows += take;
            nrows -= take;
            if (a->fill == a->chunk_rows) {
                a->fill = 0;
                if (++a->nfull == a->batch) {
                    lstar_status st = app_flush(a, a->nfull, err);
                    a->nfull = 0;
                    if (st != LSTAR_OK) return st;
                }
            }
        }
        return LSTAR_OK;
    }
    memcpy(count, a->shape, sizeof count);
    start[0] = a->shape[0];
    count[0] = nrows;
    a->shape[0] += nrows;
    lstar_status st = lstar_h5_dataset_resize(a->d, a->shape, err);
    if (st != LSTAR_OK) return st;
    return lstar_h5_dataset_write(a->d, start, count, rows, err);
}

static lstar_status h_appender_finish(ad_appender *a, lstar_error *err) {
    /* Chunks filtered by HDF5 sit in the chunk cache until flushed; a filter
     * failure there would be lost when the dataset is closed, so flush now. */
    if (!a->raw) return lstar_h5_flush(a->file, err); /* the extent is kept current by every append */
    size_t n = a->nfull;
    if (a->fill && a->slot[n]) { /* the edge chunk, padded with the fill value (0) as HDF5 stores it */
        size_t rb = (size_t)(a->row_elems * a->esize);
        memset(a->slot[n] + (size_t)a->fill * rb, 0, a->chunk_bytes - (size_t)a->fill * rb);
        n++;
    }
    lstar_status st = app_flush(a, n, err);
    a->nfull = 0;
    a->fill = 0;
    if (st == LSTAR_OK && a->shape[0] != a->rows) {
        a->shape[0] = a->rows;
        st = lstar_h5_dataset_resize(a->d, a->shape, err);
    }
    if (st == LSTAR_OK && a->hdf5_filters) st = lstar_h5_flush(a->file, err);
    return st;
}

static void h_appender_free(ad_appender *a) { app_release(a); }

/* ---- record arrays ------------------------------------------------------------------------------ */

/* lstar/h5.h has no compound writer yet, so this creates the dataset with the
 * HDF5 API on a second handle of the same file (HDF5 shares the open file
 * between both handles).  Writes what h5py writes for a numpy structured
 * array converted by anndata's rec-array writer: a packed compound of
 * little-endian numbers, h5py's bool enum and vlen UTF-8 strings. */
static hid_t rec_file_type(lstar_dtype dt) {
    switch (dt) {
    case LSTAR_DTYPE_INT8: return H5Tcopy(H5T_STD_I8LE);
    case LSTAR_DTYPE_INT16: return H5Tcopy(H5T_STD_I16LE);
    case LSTAR_DTYPE_INT32: return H5Tcopy(H5T_STD_I32LE);
    case LSTAR_DTYPE_INT64: return H5Tcopy(H5T_STD_I64LE);
    case LSTAR_DTYPE_UINT8: return H5Tcopy(H5T_STD_U8LE);
    case LSTAR_DTYPE_UINT16: return H5Tcopy(H5T_STD_U16LE);
    case LSTAR_DTYPE_UINT32: return H5Tcopy(H5T_STD_U32LE);
    case LSTAR_DTYPE_UINT64: return H5Tcopy(H5T_STD_U64LE);
    case LSTAR_DTYPE_FLOAT32: return H5Tcopy(H5T_IEEE_F32LE);
    case LSTAR_DTYPE_FLOAT64: return H5Tcopy(H5T_IEEE_F64LE);
    case LSTAR_DTYPE_BOOL: {
        hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
        signed char v = 0;
        if (t < 0) return t;
        if (H5Tenum_insert(t, "FALSE", &v) < 0) goto bad;
        v = 1;
        if (H5Tenum_insert(t, "TRUE", &v) < 0) goto bad;
        return t;
    bad:
        H5Tclose(t);
        return -1;
    }
    case LSTAR_DTYPE_STRING: {
        hid_t t = H5Tcopy(H5T_C_S1);
        if (t < 0) return t;
        if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
            H5Tclose(t);
            return -1;
        }
        return t;
    }
    default: return -1;
    }
}

static lstar_status h_write_records(void *ctx, const char *path, const ad_record_field *fields, size_t nfields,
                                    uint64_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_file *f = ctx;
    size_t *off = NULL, rec = 0;
    uint8_t *buf = NULL;
    char **text = NULL; /* per string field: NUL-terminated copies */
    hid_t fid = -1, ctype = -1, space = -1, lcpl = -1, dcpl = -1, did = -1;
    H5E_auto2_t efunc = NULL;
    void *edata = NULL;
    int quiet = 0;
    if (nfields == 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "a record array needs fields");
    if (n > (uint64_t)LSTAR_MAX_CHUNK_BYTES) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "record array too long");
    off = lstar_calloc(nfields, sizeof *off);
    text = lstar_calloc(nfields, sizeof *text);
    if (!off || !text) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t i = 0; i < nfields; i++) {
        size_t es = fields[i].dtype == LSTAR_DTYPE_STRING ? sizeof(char *) : lstar_dtype_size(fields[i].dtype);
        if (es == 0 || (fields[i].dtype == LSTAR_DTYPE_STRING ? !fields[i].strings || fields[i].strings->n != n
                                                               : !fields[i].data && n)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "record field '%s' is malformed", fields[i].name);
            goto done;
        }
        off[i] = rec;
        rec += es;
    }
    buf = lstar_calloc(n ? (size_t)n : 1, rec);
    if (!buf) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t i = 0; i < nfields; i++) {
        if (fields[i].dtype == LSTAR_DTYPE_STRING) {
            const lstar_strings *ss = fields[i].strings;
            size_t total = (size_t)ss->offsets[ss->n] + ss->n + 1;
            char *t = text[i] = lstar_malloc(total);
            if (!t) {
                st = LSTAR_NOMEM(err, path);
                goto done;
            }
            for (uint64_t r = 0; r < n; r++) {
                size_t len;
                const char *p = lstar_strings_get(ss, (size_t)r, &len);
                memcpy(t, p, len);
                t[len] = 0;
                memcpy(buf + r * rec + off[i], &t, sizeof t);
                t += len + 1;
            }
        } else {
            size_t es = lstar_dtype_size(fields[i].dtype);
            for (uint64_t r = 0; r < n; r++)
                memcpy(buf + r * rec + off[i], (const uint8_t *)fields[i].data + r * es, es);
        }
    }
    H5Eget_auto2(H5E_DEFAULT, &efunc, &edata);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
    /* one compound for file and memory: packed, little-endian numbers (native here) */
    ctype = H5Tcreate(H5T_COMPOUND, rec);
    if (ctype < 0) goto hdf5_fail;
    for (size_t i = 0; i < nfields; i++) {
        hid_t mt = rec_file_type(fields[i].dtype);
        if (mt < 0) goto hdf5_fail;
        herr_t rc = H5Tinsert(ctype, fields[i].name, off[i], mt);
        H5Tclose(mt);
        if (rc < 0) goto hdf5_fail;
    }
    fid = H5Freopen(f->fid); /* a second handle on the same open file (any driver) */
    if (fid < 0) goto hdf5_fail;
    hsize_t dims[1] = {(hsize_t)n};
    space = H5Screate_simple(1, dims, NULL);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || lcpl < 0 || dcpl < 0 || H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto hdf5_fail;
    did = H5Dcreate2(fid, path, ctype, space, lcpl, dcpl, H5P_DEFAULT);
    if (did < 0) goto hdf5_fail;
    if (n && H5Dwrite(did, ctype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) goto hdf5_fail;
    goto done;
hdf5_fail:
    st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot write the record array '%s' (HDF5 error)", path);
done:
    if (did >= 0) H5Dclose(did);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (space >= 0) H5Sclose(space);
    if (ctype >= 0) H5Tclose(ctype);
    if (fid >= 0) H5Fclose(fid);
    if (quiet) {
        H5Eclear2(H5E_DEFAULT);
        H5Eset_auto2(H5E_DEFAULT, efunc, edata);
    }
    for (size_t i = 0; text && i < nfields; i++) lstar_free(text[i]);
    lstar_free(text);
    lstar_free(off);
    lstar_free(buf);
    return st;
}

static lstar_status h_flush(void *ctx, lstar_error *err) { return lstar_h5_flush(ctx, err); }

static void h_close(void *ctx) { lstar_h5_close(ctx); }

static const ad_node_ops k_h5_ops = {
    AD_NODE_OPS_VERSION,
    "hdf5",
    h_kind,
    h_list,
    h_attr_exists,
    h_attr_string,
    h_attr_strings,
    h_attr_i64,
    h_attr_bool,
    h_attr_ref,
    h_attr_json,
    h_array_info,
    h_open_array,
    h_read_strings,
    h_members,
    h_read_member,
    h_create_group,
    h_write_attr_string,
    h_write_attr_strings,
    h_write_attr_i64,
    h_write_attr_bool,
    h_write_array,
    h_write_strings,
    h_appender_new,
    h_appender_append,
    h_appender_finish,
    h_appender_free,
    h_flush,
    h_close,
    h_write_records,
};

/* HDF5's plugin path is process-global: serialise our edits of it. */
static pthread_mutex_t g_plugin_lock = PTHREAD_MUTEX_INITIALIZER;

lstar_status ad_h5_plugin_prepend(const char *dirs, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char dir[LSTAR_MAX_KEY_BYTES];
    if (!dirs || !*dirs) return LSTAR_OK;
    pthread_mutex_lock(&g_plugin_lock);
    for (const char *p = dirs; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && n < sizeof dir) {
            memcpy(dir, p, n);
            dir[n] = 0;
            unsigned num = 0;
            int found = 0;
            if (H5PLsize(&num) >= 0) {
                for (unsigned i = 0; i < num && !found; i++) {
                    char cur[LSTAR_MAX_KEY_BYTES];
                    ssize_t len = H5PLget(i, cur, sizeof cur);
                    found = len > 0 && strcmp(cur, dir) == 0;
                }
            }
            if (!found && H5PLprepend(dir) < 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_IO, dir, "cannot add '%s' to the HDF5 plugin path", dir);
                break;
            }
        } else if (n) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, p, "plugin directory name too long");
            break;
        }
        p += n;
        if (*p == ':') p++;
    }
    pthread_mutex_unlock(&g_plugin_lock);
    return st;
}

int ad_h5_filter_available(unsigned id) {
    pthread_mutex_lock(&g_plugin_lock);
    htri_t r = H5Zfilter_avail((H5Z_filter_t)id);
    pthread_mutex_unlock(&g_plugin_lock);
    return r > 0;
}

static _Thread_local int64_t t_create_fapl = -1;

void ad_h5_set_create_fapl(int64_t fapl) { t_create_fapl = fapl; }

lstar_status ad_h5_open(const char *path, int create, const ad_node_ops **ops, void **ctx, lstar_error *err) {
    lstar_h5_file *f = NULL;
    lstar_status st =
        create && t_create_fapl >= 0
            ? lstar_h5_open_with(path, LSTAR_H5_CREATE | LSTAR_H5_WRITE | LSTAR_H5_TRUNCATE,
                                 &(lstar_h5_open_opts){.fapl = t_create_fapl}, &f, err)
            : lstar_h5_open(path, create ? (LSTAR_H5_CREATE | LSTAR_H5_WRITE) : LSTAR_H5_READ, &f, err);
    if (st != LSTAR_OK) return st;
    *ops = &k_h5_ops;
    *ctx = f;
    return LSTAR_OK;
}
