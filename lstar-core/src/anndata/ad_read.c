/* AnnData → L★ (lstar-format.md §3.2, read side) over the node layer.
 *
 * Element decoding follows anndata's IO registry (formats.md §1.2) plus the
 * 0.7-era and pre-0.7 layouts (§1.6).  Matrices stay lazy; labels,
 * categories and string columns are read whole.  See docs/internals/anndata.md. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/model.h"

#define PATHMAX LSTAR_MAX_KEY_BYTES

typedef struct leaf {
    char id[24];
    int utf8;
    lstar_array *arr;
} leaf;

typedef struct rd {
    ad_container *c;
    lstar_dataset *ds;
    int guard;
    uint64_t n_obs, n_var;
    lstar_strings consumed; /* uns element paths promoted or consumed (excluded from the passthrough) */
    leaf *leaves;
    size_t nleaves, capleaves;
} rd;

/* ---- small helpers ------------------------------------------------------------------------------- */

static lstar_status dropf(rd *r, lstar_error *err, const char *fmt, ...) LSTAR_PRINTF(3, 4);
static lstar_status dropf(rd *r, lstar_error *err, const char *fmt, ...) {
    char buf[PATHMAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return lstar_dataset_add_dropped(r->ds, buf, err);
}

static int consumed(const rd *r, const char *path) {
    for (size_t i = 0; i < r->consumed.n; i++) {
        size_t len;
        const char *p = lstar_strings_get(&r->consumed, i, &len);
        if (len == strlen(path) && memcmp(p, path, len) == 0) return 1;
    }
    return 0;
}

static lstar_status consume(rd *r, const char *path, lstar_error *err) {
    return lstar_strings_append(&r->consumed, path, strlen(path), err);
}

static lstar_status set_prov(lstar_field *f, const char *loc, lstar_error *err) {
    json_t *o = json_pack("{s:s}", "anndata", loc);
    char *t = o ? lstar_json_dump(o, 0) : NULL;
    json_decref(o);
    if (!t) return LSTAR_NOMEM(err, loc);
    lstar_status st = lstar_field_set_provenance(f, t, err);
    lstar_free(t);
    return st;
}

/* A free field name: `base`, else base+suffix, else base+suffix+".2", … */
static lstar_status free_name(rd *r, const char *base, const char *suffix, char *out, size_t size, lstar_error *err) {
    if (!lstar_dataset_field(r->ds, base)) {
        if ((size_t)snprintf(out, size, "%s", base) >= size) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, base, "name too long");
        return LSTAR_OK;
    }
    for (int i = 1; i < 1000; i++) {
        int n = i == 1 ? snprintf(out, size, "%s%s", base, suffix) : snprintf(out, size, "%s%s.%d", base, suffix, i);
        if (n < 0 || (size_t)n >= size) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, base, "name too long");
        if (!lstar_dataset_field(r->ds, out)) return LSTAR_OK;
    }
    return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, base, "no free field name");
}

static lstar_status enc_type(rd *r, const char *path, char **et, lstar_error *err) {
    return ad_attr_string_opt(r->c, path, "encoding-type", et, err);
}

/* Python-repr-like float text ("1.0", "0.1", "nan", "inf"). */
static void fmt_double(double v, char *buf, size_t size) {
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "inf" : "-inf");
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, size, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".eni")) {
        size_t l = strlen(buf);
        if (l + 2 < size) memcpy(buf + l, ".0", 3);
    }
}

/* A 1-D numeric/bool lstar_array formatted as strings (pandas str() of an index / categories). */
static lstar_status numbers_to_strings(const lstar_array *a, lstar_strings *out, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    void *buf = NULL;
    lstar_dtype dt = lstar_array_dtype(a);
    uint64_t n = lstar_array_size(a);
    int isf = lstar_dtype_is_float(dt);
    memset(out, 0, sizeof *out);
    if (lstar_array_rank(a) != 1 || !lstar_dtype_is_numeric(dt) || dt == LSTAR_DTYPE_FLOAT16)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "expected a 1-D string or numeric array");
    if (n > LSTAR_MAX_STRING_ITEMS) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "too many labels");
    buf = lstar_malloc(n ? (size_t)n * 8 : 8);
    if (!buf) return LSTAR_NOMEM(err, where);
    LSTAR_CHECK(lstar_array_read_1d_as(a, 0, n, isf ? LSTAR_DTYPE_FLOAT64 : LSTAR_DTYPE_INT64, buf, err));
    LSTAR_CHECK(lstar_strings_init(out, err));
    for (uint64_t i = 0; i < n; i++) {
        char t[64];
        if (isf)
            fmt_double(((double *)buf)[i], t, sizeof t);
        else if (dt == LSTAR_DTYPE_BOOL)
            snprintf(t, sizeof t, "%s", ((int64_t *)buf)[i] ? "True" : "False");
        else if (dt == LSTAR_DTYPE_UINT64)
            snprintf(t, sizeof t, "%llu", (unsigned long long)((int64_t *)buf)[i]);
        else
            snprintf(t, sizeof t, "%lld", (long long)((int64_t *)buf)[i]);
        LSTAR_CHECK(lstar_strings_append(out, t, strlen(t), err));
    }
done:
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, where);
        lstar_strings_destroy(out);
    }
    lstar_free(buf);
    return st;
}

/* Labels from the element at `path`: a string array, a numeric array
 * (formatted), a nullable-string-array (values; missing → ""). */
static lstar_status read_labels(rd *r, const char *path, lstar_strings *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_kind k;
    ad_array_info info;
    lstar_array *a = NULL;
    char *et = NULL;
    char p[PATHMAX];
    memset(out, 0, sizeof *out);
    LSTAR_CHECK(ad_kind_at(r->c, path, &k, err));
    if (k == AD_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "element is missing");
        goto done;
    }
    if (k == AD_GROUP) {
        LSTAR_CHECK(enc_type(r, path, &et, err));
        if (!et || strcmp(et, "nullable-string-array") != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "expected labels (a string array), found a group of encoding '%s'",
                            et ? et : "(none)");
            goto done;
        }
        LSTAR_CHECK(ad_join(p, sizeof p, path, "values", err));
        st = read_labels(r, p, out, err);
        goto done;
    }
    LSTAR_CHECK(ad_array_info_at(r->c, path, &info, err));
    if (info.elem == AD_ELEM_STRING) {
        if (info.rank != 1) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "labels must be 1-D (rank %d)", info.rank);
            goto done;
        }
        st = ad_read_strings(r->c, path, out, err);
    } else if (info.elem == AD_ELEM_NUMERIC || info.elem == AD_ELEM_BOOL) {
        LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
        st = numbers_to_strings(a, out, path, err);
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "labels must be strings or numbers");
    }
done:
    lstar_array_free(a);
    lstar_free(et);
    return st;
}

/* A memory STRING array holding `s` (taken). */
static lstar_status strings_array(lstar_strings *s, lstar_array **out, lstar_error *err) {
    return lstar_array_new_strings(s, out, err);
}

static const char *const k_known[] = {"anndata", "raw", "dataframe", "csr_matrix", "csc_matrix", "array", "string-array",
                                      "categorical", "nullable-integer", "nullable-boolean", "nullable-string-array",
                                      "awkward-array", "dict", "numeric-scalar", "string", "rec-array", "null", "bytes",
                                      NULL};

static int known_encoding(const char *et) {
    for (int i = 0; k_known[i]; i++)
        if (strcmp(et, k_known[i]) == 0) return 1;
    return 0;
}

static lstar_status unknown_encoding(const char *path, const char *et, lstar_error *err) {
    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path, "unknown AnnData encoding-type '%s' on element '%s'", et, path);
}

/* ---- matrices ------------------------------------------------------------------------------------ */

typedef struct mx {
    lstar_encoding enc; /* DENSE, CSR, CSC */
    lstar_array *values, *data, *indices, *indptr;
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    char why[64]; /* not representable: the anndata type */
} mx;

static void mx_free(mx *m) {
    lstar_array_free(m->values);
    lstar_array_free(m->data);
    lstar_array_free(m->indices);
    lstar_array_free(m->indptr);
    memset(m, 0, sizeof *m);
}

static lstar_status open_part(rd *r, const char *path, const char *name, lstar_array **out, lstar_error *err) {
    char p[PATHMAX];
    ad_kind k;
    lstar_status st = ad_join(p, sizeof p, path, name, err);
    if (st != LSTAR_OK) return st;
    st = ad_kind_at(r->c, p, &k, err);
    if (st != LSTAR_OK) return st;
    if (k != AD_ARRAY)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "sparse matrix '%s' has no '%s' array", path, name);
    st = ad_open_array(r->c, p, out, err);
    if (st != LSTAR_OK) return st;
    if (lstar_array_rank(*out) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "'%s' must be 1-D (rank %d)", name, lstar_array_rank(*out));
    if (strcmp(name, "data") != 0 && !lstar_dtype_is_integer(lstar_array_dtype(*out)))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "'%s' must be integer (dtype %s)", name,
                          lstar_dtype_name(lstar_array_dtype(*out)));
    return LSTAR_OK;
}

/* Decode the matrix element at `path` (dense array, csr/csc group, h5sparse
 * group).  Something anndata can store there but we cannot represent as a
 * matrix leaves m->enc DENSE with no arrays and m->why set. */
