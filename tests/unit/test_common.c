/* Unit tests: status table, error records, allocator hook, buffers, dtypes, strings, worker pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "test_support.h"
#include "lstar/lstar.h"

static void test_status_table(void **state) {
    (void)state;
    assert_string_equal(lstar_status_name(LSTAR_OK), "LSTAR_OK");
    assert_string_equal(lstar_status_name(LSTAR_ERR_CORRUPT), "LSTAR_ERR_CORRUPT");
    assert_int_equal(LSTAR_ERR_CORRUPT, 7);
    assert_int_equal(LSTAR_ERR_INTERNAL, 14);
    assert_string_equal(lstar_status_message(LSTAR_ERR_NOT_FOUND), "not found");
    assert_string_equal(lstar_status_name((lstar_status)999), "LSTAR_UNKNOWN_STATUS");
}

static void test_error_record(void **state) {
    (void)state;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(LSTAR_FAIL(&e, LSTAR_ERR_FORMAT, "fields/X/.zarray", "bad %s", "shape"), LSTAR_ERR_FORMAT);
    assert_int_equal(e.status, LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, "fields/X/.zarray");
    assert_string_equal(e.message, "bad shape");
    assert_non_null(e.file);
    char buf[256];
    assert_string_equal(lstar_error_format(&e, buf, sizeof buf), "fields/X/.zarray: bad shape");
    lstar_err_prefix_where(&e, "store.zarr");
    assert_string_equal(e.where, "store.zarr/fields/X/.zarray");
    /* NULL record is allowed and the status still returned */
    assert_int_equal(LSTAR_FAIL(NULL, LSTAR_ERR_IO, NULL, "x"), LSTAR_ERR_IO);
    lstar_error_clear(&e);
    lstar_err_add_where(&e, "a");
    lstar_err_add_where(&e, "b");
    assert_string_equal(e.where, "a");
}

static void test_allocator_hook(void **state) {
    (void)state;
    lt_failing f;
    lt_failing_start(&f, 1, 1); /* every allocation fails */
    assert_null(lstar_malloc(10));
    assert_null(lstar_strdup("abc"));
    /* jansson goes through the hook too */
    assert_null(json_object());
    lt_failing_set(&f, 0, 0);
    char *s = lstar_strdup("abc");
    assert_string_equal(s, "abc");
    lstar_free(s);
    lt_failing_stop();
    assert_null(lstar_calloc(SIZE_MAX / 2, 4)); /* overflow */
}

static void test_buf(void **state) {
    (void)state;
    lstar_buf b;
    lstar_buf_init(&b, 16);
    assert_int_equal(lstar_buf_append(&b, "0123456789", 10, NULL), LSTAR_OK);
    assert_int_equal(lstar_buf_appendf(&b, NULL, "%d", 42), LSTAR_OK);
    assert_int_equal(b.size, 12);
    assert_memory_equal(b.data, "012345678942", 12);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_buf_append(&b, "0123456789", 10, &e), LSTAR_ERR_LIMIT);
    assert_int_equal(e.status, LSTAR_ERR_LIMIT);
    size_t n;
    uint8_t *d = lstar_buf_detach(&b, &n);
    assert_int_equal(n, 12);
    lstar_free(d);
    lstar_buf_destroy(&b);
}

