/* The AnnData node layer: containers (backend detection, MuData modality
 * prefix) and the dispatching wrappers around ad_node_ops. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/store.h"

struct ad_container {
    const ad_node_ops *ops;
    void *ctx;
    char prefix[LSTAR_MAX_KEY_BYTES];
    lstar_anndata_format fmt;
};

lstar_status ad_join(char *buf, size_t size, const char *a, const char *b, lstar_error *err) {
    int n;
    if (!a || !*a)
        n = snprintf(buf, size, "%s", b ? b : "");
    else if (!b || !*b)
        n = snprintf(buf, size, "%s", a);
    else
        n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a, "element path too long");
    return LSTAR_OK;
}

const char *lstar_anndata_format_name(lstar_anndata_format f) {
    switch (f) {
    case LSTAR_ANNDATA_H5AD: return "h5ad";
    case LSTAR_ANNDATA_ZARR_V2: return "anndata-zarr v2";
    case LSTAR_ANNDATA_ZARR_V3: return "anndata-zarr v3";
    case LSTAR_ANNDATA_H5MU: return "h5mu";
    case LSTAR_ANNDATA_MUDATA_ZARR: return "mudata-zarr";
    default: return "unknown";
    }
}

/* 1 if the file carries the HDF5 signature at 0 or at a power-of-two userblock offset. */
static int has_hdf5_signature(FILE *fp, long long fsize) {
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char b[8];
    for (long long off = 0; off + 8 <= fsize; off = off ? off * 2 : 512) {
        if (fseek(fp, (long)off, SEEK_SET) != 0) return 0;
        if (fread(b, 1, 8, fp) != 8) return 0;
        if (memcmp(b, sig, 8) == 0) return 1;
        if (off > ((long long)1 << 40)) break;
    }
    return 0;
}

/* Classify the root: MuData if encoding-type says so or a `mod` group exists. */
static lstar_status classify_root(ad_container *c, lstar_error *err) {
    lstar_status st;
    char *et = NULL;
    ad_kind k = AD_NONE;
    st = ad_attr_string_opt(c, "", "encoding-type", &et, err);
    if (st != LSTAR_OK) return st;
    int mudata = et && strcmp(et, "MuData") == 0;
    lstar_free(et);
    if (!mudata) {
        st = ad_kind_at(c, "mod", &k, err);
        if (st != LSTAR_OK) return st;
        /* A MuData root has a `mod` group of modalities; an AnnData never has one. */
        if (k == AD_GROUP) mudata = 1;
    }
    if (mudata) c->fmt = (c->fmt == LSTAR_ANNDATA_H5AD) ? LSTAR_ANNDATA_H5MU : LSTAR_ANNDATA_MUDATA_ZARR;
    return LSTAR_OK;
}

lstar_status ad_container_open(const char *path, ad_container **out, lstar_anndata_format *fmt, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_container *c = NULL;
    lstar_store *store = NULL;
    FILE *fp = NULL;
    struct stat sb;
    if (out) *out = NULL;
    if (fmt) *fmt = LSTAR_ANNDATA_UNKNOWN;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "ad_container_open: NULL argument");
    if (stat(path, &sb) != 0)
        return LSTAR_FAIL(err, errno == ENOENT ? LSTAR_ERR_NOT_FOUND : LSTAR_ERR_IO, path, "cannot open: %s",
                          strerror(errno));
    c = lstar_calloc(1, sizeof *c);
    if (!c) return LSTAR_NOMEM(err, path);
    if (S_ISREG(sb.st_mode)) {
        unsigned char head[4] = {0};
        fp = fopen(path, "rb");
        if (!fp) {
            st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot open: %s", strerror(errno));
            goto done;
        }
        size_t got = fread(head, 1, 4, fp);
        int is_zip = got == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
        int is_h5 = !is_zip && has_hdf5_signature(fp, (long long)sb.st_size);
        fclose(fp);
        fp = NULL;
        if (is_h5) {
            LSTAR_CHECK(ad_h5_open(path, 0, &c->ops, &c->ctx, err));
            c->fmt = LSTAR_ANNDATA_H5AD;
        } else if (is_zip) {
            int zf = 0;
            LSTAR_CHECK(lstar_store_open_zip(path, &store, err));
            st = ad_zarr_open(store, 0, &c->ops, &c->ctx, &zf, err);
            store = NULL;
            if (st != LSTAR_OK) goto done;
            c->fmt = zf == 3 ? LSTAR_ANNDATA_ZARR_V3 : LSTAR_ANNDATA_ZARR_V2;
        } else {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path,
                            "neither an HDF5 file (no signature at 0 or after a userblock) nor a zip");
            goto done;
        }
    } else if (S_ISDIR(sb.st_mode)) {
        int zf = 0;
        LSTAR_CHECK(lstar_store_open_dir(path, LSTAR_STORE_READ, &store, err));
        st = ad_zarr_open(store, 0, &c->ops, &c->ctx, &zf, err);
        store = NULL;
        if (st != LSTAR_OK) goto done;
        c->fmt = zf == 3 ? LSTAR_ANNDATA_ZARR_V3 : LSTAR_ANNDATA_ZARR_V2;
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "not a regular file or directory");
        goto done;
    }
    LSTAR_CHECK(classify_root(c, err));
    if (fmt) *fmt = c->fmt;
    *out = c;
    c = NULL;
