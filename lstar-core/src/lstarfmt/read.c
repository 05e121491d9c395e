/* L★ store reader (spec 0.1, lstar-format.md §2): Zarr v2 or v3, consolidated
 * or not, directory or zip.
 *
 * The root attribute "lstar" gives the axes, fields and passthrough namespaces
 * in read order; each is opened by name (never by listing).  Axis labels,
 * utf8 values and categories (bytes + int64 offsets) are loaded into memory
 * after their offsets are checked; every other value array (dense values,
 * sparse data/indices/indptr, coo, codes, mask, index, passthrough dense
 * leaves) stays in the store as a lazy Zarr-backed lstar_array.  The dataset
 * owns the store and the Zarr handle.
 *
 * Attribute strings that are absent, null or "" are all "unset" (the Python
 * writer writes null, the C++/R writer ""). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/lstarstore.h"
#include "lstar/zarr.h"
#include "lstarfmt/lstarfmt_internal.h"

typedef struct reader {
    lstar_zarr *z;
    lstar_dataset *ds;
} reader;

static void release_store(void *p) { lstar_store_close(p); }
static void release_zarr(void *p) { lstar_zarr_close(p); }

/* ---- attribute helpers --------------------------------------------------- */

/* The group at `path` must exist; *doc receives its parsed attributes and
 * *lstar their "lstar" member (NULL when absent). */
static lstar_status group_attrs(lstar_zarr *z, const char *path, const char *what, json_t **doc, json_t **lstar,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_error e;
    char *text = NULL;
    *doc = NULL;
    *lstar = NULL;
    lstar_error_clear(&e);
    lstar_zarr_node t = lstar_zarr_node_type(z, path, &e);
    if (t == LSTAR_ZARR_NONE && e.status != LSTAR_OK) {
        if (err) *err = e;
        lstar_err_add_where(err, path);
        return e.status;
    }
    if (t == LSTAR_ZARR_NONE)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "%s is listed in the root attributes but its group is missing",
                          what);
    if (t != LSTAR_ZARR_GROUP)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "%s must be a group, found an array", what);
    st = lstar_zarr_get_attrs(z, path, &text, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        goto done;
    }
    LSTAR_CHECK(lstar_json_parse(text, strlen(text), path, doc, err));
    if (!json_is_object(*doc)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attributes are not a JSON object");
        goto done;
    }
    json_t *l = json_object_get(*doc, "lstar");
    if (l && !json_is_null(l) && !json_is_object(l)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute 'lstar' is not an object");
        goto done;
    }
    *lstar = json_is_object(l) ? l : NULL;
done:
    lstar_free(text);
    if (st != LSTAR_OK) {
        json_decref(*doc);
        *doc = NULL;
        *lstar = NULL;
    }
    return st;
}

/* Optional string member: absent / null / "" → *out = NULL; another type is an error. */
static lstar_status opt_str(const json_t *obj, const char *key, const char *where, const char **out,
                            lstar_error *err) {
    *out = NULL;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return LSTAR_OK;
    if (!json_is_string(v)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "attribute '%s' is not a string", key);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "attribute '%s' contains a NUL character", key);
    *out = lstar_json_str(obj, key);
    return LSTAR_OK;
}

/* Optional boolean: absent / null → LSTAR_UNSET. */
static lstar_status opt_bool(const json_t *obj, const char *key, const char *where, int *out, lstar_error *err) {
    *out = LSTAR_UNSET;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return LSTAR_OK;
    if (!json_is_boolean(v)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "attribute '%s' is not a boolean", key);
    *out = json_is_true(v) ? 1 : 0;
    return LSTAR_OK;
}

/* Optional provenance object as JSON text (lstar_malloc'd) or NULL. */
static lstar_status opt_object_text(const json_t *obj, const char *key, const char *where, char **out,
                                    lstar_error *err) {
    *out = NULL;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return LSTAR_OK;
    if (!json_is_object(v)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "attribute '%s' is not an object", key);
    *out = lstar_json_dump(v, 0);
    if (!*out) return LSTAR_NOMEM(err, where);
    return LSTAR_OK;
}

