/* Unit tests: key normalisation, memory/directory/zip stores, list_dir, open, concurrency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "lstar/lstar.h"
#include "test_support.h"

#define DATA LSTAR_SHARED_DATA
#define ZIP_0114 DATA "/scverse_anndata/tests/data/archives/v0.11.4/adata.zarr.zip"
#define ZIP_070 DATA "/scverse_anndata/tests/data/archives/v0.7.0/adata.zarr.zip"
#define ZIP_PBMC DATA "/scverse_scanpy/src/scanpy/datasets/10x_pbmc68k_reduced.zarr.zip"
#define PYTHON "/usr/bin/python3"

/* ---- helpers ------------------------------------------------------------- */

static void tmp_path(char *buf, size_t n, const char *name) { lt_tmp_path(buf, n, "store", name); }

typedef struct keylist {
    char *keys[512];
    int n;
    int stop_after; /* 0 = never */
} keylist;

static int collect(void *ud, const char *key) {
    keylist *l = ud;
    assert_true(l->n < 512);
    l->keys[l->n] = strdup(key);
    assert_non_null(l->keys[l->n]);
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static int cmp_strp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void keylist_sort(keylist *l) { qsort(l->keys, (size_t)l->n, sizeof l->keys[0], cmp_strp); }

static void keylist_free(keylist *l) {
    for (int i = 0; i < l->n; i++) free(l->keys[i]);
    l->n = 0;
}

static void assert_get(lstar_store *s, const char *key, const char *expect) {
    uint8_t *d = NULL;
    size_t n = 0;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_get(s, key, 0, &d, &n, &e), LSTAR_OK);
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(d, expect, n);
    lstar_free(d);
}

static int list_keys(lstar_store *s, const char *prefix, keylist *l) {
    memset(l, 0, sizeof *l);
    lstar_status st = lstar_store_list(s, prefix, collect, l, NULL);
    assert_int_equal(st, LSTAR_OK);
    keylist_sort(l);
    return l->n;
}

static int list_dir(lstar_store *s, const char *dir, keylist *l) {
    memset(l, 0, sizeof *l);
    lstar_status st = lstar_store_list_dir(s, dir, collect, l, NULL);
    assert_int_equal(st, LSTAR_OK);
    return l->n;
}

/* list_keys / list_dir must report exactly `want` (n keys, in this order). */
static void expect_keys(int got, keylist *l, const char *what, const char *const *want, int n) {
    if (got != n) fail_msg("%s: %d keys, expected %d", what, got, n);
    for (int i = 0; i < n; i++) assert_string_equal(l->keys[i], want[i]);
    keylist_free(l);
}
static void expect_list_keys(lstar_store *s, const char *prefix, const char *const *want, int n) {
    keylist l;
    expect_keys(list_keys(s, prefix, &l), &l, prefix, want, n);
}
static void expect_list_dir(lstar_store *s, const char *dir, const char *const *want, int n) {
    keylist l;
    expect_keys(list_dir(s, dir, &l), &l, dir, want, n);
}

static uint32_t crc_of(const uint8_t *d, size_t n) { return (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)n); }

/* ---- key normalisation ----------------------------------------------------- */

