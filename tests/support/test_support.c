/* Test support shared by tests/unit and tests/malformed (test_support.h). */
#include "test_support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lstar/alloc.h"

void lt_need(const char *path) {
    if (access(path, R_OK) != 0) {
        print_message("shared test data missing: %s (skipping)\n", path);
        skip();
    }
}

/* ---- failing allocator ---------------------------------------------------------------------------------- */

static pthread_mutex_t g_fail_mu = PTHREAD_MUTEX_INITIALIZER;

/* Count one allocation attempt; 1 when it must fail. */
static int attempt_fails(lt_failing *f) {
    pthread_mutex_lock(&g_fail_mu);
    long c = ++f->count;
    int fail = f->fail_at > 0 && (c == f->fail_at || (f->sticky && c > f->fail_at));
    if (fail) f->injected = 1;
    pthread_mutex_unlock(&g_fail_mu);
    return fail;
}

static void live_add(lt_failing *f, long d) {
    pthread_mutex_lock(&g_fail_mu);
    f->live += d;
    pthread_mutex_unlock(&g_fail_mu);
}

static void *failing_malloc(void *ud, size_t n) {
    if (attempt_fails(ud)) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) live_add(ud, 1);
    return p;
}

static void *failing_realloc(void *ud, void *p, size_t n) {
    if (attempt_fails(ud)) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && !p) live_add(ud, 1);
    return q;
}

static void failing_free(void *ud, void *p) {
    if (p) live_add(ud, -1);
    free(p);
}

void lt_failing_set(lt_failing *f, long fail_at, int sticky) {
    pthread_mutex_lock(&g_fail_mu);
    f->fail_at = fail_at;
    f->sticky = sticky;
    pthread_mutex_unlock(&g_fail_mu);
}

void lt_failing_start(lt_failing *f, long fail_at, int sticky) {
    memset(f, 0, sizeof *f);
    f->fail_at = fail_at;
    f->sticky = sticky;
    lstar_allocator a = {failing_malloc, failing_realloc, failing_free, f};
    lstar_set_allocator(&a);
}

void lt_failing_stop(void) { lstar_set_allocator(NULL); }

/* ---- little-endian fields ------------------------------------------------------------------------------ */

void lt_put_le16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void lt_put_le32(uint8_t *p, uint32_t v) {
    lt_put_le16(p, (uint16_t)v);
    lt_put_le16(p + 2, (uint16_t)(v >> 16));
}

void lt_put_le64(uint8_t *p, uint64_t v) {
    lt_put_le32(p, (uint32_t)v);
    lt_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- files ---------------------------------------------------------------------------------------------- */

void lt_tmp_path(char *buf, size_t n, const char *prefix, const char *name) {
    snprintf(buf, n, "%s/%s_%ld_%s", LSTAR_TEST_TMP, prefix, (long)getpid(), name);
}

void lt_rm_rf(const char *path) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

int lt_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

void lt_write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    if (!fp) fail_msg("cannot create %s", path);
    size_t n = strlen(text);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

void *lt_read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    assert_true(len >= 0);
    assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
    char *buf = lstar_malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    buf[len] = '\0';
    *n = (size_t)len;
    return buf;
}