/* A list of strings (root "axes", "fields", …).  `required`: absence is an error. */
static lstar_status str_list(const json_t *obj, const char *key, int required, const char *where, json_t **out,
                             lstar_error *err) {
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "root attribute lstar.%s is missing (required)", key);
        return LSTAR_OK;
    }
    if (!json_is_array(v)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "lstar.%s is not a list", key);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (!json_is_string(it) || strlen(json_string_value(it)) != json_string_length(it))
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "lstar.%s[%zu] is not a string", key, i);
    }
    *out = v;
    return LSTAR_OK;
}

/* ---- arrays ------------------------------------------------------------- */

/* Open the array at `dir/name` as a lazy lstar_array.  Absence is a FORMAT error
 * naming the array (`why` says why it is needed). */
static lstar_status open_lazy(lstar_zarr *z, const char *dir, const char *name, const char *why,
                              lstar_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr_array *za = NULL;
    lstar_error e;
    char path[LSTAR_MAX_KEY_BYTES];
    *out = NULL;
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, dir, name, err));
    lstar_error_clear(&e);
    lstar_zarr_node t = lstar_zarr_node_type(z, path, &e);
    if (t == LSTAR_ZARR_NONE && e.status != LSTAR_OK) {
        if (err) *err = e;
        lstar_err_add_where(err, path);
        st = e.status;
        goto done;
    }
    if (t != LSTAR_ZARR_ARRAY) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "value array '%s' is %s (%s)", name,
                        t == LSTAR_ZARR_NONE ? "missing" : "a group, not an array", why);
        goto done;
    }
    st = lstar_zarr_array_open(z, path, &za, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        goto done;
    }
    st = lstar_array_from_zarr(za, out, err); /* owns za from here, also on failure */
    za = NULL;
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
done:
    lstar_zarr_array_close(za);
    return st;
}

/* 1 if an array exists at dir/name. */
static int has_array(lstar_zarr *z, const char *dir, const char *name, lstar_status *st, lstar_error *err) {
    char path[LSTAR_MAX_KEY_BYTES];
    lstar_error e;
    *st = lstarfmt_join(path, sizeof path, dir, name, err);
    if (*st != LSTAR_OK) return 0;
    lstar_error_clear(&e);
    lstar_zarr_node t = lstar_zarr_node_type(z, path, &e);
    if (t == LSTAR_ZARR_NONE && e.status != LSTAR_OK) {
        if (err) *err = e;
        lstar_err_add_where(err, path);
        *st = e.status;
        return 0;
    }
    return t == LSTAR_ZARR_ARRAY;
}

/* Load the string pair dir/name (uint8 bytes) + dir/name_offsets (integer,
 * n+1 entries) into *out after checking the offsets. */
