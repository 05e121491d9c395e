/* lstar repack for Zarr stores (anndata-zarr, L★; v2/v3; directory or zip
 * source → directory destination).  Groups are recreated with their
 * attributes, numeric arrays are re-encoded through the streaming writer
 * (which encodes in parallel), everything else (strings, rank-0 arrays) is
 * copied key for key; consolidated metadata is rewritten when the source had
 * it.  See docs/internals/repack.md. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lstar/alloc.h"
#include "lstar/pool.h"
#include "lstar/zarr.h"
#include "repack/repack_internal.h"
#include "zarr/zarr_internal.h"

typedef struct rz_ctx {
    const lstar_repack_opts *o;
    lstar_store *ss, *ds;
    lstar_zarr *sz, *dz;
    lstar_repack_stats *stats;
    int threads;
} rz_ctx;

typedef struct rz_names {
    char **v;
    size_t n, cap;
    int nomem;
} rz_names;

static int rz_name_cb(void *ud, const char *key) {
    rz_names *ns = ud;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 16;
        char **v = lstar_realloc(ns->v, cap * sizeof *v);
        if (!v) {
            ns->nomem = 1;
            return 1;
        }
        ns->v = v;
        ns->cap = cap;
    }
    ns->v[ns->n] = lstar_strdup(key);
    if (!ns->v[ns->n]) {
        ns->nomem = 1;
        return 1;
    }
    ns->n++;
    return 0;
}

static void rz_names_free(rz_names *ns) {
    for (size_t i = 0; i < ns->n; i++) lstar_free(ns->v[i]);
    lstar_free(ns->v);
    memset(ns, 0, sizeof *ns);
}

static char *rz_join(const char *parent, const char *name) {
    size_t a = strlen(parent), b = strlen(name);
    char *p = lstar_malloc(a + b + 2);
    if (!p) return NULL;
    if (a) {
        memcpy(p, parent, a);
        p[a++] = '/';
    }
    memcpy(p + a, name, b + 1);
    return p;
}

/* Copy every key under "path/" as it is. */
static lstar_status rz_copy_keys(rz_ctx *c, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    rz_names keys;
    char *prefix = rz_join(path, "");
    memset(&keys, 0, sizeof keys);
    if (!prefix) return LSTAR_NOMEM(err, path);
    st = lstar_store_list(c->ss, prefix, rz_name_cb, &keys, err);
    if (st == LSTAR_OK && keys.nomem) st = LSTAR_NOMEM(err, path);
    for (size_t i = 0; i < keys.n && st == LSTAR_OK; i++) {
        uint8_t *data = NULL;
        size_t size = 0;
        st = lstar_store_get(c->ss, keys.v[i], 0, &data, &size, err);
        if (st == LSTAR_OK) st = lstar_store_set(c->ds, keys.v[i], data, size, err);
        lstar_free(data);
    }
    rz_names_free(&keys);
    lstar_free(prefix);
    return st;
}

/* Zarr v2 keeps attributes in their own object: copy `<path>/<name>`
 * byte for byte when the source has it, so that key order and formatting
 * stay exactly as they were (our writer sorts keys, as zarr-python does). */
static lstar_status rz_copy_meta(rz_ctx *c, const char *path, const char *name, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *key = rz_join(path, name);
    uint8_t *data = NULL;
    size_t size = 0;
    if (!key) return LSTAR_NOMEM(err, path);
    lstar_error e2 = {0};
    if (lstar_zarr_format(c->sz) == 2 && lstar_store_exists(c->ss, key, &e2)) {
        st = lstar_store_get(c->ss, key, LSTAR_MAX_METADATA_BYTES, &data, &size, err);
        if (st == LSTAR_OK) st = lstar_store_set(c->ds, key, data, size, err);
    } else if (e2.status != LSTAR_OK) {
        if (err) *err = e2;
        st = e2.status;
    }
    lstar_free(data);
    lstar_free(key);
    return st;
}

static int rz_reencodes(lstar_dtype t) {
    switch (t) {
    case LSTAR_DTYPE_BOOL:
    case LSTAR_DTYPE_INT8:
    case LSTAR_DTYPE_INT16:
    case LSTAR_DTYPE_INT32:
    case LSTAR_DTYPE_INT64:
    case LSTAR_DTYPE_UINT8:
    case LSTAR_DTYPE_UINT16:
    case LSTAR_DTYPE_UINT32:
    case LSTAR_DTYPE_UINT64:
    case LSTAR_DTYPE_FLOAT16:
    case LSTAR_DTYPE_FLOAT32:
    case LSTAR_DTYPE_FLOAT64:
    case LSTAR_DTYPE_COMPLEX64:
    case LSTAR_DTYPE_COMPLEX128: return 1;
    default: return 0;
    }
}

