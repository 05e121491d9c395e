/* L★ store format: options, the first-axis chunking rule, store detection and
 * small helpers shared by the reader and the writer. */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/lstarstore.h"
#include "lstar/zarr.h"
#include "lstarfmt/lstarfmt_internal.h"

void lstar_write_options_init(lstar_write_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->zarr_format = 2;
    o->compression = NULL; /* none */
    o->chunk_elems = 0;
    o->shard_elems = 0;
    o->threads = 0;
    o->overwrite = 0;
    o->consolidate = 1;
    o->progress = NULL;
    o->progress_ud = NULL;
}

uint64_t lstar_chunk_rows(uint64_t chunk_elems, int rank, const uint64_t *shape) {
    if (rank <= 0 || !shape) return 1;
    uint64_t n0 = shape[0];
    if (chunk_elems == 0) return n0;
    uint64_t inner = 1;
    for (int d = 1; d < rank; d++) {
        /* A zero-length trailing dimension holds no elements: count it as 1 so
         * the rule still gives a row count (upstream would divide by zero). */
        uint64_t s = shape[d] ? shape[d] : 1;
        if (inner > UINT64_MAX / s) {
            inner = UINT64_MAX;
            break;
        }
        inner *= s;
    }
    uint64_t rows = chunk_elems / inner;
    if (rows < 1) rows = 1;
    if (rows >= n0) return n0;
    return rows;
}

int lstarfmt_name_ok(const char *name) {
    if (!name || !name[0]) return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, n++) {
        if (*p == '/' || *p == '\\' || *p < 0x20 || *p == 0x7f) return 0;
        if (n >= 1023) return 0;
    }
    return 1;
}

lstar_status lstarfmt_join(char *buf, size_t bufsize, const char *a, const char *b, lstar_error *err) {
    int n;
    if (!a || !a[0])
        n = snprintf(buf, bufsize, "%s", b);
    else
        n = snprintf(buf, bufsize, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= bufsize || (size_t)n >= LSTAR_MAX_KEY_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a, "path of child '%.64s' is too long", b);
    return LSTAR_OK;
}

int lstar_store_is_lstar(lstar_store *store) {
    int yes = 0;
    lstar_zarr *z = NULL;
    char *text = NULL;
    json_t *root = NULL;
    if (!store) return 0;
    if (lstar_zarr_open(store, &z, NULL) != LSTAR_OK) goto done;
    if (lstar_zarr_node_type(z, "", NULL) != LSTAR_ZARR_GROUP) goto done;
    if (lstar_zarr_get_attrs(z, "", &text, NULL) != LSTAR_OK) goto done;
    if (lstar_json_parse(text, strlen(text), "", &root, NULL) != LSTAR_OK) goto done;
    json_t *l = json_object_get(root, "lstar");
    if (!json_is_object(l)) goto done;
    yes = json_is_array(json_object_get(l, "axes")) && json_is_array(json_object_get(l, "fields"));
done:
    json_decref(root);
    lstar_free(text);
    lstar_zarr_close(z);
    return yes;
}