static lstar_status read_strings_pair(lstar_zarr *z, const char *dir, const char *name, lstar_strings *out,
                                      lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_array *bytes = NULL, *offs = NULL;
    int64_t *o = NULL;
    uint8_t *b = NULL;
    char opath[LSTAR_MAX_KEY_BYTES], bpath[LSTAR_MAX_KEY_BYTES], oname[1100];
    memset(out, 0, sizeof *out);
    snprintf(oname, sizeof oname, "%s_offsets", name);
    LSTAR_CHECK(lstarfmt_join(bpath, sizeof bpath, dir, name, err));
    LSTAR_CHECK(lstarfmt_join(opath, sizeof opath, dir, oname, err));
    LSTAR_CHECK(open_lazy(z, dir, name, "string bytes", &bytes, err));
    LSTAR_CHECK(open_lazy(z, dir, oname, "string offsets", &offs, err));
    if (lstar_array_rank(bytes) != 1 ||
        (lstar_array_dtype(bytes) != LSTAR_DTYPE_UINT8 && lstar_array_dtype(bytes) != LSTAR_DTYPE_INT8)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, bpath, "string bytes must be a 1-D uint8 array (got rank %d %s)",
                        lstar_array_rank(bytes), lstar_dtype_name(lstar_array_dtype(bytes)));
        goto done;
    }
    if (lstar_array_rank(offs) != 1 || !lstar_dtype_is_integer(lstar_array_dtype(offs))) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, opath, "string offsets must be a 1-D integer array (got rank %d %s)",
                        lstar_array_rank(offs), lstar_dtype_name(lstar_array_dtype(offs)));
        goto done;
    }
    uint64_t nbytes = lstar_array_shape(bytes)[0];
    uint64_t m = lstar_array_shape(offs)[0];
    if (m == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, opath, "offsets array is empty (expected n+1 >= 1 entries)");
        goto done;
    }
    if (m - 1 > LSTAR_MAX_STRING_ITEMS || m > SIZE_MAX / sizeof(int64_t) ||
        m > LSTAR_MAX_CHUNK_BYTES / sizeof(int64_t)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, opath, "%llu strings exceed the limit of %llu",
                        (unsigned long long)(m - 1), (unsigned long long)LSTAR_MAX_STRING_ITEMS);
        goto done;
    }
    if (nbytes > LSTAR_MAX_CHUNK_BYTES || nbytes > SIZE_MAX - 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, bpath, "%llu string bytes exceed the in-memory limit",
                        (unsigned long long)nbytes);
        goto done;
    }
    size_t n = (size_t)(m - 1);
    o = lstar_malloc(sizeof(int64_t) * (size_t)m);
    if (!o) {
        st = LSTAR_NOMEM(err, opath);
        goto done;
    }
    st = lstar_array_read_1d_as(offs, 0, m, LSTAR_DTYPE_INT64, o, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, opath);
        goto done;
    }
    if (o[0] != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, opath, "offsets[0] is %lld, expected 0", (long long)o[0]);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (o[i + 1] < o[i]) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, opath, "offsets decrease at item %zu (%lld < %lld)", i,
                            (long long)o[i + 1], (long long)o[i]);
            goto done;
        }
        if ((uint64_t)(o[i + 1] - o[i]) > LSTAR_MAX_STRING_BYTES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, opath, "string %zu of %lld bytes exceeds the limit", i,
                            (long long)(o[i + 1] - o[i]));
            goto done;
        }
    }
    if ((uint64_t)o[n] > nbytes) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, opath,
                        "offsets end at %lld but '%s' holds only %llu bytes (labels and offsets inconsistent)",
                        (long long)o[n], name, (unsigned long long)nbytes);
        goto done;
    }
    size_t used = (size_t)o[n];
    b = lstar_malloc(used ? used : 1);
    if (!b) {
        st = LSTAR_NOMEM(err, bpath);
        goto done;
    }
    if (used) {
        uint64_t start = 0, count = used;
        st = lstar_array_read(bytes, &start, &count, b, err);
        if (st != LSTAR_OK) {
            lstar_err_add_where(err, bpath);
            goto done;
        }
    }
    out->n = n;
    out->offsets = o;
    out->bytes = b;
    out->n_cap = n;
    out->bytes_cap = used ? used : 1;
    o = NULL;
    b = NULL;
done:
    lstar_free(o);
    lstar_free(b);
    lstar_array_free(bytes);
    lstar_array_free(offs);
    return st;
}

/* The string pair as an in-memory STRING lstar_array. */
static lstar_status read_strings_array(lstar_zarr *z, const char *dir, const char *name, lstar_array **out,
                                       lstar_error *err) {
    lstar_strings s;
    *out = NULL;
    lstar_status st = read_strings_pair(z, dir, name, &s, err);
    if (st != LSTAR_OK) return st;
    st = lstar_array_new_strings(&s, out, err); /* takes s, destroys it on failure */
    if (st != LSTAR_OK) lstar_err_add_where(err, dir);
    return st;
}

/* ---- axes ---------------------------------------------------------------- */