static lstar_status read_matrix(rd *r, const char *path, mx *m, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_kind k;
    char *et = NULL, *hf = NULL;
    int64_t *shape = NULL;
    size_t ns = 0;
    memset(m, 0, sizeof *m);
    LSTAR_CHECK(ad_kind_at(r->c, path, &k, err));
    if (k == AD_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "element is missing");
        goto done;
    }
    LSTAR_CHECK(enc_type(r, path, &et, err));
    if (et && !known_encoding(et)) {
        st = unknown_encoding(path, et, err);
        goto done;
    }
    if (k == AD_ARRAY) {
        ad_array_info info;
        LSTAR_CHECK(ad_array_info_at(r->c, path, &info, err));
        if (info.elem == AD_ELEM_NUMERIC || info.elem == AD_ELEM_BOOL) {
            m->enc = LSTAR_ENC_DENSE;
            m->rank = info.rank;
            memcpy(m->shape, info.shape, sizeof m->shape);
            st = ad_open_array(r->c, path, &m->values, err);
        } else {
            snprintf(m->why, sizeof m->why, "%s",
                     info.elem == AD_ELEM_STRING ? "string-array" : info.elem == AD_ELEM_STRUCT ? "rec-array"
                     : info.elem == AD_ELEM_NULL ? "null" : "unsupported dtype");
        }
        goto done;
    }
    int sparse = 0;
    if (et && (strcmp(et, "csr_matrix") == 0 || strcmp(et, "csc_matrix") == 0)) {
        sparse = et[2] == 'c' ? 2 : 1;
        int ex = 0;
        LSTAR_CHECK(ad_attr_exists(r->c, path, "shape", &ex, err));
        if (!ex) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "sparse matrix '%s' has no 'shape' attribute", path);
            goto done;
        }
        LSTAR_CHECK(ad_attr_i64(r->c, path, "shape", &shape, &ns, err));
    } else if (!et) {
        LSTAR_CHECK(ad_attr_string_opt(r->c, path, "h5sparse_format", &hf, err));
        if (hf) {
            if (strcmp(hf, "csr") != 0 && strcmp(hf, "csc") != 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "h5sparse_format '%s' is neither csr nor csc", hf);
                goto done;
            }
            sparse = hf[2] == 'c' ? 2 : 1;
            int ex = 0;
            LSTAR_CHECK(ad_attr_exists(r->c, path, "h5sparse_shape", &ex, err));
            if (!ex) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "h5sparse group '%s' has no 'h5sparse_shape' attribute",
                                path);
                goto done;
            }
            LSTAR_CHECK(ad_attr_i64(r->c, path, "h5sparse_shape", &shape, &ns, err));
        }
    }
    if (!sparse) {
        snprintf(m->why, sizeof m->why, "%s", et ? et : "dict");
        goto done;
    }
    if (ns != 2 || shape[0] < 0 || shape[1] < 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "sparse shape attribute must be two non-negative integers");
        goto done;
    }
    m->enc = sparse == 2 ? LSTAR_ENC_CSC : LSTAR_ENC_CSR;
    m->rank = 2;
    m->shape[0] = (uint64_t)shape[0];
    m->shape[1] = (uint64_t)shape[1];
    LSTAR_CHECK(open_part(r, path, "data", &m->data, err));
    LSTAR_CHECK(open_part(r, path, "indices", &m->indices, err));
    LSTAR_CHECK(open_part(r, path, "indptr", &m->indptr, err));
    if (!lstar_dtype_is_numeric(lstar_array_dtype(m->data))) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "sparse data of dtype %s is not numeric",
                        lstar_dtype_name(lstar_array_dtype(m->data)));
        goto done;
    }
    uint64_t nnz = lstar_array_shape(m->data)[0];
    if (lstar_array_shape(m->indices)[0] != nnz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "sparse data has %llu entries but indices %llu",
                        (unsigned long long)nnz, (unsigned long long)lstar_array_shape(m->indices)[0]);
        goto done;
    }
    uint64_t major = m->shape[sparse == 2 ? 1 : 0];
    uint64_t nptr = lstar_array_shape(m->indptr)[0];
    if (nptr != major + 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path,
                        "shape attribute [%llu, %llu] needs an indptr of %llu entries (%s), found %llu",
                        (unsigned long long)m->shape[0], (unsigned long long)m->shape[1],
                        (unsigned long long)(major + 1), sparse == 2 ? "csc" : "csr", (unsigned long long)nptr);
        goto done;
    }
    int64_t ends[2] = {0, 0};
    LSTAR_CHECK(lstar_array_read_1d_as(m->indptr, 0, 1, LSTAR_DTYPE_INT64, &ends[0], err));
    LSTAR_CHECK(lstar_array_read_1d_as(m->indptr, nptr - 1, 1, LSTAR_DTYPE_INT64, &ends[1], err));
    if (ends[0] != 0 || ends[1] < 0 || (uint64_t)ends[1] != nnz) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "indptr runs from %lld to %lld but there are %llu entries",
                        (long long)ends[0], (long long)ends[1], (unsigned long long)nnz);
        goto done;
    }
done:
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, path);
        mx_free(m);
    }
    lstar_free(et);
    lstar_free(hf);
    lstar_free(shape);
    return st;
}

/* Move the matrix arrays into a new field (m emptied). */
static lstar_status add_matrix_field(rd *r, const char *name, mx *m, const char *a0, const char *a1,
                                     const char *role, const char *loc, lstar_field **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_field *f = NULL;
    const char *span[2] = {a0, a1};
    size_t nspan = m->rank >= 2 ? 2 : 1;
    LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, m->enc, nspan, span, &f, err));
    LSTAR_CHECK(lstar_field_set_role(f, role, err));
    LSTAR_CHECK(set_prov(f, loc, err));
    if (m->enc == LSTAR_ENC_DENSE) {
        st = lstar_field_set_array(f, "values", m->values, err);
        m->values = NULL;
        LSTAR_CHECK(st);
    } else {
        st = lstar_field_set_array(f, "data", m->data, err);
        m->data = NULL;
        LSTAR_CHECK(st);
        st = lstar_field_set_array(f, "indices", m->indices, err);
        m->indices = NULL;
        LSTAR_CHECK(st);
        st = lstar_field_set_array(f, "indptr", m->indptr, err);
        m->indptr = NULL;
        LSTAR_CHECK(st);
    }
    LSTAR_CHECK(lstar_field_set_shape(f, m->rank, m->shape, err));
    if (out) *out = f;
done:
    mx_free(m);
    return st;
}

static int same_shape2(const mx *m, uint64_t a, uint64_t b) { return m->rank == 2 && m->shape[0] == a && m->shape[1] == b; }

static lstar_status shape_error(const char *path, const mx *m, uint64_t a, uint64_t b, lstar_error *err) {
    if (m->rank == 2)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "'%s' has shape [%llu, %llu], expected [%llu, %llu]", path,
                          (unsigned long long)m->shape[0], (unsigned long long)m->shape[1], (unsigned long long)a,
                          (unsigned long long)b);
    return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "'%s' has rank %d, expected a [%llu, %llu] matrix", path, m->rank,
                      (unsigned long long)a, (unsigned long long)b);
}

/* 1 if `path` is an anndata `null` element (anndata >= 0.12 writes None that way). */
static lstar_status is_null_elem(rd *r, const char *path, int *yes, lstar_error *err) {
    ad_kind k;
    char *et = NULL;
    *yes = 0;
    lstar_status st = ad_kind_at(r->c, path, &k, err);
    if (st != LSTAR_OK || k != AD_ARRAY) return st;
    st = enc_type(r, path, &et, err);
    if (st == LSTAR_OK) {
        ad_array_info info;
        if (et && strcmp(et, "null") == 0)
            *yes = 1;
        else if ((st = ad_array_info_at(r->c, path, &info, err)) == LSTAR_OK)
            *yes = info.elem == AD_ELEM_NULL;
    }
    lstar_free(et);
    return st;
}

/* ---- dataframes ---------------------------------------------------------------------------------- */

/* The index labels of the dataframe at `df` (group or legacy compound). */
static lstar_status read_index(rd *r, const char *df, lstar_strings *labels, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_kind k;
    char *et = NULL, *ix = NULL;
    lstar_array *a = NULL;
    ad_member *mem = NULL;
    size_t nm = 0;
    char p[PATHMAX];
    memset(labels, 0, sizeof *labels);
    LSTAR_CHECK(ad_kind_at(r->c, df, &k, err));
    if (k == AD_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "required dataframe '%s' is missing", df);
        goto done;
    }
    if (k == AD_GROUP) {
        LSTAR_CHECK(enc_type(r, df, &et, err));
        if (!et || strcmp(et, "dataframe") != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "'%s' must be a dataframe (encoding-type '%s')", df,
                            et ? et : "(none)");
            goto done;
        }
        LSTAR_CHECK(ad_attr_string_opt(r->c, df, "_index", &ix, err));
        if (!ix) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "dataframe '%s' has no '_index' attribute", df);
            goto done;
        }
        LSTAR_CHECK(ad_join(p, sizeof p, df, ix, err));
        st = read_labels(r, p, labels, err);
        goto done;
    }
    /* pre-0.7: a compound dataset whose first field is the index */
    ad_array_info info;
    LSTAR_CHECK(ad_array_info_at(r->c, df, &info, err));
    if (info.elem != AD_ELEM_STRUCT || info.rank != 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "'%s' is neither a dataframe group nor a 1-D record array", df);
        goto done;
    }
    LSTAR_CHECK(ad_members(r->c, df, &mem, &nm, err));
    if (nm == 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "record array '%s' has no fields", df);
        goto done;
    }
    LSTAR_CHECK(ad_read_member(r->c, df, mem[0].name, &a, err));
    if (lstar_array_dtype(a) == LSTAR_DTYPE_STRING) {
        const lstar_strings *s = lstar_array_memory_strings(a);
        st = s ? lstar_strings_copy(labels, s, err) : LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, df, "string member not in memory");
    } else {
        st = numbers_to_strings(a, labels, df, err);
    }
done:
    lstar_array_free(a);
    lstar_free(mem);
    lstar_free(et);
    lstar_free(ix);
    return st;
}

/* The categorical field `name` over `axis` from codes + categories + ordered; induces its factor axis. */
static lstar_status add_categorical(rd *r, const char *name, const char *axis, lstar_array *codes, lstar_strings *cats,
                                    int ordered, const char *loc, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_field *f = NULL;
    lstar_array *ca = NULL;
    lstar_error e;
    if (!lstar_dtype_is_integer(lstar_array_dtype(codes)) || lstar_array_rank(codes) != 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, loc, "categorical codes must be a 1-D integer array");
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, LSTAR_ENC_CATEGORICAL, 1, &axis, &f, err));
    LSTAR_CHECK(lstar_field_set_role(f, "label", err));
    LSTAR_CHECK(set_prov(f, loc, err));
    lstar_field_set_ordered(f, ordered);
    st = lstar_field_set_array(f, "codes", codes, err);
    codes = NULL;
    LSTAR_CHECK(st);
    LSTAR_CHECK(strings_array(cats, &ca, err));
    st = lstar_field_set_array(f, "categories", ca, err);
    ca = NULL;
    LSTAR_CHECK(st);
    lstar_error_clear(&e);
    st = lstar_dataset_induce_factor(r->ds, name, r->guard, NULL, &e);
    if (st == LSTAR_ERR_VALIDATION) st = LSTAR_OK; /* name taken by an axis with other labels: left to validate() */
    if (st != LSTAR_OK && err) *err = e;
done:
    lstar_array_free(codes);
    lstar_array_free(ca);
    lstar_strings_destroy(cats);
    return st;
}

/* Check a column vector has length n. */
static lstar_status check_len(const lstar_array *a, uint64_t n, const char *path, lstar_error *err) {
    if (lstar_array_rank(a) != 1 || lstar_array_shape(a)[0] != n)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "column '%s' has %s%llu values, expected %llu", path,
                          lstar_array_rank(a) != 1 ? "rank != 1, " : "",
                          (unsigned long long)(lstar_array_rank(a) ? lstar_array_shape(a)[0] : 1),
                          (unsigned long long)n);
    return LSTAR_OK;
}

