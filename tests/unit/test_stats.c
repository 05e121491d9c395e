/* Unit tests: lstar_stats_compute (per-column / per-row statistics) and
 * lstar_dataset_append_fields.
 *
 * References are computed here in long double two-pass form from the same
 * values; the upstream reference vector (fixture_python.json) is checked to
 * 1e-10 relative. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lstar/lstar.h"
#include "lstar/stats.h"
#include "test_support.h"

/* ---- helpers ------------------------------------------------------------------ */

static lstar_array *arr(lstar_dtype t, uint64_t n, const void *data) {
    lstar_array *a = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_array_new_copy(t, 1, &n, data, &a, &e);
    if (st != LSTAR_OK) print_message("lstar_array_new_copy: %s\n", e.message);
    assert_int_equal(st, LSTAR_OK);
    return a;
}

/* A sparse/dense matrix built from a dense row-major double matrix. */
typedef struct mat {
    lstar_array *data, *indices, *indptr, *values;
    lstar_stats_matrix m;
} mat;

static void mat_free(mat *x) {
    lstar_array_free(x->data);
    lstar_array_free(x->indices);
    lstar_array_free(x->indptr);
    lstar_array_free(x->values);
    memset(x, 0, sizeof *x);
}

/* stored[i*nc+j] != 0 marks a stored entry (so explicit zeros can be stored). */
static mat make(lstar_encoding enc, uint64_t nr, uint64_t nc, const double *v, const unsigned char *stored) {
    mat x;
    memset(&x, 0, sizeof x);
    x.m.encoding = enc;
    x.m.nrows = nr;
    x.m.ncols = nc;
    if (enc == LSTAR_ENC_DENSE) {
        lstar_error e;
        lstar_error_clear(&e);
        uint64_t shape[2] = {nr, nc};
        assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 2, shape, v, &x.values, &e), LSTAR_OK);
        x.m.values = x.values;
        return x;
    }
    uint64_t major = enc == LSTAR_ENC_CSR ? nr : nc, minor = enc == LSTAR_ENC_CSR ? nc : nr;
    double *d = malloc((nr * nc + 1) * sizeof *d);
    int32_t *ix = malloc((nr * nc + 1) * sizeof *ix);
    int64_t *ip = malloc((major + 1) * sizeof *ip);
    uint64_t k = 0;
    ip[0] = 0;
    for (uint64_t a = 0; a < major; a++) {
        for (uint64_t b = 0; b < minor; b++) {
            uint64_t i = enc == LSTAR_ENC_CSR ? a : b, j = enc == LSTAR_ENC_CSR ? b : a;
            int s = stored ? stored[i * nc + j] : v[i * nc + j] != 0;
            if (!s) continue;
            d[k] = v[i * nc + j];
            ix[k] = (int32_t)b;
            k++;
        }
        ip[a + 1] = (int64_t)k;
    }
    x.data = arr(LSTAR_DTYPE_FLOAT64, k, d);
    x.indices = arr(LSTAR_DTYPE_INT32, k, ix);
    x.indptr = arr(LSTAR_DTYPE_INT64, major + 1, ip);
    x.m.data = x.data;
    x.m.indices = x.indices;
    x.m.indptr = x.indptr;
    free(d);
    free(ix);
    free(ip);
    return x;
}

static lstar_stats *compute(const lstar_stats_matrix *m, const lstar_stats_options *o) {
    lstar_stats *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    lstar_status st = lstar_stats_compute(m, o, &s, &e);
    if (st != LSTAR_OK) print_message("lstar_stats_compute: %s: %s\n", e.where, e.message);
    assert_int_equal(st, LSTAR_OK);
    return s;
}

static void assert_rel(double got, double want, double tol) {
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    double d = fabs(got - want), s = fabs(want);
    if (!(d <= tol * (s > 0 ? s : 1))) {
        print_message("got %.17g want %.17g (rel %.3g)\n", got, want, s > 0 ? d / s : d);
        fail();
    }
}

/* Two-pass reference in long double over a dense row-major matrix (the
 * per-element values — x·factor, log1p — are the same doubles the library
 * computes; the reference differs in how it sums them). */
static void reference(uint64_t nr, uint64_t nc, const double *v, int lognorm, const double *factor, int population,
                      double *mean, double *var) {
    for (uint64_t j = 0; j < nc; j++) {
        long double s = 0, q = 0;
        for (uint64_t i = 0; i < nr; i++) {
            double x = v[i * nc + j] * (factor ? factor[i] : 1.0);
            s += lognorm ? (long double)log1p(x) : x;
        }
        long double mu = s / nr;
        for (uint64_t i = 0; i < nr; i++) {
            double x = v[i * nc + j] * (factor ? factor[i] : 1.0);
            long double y = lognorm ? (long double)log1p(x) : x;
            q += (y - mu) * (y - mu);
        }
        mean[j] = (double)mu;
        var[j] = nr - (population ? 0 : 1) > 0 ? (double)(q / (nr - (population ? 0 : 1))) : 0;
    }
}