static lstar_status read_axis(reader *r, const char *name, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL, *l = NULL;
    char path[LSTAR_MAX_KEY_BYTES];
    char *prov = NULL;
    lstar_strings labels;
    lstar_axis *ax = NULL;
    const char *origin, *role, *induced;
    memset(&labels, 0, sizeof labels);
    if (!lstarfmt_name_ok(name))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "axes", "axis name '%.200s' is not a valid path segment", name);
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, "axes", name, err));
    LSTAR_CHECK(group_attrs(r->z, path, "axis", &doc, &l, err));
    LSTAR_CHECK(opt_str(l, "origin", path, &origin, err));
    LSTAR_CHECK(opt_str(l, "role", path, &role, err));
    LSTAR_CHECK(opt_str(l, "induced_by", path, &induced, err));
    LSTAR_CHECK(opt_object_text(l, "provenance", path, &prov, err));
    LSTAR_CHECK(read_strings_pair(r->z, path, "labels", &labels, err));
    LSTAR_CHECK(lstar_dataset_add_axis(r->ds, name, &labels, &ax, err)); /* takes labels */
    if (origin) LSTAR_CHECK(lstar_axis_set_origin(ax, origin, err));
    if (role) LSTAR_CHECK(lstar_axis_set_role(ax, role, err));
    if (induced) LSTAR_CHECK(lstar_axis_set_induced_by(ax, induced, err));
    if (prov) LSTAR_CHECK(lstar_axis_set_provenance(ax, prov, err));
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    lstar_strings_destroy(&labels);
    lstar_free(prov);
    json_decref(doc);
    return st;
}

/* ---- fields -------------------------------------------------------------- */

static lstar_status read_shape_attr(const json_t *l, const char *path, lstar_field *f, lstar_error *err) {
    json_t *v = json_object_get(l, "shape");
    uint64_t dims[LSTAR_MAX_RANK];
    if (!v || json_is_null(v)) return LSTAR_OK;
    if (!json_is_array(v) || json_array_size(v) > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "attribute 'shape' is not a list of at most %d integers",
                          LSTAR_MAX_RANK);
    size_t i;
    json_t *it;
    json_array_foreach(v, i, it) {
        if (!json_is_integer(it) || json_integer_value(it) < 0)
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "shape[%zu] is not a non-negative integer", i);
        dims[i] = (uint64_t)json_integer_value(it);
    }
    lstar_status st = lstar_field_set_shape(f, (int)json_array_size(v), dims, err);
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    return st;
}

static lstar_status set_lazy(lstar_zarr *z, lstar_field *f, const char *dir, const char *name, const char *why,
                             lstar_error *err) {
    lstar_array *a = NULL;
    lstar_status st = open_lazy(z, dir, name, why, &a, err);
    if (st != LSTAR_OK) return st;
    st = lstar_field_set_array(f, name, a, err); /* takes a */
    if (st != LSTAR_OK) lstar_err_add_where(err, dir);
    return st;
}

