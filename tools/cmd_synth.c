/* lstar synth — write the built-in synthetic demo dataset as an L★ store.
 *
 * Built with the public API only: the arrays are generated in memory
 * (lstar_array_new_owned), assembled into an lstar_dataset and written with
 * lstar_dataset_write.  Memory is about 20 bytes per stored count entry plus
 * ~60 bytes per cell — fine for demo sizes (default 500 cells × 2000 genes). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define VERB "synth"

static const char usage[] =
    "usage: lstar synth OUT [--cells N] [--genes G] [--density D] [--seed S]\n"
    "                   [--zarr-format 2|3] [--compression SPEC] [--chunk-elems N]\n"
    "                   [--shard-elems N] [--threads N] [--overwrite]\n"
    "\n"
    "Write a synthetic L★ dataset (a directory store) to OUT.  The data are\n"
    "deterministic for a given seed and size:\n"
    "  axes    cells (cell0…), genes (gene0…), pca (pca0…pca9), leiden (induced)\n"
    "  fields  counts    csr float32 measure, state raw, ~D nonzeros per entry\n"
    "          X         csr float32 measure, state lognorm: log1p(counts/total*1e4)\n"
    "          pca       dense float32 embedding [cells, pca]\n"
    "          n_counts  float64 measure over cells (total counts)\n"
    "          leiden    categorical label, ~8 clusters (induces the leiden axis)\n"
    "          cell_type utf8 label over cells\n"
    "          pct_mt    float32 measure over cells, nullable (a few missing)\n"
    "          knn       csr float32 relation [cells, cells], subtype similarity,\n"
    "                    directed, weighted (up to 10 neighbours within the cluster)\n"
    "  profiles [\"lstar-synth@0.1\"]\n"
    "Everything is built in memory first (about 20 bytes per nonzero count).\n"
    "\n"
    "options:\n"
    "  --cells N          number of cells (default 500)\n"
    "  --genes G          number of genes (default 2000)\n"
    "  --density D        fraction of nonzero counts, 0 < D <= 1 (default 0.1)\n"
    "  --seed S           PRNG seed (default 1)\n"
    "  --zarr-format 2|3  Zarr version written (default 2)\n"
    "  --compression SPEC codec for every array: none (default), gzip[:L], zlib[:L],\n"
    "                     zstd[:L], lz4, blosc[:cname[:clevel[:shuffle]]]\n"
    "  --chunk-elems N    first-axis chunking target in elements (default 0: one\n"
    "                     chunk per array)\n"
    "  --shard-elems N    Zarr v3 only: elements per shard (needs --chunk-elems)\n"
    "  --threads N        encoder threads (default 0: all cores)\n"
    "  --overwrite        replace OUT if it exists (otherwise an existing OUT is an\n"
    "                     error and is left untouched)\n"
    "\n"
    "A progress bar is drawn on stderr while writing when stderr is a terminal.\n"
    "On success one summary line is printed on stdout.\n"
    "\n"
    "exit status: 0 written, 2 bad usage or the store could not be written.\n";

/* ---- deterministic PRNG (splitmix64) ------------------------------------------------ */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static uint64_t rng_below(rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }
static double rng_normal(rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* ---- building blocks ------------------------------------------------------------------ */

typedef struct synth_params {
    uint64_t cells, genes, seed;
    double density;
} synth_params;

#define NCLUSTERS_MAX 8
#define NPCA 10
#define KNN 10

static const char *const cell_type_names[NCLUSTERS_MAX] = {
    "T cell", "B cell", "NK cell", "monocyte", "dendritic cell", "platelet", "erythrocyte", "progenitor"};

/* A growable buffer for generated entries. */
typedef struct vec {
    void *p;
    size_t n, cap, elem;
} vec;

static lstar_status vec_reserve(vec *v, size_t need, lstar_error *err) {
    if (need <= v->cap) return LSTAR_OK;
    size_t ncap = v->cap ? v->cap : 1024;
    while (ncap < need) ncap *= 2;
    void *np = lstar_realloc(v->p, ncap * v->elem);
    if (!np) {
        if (err) {
            err->status = LSTAR_ERR_NOMEM;
            snprintf(err->message, sizeof err->message, "out of memory (%zu entries)", ncap);
            err->where[0] = '\0';
        }
        return LSTAR_ERR_NOMEM;
    }
    v->p = np;
    v->cap = ncap;
    return LSTAR_OK;
}

static lstar_status nomem(lstar_error *err) {
    if (err) {
        err->status = LSTAR_ERR_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
        err->where[0] = '\0';
    }
    return LSTAR_ERR_NOMEM;
}

/* Labels "<prefix>0", "<prefix>1", … */
static lstar_status make_labels(const char *prefix, uint64_t n, lstar_strings *s, lstar_error *err) {
    lstar_status st = lstar_strings_init(s, err);
    char buf[64];
    for (uint64_t i = 0; st == LSTAR_OK && i < n; i++) {
        int len = snprintf(buf, sizeof buf, "%s%llu", prefix, (unsigned long long)i);
        st = lstar_strings_append(s, buf, (size_t)len, err);
    }
    if (st != LSTAR_OK) lstar_strings_destroy(s);
    return st;
}

static lstar_status add_axis(lstar_dataset *ds, const char *name, const char *prefix, uint64_t n,
                             const char *origin, const char *role, lstar_error *err) {
    lstar_strings labels;
    lstar_axis *ax = NULL;
    lstar_status st = make_labels(prefix, n, &labels, err);
    if (st != LSTAR_OK) return st;
    st = lstar_dataset_add_axis(ds, name, &labels, &ax, err);
    if (st == LSTAR_OK) st = lstar_axis_set_origin(ax, origin, err);
    if (st == LSTAR_OK) st = lstar_axis_set_role(ax, role, err);
    return st;
}

/* Copy `n` elements of `size` bytes into a new owned 1-D memory array. */
static lstar_status owned_copy(lstar_dtype dt, const void *src, uint64_t n, lstar_array **out, lstar_error *err) {
    size_t bytes = (size_t)n * lstar_dtype_size(dt);
    void *p = lstar_malloc(bytes ? bytes : 1);
    if (!p) return nomem(err);
    if (bytes) memcpy(p, src, bytes);
    uint64_t shape[1] = {n};
    return lstar_array_new_owned(dt, 1, shape, p, out, err);
}

/* Attach data/indices/indptr (copies of the int arrays, data owned) to a csr field.
 * `data` is consumed.  indptr is stored as int32 when nnz < 2^31, else int64. */
static lstar_status set_csr(lstar_field *f, float *data, const int32_t *indices, const int64_t *indptr,
                            uint64_t nrows, uint64_t nnz, lstar_error *err) {
    lstar_array *a = NULL;
    uint64_t shape[1] = {nnz};
    lstar_status st = lstar_array_new_owned(LSTAR_DTYPE_FLOAT32, 1, shape, data, &a, err);
    if (st == LSTAR_OK) st = lstar_field_set_array(f, "data", a, err);
    if (st == LSTAR_OK) st = owned_copy(LSTAR_DTYPE_INT32, indices, nnz, &a, err);
    if (st == LSTAR_OK) st = lstar_field_set_array(f, "indices", a, err);
    if (st != LSTAR_OK) return st;
    if (nnz < ((uint64_t)1 << 31)) {
        int32_t *p32 = lstar_malloc((size_t)(nrows + 1) * sizeof *p32);
        if (!p32) return nomem(err);
        for (uint64_t i = 0; i <= nrows; i++) p32[i] = (int32_t)indptr[i];
        shape[0] = nrows + 1;
        st = lstar_array_new_owned(LSTAR_DTYPE_INT32, 1, shape, p32, &a, err);
    } else {
        st = owned_copy(LSTAR_DTYPE_INT64, indptr, nrows + 1, &a, err);
    }
    if (st == LSTAR_OK) st = lstar_field_set_array(f, "indptr", a, err);
    return st;
}

static lstar_status new_field(lstar_dataset *ds, const char *name, lstar_encoding enc, size_t nspan,
                              const char *const *span, const char *role, const char *state, lstar_field **f,
                              lstar_error *err) {
    lstar_status st = lstar_dataset_add_field(ds, name, enc, nspan, span, f, err);
    if (st == LSTAR_OK && role) st = lstar_field_set_role(*f, role, err);
    if (st == LSTAR_OK && state) st = lstar_field_set_state(*f, state, err);
    return st;
}

/* ---- the dataset ------------------------------------------------------------------------ */

typedef struct synth_stats {
    uint64_t nnz, knn_nnz;
    int clusters;
} synth_stats;

static lstar_status build(const synth_params *sp, lstar_dataset *ds, synth_stats *stats, lstar_error *err) {
    const uint64_t N = sp->cells, G = sp->genes;
    const int K = N < NCLUSTERS_MAX ? (int)N : NCLUSTERS_MAX;
    rng r = {sp->seed};
    lstar_status st = LSTAR_OK;
    int32_t *cluster = NULL;
    int64_t *indptr = NULL;
    double *totals = NULL, *centre = NULL;
    float *pca = NULL;
    vec counts = {NULL, 0, 0, sizeof(float)}, idx = {NULL, 0, 0, sizeof(int32_t)};
    float *xdata = NULL;
    uint64_t **members = NULL;
    uint64_t *member_n = NULL;
    vec kidx = {NULL, 0, 0, sizeof(int32_t)}, kw = {NULL, 0, 0, sizeof(float)};
    int64_t *kptr = NULL;
    lstar_field *f = NULL;
    const char *span_cg[2] = {"cells", "genes"}, *span_cp[2] = {"cells", "pca"}, *span_c[1] = {"cells"},
               *span_cc[2] = {"cells", "cells"};
    uint64_t dims[2];

    cluster = lstar_malloc((size_t)N * sizeof *cluster);
    indptr = lstar_malloc((size_t)(N + 1) * sizeof *indptr);
    totals = lstar_calloc((size_t)N, sizeof *totals);
    centre = lstar_malloc((size_t)K * NPCA * sizeof *centre);
    pca = lstar_malloc((size_t)N * NPCA * sizeof *pca);
    kptr = lstar_malloc((size_t)(N + 1) * sizeof *kptr);
    member_n = lstar_calloc((size_t)K, sizeof *member_n);
    members = lstar_calloc((size_t)K, sizeof *members);
    if (!cluster || !indptr || !totals || !centre || !pca || !kptr || !member_n || !members) {
        st = nomem(err);
        goto done;
    }

    /* clusters, then counts: each entry present with probability `density`
     * (geometric gaps), genes of the cell's cluster block expressed higher */
    for (uint64_t i = 0; i < N; i++) cluster[i] = (int32_t)rng_below(&r, (uint64_t)K);
    const double log_q = sp->density < 1.0 ? log1p(-sp->density) : 0.0;
    indptr[0] = 0;
    for (uint64_t i = 0; i < N; i++) {
        uint64_t j = 0;
        for (;;) {
            if (sp->density < 1.0) {
                double gap = floor(log1p(-rng_uniform(&r)) / log_q);
                if (gap >= (double)(G - j)) break;
                j += (uint64_t)gap;
            }
            if (j >= G) break;
            double mean = (j % (uint64_t)K == (uint64_t)cluster[i]) ? 6.0 : 1.5;
            double v = 1.0 + floor(-log1p(-rng_uniform(&r)) * mean);
            if (v > 1000.0) v = 1000.0;
            if ((st = vec_reserve(&counts, counts.n + 1, err)) != LSTAR_OK) goto done;
            if ((st = vec_reserve(&idx, idx.n + 1, err)) != LSTAR_OK) goto done;
            ((float *)counts.p)[counts.n++] = (float)v;
            ((int32_t *)idx.p)[idx.n++] = (int32_t)j;
            totals[i] += v;
            j++;
        }
        indptr[i + 1] = (int64_t)counts.n;
    }
    const uint64_t nnz = counts.n;
    stats->nnz = nnz;
    stats->clusters = K;

    /* X = log1p(counts / total * 1e4) */
    xdata = lstar_malloc((size_t)(nnz ? nnz : 1) * sizeof *xdata);
    if (!xdata) {
        st = nomem(err);
        goto done;
    }
    for (uint64_t i = 0; i < N; i++)
        for (int64_t p = indptr[i]; p < indptr[i + 1]; p++)
            xdata[p] = (float)log1p((double)((float *)counts.p)[p] / totals[i] * 1e4);

    /* pca: cluster centres + noise */
    for (int c = 0; c < K; c++)
        for (int k = 0; k < NPCA; k++) centre[c * NPCA + k] = rng_normal(&r) * (k < 3 ? 6.0 : 1.5);
    for (uint64_t i = 0; i < N; i++)
        for (int k = 0; k < NPCA; k++)
            pca[i * NPCA + (uint64_t)k] = (float)(centre[cluster[i] * NPCA + k] + rng_normal(&r));

    /* knn: up to KNN distinct neighbours from the same cluster, weight 1/(1+distance) */
    for (uint64_t i = 0; i < N; i++) member_n[cluster[i]]++;
    for (int c = 0; c < K; c++) {
        members[c] = lstar_malloc((size_t)(member_n[c] ? member_n[c] : 1) * sizeof **members);
        if (!members[c]) {
            st = nomem(err);
            goto done;
        }
        member_n[c] = 0;
    }
    for (uint64_t i = 0; i < N; i++) members[cluster[i]][member_n[cluster[i]]++] = i;
    kptr[0] = 0;
    for (uint64_t i = 0; i < N; i++) {
        const uint64_t *m = members[cluster[i]];
        uint64_t mn = member_n[cluster[i]];
        uint64_t pick[KNN];
        int np = 0;
        if (mn - 1 <= KNN) {
            for (uint64_t t = 0; t < mn; t++)
                if (m[t] != i) pick[np++] = m[t];
        } else {
            while (np < KNN) {
                uint64_t cand = m[rng_below(&r, mn)];
                int dup = cand == i;
                for (int t = 0; t < np && !dup; t++) dup = pick[t] == cand;
                if (!dup) pick[np++] = cand;
            }
        }
        for (int a = 1; a < np; a++) /* insertion sort: canonical CSR */
            for (int b = a; b > 0 && pick[b - 1] > pick[b]; b--) {
                uint64_t t = pick[b];
                pick[b] = pick[b - 1];
                pick[b - 1] = t;
            }
        if ((st = vec_reserve(&kidx, kidx.n + (size_t)np, err)) != LSTAR_OK) goto done;
        if ((st = vec_reserve(&kw, kw.n + (size_t)np, err)) != LSTAR_OK) goto done;
        for (int t = 0; t < np; t++) {
            double d2 = 0;
            for (int k = 0; k < NPCA; k++) {
                double d = (double)pca[i * NPCA + (uint64_t)k] - (double)pca[pick[t] * NPCA + (uint64_t)k];
                d2 += d * d;
            }
            ((int32_t *)kidx.p)[kidx.n++] = (int32_t)pick[t];
            ((float *)kw.p)[kw.n++] = (float)(1.0 / (1.0 + sqrt(d2)));
        }
        kptr[i + 1] = (int64_t)kidx.n;
    }
    stats->knn_nnz = kidx.n;

    /* ---- assemble the dataset ---- */
    if ((st = lstar_dataset_add_profile(ds, "lstar-synth@0.1", err)) != LSTAR_OK) goto done;
    if ((st = add_axis(ds, "cells", "cell", N, "observed", "observation", err)) != LSTAR_OK) goto done;
    if ((st = add_axis(ds, "genes", "gene", G, "observed", "feature", err)) != LSTAR_OK) goto done;
    if ((st = add_axis(ds, "pca", "pca", NPCA, "derived", "coordinate", err)) != LSTAR_OK) goto done;

    /* counts */
    dims[0] = N;
    dims[1] = G;
    if ((st = new_field(ds, "counts", LSTAR_ENC_CSR, 2, span_cg, "measure", "raw", &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 2, dims, err)) != LSTAR_OK) goto done;
    {
        char prov[256];
        snprintf(prov, sizeof prov, "{\"generator\": \"lstar synth\", \"seed\": %llu, \"density\": %.17g}",
                 (unsigned long long)sp->seed, sp->density);
        if ((st = lstar_field_set_provenance(f, prov, err)) != LSTAR_OK) goto done;
    }
    st = set_csr(f, counts.p, idx.p, indptr, N, nnz, err);
    counts.p = NULL; /* consumed */
    if (st != LSTAR_OK) goto done;

    /* X */
    if ((st = new_field(ds, "X", LSTAR_ENC_CSR, 2, span_cg, "measure", "lognorm", &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 2, dims, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_provenance(f, "{\"recipe\": \"log1p(counts / total * 1e4)\"}", err)) != LSTAR_OK)
        goto done;
    st = set_csr(f, xdata, idx.p, indptr, N, nnz, err);
    xdata = NULL;
    if (st != LSTAR_OK) goto done;

    /* pca */
    dims[1] = NPCA;
    if ((st = new_field(ds, "pca", LSTAR_ENC_DENSE, 2, span_cp, "embedding", NULL, &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 2, dims, err)) != LSTAR_OK) goto done;
    {
        lstar_array *a = NULL;
        st = lstar_array_new_owned(LSTAR_DTYPE_FLOAT32, 2, dims, pca, &a, err);
        pca = NULL;
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "values", a, err);
        if (st != LSTAR_OK) goto done;
    }

    /* n_counts */
    if ((st = new_field(ds, "n_counts", LSTAR_ENC_DENSE, 1, span_c, "measure", NULL, &f, err)) != LSTAR_OK)
        goto done;
    if ((st = lstar_field_set_shape(f, 1, dims, err)) != LSTAR_OK) goto done;
    {
        lstar_array *a = NULL;
        st = lstar_array_new_owned(LSTAR_DTYPE_FLOAT64, 1, dims, totals, &a, err);
        totals = NULL;
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "values", a, err);
        if (st != LSTAR_OK) goto done;
    }

    /* leiden (categorical) → the leiden factor axis */
    if ((st = new_field(ds, "leiden", LSTAR_ENC_CATEGORICAL, 1, span_c, "label", NULL, &f, err)) != LSTAR_OK)
        goto done;
    if ((st = lstar_field_set_shape(f, 1, dims, err)) != LSTAR_OK) goto done;
    lstar_field_set_ordered(f, 0);
    {
        lstar_array *a = NULL;
        lstar_strings cats;
        st = owned_copy(LSTAR_DTYPE_INT32, cluster, N, &a, err);
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "codes", a, err);
        if (st == LSTAR_OK) st = make_labels("", (uint64_t)K, &cats, err);
        if (st == LSTAR_OK) st = lstar_array_new_strings(&cats, &a, err);
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "categories", a, err);
        if (st != LSTAR_OK) goto done;
    }
    if ((st = lstar_dataset_induce_factor(ds, "leiden", 1, NULL, err)) != LSTAR_OK) goto done;

    /* cell_type (utf8) */
    if ((st = new_field(ds, "cell_type", LSTAR_ENC_UTF8, 1, span_c, "label", NULL, &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 1, dims, err)) != LSTAR_OK) goto done;
    {
        lstar_strings s;
        lstar_array *a = NULL;
        st = lstar_strings_init(&s, err);
        for (uint64_t i = 0; st == LSTAR_OK && i < N; i++) {
            const char *name = cell_type_names[cluster[i]];
            st = lstar_strings_append(&s, name, strlen(name), err);
        }
        if (st != LSTAR_OK) {
            lstar_strings_destroy(&s);
            goto done;
        }
        st = lstar_array_new_strings(&s, &a, err);
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "values", a, err);
        if (st != LSTAR_OK) goto done;
    }

    /* pct_mt (nullable) */
    if ((st = new_field(ds, "pct_mt", LSTAR_ENC_DENSE, 1, span_c, "measure", NULL, &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 1, dims, err)) != LSTAR_OK) goto done;
    {
        float *v = lstar_malloc((size_t)N * sizeof *v);
        uint8_t *mask = lstar_malloc((size_t)N);
        if (!v || !mask) {
            lstar_free(v);
            lstar_free(mask);
            st = nomem(err);
            goto done;
        }
        uint64_t missing = 0;
        for (uint64_t i = 0; i < N; i++) {
            int miss = rng_uniform(&r) < 0.02;
            double pct = 1.0 + 9.0 * rng_uniform(&r);
            mask[i] = (uint8_t)miss;
            v[i] = miss ? 0.0f : (float)pct;
            missing += (uint64_t)miss;
        }
        if (missing == 0 && N >= 2) { /* keep "a few missing" true for small N */
            mask[N - 1] = 1;
            v[N - 1] = 0.0f;
        }
        lstar_array *a = NULL;
        st = lstar_array_new_owned(LSTAR_DTYPE_FLOAT32, 1, dims, v, &a, err);
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "values", a, err);
        if (st != LSTAR_OK) {
            lstar_free(mask);
            goto done;
        }
        st = lstar_array_new_owned(LSTAR_DTYPE_UINT8, 1, dims, mask, &a, err);
        if (st == LSTAR_OK) st = lstar_field_set_array(f, "mask", a, err);
        if (st != LSTAR_OK) goto done;
    }

    /* knn */
    dims[1] = N;
    if ((st = new_field(ds, "knn", LSTAR_ENC_CSR, 2, span_cc, "relation", NULL, &f, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_shape(f, 2, dims, err)) != LSTAR_OK) goto done;
    if ((st = lstar_field_set_subtype(f, "similarity", err)) != LSTAR_OK) goto done;
    lstar_field_set_directed(f, 1);
    lstar_field_set_weighted(f, 1);
    st = set_csr(f, kw.p, kidx.p, kptr, N, kidx.n, err);
    kw.p = NULL;
    if (st != LSTAR_OK) goto done;

done:
    lstar_free(cluster);
    lstar_free(indptr);
    lstar_free(totals);
    lstar_free(centre);
    lstar_free(pca);
    lstar_free(kptr);
    lstar_free(counts.p);
    lstar_free(idx.p);
    lstar_free(xdata);
    lstar_free(kidx.p);
    lstar_free(kw.p);
    if (members)
        for (int c = 0; c < K; c++) lstar_free(members[c]);
    lstar_free(members);
    lstar_free(member_n);
    return st;
}

