/* The L★ model (lstar-format.md §1): a dataset of axes, fields and
 * passthrough namespaces.  Validation lives in validate.c. */
#include "lstar/model.h"

#include <jansson.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "model/model_internal.h"

#define WHERE_MAX 600

/* ---- name map ------------------------------------------------------------ */

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

size_t lstar_namemap_find(const lstar_namemap *m, const char *name) {
    if (!m->cap || !name) return SIZE_MAX;
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)name_hash(name) & mask;; i = (i + 1) & mask) {
        const lstar_namemap_slot *s = &m->slots[i];
        if (!s->name) return SIZE_MAX;
        if (strcmp(s->name, name) == 0) return s->index;
    }
}

static void namemap_insert(lstar_namemap_slot *slots, size_t cap, const char *name, size_t index) {
    size_t mask = cap - 1;
    size_t i = (size_t)name_hash(name) & mask;
    while (slots[i].name) i = (i + 1) & mask;
    slots[i].name = name;
    slots[i].index = index;
}

lstar_status lstar_namemap_put(lstar_namemap *m, const char *name, size_t index, lstar_error *err) {
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 16;
        if (ncap > SIZE_MAX / sizeof(lstar_namemap_slot)) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "too many names");
        lstar_namemap_slot *ns = lstar_calloc(ncap, sizeof *ns);
        if (!ns) return LSTAR_NOMEM(err, NULL);
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].name) namemap_insert(ns, ncap, m->slots[i].name, m->slots[i].index);
        lstar_free(m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    namemap_insert(m->slots, m->cap, name, index);
    m->count++;
    return LSTAR_OK;
}

void lstar_namemap_destroy(lstar_namemap *m) {
    if (!m) return;
    lstar_free(m->slots);
    memset(m, 0, sizeof *m);
}

lstar_status lstar_model_grow(void **items, size_t *cap, size_t n, size_t size, lstar_error *err) {
    if (n < *cap) return LSTAR_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap > SIZE_MAX / size) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "too many items");
    void *p = lstar_realloc(*items, ncap * size);
    if (!p) return LSTAR_NOMEM(err, NULL);
    *items = p;
    *cap = ncap;
    return LSTAR_OK;
}

/* ---- small helpers ------------------------------------------------------- */

/* Replace *slot by a copy of v; NULL or "" store NULL. */
static lstar_status set_opt_str(char **slot, const char *v, const char *where, lstar_error *err) {
    char *copy = NULL;
    if (v && v[0]) {
        copy = lstar_strdup(v);
        if (!copy) return LSTAR_NOMEM(err, where);
    }
    lstar_free(*slot);
    *slot = copy;
    return LSTAR_OK;
}

/* 1 if a failed jansson parse of `text` failed for lack of memory: jansson
 * says so, or leaves the error text empty (its lexer could not start), or the
 * text is valid JSON after all (its lexer silently drops bytes it cannot
 * buffer and then reports a syntax error). */
static int json_failed_oom(const json_error_t *je, const char *text) {
    return json_error_code(je) == json_error_out_of_memory || je->text[0] == '\0' ||
           lstar_json_valid(text, strlen(text));
}

/* Parse `json` as a JSON object and store its compact form in *slot
 * (NULL/"" = {} = NULL). */
static lstar_status set_provenance(char **slot, const char *json, const char *where, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *v = NULL;
    char *canon = NULL;
    if (json && json[0]) {
        json_error_t je;
        v = json_loads(json, JSON_DECODE_ANY, &je);
        if (!v) {
            if (json_failed_oom(&je, json))
                st = LSTAR_NOMEM(err, where);
            else
                st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "provenance is not valid JSON: %s", je.text);
            goto done;
        }
        if (!json_is_object(v)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "provenance must be a JSON object");
            goto done;
        }
        if (json_object_size(v) > 0) {
            canon = lstar_json_dump(v, 0);
            if (!canon) {
                st = LSTAR_NOMEM(err, where);
                goto done;
            }
        }
    }
    lstar_free(*slot);
    *slot = canon;
    canon = NULL;
