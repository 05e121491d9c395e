/* Fuzz target: the L★ store reader (root "lstar" attribute, axis / field /
 * passthrough group attributes, the arrays they name) on a memory store.
 *
 * Input: a record stream (fuzz_common.h) giving the store's objects; the
 * corpus holds the golden v2/v3 stores from ../shared/data, synthetic
 * stores and edits of them.  The dataset is read lazily, validated, and a
 * few leading elements of every field array are read. */
#include <string.h>

#include "fuzz_common.h"
#include "lstar/alloc.h"
#include "lstar/array.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/strings.h"

static const char *const array_names[] = {"values", "data", "indices", "indptr", "codes",
                                          "mask",   "index", "row",    "col"};

static void touch_array(const lstar_array *a) {
    if (!a) return;
    int rank = lstar_array_rank(a);
    const uint64_t *shape = lstar_array_shape(a);
    if (rank != 1 || shape[0] == 0) return;
    uint64_t count = shape[0] < 16 ? shape[0] : 16;
    if (lstar_array_dtype(a) == LSTAR_DTYPE_STRING) {
        lstar_strings s;
        if (lstar_array_read_strings(a, 0, count, &s, NULL) == LSTAR_OK) {
            FUZZ_CHECK(s.n == count);
            lstar_strings_destroy(&s);
        }
        return;
    }
    double buf[16];
    (void)lstar_array_read_1d_as(a, 0, count, LSTAR_DTYPE_FLOAT64, buf, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lstar_store *s = fuzz_store_from_records(data, size);
    if (!s) return 0;
    lstar_dataset *ds = NULL;
    (void)lstar_store_is_lstar(s);
    /* the dataset owns the store from here on, also when the read fails */
    if (lstar_dataset_read_store(s, &ds, NULL) == LSTAR_OK) {
        lstar_findings *fs = NULL;
        if (lstar_dataset_validate(ds, &fs, NULL) == LSTAR_OK) {
            FUZZ_CHECK(lstar_findings_errors(fs) + lstar_findings_warnings(fs) == lstar_findings_count(fs));
            lstar_findings_free(fs);
        }
        for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
            const lstar_field *f = lstar_dataset_field_at(ds, i);
            FUZZ_CHECK(lstar_field_name(f) && lstar_field_provenance(f));
            for (size_t k = 0; k < sizeof array_names / sizeof *array_names; k++)
                touch_array(lstar_field_array(f, array_names[k]));
        }
        for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++) {
            const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
            FUZZ_CHECK(lstar_passthrough_tree(p) != NULL);
            for (size_t k = 0; k < lstar_passthrough_leaf_count(p); k++) touch_array(lstar_passthrough_leaf(p, k));
        }
        lstar_dataset_free(ds);
    }
    return 0;
}