/* values + mask group (nullable-integer / -boolean / -string-array). */
static lstar_status add_nullable(rd *r, const char *name, const char *axis, const char *path, const char *et,
                                 uint64_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_array *vals = NULL, *mask = NULL;
    lstar_strings s;
    lstar_field *f = NULL;
    char p[PATHMAX];
    memset(&s, 0, sizeof s);
    int is_str = strcmp(et, "nullable-string-array") == 0;
    int is_bool = strcmp(et, "nullable-boolean") == 0;
    LSTAR_CHECK(ad_join(p, sizeof p, path, "mask", err));
    LSTAR_CHECK(ad_open_array(r->c, p, &mask, err));
    LSTAR_CHECK(check_len(mask, n, p, err));
    if (lstar_array_dtype(mask) != LSTAR_DTYPE_BOOL && !lstar_dtype_is_integer(lstar_array_dtype(mask))) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "mask must be boolean");
        goto done;
    }
    LSTAR_CHECK(ad_join(p, sizeof p, path, "values", err));
    if (is_str) {
        LSTAR_CHECK(read_labels(r, p, &s, err));
        if (s.n != n) {
            st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, p, "column has %zu values, expected %llu", s.n, (unsigned long long)n);
            goto done;
        }
        LSTAR_CHECK(strings_array(&s, &vals, err));
    } else {
        LSTAR_CHECK(ad_open_array(r->c, p, &vals, err));
        LSTAR_CHECK(check_len(vals, n, p, err));
        if (is_bool ? lstar_array_dtype(vals) != LSTAR_DTYPE_BOOL : !lstar_dtype_is_integer(lstar_array_dtype(vals))) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "%s values have dtype %s", et, lstar_dtype_name(lstar_array_dtype(vals)));
            goto done;
        }
    }
    LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, is_str ? LSTAR_ENC_UTF8 : LSTAR_ENC_DENSE, 1, &axis, &f, err));
    LSTAR_CHECK(lstar_field_set_role(f, is_str || is_bool ? "label" : "measure", err));
    LSTAR_CHECK(set_prov(f, path, err));
    st = lstar_field_set_array(f, "values", vals, err);
    vals = NULL;
    LSTAR_CHECK(st);
    st = lstar_field_set_array(f, "mask", mask, err);
    mask = NULL;
done:
    lstar_array_free(vals);
    lstar_array_free(mask);
    lstar_strings_destroy(&s);
    return st;
}

/* One dataframe column (group or array element) → a field over `axis`. */
static lstar_status add_column(rd *r, const char *df, const char *col, const char *axis, const char *suffix,
                               uint64_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char path[PATHMAX], name[PATHMAX], p[PATHMAX];
    char *et = NULL, *ref = NULL;
    ad_kind k;
    lstar_array *a = NULL;
    lstar_strings s;
    lstar_field *f = NULL;
    memset(&s, 0, sizeof s);
    LSTAR_CHECK(ad_join(path, sizeof path, df, col, err));
    LSTAR_CHECK(ad_kind_at(r->c, path, &k, err));
    if (k == AD_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "column '%s' is listed in column-order but missing", col);
        goto done;
    }
    LSTAR_CHECK(enc_type(r, path, &et, err));
    if (et && !known_encoding(et)) {
        st = unknown_encoding(path, et, err);
        goto done;
    }
    LSTAR_CHECK(free_name(r, col, suffix, name, sizeof name, err));
    if (k == AD_GROUP) {
        if (et && strcmp(et, "categorical") == 0) {
            int ord = 0, ex = 0;
            LSTAR_CHECK(ad_attr_exists(r->c, path, "ordered", &ex, err));
            if (!ex) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "categorical '%s' has no 'ordered' attribute", path);
                goto done;
            }
            LSTAR_CHECK(ad_attr_bool(r->c, path, "ordered", &ord, err));
            LSTAR_CHECK(ad_join(p, sizeof p, path, "codes", err));
            LSTAR_CHECK(ad_open_array(r->c, p, &a, err));
            LSTAR_CHECK(check_len(a, n, p, err));
            LSTAR_CHECK(ad_join(p, sizeof p, path, "categories", err));
            LSTAR_CHECK(read_labels(r, p, &s, err));
            st = add_categorical(r, name, axis, a, &s, ord, path, err);
            a = NULL;
        } else if (et && (strcmp(et, "nullable-integer") == 0 || strcmp(et, "nullable-boolean") == 0 ||
                          strcmp(et, "nullable-string-array") == 0)) {
            st = add_nullable(r, name, axis, path, et, n, err);
        } else {
            st = dropf(r, err, "%s (%s column)", path, et ? et : "group");
        }
        goto done;
    }
    ad_array_info info;
    LSTAR_CHECK(ad_array_info_at(r->c, path, &info, err));
    int has_cats = 0;
    LSTAR_CHECK(ad_attr_exists(r->c, path, "categories", &has_cats, err));
    if (has_cats && !et && (info.elem == AD_ELEM_NUMERIC)) {
        /* dataframe 0.1.0: codes with a reference to __categories/<col> */
        int ord = 0, ex = 0;
        LSTAR_CHECK(ad_attr_ref(r->c, path, "categories", &ref, err));
        LSTAR_CHECK(read_labels(r, ref, &s, err));
        LSTAR_CHECK(ad_attr_exists(r->c, ref, "ordered", &ex, err));
        if (ex) LSTAR_CHECK(ad_attr_bool(r->c, ref, "ordered", &ord, err));
        LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
        LSTAR_CHECK(check_len(a, n, path, err));
        st = add_categorical(r, name, axis, a, &s, ord, path, err);
        a = NULL;
        goto done;
    }
    if (info.elem == AD_ELEM_STRING) {
        /* Kept lazy (read in blocks by whoever writes it): a string column is memory that grows with the
         * number of cells. */
        LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
        if (lstar_array_dtype(a) != LSTAR_DTYPE_STRING || lstar_array_rank(a) != 1 ||
            lstar_array_shape(a)[0] != n) {
            st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "column has %llu values, expected %llu",
                            (unsigned long long)lstar_array_size(a), (unsigned long long)n);
            goto done;
        }
        LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, LSTAR_ENC_UTF8, 1, &axis, &f, err));
        LSTAR_CHECK(lstar_field_set_role(f, "label", err));
    } else if (info.elem == AD_ELEM_NUMERIC || info.elem == AD_ELEM_BOOL) {
        LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
        LSTAR_CHECK(check_len(a, n, path, err));
        LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, LSTAR_ENC_DENSE, 1, &axis, &f, err));
        LSTAR_CHECK(lstar_field_set_role(f, info.elem == AD_ELEM_BOOL ? "label" : "measure", err));
    } else {
        st = dropf(r, err, "%s (%s column)", path, info.elem == AD_ELEM_STRUCT ? "rec-array" : "unsupported dtype");
        goto done;
    }
    LSTAR_CHECK(set_prov(f, path, err));
    st = lstar_field_set_array(f, "values", a, err);
    a = NULL;
done:
    lstar_array_free(a);
    lstar_strings_destroy(&s);
    lstar_free(et);
    lstar_free(ref);
    return st;
}

/* Columns of a dataframe group in column-order. */
static lstar_status add_df_columns(rd *r, const char *df, const char *axis, const char *suffix, uint64_t n,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings cols;
    char c[PATHMAX];
    memset(&cols, 0, sizeof cols);
    int ex = 0;
    LSTAR_CHECK(ad_attr_exists(r->c, df, "column-order", &ex, err));
    if (!ex) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, df, "dataframe '%s' has no 'column-order' attribute", df);
        goto done;
    }
    LSTAR_CHECK(ad_attr_strings(r->c, df, "column-order", &cols, err));
    for (size_t i = 0; i < cols.n; i++) {
        lstar_strings_get_cstr(&cols, i, c, sizeof c);
        LSTAR_CHECK(add_column(r, df, c, axis, suffix, n, err));
    }
done:
    lstar_strings_destroy(&cols);
    return st;
}

/* pre-0.7 compound dataframe: every field after the index. Categorical
 * columns are codes whose categories sit in `cats_dir`/<col>_categories. */
static lstar_status add_legacy_columns(rd *r, const char *df, const char *axis, const char *suffix, uint64_t n,
                                       const char *cats_dir, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_member *mem = NULL;
    size_t nm = 0;
    lstar_array *a = NULL;
    lstar_strings s;
    char name[PATHMAX], loc[PATHMAX], cp[PATHMAX], cn[PATHMAX];
    memset(&s, 0, sizeof s);
    LSTAR_CHECK(ad_members(r->c, df, &mem, &nm, err));
    for (size_t i = 1; i < nm; i++) {
        lstar_field *f = NULL;
        LSTAR_CHECK(ad_join(loc, sizeof loc, strcmp(df, "raw.var") == 0 ? "raw/var" : df, mem[i].name, err));
        if (mem[i].elem == AD_ELEM_OTHER || mem[i].sub_rank) {
            LSTAR_CHECK(dropf(r, err, "%s/%s (record field of unsupported type)", df, mem[i].name));
            continue;
        }
        LSTAR_CHECK(free_name(r, mem[i].name, suffix, name, sizeof name, err));
        LSTAR_CHECK(ad_read_member(r->c, df, mem[i].name, &a, err));
        if (lstar_array_rank(a) != 1 || lstar_array_shape(a)[0] != n) {
            st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, df, "record field '%s' length differs from the index", mem[i].name);
            goto done;
        }
        ad_kind ck = AD_NONE;
        snprintf(cn, sizeof cn, "%s_categories", mem[i].name);
        if (cats_dir) {
            LSTAR_CHECK(ad_join(cp, sizeof cp, cats_dir, cn, err));
            LSTAR_CHECK(ad_kind_at(r->c, cp, &ck, err));
        }
        if (ck == AD_ARRAY && mem[i].elem == AD_ELEM_NUMERIC) {
            LSTAR_CHECK(read_labels(r, cp, &s, err));
            st = add_categorical(r, name, axis, a, &s, 0, loc, err);
            a = NULL;
            LSTAR_CHECK(st);
            LSTAR_CHECK(consume(r, cp, err));
            continue;
        }
        int str = lstar_array_dtype(a) == LSTAR_DTYPE_STRING;
        LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, str ? LSTAR_ENC_UTF8 : LSTAR_ENC_DENSE, 1, &axis, &f, err));
        LSTAR_CHECK(lstar_field_set_role(f, mem[i].elem == AD_ELEM_NUMERIC ? "measure" : "label", err));
        LSTAR_CHECK(set_prov(f, loc, err));
        st = lstar_field_set_array(f, "values", a, err);
        a = NULL;
        LSTAR_CHECK(st);
    }
done:
    lstar_array_free(a);
    lstar_strings_destroy(&s);
    lstar_free(mem);
    return st;
}

static lstar_status add_frame(rd *r, const char *df, const char *axis, const char *suffix, uint64_t n,
                              const char *cats_dir, lstar_error *err) {
    ad_kind k;
    lstar_status st = ad_kind_at(r->c, df, &k, err);
    if (st != LSTAR_OK) return st;
    if (k == AD_GROUP) return add_df_columns(r, df, axis, suffix, n, err);
    return add_legacy_columns(r, df, axis, suffix, n, cats_dir, err);
}

/* ---- slots --------------------------------------------------------------------------------------- */

static lstar_status list_group(rd *r, const char *path, lstar_strings *names, int *exists, lstar_error *err) {
    ad_kind k;
    memset(names, 0, sizeof *names);
    *exists = 0;
    lstar_status st = ad_kind_at(r->c, path, &k, err);
    if (st != LSTAR_OK) return st;
    if (k == AD_NONE) return lstar_strings_init(names, err);
    if (k != AD_GROUP) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "'%s' must be a group (a dict)", path);
    char *et = NULL;
    st = enc_type(r, path, &et, err);
    if (st == LSTAR_OK && et && strcmp(et, "dict") != 0 && strcmp(et, "raw") != 0)
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "'%s' must be a dict, found encoding-type '%s'", path, et);
    lstar_free(et);
    if (st != LSTAR_OK) return st;
    *exists = 1;
    return ad_list(r->c, path, names, err);
}