done:
    json_decref(v);
    lstar_free(canon);
    return st;
}

static void where_of(char *buf, const char *kind, const char *name) {
    /* snprintf would do, but keep the buffer size fixed and explicit. */
    size_t k = strlen(kind), n = name ? strlen(name) : 0;
    if (k + 1 + n >= WHERE_MAX) n = WHERE_MAX - k - 2;
    memcpy(buf, kind, k);
    buf[k] = '/';
    if (n) memcpy(buf + k + 1, name, n);
    buf[k + 1 + n] = '\0';
}

static lstar_status push_str(char ***items, size_t *n, size_t *cap, const char *s, lstar_error *err) {
    if (!s) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "string is NULL");
    lstar_status st = lstar_model_grow((void **)items, cap, *n, sizeof(char *), err);
    if (st != LSTAR_OK) return st;
    char *c = lstar_strdup(s);
    if (!c) return LSTAR_NOMEM(err, NULL);
    (*items)[(*n)++] = c;
    return LSTAR_OK;
}

static void free_strs(char **items, size_t n) {
    for (size_t i = 0; i < n; i++) lstar_free(items[i]);
    lstar_free(items);
}

/* ---- encodings and array slots ------------------------------------------- */

static const char *const k_enc_names[LSTAR_ENC_COUNT_] = {"dense", "csr", "csc", "coo", "utf8", "categorical"};

const char *lstar_encoding_name(lstar_encoding e) {
    if ((int)e < 0 || e >= LSTAR_ENC_COUNT_) return NULL;
    return k_enc_names[e];
}

int lstar_encoding_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < LSTAR_ENC_COUNT_; i++)
        if (strcmp(k_enc_names[i], name) == 0) return i;
    return -1;
}

static const char *const k_arrays_dense[] = {"values", NULL};
static const char *const k_arrays_sparse[] = {"data", "indices", "indptr", NULL};
static const char *const k_arrays_coo[] = {"row", "col", "weight", NULL};
static const char *const k_arrays_cat[] = {"codes", "categories", NULL};
static const char *const k_arrays_none[] = {NULL};

const char *const *lstar_encoding_arrays(lstar_encoding e) {
    switch (e) {
    case LSTAR_ENC_DENSE:
    case LSTAR_ENC_UTF8: return k_arrays_dense;
    case LSTAR_ENC_CSR:
    case LSTAR_ENC_CSC: return k_arrays_sparse;
    case LSTAR_ENC_COO: return k_arrays_coo;
    case LSTAR_ENC_CATEGORICAL: return k_arrays_cat;
    default: return k_arrays_none;
    }
}

static const char *const k_array_slots[LSTAR_FA_COUNT_] = {
    "values", "data", "indices", "indptr", "row", "col", "weight", "codes", "categories", "mask", "index",
};

int lstar_model_array_slot(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < LSTAR_FA_COUNT_; i++)
        if (strcmp(k_array_slots[i], name) == 0) return i;
    return -1;
}

const char *lstar_model_array_name(int slot) {
    return slot >= 0 && slot < LSTAR_FA_COUNT_ ? k_array_slots[slot] : NULL;
}

/* ---- dataset ------------------------------------------------------------- */

static void axis_free(lstar_axis *a) {
    if (!a) return;
    lstar_free(a->name);
    lstar_strings_destroy(&a->labels);
    lstar_free(a->origin);
    lstar_free(a->role);
    lstar_free(a->induced_by);
    lstar_free(a->provenance);
    lstar_free(a);
}

static void field_free(lstar_field *f) {
    if (!f) return;
    lstar_free(f->name);
    free_strs(f->span, f->nspan);
    lstar_free(f->role);
    lstar_free(f->state);
    lstar_free(f->subtype);
    lstar_free(f->uncertainty);
    lstar_free(f->index_axis);
    lstar_free(f->provenance);
    for (int i = 0; i < LSTAR_FA_COUNT_; i++) lstar_array_free(f->arrays[i]);
    lstar_free(f);
}