static lstar_status read_field(reader *r, const char *name, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL, *l = NULL;
    char path[LSTAR_MAX_KEY_BYTES], why[128];
    char *prov = NULL;
    lstar_field *f = NULL;
    lstar_array *arr = NULL;
    const char *span[LSTAR_MAX_RANK];
    const char *enc_name, *role, *state, *subtype, *unc, *coverage, *index_axis;
    int directed, weighted, ordered, nullable, partial = 0;
    if (!lstarfmt_name_ok(name))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "fields", "field name '%.200s' is not a valid path segment", name);
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, "fields", name, err));
    LSTAR_CHECK(group_attrs(r->z, path, "field", &doc, &l, err));
    if (!l) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "field group has no 'lstar' attribute");
        goto done;
    }
    LSTAR_CHECK(opt_str(l, "encoding", path, &enc_name, err));
    if (!enc_name) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "field attribute 'encoding' is missing");
        goto done;
    }
    int enc = lstar_encoding_from_name(enc_name);
    if (enc < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unknown encoding '%.100s'", enc_name);
        goto done;
    }
    json_t *jspan = json_object_get(l, "span");
    if (!json_is_array(jspan)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "field attribute 'span' is missing or not a list");
        goto done;
    }
    size_t nspan = json_array_size(jspan);
    if (nspan > LSTAR_MAX_RANK) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "span of %zu axes exceeds the rank limit %d", nspan,
                        LSTAR_MAX_RANK);
        goto done;
    }
    for (size_t i = 0; i < nspan; i++) {
        json_t *it = json_array_get(jspan, i);
        if (!json_is_string(it) || json_string_length(it) == 0 ||
            strlen(json_string_value(it)) != json_string_length(it)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "span[%zu] is not an axis name", i);
            goto done;
        }
        span[i] = json_string_value(it);
    }
    LSTAR_CHECK(opt_str(l, "role", path, &role, err));
    LSTAR_CHECK(opt_str(l, "state", path, &state, err));
    LSTAR_CHECK(opt_str(l, "subtype", path, &subtype, err));
    LSTAR_CHECK(opt_str(l, "uncertainty", path, &unc, err));
    LSTAR_CHECK(opt_str(l, "coverage", path, &coverage, err));
    LSTAR_CHECK(opt_str(l, "index_axis", path, &index_axis, err));
    LSTAR_CHECK(opt_bool(l, "directed", path, &directed, err));
    LSTAR_CHECK(opt_bool(l, "weighted", path, &weighted, err));
    LSTAR_CHECK(opt_bool(l, "ordered", path, &ordered, err));
    LSTAR_CHECK(opt_bool(l, "nullable", path, &nullable, err));
    LSTAR_CHECK(opt_object_text(l, "provenance", path, &prov, err));
    if (coverage && strcmp(coverage, "partial") == 0)
        partial = 1;
    else if (coverage && strcmp(coverage, "full") != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "coverage '%.100s' is neither \"full\" nor \"partial\"",
                        coverage);
        goto done;
    }
    if (partial && nspan == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "partial coverage needs a non-empty span");
        goto done;
    }

    LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, (lstar_encoding)enc, nspan, span, &f, err));
    if (role) LSTAR_CHECK(lstar_field_set_role(f, role, err));
    if (state) LSTAR_CHECK(lstar_field_set_state(f, state, err));
    if (subtype) LSTAR_CHECK(lstar_field_set_subtype(f, subtype, err));
    if (unc) LSTAR_CHECK(lstar_field_set_uncertainty(f, unc, err));
    if (prov) LSTAR_CHECK(lstar_field_set_provenance(f, prov, err));
    lstar_field_set_directed(f, directed);
    lstar_field_set_weighted(f, weighted);
    if (enc == LSTAR_ENC_CATEGORICAL || ordered != LSTAR_UNSET) lstar_field_set_ordered(f, ordered);
    LSTAR_CHECK(read_shape_attr(l, path, f, err));

    snprintf(why, sizeof why, "required by encoding %s", enc_name);
    switch ((lstar_encoding)enc) {
    case LSTAR_ENC_DENSE:
        LSTAR_CHECK(set_lazy(r->z, f, path, "values", why, err));
        break;
    case LSTAR_ENC_CSR:
    case LSTAR_ENC_CSC:
        LSTAR_CHECK(set_lazy(r->z, f, path, "data", why, err));
        LSTAR_CHECK(set_lazy(r->z, f, path, "indices", why, err));
        LSTAR_CHECK(set_lazy(r->z, f, path, "indptr", why, err));
        break;
    case LSTAR_ENC_COO:
        LSTAR_CHECK(set_lazy(r->z, f, path, "row", why, err));
        LSTAR_CHECK(set_lazy(r->z, f, path, "col", why, err));
        LSTAR_CHECK(set_lazy(r->z, f, path, "weight", why, err));
        break;
    case LSTAR_ENC_UTF8:
        LSTAR_CHECK(read_strings_array(r->z, path, "values", &arr, err));
        st = lstar_field_set_array(f, "values", arr, err);
        arr = NULL;
        if (st != LSTAR_OK) goto done;
        break;
    case LSTAR_ENC_CATEGORICAL:
        LSTAR_CHECK(set_lazy(r->z, f, path, "codes", why, err));
        LSTAR_CHECK(read_strings_array(r->z, path, "categories", &arr, err));
        st = lstar_field_set_array(f, "categories", arr, err);
        arr = NULL;
        if (st != LSTAR_OK) goto done;
        break;
    default:
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "encoding '%.100s' is not supported", enc_name);
        goto done;
    }
    if (has_array(r->z, path, "mask", &st, err)) {
        LSTAR_CHECK(set_lazy(r->z, f, path, "mask", "nullable", err));
    } else {
        if (st != LSTAR_OK) goto done;
        if (nullable == 1) {
            char mpath[LSTAR_MAX_KEY_BYTES];
            LSTAR_CHECK(lstarfmt_join(mpath, sizeof mpath, path, "mask", err));
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, mpath, "field is nullable but its 'mask' array is missing");
            goto done;
        }
    }
    if (partial) {
        LSTAR_CHECK(set_lazy(r->z, f, path, "index", "required by partial coverage", err));
        LSTAR_CHECK(lstar_field_set_index_axis(f, index_axis ? index_axis : span[0], err));
    }
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    lstar_array_free(arr);
    lstar_free(prov);
    json_decref(doc);
    return st;
}

