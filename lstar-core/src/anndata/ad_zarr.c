/* The Zarr backend of the AnnData node layer (over lstar/zarr.h, any store:
 * directory, zip, memory; v2 and v3, sharded or not).
 *
 * Attributes are one JSON document per node; each attribute call parses it
 * (metadata-sized).  Structured dtypes (pre-0.7 obs/var recarrays, e.g.
 * 10x-10k-subset.zarr obs `[["index","|S18"]]`) are read as raw records and
 * split into fields here, using the layout in the array's dtype text.
 * Record arrays are written as anndata writes them to Zarr (z_write_records):
 * a structured dtype with fixed-length `U` string fields. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/store.h"
#include "lstar/zarr.h"
#include "zarr/zarr_internal.h"

typedef struct zctx {
    lstar_store *store;
    lstar_zarr *z;
} zctx;

static lstar_status z_kind(void *ctx, const char *path, ad_kind *out, lstar_error *err) {
    zctx *c = ctx;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_zarr_node t = lstar_zarr_node_type(c->z, path, &e);
    *out = t == LSTAR_ZARR_GROUP ? AD_GROUP : t == LSTAR_ZARR_ARRAY ? AD_ARRAY : AD_NONE;
    if (t == LSTAR_ZARR_NONE && e.status != LSTAR_OK) {
        if (err) *err = e;
        lstar_err_add_where(err, path);
        return e.status;
    }
    return LSTAR_OK;
}

typedef struct list_ud {
    lstar_strings *s;
    lstar_status st;
    lstar_error *err;
} list_ud;

static int list_cb(void *ud, const char *key) {
    list_ud *u = ud;
    u->st = lstar_strings_append(u->s, key, strlen(key), u->err);
    return u->st != LSTAR_OK;
}

static lstar_status z_list(void *ctx, const char *path, lstar_strings *names, lstar_error *err) {
    zctx *c = ctx;
    lstar_status st = lstar_strings_init(names, err);
    if (st != LSTAR_OK) return st;
    list_ud u = {names, LSTAR_OK, err};
    st = lstar_zarr_list_children(c->z, path, list_cb, &u, err);
    if (st == LSTAR_OK) st = u.st;
    if (st != LSTAR_OK) lstar_strings_destroy(names);
    return st;
}

/* Parsed attributes of `path`; *doc: json_decref. */
static lstar_status get_attrs(zctx *c, const char *path, json_t **doc, lstar_error *err) {
    char *text = NULL;
    *doc = NULL;
    lstar_status st = lstar_zarr_get_attrs(c->z, path, &text, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    st = lstar_json_parse(text, strlen(text), path, doc, err);
    lstar_free(text);
    if (st == LSTAR_OK && !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attributes are not a JSON object");
    }
    return st;
}

/* The attribute value (borrowed from *doc) or NOT_FOUND. */
static lstar_status get_attr(zctx *c, const char *path, const char *name, json_t **doc, json_t **v,
                             lstar_error *err) {
    lstar_status st = get_attrs(c, path, doc, err);
    if (st != LSTAR_OK) return st;
    *v = json_object_get(*doc, name);
    if (!*v) {
        json_decref(*doc);
        *doc = NULL;
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "attribute '%s' is missing", name);
    }
    return LSTAR_OK;
}

static lstar_status z_attr_exists(void *ctx, const char *path, const char *name, int *exists, lstar_error *err) {
    json_t *doc = NULL;
    *exists = 0;
    lstar_status st = get_attrs(ctx, path, &doc, err);
    if (st == LSTAR_OK) *exists = json_object_get(doc, name) != NULL;
    json_decref(doc);
    return st;
}

static lstar_status z_attr_string(void *ctx, const char *path, const char *name, char **out, lstar_error *err) {
    json_t *doc = NULL, *v = NULL;
    *out = NULL;
    lstar_status st = get_attr(ctx, path, name, &doc, &v, err);
    if (st != LSTAR_OK) return st;
    if (json_is_array(v) && json_array_size(v) == 1) v = json_array_get(v, 0);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s' is not a string", name);
    } else {
        *out = lstar_strdup(json_string_value(v));
        if (!*out) st = LSTAR_NOMEM(err, path);
    }
    json_decref(doc);
    return st;
}

static lstar_status z_attr_strings(void *ctx, const char *path, const char *name, lstar_strings *out,
                                   lstar_error *err) {
    json_t *doc = NULL, *v = NULL;
    memset(out, 0, sizeof *out);
    lstar_status st = get_attr(ctx, path, name, &doc, &v, err);
    if (st != LSTAR_OK) return st;
    LSTAR_CHECK(lstar_strings_init(out, err));
    if (json_is_string(v)) {
        st = lstar_strings_append(out, json_string_value(v), json_string_length(v), err);
        goto done;
    }
    if (!json_is_array(v)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s' is not a list of strings", name);
        goto done;
    }
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (!json_is_string(it)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s'[%zu] is not a string", name, i);
            goto done;
        }
        LSTAR_CHECK(lstar_strings_append(out, json_string_value(it), json_string_length(it), err));
    }
done:
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    json_decref(doc);
    return st;
}

static int json_as_i64(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != (double)(int64_t)d) return 0;
        *out = (int64_t)d;
        return 1;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    return 0;
}

