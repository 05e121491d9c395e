#include "lstar/strings.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

lstar_status lstar_strings_init(lstar_strings *s, lstar_error *err) {
    memset(s, 0, sizeof *s);
    s->offsets = lstar_malloc(sizeof(int64_t) * 8);
    if (!s->offsets) return LSTAR_NOMEM(err, NULL);
    s->offsets[0] = 0;
    s->n_cap = 7;
    return LSTAR_OK;
}

void lstar_strings_destroy(lstar_strings *s) {
    if (!s) return;
    lstar_free(s->bytes);
    lstar_free(s->offsets);
    memset(s, 0, sizeof *s);
}

lstar_status lstar_strings_append(lstar_strings *s, const char *str, size_t len, lstar_error *err) {
    if (!s->offsets) {
        lstar_status st = lstar_strings_init(s, err);
        if (st != LSTAR_OK) return st;
    }
    if (len > LSTAR_MAX_STRING_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "string of %zu bytes exceeds the limit", len);
    if (s->n >= s->n_cap) {
        if (s->n >= LSTAR_MAX_STRING_ITEMS) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "too many strings");
        size_t ncap = s->n_cap ? s->n_cap * 2 : 8;
        int64_t *o = lstar_realloc(s->offsets, sizeof(int64_t) * (ncap + 1));
        if (!o) return LSTAR_NOMEM(err, NULL);
        s->offsets = o;
        s->n_cap = ncap;
    }
    size_t used = (size_t)s->offsets[s->n];
    if (used + len > s->bytes_cap) {
        size_t bcap = s->bytes_cap ? s->bytes_cap : 64;
        while (bcap < used + len) bcap *= 2;
        uint8_t *b = lstar_realloc(s->bytes, bcap);
        if (!b) return LSTAR_NOMEM(err, NULL);
        s->bytes = b;
        s->bytes_cap = bcap;
    }
    if (len) memcpy(s->bytes + used, str, len);
    s->n++;
    s->offsets[s->n] = (int64_t)(used + len);
    return LSTAR_OK;
}

lstar_status lstar_strings_reserve(lstar_strings *s, size_t n_items, size_t nbytes, lstar_error *err) {
    if (!s->offsets) {
        lstar_status st = lstar_strings_init(s, err);
        if (st != LSTAR_OK) return st;
    }
    if (n_items > LSTAR_MAX_STRING_ITEMS - s->n) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "too many strings");
    if (s->n + n_items > s->n_cap) {
        size_t ncap = s->n + n_items;
        int64_t *o = lstar_realloc(s->offsets, sizeof(int64_t) * (ncap + 1));
        if (!o) return LSTAR_NOMEM(err, NULL);
        s->offsets = o;
        s->n_cap = ncap;
    }
    size_t used = (size_t)s->offsets[s->n];
    if (nbytes > SIZE_MAX - used) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "strings too large");
    if (used + nbytes > s->bytes_cap) {
        uint8_t *b = lstar_realloc(s->bytes, used + nbytes ? used + nbytes : 1);
        if (!b) return LSTAR_NOMEM(err, NULL);
        s->bytes = b;
        s->bytes_cap = used + nbytes;
    }
    return LSTAR_OK;
}

void lstar_strings_shrink(lstar_strings *s) {
    if (!s || !s->offsets) return;
    size_t used = (size_t)s->offsets[s->n];
    if (s->n < s->n_cap) {
        int64_t *o = lstar_realloc(s->offsets, sizeof(int64_t) * (s->n + 1));
        if (o) {
            s->offsets = o;
            s->n_cap = s->n;
        }
    }
    if (s->bytes && used < s->bytes_cap) {
        uint8_t *b = lstar_realloc(s->bytes, used ? used : 1);
        if (b) {
            s->bytes = b;
            s->bytes_cap = used ? used : 1;
        }
    }
}

lstar_status lstar_strings_from_cstrs(lstar_strings *s, const char *const *items, size_t n, lstar_error *err) {
    lstar_status st = lstar_strings_init(s, err);
    if (st != LSTAR_OK) return st;
    for (size_t i = 0; i < n; i++) {
        st = lstar_strings_append(s, items[i], strlen(items[i]), err);
        if (st != LSTAR_OK) {
            lstar_strings_destroy(s);
            return st;
        }
    }
    return LSTAR_OK;
}

lstar_status lstar_strings_copy(lstar_strings *dst, const lstar_strings *src, lstar_error *err) {
    memset(dst, 0, sizeof *dst);
    size_t nb = src->offsets ? (size_t)src->offsets[src->n] : 0;
    dst->offsets = lstar_malloc(sizeof(int64_t) * (src->n + 1));
    dst->bytes = lstar_malloc(nb ? nb : 1);
    if (!dst->offsets || !dst->bytes) {
        lstar_strings_destroy(dst);
        return LSTAR_NOMEM(err, NULL);
    }
    if (src->offsets)
        memcpy(dst->offsets, src->offsets, sizeof(int64_t) * (src->n + 1));
    else
        dst->offsets[0] = 0;
    if (nb) memcpy(dst->bytes, src->bytes, nb);
    dst->n = src->n;
    dst->n_cap = src->n;
    dst->bytes_cap = nb ? nb : 1;
    return LSTAR_OK;
}

const char *lstar_strings_get(const lstar_strings *s, size_t i, size_t *len) {
    if (!s || i >= s->n) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = (size_t)(s->offsets[i + 1] - s->offsets[i]);
    return s->bytes ? (const char *)s->bytes + s->offsets[i] : "";
}

char *lstar_strings_get_cstr(const lstar_strings *s, size_t i, char *buf, size_t bufsize) {
    size_t len;
    const char *p = lstar_strings_get(s, i, &len);
    if (!bufsize) return buf;
    if (len >= bufsize) len = bufsize - 1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

int lstar_strings_equal(const lstar_strings *a, const lstar_strings *b) {
    if (a->n != b->n) return 0;
    if (a->n == 0) return 1;
    if (memcmp(a->offsets, b->offsets, sizeof(int64_t) * (a->n + 1)) != 0) return 0;
    size_t nb = (size_t)a->offsets[a->n];
    return nb == 0 || memcmp(a->bytes, b->bytes, nb) == 0;
}

lstar_status lstar_strings_check(const lstar_strings *s, size_t nbytes, lstar_error *err) {
    if (!s->offsets || s->offsets[0] != 0)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "string offsets must start at 0");
    for (size_t i = 0; i < s->n; i++)
        if (s->offsets[i + 1] < s->offsets[i])
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "string offsets decrease at item %zu", i);
    if ((uint64_t)s->offsets[s->n] > nbytes)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, NULL, "string offsets end at %lld beyond the %zu bytes present",
                          (long long)s->offsets[s->n], nbytes);
    return LSTAR_OK;
}
