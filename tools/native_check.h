/* tools/native_check.h — open a conversion result in its native library and
 * compare it with what was meant to be written (`lstar convert --check`).
 *
 * Two halves:
 *  1. native_check_spec (C, public lstar API only): the expectations, computed
 *     from the dataset that was written — the axes' lengths and a CRC-32 of
 *     their names, the field list, and the checksum of X streamed block by
 *     block from its value arrays;
 *  2. native_check_run: runs the Python checker (tools/lstar_check.py, installed
 *     as <datadir>/lstar/lstar_check.py) with /usr/bin/python3, feeding it the
 *     spec as JSON on stdin; it opens the result with anndata (h5ad,
 *     anndata-zarr) or zarr-python (L★ store, Zarr v2), recomputes the same
 *     values and prints {"status": "pass"|"fail"|"skip", "detail": "…"}.
 *
 * Names CRC: zlib crc32 over the concatenation of every name's UTF-8 bytes,
 * each followed by one NUL byte.
 * X checksum: over every stored value of X (dense: every element; csr/csc:
 * every entry of `data`, explicit zeros included) read as float64:
 *   nonzero    number of values != 0 (NaN counts as nonzero)   exact
 *   nonfinite  number of NaN / ±Inf values                     exact
 *   abssum     Σ|v| over the finite values        relative tolerance 1e-6
 *   sum        Σv over the finite values          |Δ| ≤ 1e-6 · abssum
 * plus the logical shape (exact).
 */
#ifndef LSTAR_TOOLS_NATIVE_CHECK_H
#define LSTAR_TOOLS_NATIVE_CHECK_H
#include <jansson.h>

#include "lstar/lstar.h"

/* What was written. */
typedef enum native_check_container {
    NATIVE_CHECK_H5AD = 0,
    NATIVE_CHECK_ANNDATA_ZARR = 1,
    NATIVE_CHECK_LSTAR = 2
} native_check_container;

/* Status words of the report. */
#define NATIVE_CHECK_PASS "pass"
#define NATIVE_CHECK_FAIL "fail"
#define NATIVE_CHECK_SKIP "skip"

typedef struct native_check_result {
    char status[8];     /* "pass" | "fail" | "skip" */
    char detail[2048];  /* one sentence */
} native_check_result;

/* The report's native_check.format for a container: "anndata" or "store". */
const char *native_check_format(native_check_container c);

/* Build the checker's input for `ds` written at `path` (new reference in
 * *out).  Reads X once more, block by block (memory: one block of about 1M
 * values); `progress` (may be NULL) gets values done / total.  Fails only
 * when X cannot be read (err filled, where = the field's array). */
lstar_status native_check_spec(const lstar_dataset *ds, native_check_container c, const char *path,
                               int zarr_format, lstar_progress_fn progress, void *progress_ud, json_t **out,
                               lstar_error *err);

/* Run the checker on `spec`; never fails: a checker that cannot run gives
 * "skip" (no Python, no script) or "fail" (it crashed) with the reason. */
void native_check_run(const json_t *spec, native_check_result *res);


#endif