static const char *guess_state(const char *k, char *low, size_t size) {
    size_t i;
    for (i = 0; k[i] && i + 1 < size; i++) low[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
    low[i] = 0;
    if (strstr(low, "count") || strcmp(low, "raw") == 0) return "raw";
    if (!strcmp(low, "data") || !strcmp(low, "lognorm") || !strcmp(low, "log1p") || !strcmp(low, "normalized") ||
        !strcmp(low, "norm"))
        return "lognorm";
    if (strstr(low, "scale")) return "scaled";
    return NULL;
}

static const char *guess_subtype(const char *k, char *low, size_t size) {
    size_t i;
    for (i = 0; k[i] && i + 1 < size; i++) low[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
    low[i] = 0;
    if (strstr(low, "dist")) return "distance";
    if (strstr(low, "conn") || strstr(low, "knn") || strstr(low, "neighbor") || strstr(low, "snn")) return "similarity";
    return NULL;
}

static lstar_status add_layers(rd *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings keys;
    int ex = 0;
    mx m;
    memset(&m, 0, sizeof m);
    LSTAR_CHECK(list_group(r, "layers", &keys, &ex, err));
    for (size_t i = 0; i < keys.n; i++) {
        char k[PATHMAX], path[PATHMAX], name[PATHMAX], low[256];
        lstar_field *f = NULL;
        lstar_strings_get_cstr(&keys, i, k, sizeof k);
        LSTAR_CHECK(ad_join(path, sizeof path, "layers", k, err));
        LSTAR_CHECK(read_matrix(r, path, &m, err));
        if (m.why[0]) {
            LSTAR_CHECK(dropf(r, err, "%s (%s)", path, m.why));
            continue;
        }
        if (!same_shape2(&m, r->n_obs, r->n_var)) {
            st = shape_error(path, &m, r->n_obs, r->n_var, err);
            goto done;
        }
        LSTAR_CHECK(free_name(r, k, ".layer", name, sizeof name, err));
        LSTAR_CHECK(add_matrix_field(r, name, &m, "cells", "genes", "measure", path, &f, err));
        LSTAR_CHECK(lstar_field_set_state(f, guess_state(k, low, sizeof low), err));
    }
done:
    mx_free(&m);
    lstar_strings_destroy(&keys);
    return st;
}

/* A coordinate axis `base` of k labels base0..base{k-1}; reuses an existing
 * axis of that name and length, else picks "<base><alt>". */
static lstar_status coord_axis(rd *r, const char *base, const char *alt, uint64_t k, int observed, char *out,
                               size_t size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings labels;
    lstar_axis *ax = NULL;
    memset(&labels, 0, sizeof labels);
    snprintf(out, size, "%s", base);
    for (int i = 1; (ax = lstar_dataset_axis(r->ds, out)) != NULL; i++) {
        if (lstar_axis_length(ax) == k) return LSTAR_OK;
        if (i == 1)
            snprintf(out, size, "%s%s", base, alt);
        else
            snprintf(out, size, "%s%s.%d", base, alt, i);
        if (i > 100) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, base, "no free axis name");
    }
    LSTAR_CHECK(lstar_strings_init(&labels, err));
    for (uint64_t i = 0; i < k; i++) {
        char t[PATHMAX + 32];
        int n = snprintf(t, sizeof t, "%s%llu", out, (unsigned long long)i);
        LSTAR_CHECK(lstar_strings_append(&labels, t, (size_t)n, err));
    }
    LSTAR_CHECK(lstar_dataset_add_axis(r->ds, out, &labels, &ax, err));
    LSTAR_CHECK(lstar_axis_set_origin(ax, observed ? "observed" : "derived", err));
    LSTAR_CHECK(lstar_axis_set_role(ax, "coordinate", err));
done:
    lstar_strings_destroy(&labels);
    return st;
}

/* One obsm (is_var 0) / varm (is_var 1) matrix `m` (taken) from element `path` under key `k`. */
static lstar_status add_embedding(rd *r, int is_var, const char *k, const char *path, mx *m, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char name[PATHMAX], ax[PATHMAX], fname[PATHMAX + 16];
    lstar_field *f = NULL;
    uint64_t n = is_var ? r->n_var : r->n_obs;
    if (m->why[0]) {
        st = dropf(r, err, "%s (%s)", path, m->why);
        goto done;
    }
    if (m->rank < 1 || m->shape[0] != n) {
        st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "'%s' has %llu rows, expected %llu (n_%s)", path,
                        (unsigned long long)(m->rank ? m->shape[0] : 0), (unsigned long long)n, is_var ? "vars" : "obs");
        goto done;
    }
    if (m->rank != 2) {
        st = dropf(r, err, "%s (rank-%d array)", path, m->rank);
        goto done;
    }
    const char *base = strncmp(k, "X_", 2) == 0 && k[2] ? k + 2 : k;
    if (is_var && strcmp(k, "PCs") == 0) base = "pca";
    int spatial = !is_var && strcmp(base, "spatial") == 0;
    LSTAR_CHECK(coord_axis(r, base, is_var ? ".varm" : ".obsm", m->shape[1], spatial, ax, sizeof ax, err));
    if (is_var) {
        snprintf(fname, sizeof fname, "%s_loadings", ax);
        LSTAR_CHECK(free_name(r, fname, ".varm", name, sizeof name, err));
    } else {
        LSTAR_CHECK(free_name(r, base, ".obsm", name, sizeof name, err));
    }
    LSTAR_CHECK(add_matrix_field(r, name, m, is_var ? "genes" : "cells", ax, is_var ? "loading" : "embedding", path,
                                 &f, err));
    if (spatial) LSTAR_CHECK(lstar_field_set_subtype(f, "spatial", err));
done:
    mx_free(m);
    return st;
}

/* pre-0.7 obsm/varm: one compound dataset whose fields are (n, k) subarrays. */
static lstar_status add_legacy_embeddings(rd *r, int is_var, const char *slot, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_member *mem = NULL;
    size_t nm = 0;
    mx m;
    memset(&m, 0, sizeof m);
    LSTAR_CHECK(ad_members(r->c, slot, &mem, &nm, err));
    for (size_t i = 0; i < nm; i++) {
        char path[PATHMAX];
        LSTAR_CHECK(ad_join(path, sizeof path, slot, mem[i].name, err));
        if (mem[i].elem != AD_ELEM_NUMERIC || mem[i].sub_rank != 1) {
            LSTAR_CHECK(dropf(r, err, "%s (record field %s)", path,
                              mem[i].elem == AD_ELEM_OTHER ? "of an unsupported type"
                                                           : "that is not an (n, k) matrix"));
            continue;
        }
        LSTAR_CHECK(ad_read_member(r->c, slot, mem[i].name, &m.values, err));
        m.enc = LSTAR_ENC_DENSE;
        m.rank = lstar_array_rank(m.values);
        for (int d = 0; d < m.rank; d++) m.shape[d] = lstar_array_shape(m.values)[d];
        LSTAR_CHECK(add_embedding(r, is_var, mem[i].name, path, &m, err));
    }
done:
    mx_free(&m);
    lstar_free(mem);
    return st;
}

/* obsm (is_var 0) or varm (is_var 1). */
static lstar_status add_embeddings(rd *r, int is_var, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings keys;
    int ex = 0;
    ad_kind sk;
    mx m;
    const char *slot = is_var ? "varm" : "obsm";
    memset(&m, 0, sizeof m);
    memset(&keys, 0, sizeof keys);
    LSTAR_CHECK(ad_kind_at(r->c, slot, &sk, err));
    if (sk == AD_ARRAY) {
        ad_array_info info;
        LSTAR_CHECK(ad_array_info_at(r->c, slot, &info, err));
        if (info.elem != AD_ELEM_STRUCT) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, slot, "'%s' must be a group (a dict) or a legacy record array", slot);
            goto done;
        }
        st = add_legacy_embeddings(r, is_var, slot, err);
        goto done;
    }
    LSTAR_CHECK(list_group(r, slot, &keys, &ex, err));
    for (size_t i = 0; i < keys.n; i++) {
        char k[PATHMAX], path[PATHMAX];
        lstar_strings_get_cstr(&keys, i, k, sizeof k);
        LSTAR_CHECK(ad_join(path, sizeof path, slot, k, err));
        LSTAR_CHECK(read_matrix(r, path, &m, err));
        LSTAR_CHECK(add_embedding(r, is_var, k, path, &m, err));
    }
done:
    mx_free(&m);
    lstar_strings_destroy(&keys);
    return st;
}

/* obsp / varp. */
static lstar_status add_relations(rd *r, int is_var, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings keys;
    int ex = 0;
    mx m;
    const char *slot = is_var ? "varp" : "obsp";
    const char *axis = is_var ? "genes" : "cells";
    uint64_t n = is_var ? r->n_var : r->n_obs;
    memset(&m, 0, sizeof m);
    LSTAR_CHECK(list_group(r, slot, &keys, &ex, err));
    for (size_t i = 0; i < keys.n; i++) {
        char k[PATHMAX], path[PATHMAX], name[PATHMAX], base[PATHMAX + 8], low[256];
        lstar_field *f = NULL;
        lstar_strings_get_cstr(&keys, i, k, sizeof k);
        LSTAR_CHECK(ad_join(path, sizeof path, slot, k, err));
        LSTAR_CHECK(read_matrix(r, path, &m, err));
        if (m.why[0]) {
            LSTAR_CHECK(dropf(r, err, "%s (%s)", path, m.why));
            continue;
        }
        if (!same_shape2(&m, n, n)) {
            st = shape_error(path, &m, n, n, err);
            goto done;
        }
        snprintf(base, sizeof base, is_var ? "%s_varp" : "%s", k);
        LSTAR_CHECK(free_name(r, base, is_var ? ".varp" : ".obsp", name, sizeof name, err));
        LSTAR_CHECK(add_matrix_field(r, name, &m, axis, axis, "relation", path, &f, err));
        lstar_field_set_weighted(f, 1);
        LSTAR_CHECK(lstar_field_set_subtype(f, guess_subtype(k, low, sizeof low), err));
    }
done:
    mx_free(&m);
    lstar_strings_destroy(&keys);
    return st;
}

