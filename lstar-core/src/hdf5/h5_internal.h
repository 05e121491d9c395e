/* Internal: shared by the HDF5 backend (src/hdf5/).  Not API.
 *
 * Every public entry point brackets its HDF5 work with h5_enter/h5_leave:
 * they take the library-wide HDF5 lock and switch HDF5's automatic error
 * printing off for the calling thread (restored on leave).  Functions named
 * h5i_* expect the lock to be held. */
#ifndef LSTAR_INTERNAL_H5_H
#define LSTAR_INTERNAL_H5_H
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "lstar/h5.h"

struct lstar_h5_file {
    hid_t fid;
    char *path;         /* as given to open */
    uint64_t userblock;
    int refs;           /* caller + open datasets/arrays; guarded by the HDF5 lock */
    int writable;
};

struct lstar_h5_dataset {
    lstar_h5_file *file; /* counted reference */
    hid_t did;
    char *path;          /* normalised absolute path */
    /* First filter of the pipeline that cannot run here (0 = none). */
    unsigned missing_filter;
    char missing_name[64];
};

typedef struct h5_guard {
    H5E_auto2_t func;
    void *data;
} h5_guard;

/* Take the HDF5 lock and silence HDF5 for this thread. */
void h5_enter(h5_guard *g);
/* Restore HDF5's error printing and release the lock. */
void h5_leave(h5_guard *g);

/* Raise `st` (refined from HDF5's error stack: not-HDF5 → FORMAT, truncated
 * → CORRUPT, missing filter → UNSUPPORTED) with message "<fmt>: <HDF5's
 * innermost description>".  Call it right after the failing HDF5 call,
 * before any other HDF5 call clears the stack. */
lstar_status h5_fail(lstar_error *err, lstar_status st, const char *where, const char *fmt, ...) LSTAR_PRINTF(4, 5);

/* "obs/x" → "/obs/x"; "" → "/"; trailing '/' dropped.  lstar_malloc'd. */
char *h5i_abspath(const char *path);
/* What is at absolute path `abs` (lock held; errors swallowed). */
lstar_h5_node_type h5i_node_type(hid_t fid, const char *abs);
/* Take / drop a file reference (lock held). */
void h5i_file_ref(lstar_h5_file *f);
void h5i_file_unref(lstar_h5_file *f);
/* Open a dataset handle (lock held). */
lstar_status h5i_dataset_open(lstar_h5_file *f, const char *path, lstar_h5_dataset **out, lstar_error *err);
void h5i_dataset_close(lstar_h5_dataset *d);

/* Element classification of a file datatype. */
typedef struct h5_type {
    lstar_h5_type_kind kind;
    lstar_dtype dtype;
    size_t itemsize;
    int big_endian, utf8, str_pad, nmembers;
} h5_type;
void h5i_classify(hid_t ftype, h5_type *t);
/* 1 if `t` is h5py's bool: an enum of 1-byte base with exactly FALSE = 0 and TRUE = 1
 * (errors swallowed). */
int h5i_is_bool_enum(hid_t t);
/* The integer dtype of `size` bytes and signedness `sgn`; LSTAR_DTYPE_INVALID for other sizes. */
lstar_dtype h5i_int_dtype(size_t size, int sgn);
/* Memory type for numeric/bool/complex reads of `dtype` (H5Tclose it). <0 on failure. */
hid_t h5i_memtype(lstar_dtype dtype, hid_t ftype);
/* h5py's bool enum over native int8 (H5Tclose it). */
hid_t h5i_bool_type(void);
/* Vlen string type in `cset` (H5Tclose it). */
hid_t h5i_vlen_str_type(H5T_cset_t cset);

/* Strip fixed-string padding: the length of the item in `p[0..size)`. */
size_t h5i_fixed_len(const char *p, size_t size, int pad);

/* Select flattened C-order elements [start, start+count) of `space` (rank,
 * shape) as a union of at most 2*rank-1 hyperslabs. */
lstar_status h5i_select_flat(hid_t space, int rank, const uint64_t *shape, uint64_t start, uint64_t count,
                             const char *where, lstar_error *err);
/* Read flattened string elements through `memtype` (a string type or a
 * one-member compound whose member is at offset 0); `vlen` selects the
 * pointer layout; `pad` the fixed-string padding rule. */
lstar_status h5i_read_strings(hid_t did, hid_t memtype, int vlen, size_t itemsize, int pad, int rank,
                              const uint64_t *shape, uint64_t start, uint64_t count, lstar_strings *out,
                              const char *where, lstar_error *err);

/* Dataset info (lock held). */
lstar_status h5i_dataset_info(lstar_h5_dataset *d, lstar_h5_dataset_info *info, lstar_error *err);
/* Read a region through `memtype` (lock held). */
lstar_status h5i_read_region(lstar_h5_dataset *d, hid_t memtype, const uint64_t *start, const uint64_t *count,
                             void *out, lstar_error *err);
/* Raise a data-read failure, naming a filter that cannot run (lock held). */
lstar_status h5i_read_fail(lstar_h5_dataset *d, lstar_error *err, const char *what);
/* Memory type for reading a (vlen or fixed) string file type (H5Tclose it). */
hid_t h5i_string_memtype(const h5_type *t);

#endif
