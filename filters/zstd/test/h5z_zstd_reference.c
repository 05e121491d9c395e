/* h5z_zstd_reference.c — TEST-ONLY HDF5 plugin for filter id 32015 that behaves like the widely
 * used third-party zstd filter (the HDF Group's hdf5_plugins H5Zzstd, also shipped by hdf5plugin):
 * cd_values = [level] only (no set_local), encode = one ZSTD_compress() frame (content size
 * recorded), decode = output sized from ZSTD_getFrameContentSize().  Written independently from its
 * documented behaviour; never installed.  The interop tests load it (alone, through its own
 * HDF5_PLUGIN_PATH) to write "foreign" files that lstar's plugin must read, and to read the files
 * lstar's plugin writes.
 */
#include <H5PLextern.h>
#include <hdf5.h>
#include <zstd.h>

#define REF_ID 32015

static size_t ref_fail(const char *msg) {
    H5Epush2(H5E_DEFAULT, __FILE__, "ref_zstd_filter", __LINE__, H5E_ERR_CLS, H5E_PLINE, H5E_CANTFILTER,
             "reference zstd test filter: %s", msg);
    return 0;
}

static size_t ref_filter(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                         size_t *buf_size, void **buf) {
    void *out = NULL;
    size_t r = 0;
    if (flags & H5Z_FLAG_REVERSE) {
        unsigned long long size = ZSTD_getFrameContentSize(*buf, nbytes);
        if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size == 0 || size > 0xFFFFFFFFull)
            return ref_fail("no usable frame content size");
        out = H5allocate_memory((size_t)size, 0);
        if (!out) return ref_fail("out of memory");
        r = ZSTD_decompress(out, (size_t)size, *buf, nbytes);
    } else {
        int level = cd_nelmts >= 1 ? (int)cd_values[0] : 3;
        size_t bound = ZSTD_compressBound(nbytes);
        out = H5allocate_memory(bound, 0);
        if (!out) return ref_fail("out of memory");
        r = ZSTD_compress(out, bound, *buf, nbytes, level);
    }
    if (ZSTD_isError(r)) {
        H5free_memory(out);
        return ref_fail(ZSTD_getErrorName(r));
    }
    H5free_memory(*buf);
    *buf = out;
    *buf_size = r;
    return r;
}

static const H5Z_class2_t ref_class = {
    H5Z_CLASS_T_VERS, (H5Z_filter_t)REF_ID, 1, 1, "zstd (reference test filter)", NULL, NULL, ref_filter,
};

H5PL_type_t H5PLget_plugin_type(void) { return H5PL_TYPE_FILTER; }
const void *H5PLget_plugin_info(void) { return &ref_class; }
