/* L★ collection → one AnnData (lstar-format.md §3.2, last sentences; upstream
 * `_flatten_collection`): the per-sample measures `<root>.<s>` over
 * [cells.<s>, genes.<s>] (or a shared genes axis) are assembled BY NAME into
 * one union cells × union genes CSR matrix per root.
 *
 * Metadata-sized state only: the union gene labels (the stable union of the
 * members' gene axes, in root / member / label order), a label → index hash
 * of the union cells and genes, per member a source gene → union column map,
 * and per union cell the (member, source row) that supplies it.  The matrix is
 * streamed: union rows are walked in order, runs of consecutive source rows of
 * one member are read in blocks of about chunk_elems stored entries (CSR
 * rows straight from indptr/indices/data; dense rows scanned for nonzeros; a
 * CSC member is transposed block by block, one scan of its columns per block
 * of rows), remapped to union columns, sorted within each row and appended to
 * the data / indices / indptr appenders.  See docs/internals/anndata.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/lstarstore.h"
#include "lstar/sparse.h"

/* ---- label → index hash (open addressing, FNV-1a) ------------------------------------------------- */

typedef struct strmap {
    uint64_t *slots; /* index + 1; 0 = empty */
    size_t mask;
    const lstar_strings *keys;
} strmap;

static uint64_t fnv(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h;
}

static lstar_status strmap_init(strmap *m, const lstar_strings *keys, size_t max_items, const char *where,
                                lstar_error *err) {
    size_t cap = 16;
    while (cap < 2 * max_items + 2) {
        if (cap > SIZE_MAX / 4 / sizeof(uint64_t)) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, where, "too many labels");
        cap *= 2;
    }
    m->slots = lstar_calloc(cap, sizeof *m->slots);
    if (!m->slots) return LSTAR_NOMEM(err, where);
    m->mask = cap - 1;
    m->keys = keys;
    return LSTAR_OK;
}

/* Index of label (p, n) in m->keys, or -1; *slot: where it would go. */
static int64_t strmap_find(const strmap *m, const char *p, size_t n, size_t *slot) {
    size_t s = (size_t)fnv(p, n) & m->mask;
    for (;;) {
        uint64_t v = m->slots[s];
        if (!v) {
            if (slot) *slot = s;
            return -1;
        }
        size_t l;
        const char *q = lstar_strings_get(m->keys, (size_t)(v - 1), &l);
        if (l == n && (n == 0 || memcmp(p, q, n) == 0)) return (int64_t)(v - 1);
        s = (s + 1) & m->mask;
    }
}

