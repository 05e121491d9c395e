/* lstar_dataset_write: build the store in "<path>.tmp-<pid>-<n>" and rename
 * it into place only when everything was written.
 *
 * Without overwrite an existing destination is refused (LSTAR_ERR_EXISTS)
 * before any work.  With overwrite the old copy is renamed aside
 * ("<path>.old-<pid>-<n>"), the new one renamed in, and only then is the old
 * one deleted, so a failure at any point leaves either the old or the new
 * store at `path`, never a partial one.  A failed write removes its temporary
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/lstarstore.h"
#include "lstarfmt/lstarfmt_internal.h"

static atomic_ulong g_counter;

/* Remove a file or a directory tree (best effort; errors are ignored because
 * this only cleans up what we created). */
static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            size_t plen = strlen(path);
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                size_t n = plen + 1 + strlen(e->d_name) + 1;
                char *child = lstar_malloc(n);
                if (!child) continue;
                snprintf(child, n, "%s/%s", path, e->d_name);
                remove_tree(child);
                lstar_free(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A sibling name "<base>.<tag>-<pid>-<n>" that does not exist yet. */
static lstar_status sibling_name(const char *base, const char *tag, char **out, lstar_error *err) {
    size_t n = strlen(base) + strlen(tag) + 64;
    char *s = lstar_malloc(n);
    *out = NULL;
    if (!s) return LSTAR_NOMEM(err, base);
    for (int tries = 0; tries < 1000; tries++) {
        struct stat sb;
        unsigned long c = atomic_fetch_add(&g_counter, 1ul);
        snprintf(s, n, "%s.%s-%ld-%lu", base, tag, (long)getpid(), c);
        if (lstat(s, &sb) != 0 && errno == ENOENT) {
            *out = s;
            return LSTAR_OK;
        }
    }
    lstar_free(s);
    return LSTAR_FAIL(err, LSTAR_ERR_IO, base, "cannot find a free temporary name next to the destination");
}

lstar_status lstar_dataset_write(const lstar_dataset *ds, const char *path, const lstar_write_options *o,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_write_options defaults;
    lstar_store *store = NULL;
    char *dest = NULL, *tmp = NULL, *old = NULL;
    struct stat sb;
    int exists;
    if (!ds || !path || !path[0])
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_dataset_write: NULL argument");
    if (!o) {
        lstar_write_options_init(&defaults);
        o = &defaults;
    }
    /* "out.zarr/" and "out.zarr" are the same destination; the temporary
     * sibling must not end up inside it. */
    dest = lstar_strdup(path);
    if (!dest) return LSTAR_NOMEM(err, path);
    for (size_t n = strlen(dest); n > 1 && dest[n - 1] == '/'; n--) dest[n - 1] = '\0';

    if (lstat(dest, &sb) == 0) {
        exists = 1;
    } else if (errno == ENOENT) {
        exists = 0;
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, dest, "cannot inspect the destination: %s", strerror(errno));
        goto done;
    }
    if (exists && !o->overwrite) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, dest, "the destination exists (set overwrite to replace it)");
        goto done;
    }
    LSTAR_CHECK(sibling_name(dest, "tmp", &tmp, err));
    LSTAR_CHECK(lstar_store_open_dir(tmp, LSTAR_STORE_READ | LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &store, err));
    LSTAR_CHECK(lstar_dataset_write_store(ds, store, o, err));
    LSTAR_CHECK(lstar_store_flush(store, err));
    lstar_store_close(store);
    store = NULL;

    if (exists) {
        LSTAR_CHECK(sibling_name(dest, "old", &old, err));
        if (rename(dest, old) != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_IO, dest, "cannot move the existing destination aside: %s",
                            strerror(errno));
            lstar_free(old);
            old = NULL;
            goto done;
        }
    }
    if (rename(tmp, dest) != 0) {
        int e = errno;
        if (old && rename(old, dest) == 0) {
            lstar_free(old);
            old = NULL;
        }
        st = LSTAR_FAIL(err, e == EEXIST || e == ENOTEMPTY ? LSTAR_ERR_EXISTS : LSTAR_ERR_IO, dest,
                        "cannot rename the finished store into place: %s", strerror(e));
        goto done;
    }
    lstar_free(tmp);
    tmp = NULL;
    if (old) remove_tree(old);
done:
    lstar_store_close(store);
    if (tmp) remove_tree(tmp);
    lstar_free(tmp);
    lstar_free(old);
    lstar_free(dest);
    return st;
}