static void test_dtypes(void **state) {
    (void)state;
    assert_int_equal(lstar_dtype_size(LSTAR_DTYPE_FLOAT64), 8);
    assert_int_equal(lstar_dtype_size(LSTAR_DTYPE_BOOL), 1);
    assert_int_equal(lstar_dtype_size(LSTAR_DTYPE_STRING), 0);
    assert_string_equal(lstar_dtype_name(LSTAR_DTYPE_UINT16), "uint16");
    assert_int_equal(lstar_dtype_from_name("int64"), LSTAR_DTYPE_INT64);
    assert_int_equal(lstar_dtype_from_name("nope"), LSTAR_DTYPE_INVALID);
    assert_true(lstar_dtype_is_integer(LSTAR_DTYPE_UINT8));
    assert_false(lstar_dtype_is_integer(LSTAR_DTYPE_BOOL));
    assert_true(lstar_dtype_is_numeric(LSTAR_DTYPE_BOOL));
    int32_t in[4] = {-1, 0, 7, 300};
    double out[4];
    assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_INT32, in, LSTAR_DTYPE_FLOAT64, out, 4), 0);
    assert_true(out[0] == -1.0 && out[3] == 300.0);
    int64_t w[4];
    assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_INT32, in, LSTAR_DTYPE_INT64, w, 4), 0);
    assert_int_equal(w[0], -1);
    uint8_t b[4];
    assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_INT32, in, LSTAR_DTYPE_BOOL, b, 4), 0);
    assert_int_equal(b[0], 1);
    assert_int_equal(b[1], 0);
    uint16_t half[3] = {0x3c00, 0xc000, 0x3555}; /* 1, -2, ~0.333 */
    assert_true(lstar_dtype_get_f64(LSTAR_DTYPE_FLOAT16, half, 0) == 1.0);
    assert_true(lstar_dtype_get_f64(LSTAR_DTYPE_FLOAT16, half, 1) == -2.0);
    double third = lstar_dtype_get_f64(LSTAR_DTYPE_FLOAT16, half, 2);
    assert_true(third > 0.333 && third < 0.334);
    assert_int_equal(lstar_dtype_convert(LSTAR_DTYPE_STRING, in, LSTAR_DTYPE_INT32, w, 1), -1);
}

static void test_strings(void **state) {
    (void)state;
    const char *items[] = {"T", "B", "NK", ""};
    lstar_strings s;
    assert_int_equal(lstar_strings_from_cstrs(&s, items, 4, NULL), LSTAR_OK);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.offsets[4], 4);
    size_t len;
    const char *p = lstar_strings_get(&s, 2, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "NK", 2);
    char buf[8];
    assert_string_equal(lstar_strings_get_cstr(&s, 2, buf, sizeof buf), "NK");
    assert_string_equal(lstar_strings_get_cstr(&s, 3, buf, sizeof buf), "");
    lstar_strings c;
    assert_int_equal(lstar_strings_copy(&c, &s, NULL), LSTAR_OK);
    assert_true(lstar_strings_equal(&c, &s));
    assert_int_equal(lstar_strings_append(&c, "x", 1, NULL), LSTAR_OK);
    assert_false(lstar_strings_equal(&c, &s));
    assert_int_equal(lstar_strings_check(&s, 4, NULL), LSTAR_OK);
    assert_int_equal(lstar_strings_check(&s, 3, NULL), LSTAR_ERR_CORRUPT);
    s.offsets[2] = 0;
    assert_int_equal(lstar_strings_check(&s, 4, NULL), LSTAR_ERR_CORRUPT);
    lstar_strings_destroy(&s);
    lstar_strings_destroy(&c);
    lstar_strings_destroy(NULL);
}

typedef struct {
    long long *out;
    size_t fail_at;
} pool_ctx;

static lstar_status square_task(void *ud, size_t i, int worker, lstar_error *err) {
    pool_ctx *c = ud;
    (void)worker;
    if (i == c->fail_at || i == c->fail_at + 5)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, "item", "failed at %zu", i);
    c->out[i] = (long long)i * (long long)i;
    return LSTAR_OK;
}

static void test_pool(void **state) {
    (void)state;
    assert_true(lstar_cpu_count() >= 1);
    for (int threads = 1; threads <= 4; threads++) {
        lstar_pool *p = NULL;
        assert_int_equal(lstar_pool_new(threads, &p, NULL), LSTAR_OK);
        assert_int_equal(lstar_pool_threads(p), threads);
        long long out[1000];
        pool_ctx c = {out, (size_t)-10};
        for (int rep = 0; rep < 3; rep++) {
            memset(out, 0, sizeof out);
            assert_int_equal(lstar_pool_run(p, 1000, square_task, &c, NULL), LSTAR_OK);
            for (size_t i = 0; i < 1000; i++) assert_int_equal(out[i], (long long)(i * i));
        }
        /* the failure of the lowest failing index is reported, whatever the thread count */
        c.fail_at = 300;
        lstar_error e;
        lstar_error_clear(&e);
        assert_int_equal(lstar_pool_run(p, 1000, square_task, &c, &e), LSTAR_ERR_CORRUPT);
        assert_string_equal(e.message, "failed at 300");
        lstar_pool_free(p);
    }
    lstar_pool_free(NULL);
    long long out[3];
    pool_ctx c = {out, (size_t)-10};
    assert_int_equal(lstar_pool_run(NULL, 3, square_task, &c, NULL), LSTAR_OK);
    assert_int_equal(out[2], 4);
}

