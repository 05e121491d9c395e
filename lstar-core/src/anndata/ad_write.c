/* L★ → AnnData (lstar-format.md §3.2, write side) over the node layer.
 *
 * lstar_anndata_write places every field in an AnnData slot (its
 * provenance {"anndata": …} when that slot fits the field, else the role →
 * slot contract), then writes the containers the way anndata 0.8 does:
 * encoding-type / encoding-version on every element, dataframes with _index
 * and column-order, csr/csc groups with an int64 shape, vlen UTF-8 strings.
 * Matrices are streamed (ad_write_matrix.c); obs/var columns, labels,
 * categories and uns leaves are metadata-sized and written whole.  The
 * output is built under "<path>.tmp-<pid>-<n>" and renamed on success.
 * Collections are flattened as upstream does (plan_collection; the union X
 * is streamed by ad_collection.c).
 * See docs/internals/anndata.md ("Writing AnnData"). */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/model.h"
#include "lstar/pool.h"

#define PATHMAX LSTAR_MAX_KEY_BYTES
#define KEYMAX 1024

/* Where a field goes. */
typedef enum dest_kind {
    D_NONE = 0,
    D_X,
    D_RAW,
    D_LAYER,
    D_OBS,
    D_VAR,
    D_OBSM,
    D_VARM,
    D_OBSP,
    D_VARP,
    D_UNS_COLOR,
    D_UNS_PCAVAR,
    D_UNS_GRAPH,
    D_UNS_DE
} dest_kind;

typedef struct place {
    dest_kind kind;
    int flip;          /* sparse field over [genes, cells]: written transposed (csr <-> csc) */
    char key[KEYMAX];  /* name inside the slot (D_UNS_DE: the statistic, score / lfc / pval / padj) */
    /* places past the fields (collections): */
    size_t root;       /* union matrix of collection root `root - 1` */
    size_t alias;      /* field `alias - 1` written a second time (the graph aliased to obsp/connectivities) */
} place;

typedef struct wr {
    const lstar_dataset *ds;
    ad_container *c;
    ad_wopts w;
    int is_h5;
    const lstar_axis *cells, *genes;
    const char *cname, *gname;
    uint64_t n_obs, n_var;
    size_t nf;
    size_t npl;       /* nf + the collection's extra places */
    place *pl;
    ad_coll *coll;    /* collection mode (flattened), else NULL */
    const lstar_strings *var_labels;
    int neighbors;    /* collection: write uns['neighbors'] for the aliased graph */
    lstar_strings dnames; /* uns['lstar/dropped'] (field names, as upstream) */
    lstar_strings dwhy;   /* options.dropped_out: name (reason) */
    uint64_t done;
} wr;

static atomic_ulong g_tmp_counter;

/* ---- small helpers ------------------------------------------------------------------------------- */

static lstar_status drop(wr *r, const char *name, lstar_error *err, const char *fmt, ...) LSTAR_PRINTF(4, 5);
static lstar_status drop(wr *r, const char *name, lstar_error *err, const char *fmt, ...) {
    char why[PATHMAX + 256], line[2 * PATHMAX + 300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    int n = snprintf(line, sizeof line, "%s (%s)", name, why);
    lstar_status st = lstar_strings_append(&r->dnames, name, strlen(name), err);
    if (st == LSTAR_OK) st = lstar_strings_append(&r->dwhy, line, (size_t)(n < (int)sizeof line ? n : (int)sizeof line - 1), err);
    return st;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* provenance[key] as a string into buf ("" when absent).  The provenance is
 * a valid JSON object (the model checks it), so a parse failure is memory. */
static lstar_status prov_str(const lstar_field *f, const char *key, char *buf, size_t size, lstar_error *err) {
    buf[0] = 0;
    const char *t = lstar_field_provenance(f);
    if (!t || strcmp(t, "{}") == 0) return LSTAR_OK;
    json_t *o = json_loads(t, 0, NULL);
    if (!o) return LSTAR_NOMEM(err, lstar_field_name(f));
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v)) snprintf(buf, size, "%s", json_string_value(v));
    json_decref(o);
    return LSTAR_OK;
}

static lstar_status prov_anndata(const lstar_field *f, char *buf, size_t size, lstar_error *err) {
    return prov_str(f, "anndata", buf, size, err);
}

static int is_matrix_enc(lstar_encoding e) { return e == LSTAR_ENC_DENSE || e == LSTAR_ENC_CSR || e == LSTAR_ENC_CSC; }
static int is_sparse_enc(lstar_encoding e) { return e == LSTAR_ENC_CSR || e == LSTAR_ENC_CSC; }

static const char *span_at(const lstar_field *f, size_t i) {
    return i < lstar_field_span_count(f) ? lstar_field_span(f, i) : NULL;
}

/* Span [a, b] (flip 0) or, for sparse fields, [b, a] (flip 1); -1 if neither. */
static int span2(const lstar_field *f, const char *a, const char *b) {
    if (lstar_field_span_count(f) != 2 || !a || !b) return -1;
    if (streq(span_at(f, 0), a) && streq(span_at(f, 1), b)) return 0;
    if (is_sparse_enc(lstar_field_encoding(f)) && streq(span_at(f, 0), b) && streq(span_at(f, 1), a)) return 1;
    return -1;
}

static int valid_key(const char *k) { return k && *k && !strchr(k, '/') && strlen(k) < KEYMAX; }

static int is_taken(const wr *r, size_t upto, dest_kind kind, const char *key) {
    for (size_t i = 0; i < r->npl; i++) {
        if (i == upto) continue;
        const place *p = &r->pl[i];
        if (p->kind != kind) continue;
        if (kind == D_X || kind == D_RAW || streq(p->key, key)) return 1;
    }
    return 0;
}

/* Does slot `loc` fit field f?  Fills kind/key/flip. */
static int fits(const wr *r, const lstar_field *f, const char *loc, place *p) {
    lstar_encoding e = lstar_field_encoding(f);
    int full = lstar_field_index_axis(f) == NULL;
    const char *slash = strchr(loc, '/');
    char slot[32];
    const char *key = slash ? slash + 1 : "";
    size_t sl = slash ? (size_t)(slash - loc) : strlen(loc);
    memset(p, 0, sizeof *p);
    if (sl >= sizeof slot) return 0;
    memcpy(slot, loc, sl);
    slot[sl] = 0;
    if (strcmp(loc, "X") == 0 || strcmp(loc, "raw/X") == 0 || strcmp(slot, "layers") == 0) {
        if (!is_matrix_enc(e) || !full) return 0;
        int fl;
        if (strcmp(loc, "raw/X") == 0) {
            /* raw may have its own feature axis */
            if (lstar_field_span_count(f) != 2) return 0;
            if (streq(span_at(f, 0), r->cname)) fl = 0;
            else if (is_sparse_enc(e) && streq(span_at(f, 1), r->cname)) fl = 1;
            else return 0;
            p->kind = D_RAW;
        } else {
            fl = span2(f, r->cname, r->gname);
            if (fl < 0) return 0;
            if (strcmp(loc, "X") == 0) {
                p->kind = D_X;
            } else {
                if (!valid_key(key)) return 0;
                p->kind = D_LAYER;
            }
        }
        p->flip = fl;
        snprintf(p->key, sizeof p->key, "%s", strcmp(slot, "layers") == 0 ? key : loc);
        return 1;
    }
    if (strcmp(slot, "obs") == 0 || strcmp(slot, "var") == 0) {
        int obs = slot[0] == 'o';
        if (!valid_key(key) || strcmp(key, "_index") == 0 || strcmp(key, "__categories") == 0) return 0;
        if (lstar_field_span_count(f) != 1 || !streq(span_at(f, 0), obs ? r->cname : r->gname)) return 0;
        if (e != LSTAR_ENC_DENSE && e != LSTAR_ENC_UTF8 && e != LSTAR_ENC_CATEGORICAL) return 0;
        if (!full) { /* partial coverage: only float measures, expanded with NaN */
            const lstar_array *v = lstar_field_array(f, "values");
            if (e != LSTAR_ENC_DENSE || !v || !lstar_dtype_is_float(lstar_array_dtype(v)) ||
                lstar_dtype_size(lstar_array_dtype(v)) < 4 || !lstar_field_array(f, "index"))
                return 0;
        }
        p->kind = obs ? D_OBS : D_VAR;
        snprintf(p->key, sizeof p->key, "%s", key);
        return 1;
    }
    if (strcmp(slot, "obsm") == 0 || strcmp(slot, "varm") == 0) {
        int obs = slot[0] == 'o';
        if (!valid_key(key) || !is_matrix_enc(e) || !full || lstar_field_span_count(f) != 2) return 0;
        if (!streq(span_at(f, 0), obs ? r->cname : r->gname)) return 0;
        p->kind = obs ? D_OBSM : D_VARM;
        snprintf(p->key, sizeof p->key, "%s", key);
        return 1;
    }
    if (strcmp(slot, "obsp") == 0 || strcmp(slot, "varp") == 0) {
        int obs = slot[0] == 'o';
        const char *ax = obs ? r->cname : r->gname;
        if (!valid_key(key) || !is_matrix_enc(e) || !full || span2(f, ax, ax) != 0) return 0;
        p->kind = obs ? D_OBSP : D_VARP;
        snprintf(p->key, sizeof p->key, "%s", key);
        return 1;
    }
    return 0;
}

