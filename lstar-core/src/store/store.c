/* Generic store dispatch: key normalisation, argument checks, list_dir, open. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"

/* ---- keys ---------------------------------------------------------------- */

lstar_status lstar_store_normalize_key(char *key, lstar_error *err) {
    if (!key) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "key is NULL");
    size_t n = strlen(key);
    if (n > LSTAR_MAX_KEY_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "key of %zu bytes is longer than the %d-byte limit", n,
                          LSTAR_MAX_KEY_BYTES);
    for (size_t i = 0; i < n; i++)
        if (key[i] == '\\') key[i] = '/';
    /* reject '.' and '..' segments before rewriting, so `where` shows the key */
    for (size_t r = 0; r < n;) {
        size_t s = r;
        while (r < n && key[r] != '/') r++;
        size_t len = r - s;
        if ((len == 1 && key[s] == '.') || (len == 2 && key[s] == '.' && key[s + 1] == '.'))
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "key contains a '%s' segment", len == 1 ? "." : "..");
        if (r < n) r++;
    }
    size_t r = 0, w = 0;
    while (r < n) {
        while (r < n && key[r] == '/') r++;
        if (r == n) break;
        size_t s = r;
        while (r < n && key[r] != '/') r++;
        size_t len = r - s;
        if (w > 0) key[w++] = '/';
        memmove(key + w, key + s, len);
        w += len;
    }
    key[w] = '\0';
    return LSTAR_OK;
}

lstar_status lstar_store_key_copy(const char *key, char *out, int allow_empty, lstar_error *err) {
    if (!key) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "key is NULL");
    size_t n = strnlen(key, LSTAR_MAX_KEY_BYTES + 1);
    if (n > LSTAR_MAX_KEY_BYTES)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "key is longer than the %d-byte limit",
                          LSTAR_MAX_KEY_BYTES);
    memcpy(out, key, n + 1);
    lstar_status st = lstar_store_normalize_key(out, err);
    if (st != LSTAR_OK) return st;
    if (!allow_empty && out[0] == '\0')
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "empty key (after normalisation of \"%s\")", key);
    return LSTAR_OK;
}

/* Normalise a list prefix, keeping a trailing '/' that names a subtree. */
static lstar_status prefix_copy(const char *prefix, char *out, lstar_error *err) {
    lstar_status st = lstar_store_key_copy(prefix ? prefix : "", out, 1, err);
    if (st != LSTAR_OK) return st;
    size_t in = prefix ? strlen(prefix) : 0, n = strlen(out);
    if (n > 0 && in > 0 && (prefix[in - 1] == '/' || prefix[in - 1] == '\\')) {
        if (n + 1 > LSTAR_MAX_KEY_BYTES)
            return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, out, "prefix is longer than the key limit");
        out[n] = '/';
        out[n + 1] = '\0';
    }
    return LSTAR_OK;
}

/* ---- handle -------------------------------------------------------------- */

lstar_status lstar_store_from_ops(const lstar_store_ops *ops, void *ctx, unsigned flags, lstar_store **out,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_store *s = NULL;
    if (out) *out = NULL;
    if (!ops || !out || !ops->close) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store ops table, its close function and out are required");
        goto done;
    }
    if (ops->version < 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store backend '%s' has invalid ops version %d",
                        ops->name ? ops->name : "?", ops->version);
        goto done;
    }
    if (!ops->get || !ops->size || !ops->list) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store backend '%s' lacks get, size or list",
                        ops->name ? ops->name : "?");
        goto done;
    }
    if ((flags & LSTAR_STORE_WRITE) && (!ops->set || !ops->erase)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, NULL, "store backend '%s' is read-only",
                        ops->name ? ops->name : "?");
        goto done;
    }
    s = lstar_calloc(1, sizeof *s);
    if (!s) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    s->ops = ops;
    s->ctx = ctx;
    s->flags = flags | LSTAR_STORE_READ;
    *out = s;
    ctx = NULL;
done:
    if (st != LSTAR_OK && ops && ops->close) ops->close(ctx);
    return st;
}

void lstar_store_close(lstar_store *store) {
    if (!store) return;
    if ((store->flags & LSTAR_STORE_WRITE) && store->ops->flush) (void)store->ops->flush(store->ctx, NULL);
    store->ops->close(store->ctx);
    lstar_free(store);
}

const char *lstar_store_backend(const lstar_store *store) {
    if (!store || !store->ops->name) return "";
    return store->ops->name;
}

int lstar_store_writable(const lstar_store *store) { return store && (store->flags & LSTAR_STORE_WRITE) ? 1 : 0; }

