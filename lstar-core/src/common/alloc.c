#include "lstar/alloc.h"

#include "common/json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *default_malloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n ? n : 1);
}
static void *default_realloc(void *ud, void *p, size_t n) {
    (void)ud;
    return realloc(p, n ? n : 1);
}
static void default_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static lstar_allocator g_alloc = {default_malloc, default_realloc, default_free, NULL};

/* Set when an allocation made for jansson fails: jansson 2.14 can drop an object
 * key silently instead of failing a dump, so dumpers check this flag. */
static _Thread_local int t_json_alloc_failed;

int lstar_json_alloc_failed_reset(void) {
    int f = t_json_alloc_failed;
    t_json_alloc_failed = 0;
    return f;
}

static void *json_malloc_hook(size_t n) {
    void *p = g_alloc.malloc_fn(g_alloc.ud, n);
    if (!p) t_json_alloc_failed = 1;
    return p;
}
static void json_free_hook(void *p) {
    if (p) g_alloc.free_fn(g_alloc.ud, p);
}

void lstar_set_allocator(const lstar_allocator *a) {
    if (a && a->malloc_fn && a->realloc_fn && a->free_fn) {
        g_alloc = *a;
        json_set_alloc_funcs(json_malloc_hook, json_free_hook);
    } else {
        g_alloc.malloc_fn = default_malloc;
        g_alloc.realloc_fn = default_realloc;
        g_alloc.free_fn = default_free;
        g_alloc.ud = NULL;
        json_set_alloc_funcs(malloc, free);
    }
}

void *lstar_malloc(size_t size) { return g_alloc.malloc_fn(g_alloc.ud, size); }

void *lstar_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = g_alloc.malloc_fn(g_alloc.ud, n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *lstar_realloc(void *ptr, size_t size) { return g_alloc.realloc_fn(g_alloc.ud, ptr, size); }

void lstar_free(void *ptr) {
    if (ptr) g_alloc.free_fn(g_alloc.ud, ptr);
}

char *lstar_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = lstar_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
