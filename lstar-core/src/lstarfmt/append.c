/* Add fields to an existing L★ directory store in place
 * (lstar_dataset_append_fields, lstar/lstarstore.h).
 *
 * Order of the writes, chosen so that a failure at any point leaves a store
 * the reader opens as before (plus, at worst, unlisted groups under fields/):
 *   1. the new fields are written as a complete L★ store next to the target
 *      ("<path>.append-tmp-<pid>-<n>", the ordinary streaming writer, same
 *      Zarr format), so nothing in the target changes while values stream;
 *   2. each field group directory is renamed into <path>/fields/ (an
 *      unlisted group is ignored by readers);
 *   3. the metadata that lists them: v2 — root .zattrs, then .zmetadata
 *      (a consolidated reader sees the old view until the second write);
 *      v3 — consolidated metadata first (root attributes still old), then the
 *      root zarr.json with the new `fields` list.  Every file is replaced by
 *      the directory store's write-to-temp-and-rename.
 * With overwrite, a field being replaced is first renamed to a hidden name
 * in fields/ and removed at the end (restored if its replacement cannot be
 * moved in). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "lstar/limits.h"
#include "lstar/lstarstore.h"
#include "lstar/zarr.h"
#include "lstarfmt/lstarfmt_internal.h"

static atomic_uint append_counter;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Remove a directory tree (best effort). */
static void rm_tree(const char *path) { (void)nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* Every span axis of `f` exists in `cur` with the field's length along it. */
static lstar_status check_field(const lstar_dataset *cur, const lstar_field *f, int overwrite, lstar_error *err) {
    const char *name = lstar_field_name(f);
    if (!lstarfmt_name_ok(name))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, "fields", "field name '%.200s' cannot be a store path segment",
                          name ? name : "");
    if (lstar_dataset_field(cur, name) && !overwrite)
        return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, name, "the store already has a field '%.200s'", name);
    uint64_t dims[LSTAR_MAX_RANK];
    int rank = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
    size_t nspan = lstar_field_span_count(f);
    for (size_t i = 0; i < nspan; i++) {
        const char *an = lstar_field_span(f, i);
        const lstar_axis *ax = lstar_dataset_axis(cur, an);
        if (!ax)
            return LSTAR_FAIL(err, LSTAR_ERR_VALIDATION, name, "span axis '%.200s' does not exist in the store", an);
        if (rank == (int)nspan && !lstar_field_index_axis(f) && dims[i] != lstar_axis_length(ax))
            return LSTAR_FAIL(err, LSTAR_ERR_SHAPE, name, "length %llu along '%.200s' but the axis has %llu labels",
                              (unsigned long long)dims[i], an, (unsigned long long)lstar_axis_length(ax));
    }
    return LSTAR_OK;
}

/* root attrs JSON with the names of `add` appended to lstar.fields (once). */
static lstar_status new_root_attrs(const char *old, const lstar_dataset *add, char **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *doc = NULL;
    *out = NULL;
    LSTAR_CHECK(lstar_json_parse(old, strlen(old), "", &doc, err));
    json_t *l = json_object_get(doc, "lstar");
    json_t *fields = l ? json_object_get(l, "fields") : NULL;
    if (!json_is_array(fields)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "", "root attribute lstar.fields is not a list");
        goto done;
    }
    for (size_t i = 0; i < lstar_dataset_field_count(add); i++) {
        const char *n = lstar_field_name(lstar_dataset_field_at(add, i));
        int have = 0;
        size_t k;
        json_t *v;
        json_array_foreach(fields, k, v) if (json_is_string(v) && strcmp(json_string_value(v), n) == 0) have = 1;
        if (!have && json_array_append_new(fields, json_string(n)) != 0) {
            st = LSTAR_NOMEM(err, "");
            goto done;
        }
    }
    *out = lstar_json_dump(doc, 0);
    if (!*out) st = LSTAR_NOMEM(err, "");
done:
    json_decref(doc);
    return st;
}

static lstar_status join3(char *buf, size_t size, const char *a, const char *b, const char *c, lstar_error *err) {
    int n = snprintf(buf, size, "%s/%s/%s", a, b, c);
    if (n < 0 || (size_t)n >= size) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a, "path too long");
    return LSTAR_OK;
}

