/* Internal: raising errors into the optional lstar_error record. */
#ifndef LSTAR_INTERNAL_ERROR_H
#define LSTAR_INTERNAL_ERROR_H
#include <stdarg.h>
#include "lstar/status.h"

#if defined(__GNUC__)
#define LSTAR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LSTAR_PRINTF(a, b)
#endif

/* Fill err (if not NULL) and return `st`.  `where` may be NULL. */
lstar_status lstar_err_set_at(lstar_error *err, const char *file, int line, lstar_status st, const char *where,
                              const char *fmt, ...) LSTAR_PRINTF(6, 7);
lstar_status lstar_err_vset_at(lstar_error *err, const char *file, int line, lstar_status st, const char *where,
                               const char *fmt, va_list ap) LSTAR_PRINTF(6, 0);

/* LSTAR_FAIL(err, status, where, "fmt", ...) — raise and evaluate to status. */
#define LSTAR_FAIL(err, st, where, ...) lstar_err_set_at((err), __FILE__, __LINE__, (st), (where), __VA_ARGS__)
/* Out-of-memory shortcut. */
#define LSTAR_NOMEM(err, where) LSTAR_FAIL((err), LSTAR_ERR_NOMEM, (where), "out of memory")

/* If err->where is empty, set it to `where` (used when an inner call did not know its context). */
void lstar_err_add_where(lstar_error *err, const char *where);
/* Prefix err->where with "prefix/" (for nested paths). */
void lstar_err_prefix_where(lstar_error *err, const char *prefix);

/* goto-done helpers: `st` must be a local lstar_status, label `done`. */
#define LSTAR_CHECK(expr)                                                                                     \
    do {                                                                                                      \
        st = (expr);                                                                                          \
        if (st != LSTAR_OK) goto done;                                                                        \
    } while (0)

/* Return the status of a failed call at once (for functions without a cleanup label). */
#define LSTAR_CHECK_RET(expr)                                                                                 \
    do {                                                                                                      \
        lstar_status st_ = (expr);                                                                            \
        if (st_ != LSTAR_OK) return st_;                                                                      \
    } while (0)

#endif