static lstar_status z_attr_i64(void *ctx, const char *path, const char *name, int64_t **vals, size_t *n,
                               lstar_error *err) {
    json_t *doc = NULL, *v = NULL;
    lstar_status st = LSTAR_OK;
    *vals = NULL;
    *n = 0;
    LSTAR_CHECK(get_attr(ctx, path, name, &doc, &v, err));
    size_t cnt = json_is_array(v) ? json_array_size(v) : 1;
    if (cnt) {
        *vals = lstar_calloc(cnt, sizeof **vals);
        if (!*vals) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
    }
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_as_i64(e, &(*vals)[i])) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s' is not a list of integers", name);
            goto done;
        }
    }
    *n = cnt;
done:
    if (st != LSTAR_OK) {
        lstar_free(*vals);
        *vals = NULL;
    }
    json_decref(doc);
    return st;
}

static lstar_status z_attr_bool(void *ctx, const char *path, const char *name, int *out, lstar_error *err) {
    json_t *doc = NULL, *v = NULL;
    *out = 0;
    lstar_status st = get_attr(ctx, path, name, &doc, &v, err);
    if (st != LSTAR_OK) return st;
    if (json_is_boolean(v))
        *out = json_is_true(v);
    else if (json_is_integer(v))
        *out = json_integer_value(v) != 0;
    else
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute '%s' is not a boolean", name);
    json_decref(doc);
    return st;
}

static lstar_status z_attr_ref(void *ctx, const char *path, const char *name, char **target, lstar_error *err) {
    char *s = NULL;
    *target = NULL;
    lstar_status st = z_attr_string(ctx, path, name, &s, err);
    if (st != LSTAR_OK) return st;
    if (s[0] == '/') {
        *target = s; /* absolute from the store root */
        return LSTAR_OK;
    }
    /* Relative to the group holding `path`. */
    const char *slash = strrchr(path, '/');
    size_t pl = slash ? (size_t)(slash - path) : 0;
    size_t n = pl + 1 + strlen(s) + 1;
    *target = lstar_malloc(n);
    if (!*target) {
        lstar_free(s);
        return LSTAR_NOMEM(err, path);
    }
    if (pl)
        snprintf(*target, n, "%.*s/%s", (int)pl, path, s);
    else
        snprintf(*target, n, "%s", s);
    lstar_free(s);
    return LSTAR_OK;
}

static lstar_status z_attr_json(void *ctx, const char *path, const char *name, char **json, lstar_error *err) {
    json_t *doc = NULL, *v = NULL;
    *json = NULL;
    lstar_status st = get_attr(ctx, path, name, &doc, &v, err);
    if (st != LSTAR_OK) return st;
    *json = lstar_json_dump(v, 0);
    if (!*json) st = LSTAR_NOMEM(err, path);
    json_decref(doc);
    return st;
}

/* ---- structured dtypes ---------------------------------------------------------------------------- */

typedef struct zfield {
    char name[256];
    char order; /* '<', '>', '|', '=' */
    char kind;  /* b i u f c S U O V … */
    size_t size;  /* bytes of one element of the field */
    size_t count; /* elements per record (subarray product) */
    size_t offset;
    int sub_rank;
    uint64_t sub_shape[4];
    int nested;
} zfield;

/* v3 data type → (kind, bytes); 0 if unsupported. */
static int v3_type(const json_t *t, char *kind, size_t *size) {
    static const struct {
        const char *name;
        char kind;
        size_t size;
    } k_types[] = {{"bool", 'b', 1},    {"int8", 'i', 1},    {"int16", 'i', 2},   {"int32", 'i', 4},
                   {"int64", 'i', 8},   {"uint8", 'u', 1},   {"uint16", 'u', 2},  {"uint32", 'u', 4},
                   {"uint64", 'u', 8},  {"float16", 'f', 2}, {"float32", 'f', 4}, {"float64", 'f', 8}};
    const char *name = json_is_string(t) ? json_string_value(t) : json_string_value(json_object_get(t, "name"));
    if (!name) return 0;
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (strcmp(name, k_types[i].name) == 0) {
            *kind = k_types[i].kind;
            *size = k_types[i].size;
            return 1;
        }
    json_int_t lb = json_integer_value(json_object_get(json_object_get(t, "configuration"), "length_bytes"));
    if (lb <= 0 || lb > (1 << 24)) return 0;
    if (strcmp(name, "fixed_length_utf32") == 0) *kind = 'U';
    else if (strcmp(name, "null_terminated_bytes") == 0) *kind = 'S';
    else return 0;
    *size = (size_t)lb;
    return 1;
}

static lstar_status parse_struct_v3(const json_t *doc, const char *where, zfield **out, size_t *n, size_t *itemsize,
                                    lstar_error *err) {
    const json_t *fl = json_object_get(json_object_get(doc, "configuration"), "fields");
    const char *nm = json_string_value(json_object_get(doc, "name"));
    if (!nm || strcmp(nm, "struct") != 0 || !json_is_array(fl) || json_array_size(fl) == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "data type is not a Zarr v3 struct");
    size_t cnt = json_array_size(fl), off = 0;
    zfield *f = lstar_calloc(cnt, sizeof *f);
    if (!f) return LSTAR_NOMEM(err, where);
    for (size_t i = 0; i < cnt; i++) {
        const json_t *e = json_array_get(fl, i);
        const char *fn = json_string_value(json_object_get(e, "name"));
        if (!fn) {
            lstar_free(f);
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "struct field %zu has no name", i);
        }
        snprintf(f[i].name, sizeof f[i].name, "%s", fn);
        f[i].order = '<';
        f[i].count = 1;
        if (!v3_type(json_object_get(e, "data_type"), &f[i].kind, &f[i].size)) {
            lstar_free(f);
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "struct field '%s' has an unsupported data type", fn);
        }
        f[i].offset = off;
        off += f[i].size;
    }
    *out = f;
    *n = cnt;
    *itemsize = off;
    return LSTAR_OK;
}

