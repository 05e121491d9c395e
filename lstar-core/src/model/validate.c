/* Validation of an L★ dataset (lstar-format.md §1.9, §1.5, §1.6).
 *
 * Findings are data (severity, stable code, where, message); the function
 * fails only when reading values fails.  Value reads are limited to
 * metadata-sized vectors (codes, index, categories, mask shape) and go in
 * blocks of at most BLOCK_ELEMS elements; sparse indices are never scanned. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/model.h"
#include "model/model_internal.h"

#define BLOCK_ELEMS ((uint64_t)1 << 20)
#define WHERE_MAX 600
#define MESSAGE_MAX 1024

struct lstar_findings {
    lstar_finding *items;
    size_t n, cap;
    size_t nerrors, nwarnings;
};

static const char *const k_core_roles[] = {"measure", "embedding",   "loading",    "relation",
                                           "label",   "sequence",    "design",     "transform",
                                           "vector",  "probability", "coordinate", "factor"};
static const char *const k_core_states[] = {"raw", "lognorm", "scaled", "clr"};

static int in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

static lstar_status add(lstar_findings *fs, lstar_severity sev, const char *code, const char *where,
                        lstar_error *err, const char *fmt, ...) LSTAR_PRINTF(6, 7);

static lstar_status add(lstar_findings *fs, lstar_severity sev, const char *code, const char *where,
                        lstar_error *err, const char *fmt, ...) {
    char msg[MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lstar_status st = lstar_model_grow((void **)&fs->items, &fs->cap, fs->n, sizeof *fs->items, err);
    if (st != LSTAR_OK) return st;
    char *w = lstar_strdup(where);
    char *m = lstar_strdup(msg);
    if (!w || !m) {
        lstar_free(w);
        lstar_free(m);
        return LSTAR_NOMEM(err, where);
    }
    lstar_finding *f = &fs->items[fs->n++];
    f->severity = sev;
    f->code = code;
    f->where = w;
    f->message = m;
    if (sev == LSTAR_SEVERITY_ERROR)
        fs->nerrors++;
    else
        fs->nwarnings++;
    return LSTAR_OK;
}

#define ERR_(code, ...) LSTAR_CHECK(add(fs, LSTAR_SEVERITY_ERROR, (code), where, err, __VA_ARGS__))
#define WARN_(code, ...) LSTAR_CHECK(add(fs, LSTAR_SEVERITY_WARNING, (code), where, err, __VA_ARGS__))

void lstar_findings_free(lstar_findings *fs) {
    if (!fs) return;
    for (size_t i = 0; i < fs->n; i++) {
        lstar_free((char *)fs->items[i].where);
        lstar_free((char *)fs->items[i].message);
    }
    lstar_free(fs->items);
    lstar_free(fs);
}

size_t lstar_findings_count(const lstar_findings *fs) { return fs ? fs->n : 0; }
const lstar_finding *lstar_findings_at(const lstar_findings *fs, size_t i) {
    return fs && i < fs->n ? &fs->items[i] : NULL;
}
size_t lstar_findings_errors(const lstar_findings *fs) { return fs ? fs->nerrors : 0; }
size_t lstar_findings_warnings(const lstar_findings *fs) { return fs ? fs->nwarnings : 0; }

/* ---- value scans ----------------------------------------------------------- */

/* Scan a 1-D integer array as int64 in blocks: *lo and *hi get min/max (unchanged
 * when empty); with `seen` (a bitmap of `nbits` bits), *dup is set when a
 * value in [0, nbits) repeats. */
static lstar_status scan_i64(const lstar_array *a, int64_t *lo, int64_t *hi, uint8_t *seen, uint64_t nbits,
                             int *dup, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t n = lstar_array_size(a);
    uint64_t blk = n < BLOCK_ELEMS ? n : BLOCK_ELEMS;
    int64_t *buf = NULL;
    if (n == 0) return LSTAR_OK;
    buf = lstar_malloc((size_t)blk * sizeof *buf);
    if (!buf) return LSTAR_NOMEM(err, NULL);
    for (uint64_t off = 0; off < n; off += blk) {
        uint64_t c = n - off < blk ? n - off : blk;
        LSTAR_CHECK(lstar_array_read_1d_as(a, off, c, LSTAR_DTYPE_INT64, buf, err));
        for (uint64_t i = 0; i < c; i++) {
            int64_t v = buf[i];
            if (off == 0 && i == 0) *lo = *hi = v;
            if (v < *lo) *lo = v;
            if (v > *hi) *hi = v;
            if (seen && v >= 0 && (uint64_t)v < nbits) {
                uint8_t bit = (uint8_t)(1u << (v & 7));
                if (seen[v >> 3] & bit) *dup = 1;
                seen[v >> 3] |= bit;
            }
        }
    }
done:
    lstar_free(buf);
    return st;
}

