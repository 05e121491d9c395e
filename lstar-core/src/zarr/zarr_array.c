/* Zarr arrays: open/create, accessors, region reads, strings, chunk writes,
 * whole-array writes (including shards) and raw chunk access. */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"
#include "zarr/zarr_internal.h"

/* ---- open / create / close ---------------------------------------------- */

lstar_status lstar_zarr_array_open(lstar_zarr *z, const char *path, lstar_zarr_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    json_t *meta = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "out is NULL");
    *out = NULL;
    if (!z) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "hierarchy is NULL");
    LSTAR_CHECK(lstar_store_key_copy(path ? path : "", p, 1, err));
    st = lstar_zarr_meta_get(z, p, ".zarray", &meta, err);
    if (st == LSTAR_ERR_NOT_FOUND) {
        st = LSTAR_FAIL(err, st, p, "no array here");
        goto done;
    }
    if (st != LSTAR_OK) goto done;
    if (z->format == 3) {
        const char *nt = lstar_json_str(meta, "node_type");
        if (!nt || strcmp(nt, "array") != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, p, "not an array (node_type %s)", nt ? nt : "missing");
            goto done;
        }
    }
    st = lstar_zarr_array_from_meta(z, p, z->format, meta, out, err);
done:
    json_decref(meta);
    return st;
}

lstar_status lstar_zarr_array_create(lstar_zarr *z, const char *path, const lstar_zarr_array_spec *spec,
                                     lstar_zarr_array **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    json_t *meta = NULL, *attrs = NULL;
    lstar_zarr_array *a = NULL;
    if (out) *out = NULL;
    if (!z || !spec) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    LSTAR_CHECK(lstar_store_key_copy(path ? path : "", p, 1, err));
    LSTAR_CHECK(lstar_zarr_check_parent(z, p, err));
    LSTAR_CHECK(lstar_zarr_meta_build(z->format, p, spec, &meta, err));
    /* Validate by parsing what we are about to write. */
    LSTAR_CHECK(lstar_zarr_array_from_meta(z, p, z->format, meta, &a, err));
    LSTAR_CHECK(lstar_zarr_meta_put(z, p, ".zarray", meta, err));
    if (z->format == 2 && spec->attrs_json) {
        LSTAR_CHECK(lstar_json_parse(spec->attrs_json, strlen(spec->attrs_json), p, &attrs, err));
        LSTAR_CHECK(lstar_zarr_meta_put(z, p, ".zattrs", attrs, err));
    }
    a->threads = spec->threads > 1 ? (spec->threads > LSTAR_MAX_THREADS ? LSTAR_MAX_THREADS : spec->threads) : 1;
    if (out) {
        *out = a;
        a = NULL;
    }
done:
    lstar_zarr_array_close(a);
    json_decref(meta);
    json_decref(attrs);
    return st;
}

void lstar_zarr_array_close(lstar_zarr_array *a) {
    if (!a) return;
    lstar_zarr_chain_destroy(&a->chain);
    json_decref(a->meta);
    lstar_free(a->path);
    lstar_free(a->dtype_text);
    lstar_free(a->fill);
    lstar_free(a->fill_str);
    pthread_mutex_destroy(&a->write_mu);
    lstar_free(a);
}

void lstar_zarr_array_spec_init(lstar_zarr_array_spec *spec) {
    if (!spec) return;
    memset(spec, 0, sizeof *spec);
    spec->dtype = LSTAR_DTYPE_INVALID;
}

const char *lstar_zarr_array_path(const lstar_zarr_array *a) { return a ? a->path : NULL; }
int lstar_zarr_array_rank(const lstar_zarr_array *a) { return a ? a->rank : 0; }
const uint64_t *lstar_zarr_array_shape(const lstar_zarr_array *a) { return a ? a->shape : NULL; }
const uint64_t *lstar_zarr_array_chunks(const lstar_zarr_array *a) { return a ? a->chunks : NULL; }
const uint64_t *lstar_zarr_array_shard_shape(const lstar_zarr_array *a) {
    return a && a->sharded ? a->grid : NULL;
}
lstar_dtype lstar_zarr_array_dtype(const lstar_zarr_array *a) { return a ? a->dtype : LSTAR_DTYPE_INVALID; }
size_t lstar_zarr_array_itemsize(const lstar_zarr_array *a) { return a ? a->itemsize : 0; }
const char *lstar_zarr_array_dtype_text(const lstar_zarr_array *a) { return a ? a->dtype_text : NULL; }

uint64_t lstar_zarr_array_num_chunks(const lstar_zarr_array *a) {
    if (!a) return 0;
    uint64_t n = 1;
    for (int d = 0; d < a->rank; d++) {
        uint64_t c = a->shape[d] / a->chunks[d] + (a->shape[d] % a->chunks[d] != 0);
        if (lstar_zarr_mul(n, c, &n)) return UINT64_MAX;
    }
    return n;
}