/* Parse the structured dtype text into fields; *itemsize = record size. */
static lstar_status parse_struct(const char *text, const char *where, zfield **out, size_t *n, size_t *itemsize,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL;
    zfield *f = NULL;
    *out = NULL;
    *n = 0;
    *itemsize = 0;
    LSTAR_CHECK(lstar_json_parse(text, strlen(text), where, &doc, err));
    if (json_is_object(doc)) {
        /* Zarr v3 (zarr-python 3): {"name": "struct", "configuration": {"fields": [{"name", "data_type"}]}} */
        st = parse_struct_v3(doc, where, out, n, itemsize, err);
        goto done;
    }
    if (!json_is_array(doc) || json_array_size(doc) == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "dtype '%s' is not a structured dtype list", text);
        goto done;
    }
    size_t cnt = json_array_size(doc);
    f = lstar_calloc(cnt, sizeof *f);
    if (!f) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    size_t off = 0;
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = json_array_get(doc, i);
        json_t *nm = json_array_get(e, 0), *ty = json_array_get(e, 1), *sh = json_array_get(e, 2);
        if (!json_is_array(e) || !json_is_string(nm) || (!json_is_string(ty) && !json_is_array(ty))) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "structured dtype field %zu is malformed", i);
            goto done;
        }
        snprintf(f[i].name, sizeof f[i].name, "%s", json_string_value(nm));
        f[i].count = 1;
        if (json_is_array(ty)) {
            /* nested record: size from a recursive parse, contents unsupported */
            char *sub = lstar_json_dump(ty, 0);
            zfield *sf = NULL;
            size_t sn = 0, ssz = 0;
            if (!sub) {
                st = LSTAR_NOMEM(err, where);
                goto done;
            }
            st = parse_struct(sub, where, &sf, &sn, &ssz, err);
            lstar_free(sub);
            lstar_free(sf);
            if (st != LSTAR_OK) goto done;
            f[i].nested = 1;
            f[i].kind = 'V';
            f[i].size = ssz;
        } else {
            const char *t = json_string_value(ty);
            if (strlen(t) < 2) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "structured dtype field '%s' has type '%s'",
                                f[i].name, t);
                goto done;
            }
            f[i].order = t[0];
            f[i].kind = t[1];
            char *endp = NULL;
            long sz = strtol(t + 2, &endp, 10);
            if (f[i].kind == 'O') sz = 8;
            if (sz <= 0 || (endp && *endp && f[i].kind != 'O')) {
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "structured dtype field '%s' has type '%s'",
                                f[i].name, t);
                goto done;
            }
            f[i].size = (size_t)sz * (f[i].kind == 'U' ? 4 : 1);
        }
        if (json_is_array(sh)) {
            if (json_array_size(sh) > 4) {
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, where, "field '%s' has a subarray of rank > 4",
                                f[i].name);
                goto done;
            }
            f[i].sub_rank = (int)json_array_size(sh);
            for (int d = 0; d < f[i].sub_rank; d++) {
                json_int_t v = json_integer_value(json_array_get(sh, (size_t)d));
                if (v <= 0 || v > (1 << 24)) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "field '%s' has a bad subarray shape", f[i].name);
                    goto done;
                }
                f[i].sub_shape[d] = (uint64_t)v;
                f[i].count *= (size_t)v;
            }
        }
        f[i].offset = off;
        off += f[i].size * f[i].count;
    }
    *out = f;
    *n = cnt;
    *itemsize = off;
    f = NULL;
done:
    lstar_free(f);
    json_decref(doc);
    return st;
}

static lstar_dtype field_dtype(const zfield *f, ad_elem *elem) {
    *elem = AD_ELEM_NUMERIC;
    if (f->nested) {
        *elem = AD_ELEM_OTHER;
        return LSTAR_DTYPE_INVALID;
    }
    switch (f->kind) {
    case 'b':
        *elem = AD_ELEM_BOOL;
        return f->size == 1 ? LSTAR_DTYPE_BOOL : LSTAR_DTYPE_INVALID;
    case 'i':
        return f->size == 1 ? LSTAR_DTYPE_INT8 : f->size == 2 ? LSTAR_DTYPE_INT16 : f->size == 4 ? LSTAR_DTYPE_INT32
               : f->size == 8 ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_INVALID;
    case 'u':
        return f->size == 1 ? LSTAR_DTYPE_UINT8 : f->size == 2 ? LSTAR_DTYPE_UINT16
               : f->size == 4 ? LSTAR_DTYPE_UINT32 : f->size == 8 ? LSTAR_DTYPE_UINT64 : LSTAR_DTYPE_INVALID;
    case 'f':
        return f->size == 2 ? LSTAR_DTYPE_FLOAT16 : f->size == 4 ? LSTAR_DTYPE_FLOAT32
               : f->size == 8 ? LSTAR_DTYPE_FLOAT64 : LSTAR_DTYPE_INVALID;
    case 'S':
    case 'U':
        *elem = f->sub_rank ? AD_ELEM_OTHER : AD_ELEM_STRING;
        return LSTAR_DTYPE_STRING;
    default:
        *elem = AD_ELEM_OTHER;
        return LSTAR_DTYPE_INVALID;
    }
}

