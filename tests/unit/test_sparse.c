/* Unit tests: the CSR/CSC block iterator over memory arrays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "lstar/lstar.h"

static lstar_array *arr(lstar_dtype t, uint64_t n, const void *data) {
    lstar_array *a = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_array_new_copy(t, 1, &n, data, &a, &e);
    if (st != LSTAR_OK) print_message("lstar_array_new_copy: %s\n", e.message);
    assert_int_equal(st, LSTAR_OK);
    return a;
}

typedef struct csr {
    lstar_array *data, *indices, *indptr;
} csr;

static void csr_free(csr *m) {
    lstar_array_free(m->data);
    lstar_array_free(m->indices);
    lstar_array_free(m->indptr);
}

/* 5 x 4, rows 1 and 3 empty:
 *   row 0: (0)=1 (3)=2
 *   row 2: (1)=3
 *   row 4: (0)=4 (2)=5 */
static const int32_t IP5[] = {0, 2, 2, 3, 3, 5};
static const int32_t IX5[] = {0, 3, 1, 0, 2};
static const float DA5[] = {1, 2, 3, 4, 5};

static csr make5(void) {
    csr m;
    m.data = arr(LSTAR_DTYPE_FLOAT32, 5, DA5);
    m.indices = arr(LSTAR_DTYPE_INT32, 5, IX5);
    m.indptr = arr(LSTAR_DTYPE_INT32, 6, IP5);
    return m;
}