/* The role → slot contract for a field without (usable) provenance. */
static int vocab(const wr *r, size_t i, const lstar_field *f, place *p) {
    const char *name = lstar_field_name(f), *role = lstar_field_role(f), *state = lstar_field_state(f);
    char loc[KEYMAX + 16];
    size_t ns = lstar_field_span_count(f);
    int measure = !role || streq(role, "measure");
    if (measure && span2(f, r->cname, r->gname) >= 0) {
        int raw = streq(name, "counts") || streq(state, "raw");
        if (raw && !streq(name, "X") && !is_taken(r, i, D_LAYER, "counts") && fits(r, f, "layers/counts", p)) return 1;
        if (!raw && !is_taken(r, i, D_X, NULL) && fits(r, f, "X", p)) return 1;
        snprintf(loc, sizeof loc, "layers/%s", name);
        return !is_taken(r, i, D_LAYER, name) && fits(r, f, loc, p);
    }
    if (streq(role, "embedding") && ns == 2 && streq(span_at(f, 0), r->cname)) {
        if (streq(lstar_field_subtype(f), "spatial") || streq(name, "spatial"))
            snprintf(loc, sizeof loc, "obsm/spatial");
        else
            snprintf(loc, sizeof loc, "obsm/X_%s", name);
        return !is_taken(r, i, D_OBSM, loc + 5) && fits(r, f, loc, p);
    }
    if (streq(role, "loading") && ns == 2 && streq(span_at(f, 0), r->gname)) {
        size_t nl = strlen(name);
        char base[KEYMAX];
        if (nl > 9 && strcmp(name + nl - 9, "_loadings") == 0)
            snprintf(base, sizeof base, "%.*s", (int)(nl - 9), name);
        else
            snprintf(base, sizeof base, "%s", name);
        snprintf(loc, sizeof loc, "varm/%s", strcmp(base, "pca") == 0 ? "PCs" : base);
        return !is_taken(r, i, D_VARM, loc + 5) && fits(r, f, loc, p);
    }
    if ((!role || streq(role, "label") || streq(role, "measure")) && ns == 1) {
        if (streq(span_at(f, 0), r->cname)) {
            snprintf(loc, sizeof loc, "obs/%s", name);
            return !is_taken(r, i, D_OBS, name) && fits(r, f, loc, p);
        }
        if (streq(span_at(f, 0), r->gname)) {
            snprintf(loc, sizeof loc, "var/%s", name);
            return !is_taken(r, i, D_VAR, name) && fits(r, f, loc, p);
        }
    }
    if ((streq(role, "relation") || streq(role, "graph")) && ns == 2) {
        if (span2(f, r->cname, r->cname) == 0) {
            snprintf(loc, sizeof loc, "obsp/%s", name);
            return !is_taken(r, i, D_OBSP, name) && fits(r, f, loc, p);
        }
        if (span2(f, r->gname, r->gname) == 0) {
            snprintf(loc, sizeof loc, "varp/%s", name);
            return !is_taken(r, i, D_VARP, name) && fits(r, f, loc, p);
        }
    }
    return 0;
}

/* The DE statistic of a de field: provenance de_stat, else the last part of "de.<factor>.<stat>". */
static lstar_status de_stat(const lstar_field *f, char *buf, size_t size, lstar_error *err) {
    static const char *const known[4] = {"score", "lfc", "pval", "padj"};
    lstar_status st = prov_str(f, "de_stat", buf, size, err);
    if (st != LSTAR_OK) return st;
    if (!buf[0]) {
        const char *dot = strrchr(lstar_field_name(f), '.');
        snprintf(buf, size, "%s", dot ? dot + 1 : "");
    }
    for (int i = 0; i < 4; i++)
        if (strcmp(buf, known[i]) == 0) return LSTAR_OK;
    buf[0] = 0;
    return LSTAR_OK;
}

/* Typed uns subtypes (regenerated into uns). 1 if handled (placed or dropped). */
static lstar_status place_typed(wr *r, size_t i, const lstar_field *f, const char *prov, int *handled,
                                lstar_error *err) {
    const char *sub = lstar_field_subtype(f), *name = lstar_field_name(f);
    lstar_encoding e = lstar_field_encoding(f);
    place *p = &r->pl[i];
    const char *k = strncmp(prov, "uns/", 4) == 0 && valid_key(prov + 4) ? prov + 4 : name;
    *handled = 1;
    if (streq(sub, "color")) {
        if (e == LSTAR_ENC_UTF8 && lstar_field_span_count(f) == 1 && valid_key(k) && !is_taken(r, i, D_UNS_COLOR, k)) {
            p->kind = D_UNS_COLOR;
            snprintf(p->key, sizeof p->key, "%s", k);
            return LSTAR_OK;
        }
        return drop(r, name, err, "color palette that is not a 1-D utf8 field");
    }
    if (streq(sub, "pca_var")) {
        const char *src = strncmp(prov, "uns/pca/", 8) == 0 && valid_key(prov + 8) ? prov + 8
                          : streq(name, "pca_variance")                         ? "variance"
                          : streq(name, "pca_variance_ratio")                   ? "variance_ratio"
                                                                                : name;
        const lstar_array *v = lstar_field_array(f, "values");
        if (e == LSTAR_ENC_DENSE && v && lstar_array_rank(v) == 1 && lstar_field_index_axis(f) == NULL &&
            valid_key(src) && !is_taken(r, i, D_UNS_PCAVAR, src)) {
            p->kind = D_UNS_PCAVAR;
            snprintf(p->key, sizeof p->key, "%s", src);
            return LSTAR_OK;
        }
        return drop(r, name, err, "PCA variance that is not a 1-D dense field");
    }
    if (streq(sub, "uns_graph")) {
        if (is_matrix_enc(e) && lstar_field_index_axis(f) == NULL &&
            (span2(f, r->cname, r->cname) == 0 || span2(f, r->gname, r->gname) == 0) && valid_key(k) &&
            !is_taken(r, i, D_UNS_GRAPH, k)) {
            p->kind = D_UNS_GRAPH;
            snprintf(p->key, sizeof p->key, "%s", k);
            return LSTAR_OK;
        }
        return drop(r, name, err, "uns graph over other axes");
    }
    if (streq(sub, "de") || strcmp(prov, "uns/rank_genes_groups") == 0) {
        char stat[32];
        const lstar_array *v = lstar_field_array(f, "values");
        lstar_status st = de_stat(f, stat, sizeof stat, err);
        if (st != LSTAR_OK) return st;
        if (e != LSTAR_ENC_DENSE || !v || lstar_array_rank(v) != 2 || lstar_field_span_count(f) != 2 ||
            lstar_field_index_axis(f) || !stat[0] || !lstar_dataset_axis(r->ds, span_at(f, 0)) ||
            !lstar_dataset_axis(r->ds, span_at(f, 1)) || !lstar_dtype_is_numeric(lstar_array_dtype(v)))
            return drop(r, name, err, "differential expression field that is not a dense [factor, genes] matrix");
        p->kind = D_UNS_DE;
        snprintf(p->key, sizeof p->key, "%s", stat);
        return LSTAR_OK;
    }
    *handled = 0;
    return LSTAR_OK;
}

static void span_text(const lstar_field *f, char *spans, size_t size) {
    size_t o = 0;
    spans[0] = 0;
    for (size_t s = 0; s < lstar_field_span_count(f) && o < size; s++)
        o += (size_t)snprintf(spans + o, size - o, "%s%s", s ? ", " : "", lstar_field_span(f, s));
}

/* Collections, as upstream's _flatten_collection: each root of per-sample measures becomes one union
 * matrix (root "counts" / "X" → X, others by the role → slot contract as measures of their state);
 * fields over the union cells go through the role → slot contract (provenance and typed uns subtypes
 * are not used, as upstream carries only name, role, encoding and subtype); the first cell graph is
 * aliased to obsp['connectivities'] (+ uns['neighbors']); everything else is dropped. */
static lstar_status plan_collection(wr *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    size_t nroots = ad_coll_root_count(r->coll);
    char spans[PATHMAX];
    if (nroots == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, r->cname,
                          "the collection has no per-sample measure over (cells.<s>, genes.<s>) to assemble into X");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < nroots; k++) {
            const char *name = ad_coll_root_name(r->coll, k), *state = ad_coll_root_state(r->coll, k);
            int primary = streq(name, "counts") || streq(name, "X");
            if (primary != (pass == 0)) continue;
            place *p = &r->pl[r->nf + k];
            size_t self = r->nf + k;
            int raw = streq(state, "raw") || streq(name, "counts");
            memset(p, 0, sizeof *p);
            p->root = k + 1;
            if (primary && !is_taken(r, self, D_X, NULL)) {
                p->kind = D_X;
                snprintf(p->key, sizeof p->key, "X");
            } else if (raw && !is_taken(r, self, D_LAYER, "counts")) {
                p->kind = D_LAYER;
                snprintf(p->key, sizeof p->key, "counts");
            } else if (!raw && !is_taken(r, self, D_X, NULL)) {
                p->kind = D_X;
                snprintf(p->key, sizeof p->key, "X");
            } else if (valid_key(name) && !is_taken(r, self, D_LAYER, name)) {
                p->kind = D_LAYER;
                snprintf(p->key, sizeof p->key, "%s", name);
            } else {
                LSTAR_CHECK(drop(r, name, err, "union matrix of the per-sample '%s.<s>' measures: no free AnnData slot", name));
            }
        }
    }
    for (size_t i = 0; i < r->nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(r->ds, i);
        if (ad_coll_is_member(r->coll, i)) continue; /* assembled into its root's union matrix */
        span_text(f, spans, sizeof spans);
        if (!streq(span_at(f, 0), r->cname)) {
            LSTAR_CHECK(drop(r, lstar_field_name(f), err, "collection field over [%s]: only fields over the union '%s' axis are flattened",
                             spans, r->cname));
            continue;
        }
        place p;
        if (vocab(r, i, f, &p)) {
            r->pl[i] = p;
            continue;
        }
        const char *role = lstar_field_role(f);
        const char *en = lstar_encoding_name(lstar_field_encoding(f));
        LSTAR_CHECK(drop(r, lstar_field_name(f), err, "%s %s%s over [%s]: no AnnData slot", en ? en : "?",
                         role ? role : "field", lstar_field_index_axis(f) ? " with partial coverage" : "", spans));
    }
    /* the integration graph, scanpy-native: alias the first cell graph to obsp['connectivities'] */
    for (size_t i = 0; i < r->nf; i++) {
        if (r->pl[i].kind != D_OBSP) continue;
        if (strcmp(r->pl[i].key, "connectivities") != 0 && !is_taken(r, r->nf + nroots, D_OBSP, "connectivities")) {
            place *p = &r->pl[r->nf + nroots];
            memset(p, 0, sizeof *p);
            p->kind = D_OBSP;
            p->alias = i + 1;
            snprintf(p->key, sizeof p->key, "connectivities");
            r->neighbors = 1;
        }
        break;
    }