done:
    if (fp) fclose(fp);
    lstar_store_close(store);
    ad_container_close(c);
    return st;
}

lstar_status ad_container_create(const char *path, lstar_anndata_format fmt, ad_container **out,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_container *c = NULL;
    lstar_store *store = NULL;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "ad_container_create: NULL argument");
    c = lstar_calloc(1, sizeof *c);
    if (!c) return LSTAR_NOMEM(err, path);
    c->fmt = fmt;
    if (fmt == LSTAR_ANNDATA_H5AD) {
        LSTAR_CHECK(ad_h5_open(path, 1, &c->ops, &c->ctx, err));
    } else if (fmt == LSTAR_ANNDATA_ZARR_V2 || fmt == LSTAR_ANNDATA_ZARR_V3) {
        int zf = 0;
        LSTAR_CHECK(lstar_store_open_dir(path, LSTAR_STORE_READ | LSTAR_STORE_WRITE | LSTAR_STORE_CREATE, &store,
                                         err));
        st = ad_zarr_open(store, fmt == LSTAR_ANNDATA_ZARR_V3 ? 3 : 2, &c->ops, &c->ctx, &zf, err);
        store = NULL;
        if (st != LSTAR_OK) goto done;
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "cannot create a container of format '%s'",
                        lstar_anndata_format_name(fmt));
        goto done;
    }
    *out = c;
    c = NULL;
done:
    lstar_store_close(store);
    ad_container_close(c);
    return st;
}

void ad_container_close(ad_container *c) {
    if (!c) return;
    if (c->ops && c->ctx) c->ops->close(c->ctx);
    lstar_free(c);
}

void ad_container_release(void *c) { ad_container_close(c); }

lstar_status ad_container_set_prefix(ad_container *c, const char *prefix, lstar_error *err) {
    size_t n = prefix ? strlen(prefix) : 0;
    if (n >= sizeof c->prefix) return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, prefix, "prefix too long");
    memcpy(c->prefix, prefix ? prefix : "", n + 1);
    return LSTAR_OK;
}

const char *ad_container_backend(const ad_container *c) { return c && c->ops ? c->ops->name : NULL; }

struct lstar_h5_file *ad_container_h5(ad_container *c) {
    if (!c || !c->ops || strcmp(c->ops->name, "hdf5") != 0 || c->prefix[0]) return NULL;
    return c->ctx;
}

/* Full backend path of `path` into buf. */
#define FULL(c, path, buf)                                                                                    \
    do {                                                                                                      \
        lstar_status s_ = ad_join((buf), sizeof(buf), (c)->prefix, (path), err);                              \
        if (s_ != LSTAR_OK) return s_;                                                                        \
    } while (0)

#define NEED_OP(c, op, path)                                                                                  \
    do {                                                                                                      \
        if (!(c)->ops->op)                                                                                    \
            return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, (path), "the %s backend has no '%s' operation",     \
                              (c)->ops->name, #op);                                                           \
    } while (0)

lstar_status ad_kind_at(ad_container *c, const char *path, ad_kind *out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->kind(c->ctx, p, out, err);
}

lstar_status ad_list(ad_container *c, const char *path, lstar_strings *names, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->list(c->ctx, p, names, err);
}

lstar_status ad_attr_exists(ad_container *c, const char *path, const char *name, int *exists, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_exists(c->ctx, p, name, exists, err);
}

lstar_status ad_attr_string(ad_container *c, const char *path, const char *name, char **out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_string(c->ctx, p, name, out, err);
}

lstar_status ad_attr_string_opt(ad_container *c, const char *path, const char *name, char **out,
                                lstar_error *err) {
    int ex = 0;
    *out = NULL;
    lstar_status st = ad_attr_exists(c, path, name, &ex, err);
    if (st != LSTAR_OK || !ex) return st;
    return ad_attr_string(c, path, name, out, err);
}

lstar_status ad_attr_strings(ad_container *c, const char *path, const char *name, lstar_strings *out,
                             lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_strings(c->ctx, p, name, out, err);
}

lstar_status ad_attr_i64(ad_container *c, const char *path, const char *name, int64_t **vals, size_t *n,
                         lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_i64(c->ctx, p, name, vals, n, err);
}