/* ---- arrays -------------------------------------------------------------------------------------- */

static ad_elem elem_of(lstar_dtype dt) {
    switch (dt) {
    case LSTAR_DTYPE_BOOL: return AD_ELEM_BOOL;
    case LSTAR_DTYPE_STRING:
    case LSTAR_DTYPE_FIXED_BYTES:
    case LSTAR_DTYPE_FIXED_UTF32: return AD_ELEM_STRING;
    case LSTAR_DTYPE_STRUCT: return AD_ELEM_STRUCT;
    case LSTAR_DTYPE_INVALID:
    case LSTAR_DTYPE_COUNT_: return AD_ELEM_OTHER;
    default: return AD_ELEM_NUMERIC;
    }
}

static lstar_status z_array_info(void *ctx, const char *path, ad_array_info *info, lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array *a = NULL;
    memset(info, 0, sizeof *info);
    lstar_status st = lstar_zarr_array_open(c->z, path, &a, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    lstar_dtype dt = lstar_zarr_array_dtype(a);
    info->elem = elem_of(dt);
    info->dtype = info->elem == AD_ELEM_STRING ? LSTAR_DTYPE_STRING : dt;
    info->rank = lstar_zarr_array_rank(a);
    const uint64_t *sh = lstar_zarr_array_shape(a);
    for (int i = 0; i < info->rank; i++) info->shape[i] = sh[i];
    if (info->elem == AD_ELEM_STRUCT) {
        zfield *f = NULL;
        size_t n = 0, isz = 0;
        lstar_error e;
        lstar_error_clear(&e);
        if (parse_struct(lstar_zarr_array_dtype_text(a), path, &f, &n, &isz, &e) == LSTAR_OK) info->nmembers = n;
        lstar_free(f);
    }
    lstar_zarr_array_close(a);
    return LSTAR_OK;
}

static lstar_status z_open_array(void *ctx, const char *path, lstar_array **out, lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array *a = NULL;
    *out = NULL;
    lstar_status st = lstar_zarr_array_open(c->z, path, &a, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    ad_elem el = elem_of(lstar_zarr_array_dtype(a));
    if (el != AD_ELEM_NUMERIC && el != AD_ELEM_BOOL && el != AD_ELEM_STRING) {
        lstar_zarr_array_close(a);
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "array of dtype '%s' is neither numeric nor strings",
                          lstar_dtype_name(lstar_zarr_array_dtype(a)));
    }
    st = lstar_array_from_zarr(a, out, err);
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    return st;
}

static lstar_status z_read_strings(void *ctx, const char *path, lstar_strings *out, lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array *a = NULL;
    memset(out, 0, sizeof *out);
    lstar_status st = lstar_zarr_array_open(c->z, path, &a, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    uint64_t n = 1;
    for (int i = 0; i < lstar_zarr_array_rank(a); i++) n *= lstar_zarr_array_shape(a)[i];
    if (elem_of(lstar_zarr_array_dtype(a)) != AD_ELEM_STRING)
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "expected a string array, found dtype '%s'",
                        lstar_zarr_array_dtype_text(a));
    else if (n > LSTAR_MAX_STRING_ITEMS)
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "string array of %llu items is too large", (unsigned long long)n);
    else if (n == 0)
        st = lstar_strings_init(out, err);
    else
        st = lstar_zarr_array_read_strings(a, 0, n, out, err);
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    lstar_zarr_array_close(a);
    return st;
}

static lstar_status z_members(void *ctx, const char *path, ad_member **members, size_t *n, lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array *a = NULL;
    zfield *f = NULL;
    size_t nf = 0, isz = 0;
    lstar_status st = LSTAR_OK;
    *members = NULL;
    *n = 0;
    st = lstar_zarr_array_open(c->z, path, &a, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    LSTAR_CHECK(parse_struct(lstar_zarr_array_dtype_text(a), path, &f, &nf, &isz, err));
    *members = lstar_calloc(nf, sizeof **members);
    if (!*members) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        ad_member *m = &(*members)[i];
        memcpy(m->name, f[i].name, sizeof m->name);
        m->dtype = field_dtype(&f[i], &m->elem);
        if (m->dtype == LSTAR_DTYPE_INVALID) m->elem = AD_ELEM_OTHER;
        m->sub_rank = f[i].sub_rank;
        memcpy(m->sub_shape, f[i].sub_shape, sizeof m->sub_shape);
    }
    *n = nf;
done:
    lstar_free(f);
    lstar_zarr_array_close(a);
    return st;
}