static int same_stats(const lstar_stats *a, const lstar_stats *b) {
    size_t nc = (size_t)a->ncols, nr = (size_t)a->nrows;
    if ((a->col_mean != NULL) != (b->col_mean != NULL)) return 0;
    if (a->col_mean && (memcmp(a->col_mean, b->col_mean, nc * 8) || memcmp(a->col_var, b->col_var, nc * 8) ||
                        memcmp(a->col_nnz, b->col_nnz, nc * 8)))
        return 0;
    if (a->row_total && (memcmp(a->row_total, b->row_total, nr * 8) ||
                         memcmp(a->row_detected, b->row_detected, nr * 8)))
        return 0;
    if (a->row_group_pct && memcmp(a->row_group_pct, b->row_group_pct, nr * 8)) return 0;
    return 1;
}

/* ---- upstream reference vector ---------------------------------------------------- */

static void test_upstream_fixture(void **state) {
    (void)state;
    json_error_t je;
    json_t *doc = json_load_file(LSTAR_SHARED_DATA "/kharchenkolab_lstar/js/test/fixture_python.json", 0, &je);
    if (!doc) {
        print_message("fixture not found: %s\n", je.text);
        fail();
    }
    uint64_t nrows = (uint64_t)json_integer_value(json_object_get(doc, "nrows"));
    uint64_t ncols = (uint64_t)json_integer_value(json_object_get(doc, "ncols"));
    json_t *jd = json_object_get(doc, "data"), *jp = json_object_get(doc, "indptr");
    size_t nnz = json_array_size(jd);
    assert_int_equal(json_array_size(jp), ncols + 1);
    double *d = malloc(nnz * sizeof *d);
    int64_t *ip = malloc((ncols + 1) * sizeof *ip);
    int32_t *ix = malloc(nnz * sizeof *ix);
    for (size_t k = 0; k < nnz; k++) d[k] = json_real_value(json_array_get(jd, k));
    for (size_t k = 0; k <= ncols; k++) ip[k] = json_integer_value(json_array_get(jp, k));
    /* the fixture has no indices; statistics without depth do not depend on
     * them — place each column's entries on rows 0, 1, … */
    for (size_t j = 0; j < ncols; j++)
        for (int64_t k = ip[j]; k < ip[j + 1]; k++) ix[k] = (int32_t)(k - ip[j]);
    mat x;
    memset(&x, 0, sizeof x);
    x.data = arr(LSTAR_DTYPE_FLOAT64, nnz, d);
    x.indices = arr(LSTAR_DTYPE_INT32, nnz, ix);
    x.indptr = arr(LSTAR_DTYPE_INT64, ncols + 1, ip);
    x.m = (lstar_stats_matrix){LSTAR_ENC_CSC, x.data, x.indices, x.indptr, NULL, nrows, ncols};
    for (int ln = 0; ln <= 1; ln++) {
        json_t *ref = json_object_get(doc, ln ? "lognorm_1" : "lognorm_0");
        lstar_stats_options o;
        lstar_stats_options_init(&o);
        o.lognorm = ln;
        lstar_stats *s = compute(&x.m, &o);
        for (size_t j = 0; j < ncols; j++) {
            assert_rel(s->col_mean[j], json_real_value(json_array_get(json_object_get(ref, "mean"), j)), 1e-10);
            assert_rel(s->col_var[j], json_real_value(json_array_get(json_object_get(ref, "var"), j)), 1e-10);
            assert_int_equal(s->col_nnz[j], json_integer_value(json_array_get(json_object_get(ref, "nnz"), j)));
        }
        /* small blocks, 3 threads: byte-identical */
        o.block_nnz = 7;
        o.threads = 3;
        lstar_stats *s2 = compute(&x.m, &o);
        assert_true(same_stats(s, s2));
        lstar_stats_free(s2);
        lstar_stats_free(s);
    }
    mat_free(&x);
    free(d);
    free(ip);
    free(ix);
    json_decref(doc);
}

/* ---- synthetic matrices ------------------------------------------------------------ */

/* Deterministic pseudo-random values. */
static uint64_t rng_state = 88172645463325252ull;
static double rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* nr x nc with ~density non-zeros; integer counts or non-integer values. */
static double *random_matrix(uint64_t nr, uint64_t nc, double density, int integer) {
    double *v = calloc(nr * nc, sizeof *v);
    for (uint64_t i = 0; i < nr * nc; i++)
        if (rnd() < density) v[i] = integer ? 1 + floor(rnd() * 20) : rnd() * 100 + 0.001;
    return v;
}

