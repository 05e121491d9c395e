/* Zarr chunk coding: the codec chain (array→array, array→bytes, bytes→bytes)
 * in both directions, transposition, byte order, vlen-utf8, chunk keys and
 * the sharding_indexed shard index. */
#include <stdio.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"
#include "zarr/zarr_internal.h"

#define SHARD_EMPTY UINT64_MAX

void lstar_zarr_fill(const lstar_zarr_array *a, void *buf, uint64_t n) {
    size_t s = a->itemsize;
    uint8_t *p = buf;
    if (!n || !s) return;
    int zero = 1;
    for (size_t i = 0; i < s; i++) zero &= a->fill[i] == 0;
    if (zero) {
        memset(p, 0, (size_t)(n * s));
        return;
    }
    memcpy(p, a->fill, s);
    uint64_t done = 1;
    while (done < n) { /* doubling copy */
        uint64_t k = done <= n - done ? done : n - done;
        memcpy(p + done * s, p, (size_t)(k * s));
        done += k;
    }
}

/* ---- keys --------------------------------------------------------------- */

lstar_status lstar_zarr_grid_key(const lstar_zarr_array *a, const uint64_t *gcoords, char *buf, lstar_error *err) {
    size_t cap = LSTAR_MAX_KEY_BYTES + 1, n = 0;
    int w;
    buf[0] = '\0';
    if (a->path[0]) {
        w = snprintf(buf, cap, "%s/", a->path);
        if (w < 0 || (size_t)w >= cap) goto toolong;
        n = (size_t)w;
    }
    if (!a->v2_keys) {
        w = snprintf(buf + n, cap - n, "c");
        if (w < 0 || (size_t)w >= cap - n) goto toolong;
        n += (size_t)w;
    } else if (a->rank == 0) {
        w = snprintf(buf + n, cap - n, "0");
        if (w < 0 || (size_t)w >= cap - n) goto toolong;
        n += (size_t)w;
    }
    for (int d = 0; d < a->rank; d++) {
        int first = a->v2_keys && d == 0;
        if (first)
            w = snprintf(buf + n, cap - n, "%llu", (unsigned long long)gcoords[d]);
        else
            w = snprintf(buf + n, cap - n, "%c%llu", a->sep, (unsigned long long)gcoords[d]);
        if (w < 0 || (size_t)w >= cap - n) goto toolong;
        n += (size_t)w;
    }
    return LSTAR_OK;
toolong:
    return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "chunk key too long");
}

/* ---- transposition ------------------------------------------------------ */

/* Walk the decoded chunk (`shape`, C order) element by element alongside its position in encoded axis
 * order (axis k of the encoded layout is decoded axis order[k]) and copy `size`-byte elements: decoding
 * (encode = 0) writes decoded C order into dst from encoded `src`; encoding does the inverse. */
static void transpose_copy(const uint8_t *src, uint8_t *dst, const uint64_t *shape, int rank, const int *order,
                           size_t size, int encode) {
    uint64_t eshape[LSTAR_MAX_RANK], estride[LSTAR_MAX_RANK], stride[LSTAR_MAX_RANK], idx[LSTAR_MAX_RANK];
    for (int k = 0; k < rank; k++) eshape[k] = shape[order[k]];
    uint64_t total = 1;
    for (int k = rank - 1; k >= 0; k--) {
        estride[k] = total;
        total *= eshape[k];
    }
    for (int k = 0; k < rank; k++) stride[order[k]] = estride[k]; /* encoded stride of decoded axis */
    memset(idx, 0, sizeof idx);
    uint64_t off = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (encode)
            memcpy(dst + off * size, src + i * size, size);
        else
            memcpy(dst + i * size, src + off * size, size);
        for (int d = rank - 1; d >= 0; d--) {
            idx[d]++;
            off += stride[d];
            if (idx[d] < shape[d]) break;
            off -= stride[d] * idx[d];
            idx[d] = 0;
        }
    }
}