static void put_utf8(uint8_t *o, size_t *k, uint32_t cp) {
    if (cp < 0x80) {
        o[(*k)++] = (uint8_t)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (uint8_t)(0xC0 | (cp >> 6));
        o[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*k)++] = (uint8_t)(0xE0 | (cp >> 12));
        o[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (uint8_t)(0xF0 | (cp >> 18));
        o[(*k)++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        o[(*k)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (uint8_t)(0x80 | (cp & 0x3F));
    }
}

/* One string field of `nrec` records into *s (S: trailing NULs stripped; U: UTF-32 → UTF-8). */
static lstar_status extract_strings(const uint8_t *rec, uint64_t nrec, size_t isz, const zfield *f,
                                    lstar_strings *s, const char *where, lstar_error *err) {
    lstar_status st = lstar_strings_init(s, err);
    uint8_t *tmp = NULL;
    if (st != LSTAR_OK) return st;
    if (f->kind == 'U') {
        tmp = lstar_malloc(f->size + 1);
        if (!tmp) {
            st = LSTAR_NOMEM(err, where);
            goto done;
        }
    }
    for (uint64_t r = 0; r < nrec; r++) {
        const uint8_t *p = rec + r * isz + f->offset;
        if (f->kind == 'S') {
            size_t len = f->size;
            while (len > 0 && p[len - 1] == 0) len--;
            LSTAR_CHECK(lstar_strings_append(s, (const char *)p, len, err));
        } else {
            size_t nch = f->size / 4, k = 0;
            while (nch > 0) {
                const uint8_t *q = p + 4 * (nch - 1);
                if (q[0] | q[1] | q[2] | q[3]) break;
                nch--;
            }
            for (size_t i = 0; i < nch; i++) {
                const uint8_t *q = p + 4 * i;
                uint32_t cp = f->order == '>' ? ((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3])
                                              : ((uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0]);
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "field '%s' record %llu holds an invalid code point",
                                    f->name, (unsigned long long)r);
                    goto done;
                }
                put_utf8(tmp, &k, cp);
            }
            LSTAR_CHECK(lstar_strings_append(s, (const char *)tmp, k, err));
        }
    }
done:
    lstar_free(tmp);
    if (st != LSTAR_OK) lstar_strings_destroy(s);
    return st;
}

static lstar_status z_read_member(void *ctx, const char *path, const char *member, lstar_array **out,
                                  lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array *a = NULL;
    zfield *f = NULL;
    size_t nf = 0, isz = 0;
    uint8_t *rec = NULL, *vals = NULL;
    lstar_strings s;
    lstar_status st = LSTAR_OK;
    memset(&s, 0, sizeof s);
    *out = NULL;
    st = lstar_zarr_array_open(c->z, path, &a, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    LSTAR_CHECK(parse_struct(lstar_zarr_array_dtype_text(a), path, &f, &nf, &isz, err));
    const zfield *fd = NULL;
    for (size_t i = 0; i < nf; i++)
        if (strcmp(f[i].name, member) == 0) fd = &f[i];
    if (!fd) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no field '%s' in the structured dtype", member);
        goto done;
    }
    if (lstar_zarr_array_rank(a) != 1 || lstar_zarr_array_itemsize(a) != isz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                        "structured array must be 1-D with records of %zu bytes (dtype '%s')", isz,
                        lstar_zarr_array_dtype_text(a));
        goto done;
    }
    uint64_t nrec = lstar_zarr_array_shape(a)[0];
    if (isz && nrec > (uint64_t)LSTAR_MAX_CHUNK_BYTES / isz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "structured array too large to read whole");
        goto done;
    }
    rec = lstar_malloc(nrec * isz > 0 ? (size_t)(nrec * isz) : 1);
    if (!rec) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    uint64_t start = 0;
    if (nrec) LSTAR_CHECK(lstar_zarr_array_read(a, &start, &nrec, rec, err));
    ad_elem el;
    lstar_dtype dt = field_dtype(fd, &el);
    if (el == AD_ELEM_STRING) {
        LSTAR_CHECK(extract_strings(rec, nrec, isz, fd, &s, path, err));
        st = lstar_array_new_strings(&s, out, err);
        goto done;
    }
    if (el != AD_ELEM_NUMERIC && el != AD_ELEM_BOOL) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "field '%s' has an unsupported type", member);
        goto done;
    }
    size_t esz = fd->size, per = fd->count;
    vals = lstar_malloc(nrec * per * esz > 0 ? (size_t)(nrec * per * esz) : 1);
    if (!vals) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (uint64_t r = 0; r < nrec; r++) memcpy(vals + r * per * esz, rec + r * isz + fd->offset, per * esz);
    if (fd->order == '>' && esz > 1) {
        for (uint64_t i = 0; i < nrec * per; i++) {
            uint8_t *p = vals + i * esz;
            for (size_t k = 0; k < esz / 2; k++) {
                uint8_t t = p[k];
                p[k] = p[esz - 1 - k];
                p[esz - 1 - k] = t;
            }
        }
    }
    uint64_t shape[5];
    shape[0] = nrec;
    for (int d = 0; d < fd->sub_rank; d++) shape[1 + d] = fd->sub_shape[d];
    st = lstar_array_new_owned(dt, 1 + fd->sub_rank, shape, vals, out, err);
    vals = NULL;
done:
    lstar_strings_destroy(&s);
    lstar_free(vals);
    lstar_free(rec);
    lstar_free(f);
    lstar_zarr_array_close(a);
    return st;
}

/* ---- write -------------------------------------------------------------------------------------- */

static lstar_status z_create_group(void *ctx, const char *path, lstar_error *err) {
    zctx *c = ctx;
    return lstar_zarr_group_create(c->z, path, NULL, err);
}

