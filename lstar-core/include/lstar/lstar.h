/* lstar/lstar.h — umbrella header for liblstar. */
#ifndef LSTAR_LSTAR_H
#define LSTAR_LSTAR_H

#include "lstar/version.h"
#include "lstar/status.h"
#include "lstar/limits.h"
#include "lstar/alloc.h"
#include "lstar/dtype.h"
#include "lstar/strings.h"
#include "lstar/store.h"
#include "lstar/codec.h"
#include "lstar/zarr.h"
#include "lstar/array.h"
#include "lstar/sparse.h"
#include "lstar/model.h"
#include "lstar/lstarstore.h"
#include "lstar/pool.h"
#include "lstar/h5.h"
#include "lstar/anndata.h"
#include "lstar/stats.h"
#include "lstar/repack.h"

#endif