/* ---- bytes→bytes stage -------------------------------------------------- */

/* Undo the bytes→bytes codecs: the result (the array→bytes output) goes to
 * *out (lstar_malloc'd, *out_size) or, when `into` is given and the size is
 * known to be `into_size`, directly into `into` (then *out stays NULL). */
static lstar_status bb_decode(const lstar_zarr_array *a, const uint8_t *enc, size_t enc_size, size_t ab_size,
                              uint8_t *into, size_t into_size, uint8_t **out, size_t *out_size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const zarr_chain *ch = &a->chain;
    int64_t sizes[ZARR_MAX_CODECS + 1]; /* sizes[i] = input size of bb[i] when encoding; -1 unknown */
    sizes[0] = ab_size ? (int64_t)ab_size : -1;
    for (int i = 0; i < ch->n_bb; i++)
        sizes[i + 1] = (sizes[i] < 0 || ch->bb_growth[i] < 0) ? -1 : sizes[i] + ch->bb_growth[i];
    uint8_t *cur = NULL; /* owned intermediate */
    const uint8_t *in = enc;
    size_t in_size = enc_size;
    *out = NULL;
    *out_size = 0;
    for (int i = ch->n_bb - 1; i >= 0; i--) {
        uint8_t *next = NULL;
        size_t next_size = 0;
        if (i == 0 && into && sizes[0] == (int64_t)into_size) {
            st = lstar_codec_decode_into_fast(ch->bb[i], in, in_size, into, into_size, err);
            lstar_free(cur);
            cur = NULL;
            if (st != LSTAR_OK) goto done;
            *out_size = into_size;
            return LSTAR_OK;
        }
        st = lstar_codec_decode(ch->bb[i], in, in_size, sizes[i] > 0 ? (size_t)sizes[i] : 0, 0, &next, &next_size,
                                err);
        lstar_free(cur);
        cur = NULL;
        if (st != LSTAR_OK) goto done;
        cur = next;
        in = next;
        in_size = next_size;
    }
    if (!cur) { /* no bb codecs: copy the stored bytes */
        if (into && enc_size == into_size) {
            if (enc_size) memcpy(into, enc, enc_size);
            *out_size = enc_size;
            return LSTAR_OK;
        }
        cur = lstar_malloc(enc_size ? enc_size : 1);
        if (!cur) {
            st = LSTAR_NOMEM(err, a->path);
            goto done;
        }
        if (enc_size) memcpy(cur, enc, enc_size);
        in_size = enc_size;
    }
    *out = cur;
    *out_size = in_size;
    cur = NULL;
done:
    lstar_free(cur);
    if (st != LSTAR_OK) lstar_err_add_where(err, a->path);
    return st;
}

