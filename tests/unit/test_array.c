/* Unit tests: the element layer (lstar_array) memory backend and a custom backend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lstar/lstar.h"

static void test_every_dtype_roundtrip(void **state) {
    (void)state;
    static const lstar_dtype types[] = {
        LSTAR_DTYPE_BOOL,   LSTAR_DTYPE_INT8,    LSTAR_DTYPE_INT16,   LSTAR_DTYPE_INT32,     LSTAR_DTYPE_INT64,
        LSTAR_DTYPE_UINT8,  LSTAR_DTYPE_UINT16,  LSTAR_DTYPE_UINT32,  LSTAR_DTYPE_UINT64,    LSTAR_DTYPE_FLOAT32,
        LSTAR_DTYPE_FLOAT64, LSTAR_DTYPE_FLOAT16, LSTAR_DTYPE_COMPLEX64, LSTAR_DTYPE_COMPLEX128,
    };
    uint8_t src[5 * 16], back[5 * 16];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)(i * 7 + 1);
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        size_t es = lstar_dtype_size(types[t]);
        uint64_t shape[1] = {5};
        lstar_array *a = NULL;
        assert_int_equal(lstar_array_new_copy(types[t], 1, shape, src, &a, NULL), LSTAR_OK);
        assert_int_equal(lstar_array_dtype(a), types[t]);
        assert_int_equal(lstar_array_rank(a), 1);
        assert_int_equal(lstar_array_size(a), 5);
        assert_string_equal(lstar_array_kind(a), "memory");
        assert_null(lstar_array_zarr(a));
        assert_null(lstar_array_memory_strings(a));
        assert_memory_equal(lstar_array_memory(a), src, 5 * es);
        /* the copy is independent of the source */
        assert_ptr_not_equal(lstar_array_memory(a), src);
        uint64_t start = 1, count = 3;
        memset(back, 0, sizeof back);
        assert_int_equal(lstar_array_read(a, &start, &count, back, NULL), LSTAR_OK);
        assert_memory_equal(back, src + es, 3 * es);
        void *all = NULL;
        size_t nb = 0;
        assert_int_equal(lstar_array_read_all(a, 0, &all, &nb, NULL), LSTAR_OK);
        assert_int_equal(nb, 5 * es);
        assert_memory_equal(all, src, nb);
        lstar_free(all);
        lstar_array_free(a);
    }
    lstar_array_free(NULL);
}

static void test_region_rank1_to_3(void **state) {
    (void)state;
    /* rank 1 */
    int32_t v1[10];
    for (int i = 0; i < 10; i++) v1[i] = i * 10;
    uint64_t s1[1] = {10};
    lstar_array *a1 = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT32, 1, s1, v1, &a1, NULL), LSTAR_OK);
    int32_t o1[4] = {0};
    uint64_t st1 = 6, c1 = 4;
    assert_int_equal(lstar_array_read(a1, &st1, &c1, o1, NULL), LSTAR_OK);
    assert_int_equal(o1[0], 60);
    assert_int_equal(o1[3], 90);
    lstar_array_free(a1);

    /* rank 2: 4 x 5, value = 10*r + c */
    double v2[20];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 5; c++) v2[r * 5 + c] = 10 * r + c;
    uint64_t s2[2] = {4, 5};
    lstar_array *a2 = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 2, s2, v2, &a2, NULL), LSTAR_OK);
    uint64_t st2[2] = {1, 2}, c2[2] = {2, 3};
    double o2[6];
    assert_int_equal(lstar_array_read(a2, st2, c2, o2, NULL), LSTAR_OK);
    const double e2[6] = {12, 13, 14, 22, 23, 24};
    for (int i = 0; i < 6; i++) assert_true(o2[i] == e2[i]);
    /* whole rows (trailing dimension complete) */
    uint64_t st2b[2] = {2, 0}, c2b[2] = {2, 5};
    double o2b[10];
    assert_int_equal(lstar_array_read(a2, st2b, c2b, o2b, NULL), LSTAR_OK);
    assert_true(o2b[0] == 20 && o2b[4] == 24 && o2b[5] == 30 && o2b[9] == 34);
    /* a single column */
    uint64_t st2c[2] = {0, 4}, c2c[2] = {4, 1};
    double o2c[4];
    assert_int_equal(lstar_array_read(a2, st2c, c2c, o2c, NULL), LSTAR_OK);
    assert_true(o2c[0] == 4 && o2c[1] == 14 && o2c[2] == 24 && o2c[3] == 34);
    lstar_array_free(a2);

    /* rank 3: 3 x 4 x 2, value = 100*i + 10*j + k */
    int16_t v3[24];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 2; k++) v3[(i * 4 + j) * 2 + k] = (int16_t)(100 * i + 10 * j + k);
    uint64_t s3[3] = {3, 4, 2};
    lstar_array *a3 = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT16, 3, s3, v3, &a3, NULL), LSTAR_OK);
    uint64_t st3[3] = {1, 1, 1}, c3[3] = {2, 2, 1};
    int16_t o3[4];
    assert_int_equal(lstar_array_read(a3, st3, c3, o3, NULL), LSTAR_OK);
    assert_int_equal(o3[0], 111);
    assert_int_equal(o3[1], 121);
    assert_int_equal(o3[2], 211);
    assert_int_equal(o3[3], 221);
    /* last two dims whole: one contiguous run per i */
    uint64_t st3b[3] = {2, 0, 0}, c3b[3] = {1, 4, 2};
    int16_t o3b[8];
    assert_int_equal(lstar_array_read(a3, st3b, c3b, o3b, NULL), LSTAR_OK);
    assert_int_equal(o3b[0], 200);
    assert_int_equal(o3b[7], 231);
    /* zero count reads nothing and succeeds */
    uint64_t c3z[3] = {0, 4, 2};
    assert_int_equal(lstar_array_read(a3, st3b, c3z, NULL, NULL), LSTAR_OK);
    lstar_array_free(a3);
}