static void test_normalize_key(void **state) {
    (void)state;
    lstar_error e;
    char k[64];
    strcpy(k, "/a//b/c/");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_OK);
    assert_string_equal(k, "a/b/c");
    strcpy(k, "a\\b\\\\.zarray");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_OK);
    assert_string_equal(k, "a/b/.zarray");
    strcpy(k, "..a/b..");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_OK);
    assert_string_equal(k, "..a/b..");
    strcpy(k, "///");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_OK);
    assert_string_equal(k, "");
    lstar_error_clear(&e);
    strcpy(k, "a/./b");
    assert_int_equal(lstar_store_normalize_key(k, &e), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(e.status, LSTAR_ERR_INVALID_ARG);
    assert_non_null(strstr(e.message, "'.'"));
    strcpy(k, "../x");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_ERR_INVALID_ARG);
    strcpy(k, "x\\..");
    assert_int_equal(lstar_store_normalize_key(k, NULL), LSTAR_ERR_INVALID_ARG);

    char *big = malloc(LSTAR_MAX_KEY_BYTES + 2);
    assert_non_null(big);
    memset(big, 'a', LSTAR_MAX_KEY_BYTES + 1);
    big[LSTAR_MAX_KEY_BYTES + 1] = '\0';
    assert_int_equal(lstar_store_normalize_key(big, NULL), LSTAR_ERR_INVALID_ARG);
    big[LSTAR_MAX_KEY_BYTES] = '\0'; /* exactly at the limit: fine */
    assert_int_equal(lstar_store_normalize_key(big, NULL), LSTAR_OK);

    /* store calls reject bad keys without touching the backend */
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_new_memory(&s, NULL), LSTAR_OK);
    memset(big, 'a', LSTAR_MAX_KEY_BYTES + 1);
    big[LSTAR_MAX_KEY_BYTES + 1] = '\0';
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_set(s, big, "x", 1, &e), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_store_set(s, "a/../b", "x", 1, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_store_set(s, "//", "x", 1, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(lstar_store_set(s, NULL, "x", 1, NULL), LSTAR_ERR_INVALID_ARG);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(lstar_store_get(s, "", 0, &d, &n, NULL), LSTAR_ERR_INVALID_ARG);
    assert_null(d);
    /* a normalised spelling addresses the same key */
    assert_int_equal(lstar_store_set(s, "/x//y/", "v", 1, NULL), LSTAR_OK);
    assert_get(s, "x\\y", "v");
    lstar_store_close(s);
    free(big);
}

/* ---- the generic contract, run against memory and directory stores --------- */

static void exercise_rw_store(lstar_store *s) {
    lstar_error e;
    uint8_t *d = NULL;
    size_t n = 0;
    uint64_t sz = 0;
    keylist l;

    assert_true(lstar_store_writable(s));
    assert_int_equal(lstar_store_set(s, ".zgroup", "{\"zarr_format\":2}", 17, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "fields/X/.zarray", "{}", 2, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "fields/X/0.0", "0123456789", 10, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "fields/X/0.1", "abc", 3, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "fields/X2/.zarray", "[]", 2, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "fields/Y/data/c/0/1", "deep", 4, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "empty", NULL, 0, NULL), LSTAR_OK);

    assert_get(s, ".zgroup", "{\"zarr_format\":2}");
    assert_get(s, "fields/X/0.0", "0123456789");
    assert_get(s, "fields/Y/data/c/0/1", "deep");
    assert_get(s, "empty", "");

    /* replace */
    assert_int_equal(lstar_store_set(s, "fields/X/0.1", "ABCDEF", 6, NULL), LSTAR_OK);
    assert_get(s, "fields/X/0.1", "ABCDEF");

    /* size / exists */
    assert_int_equal(lstar_store_size(s, "fields/X/0.0", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, 10);
    assert_int_equal(lstar_store_size(s, "empty", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, 0);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_size(s, "fields/X/9.9", &sz, &e), LSTAR_ERR_NOT_FOUND);
    assert_string_equal(e.where, "fields/X/9.9");
    assert_int_equal(lstar_store_exists(s, "fields/X/0.0", NULL), 1);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_exists(s, "fields/X/nope", &e), 0);
    assert_int_equal(e.status, LSTAR_OK); /* not-found is not an error */
    assert_int_equal(lstar_store_exists(s, "fields/X", NULL), 0); /* a "directory" is not a key */
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_get(s, "fields", 0, &d, &n, &e), LSTAR_ERR_NOT_FOUND);
    assert_null(d);

    /* get_range */
    uint8_t buf[16];
    assert_int_equal(lstar_store_get_range(s, "fields/X/0.0", 3, 4, buf, NULL), LSTAR_OK);
    assert_memory_equal(buf, "3456", 4);
    assert_int_equal(lstar_store_get_range(s, "fields/X/0.0", 10, 0, buf, NULL), LSTAR_OK);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_get_range(s, "fields/X/0.0", 8, 3, buf, &e), LSTAR_ERR_CORRUPT);
    assert_string_equal(e.where, "fields/X/0.0");
    assert_int_equal(lstar_store_get_range(s, "missing", 0, 1, buf, NULL), LSTAR_ERR_NOT_FOUND);

    /* max_size */
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_get(s, "fields/X/0.0", 9, &d, &n, &e), LSTAR_ERR_LIMIT);
    assert_null(d);
    assert_string_equal(e.where, "fields/X/0.0");
    assert_int_equal(lstar_store_get(s, "fields/X/0.0", 10, &d, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 10);
    lstar_free(d);

    /* list */
    assert_int_equal(list_keys(s, "", &l), 7);
    assert_string_equal(l.keys[0], ".zgroup");
    assert_string_equal(l.keys[1], "empty");
    assert_string_equal(l.keys[2], "fields/X/.zarray");
    assert_string_equal(l.keys[6], "fields/Y/data/c/0/1");
    keylist_free(&l);
    assert_int_equal(list_keys(s, "fields/X/", &l), 3);
    assert_string_equal(l.keys[0], "fields/X/.zarray");
    assert_string_equal(l.keys[2], "fields/X/0.1");
    keylist_free(&l);
    assert_int_equal(list_keys(s, "fields/X", &l), 4); /* plain string prefix: X2 too */
    assert_string_equal(l.keys[3], "fields/X2/.zarray");
    keylist_free(&l);
    expect_list_keys(s, "/fields//Y/", (const char *const[]){"fields/Y/data/c/0/1"}, 1);
    assert_int_equal(list_keys(s, "nothing/", &l), 0);
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(lstar_store_list(s, "", collect, &l, NULL), LSTAR_OK);
    assert_int_equal(l.n, 2);
    keylist_free(&l);

    /* list_dir: sorted distinct children */
    expect_list_dir(s, "", (const char *const[]){".zgroup", "empty", "fields"}, 3);
    expect_list_dir(s, "fields", (const char *const[]){"X", "X2", "Y"}, 3);
    expect_list_dir(s, "/fields/X/", (const char *const[]){".zarray", "0.0", "0.1"}, 3);
    expect_list_dir(s, "fields/Y/data", (const char *const[]){"c"}, 1);
    assert_int_equal(list_dir(s, "fields/X/0.0", &l), 0); /* a key, not a directory */
    assert_int_equal(list_dir(s, "fie", &l), 0);

    /* erase */
    assert_int_equal(lstar_store_erase(s, "fields/X/0.0", NULL), LSTAR_OK);
    assert_int_equal(lstar_store_exists(s, "fields/X/0.0", NULL), 0);
    assert_int_equal(lstar_store_erase(s, "fields/X/0.0", NULL), LSTAR_OK); /* absent: fine */
    assert_int_equal(lstar_store_erase(s, "never/was", NULL), LSTAR_OK);
    assert_int_equal(list_keys(s, "fields/X/", &l), 2);
    keylist_free(&l);
    assert_int_equal(lstar_store_flush(s, NULL), LSTAR_OK);

    /* a bigger object */
    size_t big = 300000;
    uint8_t *src = malloc(big);
    assert_non_null(src);
    for (size_t i = 0; i < big; i++) src[i] = (uint8_t)(i * 31u + 7u);
    assert_int_equal(lstar_store_set(s, "big/blob", src, big, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_get(s, "big/blob", 0, &d, &n, NULL), LSTAR_OK);
    assert_int_equal(n, big);
    assert_memory_equal(d, src, big);
    lstar_free(d);
    assert_int_equal(lstar_store_get_range(s, "big/blob", 123457, 16, buf, NULL), LSTAR_OK);
    assert_memory_equal(buf, src + 123457, 16);
    free(src);
}

static void test_memory_store(void **state) {
    (void)state;
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_new_memory(&s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "memory");
    exercise_rw_store(s);
    /* many keys: the hash map grows */
    char k[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "m/%d", i);
        assert_int_equal(lstar_store_set(s, k, k, strlen(k), NULL), LSTAR_OK);
    }
    for (int i = 0; i < 2000; i += 97) {
        snprintf(k, sizeof k, "m/%d", i);
        assert_get(s, k, k);
    }
    keylist l;
    assert_int_equal(list_dir(s, "", &l), 5);
    assert_string_equal(l.keys[3], "fields");
    assert_string_equal(l.keys[4], "m");
    keylist_free(&l);
    lstar_store_close(s);
    lstar_store_close(NULL);
}

