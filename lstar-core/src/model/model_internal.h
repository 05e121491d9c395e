/* Internal: shared by the element layer (array.c), the model (model.c) and
 * validation (validate.c).  Not API. */
#ifndef LSTAR_INTERNAL_MODEL_H
#define LSTAR_INTERNAL_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/model.h"
#include "lstar/status.h"
#include "common/json.h"

/* Product of shape[0..rank) into *elems (1 for rank 0, 0 if any dimension is
 * 0); LSTAR_ERR_LIMIT if it overflows 64 bits. */
lstar_status lstar_model_shape_elems(int rank, const uint64_t *shape, uint64_t *elems, lstar_error *err);


/* ---- name → index map (open addressing, FNV-1a, load ≤ 1/2) -------------- */

typedef struct lstar_namemap_slot {
    const char *name; /* borrowed from the named object; NULL = empty slot */
    size_t index;
} lstar_namemap_slot;

typedef struct lstar_namemap {
    lstar_namemap_slot *slots; /* cap entries, lstar_malloc'd */
    size_t cap;                /* 0 or a power of two */
    size_t count;
} lstar_namemap;

/* Index of `name`, or SIZE_MAX if absent. */
size_t lstar_namemap_find(const lstar_namemap *m, const char *name);
/* Insert (name must not be present; `name` must outlive the map entry). */
lstar_status lstar_namemap_put(lstar_namemap *m, const char *name, size_t index, lstar_error *err);
void lstar_namemap_destroy(lstar_namemap *m);

/* ---- model objects ---------------------------------------------------------- */

/* The value-array slots of a field, in the order of lstar_model_array_names. */
enum {
    LSTAR_FA_VALUES = 0,
    LSTAR_FA_DATA,
    LSTAR_FA_INDICES,
    LSTAR_FA_INDPTR,
    LSTAR_FA_ROW,
    LSTAR_FA_COL,
    LSTAR_FA_WEIGHT,
    LSTAR_FA_CODES,
    LSTAR_FA_CATEGORIES,
    LSTAR_FA_MASK,
    LSTAR_FA_INDEX,
    LSTAR_FA_COUNT_
};
/* Slot of an array name, or -1. */
int lstar_model_array_slot(const char *name);
/* Name of slot i (static). */
const char *lstar_model_array_name(int slot);

struct lstar_axis {
    char *name;
    lstar_strings labels;
    char *origin, *role, *induced_by; /* NULL = unset */
    char *provenance;                 /* compact JSON object text; NULL = {} */
};

struct lstar_field {
    char *name;
    lstar_encoding encoding;
    size_t nspan;
    char **span;
    char *role, *state, *subtype, *uncertainty, *index_axis; /* NULL = unset */
    char *provenance;                                       /* NULL = {} */
    int directed, weighted, ordered;                        /* 0, 1 or LSTAR_UNSET */
    int shape_rank;                                         /* -1 = no shape attribute */
    uint64_t shape[LSTAR_MAX_RANK];
    lstar_array *arrays[LSTAR_FA_COUNT_];
};

typedef struct lstar_pt_leaf {
    char *id;
    char *kind; /* "dense" | "utf8" */
    lstar_array *array;
} lstar_pt_leaf;

struct lstar_passthrough {
    char *ns;
    char *tree; /* JSON text, verbatim */
    lstar_pt_leaf *leaves;
    size_t nleaves, cap_leaves;
    lstar_namemap leaf_map;
};

typedef struct lstar_attachment {
    void *ptr;
    void (*release)(void *);
} lstar_attachment;

struct lstar_dataset {
    lstar_kind kind;
    char *spec_version; /* never NULL after lstar_dataset_new */
    char **profiles;
    size_t nprofiles, cap_profiles;
    char **dropped;
    size_t ndropped, cap_dropped;
    lstar_axis **axes;
    size_t naxes, cap_axes;
    lstar_namemap axis_map;
    lstar_field **fields;
    size_t nfields, cap_fields;
    lstar_namemap field_map;
    lstar_passthrough **pts;
    size_t npts, cap_pts;
    lstar_namemap pt_map;
    lstar_attachment *attached;
    size_t nattached, cap_attached;
};

/* Grow *items (elements of `size` bytes, *cap in elements) to hold one more. */
lstar_status lstar_model_grow(void **items, size_t *cap, size_t n, size_t size, lstar_error *err);

#endif