/* ---- operations ---------------------------------------------------------- */

#define STORE_REQUIRE(store)                                                                                   \
    do {                                                                                                       \
        if (!(store)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store is NULL");                   \
    } while (0)

lstar_status lstar_store_get(lstar_store *store, const char *key, size_t max_size, uint8_t **data, size_t *size,
                             lstar_error *err) {
    char k[LSTAR_STORE_KEY_BUF];
    if (data) *data = NULL;
    if (size) *size = 0;
    STORE_REQUIRE(store);
    if (!data || !size) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "data and size are required");
    lstar_status st = lstar_store_key_copy(key, k, 0, err);
    if (st != LSTAR_OK) return st;
    if (max_size == 0) max_size = (size_t)LSTAR_MAX_CHUNK_BYTES;
    return store->ops->get(store->ctx, k, max_size, data, size, err);
}

lstar_status lstar_store_get_range(lstar_store *store, const char *key, uint64_t offset, size_t length,
                                   uint8_t *buf, lstar_error *err) {
    char k[LSTAR_STORE_KEY_BUF];
    STORE_REQUIRE(store);
    if (!buf && length) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "buf is NULL");
    lstar_status st = lstar_store_key_copy(key, k, 0, err);
    if (st != LSTAR_OK) return st;
    if (offset > UINT64_MAX - length)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, k, "range offset %llu + length %zu overflows",
                          (unsigned long long)offset, length);
    if (store->ops->get_range) return store->ops->get_range(store->ctx, k, offset, length, buf, err);
    uint8_t *all = NULL;
    size_t n = 0;
    st = store->ops->get(store->ctx, k, (size_t)LSTAR_MAX_CHUNK_BYTES, &all, &n, err);
    if (st != LSTAR_OK) return st;
    if (offset > n || length > n - offset)
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, k, "range [%llu, %llu) lies beyond the %zu-byte object",
                        (unsigned long long)offset, (unsigned long long)(offset + length), n);
    else if (length)
        memcpy(buf, all + offset, length);
    lstar_free(all);
    return st;
}

lstar_status lstar_store_size(lstar_store *store, const char *key, uint64_t *size, lstar_error *err) {
    char k[LSTAR_STORE_KEY_BUF];
    if (size) *size = 0;
    STORE_REQUIRE(store);
    if (!size) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "size is NULL");
    lstar_status st = lstar_store_key_copy(key, k, 0, err);
    if (st != LSTAR_OK) return st;
    return store->ops->size(store->ctx, k, size, err);
}

int lstar_store_exists(lstar_store *store, const char *key, lstar_error *err) {
    lstar_error local;
    uint64_t sz = 0;
    lstar_error_clear(&local);
    lstar_status st = lstar_store_size(store, key, &sz, &local);
    if (st == LSTAR_OK) return 1;
    if (st != LSTAR_ERR_NOT_FOUND && err) *err = local;
    return 0;
}

lstar_status lstar_store_set(lstar_store *store, const char *key, const void *data, size_t size,
                             lstar_error *err) {
    char k[LSTAR_STORE_KEY_BUF];
    STORE_REQUIRE(store);
    if (!data && size) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, key, "data is NULL");
    lstar_status st = lstar_store_key_copy(key, k, 0, err);
    if (st != LSTAR_OK) return st;
    if (!(store->flags & LSTAR_STORE_WRITE) || !store->ops->set)
        return LSTAR_FAIL(err, LSTAR_ERR_READONLY, k, "%s store was not opened for writing", lstar_store_backend(store));
    static const uint8_t empty = 0;
    return store->ops->set(store->ctx, k, data ? data : &empty, size, err);
}

lstar_status lstar_store_erase(lstar_store *store, const char *key, lstar_error *err) {
    char k[LSTAR_STORE_KEY_BUF];
    STORE_REQUIRE(store);
    lstar_status st = lstar_store_key_copy(key, k, 0, err);
    if (st != LSTAR_OK) return st;
    if (!(store->flags & LSTAR_STORE_WRITE) || !store->ops->erase)
        return LSTAR_FAIL(err, LSTAR_ERR_READONLY, k, "%s store was not opened for writing", lstar_store_backend(store));
    return store->ops->erase(store->ctx, k, err);
}

lstar_status lstar_store_list(lstar_store *store, const char *prefix, lstar_store_list_cb cb, void *ud,
                              lstar_error *err) {
    char p[LSTAR_STORE_KEY_BUF];
    STORE_REQUIRE(store);
    if (!cb) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, prefix, "list callback is NULL");
    lstar_status st = prefix_copy(prefix, p, err);
    if (st != LSTAR_OK) return st;
    return store->ops->list(store->ctx, p, cb, ud, err);
}