done:
    return st;
}

static lstar_status plan(wr *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char prov[PATHMAX];
    if (r->coll) return plan_collection(r, err);
    unsigned char *pending = lstar_calloc(r->nf ? r->nf : 1, 1);
    if (!pending) return LSTAR_NOMEM(err, NULL);
    /* pass 1: typed uns fields and fields whose provenance slot fits */
    for (size_t i = 0; i < r->nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(r->ds, i);
        int handled = 0;
        LSTAR_CHECK(prov_anndata(f, prov, sizeof prov, err));
        LSTAR_CHECK(place_typed(r, i, f, prov, &handled, err));
        if (handled) continue;
        place p;
        if (prov[0] && fits(r, f, prov, &p) && !is_taken(r, i, p.kind, p.key)) {
            r->pl[i] = p;
            continue;
        }
        pending[i] = 1;
    }
    /* pass 2: the role → slot contract */
    for (size_t i = 0; i < r->nf; i++) {
        if (!pending[i]) continue;
        const lstar_field *f = lstar_dataset_field_at(r->ds, i);
        place p;
        if (vocab(r, i, f, &p)) {
            r->pl[i] = p;
            continue;
        }
        char spans[PATHMAX];
        span_text(f, spans, sizeof spans);
        const char *role = lstar_field_role(f);
        const char *en = lstar_encoding_name(lstar_field_encoding(f));
        LSTAR_CHECK(drop(r, lstar_field_name(f), err, "%s %s%s over [%s]: no AnnData slot", en ? en : "?",
                         role ? role : "field", lstar_field_index_axis(f) ? " with partial coverage" : "", spans));
    }
done:
    lstar_free(pending);
    return st;
}

/* ---- elements ------------------------------------------------------------------------------------ */

static lstar_status enc(wr *r, const char *path, const char *type, const char *version, lstar_error *err) {
    return ad_write_encoding(r->c, path, type, version, err);
}

static lstar_status dict_group(wr *r, const char *path, lstar_error *err) {
    lstar_status st = ad_create_group(r->c, path, err);
    if (st == LSTAR_OK) st = enc(r, path, "dict", "0.1.0", err);
    return st;
}

static lstar_status string_array(wr *r, const char *path, const lstar_strings *s, int rank, const uint64_t *shape,
                                 lstar_error *err) {
    ad_array_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.dtype = LSTAR_DTYPE_STRING;
    spec.rank = rank;
    if (rank == 1 && !shape) spec.shape[0] = s->n;
    for (int i = 0; shape && i < rank; i++) spec.shape[i] = shape[i];
    /* HDF5: the zstd and lzf filters refuse variable-length data ("not suitable
     * for filters"); only deflate takes vlen strings, so other string datasets
     * stay unfiltered */
    if (rank > 0 && s->n > 0 &&
        !(r->is_h5 && r->w.compression && strncmp(r->w.compression, "gzip", 4) != 0 &&
          strncmp(r->w.compression, "zlib", 4) != 0))
        spec.compression = r->w.compression;
    lstar_status st = ad_write_strings(r->c, path, &spec, s, err);
    if (st == LSTAR_OK) st = enc(r, path, rank == 0 ? "string" : "string-array", "0.2.0", err);
    return st;
}

static lstar_status mem_array(wr *r, const char *path, lstar_dtype dt, uint64_t n, const void *data, lstar_error *err) {
    ad_array_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.dtype = dt;
    spec.rank = 1;
    spec.shape[0] = n;
    if (n) spec.compression = r->w.compression;
    lstar_status st = ad_write_array(r->c, path, &spec, data, err);
    if (st == LSTAR_OK) st = enc(r, path, "array", "0.2.0", err);
    return st;
}

/* A matrix field (dense / csr / csc) at `dest`. */
static lstar_status write_matrix(wr *r, const char *dest, const lstar_field *f, int flip, lstar_error *err) {
    if (is_sparse_enc(lstar_field_encoding(f))) return ad_write_sparse(r->c, dest, f, flip, &r->w, err);
    const lstar_array *v = lstar_field_array(f, "values");
    if (!v)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, lstar_field_name(f), "dense field '%s' has no values",
                          lstar_field_name(f));
    lstar_status st = ad_write_dense(r->c, dest, v, &r->w, err);
    if (st == LSTAR_OK) st = enc(r, dest, "array", "0.2.0", err);
    return st;
}

/* The matrix of place i (a field, an aliased field, or a collection's union matrix) at `dest`. */
static lstar_status write_place(wr *r, const char *dest, size_t i, lstar_error *err) {
    const place *p = &r->pl[i];
    if (p->root) return ad_coll_write_root(r->c, dest, r->coll, p->root - 1, &r->w, err);
    size_t fi = p->alias ? p->alias - 1 : i;
    return write_matrix(r, dest, lstar_dataset_field_at(r->ds, fi), r->pl[fi].flip, err);
}

/* Read the whole 1-D mask of f (1 = missing) as bytes, or NULL when absent. */
static lstar_status read_mask(const lstar_field *f, uint64_t n, uint8_t **out, lstar_error *err) {
    const lstar_array *m = lstar_field_array(f, "mask");
    *out = NULL;
    if (!m) return LSTAR_OK;
    if (lstar_array_rank(m) != 1 || lstar_array_shape(m)[0] != n)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, lstar_field_name(f), "mask of '%s' has the wrong length",
                          lstar_field_name(f));
    uint8_t *b = lstar_malloc(n ? (size_t)n : 1);
    if (!b) return LSTAR_NOMEM(err, lstar_field_name(f));
    lstar_status st = lstar_array_read_1d_as(m, 0, n, LSTAR_DTYPE_UINT8, b, err);
    if (st != LSTAR_OK) {
        lstar_free(b);
        return st;
    }
    for (uint64_t i = 0; i < n; i++) b[i] = b[i] != 0;
    *out = b;
    return LSTAR_OK;
}

static lstar_status write_categorical(wr *r, const char *path, const lstar_field *f, uint64_t n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_array *codes = lstar_field_array(f, "codes"), *cats = lstar_field_array(f, "categories");
    int32_t *cv = NULL;
    uint8_t *mask = NULL;
    lstar_strings cs;
    char p[PATHMAX];
    memset(&cs, 0, sizeof cs);
    if (!codes || !cats || lstar_array_rank(codes) != 1 || lstar_array_shape(codes)[0] != n ||
        lstar_array_rank(cats) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, lstar_field_name(f), "categorical '%s' is malformed",
                          lstar_field_name(f));
    uint64_t k = lstar_array_shape(cats)[0];
    cv = lstar_malloc(n ? (size_t)n * sizeof *cv : 1);
    if (!cv) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(lstar_array_read_1d_as(codes, 0, n, LSTAR_DTYPE_INT32, cv, err));
    LSTAR_CHECK(read_mask(f, n, &mask, err));
    for (uint64_t i = 0; i < n; i++) {
        if (mask && mask[i]) cv[i] = -1;
        if (cv[i] < -1 || (cv[i] >= 0 && (uint64_t)cv[i] >= k)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, lstar_field_name(f), "categorical '%s': code %d at %llu is outside [-1, %llu)",
                            lstar_field_name(f), cv[i], (unsigned long long)i, (unsigned long long)k);
            goto done;
        }
    }
    LSTAR_CHECK(lstar_array_read_strings(cats, 0, k, &cs, err));
    LSTAR_CHECK(ad_create_group(r->c, path, err));
    LSTAR_CHECK(enc(r, path, "categorical", "0.2.0", err));
    LSTAR_CHECK(ad_write_attr_bool(r->c, path, "ordered", lstar_field_ordered(f) == 1, err));
    LSTAR_CHECK(ad_join(p, sizeof p, path, "codes", err));
    LSTAR_CHECK(mem_array(r, p, LSTAR_DTYPE_INT32, n, cv, err));
    LSTAR_CHECK(ad_join(p, sizeof p, path, "categories", err));
    LSTAR_CHECK(string_array(r, p, &cs, 1, NULL, err));
done:
    lstar_free(cv);
    lstar_free(mask);
    lstar_strings_destroy(&cs);
    return st;
}

