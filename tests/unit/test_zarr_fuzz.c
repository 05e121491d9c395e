/* Deterministic mutation test of the Zarr reader: valid v2 and v3 stores
 * (zlib, zstd, shuffle, vlen strings, sharding with crc32c, consolidated
 * metadata) are corrupted one object at a time (bit flips, truncation,
 * appended garbage, JSON edits) and read completely.  Any status is
 * acceptable; crashes, sanitizer reports and leaks are not (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "lstar/alloc.h"
#include "lstar/store.h"
#include "lstar/zarr.h"


typedef struct object {
    char *key;
    uint8_t *data;
    size_t size;
} object;

typedef struct objects {
    object v[256];
    int n;
    lstar_store *src;
} objects;

static int grab_cb(void *ud, const char *key) {
    objects *o = ud;
    if (o->n >= 256) return 1;
    object *x = &o->v[o->n++];
    x->key = strdup(key);
    OKE(lstar_store_get(o->src, key, 0, &x->data, &x->size, &e_));
    return 0;
}

static void build(lstar_store *s, int fmt) {
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    OKE(lstar_zarr_create(s, fmt, &z, &e_));
    OKE(lstar_zarr_group_create(z, "g", "{\"k\":\"v\"}", &e_));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = 2;
    spec.shape[0] = 11;
    spec.shape[1] = 6;
    spec.chunks[0] = 4;
    spec.chunks[1] = 3;
    if (fmt == 3) {
        spec.shard[0] = 8;
        spec.shard[1] = 6;
    }
    spec.dtype = LSTAR_DTYPE_FLOAT64;
    spec.compression = fmt == 3 ? "crc32c" : "zlib:1";
    spec.filters = "shuffle";
    double v[66];
    for (int i = 0; i < 66; i++) v[i] = i * 1.5;
    OKE(lstar_zarr_array_create(z, "g/m", &spec, &a, &e_));
    OKE(lstar_zarr_array_write(a, v, &e_));
    lstar_zarr_array_close(a);
    spec.rank = 1;
    spec.shape[0] = 7;
    spec.chunks[0] = 3;
    spec.shard[0] = fmt == 3 ? 6 : 0;
    spec.shard[1] = 0;
    spec.dtype = LSTAR_DTYPE_STRING;
    spec.compression = "zstd";
    spec.filters = NULL;
    const char *items[] = {"a", "bb", "ccc", "", "eeeee", "f", "gg"};
    lstar_strings str;
    OKE(lstar_strings_from_cstrs(&str, items, 7, &e_));
    OKE(lstar_zarr_array_create(z, "g/s", &spec, &a, &e_));
    OKE(lstar_zarr_array_write_strings(a, &str, &e_));
    lstar_strings_destroy(&str);
    lstar_zarr_array_close(a);
    spec.dtype = LSTAR_DTYPE_INT16;
    spec.compression = NULL;
    spec.shard[0] = 0;
    OKE(lstar_zarr_array_create(z, "i", &spec, &a, &e_));
    int16_t iv[7] = {1, -2, 3, -4, 5, -6, 7};
    OKE(lstar_zarr_array_write(a, iv, &e_));
    lstar_zarr_array_close(a);
    OKE(lstar_zarr_consolidate(z, &e_));
    lstar_zarr_close(z);
}

static int kids_cb(void *ud, const char *name) {
    (void)name;
    (*(int *)ud)++;
    return 0;
}

/* Read everything; return the number of successful array reads. */
static int read_all(lstar_store *s) {
    lstar_zarr *z = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    int ok = 0;
    if (lstar_zarr_open(s, &z, &e) != LSTAR_OK) return 0;
    int n = 0;
    (void)lstar_zarr_list_children(z, "", kids_cb, &n, &e);
    (void)lstar_zarr_list_children(z, "g", kids_cb, &n, &e);
    char *attrs = NULL;
    if (lstar_zarr_get_attrs(z, "g", &attrs, &e) == LSTAR_OK) lstar_free(attrs);
    const char *paths[] = {"g/m", "g/s", "i"};
    for (int p = 0; p < 3; p++) {
        lstar_zarr_array *a = NULL;
        if (lstar_zarr_array_open(z, paths[p], &a, &e) != LSTAR_OK) continue;
        uint64_t total = 1;
        for (int d = 0; d < lstar_zarr_array_rank(a); d++) total *= lstar_zarr_array_shape(a)[d];
        if (lstar_zarr_array_dtype(a) == LSTAR_DTYPE_STRING || lstar_zarr_array_dtype(a) == LSTAR_DTYPE_FIXED_BYTES) {
            lstar_strings out;
            if (total <= 1000 && lstar_zarr_array_read_strings(a, 0, total, &out, &e) == LSTAR_OK) {
                lstar_strings_destroy(&out);
                ok++;
            }
        } else if (total * lstar_zarr_array_itemsize(a) <= 1 << 20) {
            void *buf = malloc((size_t)(total * lstar_zarr_array_itemsize(a)) + 1);
            uint64_t st[LSTAR_MAX_RANK] = {0};
            if (lstar_zarr_array_read(a, st, lstar_zarr_array_shape(a), buf, &e) == LSTAR_OK) ok++;
            free(buf);
        }
        char *desc = lstar_zarr_array_codecs_desc(a);
        lstar_free(desc);
        lstar_zarr_array_close(a);
    }
    lstar_zarr_close(z);
    return ok;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 11);
}