lstar_status lstar_dataset_append_fields(const char *path, const lstar_dataset *add, const lstar_write_options *o,
                                         lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_dataset *cur = NULL;
    lstar_store *store = NULL;
    lstar_zarr *z = NULL;
    char *attrs = NULL, *nattrs = NULL;
    char tmp[LSTAR_MAX_KEY_BYTES], src[LSTAR_MAX_KEY_BYTES], dst[LSTAR_MAX_KEY_BYTES],
        old[LSTAR_MAX_KEY_BYTES];
    int have_tmp = 0, listed = 0;
    size_t nmoved = 0;
    uint8_t *moved = NULL;   /* per field: 1 moved in */
    uint8_t *trashed = NULL; /* per field: an old group was renamed away */
    lstar_write_options wo;
    if (!path || !add) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "NULL argument");
    if (o)
        wo = *o;
    else
        lstar_write_options_init(&wo);
    size_t nf = lstar_dataset_field_count(add);
    if (nf == 0) return LSTAR_OK;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "not a directory store (fields are added in place)");
    LSTAR_CHECK(lstar_dataset_read(path, &cur, err));
    for (size_t i = 0; i < nf; i++) {
        LSTAR_CHECK(check_field(cur, lstar_dataset_field_at(add, i), wo.overwrite, err));
        for (size_t k = 0; k < i; k++)
            if (strcmp(lstar_field_name(lstar_dataset_field_at(add, k)),
                       lstar_field_name(lstar_dataset_field_at(add, i))) == 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, lstar_field_name(lstar_dataset_field_at(add, i)),
                                "field given twice");
                goto done;
            }
    }
    LSTAR_CHECK(lstar_store_open_dir(path, LSTAR_STORE_READ | LSTAR_STORE_WRITE, &store, err));
    LSTAR_CHECK(lstar_zarr_open(store, &z, err));
    int consolidated = lstar_zarr_is_consolidated(z);
    wo.zarr_format = lstar_zarr_format(z);
    if (wo.shard_elems && wo.zarr_format != 3) wo.shard_elems = 0;
    wo.overwrite = 0;
    wo.consolidate = 0;
    /* 1. the new fields as a store of their own */
    int n = snprintf(tmp, sizeof tmp, "%s.append-tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&append_counter, 1));
    if (n < 0 || (size_t)n >= sizeof tmp) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, path, "path too long");
        goto done;
    }
    have_tmp = 1;
    LSTAR_CHECK(lstar_dataset_write(add, tmp, &wo, err));
    moved = lstar_calloc(nf, 1);
    trashed = lstar_calloc(nf, 1);
    if (!moved || !trashed) {
        st = LSTAR_NOMEM(err, NULL);
        goto done;
    }
    /* 2. move the groups in */
    for (size_t i = 0; i < nf; i++) {
        const char *name = lstar_field_name(lstar_dataset_field_at(add, i));
        LSTAR_CHECK(join3(src, sizeof src, tmp, "fields", name, err));
        LSTAR_CHECK(join3(dst, sizeof dst, path, "fields", name, err));
        char hidden[LSTAR_MAX_KEY_BYTES];
        n = snprintf(hidden, sizeof hidden, ".%s.replaced-%ld", name, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof hidden) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, name, "name too long");
            goto done;
        }
        LSTAR_CHECK(join3(old, sizeof old, path, "fields", hidden, err));
        if (lstar_dataset_field(cur, name)) {
            if (rename(dst, old) != 0) {
                st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot move the old field away: %s", strerror(errno));
                goto done;
            }
            trashed[i] = 1;
        }
        if (rename(src, dst) != 0) {
            int e = errno;
            if (trashed[i] && rename(old, dst) == 0) trashed[i] = 0;
            st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot move the new field group in: %s", strerror(e));
            goto done;
        }
        moved[i] = 1;
        nmoved++;
    }
    /* 3. the metadata that lists them */
    LSTAR_CHECK(lstar_zarr_get_attrs(z, "", &attrs, err));
    LSTAR_CHECK(new_root_attrs(attrs, add, &nattrs, err));
    if (wo.zarr_format == 2) {
        LSTAR_CHECK(lstar_zarr_set_attrs(z, "", nattrs, err));
        listed = 1;
        if (consolidated) LSTAR_CHECK(lstar_zarr_consolidate(z, err));
    } else {
        if (consolidated) LSTAR_CHECK(lstar_zarr_consolidate(z, err));
        LSTAR_CHECK(lstar_zarr_set_attrs(z, "", nattrs, err));
        listed = 1;
    }
    LSTAR_CHECK(lstar_store_flush(store, err));
    /* the replaced groups are gone for good now */
    for (size_t i = 0; i < nf; i++) {
        if (!trashed[i]) continue;
        char hidden[LSTAR_MAX_KEY_BYTES];
        snprintf(hidden, sizeof hidden, ".%s.replaced-%ld", lstar_field_name(lstar_dataset_field_at(add, i)),
                 (long)getpid());
        if (join3(old, sizeof old, path, "fields", hidden, NULL) == LSTAR_OK) rm_tree(old);
        trashed[i] = 0;
    }
done:
    if (st != LSTAR_OK && moved && !listed) {
        /* Not listed: harmless to readers, but take the new groups out and put
         * replaced ones back so the store is exactly as before. */
        for (size_t i = 0; i < nf; i++) {
            const char *name = lstar_field_name(lstar_dataset_field_at(add, i));
            char hidden[LSTAR_MAX_KEY_BYTES];
            if (join3(dst, sizeof dst, path, "fields", name, NULL) != LSTAR_OK) continue;
            if (moved[i]) rm_tree(dst);
            snprintf(hidden, sizeof hidden, ".%s.replaced-%ld", name, (long)getpid());
            if (trashed[i] && join3(old, sizeof old, path, "fields", hidden, NULL) == LSTAR_OK) (void)rename(old, dst);
        }
    }
    if (have_tmp) rm_tree(tmp);
    (void)nmoved;
    lstar_free(moved);
    lstar_free(trashed);
    lstar_free(attrs);
    lstar_free(nattrs);
    lstar_zarr_close(z);
    lstar_store_close(store);
    lstar_dataset_free(cur);
    return st;
}
