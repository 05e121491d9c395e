#include "common/json.h"

#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

lstar_status lstar_json_parse(const void *text, size_t len, const char *where, json_t **out, lstar_error *err) {
    *out = NULL;
    if (len > LSTAR_MAX_METADATA_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "JSON document of %zu bytes exceeds the %u-byte limit", len,
                          (unsigned)LSTAR_MAX_METADATA_BYTES);
    json_error_t je;
    json_t *v = json_loadb((const char *)text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        /* jansson reports running out of memory as a syntax error (or with an
         * empty message): if the text is valid JSON, the failure was memory. */
        if (je.text[0] == '\0' || lstar_json_valid((const char *)text, len)) return LSTAR_NOMEM(err, where);
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, where, "invalid JSON at line %d column %d: %s", je.line,
                          je.column, je.text);
    }
    *out = v;
    return LSTAR_OK;
}

static char *dup_and_free(char *s) {
    /* A dump during which jansson lost an allocation may be silently incomplete. */
    int lost = lstar_json_alloc_failed_reset();
    char *r = (s && !lost) ? lstar_strdup(s) : NULL;
    if (!s) return NULL;
    /* jansson allocated s with its own hooks (which may be ours). */
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    f(s);
    return r;
}

char *lstar_json_dump(const json_t *v, int indent) {
    lstar_json_alloc_failed_reset();
    size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
    if (indent > 0)
        flags |= JSON_INDENT(indent);
    else
        flags |= JSON_COMPACT;
    return dup_and_free(json_dumps(v, flags));
}

char *lstar_json_dump_sorted(const json_t *v, int indent) {
    lstar_json_alloc_failed_reset();
    size_t flags = JSON_ENCODE_ANY | JSON_SORT_KEYS;
    if (indent > 0)
        flags |= JSON_INDENT(indent);
    else
        flags |= JSON_COMPACT;
    return dup_and_free(json_dumps(v, flags));
}

const char *lstar_json_str(const json_t *obj, const char *key) {
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v)) return NULL;
    const char *s = json_string_value(v);
    return (s && s[0]) ? s : NULL;
}

int lstar_json_tristate(const json_t *obj, const char *key) {
    if (!json_is_object(obj)) return -1;
    json_t *v = json_object_get(obj, key);
    if (json_is_true(v)) return 1;
    if (json_is_false(v)) return 0;
    return -1;
}