/* One obs/var column.  *written = 0 when the column was dropped instead. */
static lstar_status write_column(wr *r, const char *path, const lstar_field *f, uint64_t n, int *written,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_encoding e = lstar_field_encoding(f);
    const char *name = lstar_field_name(f);
    uint8_t *mask = NULL, *vals = NULL;
    int64_t *idx = NULL;
    lstar_strings s;
    char p[PATHMAX];
    memset(&s, 0, sizeof s);
    *written = 1;
    if (e == LSTAR_ENC_CATEGORICAL) return write_categorical(r, path, f, n, err);
    const lstar_array *v = lstar_field_array(f, "values");
    if (!v || lstar_array_rank(v) != 1)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, name, "column field '%s' has no 1-D values", name);
    if (e == LSTAR_ENC_UTF8) {
        if (lstar_array_shape(v)[0] != n)
            return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "column '%s' has %llu values, expected %llu", name,
                              (unsigned long long)lstar_array_shape(v)[0], (unsigned long long)n);
        LSTAR_CHECK(lstar_array_read_strings(v, 0, n, &s, err));
        LSTAR_CHECK(string_array(r, path, &s, 1, NULL, err));
        if (lstar_field_array(f, "mask")) /* anndata 0.8 cannot read nullable-string-array */
            LSTAR_CHECK(drop(r, name, err,
                             "mask of a nullable string column: written as a string-array (anndata 0.8 cannot read "
                             "nullable-string-array), missing entries kept as stored"));
        goto done;
    }
    lstar_dtype dt = lstar_array_dtype(v);
    size_t es = lstar_dtype_size(dt);
    if (es == 0 || dt == LSTAR_DTYPE_STRING) {
        *written = 0;
        st = drop(r, name, err, "column of dtype %s", lstar_dtype_name(dt));
        goto done;
    }
    uint64_t m = lstar_array_shape(v)[0];
    if (lstar_field_index_axis(f)) { /* partial coverage: float column with NaN where uncovered */
        const lstar_array *ix = lstar_field_array(f, "index");
        if (!ix || lstar_array_rank(ix) != 1 || lstar_array_shape(ix)[0] != m) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, name, "partial field '%s' has a malformed index", name);
            goto done;
        }
        idx = lstar_malloc(m ? (size_t)m * sizeof *idx : 1);
        double *full = lstar_malloc(n ? (size_t)n * sizeof *full : 1), *part = lstar_malloc(m ? (size_t)m * 8 : 1);
        vals = (uint8_t *)full;
        if (!idx || !full || !part) {
            lstar_free(part);
            st = LSTAR_NOMEM(err, name);
            goto done;
        }
        st = lstar_array_read_1d_as(ix, 0, m, LSTAR_DTYPE_INT64, idx, err);
        if (st == LSTAR_OK) st = lstar_array_read_1d_as(v, 0, m, LSTAR_DTYPE_FLOAT64, part, err);
        for (uint64_t i = 0; i < n; i++) full[i] = NAN;
        for (uint64_t i = 0; st == LSTAR_OK && i < m; i++) {
            if (idx[i] < 0 || (uint64_t)idx[i] >= n)
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, name, "index of partial field '%s' is out of range at %llu", name,
                                (unsigned long long)i);
            else
                full[idx[i]] = part[i];
        }
        lstar_free(part);
        LSTAR_CHECK(st);
        if (dt == LSTAR_DTYPE_FLOAT32) lstar_dtype_convert(LSTAR_DTYPE_FLOAT64, full, LSTAR_DTYPE_FLOAT32, full, (size_t)n);
        st = mem_array(r, path, dt == LSTAR_DTYPE_FLOAT32 ? LSTAR_DTYPE_FLOAT32 : LSTAR_DTYPE_FLOAT64, n, full, err);
        goto done;
    }
    if (m != n) {
        st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "column '%s' has %llu values, expected %llu", name,
                        (unsigned long long)m, (unsigned long long)n);
        goto done;
    }
    vals = lstar_malloc(n ? (size_t)n * es : 1);
    if (!vals) {
        st = LSTAR_NOMEM(err, name);
        goto done;
    }
    if (n) {
        uint64_t z = 0;
        LSTAR_CHECK(lstar_array_read(v, &z, &n, vals, err));
    }
    LSTAR_CHECK(read_mask(f, n, &mask, err));
    if (mask && (lstar_dtype_is_integer(dt) || dt == LSTAR_DTYPE_BOOL)) {
        int isbool = dt == LSTAR_DTYPE_BOOL;
        LSTAR_CHECK(ad_create_group(r->c, path, err));
        LSTAR_CHECK(enc(r, path, isbool ? "nullable-boolean" : "nullable-integer", "0.1.0", err));
        LSTAR_CHECK(ad_join(p, sizeof p, path, "values", err));
        LSTAR_CHECK(mem_array(r, p, dt, n, vals, err));
        LSTAR_CHECK(ad_join(p, sizeof p, path, "mask", err));
        LSTAR_CHECK(mem_array(r, p, LSTAR_DTYPE_BOOL, n, mask, err));
        goto done;
    }
    if (mask && lstar_dtype_is_float(dt) && es >= 4) { /* NaN encodes missing, as pandas float columns do */
        for (uint64_t i = 0; i < n; i++) {
            if (!mask[i]) continue;
            if (dt == LSTAR_DTYPE_FLOAT32) ((float *)vals)[i] = NAN;
            else ((double *)vals)[i] = NAN;
        }
    } else if (mask) {
        LSTAR_CHECK(drop(r, name, err, "mask of a %s column: anndata has no nullable %s column", lstar_dtype_name(dt),
                         lstar_dtype_name(dt)));
    }
    st = mem_array(r, path, dt, n, vals, err);
done:
    lstar_free(mask);
    lstar_free(vals);
    lstar_free(idx);
    lstar_strings_destroy(&s);
    return st;
}

/* A dataframe (obs / var / raw/var) with index `labels` and the columns placed in `kind`. */
static lstar_status write_frame(wr *r, const char *df, const lstar_strings *labels, dest_kind kind,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings order;
    char p[PATHMAX];
    LSTAR_CHECK(lstar_strings_init(&order, err));
    LSTAR_CHECK(ad_create_group(r->c, df, err));
    LSTAR_CHECK(ad_join(p, sizeof p, df, "_index", err));
    LSTAR_CHECK(string_array(r, p, labels, 1, NULL, err));
    for (size_t i = 0; kind != D_NONE && i < r->nf; i++) {
        if (r->pl[i].kind != kind) continue;
        int written = 0;
        LSTAR_CHECK(ad_join(p, sizeof p, df, r->pl[i].key, err));
        LSTAR_CHECK(write_column(r, p, lstar_dataset_field_at(r->ds, i), labels->n, &written, err));
        if (written) LSTAR_CHECK(lstar_strings_append(&order, r->pl[i].key, strlen(r->pl[i].key), err));
    }
    LSTAR_CHECK(ad_write_attr_string(r->c, df, "_index", "_index", err));
    LSTAR_CHECK(ad_write_attr_strings(r->c, df, "column-order", &order, err));
    LSTAR_CHECK(enc(r, df, "dataframe", "0.2.0", err));
done:
    lstar_strings_destroy(&order);
    return st;
}

/* A dict of matrices (layers, obsm, …). */
static lstar_status write_slot(wr *r, const char *slot, dest_kind kind, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[PATHMAX];
    LSTAR_CHECK(dict_group(r, slot, err));
    for (size_t i = 0; i < r->npl; i++) {
        if (r->pl[i].kind != kind) continue;
        LSTAR_CHECK(ad_join(p, sizeof p, slot, r->pl[i].key, err));
        LSTAR_CHECK(write_place(r, p, i, err));
    }
done:
    return st;
}

static lstar_status write_raw(wr *r, size_t i, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_field *f = lstar_dataset_field_at(r->ds, i);
    const char *gax = span_at(f, r->pl[i].flip ? 0 : 1);
    const lstar_axis *ax = lstar_dataset_axis(r->ds, gax);
    if (!ax)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, lstar_field_name(f), "raw field '%s' spans unknown axis '%s'",
                          lstar_field_name(f), gax);
    LSTAR_CHECK(ad_create_group(r->c, "raw", err));
    LSTAR_CHECK(enc(r, "raw", "raw", "0.1.0", err));
    LSTAR_CHECK(write_matrix(r, "raw/X", f, r->pl[i].flip, err));
    LSTAR_CHECK(write_frame(r, "raw/var", lstar_axis_labels(ax), D_NONE, err));
    LSTAR_CHECK(dict_group(r, "raw/varm", err));
done:
    return st;
}

/* ---- uns ---------------------------------------------------------------------------------------- */

static lstar_array *find_leaf(const lstar_passthrough *pt, const char *id) {
    for (size_t i = 0; pt && id && i < lstar_passthrough_leaf_count(pt); i++)
        if (strcmp(lstar_passthrough_leaf_id(pt, i), id) == 0) return lstar_passthrough_leaf(pt, i);
    return NULL;
}

static lstar_status scalar(wr *r, const char *path, lstar_dtype dt, const void *v, lstar_error *err) {
    ad_array_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.dtype = dt;
    lstar_status st = ad_write_array(r->c, path, &spec, v, err);
    if (st == LSTAR_OK) st = enc(r, path, "numeric-scalar", "0.2.0", err);
    return st;
}

static lstar_status write_node(wr *r, const char *path, const json_t *node, const lstar_passthrough *pt,
                               lstar_error *err);
static lstar_status write_record(wr *r, const char *path, const json_t *node, const lstar_passthrough *pt,
                                 lstar_error *err);

static lstar_status write_obj(wr *r, const char *path, const json_t *obj, const lstar_passthrough *pt, int top,
                              lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const char *k;
    json_t *v;
    char p[PATHMAX];
    json_object_foreach((json_t *)obj, k, v) {
        if (top && strcmp(k, "lstar") == 0) continue; /* ours: written last */
        if (ad_join(p, sizeof p, path, k, NULL) != LSTAR_OK || !valid_key(k)) {
            LSTAR_CHECK(drop(r, path, err, "key '%s' cannot be an element name", k));
            continue;
        }
        LSTAR_CHECK(write_node(r, p, v, pt, err));
    }
done:
    return st;
}