static void pt_free(lstar_passthrough *p) {
    if (!p) return;
    lstar_free(p->ns);
    lstar_free(p->tree);
    for (size_t i = 0; i < p->nleaves; i++) {
        lstar_free(p->leaves[i].id);
        lstar_free(p->leaves[i].kind);
        lstar_array_free(p->leaves[i].array);
    }
    lstar_free(p->leaves);
    lstar_namemap_destroy(&p->leaf_map);
    lstar_free(p);
}

lstar_status lstar_dataset_new(lstar_dataset **out, lstar_error *err) {
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    *out = NULL;
    lstar_dataset *ds = lstar_calloc(1, sizeof *ds);
    if (!ds) return LSTAR_NOMEM(err, NULL);
    ds->kind = LSTAR_KIND_SAMPLE;
    ds->spec_version = lstar_strdup(LSTAR_SPEC_VERSION);
    if (!ds->spec_version) {
        lstar_free(ds);
        return LSTAR_NOMEM(err, NULL);
    }
    *out = ds;
    return LSTAR_OK;
}

void lstar_dataset_free(lstar_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->nfields; i++) field_free(ds->fields[i]);
    for (size_t i = 0; i < ds->naxes; i++) axis_free(ds->axes[i]);
    for (size_t i = 0; i < ds->npts; i++) pt_free(ds->pts[i]);
    lstar_free(ds->fields);
    lstar_free(ds->axes);
    lstar_free(ds->pts);
    lstar_namemap_destroy(&ds->axis_map);
    lstar_namemap_destroy(&ds->field_map);
    lstar_namemap_destroy(&ds->pt_map);
    free_strs(ds->profiles, ds->nprofiles);
    free_strs(ds->dropped, ds->ndropped);
    lstar_free(ds->spec_version);
    /* Attachments last (lazy arrays above may read through them), newest first. */
    for (size_t i = ds->nattached; i-- > 0;)
        if (ds->attached[i].release) ds->attached[i].release(ds->attached[i].ptr);
    lstar_free(ds->attached);
    lstar_free(ds);
}

lstar_kind lstar_dataset_kind(const lstar_dataset *ds) { return ds ? ds->kind : LSTAR_KIND_SAMPLE; }
void lstar_dataset_set_kind(lstar_dataset *ds, lstar_kind kind) {
    if (ds) ds->kind = kind;
}
const char *lstar_dataset_spec_version(const lstar_dataset *ds) {
    return ds && ds->spec_version ? ds->spec_version : LSTAR_SPEC_VERSION;
}

lstar_status lstar_dataset_set_spec_version(lstar_dataset *ds, const char *v, lstar_error *err) {
    if (!ds) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset is NULL");
    char *c = lstar_strdup(v && v[0] ? v : LSTAR_SPEC_VERSION);
    if (!c) return LSTAR_NOMEM(err, NULL);
    lstar_free(ds->spec_version);
    ds->spec_version = c;
    return LSTAR_OK;
}

size_t lstar_dataset_profile_count(const lstar_dataset *ds) { return ds ? ds->nprofiles : 0; }
const char *lstar_dataset_profile(const lstar_dataset *ds, size_t i) {
    return ds && i < ds->nprofiles ? ds->profiles[i] : NULL;
}
lstar_status lstar_dataset_add_profile(lstar_dataset *ds, const char *profile, lstar_error *err) {
    if (!ds) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset is NULL");
    return push_str(&ds->profiles, &ds->nprofiles, &ds->cap_profiles, profile, err);
}
size_t lstar_dataset_dropped_count(const lstar_dataset *ds) { return ds ? ds->ndropped : 0; }
const char *lstar_dataset_dropped(const lstar_dataset *ds, size_t i) {
    return ds && i < ds->ndropped ? ds->dropped[i] : NULL;
}
lstar_status lstar_dataset_add_dropped(lstar_dataset *ds, const char *what, lstar_error *err) {
    if (!ds) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset is NULL");
    return push_str(&ds->dropped, &ds->ndropped, &ds->cap_dropped, what, err);
}

