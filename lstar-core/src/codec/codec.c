/* Codec factory (Zarr v2/v3 JSON configs, CLI specs), JSON output and dispatch. */
#include <blosc.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "codec/codec_internal.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

typedef struct codec_vtable {
    lstar_codec_kind kind;
    const char *id;
    lstar_codec_encode_fn encode;
    lstar_codec_decode_into_fn decode_into;
    lstar_codec_decode_alloc_fn decode_alloc;
} codec_vtable;

#define CODEC_ROW_(k, name) {k, #name, lstar_codec_##name##_encode, lstar_codec_##name##_decode_into, \
                             lstar_codec_##name##_decode_alloc}
static const codec_vtable codec_table[] = {
    CODEC_ROW_(LSTAR_CODEC_ZLIB, zlib),       CODEC_ROW_(LSTAR_CODEC_GZIP, gzip),
    CODEC_ROW_(LSTAR_CODEC_ZSTD, zstd),       CODEC_ROW_(LSTAR_CODEC_BLOSC, blosc),
    CODEC_ROW_(LSTAR_CODEC_LZ4, lz4),         CODEC_ROW_(LSTAR_CODEC_SHUFFLE, shuffle),
    CODEC_ROW_(LSTAR_CODEC_DELTA, delta),     CODEC_ROW_(LSTAR_CODEC_CRC32C, crc32c),
    CODEC_ROW_(LSTAR_CODEC_FLETCHER32, fletcher32),
};
#undef CODEC_ROW_

static const codec_vtable *codec_row(lstar_codec_kind kind) {
    for (size_t i = 0; i < sizeof codec_table / sizeof codec_table[0]; i++)
        if (codec_table[i].kind == kind) return &codec_table[i];
    return NULL;
}

static const codec_vtable *codec_row_by_id(const char *id) {
    for (size_t i = 0; i < sizeof codec_table / sizeof codec_table[0]; i++)
        if (strcmp(codec_table[i].id, id) == 0) return &codec_table[i];
    return NULL;
}

uint8_t *lstar_codec_alloc_out(size_t n) { return lstar_malloc(n ? n : 1); }

int lstar_blosc_effective_shuffle(int shuffle, size_t typesize) {
    if (shuffle == LSTAR_BLOSC_AUTOSHUFFLE) return typesize == 1 ? LSTAR_BLOSC_BITSHUFFLE : LSTAR_BLOSC_SHUFFLE;
    return shuffle;
}

/* ---- defaults --------------------------------------------------------------------------------- */

static size_t effective_itemsize(lstar_dtype dtype, size_t itemsize) {
    return itemsize ? itemsize : lstar_dtype_size(dtype);
}

/* A new codec of `kind` with the numcodecs defaults; NULL when out of memory. */
static lstar_codec *codec_new(lstar_codec_kind kind, lstar_dtype dtype, size_t itemsize) {
    size_t isz = effective_itemsize(dtype, itemsize);
    lstar_codec *c = lstar_malloc(sizeof *c);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->kind = kind;
    switch (kind) {
    case LSTAR_CODEC_ZLIB:
    case LSTAR_CODEC_GZIP: c->level = 1; break;
    case LSTAR_CODEC_ZSTD: c->level = 0; break;
    case LSTAR_CODEC_BLOSC:
        strcpy(c->cname, "lz4");
        c->level = 5;
        c->shuffle = LSTAR_BLOSC_SHUFFLE;
        c->typesize = isz ? isz : 1;
        break;
    case LSTAR_CODEC_LZ4: c->acceleration = 1; break;
    case LSTAR_CODEC_SHUFFLE: c->elementsize = isz ? isz : 4; break;
    case LSTAR_CODEC_DELTA:
        c->dtype = c->astype = dtype;
        c->dsize = c->asize = lstar_dtype_size(dtype);
        break;
    case LSTAR_CODEC_CRC32C:
    case LSTAR_CODEC_FLETCHER32: break;
    }
    return c;
}