static void strmap_free(strmap *m) {
    lstar_free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- the collection ------------------------------------------------------------------------------- */

typedef struct coll_root {
    char *name;
    const char *state; /* upstream: the last member state that is set, else "raw" */
    size_t *members;   /* field indices */
    size_t nmembers;
} coll_root;

struct ad_coll {
    const lstar_dataset *ds;
    const lstar_axis *cells;
    lstar_strings genes; /* union gene labels */
    strmap gmap;         /* over genes */
    coll_root *roots;
    size_t nroots;
    unsigned char *is_member; /* per field */
    size_t nf;
};

/* A per-sample measure: role measure over [cells.<s>, genes.<s> | genes]. */
static int is_persample(const lstar_field *f) {
    const char *role = lstar_field_role(f);
    if (!role || strcmp(role, "measure") != 0 || lstar_field_span_count(f) != 2) return 0;
    const char *a = lstar_field_span(f, 0), *b = lstar_field_span(f, 1);
    return strncmp(a, "cells.", 6) == 0 && (strcmp(b, "genes") == 0 || strncmp(b, "genes.", 6) == 0);
}

void ad_coll_free(ad_coll *c) {
    if (!c) return;
    for (size_t k = 0; k < c->nroots; k++) {
        lstar_free(c->roots[k].name);
        lstar_free(c->roots[k].members);
    }
    lstar_free(c->roots);
    lstar_free(c->is_member);
    strmap_free(&c->gmap);
    lstar_strings_destroy(&c->genes);
    lstar_free(c);
}

lstar_status ad_coll_new(const lstar_dataset *ds, const lstar_axis *cells, ad_coll **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_coll *c = lstar_calloc(1, sizeof *c);
    size_t nf = lstar_dataset_field_count(ds), total_genes = 0;
    *out = NULL;
    if (!c) return LSTAR_NOMEM(err, "collection");
    c->ds = ds;
    c->cells = cells;
    c->nf = nf;
    c->is_member = lstar_calloc(nf ? nf : 1, 1);
    c->roots = lstar_calloc(nf ? nf : 1, sizeof *c->roots);
    if (!c->is_member || !c->roots) {
        st = LSTAR_NOMEM(err, "collection");
        goto done;
    }
    LSTAR_CHECK(lstar_strings_init(&c->genes, err));
    /* group the per-sample measures by root name (the name up to its last '.') */
    for (size_t i = 0; i < nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        if (!is_persample(f)) continue;
        const char *name = lstar_field_name(f), *dot = strrchr(name, '.');
        size_t rl = dot ? (size_t)(dot - name) : strlen(name);
        const lstar_axis *ga = lstar_dataset_axis(ds, lstar_field_span(f, 1));
        if (!ga || !lstar_dataset_axis(ds, lstar_field_span(f, 0))) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, name, "per-sample field '%s' spans an unknown axis", name);
            goto done;
        }
        size_t k = 0;
        while (k < c->nroots && !(strlen(c->roots[k].name) == rl && strncmp(c->roots[k].name, name, rl) == 0)) k++;
        coll_root *r = &c->roots[k];
        if (k == c->nroots) {
            r->name = lstar_malloc(rl + 1);
            r->members = lstar_calloc(nf, sizeof *r->members);
            if (!r->name || !r->members) {
                lstar_free(r->name);
                lstar_free(r->members);
                r->name = NULL;
                r->members = NULL;
                st = LSTAR_NOMEM(err, name);
                goto done;
            }
            memcpy(r->name, name, rl);
            r->name[rl] = 0;
            r->state = "raw";
            c->nroots++;
        }
        r->members[r->nmembers++] = i;
        if (lstar_field_state(f) && *lstar_field_state(f)) r->state = lstar_field_state(f);
        c->is_member[i] = 1;
        total_genes += lstar_axis_length(ga);
    }
    /* the stable union of the members' gene labels */
    LSTAR_CHECK(strmap_init(&c->gmap, &c->genes, total_genes, "collection genes", err));
    for (size_t k = 0; k < c->nroots; k++) {
        for (size_t m = 0; m < c->roots[k].nmembers; m++) {
            const lstar_field *f = lstar_dataset_field_at(ds, c->roots[k].members[m]);
            const lstar_strings *gl = lstar_axis_labels(lstar_dataset_axis(ds, lstar_field_span(f, 1)));
            for (size_t g = 0; g < gl->n; g++) {
                size_t len, slot = 0;
                const char *p = lstar_strings_get(gl, g, &len);
                if (strmap_find(&c->gmap, p, len, &slot) >= 0) continue;
                LSTAR_CHECK(lstar_strings_append(&c->genes, p, len, err));
                c->gmap.slots[slot] = c->genes.n;
            }
        }
    }
    *out = c;
    c = NULL;
done:
    ad_coll_free(c);
    return st;
}

size_t ad_coll_root_count(const ad_coll *c) { return c->nroots; }
const char *ad_coll_root_name(const ad_coll *c, size_t k) { return c->roots[k].name; }
const char *ad_coll_root_state(const ad_coll *c, size_t k) { return c->roots[k].state; }
int ad_coll_is_member(const ad_coll *c, size_t field) { return field < c->nf && c->is_member[field]; }
const lstar_strings *ad_coll_genes(const ad_coll *c) { return &c->genes; }

static uint64_t member_nnz_bound(const lstar_field *f) {
    lstar_encoding e = lstar_field_encoding(f);
    const lstar_array *a = lstar_field_array(f, e == LSTAR_ENC_DENSE ? "values" : "data");
    return a ? lstar_array_size(a) : 0;
}

uint64_t ad_coll_root_nnz_bound(const ad_coll *c, size_t k) {
    uint64_t n = 0;
    for (size_t m = 0; m < c->roots[k].nmembers; m++)
        n += member_nnz_bound(lstar_dataset_field_at(c->ds, c->roots[k].members[m]));
    return n;
}

/* ---- streaming the union matrix ------------------------------------------------------------------- */

typedef struct member {
    const lstar_field *f;
    const char *name;
    lstar_encoding enc;
    uint64_t nrows, ncols, nnz;
    int64_t *gcol;    /* source column → union column */
    int64_t *rowcnt;  /* CSC: stored entries per source row (computed on first use) */
    lstar_sparse_iter *it;
    char w_indices[LSTAR_MAX_KEY_BYTES], w_indptr[LSTAR_MAX_KEY_BYTES]; /* "<field>/indices" … for errors */
} member;