lstar_status lstar_dataset_attach(lstar_dataset *ds, void *ptr, void (*release)(void *), lstar_error *err) {
    if (!ds) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset is NULL");
    lstar_status st =
        lstar_model_grow((void **)&ds->attached, &ds->cap_attached, ds->nattached, sizeof *ds->attached, err);
    if (st != LSTAR_OK) return st;
    ds->attached[ds->nattached].ptr = ptr;
    ds->attached[ds->nattached].release = release;
    ds->nattached++;
    return LSTAR_OK;
}

/* ---- axes ---------------------------------------------------------------- */

lstar_status lstar_dataset_add_axis(lstar_dataset *ds, const char *name, lstar_strings *labels, lstar_axis **out,
                                    lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_axis *a = NULL;
    char where[WHERE_MAX];
    if (out) *out = NULL;
    if (!ds || !name || !name[0]) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "axes", "axis needs a dataset and a non-empty name");
        goto done;
    }
    where_of(where, "axes", name);
    if (lstar_namemap_find(&ds->axis_map, name) != SIZE_MAX) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, where, "axis '%s' already exists", name);
        goto done;
    }
    LSTAR_CHECK(lstar_model_grow((void **)&ds->axes, &ds->cap_axes, ds->naxes, sizeof *ds->axes, err));
    a = lstar_calloc(1, sizeof *a);
    if (!a || !(a->name = lstar_strdup(name))) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    if (labels && labels->offsets) {
        a->labels = *labels;
        memset(labels, 0, sizeof *labels);
    } else {
        LSTAR_CHECK(lstar_strings_init(&a->labels, err));
    }
    LSTAR_CHECK(lstar_namemap_put(&ds->axis_map, a->name, ds->naxes, err));
    ds->axes[ds->naxes++] = a;
    if (out) *out = a;
    a = NULL;
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, "axes");
    axis_free(a);
    if (labels) lstar_strings_destroy(labels);
    return st;
}

size_t lstar_dataset_axis_count(const lstar_dataset *ds) { return ds ? ds->naxes : 0; }
lstar_axis *lstar_dataset_axis_at(const lstar_dataset *ds, size_t i) {
    return ds && i < ds->naxes ? ds->axes[i] : NULL;
}
lstar_axis *lstar_dataset_axis(const lstar_dataset *ds, const char *name) {
    if (!ds) return NULL;
    size_t i = lstar_namemap_find(&ds->axis_map, name);
    return i == SIZE_MAX ? NULL : ds->axes[i];
}

const char *lstar_axis_name(const lstar_axis *a) { return a ? a->name : NULL; }
uint64_t lstar_axis_length(const lstar_axis *a) { return a ? (uint64_t)a->labels.n : 0; }
const lstar_strings *lstar_axis_labels(const lstar_axis *a) { return a ? &a->labels : NULL; }
const char *lstar_axis_origin(const lstar_axis *a) { return a ? a->origin : NULL; }
const char *lstar_axis_role(const lstar_axis *a) { return a ? a->role : NULL; }
const char *lstar_axis_induced_by(const lstar_axis *a) { return a ? a->induced_by : NULL; }
const char *lstar_axis_provenance(const lstar_axis *a) { return a && a->provenance ? a->provenance : "{}"; }

#define AXIS_SETTER(fn, member)                                                                               \
    lstar_status fn(lstar_axis *a, const char *v, lstar_error *err) {                                         \
        char where[WHERE_MAX];                                                                                \
        if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "axis is NULL");                           \
        where_of(where, "axes", a->name);                                                                     \
        return set_opt_str(&a->member, v, where, err);                                                        \
    }
AXIS_SETTER(lstar_axis_set_origin, origin)
AXIS_SETTER(lstar_axis_set_role, role)
AXIS_SETTER(lstar_axis_set_induced_by, induced_by)

lstar_status lstar_axis_set_provenance(lstar_axis *a, const char *json, lstar_error *err) {
    char where[WHERE_MAX];
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "axis is NULL");
    where_of(where, "axes", a->name);
    return set_provenance(&a->provenance, json, where, err);
}