/* Delta supports the little-endian (or 1-byte) ints, uints and floats with astype == dtype. */
static int delta_dtype_ok(lstar_dtype t) {
    return lstar_dtype_is_integer(t) || t == LSTAR_DTYPE_FLOAT32 || t == LSTAR_DTYPE_FLOAT64 ||
           t == LSTAR_DTYPE_FLOAT16;
}

/* numpy typestr ("<i4", "|u1", "<f8", "i2", "=f4") or a v3 name ("int32") -> dtype. */
static lstar_status parse_typestr(const char *s, lstar_dtype *out, lstar_error *err) {
    *out = LSTAR_DTYPE_INVALID;
    const char *p = s;
    char order = 0;
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=') order = *p++;
    char kind = *p ? *p++ : 0;
    char *end = NULL;
    errno = 0;
    long bytes = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
    if (bytes < 0 || errno || !end || *end) {
        lstar_dtype t = lstar_dtype_from_name(s);
        if (t != LSTAR_DTYPE_INVALID && lstar_dtype_is_numeric(t) && t != LSTAR_DTYPE_BOOL) {
            *out = t;
            return LSTAR_OK;
        }
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "delta: unrecognised dtype '%s'", s);
    }
    static const struct { char kind; long bytes; lstar_dtype t; } map[] = {
        {'i', 1, LSTAR_DTYPE_INT8},    {'i', 2, LSTAR_DTYPE_INT16},   {'i', 4, LSTAR_DTYPE_INT32},
        {'i', 8, LSTAR_DTYPE_INT64},   {'u', 1, LSTAR_DTYPE_UINT8},   {'u', 2, LSTAR_DTYPE_UINT16},
        {'u', 4, LSTAR_DTYPE_UINT32},  {'u', 8, LSTAR_DTYPE_UINT64},  {'f', 2, LSTAR_DTYPE_FLOAT16},
        {'f', 4, LSTAR_DTYPE_FLOAT32}, {'f', 8, LSTAR_DTYPE_FLOAT64},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].kind == kind && map[i].bytes == bytes) {
            if (order == '>' && bytes > 1)
                return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL,
                                  "delta: big-endian dtype '%s' is not supported", s);
            *out = map[i].t;
            return LSTAR_OK;
        }
    }
    return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "delta: dtype '%s' is not supported (ints, uints, floats)",
                      s);
}

static const char *delta_typestr(lstar_dtype t) {
    switch (t) {
    case LSTAR_DTYPE_INT8: return "|i1";
    case LSTAR_DTYPE_INT16: return "<i2";
    case LSTAR_DTYPE_INT32: return "<i4";
    case LSTAR_DTYPE_INT64: return "<i8";
    case LSTAR_DTYPE_UINT8: return "|u1";
    case LSTAR_DTYPE_UINT16: return "<u2";
    case LSTAR_DTYPE_UINT32: return "<u4";
    case LSTAR_DTYPE_UINT64: return "<u8";
    case LSTAR_DTYPE_FLOAT16: return "<f2";
    case LSTAR_DTYPE_FLOAT32: return "<f4";
    case LSTAR_DTYPE_FLOAT64: return "<f8";
    default: return "|V0";
    }
}

static lstar_status check_blosc_cname(const char *cname, lstar_status bad, lstar_error *err) {
    if (strlen(cname) >= sizeof(((lstar_codec *)0)->cname) || blosc_compname_to_compcode(cname) < 0)
        return LSTAR_FAIL(err, bad, NULL, "blosc: compressor '%s' is not available in this libblosc (%s)", cname,
                          blosc_list_compressors());
    return LSTAR_OK;
}

static int blosc_shuffle_from_name(const char *s) {
    if (strcmp(s, "noshuffle") == 0) return LSTAR_BLOSC_NOSHUFFLE;
    if (strcmp(s, "shuffle") == 0) return LSTAR_BLOSC_SHUFFLE;
    if (strcmp(s, "bitshuffle") == 0) return LSTAR_BLOSC_BITSHUFFLE;
    if (strcmp(s, "autoshuffle") == 0) return LSTAR_BLOSC_AUTOSHUFFLE;
    return -2;
}