typedef struct uwriter {
    ad_container *c;
    ad_wopts *w;
    const char *dest;
    lstar_dtype ddt, idt, pdt;
    size_t des, ies;
    ad_appender *ad, *ai, *ap;
    uint64_t pos; /* entries written so far */
    /* one block: entries of rows [0, nrows) at offs[r] .. offs[r+1] */
    uint64_t cap, rcap;
    int64_t *cols;
    uint8_t *vals, *sorted_vals;
    int64_t *offs;
    int64_t *ipbuf; /* rcap + 1 */
    uint8_t *ipconv;
    void *icbuf;
    struct ent { int64_t col; uint64_t pos; } *perm;
} uwriter;

static void progress(const ad_wopts *w, uint64_t n) {
    if (!w->done) return;
    *w->done += n;
    if (w->progress) w->progress(w->progress_ud, *w->done, w->total);
}

static lstar_status ensure(uwriter *u, uint64_t entries, uint64_t rows, lstar_error *err) {
    if (entries > u->cap) {
        uint64_t n = entries;
        lstar_free(u->cols);
        lstar_free(u->vals);
        lstar_free(u->sorted_vals);
        lstar_free(u->icbuf);
        lstar_free(u->perm);
        u->cols = lstar_malloc((size_t)n * sizeof *u->cols);
        u->vals = lstar_malloc((size_t)n * u->des);
        u->sorted_vals = lstar_malloc((size_t)n * u->des);
        u->icbuf = lstar_malloc((size_t)n * u->ies);
        u->perm = lstar_malloc((size_t)n * sizeof *u->perm);
        u->cap = n;
        if (!u->cols || !u->vals || !u->sorted_vals || !u->icbuf || !u->perm) {
            u->cap = 0;
            return LSTAR_NOMEM(err, u->dest);
        }
    }
    if (rows > u->rcap) {
        lstar_free(u->offs);
        lstar_free(u->ipbuf);
        lstar_free(u->ipconv);
        u->offs = lstar_malloc((size_t)(rows + 1) * sizeof *u->offs);
        u->ipbuf = lstar_malloc((size_t)(rows + 1) * sizeof *u->ipbuf);
        u->ipconv = lstar_malloc((size_t)(rows + 1) * 8);
        u->rcap = rows;
        if (!u->offs || !u->ipbuf || !u->ipconv) {
            u->rcap = 0;
            return LSTAR_NOMEM(err, u->dest);
        }
    }
    return LSTAR_OK;
}

static int ent_cmp(const void *a, const void *b) {
    const struct ent *x = a, *y = b;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Append `nrows` rows held in u->offs / cols (already union columns) / vals. */
static lstar_status flush_rows(uwriter *u, uint64_t nrows, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t n = (uint64_t)u->offs[nrows];
    const uint8_t *vals = u->vals;
    int any_sort = 0;
    for (uint64_t r = 0; r < nrows && !any_sort; r++)
        for (int64_t e = u->offs[r] + 1; e < u->offs[r + 1]; e++)
            if (u->cols[e] < u->cols[e - 1]) {
                any_sort = 1;
                break;
            }
    if (any_sort) {
        for (uint64_t r = 0; r < nrows; r++) {
            int64_t a = u->offs[r], b = u->offs[r + 1];
            for (int64_t e = a; e < b; e++) {
                u->perm[e].col = u->cols[e];
                u->perm[e].pos = (uint64_t)e;
            }
            if (b - a > 1) qsort(u->perm + a, (size_t)(b - a), sizeof *u->perm, ent_cmp);
        }
        for (uint64_t e = 0; e < n; e++) {
            u->cols[e] = u->perm[e].col;
            memcpy(u->sorted_vals + e * u->des, u->vals + u->perm[e].pos * u->des, u->des);
        }
        vals = u->sorted_vals;
    }
    if (n) {
        lstar_dtype_convert(LSTAR_DTYPE_INT64, u->cols, u->idt, u->icbuf, (size_t)n);
        LSTAR_CHECK(ad_appender_append(u->c, u->ad, vals, n, err));
        LSTAR_CHECK(ad_appender_append(u->c, u->ai, u->icbuf, n, err));
    }
    if (nrows) {
        for (uint64_t r = 0; r < nrows; r++) u->ipbuf[r] = (int64_t)u->pos + u->offs[r + 1];
        lstar_dtype_convert(LSTAR_DTYPE_INT64, u->ipbuf, u->pdt, u->ipconv, (size_t)nrows);
        LSTAR_CHECK(ad_appender_append(u->c, u->ap, u->ipconv, nrows, err));
    }
    u->pos += n;
    progress(u->w, n);
done:
    return st;
}

/* Empty union rows (cells no sample holds). */
static lstar_status empty_rows(uwriter *u, uint64_t nrows, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    while (nrows) {
        uint64_t b = nrows < 65536 ? nrows : 65536;
        LSTAR_CHECK(ensure(u, 1, b, err));
        for (uint64_t r = 0; r <= b; r++) u->offs[r] = 0;
        LSTAR_CHECK(flush_rows(u, b, err));
        nrows -= b;
    }
done:
    return st;
}

/* Remap source columns to union columns (validated against the member's width). */
static lstar_status remap(uwriter *u, const member *m, uint64_t n, lstar_error *err) {
    for (uint64_t e = 0; e < n; e++) {
        int64_t s = u->cols[e];
        if (s < 0 || (uint64_t)s >= m->ncols)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, m->w_indices, "index %lld is outside [0, %llu) (genes of '%s')",
                              (long long)s, (unsigned long long)m->ncols, m->name);
        u->cols[e] = m->gcol[s];
    }
    return LSTAR_OK;
}