/* *equal = 1 iff string array `a` holds exactly `labels`, compared in blocks. */
static lstar_status strings_equal_array(const lstar_array *a, const lstar_strings *labels, int *equal,
                                        lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings blk;
    memset(&blk, 0, sizeof blk);
    *equal = 0;
    if (!a || lstar_array_dtype(a) != LSTAR_DTYPE_STRING) return LSTAR_OK;
    uint64_t n = lstar_array_size(a);
    if (n != labels->n) return LSTAR_OK;
    for (uint64_t off = 0; off < n; off += BLOCK_ELEMS) {
        uint64_t c = n - off < BLOCK_ELEMS ? n - off : BLOCK_ELEMS;
        LSTAR_CHECK(lstar_array_read_strings(a, off, c, &blk, err));
        for (uint64_t i = 0; i < c; i++) {
            size_t l1, l2;
            const char *s1 = lstar_strings_get(&blk, (size_t)i, &l1);
            const char *s2 = lstar_strings_get(labels, (size_t)(off + i), &l2);
            if (l1 != l2 || (l1 && memcmp(s1, s2, l1) != 0)) goto done;
        }
        lstar_strings_destroy(&blk);
    }
    *equal = 1;
done:
    lstar_strings_destroy(&blk);
    return st;
}

/* ---- per-field checks -------------------------------------------------------- */

typedef struct field_ctx {
    const lstar_dataset *ds;
    const lstar_field *f;
    const char *iax;   /* index axis when the partial index is usable, else NULL */
    uint64_t index_n;  /* len(index) */
} field_ctx;

/* Effective length of span axis `name`: len(index) on the index axis. */
static uint64_t eff_len(const field_ctx *c, const char *name) {
    if (c->iax && strcmp(c->iax, name) == 0) return c->index_n;
    return lstar_axis_length(lstar_dataset_axis(c->ds, name));
}

static int in_span(const lstar_field *f, const char *name) {
    for (size_t i = 0; i < f->nspan; i++)
        if (strcmp(f->span[i], name) == 0) return 1;
    return 0;
}

static int is_int_array(const lstar_array *a) { return a && lstar_dtype_is_integer(lstar_array_dtype(a)); }

/* Read one element of a 1-D integer array as int64. */
static lstar_status read_one(const lstar_array *a, uint64_t i, int64_t *v, lstar_error *err) {
    return lstar_array_read_1d_as(a, i, 1, LSTAR_DTYPE_INT64, v, err);
}