static int rz_is_int(lstar_dtype t) {
    return t == LSTAR_DTYPE_INT8 || t == LSTAR_DTYPE_INT16 || t == LSTAR_DTYPE_INT32 || t == LSTAR_DTYPE_INT64 ||
           t == LSTAR_DTYPE_UINT8 || t == LSTAR_DTYPE_UINT16 || t == LSTAR_DTYPE_UINT32 ||
           t == LSTAR_DTYPE_UINT64;
}

/* Rows [r, r + n) (full trailing dims) of `a` into buf. */
static lstar_status rz_read_rows(lstar_zarr_array *a, int rank, const uint64_t *shape, uint64_t r, uint64_t n,
                                 void *buf, lstar_error *err) {
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    start[0] = r;
    count[0] = n;
    for (int d = 1; d < rank; d++) count[d] = shape[d];
    return lstar_zarr_array_read(a, start, count, buf, err);
}

static lstar_status rz_encode_array(rz_ctx *c, lstar_zarr_array *a, const char *path, const char *name,
                                    lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const lstar_repack_opts *o = c->o;
    lstar_zarr_writer *w = NULL;
    lstar_codec *cdelta = NULL, *cshuf = NULL, *ccomp = NULL;
    char *attrs = NULL;
    uint8_t *buf = NULL;
    int rank = lstar_zarr_array_rank(a);
    const uint64_t *shape = lstar_zarr_array_shape(a);
    lstar_dtype dt = lstar_zarr_array_dtype(a);
    size_t esize = lstar_zarr_array_itemsize(a);
    uint64_t maxshape[LSTAR_MAX_RANK], chunk[LSTAR_MAX_RANK];
    for (int d = 0; d < rank; d++) maxshape[d] = UINT64_MAX;
    if (!rp_target_chunks(o, rank, shape, maxshape, lstar_zarr_array_chunks(a), esize, LSTAR_MAX_CHUNK_BYTES, chunk))
        return LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, path, "no valid chunking");
    /* The streaming writer takes full trailing dims per chunk row band; keep
     * the source's inner chunking of the trailing dims. */
    uint64_t row_elems = 1;
    for (int d = 1; d < rank; d++) row_elems *= shape[d];
    int delta = o->delta_indices && rz_is_int(dt) && rp_is_index_name(name);
    int shuffle = o->shuffle && esize > 1 && dt != LSTAR_DTYPE_BOOL;
    char comp[48] = "", filters[48] = "";
    if (o->compressor != LSTAR_REPACK_NONE)
        snprintf(comp, sizeof comp, "%s:%d", o->compressor == LSTAR_REPACK_GZIP ? "gzip" : "zstd", o->level);
    /* Sharded sources keep their shards when the chunking is kept. */
    const uint64_t *shard = o->chunk_elems == 0 ? lstar_zarr_array_shard_shape(a) : NULL;
    uint64_t src_rows = shard ? shard[0] : lstar_zarr_array_chunks(a)[0];
    if (!src_rows) src_rows = 1;
    uint64_t k = (src_rows + chunk[0] - 1) / chunk[0];
    uint64_t block_rows = chunk[0] * (k ? k : 1);
    if (row_elems && block_rows > LSTAR_MAX_CHUNK_BYTES / (row_elems * esize)) block_rows = chunk[0];
    size_t block_bytes = (size_t)(block_rows * row_elems * esize);
    buf = lstar_malloc(block_bytes ? block_bytes : 1);
    if (!buf) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    if (shuffle && o->shuffle == LSTAR_REPACK_SHUFFLE_AUTO && comp[0]) {
        uint64_t with = 0, without = 0, nbands = shape[0] ? (shape[0] + chunk[0] - 1) / chunk[0] : 0;
        uint64_t ns = nbands < RP_AUTO_SAMPLE_CHUNKS ? nbands : RP_AUTO_SAMPLE_CHUNKS;
        if (delta) LSTAR_CHECK(rp_codec("delta", dt, esize, &cdelta, path, err));
        char sp[32];
        snprintf(sp, sizeof sp, "shuffle:%zu", esize);
        LSTAR_CHECK(rp_codec(sp, LSTAR_DTYPE_UINT8, 1, &cshuf, path, err));
        LSTAR_CHECK(rp_codec(comp, LSTAR_DTYPE_UINT8, 1, &ccomp, path, err));
        for (uint64_t s = 0; s < ns; s++) {
            uint64_t r = s * nbands / ns * chunk[0];
            uint64_t n = shape[0] - r < chunk[0] ? shape[0] - r : chunk[0];
            LSTAR_CHECK(rz_read_rows(a, rank, shape, r, n, buf, err));
            LSTAR_CHECK(rp_shuffle_sample(buf, (size_t)(n * row_elems * esize), cdelta, cshuf, ccomp, &with, &without,
                                          path, err));
        }
        shuffle = ns > 0 && with < without;
    }
    if (delta) strcat(filters, "delta");
    if (shuffle) strcat(filters, delta ? ",shuffle" : "shuffle");
    LSTAR_CHECK(lstar_zarr_array_get_attrs(a, &attrs, err));
    lstar_zarr_array_spec spec;
    lstar_zarr_array_spec_init(&spec);
    spec.rank = rank;
    for (int d = 0; d < rank; d++) {
        spec.shape[d] = shape[d];
        spec.chunks[d] = chunk[d];
        spec.shard[d] = shard ? shard[d] : 0;
    }
    spec.dtype = dt;
    spec.compression = comp[0] ? comp : NULL;
    spec.filters = filters[0] ? filters : NULL;
    if (a->fill && dt != LSTAR_DTYPE_COMPLEX64 && dt != LSTAR_DTYPE_COMPLEX128 && dt != LSTAR_DTYPE_FLOAT16) {
        spec.has_fill_value = 1;
        spec.fill_value = lstar_dtype_get_f64(dt, a->fill, 0);
    }
    spec.dimension_separator = a->sep;
    spec.attrs_json = attrs;
    spec.threads = c->threads;
    LSTAR_CHECK(lstar_zarr_writer_new(c->dz, path, &spec, &w, err));
    for (uint64_t r = 0; r < shape[0]; r += block_rows) {
        uint64_t n = shape[0] - r < block_rows ? shape[0] - r : block_rows;
        LSTAR_CHECK(rz_read_rows(a, rank, shape, r, n, buf, err));
        LSTAR_CHECK(lstar_zarr_writer_append(w, buf, n, err));
    }
    LSTAR_CHECK(lstar_zarr_writer_finish(w, err));
    LSTAR_CHECK(rz_copy_meta(c, path, ".zattrs", err));
    {
        uint64_t in = 0, out = 0;
        lstar_zarr_array *na = NULL;
        if (lstar_zarr_array_stored_bytes(a, &in, NULL) == LSTAR_OK) c->stats->bytes_in += in;
        if (lstar_zarr_array_open(c->dz, path, &na, NULL) == LSTAR_OK &&
            lstar_zarr_array_stored_bytes(na, &out, NULL) == LSTAR_OK)
            c->stats->bytes_out += out;
        lstar_zarr_array_close(na);
    }
    c->stats->datasets_encoded++;
