/* Directory store: key "a/b/c" is the file <root>/a/b/c.
 *
 * Every operation works relative to one directory descriptor opened at open
 * time (openat & co.), so there is no shared mutable state besides an atomic
 * counter for temporary names: reads and writes may run from many threads.
 * Writes go to "<dir>/.lstar-tmp-<pid>-<n>" and are renamed over the key, so a
 * reader (or a crash) never sees a half-written object; list skips those names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"

#define DIR_TMP_PREFIX ".lstar-tmp-"
/* Deepest directory nesting list follows (guards against symlink loops). */
#define DIR_MAX_DEPTH 256

typedef struct dir_store {
    int rootfd;
    char *path;
    atomic_uint_fast64_t tmp_counter;
} dir_store;

static int is_absent(int e) { return e == ENOENT || e == ENOTDIR; }

static lstar_status io_fail(lstar_error *err, const char *key, const char *what, int e) {
    return LSTAR_FAIL(err, LSTAR_ERR_IO, key, "%s: %s", what, strerror(e));
}

/* Read exactly n bytes at off (pread loop).  Returns bytes read (< n at EOF) or -1. */
static ssize_t pread_full(int fd, uint8_t *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Open a key for reading; NOT_FOUND if absent or not a regular file. */
static lstar_status open_key(dir_store *d, const char *key, int *fd_out, uint64_t *size, lstar_error *err) {
    struct stat sb;
    int fd = openat(d->rootfd, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (is_absent(e) || e == EISDIR) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key");
        return io_fail(err, key, "cannot open", e);
    }
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return io_fail(err, key, "cannot stat", e);
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key (not a regular file)");
    }
    *fd_out = fd;
    *size = (uint64_t)sb.st_size;
    return LSTAR_OK;
}

static lstar_status dir_get(void *ctx, const char *key, size_t max_size, uint8_t **data, size_t *size,
                            lstar_error *err) {
    dir_store *d = ctx;
    lstar_status st = LSTAR_OK;
    int fd = -1;
    uint64_t fsize = 0;
    uint8_t *buf = NULL;
    LSTAR_CHECK(open_key(d, key, &fd, &fsize, err));
    if (fsize > max_size) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "object of %llu bytes exceeds the %zu-byte limit",
                        (unsigned long long)fsize, max_size);
        goto done;
    }
    buf = lstar_malloc(fsize ? (size_t)fsize : 1);
    if (!buf) {
        st = LSTAR_NOMEM(err, key);
        goto done;
    }
    ssize_t got = pread_full(fd, buf, (size_t)fsize, 0);
    if (got < 0) {
        st = io_fail(err, key, "cannot read", errno);
        goto done;
    }
    if ((uint64_t)got != fsize) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, key, "file shrank while being read (%zd of %llu bytes)", got,
                        (unsigned long long)fsize);
        goto done;
    }
    *data = buf;
    *size = (size_t)fsize;
    buf = NULL;
done:
    if (fd >= 0) close(fd);
    lstar_free(buf);
    return st;
}

static lstar_status dir_get_range(void *ctx, const char *key, uint64_t offset, size_t length, uint8_t *buf,
                                  lstar_error *err) {
    dir_store *d = ctx;
    lstar_status st = LSTAR_OK;
    int fd = -1;
    uint64_t fsize = 0;
    LSTAR_CHECK(open_key(d, key, &fd, &fsize, err));
    if (offset > fsize || length > fsize - offset) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "range [%llu, +%zu) lies beyond the %llu-byte object",
                        (unsigned long long)offset, length, (unsigned long long)fsize);
        goto done;
    }
    ssize_t got = pread_full(fd, buf, length, offset);
    if (got < 0) {
        st = io_fail(err, key, "cannot read", errno);
        goto done;
    }
    if ((size_t)got != length)
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "object ended after %zd of %zu requested bytes", got, length);
done:
    if (fd >= 0) close(fd);
    return st;
}

static lstar_status dir_size(void *ctx, const char *key, uint64_t *size, lstar_error *err) {
    dir_store *d = ctx;
    struct stat sb;
    if (fstatat(d->rootfd, key, &sb, 0) != 0) {
        int e = errno;
        if (is_absent(e)) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key");
        return io_fail(err, key, "cannot stat", e);
    }
    if (!S_ISREG(sb.st_mode)) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such key (not a regular file)");
    *size = (uint64_t)sb.st_size;
    return LSTAR_OK;
}

