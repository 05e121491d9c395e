/* Fuzz target: JSON passthrough trees.
 *
 * Input: JSON text.  Checks that the allocation-free syntax checker
 * (lstar_json_valid, used to tell allocation failures from syntax errors)
 * agrees with jansson: text it accepts must parse, and NUL-free text jansson
 * parses within the depth limit must be accepted.  A tree the model accepts is
 * then written as a passthrough namespace to a memory L★ store and read
 * back: the tree must come back as the same JSON value. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/json.h"
#include "fuzz_common.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"

/* Nesting depth of a parsed value (a scalar is depth 0). */
static size_t depth_of(const json_t *v) {
    size_t d = 0;
    if (json_is_object(v)) {
        const char *k;
        const json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t e = depth_of(x);
            if (e > d) d = e;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t e = depth_of(json_array_get(v, i));
            if (e > d) d = e;
        }
        return d + 1;
    }
    return 0;
}

static void round_trip(const char *text, const json_t *want) {
    lstar_dataset *ds = NULL, *back = NULL;
    lstar_store *s = NULL;
    if (lstar_dataset_new(&ds, NULL) != LSTAR_OK) return;
    if (lstar_dataset_add_passthrough(ds, "fuzz.tree", text, NULL, NULL) != LSTAR_OK) goto done;
    if (lstar_store_new_memory(&s, NULL) != LSTAR_OK) goto done;
    if (lstar_dataset_write_store(ds, s, NULL, NULL) != LSTAR_OK) goto done;
    lstar_status st = lstar_dataset_read_store(s, &back, NULL);
    s = NULL; /* owned by `back` now, also on failure */
    FUZZ_CHECK(st == LSTAR_OK);
    const lstar_passthrough *p = lstar_dataset_passthrough(back, "fuzz.tree");
    FUZZ_CHECK(p != NULL);
    json_t *got = json_loads(lstar_passthrough_tree(p), JSON_DECODE_ANY, NULL);
    FUZZ_CHECK(got != NULL);
    FUZZ_CHECK(json_equal(got, (json_t *)want));
    json_decref(got);
done:
    lstar_dataset_free(back);
    lstar_dataset_free(ds);
    lstar_store_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    int valid = lstar_json_valid((const char *)data, size);
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    int has_nul = memchr(data, 0, size) != NULL;
    /* the checker rejects NUL bytes (the model parses C strings); jansson stops at one */
    if (valid) FUZZ_CHECK(v != NULL);
    if (v && !has_nul && depth_of(v) <= LSTAR_MAX_JSON_DEPTH) FUZZ_CHECK(valid);
    if (v && !has_nul) {
        char *text = lstar_malloc(size + 1);
        if (text) {
            memcpy(text, data, size);
            text[size] = '\0';
            round_trip(text, v);
            lstar_free(text);
        }
    }
    json_decref(v);
    return 0;
}
