/* Helpers shared by the fuzz targets (fuzz_common.h). */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/limits.h"

void fuzz_check(int cond, const char *what, const char *file, int line) {
    if (cond) return;
    fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line, what);
    abort();
}

uint64_t fuzz_take_le(const uint8_t **p, const uint8_t *end, int nbytes) {
    uint64_t v = 0;
    for (int i = 0; i < nbytes; i++) {
        if (*p < end) {
            v |= (uint64_t)**p << (8 * i);
            (*p)++;
        }
    }
    return v;
}

lstar_store *fuzz_store_from_records(const uint8_t *data, size_t size) {
    lstar_store *s = NULL;
    if (lstar_store_new_memory(&s, NULL) != LSTAR_OK) return NULL;
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        size_t klen = *p++;
        if (klen > (size_t)(end - p)) klen = (size_t)(end - p);
        char key[256];
        memcpy(key, p, klen);
        key[klen] = '\0';
        p += klen;
        size_t vlen = (size_t)fuzz_take_le(&p, end, 4);
        if (vlen > (size_t)(end - p)) vlen = (size_t)(end - p);
        if (klen && strlen(key) == klen) (void)lstar_store_set(s, key, p, vlen, NULL);
        p += vlen;
    }
    return s;
}