lstar_status lstar_zarr_chunk_decode(const lstar_zarr_array *a, const uint8_t *enc, size_t enc_size, void *out,
                                     lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const zarr_chain *ch = &a->chain;
    uint8_t *buf = NULL;
    size_t size = 0;
    if (ch->ab != ZARR_AB_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, a->path, "not a fixed-size array");
    /* Decode straight into `out` when no array→array step follows. */
    int direct = ch->n_aa == 0;
    LSTAR_CHECK(bb_decode(a, enc, enc_size, a->chunk_bytes, direct ? out : NULL, a->chunk_bytes, &buf, &size, err));
    if (size != a->chunk_bytes) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "chunk decodes to %zu bytes, expected %zu", size,
                        a->chunk_bytes);
        goto done;
    }
    uint8_t *owned = buf; /* the intermediate currently held */
    buf = NULL;
    uint8_t *cur = owned ? owned : (uint8_t *)out;
    if (ch->big_endian != lstar_zarr_native_big_endian()) lstar_zarr_bswap(cur, a->chunk_elems, a->itemsize, a->dtype);
    /* Undo array→array steps in reverse, tracking the encoded shape. */
    uint64_t shapes[ZARR_MAX_CODECS + 1][LSTAR_MAX_RANK];
    memcpy(shapes[0], a->chunks, sizeof shapes[0]);
    for (int i = 0; i < ch->n_aa; i++) {
        for (int k = 0; k < a->rank; k++)
            shapes[i + 1][k] = ch->aa[i].kind == ZARR_AA_TRANSPOSE ? shapes[i][ch->aa[i].order[k]] : shapes[i][k];
    }
    for (int i = ch->n_aa - 1; i >= 0; i--) {
        const zarr_aa *s = &ch->aa[i];
        uint8_t *newown = NULL, *dst = (uint8_t *)out;
        if (i > 0) {
            newown = lstar_malloc(a->chunk_bytes ? a->chunk_bytes : 1);
            if (!newown) {
                lstar_free(owned);
                st = LSTAR_NOMEM(err, a->path);
                goto done;
            }
            dst = newown;
        }
        if (s->kind == ZARR_AA_TRANSPOSE) {
            transpose_copy(cur, dst, shapes[i], a->rank, s->order, a->itemsize, 0);
        } else {
            st = lstar_codec_decode_into(s->codec, cur, a->chunk_bytes, dst, a->chunk_bytes, err);
            if (st != LSTAR_OK) {
                lstar_err_add_where(err, a->path);
                lstar_free(newown);
                lstar_free(owned);
                goto done;
            }
        }
        lstar_free(owned);
        owned = newown;
        cur = dst;
    }
    if (owned) memcpy(out, owned, a->chunk_bytes);
    lstar_free(owned);
done:
    lstar_free(buf);
    return st;
}

/* Run the bytes->bytes codecs of `ch` forward over *cur (cur_size bytes, replaced by each stage's result)
 * and hand the final bytes to *out / *out_size; *cur is NULL then.  On failure *cur is the last successful
 * stage (the caller frees it). */
static lstar_status encode_bytes_codecs(const zarr_chain *ch, uint8_t **cur, size_t cur_size, uint8_t **out,
                                        size_t *out_size, lstar_error *err) {
    for (int i = 0; i < ch->n_bb; i++) {
        uint8_t *next = NULL;
        size_t next_size = 0;
        lstar_status st = lstar_codec_encode(ch->bb[i], *cur, cur_size, &next, &next_size, err);
        if (st != LSTAR_OK) return st;
        lstar_free(*cur);
        *cur = next;
        cur_size = next_size;
    }
    *out = *cur;
    *out_size = cur_size;
    *cur = NULL;
    return LSTAR_OK;
}

lstar_status lstar_zarr_chunk_encode(const lstar_zarr_array *a, const void *in, uint8_t **out, size_t *out_size,
                                     lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const zarr_chain *ch = &a->chain;
    uint8_t *cur = NULL;
    size_t cur_size = a->chunk_bytes;
    *out = NULL;
    *out_size = 0;
    if (ch->n_aa == 0 && ch->n_bb > 0 && ch->big_endian == lstar_zarr_native_big_endian()) {
        /* The first compressor/filter reads the caller's bytes: no copy of the chunk. */
        st = lstar_codec_encode(ch->bb[0], in, cur_size, &cur, &cur_size, err);
        if (st == LSTAR_OK) {
            zarr_chain rest = *ch;
            rest.n_bb = ch->n_bb - 1;
            for (int i = 0; i < rest.n_bb; i++) rest.bb[i] = ch->bb[i + 1];
            st = encode_bytes_codecs(&rest, &cur, cur_size, out, out_size, err);
        }
        goto done;
    }
    cur = lstar_malloc(cur_size ? cur_size : 1);
    if (!cur) return LSTAR_NOMEM(err, a->path);
    if (cur_size) memcpy(cur, in, cur_size);
    uint64_t shape[LSTAR_MAX_RANK];
    memcpy(shape, a->chunks, sizeof shape);
    for (int i = 0; i < ch->n_aa; i++) {
        const zarr_aa *s = &ch->aa[i];
        uint8_t *next = NULL;
        size_t next_size = 0;
        if (s->kind == ZARR_AA_TRANSPOSE) {
            next = lstar_malloc(cur_size ? cur_size : 1);
            if (!next) {
                st = LSTAR_NOMEM(err, a->path);
                goto done;
            }
            transpose_copy(cur, next, shape, a->rank, s->order, a->itemsize, 1);
            uint64_t ns[LSTAR_MAX_RANK];
            for (int k = 0; k < a->rank; k++) ns[k] = shape[s->order[k]];
            memcpy(shape, ns, sizeof ns);
            next_size = cur_size;
        } else {
            LSTAR_CHECK(lstar_codec_encode(s->codec, cur, cur_size, &next, &next_size, err));
        }
        lstar_free(cur);
        cur = next;
        cur_size = next_size;
    }
    if (ch->big_endian != lstar_zarr_native_big_endian()) lstar_zarr_bswap(cur, a->chunk_elems, a->itemsize, a->dtype);
    LSTAR_CHECK(encode_bytes_codecs(ch, &cur, cur_size, out, out_size, err));
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, a->path);
    lstar_free(cur);
    return st;
}