static const char *blosc_shuffle_name(int sh) {
    switch (sh) {
    case LSTAR_BLOSC_NOSHUFFLE: return "noshuffle";
    case LSTAR_BLOSC_BITSHUFFLE: return "bitshuffle";
    default: return "shuffle";
    }
}

/* ---- JSON configs ------------------------------------------------------------------------------ */

/* Integer member: absent/null -> keep *val; else must be an integer in [lo, hi]. */
static lstar_status json_int(const json_t *obj, const char *codec, const char *key, long long lo, long long hi,
                             long long *val, lstar_error *err) {
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v)) return LSTAR_OK;
    long long x;
    if (json_is_integer(v)) {
        x = (long long)json_integer_value(v);
    } else if (json_is_real(v) && json_real_value(v) >= -9.0e18 && json_real_value(v) <= 9.0e18 &&
               json_real_value(v) == (double)(long long)json_real_value(v)) {
        x = (long long)json_real_value(v);
    } else {
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "%s: '%s' must be an integer", codec, key);
    }
    if (x < lo || x > hi)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "%s: '%s' = %lld is outside [%lld, %lld]", codec, key, x, lo,
                          hi);
    *val = x;
    return LSTAR_OK;
}

static lstar_status parse_params(lstar_codec *c, const char *name, const json_t *cfg, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    long long v;
    switch (c->kind) {
    case LSTAR_CODEC_ZLIB:
    case LSTAR_CODEC_GZIP:
        v = c->level;
        LSTAR_CHECK(json_int(cfg, name, "level", -1, 9, &v, err));
        c->level = (int)v;
        break;
    case LSTAR_CODEC_ZSTD: {
        v = c->level;
        LSTAR_CHECK(json_int(cfg, name, "level", ZSTD_minCLevel(), ZSTD_maxCLevel(), &v, err));
        c->level = (int)v;
        json_t *ck = json_is_object(cfg) ? json_object_get(cfg, "checksum") : NULL;
        if (json_is_boolean(ck)) {
            c->checksum = json_is_true(ck);
        } else if (json_is_integer(ck)) {
            c->checksum = json_integer_value(ck) != 0;
        } else if (ck && !json_is_null(ck)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "%s: 'checksum' must be a boolean", name);
            goto done;
        }
        break;
    }
    case LSTAR_CODEC_BLOSC: {
        const char *cname = lstar_json_str(cfg, "cname");
        if (cname) {
            LSTAR_CHECK(check_blosc_cname(cname, LSTAR_ERR_UNSUPPORTED, err));
            strcpy(c->cname, cname);
        }
        v = c->level;
        LSTAR_CHECK(json_int(cfg, name, "clevel", 0, 9, &v, err));
        c->level = (int)v;
        json_t *sh = json_is_object(cfg) ? json_object_get(cfg, "shuffle") : NULL;
        if (json_is_string(sh)) {
            int s = blosc_shuffle_from_name(json_string_value(sh));
            if (s < -1) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "%s: unknown shuffle '%s'", name,
                                json_string_value(sh));
                goto done;
            }
            c->shuffle = s;
        } else {
            v = c->shuffle;
            LSTAR_CHECK(json_int(cfg, name, "shuffle", -1, 2, &v, err));
            c->shuffle = (int)v;
        }
        v = (long long)c->typesize;
        LSTAR_CHECK(json_int(cfg, name, "typesize", 1, INT_MAX, &v, err));
        c->typesize = (size_t)v;
        v = (long long)c->blocksize;
        LSTAR_CHECK(json_int(cfg, name, "blocksize", 0, INT_MAX, &v, err));
        c->blocksize = (size_t)v;
        break;
    }
    case LSTAR_CODEC_LZ4:
        v = c->acceleration;
        LSTAR_CHECK(json_int(cfg, name, "acceleration", INT_MIN, INT_MAX, &v, err));
        c->acceleration = (int)v;
        break;
    case LSTAR_CODEC_SHUFFLE:
        v = (long long)c->elementsize;
        LSTAR_CHECK(json_int(cfg, name, "elementsize", 0, INT_MAX, &v, err));
        c->elementsize = v < 1 ? 1 : (size_t)v;
        break;
    case LSTAR_CODEC_DELTA: {
        const char *ds = lstar_json_str(cfg, "dtype");
        const char *as = lstar_json_str(cfg, "astype");
        lstar_dtype dt = c->dtype, at;
        if (ds) LSTAR_CHECK(parse_typestr(ds, &dt, err));
        at = dt;
        if (as) LSTAR_CHECK(parse_typestr(as, &at, err));
        if (dt == LSTAR_DTYPE_INVALID || !delta_dtype_ok(dt)) {
            st = LSTAR_FAIL(err, dt == LSTAR_DTYPE_INVALID ? LSTAR_ERR_FORMAT : LSTAR_ERR_UNSUPPORTED, NULL,
                            "delta: needs a numeric dtype (int, uint or float), got %s",
                            dt == LSTAR_DTYPE_INVALID ? "none" : lstar_dtype_name(dt));
            goto done;
        }
        if (at != dt && !(lstar_dtype_is_integer(at) && lstar_dtype_is_integer(dt))) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL,
                            "delta: astype '%s' different from dtype '%s' is supported only between integer types",
                            as ? as : "", ds ? ds : lstar_dtype_name(dt));
            goto done;
        }
        c->dtype = dt;
        c->dsize = lstar_dtype_size(dt);
        c->astype = at;
        c->asize = lstar_dtype_size(at);
        break;
    }
    case LSTAR_CODEC_CRC32C: {
        /* numcodecs >= 0.13 CRC32C(location=...): only the Zarr v3 layout (checksum at the end) exists here */
        const char *loc = lstar_json_str(cfg, "location");
        if (loc && strcmp(loc, "end") != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "%s: location '%s' is not supported (only 'end')",
                            name, loc);
            goto done;
        }
        break;
    }
    case LSTAR_CODEC_FLETCHER32: break;
    }
