#define _GNU_SOURCE
#include "lstar/pool.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"

struct lstar_pool {
    int nthreads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t done_cv;
    /* current job */
    lstar_pool_task_fn fn;
    void *ud;
    size_t n;
    size_t next;
    size_t active; /* workers still busy with this job */
    unsigned long generation;
    int shutdown;
    /* first failure (lowest index) */
    size_t fail_index;
    lstar_status fail_status;
    lstar_error fail_err;
};

int lstar_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static void run_items(lstar_pool *p, int worker) {
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (p->next >= p->n || (p->fail_status != LSTAR_OK && p->next > p->fail_index)) {
            pthread_mutex_unlock(&p->mu);
            return;
        }
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        lstar_error e;
        lstar_error_clear(&e);
        lstar_status st = p->fn(p->ud, i, worker, &e);
        if (st != LSTAR_OK) {
            pthread_mutex_lock(&p->mu);
            if (p->fail_status == LSTAR_OK || i < p->fail_index) {
                p->fail_status = st;
                p->fail_index = i;
                p->fail_err = e;
                if (p->fail_err.status == LSTAR_OK) p->fail_err.status = st;
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
}

typedef struct {
    lstar_pool *pool;
    int worker;
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg wa = *(worker_arg *)arg;
    lstar_free(arg);
    lstar_pool *p = wa.pool;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->shutdown && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->shutdown) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_items(p, wa.worker);
        pthread_mutex_lock(&p->mu);
        p->active--;
        if (p->active == 0) pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

lstar_status lstar_pool_new(int nthreads, lstar_pool **out, lstar_error *err) {
    *out = NULL;
    if (nthreads <= 0) nthreads = lstar_cpu_count();
    if (nthreads > LSTAR_MAX_THREADS) nthreads = LSTAR_MAX_THREADS;
    lstar_pool *p = lstar_calloc(1, sizeof *p);
    if (!p) return LSTAR_NOMEM(err, NULL);
    p->nthreads = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (nthreads > 1) {
        p->threads = lstar_calloc((size_t)nthreads - 1, sizeof(pthread_t));
        if (!p->threads) {
            lstar_pool_free(p);
            return LSTAR_NOMEM(err, NULL);
        }
        for (int w = 1; w < nthreads; w++) {
            worker_arg *wa = lstar_malloc(sizeof *wa);
            if (!wa) {
                lstar_pool_free(p);
                return LSTAR_NOMEM(err, NULL);
            }
            wa->pool = p;
            wa->worker = w;
            if (pthread_create(&p->threads[w - 1], NULL, worker_main, wa) != 0) {
                lstar_free(wa);
                lstar_pool_free(p);
                return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, NULL, "could not start worker thread %d", w);
            }
            p->nthreads = w + 1;
        }
    }
    *out = p;
    return LSTAR_OK;
}

void lstar_pool_free(lstar_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int w = 1; w < p->nthreads; w++) pthread_join(p->threads[w - 1], NULL);
    lstar_free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    lstar_free(p);
}

int lstar_pool_threads(const lstar_pool *p) { return p ? p->nthreads : 1; }

lstar_status lstar_pool_run(lstar_pool *p, size_t n, lstar_pool_task_fn fn, void *ud, lstar_error *err) {
    if (n == 0) return LSTAR_OK;
    if (!p || p->nthreads == 1 || n == 1) {
        for (size_t i = 0; i < n; i++) {
            lstar_status st = fn(ud, i, 0, err);
            if (st != LSTAR_OK) return st;
        }
        return LSTAR_OK;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ud = ud;
    p->n = n;
    p->next = 0;
    p->fail_status = LSTAR_OK;
    p->fail_index = (size_t)-1;
    p->active = (size_t)p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    run_items(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    lstar_status st = p->fail_status;
    if (st != LSTAR_OK && err) *err = p->fail_err;
    p->fn = NULL;
    pthread_mutex_unlock(&p->mu);
    return st;
}

typedef struct {
    lstar_pool_task_fn work;
    void *ud;
    size_t base;
} pipeline_batch;

static lstar_status pipeline_work(void *ud, size_t i, int worker, lstar_error *err) {
    pipeline_batch *b = ud;
    return b->work(b->ud, b->base + i, worker, err);
}

lstar_status lstar_pool_pipeline(lstar_pool *pool, size_t n, size_t batch, lstar_pool_task_fn load,
                                 lstar_pool_task_fn work, lstar_pool_task_fn store, void *ud, lstar_error *err) {
    if (batch == 0) batch = (size_t)lstar_pool_threads(pool) * 2;
    for (size_t base = 0; base < n; base += batch) {
        size_t m = n - base < batch ? n - base : batch;
        if (load)
            for (size_t k = 0; k < m; k++) {
                lstar_status st = load(ud, base + k, 0, err);
                if (st != LSTAR_OK) return st;
            }
        if (work) {
            pipeline_batch b = {work, ud, base};
            lstar_status st = lstar_pool_run(pool, m, pipeline_work, &b, err);
            if (st != LSTAR_OK) return st;
        }
        if (store)
            for (size_t k = 0; k < m; k++) {
                lstar_status st = store(ud, base + k, 0, err);
                if (st != LSTAR_OK) return st;
            }
    }
    return LSTAR_OK;
}