static void test_rank0_and_empty(void **state) {
    (void)state;
    float x = 2.5f;
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 0, NULL, &x, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_rank(a), 0);
    assert_int_equal(lstar_array_size(a), 1);
    float y = 0;
    assert_int_equal(lstar_array_read(a, NULL, NULL, &y, NULL), LSTAR_OK);
    assert_true(y == 2.5f);
    lstar_array_free(a);

    uint64_t shape[2] = {0, 7};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT64, 2, shape, NULL, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_size(a), 0);
    void *all = NULL;
    size_t nb = 99;
    assert_int_equal(lstar_array_read_all(a, 0, &all, &nb, NULL), LSTAR_OK);
    assert_non_null(all);
    assert_int_equal(nb, 0);
    lstar_free(all);
    lstar_array_free(a);
}

static void test_owned(void **state) {
    (void)state;
    uint64_t shape[1] = {3};
    uint32_t *d = lstar_malloc(3 * sizeof *d);
    d[0] = 7;
    d[1] = 8;
    d[2] = 9;
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_owned(LSTAR_DTYPE_UINT32, 1, shape, d, &a, NULL), LSTAR_OK);
    assert_ptr_equal(lstar_array_memory(a), d);
    lstar_array_free(a);
    /* failure frees the data (ASan would report a leak otherwise) */
    d = lstar_malloc(16);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_new_owned(LSTAR_DTYPE_STRING, 1, shape, d, &a, &e), LSTAR_ERR_INVALID_ARG);
    assert_null(a);
    assert_int_equal(e.status, LSTAR_ERR_INVALID_ARG);
    /* non-empty without data */
    assert_int_equal(lstar_array_new_owned(LSTAR_DTYPE_UINT32, 1, shape, NULL, &a, NULL), LSTAR_ERR_INVALID_ARG);
}

