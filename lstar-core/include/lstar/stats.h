/* lstar/stats.h — per-column (gene) and per-row (cell) statistics of a
 * matrix field, streamed in bounded memory on all cores.
 *
 * The matrix is any 2-D numeric field: CSR, CSC or dense, backed by memory, a
 * Zarr array (L★ store, anndata-zarr) or an HDF5 dataset (h5ad).  Rows are
 * the field's span[0] (cells for a [cells, genes] measure), columns span[1].
 *
 * Per column j over all n rows (lstar-format.md §5; implicit zeros count):
 *   v      = x, or x·target/total[row] with depth normalisation, then
 *            log1p(v) with lognorm (applied to stored values only)
 *   mean   = Σ v / n
 *   var    = (Σ v² − (Σ v)²/n) / (n − 1)   (/ n with population; 0 if the
 *            denominator is 0), evaluated from exact double-double sums
 *   nnz    = stored entries of the column (explicit zeros included); for
 *            dense fields the number of non-zero values
 * Per row i (always on the stored values, no transform):
 *   total  = Σ x,  detected = #{x != 0},  group_pct = 100·Σ_{j∈G} x / total
 *            (NaN when total is 0)
 * NaN in the data propagates (NaN mean/var for its column, NaN total for its
 * row); ±Inf gives ±Inf mean and NaN var.
 *
 * Determinism: sums are accumulated in normalised double-double form and
 * merged in block order; results are byte-identical for any thread count,
 * and for any block size or storage chunking whenever each column's (row's)
 * sum is exact in double-double (Σ|v| / min |v| below 2^52 — integer counts
 * always; see docs/internals/stats.md).
 *
 * Memory: O(columns × threads) + O(rows) (per-row totals for depth
 * normalisation and row statistics) + a few blocks of stored entries per
 * thread; never O(nnz).
 */
#ifndef LSTAR_STATS_H
#define LSTAR_STATS_H
#include <stddef.h>
#include <stdint.h>
#include "lstar/array.h"
#include "lstar/model.h"
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed view of a 2-D matrix.  CSR/CSC: data, indices, indptr (1-D;
 * indptr over rows for CSR, columns for CSC); dense: values of shape
 * [nrows, ncols] in C order. */
typedef struct lstar_stats_matrix {
    lstar_encoding encoding; /* LSTAR_ENC_CSR, LSTAR_ENC_CSC or LSTAR_ENC_DENSE */
    const lstar_array *data, *indices, *indptr;
    const lstar_array *values;
    uint64_t nrows, ncols;
} lstar_stats_matrix;

/* Which statistics to compute (bit set). */
#define LSTAR_STATS_COLS 1u /* per column: mean, var, nnz */
#define LSTAR_STATS_ROWS 2u /* per row: total, detected, group_pct */

typedef struct lstar_stats_options {
    unsigned what;          /* LSTAR_STATS_COLS | LSTAR_STATS_ROWS (default COLS) */
    int lognorm;            /* log1p of each stored (scaled) value (column statistics) */
    int depth_normalize;    /* scale each value by depth_target / its row's total first */
    double depth_target;    /* <= 0: the median of the non-zero row totals */
    int population;         /* variance denominator n instead of n − 1 */
    int threads;            /* 0 = all cores */
    uint64_t block_nnz;     /* stored entries (dense: elements) per block; 0 = default (~1M,
                               rounded to whole data chunks) */
    /* Row statistics: columns in the group whose share of each row's total is
     * reported (length ncols, non-zero = member); NULL = no group (pct NaN).
     * Borrowed for the duration of the call. */
    const uint8_t *col_group;
} lstar_stats_options;

void lstar_stats_options_init(lstar_stats_options *o);

typedef struct lstar_stats {
    uint64_t nrows, ncols;
    /* column statistics (NULL unless LSTAR_STATS_COLS) */
    double *col_mean, *col_var;
    uint64_t *col_nnz;
    /* row statistics (NULL unless LSTAR_STATS_ROWS) */
    double *row_total;
    uint64_t *row_detected;
    double *row_group_pct;
    /* the depth target used (0 without depth normalisation) */
    double depth_target;
    /* stored entries (dense: elements) streamed per pass, and passes run */
    uint64_t nnz;
    int passes;
} lstar_stats;

/* Compute statistics of `m` (arrays borrowed; read concurrently from several
 * threads, which memory and Zarr arrays allow and HDF5 serialises).
 * `o` may be NULL (defaults).  *out: free with lstar_stats_free.
 * Errors: LSTAR_ERR_UNSUPPORTED (non-numeric data, other encodings),
 * LSTAR_ERR_SHAPE (array shapes do not match nrows × ncols),
 * LSTAR_ERR_CORRUPT (indptr/indices invalid), I/O and codec errors. */
lstar_status lstar_stats_compute(const lstar_stats_matrix *m, const lstar_stats_options *o, lstar_stats **out,
                                 lstar_error *err);

/* The matrix view of a 2-D field (csr, csc or dense, numeric), borrowing its
 * arrays.  LSTAR_ERR_SHAPE if the field does not span two axes,
 * LSTAR_ERR_UNSUPPORTED for other encodings or non-numeric values;
 * err->where names the field. */
lstar_status lstar_stats_matrix_from_field(const lstar_field *f, lstar_stats_matrix *m, lstar_error *err);

void lstar_stats_free(lstar_stats *s); /* NULL accepted */

/* Median of the finite values > 0 of v[0..n) (mean of the two middle ones
 * for an even count; 0 if there are none).  Used for the default depth
 * target.  Allocates a copy (LSTAR_ERR_NOMEM). */
lstar_status lstar_stats_median_positive(const double *v, uint64_t n, double *out, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