static void check_against_reference_ln(uint64_t nr, uint64_t nc, const double *v, const unsigned char *stored,
                                      int max_ln) {
    double *mean = malloc(nc * 8), *var = malloc(nc * 8);
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    lstar_stats *first = NULL;
    for (int ln = 0; ln <= max_ln; ln++) {
        for (int pop = 0; pop <= 1; pop++) {
            reference(nr, nc, v, ln, NULL, pop, mean, var);
            for (size_t e = 0; e < 3; e++) {
                mat x = make(encs[e], nr, nc, v, encs[e] == LSTAR_ENC_DENSE ? NULL : stored);
                lstar_stats_options o;
                lstar_stats_options_init(&o);
                o.lognorm = ln;
                o.population = pop;
                o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
                lstar_stats *s = compute(&x.m, &o);
                for (uint64_t j = 0; j < nc; j++) {
                    assert_rel(s->col_mean[j], mean[j], 1e-12);
                    assert_rel(s->col_var[j], var[j], 1e-10);
                    uint64_t want = 0;
                    for (uint64_t i = 0; i < nr; i++)
                        want += encs[e] == LSTAR_ENC_DENSE || !stored ? v[i * nc + j] != 0 : stored[i * nc + j];
                    assert_int_equal(s->col_nnz[j], want);
                }
                for (uint64_t i = 0; i < nr; i++) {
                    long double t = 0;
                    uint64_t det = 0;
                    for (uint64_t j = 0; j < nc; j++) {
                        t += v[i * nc + j];
                        det += v[i * nc + j] != 0;
                    }
                    assert_rel(s->row_total[i], (double)t, 1e-15);
                    assert_int_equal(s->row_detected[i], det);
                }
                /* the same matrix in any encoding gives the same bits (exact sums) */
                if (!first) {
                    first = s;
                } else {
                    assert_memory_equal(first->col_mean, s->col_mean, nc * 8);
                    assert_memory_equal(first->col_var, s->col_var, nc * 8);
                    assert_memory_equal(first->row_total, s->row_total, nr * 8);
                    lstar_stats_free(s);
                }
                mat_free(&x);
            }
            lstar_stats_free(first);
            first = NULL;
        }
    }
    free(mean);
    free(var);
}

static void check_against_reference(uint64_t nr, uint64_t nc, const double *v, const unsigned char *stored) {
    check_against_reference_ln(nr, nc, v, stored, 1);
}

static void test_random_counts(void **state) {
    (void)state;
    double *v = random_matrix(57, 23, 0.3, 1);
    check_against_reference(57, 23, v, NULL);
    free(v);
}

static void test_random_reals(void **state) {
    (void)state;
    double *v = random_matrix(41, 17, 0.5, 0);
    check_against_reference(41, 17, v, NULL);
    free(v);
}

/* Empty rows and columns, explicit zeros stored. */
static void test_empty_and_explicit_zeros(void **state) {
    (void)state;
    enum { NR = 6, NC = 5 };
    double v[NR * NC] = {0};
    unsigned char st[NR * NC] = {0};
    v[0 * NC + 1] = 3;
    st[0 * NC + 1] = 1;
    v[2 * NC + 1] = 5;
    st[2 * NC + 1] = 1;
    st[2 * NC + 3] = 1; /* explicit zero */
    v[5 * NC + 4] = 2;
    st[5 * NC + 4] = 1;
    st[4 * NC + 4] = 1; /* explicit zero */
    check_against_reference(NR, NC, v, st);
    /* column 0 and 2 empty: mean 0, var 0, nnz 0; column 3 only an explicit zero */
    mat x = make(LSTAR_ENC_CSR, NR, NC, v, st);
    lstar_stats *s = compute(&x.m, NULL);
    assert_true(s->col_mean[0] == 0 && s->col_var[0] == 0 && s->col_nnz[0] == 0);
    assert_true(s->col_mean[3] == 0 && s->col_var[3] == 0 && s->col_nnz[3] == 1);
    assert_int_equal(s->col_nnz[4], 2);
    lstar_stats_free(s);
    mat_free(&x);
}

static void test_single_cell(void **state) {
    (void)state;
    double v[4] = {1, 0, 7, 2};
    check_against_reference(1, 4, v, NULL);
    mat x = make(LSTAR_ENC_CSR, 1, 4, v, NULL);
    lstar_stats *s = compute(&x.m, NULL);
    for (int j = 0; j < 4; j++) assert_true(s->col_var[j] == 0); /* n - 1 = 0 */
    assert_true(s->col_mean[2] == 7);
    lstar_stats_free(s);
    mat_free(&x);
}