static void test_strings(void **state) {
    (void)state;
    const char *items[] = {"T", "B", "NK", "", "plasma"};
    lstar_strings s;
    assert_int_equal(lstar_strings_from_cstrs(&s, items, 5, NULL), LSTAR_OK);
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_strings(&s, &a, NULL), LSTAR_OK);
    assert_null(s.offsets); /* contents taken */
    assert_int_equal(s.n, 0);
    assert_int_equal(lstar_array_dtype(a), LSTAR_DTYPE_STRING);
    assert_int_equal(lstar_array_rank(a), 1);
    assert_int_equal(lstar_array_size(a), 5);
    assert_null(lstar_array_memory(a));
    const lstar_strings *ms = lstar_array_memory_strings(a);
    assert_non_null(ms);
    assert_int_equal(ms->n, 5);

    lstar_strings out;
    assert_int_equal(lstar_array_read_strings(a, 1, 3, &out, NULL), LSTAR_OK);
    assert_int_equal(out.n, 3);
    char buf[16];
    assert_string_equal(lstar_strings_get_cstr(&out, 0, buf, sizeof buf), "B");
    assert_string_equal(lstar_strings_get_cstr(&out, 1, buf, sizeof buf), "NK");
    assert_string_equal(lstar_strings_get_cstr(&out, 2, buf, sizeof buf), "");
    assert_int_equal(out.offsets[0], 0);
    assert_int_equal(out.offsets[3], 3);
    lstar_strings_destroy(&out);

    assert_int_equal(lstar_array_read_strings(a, 5, 0, &out, NULL), LSTAR_OK);
    assert_int_equal(out.n, 0);
    lstar_strings_destroy(&out);

    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read_strings(a, 4, 2, &out, &e), LSTAR_ERR_INVALID_ARG);
    assert_null(out.offsets);
    /* numeric reads of a string array are refused */
    uint64_t st = 0, c = 1;
    char raw[8];
    assert_int_equal(lstar_array_read(a, &st, &c, raw, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_read_1d_as(a, 0, 1, LSTAR_DTYPE_INT32, raw, NULL), LSTAR_ERR_INVALID_ARG);
    void *all = NULL;
    assert_int_equal(lstar_array_read_all(a, 0, &all, NULL, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);

    /* a zeroed lstar_strings gives an empty array */
    memset(&s, 0, sizeof s);
    assert_int_equal(lstar_array_new_strings(&s, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_size(a), 0);
    lstar_array_free(a);

    /* string reads of a numeric array are refused */
    int8_t v[2] = {1, 2};
    uint64_t shape[1] = {2};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT8, 1, shape, v, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_read_strings(a, 0, 1, &out, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);
}

static void test_read_1d_as(void **state) {
    (void)state;
    int32_t codes[6] = {0, 1, 2, -1, 0, 7};
    uint64_t shape[1] = {6};
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT32, 1, shape, codes, &a, NULL), LSTAR_OK);
    int64_t w[6];
    assert_int_equal(lstar_array_read_1d_as(a, 0, 6, LSTAR_DTYPE_INT64, w, NULL), LSTAR_OK);
    assert_int_equal(w[3], -1);
    assert_int_equal(w[5], 7);
    double d[2];
    assert_int_equal(lstar_array_read_1d_as(a, 3, 2, LSTAR_DTYPE_FLOAT64, d, NULL), LSTAR_OK);
    assert_true(d[0] == -1.0 && d[1] == 0.0);
    uint8_t b[6];
    assert_int_equal(lstar_array_read_1d_as(a, 0, 6, LSTAR_DTYPE_BOOL, b, NULL), LSTAR_OK);
    assert_int_equal(b[0], 0);
    assert_int_equal(b[1], 1);
    assert_int_equal(b[3], 1);
    int32_t same[2];
    assert_int_equal(lstar_array_read_1d_as(a, 4, 2, LSTAR_DTYPE_INT32, same, NULL), LSTAR_OK);
    assert_int_equal(same[1], 7);
    /* out of range, bad target type */
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read_1d_as(a, 5, 2, LSTAR_DTYPE_INT64, w, &e), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_read_1d_as(a, UINT64_MAX, 2, LSTAR_DTYPE_INT64, w, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_read_1d_as(a, 0, 1, LSTAR_DTYPE_STRING, w, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);

    float f[3] = {1.5f, -2.0f, 3.25f};
    shape[0] = 3;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 1, shape, f, &a, NULL), LSTAR_OK);
    double fd[3];
    assert_int_equal(lstar_array_read_1d_as(a, 0, 3, LSTAR_DTYPE_FLOAT64, fd, NULL), LSTAR_OK);
    assert_true(fd[0] == 1.5 && fd[1] == -2.0 && fd[2] == 3.25);
    int64_t fi[3];
    assert_int_equal(lstar_array_read_1d_as(a, 0, 3, LSTAR_DTYPE_INT64, fi, NULL), LSTAR_OK);
    assert_int_equal(fi[0], 1);
    assert_int_equal(fi[1], -2);
    lstar_array_free(a);

    /* 2-D arrays are refused */
    uint64_t s2[2] = {1, 3};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT32, 2, s2, f, &a, NULL), LSTAR_OK);
    assert_int_equal(lstar_array_read_1d_as(a, 0, 1, LSTAR_DTYPE_FLOAT64, fd, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);
}