static lstar_status check_sparse(lstar_findings *fs, const field_ctx *c, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_field *f = c->f;
    if (f->nspan != 2) {
        ERR_("sparse-arity", "%s field must span 2 axes, got %zu", lstar_encoding_name(f->encoding), f->nspan);
        goto done;
    }
    uint64_t exp0 = eff_len(c, f->span[0]), exp1 = eff_len(c, f->span[1]);
    if (f->shape_rank < 0) {
        ERR_("sparse-shape", "sparse field has no shape attribute (expected [%llu, %llu])",
             (unsigned long long)exp0, (unsigned long long)exp1);
    } else if (f->shape_rank != 2 || f->shape[0] != exp0 || f->shape[1] != exp1) {
        char got[128] = "[]";
        if (f->shape_rank == 2)
            snprintf(got, sizeof got, "[%llu, %llu]", (unsigned long long)f->shape[0],
                     (unsigned long long)f->shape[1]);
        else
            snprintf(got, sizeof got, "of rank %d", f->shape_rank);
        ERR_("sparse-shape", "sparse shape %s != axis lengths [%llu, %llu]", got, (unsigned long long)exp0,
             (unsigned long long)exp1);
    }
    if (f->encoding == LSTAR_ENC_COO) {
        const lstar_array *r = f->arrays[LSTAR_FA_ROW], *cl = f->arrays[LSTAR_FA_COL], *w = f->arrays[LSTAR_FA_WEIGHT];
        if (!r || !cl || !w) goto done;
        if (!is_int_array(r) || !is_int_array(cl))
            ERR_("array-dtype", "coo row/col must be integer arrays");
        if (lstar_array_rank(r) != 1 || lstar_array_rank(cl) != 1 || lstar_array_rank(w) != 1)
            ERR_("array-rank", "coo row/col/weight must be 1-D");
        else if (lstar_array_size(r) != lstar_array_size(w) || lstar_array_size(cl) != lstar_array_size(w))
            ERR_("sparse-nnz", "coo row/col/weight lengths differ (%llu, %llu, %llu)",
                 (unsigned long long)lstar_array_size(r), (unsigned long long)lstar_array_size(cl),
                 (unsigned long long)lstar_array_size(w));
        goto done;
    }
    const lstar_array *data = f->arrays[LSTAR_FA_DATA], *ind = f->arrays[LSTAR_FA_INDICES],
                      *ptr = f->arrays[LSTAR_FA_INDPTR];
    if (!data || !ind || !ptr) goto done;
    if (!is_int_array(ind) || !is_int_array(ptr)) {
        ERR_("array-dtype", "indices/indptr must be integer arrays (got %s, %s)",
             lstar_dtype_name(lstar_array_dtype(ind)), lstar_dtype_name(lstar_array_dtype(ptr)));
        goto done;
    }
    if (lstar_array_rank(data) != 1 || lstar_array_rank(ind) != 1 || lstar_array_rank(ptr) != 1) {
        ERR_("array-rank", "data/indices/indptr must be 1-D");
        goto done;
    }
    uint64_t nnz = lstar_array_size(data);
    if (lstar_array_size(ind) != nnz)
        ERR_("sparse-nnz", "data has %llu entries but indices %llu", (unsigned long long)nnz,
             (unsigned long long)lstar_array_size(ind));
    uint64_t major = f->encoding == LSTAR_ENC_CSR ? exp0 : exp1;
    uint64_t np = lstar_array_size(ptr);
    if (np != major + 1) {
        ERR_("sparse-indptr", "indptr has %llu entries, expected %llu (%s over '%s')", (unsigned long long)np,
             (unsigned long long)major + 1, lstar_encoding_name(f->encoding),
             f->encoding == LSTAR_ENC_CSR ? f->span[0] : f->span[1]);
    } else {
        int64_t first, last;
        LSTAR_CHECK(read_one(ptr, 0, &first, err));
        LSTAR_CHECK(read_one(ptr, np - 1, &last, err));
        if (first != 0 || last < 0 || (uint64_t)last != lstar_array_size(ind))
            ERR_("sparse-indptr", "indptr runs from %lld to %lld, expected 0 to %llu", (long long)first,
                 (long long)last, (unsigned long long)lstar_array_size(ind));
    }
done:
    return st;
}

static lstar_status check_categorical(lstar_findings *fs, const field_ctx *c, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_field *f = c->f;
    const lstar_array *codes = f->arrays[LSTAR_FA_CODES], *cats = f->arrays[LSTAR_FA_CATEGORIES];
    if (!codes || !cats) goto done;
    if (lstar_array_dtype(cats) != LSTAR_DTYPE_STRING) {
        ERR_("array-dtype", "categories must be a string array, not %s", lstar_dtype_name(lstar_array_dtype(cats)));
        goto done;
    }
    if (!is_int_array(codes)) {
        ERR_("array-dtype", "codes must be an integer array, not %s", lstar_dtype_name(lstar_array_dtype(codes)));
        goto done;
    }
    if (lstar_array_rank(codes) != 1) {
        ERR_("array-rank", "codes must be 1-D, got rank %d", lstar_array_rank(codes));
        goto done;
    }
    uint64_t n = lstar_array_size(codes), k = lstar_array_size(cats);
    if (f->nspan == 1 && n != eff_len(c, f->span[0]))
        ERR_("categorical-length", "categorical length %llu != axis '%s' length %llu", (unsigned long long)n,
             f->span[0], (unsigned long long)eff_len(c, f->span[0]));
    int64_t lo = 0, hi = 0;
    LSTAR_CHECK(scan_i64(codes, &lo, &hi, NULL, 0, NULL, err));
    if (n && (lo < -1 || (hi >= 0 && (uint64_t)hi >= k)))
        ERR_("codes-out-of-range", "categorical codes span [%lld, %lld], outside [-1, %llu)", (long long)lo,
             (long long)hi, (unsigned long long)k);
    /* A same-named axis that this field did not induce and whose labels
     * differ: the clash suppressed auto-induction. */
    const lstar_axis *ax = lstar_dataset_axis(c->ds, f->name);
    if (ax && (!ax->induced_by || strcmp(ax->induced_by, f->name) != 0)) {
        int equal;
        LSTAR_CHECK(strings_equal_array(cats, &ax->labels, &equal, err));
        if (!equal)
            WARN_("categorical-name-clash",
                  "categorical field '%s' shares its name with axis '%s' (different labels) but did not induce it",
                  f->name, f->name);
    }
done:
    return st;
}