static lstar_sparse_iter *iter(const csr *m, uint64_t major, uint64_t minor, uint64_t target) {
    lstar_sparse_iter *it = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_sparse_iter_new(m->data, m->indices, m->indptr, major, minor, target, &it, &e);
    if (st != LSTAR_OK) print_message("lstar_sparse_iter_new: %s: %s\n", e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    return it;
}

static void next_ok(lstar_sparse_iter *it, lstar_sparse_block *b) {
    int done = 0;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_sparse_iter_next(it, b, &done, &e);
    if (st != LSTAR_OK) print_message("lstar_sparse_iter_next: %s: %s\n", e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    assert_int_equal(done, 0);
}

static void expect_done(lstar_sparse_iter *it) {
    lstar_sparse_block b;
    memset(&b, 0xAB, sizeof b);
    int done = 0;
    assert_int_equal(lstar_sparse_iter_next(it, &b, &done, NULL), LSTAR_OK);
    assert_int_equal(done, 1);
    assert_int_equal(b.major_start, 0xABABABABABABABABull); /* untouched */
}

static void check_block(const lstar_sparse_block *b, uint64_t mstart, uint64_t mcount, uint64_t nstart,
                        uint64_t nnz, const int64_t *indptr) {
    assert_int_equal(b->major_start, mstart);
    assert_int_equal(b->major_count, mcount);
    assert_int_equal(b->nnz_start, nstart);
    assert_int_equal(b->nnz, nnz);
    for (uint64_t i = 0; i <= mcount; i++) assert_int_equal(b->indptr[i], indptr[i]);
}

static void test_csr_target_one(void **state) {
    (void)state;
    csr m = make5();
    lstar_sparse_iter *it = iter(&m, 5, 4, 1);
    lstar_sparse_block b;
    /* row 0 alone (one slice may exceed the target) */
    next_ok(it, &b);
    check_block(&b, 0, 1, 0, 2, (const int64_t[]){0, 2});
    assert_int_equal(b.data_dtype, LSTAR_DTYPE_FLOAT32);
    assert_int_equal(b.indices[0], 0);
    assert_int_equal(b.indices[1], 3);
    assert_true(((const float *)b.data)[1] == 2.0f);
    /* empty row 1 + row 2 */
    next_ok(it, &b);
    check_block(&b, 1, 2, 2, 1, (const int64_t[]){0, 0, 1});
    assert_int_equal(b.indices[0], 1);
    assert_true(((const float *)b.data)[0] == 3.0f);
    /* empty row 3 (row 4 would overshoot) */
    next_ok(it, &b);
    check_block(&b, 3, 1, 3, 0, (const int64_t[]){0, 0});
    assert_non_null(b.indices);
    assert_non_null(b.data);
    next_ok(it, &b);
    check_block(&b, 4, 1, 3, 2, (const int64_t[]){0, 2});
    assert_int_equal(b.indices[1], 2);
    assert_true(((const float *)b.data)[1] == 5.0f);
    expect_done(it);
    expect_done(it);
    /* rewind replays from the start */
    lstar_sparse_iter_rewind(it);
    next_ok(it, &b);
    check_block(&b, 0, 1, 0, 2, (const int64_t[]){0, 2});
    lstar_sparse_iter_free(it);
    csr_free(&m);
}

static void test_csr_block_sizes(void **state) {
    (void)state;
    csr m = make5();
    lstar_sparse_block b;
    lstar_sparse_iter *it = iter(&m, 5, 4, 3);
    next_ok(it, &b);
    check_block(&b, 0, 3, 0, 3, (const int64_t[]){0, 2, 2, 3});
    next_ok(it, &b);
    check_block(&b, 3, 2, 3, 2, (const int64_t[]){0, 0, 2});
    assert_int_equal(b.indices[0], 0);
    assert_int_equal(b.indices[1], 2);
    expect_done(it);
    lstar_sparse_iter_free(it);
    /* target 0: the default (about 1M) takes everything at once */
    it = iter(&m, 5, 4, 0);
    next_ok(it, &b);
    check_block(&b, 0, 5, 0, 5, (const int64_t[]){0, 2, 2, 3, 3, 5});
    for (int i = 0; i < 5; i++) {
        assert_int_equal(b.indices[i], IX5[i]);
        assert_true(((const float *)b.data)[i] == DA5[i]);
    }
    expect_done(it);
    lstar_sparse_iter_free(it);
    csr_free(&m);
}

/* CSC: 3 rows x 4 columns, major = columns; int64 indices/indptr, float64 data.
 *   dense = [[1 0 0 4]
 *            [0 0 3 5]
 *            [2 0 0 6]] */
static void test_csc_reconstruct(void **state) {
    (void)state;
    const int64_t ip[] = {0, 2, 2, 3, 6};
    const int64_t ix[] = {0, 2, 1, 0, 1, 2};
    const double da[] = {1, 2, 3, 4, 5, 6};
    const double want[3][4] = {{1, 0, 0, 4}, {0, 0, 3, 5}, {2, 0, 0, 6}};
    csr m = {arr(LSTAR_DTYPE_FLOAT64, 6, da), arr(LSTAR_DTYPE_INT64, 6, ix), arr(LSTAR_DTYPE_INT64, 5, ip)};
    for (uint64_t target = 1; target <= 7; target++) {
        double dense[3][4];
        memset(dense, 0, sizeof dense);
        lstar_sparse_iter *it = iter(&m, 4, 3, target);
        lstar_sparse_block b;
        int done = 0, blocks = 0;
        uint64_t next_col = 0;
        for (;;) {
            assert_int_equal(lstar_sparse_iter_next(it, &b, &done, NULL), LSTAR_OK);
            if (done) break;
            blocks++;
            assert_int_equal(b.major_start, next_col);
            assert_int_equal(b.data_dtype, LSTAR_DTYPE_FLOAT64);
            assert_int_equal(b.indptr[0], 0);
            assert_int_equal((uint64_t)b.indptr[b.major_count], b.nnz);
            assert_true(b.nnz <= target || b.major_count == 1);
            for (uint64_t c = 0; c < b.major_count; c++)
                for (int64_t k = b.indptr[c]; k < b.indptr[c + 1]; k++)
                    dense[b.indices[k]][b.major_start + c] = ((const double *)b.data)[k];
            next_col += b.major_count;
        }
        assert_int_equal(next_col, 4);
        assert_memory_equal(dense, want, sizeof dense);
        if (target == 1) assert_int_equal(blocks, 3); /* col 0 | cols 1-2 | col 3 (3 entries alone) */
        if (target >= 6) assert_int_equal(blocks, 1);
        lstar_sparse_iter_free(it);
    }
    csr_free(&m);
}

/* Index arrays of every integer type are widened to int64. */
static void test_index_dtypes(void **state) {
    (void)state;
    const int64_t ip64[] = {0, 2, 2, 3, 3, 5};
    const int64_t ix64[] = {0, 3, 1, 0, 2};
    const lstar_dtype types[] = {LSTAR_DTYPE_INT8,  LSTAR_DTYPE_INT16,  LSTAR_DTYPE_INT32,  LSTAR_DTYPE_INT64,
                                 LSTAR_DTYPE_UINT8, LSTAR_DTYPE_UINT16, LSTAR_DTYPE_UINT32, LSTAR_DTYPE_UINT64};
    const int8_t dd[] = {-1, -2, -3, -4, -5};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        /* indptr in another type than indices */
        lstar_dtype ipt = types[(t + 3) % 8];
        uint8_t ipbuf[6 * 8], ixbuf[5 * 8];
        assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_INT64, ip64, ipt, ipbuf, 6), 0);
        assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_INT64, ix64, types[t], ixbuf, 5), 0);
        csr m = {arr(LSTAR_DTYPE_INT8, 5, dd), arr(types[t], 5, ixbuf), arr(ipt, 6, ipbuf)};
        lstar_sparse_iter *it = iter(&m, 5, 4, 100);
        lstar_sparse_block b;
        next_ok(it, &b);
        check_block(&b, 0, 5, 0, 5, ip64);
        for (int i = 0; i < 5; i++) assert_int_equal(b.indices[i], ix64[i]);
        assert_int_equal(b.data_dtype, LSTAR_DTYPE_INT8);
        assert_int_equal(((const int8_t *)b.data)[4], -5);
        expect_done(it);
        lstar_sparse_iter_free(it);
        csr_free(&m);
    }
}

