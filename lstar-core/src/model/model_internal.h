/* Internal: shared by the element layer, the model and validation (src/model/). */
#ifndef LSTAR_INTERNAL_MODEL_H
#define LSTAR_INTERNAL_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/status.h"

/* Product of shape[0..rank) into *elems (1 for rank 0, 0 if any dimension is
 * 0); LSTAR_ERR_LIMIT if it overflows 64 bits. */
lstar_status lstar_model_shape_elems(int rank, const uint64_t *shape, uint64_t *elems, lstar_error *err);

#endif