/* ---- fields -------------------------------------------------------------- */

lstar_status lstar_dataset_add_field(lstar_dataset *ds, const char *name, lstar_encoding enc, size_t nspan,
                                     const char *const *span, lstar_field **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_field *f = NULL;
    char where[WHERE_MAX];
    if (out) *out = NULL;
    if (!ds || !name || !name[0]) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "fields", "field needs a dataset and a non-empty name");
        goto done;
    }
    where_of(where, "fields", name);
    if ((int)enc < 0 || enc >= LSTAR_ENC_COUNT_) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "invalid encoding %d", (int)enc);
        goto done;
    }
    if (nspan > LSTAR_MAX_RANK || (nspan && !span)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "span of %zu axes is invalid", nspan);
        goto done;
    }
    for (size_t i = 0; i < nspan; i++)
        if (!span[i] || !span[i][0]) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "span entry %zu is empty", i);
            goto done;
        }
    if (lstar_namemap_find(&ds->field_map, name) != SIZE_MAX) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, where, "field '%s' already exists", name);
        goto done;
    }
    LSTAR_CHECK(lstar_model_grow((void **)&ds->fields, &ds->cap_fields, ds->nfields, sizeof *ds->fields, err));
    f = lstar_calloc(1, sizeof *f);
    if (!f || !(f->name = lstar_strdup(name))) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    f->encoding = enc;
    f->directed = f->weighted = f->ordered = LSTAR_UNSET;
    f->shape_rank = -1;
    if (nspan) {
        f->span = lstar_calloc(nspan, sizeof *f->span);
        if (!f->span) {
            st = LSTAR_NOMEM(err, where);
            goto done;
        }
        for (; f->nspan < nspan; f->nspan++) {
            f->span[f->nspan] = lstar_strdup(span[f->nspan]);
            if (!f->span[f->nspan]) {
                st = LSTAR_NOMEM(err, where);
                goto done;
            }
        }
    }
    LSTAR_CHECK(lstar_namemap_put(&ds->field_map, f->name, ds->nfields, err));
    ds->fields[ds->nfields++] = f;
    if (out) *out = f;
    f = NULL;
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, "fields");
    field_free(f);
    return st;
}

size_t lstar_dataset_field_count(const lstar_dataset *ds) { return ds ? ds->nfields : 0; }
lstar_field *lstar_dataset_field_at(const lstar_dataset *ds, size_t i) {
    return ds && i < ds->nfields ? ds->fields[i] : NULL;
}
lstar_field *lstar_dataset_field(const lstar_dataset *ds, const char *name) {
    if (!ds) return NULL;
    size_t i = lstar_namemap_find(&ds->field_map, name);
    return i == SIZE_MAX ? NULL : ds->fields[i];
}

const char *lstar_field_name(const lstar_field *f) { return f ? f->name : NULL; }
lstar_encoding lstar_field_encoding(const lstar_field *f) { return f ? f->encoding : LSTAR_ENC_DENSE; }
size_t lstar_field_span_count(const lstar_field *f) { return f ? f->nspan : 0; }
const char *lstar_field_span(const lstar_field *f, size_t i) { return f && i < f->nspan ? f->span[i] : NULL; }
const char *lstar_field_role(const lstar_field *f) { return f ? f->role : NULL; }
const char *lstar_field_state(const lstar_field *f) { return f ? f->state : NULL; }
const char *lstar_field_subtype(const lstar_field *f) { return f ? f->subtype : NULL; }
const char *lstar_field_uncertainty(const lstar_field *f) { return f ? f->uncertainty : NULL; }
const char *lstar_field_index_axis(const lstar_field *f) { return f ? f->index_axis : NULL; }
const char *lstar_field_coverage(const lstar_field *f) { return f && f->index_axis ? "partial" : "full"; }
const char *lstar_field_provenance(const lstar_field *f) { return f && f->provenance ? f->provenance : "{}"; }
int lstar_field_directed(const lstar_field *f) { return f ? f->directed : LSTAR_UNSET; }
int lstar_field_weighted(const lstar_field *f) { return f ? f->weighted : LSTAR_UNSET; }
int lstar_field_ordered(const lstar_field *f) { return f ? f->ordered : LSTAR_UNSET; }
int lstar_field_nullable(const lstar_field *f) { return f && f->arrays[LSTAR_FA_MASK] ? 1 : 0; }

