/* Shared by the fuzz targets in tests/fuzz/ (see docs/internals/fuzzing.md).
 *
 * Every target defines LLVMFuzzerTestOneInput and is linked either with
 * libFuzzer (-DLSTAR_FUZZ=ON, clang) or with replay_main.c, which runs every
 * file of tests/fuzz/corpus/<target>/ once (CTest: fuzz_replay_<target>).
 * A target may return any status from the library; what it must not do is
 * crash, trip a sanitizer, leak, or break one of its own consistency checks
 * (FUZZ_CHECK aborts so that libFuzzer records the input). */
#ifndef LSTAR_FUZZ_COMMON_H
#define LSTAR_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>

#include "lstar/store.h"

/* Largest decoded buffer a target asks for: keeps every input fast. */
#define FUZZ_MAX_DECODED ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() with a message when `cond` is false: a target's own invariant broke. */
#define FUZZ_CHECK(cond) fuzz_check((cond), #cond, __FILE__, __LINE__)
void fuzz_check(int cond, const char *what, const char *file, int line);

/* A memory store holding the objects of a record stream: records of
 * [u8 key length][key][u32 little-endian value length][value], until the
 * input ends (a short last record is cut at the end of the input; empty
 * keys and keys the store refuses are skipped).  NULL only on allocation
 * failure.  tests/fuzz/gen_corpus.py writes such streams from directories. */
lstar_store *fuzz_store_from_records(const uint8_t *data, size_t size);

/* Read little-endian integers of 1..8 bytes from *p, advancing it; bytes past
 * `end` read as 0. */
uint64_t fuzz_take_le(const uint8_t **p, const uint8_t *end, int nbytes);

#endif