/* CSR member: rows [r0, r0 + cnt). */
static lstar_status rows_csr(uwriter *u, member *m, uint64_t r0, uint64_t cnt, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_array *indptr = lstar_field_array(m->f, "indptr"), *indices = lstar_field_array(m->f, "indices");
    const lstar_array *data = lstar_field_array(m->f, "data");
    uint64_t ce = u->w->chunk_elems;
    while (cnt) {
        uint64_t R = cnt < 65536 ? cnt : 65536;
        LSTAR_CHECK(ensure(u, 1, R, err));
        LSTAR_CHECK(lstar_array_read_1d_as(indptr, r0, R + 1, LSTAR_DTYPE_INT64, u->ipbuf, err));
        for (uint64_t r = 0; r < R; r++)
            if (u->ipbuf[r] < 0 || u->ipbuf[r + 1] < u->ipbuf[r] || (uint64_t)u->ipbuf[r + 1] > m->nnz)
                return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, m->w_indptr,
                                  "indptr[%llu..%llu] = %lld, %lld: decreasing or outside [0, %llu]",
                                  (unsigned long long)(r0 + r), (unsigned long long)(r0 + r + 1), (long long)u->ipbuf[r],
                                  (long long)u->ipbuf[r + 1], (unsigned long long)m->nnz);
        /* the longest prefix of rows within chunk_elems entries (at least one row) */
        uint64_t b = 1;
        while (b < R && (uint64_t)(u->ipbuf[b + 1] - u->ipbuf[0]) <= ce) b++;
        uint64_t lo = (uint64_t)u->ipbuf[0], n = (uint64_t)(u->ipbuf[b] - u->ipbuf[0]);
        int64_t base = u->ipbuf[0];
        LSTAR_CHECK(ensure(u, n ? n : 1, R, err));
        for (uint64_t r = 0; r <= b; r++) u->offs[r] = u->ipbuf[r] - base;
        if (n) {
            LSTAR_CHECK(lstar_array_read_1d_as(indices, lo, n, LSTAR_DTYPE_INT64, u->cols, err));
            LSTAR_CHECK(lstar_array_read_1d_as(data, lo, n, u->ddt, u->vals, err));
            LSTAR_CHECK(remap(u, m, n, err));
        }
        LSTAR_CHECK(flush_rows(u, b, err));
        r0 += b;
        cnt -= b;
    }
done:
    return st;
}