static void test_dir_store(void **state) {
    (void)state;
    char root[512], p[1024];
    tmp_path(root, sizeof root, "dir");
    lt_rm_rf(root);
    lstar_store *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    /* absent without CREATE */
    assert_int_equal(lstar_store_open_dir(root, LSTAR_STORE_READ, &s, &e), LSTAR_ERR_NOT_FOUND);
    assert_null(s);
    assert_string_equal(e.where, root);
    snprintf(p, sizeof p, "%s/nested/deeper", root);
    assert_int_equal(lstar_store_open_dir(p, LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "directory");
    exercise_rw_store(s);
    lstar_store_close(s);

    /* files are where the keys say, no temporaries left behind */
    snprintf(p, sizeof p, "%s/nested/deeper/fields/Y/data/c/0/1", root);
    assert_true(lt_path_exists(p));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '.lstar-tmp-*')\"", root);
    assert_int_equal(system(cmd), 0);

    /* a stray temp file and an empty directory are not keys */
    snprintf(p, sizeof p, "%s/nested/deeper/fields/.lstar-tmp-1-2", root);
    lt_write_text(p, "junk");
    snprintf(p, sizeof p, "%s/nested/deeper/emptydir", root);
    assert_int_equal(mkdir(p, 0777), 0);

    /* read-only reopen */
    snprintf(p, sizeof p, "%s/nested/deeper", root);
    assert_int_equal(lstar_store_open(p, LSTAR_STORE_READ, &s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "directory");
    assert_false(lstar_store_writable(s));
    assert_get(s, "fields/X/0.1", "ABCDEF");
    keylist l;
    assert_int_equal(list_keys(s, "fields/", &l), 4);
    keylist_free(&l);
    assert_int_equal(list_dir(s, "", &l), 4);
    assert_string_equal(l.keys[0], ".zgroup");
    assert_string_equal(l.keys[1], "big");
    keylist_free(&l);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_set(s, "x", "y", 1, &e), LSTAR_ERR_READONLY);
    assert_string_equal(e.where, "x");
    assert_int_equal(lstar_store_erase(s, "fields/X/0.1", NULL), LSTAR_ERR_READONLY);
    lstar_store_close(s);

    /* lstar_store_open: CREATE makes a directory; a non-zip file is refused */
    snprintf(p, sizeof p, "%s/made", root);
    assert_int_equal(lstar_store_open(p, LSTAR_STORE_READ, &s, NULL), LSTAR_ERR_NOT_FOUND);
    assert_int_equal(lstar_store_open(p, LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "directory");
    assert_int_equal(lstar_store_set(s, "a/b", "c", 1, NULL), LSTAR_OK);
    lstar_store_close(s);
    snprintf(p, sizeof p, "%s/made/a/b", root);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_open(p, LSTAR_STORE_READ, &s, &e), LSTAR_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(e.message, "zip"));
    assert_int_equal(lstar_store_open_dir(p, LSTAR_STORE_READ, &s, NULL), LSTAR_ERR_FORMAT);
    lt_rm_rf(root);
}

/* A key whose parent is a file cannot be created; the error names the key. */
static void test_dir_store_parent_is_file(void **state) {
    (void)state;
    char root[512];
    tmp_path(root, sizeof root, "pfile");
    lt_rm_rf(root);
    lstar_store *s = NULL;
    lstar_error e;
    assert_int_equal(lstar_store_open_dir(root, LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &s, NULL), LSTAR_OK);
    assert_int_equal(lstar_store_set(s, "a", "1", 1, NULL), LSTAR_OK);
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_set(s, "a/b", "2", 1, &e), LSTAR_ERR_IO);
    assert_int_equal(lstar_store_exists(s, "a/b", NULL), 0);
    assert_get(s, "a", "1");
    lstar_store_close(s);
    lt_rm_rf(root);
}