static void mutate_run(int fmt, int iterations) {
    objects o;
    memset(&o, 0, sizeof o);
    OKE(lstar_store_new_memory(&o.src, &e_));
    build(o.src, fmt);
    OKE(lstar_store_list(o.src, "", grab_cb, &o, &e_));
    assert_true(o.n > 8);
    assert_int_equal(read_all(o.src), 3); /* the unmutated store reads fully */
    static const char *const json_edits[] = {"-1", "1e300", "null", "\"x\"", "[]", "{}", "18446744073709551615", "0"};
    for (int it = 0; it < iterations; it++) {
        lstar_store *s = NULL;
        OKE(lstar_store_new_memory(&s, &e_));
        int victim = (int)(rnd() % (uint32_t)o.n);
        for (int i = 0; i < o.n; i++) {
            object *x = &o.v[i];
            if (i != victim) {
                OKE(lstar_store_set(s, x->key, x->data, x->size, &e_));
                continue;
            }
            size_t n = x->size;
            uint8_t *m = malloc(n + 16);
            memcpy(m, x->data, n);
            switch (rnd() % 5) {
            case 0: /* flip bits */
                for (int k = 0, c = 1 + (int)(rnd() % 4); k < c && n; k++) m[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
                break;
            case 1: n = n ? rnd() % n : 0; break; /* truncate */
            case 2: /* append garbage */
                for (int k = 0; k < 16; k++) m[n + (size_t)k] = (uint8_t)rnd();
                n += 1 + rnd() % 16;
                break;
            case 3: /* overwrite a byte with a random one */
                if (n) m[rnd() % n] = (uint8_t)rnd();
                break;
            default: { /* replace a JSON number with an edge value */
                size_t at = n ? rnd() % n : 0;
                while (at < n && !(m[at] >= '0' && m[at] <= '9')) at++;
                if (at < n) {
                    size_t end = at;
                    while (end < n && m[end] >= '0' && m[end] <= '9') end++;
                    const char *rep = json_edits[rnd() % 8];
                    size_t rl = strlen(rep);
                    uint8_t *m2 = malloc(n - (end - at) + rl + 1);
                    memcpy(m2, m, at);
                    memcpy(m2 + at, rep, rl);
                    memcpy(m2 + at + rl, m + end, n - end);
                    n = n - (end - at) + rl;
                    free(m);
                    m = m2;
                }
            }
            }
            OKE(lstar_store_set(s, x->key, m, n, &e_));
            free(m);
        }
        (void)read_all(s);
        lstar_store_close(s);
    }
    for (int i = 0; i < o.n; i++) {
        free(o.v[i].key);
        lstar_free(o.v[i].data);
    }
    lstar_store_close(o.src);
}

static void test_mutations_v2(void **state) {
    (void)state;
    mutate_run(2, 1500);
}

static void test_mutations_v3(void **state) {
    (void)state;
    mutate_run(3, 1500);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutations_v2),
        cmocka_unit_test(test_mutations_v3),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