lstar_status lstar_zarr_array_get_attrs(lstar_zarr_array *a, char **json, lstar_error *err) {
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "array is NULL");
    return lstar_zarr_get_attrs(a->z, a->path, json, err);
}

/* ---- descriptions ------------------------------------------------------- */

static void desc_codec(lstar_buf *b, const json_t *c, int v3, lstar_error *err);

/* Append the description of each codec of JSON list `list`, " | "-separated; *n counts the parts so far. */
static void desc_codec_list(lstar_buf *b, const json_t *list, int v3, int *n) {
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        if ((*n)++) lstar_buf_appendf(b, NULL, " | ");
        desc_codec(b, c, v3, NULL);
    }
}

static void desc_codec(lstar_buf *b, const json_t *c, int v3, lstar_error *err) {
    const char *name = json_is_string(c) ? json_string_value(c) : lstar_json_str(c, v3 ? "name" : "id");
    const json_t *cfg = v3 ? json_object_get(c, "configuration") : c;
    if (!name) name = "?";
    const char *base = strncmp(name, "numcodecs.", 10) == 0 ? name + 10 : name;
    if (strcmp(base, "sharding_indexed") == 0) {
        lstar_buf_appendf(b, err, "sharded[");
        int parts = 0;
        desc_codec_list(b, json_object_get(cfg, "codecs"), 1, &parts);
        lstar_buf_appendf(b, err, "]");
        return;
    }
    lstar_buf_appendf(b, err, "%s", base);
    const json_t *lvl = json_object_get(cfg, strcmp(base, "blosc") == 0 ? "clevel" : "level");
    if (strcmp(base, "zstd") == 0 || strcmp(base, "gzip") == 0 || strcmp(base, "zlib") == 0) {
        if (json_is_integer(lvl)) lstar_buf_appendf(b, err, "(%lld)", (long long)json_integer_value(lvl));
    } else if (strcmp(base, "blosc") == 0) {
        const json_t *sh = json_object_get(cfg, "shuffle");
        const char *shs = json_is_string(sh) ? json_string_value(sh)
                          : !json_is_integer(sh) ? "?"
                          : json_integer_value(sh) == 0 ? "noshuffle"
                          : json_integer_value(sh) == 1 ? "shuffle"
                          : json_integer_value(sh) == 2 ? "bitshuffle" : "autoshuffle";
        const char *cn = lstar_json_str(cfg, "cname");
        lstar_buf_appendf(b, err, "(%s,%lld,%s)", cn ? cn : "?", json_is_integer(lvl) ? (long long)json_integer_value(lvl) : -1LL,
                          shs);
    } else if (strcmp(base, "shuffle") == 0) {
        const json_t *es = json_object_get(cfg, "elementsize");
        if (json_is_integer(es)) lstar_buf_appendf(b, err, "(%lld)", (long long)json_integer_value(es));
    } else if (strcmp(base, "bytes") == 0) {
        const char *e = lstar_json_str(cfg, "endian");
        if (e) lstar_buf_appendf(b, err, "(%s)", e);
    } else if (strcmp(base, "transpose") == 0) {
        char *o = lstar_json_dump(json_object_get(cfg, "order"), 0);
        if (o) lstar_buf_appendf(b, err, "(%s)", o);
        lstar_free(o);
    }
}

char *lstar_zarr_array_codecs_desc(const lstar_zarr_array *a) {
    lstar_buf b;
    if (!a) return NULL;
    lstar_buf_init(&b, 1u << 20);
    int n = 0;
    if (a->format == 3) {
        desc_codec_list(&b, json_object_get(a->meta, "codecs"), 1, &n);
    } else {
        const char *order = lstar_json_str(a->meta, "order");
        if (order && order[0] == 'F' && a->rank > 1) {
            lstar_buf_appendf(&b, NULL, "order(F)");
            n++;
        }
        desc_codec_list(&b, json_object_get(a->meta, "filters"), 0, &n);
        const json_t *comp = json_object_get(a->meta, "compressor");
        if (json_is_object(comp)) {
            if (n++) lstar_buf_appendf(&b, NULL, " | ");
            desc_codec(&b, comp, 0, NULL);
        }
        if (!n) lstar_buf_appendf(&b, NULL, "none");
    }
    if (lstar_buf_append(&b, "", 1, NULL) != LSTAR_OK) {
        lstar_buf_destroy(&b);
        return NULL;
    }
    size_t sz;
    return (char *)lstar_buf_detach(&b, &sz);
}

/* ---- stored bytes ------------------------------------------------------- */

typedef struct sum_ctx {
    lstar_store *store;
    uint64_t total;
    lstar_status st;
    lstar_error err;
} sum_ctx;

