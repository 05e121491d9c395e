/* Shared by the unit and malformed-input tests (tests/support/test_support.c is
 * compiled into every test of tests/unit and tests/malformed).
 *
 *   OKE(expr)            run a call that takes `&e_` as its error record; fail the
 *                        test with the status, where and message unless LSTAR_OK
 *   lt_need(path)        skip the test when shared test data is missing
 *   lt_failing_*         the failing allocator (sqlite test_malloc style)
 *   lt_put_le16/32/64    little-endian fields
 *   lt_tmp_path, lt_rm_rf, lt_path_exists, lt_write_text, lt_read_file   files and directories */
#ifndef LSTAR_TEST_SUPPORT_H
#define LSTAR_TEST_SUPPORT_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lstar/status.h"

#define OKE(expr)                                                                                             \
    do {                                                                                                      \
        lstar_error e_;                                                                                       \
        lstar_error_clear(&e_);                                                                               \
        lstar_status s_ = (expr);                                                                             \
        if (s_ != LSTAR_OK) fail_msg("%s failed: %s: %s (%s)", #expr, e_.where, e_.message, lstar_status_name(s_)); \
    } while (0)

/* Skip the current test (with a message) when `path` is not readable. */
void lt_need(const char *path);

/* ---- failing allocator ---------------------------------------------------------------------------------- */

typedef struct lt_failing {
    long count;   /* allocations attempted since lt_failing_start */
    long fail_at; /* 1-based index of the allocation to fail; 0 = never */
    int sticky;   /* also fail every allocation after fail_at */
    long live;    /* blocks allocated through the hook and not freed through it */
    int injected; /* a failure was injected */
} lt_failing;

/* Reset `f` (counters 0, fail_at, sticky) and install it as the lstar allocator.  The counters are
 * updated under a lock, so the workload may use threads.  `f` must outlive lt_failing_stop. */
void lt_failing_start(lt_failing *f, long fail_at, int sticky);
/* Change what to fail without resetting the counters (e.g. 0 to stop failing). */
void lt_failing_set(lt_failing *f, long fail_at, int sticky);
/* Restore the default allocator. */
void lt_failing_stop(void);

/* ---- little-endian fields (hand-built zip archives, chunk headers) ---------------------------------------- */

void lt_put_le16(uint8_t *p, uint16_t v);
void lt_put_le32(uint8_t *p, uint32_t v);
void lt_put_le64(uint8_t *p, uint64_t v);

/* ---- files ---------------------------------------------------------------------------------------------- */

/* "<LSTAR_TEST_TMP>/<prefix>_<pid>_<name>" into buf (nothing is created or removed). */
void lt_tmp_path(char *buf, size_t n, const char *prefix, const char *name);
/* rm -rf `path` (the test fails if that fails). */
void lt_rm_rf(const char *path);
/* 1 if something exists at `path`. */
int lt_path_exists(const char *path);
/* Create or replace file `path` holding the NUL-terminated `text` (the test fails if that fails). */
void lt_write_text(const char *path, const char *text);
/* The whole file `path` in an lstar_malloc'd buffer (at least 1 byte, NUL-terminated after the end);
 * *n = its size.  The test fails if it cannot be read. */
void *lt_read_file(const char *path, size_t *n);

#endif