/* Dense member: rows [r0, r0 + cnt), nonzeros only (NaN is kept, as scipy keeps it). */
static lstar_status rows_dense(uwriter *u, member *m, uint64_t r0, uint64_t cnt, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_array *v = lstar_field_array(m->f, "values");
    uint64_t G = m->ncols ? m->ncols : 1;
    uint64_t rows = u->w->chunk_elems / G;
    if (rows == 0) rows = 1;
    if (rows > cnt) rows = cnt;
    lstar_dtype sdt = lstar_array_dtype(v);
    size_t ses = lstar_dtype_size(sdt);
    double *dv = lstar_malloc((size_t)(rows * G) * sizeof *dv); /* one block of rows, as float64 for the test */
    uint8_t *raw = lstar_malloc((size_t)(rows * G) * ses);
    if (!dv || !raw) {
        st = LSTAR_NOMEM(err, m->name);
        goto done;
    }
    while (cnt) {
        uint64_t b = cnt < rows ? cnt : rows, n = b * m->ncols;
        LSTAR_CHECK(ensure(u, n ? n : 1, b, err));
        if (n) {
            uint64_t start[2] = {r0, 0}, count[2] = {b, m->ncols};
            LSTAR_CHECK(lstar_array_read(v, start, count, raw, err));
            lstar_dtype_convert(sdt, raw, LSTAR_DTYPE_FLOAT64, dv, (size_t)n);
        }
        uint64_t k = 0;
        u->offs[0] = 0;
        for (uint64_t r = 0; r < b; r++) {
            for (uint64_t g = 0; g < m->ncols; g++) {
                uint64_t x = r * m->ncols + g;
                if (dv[x] == 0) continue;
                u->cols[k] = (int64_t)g;
                lstar_dtype_convert(sdt, raw + x * ses, u->ddt, u->vals + k * u->des, 1);
                k++;
            }
            u->offs[r + 1] = (int64_t)k;
        }
        LSTAR_CHECK(remap(u, m, k, err));
        LSTAR_CHECK(flush_rows(u, b, err));
        r0 += b;
        cnt -= b;
    }
done:
    lstar_free(dv);
    lstar_free(raw);
    return st;
}

static lstar_status csc_iter(member *m, uint64_t ce, lstar_error *err) {
    if (m->it) {
        lstar_sparse_iter_rewind(m->it);
        return LSTAR_OK;
    }
    lstar_status st = lstar_sparse_iter_new(lstar_field_array(m->f, "data"), lstar_field_array(m->f, "indices"),
                                            lstar_field_array(m->f, "indptr"), m->ncols, m->nrows, ce, &m->it, err);
    if (st != LSTAR_OK) lstar_err_prefix_where(err, m->name);
    return st;
}

/* CSC member: rows [r0, r0 + cnt), transposed one block of rows per scan of the columns. */
static lstar_status rows_csc(uwriter *u, member *m, uint64_t r0, uint64_t cnt, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint64_t ce = u->w->chunk_elems;
    int64_t *fill = NULL;
    if (!m->rowcnt) { /* entries per source row: one scan */
        m->rowcnt = lstar_calloc((size_t)(m->nrows ? m->nrows : 1), sizeof *m->rowcnt);
        if (!m->rowcnt) return LSTAR_NOMEM(err, m->name);
        LSTAR_CHECK(csc_iter(m, ce, err));
        for (;;) {
            lstar_sparse_block b;
            int fin = 0;
            st = lstar_sparse_iter_next(m->it, &b, &fin, err);
            if (st != LSTAR_OK) {
                lstar_err_prefix_where(err, m->name);
                goto done;
            }
            if (fin) break;
            for (uint64_t e = 0; e < b.nnz; e++) m->rowcnt[b.indices[e]]++;
        }
    }
    while (cnt) {
        uint64_t b = 1, n = (uint64_t)m->rowcnt[r0];
        while (b < cnt && b < 65536 && n + (uint64_t)m->rowcnt[r0 + b] <= ce) n += (uint64_t)m->rowcnt[r0 + b++];
        LSTAR_CHECK(ensure(u, n ? n : 1, b, err));
        lstar_free(fill);
        fill = lstar_malloc((size_t)b * sizeof *fill);
        if (!fill) {
            st = LSTAR_NOMEM(err, m->name);
            goto done;
        }
        u->offs[0] = 0;
        for (uint64_t r = 0; r < b; r++) {
            u->offs[r + 1] = u->offs[r] + m->rowcnt[r0 + r];
            fill[r] = u->offs[r];
        }
        if (n) {
            LSTAR_CHECK(csc_iter(m, ce, err));
            for (;;) {
                lstar_sparse_block blk;
                int fin = 0;
                st = lstar_sparse_iter_next(m->it, &blk, &fin, err);
                if (st != LSTAR_OK) {
                    lstar_err_prefix_where(err, m->name);
                    goto done;
                }
                if (fin) break;
                size_t ses = lstar_dtype_size(blk.data_dtype);
                for (uint64_t j = 0; j < blk.major_count; j++) {
                    for (int64_t e = blk.indptr[j]; e < blk.indptr[j + 1]; e++) {
                        int64_t row = blk.indices[e];
                        if ((uint64_t)row < r0 || (uint64_t)row >= r0 + b) continue;
                        int64_t at = fill[row - (int64_t)r0]++;
                        u->cols[at] = (int64_t)(blk.major_start + j);
                        lstar_dtype_convert(blk.data_dtype, (const uint8_t *)blk.data + (size_t)e * ses, u->ddt,
                                            u->vals + (size_t)at * u->des, 1);
                    }
                }
            }
            LSTAR_CHECK(remap(u, m, n, err));
        }
        LSTAR_CHECK(flush_rows(u, b, err));
        r0 += b;
        cnt -= b;
    }
done:
    lstar_free(fill);
    return st;
}