/* 100000 rows (crosses the 65536-entry indptr window), row i has i % 3 entries. */
static void test_many_rows(void **state) {
    (void)state;
    const uint64_t rows = 100000, cols = 1000;
    int64_t *ip = malloc((rows + 1) * sizeof *ip);
    assert_non_null(ip);
    ip[0] = 0;
    for (uint64_t i = 0; i < rows; i++) ip[i + 1] = ip[i] + (int64_t)(i % 3);
    uint64_t nnz = (uint64_t)ip[rows];
    uint32_t *ix = malloc(nnz * sizeof *ix);
    int32_t *da = malloc(nnz * sizeof *da);
    assert_non_null(ix);
    assert_non_null(da);
    for (uint64_t i = 0; i < rows; i++)
        for (int64_t k = ip[i]; k < ip[i + 1]; k++) {
            ix[k] = (uint32_t)((i * 7 + (uint64_t)(k - ip[i])) % cols);
            da[k] = (int32_t)k;
        }
    csr m = {arr(LSTAR_DTYPE_INT32, nnz, da), arr(LSTAR_DTYPE_UINT32, nnz, ix), arr(LSTAR_DTYPE_INT64, rows + 1, ip)};
    lstar_sparse_iter *it = iter(&m, rows, cols, 1000);
    lstar_sparse_block b;
    int done = 0;
    uint64_t row = 0, seen = 0, blocks = 0;
    for (;;) {
        assert_int_equal(lstar_sparse_iter_next(it, &b, &done, NULL), LSTAR_OK);
        if (done) break;
        blocks++;
        assert_int_equal(b.major_start, row);
        assert_int_equal(b.nnz_start, seen);
        assert_true(b.nnz <= 1000);
        if (row + b.major_count < rows) assert_true(b.nnz >= 999); /* slices hold <= 2 entries */
        for (uint64_t r = 0; r < b.major_count; r++) {
            assert_int_equal(b.indptr[r + 1] - b.indptr[r], (int64_t)((row + r) % 3));
            for (int64_t k = b.indptr[r]; k < b.indptr[r + 1]; k++) {
                assert_int_equal(b.indices[k], (int64_t)(((row + r) * 7 + (uint64_t)(k - b.indptr[r])) % cols));
                assert_int_equal(((const int32_t *)b.data)[k], (int32_t)(b.nnz_start + (uint64_t)k));
            }
        }
        row += b.major_count;
        seen += b.nnz;
        if (row == rows) break;
    }
    assert_int_equal(row, rows);
    assert_int_equal(seen, nnz);
    assert_true(blocks >= (nnz + 999) / 1000 && blocks <= (nnz + 998) / 999);
    expect_done(it);
    lstar_sparse_iter_free(it);
    csr_free(&m);
    free(ip);
    free(ix);
    free(da);
}