/* raw/X (or legacy raw.X) → field `raw`. */
static lstar_status add_raw(rd *r, const lstar_strings *genes, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_kind k, kx;
    lstar_strings rg, names;
    mx m;
    lstar_field *f = NULL;
    memset(&rg, 0, sizeof rg);
    memset(&names, 0, sizeof names);
    memset(&m, 0, sizeof m);
    const char *xp = "raw/X", *vp = "raw/var", *mp = "raw/varm";
    LSTAR_CHECK(ad_kind_at(r->c, "raw", &k, err));
    if (k == AD_NONE) {
        LSTAR_CHECK(ad_kind_at(r->c, "raw.X", &kx, err));
        if (kx == AD_NONE) goto done;
        xp = "raw.X";
        vp = "raw.var";
        mp = "raw.varm";
    } else if (k != AD_GROUP) {
        int isnull = 0;
        LSTAR_CHECK(is_null_elem(r, "raw", &isnull, err));
        if (isnull) goto done; /* raw = None */
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "raw", "'raw' must be a group");
        goto done;
    } else {
        LSTAR_CHECK(ad_kind_at(r->c, xp, &kx, err));
        if (kx == AD_NONE) {
            LSTAR_CHECK(ad_list(r->c, "raw", &names, err));
            if (names.n) LSTAR_CHECK(dropf(r, err, "raw (no raw/X)"));
            goto done;
        }
    }
    LSTAR_CHECK(read_index(r, vp, &rg, err));
    LSTAR_CHECK(read_matrix(r, xp, &m, err));
    if (m.why[0]) {
        LSTAR_CHECK(dropf(r, err, "%s (%s)", xp, m.why));
        goto done;
    }
    if (!same_shape2(&m, r->n_obs, rg.n)) {
        st = shape_error(xp, &m, r->n_obs, rg.n, err);
        goto done;
    }
    const char *gax = "genes";
    if (!lstar_strings_equal(&rg, genes)) {
        lstar_axis *ax = NULL;
        gax = "genes_raw";
        LSTAR_CHECK(lstar_dataset_add_axis(r->ds, gax, &rg, &ax, err));
        LSTAR_CHECK(lstar_axis_set_origin(ax, "observed", err));
        LSTAR_CHECK(lstar_axis_set_role(ax, "feature", err));
    }
    LSTAR_CHECK(add_matrix_field(r, "raw", &m, "cells", gax, "measure", "raw/X", &f, err));
    LSTAR_CHECK(lstar_field_set_state(f, "raw", err));
    /* raw/var columns and raw/varm have no slot in the profile: recorded, not lost silently. */
    LSTAR_CHECK(ad_kind_at(r->c, vp, &k, err));
    lstar_strings_destroy(&names);
    if (k == AD_GROUP) {
        int ex = 0;
        LSTAR_CHECK(ad_attr_exists(r->c, vp, "column-order", &ex, err));
        if (ex) LSTAR_CHECK(ad_attr_strings(r->c, vp, "column-order", &names, err));
        for (size_t i = 0; i < names.n; i++) {
            char c[PATHMAX];
            lstar_strings_get_cstr(&names, i, c, sizeof c);
            LSTAR_CHECK(dropf(r, err, "raw/var/%s (raw var column)", c));
        }
    } else if (k == AD_ARRAY) {
        ad_member *mem = NULL;
        size_t nm = 0;
        LSTAR_CHECK(ad_members(r->c, vp, &mem, &nm, err));
        for (size_t i = 1; i < nm && st == LSTAR_OK; i++) st = dropf(r, err, "raw/var/%s (raw var column)", mem[i].name);
        lstar_free(mem);
        LSTAR_CHECK(st);
    }
    lstar_strings_destroy(&names);
    LSTAR_CHECK(ad_kind_at(r->c, mp, &k, err));
    if (k == AD_GROUP) {
        LSTAR_CHECK(ad_list(r->c, mp, &names, err));
        for (size_t i = 0; i < names.n; i++) {
            char c[PATHMAX];
            lstar_strings_get_cstr(&names, i, c, sizeof c);
            LSTAR_CHECK(dropf(r, err, "raw/varm/%s (raw varm)", c));
        }
    } else if (k == AD_ARRAY) {
        LSTAR_CHECK(dropf(r, err, "%s (raw varm)", mp));
    }
done:
    mx_free(&m);
    lstar_strings_destroy(&rg);
    lstar_strings_destroy(&names);
    return st;
}

/* ---- uns ----------------------------------------------------------------------------------------- */

static lstar_status add_leaf(rd *r, lstar_array *a, int utf8, char *id, size_t idsize, lstar_error *err) {
    if (r->nleaves == r->capleaves) {
        size_t nc = r->capleaves ? r->capleaves * 2 : 16;
        leaf *nl = lstar_realloc(r->leaves, nc * sizeof *nl);
        if (!nl) {
            lstar_array_free(a);
            return LSTAR_NOMEM(err, "uns");
        }
        r->leaves = nl;
        r->capleaves = nc;
    }
    leaf *l = &r->leaves[r->nleaves];
    snprintf(l->id, sizeof l->id, "a%zu", r->nleaves);
    l->utf8 = utf8;
    l->arr = a;
    r->nleaves++;
    snprintf(id, idsize, "%s", l->id);
    return LSTAR_OK;
}

/* {"$dropped": type} plus a manifest entry. */
static lstar_status emit_dropped(rd *r, const char *path, const char *type, json_t **node, lstar_error *err) {
    *node = json_pack("{s:s}", "$dropped", type);
    if (!*node) return LSTAR_NOMEM(err, path);
    return dropf(r, err, "%s (%s)", path, type);
}

static lstar_status emit(rd *r, const char *path, json_t **node, lstar_error *err);

static const char *type_for_encoding(const char *et) {
    if (!strcmp(et, "categorical")) return "Categorical";
    if (!strcmp(et, "nullable-integer")) return "IntegerArray";
    if (!strcmp(et, "nullable-boolean")) return "BooleanArray";
    if (!strcmp(et, "nullable-string-array")) return "StringArray";
    if (!strcmp(et, "dataframe")) return "DataFrame";
    if (!strcmp(et, "awkward-array")) return "awkward.Array";
    if (!strcmp(et, "csr_matrix")) return "csr_matrix";
    if (!strcmp(et, "csc_matrix")) return "csc_matrix";
    if (!strcmp(et, "anndata") || !strcmp(et, "raw")) return "AnnData";
    return NULL;
}

