/* Per-column / per-row statistics of a matrix field (lstar/stats.h), on the
 * kernel stream (kernel.h) with exact double-double partial sums (dd.h).
 * Design and the determinism argument: docs/internals/stats.md. */
#include "lstar/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "stats/dd.h"
#include "stats/kernel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Values converted / transformed per inner piece (stack buffers). */
#define PIECE 512
/* log1p lookup for small non-negative integers (count data): log1p(k) for
 * k < LUT_SIZE, computed with log1p itself, so results are identical. */
#define LUT_SIZE 4096

typedef struct colacc {
    double sh, sl, qh, ql; /* Σv and Σv² as dd */
} colacc;

/* A slot's partial of one column, split by use: the scatter touches Σv, Σv²
 * and the count on every entry, so they share one aligned 32-byte record
 * (one cache line per entry, half the footprint of dd pairs + a count
 * array); the dd low parts are only touched by non-integral pieces. */
typedef struct colhot {
    double sh, qh; /* high parts of Σv and Σv² */
    uint64_t n;    /* stored entries (dense: non-zero values) */
    uint64_t unused_;
} colhot;

typedef struct collo {
    double sl, ql; /* low parts of Σv and Σv² */
} collo;

typedef struct rowacc {
    double th, tl, gh, gl; /* Σx and Σ_{group} x as dd */
} rowacc;

typedef struct slot {
    colhot *col;       /* ncols (CSR/dense) or the block's columns (CSC, absolute index); 64-byte aligned */
    void *col_mem;     /* the allocation holding col */
    collo *col_lo;     /* the dd low parts, same indexing */
    rowacc *row;       /* CSR/dense: rows [m0, m1) at row[r - m0]; CSC: all rows */
    uint64_t *row_n;   /* detected (x != 0) per row */
    uint64_t row_lo, row_hi; /* CSC: rows touched [row_lo, row_hi) */
} slot;

typedef struct ctx {
    lstar_kstream *ks;
    const lstar_stats_matrix *m;
    const lstar_stats_options *o;
    int csr, csc, dense;
    int do_cols, do_rows;      /* this pass */
    int exact_sq;              /* squares may be inexact: add their Dekker error */
    const double *factor;      /* per-row depth factor or NULL */
    const double *lut;         /* log1p table or NULL */
    slot *slots;
    size_t nslots;
    uint64_t row_span;         /* rows per slot row partial */
    double col_bound;          /* integers up to this: plain column sums are exact */
    double row_bound;          /* integers up to this: plain row sums are exact */
    /* global accumulators */
    colacc *col;
    uint64_t *col_n;
    rowacc *row;
    uint64_t *row_n;
} ctx;

void lstar_stats_options_init(lstar_stats_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->what = LSTAR_STATS_COLS;
}