/* ---- passthrough ---------------------------------------------------------- */

static lstar_status read_passthrough(reader *r, const char *ns, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL, *l = NULL;
    char path[LSTAR_MAX_KEY_BYTES];
    char *tree_text = NULL;
    lstar_passthrough *p = NULL;
    lstar_array *arr = NULL;
    if (!lstarfmt_name_ok(ns))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "passthrough", "namespace '%.200s' is not a valid path segment", ns);
    LSTAR_CHECK(lstarfmt_join(path, sizeof path, "passthrough", ns, err));
    LSTAR_CHECK(group_attrs(r->z, path, "passthrough namespace", &doc, &l, err));
    if (!l) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough group has no 'lstar' attribute");
        goto done;
    }
    json_t *tree = json_object_get(l, "tree");
    const char *tree_str;
    if (json_is_string(tree)) {
        tree_str = json_string_value(tree);
        if (strlen(tree_str) != json_string_length(tree)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough 'tree' contains a NUL character");
            goto done;
        }
    } else if (json_is_object(tree) || json_is_array(tree)) {
        /* Not what upstream writes (a JSON string), but unambiguous. */
        tree_text = lstar_json_dump(tree, 0);
        if (!tree_text) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        tree_str = tree_text;
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough attribute 'tree' is missing or not a JSON string");
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_add_passthrough(r->ds, ns, tree_str, &p, err));
    json_t *arrays = json_object_get(l, "arrays");
    if (arrays && !json_is_null(arrays) && !json_is_array(arrays)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough attribute 'arrays' is not a list");
        goto done;
    }
    size_t i;
    json_t *it;
    json_array_foreach(arrays, i, it) {
        const char *id, *kind;
        if (!json_is_object(it)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "arrays[%zu] is not an object", i);
            goto done;
        }
        LSTAR_CHECK(opt_str(it, "id", path, &id, err));
        LSTAR_CHECK(opt_str(it, "kind", path, &kind, err));
        if (!id || !lstarfmt_name_ok(id)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "arrays[%zu] has no valid 'id'", i);
            goto done;
        }
        if (!kind) kind = "dense";
        if (strcmp(kind, "dense") == 0) {
            LSTAR_CHECK(open_lazy(r->z, path, id, "passthrough leaf", &arr, err));
        } else if (strcmp(kind, "utf8") == 0) {
            LSTAR_CHECK(read_strings_array(r->z, path, id, &arr, err));
        } else {
            char lp[LSTAR_MAX_KEY_BYTES];
            LSTAR_CHECK(lstarfmt_join(lp, sizeof lp, path, id, err));
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, lp, "unknown passthrough leaf kind '%.100s'", kind);
            goto done;
        }
        st = lstar_passthrough_add_leaf(p, id, kind, arr, err); /* takes arr */
        arr = NULL;
        if (st != LSTAR_OK) {
            if (err) snprintf(err->where, sizeof err->where, "%s/%s", path, id);
            goto done;
        }
    }
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, path);
    lstar_array_free(arr);
    lstar_free(tree_text);
    json_decref(doc);
    return st;
}