/* ---- custom backend through lstar_store_from_ops -------------------------- */

static int g_closed;
static lstar_status one_get(void *ctx, const char *key, size_t max, uint8_t **data, size_t *size, lstar_error *err) {
    (void)ctx;
    if (strcmp(key, "k") != 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "absent");
    if (max < 5) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "big");
    *data = lstar_malloc(5);
    memcpy(*data, "hello", 5);
    *size = 5;
    return LSTAR_OK;
}
static lstar_status one_size(void *ctx, const char *key, uint64_t *size, lstar_error *err) {
    (void)ctx;
    if (strcmp(key, "k") != 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "absent");
    *size = 5;
    return LSTAR_OK;
}
static lstar_status one_list(void *ctx, const char *prefix, lstar_store_list_cb cb, void *ud, lstar_error *err) {
    (void)ctx;
    (void)err;
    if (strncmp("k", prefix, strlen(prefix)) == 0) cb(ud, "k");
    return LSTAR_OK;
}
static void one_close(void *ctx) {
    (void)ctx;
    g_closed++;
}

static void test_from_ops(void **state) {
    (void)state;
    static const lstar_store_ops ops = {LSTAR_STORE_OPS_VERSION, "one", one_get, NULL, one_size, NULL, NULL,
                                        one_list, NULL, one_close};
    static const lstar_store_ops bad = {0, "bad", one_get, NULL, one_size, NULL, NULL, one_list, NULL, one_close};
    lstar_store *s = NULL;
    g_closed = 0;
    /* writable request on a read-only backend: refused, ctx released */
    assert_int_equal(lstar_store_from_ops(&ops, NULL, LSTAR_STORE_WRITE, &s, NULL), LSTAR_ERR_READONLY);
    assert_int_equal(g_closed, 1);
    assert_int_equal(lstar_store_from_ops(&bad, NULL, 0, &s, NULL), LSTAR_ERR_INVALID_ARG);
    assert_int_equal(g_closed, 2);
    assert_int_equal(lstar_store_from_ops(&ops, NULL, 0, &s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "one");
    uint8_t buf[4];
    /* get_range emulated through get */
    assert_int_equal(lstar_store_get_range(s, "/k", 1, 3, buf, NULL), LSTAR_OK);
    assert_memory_equal(buf, "ell", 3);
    assert_int_equal(lstar_store_get_range(s, "k", 3, 3, buf, NULL), LSTAR_ERR_CORRUPT);
    assert_int_equal(lstar_store_set(s, "k", "x", 1, NULL), LSTAR_ERR_READONLY);
    expect_list_dir(s, "", (const char *const[]){"k"}, 1);
    lstar_store_close(s);
    assert_int_equal(g_closed, 3);
}

/* ---- zip: real archives -------------------------------------------------- */

static lstar_store *open_zip_or_skip(const char *path) {
    if (!lt_path_exists(path)) {
        print_message("shared data file %s is absent: skipping\n", path);
        skip();
    }
    lstar_store *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_store_open(path, LSTAR_STORE_READ, &s, &e);
    if (st != LSTAR_OK) print_message("open %s: %s\n", path, e.message);
    assert_int_equal(st, LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "zip");
    assert_false(lstar_store_writable(s));
    return s;
}

/* v0.11.4: 39 entries, 24 distinct names, duplicates (metadata rewritten): the last wins. */
static void test_zip_duplicates_last_wins(void **state) {
    (void)state;
    lstar_store *s = open_zip_or_skip(ZIP_0114);
    keylist l;
    assert_int_equal(list_keys(s, "", &l), 24);
    assert_string_equal(l.keys[0], ".zattrs");
    assert_string_equal(l.keys[23], "varp/.zgroup");
    keylist_free(&l);
    /* python zipfile: .zattrs is 34 bytes first, 67 bytes last */
    uint64_t sz = 0;
    assert_int_equal(lstar_store_size(s, ".zattrs", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, 67);
    assert_get(s, ".zattrs", "{\n    \"encoding-type\": \"anndata\",\n    \"encoding-version\": \"0.1.0\"\n}");
    /* obs/.zattrs occurs 4 times; the last is 117 bytes */
    assert_get(s, "obs/.zattrs",
               "{\n    \"_index\": \"_index\",\n    \"column-order\": [],\n    \"encoding-type\": \"dataframe\",\n"
               "    \"encoding-version\": \"0.2.0\"\n}");
    assert_int_equal(list_dir(s, "", &l), 10);
    assert_string_equal(l.keys[0], ".zattrs");
    assert_string_equal(l.keys[2], "layers");
    assert_string_equal(l.keys[9], "varp");
    keylist_free(&l);
    assert_int_equal(list_dir(s, "obs", &l), 3);
    assert_string_equal(l.keys[2], "_index");
    keylist_free(&l);
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_set(s, "x", "y", 1, &e), LSTAR_ERR_READONLY);
    lstar_store *w = NULL;
    assert_int_equal(lstar_store_open(ZIP_0114, LSTAR_STORE_WRITE, &w, NULL), LSTAR_ERR_READONLY);
    assert_null(w);
    lstar_store_close(s);
}

/* v0.7.0: STORED and DEFLATE mixed, directory entries present (skipped). */
static void test_zip_stored_and_deflate(void **state) {
    (void)state;
    lstar_store *s = open_zip_or_skip(ZIP_070);
    keylist l;
    assert_int_equal(list_keys(s, "", &l), 226); /* 333 entries, 107 of them directories */
    keylist_free(&l);
    assert_int_equal(list_dir(s, "", &l), 11);
    assert_string_equal(l.keys[0], ".zgroup");
    assert_string_equal(l.keys[1], "X");
    keylist_free(&l);
    static const struct {
        const char *key;
        size_t size;
        uint32_t crc;
        uint8_t at100[8];
    } want[] = {
        {"raw/varm/array/0.0", 14070, 0x75aec6f7u, {0x28, 0x5a, 0xef, 0x5a, 0x10, 0x51, 0x36, 0x55}}, /* DEFLATE */
        {"obsm/array/0.0", 10568, 0x18ceaa18u, {0x7c, 0x9e, 0x61, 0x52, 0x10, 0x10, 0x84, 0x1a}},     /* DEFLATE */
        {"layers/array/0.0", 4265, 0x0ca4fdd1u, {0x84, 0x34, 0x08, 0x71, 0x26, 0x23, 0x14, 0xd6}},   /* STORED */
        {"varp/array/0.0", 2864, 0xb608984cu, {0xa9, 0x59, 0x89, 0xe4, 0x42, 0x7a, 0xa0, 0x73}},     /* STORED */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint8_t *d = NULL, buf[8];
        size_t n = 0;
        assert_int_equal(lstar_store_get(s, want[i].key, 0, &d, &n, NULL), LSTAR_OK);
        assert_int_equal(n, want[i].size);
        assert_int_equal(crc_of(d, n), want[i].crc);
        assert_memory_equal(d + 100, want[i].at100, 8);
        lstar_free(d);
        assert_int_equal(lstar_store_get_range(s, want[i].key, 100, 8, buf, NULL), LSTAR_OK);
        assert_memory_equal(buf, want[i].at100, 8);
        /* the last bytes via get_range too */
        assert_int_equal(lstar_store_get_range(s, want[i].key, want[i].size - 8, 8, buf, NULL), LSTAR_OK);
        assert_int_equal(lstar_store_get_range(s, want[i].key, want[i].size - 7, 8, buf, NULL), LSTAR_ERR_CORRUPT);
        lstar_error e;
        lstar_error_clear(&e);
        assert_int_equal(lstar_store_get(s, want[i].key, want[i].size - 1, &d, &n, &e), LSTAR_ERR_LIMIT);
        assert_string_equal(e.where, want[i].key);
    }
    assert_int_equal(lstar_store_exists(s, "obsp/", NULL), 0);
    assert_int_equal(lstar_store_exists(s, "obsp/array/.zarray", NULL), 1);
    lstar_store_close(s);
}

/* Zarr v3 sharded archive from scanpy: 249 entries, 120 names. */
static void test_zip_pbmc68k(void **state) {
    (void)state;
    lstar_store *s = open_zip_or_skip(ZIP_PBMC);
    keylist l;
    assert_int_equal(list_keys(s, "", &l), 120);
    keylist_free(&l);
    uint64_t sz = 0;
    assert_int_equal(lstar_store_size(s, "zarr.json", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, 79688); /* the 4th and last "zarr.json" */
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(lstar_store_get(s, "layers/counts/indices/c/0", 0, &d, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 169746);
    assert_int_equal(crc_of(d, n), 0xd999e634u);
    uint8_t buf[8], expect[8] = {0x37, 0xa7, 0x46, 0xd6, 0xe1, 0x02, 0x55, 0x82};
    assert_memory_equal(d + 1000, expect, 8);
    lstar_free(d);
    assert_int_equal(lstar_store_get_range(s, "layers/counts/indices/c/0", 1000, 8, buf, NULL), LSTAR_OK);
    assert_memory_equal(buf, expect, 8);
    assert_int_equal(list_dir(s, "", &l), 11);
    assert_string_equal(l.keys[10], "zarr.json");
    keylist_free(&l);
    lstar_store_close(s);
}

/* ---- zip: archives built here -------------------------------------------- */

static int run_python(const char *script) {
    if (!lt_path_exists(PYTHON)) return -1;
    char path[512];
    tmp_path(path, sizeof path, "mkzip.py");
    lt_write_text(path, script);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s '%s'", PYTHON, path);
    int rc = system(cmd);
    unlink(path);
    return rc;
}

/* Python zipfile with force_zip64 (ZIP64 extras in the local headers only, so
 * local and central extra lengths differ), mixed methods, a duplicate, a
 * directory entry, an archive comment, and junk before the archive. */
static void test_zip_python_built(void **state) {
    (void)state;
    char zpath[512], script[4096];
    tmp_path(zpath, sizeof zpath, "py.zip");
    snprintf(script, sizeof script,
             "import warnings, zipfile\nwarnings.simplefilter(\"ignore\")\n"
             "p = '%s'\n"
             "with open(p, 'wb') as f: f.write(b'#!/bin/sh\\necho self-extractor stub\\n' * 10)\n"
             "z = zipfile.ZipFile(p, 'a', compression=zipfile.ZIP_DEFLATED, allowZip64=True)\n"
             "z.comment = b'an archive comment with PK\\x05\\x06 inside'\n"
             "z.writestr('a/.zarray', b'old')\n"
             "z.writestr(zipfile.ZipInfo('a/'), b'')\n"
             "big = bytes((i * 7 + i // 300) %% 256 for i in range(200000))\n"
             "with z.open('a/0.0', 'w', force_zip64=True) as w: w.write(big)\n"
             "z.writestr('a/0.1', b'stored bytes', compress_type=zipfile.ZIP_STORED)\n"
             "z.writestr('a/.zarray', b'{\"new\": true}')\n"
             "z.close()\n",
             zpath);
    int rc = run_python(script);
    if (rc != 0) {
        print_message("%s could not build the zip (rc %d): skipping\n", PYTHON, rc);
        skip();
    }
    lstar_store *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_store_open_zip(zpath, &s, &e); /* junk first: open_zip, not the sniffer */
    if (st != LSTAR_OK) print_message("%s\n", e.message);
    assert_int_equal(st, LSTAR_OK);
    expect_list_keys(s, "", (const char *const[]){"a/.zarray", "a/0.0", "a/0.1"}, 3);
    assert_get(s, "a/.zarray", "{\"new\": true}");
    assert_get(s, "a/0.1", "stored bytes");
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(lstar_store_get(s, "a/0.0", 0, &d, &n, NULL), LSTAR_OK);
    assert_int_equal(n, 200000);
    for (size_t i = 0; i < n; i += 1999) assert_int_equal(d[i], (uint8_t)((i * 7 + i / 300) % 256));
    lstar_free(d);
    uint8_t buf[5];
    assert_int_equal(lstar_store_get_range(s, "a/0.0", 150000, 5, buf, NULL), LSTAR_OK);
    for (size_t i = 0; i < 5; i++) assert_int_equal(buf[i], (uint8_t)(((150000 + i) * 7 + (150000 + i) / 300) % 256));
    lstar_store_close(s);
    unlink(zpath);
}

/* Hand-written ZIP64 archive: a 5 GiB sparse file whose second entry's local
 * header lies beyond 4 GiB (offset in the ZIP64 extra field), sizes given as
 * 0xFFFFFFFF + extra, and a ZIP64 end of central directory + locator. */

static void pwrite_all(int fd, const void *b, size_t n, uint64_t off) {
    assert_int_equal(pwrite(fd, b, n, (off_t)off), (ssize_t)n);
}

static void test_zip64_beyond_4gib(void **state) {
    (void)state;
    char zpath[512];
    tmp_path(zpath, sizeof zpath, "z64.zip");
    int fd = open(zpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    const char *n1 = "small", *n2 = "far/away";
    const char *d1 = "near data", *d2 = "data beyond four gibibytes";
    size_t l1 = strlen(d1), l2 = strlen(d2);
    uint32_t c1 = crc_of((const uint8_t *)d1, l1), c2 = crc_of((const uint8_t *)d2, l2);
    uint8_t h[128];
    /* entry 1: plain local header at 0 */
    memset(h, 0, sizeof h);
    lt_put_le32(h, 0x04034b50u);
    lt_put_le16(h + 4, 20);
    lt_put_le32(h + 14, c1);
    lt_put_le32(h + 18, (uint32_t)l1);
    lt_put_le32(h + 22, (uint32_t)l1);
    lt_put_le16(h + 26, (uint16_t)strlen(n1));
    memcpy(h + 30, n1, strlen(n1));
    pwrite_all(fd, h, 30 + strlen(n1), 0);
    pwrite_all(fd, d1, l1, 30 + strlen(n1));
    /* entry 2 at 5 GiB: ZIP64 local header (sizes in extra) */
    uint64_t lho2 = 5ull << 30;
    memset(h, 0, sizeof h);
    lt_put_le32(h, 0x04034b50u);
    lt_put_le16(h + 4, 45);
    lt_put_le32(h + 14, c2);
    lt_put_le32(h + 18, 0xFFFFFFFFu);
    lt_put_le32(h + 22, 0xFFFFFFFFu);
    lt_put_le16(h + 26, (uint16_t)strlen(n2));
    lt_put_le16(h + 28, 20);
    memcpy(h + 30, n2, strlen(n2));
    uint8_t *x = h + 30 + strlen(n2);
    lt_put_le16(x, 1);
    lt_put_le16(x + 2, 16);
    lt_put_le64(x + 4, l2);
    lt_put_le64(x + 12, l2);
    size_t lh2 = 30 + strlen(n2) + 20;
    pwrite_all(fd, h, lh2, lho2);
    pwrite_all(fd, d2, l2, lho2 + lh2);
    /* central directory */
    uint64_t cd = lho2 + lh2 + l2, pos = cd;
    memset(h, 0, sizeof h);
    lt_put_le32(h, 0x02014b50u);
    lt_put_le16(h + 4, 45);
    lt_put_le16(h + 6, 20);
    lt_put_le32(h + 16, c1);
    lt_put_le32(h + 20, (uint32_t)l1);
    lt_put_le32(h + 24, (uint32_t)l1);
    lt_put_le16(h + 28, (uint16_t)strlen(n1));
    memcpy(h + 46, n1, strlen(n1));
    pwrite_all(fd, h, 46 + strlen(n1), pos);
    pos += 46 + strlen(n1);
    memset(h, 0, sizeof h);
    lt_put_le32(h, 0x02014b50u);
    lt_put_le16(h + 4, 45);
    lt_put_le16(h + 6, 45);
    lt_put_le32(h + 16, c2);
    lt_put_le32(h + 20, 0xFFFFFFFFu);
    lt_put_le32(h + 24, 0xFFFFFFFFu);
    lt_put_le16(h + 28, (uint16_t)strlen(n2));
    lt_put_le16(h + 30, 28);
    lt_put_le32(h + 42, 0xFFFFFFFFu);
    memcpy(h + 46, n2, strlen(n2));
    x = h + 46 + strlen(n2);
    lt_put_le16(x, 1);
    lt_put_le16(x + 2, 24);
    lt_put_le64(x + 4, l2);  /* uncompressed */
    lt_put_le64(x + 12, l2); /* compressed */
    lt_put_le64(x + 20, lho2);
    pwrite_all(fd, h, 46 + strlen(n2) + 28, pos);
    pos += 46 + strlen(n2) + 28;
    uint64_t cd_size = pos - cd, z64 = pos;
    /* ZIP64 EOCD record, locator, EOCD */
    memset(h, 0, sizeof h);
    lt_put_le32(h, 0x06064b50u);
    lt_put_le64(h + 4, 44);
    lt_put_le16(h + 12, 45);
    lt_put_le16(h + 14, 45);
    lt_put_le64(h + 24, 2);
    lt_put_le64(h + 32, 2);
    lt_put_le64(h + 40, cd_size);
    lt_put_le64(h + 48, cd);
    lt_put_le32(h + 56, 0x07064b50u);
    lt_put_le64(h + 64, z64);
    lt_put_le32(h + 72, 1);
    lt_put_le32(h + 76, 0x06054b50u);
    lt_put_le16(h + 84, 0xFFFF);
    lt_put_le16(h + 86, 0xFFFF);
    lt_put_le32(h + 88, 0xFFFFFFFFu);
    lt_put_le32(h + 92, 0xFFFFFFFFu);
    pwrite_all(fd, h, 98, pos);
    close(fd);

    lstar_store *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_store_open_zip(zpath, &s, &e);
    if (st != LSTAR_OK) print_message("%s\n", e.message);
    assert_int_equal(st, LSTAR_OK);
    keylist l;
    assert_int_equal(list_keys(s, "", &l), 2);
    assert_string_equal(l.keys[0], "far/away");
    keylist_free(&l);
    assert_get(s, "small", d1);
    assert_get(s, "far/away", d2);
    uint8_t buf[6];
    assert_int_equal(lstar_store_get_range(s, "far/away", 5, 6, buf, NULL), LSTAR_OK);
    assert_memory_equal(buf, "beyond", 6);
    uint64_t sz = 0;
    assert_int_equal(lstar_store_size(s, "far/away", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, l2);
    lstar_store_close(s);
    unlink(zpath);
}

/* An empty zip ("PK\5\6" only) opens as an empty store. */
static void test_zip_empty(void **state) {
    (void)state;
    char zpath[512];
    tmp_path(zpath, sizeof zpath, "empty.zip");
    uint8_t eocd[22] = {'P', 'K', 5, 6};
    FILE *f = fopen(zpath, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(eocd, 1, sizeof eocd, f), sizeof eocd);
    fclose(f);
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_open(zpath, LSTAR_STORE_READ, &s, NULL), LSTAR_OK);
    assert_string_equal(lstar_store_backend(s), "zip");
    keylist l;
    assert_int_equal(list_keys(s, "", &l), 0);
    assert_int_equal(list_dir(s, "", &l), 0);
    assert_int_equal(lstar_store_exists(s, "x", NULL), 0);
    lstar_store_close(s);
    unlink(zpath);
}

/* ---- concurrency ------------------------------------------------------------ */

typedef struct thr_arg {
    lstar_store *s;
    int id;
    int failures;
} thr_arg;

static void *reader_thread(void *p) {
    thr_arg *a = p;
    char k[64], v[64];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 20; i++) {
            snprintf(k, sizeof k, "r/%d/%d", i % 4, i);
            snprintf(v, sizeof v, "value-%d-%d", i, i * i);
            uint8_t *d = NULL, buf[4];
            size_t n = 0;
            if (lstar_store_get(a->s, k, 0, &d, &n, NULL) != LSTAR_OK || n != strlen(v) || memcmp(d, v, n) != 0)
                a->failures++;
            lstar_free(d);
            if (lstar_store_get_range(a->s, k, 2, 4, buf, NULL) != LSTAR_OK || memcmp(buf, v + 2, 4) != 0)
                a->failures++;
        }
        /* writers on distinct keys */
        snprintf(k, sizeof k, "w/%d/%d", a->id, round);
        if (lstar_store_set(a->s, k, k, strlen(k), NULL) != LSTAR_OK) a->failures++;
    }
    return NULL;
}

/* Run `body` on 4 threads sharing `s` (thread ids 0-3); every thread must report no failure. */
static void run_threads(lstar_store *s, void *(*body)(void *)) {
    pthread_t t[4];
    thr_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].s = s;
        a[i].id = i;
        a[i].failures = 0;
        assert_int_equal(pthread_create(&t[i], NULL, body, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
}

static void concurrent_rw(lstar_store *s) {
    char k[64], v[64];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "r/%d/%d", i % 4, i);
        snprintf(v, sizeof v, "value-%d-%d", i, i * i);
        assert_int_equal(lstar_store_set(s, k, v, strlen(v), NULL), LSTAR_OK);
    }
    run_threads(s, reader_thread);
    keylist l;
    memset(&l, 0, sizeof l);
    assert_int_equal(list_dir(s, "w", &l), 4);
    keylist_free(&l);
    int count = 0;
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < 50; r++) {
            snprintf(k, sizeof k, "w/%d/%d", i, r);
            count += lstar_store_exists(s, k, NULL);
        }
    assert_int_equal(count, 200);
}