void lstar_stats_free(lstar_stats *s) {
    if (!s) return;
    lstar_free(s->col_mean);
    lstar_free(s->col_var);
    lstar_free(s->col_nnz);
    lstar_free(s->row_total);
    lstar_free(s->row_detected);
    lstar_free(s->row_group_pct);
    lstar_free(s);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

lstar_status lstar_stats_median_positive(const double *v, uint64_t n, double *out, lstar_error *err) {
    *out = 0;
    if (n == 0) return LSTAR_OK;
    if (n > SIZE_MAX / sizeof(double)) return LSTAR_NOMEM(err, NULL);
    double *c = lstar_malloc((size_t)n * sizeof(double));
    if (!c) return LSTAR_NOMEM(err, NULL);
    size_t k = 0;
    for (uint64_t i = 0; i < n; i++)
        if (v[i] > 0 && isfinite(v[i])) c[k++] = v[i];
    if (k) {
        qsort(c, k, sizeof(double), cmp_double);
        *out = k % 2 ? c[k / 2] : (c[k / 2 - 1] + c[k / 2]) / 2;
    }
    lstar_free(c);
    return LSTAR_OK;
}

/* ---- conversion ------------------------------------------------------------- */

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* dst[k] = (double)src[off + k], k < n. */
static void to_double(const void *src, lstar_dtype dt, uint64_t off, size_t n, double *dst) {
#define CONV(T)                                                                                               \
    do {                                                                                                      \
        const T *s_ = (const T *)src + off;                                                                   \
        for (size_t k = 0; k < n; k++) dst[k] = (double)s_[k];                                                \
    } while (0)
    switch (dt) {
    case LSTAR_DTYPE_FLOAT32: CONV(float); break;
    case LSTAR_DTYPE_FLOAT64: CONV(double); break;
    case LSTAR_DTYPE_INT32: CONV(int32_t); break;
    case LSTAR_DTYPE_INT64: CONV(int64_t); break;
    case LSTAR_DTYPE_UINT32: CONV(uint32_t); break;
    case LSTAR_DTYPE_UINT64: CONV(uint64_t); break;
    case LSTAR_DTYPE_INT16: CONV(int16_t); break;
    case LSTAR_DTYPE_UINT16: CONV(uint16_t); break;
    case LSTAR_DTYPE_INT8: CONV(int8_t); break;
    case LSTAR_DTYPE_UINT8:
    case LSTAR_DTYPE_BOOL: CONV(uint8_t); break;
    case LSTAR_DTYPE_FLOAT16: {
        const uint16_t *s = (const uint16_t *)src + off;
        for (size_t k = 0; k < n; k++) dst[k] = (double)half_to_float(s[k]);
        break;
    }
    default:
        for (size_t k = 0; k < n; k++) dst[k] = NAN;
        break;
    }
#undef CONV
}

/* Squares of these dtypes' values are exact in double (≤ 26 significant bits
 * or float32's 24). */
static int squares_exact(lstar_dtype dt) {
    switch (dt) {
    case LSTAR_DTYPE_FLOAT32:
    case LSTAR_DTYPE_FLOAT16:
    case LSTAR_DTYPE_INT16:
    case LSTAR_DTYPE_UINT16:
    case LSTAR_DTYPE_INT8:
    case LSTAR_DTYPE_UINT8:
    case LSTAR_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

/* v[k] = transform(x[k]); rowf: per-element depth factors (or NULL), f1: one
 * factor for the piece (CSR) when rowf is NULL and factor scaling is on. */
static void transform(const ctx *c, const double *x, size_t n, const double *rowf, double f1, double *v) {
    if (c->factor) {
        if (rowf)
            for (size_t k = 0; k < n; k++) v[k] = x[k] * rowf[k];
        else
            for (size_t k = 0; k < n; k++) v[k] = x[k] * f1;
    } else {
        memcpy(v, x, n * sizeof *v);
    }
    if (c->o->lognorm) {
        if (c->lut) {
            for (size_t k = 0; k < n; k++) {
                double y = v[k];
                if (y >= 0 && y < LUT_SIZE && y == (double)(int)y)
                    v[k] = c->lut[(int)y];
                else
                    v[k] = log1p(y);
            }
        } else {
            for (size_t k = 0; k < n; k++) v[k] = log1p(v[k]);
        }
    }
}

/* Integrality scan of a piece: *allint = every |v[k]| is an integer
 * ((|v| + 2^52) - 2^52 == |v|; false for NaN, true for ±Inf) and *maxabs =
 * max |v[k]| (meaningful only when *allint).  "Every v[k] is an integer with
 * |v[k]| <= b" is then allint && maxabs <= b, for any b: one scan answers the
 * row and the column bound. */
typedef struct iscan {
    int allint;
    double maxabs;
} iscan;

static iscan scan_scalar(const double *v, size_t n, iscan r) {
    for (size_t k = 0; k < n; k++) {
        double a = fabs(v[k]);
        double t = (a + 0x1p52) - 0x1p52;
        r.allint &= t == a;
        r.maxabs = a > r.maxabs ? a : r.maxabs;
    }
    return r;
}

#if defined(__SSE2__)
/* The same IEEE operations two lanes at a time (compilers do not vectorise
 * the scalar loop: a double compare feeding an integer flag). */
#define ISCAN_STEP(a, good, mx)                                                                               \
    do {                                                                                                      \
        __m128d t_ = _mm_sub_pd(_mm_add_pd((a), magic), magic);                                               \
        good = _mm_and_pd(good, _mm_cmpeq_pd(t_, (a)));                                                       \
        mx = _mm_max_pd(mx, (a));                                                                             \
    } while (0)

static iscan iscan_finish(__m128d good, __m128d mx, iscan r) {
    double m[2];
    _mm_storeu_pd(m, mx);
    r.allint &= _mm_movemask_pd(good) == 3;
    if (m[0] > r.maxabs) r.maxabs = m[0];
    if (m[1] > r.maxabs) r.maxabs = m[1];
    return r;
}
#endif

static iscan scan_piece(const double *v, size_t n) {
    iscan r = {1, 0.0};
    size_t k = 0;
#if defined(__SSE2__)
    const __m128d magic = _mm_set1_pd(0x1p52), absmask = _mm_castsi128_pd(_mm_set1_epi64x(INT64_MAX));
    __m128d good0 = _mm_castsi128_pd(_mm_set1_epi32(-1)), good1 = good0, mx0 = _mm_setzero_pd(), mx1 = mx0;
    for (; k + 4 <= n; k += 4) {
        __m128d a0 = _mm_and_pd(_mm_loadu_pd(v + k), absmask), a1 = _mm_and_pd(_mm_loadu_pd(v + k + 2), absmask);
        ISCAN_STEP(a0, good0, mx0);
        ISCAN_STEP(a1, good1, mx1);
    }
    r = iscan_finish(_mm_and_pd(good0, good1), _mm_max_pd(mx0, mx1), r);
#endif
    return scan_scalar(v + k, n - k, r);
}

/* to_double and scan_piece of the result in one pass (float32 fused, the
 * common case; other dtypes convert then scan). */
static iscan to_double_scan(const void *src, lstar_dtype dt, uint64_t off, size_t n, double *dst) {
#if defined(__SSE2__)
    if (dt == LSTAR_DTYPE_FLOAT32) {
        const float *f = (const float *)src + off;
        iscan r = {1, 0.0};
        size_t k = 0;
        const __m128d magic = _mm_set1_pd(0x1p52), absmask = _mm_castsi128_pd(_mm_set1_epi64x(INT64_MAX));
        __m128d good0 = _mm_castsi128_pd(_mm_set1_epi32(-1)), good1 = good0, mx0 = _mm_setzero_pd(), mx1 = mx0;
        for (; k + 4 <= n; k += 4) {
            __m128 q = _mm_loadu_ps(f + k);
            __m128d x0 = _mm_cvtps_pd(q), x1 = _mm_cvtps_pd(_mm_movehl_ps(q, q));
            _mm_storeu_pd(dst + k, x0);
            _mm_storeu_pd(dst + k + 2, x1);
            __m128d a0 = _mm_and_pd(x0, absmask), a1 = _mm_and_pd(x1, absmask);
            ISCAN_STEP(a0, good0, mx0);
            ISCAN_STEP(a1, good1, mx1);
        }
        r = iscan_finish(_mm_and_pd(good0, good1), _mm_max_pd(mx0, mx1), r);
        for (size_t j = k; j < n; j++) dst[j] = (double)f[j];
        return scan_scalar(dst + k, n - k, r);
    }
#endif
    to_double(src, dt, off, n, dst);
    return scan_piece(dst, n);
}

/* 1 if every v[k] is an integer with |v[k]| <= bound (< 2^52): then sums of
 * them (and of their squares, given the bound) are exact in plain double
 * arithmetic and the dd accumulators can take them as hi += v with lo
 * untouched — the same exact state the dd path reaches, only faster. */
static int integral_within(iscan r, double bound) { return r.allint && r.maxabs <= bound; }

static int piece_integral(const double *v, size_t n, double bound) {
    return integral_within(scan_piece(v, n), bound);
}

/* Scatter v[k] into column partials idx[k]. */
#define SCATTER_COLS(IDX, INTEGRAL)                                                                           \
    do {                                                                                                      \
        if (INTEGRAL) {                                                                                       \
            for (size_t k = 0; k < n; k++) {                                                                  \
                colhot *a = &acc[(IDX)[k]];                                                                   \
                double y = v[k];                                                                              \
                a->sh += y;                                                                                   \
                a->qh += y * y;                                                                               \
                a->n++;                                                                                       \
            }                                                                                                 \
        } else if (exact_sq) {                                                                                \
            for (size_t k = 0; k < n; k++) {                                                                  \
                colhot *a = &acc[(IDX)[k]];                                                                   \
                collo *l = &lo[(IDX)[k]];                                                                     \
                double y = v[k], p, pe;                                                                       \
                dd_two_prod(y, y, &p, &pe);                                                                   \
                DD_ADD(a->sh, l->sl, y, 0.0);                                                                 \
                DD_ADD(a->qh, l->ql, p, pe);                                                                  \
                a->n++;                                                                                       \
            }                                                                                                 \
        } else {                                                                                              \
            for (size_t k = 0; k < n; k++) {                                                                  \
                colhot *a = &acc[(IDX)[k]];                                                                   \
                collo *l = &lo[(IDX)[k]];                                                                     \
                double y = v[k];                                                                              \
                DD_ADD(a->sh, l->sl, y, 0.0);                                                                 \
                DD_ADD(a->qh, l->ql, y * y, 0.0);                                                             \
                a->n++;                                                                                       \
            }                                                                                                 \
        }                                                                                                     \
    } while (0)

/* One column's values into one accumulator (CSC). */
static void reduce_col(colhot *a, collo *l, const double *v, size_t n, int exact_sq, double bound) {
    double sh = a->sh, sl = l->sl, qh = a->qh, ql = l->ql;
    if (piece_integral(v, n, bound)) {
        for (size_t k = 0; k < n; k++) {
            sh += v[k];
            qh += v[k] * v[k];
        }
    } else if (exact_sq) {
        for (size_t k = 0; k < n; k++) {
            double y = v[k], p, pe;
            dd_two_prod(y, y, &p, &pe);
            DD_ADD(sh, sl, y, 0.0);
            DD_ADD(qh, ql, p, pe);
        }
    } else {
        for (size_t k = 0; k < n; k++) {
            double y = v[k];
            DD_ADD(sh, sl, y, 0.0);
            DD_ADD(qh, ql, y * y, 0.0);
        }
    }
    a->sh = sh;
    l->sl = sl;
    a->qh = qh;
    l->ql = ql;
}

/* ---- work ------------------------------------------------------------------- */

static lstar_status work_sparse(ctx *c, const lstar_kblock *b, slot *s) {
    const int64_t *ip = b->indptr;
    const uint8_t *grp = c->o->col_group;
    const int exact_sq = c->exact_sq;
    double x[PIECE], tv[PIECE], rf[PIECE];
    colhot *acc = s->col;
    collo *lo = s->col_lo;
    if (c->do_cols) {
        if (c->csr) {
            memset(acc, 0, (size_t)c->m->ncols * sizeof *acc);
            memset(lo, 0, (size_t)c->m->ncols * sizeof *lo);
        } else {
            memset(acc + b->m0, 0, (size_t)(b->m1 - b->m0) * sizeof *acc);
            memset(lo + b->m0, 0, (size_t)(b->m1 - b->m0) * sizeof *lo);
        }
    }
    if (c->do_rows) {
        if (c->csr) {
            memset(s->row, 0, (size_t)(b->m1 - b->m0) * sizeof *s->row);
            memset(s->row_n, 0, (size_t)(b->m1 - b->m0) * sizeof *s->row_n);
        } else {
            s->row_lo = UINT64_MAX;
            s->row_hi = 0;
        }
    }
    for (uint64_t mj = b->m0; mj < b->m1; mj++) {
        uint64_t a0 = (uint64_t)ip[mj] > b->e0 ? (uint64_t)ip[mj] : b->e0;
        uint64_t a1 = (uint64_t)ip[mj + 1] < b->e1 ? (uint64_t)ip[mj + 1] : b->e1;
        /* per-major locals: CSR row stats / CSC column stats */
        double th = 0, tl = 0, gh = 0, gl = 0;
        uint64_t det = 0;
        for (uint64_t p0 = a0; p0 < a1; p0 += PIECE) {
            size_t n = (size_t)(a1 - p0 < PIECE ? a1 - p0 : PIECE);
            uint64_t off = p0 - b->e0;
            const iscan xs = to_double_scan(b->data, b->data_dtype, off, n, x);
            const int32_t *i32 = b->idx32 ? b->idx32 + off : NULL;
            const int64_t *i64 = b->idx64 ? b->idx64 + off : NULL;
            if (c->do_rows) {
                if (c->csr) {
                    int fast = integral_within(xs, c->row_bound);
                    if (fast) {
                        for (size_t k = 0; k < n; k++) {
                            th += x[k];
                            det += x[k] != 0;
                        }
                    } else {
                        for (size_t k = 0; k < n; k++) {
                            DD_ADD(th, tl, x[k], 0.0);
                            det += x[k] != 0;
                        }
                    }
                    if (grp) {
                        for (size_t k = 0; k < n; k++) {
                            if (!grp[i32 ? (uint64_t)i32[k] : (uint64_t)i64[k]]) continue;
                            if (fast)
                                gh += x[k];
                            else
                                DD_ADD(gh, gl, x[k], 0.0);
                        }
                    }
                } else {
                    int in_grp = grp && grp[mj];
                    for (size_t k = 0; k < n; k++) {
                        uint64_t r = i32 ? (uint64_t)i32[k] : (uint64_t)i64[k];
                        rowacc *ra = &s->row[r];
                        if (r < s->row_lo) s->row_lo = r;
                        if (r >= s->row_hi) s->row_hi = r + 1;
                        DD_ADD(ra->th, ra->tl, x[k], 0.0);
                        if (in_grp) DD_ADD(ra->gh, ra->gl, x[k], 0.0);
                        s->row_n[r] += x[k] != 0;
                    }
                }
            }
            if (c->do_cols) {
                const double *rowf = NULL;
                double f1 = 1;
                if (c->factor) {
                    if (c->csr) {
                        f1 = c->factor[mj];
                    } else {
                        for (size_t k = 0; k < n; k++) rf[k] = c->factor[i32 ? (uint64_t)i32[k] : (uint64_t)i64[k]];
                        rowf = rf;
                    }
                }
                /* without a transform the values are x itself: no copy */
                const double *v = x;
                if (c->factor || c->o->lognorm) {
                    transform(c, x, n, rowf, f1, tv);
                    v = tv;
                }
                if (c->csr) {
                    int integral = v == x ? integral_within(xs, c->col_bound) : piece_integral(v, n, c->col_bound);
                    if (i32)
                        SCATTER_COLS(i32, integral);
                    else
                        SCATTER_COLS(i64, integral);
                } else {
                    reduce_col(&acc[mj], &lo[mj], v, n, exact_sq, c->col_bound);
                    acc[mj].n += n;
                }
            }
        }
        if (c->do_rows && c->csr) {
            rowacc *ra = &s->row[mj - b->m0];
            ra->th = th;
            ra->tl = tl;
            ra->gh = gh;
            ra->gl = gl;
            s->row_n[mj - b->m0] = det;
        }
    }
    return LSTAR_OK;
}

static lstar_status work_dense(ctx *c, const lstar_kblock *b, slot *s) {
    const uint64_t ncols = c->m->ncols;
    const uint8_t *grp = c->o->col_group;
    const int exact_sq = c->exact_sq;
    double x[PIECE], v[PIECE];
    colhot *acc = s->col;
    collo *lo = s->col_lo;
    if (c->do_cols) {
        memset(acc, 0, (size_t)ncols * sizeof *acc);
        memset(lo, 0, (size_t)ncols * sizeof *lo);
    }
    for (uint64_t r = 0; r < b->nr; r++) {
        double th = 0, tl = 0, gh = 0, gl = 0;
        uint64_t det = 0;
        for (uint64_t j0 = 0; j0 < ncols; j0 += PIECE) {
            size_t n = (size_t)(ncols - j0 < PIECE ? ncols - j0 : PIECE);
            to_double(b->values, b->data_dtype, r * ncols + j0, n, x);
            if (c->do_rows) {
                for (size_t k = 0; k < n; k++) {
                    DD_ADD(th, tl, x[k], 0.0);
                    det += x[k] != 0;
                    if (grp && grp[j0 + k]) DD_ADD(gh, gl, x[k], 0.0);
                }
            }
            if (c->do_cols) {
                transform(c, x, n, NULL, c->factor ? c->factor[b->r0 + r] : 1.0, v);
                colhot *a0 = acc + j0;
                collo *l0 = lo + j0;
                for (size_t k = 0; k < n; k++) {
                    double y = v[k];
                    if (y == 0 && x[k] == 0) continue; /* zeros add nothing; not "stored" */
                    colhot *a = &a0[k];
                    collo *l = &l0[k];
                    if (exact_sq) {
                        double p, pe;
                        dd_two_prod(y, y, &p, &pe);
                        DD_ADD(a->qh, l->ql, p, pe);
                    } else {
                        DD_ADD(a->qh, l->ql, y * y, 0.0);
                    }
                    DD_ADD(a->sh, l->sl, y, 0.0);
                    a->n++;
                }
            }
        }
        if (c->do_rows) {
            rowacc *ra = &s->row[r];
            ra->th = th;
            ra->tl = tl;
            ra->gh = gh;
            ra->gl = gl;
            s->row_n[r] = det;
        }
    }
    return LSTAR_OK;
}

static lstar_status work_fn(void *ud, const lstar_kblock *b, size_t slot_i, int worker, lstar_error *err) {
    ctx *c = ud;
    (void)worker;
    (void)err;
    slot *s = &c->slots[slot_i];
    return c->dense ? work_dense(c, b, s) : work_sparse(c, b, s);
}

/* ---- ordered reduction ----------------------------------------------------------- */

static void merge_col(colacc *g, const colhot *p, const collo *pl) {
    dd s = dd_add((dd){g->sh, g->sl}, (dd){p->sh, pl->sl});
    dd q = dd_add((dd){g->qh, g->ql}, (dd){p->qh, pl->ql});
    g->sh = s.hi;
    g->sl = s.lo;
    g->qh = q.hi;
    g->ql = q.lo;
}

static void merge_row(rowacc *g, const rowacc *p) {
    dd t = dd_add((dd){g->th, g->tl}, (dd){p->th, p->tl});
    dd q = dd_add((dd){g->gh, g->gl}, (dd){p->gh, p->gl});
    g->th = t.hi;
    g->tl = t.lo;
    g->gh = q.hi;
    g->gl = q.lo;
}

static lstar_status store_fn(void *ud, const lstar_kblock *b, size_t slot_i, lstar_error *err) {
    ctx *c = ud;
    slot *s = &c->slots[slot_i];
    (void)err;
    if (c->do_cols) {
        uint64_t j0 = 0, j1 = c->m->ncols;
        if (c->csc) {
            j0 = b->m0;
            j1 = b->m1;
        }
        for (uint64_t j = j0; j < j1; j++) {
            if (!s->col[j].n) continue;
            merge_col(&c->col[j], &s->col[j], &s->col_lo[j]);
            c->col_n[j] += s->col[j].n;
        }
    }
    if (c->do_rows) {
        if (c->csc) {
            for (uint64_t r = s->row_lo; r < s->row_hi; r++) {
                merge_row(&c->row[r], &s->row[r]);
                c->row_n[r] += s->row_n[r];
                memset(&s->row[r], 0, sizeof s->row[r]);
                s->row_n[r] = 0;
            }
        } else {
            uint64_t r0 = c->dense ? b->r0 : b->m0, nr = c->dense ? b->nr : b->m1 - b->m0;
            for (uint64_t k = 0; k < nr; k++) {
                merge_row(&c->row[r0 + k], &s->row[k]);
                c->row_n[r0 + k] += s->row_n[k];
            }
        }
    }
    return LSTAR_OK;
}

/* ---- driver --------------------------------------------------------------------- */

static void *alloc_n(uint64_t n, size_t size) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX / size) return NULL;
    return lstar_calloc((size_t)n, size);
}

/* Rows a slot's row partial must hold: CSC scatters over all rows; CSR and
 * dense blocks touch at most max_span rows. */
static uint64_t max_row_span(const lstar_kstream *ks, const ctx *c) {
    return c->csc ? c->m->nrows : lstar_kstream_max_span(ks);
}

static void free_slots(ctx *c) {
    if (!c->slots) return;
    for (size_t i = 0; i < c->nslots; i++) {
        lstar_free(c->slots[i].col_mem);
        lstar_free(c->slots[i].col_lo);
        lstar_free(c->slots[i].row);
        lstar_free(c->slots[i].row_n);
    }
    lstar_free(c->slots);
    c->slots = NULL;
}

static lstar_status finish_cols(const ctx *c, lstar_stats *r) {
    uint64_t n = c->m->nrows;
    double nd = (double)n;
    double denom = c->o->population ? nd : nd - 1;
    for (uint64_t j = 0; j < c->m->ncols; j++) {
        const colacc *a = &c->col[j];
        dd S = {a->sh, a->sl}, Q = {a->qh, a->ql};
        r->col_nnz[j] = c->col_n[j];
        if (n == 0) {
            r->col_mean[j] = NAN;
            r->col_var[j] = NAN;
            continue;
        }
        r->col_mean[j] = dd_value(dd_div_d(S, nd));
        if (!isfinite(S.hi) || !isfinite(Q.hi)) {
            r->col_var[j] = NAN;
            continue;
        }
        if (denom <= 0) {
            r->col_var[j] = 0;
            continue;
        }
        dd m2 = dd_add(Q, dd_neg(dd_div_d(dd_mul(S, S), nd)));
        double v = dd_value(m2) / denom;
        r->col_var[j] = v < 0 ? 0 : v;
    }
    return LSTAR_OK;
}

lstar_status lstar_stats_matrix_from_field(const lstar_field *f, lstar_stats_matrix *m, lstar_error *err) {
    const char *name = f ? lstar_field_name(f) : NULL;
    memset(m, 0, sizeof *m);
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "field is NULL");
    if (lstar_field_span_count(f) != 2)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "field spans %zu axes; statistics need a matrix over two axes",
                          lstar_field_span_count(f));
    lstar_encoding enc = lstar_field_encoding(f);
    uint64_t dims[LSTAR_MAX_RANK];
    int rank = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
    m->encoding = enc;
    if (enc == LSTAR_ENC_DENSE) {
        m->values = lstar_field_array(f, "values");
        if (!m->values) return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, name, "dense field has no values array");
        if (lstar_array_rank(m->values) != 2)
            return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "dense values have rank %d, not 2",
                              lstar_array_rank(m->values));
        m->nrows = lstar_array_shape(m->values)[0];
        m->ncols = lstar_array_shape(m->values)[1];
        if (!lstar_dtype_is_numeric(lstar_array_dtype(m->values)))
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, name, "values of dtype %s are not numeric",
                              lstar_dtype_name(lstar_array_dtype(m->values)));
        return LSTAR_OK;
    }
    if (enc != LSTAR_ENC_CSR && enc != LSTAR_ENC_CSC)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, name, "encoding %s is not a matrix (csr, csc or dense)",
                          lstar_encoding_name(enc) ? lstar_encoding_name(enc) : "?");
    m->data = lstar_field_array(f, "data");
    m->indices = lstar_field_array(f, "indices");
    m->indptr = lstar_field_array(f, "indptr");
    if (!m->data || !m->indices || !m->indptr)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, name, "sparse field lacks data, indices or indptr");
    if (!lstar_dtype_is_numeric(lstar_array_dtype(m->data)))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, name, "values of dtype %s are not numeric",
                          lstar_dtype_name(lstar_array_dtype(m->data)));
    if (rank != 2)
        return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "sparse field has no 2-D shape");
    m->nrows = dims[0];
    m->ncols = dims[1];
    return LSTAR_OK;
}