/* No stored entries at all; no rows at all. */
static void test_no_entries(void **state) {
    (void)state;
    double v[3 * 2] = {0};
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    for (int e = 0; e < 3; e++) {
        mat x = make(encs[e], 3, 2, v, NULL);
        lstar_stats_options o;
        lstar_stats_options_init(&o);
        o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
        o.lognorm = 1;
        o.depth_normalize = 1;
        lstar_stats *s = compute(&x.m, &o);
        for (int j = 0; j < 2; j++) assert_true(s->col_mean[j] == 0 && s->col_var[j] == 0 && s->col_nnz[j] == 0);
        for (int i = 0; i < 3; i++) assert_true(s->row_total[i] == 0 && s->row_detected[i] == 0);
        assert_true(s->depth_target == 0);
        lstar_stats_free(s);
        mat_free(&x);
        /* zero rows: mean and var undefined */
        x = make(encs[e], 0, 2, v, NULL);
        s = compute(&x.m, NULL);
        assert_true(isnan(s->col_mean[0]) && isnan(s->col_var[1]) && s->col_nnz[0] == 0);
        lstar_stats_free(s);
        mat_free(&x);
    }
}

/* Large means with a small spread: a naive Σx² − (Σx)²/n in double loses
 * everything here (mean²/var up to 1e23); the exact dd sums and the dd
 * variance keep it to 1e-10.  (The dd limit is mean²/var ≈ 2^100 · 1e-10;
 * log1p of such values would exceed it — see docs/internals/stats.md.) */
static void test_huge_values(void **state) {
    (void)state;
    enum { NR = 50, NC = 3 };
    double v[NR * NC];
    for (int i = 0; i < NR; i++) {
        v[i * NC + 0] = 1e8 + (i % 7);              /* integers > 2^26: squares inexact in double */
        v[i * NC + 1] = 1e12 + 0.25 * (i % 5);      /* reals */
        v[i * NC + 2] = i % 3 ? 1e15 : 0;           /* huge with zeros */
    }
    check_against_reference_ln(NR, NC, v, NULL, 0);
}

/* NaN in the data: NaN mean and var for its column (nnz still counts it),
 * NaN total for its row; other columns unaffected.  Inf: NaN too (documented). */
static void test_nan(void **state) {
    (void)state;
    double v[3 * 3] = {1, NAN, 2, 3, 4, 0, 0, 5, INFINITY};
    mat x = make(LSTAR_ENC_CSR, 3, 3, v, NULL);
    /* make() stores v != 0: NaN != 0 is true, so it is stored */
    lstar_stats_options o;
    lstar_stats_options_init(&o);
    o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
    lstar_stats *s = compute(&x.m, &o);
    assert_rel(s->col_mean[0], 4.0 / 3, 1e-15);
    assert_true(isnan(s->col_mean[1]) && isnan(s->col_var[1]));
    assert_int_equal(s->col_nnz[1], 3);
    assert_true(isnan(s->col_var[2]));
    assert_true(isnan(s->row_total[0]));
    assert_rel(s->row_total[1], 7, 0);
    lstar_stats_free(s);
    mat_free(&x);
}

/* Depth normalisation: default target = median of the non-zero totals; cells
 * with a zero total stay unscaled. */
static void test_depth_normalize(void **state) {
    (void)state;
    enum { NR = 9, NC = 6 };
    double *v = random_matrix(NR, NC, 0.6, 1);
    for (int j = 0; j < NC; j++) v[4 * NC + j] = 0; /* an empty cell */
    double tot[NR], factor[NR], pos[NR];
    int np = 0;
    for (int i = 0; i < NR; i++) {
        tot[i] = 0;
        for (int j = 0; j < NC; j++) tot[i] += v[i * NC + j];
        if (tot[i] > 0) pos[np++] = tot[i];
    }
    for (int a = 0; a < np; a++)
        for (int b = a + 1; b < np; b++)
            if (pos[b] < pos[a]) {
                double t = pos[a];
                pos[a] = pos[b];
                pos[b] = t;
            }
    double median = np % 2 ? pos[np / 2] : (pos[np / 2 - 1] + pos[np / 2]) / 2;
    for (int targ = 0; targ <= 1; targ++) {
        double target = targ ? 1e4 : median;
        for (int i = 0; i < NR; i++) factor[i] = tot[i] > 0 ? target / tot[i] : 1;
        double mean[NC], var[NC];
        reference(NR, NC, v, 1, factor, 0, mean, var);
        static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
        for (int e = 0; e < 3; e++) {
            mat x = make(encs[e], NR, NC, v, NULL);
            lstar_stats_options o;
            lstar_stats_options_init(&o);
            o.lognorm = 1;
            o.depth_normalize = 1;
            o.depth_target = targ ? 1e4 : 0;
            o.block_nnz = 5;
            lstar_stats *s = compute(&x.m, &o);
            assert_rel(s->depth_target, target, 0);
            assert_int_equal(s->passes, 2);
            for (int j = 0; j < NC; j++) {
                assert_rel(s->col_mean[j], mean[j], 1e-12);
                assert_rel(s->col_var[j], var[j], 1e-10);
            }
            lstar_stats_free(s);
            mat_free(&x);
        }
    }
    free(v);
}

