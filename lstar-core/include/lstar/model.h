/* lstar/model.h — the L★ model: a dataset of axes and typed fields.
 *
 * Ownership: the dataset owns its axes, fields and passthrough namespaces;
 * handles returned by getters are borrowed and live as long as the dataset.
 * Strings passed in are copied.  JSON values (provenance) travel as JSON text.
 * Attribute strings that are "unset" are NULL (on read, absent / null / ""
 * all become NULL).
 *
 * Thread safety: a dataset may be read from several threads at once; changes
 * must not race with anything.
 */
#ifndef LSTAR_MODEL_H
#define LSTAR_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/array.h"
#include "lstar/status.h"
#include "lstar/strings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_dataset lstar_dataset;
typedef struct lstar_axis lstar_axis;
typedef struct lstar_field lstar_field;
typedef struct lstar_passthrough lstar_passthrough;

#define LSTAR_SPEC_VERSION "0.1"

typedef enum lstar_kind { LSTAR_KIND_SAMPLE = 0, LSTAR_KIND_COLLECTION = 1 } lstar_kind;

/* Append-only. */
typedef enum lstar_encoding {
    LSTAR_ENC_DENSE = 0,       /* arrays: values */
    LSTAR_ENC_CSR = 1,         /* data, indices, indptr (indptr over span[0]) */
    LSTAR_ENC_CSC = 2,         /* data, indices, indptr (indptr over span[1]) */
    LSTAR_ENC_COO = 3,         /* row, col, weight (read only) */
    LSTAR_ENC_UTF8 = 4,        /* values (STRING array) */
    LSTAR_ENC_CATEGORICAL = 5, /* codes (int, -1 missing), categories (STRING array) */
    LSTAR_ENC_COUNT_
} lstar_encoding;

/* "dense", "csr", …  Static string; NULL for invalid values. */
const char *lstar_encoding_name(lstar_encoding e);
/* Parses the names above; -1 if unknown. */
int lstar_encoding_from_name(const char *name);

/* Tri-state for directed/weighted/ordered: absent/null is LSTAR_UNSET. */
#define LSTAR_UNSET (-1)

/* ---- dataset ------------------------------------------------------------ */

lstar_status lstar_dataset_new(lstar_dataset **out, lstar_error *err);
void lstar_dataset_free(lstar_dataset *ds); /* NULL accepted; frees everything it owns */

lstar_kind lstar_dataset_kind(const lstar_dataset *ds);
void lstar_dataset_set_kind(lstar_dataset *ds, lstar_kind kind);
const char *lstar_dataset_spec_version(const lstar_dataset *ds); /* "0.1" by default */
lstar_status lstar_dataset_set_spec_version(lstar_dataset *ds, const char *v, lstar_error *err);

size_t lstar_dataset_profile_count(const lstar_dataset *ds);
const char *lstar_dataset_profile(const lstar_dataset *ds, size_t i);
lstar_status lstar_dataset_add_profile(lstar_dataset *ds, const char *profile, lstar_error *err);
size_t lstar_dataset_dropped_count(const lstar_dataset *ds);
const char *lstar_dataset_dropped(const lstar_dataset *ds, size_t i);
lstar_status lstar_dataset_add_dropped(lstar_dataset *ds, const char *what, lstar_error *err);

/* Resources the dataset keeps alive (e.g. the store its lazy arrays read
 * from): `release(ptr)` is called when the dataset is freed, in reverse order. */
lstar_status lstar_dataset_attach(lstar_dataset *ds, void *ptr, void (*release)(void *), lstar_error *err);

/* ---- axes ---------------------------------------------------------------- */

/* Add an axis (kept in insertion order) with the given labels; takes the
 * contents of *labels (left zeroed; destroyed on failure).  LSTAR_ERR_EXISTS
 * if the name is taken. */
lstar_status lstar_dataset_add_axis(lstar_dataset *ds, const char *name, lstar_strings *labels,
                                    lstar_axis **out, lstar_error *err);
size_t lstar_dataset_axis_count(const lstar_dataset *ds);
lstar_axis *lstar_dataset_axis_at(const lstar_dataset *ds, size_t i);
lstar_axis *lstar_dataset_axis(const lstar_dataset *ds, const char *name); /* NULL if absent */