lstar_status lstar_store_flush(lstar_store *store, lstar_error *err) {
    STORE_REQUIRE(store);
    if (!store->ops->flush) return LSTAR_OK;
    return store->ops->flush(store->ctx, err);
}

/* ---- list_dir: distinct next segments, sorted ----------------------------- */

typedef struct seg_set {
    char **items;
    size_t count, cap;
    size_t plen; /* length of the "dir/" prefix */
    lstar_status st;
    lstar_error *err;
} seg_set;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void seg_set_compact(seg_set *s) {
    if (s->count < 2) return;
    qsort(s->items, s->count, sizeof *s->items, cmp_str);
    size_t w = 1;
    for (size_t i = 1; i < s->count; i++) {
        if (strcmp(s->items[i], s->items[w - 1]) == 0)
            lstar_free(s->items[i]);
        else
            s->items[w++] = s->items[i];
    }
    s->count = w;
}

static int seg_collect(void *ud, const char *key) {
    seg_set *s = ud;
    const char *rest = key + s->plen;
    size_t n = strcspn(rest, "/");
    if (n == 0) return 0;
    if (s->count == s->cap) {
        seg_set_compact(s);
        if (s->count == s->cap || s->count > s->cap / 2) {
            size_t ncap = s->cap ? s->cap * 2 : 64;
            char **p = lstar_realloc(s->items, ncap * sizeof *p);
            if (!p) {
                s->st = LSTAR_NOMEM(s->err, key);
                return 1;
            }
            s->items = p;
            s->cap = ncap;
        }
    }
    char *c = lstar_malloc(n + 1);
    if (!c) {
        s->st = LSTAR_NOMEM(s->err, key);
        return 1;
    }
    memcpy(c, rest, n);
    c[n] = '\0';
    s->items[s->count++] = c;
    return 0;
}

lstar_status lstar_store_list_dir(lstar_store *store, const char *dir, lstar_store_list_cb cb, void *ud,
                                  lstar_error *err) {
    char p[LSTAR_STORE_KEY_BUF];
    seg_set s;
    memset(&s, 0, sizeof s);
    STORE_REQUIRE(store);
    if (!cb) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, dir, "list callback is NULL");
    lstar_status st = lstar_store_key_copy(dir ? dir : "", p, 1, err);
    if (st != LSTAR_OK) return st;
    size_t n = strlen(p);
    if (n > 0) {
        if (n + 1 > LSTAR_MAX_KEY_BYTES) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, p, "directory name too long");
        p[n++] = '/';
        p[n] = '\0';
    }
    s.plen = n;
    s.err = err;
    st = store->ops->list(store->ctx, p, seg_collect, &s, err);
    if (st == LSTAR_OK) st = s.st;
    if (st != LSTAR_OK) goto done;
    seg_set_compact(&s);
    for (size_t i = 0; i < s.count; i++)
        if (cb(ud, s.items[i])) break;
done:
    for (size_t i = 0; i < s.count; i++) lstar_free(s.items[i]);
    lstar_free(s.items);
    return st;
}

/* ---- open by sniffing ------------------------------------------------------ */

lstar_status lstar_store_open(const char *path, unsigned flags, lstar_store **out, lstar_error *err) {
    struct stat sb;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "path and out are required");
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && (flags & LSTAR_STORE_CREATE)) return lstar_store_open_dir(path, flags, out, err);
        if (errno == ENOENT) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no such file or directory");
        return LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot stat: %s", strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) return lstar_store_open_dir(path, flags, out, err);
    if (!S_ISREG(sb.st_mode))
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "neither a directory nor a regular file");
    unsigned char sig[4] = {0, 0, 0, 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot open: %s", strerror(errno));
    ssize_t got = pread(fd, sig, sizeof sig, 0);
    int saved = errno;
    close(fd);
    if (got < 0) return LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot read: %s", strerror(saved));
    if (got == 4 && sig[0] == 'P' && sig[1] == 'K' && ((sig[2] == 3 && sig[3] == 4) || (sig[2] == 5 && sig[3] == 6))) {
        if (flags & LSTAR_STORE_WRITE)
            return LSTAR_FAIL(err, LSTAR_ERR_READONLY, path, "zip stores are read-only");
        return lstar_store_open_zip(path, out, err);
    }
    return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "regular file is not a zip archive (no PK signature)");
}