static lstar_status appender(ad_container *c, const char *dest, const char *name, lstar_dtype dt, uint64_t expect,
                             const ad_wopts *w, ad_appender **out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    ad_array_spec spec;
    lstar_status st = ad_join(p, sizeof p, dest, name, err);
    if (st != LSTAR_OK) return st;
    memset(&spec, 0, sizeof spec);
    spec.dtype = dt;
    spec.rank = 1;
    spec.shape[0] = expect ? expect : 1;
    uint64_t rows = lstar_chunk_rows(w->chunk_elems, 1, spec.shape);
    spec.chunks[0] = rows ? rows : 1;
    if (w->zarr_format == 3 && w->shard_elems) {
        uint64_t srows = lstar_chunk_rows(w->shard_elems, 1, spec.shape);
        if (srows < spec.chunks[0]) srows = spec.chunks[0];
        srows = (srows + spec.chunks[0] - 1) / spec.chunks[0] * spec.chunks[0];
        if (srows > spec.chunks[0]) spec.shard[0] = srows;
    }
    spec.shape[0] = 0;
    spec.compression = w->compression;
    spec.grow = 1;
    spec.threads = w->threads;
    spec.pool = w->pool;
    return ad_appender_new(c, p, &spec, out, err);
}

/* numpy's promotion of the members' data dtypes (concatenate): one dtype → it; all integers → int64;
 * else float64. */
static lstar_dtype data_dtype(const ad_coll *cl, const coll_root *r) {
    lstar_dtype dt = LSTAR_DTYPE_INVALID;
    int all_int = 1, same = 1;
    for (size_t m = 0; m < r->nmembers; m++) {
        const lstar_field *f = lstar_dataset_field_at(cl->ds, r->members[m]);
        const lstar_array *a = lstar_field_array(f, lstar_field_encoding(f) == LSTAR_ENC_DENSE ? "values" : "data");
        lstar_dtype d = a ? lstar_array_dtype(a) : LSTAR_DTYPE_FLOAT64;
        if (m == 0) dt = d;
        else if (d != dt) same = 0;
        if (!lstar_dtype_is_integer(d)) all_int = 0;
    }
    if (same) return dt;
    return all_int ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_FLOAT64;
}