const char *lstar_axis_name(const lstar_axis *a);
uint64_t lstar_axis_length(const lstar_axis *a);
const lstar_strings *lstar_axis_labels(const lstar_axis *a);
const char *lstar_axis_origin(const lstar_axis *a);     /* "observed" | "derived" | NULL */
const char *lstar_axis_role(const lstar_axis *a);       /* "observation", "feature", "coordinate", "factor", "sample", … */
const char *lstar_axis_induced_by(const lstar_axis *a); /* inducing field name or NULL */
const char *lstar_axis_provenance(const lstar_axis *a); /* JSON object text, never NULL ("{}") */
lstar_status lstar_axis_set_origin(lstar_axis *a, const char *origin, lstar_error *err);
lstar_status lstar_axis_set_role(lstar_axis *a, const char *role, lstar_error *err);
lstar_status lstar_axis_set_induced_by(lstar_axis *a, const char *field, lstar_error *err);
/* JSON object text; NULL = {}.  LSTAR_ERR_INVALID_ARG if not a JSON object. */
lstar_status lstar_axis_set_provenance(lstar_axis *a, const char *json, lstar_error *err);

/* ---- fields ------------------------------------------------------------- */

/* Add a field (kept in insertion order) over `nspan` axis names (copied; the
 * axes need not exist yet — validation checks).  LSTAR_ERR_EXISTS if taken. */
lstar_status lstar_dataset_add_field(lstar_dataset *ds, const char *name, lstar_encoding enc, size_t nspan,
                                     const char *const *span, lstar_field **out, lstar_error *err);
size_t lstar_dataset_field_count(const lstar_dataset *ds);
lstar_field *lstar_dataset_field_at(const lstar_dataset *ds, size_t i);
lstar_field *lstar_dataset_field(const lstar_dataset *ds, const char *name);

const char *lstar_field_name(const lstar_field *f);
lstar_encoding lstar_field_encoding(const lstar_field *f);
size_t lstar_field_span_count(const lstar_field *f);
const char *lstar_field_span(const lstar_field *f, size_t i);
const char *lstar_field_role(const lstar_field *f);     /* open vocabulary, incl. "x-…"; NULL = unset */
const char *lstar_field_state(const lstar_field *f);    /* raw | lognorm | scaled | clr | other | NULL */
const char *lstar_field_subtype(const lstar_field *f);
const char *lstar_field_uncertainty(const lstar_field *f);
const char *lstar_field_index_axis(const lstar_field *f); /* non-NULL iff coverage is partial */
const char *lstar_field_coverage(const lstar_field *f);   /* "full" | "partial" */
const char *lstar_field_provenance(const lstar_field *f); /* JSON object text, never NULL */
int lstar_field_directed(const lstar_field *f);           /* 0, 1 or LSTAR_UNSET */
int lstar_field_weighted(const lstar_field *f);
int lstar_field_ordered(const lstar_field *f);            /* categorical only */
int lstar_field_nullable(const lstar_field *f);           /* 1 iff a mask array is present */
/* Logical shape: the `shape` attribute when set, else derived from the value
 * arrays (dense values shape; utf8/categorical length).  Returns rank; dims
 * filled up to `max`. */
int lstar_field_shape(const lstar_field *f, uint64_t *dims, int max);

lstar_status lstar_field_set_role(lstar_field *f, const char *role, lstar_error *err);
lstar_status lstar_field_set_state(lstar_field *f, const char *state, lstar_error *err);
lstar_status lstar_field_set_subtype(lstar_field *f, const char *subtype, lstar_error *err);
lstar_status lstar_field_set_uncertainty(lstar_field *f, const char *name, lstar_error *err);
/* Partial coverage along `axis` (must be in the span) with the `index` array
 * set via lstar_field_set_array(f, "index", …); NULL = full coverage. */
lstar_status lstar_field_set_index_axis(lstar_field *f, const char *axis, lstar_error *err);
lstar_status lstar_field_set_provenance(lstar_field *f, const char *json, lstar_error *err);
void lstar_field_set_directed(lstar_field *f, int v);
void lstar_field_set_weighted(lstar_field *f, int v);
void lstar_field_set_ordered(lstar_field *f, int v);
/* Record the logical `shape` attribute (sparse/utf8/categorical/dense). */
lstar_status lstar_field_set_shape(lstar_field *f, int rank, const uint64_t *dims, lstar_error *err);