/* mkdir -p for every parent of `key` (relative to rootfd). */
static lstar_status make_parents(int rootfd, const char *key, lstar_error *err) {
    char p[LSTAR_STORE_KEY_BUF];
    size_t n = strlen(key);
    memcpy(p, key, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '/') continue;
        p[i] = '\0';
        if (mkdirat(rootfd, p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            lstar_status st = io_fail(err, p, "cannot create directory", e);
            return st;
        }
        p[i] = '/';
    }
    return LSTAR_OK;
}

static lstar_status write_full(int fd, const uint8_t *data, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            return LSTAR_ERR_IO;
        }
        done += (size_t)w;
    }
    return LSTAR_OK;
}

static lstar_status dir_set(void *ctx, const char *key, const uint8_t *data, size_t size, lstar_error *err) {
    dir_store *d = ctx;
    lstar_status st = LSTAR_OK;
    int fd = -1, have_tmp = 0;
    char tmp[LSTAR_STORE_KEY_BUF + 64];
    const char *slash = strrchr(key, '/');
    size_t dlen = slash ? (size_t)(slash - key) + 1 : 0;
    unsigned long long n = (unsigned long long)atomic_fetch_add(&d->tmp_counter, 1);
    memcpy(tmp, key, dlen);
    snprintf(tmp + dlen, sizeof tmp - dlen, DIR_TMP_PREFIX "%ld-%llu", (long)getpid(), n);

    fd = openat(d->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == ENOENT) {
        LSTAR_CHECK(make_parents(d->rootfd, key, err));
        fd = openat(d->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (fd < 0) {
        st = io_fail(err, key, "cannot create file", errno);
        goto done;
    }
    have_tmp = 1;
    if (write_full(fd, data, size) != LSTAR_OK) {
        st = io_fail(err, key, "cannot write", errno);
        goto done;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0) {
        st = io_fail(err, key, "cannot write (close)", errno);
        goto done;
    }
    if (renameat(d->rootfd, tmp, d->rootfd, key) != 0) {
        st = io_fail(err, key, "cannot rename the temporary file over the key", errno);
        goto done;
    }
    have_tmp = 0;
done:
    if (fd >= 0) close(fd);
    if (have_tmp) unlinkat(d->rootfd, tmp, 0);
    return st;
}

static lstar_status dir_erase(void *ctx, const char *key, lstar_error *err) {
    dir_store *d = ctx;
    if (unlinkat(d->rootfd, key, 0) != 0) {
        int e = errno;
        /* absent, or a directory (not a key): nothing to erase */
        if (is_absent(e) || e == EISDIR || e == EPERM) return LSTAR_OK;
        return io_fail(err, key, "cannot remove", e);
    }
    return LSTAR_OK;
}

/* ---- list: recursive walk ------------------------------------------------ */

typedef struct walk {
    const char *prefix;
    size_t plen;
    lstar_store_list_cb cb;
    void *ud;
    int stop;
    char key[LSTAR_STORE_KEY_BUF]; /* key of the current directory ("" = root) */
} walk;

/* Could a key below directory key[0..klen) + "/" start with the prefix? */
static int subtree_may_match(const walk *w, size_t klen) {
    size_t n = klen < w->plen ? klen : w->plen;
    if (strncmp(w->key, w->prefix, n) != 0) return 0;
    if (klen < w->plen && w->prefix[klen] != '/') return 0;
    return 1;
}

/* Walk directory `fd` (consumed) whose key is w->key[0..klen). */
static lstar_status walk_dir(walk *w, int fd, size_t klen, int depth, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    DIR *dp = fdopendir(fd);
    if (!dp) {
        int e = errno;
        close(fd);
        return io_fail(err, w->key, "cannot read directory", e);
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dp);
        if (!de) {
            if (errno) st = io_fail(err, w->key, "cannot read directory", errno);
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
        if (strncmp(name, DIR_TMP_PREFIX, sizeof DIR_TMP_PREFIX - 1) == 0) continue;
        size_t nlen = strlen(name), sep = klen ? 1 : 0;
        if (klen + sep + nlen > LSTAR_MAX_KEY_BYTES) {
            w->key[klen] = '\0';
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, w->key, "entry '%s' would make a key longer than %d bytes", name,
                            LSTAR_MAX_KEY_BYTES);
            break;
        }
        if (sep) w->key[klen] = '/';
        memcpy(w->key + klen + sep, name, nlen + 1);
        size_t nk = klen + sep + nlen;
        struct stat sb;
        if (fstatat(dirfd(dp), name, &sb, 0) != 0) {
            if (errno == ENOENT) continue; /* removed meanwhile, or dangling symlink */
            st = io_fail(err, w->key, "cannot stat", errno);
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            if (!subtree_may_match(w, nk)) continue;
            if (depth + 1 > DIR_MAX_DEPTH) {
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, w->key, "directories nested deeper than %d levels",
                                DIR_MAX_DEPTH);
                break;
            }
            int sub = openat(dirfd(dp), name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub < 0) {
                if (errno == ENOENT) continue;
                st = io_fail(err, w->key, "cannot open directory", errno);
                break;
            }
            st = walk_dir(w, sub, nk, depth + 1, err);
            if (st != LSTAR_OK || w->stop) break;
        } else if (S_ISREG(sb.st_mode)) {
            if (strncmp(w->key, w->prefix, w->plen) != 0) continue;
            if (w->cb(w->ud, w->key)) {
                w->stop = 1;
                break;
            }
        }
    }
    closedir(dp);
    return st;
}