static void test_region_errors(void **state) {
    (void)state;
    uint8_t v[12] = {0};
    uint64_t shape[2] = {3, 4};
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_UINT8, 2, shape, v, &a, NULL), LSTAR_OK);
    uint8_t out[16];
    lstar_error e;
    lstar_error_clear(&e);
    uint64_t st[2] = {2, 0}, c[2] = {2, 4};
    assert_int_equal(lstar_array_read(a, st, c, out, &e), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(e.status, LSTAR_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "dimension 0"));
    uint64_t st2[2] = {0, UINT64_MAX}, c2[2] = {1, 2}; /* start + count wraps */
    assert_int_equal(lstar_array_read(a, st2, c2, out, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_read(a, NULL, NULL, out, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_read(NULL, st, c, out, NULL), LSTAR_ERR_INVALID_ARG);
    lstar_array_free(a);

    /* shapes whose size overflows are refused before allocating */
    uint64_t huge[2] = {UINT64_MAX / 2, 3};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_UINT8, 2, huge, v, &a, NULL), LSTAR_ERR_LIMIT);
    uint64_t big[1] = {UINT64_MAX / 4};
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT64, 1, big, v, &a, NULL), LSTAR_ERR_LIMIT);
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_INT64, LSTAR_MAX_RANK + 1, shape, v, &a, NULL),
                     LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FIXED_BYTES, 1, shape, v, &a, NULL), LSTAR_ERR_INVALID_ARG);
}

static void test_read_all_cap(void **state) {
    (void)state;
    double v[100] = {0};
    v[99] = 4.0;
    uint64_t shape[2] = {10, 10};
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 2, shape, v, &a, NULL), LSTAR_OK);
    void *all = NULL;
    size_t nb = 0;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_array_read_all(a, 799, &all, &nb, &e), LSTAR_ERR_LIMIT);
    assert_null(all);
    assert_int_equal(lstar_array_read_all(a, 800, &all, &nb, NULL), LSTAR_OK);
    assert_int_equal(nb, 800);
    assert_true(((double *)all)[99] == 4.0);
    lstar_free(all);
    lstar_array_free(a);
}

/* ---- a custom backend through lstar_array_from_ops --------------------- */

typedef struct iota_ctx {
    int closed_marker;
    int *closed;
} iota_ctx;

static lstar_status iota_read(void *ctx, const uint64_t *start, const uint64_t *count, void *out, lstar_error *err) {
    (void)ctx;
    (void)err;
    int32_t *o = out;
    for (uint64_t i = 0; i < count[0]; i++) o[i] = (int32_t)(start[0] + i);
    return LSTAR_OK;
}
static void iota_close(void *ctx) {
    iota_ctx *c = ctx;
    (*c->closed)++;
    lstar_free(c);
}
static const lstar_array_ops k_iota_ops = {LSTAR_ARRAY_OPS_VERSION, "iota", iota_read, NULL, iota_close, NULL};

static void test_from_ops(void **state) {
    (void)state;
    int closed = 0;
    iota_ctx *c = lstar_malloc(sizeof *c);
    c->closed = &closed;
    lstar_array_info info;
    memset(&info, 0, sizeof info);
    info.dtype = LSTAR_DTYPE_INT32;
    info.rank = 1;
    info.shape[0] = 1000;
    info.block[0] = 100;
    lstar_array *a = NULL;
    assert_int_equal(lstar_array_from_ops(&k_iota_ops, c, &info, &a, NULL), LSTAR_OK);
    assert_string_equal(lstar_array_kind(a), "iota");
    assert_int_equal(lstar_array_get_info(a)->block[0], 100);
    assert_null(lstar_array_memory(a));
    double d[3];
    assert_int_equal(lstar_array_read_1d_as(a, 997, 3, LSTAR_DTYPE_FLOAT64, d, NULL), LSTAR_OK);
    assert_true(d[0] == 997.0 && d[2] == 999.0);
    lstar_array_free(a);
    assert_int_equal(closed, 1);

    /* ctx is released when wrapping fails */
    c = lstar_malloc(sizeof *c);
    c->closed = &closed;
    info.rank = LSTAR_MAX_RANK + 1;
    assert_int_equal(lstar_array_from_ops(&k_iota_ops, c, &info, &a, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(closed, 2);
    assert_null(a);
    /* a STRING backend needs read_strings */
    c = lstar_malloc(sizeof *c);
    c->closed = &closed;
    info.rank = 1;
    info.dtype = LSTAR_DTYPE_STRING;
    assert_int_equal(lstar_array_from_ops(&k_iota_ops, c, &info, &a, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(closed, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_dtype_roundtrip), cmocka_unit_test(test_region_rank1_to_3),
        cmocka_unit_test(test_rank0_and_empty),       cmocka_unit_test(test_owned),
        cmocka_unit_test(test_strings),               cmocka_unit_test(test_read_1d_as),
        cmocka_unit_test(test_region_errors),         cmocka_unit_test(test_read_all_cap),
        cmocka_unit_test(test_from_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
