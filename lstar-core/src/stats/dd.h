/* Internal: double-double ("dd") arithmetic for exact, order-independent sums.
 *
 * A dd value is hi + lo with hi = RN(hi + lo) (normalised).  Adding a double
 * (or a dd) uses error-free transforms (TwoSum; Dekker's TwoProduct, no fma
 * needed) and renormalises, so the only rounding is in (error + lo).  When
 * every addend and partial sum is a multiple of a common quantum q and
 * stays below 2^104·q in magnitude, that rounding is exact: the dd then
 * holds the exact sum, whose normalised form (hi = RN(sum), lo = remainder)
 * is unique — whatever the order or grouping of the additions.  This is what
 * makes block-partitioned reductions byte-identical (docs/internals/stats.md).
 *
 * Requires strict IEEE double evaluation: no -ffast-math, no FMA contraction
 * (GCC contracts only with -ffp-contract=fast, off under -std=c11; clang is
 * told below).
 */
#ifndef LSTAR_INTERNAL_STATS_DD_H
#define LSTAR_INTERNAL_STATS_DD_H

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* s + e == a + b exactly, s = RN(a + b). */
#define DD_TWO_SUM(a, b, s, e)                                                                                \
    do {                                                                                                      \
        double a_ = (a), b_ = (b);                                                                            \
        double s_ = a_ + b_;                                                                                  \
        double bb_ = s_ - a_;                                                                                 \
        (e) = (a_ - (s_ - bb_)) + (b_ - bb_);                                                                 \
        (s) = s_;                                                                                             \
    } while (0)

/* (hi, lo) += x + xe, where xe is a small correction of x (e.g. the exact
 * error of a square); xe may be 0. */
#define DD_ADD(hi, lo, x, xe)                                                                                 \
    do {                                                                                                      \
        double s__, e__;                                                                                      \
        DD_TWO_SUM((hi), (x), s__, e__);                                                                      \
        e__ += (lo) + (xe);                                                                                   \
        DD_TWO_SUM(s__, e__, (hi), (lo));                                                                     \
    } while (0)

/* p + e == a·b exactly (Dekker; |a|, |b| < 2^996). */
static inline void dd_two_prod(double a, double b, double *p, double *e) {
    const double split = 134217729.0; /* 2^27 + 1 */
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    double pp = a * b;
    *p = pp;
    *e = ((ah * bh - pp) + ah * bl + al * bh) + al * bl;
}

typedef struct dd {
    double hi, lo;
} dd;

static inline dd dd_make(double hi, double lo) {
    dd r;
    DD_TWO_SUM(hi, lo, r.hi, r.lo);
    return r;
}

static inline dd dd_add(dd a, dd b) {
    double s, e;
    DD_TWO_SUM(a.hi, b.hi, s, e);
    e += a.lo + b.lo;
    return dd_make(s, e);
}

static inline dd dd_neg(dd a) {
    dd r = {-a.hi, -a.lo};
    return r;
}

static inline dd dd_mul(dd a, dd b) {
    double p, e;
    dd_two_prod(a.hi, b.hi, &p, &e);
    e += a.hi * b.lo + a.lo * b.hi;
    return dd_make(p, e);
}

static inline dd dd_div_d(dd a, double b) {
    double q1 = a.hi / b, p, e;
    dd_two_prod(q1, b, &p, &e);
    double r = ((a.hi - p) - e) + a.lo;
    return dd_make(q1, r / b);
}

static inline double dd_value(dd a) { return a.hi + a.lo; }

#endif
