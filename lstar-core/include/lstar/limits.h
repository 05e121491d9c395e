/* lstar/limits.h — every cap the library enforces, with the reason for it.
 * Sizes read from files are checked against these before anything is allocated. */
#ifndef LSTAR_LIMITS_H
#define LSTAR_LIMITS_H

/* Largest metadata document (.zarray, zarr.json, .zmetadata …) we parse: consolidated
 * metadata of huge stores stays well under this; a bigger file is hostile. */
#define LSTAR_MAX_METADATA_BYTES (256u * 1024u * 1024u)
/* Deepest JSON nesting accepted in metadata and passthrough trees. */
#define LSTAR_MAX_JSON_DEPTH 512
/* Maximum array rank (HDF5's own limit is 32). */
#define LSTAR_MAX_RANK 32
/* Largest decoded chunk (and largest encoded chunk object) we allocate: one
 * chunk must fit in memory several times over per thread. */
#define LSTAR_MAX_CHUNK_BYTES ((unsigned long long)2 * 1024 * 1024 * 1024)
/* Largest number of elements in one string array held in memory (labels). */
#define LSTAR_MAX_STRING_ITEMS ((unsigned long long)1 << 31)
/* Largest single string item. */
#define LSTAR_MAX_STRING_BYTES (64u * 1024u * 1024u)
/* Longest store key / array path. */
#define LSTAR_MAX_KEY_BYTES 4096
/* Largest zip central directory we read into memory (entries are metadata). */
#define LSTAR_MAX_ZIP_CDIR_BYTES (512u * 1024u * 1024u)
/* Most inner chunks per shard (the shard index is held in memory). */
#define LSTAR_MAX_SHARD_CHUNKS ((unsigned long long)1 << 26)
/* Most worker threads. */
#define LSTAR_MAX_THREADS 256
/* Default target elements per chunk for arrays we write when the caller says 0
 * and streaming is needed (matches upstream stream=True). */
#define LSTAR_DEFAULT_STREAM_CHUNK_ELEMS 1000000u

#endif