static int sum_cb(void *ud, const char *key) {
    sum_ctx *c = ud;
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    if (strcmp(base, ".zarray") == 0 || strcmp(base, ".zattrs") == 0 || strcmp(base, "zarr.json") == 0 ||
        strcmp(base, ".zgroup") == 0 || strcmp(base, ".zmetadata") == 0)
        return 0;
    uint64_t sz = 0;
    c->st = lstar_store_size(c->store, key, &sz, &c->err);
    if (c->st != LSTAR_OK) return 1;
    c->total += sz;
    return 0;
}

lstar_status lstar_zarr_array_stored_bytes(lstar_zarr_array *a, uint64_t *bytes, lstar_error *err) {
    if (!a || !bytes) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    char prefix[LSTAR_MAX_KEY_BYTES + 2];
    snprintf(prefix, sizeof prefix, "%s%s", a->path, a->path[0] ? "/" : "");
    sum_ctx c;
    memset(&c, 0, sizeof c);
    c.store = a->z->store;
    lstar_status st = lstar_store_list(a->z->store, prefix, sum_cb, &c, err);
    if (st != LSTAR_OK) return st;
    if (c.st != LSTAR_OK) {
        if (err) *err = c.err;
        return c.st;
    }
    *bytes = c.total;
    return LSTAR_OK;
}

/* ---- reads -------------------------------------------------------------- */

lstar_status lstar_zarr_array_read_chunk(lstar_zarr_array *a, const uint64_t *coords, void *out,
                                         lstar_error *err) {
    if (!a || !out || (a->rank && !coords))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "invalid arguments");
    if (a->chain.ab != ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "read_chunk is not for string arrays");
    for (int d = 0; d < a->rank; d++) {
        uint64_t nc = a->shape[d] / a->chunks[d] + (a->shape[d] % a->chunks[d] != 0);
        if (coords[d] >= nc)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "chunk coordinate %llu out of range in dim %d",
                              (unsigned long long)coords[d], d);
    }
    uint64_t zero[1] = {0};
    return lstar_zarr_chunk_read(a, a->rank ? coords : zero, out, NULL, err);
}

static lstar_status check_region(const lstar_zarr_array *a, const uint64_t *start, const uint64_t *count,
                                 lstar_error *err) {
    for (int d = 0; d < a->rank; d++)
        if (start[d] > a->shape[d] || count[d] > a->shape[d] - start[d])
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path,
                              "region [%llu, +%llu) outside dimension %d of size %llu", (unsigned long long)start[d],
                              (unsigned long long)count[d], d, (unsigned long long)a->shape[d]);
    return LSTAR_OK;
}

lstar_status lstar_zarr_array_read(lstar_zarr_array *a, const uint64_t *start, const uint64_t *count, void *out,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *scratch = NULL;
    zarr_shard_cache sc;
    memset(&sc, 0, sizeof sc);
    if (!a || !out || (a->rank && (!start || !count)))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "invalid arguments");
    if (a->chain.ab != ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "string arrays are read with read_strings");
    if (a->rank == 0) {
        uint64_t zero[1] = {0};
        return lstar_zarr_chunk_read(a, zero, out, NULL, err);
    }
    LSTAR_CHECK(check_region(a, start, count, err));
    const int r = a->rank;
    const size_t is = a->itemsize;
    for (int d = 0; d < r; d++)
        if (count[d] == 0) return LSTAR_OK;
    uint64_t c0[LSTAR_MAX_RANK], c1[LSTAR_MAX_RANK], cc[LSTAR_MAX_RANK], ostride[LSTAR_MAX_RANK],
        cstride[LSTAR_MAX_RANK];
    uint64_t s = 1, cs = 1;
    for (int d = r - 1; d >= 0; d--) {
        c0[d] = start[d] / a->chunks[d];
        c1[d] = (start[d] + count[d] - 1) / a->chunks[d];
        cc[d] = c0[d];
        ostride[d] = s;
        s *= count[d];
        cstride[d] = cs;
        cs *= a->chunks[d];
    }
    uint8_t *o = out;
    for (;;) {
        uint64_t lo[LSTAR_MAX_RANK], hi[LSTAR_MAX_RANK];
        int whole = 1, contiguous = 1;
        for (int d = 0; d < r; d++) {
            uint64_t org = cc[d] * a->chunks[d];
            lo[d] = start[d] > org ? start[d] : org;
            uint64_t e1 = start[d] + count[d], e2 = org + a->chunks[d];
            hi[d] = e1 < e2 ? e1 : e2;
            if (lo[d] != org || hi[d] != e2) whole = 0;
            if (d > 0 && a->chunks[d] != count[d]) contiguous = 0;
        }
        if (whole && contiguous) {
            uint64_t off = 0;
            for (int d = 0; d < r; d++) off += (lo[d] - start[d]) * ostride[d];
            LSTAR_CHECK(lstar_zarr_chunk_read(a, cc, o + off * is, &sc, err));
        } else {
            if (!scratch) {
                scratch = lstar_malloc(a->chunk_bytes ? a->chunk_bytes : 1);
                if (!scratch) {
                    st = LSTAR_NOMEM(err, a->path);
                    goto done;
                }
            }
            LSTAR_CHECK(lstar_zarr_chunk_read(a, cc, scratch, &sc, err));
            /* copy the intersection, one run along the last dimension at a time */
            uint64_t idx[LSTAR_MAX_RANK];
            memcpy(idx, lo, sizeof(uint64_t) * (size_t)r);
            size_t run = (size_t)((hi[r - 1] - lo[r - 1]) * is);
            for (;;) {
                uint64_t so = 0, doff = 0;
                for (int d = 0; d < r; d++) {
                    so += (idx[d] - cc[d] * a->chunks[d]) * cstride[d];
                    doff += (idx[d] - start[d]) * ostride[d];
                }
                memcpy(o + doff * is, scratch + so * is, run);
                int d = r - 2;
                for (; d >= 0; d--) {
                    if (++idx[d] < hi[d]) break;
                    idx[d] = lo[d];
                }
                if (d < 0) break;
            }
        }
        int d = r - 1;
        for (; d >= 0; d--) {
            if (++cc[d] <= c1[d]) break;
            cc[d] = c0[d];
        }
        if (d < 0) break;
    }
