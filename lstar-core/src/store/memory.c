/* Memory store: a chained hash map of key -> bytes behind a reader/writer lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"

typedef struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    uint8_t *data; /* lstar_malloc'd (at least 1 byte) */
    size_t size;
    char key[]; /* NUL-terminated */
} mem_entry;

typedef struct mem_store {
    pthread_rwlock_t lock;
    mem_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
} mem_store;

static uint64_t key_hash(const char *k) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ull;
    }
    return h;
}

static mem_entry *find_locked(mem_store *m, const char *key, uint64_t h, mem_entry ***link) {
    mem_entry **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) break;
    }
    if (link) *link = pp;
    return *pp;
}

static lstar_status mem_get(void *ctx, const char *key, size_t max_size, uint8_t **data, size_t *size,
                            lstar_error *err) {
    mem_store *m = ctx;
    lstar_status st = LSTAR_OK;
    uint64_t h = key_hash(key);
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = find_locked(m, key, h, NULL);
    if (!e) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key in the memory store");
        goto done;
    }
    if (e->size > max_size) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "object of %zu bytes exceeds the %zu-byte limit", e->size,
                        max_size);
        goto done;
    }
    uint8_t *p = lstar_malloc(e->size ? e->size : 1);
    if (!p) {
        st = LSTAR_NOMEM(err, key);
        goto done;
    }
    memcpy(p, e->data, e->size);
    *data = p;
    *size = e->size;
done:
    pthread_rwlock_unlock(&m->lock);
    return st;
}

static lstar_status mem_get_range(void *ctx, const char *key, uint64_t offset, size_t length, uint8_t *buf,
                                  lstar_error *err) {
    mem_store *m = ctx;
    lstar_status st = LSTAR_OK;
    uint64_t h = key_hash(key);
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = find_locked(m, key, h, NULL);
    if (!e)
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key in the memory store");
    else if (offset > e->size || length > e->size - offset)
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "range [%llu, +%zu) lies beyond the %zu-byte object",
                        (unsigned long long)offset, length, e->size);
    else if (length)
        memcpy(buf, e->data + offset, length);
    pthread_rwlock_unlock(&m->lock);
    return st;
}

static lstar_status mem_size(void *ctx, const char *key, uint64_t *size, lstar_error *err) {
    mem_store *m = ctx;
    lstar_status st = LSTAR_OK;
    uint64_t h = key_hash(key);
    pthread_rwlock_rdlock(&m->lock);
    mem_entry *e = find_locked(m, key, h, NULL);
    if (e)
        *size = e->size;
    else
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key in the memory store");
    pthread_rwlock_unlock(&m->lock);
    return st;
}