typedef struct {
    size_t batch;
    uint64_t loaded[4];
    uint64_t worked[4];
    uint64_t out[100];
    size_t next_store;
    int order_ok;
} pipe_ctx;

static lstar_status pipe_load(void *ud, size_t i, int worker, lstar_error *err) {
    pipe_ctx *c = ud;
    (void)worker;
    (void)err;
    c->loaded[i % c->batch] = i * 3;
    return LSTAR_OK;
}
static lstar_status pipe_work(void *ud, size_t i, int worker, lstar_error *err) {
    pipe_ctx *c = ud;
    (void)worker;
    if (i == 77) return LSTAR_FAIL(err, LSTAR_ERR_CODEC, "item", "bad item %zu", i);
    c->worked[i % c->batch] = c->loaded[i % c->batch] + 1;
    return LSTAR_OK;
}
static lstar_status pipe_store(void *ud, size_t i, int worker, lstar_error *err) {
    pipe_ctx *c = ud;
    (void)worker;
    (void)err;
    if (i != c->next_store++) c->order_ok = 0;
    c->out[i] = c->worked[i % c->batch];
    return LSTAR_OK;
}

static void test_pool_pipeline(void **state) {
    (void)state;
    for (int threads = 1; threads <= 3; threads++) {
        lstar_pool *p = NULL;
        assert_int_equal(lstar_pool_new(threads, &p, NULL), LSTAR_OK);
        pipe_ctx c;
        memset(&c, 0, sizeof c);
        c.batch = 4;
        c.order_ok = 1;
        assert_int_equal(lstar_pool_pipeline(p, 70, 4, pipe_load, pipe_work, pipe_store, &c, NULL), LSTAR_OK);
        assert_true(c.order_ok);
        assert_int_equal(c.next_store, 70);
        for (size_t i = 0; i < 70; i++) assert_int_equal(c.out[i], i * 3 + 1);
        /* failure in a work item: reported, and no store of that batch runs */
        memset(&c, 0, sizeof c);
        c.batch = 4;
        c.order_ok = 1;
        lstar_error e;
        lstar_error_clear(&e);
        assert_int_equal(lstar_pool_pipeline(p, 100, 4, pipe_load, pipe_work, pipe_store, &c, &e), LSTAR_ERR_CODEC);
        assert_string_equal(e.message, "bad item 77");
        assert_int_equal(c.next_store, 76);
        lstar_pool_free(p);
    }
}

static void test_json_helpers(void **state) {
    (void)state;
    json_t *v = NULL;
    const char *txt = "{\"b\":1,\"a\":\"\",\"c\":null,\"d\":true,\"e\":\"x\"}";
    assert_int_equal(lstar_json_parse(txt, strlen(txt), "doc", &v, NULL), LSTAR_OK);
    assert_null(lstar_json_str(v, "a"));
    assert_null(lstar_json_str(v, "c"));
    assert_string_equal(lstar_json_str(v, "e"), "x");
    assert_int_equal(lstar_json_tristate(v, "d"), 1);
    assert_int_equal(lstar_json_tristate(v, "c"), -1);
    char *s = lstar_json_dump(v, 0);
    assert_string_equal(s, txt); /* insertion order kept */
    lstar_free(s);
    s = lstar_json_dump_sorted(v, 0);
    assert_string_equal(s, "{\"a\":\"\",\"b\":1,\"c\":null,\"d\":true,\"e\":\"x\"}");
    lstar_free(s);
    json_decref(v);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_json_parse("{\"a\":", 5, "x/.zarray", &v, &e), LSTAR_ERR_FORMAT);
    assert_string_equal(e.where, "x/.zarray");
    assert_non_null(strstr(e.message, "invalid JSON"));
}

static void test_version(void **state) {
    (void)state;
    assert_string_equal(lstar_version(), LSTAR_VERSION_STRING);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table), cmocka_unit_test(test_error_record),
        cmocka_unit_test(test_allocator_hook), cmocka_unit_test(test_buf),
        cmocka_unit_test(test_dtypes), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_pool), cmocka_unit_test(test_pool_pipeline), cmocka_unit_test(test_json_helpers),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