static lstar_status run_pass(ctx *c, int do_rows, int do_cols, lstar_stats *r, lstar_error *err) {
    c->do_rows = do_rows;
    c->do_cols = do_cols;
    r->passes++;
    return lstar_kstream_run(c->ks, work_fn, store_fn, c, err);
}

lstar_status lstar_stats_compute(const lstar_stats_matrix *m, const lstar_stats_options *o, lstar_stats **out,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_stats_options defaults;
    lstar_stats *r = NULL;
    double *factor = NULL, *lut = NULL;
    ctx c;
    memset(&c, 0, sizeof c);
    if (!m || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "NULL argument");
    *out = NULL;
    if (!o) {
        lstar_stats_options_init(&defaults);
        o = &defaults;
    }
    unsigned what = o->what ? o->what : LSTAR_STATS_COLS;
    int want_cols = (what & LSTAR_STATS_COLS) != 0, want_rows = (what & LSTAR_STATS_ROWS) != 0;
    c.m = m;
    c.o = o;
    c.csr = m->encoding == LSTAR_ENC_CSR;
    c.csc = m->encoding == LSTAR_ENC_CSC;
    c.dense = m->encoding == LSTAR_ENC_DENSE;
    LSTAR_CHECK(lstar_kstream_new(m, o->block_nnz, o->threads, &c.ks, err));
    r = lstar_calloc(1, sizeof *r);
    if (!r) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    r->nrows = m->nrows;
    r->ncols = m->ncols;
    r->nnz = lstar_kstream_nnz(c.ks);
    int need_rows = want_rows || (want_cols && o->depth_normalize);
    /* global accumulators and per-slot partials */
    c.nslots = lstar_kstream_slots(c.ks);
    c.slots = lstar_calloc(c.nslots, sizeof *c.slots);
    if (!c.slots) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    if (need_rows) c.row_span = max_row_span(c.ks, &c);
    for (size_t i = 0; i < c.nslots; i++) {
        slot *s = &c.slots[i];
        if (want_cols) {
            /* aligned so that no 32-byte accumulator straddles two cache
             * lines (the scatter touches Σv and Σv² of one column) */
            s->col_mem = alloc_n(m->ncols + 2, sizeof *s->col);
            s->col = s->col_mem ? (colhot *)(((uintptr_t)s->col_mem + 63) & ~(uintptr_t)63) : NULL;
            s->col_lo = alloc_n(m->ncols, sizeof *s->col_lo);
            if (!s->col || !s->col_lo) {
                st = LSTAR_NOMEM(err, NULL);
                goto done;
            }
        }
        if (need_rows) {
            s->row = alloc_n(c.row_span, sizeof *s->row);
            s->row_n = alloc_n(c.row_span, sizeof *s->row_n);
            if (!s->row || !s->row_n) {
                st = LSTAR_NOMEM(err, NULL);
                goto done;
            }
        }
    }
    if (need_rows) {
        c.row = alloc_n(m->nrows, sizeof *c.row);
        c.row_n = alloc_n(m->nrows, sizeof *c.row_n);
        if (!c.row || !c.row_n) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
    }
    if (want_cols) {
        c.col = alloc_n(m->ncols, sizeof *c.col);
        c.col_n = alloc_n(m->ncols, sizeof *c.col_n);
        if (!c.col || !c.col_n) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
    }
    if (want_cols && o->lognorm && !o->depth_normalize) {
        lut = lstar_malloc(LUT_SIZE * sizeof *lut);
        if (!lut) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
        for (int k = 0; k < LUT_SIZE; k++) lut[k] = log1p((double)k);
        c.lut = lut;
    }
    /* Squares of values with more than 26 significant bits are split exactly
     * (Dekker) so Σv² is exact and the variance survives large mean²/var.
     * log1p values are bounded (< 710) and their mean²/var small, so their
     * rounded squares (deterministic per element; relative error of the
     * variance ≲ 2^-52 · mean²/var) are summed as they are. */
    c.exact_sq = !o->lognorm && (o->depth_normalize ||
                                 !squares_exact(c.dense ? lstar_array_dtype(m->values) : lstar_array_dtype(m->data)));
    /* Integer values up to these bounds keep every column sum of squares
     * (nrows · b² < 2^53) and every row sum (ncols · b < 2^53) exact. */
    c.col_bound = floor(sqrt(0x1p53 / (double)(m->nrows ? m->nrows : 1)));
    c.row_bound = floor(0x1p53 / (double)(m->ncols ? m->ncols : 1));
    /* pass 1: rows (with the columns too when nothing depends on the totals) */
    if (need_rows) LSTAR_CHECK(run_pass(&c, 1, want_cols && !o->depth_normalize, r, err));
    if (want_cols && o->depth_normalize) {
        double *tot = alloc_n(m->nrows, sizeof *tot);
        if (!tot) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
        for (uint64_t i = 0; i < m->nrows; i++) tot[i] = dd_value((dd){c.row[i].th, c.row[i].tl});
        double target = o->depth_target;
        if (!(target > 0)) {
            st = lstar_stats_median_positive(tot, m->nrows, &target, err);
            if (st != LSTAR_OK) {
                lstar_free(tot);
                goto done;
            }
        }
        r->depth_target = target;
        /* cells with a zero (or non-finite) total stay unscaled, as scanpy's normalize_total */
        for (uint64_t i = 0; i < m->nrows; i++) tot[i] = tot[i] != 0 && isfinite(tot[i]) ? target / tot[i] : 1.0;
        factor = tot;
        c.factor = factor;
        LSTAR_CHECK(run_pass(&c, 0, 1, r, err));
    } else if (want_cols && !need_rows) {
        LSTAR_CHECK(run_pass(&c, 0, 1, r, err));
    }
    if (want_cols) {
        r->col_mean = alloc_n(m->ncols, sizeof *r->col_mean);
        r->col_var = alloc_n(m->ncols, sizeof *r->col_var);
        r->col_nnz = alloc_n(m->ncols, sizeof *r->col_nnz);
        if (!r->col_mean || !r->col_var || !r->col_nnz) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
        LSTAR_CHECK(finish_cols(&c, r));
    }
    if (want_rows) {
        r->row_total = alloc_n(m->nrows, sizeof *r->row_total);
        r->row_detected = alloc_n(m->nrows, sizeof *r->row_detected);
        if (!r->row_total || !r->row_detected) {
            st = LSTAR_NOMEM(err, NULL);
            goto done;
        }
        if (o->col_group) {
            r->row_group_pct = alloc_n(m->nrows, sizeof *r->row_group_pct);
            if (!r->row_group_pct) {
                st = LSTAR_NOMEM(err, NULL);
                goto done;
            }
        }
        for (uint64_t i = 0; i < m->nrows; i++) {
            double t = dd_value((dd){c.row[i].th, c.row[i].tl});
            r->row_total[i] = t;
            r->row_detected[i] = c.row_n[i];
            if (r->row_group_pct) r->row_group_pct[i] = 100.0 * dd_value((dd){c.row[i].gh, c.row[i].gl}) / t;
        }
    }
    *out = r;
    r = NULL;
done:
    lstar_stats_free(r);
    free_slots(&c);
    lstar_free(c.col);
    lstar_free(c.col_n);
    lstar_free(c.row);
    lstar_free(c.row_n);
    lstar_free(factor);
    lstar_free(lut);
    lstar_kstream_free(c.ks);
    return st;
}