lstar_status ad_attr_bool(ad_container *c, const char *path, const char *name, int *out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_bool(c->ctx, p, name, out, err);
}

lstar_status ad_attr_ref(ad_container *c, const char *path, const char *name, char **target, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    lstar_status st = c->ops->attr_ref(c->ctx, p, name, target, err);
    if (st != LSTAR_OK) return st;
    /* Strip the leading '/' and the container prefix. */
    char *t = *target;
    const char *s = t;
    while (*s == '/') s++;
    size_t pl = strlen(c->prefix);
    if (pl && strncmp(s, c->prefix, pl) == 0 && (s[pl] == '/' || s[pl] == 0)) s += pl + (s[pl] == '/');
    memmove(t, s, strlen(s) + 1);
    return LSTAR_OK;
}

lstar_status ad_attr_json(ad_container *c, const char *path, const char *name, char **json, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->attr_json(c->ctx, p, name, json, err);
}

lstar_status ad_array_info_at(ad_container *c, const char *path, ad_array_info *info, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->array_info(c->ctx, p, info, err);
}

lstar_status ad_open_array(ad_container *c, const char *path, lstar_array **out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->open_array(c->ctx, p, out, err);
}

lstar_status ad_read_strings(ad_container *c, const char *path, lstar_strings *out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->read_strings(c->ctx, p, out, err);
}

lstar_status ad_members(ad_container *c, const char *path, ad_member **members, size_t *n, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->members(c->ctx, p, members, n, err);
}

lstar_status ad_read_member(ad_container *c, const char *path, const char *member, lstar_array **out,
                            lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    return c->ops->read_member(c->ctx, p, member, out, err);
}

lstar_status ad_create_group(ad_container *c, const char *path, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, create_group, p);
    return c->ops->create_group(c->ctx, p, err);
}

lstar_status ad_write_attr_string(ad_container *c, const char *path, const char *name, const char *value,
                                  lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_attr_string, p);
    return c->ops->write_attr_string(c->ctx, p, name, value, err);
}

lstar_status ad_write_attr_strings(ad_container *c, const char *path, const char *name, const lstar_strings *s,
                                   lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_attr_strings, p);
    return c->ops->write_attr_strings(c->ctx, p, name, s, err);
}

lstar_status ad_write_attr_i64(ad_container *c, const char *path, const char *name, const int64_t *vals, size_t n,
                               int rank, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_attr_i64, p);
    return c->ops->write_attr_i64(c->ctx, p, name, vals, n, rank, err);
}

lstar_status ad_write_attr_bool(ad_container *c, const char *path, const char *name, int value, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_attr_bool, p);
    return c->ops->write_attr_bool(c->ctx, p, name, value, err);
}

lstar_status ad_write_encoding(ad_container *c, const char *path, const char *type, const char *version,
                               lstar_error *err) {
    lstar_status st = ad_write_attr_string(c, path, "encoding-type", type, err);
    if (st != LSTAR_OK) return st;
    return ad_write_attr_string(c, path, "encoding-version", version, err);
}

lstar_status ad_write_array(ad_container *c, const char *path, const ad_array_spec *spec, const void *data,
                            lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_array, p);
    return c->ops->write_array(c->ctx, p, spec, data, err);
}

lstar_status ad_write_strings(ad_container *c, const char *path, const ad_array_spec *spec, const lstar_strings *s,
                              lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, write_strings, p);
    return c->ops->write_strings(c->ctx, p, spec, s, err);
}

lstar_status ad_appender_new(ad_container *c, const char *path, const ad_array_spec *spec, ad_appender **out,
                             lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    NEED_OP(c, appender_new, p);
    return c->ops->appender_new(c->ctx, p, spec, out, err);
}

lstar_status ad_appender_append(ad_container *c, ad_appender *a, const void *rows, uint64_t nrows, lstar_error *err) {
    return c->ops->appender_append(a, rows, nrows, err);
}

lstar_status ad_appender_finish(ad_container *c, ad_appender *a, lstar_error *err) {
    return c->ops->appender_finish(a, err);
}

void ad_appender_free(ad_container *c, ad_appender *a) {
    if (c && a && c->ops->appender_free) c->ops->appender_free(a);
}

lstar_status ad_flush(ad_container *c, lstar_error *err) {
    if (!c->ops->flush) return LSTAR_OK;
    return c->ops->flush(c->ctx, err);
}

int ad_can_write_records(const ad_container *c) {
    return c && c->ops && c->ops->version >= 2 && c->ops->write_records != NULL;
}

lstar_status ad_write_records(ad_container *c, const char *path, const ad_record_field *fields, size_t nfields,
                              uint64_t n, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    FULL(c, path, p);
    if (!ad_can_write_records(c))
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, p, "the %s backend cannot write record arrays", c->ops->name);
    return c->ops->write_records(c->ctx, p, fields, nfields, n, err);
}