done:
    lstar_free(scratch);
    lstar_zarr_shard_cache_destroy(&sc);
    return st;
}

/* UTF-32 (native) code units → UTF-8, trailing NULs dropped. */
static lstar_status append_utf32(lstar_strings *out, const uint8_t *p, size_t itemsize, const char *path,
                                 lstar_error *err) {
    size_t n = itemsize / 4;
    while (n > 0) {
        uint32_t c;
        memcpy(&c, p + 4 * (n - 1), 4);
        if (c) break;
        n--;
    }
    char tmp[256];
    lstar_buf b;
    lstar_buf_init(&b, 0);
    lstar_status st = LSTAR_OK;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c;
        memcpy(&c, p + 4 * i, 4);
        uint8_t u[4];
        size_t k;
        if (c < 0x80) { u[0] = (uint8_t)c; k = 1; }
        else if (c < 0x800) { u[0] = (uint8_t)(0xc0 | (c >> 6)); u[1] = (uint8_t)(0x80 | (c & 0x3f)); k = 2; }
        else if (c < 0x10000) {
            u[0] = (uint8_t)(0xe0 | (c >> 12)); u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            u[2] = (uint8_t)(0x80 | (c & 0x3f)); k = 3;
        } else if (c < 0x110000) {
            u[0] = (uint8_t)(0xf0 | (c >> 18)); u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
            u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f)); u[3] = (uint8_t)(0x80 | (c & 0x3f)); k = 4;
        } else {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, path, "invalid UTF-32 code point %#x", (unsigned)c);
            goto done;
        }
        if (w + k > sizeof tmp) {
            LSTAR_CHECK(lstar_buf_append(&b, tmp, w, err));
            w = 0;
        }
        memcpy(tmp + w, u, k);
        w += k;
    }
    if (b.size) {
        LSTAR_CHECK(lstar_buf_append(&b, tmp, w, err));
        st = lstar_strings_append(out, (const char *)b.data, b.size, err);
    } else {
        st = lstar_strings_append(out, tmp, w, err);
    }
done:
    lstar_buf_destroy(&b);
    return st;
}