static lstar_status write_list(wr *r, const char *path, const json_t *list, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    size_t n = json_array_size(list), nstr = 0, nint = 0, nreal = 0, nbool = 0;
    lstar_strings s;
    void *buf = NULL;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        nstr += json_is_string(e);
        nint += json_is_integer(e);
        nreal += json_is_real(e);
        nbool += json_is_boolean(e);
    }
    if (n && nstr == n) {
        LSTAR_CHECK(lstar_strings_init(&s, err));
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(list, i);
            LSTAR_CHECK(lstar_strings_append(&s, json_string_value(e), json_string_length(e), err));
        }
        st = string_array(r, path, &s, 1, NULL, err);
    } else if (nbool == n && n) {
        uint8_t *b = buf = lstar_malloc(n);
        if (!b) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        for (size_t i = 0; i < n; i++) b[i] = json_is_true(json_array_get(list, i));
        st = mem_array(r, path, LSTAR_DTYPE_BOOL, n, b, err);
    } else if (nint == n && n) {
        int64_t *b = buf = lstar_malloc(n * sizeof *b);
        if (!b) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        for (size_t i = 0; i < n; i++) b[i] = (int64_t)json_integer_value(json_array_get(list, i));
        st = mem_array(r, path, LSTAR_DTYPE_INT64, n, b, err);
    } else if (nint + nreal == n) { /* also [] → float64[0], as numpy makes it */
        double *b = buf = lstar_malloc(n ? n * sizeof *b : 1);
        if (!b) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        for (size_t i = 0; i < n; i++) b[i] = json_number_value(json_array_get(list, i));
        st = mem_array(r, path, LSTAR_DTYPE_FLOAT64, n, b, err);
    } else {
        st = drop(r, path, err, "list of mixed or nested items");
    }
done:
    lstar_free(buf);
    lstar_strings_destroy(&s);
    return st;
}

/* A `$bytes` node (the bytes as latin-1 text) → a 0-d fixed-length byte string with encoding-type
 * `bytes` 0.2.0, which anndata reads back as numpy bytes (anndata 0.8 registers no writer for bytes;
 * this is its reader's encoding).  Trailing NUL bytes do not survive (numpy strips them). */
static lstar_status write_bytes(wr *r, const char *path, const json_t *v, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    if (!json_is_string(v)) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "$bytes node is not a string");
    const uint8_t *p = (const uint8_t *)json_string_value(v);
    size_t len = json_string_length(v), n = 0;
    uint8_t *b = lstar_malloc(len ? len : 1);
    if (!b) return LSTAR_NOMEM(err, path);
    for (size_t i = 0; i < len; n++) {
        if (p[i] < 0x80) {
            b[n] = p[i++];
        } else if ((p[i] == 0xc2 || p[i] == 0xc3) && i + 1 < len && (p[i + 1] & 0xc0) == 0x80) {
            b[n] = (uint8_t)(((p[i] & 0x03) << 6) | (p[i + 1] & 0x3f));
            i += 2;
        } else {
            st = drop(r, path, err, "bytes value whose text is not latin-1 (a character above U+00FF)");
            goto done;
        }
    }
    if (n == 0) b[n++] = 0; /* |S1 holding b"" */
    ad_array_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.dtype = LSTAR_DTYPE_FIXED_BYTES;
    spec.itemsize = n;
    LSTAR_CHECK(ad_write_array(r->c, path, &spec, b, err));
    LSTAR_CHECK(enc(r, path, "bytes", "0.2.0", err));
done:
    lstar_free(b);
    return st;
}

static lstar_status write_node(wr *r, const char *path, const json_t *node, const lstar_passthrough *pt,
                               lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings s;
    memset(&s, 0, sizeof s);
    if (json_is_string(node)) {
        LSTAR_CHECK(lstar_strings_init(&s, err));
        LSTAR_CHECK(lstar_strings_append(&s, json_string_value(node), json_string_length(node), err));
        st = string_array(r, path, &s, 0, NULL, err);
    } else if (json_is_integer(node)) {
        int64_t v = (int64_t)json_integer_value(node);
        st = scalar(r, path, LSTAR_DTYPE_INT64, &v, err);
    } else if (json_is_real(node)) {
        double v = json_real_value(node);
        st = scalar(r, path, LSTAR_DTYPE_FLOAT64, &v, err);
    } else if (json_is_boolean(node)) {
        uint8_t v = json_is_true(node);
        st = scalar(r, path, LSTAR_DTYPE_BOOL, &v, err);
    } else if (json_is_null(node)) { /* anndata 0.8 has no encoding for None (0.12 writes `null`) */
        st = drop(r, path, err, "None: anndata 0.8 has no encoding for it");
    } else if (json_is_array(node)) {
        st = write_list(r, path, node, err);
    } else if (json_is_object(node)) {
        const json_t *v;
        if ((v = json_object_get(node, "$obj")) != NULL && json_is_object(v)) {
            LSTAR_CHECK(dict_group(r, path, err));
            st = write_obj(r, path, v, pt, 0, err);
        } else if ((v = json_object_get(node, "$list")) != NULL && json_is_array(v)) {
            st = write_list(r, path, v, err);
        } else if ((v = json_object_get(node, "$array")) != NULL) {
            const lstar_array *a = find_leaf(pt, json_string_value(v));
            if (!a) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough leaf '%s' is missing",
                                json_is_string(v) ? json_string_value(v) : "?");
            } else if (lstar_array_dtype(a) == LSTAR_DTYPE_STRING) {
                LSTAR_CHECK(lstar_array_read_strings(a, 0, lstar_array_size(a), &s, err));
                st = string_array(r, path, &s, 1, NULL, err);
            } else if (lstar_array_rank(a) == 0) {
                st = ad_write_small(r->c, path, a, &r->w, err);
                if (st == LSTAR_OK) st = enc(r, path, "numeric-scalar", "0.2.0", err);
            } else {
                st = ad_write_dense(r->c, path, a, &r->w, err);
                if (st == LSTAR_OK) st = enc(r, path, "array", "0.2.0", err);
            }
        } else if ((v = json_object_get(node, "$strings")) != NULL) {
            const lstar_array *a = find_leaf(pt, json_string_value(v));
            const json_t *shp = json_object_get(node, "shape");
            uint64_t shape[LSTAR_MAX_RANK];
            int rank = json_is_array(shp) ? (int)json_array_size(shp) : 1;
            if (!a || rank > LSTAR_MAX_RANK) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "passthrough string leaf is missing or malformed");
                goto done;
            }
            uint64_t total = 1;
            for (int i = 0; i < rank; i++) {
                shape[i] = json_is_array(shp) ? (uint64_t)json_integer_value(json_array_get(shp, (size_t)i)) : lstar_array_size(a);
                total *= shape[i];
            }
            if (total != lstar_array_size(a)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, path, "string leaf has %llu items, shape says %llu",
                                (unsigned long long)lstar_array_size(a), (unsigned long long)total);
                goto done;
            }
            LSTAR_CHECK(lstar_array_read_strings(a, 0, total, &s, err));
            st = string_array(r, path, &s, rank, shape, err);
        } else if ((v = json_object_get(node, "$dropped")) != NULL) {
            st = drop(r, path, err, "%s, dropped when the source was read", json_is_string(v) ? json_string_value(v) : "?");
        } else if (json_object_get(node, "$record")) {
            st = write_record(r, path, node, pt, err);
        } else if ((v = json_object_get(node, "$bytes")) != NULL) {
            st = write_bytes(r, path, v, err);
        } else {
            st = drop(r, path, err, "unknown passthrough node");
        }
    }
done:
    lstar_strings_destroy(&s);
    return st;
}

/* ---- record arrays ---------------------------------------------------------------------------- */

static int record_dtype_ok(lstar_dtype dt) {
    return dt == LSTAR_DTYPE_BOOL || lstar_dtype_is_integer(dt) || dt == LSTAR_DTYPE_FLOAT32 ||
           dt == LSTAR_DTYPE_FLOAT64 || dt == LSTAR_DTYPE_STRING;
}

/* A `$record` passthrough node → a rec-array (h5ad only). */
static lstar_status write_record(wr *r, const char *path, const json_t *node, const lstar_passthrough *pt,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const json_t *rec = json_object_get(node, "$record");
    const json_t *fields = json_object_get(rec, "fields");
    const json_t *len = json_object_get(rec, "length");
    ad_record_field *rf = NULL;
    void **data = NULL;
    lstar_strings *strs = NULL;
    size_t nf = json_object_size(fields), k = 0;
    if (!ad_can_write_records(r->c)) return drop(r, path, err, "rec-array: this backend cannot write record arrays");
    if (!json_is_object(fields) || !json_is_integer(len) || json_integer_value(len) < 0)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "malformed $record node");
    uint64_t n = (uint64_t)json_integer_value(len);
    rf = lstar_calloc(nf ? nf : 1, sizeof *rf);
    data = lstar_calloc(nf ? nf : 1, sizeof *data);
    strs = lstar_calloc(nf ? nf : 1, sizeof *strs);
    if (!rf || !data || !strs) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    const char *name;
    json_t *fn;
    json_object_foreach((json_t *)fields, name, fn) {
        const json_t *id = json_object_get(fn, "$array");
        if (!id) id = json_object_get(fn, "$strings");
        const lstar_array *a = find_leaf(pt, json_string_value(id));
        char fp[PATHMAX + 260];
        snprintf(fp, sizeof fp, "%s/%s", path, name);
        if (!a || lstar_array_size(a) != n || lstar_array_rank(a) > 1 || !record_dtype_ok(lstar_array_dtype(a))) {
            LSTAR_CHECK(drop(r, fp, err, "record field %s", a ? "of a type or shape a rec-array cannot hold" : "without data"));
            continue;
        }
        rf[k].name = name;
        rf[k].dtype = lstar_array_dtype(a);
        if (rf[k].dtype == LSTAR_DTYPE_STRING) {
            LSTAR_CHECK(lstar_array_read_strings(a, 0, n, &strs[k], err));
            rf[k].strings = &strs[k];
        } else {
            size_t nb = 0;
            LSTAR_CHECK(lstar_array_read_all(a, 0, &data[k], &nb, err));
            rf[k].data = data[k];
        }
        k++;
    }
    if (k == 0) {
        st = drop(r, path, err, "rec-array without writable fields");
        goto done;
    }
    LSTAR_CHECK(ad_write_records(r->c, path, rf, k, n, err));
    LSTAR_CHECK(enc(r, path, "rec-array", "0.2.0", err));
