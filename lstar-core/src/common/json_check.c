/* A JSON syntax checker that never allocates.
 *
 * jansson cannot say why a parse failed when memory ran out (its lexer drops
 * bytes it could not buffer and then reports a syntax error), so after a
 * failed json_loads the model asks this checker: if the text is valid JSON as
 * jansson would accept it (RFC 8259, UTF-8, no \u0000, paired surrogates,
 * integers within int64, finite reals, depth ≤ LSTAR_MAX_JSON_DEPTH), the
 * failure was an allocation failure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/limits.h"
#include "common/json.h"

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int hex4(cursor *c, unsigned *out) {
    unsigned v = 0;
    if (c->end - c->p < 4) return 0;
    for (int i = 0; i < 4; i++) {
        unsigned char ch = c->p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
        else
            return 0;
    }
    c->p += 4;
    *out = v;
    return 1;
}

/* One UTF-8 sequence starting at c->p (first byte ≥ 0x80). */
static int utf8_seq(cursor *c) {
    unsigned char b = *c->p;
    int n;
    unsigned cp;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 2;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 3;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (c->end - c->p <= n) return 0;
    for (int i = 1; i <= n; i++) {
        if ((c->p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c->p[i] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    c->p += n + 1;
    return 1;
}

static int string_(cursor *c) {
    c->p++; /* opening quote */
    while (c->p < c->end) {
        unsigned char ch = *c->p;
        if (ch == '"') {
            c->p++;
            return 1;
        }
        if (ch < 0x20) return 0;
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) return 0;
            ch = *c->p++;
            if (ch == 'u') {
                unsigned u;
                if (!hex4(c, &u)) return 0;
                if (u == 0) return 0;
                if (u >= 0xDC00 && u <= 0xDFFF) return 0;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u') return 0;
                    c->p += 2;
                    if (!hex4(c, &lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
                }
            } else if (!strchr("\"\\/bfnrt", ch) || ch == '\0') {
                return 0;
            }
        } else if (ch >= 0x80) {
            if (!utf8_seq(c)) return 0;
        } else {
            c->p++;
        }
    }
    return 0;
}

static int number_(cursor *c) {
    const unsigned char *start = c->p;
    int real = 0;
    if (*c->p == '-') c->p++;
    if (c->p >= c->end) return 0;
    if (*c->p == '0') {
        c->p++;
    } else if (*c->p >= '1' && *c->p <= '9') {
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    } else {
        return 0;
    }
    if (c->p < c->end && *c->p == '.') {
        real = 1;
        c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        real = 1;
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    }
    /* Range, as jansson checks it: integers must fit int64, reals be finite. */
    char tmp[400];
    size_t len = (size_t)(c->p - start);
    if (len >= sizeof tmp) return real ? 1 : 0; /* such long integers overflow; long reals are rare, accept */
    memcpy(tmp, start, len);
    tmp[len] = '\0';
    if (!real) {
        const char *d = tmp[0] == '-' ? tmp + 1 : tmp;
        size_t nd = strlen(d);
        const char *lim = tmp[0] == '-' ? "9223372036854775808" : "9223372036854775807";
        if (nd > 19 || (nd == 19 && strcmp(d, lim) > 0)) return 0;
        return 1;
    }
    double v = strtod(tmp, NULL);
    return isfinite(v) ? 1 : 0;
}

static int literal(cursor *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int value(cursor *c, int depth) {
    if (depth > LSTAR_MAX_JSON_DEPTH) return 0;
    skip_ws(c);
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{':
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return 1;
        }
        for (;;) {
            skip_ws(c);
            if (c->p >= c->end || *c->p != '"' || !string_(c)) return 0;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':') return 0;
            c->p++;
            if (!value(c, depth + 1)) return 0;
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == '}') {
                c->p++;
                return 1;
            }
            if (*c->p != ',') return 0;
            c->p++;
        }
    case '[':
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return 1;
        }
        for (;;) {
            if (!value(c, depth + 1)) return 0;
            skip_ws(c);
            if (c->p >= c->end) return 0;
            if (*c->p == ']') {
                c->p++;
                return 1;
            }
            if (*c->p != ',') return 0;
            c->p++;
        }
    case '"': return string_(c);
    case 't': return literal(c, "true");
    case 'f': return literal(c, "false");
    case 'n': return literal(c, "null");
    default: return number_(c);
    }
}

int lstar_json_valid(const char *text, size_t len) {
    cursor c;
    c.p = (const unsigned char *)text;
    c.end = c.p + len;
    if (!value(&c, 1)) return 0;
    skip_ws(&c);
    return c.p == c.end;
}
