/* lstar/status.h — status codes and the optional error record.
 *
 * Every fallible lstar function returns an lstar_status and takes a final
 * `lstar_error *err` argument that may be NULL.  When it is not NULL and the
 * call fails, the record is filled with the status, a human-readable message
 * and *where* the problem is (a store key, a Zarr array path, an HDF5 path).
 * On success the record is left untouched.
 *
 * Status values are pinned and append-only: they come from one table
 * (LSTAR_STATUS_TABLE) that also gives their names and default messages.
 * The library never prints.
 */
#ifndef LSTAR_STATUS_H
#define LSTAR_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) — append only, never renumber. */
#define LSTAR_STATUS_TABLE(X)                                                          \
    X(LSTAR_OK, 0, "success")                                                          \
    X(LSTAR_ERR_NOMEM, 1, "out of memory")                                             \
    X(LSTAR_ERR_IO, 2, "input/output error")                                           \
    X(LSTAR_ERR_NOT_FOUND, 3, "not found")                                             \
    X(LSTAR_ERR_FORMAT, 4, "malformed input")                                          \
    X(LSTAR_ERR_UNSUPPORTED, 5, "unsupported feature")                                 \
    X(LSTAR_ERR_INVALID_ARG, 6, "invalid argument")                                    \
    X(LSTAR_ERR_CORRUPT, 7, "corrupt or truncated data")                               \
    X(LSTAR_ERR_LIMIT, 8, "a size limit was exceeded")                                 \
    X(LSTAR_ERR_EXISTS, 9, "already exists")                                           \
    X(LSTAR_ERR_READONLY, 10, "read-only")                                             \
    X(LSTAR_ERR_VALIDATION, 11, "validation failed")                                   \
    X(LSTAR_ERR_CODEC, 12, "codec failure")                                            \
    X(LSTAR_ERR_SHAPE, 13, "shape mismatch")                                           \
    X(LSTAR_ERR_INTERNAL, 14, "internal error")

typedef enum lstar_status {
#define LSTAR_STATUS_ENUM_(name, value, msg) name = value,
    LSTAR_STATUS_TABLE(LSTAR_STATUS_ENUM_)
#undef LSTAR_STATUS_ENUM_
    LSTAR_STATUS_COUNT_
} lstar_status;

#define LSTAR_ERROR_WHERE_MAX 512
#define LSTAR_ERROR_MESSAGE_MAX 1024

/* Caller-owned error record. Zero-initialise (or lstar_error_clear) before use. */
typedef struct lstar_error {
    lstar_status status;                   /* LSTAR_OK when nothing failed */
    char where[LSTAR_ERROR_WHERE_MAX];     /* store key / array path / HDF5 path; may be "" */
    char message[LSTAR_ERROR_MESSAGE_MAX]; /* full sentence, no trailing newline */
    const char *file;                      /* source file that raised it (debug aid), may be NULL */
    int line;                              /* source line, 0 if unknown */
} lstar_error;

/* "LSTAR_ERR_FORMAT" etc.; "LSTAR_UNKNOWN_STATUS" for out-of-range values. Static string. */
const char *lstar_status_name(lstar_status status);
/* Default one-line message for a status. Static string. */
const char *lstar_status_message(lstar_status status);
/* Reset a record to LSTAR_OK with empty strings. NULL is accepted. */
void lstar_error_clear(lstar_error *err);
/* Format "where: message" into buf (always NUL-terminated); returns buf. */
char *lstar_error_format(const lstar_error *err, char *buf, unsigned long bufsize);

#ifdef __cplusplus
}
#endif
#endif