int lstar_field_shape(const lstar_field *f, uint64_t *dims, int max) {
    int rank = 0;
    const uint64_t *src = NULL;
    uint64_t one;
    if (!f) return 0;
    if (f->shape_rank >= 0) {
        rank = f->shape_rank;
        src = f->shape;
    } else {
        const lstar_array *a = NULL;
        switch (f->encoding) {
        case LSTAR_ENC_DENSE:
            a = f->arrays[LSTAR_FA_VALUES];
            if (a) {
                rank = lstar_array_rank(a);
                src = lstar_array_shape(a);
            }
            break;
        case LSTAR_ENC_UTF8:
        case LSTAR_ENC_CATEGORICAL:
            a = f->arrays[f->encoding == LSTAR_ENC_UTF8 ? LSTAR_FA_VALUES : LSTAR_FA_CODES];
            if (a) {
                one = lstar_array_size(a);
                rank = 1;
                src = &one;
            }
            break;
        default: break; /* sparse: only the shape attribute knows the minor dimension */
        }
    }
    for (int d = 0; d < rank && d < max && dims; d++) dims[d] = src[d];
    return rank;
}

#define FIELD_SETTER(fn, member)                                                                              \
    lstar_status fn(lstar_field *f, const char *v, lstar_error *err) {                                        \
        char where[WHERE_MAX];                                                                                \
        if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "field is NULL");                          \
        where_of(where, "fields", f->name);                                                                   \
        return set_opt_str(&f->member, v, where, err);                                                        \
    }
FIELD_SETTER(lstar_field_set_role, role)
FIELD_SETTER(lstar_field_set_state, state)
FIELD_SETTER(lstar_field_set_subtype, subtype)
FIELD_SETTER(lstar_field_set_uncertainty, uncertainty)
/* Not checked against the span here: a store may say anything, and
 * lstar_dataset_validate reports "partial-index-axis". */
FIELD_SETTER(lstar_field_set_index_axis, index_axis)

lstar_status lstar_field_set_provenance(lstar_field *f, const char *json, lstar_error *err) {
    char where[WHERE_MAX];
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "field is NULL");
    where_of(where, "fields", f->name);
    return set_provenance(&f->provenance, json, where, err);
}

static int tristate(int v) { return v == 0 || v == 1 ? v : (v == LSTAR_UNSET ? LSTAR_UNSET : 1); }
void lstar_field_set_directed(lstar_field *f, int v) {
    if (f) f->directed = tristate(v);
}
void lstar_field_set_weighted(lstar_field *f, int v) {
    if (f) f->weighted = tristate(v);
}
void lstar_field_set_ordered(lstar_field *f, int v) {
    if (f) f->ordered = tristate(v);
}

lstar_status lstar_field_set_shape(lstar_field *f, int rank, const uint64_t *dims, lstar_error *err) {
    char where[WHERE_MAX];
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "field is NULL");
    where_of(where, "fields", f->name);
    if (rank < -1 || rank > LSTAR_MAX_RANK || (rank > 0 && !dims))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "shape of rank %d is invalid", rank);
    f->shape_rank = rank; /* -1 clears the attribute */
    for (int d = 0; d < LSTAR_MAX_RANK; d++) f->shape[d] = d < rank ? dims[d] : 0;
    return LSTAR_OK;
}

lstar_status lstar_field_set_array(lstar_field *f, const char *name, lstar_array *arr, lstar_error *err) {
    char where[WHERE_MAX];
    if (!f) {
        lstar_array_free(arr);
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "field is NULL");
    }
    where_of(where, "fields", f->name);
    int slot = lstar_model_array_slot(name);
    if (slot < 0) {
        lstar_array_free(arr);
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "unknown value array name '%s'", name ? name : "(null)");
    }
    if (f->arrays[slot] != arr) lstar_array_free(f->arrays[slot]);
    f->arrays[slot] = arr;
    return LSTAR_OK;
}