static lstar_status check_dense(lstar_findings *fs, const field_ctx *c, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_field *f = c->f;
    const lstar_array *v = f->arrays[LSTAR_FA_VALUES];
    if (!v) goto done;
    if (lstar_array_dtype(v) == LSTAR_DTYPE_STRING) {
        ERR_("array-dtype", "dense values are strings (use the utf8 encoding)");
        goto done;
    }
    int rank = lstar_array_rank(v);
    if ((size_t)rank != f->nspan) {
        ERR_("dense-rank", "dense ndim %d != span arity %zu", rank, f->nspan);
        goto done;
    }
    const uint64_t *shape = lstar_array_shape(v);
    for (int d = 0; d < rank; d++) {
        uint64_t e = eff_len(c, f->span[d]);
        if (shape[d] != e)
            ERR_("dense-shape", "dim %d (%llu) != axis '%s' length %llu", d, (unsigned long long)shape[d],
                 f->span[d], (unsigned long long)e);
    }
done:
    return st;
}

static lstar_status check_utf8(lstar_findings *fs, const field_ctx *c, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_field *f = c->f;
    const lstar_array *v = f->arrays[LSTAR_FA_VALUES];
    if (!v) goto done;
    if (lstar_array_dtype(v) != LSTAR_DTYPE_STRING) {
        ERR_("array-dtype", "utf8 values must be a string array, not %s", lstar_dtype_name(lstar_array_dtype(v)));
        goto done;
    }
    if (f->nspan == 1) {
        uint64_t e = eff_len(c, f->span[0]);
        if (lstar_array_rank(v) != 1 || lstar_array_size(v) != e)
            ERR_("utf8-length", "label length %llu != axis '%s' length %llu",
                 (unsigned long long)lstar_array_size(v), f->span[0], (unsigned long long)e);
    }
done:
    return st;
}

/* The `shape` attribute of a non-sparse field must agree with its arrays. */
static lstar_status check_shape_attr(lstar_findings *fs, const lstar_field *f, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t dims[LSTAR_MAX_RANK];
    const lstar_array *a = NULL;
    if (f->shape_rank < 0) goto done;
    switch (f->encoding) {
    case LSTAR_ENC_DENSE: a = f->arrays[LSTAR_FA_VALUES]; break;
    case LSTAR_ENC_UTF8: a = f->arrays[LSTAR_FA_VALUES]; break;
    case LSTAR_ENC_CATEGORICAL: a = f->arrays[LSTAR_FA_CODES]; break;
    default: goto done;
    }
    if (!a) goto done;
    int rank = lstar_array_rank(a);
    const uint64_t *shape = lstar_array_shape(a);
    if (f->encoding != LSTAR_ENC_DENSE) {
        dims[0] = lstar_array_size(a);
        rank = 1;
        shape = dims;
    }
    int same = rank == f->shape_rank;
    for (int d = 0; same && d < rank; d++) same = shape[d] == f->shape[d];
    if (!same) ERR_("shape-attr", "shape attribute disagrees with the stored %s array", lstar_encoding_name(f->encoding));
done:
    return st;
}

