/* Internal: jansson helpers shared by the Zarr, model and L★ layers. */
#ifndef LSTAR_INTERNAL_JSON_H
#define LSTAR_INTERNAL_JSON_H
#include <jansson.h>
#include <stddef.h>
#include "lstar/status.h"

/* Parse `len` bytes of JSON (any value type).  Size capped by
 * LSTAR_MAX_METADATA_BYTES.  `where` names the document for errors. */
lstar_status lstar_json_parse(const void *text, size_t len, const char *where, json_t **out, lstar_error *err);
/* 1 if text[0..len) is JSON that jansson accepts (JSON_DECODE_ANY, no NUL);
 * never allocates (json_check.c).  Tells allocation failures from syntax
 * errors after a failed jansson parse (jansson reports OOM as a syntax error). */
int lstar_json_valid(const char *text, size_t len);

/* Returns whether an allocation made for jansson failed on this thread since
 * the last call, and clears the flag. */
int lstar_json_alloc_failed_reset(void);

/* Serialise compactly (or indented when indent > 0) into an lstar_malloc'd NUL-terminated string. */
char *lstar_json_dump(const json_t *v, int indent);
/* Serialise with sorted keys (zarr-python / nlohmann style). */
char *lstar_json_dump_sorted(const json_t *v, int indent);
/* String member or NULL; "" and JSON null also give NULL. */
const char *lstar_json_str(const json_t *obj, const char *key);
/* 1 if the member is JSON true, 0 if false, LSTAR_UNSET-like -1 if absent/null/other. */
int lstar_json_tristate(const json_t *obj, const char *key);

#endif