/* ---- root ---------------------------------------------------------------- */

static lstar_status read_root(reader *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL, *l = NULL, *axes, *fields, *profiles, *dropped, *pass;
    const char *kind, *ver;
    size_t i;
    json_t *it;
    LSTAR_CHECK(group_attrs(r->z, "", "the root", &doc, &l, err));
    if (!l) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "", "not an L★ store: the root has no 'lstar' attribute");
        goto done;
    }
    LSTAR_CHECK(str_list(l, "axes", 1, "", &axes, err));
    LSTAR_CHECK(str_list(l, "fields", 1, "", &fields, err));
    LSTAR_CHECK(str_list(l, "profiles", 0, "", &profiles, err));
    LSTAR_CHECK(str_list(l, "dropped", 0, "", &dropped, err));
    LSTAR_CHECK(str_list(l, "passthrough", 0, "", &pass, err));
    LSTAR_CHECK(opt_str(l, "kind", "", &kind, err));
    LSTAR_CHECK(opt_str(l, "spec_version", "", &ver, err));
    if (!kind || strcmp(kind, "sample") == 0)
        lstar_dataset_set_kind(r->ds, LSTAR_KIND_SAMPLE);
    else if (strcmp(kind, "collection") == 0)
        lstar_dataset_set_kind(r->ds, LSTAR_KIND_COLLECTION);
    else {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, "", "unknown dataset kind '%.100s'", kind);
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_set_spec_version(r->ds, ver ? ver : LSTAR_SPEC_VERSION, err));
    json_array_foreach(profiles, i, it) LSTAR_CHECK(lstar_dataset_add_profile(r->ds, json_string_value(it), err));
    json_array_foreach(dropped, i, it) LSTAR_CHECK(lstar_dataset_add_dropped(r->ds, json_string_value(it), err));
    json_array_foreach(axes, i, it) LSTAR_CHECK(read_axis(r, json_string_value(it), err));
    json_array_foreach(fields, i, it) LSTAR_CHECK(read_field(r, json_string_value(it), err));
    json_array_foreach(pass, i, it) LSTAR_CHECK(read_passthrough(r, json_string_value(it), err));
done:
    json_decref(doc);
    return st;
}

lstar_status lstar_dataset_read_store(lstar_store *store, lstar_dataset **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_dataset *ds = NULL;
    lstar_zarr *z = NULL;
    int store_attached = 0, zarr_attached = 0;
    reader r;
    if (out) *out = NULL;
    if (!store || !out) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_dataset_read_store: NULL argument");
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_new(&ds, err));
    LSTAR_CHECK(lstar_dataset_attach(ds, store, release_store, err));
    store_attached = 1;
    LSTAR_CHECK(lstar_zarr_open(store, &z, err));
    /* Attached after the store, so released before it. */
    LSTAR_CHECK(lstar_dataset_attach(ds, z, release_zarr, err));
    zarr_attached = 1;
    r.z = z;
    r.ds = ds;
    LSTAR_CHECK(read_root(&r, err));
    *out = ds;
    ds = NULL;
done:
    if (st != LSTAR_OK) {
        /* Zarr handle before the store it reads from; the dataset frees its
         * fields (lazy arrays) first, then its attachments in reverse order. */
        if (!zarr_attached) lstar_zarr_close(z);
        lstar_dataset_free(ds);
        if (!store_attached) lstar_store_close(store);
    }
    return st;
}

lstar_status lstar_dataset_read(const char *path, lstar_dataset **out, lstar_error *err) {
    lstar_store *s = NULL;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_dataset_read: NULL argument");
    lstar_status st = lstar_store_open(path, LSTAR_STORE_READ, &s, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        return st;
    }
    return lstar_dataset_read_store(s, out, err);
}