/* Gene group share per cell. */
static void test_group_pct(void **state) {
    (void)state;
    double v[2 * 4] = {1, 3, 0, 4, 0, 0, 0, 0};
    uint8_t grp[4] = {0, 1, 0, 1};
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    for (int e = 0; e < 3; e++) {
        mat x = make(encs[e], 2, 4, v, NULL);
        lstar_stats_options o;
        lstar_stats_options_init(&o);
        o.what = LSTAR_STATS_ROWS;
        o.col_group = grp;
        lstar_stats *s = compute(&x.m, &o);
        assert_null(s->col_mean);
        assert_rel(s->row_group_pct[0], 87.5, 1e-15);
        assert_true(isnan(s->row_group_pct[1])); /* total 0 */
        assert_int_equal(s->row_detected[0], 3);
        assert_true(s->row_total[1] == 0);
        lstar_stats_free(s);
        mat_free(&x);
    }
}

/* Byte-identical results for any thread count and block size, for counts
 * (integer fast path) and reals (dd path), rows and columns, all encodings. */
static void test_invariance(void **state) {
    (void)state;
    enum { NR = 301, NC = 37 };
    static const uint64_t blocks[] = {0, 1, 3, 64, 500, 4096};
    static const int threads[] = {1, 2, 7};
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    for (int integer = 0; integer <= 1; integer++) {
        double *v = random_matrix(NR, NC, 0.4, integer);
        uint8_t grp[NC];
        for (int j = 0; j < NC; j++) grp[j] = j % 3 == 0;
        for (int ln = 0; ln <= 1; ln++) {
            lstar_stats *ref = NULL;
            for (int e = 0; e < 3; e++) {
                mat x = make(encs[e], NR, NC, v, NULL);
                for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
                    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
                        lstar_stats_options o;
                        lstar_stats_options_init(&o);
                        o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
                        o.lognorm = ln;
                        o.depth_normalize = ln; /* the two-pass path too */
                        o.block_nnz = blocks[b];
                        o.threads = threads[t];
                        o.col_group = grp;
                        lstar_stats *s = compute(&x.m, &o);
                        if (!ref) {
                            ref = s;
                            continue;
                        }
                        if (!same_stats(ref, s)) {
                            print_message("differs: integer %d lognorm %d enc %d block %llu threads %d\n", integer,
                                          ln, e, (unsigned long long)blocks[b], threads[t]);
                            fail();
                        }
                        lstar_stats_free(s);
                    }
                }
                mat_free(&x);
            }
            lstar_stats_free(ref);
        }
        free(v);
    }
}

/* ---- bad input ------------------------------------------------------------------------ */

static void expect_fail(const lstar_stats_matrix *m, lstar_status want, const char *where) {
    lstar_stats *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_stats_compute(m, NULL, &s, &e), want);
    assert_null(s);
    if (where) assert_string_equal(e.where, where);
}