static lstar_status dir_list(void *ctx, const char *prefix, lstar_store_list_cb cb, void *ud, lstar_error *err) {
    dir_store *d = ctx;
    lstar_status st = LSTAR_OK;
    walk *w = lstar_malloc(sizeof *w);
    if (!w) return LSTAR_NOMEM(err, prefix);
    w->prefix = prefix;
    w->plen = strlen(prefix);
    w->cb = cb;
    w->ud = ud;
    w->stop = 0;
    /* start at the deepest directory the prefix names */
    const char *slash = strrchr(prefix, '/');
    size_t klen = slash ? (size_t)(slash - prefix) : 0;
    memcpy(w->key, prefix, klen);
    w->key[klen] = '\0';
    int fd = klen ? openat(d->rootfd, w->key, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                  : openat(d->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (!is_absent(errno)) st = io_fail(err, w->key, "cannot open directory", errno);
        goto done;
    }
    int depth = 0;
    for (size_t i = 0; i < klen; i++) depth += w->key[i] == '/';
    st = walk_dir(w, fd, klen, depth + (klen ? 1 : 0), err);
done:
    lstar_free(w);
    return st;
}

static void dir_close(void *ctx) {
    dir_store *d = ctx;
    if (!d) return;
    if (d->rootfd >= 0) close(d->rootfd);
    lstar_free(d->path);
    lstar_free(d);
}

static const lstar_store_ops dir_ops = {
    .version = LSTAR_STORE_OPS_VERSION,
    .name = "directory",
    .get = dir_get,
    .get_range = dir_get_range,
    .size = dir_size,
    .set = dir_set,
    .erase = dir_erase,
    .list = dir_list,
    .flush = NULL,
    .close = dir_close,
};

/* mkdir -p for an OS path. */
static lstar_status mkdir_p(const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *p = lstar_strdup(path);
    if (!p) return LSTAR_NOMEM(err, path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        if (p[i - 1] == '/') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            st = io_fail(err, path, "cannot create directory", errno);
            goto done;
        }
        p[i] = c;
    }
done:
    lstar_free(p);
    return st;
}

lstar_status lstar_store_open_dir(const char *path, unsigned flags, lstar_store **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    dir_store *d = NULL;
    if (out) *out = NULL;
    if (!path || !out || !path[0]) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "path and out are required");
    if (flags & LSTAR_STORE_CREATE) LSTAR_CHECK(mkdir_p(path, err));
    d = lstar_calloc(1, sizeof *d);
    if (!d) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    d->rootfd = -1;
    atomic_init(&d->tmp_counter, 0);
    d->path = lstar_strdup(path);
    if (!d->path) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    d->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->rootfd < 0) {
        int e = errno;
        if (e == ENOENT)
            st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no such directory");
        else if (e == ENOTDIR)
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "not a directory");
        else
            st = io_fail(err, path, "cannot open directory", e);
        goto done;
    }
    st = lstar_store_from_ops(&dir_ops, d, flags, out, err);
    d = NULL; /* owned by the store (or closed) now */
done:
    dir_close(d);
    return st;
}