done:
    return st;
}

lstar_status lstar_codec_from_json(const char *json_config, lstar_dtype dtype, size_t itemsize, lstar_codec **out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *root = NULL;
    lstar_codec *c = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec: out is NULL");
    *out = NULL;
    if (!json_config) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec: config is NULL");
    {
        /* Parsed here rather than with lstar_json_parse so that jansson running out of memory is
         * reported as LSTAR_ERR_NOMEM, not as malformed JSON. */
        json_error_t je;
        size_t len = strlen(json_config);
        if (len > LSTAR_MAX_METADATA_BYTES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "codec config of %zu bytes is too large", len);
            goto done;
        }
        root = json_loadb(json_config, len, JSON_DECODE_ANY, &je);
        if (!root) {
            /* jansson leaves the message empty when it cannot even allocate its lexer */
            st = (json_error_code(&je) == json_error_out_of_memory || je.text[0] == '\0')
                     ? LSTAR_NOMEM(err, NULL)
                     : LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "codec config is not valid JSON (column %d): %s",
                                  je.column, je.text);
            goto done;
        }
    }

    const char *name = NULL;
    const json_t *cfg = NULL;
    if (json_is_string(root)) { /* Zarr v3.1 short-hand: "crc32c" */
        name = json_string_value(root);
    } else if (json_is_object(root)) {
        json_t *id = json_object_get(root, "id");
        json_t *nm = json_object_get(root, "name");
        if (json_is_string(id)) {
            name = json_string_value(id);
            cfg = root;
        } else if (json_is_string(nm)) {
            name = json_string_value(nm);
            cfg = json_object_get(root, "configuration");
            if (cfg && !json_is_null(cfg) && !json_is_object(cfg)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "codec '%s': 'configuration' must be an object", name);
                goto done;
            }
        }
    }
    if (!name) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, NULL, "codec config has neither an 'id' nor a 'name' string");
        goto done;
    }
    const char *base = strncmp(name, "numcodecs.", 10) == 0 ? name + 10 : name;
    const codec_vtable *row = codec_row_by_id(base);
    if (!row) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "unknown codec '%s'", name);
        goto done;
    }
    if (!(c = codec_new(row->kind, dtype, itemsize))) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    LSTAR_CHECK(parse_params(c, name, cfg, err));
    *out = c;
    c = NULL;