static void test_bad_input(void **state) {
    (void)state;
    double v[2 * 3] = {1, 0, 2, 0, 3, 0};
    mat x = make(LSTAR_ENC_CSR, 2, 3, v, NULL);
    /* indptr that does not end at nnz */
    int64_t badp[3] = {0, 2, 2};
    lstar_array *bp = arr(LSTAR_DTYPE_INT64, 3, badp);
    lstar_stats_matrix m = x.m;
    m.indptr = bp;
    expect_fail(&m, LSTAR_ERR_CORRUPT, "indptr");
    /* index out of range */
    int32_t badi[3] = {0, 2, 3};
    lstar_array *bi = arr(LSTAR_DTYPE_INT32, 3, badi);
    m = x.m;
    m.indices = bi;
    expect_fail(&m, LSTAR_ERR_CORRUPT, "indices");
    /* wrong row count (indptr length) */
    m = x.m;
    m.nrows = 3;
    expect_fail(&m, LSTAR_ERR_CORRUPT, "indptr");
    /* string data */
    lstar_strings strs;
    lstar_error e;
    lstar_error_clear(&e);
    const char *items[3] = {"a", "b", "c"};
    assert_int_equal(lstar_strings_from_cstrs(&strs, items, 3, &e), LSTAR_OK);
    lstar_array *sa = NULL;
    assert_int_equal(lstar_array_new_strings(&strs, &sa, &e), LSTAR_OK);
    m = x.m;
    m.data = sa;
    expect_fail(&m, LSTAR_ERR_UNSUPPORTED, "data");
    /* other encodings */
    m = x.m;
    m.encoding = LSTAR_ENC_COO;
    expect_fail(&m, LSTAR_ERR_UNSUPPORTED, NULL);
    /* dense with a wrong shape */
    mat d = make(LSTAR_ENC_DENSE, 2, 3, v, NULL);
    m = d.m;
    m.ncols = 4;
    expect_fail(&m, LSTAR_ERR_SHAPE, "values");
    lstar_array_free(bp);
    lstar_array_free(bi);
    lstar_array_free(sa);
    mat_free(&x);
    mat_free(&d);
}

/* ---- matrices from fields; chunked Zarr storage ------------------------------------------ */

static lstar_dataset *dataset_with(const mat *x, lstar_encoding enc, uint64_t nr, uint64_t nc) {
    lstar_dataset *ds = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_dataset_new(&ds, &e), LSTAR_OK);
    const char *span[2] = {"cells", "genes"};
    lstar_strings cl, gl;
    char buf[32];
    assert_int_equal(lstar_strings_init(&cl, &e), LSTAR_OK);
    assert_int_equal(lstar_strings_init(&gl, &e), LSTAR_OK);
    for (uint64_t i = 0; i < nr; i++) {
        snprintf(buf, sizeof buf, "c%llu", (unsigned long long)i);
        assert_int_equal(lstar_strings_append(&cl, buf, strlen(buf), &e), LSTAR_OK);
    }
    for (uint64_t j = 0; j < nc; j++) {
        snprintf(buf, sizeof buf, "g%llu", (unsigned long long)j);
        assert_int_equal(lstar_strings_append(&gl, buf, strlen(buf), &e), LSTAR_OK);
    }
    lstar_axis *ax = NULL;
    assert_int_equal(lstar_dataset_add_axis(ds, "cells", &cl, &ax, &e), LSTAR_OK);
    assert_int_equal(lstar_dataset_add_axis(ds, "genes", &gl, &ax, &e), LSTAR_OK);
    lstar_field *f = NULL;
    assert_int_equal(lstar_dataset_add_field(ds, "X", enc, 2, span, &f, &e), LSTAR_OK);
    assert_int_equal(lstar_field_set_role(f, "measure", &e), LSTAR_OK);
    uint64_t shape[2] = {nr, nc};
    assert_int_equal(lstar_field_set_shape(f, 2, shape, &e), LSTAR_OK);
    lstar_array *copy = NULL;
    if (enc == LSTAR_ENC_DENSE) {
        assert_int_equal(lstar_array_new_copy(LSTAR_DTYPE_FLOAT64, 2, shape, lstar_array_memory(x->values), &copy, &e),
                         LSTAR_OK);
        assert_int_equal(lstar_field_set_array(f, "values", copy, &e), LSTAR_OK);
    } else {
        const lstar_array *src[3] = {x->data, x->indices, x->indptr};
        const char *names[3] = {"data", "indices", "indptr"};
        for (int k = 0; k < 3; k++) {
            uint64_t n = lstar_array_shape(src[k])[0];
            assert_int_equal(lstar_array_new_copy(lstar_array_dtype(src[k]), 1, &n, lstar_array_memory(src[k]), &copy, &e),
                             LSTAR_OK);
            assert_int_equal(lstar_field_set_array(f, names[k], copy, &e), LSTAR_OK);
        }
    }
    return ds;
}