lstar_status lstar_zarr_array_read_strings(lstar_zarr_array *a, uint64_t start, uint64_t count,
                                           lstar_strings *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings chunk;
    uint8_t *enc = NULL, *raw = NULL;
    zarr_shard_cache sc;
    memset(&sc, 0, sizeof sc);
    memset(&chunk, 0, sizeof chunk);
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!a) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "array is NULL");
    int vlen = a->chain.ab != ZARR_AB_BYTES;
    if (!vlen && a->dtype != LSTAR_DTYPE_FIXED_BYTES && a->dtype != LSTAR_DTYPE_FIXED_UTF32)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "not a string array (dtype %s)",
                          lstar_dtype_name(a->dtype));
    uint64_t total = 1;
    for (int d = 0; d < a->rank; d++) total *= a->shape[d];
    if (start > total || count > total - start)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "string range [%llu, +%llu) outside %llu items",
                          (unsigned long long)start, (unsigned long long)count, (unsigned long long)total);
    if (count > LSTAR_MAX_STRING_ITEMS)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "too many strings requested");
    LSTAR_CHECK(lstar_strings_init(out, err));
    if (!vlen) {
        raw = lstar_malloc(a->chunk_bytes ? a->chunk_bytes : 1);
        if (!raw) {
            st = LSTAR_NOMEM(err, a->path);
            goto done;
        }
    }
    uint64_t have[LSTAR_MAX_RANK];
    int loaded = 0, missing = 0;
    size_t flen = a->fill_str ? strlen(a->fill_str) : 0;
    const int r = a->rank;
    for (uint64_t i = start; i < start + count; i++) {
        uint64_t coords[LSTAR_MAX_RANK] = {0}, within = 0, rem = i;
        uint64_t pos[LSTAR_MAX_RANK];
        for (int d = r - 1; d >= 0; d--) {
            pos[d] = rem % a->shape[d];
            rem /= a->shape[d];
        }
        for (int d = 0; d < r; d++) {
            coords[d] = pos[d] / a->chunks[d];
            within = within * a->chunks[d] + pos[d] % a->chunks[d];
        }
        int same = loaded;
        for (int d = 0; same && d < r; d++) same = have[d] == coords[d];
        if (!same) {
            lstar_strings_destroy(&chunk);
            loaded = 0;
            if (vlen) {
                size_t n = 0;
                LSTAR_CHECK(lstar_zarr_chunk_fetch(a, coords, &sc, &enc, &n, err));
                missing = enc == NULL;
                if (enc) {
                    st = lstar_zarr_chunk_decode_strings(a, enc, n, &chunk, err);
                    lstar_free(enc);
                    enc = NULL;
                    if (st != LSTAR_OK) goto done;
                }
            } else {
                LSTAR_CHECK(lstar_zarr_chunk_read(a, coords, raw, &sc, err));
            }
            memcpy(have, coords, sizeof(uint64_t) * (size_t)r);
            loaded = 1;
        }
        if (vlen) {
            if (missing) {
                LSTAR_CHECK(lstar_strings_append(out, a->fill_str, flen, err));
            } else {
                size_t len;
                const char *sp = lstar_strings_get(&chunk, (size_t)within, &len);
                LSTAR_CHECK(lstar_strings_append(out, sp, len, err));
            }
        } else if (a->dtype == LSTAR_DTYPE_FIXED_BYTES) {
            const uint8_t *p = raw + within * a->itemsize;
            size_t len = a->itemsize;
            while (len > 0 && p[len - 1] == 0) len--;
            LSTAR_CHECK(lstar_strings_append(out, (const char *)p, len, err));
        } else {
            LSTAR_CHECK(append_utf32(out, raw + within * a->itemsize, a->itemsize, a->path, err));
        }
    }
done:
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    lstar_strings_destroy(&chunk);
    lstar_free(enc);
    lstar_free(raw);
    lstar_zarr_shard_cache_destroy(&sc);
    return st;
}

/* ---- writes ------------------------------------------------------------- */

lstar_status lstar_zarr_array_write_chunk(lstar_zarr_array *a, const uint64_t *coords, const void *data,
                                          lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *enc = NULL;
    size_t n = 0;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    if (!a || !data || (a->rank && !coords))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "invalid arguments");
    if (a->sharded)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, a->path, "write_chunk on a sharded array: use write or the writer");
    if (a->chain.ab != ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "write_chunk is not for string arrays");
    uint64_t zero[1] = {0};
    const uint64_t *cc = a->rank ? coords : zero;
    for (int d = 0; d < a->rank; d++) {
        uint64_t nc = a->shape[d] / a->chunks[d] + (a->shape[d] % a->chunks[d] != 0);
        if (cc[d] >= nc)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "chunk coordinate out of range in dim %d", d);
    }
    LSTAR_CHECK(lstar_zarr_grid_key(a, cc, key, err));
    LSTAR_CHECK(lstar_zarr_chunk_encode(a, data, &enc, &n, err));
    st = lstar_store_set(a->z->store, key, enc, n, err);
done:
    lstar_free(enc);
    return st;
}

/* Batch encoder shared by write() and the streaming writer. */
typedef struct rows_job {
    lstar_zarr_array *a;
    const uint8_t *src;
    uint64_t row0, nrows;    /* rows held by src */
    uint64_t unit0;          /* first unit (grid row) of this batch */
    uint64_t per_unit;       /* tasks per unit */
    uint64_t nshard_other;   /* sharded: shards per unit */
    uint64_t ngrid[LSTAR_MAX_RANK];
    uint8_t **res;
    size_t *res_size;
    uint8_t **scratch;       /* per worker */
    uint64_t row_elems;
} rows_job;