done:
    for (size_t i = 0; i < nf; i++) {
        if (data) lstar_free(data[i]);
        if (strs) lstar_strings_destroy(&strs[i]);
    }
    lstar_free(rf);
    lstar_free(data);
    lstar_free(strs);
    return st;
}

/* Stable ascending sort of idx[0..n) by key[idx] (merge sort; tmp has n slots). */
static void sort_by_key(uint32_t *idx, uint32_t *tmp, size_t n, const double *key) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_by_key(idx, tmp, h, key);
    sort_by_key(idx + h, tmp, n - h, key);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n) tmp[o++] = key[idx[j]] < key[idx[i]] ? idx[j++] : idx[i++];
    while (i < h) tmp[o++] = idx[i++];
    while (j < n) tmp[o++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

/* uns['rank_genes_groups'] regenerated from the de.<factor>.<stat> fields (one factor): per group,
 * genes ranked by score (else lfc) descending, NaN last, ties in gene order (upstream's stable
 * argsort of -nan_to_num(score, -inf)); `names` and the float32 statistics as rec-arrays; params
 * groupby / reference "rest" / method / use_raw from the provenance. */
static lstar_status write_rank_genes_groups(wr *r, lstar_error *err) {
    static const char *const stats[4] = {"score", "lfc", "pval", "padj"};
    static const char *const keys[4] = {"scores", "logfoldchanges", "pvals", "pvals_adj"};
    lstar_status st = LSTAR_OK;
    const lstar_field *fs[4] = {NULL, NULL, NULL, NULL};
    double *mat[4] = {NULL, NULL, NULL, NULL};
    void *raw = NULL;
    uint32_t *order = NULL, *tmp = NULL;
    double *key = NULL;
    float *fv = NULL;
    ad_record_field *rf = NULL;
    lstar_strings *names = NULL, s;
    const char *fax = NULL, *gax = NULL;
    char method[256], buf[64];
    char (*gname)[256] = NULL;
    ad_kind k;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < r->nf; i++) {
        if (r->pl[i].kind != D_UNS_DE) continue;
        const lstar_field *f = lstar_dataset_field_at(r->ds, i);
        if (!fax) {
            fax = span_at(f, 0);
            gax = span_at(f, 1);
        }
        int w = -1;
        for (int j = 0; j < 4; j++)
            if (strcmp(r->pl[i].key, stats[j]) == 0) w = j;
        if (w < 0 || !streq(span_at(f, 0), fax) || !streq(span_at(f, 1), gax) || fs[w]) {
            LSTAR_CHECK(drop(r, lstar_field_name(f), err, "a second differential expression result: uns holds one rank_genes_groups"));
            continue;
        }
        fs[w] = f;
    }
    if (!fax) goto done;
    LSTAR_CHECK(ad_kind_at(r->c, "uns/rank_genes_groups", &k, err));
    if (k != AD_NONE) {
        for (int j = 0; j < 4; j++)
            if (fs[j]) LSTAR_CHECK(drop(r, lstar_field_name(fs[j]), err, "uns['rank_genes_groups'] already written from the passthrough"));
        goto done;
    }
    const lstar_strings *groups = lstar_axis_labels(lstar_dataset_axis(r->ds, fax));
    const lstar_strings *genes = lstar_axis_labels(lstar_dataset_axis(r->ds, gax));
    size_t K = groups->n, G = genes->n;
    if (G >= UINT32_MAX || (K && G > (size_t)LSTAR_MAX_CHUNK_BYTES / 8 / K)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, "uns/rank_genes_groups", "DE matrix of %zu x %zu is too large", K, G);
        goto done;
    }
    for (int j = 0; j < 4; j++) {
        if (!fs[j]) continue;
        const lstar_array *v = lstar_field_array(fs[j], "values");
        const uint64_t *sh = lstar_array_shape(v);
        if (sh[0] != K || sh[1] != G) {
            st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, lstar_field_name(fs[j]), "DE field '%s' is not %zu x %zu",
                            lstar_field_name(fs[j]), K, G);
            goto done;
        }
        size_t nb = 0;
        mat[j] = lstar_malloc(K * G != 0 ? K * G * sizeof(double) : 1);
        if (!mat[j]) {
            st = LSTAR_NOMEM(err, "uns/rank_genes_groups");
            goto done;
        }
        LSTAR_CHECK(lstar_array_read_all(v, 0, &raw, &nb, err));
        lstar_dtype_convert(lstar_array_dtype(v), raw, LSTAR_DTYPE_FLOAT64, mat[j], K * G);
        lstar_free(raw);
        raw = NULL;
    }
    const double *basis = mat[0] ? mat[0] : mat[1] ? mat[1] : mat[2] ? mat[2] : mat[3];
    order = lstar_malloc((K * G != 0 ? K * G : 1) * sizeof *order);
    tmp = lstar_malloc((G ? G : 1) * sizeof *tmp);
    key = lstar_malloc((G ? G : 1) * sizeof *key);
    fv = lstar_malloc((K * G != 0 ? K * G : 1) * sizeof *fv);
    rf = lstar_calloc(K ? K : 1, sizeof *rf);
    names = lstar_calloc(K ? K : 1, sizeof *names);
    if (!order || !tmp || !key || !fv || !rf || !names) {
        st = LSTAR_NOMEM(err, "uns/rank_genes_groups");
        goto done;
    }
    gname = lstar_calloc(K ? K : 1, sizeof *gname);
    if (!gname) {
        st = LSTAR_NOMEM(err, "uns/rank_genes_groups");
        goto done;
    }
    for (size_t g = 0; g < K; g++) {
        uint32_t *o = order + g * G;
        for (size_t x = 0; x < G; x++) {
            double v = basis[g * G + x];
            key[x] = isnan(v) ? INFINITY : -v;
            o[x] = (uint32_t)x;
        }
        sort_by_key(o, tmp, G, key);
        lstar_strings_get_cstr(groups, g, gname[g], sizeof gname[g]);
        LSTAR_CHECK(lstar_strings_init(&names[g], err));
        for (size_t x = 0; x < G; x++) {
            size_t len;
            const char *p = lstar_strings_get(genes, o[x], &len);
            LSTAR_CHECK(lstar_strings_append(&names[g], p, len, err));
        }
        rf[g].name = gname[g];
    }
    /* params */
    const lstar_field *any = fs[0] ? fs[0] : fs[1] ? fs[1] : fs[2] ? fs[2] : fs[3];
    LSTAR_CHECK(prov_str(any, "method", method, sizeof method, err));
    int use_raw = 0;
    {
        json_t *o = json_loads(lstar_field_provenance(any), 0, NULL);
        if (!o) {
            st = LSTAR_NOMEM(err, lstar_field_name(any));
            goto done;
        }
        use_raw = json_is_true(json_object_get(o, "use_raw"));
        json_decref(o);
    }
    LSTAR_CHECK(dict_group(r, "uns/rank_genes_groups", err));
    LSTAR_CHECK(dict_group(r, "uns/rank_genes_groups/params", err));
    {
        const char *vals[3] = {fax, "rest", method[0] ? method : "lstar"};
        const char *pk[3] = {"uns/rank_genes_groups/params/groupby", "uns/rank_genes_groups/params/reference",
                             "uns/rank_genes_groups/params/method"};
        for (int j = 0; j < 3; j++) {
            LSTAR_CHECK(lstar_strings_init(&s, err));
            LSTAR_CHECK(lstar_strings_append(&s, vals[j], strlen(vals[j]), err));
            LSTAR_CHECK(string_array(r, pk[j], &s, 0, NULL, err));
            lstar_strings_destroy(&s);
        }
        uint8_t b = (uint8_t)use_raw;
        LSTAR_CHECK(scalar(r, "uns/rank_genes_groups/params/use_raw", LSTAR_DTYPE_BOOL, &b, err));
    }
    for (size_t g = 0; g < K; g++) {
        rf[g].dtype = LSTAR_DTYPE_STRING;
        rf[g].strings = &names[g];
        rf[g].data = NULL;
    }
    if (K) {
        LSTAR_CHECK(ad_write_records(r->c, "uns/rank_genes_groups/names", rf, K, G, err));
        LSTAR_CHECK(enc(r, "uns/rank_genes_groups/names", "rec-array", "0.2.0", err));
    }
    for (int j = 0; j < 4 && K; j++) {
        if (!mat[j]) continue;
        for (size_t g = 0; g < K; g++) {
            for (size_t x = 0; x < G; x++) fv[g * G + x] = (float)mat[j][g * G + order[g * G + x]];
            rf[g].dtype = LSTAR_DTYPE_FLOAT32;
            rf[g].strings = NULL;
            rf[g].data = fv + g * G;
        }
        snprintf(buf, sizeof buf, "uns/rank_genes_groups/%s", keys[j]);
        LSTAR_CHECK(ad_write_records(r->c, buf, rf, K, G, err));
        LSTAR_CHECK(enc(r, buf, "rec-array", "0.2.0", err));
    }
