/* Fuzz target: the zip store (central directory, local headers, stored and
 * deflated entries).  The input is written to a temporary file (the zip
 * store reads files only), opened with lstar_store_open_zip, and every key it
 * lists is sized, read whole (bounded) and read by range. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "lstar/alloc.h"

static char g_path[64];

static void remove_temp(void) {
    if (g_path[0]) unlink(g_path);
}

static const char *temp_path(void) {
    if (!g_path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(g_path, sizeof g_path, "%s/lstar-fuzz-zip-XXXXXX", dir && strlen(dir) < 32 ? dir : "/tmp");
        int fd = mkstemp(g_path);
        if (fd < 0) {
            g_path[0] = '\0';
            return NULL;
        }
        close(fd);
        atexit(remove_temp);
    }
    return g_path;
}

typedef struct visit {
    lstar_store *s;
    int n;
} visit;

static int read_key(void *ud, const char *key) {
    visit *v = ud;
    uint64_t size = 0;
    uint8_t *data = NULL;
    size_t n = 0;
    if (++v->n > 64) return 1; /* enough keys for one input */
    lstar_status st = lstar_store_size(v->s, key, &size, NULL);
    if (lstar_store_get(v->s, key, FUZZ_MAX_DECODED, &data, &n, NULL) == LSTAR_OK) {
        FUZZ_CHECK(data != NULL);
        FUZZ_CHECK(st != LSTAR_OK || size == n);
        lstar_free(data);
    }
    uint8_t buf[64];
    size_t len = size < sizeof buf ? (size_t)size : sizeof buf;
    if (st == LSTAR_OK) {
        (void)lstar_store_get_range(v->s, key, 0, len, buf, NULL);
        if (size > len) (void)lstar_store_get_range(v->s, key, size - len, len, buf, NULL);
        (void)lstar_store_get_range(v->s, key, size, 1, buf, NULL); /* one past the end: must fail cleanly */
    }
    (void)lstar_store_exists(v->s, key, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = temp_path();
    if (!path) return 0;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || w != size) return 0;
    lstar_store *s = NULL;
    if (lstar_store_open_zip(path, &s, NULL) != LSTAR_OK) return 0;
    visit v = {s, 0};
    (void)lstar_store_list(s, "", read_key, &v, NULL);
    (void)lstar_store_list_dir(s, "", read_key, &v, NULL);
    uint8_t *d = NULL;
    size_t n = 0;
    if (lstar_store_get(s, "no/such/key", 16, &d, &n, NULL) == LSTAR_OK) lstar_free(d);
    lstar_store_close(s);
    return 0;
}