static lstar_status check_field(lstar_findings *fs, const lstar_dataset *ds, const lstar_field *f, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char where[WHERE_MAX];
    uint8_t *seen = NULL;
    field_ctx c;
    memset(&c, 0, sizeof c);
    c.ds = ds;
    c.f = f;
    snprintf(where, sizeof where, "fields/%s", f->name);

    /* Open vocabularies: warnings only; "x-…" extensions are silent. */
    if (f->role && strncmp(f->role, "x-", 2) != 0 &&
        !in_list(f->role, k_core_roles, sizeof k_core_roles / sizeof *k_core_roles))
        WARN_("noncore-role", "role '%s' is not a core role", f->role);
    if (f->role && strcmp(f->role, "measure") == 0 && f->state && strncmp(f->state, "x-", 2) != 0 &&
        !in_list(f->state, k_core_states, sizeof k_core_states / sizeof *k_core_states))
        WARN_("noncore-state", "state '%s' is not a core state", f->state);
    if (f->role && strcmp(f->role, "relation") == 0 && f->nspan != 2)
        ERR_("relation-arity", "relation must span 2 axes, got %zu", f->nspan);

    int unknown = 0;
    for (size_t i = 0; i < f->nspan; i++)
        if (!lstar_dataset_axis(ds, f->span[i])) {
            ERR_("span-unknown-axis", "span references unknown axis '%s'", f->span[i]);
            unknown = 1;
        }

    /* The encoding checks below skip absent arrays themselves. */
    for (const char *const *nm = lstar_encoding_arrays(f->encoding); *nm; nm++)
        if (!lstar_field_array(f, *nm))
            ERR_("missing-array", "%s field lacks its '%s' array", lstar_encoding_name(f->encoding), *nm);
    if (unknown) goto done;

    /* Partial coverage (§1.5). */
    const lstar_array *index = f->arrays[LSTAR_FA_INDEX];
    if (f->index_axis || index) {
        if (!f->index_axis) {
            ERR_("partial-index-axis", "field has an index array but no index_axis");
            goto done;
        }
        if (!in_span(f, f->index_axis)) {
            ERR_("partial-index-axis", "partial index_axis '%s' is not in the span", f->index_axis);
            goto done;
        }
        if (!index) {
            ERR_("missing-array", "partial field (index_axis '%s') lacks its 'index' array", f->index_axis);
            goto done;
        }
        if (!is_int_array(index) || lstar_array_rank(index) != 1) {
            ERR_("array-dtype", "index must be a 1-D integer array");
            goto done;
        }
        uint64_t axlen = lstar_axis_length(lstar_dataset_axis(ds, f->index_axis));
        uint64_t nbits = axlen;
        int64_t lo = 0, hi = 0;
        int dup = 0;
        if (nbits && (nbits + 7) / 8 <= SIZE_MAX) {
            seen = lstar_calloc((size_t)((nbits + 7) / 8), 1);
            if (!seen) {
                st = LSTAR_NOMEM(err, where);
                goto done;
            }
        }
        LSTAR_CHECK(scan_i64(index, &lo, &hi, seen, seen ? nbits : 0, &dup, err));
        if (lstar_array_size(index) && (lo < 0 || (uint64_t)hi >= axlen))
            ERR_("partial-index-range", "partial index spans [%lld, %lld], outside [0, %llu) of axis '%s'",
                 (long long)lo, (long long)hi, (unsigned long long)axlen, f->index_axis);
        if (dup) WARN_("duplicate-index", "partial index has duplicate positions");
        c.iax = f->index_axis;
        c.index_n = lstar_array_size(index);
    }

    switch (f->encoding) {
    case LSTAR_ENC_CSR:
    case LSTAR_ENC_CSC:
    case LSTAR_ENC_COO: LSTAR_CHECK(check_sparse(fs, &c, where, err)); break;
    case LSTAR_ENC_CATEGORICAL: LSTAR_CHECK(check_categorical(fs, &c, where, err)); break;
    case LSTAR_ENC_UTF8: LSTAR_CHECK(check_utf8(fs, &c, where, err)); break;
    default: LSTAR_CHECK(check_dense(fs, &c, where, err)); break;
    }
    LSTAR_CHECK(check_shape_attr(fs, f, where, err));

    const lstar_array *mask = f->arrays[LSTAR_FA_MASK];
    if (mask) {
        lstar_dtype mt = lstar_array_dtype(mask);
        if (mt != LSTAR_DTYPE_BOOL && !lstar_dtype_is_integer(mt))
            ERR_("mask-dtype", "mask dtype %s is not integer/bool", lstar_dtype_name(mt));
        if (f->nspan == 1) {
            uint64_t e = eff_len(&c, f->span[0]);
            uint64_t got = lstar_array_rank(mask) >= 1 ? lstar_array_shape(mask)[0] : 0;
            if (lstar_array_rank(mask) < 1 || got != e)
                ERR_("mask-length", "mask length %llu != axis '%s' length %llu", (unsigned long long)got,
                     f->span[0], (unsigned long long)e);
        }
    }
done:
    lstar_free(seen);
    return st;
}

/* ---- axes and collections -------------------------------------------------- */