done:
    if (names)
        for (size_t g = 0; fax && g < lstar_axis_labels(lstar_dataset_axis(r->ds, fax))->n; g++)
            lstar_strings_destroy(&names[g]);
    for (int j = 0; j < 4; j++) lstar_free(mat[j]);
    lstar_free(raw);
    lstar_free(order);
    lstar_free(tmp);
    lstar_free(key);
    lstar_free(fv);
    lstar_free(rf);
    lstar_free(names);
    lstar_free(gname);
    lstar_strings_destroy(&s);
    return st;
}

static lstar_status write_uns(wr *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *tree = NULL;
    lstar_strings s;
    char p[PATHMAX];
    ad_kind k;
    memset(&s, 0, sizeof s);
    LSTAR_CHECK(dict_group(r, "uns", err));
    const lstar_passthrough *pt = lstar_dataset_passthrough(r->ds, "anndata.uns");
    if (pt) {
        const char *t = lstar_passthrough_tree(pt);
        LSTAR_CHECK(lstar_json_parse(t, strlen(t), "passthrough/anndata.uns", &tree, err));
        const json_t *obj = json_object_get(tree, "$obj");
        if (!json_is_object(obj)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "passthrough/anndata.uns", "the uns passthrough tree is not an $obj");
            goto done;
        }
        LSTAR_CHECK(write_obj(r, "uns", obj, pt, 1, err));
    }
    /* typed uns fields */
    for (size_t i = 0; i < r->nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(r->ds, i);
        const place *pl = &r->pl[i];
        if (pl->kind == D_UNS_COLOR) {
            LSTAR_CHECK(ad_join(p, sizeof p, "uns", pl->key, err));
            LSTAR_CHECK(ad_kind_at(r->c, p, &k, err));
            if (k != AD_NONE) continue; /* the passthrough already holds it */
            const lstar_array *v = lstar_field_array(f, "values");
            if (!v) continue;
            LSTAR_CHECK(lstar_array_read_strings(v, 0, lstar_array_size(v), &s, err));
            LSTAR_CHECK(string_array(r, p, &s, 1, NULL, err));
            lstar_strings_destroy(&s);
        } else if (pl->kind == D_UNS_PCAVAR) {
            LSTAR_CHECK(ad_kind_at(r->c, "uns/pca", &k, err));
            if (k == AD_NONE) LSTAR_CHECK(dict_group(r, "uns/pca", err));
            else if (k != AD_GROUP) {
                LSTAR_CHECK(drop(r, lstar_field_name(f), err, "uns['pca'] is not a dict"));
                continue;
            }
            LSTAR_CHECK(ad_join(p, sizeof p, "uns/pca", pl->key, err));
            LSTAR_CHECK(ad_kind_at(r->c, p, &k, err));
            if (k != AD_NONE) continue;
            LSTAR_CHECK(write_matrix(r, p, f, 0, err));
        } else if (pl->kind == D_UNS_GRAPH) {
            LSTAR_CHECK(ad_join(p, sizeof p, "uns", pl->key, err));
            LSTAR_CHECK(ad_kind_at(r->c, p, &k, err));
            if (k != AD_NONE) continue;
            LSTAR_CHECK(write_matrix(r, p, f, 0, err));
        }
    }
    LSTAR_CHECK(write_rank_genes_groups(r, err));
    if (r->neighbors) { /* the aliased integration graph, as upstream's flattening records it */
        LSTAR_CHECK(ad_kind_at(r->c, "uns/neighbors", &k, err));
        if (k == AD_NONE) {
            static const char *const nk[5][2] = {{"uns/neighbors/connectivities_key", "connectivities"},
                                                 {"uns/neighbors/distances_key", "distances"},
                                                 {NULL, NULL},
                                                 {"uns/neighbors/params/method", "conos"},
                                                 {"uns/neighbors/params/metric", "euclidean"}};
            LSTAR_CHECK(dict_group(r, "uns/neighbors", err));
            for (int j = 0; j < 5; j++) {
                if (!nk[j][0]) {
                    LSTAR_CHECK(dict_group(r, "uns/neighbors/params", err));
                    continue;
                }
                LSTAR_CHECK(lstar_strings_init(&s, err));
                LSTAR_CHECK(lstar_strings_append(&s, nk[j][1], strlen(nk[j][1]), err));
                LSTAR_CHECK(string_array(r, nk[j][0], &s, 0, NULL, err));
                lstar_strings_destroy(&s);
            }
        }
    }
    /* uns['lstar/state'] and uns['lstar/dropped'] (a nested dict, as h5py stores "a/b" keys) */
    const char *state = NULL;
    for (size_t i = 0; i < r->npl; i++) {
        if (r->pl[i].kind != D_X) continue;
        if (r->pl[i].root) state = ad_coll_root_state(r->coll, r->pl[i].root - 1);
        else state = lstar_field_state(lstar_dataset_field_at(r->ds, r->pl[i].alias ? r->pl[i].alias - 1 : i));
    }
    if ((state && *state) || r->dnames.n) {
        LSTAR_CHECK(dict_group(r, "uns/lstar", err));
        if (state && *state) {
            LSTAR_CHECK(lstar_strings_init(&s, err));
            LSTAR_CHECK(lstar_strings_append(&s, state, strlen(state), err));
            LSTAR_CHECK(string_array(r, "uns/lstar/state", &s, 0, NULL, err));
            lstar_strings_destroy(&s);
        }
        if (r->dnames.n) LSTAR_CHECK(string_array(r, "uns/lstar/dropped", &r->dnames, 1, NULL, err));
    }
done:
    json_decref(tree);
    lstar_strings_destroy(&s);
    return st;
}

/* ---- files --------------------------------------------------------------------------------------- */

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *c = lstar_malloc(n);
            if (!c) continue;
            snprintf(c, n, "%s/%s", path, e->d_name);
            remove_tree(c);
            lstar_free(c);
        }
        closedir(d);
    }
    rmdir(path);
}

static lstar_status temp_name(const char *base, const char *tag, char **out, lstar_error *err) {
    size_t n = strlen(base) + strlen(tag) + 64;
    char *s = lstar_malloc(n);
    *out = NULL;
    if (!s) return LSTAR_NOMEM(err, base);
    for (int tries = 0; tries < 1000; tries++) {
        struct stat sb;
        snprintf(s, n, "%s.%s-%ld-%lu", base, tag, (long)getpid(), atomic_fetch_add(&g_tmp_counter, 1ul));
        if (lstat(s, &sb) != 0 && errno == ENOENT) {
            *out = s;
            return LSTAR_OK;
        }
    }
    lstar_free(s);
    return LSTAR_FAIL(err, LSTAR_ERR_IO, base, "cannot find a free temporary name next to the destination");
}

/* ---- top level ----------------------------------------------------------------------------------- */

void lstar_anndata_write_options_init(lstar_anndata_write_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->format = LSTAR_ANNDATA_H5AD;
    o->compression = "none";
    o->chunk_copy = 1;
}

static const lstar_axis *find_axis(const lstar_dataset *ds, const char *name, const char *role) {
    const lstar_axis *a = lstar_dataset_axis(ds, name);
    if (a) return a;
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *x = lstar_dataset_axis_at(ds, i);
        if (streq(lstar_axis_role(x), role)) return x;
    }
    return NULL;
}

/* Validate the compression spec for the target before any work. */
static lstar_status check_compression(const char *spec, int h5, lstar_error *err) {
    if (!spec || !*spec || strcmp(spec, "none") == 0) return LSTAR_OK;
    if (!h5) return LSTAR_OK; /* the Zarr layer parses any codec spec (and reports unknown ones) */
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    int known = (nl == 4 && (!strncmp(spec, "gzip", 4) || !strncmp(spec, "zlib", 4) || !strncmp(spec, "zstd", 4))) ||
                (nl == 3 && !strncmp(spec, "lzf", 3) && !colon);
    if (!known)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, spec,
                          "compression '%s' is not available for h5ad (use none, gzip[:L], zlib[:L], zstd[:L] or lzf)",
                          spec);
    if (colon) {
        char *end = NULL;
        long l = strtol(colon + 1, &end, 10);
        if (!end || *end || l < 0 || l > 22 || (nl == 4 && strncmp(spec, "zstd", 4) && l > 9))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, spec, "bad compression level in '%s'", spec);
    }
    return LSTAR_OK;
}

static lstar_status write_all(wr *r, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_strings empty;
    memset(&empty, 0, sizeof empty);
    LSTAR_CHECK(enc(r, "", "anndata", "0.1.0", err));
    LSTAR_CHECK(write_frame(r, "obs", lstar_axis_labels(r->cells), D_OBS, err));
    if (r->var_labels) {
        LSTAR_CHECK(write_frame(r, "var", r->var_labels, D_VAR, err));
    } else {
        LSTAR_CHECK(lstar_strings_init(&empty, err));
        LSTAR_CHECK(write_frame(r, "var", &empty, D_NONE, err));
    }
    for (size_t i = 0; i < r->npl; i++)
        if (r->pl[i].kind == D_X) LSTAR_CHECK(write_place(r, "X", i, err));
    LSTAR_CHECK(write_slot(r, "layers", D_LAYER, err));
    LSTAR_CHECK(write_slot(r, "obsm", D_OBSM, err));
    LSTAR_CHECK(write_slot(r, "varm", D_VARM, err));
    LSTAR_CHECK(write_slot(r, "obsp", D_OBSP, err));
    LSTAR_CHECK(write_slot(r, "varp", D_VARP, err));
    for (size_t i = 0; i < r->nf; i++)
        if (r->pl[i].kind == D_RAW) LSTAR_CHECK(write_raw(r, i, err));
    LSTAR_CHECK(write_uns(r, err));
    LSTAR_CHECK(ad_flush(r->c, err));
done:
    lstar_strings_destroy(&empty);
    return st;
}