/* Set attribute `name` to `v` (stolen) in the node's attributes. */
static lstar_status set_attr(zctx *c, const char *path, const char *name, json_t *v, lstar_error *err) {
    json_t *doc = NULL;
    char *text = NULL;
    lstar_status st = LSTAR_OK;
    if (!v) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(get_attrs(c, path, &doc, err));
    if (json_object_set_new(doc, name, v) != 0) {
        v = NULL;
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    v = NULL;
    text = lstar_json_dump(doc, 0);
    if (!text) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    st = lstar_zarr_set_attrs(c->z, path, text, err);
done:
    json_decref(v);
    json_decref(doc);
    lstar_free(text);
    return st;
}

static lstar_status z_write_attr_string(void *ctx, const char *path, const char *name, const char *value,
                                        lstar_error *err) {
    return set_attr(ctx, path, name, json_string(value), err);
}

static lstar_status z_write_attr_strings(void *ctx, const char *path, const char *name, const lstar_strings *s,
                                         lstar_error *err) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->n; i++) {
        size_t len;
        const char *p = lstar_strings_get(s, i, &len);
        json_t *e = json_stringn(p, len);
        if (!e) {
            json_decref(arr);
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute '%s'[%zu] is not valid UTF-8", name, i);
        }
        if (json_array_append_new(arr, e) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return set_attr(ctx, path, name, arr, err);
}

static lstar_status z_write_attr_i64(void *ctx, const char *path, const char *name, const int64_t *vals, size_t n,
                                     int rank, lstar_error *err) {
    if (rank == 0) {
        if (n != 1) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "a scalar attribute needs one value");
        return set_attr(ctx, path, name, json_integer(vals[0]), err);
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_integer(vals[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return set_attr(ctx, path, name, arr, err);
}

static lstar_status z_write_attr_bool(void *ctx, const char *path, const char *name, int value, lstar_error *err) {
    return set_attr(ctx, path, name, json_boolean(value), err);
}

static void zspec(const ad_array_spec *s, lstar_zarr_array_spec *z) {
    lstar_zarr_array_spec_init(z);
    z->rank = s->rank;
    z->dtype = s->dtype;
    for (int i = 0; i < s->rank; i++) {
        z->shape[i] = s->shape[i];
        z->chunks[i] = s->chunks[i];
        z->shard[i] = s->shard[i];
    }
    z->compression = s->compression;
    z->threads = s->threads;
    z->itemsize = s->itemsize;
}

static lstar_status z_write_array(void *ctx, const char *path, const ad_array_spec *spec, const void *data,
                                  lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array_spec z;
    lstar_zarr_array *a = NULL;
    zspec(spec, &z);
    lstar_status st = lstar_zarr_array_create(c->z, path, &z, &a, err);
    if (st == LSTAR_OK) st = lstar_zarr_array_write(a, data, err);
    lstar_zarr_array_close(a);
    return st;
}

static lstar_status z_write_strings(void *ctx, const char *path, const ad_array_spec *spec, const lstar_strings *s,
                                    lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array_spec z;
    lstar_zarr_array *a = NULL;
    zspec(spec, &z);
    for (int d = 1; d < spec->rank; d++) z.chunks[d] = 0; /* whole along every axis but the first */
    z.dtype = LSTAR_DTYPE_STRING;
    lstar_status st = lstar_zarr_array_create(c->z, path, &z, &a, err);
    if (st == LSTAR_OK) st = lstar_zarr_array_write_strings(a, s, err);
    lstar_zarr_array_close(a);
    return st;
}

static lstar_status z_appender_new(void *ctx, const char *path, const ad_array_spec *spec, ad_appender **out,
                                   lstar_error *err) {
    zctx *c = ctx;
    lstar_zarr_array_spec z;
    lstar_zarr_writer *w = NULL;
    zspec(spec, &z);
    lstar_status st = lstar_zarr_writer_new(c->z, path, &z, &w, err);
    *out = (ad_appender *)w;
    return st;
}

static lstar_status z_appender_append(ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err) {
    return lstar_zarr_writer_append((lstar_zarr_writer *)a, rows, nrows, err);
}

static lstar_status z_appender_finish(ad_appender *a, lstar_error *err) {
    return lstar_zarr_writer_finish((lstar_zarr_writer *)a, err);
}

static void z_appender_free(ad_appender *a) { lstar_zarr_writer_free((lstar_zarr_writer *)a); }

static lstar_status z_flush(void *ctx, lstar_error *err) {
    zctx *c = ctx;
    if (!lstar_store_writable(c->store)) return LSTAR_OK;
    lstar_status st = lstar_zarr_consolidate(c->z, err);
    if (st == LSTAR_OK) st = lstar_store_flush(c->store, err);
    return st;
}

static void z_close(void *ctx) {
    zctx *c = ctx;
    if (!c) return;
    lstar_zarr_close(c->z);
    lstar_store_close(c->store);
    lstar_free(c);
}

/* ---- record arrays ---------------------------------------------------------------------------------- */

/* Next code point of UTF-8 `p[0..n)` at *i (a malformed sequence → U+FFFD, one byte consumed). */
static uint32_t next_cp(const uint8_t *p, size_t n, size_t *i) {
    uint32_t c = p[*i];
    int extra;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xc0 && c < 0xe0) {
        extra = 1;
        c &= 0x1f;
    } else if (c >= 0xe0 && c < 0xf0) {
        extra = 2;
        c &= 0x0f;
    } else if (c >= 0xf0 && c < 0xf8) {
        extra = 3;
        c &= 0x07;
    } else {
        (*i)++;
        return 0xfffd;
    }
    if (*i + (size_t)extra >= n) {
        (*i)++;
        return 0xfffd;
    }
    for (int k = 1; k <= extra; k++) {
        uint8_t b = p[*i + (size_t)k];
        if ((b & 0xc0) != 0x80) {
            (*i)++;
            return 0xfffd;
        }
        c = (c << 6) | (b & 0x3fu);
    }
    *i += (size_t)extra + 1;
    return c;
}

static size_t count_cps(const char *s, size_t len) {
    size_t i = 0, n = 0;
    while (i < len) {
        next_cp((const uint8_t *)s, len, &i);
        n++;
    }
    return n;
}

static const char *k_b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 of `n` zero bytes (zarr-python 2's fill value of a structured dtype). */
static char *b64_zeros(size_t n) {
    size_t m = (n + 2) / 3 * 4;
    char *o = lstar_malloc(m + 1);
    if (!o) return NULL;
    for (size_t i = 0; i < m; i++) o[i] = k_b64[0];
    if (n % 3 == 1) o[m - 1] = o[m - 2] = '=';
    else if (n % 3 == 2) o[m - 1] = '=';
    o[m] = 0;
    return o;
}

/* anndata's _to_fixed_length_strings: numeric fields keep their dtype (little-endian), bools are
 * |b1, strings become fixed-length UTF-32 `<U<n>` (n = the longest item in code points, at least
 * 1).  The array is created as raw records (|S<itemsize>) and its dtype is then set to the
 * structured dtype (v2: [[name, type], …]; v3: zarr-python 3's canonical `struct`), validated by
 * parsing it back; one chunk, uncompressed. */
static lstar_status z_write_records(void *ctx, const char *path, const ad_record_field *fields, size_t nfields,
                                    uint64_t n, lstar_error *err) {
    zctx *c = ctx;
    lstar_status st = LSTAR_OK;
    size_t *fsize = NULL, rs = 0;
    uint8_t *buf = NULL;
    json_t *doc = NULL, *dt = NULL, *fill = NULL;
    lstar_zarr_array *a = NULL;
    char *fb = NULL;
    int fmt = lstar_zarr_format(c->z);
    const char *kind = fmt == 2 ? ".zarray" : "zarr.json";
    if (nfields == 0) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "a record array needs fields");
    fsize = lstar_calloc(nfields, sizeof *fsize);
    if (!fsize) return LSTAR_NOMEM(err, path);
    for (size_t f = 0; f < nfields; f++) {
        if (fields[f].dtype == LSTAR_DTYPE_STRING) {
            size_t m = 1;
            for (uint64_t i = 0; i < n; i++) {
                size_t len;
                const char *p = lstar_strings_get(fields[f].strings, (size_t)i, &len);
                size_t k = count_cps(p, len);
                if (k > m) m = k;
            }
            fsize[f] = 4 * m;
        } else if (fields[f].dtype == LSTAR_DTYPE_BOOL || lstar_dtype_is_integer(fields[f].dtype) ||
                   lstar_dtype_is_float(fields[f].dtype)) {
            fsize[f] = lstar_dtype_size(fields[f].dtype);
        } else {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "record field '%s' of dtype %s", fields[f].name,
                            lstar_dtype_name(fields[f].dtype));
            goto done;
        }
        rs += fsize[f];
        if (rs > LSTAR_MAX_STRING_BYTES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "record of %zu bytes is too large", rs);
            goto done;
        }
    }
    uint64_t total;
    if (lstar_zarr_mul(n, rs, &total) || total > LSTAR_MAX_CHUNK_BYTES) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "record array of %llu x %zu bytes is too large", (unsigned long long)n, rs);
        goto done;
    }
    buf = lstar_calloc(1, total ? (size_t)total : 1);
    if (!buf) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    /* pack */
    dt = fmt == 2 ? json_array() : json_pack("{s:s, s:{s:[]}}", "name", "struct", "configuration", "fields");
    fill = fmt == 2 ? NULL : json_object();
    json_t *fl = fmt == 2 ? dt : json_object_get(json_object_get(dt, "configuration"), "fields");
    if (!dt || !fl || (fmt == 3 && !fill)) goto nomem;
    size_t off = 0;
    for (size_t f = 0; f < nfields; f++) {
        lstar_dtype d = fields[f].dtype;
        char tb[32];
        json_t *ft;
        if (d == LSTAR_DTYPE_STRING) {
            for (uint64_t i = 0; i < n; i++) {
                size_t len, j = 0;
                const uint8_t *p = (const uint8_t *)lstar_strings_get(fields[f].strings, (size_t)i, &len);
                uint8_t *o = buf + i * rs + off;
                for (size_t k = 0; j < len && k < fsize[f] / 4; k++) {
                    uint32_t cp = next_cp(p, len, &j);
                    o[4 * k] = (uint8_t)cp;
                    o[4 * k + 1] = (uint8_t)(cp >> 8);
                    o[4 * k + 2] = (uint8_t)(cp >> 16);
                    o[4 * k + 3] = (uint8_t)(cp >> 24);
                }
            }
            if (fmt == 2) {
                snprintf(tb, sizeof tb, "<U%zu", fsize[f] / 4);
                ft = json_string(tb);
            } else {
                ft = json_pack("{s:s, s:{s:I}}", "name", "fixed_length_utf32", "configuration", "length_bytes",
                               (json_int_t)fsize[f]);
            }
        } else {
            size_t es = fsize[f];
            for (uint64_t i = 0; i < n; i++) {
                uint8_t *o = buf + i * rs + off;
                memcpy(o, (const uint8_t *)fields[f].data + i * es, es);
                if (d == LSTAR_DTYPE_BOOL) *o = *o != 0;
                else if (lstar_zarr_native_big_endian()) lstar_zarr_bswap(o, 1, es, d);
            }
            if (fmt == 2) {
                char k = d == LSTAR_DTYPE_BOOL ? 'b' : lstar_dtype_is_float(d) ? 'f' : lstar_dtype_is_signed(d) ? 'i' : 'u';
                snprintf(tb, sizeof tb, "%c%c%zu", es == 1 ? '|' : '<', k, es);
                ft = json_string(tb);
            } else {
                ft = json_string(lstar_dtype_name(d));
            }
        }
        if (!ft) goto nomem;
        if (fmt == 2) {
            if (json_array_append_new(fl, json_pack("[s, o]", fields[f].name, ft))) goto nomem;
        } else {
            if (json_array_append_new(fl, json_pack("{s:s, s:o}", "name", fields[f].name, "data_type", ft)))
                goto nomem;
            json_t *zero = d == LSTAR_DTYPE_STRING ? json_string("") : d == LSTAR_DTYPE_BOOL ? json_false()
                                                                   : lstar_dtype_is_float(d) ? json_real(0.0)
                                                                                             : json_integer(0);
            if (json_object_set_new(fill, fields[f].name, zero)) goto nomem;
        }
        off += fsize[f];
    }
    if (fmt == 2) {
        fb = b64_zeros(rs);
        if (!fb || !(fill = json_string(fb))) goto nomem;
    }
    /* create as raw records, then give it the structured dtype */
    {
        lstar_zarr_array_spec z;
        lstar_zarr_array_spec_init(&z);
        z.rank = 1;
        z.shape[0] = n;
        z.chunks[0] = n ? n : 1;
        z.dtype = LSTAR_DTYPE_FIXED_BYTES;
        z.itemsize = rs;
        LSTAR_CHECK(lstar_zarr_array_create(c->z, path, &z, &a, err));
        lstar_zarr_array_close(a);
        a = NULL;
    }
    {
        json_t *old = NULL;
        LSTAR_CHECK(lstar_zarr_meta_get(c->z, path, kind, &old, err));
        doc = json_deep_copy(old);
        json_decref(old);
        if (!doc || json_object_set(doc, fmt == 2 ? "dtype" : "data_type", dt) ||
            json_object_set(doc, "fill_value", fill))
            goto nomem;
    }
    LSTAR_CHECK(lstar_zarr_array_from_meta(c->z, path, fmt, doc, &a, err)); /* what we write is what we read */
    if (lstar_zarr_array_dtype(a) != LSTAR_DTYPE_STRUCT || lstar_zarr_array_itemsize(a) != rs) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "the structured dtype does not read back as %zu-byte records", rs);
        goto done;
    }
    lstar_zarr_array_close(a);
    a = NULL;
    LSTAR_CHECK(lstar_zarr_meta_put(c->z, path, kind, doc, err));
    LSTAR_CHECK(lstar_zarr_array_open(c->z, path, &a, err));
    if (n) LSTAR_CHECK(lstar_zarr_array_write(a, buf, err));
    goto done;
