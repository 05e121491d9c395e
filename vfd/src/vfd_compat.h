/* Internal: everything that depends on the HDF5 release's virtual file driver
 * interface, in one place (style.md: "keep H5FD_class_t behind one small
 * compat header and pin the supported range").
 *
 * Supported and tested: HDF5 1.10.x (Debian 12's 1.10.8).
 * Compiles, untested: 1.12.x (no version/value fields, has `del`) and 1.14.x
 * (H5FD_class_t moved to H5FDdevelop.h; `version`, `value`, vector /
 * selection I/O, `ctl`; dynamically loaded VFD plugins).
 * Refused at compile time: < 1.10.3 (no H5Dwrite_chunk) and >= 2.0 (VFL
 * changes not reviewed).
 *
 * Driver tables are written with designated initialisers, so only members
 * that some supported release lacks need a macro here. */
#ifndef LSTAR_VFD_COMPAT_H
#define LSTAR_VFD_COMPAT_H
#include <hdf5.h>

#if !H5_VERSION_GE(1, 10, 3)
#error "the lstar VFD needs HDF5 >= 1.10.3 (H5Dwrite_chunk)"
#endif
#if H5_VERSION_GE(2, 0, 0)
#error "the lstar VFD has not been reviewed against the HDF5 2.x virtual file layer"
#endif

#if H5_VERSION_GE(1, 13, 2)
#include <H5FDdevelop.h> /* H5FD_class_t, H5FD_t moved here in 1.13/1.14 */
#define LSTAR_VFD_HAVE_PLUGINS 1
/* Leading members of H5FD_class_t that 1.14 added. */
#define LSTAR_H5FD_CLASS_HEAD(val) .version = H5FD_CLASS_VERSION, .value = (H5FD_class_value_t)(val),
#else
#define LSTAR_VFD_HAVE_PLUGINS 0
#define LSTAR_H5FD_CLASS_HEAD(val)
#endif

/* Push a driver error on HDF5's default error stack (the library's own error
 * class, major "virtual file layer"): what HDF5 tools and h5py print. */
#define LSTAR_VFD_PUSH(minor, ...)                                                                            \
    H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, H5E_VFL, (minor), __VA_ARGS__)

#endif
