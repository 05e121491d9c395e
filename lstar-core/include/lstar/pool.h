/* lstar/pool.h — the shared worker pool: deterministic parallel-for.
 *
 * Convert, repack, stats and the stores use one pattern: the calling thread
 * does the (serial) I/O for a batch of blocks, the pool runs the CPU work of
 * the batch on all workers, and the caller consumes the results in index
 * order.  Results therefore never depend on the thread count.
 */
#ifndef LSTAR_POOL_H
#define LSTAR_POOL_H
#include <stddef.h>
#include "lstar/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstar_pool lstar_pool;

/* Work item i of n; `worker` is in [0, lstar_pool_threads()) and is stable for
 * the duration of the call (use it to index per-worker scratch). */
typedef lstar_status (*lstar_pool_task_fn)(void *ud, size_t i, int worker, lstar_error *err);

/* Online CPUs (>= 1). */
int lstar_cpu_count(void);
/* A pool of `nthreads` workers (0 = lstar_cpu_count(), capped at
 * LSTAR_MAX_THREADS).  With 1 thread, tasks run inline on the caller. */
lstar_status lstar_pool_new(int nthreads, lstar_pool **out, lstar_error *err);
void lstar_pool_free(lstar_pool *pool); /* NULL accepted */
int lstar_pool_threads(const lstar_pool *pool);
/* Run fn for i = 0..n-1 and wait for all.  The calling thread works too.  If
 * tasks fail, the status and error of the failing task with the lowest i is
 * returned (deterministic); remaining tasks may be skipped.  `pool` NULL runs
 * serially.  Not re-entrant: do not call from inside a task. */
lstar_status lstar_pool_run(lstar_pool *pool, size_t n, lstar_pool_task_fn fn, void *ud, lstar_error *err);

/* Ordered batch pipeline — the block-streaming pattern every bulk operation
 * uses (convert, repack, stats, the store writers):
 *
 *   for each batch of up to `batch` consecutive items:
 *       load(i)   serially on the calling thread, in item order (I/O: read a raw
 *                 chunk, an HDF5 call, a block of a sparse matrix …)
 *       work(i)   on all pool workers (CPU: decode, encode, reduce …)
 *       store(i)  serially on the calling thread, in item order (I/O: write)
 *
 * Each stage may be NULL.  Item i of a batch uses slot i % batch, so callers
 * keep `batch` per-slot buffers and memory stays bounded by the batch whatever
 * n is.  Output never depends on the thread count.  The first failure (lowest
 * item, stage order load < work < store) is returned; no later store runs. */
lstar_status lstar_pool_pipeline(lstar_pool *pool, size_t n, size_t batch, lstar_pool_task_fn load,
                                 lstar_pool_task_fn work, lstar_pool_task_fn store, void *ud, lstar_error *err);

#ifdef __cplusplus
}
#endif
#endif
