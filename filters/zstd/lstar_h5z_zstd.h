/* lstar_h5z_zstd.h — lstar's Zstandard HDF5 filter (registered id 32015): id and cd_values layout.
 *
 * The plugin library (liblstar_h5z_zstd.so) is loaded by HDF5 from HDF5_PLUGIN_PATH; applications
 * only need these constants to add the filter to a dataset creation property list:
 *
 *     unsigned cd[1] = {5};   // level
 *     H5Pset_filter(dcpl, LSTAR_H5Z_ZSTD_ID, H5Z_FLAG_MANDATORY, 1, cd);
 *
 * Chunk format: one zstd frame (RFC 8878) per chunk with the content size in the frame header and no
 * checksum — the format of the HDF Group's H5Zzstd plugin, hdf5plugin.Zstd and numcodecs Zstd.
 *
 * cd_values (see filters/zstd/README.md):
 *   [0] compression level as a two's-complement int (default 3; 0 = zstd's default; negative = fast)
 *   set_local appends, when it creates the dataset:
 *   [1] LSTAR_H5Z_ZSTD_MARKER ("LSZ1"), saying that [2] and [3] are ours
 *   [2] decoded chunk size in bytes, low 32 bits  } 0 when the size zstd sees is not the chunk
 *   [3] decoded chunk size in bytes, high 32 bits }   size (see README)
 * Files with only [0] (written by other zstd filters) are read too.
 */
#ifndef LSTAR_H5Z_ZSTD_H
#define LSTAR_H5Z_ZSTD_H

#define LSTAR_H5Z_ZSTD_ID 32015
#define LSTAR_H5Z_ZSTD_DEFAULT_LEVEL 3
#define LSTAR_H5Z_ZSTD_MARKER 0x4C535A31u /* "LSZ1" */
#define LSTAR_H5Z_ZSTD_CD_NELMTS 4

#endif