done:
    lstar_zarr_writer_free(w);
    lstar_codec_free(cdelta);
    lstar_codec_free(cshuf);
    lstar_codec_free(ccomp);
    lstar_free(attrs);
    lstar_free(buf);
    return st;
}

static lstar_status rz_copy_node(rz_ctx *c, const char *path, const char *name, lstar_error *err);

static lstar_status rz_copy_group(rz_ctx *c, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *attrs = NULL;
    rz_names ns;
    memset(&ns, 0, sizeof ns);
    LSTAR_CHECK(lstar_zarr_get_attrs(c->sz, path, &attrs, err));
    LSTAR_CHECK(lstar_zarr_group_create(c->dz, path, attrs, err));
    LSTAR_CHECK(rz_copy_meta(c, path, ".zgroup", err));
    LSTAR_CHECK(rz_copy_meta(c, path, ".zattrs", err));
    c->stats->groups++;
    LSTAR_CHECK(lstar_zarr_list_children(c->sz, path, rz_name_cb, &ns, err));
    if (ns.nomem) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    for (size_t i = 0; i < ns.n; i++) {
        char *child = rz_join(path, ns.v[i]);
        if (!child) {
            st = LSTAR_NOMEM(err, path);
            goto done;
        }
        st = rz_copy_node(c, child, ns.v[i], err);
        lstar_free(child);
        if (st != LSTAR_OK) goto done;
    }
done:
    rz_names_free(&ns);
    lstar_free(attrs);
    return st;
}

static lstar_status rz_copy_node(rz_ctx *c, const char *path, const char *name, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr_array *a = NULL;
    lstar_error e2 = {0};
    lstar_zarr_node t = lstar_zarr_node_type(c->sz, path, &e2);
    if (t == LSTAR_ZARR_GROUP) return rz_copy_group(c, path, err);
    if (t != LSTAR_ZARR_ARRAY) {
        if (e2.status != LSTAR_OK) {
            if (err) *err = e2;
            return e2.status;
        }
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "neither a group nor an array");
    }
    st = lstar_zarr_array_open(c->sz, path, &a, err);
    if (st == LSTAR_ERR_UNSUPPORTED) { /* a codec or dtype we cannot decode: copy it as it is */
        if (err) memset(err, 0, sizeof *err);
        c->stats->datasets_copied++;
        return rz_copy_keys(c, path, err);
    }
    if (st != LSTAR_OK) return st;
    if (rz_reencodes(lstar_zarr_array_dtype(a)) && lstar_zarr_array_rank(a) >= 1) {
        st = rz_encode_array(c, a, path, name, err);
    } else {
        c->stats->datasets_copied++;
        st = rz_copy_keys(c, path, err);
    }
    lstar_zarr_array_close(a);
    return st;
}