/* ---- vlen strings ------------------------------------------------------- */

static uint32_t rd32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

lstar_status lstar_zarr_chunk_decode_strings(const lstar_zarr_array *a, const uint8_t *enc, size_t enc_size,
                                             lstar_strings *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t *buf = NULL;
    size_t size = 0;
    memset(out, 0, sizeof *out);
    LSTAR_CHECK(bb_decode(a, enc, enc_size, 0, NULL, 0, &buf, &size, err));
    if (size < 4) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "vlen chunk of %zu bytes has no item count", size);
        goto done;
    }
    uint32_t n = rd32le(buf);
    if ((uint64_t)n != a->chunk_elems) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "vlen chunk holds %u items, expected %llu", n,
                        (unsigned long long)a->chunk_elems);
        goto done;
    }
    /* Validate every length before allocating the result. */
    size_t pos = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (size - pos < 4) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "vlen chunk truncated at item %u", i);
            goto done;
        }
        uint32_t len = rd32le(buf + pos);
        pos += 4;
        if (len > size - pos || len > LSTAR_MAX_STRING_BYTES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, a->path, "vlen item %u claims %u bytes, %zu remain", i, len,
                            size - pos);
            goto done;
        }
        pos += len;
    }
    out->offsets = lstar_malloc(sizeof(int64_t) * ((size_t)n + 1));
    size_t payload = size - 4 - 4 * (size_t)n;
    out->bytes = lstar_malloc(payload ? payload : 1);
    if (!out->offsets || !out->bytes) {
        st = LSTAR_NOMEM(err, a->path);
        goto done;
    }
    out->n = n;
    out->n_cap = n;
    out->bytes_cap = payload ? payload : 1;
    out->offsets[0] = 0;
    pos = 4;
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = rd32le(buf + pos);
        pos += 4;
        if (len) memcpy(out->bytes + o, buf + pos, len);
        pos += len;
        o += len;
        out->offsets[i + 1] = (int64_t)o;
    }
done:
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    lstar_free(buf);
    return st;
}

lstar_status lstar_zarr_chunk_encode_strings(const lstar_zarr_array *a, const lstar_strings *s, size_t first,
                                             size_t n, size_t pad, uint8_t **out, size_t *out_size,
                                             lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const zarr_chain *ch = &a->chain;
    size_t flen = strlen(a->fill_str ? a->fill_str : "");
    uint64_t total = 4;
    for (size_t i = 0; i < n; i++) total += 4 + (uint64_t)(s->offsets[first + i + 1] - s->offsets[first + i]);
    total += (uint64_t)pad * (4 + flen);
    *out = NULL;
    *out_size = 0;
    if (total > LSTAR_MAX_CHUNK_BYTES || n + pad > UINT32_MAX)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "string chunk too large");
    uint8_t *cur = lstar_malloc((size_t)total), *p;
    size_t cur_size = (size_t)total;
    if (!cur) return LSTAR_NOMEM(err, a->path);
    p = cur;
    wr32le(p, (uint32_t)(n + pad));
    p += 4;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)(s->offsets[first + i + 1] - s->offsets[first + i]);
        wr32le(p, (uint32_t)len);
        p += 4;
        if (len) memcpy(p, s->bytes + s->offsets[first + i], len);
        p += len;
    }
    for (size_t i = 0; i < pad; i++) {
        wr32le(p, (uint32_t)flen);
        p += 4;
        if (flen) memcpy(p, a->fill_str, flen);
        p += flen;
    }
    LSTAR_CHECK(encode_bytes_codecs(ch, &cur, cur_size, out, out_size, err));