/* Long runs of empty rows are cut into bounded blocks. */
static void test_empty_rows(void **state) {
    (void)state;
    const uint64_t rows = 10000;
    int32_t *ip = calloc(rows + 1, sizeof *ip);
    assert_non_null(ip);
    ip[rows] = 1; /* only the last row has an entry */
    const int16_t ix[] = {7};
    const double da[] = {42.5};
    csr m = {arr(LSTAR_DTYPE_FLOAT64, 1, da), arr(LSTAR_DTYPE_INT16, 1, ix), arr(LSTAR_DTYPE_INT32, rows + 1, ip)};
    lstar_sparse_iter *it = iter(&m, rows, 8, 1);
    lstar_sparse_block b;
    for (uint64_t k = 0; k < 2; k++) {
        next_ok(it, &b);
        assert_int_equal(b.major_start, k * 4096);
        assert_int_equal(b.major_count, 4096); /* capped at max(target, 4096) slices */
        assert_int_equal(b.nnz, 0);
        assert_int_equal(b.indptr[4096], 0);
    }
    next_ok(it, &b);
    assert_int_equal(b.major_start, 8192);
    assert_int_equal(b.major_count, rows - 8192);
    assert_int_equal(b.nnz, 1);
    assert_int_equal(b.indptr[b.major_count], 1);
    assert_int_equal(b.indptr[b.major_count - 1], 0);
    assert_int_equal(b.indices[0], 7);
    assert_true(((const double *)b.data)[0] == 42.5);
    expect_done(it);
    lstar_sparse_iter_free(it);
    csr_free(&m);
    free(ip);

    /* a matrix without rows, and one without entries */
    const int32_t zero[] = {0, 0, 0};
    csr e0 = {arr(LSTAR_DTYPE_FLOAT32, 0, NULL), arr(LSTAR_DTYPE_INT32, 0, NULL), arr(LSTAR_DTYPE_INT32, 1, zero)};
    it = iter(&e0, 0, 5, 10);
    expect_done(it);
    lstar_sparse_iter_free(it);
    csr_free(&e0);
    csr e1 = {arr(LSTAR_DTYPE_FLOAT32, 0, NULL), arr(LSTAR_DTYPE_INT32, 0, NULL), arr(LSTAR_DTYPE_INT32, 3, zero)};
    it = iter(&e1, 2, 0, 10);
    next_ok(it, &b);
    check_block(&b, 0, 2, 0, 0, (const int64_t[]){0, 0, 0});
    expect_done(it);
    lstar_sparse_iter_free(it);
    csr_free(&e1);
}

/* ---- corruption: each returns LSTAR_ERR_CORRUPT naming the array and position ---- */