/* Remove a directory tree (our own temporary or replaced output). */
static int rz_rmtree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *child = rz_join(path, e->d_name);
        if (!child || rz_rmtree(child) != 0) rc = -1;
        lstar_free(child);
    }
    closedir(d);
    return rmdir(path) == 0 ? rc : -1;
}

/* Bytes of the regular files under `path` (or of the file itself). */
static uint64_t rz_tree_bytes(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode)) return S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    uint64_t n = 0;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *child = rz_join(path, e->d_name);
        if (child) n += rz_tree_bytes(child);
        lstar_free(child);
    }
    if (d) closedir(d);
    return n;
}

static int rz_same(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

lstar_status lstar_repack_zarr(const char *src, const char *dst, const lstar_repack_opts *opts,
                               lstar_repack_stats *stats, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_repack_opts defaults;
    lstar_repack_stats local;
    rz_ctx c;
    char *tmp = NULL, *old = NULL;
    memset(&c, 0, sizeof c);
    if (!opts) {
        lstar_repack_opts_init(&defaults);
        opts = &defaults;
    }
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    c.o = opts;
    c.stats = stats;
    if (!src || !dst) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "source and destination are required");
    if (opts->compressor == LSTAR_REPACK_GZIP && (opts->level < 0 || opts->level > 9))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "gzip level %d is outside 0..9", opts->level);
    if (opts->compressor == LSTAR_REPACK_ZSTD && (opts->level < -131072 || opts->level > 22))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "zstd level %d is outside -131072..22", opts->level);
    if (opts->threads < 0 || opts->threads > LSTAR_MAX_THREADS)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "threads %d is outside 0..%d", opts->threads,
                          LSTAR_MAX_THREADS);
    if (access(src, F_OK) != 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, src, "no such file or directory");
    if (access(dst, F_OK) == 0) {
        if (rz_same(src, dst)) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, dst, "the destination is the source");
        if (!opts->overwrite)
            return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, dst, "destination exists (use overwrite to replace it)");
    }
    c.threads = opts->threads ? opts->threads : lstar_cpu_count();
    LSTAR_CHECK(lstar_store_open(src, LSTAR_STORE_READ, &c.ss, err));
    LSTAR_CHECK(lstar_zarr_open(c.ss, &c.sz, err));
    LSTAR_CHECK(rp_make_temp(dst, "tmp", 1, &tmp, err));
    LSTAR_CHECK(lstar_store_open_dir(tmp, LSTAR_STORE_WRITE, &c.ds, err));
    LSTAR_CHECK(lstar_zarr_create(c.ds, lstar_zarr_format(c.sz), &c.dz, err));
    {
        lstar_error e2 = {0};
        lstar_zarr_node root = lstar_zarr_node_type(c.sz, "", &e2);
        if (root != LSTAR_ZARR_GROUP) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, src, "the root is not a group");
            goto done;
        }
    }
    LSTAR_CHECK(rz_copy_group(&c, "", err));
    if (lstar_zarr_is_consolidated(c.sz)) LSTAR_CHECK(lstar_zarr_consolidate(c.dz, err));
    LSTAR_CHECK(lstar_store_flush(c.ds, err));
    lstar_zarr_close(c.dz);
    c.dz = NULL;
    lstar_store_close(c.ds);
    c.ds = NULL;
    /* Replace: an existing dst is moved aside first, removed after. */
    if (access(dst, F_OK) == 0) {
        LSTAR_CHECK(rp_make_temp(dst, "old", 1, &old, err));
        if (rmdir(old) != 0 || rename(dst, old) != 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot move the old destination aside: %s", strerror(errno));
            goto done;
        }
    }
    if (rename(tmp, dst) != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, dst, "cannot rename the temporary directory: %s", strerror(errno));
        if (old && rename(old, dst) == 0) {
            lstar_free(old);
            old = NULL;
        }
        goto done;
    }
    lstar_free(tmp);
    tmp = NULL;
    if (old) {
        rz_rmtree(old);
        lstar_free(old);
        old = NULL;
    }
    stats->file_bytes_in = rz_tree_bytes(src);
    stats->file_bytes_out = rz_tree_bytes(dst);
done:
    lstar_zarr_close(c.dz);
    lstar_store_close(c.ds);
    lstar_zarr_close(c.sz);
    lstar_store_close(c.ss);
    if (tmp) {
        rz_rmtree(tmp);
        lstar_free(tmp);
    }
    lstar_free(old);
    return st;
}