static void test_concurrent_memory(void **state) {
    (void)state;
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_new_memory(&s, NULL), LSTAR_OK);
    concurrent_rw(s);
    lstar_store_close(s);
}

static void test_concurrent_dir(void **state) {
    (void)state;
    char root[512];
    tmp_path(root, sizeof root, "conc");
    lt_rm_rf(root);
    lstar_store *s = NULL;
    assert_int_equal(lstar_store_open_dir(root, LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &s, NULL), LSTAR_OK);
    concurrent_rw(s);
    lstar_store_close(s);
    lt_rm_rf(root);
}

static void *zip_reader_thread(void *p) {
    thr_arg *a = p;
    for (int round = 0; round < 20; round++) {
        uint8_t *d = NULL;
        size_t n = 0;
        const char *key = (round + a->id) % 2 ? "raw/varm/array/0.0" : "layers/array/0.0";
        uint32_t want = (round + a->id) % 2 ? 0x75aec6f7u : 0x0ca4fdd1u;
        if (lstar_store_get(a->s, key, 0, &d, &n, NULL) != LSTAR_OK || crc_of(d, n) != want) a->failures++;
        lstar_free(d);
    }
    return NULL;
}

static void test_concurrent_zip(void **state) {
    (void)state;
    lstar_store *s = open_zip_or_skip(ZIP_070);
    run_threads(s, zip_reader_thread);
    lstar_store_close(s);
}