static lstar_status check_axis(lstar_findings *fs, const lstar_dataset *ds, const lstar_axis *ax, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char where[WHERE_MAX];
    snprintf(where, sizeof where, "axes/%s", ax->name);
    if (!ax->induced_by) goto done;
    const lstar_field *f = lstar_dataset_field(ds, ax->induced_by);
    if (!f) {
        ERR_("factor-induced-by-missing", "axis is induced_by '%s' but there is no such field", ax->induced_by);
        goto done;
    }
    if (f->encoding != LSTAR_ENC_CATEGORICAL) {
        ERR_("factor-labels-mismatch", "inducing field '%s' is %s, not categorical", f->name,
             lstar_encoding_name(f->encoding));
        goto done;
    }
    int equal = 0;
    LSTAR_CHECK(strings_equal_array(f->arrays[LSTAR_FA_CATEGORIES], &ax->labels, &equal, err));
    if (!equal)
        ERR_("factor-labels-mismatch", "axis labels disagree with the categories of inducing field '%s'", f->name);
done:
    return st;
}

static lstar_status check_collection(lstar_findings *fs, const lstar_dataset *ds, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char where[WHERE_MAX];
    lstar_namemap samples;
    char **names = NULL;
    size_t nnames = 0;
    memset(&samples, 0, sizeof samples);
    snprintf(where, sizeof where, "axes/samples");
    const lstar_axis *sax = lstar_dataset_axis(ds, "samples");
    if (!sax) {
        ERR_("collection-samples-axis", "a collection needs a 'samples' axis with role \"sample\"");
    } else if (!sax->role || strcmp(sax->role, "sample") != 0) {
        ERR_("collection-samples-axis", "the 'samples' axis has role '%s', expected \"sample\"",
             sax->role ? sax->role : "(unset)");
    }
    if (sax) {
        size_t n = sax->labels.n;
        names = lstar_calloc(n ? n : 1, sizeof *names);
        if (!names) {
            st = LSTAR_NOMEM(err, where);
            goto done;
        }
        while (nnames < n) {
            size_t len;
            const char *s = lstar_strings_get(&sax->labels, nnames, &len);
            char *copy = lstar_malloc(len + 1);
            if (!copy) {
                st = LSTAR_NOMEM(err, where);
                goto done;
            }
            memcpy(copy, s, len);
            copy[len] = '\0';
            names[nnames++] = copy; /* owned by `names` before the map can fail */
            if (lstar_namemap_find(&samples, copy) == SIZE_MAX)
                LSTAR_CHECK(lstar_namemap_put(&samples, copy, nnames - 1, err));
        }
    }
    /* Per-sample axes cells.<s> / genes.<s> must name a known sample. */
    for (size_t i = 0; i < ds->naxes; i++) {
        const char *nm = ds->axes[i]->name, *s = NULL;
        if (strncmp(nm, "cells.", 6) == 0)
            s = nm + 6;
        else if (strncmp(nm, "genes.", 6) == 0)
            s = nm + 6;
        if (!s) continue;
        if (lstar_namemap_find(&samples, s) == SIZE_MAX) {
            snprintf(where, sizeof where, "axes/%s", nm);
            WARN_("collection-unknown-sample", "per-sample axis '%s' names sample '%s', not in the samples axis",
                  nm, s);
        }
    }
    const lstar_field *sf = lstar_dataset_field(ds, "sample");
    if (sf) {
        snprintf(where, sizeof where, "fields/sample");
        if (sf->nspan != 1 || strcmp(sf->span[0], "cells") != 0 ||
            (sf->encoding != LSTAR_ENC_UTF8 && sf->encoding != LSTAR_ENC_CATEGORICAL))
            ERR_("collection-sample-label",
                 "the collection 'sample' label must be utf8 or categorical over [cells], got %s over %zu axes",
                 lstar_encoding_name(sf->encoding), sf->nspan);
    }
done:
    lstar_namemap_destroy(&samples);
    for (size_t i = 0; i < nnames; i++) lstar_free(names[i]);
    lstar_free(names);
    return st;
}

lstar_status lstar_dataset_validate(const lstar_dataset *ds, lstar_findings **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_findings *fs = NULL;
    if (out) *out = NULL;
    if (!ds || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset or out is NULL");
    fs = lstar_calloc(1, sizeof *fs);
    if (!fs) return LSTAR_NOMEM(err, NULL);
    for (size_t i = 0; i < ds->nfields; i++) LSTAR_CHECK(check_field(fs, ds, ds->fields[i], err));
    for (size_t i = 0; i < ds->naxes; i++) LSTAR_CHECK(check_axis(fs, ds, ds->axes[i], err));
    if (ds->kind == LSTAR_KIND_COLLECTION) LSTAR_CHECK(check_collection(fs, ds, err));
    *out = fs;
    fs = NULL;
done:
    lstar_findings_free(fs);
    return st;
}
