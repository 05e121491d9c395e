/* The HDF5 backend of the AnnData node layer (over lstar/h5.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/h5.h"

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
    if (nl == 4 && strncmp(spec, "gzip", 4) == 0) {
        f->id = 1;
        f->ncd = 1;
        f->cd[0] = (unsigned)(level < 0 ? 4 : level);
    } else if (nl == 4 && strncmp(spec, "zstd", 4) == 0) {
        f->id = 32015;
        f->ncd = 1;
        f->cd[0] = (unsigned)(level < 0 ? 3 : level);
    } else if (nl == 3 && strncmp(spec, "lzf", 3) == 0) {
        f->id = 32000;
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
    LSTAR_CHECK(make_spec(spec, &s, &f, path, err));
    LSTAR_CHECK(lstar_h5_dataset_create(ctx, path, &s, &d, err));
    uint64_t n = 1;
    for (int i = 0; i < spec->rank; i++) n *= spec->shape[i];
    if (n) st = lstar_h5_dataset_write(d, spec->rank ? start : NULL, spec->rank ? spec->shape : NULL, data, err);
done:
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

struct ad_appender {
    lstar_h5_dataset *d;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
};

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
    memcpy(a->shape, sp.shape, sizeof a->shape);
    LSTAR_CHECK(lstar_h5_dataset_create(ctx, path, &s, &a->d, err));
    *out = a;
    a = NULL;
done:
    if (a) {
        lstar_h5_dataset_close(a->d);
        lstar_free(a);
    }
    return st;
}

static lstar_status h_appender_append(ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err) {
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    if (nrows == 0) return LSTAR_OK;
    memcpy(count, a->shape, sizeof count);
    start[0] = a->shape[0];
    count[0] = nrows;
    a->shape[0] += nrows;
    lstar_status st = lstar_h5_dataset_resize(a->d, a->shape, err);
    if (st != LSTAR_OK) return st;
    return lstar_h5_dataset_write(a->d, start, count, rows, err);
}

static lstar_status h_appender_finish(ad_appender *a, lstar_error *err) {
    (void)a;
    (void)err;
    return LSTAR_OK; /* the extent is kept current by every append */
}

static void h_appender_free(ad_appender *a) {
    if (!a) return;
    lstar_h5_dataset_close(a->d);
    lstar_free(a);
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
};

lstar_status ad_h5_open(const char *path, int create, const ad_node_ops **ops, void **ctx, lstar_error *err) {
    lstar_h5_file *f = NULL;
    lstar_status st =
        lstar_h5_open(path, create ? (LSTAR_H5_CREATE | LSTAR_H5_WRITE) : LSTAR_H5_READ, &f, err);
    if (st != LSTAR_OK) return st;
    *ops = &k_h5_ops;
    *ctx = f;
    return LSTAR_OK;
}