lstar_array *lstar_field_array(const lstar_field *f, const char *name) {
    int slot = lstar_model_array_slot(name);
    return f && slot >= 0 ? f->arrays[slot] : NULL;
}

/* ---- rule 2: factor induction -------------------------------------------- */

lstar_status lstar_dataset_induce_factor(lstar_dataset *ds, const char *field, int guard, int *induced,
                                         lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings cats;
    char where[WHERE_MAX];
    lstar_axis *ax = NULL;
    char *origin = NULL, *role = NULL, *by = NULL;
    memset(&cats, 0, sizeof cats);
    if (induced) *induced = 0;
    if (!ds || !field) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "dataset or field name is NULL");
    where_of(where, "fields", field);
    lstar_field *f = lstar_dataset_field(ds, field);
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, where, "no field '%s'", field);
    if (f->encoding != LSTAR_ENC_CATEGORICAL)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "field '%s' is %s, not categorical", field,
                          lstar_encoding_name(f->encoding));
    const lstar_array *ca = f->arrays[LSTAR_FA_CATEGORIES];
    if (!ca || lstar_array_dtype(ca) != LSTAR_DTYPE_STRING || lstar_array_rank(ca) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "field '%s' has no 1-D string categories array", field);
    uint64_t k = lstar_array_size(ca);
    uint64_t n = f->arrays[LSTAR_FA_CODES] ? lstar_array_size(f->arrays[LSTAR_FA_CODES]) : 0;
    if (guard && k > 100 && (double)k > 0.5 * (double)n) return LSTAR_OK; /* identifier-like */
    st = lstar_array_read_strings(ca, 0, k, &cats, err);
    if (st != LSTAR_OK) {
        lstar_err_add_where(err, where);
        goto done;
    }
    lstar_axis *existing = lstar_dataset_axis(ds, field);
    if (existing) {
        if (!lstar_strings_equal(&existing->labels, &cats)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_VALIDATION, where,
                            "axis '%s' exists with labels different from the categories of field '%s'", field,
                            field);
            goto done;
        }
        if (induced) *induced = 1;
        goto done;
    }
    /* Copy the attributes first so that the axis appears complete or not at all. */
    origin = lstar_strdup("derived");
    role = lstar_strdup("factor");
    by = lstar_strdup(field);
    if (!origin || !role || !by) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    LSTAR_CHECK(lstar_dataset_add_axis(ds, field, &cats, &ax, err));
    ax->origin = origin;
    ax->role = role;
    ax->induced_by = by;
    origin = role = by = NULL;
    if (induced) *induced = 1;
done:
    lstar_strings_destroy(&cats);
    lstar_free(origin);
    lstar_free(role);
    lstar_free(by);
    return st;
}

/* ---- passthrough ----------------------------------------------------------- */

lstar_status lstar_dataset_add_passthrough(lstar_dataset *ds, const char *ns, const char *tree_json,
                                           lstar_passthrough **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_passthrough *p = NULL;
    char where[WHERE_MAX];
    if (out) *out = NULL;
    if (!ds || !ns || !ns[0])
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "passthrough", "passthrough needs a non-empty namespace");
    where_of(where, "passthrough", ns);
    if (lstar_namemap_find(&ds->pt_map, ns) != SIZE_MAX)
        return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, where, "passthrough namespace '%s' already exists", ns);
    if (tree_json && tree_json[0]) {
        json_error_t je;
        json_t *v = json_loads(tree_json, JSON_DECODE_ANY, &je);
        if (!v) {
            if (json_failed_oom(&je, tree_json)) return LSTAR_NOMEM(err, where);
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "passthrough tree is not valid JSON: %s", je.text);
        }
        json_decref(v);
    }
    LSTAR_CHECK(lstar_model_grow((void **)&ds->pts, &ds->cap_pts, ds->npts, sizeof *ds->pts, err));
    p = lstar_calloc(1, sizeof *p);
    if (!p || !(p->ns = lstar_strdup(ns)) || !(p->tree = lstar_strdup(tree_json && tree_json[0] ? tree_json : "{}"))) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    LSTAR_CHECK(lstar_namemap_put(&ds->pt_map, p->ns, ds->npts, err));
    ds->pts[ds->npts++] = p;
    if (out) *out = p;
    p = NULL;
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, where);
    pt_free(p);
    return st;
}