/* Value arrays by name: "values", "data", "indices", "indptr", "row", "col",
 * "weight", "codes", "categories", "mask", "index".  set takes ownership of
 * `arr` (replacing any previous one; freed on failure); NULL removes. */
lstar_status lstar_field_set_array(lstar_field *f, const char *name, lstar_array *arr, lstar_error *err);
lstar_array *lstar_field_array(const lstar_field *f, const char *name); /* borrowed; NULL if absent */
/* The names of the arrays this field's encoding uses, NULL-terminated static list
 * (mask/index excluded). */
const char *const *lstar_encoding_arrays(lstar_encoding e);

/* Rule 2: induce the factor axis of categorical label `field` (axis named like
 * the field, labels = categories in order, origin "derived", role "factor",
 * induced_by = field).  With `guard` set, skip (return LSTAR_OK, *induced = 0)
 * when k > 0.5·n and k > 100 (identifier-like).  An existing axis with the same
 * name and labels is reused; with different labels → LSTAR_ERR_VALIDATION.
 * `induced` may be NULL. */
lstar_status lstar_dataset_induce_factor(lstar_dataset *ds, const char *field, int guard, int *induced,
                                         lstar_error *err);

/* ---- passthrough ---------------------------------------------------------- */

/* A verbatim namespace (e.g. "anndata.uns"): the node-grammar tree as JSON text
 * plus leaf arrays ("a0", "a1", … of kind "dense" or "utf8"). */
lstar_status lstar_dataset_add_passthrough(lstar_dataset *ds, const char *ns, const char *tree_json,
                                           lstar_passthrough **out, lstar_error *err);
size_t lstar_dataset_passthrough_count(const lstar_dataset *ds);
lstar_passthrough *lstar_dataset_passthrough_at(const lstar_dataset *ds, size_t i);
lstar_passthrough *lstar_dataset_passthrough(const lstar_dataset *ds, const char *ns);
const char *lstar_passthrough_namespace(const lstar_passthrough *p);
const char *lstar_passthrough_tree(const lstar_passthrough *p); /* JSON text, as stored */
/* Add a leaf; takes ownership of `arr` (freed on failure). kind: "dense" | "utf8". */
lstar_status lstar_passthrough_add_leaf(lstar_passthrough *p, const char *id, const char *kind, lstar_array *arr,
                                        lstar_error *err);
size_t lstar_passthrough_leaf_count(const lstar_passthrough *p);
const char *lstar_passthrough_leaf_id(const lstar_passthrough *p, size_t i);
const char *lstar_passthrough_leaf_kind(const lstar_passthrough *p, size_t i);
lstar_array *lstar_passthrough_leaf(const lstar_passthrough *p, size_t i);

/* ---- validation (lstar-format.md §1.9) ------------------------------------ */

typedef enum lstar_severity { LSTAR_SEVERITY_ERROR = 0, LSTAR_SEVERITY_WARNING = 1 } lstar_severity;

typedef struct lstar_finding {
    lstar_severity severity;
    const char *code;    /* stable identifier, e.g. "span-unknown-axis" */
    const char *where;   /* "fields/<name>" or "axes/<name>" */
    const char *message; /* sentence */
} lstar_finding;

typedef struct lstar_findings lstar_findings;

/* Check every invariant.  Returns LSTAR_OK when the checks ran (whatever they
 * found); an error status only when reading values failed.  Free *out with
 * lstar_findings_free. */
lstar_status lstar_dataset_validate(const lstar_dataset *ds, lstar_findings **out, lstar_error *err);
size_t lstar_findings_count(const lstar_findings *f);
const lstar_finding *lstar_findings_at(const lstar_findings *f, size_t i);
size_t lstar_findings_errors(const lstar_findings *f);
size_t lstar_findings_warnings(const lstar_findings *f);
void lstar_findings_free(lstar_findings *f);

#ifdef __cplusplus
}
#endif
#endif