/* A leaf array node for the array at `path` (numeric → $array, strings → $strings). */
static lstar_status emit_array_leaf(rd *r, const char *path, lstar_array *a, json_t **node, lstar_error *err) {
    char id[24];
    int utf8 = lstar_array_dtype(a) == LSTAR_DTYPE_STRING;
    json_t *shape = NULL;
    if (utf8) {
        shape = json_array();
        for (int i = 0; shape && i < lstar_array_rank(a); i++)
            if (json_array_append_new(shape, json_integer((json_int_t)lstar_array_shape(a)[i])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        if (!shape) {
            lstar_array_free(a);
            return LSTAR_NOMEM(err, path);
        }
    }
    lstar_status st = add_leaf(r, a, utf8, id, sizeof id, err);
    if (st != LSTAR_OK) {
        json_decref(shape);
        return st;
    }
    *node = utf8 ? json_pack("{s:s,s:o}", "$strings", id, "shape", shape) : json_pack("{s:s}", "$array", id);
    if (!*node) return LSTAR_NOMEM(err, path);
    return LSTAR_OK;
}

static lstar_status emit_record(rd *r, const char *path, uint64_t n, json_t **node, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_member *mem = NULL;
    size_t nm = 0;
    lstar_array *a = NULL;
    json_t *fields = json_object(), *sub = NULL;
    *node = NULL;
    if (!fields) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(ad_members(r->c, path, &mem, &nm, err));
    for (size_t i = 0; i < nm; i++) {
        char mp[PATHMAX + 260];
        snprintf(mp, sizeof mp, "%s/%s", path, mem[i].name);
        if (mem[i].elem == AD_ELEM_OTHER) {
            LSTAR_CHECK(emit_dropped(r, mp, "record field", &sub, err));
        } else {
            LSTAR_CHECK(ad_read_member(r->c, path, mem[i].name, &a, err));
            st = emit_array_leaf(r, mp, a, &sub, err);
            a = NULL;
            LSTAR_CHECK(st);
        }
        if (json_object_set_new(fields, mem[i].name, sub) != 0) {
            sub = NULL;
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        sub = NULL;
    }
    *node = json_pack("{s:{s:O,s:I}}", "$record", "fields", fields, "length", (json_int_t)n);
    if (!*node) st = LSTAR_NOMEM(err, path);
done:
    json_decref(sub);
    json_decref(fields);
    lstar_array_free(a);
    lstar_free(mem);
    return st;
}

static lstar_status emit_scalar(rd *r, const char *path, const ad_array_info *info, json_t **node, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_array *a = NULL;
    lstar_strings s;
    memset(&s, 0, sizeof s);
    *node = NULL;
    if (info->elem == AD_ELEM_STRING) {
        LSTAR_CHECK(ad_read_strings(r->c, path, &s, err));
        size_t len = 0;
        const char *p = s.n ? lstar_strings_get(&s, 0, &len) : "";
        *node = json_stringn(p, len);
        if (!*node) st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "string is not valid UTF-8");
        goto done;
    }
    LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
    lstar_dtype dt = lstar_array_dtype(a);
    if (dt == LSTAR_DTYPE_BOOL || lstar_dtype_is_integer(dt)) {
        int64_t v = 0;
        uint8_t raw[16];
        LSTAR_CHECK(lstar_array_read(a, NULL, NULL, raw, err)); /* rank 0 */
        v = (int64_t)lstar_dtype_get_i64(dt, raw, 0);
        *node = dt == LSTAR_DTYPE_BOOL ? json_boolean(v) : json_integer((json_int_t)v);
    } else if (dt == LSTAR_DTYPE_FLOAT32 || dt == LSTAR_DTYPE_FLOAT64) {
        uint8_t raw[16];
        LSTAR_CHECK(lstar_array_read(a, NULL, NULL, raw, err));
        double v = lstar_dtype_get_f64(dt, raw, 0);
        if (isfinite(v)) {
            *node = json_real(v);
        } else {
            st = emit_array_leaf(r, path, a, node, err);
            a = NULL;
            goto done;
        }
    } else {
        st = emit_array_leaf(r, path, a, node, err); /* complex, float16: kept as a 0-d leaf */
        a = NULL;
        goto done;
    }
    if (!*node) st = LSTAR_NOMEM(err, path);
done:
    lstar_array_free(a);
    lstar_strings_destroy(&s);
    return st;
}

/* A `bytes` scalar → {"$bytes": "<the bytes as latin-1 text>"} (upstream's passthrough node). */
static lstar_status emit_bytes(rd *r, const char *path, json_t **node, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings s;
    char *t = NULL;
    *node = NULL;
    memset(&s, 0, sizeof s);
    LSTAR_CHECK(ad_read_strings(r->c, path, &s, err));
    size_t len = 0, k = 0;
    const uint8_t *p = s.n ? (const uint8_t *)lstar_strings_get(&s, 0, &len) : (const uint8_t *)"";
    t = lstar_malloc(2 * len + 1);
    if (!t) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x80) {
            t[k++] = (char)p[i];
        } else {
            t[k++] = (char)(0xc0 | (p[i] >> 6));
            t[k++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    *node = json_pack("{s:s#}", "$bytes", t, (int)k);
    if (!*node) st = LSTAR_NOMEM(err, path);
done:
    lstar_strings_destroy(&s);
    lstar_free(t);
    return st;
}

static lstar_status emit_group(rd *r, const char *path, json_t **node, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings keys;
    json_t *obj = json_object(), *sub = NULL;
    *node = NULL;
    memset(&keys, 0, sizeof keys);
    if (!obj) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(ad_list(r->c, path, &keys, err));
    for (size_t i = 0; i < keys.n; i++) {
        char k[PATHMAX], p[PATHMAX];
        lstar_strings_get_cstr(&keys, i, k, sizeof k);
        LSTAR_CHECK(ad_join(p, sizeof p, path, k, err));
        if (strcmp(path, "uns") == 0 && strcmp(k, "lstar") == 0) continue; /* "lstar/…" keys */
        if (consumed(r, p)) continue;
        LSTAR_CHECK(emit(r, p, &sub, err));
        if (json_object_set_new(obj, k, sub) != 0) {
            sub = NULL;
            st = LSTAR_NOMEM(err, p);
            goto done;
        }
        sub = NULL;
    }
    *node = json_pack("{s:O}", "$obj", obj);
    if (!*node) st = LSTAR_NOMEM(err, path);
done:
    json_decref(obj);
    lstar_strings_destroy(&keys);
    return st;
}

static lstar_status emit(rd *r, const char *path, json_t **node, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_kind k;
    char *et = NULL, *hf = NULL;
    lstar_array *a = NULL;
    *node = NULL;
    LSTAR_CHECK(ad_kind_at(r->c, path, &k, err));
    LSTAR_CHECK(enc_type(r, path, &et, err));
    if (et && !known_encoding(et)) {
        st = unknown_encoding(path, et, err);
        goto done;
    }
    if (k == AD_GROUP) {
        if (et && strcmp(et, "dict") != 0) {
            st = emit_dropped(r, path, type_for_encoding(et) ? type_for_encoding(et) : et, node, err);
            goto done;
        }
        LSTAR_CHECK(ad_attr_string_opt(r->c, path, "h5sparse_format", &hf, err));
        if (hf) {
            st = emit_dropped(r, path, hf[2] == 'c' ? "csc_matrix" : "csr_matrix", node, err);
            goto done;
        }
        st = emit_group(r, path, node, err);
        goto done;
    }
    ad_array_info info;
    LSTAR_CHECK(ad_array_info_at(r->c, path, &info, err));
    if (info.elem == AD_ELEM_NULL || (et && strcmp(et, "null") == 0)) {
        *node = json_null();
        goto done;
    }
    if (info.elem == AD_ELEM_STRUCT) {
        st = emit_record(r, path, info.rank >= 1 ? info.shape[0] : 1, node, err);
        goto done;
    }
    if (info.elem == AD_ELEM_OTHER) {
        st = emit_dropped(r, path, "unsupported dtype", node, err);
        goto done;
    }
    if (info.rank == 0 && et && strcmp(et, "bytes") == 0 && info.elem == AD_ELEM_STRING) {
        st = emit_bytes(r, path, node, err);
        goto done;
    }
    if (info.rank == 0) {
        st = emit_scalar(r, path, &info, node, err);
        goto done;
    }
    if (info.elem == AD_ELEM_STRING) {
        lstar_strings s;
        LSTAR_CHECK(ad_read_strings(r->c, path, &s, err));
        LSTAR_CHECK(strings_array(&s, &a, err));
        st = emit_array_leaf(r, path, a, node, err);
        a = NULL;
        if (st == LSTAR_OK && info.rank > 1) { /* the memory array is flat: record the real shape */
            json_t *shape = json_array();
            for (int i = 0; shape && i < info.rank; i++) json_array_append_new(shape, json_integer((json_int_t)info.shape[i]));
            if (!shape || json_object_set_new(*node, "shape", shape) != 0) st = LSTAR_NOMEM(err, path);
        }
        goto done;
    }
    LSTAR_CHECK(ad_open_array(r->c, path, &a, err));
    st = emit_array_leaf(r, path, a, node, err);
    a = NULL;
done:
    if (st != LSTAR_OK) {
        json_decref(*node);
        *node = NULL;
    }
    lstar_array_free(a);
    lstar_free(et);
    lstar_free(hf);
    return st;
}

/* 1 if `path` is a sparse matrix group (modern or h5sparse). */
static lstar_status is_sparse(rd *r, const char *path, int *yes, lstar_error *err) {
    ad_kind k;
    char *et = NULL, *hf = NULL;
    *yes = 0;
    lstar_status st = ad_kind_at(r->c, path, &k, err);
    if (st != LSTAR_OK || k != AD_GROUP) return st;
    st = enc_type(r, path, &et, err);
    if (st == LSTAR_OK && !et) st = ad_attr_string_opt(r->c, path, "h5sparse_format", &hf, err);
    *yes = (et && (!strcmp(et, "csr_matrix") || !strcmp(et, "csc_matrix"))) || hf;
    lstar_free(et);
    lstar_free(hf);
    return st;
}

/* ---- rank_genes_groups (one-vs-rest DE) ---------------------------------------------------------- */

/* A string-valued element read as a C string (0-d or 1-element string array); *out NULL if absent. */
static lstar_status read_str_elem(rd *r, const char *path, char **out, lstar_error *err) {
    ad_kind k;
    ad_array_info info;
    lstar_strings s;
    *out = NULL;
    lstar_status st = ad_kind_at(r->c, path, &k, err);
    if (st != LSTAR_OK || k != AD_ARRAY) return st;
    st = ad_array_info_at(r->c, path, &info, err);
    if (st != LSTAR_OK || info.elem != AD_ELEM_STRING) return st;
    st = ad_read_strings(r->c, path, &s, err);
    if (st != LSTAR_OK) return st;
    if (s.n == 1) {
        size_t len;
        const char *p = lstar_strings_get(&s, 0, &len);
        *out = lstar_malloc(len + 1);
        if (*out) {
            memcpy(*out, p, len);
            (*out)[len] = 0;
        } else {
            st = LSTAR_NOMEM(err, path);
        }
    }
    lstar_strings_destroy(&s);
    return st;
}

/* A bool/number element (0-d or 1 element) as an int; *out = dflt if absent. */
static lstar_status read_bool_elem(rd *r, const char *path, int dflt, int *out, lstar_error *err) {
    ad_kind k;
    ad_array_info info;
    lstar_array *a = NULL;
    *out = dflt;
    lstar_status st = ad_kind_at(r->c, path, &k, err);
    if (st != LSTAR_OK || k != AD_ARRAY) return st;
    st = ad_array_info_at(r->c, path, &info, err);
    if (st != LSTAR_OK || (info.elem != AD_ELEM_BOOL && info.elem != AD_ELEM_NUMERIC)) return st;
    st = ad_open_array(r->c, path, &a, err);
    if (st == LSTAR_OK && lstar_array_size(a) == 1 && lstar_dtype_is_numeric(lstar_array_dtype(a)) &&
        lstar_array_dtype(a) != LSTAR_DTYPE_FLOAT16) {
        uint64_t zero[LSTAR_MAX_RANK] = {0}, one[LSTAR_MAX_RANK];
        uint8_t raw[16];
        for (int i = 0; i < LSTAR_MAX_RANK; i++) one[i] = 1;
        st = lstar_array_read(a, zero, one, raw, err);
        if (st == LSTAR_OK) *out = lstar_dtype_get_f64(lstar_array_dtype(a), raw, 0) != 0;
    }
    lstar_array_free(a);
    return st;
}

/* label → index (open addressing, FNV-1a). */
typedef struct lmap {
    const lstar_strings *s;
    int64_t *slot; /* index + 1, 0 = empty */
    size_t cap;
} lmap;

static uint64_t fnv(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static lstar_status lmap_init(lmap *m, const lstar_strings *s, lstar_error *err) {
    m->s = s;
    m->cap = 16;
    while (m->cap < 2 * s->n + 2) m->cap *= 2;
    m->slot = lstar_calloc(m->cap, sizeof *m->slot);
    if (!m->slot) return LSTAR_NOMEM(err, "uns/rank_genes_groups");
    for (size_t i = 0; i < s->n; i++) {
        size_t len;
        const char *p = lstar_strings_get(s, i, &len);
        size_t h = (size_t)fnv(p, len) & (m->cap - 1);
        while (m->slot[h]) {
            size_t l2;
            const char *q = lstar_strings_get(s, (size_t)m->slot[h] - 1, &l2);
            if (l2 == len && memcmp(p, q, len) == 0) break; /* duplicate label: first wins */
            h = (h + 1) & (m->cap - 1);
        }
        if (!m->slot[h]) m->slot[h] = (int64_t)i + 1;
    }
    return LSTAR_OK;
}

static int64_t lmap_get(const lmap *m, const char *p, size_t len) {
    size_t h = (size_t)fnv(p, len) & (m->cap - 1);
    while (m->slot[h]) {
        size_t l2;
        const char *q = lstar_strings_get(m->s, (size_t)m->slot[h] - 1, &l2);
        if (l2 == len && memcmp(p, q, len) == 0) return m->slot[h] - 1;
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

/* uns['rank_genes_groups'] computed against "rest" → de.<groupby>.{score,lfc,pval,padj}
 * (K×G float64 over [<groupby>, genes|genes_raw], NaN where a group did not rank a gene). */
static lstar_status rank_genes_groups(rd *r, lstar_error *err) {
    static const char *const keys[4] = {"scores", "logfoldchanges", "pvals", "pvals_adj"};
    static const char *const stats[4] = {"score", "lfc", "pval", "padj"};
    const char *base = "uns/rank_genes_groups";
    lstar_status st = LSTAR_OK;
    char *ref = NULL, *groupby = NULL, *method = NULL;
    ad_member *gm = NULL, *vm = NULL;
    size_t ngm = 0, nvm = 0;
    lstar_array *names = NULL, *vals = NULL, *out = NULL;
    double *mat = NULL, *col = NULL;
    int64_t *row_of = NULL;
    lmap gmap;
    lstar_strings glabels;
    int made = 0, use_raw = 0;
    ad_kind k;
    memset(&gmap, 0, sizeof gmap);
    memset(&glabels, 0, sizeof glabels);
    LSTAR_CHECK(ad_kind_at(r->c, base, &k, err));
    if (k != AD_GROUP) goto done;
    LSTAR_CHECK(ad_kind_at(r->c, "uns/rank_genes_groups/names", &k, err));
    if (k != AD_ARRAY) goto done;
    ad_array_info ni;
    LSTAR_CHECK(ad_array_info_at(r->c, "uns/rank_genes_groups/names", &ni, err));
    if (ni.elem != AD_ELEM_STRUCT || ni.rank != 1) goto done;
    LSTAR_CHECK(read_str_elem(r, "uns/rank_genes_groups/params/reference", &ref, err));
    if (ref && strcmp(ref, "rest") != 0) goto done; /* pairwise: stays in the passthrough */
    LSTAR_CHECK(read_str_elem(r, "uns/rank_genes_groups/params/groupby", &groupby, err));
    if (!groupby || !*groupby) goto done;
    LSTAR_CHECK(read_str_elem(r, "uns/rank_genes_groups/params/method", &method, err));
    LSTAR_CHECK(read_bool_elem(r, "uns/rank_genes_groups/params/use_raw", 0, &use_raw, err));
    const char *gaxis = use_raw && lstar_dataset_axis(r->ds, "genes_raw") ? "genes_raw" : "genes";
    lstar_axis *gax = lstar_dataset_axis(r->ds, gaxis);
    LSTAR_CHECK(lstar_strings_copy(&glabels, lstar_axis_labels(gax), err));
    LSTAR_CHECK(lmap_init(&gmap, &glabels, err));
    LSTAR_CHECK(ad_members(r->c, "uns/rank_genes_groups/names", &gm, &ngm, err));
    /* the factor axis: the induced clustering axis, or one made from the DE groups */
    lstar_axis *fax = lstar_dataset_axis(r->ds, groupby);
    if (fax && (!lstar_axis_role(fax) || strcmp(lstar_axis_role(fax), "factor") != 0)) goto done;
    if (!fax) {
        lstar_strings gl;
        LSTAR_CHECK(lstar_strings_init(&gl, err));
        for (size_t i = 0; i < ngm && st == LSTAR_OK; i++) st = lstar_strings_append(&gl, gm[i].name, strlen(gm[i].name), err);
        if (st == LSTAR_OK) st = lstar_dataset_add_axis(r->ds, groupby, &gl, &fax, err);
        else lstar_strings_destroy(&gl);
        LSTAR_CHECK(st);
        LSTAR_CHECK(lstar_axis_set_origin(fax, "derived", err));
        LSTAR_CHECK(lstar_axis_set_role(fax, "factor", err));
    }
    uint64_t K = lstar_axis_length(fax), G = glabels.n, L = ni.shape[0];
    if (K && G > (uint64_t)LSTAR_MAX_CHUNK_BYTES / 8 / K) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, base, "DE matrix of %llu x %llu is too large", (unsigned long long)K,
                        (unsigned long long)G);
        goto done;
    }
    row_of = lstar_calloc(ngm ? ngm : 1, sizeof *row_of);
    col = lstar_malloc(L ? (size_t)L * sizeof *col : 1);
    if (!row_of || !col) {
        st = LSTAR_NOMEM(err, base);
        goto done;
    }
    {
        lmap fmap;
        LSTAR_CHECK(lmap_init(&fmap, lstar_axis_labels(fax), err));
        for (size_t g = 0; g < ngm; g++) row_of[g] = lmap_get(&fmap, gm[g].name, strlen(gm[g].name));
        lstar_free(fmap.slot);
    }
    for (int s = 0; s < 4; s++) {
        char p[PATHMAX], fname[PATHMAX];
        LSTAR_CHECK(ad_join(p, sizeof p, base, keys[s], err));
        LSTAR_CHECK(ad_kind_at(r->c, p, &k, err));
        if (k != AD_ARRAY) continue;
        ad_array_info vi;
        LSTAR_CHECK(ad_array_info_at(r->c, p, &vi, err));
        if (vi.elem != AD_ELEM_STRUCT || vi.rank != 1 || vi.shape[0] != L) continue;
        lstar_free(vm);
        vm = NULL;
        LSTAR_CHECK(ad_members(r->c, p, &vm, &nvm, err));
        mat = lstar_malloc(K * G > 0 ? (size_t)(K * G) * sizeof *mat : 1);
        if (!mat) {
            st = LSTAR_NOMEM(err, base);
            goto done;
        }
        for (uint64_t i = 0; i < K * G; i++) mat[i] = NAN;
        for (size_t g = 0; g < ngm; g++) {
            if (row_of[g] < 0) continue;
            size_t v;
            for (v = 0; v < nvm && strcmp(vm[v].name, gm[g].name) != 0; v++) {}
            if (v == nvm || vm[v].elem != AD_ELEM_NUMERIC || vm[v].sub_rank) continue;
            LSTAR_CHECK(ad_read_member(r->c, "uns/rank_genes_groups/names", gm[g].name, &names, err));
            LSTAR_CHECK(ad_read_member(r->c, p, vm[v].name, &vals, err));
            const lstar_strings *ns = lstar_array_memory_strings(names);
            if (!ns || ns->n != L || lstar_array_rank(vals) != 1) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "rank_genes_groups field '%s' is malformed", gm[g].name);
                goto done;
            }
            LSTAR_CHECK(lstar_array_read_1d_as(vals, 0, L, LSTAR_DTYPE_FLOAT64, col, err));
            for (uint64_t i = 0; i < L; i++) {
                size_t len;
                const char *nm = lstar_strings_get(ns, (size_t)i, &len);
                int64_t gi = lmap_get(&gmap, nm, len);
                if (gi >= 0) mat[(uint64_t)row_of[g] * G + (uint64_t)gi] = col[i];
            }
            lstar_array_free(names);
            lstar_array_free(vals);
            names = vals = NULL;
        }
        uint64_t shape[2] = {K, G};
        st = lstar_array_new_owned(LSTAR_DTYPE_FLOAT64, 2, shape, mat, &out, err);
        mat = NULL; /* owned (or freed) by the array */
        LSTAR_CHECK(st);
        snprintf(fname, sizeof fname, "de.%s.%s", groupby, stats[s]);
        const char *span[2] = {groupby, gaxis};
        lstar_field *f = NULL;
        char name[PATHMAX];
        LSTAR_CHECK(free_name(r, fname, ".uns", name, sizeof name, err));
        LSTAR_CHECK(lstar_dataset_add_field(r->ds, name, LSTAR_ENC_DENSE, 2, span, &f, err));
        st = lstar_field_set_array(f, "values", out, err);
        out = NULL;
        LSTAR_CHECK(st);
        LSTAR_CHECK(lstar_field_set_role(f, "measure", err));
        LSTAR_CHECK(lstar_field_set_subtype(f, "de", err));
        json_t *pv = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:b}", "anndata", base, "de_factor", groupby, "de_stat", stats[s],
                               "method", method, "reference", "rest", "use_raw", use_raw);
        char *t = pv ? lstar_json_dump(pv, 0) : NULL;
        json_decref(pv);
        st = t ? lstar_field_set_provenance(f, t, err) : LSTAR_NOMEM(err, base);
        lstar_free(t);
        LSTAR_CHECK(st);
        made = 1;
    }
    if (made) LSTAR_CHECK(consume(r, base, err));
done:
    lstar_free(ref);
    lstar_free(groupby);
    lstar_free(method);
    lstar_free(gm);
    lstar_free(vm);
    lstar_array_free(names);
    lstar_array_free(vals);
    lstar_array_free(out);
    lstar_free(mat);
    lstar_free(col);
    lstar_free(row_of);
    lstar_free(gmap.slot);
    lstar_strings_destroy(&glabels);
    return st;
}