size_t lstar_dataset_passthrough_count(const lstar_dataset *ds) { return ds ? ds->npts : 0; }
lstar_passthrough *lstar_dataset_passthrough_at(const lstar_dataset *ds, size_t i) {
    return ds && i < ds->npts ? ds->pts[i] : NULL;
}
lstar_passthrough *lstar_dataset_passthrough(const lstar_dataset *ds, const char *ns) {
    if (!ds) return NULL;
    size_t i = lstar_namemap_find(&ds->pt_map, ns);
    return i == SIZE_MAX ? NULL : ds->pts[i];
}
const char *lstar_passthrough_namespace(const lstar_passthrough *p) { return p ? p->ns : NULL; }
const char *lstar_passthrough_tree(const lstar_passthrough *p) { return p ? p->tree : NULL; }

lstar_status lstar_passthrough_add_leaf(lstar_passthrough *p, const char *id, const char *kind, lstar_array *arr,
                                        lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char where[WHERE_MAX];
    char *cid = NULL, *ckind = NULL;
    where[0] = '\0';
    if (!p || !id || !id[0] || !kind || !arr) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "passthrough", "leaf needs a namespace, id, kind and array");
        goto done;
    }
    where_of(where, "passthrough", p->ns);
    int is_utf8 = strcmp(kind, "utf8") == 0;
    if (!is_utf8 && strcmp(kind, "dense") != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "leaf '%s': kind '%s' is not dense or utf8", id, kind);
        goto done;
    }
    if (is_utf8 != (lstar_array_dtype(arr) == LSTAR_DTYPE_STRING)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, where, "leaf '%s': kind %s does not match dtype %s", id, kind,
                        lstar_dtype_name(lstar_array_dtype(arr)));
        goto done;
    }
    if (lstar_namemap_find(&p->leaf_map, id) != SIZE_MAX) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, where, "leaf '%s' already exists", id);
        goto done;
    }
    LSTAR_CHECK(lstar_model_grow((void **)&p->leaves, &p->cap_leaves, p->nleaves, sizeof *p->leaves, err));
    cid = lstar_strdup(id);
    ckind = lstar_strdup(is_utf8 ? "utf8" : "dense");
    if (!cid || !ckind) {
        st = LSTAR_NOMEM(err, where);
        goto done;
    }
    LSTAR_CHECK(lstar_namemap_put(&p->leaf_map, cid, p->nleaves, err));
    p->leaves[p->nleaves].id = cid;
    p->leaves[p->nleaves].kind = ckind;
    p->leaves[p->nleaves].array = arr;
    p->nleaves++;
    cid = ckind = NULL;
    arr = NULL;
done:
    if (st != LSTAR_OK && where[0]) lstar_err_add_where(err, where);
    lstar_free(cid);
    lstar_free(ckind);
    lstar_array_free(arr);
    return st;
}

size_t lstar_passthrough_leaf_count(const lstar_passthrough *p) { return p ? p->nleaves : 0; }
const char *lstar_passthrough_leaf_id(const lstar_passthrough *p, size_t i) {
    return p && i < p->nleaves ? p->leaves[i].id : NULL;
}
const char *lstar_passthrough_leaf_kind(const lstar_passthrough *p, size_t i) {
    return p && i < p->nleaves ? p->leaves[i].kind : NULL;
}
lstar_array *lstar_passthrough_leaf(const lstar_passthrough *p, size_t i) {
    return p && i < p->nleaves ? p->leaves[i].array : NULL;
}