done:
    lstar_free(c);
    json_decref(root);
    return st;
}

/* ---- CLI specs --------------------------------------------------------------------------------- */

static lstar_status spec_int(const char *spec, const char *s, long long lo, long long hi, long long *v,
                             lstar_error *err) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || errno || !end || *end || x < lo || x > hi)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec spec '%s': '%s' is not an integer in [%lld, %lld]",
                          spec, s, lo, hi);
    *v = x;
    return LSTAR_OK;
}

lstar_status lstar_codec_from_spec(const char *spec, lstar_dtype dtype, size_t itemsize, lstar_codec **out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_codec *c = NULL;
    char buf[128];
    char *part[5] = {NULL};
    size_t nparts = 0;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec: out is NULL");
    *out = NULL;
    if (!spec || strlen(spec) >= sizeof buf)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec spec is missing or too long");
    if (strcmp(spec, "none") == 0) return LSTAR_OK;
    strcpy(buf, spec);
    for (char *p = buf;;) {
        if (nparts == sizeof part / sizeof part[0]) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec spec '%s' has too many ':' fields", spec);
            goto done;
        }
        part[nparts++] = p;
        char *colon = strchr(p, ':');
        if (!colon) break;
        *colon = '\0';
        p = colon + 1;
    }
    const codec_vtable *row = codec_row_by_id(part[0]);
    if (!row) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, NULL, "unknown codec '%s'", part[0]);
        goto done;
    }
    size_t maxparts = 1;
    switch (row->kind) {
    case LSTAR_CODEC_ZLIB: case LSTAR_CODEC_GZIP: case LSTAR_CODEC_ZSTD: case LSTAR_CODEC_LZ4:
    case LSTAR_CODEC_SHUFFLE: maxparts = 2; break;
    case LSTAR_CODEC_BLOSC: maxparts = 4; break;
    default: break;
    }
    if (nparts > maxparts) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec spec '%s': too many parameters for %s", spec,
                        part[0]);
        goto done;
    }
    if (!(c = codec_new(row->kind, dtype, itemsize))) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    long long v;
    switch (row->kind) {
    case LSTAR_CODEC_ZLIB:
    case LSTAR_CODEC_GZIP:
        if (nparts > 1) {
            LSTAR_CHECK(spec_int(spec, part[1], -1, 9, &v, err));
            c->level = (int)v;
        }
        break;
    case LSTAR_CODEC_ZSTD:
        if (nparts > 1) {
            LSTAR_CHECK(spec_int(spec, part[1], ZSTD_minCLevel(), ZSTD_maxCLevel(), &v, err));
            c->level = (int)v;
        }
        break;
    case LSTAR_CODEC_LZ4:
        if (nparts > 1) {
            LSTAR_CHECK(spec_int(spec, part[1], 1, INT_MAX, &v, err));
            c->acceleration = (int)v;
        }
        break;
    case LSTAR_CODEC_SHUFFLE:
        if (nparts > 1) {
            LSTAR_CHECK(spec_int(spec, part[1], 1, INT_MAX, &v, err));
            c->elementsize = (size_t)v;
        } else if (effective_itemsize(dtype, itemsize) == 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL,
                            "codec spec 'shuffle' needs an element size (give a dtype/itemsize or 'shuffle:S')");
            goto done;
        }
        break;
    case LSTAR_CODEC_BLOSC:
        if (nparts > 1 && part[1][0]) {
            LSTAR_CHECK(check_blosc_cname(part[1], LSTAR_ERR_INVALID_ARG, err));
            strcpy(c->cname, part[1]);
        }
        if (nparts > 2 && part[2][0]) {
            LSTAR_CHECK(spec_int(spec, part[2], 0, 9, &v, err));
            c->level = (int)v;
        }
        if (nparts > 3 && part[3][0]) {
            int s = blosc_shuffle_from_name(part[3]);
            if (s < -1) {
                LSTAR_CHECK(spec_int(spec, part[3], -1, 2, &v, err));
                s = (int)v;
            }
            c->shuffle = s;
        }
        break;
    case LSTAR_CODEC_DELTA:
        if (!delta_dtype_ok(dtype)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL,
                            "codec spec 'delta' needs a numeric dtype (int, uint or float), got %s",
                            lstar_dtype_name(dtype));
            goto done;
        }
        break;
    default: break;
    }
    *out = c;
    c = NULL;