/* Promotions out of uns (before the passthrough is emitted). */
static lstar_status uns_promotions(rd *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings keys, s;
    int ex = 0;
    mx m;
    memset(&s, 0, sizeof s);
    memset(&m, 0, sizeof m);
    memset(&keys, 0, sizeof keys);
    LSTAR_CHECK(rank_genes_groups(r, err));
    LSTAR_CHECK(list_group(r, "uns", &keys, &ex, err));
    for (size_t i = 0; i < keys.n; i++) {
        char k[PATHMAX], p[PATHMAX], name[PATHMAX];
        lstar_field *f = NULL;
        lstar_strings_get_cstr(&keys, i, k, sizeof k);
        LSTAR_CHECK(ad_join(p, sizeof p, "uns", k, err));
        if (consumed(r, p)) continue;
        size_t kl = strlen(k);
        /* <f>_colors → label over factor axis <f> */
        if (kl > 7 && strcmp(k + kl - 7, "_colors") == 0) {
            char base[PATHMAX];
            snprintf(base, sizeof base, "%.*s", (int)(kl - 7), k);
            lstar_axis *ax = lstar_dataset_axis(r->ds, base);
            ad_kind kk;
            LSTAR_CHECK(ad_kind_at(r->c, p, &kk, err));
            if (!ax || !lstar_axis_role(ax) || strcmp(lstar_axis_role(ax), "factor") != 0 || kk != AD_ARRAY) continue;
            ad_array_info info;
            LSTAR_CHECK(ad_array_info_at(r->c, p, &info, err));
            if (info.elem != AD_ELEM_STRING || info.rank != 1 || info.shape[0] != lstar_axis_length(ax)) continue;
            lstar_array *a = NULL;
            const char *span = base;
            LSTAR_CHECK(ad_read_strings(r->c, p, &s, err));
            LSTAR_CHECK(strings_array(&s, &a, err));
            LSTAR_CHECK(free_name(r, k, ".uns", name, sizeof name, err));
            st = lstar_dataset_add_field(r->ds, name, LSTAR_ENC_UTF8, 1, &span, &f, err);
            if (st == LSTAR_OK) st = lstar_field_set_array(f, "values", a, err);
            else lstar_array_free(a);
            LSTAR_CHECK(st);
            LSTAR_CHECK(lstar_field_set_role(f, "label", err));
            LSTAR_CHECK(lstar_field_set_subtype(f, "color", err));
            LSTAR_CHECK(set_prov(f, p, err));
            LSTAR_CHECK(consume(r, p, err));
            continue;
        }
        /* square sparse matrices → relations */
        int sp = 0;
        LSTAR_CHECK(is_sparse(r, p, &sp, err));
        if (sp) {
            LSTAR_CHECK(read_matrix(r, p, &m, err));
            const char *ax = same_shape2(&m, r->n_obs, r->n_obs) ? "cells"
                             : same_shape2(&m, r->n_var, r->n_var) ? "genes" : NULL;
            if (!ax) {
                mx_free(&m);
                continue;
            }
            LSTAR_CHECK(free_name(r, k, ".uns", name, sizeof name, err));
            LSTAR_CHECK(add_matrix_field(r, name, &m, ax, ax, "relation", p, &f, err));
            lstar_field_set_directed(f, 1);
            lstar_field_set_weighted(f, 1);
            LSTAR_CHECK(lstar_field_set_subtype(f, "uns_graph", err));
            LSTAR_CHECK(consume(r, p, err));
        }
    }
    /* pca variance / variance_ratio → measures over [pca] */
    lstar_axis *pca = lstar_dataset_axis(r->ds, "pca");
    ad_kind pk;
    LSTAR_CHECK(ad_kind_at(r->c, "uns/pca", &pk, err));
    if (pca && pk == AD_GROUP) {
        static const char *const src[2] = {"variance", "variance_ratio"};
        static const char *const fld[2] = {"pca_variance", "pca_variance_ratio"};
        int left = 0;
        lstar_strings_destroy(&keys);
        LSTAR_CHECK(ad_list(r->c, "uns/pca", &keys, err));
        for (size_t i = 0; i < keys.n; i++) {
            char k[PATHMAX], p[PATHMAX], name[PATHMAX];
            int which = -1;
            lstar_strings_get_cstr(&keys, i, k, sizeof k);
            for (int j = 0; j < 2; j++)
                if (!strcmp(k, src[j])) which = j;
            LSTAR_CHECK(ad_join(p, sizeof p, "uns/pca", k, err));
            ad_array_info info;
            ad_kind kk;
            LSTAR_CHECK(ad_kind_at(r->c, p, &kk, err));
            if (which < 0 || kk != AD_ARRAY) {
                left++;
                continue;
            }
            LSTAR_CHECK(ad_array_info_at(r->c, p, &info, err));
            if (info.elem != AD_ELEM_NUMERIC || info.rank != 1 || info.shape[0] != lstar_axis_length(pca)) {
                left++;
                continue;
            }
            LSTAR_CHECK(read_matrix(r, p, &m, err));
            LSTAR_CHECK(free_name(r, fld[which], ".uns", name, sizeof name, err));
            lstar_field *f = NULL;
            LSTAR_CHECK(add_matrix_field(r, name, &m, "pca", NULL, "measure", p, &f, err));
            LSTAR_CHECK(lstar_field_set_subtype(f, "pca_var", err));
            LSTAR_CHECK(consume(r, p, err));
        }
        if (!left) LSTAR_CHECK(consume(r, "uns/pca", err));
    }
done:
    mx_free(&m);
    lstar_strings_destroy(&s);
    lstar_strings_destroy(&keys);
    return st;
}