done:
    if (st != LSTAR_OK) lstar_err_add_where(err, a->path);
    lstar_free(cur);
    return st;
}

/* ---- sharding ----------------------------------------------------------- */

void lstar_zarr_shard_cache_destroy(zarr_shard_cache *c) {
    if (!c) return;
    lstar_free(c->index);
    memset(c, 0, sizeof *c);
}

static uint64_t rd64(const uint8_t *p, int big) {
    uint64_t v = 0;
    if (big)
        for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    else
        for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void wr64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static size_t index_bytes(const lstar_zarr_array *a) { return (size_t)(16 * a->shard_n + (a->index_crc ? 4 : 0)); }

/* Load the index of the shard at grid coords g into the cache. */
static lstar_status load_index(lstar_zarr_array *a, const uint64_t *g, zarr_shard_cache *sc, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint8_t *raw = NULL;
    if (sc->valid && memcmp(sc->gcoords, g, sizeof(uint64_t) * (size_t)a->rank) == 0) return LSTAR_OK;
    sc->valid = 0;
    LSTAR_CHECK(lstar_zarr_grid_key(a, g, key, err));
    if (!sc->index) {
        sc->index = lstar_malloc(sizeof(uint64_t) * 2 * (size_t)a->shard_n);
        if (!sc->index) {
            st = LSTAR_NOMEM(err, key);
            goto done;
        }
    }
    lstar_error e;
    lstar_error_clear(&e);
    st = lstar_store_size(a->z->store, key, &sc->obj_size, &e);
    if (st == LSTAR_ERR_NOT_FOUND) {
        st = LSTAR_OK;
        sc->missing = 1;
        memcpy(sc->gcoords, g, sizeof(uint64_t) * (size_t)a->rank);
        sc->valid = 1;
        goto done;
    }
    if (st != LSTAR_OK) {
        if (err) *err = e;
        goto done;
    }
    sc->missing = 0;
    size_t ib = index_bytes(a);
    if (sc->obj_size < ib) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard of %llu bytes is smaller than its %zu-byte index",
                        (unsigned long long)sc->obj_size, ib);
        goto done;
    }
    raw = lstar_malloc(ib);
    if (!raw) {
        st = LSTAR_NOMEM(err, key);
        goto done;
    }
    uint64_t ioff = a->index_at_start ? 0 : sc->obj_size - ib;
    LSTAR_CHECK(lstar_store_get_range(a->z->store, key, ioff, ib, raw, err));
    if (a->index_crc) {
        uint32_t want = rd32le(raw + 16 * a->shard_n);
        uint32_t got = lstar_crc32c(0, raw, (size_t)(16 * a->shard_n));
        if (want != got) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "shard index checksum mismatch (stored %08x, computed %08x)",
                            want, got);
            goto done;
        }
    }
    for (uint64_t i = 0; i < a->shard_n; i++) {
        uint64_t off = rd64(raw + 16 * i, a->index_big_endian), nb = rd64(raw + 16 * i + 8, a->index_big_endian);
        if (off == SHARD_EMPTY && nb == SHARD_EMPTY) {
            sc->index[2 * i] = sc->index[2 * i + 1] = SHARD_EMPTY;
            continue;
        }
        if (off > sc->obj_size || nb > sc->obj_size - off || nb > LSTAR_MAX_CHUNK_BYTES) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key,
                            "shard index entry %llu (offset %llu, %llu bytes) lies outside the %llu-byte shard",
                            (unsigned long long)i, (unsigned long long)off, (unsigned long long)nb,
                            (unsigned long long)sc->obj_size);
            goto done;
        }
        sc->index[2 * i] = off;
        sc->index[2 * i + 1] = nb;
    }
    memcpy(sc->gcoords, g, sizeof(uint64_t) * (size_t)a->rank);
    sc->valid = 1;