done:
    lstar_free(c);
    return st;
}

void lstar_codec_free(lstar_codec *codec) { lstar_free(codec); }

const char *lstar_codec_id(const lstar_codec *codec) {
    const codec_vtable *row = codec ? codec_row(codec->kind) : NULL;
    return row ? row->id : NULL;
}

/* ---- JSON output ------------------------------------------------------------------------------- */

static int set_new(json_t *obj, const char *key, json_t *v) { return json_object_set_new(obj, key, v) == 0; }

char *lstar_codec_to_json(const lstar_codec *codec, int zarr_format) {
    const codec_vtable *row = codec ? codec_row(codec->kind) : NULL;
    if (!row || (zarr_format != 2 && zarr_format != 3)) return NULL;
    const int v3 = zarr_format == 3;
    char *text = NULL;
    json_t *root = json_object();
    json_t *cfg = v3 ? json_object() : root;
    int ok = root && cfg;
    if (!ok) goto done;
    if (v3) {
        int core = codec->kind == LSTAR_CODEC_GZIP || codec->kind == LSTAR_CODEC_ZSTD ||
                   codec->kind == LSTAR_CODEC_BLOSC || codec->kind == LSTAR_CODEC_CRC32C;
        char name[32];
        strcpy(name, core ? "" : "numcodecs.");
        strcat(name, row->id);
        ok = set_new(root, "name", json_string(name));
    } else {
        ok = set_new(root, "id", json_string(row->id));
    }
    switch (codec->kind) {
    case LSTAR_CODEC_ZLIB:
    case LSTAR_CODEC_GZIP: ok = ok && set_new(cfg, "level", json_integer(codec->level)); break;
    case LSTAR_CODEC_ZSTD:
        ok = ok && set_new(cfg, "level", json_integer(codec->level));
        /* numcodecs 0.11 Zstd takes no 'checksum' argument: write it in v2 only when set. */
        if (v3 || codec->checksum) ok = ok && set_new(cfg, "checksum", json_boolean(codec->checksum));
        break;
    case LSTAR_CODEC_BLOSC:
        ok = ok && set_new(cfg, "cname", json_string(codec->cname));
        ok = ok && set_new(cfg, "clevel", json_integer(codec->level));
        if (v3) {
            int sh = lstar_blosc_effective_shuffle(codec->shuffle, codec->typesize);
            ok = ok && set_new(cfg, "shuffle", json_string(blosc_shuffle_name(sh)));
            ok = ok && set_new(cfg, "typesize", json_integer((json_int_t)codec->typesize));
        } else {
            ok = ok && set_new(cfg, "shuffle", json_integer(codec->shuffle));
        }
        ok = ok && set_new(cfg, "blocksize", json_integer((json_int_t)codec->blocksize));
        break;
    case LSTAR_CODEC_LZ4: ok = ok && set_new(cfg, "acceleration", json_integer(codec->acceleration)); break;
    case LSTAR_CODEC_SHUFFLE:
        ok = ok && set_new(cfg, "elementsize", json_integer((json_int_t)codec->elementsize));
        break;
    case LSTAR_CODEC_DELTA:
        ok = ok && set_new(cfg, "dtype", json_string(delta_typestr(codec->dtype)));
        ok = ok && set_new(cfg, "astype", json_string(delta_typestr(codec->astype)));
        break;
    case LSTAR_CODEC_CRC32C:
    case LSTAR_CODEC_FLETCHER32: break;
    }
    if (!ok) goto done;
    if (v3) {
        if (json_object_size(cfg) > 0) {
            ok = set_new(root, "configuration", cfg);
            cfg = NULL;
            if (!ok) goto done;
        }
    }
    text = lstar_json_dump(root, 0);
done:
    if (v3) json_decref(cfg);
    json_decref(root);
    return text;
}