static void test_zarr_chunking_invariance(void **state) {
    (void)state;
    enum { NR = 120, NC = 31 };
    double *v = random_matrix(NR, NC, 0.35, 0);
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    static const uint64_t chunks[] = {0, 5, 97, 1000};
    char path[512];
    for (int e = 0; e < 3; e++) {
        mat x = make(encs[e], NR, NC, v, NULL);
        lstar_stats_options o;
        lstar_stats_options_init(&o);
        o.lognorm = 1;
        o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
        lstar_stats *ref = compute(&x.m, &o);
        lstar_dataset *ds = dataset_with(&x, encs[e], NR, NC);
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            for (int fmt = 2; fmt <= 3; fmt++) {
                snprintf(path, sizeof path, "%s/stats_chunks_%d_%zu_%d_%ld.lstar.zarr", LSTAR_TEST_TMP, e, c, fmt,
                         (long)getpid());
                lstar_write_options wo;
                lstar_write_options_init(&wo);
                wo.chunk_elems = chunks[c];
                wo.zarr_format = fmt;
                wo.compression = c % 2 ? "zstd:1" : "none";
                wo.overwrite = 1;
                lstar_error err;
                lstar_error_clear(&err);
                assert_int_equal(lstar_dataset_write(ds, path, &wo, &err), LSTAR_OK);
                lstar_dataset *rd = NULL;
                assert_int_equal(lstar_dataset_read(path, &rd, &err), LSTAR_OK);
                lstar_stats_matrix m;
                assert_int_equal(lstar_stats_matrix_from_field(lstar_dataset_field(rd, "X"), &m, &err), LSTAR_OK);
                for (int t = 1; t <= 2; t++) {
                    o.threads = t;
                    o.block_nnz = (uint64_t)(t * 37);
                    lstar_stats *s = compute(&m, &o);
                    assert_true(same_stats(ref, s));
                    lstar_stats_free(s);
                }
                lstar_dataset_free(rd);
            }
        }
        lstar_dataset_free(ds);
        lstar_stats_free(ref);
        mat_free(&x);
    }
    free(v);
}

static void test_matrix_from_field_errors(void **state) {
    (void)state;
    lstar_dataset *ds = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_dataset_new(&ds, &e), LSTAR_OK);
    const char *span1[1] = {"cells"};
    lstar_field *f = NULL;
    assert_int_equal(lstar_dataset_add_field(ds, "n", LSTAR_ENC_DENSE, 1, span1, &f, &e), LSTAR_OK);
    double d[2] = {1, 2};
    assert_int_equal(lstar_field_set_array(f, "values", arr(LSTAR_DTYPE_FLOAT64, 2, d), &e), LSTAR_OK);
    lstar_stats_matrix m;
    lstar_error_clear(&e);
    assert_int_equal(lstar_stats_matrix_from_field(f, &m, &e), LSTAR_ERR_SHAPE);
    assert_string_equal(e.where, "n");
    lstar_dataset_free(ds);
}

/* ---- append -------------------------------------------------------------------------------- */

static void test_append_fields(void **state) {
    (void)state;
    enum { NR = 10, NC = 4 };
    double *v = random_matrix(NR, NC, 0.5, 1);
    mat x = make(LSTAR_ENC_CSR, NR, NC, v, NULL);
    char path[512];
    for (int fmt = 2; fmt <= 3; fmt++) {
        lstar_dataset *ds = dataset_with(&x, LSTAR_ENC_CSR, NR, NC);
        snprintf(path, sizeof path, "%s/stats_append_%d_%ld.lstar.zarr", LSTAR_TEST_TMP, fmt, (long)getpid());
        lstar_write_options wo;
        lstar_write_options_init(&wo);
        wo.zarr_format = fmt;
        wo.overwrite = 1;
        lstar_error e;
        lstar_error_clear(&e);
        assert_int_equal(lstar_dataset_write(ds, path, &wo, &e), LSTAR_OK);
        lstar_dataset_free(ds);
        /* the fields to add */
        lstar_dataset *add = NULL;
        assert_int_equal(lstar_dataset_new(&add, &e), LSTAR_OK);
        const char *span[1] = {"genes"};
        lstar_field *f = NULL;
        double mean[NC] = {1.5, 2.5, 3.5, 4.5};
        assert_int_equal(lstar_dataset_add_field(add, "X_mean", LSTAR_ENC_DENSE, 1, span, &f, &e), LSTAR_OK);
        assert_int_equal(lstar_field_set_array(f, "values", arr(LSTAR_DTYPE_FLOAT64, NC, mean), &e), LSTAR_OK);
        assert_int_equal(lstar_field_set_provenance(f, "{\"lstar stats\": {\"lognorm\": false}}", &e), LSTAR_OK);
        lstar_write_options ao;
        lstar_write_options_init(&ao);
        assert_int_equal(lstar_dataset_append_fields(path, add, &ao, &e), LSTAR_OK);
        /* again: exists */
        lstar_error_clear(&e);
        assert_int_equal(lstar_dataset_append_fields(path, add, &ao, &e), LSTAR_ERR_EXISTS);
        /* with overwrite: replaced */
        mean[0] = 9;
        assert_int_equal(lstar_field_set_array(f, "values", arr(LSTAR_DTYPE_FLOAT64, NC, mean), &e), LSTAR_OK);
        ao.overwrite = 1;
        assert_int_equal(lstar_dataset_append_fields(path, add, &ao, &e), LSTAR_OK);
        lstar_dataset *rd = NULL;
        assert_int_equal(lstar_dataset_read(path, &rd, &e), LSTAR_OK);
        assert_int_equal(lstar_dataset_field_count(rd), 2);
        const lstar_field *g = lstar_dataset_field(rd, "X_mean");
        assert_non_null(g);
        assert_non_null(strstr(lstar_field_provenance(g), "lstar stats"));
        double back[NC];
        assert_int_equal(lstar_array_read_1d_as(lstar_field_array(g, "values"), 0, NC, LSTAR_DTYPE_FLOAT64, back, &e),
                         LSTAR_OK);
        assert_memory_equal(back, mean, sizeof back);
        lstar_findings *fi = NULL;
        assert_int_equal(lstar_dataset_validate(rd, &fi, &e), LSTAR_OK);
        assert_int_equal(lstar_findings_errors(fi), 0);
        lstar_findings_free(fi);
        lstar_dataset_free(rd);
        /* a field over a missing axis / with a wrong length: refused, store unchanged */
        lstar_dataset *bad = NULL;
        assert_int_equal(lstar_dataset_new(&bad, &e), LSTAR_OK);
        const char *span2[1] = {"cells"};
        assert_int_equal(lstar_dataset_add_field(bad, "short", LSTAR_ENC_DENSE, 1, span2, &f, &e), LSTAR_OK);
        assert_int_equal(lstar_field_set_array(f, "values", arr(LSTAR_DTYPE_FLOAT64, 3, mean), &e), LSTAR_OK);
        assert_int_equal(lstar_dataset_append_fields(path, bad, &ao, &e), LSTAR_ERR_SHAPE);
        assert_int_equal(lstar_dataset_read(path, &rd, &e), LSTAR_OK);
        assert_int_equal(lstar_dataset_field_count(rd), 2);
        lstar_dataset_free(rd);
        lstar_dataset_free(bad);
        lstar_dataset_free(add);
    }
    mat_free(&x);
    free(v);
}