/* Read-unit coords of task t; returns 0 if the chunk lies outside the array. */
static int task_coords(const rows_job *j, uint64_t t, uint64_t *cc) {
    const lstar_zarr_array *a = j->a;
    uint64_t u = j->unit0 + t / j->per_unit, w = t % j->per_unit;
    if (!a->sharded) {
        for (int d = a->rank - 1; d >= 1; d--) {
            cc[d] = w % j->ngrid[d];
            w /= j->ngrid[d];
        }
        cc[0] = u;
        return 1;
    }
    uint64_t s = w / a->shard_n, inner = w % a->shard_n;
    uint64_t g[LSTAR_MAX_RANK], ic[LSTAR_MAX_RANK];
    for (int d = a->rank - 1; d >= 1; d--) {
        g[d] = s % j->ngrid[d];
        s /= j->ngrid[d];
    }
    g[0] = u;
    for (int d = a->rank - 1; d >= 0; d--) {
        ic[d] = inner % a->cps[d];
        inner /= a->cps[d];
    }
    for (int d = 0; d < a->rank; d++) {
        cc[d] = g[d] * a->cps[d] + ic[d];
        if (cc[d] * a->chunks[d] >= a->shape[d]) return 0;
    }
    return 1;
}

/* Copy the part of chunk cc held by src into the chunk buffer (fill elsewhere). */
static void gather_chunk(const rows_job *j, const uint64_t *cc, uint8_t *dst) {
    const lstar_zarr_array *a = j->a;
    const int r = a->rank;
    const size_t is = a->itemsize;
    uint64_t org[LSTAR_MAX_RANK], ext[LSTAR_MAX_RANK], cstride[LSTAR_MAX_RANK], sstride[LSTAR_MAX_RANK];
    int partial = 0;
    uint64_t s = 1, cs = 1;
    for (int d = r - 1; d >= 0; d--) {
        org[d] = cc[d] * a->chunks[d];
        uint64_t lim = a->shape[d];
        if (d == 0 && j->row0 + j->nrows < lim) lim = j->row0 + j->nrows;
        ext[d] = org[d] >= lim ? 0 : (lim - org[d] < a->chunks[d] ? lim - org[d] : a->chunks[d]);
        if (ext[d] != a->chunks[d]) partial = 1;
        cstride[d] = cs;
        cs *= a->chunks[d];
        sstride[d] = s;
        s *= d == 0 ? 1 : a->shape[d];
    }
    if (partial) lstar_zarr_fill(a, dst, a->chunk_elems);
    for (int d = 0; d < r; d++)
        if (ext[d] == 0) return;
    uint64_t idx[LSTAR_MAX_RANK] = {0};
    size_t run = (size_t)(ext[r - 1] * is);
    for (;;) {
        uint64_t so = 0, doff = 0;
        for (int d = 0; d < r; d++) {
            uint64_t gi = org[d] + idx[d];
            so += (d == 0 ? gi - j->row0 : gi) * sstride[d];
            doff += idx[d] * cstride[d];
        }
        memcpy(dst + doff * is, j->src + so * is, run);
        int d = r - 2;
        for (; d >= 0; d--) {
            if (++idx[d] < ext[d]) break;
            idx[d] = 0;
        }
        if (d < 0) break;
    }
}

static lstar_status rows_task(void *ud, size_t i, int worker, lstar_error *err) {
    rows_job *j = ud;
    uint64_t cc[LSTAR_MAX_RANK];
    j->res[i] = NULL;
    j->res_size[i] = 0;
    if (!task_coords(j, i, cc)) return LSTAR_OK;
    if (!j->scratch[worker]) {
        j->scratch[worker] = lstar_malloc(j->a->chunk_bytes ? j->a->chunk_bytes : 1);
        if (!j->scratch[worker]) return LSTAR_NOMEM(err, j->a->path);
    }
    gather_chunk(j, cc, j->scratch[worker]);
    return lstar_zarr_chunk_encode(j->a, j->scratch[worker], &j->res[i], &j->res_size[i], err);
}