static lstar_status new_err(const csr *m, uint64_t major, uint64_t minor, lstar_error *e, lstar_sparse_iter **it) {
    lstar_error_clear(e);
    *it = NULL;
    return lstar_sparse_iter_new(m->data, m->indices, m->indptr, major, minor, 2, it, e);
}

/* Iterate until an error; returns it. */
static lstar_status run_err(lstar_sparse_iter *it, lstar_error *e) {
    lstar_sparse_block b;
    int done = 0;
    lstar_error_clear(e);
    for (;;) {
        lstar_status st = lstar_sparse_iter_next(it, &b, &done, e);
        if (st != LSTAR_OK || done) return st;
    }
}

/* The iterator over `m` (major × minor) must fail with LSTAR_ERR_CORRUPT naming array `where` (and `msg`
 * in the message unless NULL): already when created if `at_new`, else while iterating.  Frees `m`. */
static void expect_corrupt(csr *m, uint64_t major, uint64_t minor, int at_new, const char *where,
                           const char *msg) {
    lstar_error e;
    lstar_sparse_iter *it;
    lstar_status st = new_err(m, major, minor, &e, &it);
    if (at_new) {
        assert_int_equal(st, LSTAR_ERR_CORRUPT);
        assert_null(it);
    } else {
        assert_int_equal(st, LSTAR_OK);
        assert_int_equal(run_err(it, &e), LSTAR_ERR_CORRUPT);
    }
    assert_string_equal(e.where, where);
    if (msg) assert_non_null(strstr(e.message, msg));
    lstar_sparse_iter_free(it);
    csr_free(m);
}

static void test_corrupt_indptr_start(void **state) {
    (void)state;
    const int32_t ip[] = {1, 2, 2, 3, 3, 5};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, ip)};
    expect_corrupt(&m, 5, 4, 1, "indptr", "indptr[0] is 1");
}

static void test_corrupt_indptr_end(void **state) {
    (void)state;
    const int32_t ip[] = {0, 2, 2, 3, 3, 4};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, ip)};
    expect_corrupt(&m, 5, 4, 1, "indptr", "indptr[5] is 4");
}

static void test_corrupt_indptr_decreasing(void **state) {
    (void)state;
    const int32_t ip[] = {0, 2, 1, 3, 3, 5};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, ip)};
    expect_corrupt(&m, 5, 4, 0, "indptr", "position 2");
}

static void test_corrupt_indptr_beyond_nnz(void **state) {
    (void)state;
    const int32_t ip[] = {0, 9, 9, 9, 9, 5};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, ip)};
    expect_corrupt(&m, 5, 4, 0, "indptr", "indptr[1] = 9");
}

static void test_corrupt_indptr_negative(void **state) {
    (void)state;
    const int64_t ip[] = {0, 2, -3, 3, 3, 5};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT64, 6, ip)};
    expect_corrupt(&m, 5, 4, 0, "indptr", "position 2");
}

static void test_corrupt_indptr_length(void **state) {
    (void)state;
    csr m = make5();
    expect_corrupt(&m, 4, 4, 1, "indptr", "6 entries, expected 5");
}

static void test_corrupt_lengths_differ(void **state) {
    (void)state;
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 4, DA5), arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    expect_corrupt(&m, 5, 4, 1, "indices", "5 entries but data has 4");
}

static void test_corrupt_index_too_large(void **state) {
    (void)state;
    const int32_t ix[] = {0, 3, 1, 4, 2}; /* 4 >= minor_len 4, at position 3 */
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, ix), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    expect_corrupt(&m, 5, 4, 0, "indices", "indices[3] = 4");
}

static void test_corrupt_index_negative(void **state) {
    (void)state;
    const int32_t ix[] = {0, -1, 1, 0, 2};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_INT32, 5, ix), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    expect_corrupt(&m, 5, 4, 0, "indices", "indices[1] = -1");
}