/* ---- allocation failure: every failing allocation is reported, nothing leaks ---- */

static int count_cb(void *ud, const char *key) {
    (void)key;
    (*(int *)ud)++;
    return 0;
}

/* One pass over every store entry point; returns the first failing status. */
static lstar_status alloc_scenario(const char *root) {
    lstar_status st;
    lstar_store *m = NULL, *d = NULL, *z = NULL;
    uint8_t *buf = NULL;
    size_t n = 0;
    int cnt = 0;
    st = lstar_store_new_memory(&m, NULL);
    if (st == LSTAR_OK) st = lstar_store_set(m, "a/b/c", "xyz", 3, NULL);
    if (st == LSTAR_OK) st = lstar_store_set(m, "a/d", "q", 1, NULL);
    if (st == LSTAR_OK) st = lstar_store_get(m, "a/b/c", 0, &buf, &n, NULL);
    lstar_free(buf);
    buf = NULL;
    if (st == LSTAR_OK) st = lstar_store_list(m, "", count_cb, &cnt, NULL);
    if (st == LSTAR_OK) st = lstar_store_list_dir(m, "a", count_cb, &cnt, NULL);
    if (st == LSTAR_OK) st = lstar_store_open_dir(root, LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &d, NULL);
    if (st == LSTAR_OK) st = lstar_store_set(d, "x/y", "12345", 5, NULL);
    if (st == LSTAR_OK) st = lstar_store_get(d, "x/y", 0, &buf, &n, NULL);
    lstar_free(buf);
    buf = NULL;
    if (st == LSTAR_OK) st = lstar_store_list_dir(d, "", count_cb, &cnt, NULL);
    if (st == LSTAR_OK) st = lstar_store_open(ZIP_070, LSTAR_STORE_READ, &z, NULL);
    if (st == LSTAR_OK) st = lstar_store_get(z, "raw/varm/array/0.0", 0, &buf, &n, NULL);
    lstar_free(buf);
    buf = NULL;
    uint8_t r[8];
    if (st == LSTAR_OK) st = lstar_store_get_range(z, "obsm/array/0.0", 100, 8, r, NULL);
    if (st == LSTAR_OK) st = lstar_store_list_dir(z, "", count_cb, &cnt, NULL);
    lstar_store_close(m);
    lstar_store_close(d);
    lstar_store_close(z);
    return st;
}