lstar_status lstar_zarr_write_rows(lstar_zarr_array *a, const void *src, uint64_t row0, uint64_t nrows,
                                   lstar_pool *pool, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    rows_job j;
    memset(&j, 0, sizeof j);
    int nworkers = pool ? lstar_pool_threads(pool) : 1;
    size_t ntasks_cap = 0;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint8_t *shard = NULL;
    if (a->chain.ab != ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "not for string arrays");
    if (a->rank == 0) {
        uint64_t zero[1] = {0};
        uint8_t *enc = NULL;
        size_t n = 0;
        LSTAR_CHECK(lstar_zarr_grid_key(a, zero, key, err));
        if (a->sharded) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, a->path, "sharded rank-0 arrays are not written");
            goto done;
        }
        LSTAR_CHECK(lstar_zarr_chunk_encode(a, src, &enc, &n, err));
        st = lstar_store_set(a->z->store, key, enc, n, err);
        lstar_free(enc);
        goto done;
    }
    j.a = a;
    j.src = src;
    j.row0 = row0;
    j.nrows = nrows;
    j.row_elems = 1;
    uint64_t other = 1;
    for (int d = 1; d < a->rank; d++) {
        j.row_elems *= a->shape[d];
        j.ngrid[d] = a->shape[d] / a->grid[d] + (a->shape[d] % a->grid[d] != 0);
        other *= j.ngrid[d];
    }
    if (other == 0 || nrows == 0) goto done;
    j.per_unit = a->sharded ? other * a->shard_n : other;
    j.nshard_other = other;
    uint64_t unit = a->grid[0];
    uint64_t ufirst = row0 / unit, uend = (row0 + nrows + unit - 1) / unit;
    uint64_t batch_units = (uint64_t)nworkers;
    if (j.per_unit > ((uint64_t)1 << 26))
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "too many chunks per row of chunks");
    ntasks_cap = (size_t)(j.per_unit * batch_units);
    j.res = lstar_calloc(ntasks_cap, sizeof *j.res);
    j.res_size = lstar_calloc(ntasks_cap, sizeof *j.res_size);
    j.scratch = lstar_calloc((size_t)nworkers, sizeof *j.scratch);
    if (!j.res || !j.res_size || !j.scratch) {
        st = LSTAR_NOMEM(err, a->path);
        goto done;
    }
    for (uint64_t u = ufirst; u < uend; u += batch_units) {
        uint64_t nu = uend - u < batch_units ? uend - u : batch_units;
        j.unit0 = u;
        size_t nt = (size_t)(nu * j.per_unit);
        LSTAR_CHECK(lstar_pool_run(pool, nt, rows_task, &j, err));
        if (!a->sharded) {
            for (size_t t = 0; t < nt; t++) {
                uint64_t cc[LSTAR_MAX_RANK];
                task_coords(&j, t, cc);
                LSTAR_CHECK(lstar_zarr_grid_key(a, cc, key, err));
                LSTAR_CHECK(lstar_store_set(a->z->store, key, j.res[t], j.res_size[t], err));
            }
        } else {
            for (size_t t0 = 0; t0 < nt; t0 += (size_t)a->shard_n) {
                uint64_t g[LSTAR_MAX_RANK];
                size_t ssize = 0;
                LSTAR_CHECK(lstar_zarr_shard_assemble(a, j.res + t0, j.res_size + t0, &shard, &ssize, err));
                /* grid coordinates of this shard */
                uint64_t w = t0 % j.per_unit, s = w / a->shard_n;
                for (int d = a->rank - 1; d >= 1; d--) {
                    g[d] = s % j.ngrid[d];
                    s /= j.ngrid[d];
                }
                g[0] = u + t0 / j.per_unit;
                LSTAR_CHECK(lstar_zarr_grid_key(a, g, key, err));
                LSTAR_CHECK(lstar_store_set(a->z->store, key, shard, ssize, err));
                lstar_free(shard);
                shard = NULL;
            }
        }
        for (size_t t = 0; t < nt; t++) {
            lstar_free(j.res[t]);
            j.res[t] = NULL;
        }
    }
done:
    lstar_free(shard);
    if (j.res)
        for (size_t t = 0; t < ntasks_cap; t++) lstar_free(j.res[t]);
    if (j.scratch)
        for (int w = 0; w < nworkers; w++) lstar_free(j.scratch[w]);
    lstar_free(j.res);
    lstar_free(j.res_size);
    lstar_free(j.scratch);
    return st;
}

lstar_status lstar_zarr_array_write(lstar_zarr_array *a, const void *data, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_pool *pool = NULL;
    if (!a || !data) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "invalid arguments");
    if (a->threads > 1) LSTAR_CHECK(lstar_pool_new(a->threads, &pool, err));
    st = lstar_zarr_write_rows(a, data, 0, a->rank ? a->shape[0] : 1, pool, err);
done:
    lstar_pool_free(pool);
    return st;
}