done:
    lstar_free(raw);
    return st;
}

/* Where the inner chunk at `coords` of a sharded array lies: its shard's key, offset and size (*found = 0
 * for a missing shard or an empty index entry).  `c` caches the shard index. */
static lstar_status shard_locate(lstar_zarr_array *a, const uint64_t *coords, zarr_shard_cache *c, char *key,
                                 uint64_t *off, size_t *nb, int *found, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t g[LSTAR_MAX_RANK];
    uint64_t inner = 0;
    *found = 0;
    for (int d = 0; d < a->rank; d++) {
        g[d] = coords[d] / a->cps[d];
        inner = inner * a->cps[d] + coords[d] % a->cps[d];
    }
    LSTAR_CHECK(load_index(a, g, c, err));
    if (c->missing || c->index[2 * inner] == SHARD_EMPTY) goto done;
    LSTAR_CHECK(lstar_zarr_grid_key(a, g, key, err));
    *off = c->index[2 * inner];
    *nb = (size_t)c->index[2 * inner + 1];
    *found = 1;
done:
    return st;
}

lstar_status lstar_zarr_chunk_fetch(lstar_zarr_array *a, const uint64_t *coords, zarr_shard_cache *sc,
                                    uint8_t **data, size_t *size, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    *data = NULL;
    *size = 0;
    if (!a->sharded) {
        LSTAR_CHECK(lstar_zarr_grid_key(a, coords, key, err));
        lstar_error e;
        lstar_error_clear(&e);
        st = lstar_store_get(a->z->store, key, 0, data, size, &e);
        if (st == LSTAR_ERR_NOT_FOUND) {
            *data = NULL;
            return LSTAR_OK;
        }
        if (st != LSTAR_OK && err) *err = e;
        return st;
    }
    zarr_shard_cache local;
    memset(&local, 0, sizeof local);
    zarr_shard_cache *c = sc ? sc : &local;
    uint64_t off = 0;
    size_t nb = 0;
    int found = 0;
    LSTAR_CHECK(shard_locate(a, coords, c, key, &off, &nb, &found, err));
    if (!found) goto done;
    uint8_t *buf = lstar_malloc(nb ? nb : 1);
    if (!buf) {
        st = LSTAR_NOMEM(err, a->path);
        goto done;
    }
    st = lstar_store_get_range(a->z->store, key, off, nb, buf, err);
    if (st != LSTAR_OK) {
        lstar_free(buf);
        goto done;
    }
    *data = buf;
    *size = nb;
done:
    if (!sc) lstar_zarr_shard_cache_destroy(&local);
    return st;
}

/* An uncompressed chunk (no codec but `bytes`, possibly byte-swapped) whose stored object has exactly the
 * chunk's size is read straight into `out`: no intermediate buffer, no copy.  Only for backends with
 * native range reads (a size query plus a range read then cost what one whole-object read did).  Returns
 * 1 when it handled the chunk (*st is the result), 0 when the general path must run (absent chunk, other
 * size, a store error: that path reports them exactly as before). */
