/* lstar/alloc.h — replaceable allocator.
 *
 * All library allocations (and jansson's) go through these hooks, so an
 * application can route memory to its own allocator and tests can fail the
 * N-th allocation to exercise every error path.  Set it once, before any other
 * lstar call; not thread-safe against concurrent lstar calls. */
#ifndef LSTAR_ALLOC_H
#define LSTAR_ALLOC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_allocator {
    void *(*malloc_fn)(void *ud, size_t size);
    void *(*realloc_fn)(void *ud, void *ptr, size_t size);
    void (*free_fn)(void *ud, void *ptr);
    void *ud;
} lstar_allocator;

/* Install `a` (copied); NULL restores the C library allocator. */
void lstar_set_allocator(const lstar_allocator *a);

/* Allocate/free with the installed allocator. Memory returned by any lstar
 * function that says "free with lstar_free" must be released with this. */
void *lstar_malloc(size_t size);
void *lstar_calloc(size_t n, size_t size); /* overflow-checked */
void *lstar_realloc(void *ptr, size_t size);
void lstar_free(void *ptr); /* NULL accepted */
char *lstar_strdup(const char *s); /* NULL in -> NULL out */

#ifdef __cplusplus
}
#endif
#endif