/* Sum of the object sizes in the written store (for the summary line). */
typedef struct size_ctx {
    lstar_store *store;
    uint64_t total;
} size_ctx;

static int size_cb(void *ud, const char *key) {
    size_ctx *c = ud;
    uint64_t sz = 0;
    lstar_error err = {0};
    if (lstar_store_size(c->store, key, &sz, &err) == LSTAR_OK) c->total += sz;
    return 0;
}

static int store_bytes(const char *path, uint64_t *total) {
    lstar_store *s = NULL;
    lstar_error err = {0};
    if (lstar_store_open_dir(path, LSTAR_STORE_READ, &s, &err) != LSTAR_OK) return -1;
    size_ctx c = {s, 0};
    lstar_status st = lstar_store_list(s, "", size_cb, &c, &err);
    lstar_store_close(s);
    *total = c.total;
    return st == LSTAR_OK ? 0 : -1;
}

static int run(int argc, char **argv) {
    synth_params sp = {500, 2000, 1, 0.1};
    int zarr_format = 2, threads = 0, overwrite = 0, help = 0;
    uint64_t chunk_elems = 0, shard_elems = 0;
    const char *compression = "none";
    int seen_shard = 0;
    const cli_opt opts[] = {
        {"cells", CLI_OPT_U64, &sp.cells, NULL},
        {"genes", CLI_OPT_U64, &sp.genes, NULL},
        {"density", CLI_OPT_DOUBLE, &sp.density, NULL},
        {"seed", CLI_OPT_U64, &sp.seed, NULL},
        {"zarr-format", CLI_OPT_INT, &zarr_format, NULL},
        {"compression", CLI_OPT_STRING, &compression, NULL},
        {"chunk-elems", CLI_OPT_U64, &chunk_elems, NULL},
        {"shard-elems", CLI_OPT_U64, &shard_elems, &seen_shard},
        {"threads", CLI_OPT_INT, &threads, NULL},
        {"overwrite", CLI_OPT_FLAG, &overwrite, NULL},
    };
    const char *pos[1];
    size_t npos = 0;
    if (cli_parse(VERB, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 1, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 1) return cli_error(VERB, NULL, "expected one OUT path (see 'lstar help synth')");
    const char *out = pos[0];
    if (sp.cells < 1 || sp.cells > 0x7fffffffull) return cli_error(VERB, NULL, "--cells must be in [1, 2^31)");
    if (sp.genes < 1 || sp.genes > 0x7fffffffull) return cli_error(VERB, NULL, "--genes must be in [1, 2^31)");
    if (!(sp.density > 0.0 && sp.density <= 1.0)) return cli_error(VERB, NULL, "--density must be in (0, 1]");
    if ((double)sp.cells * (double)sp.genes * sp.density > 1e9)
        return cli_error(VERB, NULL, "about %.3g nonzeros requested; synth builds in memory and stops at 1e9",
                         (double)sp.cells * (double)sp.genes * sp.density);
    if (zarr_format != 2 && zarr_format != 3) return cli_error(VERB, NULL, "--zarr-format must be 2 or 3");
    if (seen_shard && shard_elems && zarr_format != 3)
        return cli_error(VERB, NULL, "--shard-elems needs --zarr-format 3");
    if (shard_elems && !chunk_elems) return cli_error(VERB, NULL, "--shard-elems needs --chunk-elems");
    if (threads > LSTAR_MAX_THREADS) return cli_error(VERB, NULL, "--threads must be at most %d", LSTAR_MAX_THREADS);
    {
        lstar_error cerr = {0};
        lstar_codec *codec = NULL;
        if (lstar_codec_from_spec(compression, LSTAR_DTYPE_FLOAT32, 0, &codec, &cerr) != LSTAR_OK)
            return cli_error(VERB, NULL, "--compression %s: %s", compression,
                             cerr.message[0] ? cerr.message : lstar_status_message(cerr.status));
        lstar_codec_free(codec);
    }
    struct stat st_out;
    if (!overwrite && lstat(out, &st_out) == 0)
        return cli_error(VERB, out, "already exists (use --overwrite to replace it)");

    lstar_error err = {0};
    lstar_dataset *ds = NULL;
    synth_stats stats = {0};
    int rc = CLI_EXIT_ERROR;
    if (lstar_dataset_new(&ds, &err) != LSTAR_OK || build(&sp, ds, &stats, &err) != LSTAR_OK) {
        rc = cli_error_lstar(VERB, NULL, &err);
        goto done;
    }
    lstar_write_options o;
    lstar_write_options_init(&o);
    o.zarr_format = zarr_format;
    o.compression = compression;
    o.chunk_elems = chunk_elems;
    o.shard_elems = shard_elems;
    o.threads = threads;
    o.overwrite = overwrite;
    cli_progress prog;
    cli_progress_init(&prog, "writing");
    o.progress = cli_progress_cb;
    o.progress_ud = &prog;
    lstar_status wst = lstar_dataset_write(ds, out, &o, &err);
    cli_progress_finish(&prog);
    if (wst != LSTAR_OK) {
        rc = cli_error_lstar(VERB, out, &err);
        goto done;
    }
    uint64_t bytes = 0;
    char hb[32];
    if (store_bytes(out, &bytes) == 0)
        cli_human_bytes(bytes, hb, sizeof hb);
    else
        snprintf(hb, sizeof hb, "?");
    printf("wrote %s: %llu cells x %llu genes, %llu nonzeros, %d clusters, %zu axes, %zu fields (Zarr v%d, %s)\n", out,
           (unsigned long long)sp.cells, (unsigned long long)sp.genes, (unsigned long long)stats.nnz, stats.clusters,
           lstar_dataset_axis_count(ds), lstar_dataset_field_count(ds), zarr_format, hb);
    rc = CLI_EXIT_OK;
done:
    lstar_dataset_free(ds);
    return rc;
}

const cli_verb cli_verb_synth = {
    VERB,
    "write a synthetic demo dataset (counts, X, pca, leiden, knn, …) as an L★ store",
    usage,
    run,
};