static void test_allocation_failures(void **state) {
    (void)state;
    if (!lt_path_exists(ZIP_070)) skip();
    char root[512];
    tmp_path(root, sizeof root, "allocfail");
    long n;
    for (n = 0; n < 10000; n++) {
        /* the first n allocations succeed, every later one fails */
        lt_failing f;
        lt_failing_start(&f, n + 1, 1);
        lstar_status st = alloc_scenario(root);
        lt_failing_stop();
        if (!f.injected) {
            assert_int_equal(st, LSTAR_OK);
            break;
        }
        if (st != LSTAR_ERR_NOMEM) print_message("allocation %ld failed, got %s\n", n, lstar_status_name(st));
        assert_int_equal(st, LSTAR_ERR_NOMEM);
    }
    assert_true(n > 20 && n < 10000);
    lt_rm_rf(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_key),
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_dir_store),
        cmocka_unit_test(test_dir_store_parent_is_file),
        cmocka_unit_test(test_from_ops),
        cmocka_unit_test(test_zip_duplicates_last_wins),
        cmocka_unit_test(test_zip_stored_and_deflate),
        cmocka_unit_test(test_zip_pbmc68k),
        cmocka_unit_test(test_zip_python_built),
        cmocka_unit_test(test_zip64_beyond_4gib),
        cmocka_unit_test(test_zip_empty),
        cmocka_unit_test(test_concurrent_memory),
        cmocka_unit_test(test_concurrent_dir),
        cmocka_unit_test(test_concurrent_zip),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
