/* The Zarr backend of lstar_array: an lstar_zarr_array behind the element layer. */
#include <string.h>

#include "common/error.h"
#include "lstar/array.h"
#include "zarr/zarr_internal.h"

static lstar_status zb_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err) {
    return lstar_zarr_array_read(ctx, start, count, out, err);
}

static lstar_status zb_read_strings(void *ctx, uint64_t start, uint64_t count, lstar_strings *out,
                                    lstar_error *err) {
    return lstar_zarr_array_read_strings(ctx, start, count, out, err);
}

static void zb_close(void *ctx) { lstar_zarr_array_close(ctx); }

static struct lstar_zarr_array *zb_zarr(void *ctx) { return ctx; }

static const lstar_array_ops k_zarr_ops = {
    LSTAR_ARRAY_OPS_VERSION, "zarr", zb_read, zb_read_strings, zb_close, zb_zarr,
};

lstar_status lstar_array_from_zarr(struct lstar_zarr_array *za, lstar_array **out, lstar_error *err) {
    if (out) *out = NULL;
    if (!za || !out) {
        lstar_zarr_array_close(za);
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_array_from_zarr: invalid arguments");
    }
    lstar_array_info info;
    memset(&info, 0, sizeof info);
    info.dtype = za->dtype;
    info.rank = za->rank;
    for (int d = 0; d < za->rank; d++) {
        info.shape[d] = za->shape[d];
        info.block[d] = za->chunks[d];
    }
    return lstar_array_from_ops(&k_zarr_ops, za, &info, out, err);
}