static void test_corrupt_index_uint64_huge(void **state) {
    (void)state;
    const uint64_t ix[] = {0, 3, 1, 0, 0x8000000000000002ull};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_UINT64, 5, ix), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    expect_corrupt(&m, 5, 4, 0, "indices", "indices[4]");
}

static void test_bad_arrays(void **state) {
    (void)state;
    lstar_error e;
    lstar_sparse_iter *it;
    /* float indices */
    const float fx[] = {0, 3, 1, 0, 2};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_FLOAT32, 5, fx), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    assert_int_equal(new_err(&m, 5, 4, &e, &it), LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, "indices");
    csr_free(&m);
    /* 2-D data */
    lstar_array *d2 = NULL;
    const uint64_t shape[2] = {5, 1};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 2, shape, DA5, &d2, NULL), LSTAR_OK);
    csr m2 = {d2, arr(LSTAR_DTYPE_INT32, 5, IX5), arr(LSTAR_DTYPE_INT32, 6, IP5)};
    assert_int_equal(new_err(&m2, 5, 4, &e, &it), LSTAR_ERR_SHAPE);
    assert_string_equal(e.where, "data");
    csr_free(&m2);
    /* NULL arrays */
    lstar_error_clear(&e);
    assert_int_equal(lstar_sparse_iter_new(NULL, NULL, NULL, 0, 0, 0, &it, &e), LSTAR_ERR_INVALID_ARG);
    lstar_sparse_iter_free(NULL);
    lstar_sparse_iter_rewind(NULL);
}


/* ---- allocation failure walk ------------------------------------------------ */

static void test_allocation_failures(void **state) {
    (void)state;
    const int64_t ip[] = {0, 2, 2, 3, 3, 5};
    const uint16_t ix[] = {0, 3, 1, 0, 2};
    csr m = {arr(LSTAR_DTYPE_FLOAT32, 5, DA5), arr(LSTAR_DTYPE_UINT16, 5, ix), arr(LSTAR_DTYPE_INT64, 6, ip)};
    long n;
    for (n = 0; n < 1000; n++) {
        /* the first n allocations succeed, every later one fails */
        lt_failing f;
        lt_failing_start(&f, n + 1, 1);
        lstar_sparse_iter *it = NULL;
        lstar_status st = lstar_sparse_iter_new(m.data, m.indices, m.indptr, 5, 4, 1, &it, NULL);
        uint64_t total = 0;
        while (st == LSTAR_OK) {
            lstar_sparse_block b;
            int done = 0;
            st = lstar_sparse_iter_next(it, &b, &done, NULL);
            if (st != LSTAR_OK || done) break;
            total += b.nnz;
        }
        lstar_sparse_iter_free(it);
        lt_failing_stop();
        if (!f.injected) {
            assert_int_equal(st, LSTAR_OK);
            assert_int_equal(total, 5);
            break;
        }
        assert_int_equal(st, LSTAR_ERR_NOMEM);
    }
    assert_true(n > 3 && n < 1000);
    csr_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csr_target_one),
        cmocka_unit_test(test_csr_block_sizes),
        cmocka_unit_test(test_csc_reconstruct),
        cmocka_unit_test(test_index_dtypes),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_empty_rows),
        cmocka_unit_test(test_corrupt_indptr_start),
        cmocka_unit_test(test_corrupt_indptr_end),
        cmocka_unit_test(test_corrupt_indptr_decreasing),
        cmocka_unit_test(test_corrupt_indptr_beyond_nnz),
        cmocka_unit_test(test_corrupt_indptr_negative),
        cmocka_unit_test(test_corrupt_indptr_length),
        cmocka_unit_test(test_corrupt_lengths_differ),
        cmocka_unit_test(test_corrupt_index_too_large),
        cmocka_unit_test(test_corrupt_index_negative),
        cmocka_unit_test(test_corrupt_index_uint64_huge),
        cmocka_unit_test(test_bad_arrays),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