nomem:
    st = LSTAR_NOMEM(err, path);
done:
    lstar_zarr_array_close(a);
    json_decref(doc);
    json_decref(dt);
    json_decref(fill);
    lstar_free(fb);
    lstar_free(fsize);
    lstar_free(buf);
    return st;
}

static const ad_node_ops k_zarr_ops = {
    AD_NODE_OPS_VERSION,
    "zarr",
    z_kind,
    z_list,
    z_attr_exists,
    z_attr_string,
    z_attr_strings,
    z_attr_i64,
    z_attr_bool,
    z_attr_ref,
    z_attr_json,
    z_array_info,
    z_open_array,
    z_read_strings,
    z_members,
    z_read_member,
    z_create_group,
    z_write_attr_string,
    z_write_attr_strings,
    z_write_attr_i64,
    z_write_attr_bool,
    z_write_array,
    z_write_strings,
    z_appender_new,
    z_appender_append,
    z_appender_finish,
    z_appender_free,
    z_flush,
    z_close,
    z_write_records,
};

lstar_status ad_zarr_open(lstar_store *store, int create_format, const ad_node_ops **ops, void **ctx,
                          int *zarr_format, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    zctx *c = lstar_calloc(1, sizeof *c);
    if (!c) {
        lstar_store_close(store);
        return LSTAR_NOMEM(err, NULL);
    }
    c->store = store;
    if (create_format)
        st = lstar_zarr_create(store, create_format, &c->z, err);
    else
        st = lstar_zarr_open(store, &c->z, err);
    if (st != LSTAR_OK) {
        z_close(c);
        return st;
    }
    *zarr_format = lstar_zarr_format(c->z);
    *ops = &k_zarr_ops;
    *ctx = c;
    return LSTAR_OK;
}