static int read_raw_direct(lstar_zarr_array *a, const uint64_t *coords, void *out, zarr_shard_cache *sc,
                           lstar_status *st, lstar_error *err) {
    const zarr_chain *ch = &a->chain;
    char key[LSTAR_MAX_KEY_BYTES + 1];
    uint64_t off = 0;
    if (ch->ab != ZARR_AB_BYTES || ch->n_bb != 0 || ch->n_aa != 0 || a->chunk_bytes == 0) return 0;
    if (!a->z->store || !a->z->store->ops->get_range) return 0;
    lstar_error e;
    lstar_error_clear(&e);
    if (!a->sharded) {
        uint64_t size = 0;
        if (lstar_zarr_grid_key(a, coords, key, &e) != LSTAR_OK) return 0;
        if (lstar_store_size(a->z->store, key, &size, &e) != LSTAR_OK || size != a->chunk_bytes) return 0;
    } else {
        size_t nb = 0;
        int found = 0;
        zarr_shard_cache local;
        memset(&local, 0, sizeof local);
        lstar_status s = shard_locate(a, coords, sc ? sc : &local, key, &off, &nb, &found, &e);
        if (!sc) lstar_zarr_shard_cache_destroy(&local);
        if (s != LSTAR_OK || !found || nb != a->chunk_bytes) return 0;
    }
    *st = lstar_store_get_range(a->z->store, key, off, a->chunk_bytes, out, err);
    if (*st == LSTAR_OK && ch->big_endian != lstar_zarr_native_big_endian())
        lstar_zarr_bswap(out, a->chunk_elems, a->itemsize, a->dtype);
    return 1;
}

lstar_status lstar_zarr_chunk_read(lstar_zarr_array *a, const uint64_t *coords, void *out, zarr_shard_cache *sc,
                                   lstar_error *err) {
    uint8_t *enc = NULL;
    size_t n = 0;
    lstar_status st = LSTAR_OK;
    if (read_raw_direct(a, coords, out, sc, &st, err)) return st;
    st = lstar_zarr_chunk_fetch(a, coords, sc, &enc, &n, err);
    if (st != LSTAR_OK) return st;
    if (!enc) {
        lstar_zarr_fill(a, out, a->chunk_elems);
        return LSTAR_OK;
    }
    st = lstar_zarr_chunk_decode(a, enc, n, out, err);
    lstar_free(enc);
    return st;
}

lstar_status lstar_zarr_shard_assemble(const lstar_zarr_array *a, uint8_t *const *chunks, const size_t *sizes,
                                       uint8_t **out, size_t *out_size, lstar_error *err) {
    size_t ib = index_bytes(a);
    uint64_t total = ib;
    for (uint64_t i = 0; i < a->shard_n; i++)
        if (chunks[i]) total += sizes[i];
    *out = NULL;
    *out_size = 0;
    if (total > LSTAR_MAX_CHUNK_BYTES) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->path, "shard too large");
    uint8_t *buf = lstar_malloc((size_t)total);
    if (!buf) return LSTAR_NOMEM(err, a->path);
    size_t data0 = a->index_at_start ? ib : 0, pos = data0;
    uint8_t *index = a->index_at_start ? buf : buf + (total - ib);
    for (uint64_t i = 0; i < a->shard_n; i++) {
        if (!chunks[i]) {
            wr64le(index + 16 * i, SHARD_EMPTY);
            wr64le(index + 16 * i + 8, SHARD_EMPTY);
            continue;
        }
        memcpy(buf + pos, chunks[i], sizes[i]);
        wr64le(index + 16 * i, pos);
        wr64le(index + 16 * i + 8, sizes[i]);
        pos += sizes[i];
    }
    if (a->index_big_endian)
        for (uint64_t i = 0; i < 2 * a->shard_n; i++) {
            uint8_t *p = index + 8 * i;
            for (int j = 0; j < 4; j++) {
                uint8_t t = p[j];
                p[j] = p[7 - j];
                p[7 - j] = t;
            }
        }
    if (a->index_crc) wr32le(index + 16 * a->shard_n, lstar_crc32c(0, index, (size_t)(16 * a->shard_n)));
    *out = buf;
    *out_size = (size_t)total;
    return LSTAR_OK;
}