/* ---- allocation failure -------------------------------------------------------------------- */

/* Fail allocation N for N = 1, 2, … : every run succeeds or fails cleanly with
 * LSTAR_ERR_NOMEM and leaves nothing allocated, until no failure is injected. */
static void test_alloc_failure_walk(void **state) {
    (void)state;
    enum { NR = 23, NC = 9 };
    double *v = random_matrix(NR, NC, 0.4, 0);
    static const lstar_encoding encs[] = {LSTAR_ENC_CSR, LSTAR_ENC_CSC, LSTAR_ENC_DENSE};
    uint8_t grp[NC] = {1, 0, 1};
    for (int e = 0; e < 3; e++) {
        mat x = make(encs[e], NR, NC, v, NULL);
        for (int threads = 1; threads <= 2; threads++) {
            int done = 0;
            for (long n = 1; !done && n < 100000; n++) {
                lt_failing f;
                lstar_stats_options o;
                lstar_stats_options_init(&o);
                o.what = LSTAR_STATS_COLS | LSTAR_STATS_ROWS;
                o.lognorm = 1;
                o.depth_normalize = 1;
                o.col_group = grp;
                o.threads = threads;
                o.block_nnz = 11;
                lstar_stats *s = NULL;
                lstar_error err;
                lstar_error_clear(&err);
                lt_failing_start(&f, n, 0);
                lstar_status st = lstar_stats_compute(&x.m, &o, &s, &err);
                lstar_stats_free(s);
                lt_failing_stop();
                if (f.injected) {
                    if (st != LSTAR_ERR_NOMEM && st != LSTAR_ERR_INTERNAL) {
                        print_message("allocation %ld: status %s (%s)\n", n, lstar_status_name(st), err.message);
                        fail();
                    }
                } else {
                    assert_int_equal(st, LSTAR_OK);
                    done = 1;
                }
                assert_int_equal(f.live, 0);
            }
            assert_true(done);
        }
        mat_free(&x);
    }
    free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upstream_fixture),
        cmocka_unit_test(test_random_counts),
        cmocka_unit_test(test_random_reals),
        cmocka_unit_test(test_empty_and_explicit_zeros),
        cmocka_unit_test(test_single_cell),
        cmocka_unit_test(test_no_entries),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_nan),
        cmocka_unit_test(test_depth_normalize),
        cmocka_unit_test(test_group_pct),
        cmocka_unit_test(test_invariance),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_zarr_chunking_invariance),
        cmocka_unit_test(test_matrix_from_field_errors),
        cmocka_unit_test(test_append_fields),
        cmocka_unit_test(test_alloc_failure_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