int lstar_codec_encoded_size(const lstar_codec *codec, size_t decoded_size, size_t *encoded_size) {
    if (!codec || !encoded_size) return 0;
    switch (codec->kind) {
    case LSTAR_CODEC_SHUFFLE: *encoded_size = decoded_size; return 1;
    case LSTAR_CODEC_CRC32C:
    case LSTAR_CODEC_FLETCHER32:
        if (decoded_size > (size_t)-1 - 4) return 0;
        *encoded_size = decoded_size + 4;
        return 1;
    case LSTAR_CODEC_DELTA:
        if (decoded_size % codec->dsize || decoded_size / codec->dsize > (size_t)-1 / codec->asize) return 0;
        *encoded_size = decoded_size / codec->dsize * codec->asize;
        return 1;
    default: return 0;
    }
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

lstar_status lstar_codec_encode(const lstar_codec *codec, const void *in, size_t in_size, uint8_t **out,
                                size_t *out_size, lstar_error *err) {
    const codec_vtable *row = codec ? codec_row(codec->kind) : NULL;
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!row || !out || !out_size || (!in && in_size))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec encode: invalid arguments");
    if ((unsigned long long)in_size > LSTAR_MAX_CHUNK_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: %zu-byte chunk exceeds the %llu-byte limit", row->id,
                          in_size, (unsigned long long)LSTAR_MAX_CHUNK_BYTES);
    uint8_t dummy = 0;
    return row->encode(codec, in ? (const uint8_t *)in : &dummy, in_size, out, out_size, err);
}

lstar_status lstar_codec_decode_into(const lstar_codec *codec, const void *in, size_t in_size, void *out,
                                     size_t out_size, lstar_error *err) {
    const codec_vtable *row = codec ? codec_row(codec->kind) : NULL;
    if (!row || (!in && in_size) || (!out && out_size))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec decode: invalid arguments");
    uint8_t dummy = 0;
    return row->decode_into(codec, (const uint8_t *)(in ? in : &dummy), in_size, out ? (uint8_t *)out : &dummy,
                            out_size, err);
}

lstar_status lstar_codec_decode(const lstar_codec *codec, const void *in, size_t in_size, size_t expected_size,
                                size_t max_size, uint8_t **out, size_t *out_size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *buf = NULL;
    const codec_vtable *row = codec ? codec_row(codec->kind) : NULL;
    if (out) *out = NULL;
    if (out_size) *out_size = 0;
    if (!row || !out || !out_size || (!in && in_size))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "codec decode: invalid arguments");
    size_t limit = max_size;
    if (!limit || (unsigned long long)limit > LSTAR_MAX_CHUNK_BYTES) limit = (size_t)LSTAR_MAX_CHUNK_BYTES;
    uint8_t dummy = 0;
    const uint8_t *src = in ? (const uint8_t *)in : &dummy;
    if (expected_size) {
        if (expected_size > limit)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, NULL, "%s: expected %zu decoded bytes, above the %zu-byte limit",
                              row->id, expected_size, limit);
        buf = lstar_codec_alloc_out(expected_size);
        if (!buf) return LSTAR_NOMEM(err, NULL);
        LSTAR_CHECK(row->decode_into(codec, src, in_size, buf, expected_size, err));
        *out = buf;
        *out_size = expected_size;
        buf = NULL;
    } else {
        LSTAR_CHECK(row->decode_alloc(codec, src, in_size, limit, out, out_size, err));
    }
done:
    lstar_free(buf);
    return st;
}