lstar_status lstar_zarr_array_write_strings(lstar_zarr_array *a, const lstar_strings *s, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *dense = NULL, *enc = NULL, *shard = NULL;
    uint8_t **parts = NULL;
    size_t *psize = NULL;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    if (!a || !s) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a ? a->path : NULL, "invalid arguments");
    /* rank > 1: chunked along the first axis only, so a chunk of rows is a run of the C-order items */
    uint64_t rowlen = 1;
    for (int d = 1; d < a->rank; d++) {
        if (a->chunks[d] != a->shape[d] && a->shape[d] != 0)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path,
                              "write_strings needs whole chunks along every axis but the first");
        rowlen *= a->shape[d];
    }
    uint64_t n = a->rank ? a->shape[0] : 1, items;
    if (lstar_zarr_mul(n, rowlen, &items))
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "array too large");
    if ((uint64_t)s->n != items)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, a->path, "%zu strings for an array of %llu", s->n,
                          (unsigned long long)items);
    if (rowlen == 0) return LSTAR_OK; /* no items: every chunk is fill */
    if (s->n && (!s->offsets || s->offsets[0] != 0))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "malformed string offsets");
    if (a->dtype == LSTAR_DTYPE_FIXED_BYTES) {
        uint64_t bytes;
        if (lstar_zarr_mul(items, a->itemsize, &bytes) || bytes > LSTAR_MAX_CHUNK_BYTES)
            return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "array too large");
        dense = lstar_calloc(1, bytes ? (size_t)bytes : 1);
        if (!dense) return LSTAR_NOMEM(err, a->path);
        for (size_t i = 0; i < s->n; i++) {
            size_t len;
            const char *p = lstar_strings_get(s, i, &len);
            memcpy(dense + i * a->itemsize, p, len < a->itemsize ? len : a->itemsize);
        }
        st = lstar_zarr_array_write(a, dense, err);
        goto done;
    }
    if (a->chain.ab == ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "not a string array");
    uint64_t c = a->rank ? a->chunks[0] : 1;
    uint64_t nunits = a->rank ? (n + a->grid[0] - 1) / a->grid[0] : 1;
    if (a->sharded) {
        parts = lstar_calloc((size_t)a->shard_n, sizeof *parts);
        psize = lstar_calloc((size_t)a->shard_n, sizeof *psize);
        if (!parts || !psize) {
            st = LSTAR_NOMEM(err, a->path);
            goto done;
        }
    }
    for (uint64_t u = 0; u < nunits; u++) {
        uint64_t g[LSTAR_MAX_RANK] = {u}; /* every axis but the first: one chunk */
        LSTAR_CHECK(lstar_zarr_grid_key(a, g, key, err));
        size_t sz = 0;
        if (!a->sharded) {
            uint64_t first = u * c, cnt = n - first < c ? n - first : c;
            LSTAR_CHECK(lstar_zarr_chunk_encode_strings(a, s, (size_t)(first * rowlen), (size_t)(cnt * rowlen),
                                                        (size_t)((c - cnt) * rowlen), &enc, &sz, err));
            LSTAR_CHECK(lstar_store_set(a->z->store, key, enc, sz, err));
        } else {
            for (uint64_t k = 0; k < a->shard_n; k++) {
                uint64_t first = (u * a->shard_n + k) * c;
                if (first >= n) continue;
                uint64_t cnt = n - first < c ? n - first : c;
                LSTAR_CHECK(lstar_zarr_chunk_encode_strings(a, s, (size_t)(first * rowlen), (size_t)(cnt * rowlen),
                                                            (size_t)((c - cnt) * rowlen), &parts[k], &psize[k], err));
            }
            LSTAR_CHECK(lstar_zarr_shard_assemble(a, parts, psize, &shard, &sz, err));
            LSTAR_CHECK(lstar_store_set(a->z->store, key, shard, sz, err));
            lstar_free(shard);
            shard = NULL;
            for (uint64_t k = 0; k < a->shard_n; k++) {
                lstar_free(parts[k]);
                parts[k] = NULL;
            }
        }
        lstar_free(enc);
        enc = NULL;
    }
done:
    if (parts)
        for (uint64_t k = 0; k < a->shard_n; k++) lstar_free(parts[k]);
    lstar_free(parts);
    lstar_free(psize);
    lstar_free(dense);
    lstar_free(enc);
    lstar_free(shard);
    return st;
}

/* ---- raw chunks and keys ------------------------------------------------ */

static lstar_status raw_key(lstar_zarr_array *a, const uint64_t *coords, char *key, lstar_error *err) {
    if (!a || (a->rank && !coords)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    if (a->sharded)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, a->path, "raw chunk access on a sharded array");
    uint64_t zero[1] = {0};
    return lstar_zarr_grid_key(a, a->rank ? coords : zero, key, err);
}

lstar_status lstar_zarr_array_read_raw_chunk(lstar_zarr_array *a, const uint64_t *coords, uint8_t **data,
                                             size_t *size, lstar_error *err) {
    char key[LSTAR_MAX_KEY_BYTES + 1];
    if (!data || !size) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    *data = NULL;
    *size = 0;
    lstar_status st = raw_key(a, coords, key, err);
    if (st != LSTAR_OK) return st;
    return lstar_store_get(a->z->store, key, 0, data, size, err);
}

lstar_status lstar_zarr_array_write_raw_chunk(lstar_zarr_array *a, const uint64_t *coords, const void *data,
                                              size_t size, lstar_error *err) {
    char key[LSTAR_MAX_KEY_BYTES + 1];
    lstar_status st = raw_key(a, coords, key, err);
    if (st != LSTAR_OK) return st;
    return lstar_store_set(a->z->store, key, data, size, err);
}

char *lstar_zarr_array_chunk_key(const lstar_zarr_array *a, const uint64_t *coords) {
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint64_t g[LSTAR_MAX_RANK] = {0};
    if (!a || (a->rank && !coords)) return NULL;
    for (int d = 0; d < a->rank; d++) g[d] = coords[d] / a->cps[d];
    if (lstar_zarr_grid_key(a, g, key, NULL) != LSTAR_OK) return NULL;
    return lstar_strdup(key);
}