/* Axes, the collection view, the plan: shared by lstar_anndata_write and ad_write_recorded. */
static lstar_status setup(wr *r, const lstar_dataset *ds, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    r->ds = ds;
    r->nf = lstar_dataset_field_count(ds);
    r->npl = r->nf;
    if (lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION) {
        r->cells = lstar_dataset_axis(ds, "cells");
        if (!r->cells)
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                              "the dataset is a collection without a union 'cells' axis: nothing to flatten into obs");
        LSTAR_CHECK(ad_coll_new(ds, r->cells, &r->coll, err));
        r->genes = NULL;
        r->var_labels = ad_coll_genes(r->coll);
        r->npl = r->nf + ad_coll_root_count(r->coll) + 1;
    } else {
        r->cells = find_axis(ds, "cells", "observation");
        r->genes = find_axis(ds, "genes", "feature");
        if (!r->cells)
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                              "the dataset has no observation axis ('cells' or an axis of role observation) for obs");
        r->var_labels = r->genes ? lstar_axis_labels(r->genes) : NULL;
    }
    r->cname = lstar_axis_name(r->cells);
    r->gname = r->genes ? lstar_axis_name(r->genes) : NULL;
    r->n_obs = lstar_axis_length(r->cells);
    r->n_var = r->var_labels ? r->var_labels->n : 0;
    r->pl = lstar_calloc(r->npl ? r->npl : 1, sizeof *r->pl);
    if (!r->pl) return LSTAR_NOMEM(err, path);
    LSTAR_CHECK(lstar_strings_init(&r->dnames, err));
    LSTAR_CHECK(lstar_strings_init(&r->dwhy, err));
    LSTAR_CHECK(plan(r, err));
done:
    return st;
}

static void wr_release(wr *r) {
    ad_coll_free(r->coll);
    r->coll = NULL;
    lstar_free(r->pl);
    r->pl = NULL;
    lstar_strings_destroy(&r->dnames);
    lstar_strings_destroy(&r->dwhy);
}

static uint64_t field_elems(const lstar_field *f) {
    if (is_sparse_enc(lstar_field_encoding(f))) {
        const lstar_array *d = lstar_field_array(f, "data");
        return d ? lstar_array_size(d) : 0;
    }
    const lstar_array *v = lstar_field_array(f, "values");
    return v ? lstar_array_size(v) : 0;
}

lstar_status lstar_anndata_write(const lstar_dataset *ds, const char *path, const lstar_anndata_write_options *o,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_anndata_write_options defaults;
    wr r;
    char *tmp = NULL, *old = NULL, *dest = NULL;
    struct stat sb;
    lstar_strings out_dropped;
    memset(&r, 0, sizeof r);
    memset(&out_dropped, 0, sizeof out_dropped);
    if (!o) {
        lstar_anndata_write_options_init(&defaults);
        o = &defaults;
    }
    if (o->dropped_out) memset(o->dropped_out, 0, sizeof *o->dropped_out);
    if (!ds || !path || !*path) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_anndata_write: NULL argument");
    if (o->dropped_out) LSTAR_CHECK(lstar_strings_init(o->dropped_out, err));
    /* "out.zarr/" names the same thing as "out.zarr" (and the temporary name goes next to it) */
    dest = lstar_strdup(path);
    if (!dest) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t l = strlen(dest); l > 1 && dest[l - 1] == '/'; l--) dest[l - 1] = 0;
    path = dest;
    lstar_anndata_format fmt = o->format ? o->format : LSTAR_ANNDATA_H5AD;
    if (fmt != LSTAR_ANNDATA_H5AD && fmt != LSTAR_ANNDATA_ZARR_V2 && fmt != LSTAR_ANNDATA_ZARR_V3) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "cannot write AnnData as '%s' (h5ad, anndata-zarr v2 or v3)",
                        lstar_anndata_format_name(fmt));
        goto done;
    }
    r.is_h5 = fmt == LSTAR_ANNDATA_H5AD;
    if (lstat(path, &sb) == 0 && !o->overwrite) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, path, "'%s' exists (use overwrite to replace it)", path);
        goto done;
    }
    LSTAR_CHECK(check_compression(o->compression, r.is_h5, err));
    LSTAR_CHECK(setup(&r, ds, path, err));

    r.w.compression = o->compression && strcmp(o->compression, "none") != 0 ? o->compression : NULL;
    r.w.chunk_elems = o->chunk_elems ? o->chunk_elems : LSTAR_DEFAULT_STREAM_CHUNK_ELEMS;
    r.w.shard_elems = fmt == LSTAR_ANNDATA_ZARR_V3 ? o->shard_elems : 0;
    r.w.zarr_format = fmt == LSTAR_ANNDATA_ZARR_V3 ? 3 : fmt == LSTAR_ANNDATA_ZARR_V2 ? 2 : 0;
    int threads = o->threads > 0 ? o->threads : lstar_cpu_count();
    if (threads > LSTAR_MAX_THREADS) threads = LSTAR_MAX_THREADS;
    r.w.threads = threads;
    if (r.is_h5 && threads > 1) LSTAR_CHECK(lstar_pool_new(threads, &r.w.pool, err));
    r.w.chunk_copy = o->chunk_copy;
    r.w.progress = o->progress;
    r.w.progress_ud = o->progress_ud;
    r.w.done = &r.done;
    for (size_t i = 0; i < r.npl; i++) {
        if (r.pl[i].kind == D_NONE || r.pl[i].kind == D_OBS || r.pl[i].kind == D_VAR || r.pl[i].kind == D_UNS_COLOR)
            continue;
        if (r.pl[i].root) r.w.total += ad_coll_root_nnz_bound(r.coll, r.pl[i].root - 1);
        else r.w.total += field_elems(lstar_dataset_field_at(ds, r.pl[i].alias ? r.pl[i].alias - 1 : i));
    }
    if (r.is_h5 && o->plugin_dir) LSTAR_CHECK(ad_h5_plugin_prepend(o->plugin_dir, err));
    if (r.is_h5 && r.w.compression && strncmp(r.w.compression, "zstd", 4) == 0 && !ad_h5_filter_available(32015)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, path,
                        "HDF5 filter 'zstd' (32015) is not available: pass the directory of lstar's filter plugins "
                        "(plugin_dir, see 'lstar plugin-path') or set HDF5_PLUGIN_PATH");
        goto done;
    }

    LSTAR_CHECK(temp_name(path, "tmp", &tmp, err));
    LSTAR_CHECK(ad_container_create(tmp, fmt, &r.c, err));
    st = write_all(&r, err);
    ad_container_close(r.c);
    r.c = NULL;
    LSTAR_CHECK(st);
    /* everything that can fail happens before the rename */
    if (o->dropped_out) LSTAR_CHECK(lstar_strings_copy(&out_dropped, &r.dwhy, err));
    if (lstat(path, &sb) == 0) {
        if (!o->overwrite) {
            st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, path, "'%s' appeared while writing", path);
            goto done;
        }
        LSTAR_CHECK(temp_name(path, "old", &old, err));
        if (rename(path, old) != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot move the old '%s' aside: %s", path, strerror(errno));
            lstar_free(old);
            old = NULL;
            goto done;
        }
    }
    if (rename(tmp, path) != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot rename the output into place: %s", strerror(errno));
        if (old && rename(old, path) == 0) {
            lstar_free(old);
            old = NULL;
        }
        goto done;
    }
    if (old) remove_tree(old);
    if (o->dropped_out) {
        lstar_strings_destroy(o->dropped_out);
        *o->dropped_out = out_dropped;
        memset(&out_dropped, 0, sizeof out_dropped);
    }
done:
    ad_container_close(r.c);
    if (st != LSTAR_OK && tmp) remove_tree(tmp);
    lstar_pool_free(r.w.pool);
    wr_release(&r);
    lstar_strings_destroy(&out_dropped);
    lstar_free(tmp);
    lstar_free(old);
    lstar_free(dest);
    return st;
}

lstar_status ad_write_recorded(const lstar_dataset *ds, const ad_recorder *rec, lstar_strings *dropped,
                               lstar_error *err) {
    lstar_status st = LSTAR_OK;
    wr r;
    memset(&r, 0, sizeof r);
    if (dropped) memset(dropped, 0, sizeof *dropped);
    if (!ds || !rec || !rec->name || !rec->chunk_size || !rec->chunk_begin || !rec->chunk_end)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "ad_write_recorded: NULL argument");
    const char *path = rec->name;
    r.is_h5 = 1;
    LSTAR_CHECK(setup(&r, ds, path, err));
    r.w.compression = NULL; /* what is not copied is stored unfiltered */
    r.w.chunk_elems = LSTAR_DEFAULT_STREAM_CHUNK_ELEMS;
    r.w.threads = 1;
    r.w.chunk_copy = 1;
    r.w.rec = rec;
    r.w.done = &r.done;
    if (rec->plugin_dir) LSTAR_CHECK(ad_h5_plugin_prepend(rec->plugin_dir, err));
    ad_h5_set_create_fapl(rec->fapl);
    st = ad_container_create(path, LSTAR_ANNDATA_H5AD, &r.c, err);
    ad_h5_set_create_fapl(-1);
    LSTAR_CHECK(st);
    st = write_all(&r, err);
    ad_container_close(r.c); /* H5Fclose: the metadata reaches the driver */
    r.c = NULL;
    LSTAR_CHECK(st);
    if (dropped) LSTAR_CHECK(lstar_strings_copy(dropped, &r.dwhy, err));
done:
    ad_container_close(r.c);
    wr_release(&r);
    return st;
}