/* Double the bucket array (lock held for writing).  Failure is harmless. */
static void grow_locked(mem_store *m) {
    size_t nb = m->nbuckets * 2;
    mem_entry **b = lstar_calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_entry *e = m->buckets[i];
        while (e) {
            mem_entry *next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    lstar_free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

static lstar_status mem_set(void *ctx, const char *key, const uint8_t *data, size_t size, lstar_error *err) {
    mem_store *m = ctx;
    lstar_status st = LSTAR_OK;
    size_t klen = strlen(key);
    uint64_t h = key_hash(key);
    /* allocate outside the lock */
    uint8_t *copy = lstar_malloc(size ? size : 1);
    mem_entry *fresh = NULL;
    if (!copy) return LSTAR_NOMEM(err, key);
    if (size) memcpy(copy, data, size);
    pthread_rwlock_wrlock(&m->lock);
    mem_entry **link = NULL;
    mem_entry *e = find_locked(m, key, h, &link);
    if (e) {
        lstar_free(e->data);
        e->data = copy;
        e->size = size;
        copy = NULL;
        goto done;
    }
    fresh = lstar_malloc(sizeof *fresh + klen + 1);
    if (!fresh) {
        st = LSTAR_NOMEM(err, key);
        goto done;
    }
    memcpy(fresh->key, key, klen + 1);
    fresh->hash = h;
    fresh->data = copy;
    fresh->size = size;
    fresh->next = NULL;
    *link = fresh;
    copy = NULL;
    m->count++;
    if (m->count > m->nbuckets) grow_locked(m);
done:
    pthread_rwlock_unlock(&m->lock);
    lstar_free(copy);
    return st;
}

static lstar_status mem_erase(void *ctx, const char *key, lstar_error *err) {
    (void)err;
    mem_store *m = ctx;
    uint64_t h = key_hash(key);
    pthread_rwlock_wrlock(&m->lock);
    mem_entry **link = NULL;
    mem_entry *e = find_locked(m, key, h, &link);
    if (e) {
        *link = e->next;
        m->count--;
    }
    pthread_rwlock_unlock(&m->lock);
    if (e) {
        lstar_free(e->data);
        lstar_free(e);
    }
    return LSTAR_OK;
}

/* Matching keys are copied under the lock and reported after it is released,
 * so the callback may call back into the store. */
static lstar_status mem_list(void *ctx, const char *prefix, lstar_store_list_cb cb, void *ud, lstar_error *err) {
    mem_store *m = ctx;
    lstar_status st = LSTAR_OK;
    size_t plen = strlen(prefix), n = 0;
    char **keys = NULL;
    pthread_rwlock_rdlock(&m->lock);
    if (m->count) {
        keys = lstar_calloc(m->count, sizeof *keys);
        if (!keys) {
            st = LSTAR_NOMEM(err, prefix);
            goto unlock;
        }
    }
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (mem_entry *e = m->buckets[i]; e; e = e->next) {
            if (strncmp(e->key, prefix, plen) != 0) continue;
            keys[n] = lstar_strdup(e->key);
            if (!keys[n]) {
                st = LSTAR_NOMEM(err, e->key);
                goto unlock;
            }
            n++;
        }
    }
unlock:
    pthread_rwlock_unlock(&m->lock);
    if (st == LSTAR_OK) {
        for (size_t i = 0; i < n; i++)
            if (cb(ud, keys[i])) break;
    }
    for (size_t i = 0; i < n; i++) lstar_free(keys[i]);
    lstar_free(keys);
    return st;
}

static void mem_close(void *ctx) {
    mem_store *m = ctx;
    if (!m) return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        mem_entry *e = m->buckets[i];
        while (e) {
            mem_entry *next = e->next;
            lstar_free(e->data);
            lstar_free(e);
            e = next;
        }
    }
    lstar_free(m->buckets);
    pthread_rwlock_destroy(&m->lock);
    lstar_free(m);
}

static const lstar_store_ops memory_ops = {
    .version = LSTAR_STORE_OPS_VERSION,
    .name = "memory",
    .get = mem_get,
    .get_range = mem_get_range,
    .size = mem_size,
    .set = mem_set,
    .erase = mem_erase,
    .list = mem_list,
    .flush = NULL,
    .close = mem_close,
};

lstar_status lstar_store_new_memory(lstar_store **out, lstar_error *err) {
    if (out) *out = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    mem_store *m = lstar_calloc(1, sizeof *m);
    if (!m) return LSTAR_NOMEM(err, NULL);
    m->nbuckets = 64;
    m->buckets = lstar_calloc(m->nbuckets, sizeof *m->buckets);
    if (!m->buckets) {
        lstar_free(m);
        return LSTAR_NOMEM(err, NULL);
    }
    if (pthread_rwlock_init(&m->lock, NULL) != 0) {
        lstar_free(m->buckets);
        lstar_free(m);
        return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, NULL, "cannot initialise the memory store lock");
    }
    return lstar_store_from_ops(&memory_ops, m, LSTAR_STORE_READ | LSTAR_STORE_WRITE, out, err);
}