lstar_status ad_coll_write_root(ad_container *c, const char *dest, const ad_coll *cl, size_t k, ad_wopts *w,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const coll_root *r = &cl->roots[k];
    const lstar_strings *ucells = lstar_axis_labels(cl->cells);
    uint64_t n = ucells->n, G = cl->genes.n;
    member *ms = NULL;
    int32_t *own_m = NULL;
    int64_t *own_r = NULL;
    int32_t *stamp = NULL; /* union column → last member that mapped a gene to it (duplicate labels) */
    strmap cmap;
    uwriter u;
    memset(&cmap, 0, sizeof cmap);
    memset(&u, 0, sizeof u);
    u.c = c;
    u.w = w;
    u.dest = dest;
    ms = lstar_calloc(r->nmembers ? r->nmembers : 1, sizeof *ms);
    own_m = lstar_malloc((size_t)(n ? n : 1) * sizeof *own_m);
    own_r = lstar_malloc((size_t)(n ? n : 1) * sizeof *own_r);
    stamp = lstar_malloc((size_t)(G ? G : 1) * sizeof *stamp);
    if (!ms || !own_m || !own_r || !stamp) {
        st = LSTAR_NOMEM(err, dest);
        goto done;
    }
    for (uint64_t i = 0; i < n; i++) own_m[i] = -1;
    for (uint64_t g = 0; g < G; g++) stamp[g] = -1;
    /* the union cells, by label */
    LSTAR_CHECK(strmap_init(&cmap, ucells, n, lstar_axis_name(cl->cells), err));
    for (uint64_t i = 0; i < n; i++) {
        size_t len, slot = 0;
        const char *p = lstar_strings_get(ucells, i, &len);
        if (strmap_find(&cmap, p, len, &slot) >= 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, lstar_axis_name(cl->cells), "union axis '%s' repeats the label '%.*s'",
                            lstar_axis_name(cl->cells), (int)(len < 200 ? len : 200), p);
            goto done;
        }
        cmap.slots[slot] = i + 1;
    }
    /* members: shapes, gene maps, and which union cell each source row fills */
    uint64_t nnz = 0;
    for (size_t j = 0; j < r->nmembers; j++) {
        member *m = &ms[j];
        m->f = lstar_dataset_field_at(cl->ds, r->members[j]);
        m->name = lstar_field_name(m->f);
        m->enc = lstar_field_encoding(m->f);
        snprintf(m->w_indices, sizeof m->w_indices, "%s/indices", m->name);
        snprintf(m->w_indptr, sizeof m->w_indptr, "%s/indptr", m->name);
        const lstar_axis *ca = lstar_dataset_axis(cl->ds, lstar_field_span(m->f, 0));
        const lstar_axis *ga = lstar_dataset_axis(cl->ds, lstar_field_span(m->f, 1));
        m->nrows = lstar_axis_length(ca);
        m->ncols = lstar_axis_length(ga);
        if (lstar_field_index_axis(m->f)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, m->name,
                            "per-sample measure '%s' has partial coverage: cannot be assembled into the union matrix",
                            m->name);
            goto done;
        }
        if (m->enc == LSTAR_ENC_DENSE) {
            const lstar_array *v = lstar_field_array(m->f, "values");
            if (!v || lstar_array_rank(v) != 2 || lstar_array_shape(v)[0] != m->nrows ||
                lstar_array_shape(v)[1] != m->ncols || !lstar_dtype_is_numeric(lstar_array_dtype(v))) {
                st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, m->name, "dense per-sample measure '%s' is not a numeric %llu x %llu array",
                                m->name, (unsigned long long)m->nrows, (unsigned long long)m->ncols);
                goto done;
            }
            m->nnz = m->nrows * m->ncols;
        } else if (m->enc == LSTAR_ENC_CSR || m->enc == LSTAR_ENC_CSC) {
            const lstar_array *d = lstar_field_array(m->f, "data"), *ix = lstar_field_array(m->f, "indices");
            const lstar_array *ip = lstar_field_array(m->f, "indptr");
            uint64_t major = m->enc == LSTAR_ENC_CSR ? m->nrows : m->ncols;
            if (!d || !ix || !ip || lstar_array_rank(d) != 1 || lstar_array_rank(ix) != 1 || lstar_array_rank(ip) != 1 ||
                lstar_array_shape(ix)[0] != lstar_array_shape(d)[0] || lstar_array_shape(ip)[0] != major + 1 ||
                !lstar_dtype_is_numeric(lstar_array_dtype(d)) || !lstar_dtype_is_integer(lstar_array_dtype(ix)) ||
                !lstar_dtype_is_integer(lstar_array_dtype(ip))) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, m->name,
                                "sparse per-sample measure '%s' is malformed (data/indices/indptr lengths or dtypes)", m->name);
                goto done;
            }
            m->nnz = lstar_array_shape(d)[0];
            int64_t ends[2];
            LSTAR_CHECK(lstar_array_read_1d_as(ip, 0, 1, LSTAR_DTYPE_INT64, &ends[0], err));
            LSTAR_CHECK(lstar_array_read_1d_as(ip, major, 1, LSTAR_DTYPE_INT64, &ends[1], err));
            if (ends[0] != 0 || ends[1] < 0 || (uint64_t)ends[1] != m->nnz) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, m->w_indptr, "indptr runs from %lld to %lld, expected 0 to %llu",
                                (long long)ends[0], (long long)ends[1], (unsigned long long)m->nnz);
                goto done;
            }
        } else {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, m->name, "per-sample measure '%s' has encoding %s", m->name,
                            lstar_encoding_name(m->enc));
            goto done;
        }
        nnz += m->nnz;
        const lstar_strings *gl = lstar_axis_labels(ga);
        m->gcol = lstar_malloc((size_t)(m->ncols ? m->ncols : 1) * sizeof *m->gcol);
        if (!m->gcol) {
            st = LSTAR_NOMEM(err, m->name);
            goto done;
        }
        for (uint64_t g = 0; g < m->ncols; g++) {
            size_t len;
            const char *p = lstar_strings_get(gl, g, &len);
            m->gcol[g] = strmap_find(&cl->gmap, p, len, NULL);
            if (m->gcol[g] < 0 || stamp[m->gcol[g]] == (int32_t)j) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, lstar_axis_name(ga), "axis '%s' repeats the gene label '%.*s'",
                                lstar_axis_name(ga), (int)(len < 200 ? len : 200), p);
                goto done;
            }
            stamp[m->gcol[g]] = (int32_t)j;
        }
        const lstar_strings *cl_labels = lstar_axis_labels(ca);
        for (uint64_t i = 0; i < m->nrows; i++) {
            size_t len;
            const char *p = lstar_strings_get(cl_labels, i, &len);
            int64_t uix = strmap_find(&cmap, p, len, NULL);
            if (uix < 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, m->name,
                                "cell '%.*s' of axis '%s' (field '%s') is not in the union axis '%s'",
                                (int)(len < 200 ? len : 200), p, lstar_axis_name(ca), m->name, lstar_axis_name(cl->cells));
                goto done;
            }
            if (own_m[uix] >= 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, m->name, "union cell '%.*s' is held by both '%s' and '%s'",
                                (int)(len < 200 ? len : 200), p, ms[own_m[uix]].name, m->name);
                goto done;
            }
            own_m[uix] = (int32_t)j;
            own_r[uix] = (int64_t)i;
        }
    }
    u.ddt = data_dtype(cl, r);
    u.idt = (G < ((uint64_t)1 << 31) && nnz < ((uint64_t)1 << 31)) ? LSTAR_DTYPE_INT32 : LSTAR_DTYPE_INT64;
    u.pdt = nnz < ((uint64_t)1 << 31) ? LSTAR_DTYPE_INT32 : LSTAR_DTYPE_INT64;
    u.des = lstar_dtype_size(u.ddt);
    u.ies = lstar_dtype_size(u.idt);
    {
        int64_t shape[2] = {(int64_t)n, (int64_t)G};
        LSTAR_CHECK(ad_create_group(c, dest, err));
        LSTAR_CHECK(ad_write_encoding(c, dest, "csr_matrix", "0.1.0", err));
        LSTAR_CHECK(ad_write_attr_i64(c, dest, "shape", shape, 2, 1, err));
    }
    LSTAR_CHECK(appender(c, dest, "data", u.ddt, nnz, w, &u.ad, err));
    LSTAR_CHECK(appender(c, dest, "indices", u.idt, nnz, w, &u.ai, err));
    LSTAR_CHECK(appender(c, dest, "indptr", u.pdt, n + 1, w, &u.ap, err));
    {
        int64_t zero = 0;
        uint8_t z8[8];
        lstar_dtype_convert(LSTAR_DTYPE_INT64, &zero, u.pdt, z8, 1);
        LSTAR_CHECK(ad_appender_append(c, u.ap, z8, 1, err));
    }
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        if (own_m[i] < 0) {
            while (j < n && own_m[j] < 0) j++;
            LSTAR_CHECK(empty_rows(&u, j - i, err));
        } else {
            while (j < n && own_m[j] == own_m[i] && own_r[j] == own_r[j - 1] + 1) j++;
            member *m = &ms[own_m[i]];
            if (m->enc == LSTAR_ENC_CSR) LSTAR_CHECK(rows_csr(&u, m, (uint64_t)own_r[i], j - i, err));
            else if (m->enc == LSTAR_ENC_CSC) LSTAR_CHECK(rows_csc(&u, m, (uint64_t)own_r[i], j - i, err));
            else LSTAR_CHECK(rows_dense(&u, m, (uint64_t)own_r[i], j - i, err));
        }
        i = j;
    }
    LSTAR_CHECK(ad_appender_finish(c, u.ad, err));
    LSTAR_CHECK(ad_appender_finish(c, u.ai, err));
    LSTAR_CHECK(ad_appender_finish(c, u.ap, err));
done:
    if (u.ad) ad_appender_free(c, u.ad);
    if (u.ai) ad_appender_free(c, u.ai);
    if (u.ap) ad_appender_free(c, u.ap);
    for (size_t j = 0; ms && j < r->nmembers; j++) {
        lstar_free(ms[j].gcol);
        lstar_free(ms[j].rowcnt);
        lstar_sparse_iter_free(ms[j].it);
    }
    lstar_free(ms);
    lstar_free(own_m);
    lstar_free(own_r);
    lstar_free(stamp);
    strmap_free(&cmap);
    lstar_free(u.cols);
    lstar_free(u.vals);
    lstar_free(u.sorted_vals);
    lstar_free(u.offs);
    lstar_free(u.ipbuf);
    lstar_free(u.ipconv);
    lstar_free(u.icbuf);
    lstar_free(u.perm);
    return st;
}