/* Pre-0.8 files kept the neighbor graphs in uns['neighbors']; anndata moves them to obsp on read. */
static lstar_status legacy_neighbors(rd *r, lstar_error *err) {
    static const char *const keys[2] = {"connectivities", "distances"};
    lstar_status st = LSTAR_OK;
    mx m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < 2; i++) {
        char p[PATHMAX], op[PATHMAX], low[64];
        ad_kind k, ko;
        snprintf(p, sizeof p, "uns/neighbors/%s", keys[i]);
        snprintf(op, sizeof op, "obsp/%s", keys[i]);
        LSTAR_CHECK(ad_kind_at(r->c, p, &k, err));
        LSTAR_CHECK(ad_kind_at(r->c, op, &ko, err));
        if (k == AD_NONE || ko != AD_NONE || lstar_dataset_field(r->ds, keys[i])) continue;
        LSTAR_CHECK(read_matrix(r, p, &m, err));
        if (m.why[0] || !same_shape2(&m, r->n_obs, r->n_obs)) {
            mx_free(&m);
            continue;
        }
        lstar_field *f = NULL;
        LSTAR_CHECK(add_matrix_field(r, keys[i], &m, "cells", "cells", "relation", op, &f, err));
        lstar_field_set_weighted(f, 1);
        LSTAR_CHECK(lstar_field_set_subtype(f, guess_subtype(keys[i], low, sizeof low), err));
        LSTAR_CHECK(consume(r, p, err));
    }
done:
    mx_free(&m);
    return st;
}

static lstar_status add_uns(rd *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *tree = NULL;
    char *text = NULL;
    lstar_passthrough *pt = NULL;
    ad_kind k;
    LSTAR_CHECK(ad_kind_at(r->c, "uns", &k, err));
    if (k == AD_NONE) goto done;
    if (k != AD_GROUP) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "uns", "'uns' must be a group (a dict)");
        goto done;
    }
    LSTAR_CHECK(legacy_neighbors(r, err));
    LSTAR_CHECK(uns_promotions(r, err));
    LSTAR_CHECK(emit_group(r, "uns", &tree, err));
    if (json_object_size(json_object_get(tree, "$obj")) == 0) goto done;
    text = lstar_json_dump(tree, 0);
    if (!text) {
        st = LSTAR_NOMEM(err, "uns");
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_add_passthrough(r->ds, "anndata.uns", text, &pt, err));
    for (size_t i = 0; i < r->nleaves; i++) {
        lstar_array *a = r->leaves[i].arr;
        r->leaves[i].arr = NULL;
        LSTAR_CHECK(lstar_passthrough_add_leaf(pt, r->leaves[i].id, r->leaves[i].utf8 ? "utf8" : "dense", a, err));
    }
done:
    json_decref(tree);
    lstar_free(text);
    return st;
}

/* ---- top level ----------------------------------------------------------------------------------- */

/* `labels` are moved into the axis (left zeroed) when `move`, else copied: the cell labels are not needed
 * afterwards, and one copy of them is what grows with the number of cells. */
static lstar_status add_obs_var_axis(rd *r, const char *df, const char *name, const char *role, lstar_strings *labels,
                                     int move, lstar_error *err) {
    lstar_axis *ax = NULL;
    lstar_strings copy;
    lstar_status st = LSTAR_OK;
    if (move) {
        copy = *labels;
        memset(labels, 0, sizeof *labels);
    } else if ((st = lstar_strings_copy(&copy, labels, err)) != LSTAR_OK) {
        return st;
    }
    st = lstar_dataset_add_axis(r->ds, name, &copy, &ax, err);
    if (st == LSTAR_OK) st = lstar_axis_set_origin(ax, "observed", err);
    if (st == LSTAR_OK) st = lstar_axis_set_role(ax, role, err);
    if (st == LSTAR_OK) {
        json_t *o = json_pack("{s:s}", "anndata", df);
        char *t = o ? lstar_json_dump(o, 0) : NULL;
        json_decref(o);
        st = t ? lstar_axis_set_provenance(ax, t, err) : LSTAR_NOMEM(err, df);
        lstar_free(t);
    }
    return st;
}

static lstar_status read_root(rd *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *et = NULL, *ev = NULL, *state = NULL;
    lstar_strings cells, genes;
    ad_kind k;
    mx m;
    char prof[96];
    memset(&cells, 0, sizeof cells);
    memset(&genes, 0, sizeof genes);
    memset(&m, 0, sizeof m);
    LSTAR_CHECK(enc_type(r, "", &et, err));
    if (et && strcmp(et, "anndata") != 0) {
        st = known_encoding(et) ? LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "/", "root encoding-type is '%s', not 'anndata'", et)
                                : unknown_encoding("/", et, err);
        goto done;
    }
    LSTAR_CHECK(ad_attr_string_opt(r->c, "", "encoding-version", &ev, err));
    LSTAR_CHECK(lstar_dataset_add_profile(r->ds, "anndata@0.1", err));
    snprintf(prof, sizeof prof, "anndata@%s", ev ? ev : "unknown");
    LSTAR_CHECK(lstar_dataset_add_profile(r->ds, prof, err));

    LSTAR_CHECK(read_index(r, "obs", &cells, err));
    LSTAR_CHECK(read_index(r, "var", &genes, err));
    r->n_obs = cells.n;
    r->n_var = genes.n;
    LSTAR_CHECK(add_obs_var_axis(r, "obs", "cells", "observation", &cells, 1, err));
    LSTAR_CHECK(add_obs_var_axis(r, "var", "genes", "feature", &genes, 0, err));

    /* X */
    LSTAR_CHECK(ad_kind_at(r->c, "X", &k, err));
    int xnull = 0;
    LSTAR_CHECK(is_null_elem(r, "X", &xnull, err));
    if (k != AD_NONE && !xnull) {
        LSTAR_CHECK(read_matrix(r, "X", &m, err));
        if (m.why[0]) {
            LSTAR_CHECK(dropf(r, err, "X (%s)", m.why));
        } else {
            lstar_field *f = NULL;
            if (!same_shape2(&m, r->n_obs, r->n_var)) {
                st = shape_error("X", &m, r->n_obs, r->n_var, err);
                goto done;
            }
            LSTAR_CHECK(add_matrix_field(r, "X", &m, "cells", "genes", "measure", "X", &f, err));
            ad_kind ks;
            LSTAR_CHECK(ad_kind_at(r->c, "uns/lstar/state", &ks, err));
            if (ks == AD_ARRAY) {
                lstar_strings s;
                LSTAR_CHECK(ad_read_strings(r->c, "uns/lstar/state", &s, err));
                if (s.n == 1) {
                    size_t len;
                    const char *p = lstar_strings_get(&s, 0, &len);
                    state = lstar_malloc(len + 1);
                    if (state) {
                        memcpy(state, p, len);
                        state[len] = 0;
                    }
                }
                lstar_strings_destroy(&s);
                if (s.n == 1 && !state) {
                    st = LSTAR_NOMEM(err, "uns/lstar/state");
                    goto done;
                }
                LSTAR_CHECK(lstar_field_set_state(f, state, err));
            }
        }
    }
    LSTAR_CHECK(add_raw(r, &genes, err));
    LSTAR_CHECK(add_layers(r, err));
    LSTAR_CHECK(add_frame(r, "obs", "cells", ".cells", r->n_obs, "uns", err));
    LSTAR_CHECK(add_frame(r, "var", "genes", ".genes", r->n_var, "uns", err));
    LSTAR_CHECK(add_embeddings(r, 0, err));
    LSTAR_CHECK(add_embeddings(r, 1, err));
    LSTAR_CHECK(add_relations(r, 0, err));
    LSTAR_CHECK(add_relations(r, 1, err));
    LSTAR_CHECK(add_uns(r, err));
done:
    mx_free(&m);
    lstar_strings_destroy(&cells);
    lstar_strings_destroy(&genes);
    lstar_free(et);
    lstar_free(ev);
    lstar_free(state);
    return st;
}

void lstar_anndata_read_options_init(lstar_anndata_read_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->induce_guard = 1;
}

lstar_status lstar_anndata_detect(const char *path, lstar_anndata_format *out, lstar_error *err) {
    ad_container *c = NULL;
    if (out) *out = LSTAR_ANNDATA_UNKNOWN;
    lstar_status st = ad_container_open(path, &c, out, err);
    ad_container_close(c);
    return st;
}

/* MuData: pick the modality or refuse, naming the modalities. */
static lstar_status select_modality(ad_container *c, const char *path, const char *modality, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings mods;
    char list[512] = "", p[PATHMAX];
    ad_kind k;
    memset(&mods, 0, sizeof mods);
    if (modality) {
        LSTAR_CHECK(ad_join(p, sizeof p, "mod", modality, err));
        LSTAR_CHECK(ad_kind_at(c, p, &k, err));
        if (k == AD_GROUP) return ad_container_set_prefix(c, p, err);
    }
    LSTAR_CHECK(ad_list(c, "mod", &mods, err));
    for (size_t i = 0; i < mods.n; i++) {
        char m[256];
        lstar_strings_get_cstr(&mods, i, m, sizeof m);
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", m);
    }
    if (modality)
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "MuData file has no modality '%s' (modalities: %s)", modality, list);
    else
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                        "MuData file, not an AnnData: choose a modality (--modality; one of: %s)", list);
done:
    lstar_strings_destroy(&mods);
    return st;
}

lstar_status lstar_anndata_read(const char *path, lstar_anndata_read_options *o, lstar_dataset **out,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_anndata_read_options def;
    lstar_anndata_format fmt = LSTAR_ANNDATA_UNKNOWN;
    ad_container *c = NULL;
    rd r;
    memset(&r, 0, sizeof r);
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_anndata_read: NULL argument");
    if (!o) {
        lstar_anndata_read_options_init(&def);
        o = &def;
    }
    r.guard = o->induce_guard;
    LSTAR_CHECK(ad_container_open(path, &c, &fmt, err));
    o->format = fmt;
    if (fmt == LSTAR_ANNDATA_H5MU || fmt == LSTAR_ANNDATA_MUDATA_ZARR)
        LSTAR_CHECK(select_modality(c, path, o->modality, err));
    LSTAR_CHECK(lstar_strings_init(&r.consumed, err));
    LSTAR_CHECK(lstar_dataset_new(&r.ds, err));
    /* The dataset keeps the container (file / store) open for its lazy arrays. */
    LSTAR_CHECK(lstar_dataset_attach(r.ds, c, ad_container_release, err));
    r.c = c; /* borrowed from here */
    c = NULL;
    LSTAR_CHECK(read_root(&r, err));
    *out = r.ds;
    r.ds = NULL;
done:
    ad_container_close(c);
    lstar_dataset_free(r.ds);
    for (size_t i = 0; i < r.nleaves; i++) lstar_array_free(r.leaves[i].arr);
    lstar_free(r.leaves);
    lstar_strings_destroy(&r.consumed);
    return st;
}
