/* lstar_h5z_delta.h — lstar's delta HDF5 filter: id and cd_values layout.
 *
 * Element-wise delta coding of integer chunks with exactly the semantics and bytes of numcodecs
 * Delta(dtype=X, astype=X): the first element is kept, every following element is replaced by its
 * difference to the previous one in the same type (wrapping modulo 2^bits).  Chunks are little
 * endian.  Meant for sorted CSR/CSC indices and indptr, usually as delta + shuffle(2) + zstd(32015).
 *
 * The id is in the range The HDF Group leaves unregistered (32768-65535, "non-distributed uses"):
 * it is not registered, and a different private filter could use the same number.
 *
 *     H5Pset_filter(dcpl, LSTAR_H5Z_DELTA_ID, H5Z_FLAG_MANDATORY, 0, NULL);  // set_local fills cd_values
 *
 * cd_values (set by set_local from the dataset's datatype; see filters/delta/README.md):
 *   [0] element size in bytes: 1, 2, 4 or 8
 *   [1] 1 = signed integers, 0 = unsigned (the bytes are the same either way; kept for readers
 *       that want to rebuild the numcodecs configuration)
 *   [2] chunk size in bytes, low 32 bits
 *   [3] chunk size in bytes, high 32 bits (0 while HDF5 limits chunks to 4 GiB - 1)
 * Decoding checks the element size and, when [2..3] are not both 0, the chunk size: HDF5 1.10 does
 * not check what a filter pipeline returns, so a short chunk would otherwise be read past its end.
 * Delta must come before every filter that changes the byte count: set_local refuses otherwise.
 */
#ifndef LSTAR_H5Z_DELTA_H
#define LSTAR_H5Z_DELTA_H

#define LSTAR_H5Z_DELTA_ID 56855 /* 0xDE17, unregistered */
#define LSTAR_H5Z_DELTA_CD_NELMTS 4

#endif
