/* L★ → AnnData: streaming matrix writers (dense arrays, csr/csc groups).
 *
 * Every matrix is copied block by block from its source lstar_arrays into
 * growable chunked arrays through the node layer's appenders: HDF5 appenders
 * encode whole chunks on the pool workers and store them with the raw chunk
 * write; Zarr appenders are the streaming writer with its encoder threads.
 * Memory: one block of the source (about chunk_elems elements / stored
 * entries) plus the appenders' chunk buffers.  See docs/internals/anndata.md
 * ("Writing AnnData"). */
#include <stdio.h>
#include <string.h>

#include "anndata/ad_node.h"
#include "common/error.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/h5.h"
#include "lstar/sparse.h"
#include "lstar/zarr.h"

static void progress(const ad_wopts *w, uint64_t n) {
    if (!w->done) return;
    *w->done += n;
    if (w->progress) w->progress(w->progress_ud, *w->done, w->total);
}

/* Chunk (and v3 shard) rows of an array of `shape` for the options. */
static void chunking(const ad_wopts *w, int rank, const uint64_t *shape, uint64_t *chunks, uint64_t *shard) {
    uint64_t rows = lstar_chunk_rows(w->chunk_elems, rank, shape);
    if (rows == 0) rows = 1;
    for (int i = 0; i < rank; i++) {
        chunks[i] = i ? (shape[i] ? shape[i] : 1) : rows;
        shard[i] = 0;
    }
    if (w->zarr_format == 3 && w->shard_elems && rank >= 1) {
        uint64_t srows = lstar_chunk_rows(w->shard_elems, rank, shape);
        if (srows < rows) srows = rows;
        srows = (srows + rows - 1) / rows * rows;
        if (srows > rows) {
            for (int i = 0; i < rank; i++) shard[i] = chunks[i];
            shard[0] = srows;
        }
    }
}

lstar_status ad_write_small(ad_container *c, const char *dest, const lstar_array *a, const ad_wopts *w,
                            lstar_error *err) {
    lstar_status st = LSTAR_OK;
    void *buf = NULL;
    size_t nb = 0;
    ad_array_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.dtype = lstar_array_dtype(a);
    spec.rank = lstar_array_rank(a);
    memcpy(spec.shape, lstar_array_shape(a), (size_t)spec.rank * sizeof(uint64_t));
    if (spec.rank > 0) spec.compression = w->compression;
    LSTAR_CHECK(lstar_array_read_all(a, 0, &buf, &nb, err));
    st = ad_write_array(c, dest, &spec, buf, err);
    if (st == LSTAR_OK) progress(w, lstar_array_size(a));
done:
    lstar_free(buf);
    return st;
}

/* ---- chunk copy: Zarr source → h5ad ------------------------------------------------------------- */

enum { FAM_NONE = 0, FAM_DEFLATE = 1, FAM_ZSTD = 2, FAM_OTHER = 3 };

static int family_of_spec(const char *spec) {
    if (!spec || !*spec || strcmp(spec, "none") == 0) return FAM_NONE;
    if (!strncmp(spec, "gzip", 4) || !strncmp(spec, "zlib", 4)) return FAM_DEFLATE;
    if (!strncmp(spec, "zstd", 4)) return FAM_ZSTD;
    return FAM_OTHER;
}

/* The HDF5 pipeline holding exactly the bytes of the Zarr array's chunks,
 * from its codec chain: [shuffle(itemsize)] then zlib(L) → deflate (1), or
 * zstd(L) → 32015; v3 `bytes(little)` is implied.  Also the codec specs to
 * encode a chunk the same way (for chunks the store does not hold).
 * Returns the family, FAM_OTHER if not representable. */
static int zarr_h5_pipeline(const lstar_zarr_array *za, lstar_h5_filter *f, size_t *nf, char *shuf, size_t shufsz,
                            char *comp, size_t compsz) {
    int fam = FAM_OTHER;
    size_t es = lstar_zarr_array_itemsize(za);
    const char *dt = lstar_zarr_array_dtype_text(za);
    *nf = 0;
    shuf[0] = comp[0] = 0;
    if (lstar_zarr_array_shard_shape(za) || es == 0 || !dt || dt[0] == '>') return FAM_OTHER;
    char *desc = lstar_zarr_array_codecs_desc(za);
    if (!desc) return FAM_OTHER;
    int have_comp = 0, ok = 1;
    for (char *tok = desc; ok && tok && *tok;) {
        char *sep = strstr(tok, " | ");
        if (sep) *sep = 0;
        unsigned v = 0;
        if (strcmp(tok, "none") == 0 || strcmp(tok, "bytes") == 0 || strcmp(tok, "bytes(little)") == 0) {
            /* nothing */
        } else if (!have_comp && sscanf(tok, "shuffle(%u)", &v) == 1 && v == es && *nf == 0) {
            f[*nf].id = 2;
            f[*nf].flags = LSTAR_H5_FILTER_OPTIONAL;
            f[*nf].ncd = 1;
            f[*nf].cd[0] = v;
            (*nf)++;
            snprintf(shuf, shufsz, "shuffle");
        } else if (!have_comp && (sscanf(tok, "zlib(%u)", &v) == 1 || sscanf(tok, "zstd(%u)", &v) == 1)) {
            int z = tok[2] == 't';
            f[*nf].id = z ? 32015 : 1;
            f[*nf].flags = z ? 0 : LSTAR_H5_FILTER_OPTIONAL;
            f[*nf].ncd = 1;
            f[*nf].cd[0] = v;
            (*nf)++;
            snprintf(comp, compsz, "%s:%u", z ? "zstd" : "zlib", v);
            fam = z ? FAM_ZSTD : FAM_DEFLATE;
            have_comp = 1;
        } else {
            ok = 0;
        }
        tok = sep ? sep + 3 : NULL;
    }
    lstar_free(desc);
    return ok && have_comp ? fam : FAM_OTHER;
}

/* Copy the chunks of Zarr array `za` verbatim into a new HDF5 dataset at
 * `dest` whose chunk shape and filters reproduce them.  *done = 0 when the
 * array does not qualify (nothing was created). */
static lstar_status copy_zarr_chunks(ad_container *c, const char *dest, const lstar_array *a, ad_wopts *w,
                                     int *done, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_file *hf = ad_container_h5(c);
    struct lstar_zarr_array *za = lstar_array_zarr(a);
    lstar_h5_filter f[2];
    size_t nf = 0;
    char shuf[16], comp[32];
    lstar_h5_dataset *d = NULL;
    lstar_codec *cs = NULL, *cc = NULL;
    uint8_t *raw = NULL, *dec = NULL, *tmp1 = NULL, *tmp2 = NULL;
    *done = 0;
    if (!w->chunk_copy || !hf || !za || w->zarr_format) return LSTAR_OK;
    memset(f, 0, sizeof f);
    int fam = zarr_h5_pipeline(za, f, &nf, shuf, sizeof shuf, comp, sizeof comp);
    if (fam == FAM_OTHER || fam == FAM_NONE || fam != family_of_spec(w->compression)) return LSTAR_OK;
    int rank = lstar_zarr_array_rank(za);
    const uint64_t *shape = lstar_zarr_array_shape(za), *chunks = lstar_zarr_array_chunks(za);
    size_t es = lstar_zarr_array_itemsize(za);
    if (rank < 1 || lstar_zarr_array_dtype(za) != lstar_array_dtype(a)) return LSTAR_OK;
    uint64_t celems = 1, nchunks = 1, grid[LSTAR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        if (chunks[i] == 0 || shape[i] == 0) return LSTAR_OK;
        celems *= chunks[i];
        grid[i] = (shape[i] + chunks[i] - 1) / chunks[i];
        nchunks *= grid[i];
    }
    if (celems * es > (uint64_t)LSTAR_MAX_CHUNK_BYTES / 4 || celems * es >= ((uint64_t)1 << 32)) return LSTAR_OK;
    lstar_h5_dataset_spec hs;
    memset(&hs, 0, sizeof hs);
    hs.dtype = lstar_zarr_array_dtype(za);
    hs.rank = rank;
    for (int i = 0; i < rank; i++) {
        hs.shape[i] = shape[i];
        hs.chunks[i] = chunks[i];
        hs.maxshape[i] = chunks[i] > shape[i] ? UINT64_MAX : shape[i]; /* HDF5: chunk <= fixed max dims */
    }
    hs.nfilters = nf;
    hs.filters = f;
    LSTAR_CHECK(lstar_h5_dataset_create(hf, dest, &hs, &d, err));
    *done = 1;
    uint64_t coords[LSTAR_MAX_RANK] = {0}, off[LSTAR_MAX_RANK];
    for (uint64_t k = 0; k < nchunks; k++) {
        size_t size = 0;
        lstar_error e2;
        memset(&e2, 0, sizeof e2);
        for (int i = 0; i < rank; i++) off[i] = coords[i] * chunks[i];
        st = lstar_zarr_array_read_raw_chunk(za, coords, &raw, &size, &e2);
        if (st == LSTAR_ERR_NOT_FOUND) {
            /* a chunk the store leaves to the fill value: encode the filled chunk the same way */
            st = LSTAR_OK;
            if (!dec) dec = lstar_malloc((size_t)(celems * es));
            if (!dec) {
                st = LSTAR_NOMEM(err, dest);
                goto done;
            }
            LSTAR_CHECK(lstar_zarr_array_read_chunk(za, coords, dec, err));
            if (!cc) {
                if (shuf[0]) LSTAR_CHECK(lstar_codec_from_spec(shuf, hs.dtype, es, &cs, err));
                LSTAR_CHECK(lstar_codec_from_spec(comp, hs.dtype, es, &cc, err));
            }
            const uint8_t *in = dec;
            size_t insz = (size_t)(celems * es), s1 = 0;
            if (cs) {
                LSTAR_CHECK(lstar_codec_encode(cs, in, insz, &tmp1, &s1, err));
                in = tmp1;
                insz = s1;
            }
            LSTAR_CHECK(lstar_codec_encode(cc, in, insz, &tmp2, &size, err));
            st = lstar_h5_dataset_write_chunk(d, off, 0, tmp2, size, err);
            lstar_free(tmp1);
            lstar_free(tmp2);
            tmp1 = tmp2 = NULL;
            LSTAR_CHECK(st);
        } else if (st != LSTAR_OK) {
            if (err) *err = e2;
            goto done;
        } else {
            st = lstar_h5_dataset_write_chunk(d, off, 0, raw, size, err);
            lstar_free(raw);
            raw = NULL;
            LSTAR_CHECK(st);
        }
        w->chunks_copied++;
        uint64_t n = 1;
        for (int i = 0; i < rank; i++) n *= (off[i] + chunks[i] > shape[i] ? shape[i] - off[i] : chunks[i]);
        progress(w, n);
        for (int i = rank - 1; i >= 0; i--) { /* next chunk, C order */
            if (++coords[i] < grid[i]) break;
            coords[i] = 0;
        }
    }
done:
    lstar_h5_dataset_close(d);
    lstar_codec_free(cs);
    lstar_codec_free(cc);
    lstar_free(raw);
    lstar_free(dec);
    lstar_free(tmp1);
    lstar_free(tmp2);
    return st;
}

lstar_status ad_write_dense(ad_container *c, const char *dest, const lstar_array *a, ad_wopts *w,
                            lstar_error *err) {
    lstar_status st = LSTAR_OK;
    ad_appender *ap = NULL;
    uint8_t *buf = NULL;
    ad_array_spec spec;
    int rank = lstar_array_rank(a);
    const uint64_t *shape = lstar_array_shape(a);
    lstar_dtype dt = lstar_array_dtype(a);
    size_t es = lstar_dtype_size(dt);
    if (dt == LSTAR_DTYPE_STRING || es == 0)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, dest, "cannot write a dense array of dtype %s",
                          lstar_dtype_name(dt));
    uint64_t total = lstar_array_size(a);
    if (rank > 0) {
        int copied = 0;
        st = copy_zarr_chunks(c, dest, a, w, &copied, err);
        if (st != LSTAR_OK || copied) return st;
    }
    if (rank <= 0 || total <= w->chunk_elems) return ad_write_small(c, dest, a, w, err);
    if (rank > LSTAR_MAX_RANK) return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, dest, "rank %d exceeds the limit", rank);
    memset(&spec, 0, sizeof spec);
    spec.dtype = dt;
    spec.rank = rank;
    memcpy(spec.shape, shape, (size_t)rank * sizeof *shape);
    chunking(w, rank, shape, spec.chunks, spec.shard);
    spec.compression = w->compression;
    spec.grow = 1;
    spec.threads = w->threads;
    spec.pool = w->pool;
    uint64_t row = total / (shape[0] ? shape[0] : 1);
    uint64_t rows = spec.shard[0] ? spec.shard[0] : spec.chunks[0];
    buf = lstar_malloc((size_t)(rows * row * es));
    if (!buf) return LSTAR_NOMEM(err, dest);
    LSTAR_CHECK(ad_appender_new(c, dest, &spec, &ap, err));
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    memcpy(count, shape, (size_t)rank * sizeof *shape);
    for (uint64_t r = 0; r < shape[0]; r += rows) {
        uint64_t n = shape[0] - r < rows ? shape[0] - r : rows;
        start[0] = r;
        count[0] = n;
        LSTAR_CHECK(lstar_array_read(a, start, count, buf, err));
        LSTAR_CHECK(ad_appender_append(c, ap, buf, n, err));
        progress(w, n * row);
    }
    LSTAR_CHECK(ad_appender_finish(c, ap, err));
done:
    if (ap) ad_appender_free(c, ap);
    lstar_free(buf);
    return st;
}

/* A 1-D growing array of `dt` chunked by the options. */
static lstar_status vec_appender(ad_container *c, const char *group, const char *name, lstar_dtype dt,
                                 uint64_t expect, const ad_wopts *w, ad_appender **out, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES];
    ad_array_spec spec;
    lstar_status st = ad_join(p, sizeof p, group, name, err);
    if (st != LSTAR_OK) return st;
    memset(&spec, 0, sizeof spec);
    spec.dtype = dt;
    spec.rank = 1;
    spec.shape[0] = expect ? expect : 1;
    chunking(w, 1, spec.shape, spec.chunks, spec.shard);
    spec.shape[0] = 0;
    spec.compression = w->compression;
    spec.grow = 1;
    spec.threads = w->threads;
    spec.pool = w->pool;
    return ad_appender_new(c, p, &spec, out, err);
}

lstar_status ad_write_sparse(ad_container *c, const char *dest, const lstar_field *f, int flip, ad_wopts *w,
                             lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_sparse_iter *it = NULL;
    ad_appender *ad = NULL, *ai = NULL, *ap = NULL;
    void *ibuf = NULL, *pbuf = NULL;
    size_t icap = 0, pcap = 0;
    lstar_encoding enc = lstar_field_encoding(f);
    const lstar_array *data = lstar_field_array(f, "data");
    const lstar_array *indices = lstar_field_array(f, "indices");
    const lstar_array *indptr = lstar_field_array(f, "indptr");
    uint64_t dims[2] = {0, 0};
    const char *fname = lstar_field_name(f);
    if (!data || !indices || !indptr)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, fname, "sparse field '%s' lacks data/indices/indptr", fname);
    if (lstar_field_shape(f, dims, 2) != 2)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, fname, "sparse field '%s' has no 2-D shape", fname);
    int csr = enc == LSTAR_ENC_CSR;
    uint64_t major = csr ? dims[0] : dims[1], minor = csr ? dims[1] : dims[0];
    int out_csr = flip ? !csr : csr;
    int64_t shape[2] = {(int64_t)(flip ? dims[1] : dims[0]), (int64_t)(flip ? dims[0] : dims[1])};
    uint64_t nnz = lstar_array_rank(data) == 1 ? lstar_array_shape(data)[0] : 0;
    lstar_dtype idt = lstar_array_dtype(indices);
    if (!lstar_dtype_is_integer(idt)) idt = LSTAR_DTYPE_INT64;
    lstar_dtype pdt = nnz < ((uint64_t)1 << 31) ? LSTAR_DTYPE_INT32 : LSTAR_DTYPE_INT64;
    size_t ies = lstar_dtype_size(idt);

    /* Chunk copy of data (and of indices when its dtype is kept): the iterator
     * then walks indices in place of data, so indptr/indices are still
     * validated but data is never decoded. */
    int data_copied = 0, idx_copied = 0;
    char p[LSTAR_MAX_KEY_BYTES];
    LSTAR_CHECK(ad_create_group(c, dest, err));
    LSTAR_CHECK(ad_write_encoding(c, dest, out_csr ? "csr_matrix" : "csc_matrix", "0.1.0", err));
    LSTAR_CHECK(ad_write_attr_i64(c, dest, "shape", shape, 2, 1, err));
    if (nnz) {
        LSTAR_CHECK(ad_join(p, sizeof p, dest, "data", err));
        LSTAR_CHECK(copy_zarr_chunks(c, p, data, w, &data_copied, err));
        if (data_copied && idt == lstar_array_dtype(indices)) {
            LSTAR_CHECK(ad_join(p, sizeof p, dest, "indices", err));
            LSTAR_CHECK(copy_zarr_chunks(c, p, indices, w, &idx_copied, err));
        }
    }
    st = lstar_sparse_iter_new(data_copied ? indices : data, indices, indptr, major, minor, w->chunk_elems, &it, err);
    if (st != LSTAR_OK) {
        lstar_err_prefix_where(err, fname);
        goto done;
    }
    if (!data_copied) LSTAR_CHECK(vec_appender(c, dest, "data", lstar_array_dtype(data), nnz, w, &ad, err));
    if (!idx_copied) LSTAR_CHECK(vec_appender(c, dest, "indices", idt, nnz, w, &ai, err));
    LSTAR_CHECK(vec_appender(c, dest, "indptr", pdt, major + 1, w, &ap, err));
    {
        int64_t zero = 0;
        uint8_t z8[8];
        lstar_dtype_convert(LSTAR_DTYPE_INT64, &zero, pdt, z8, 1);
        LSTAR_CHECK(ad_appender_append(c, ap, z8, 1, err));
    }
    for (;;) {
        lstar_sparse_block b;
        int fin = 0;
        st = lstar_sparse_iter_next(it, &b, &fin, err);
        if (st != LSTAR_OK) {
            lstar_err_prefix_where(err, fname);
            goto done;
        }
        if (fin) break;
        if (b.nnz) {
            if (b.nnz * ies > icap) {
                lstar_free(ibuf);
                icap = (size_t)(b.nnz * ies);
                ibuf = lstar_malloc(icap);
                if (!ibuf) {
                    st = LSTAR_NOMEM(err, dest);
                    goto done;
                }
            }
            lstar_dtype_convert(LSTAR_DTYPE_INT64, b.indices, idt, ibuf, (size_t)b.nnz);
            if (ad) LSTAR_CHECK(ad_appender_append(c, ad, b.data, b.nnz, err));
            if (ai) LSTAR_CHECK(ad_appender_append(c, ai, ibuf, b.nnz, err));
        }
        if (b.major_count) {
            if (b.major_count * 16 > pcap) {
                lstar_free(pbuf);
                pcap = (size_t)(b.major_count * 16);
                pbuf = lstar_malloc(pcap);
                if (!pbuf) {
                    st = LSTAR_NOMEM(err, dest);
                    goto done;
                }
            }
            int64_t *abs = pbuf;
            void *conv = abs + b.major_count;
            for (uint64_t i = 0; i < b.major_count; i++) abs[i] = (int64_t)b.nnz_start + b.indptr[i + 1];
            lstar_dtype_convert(LSTAR_DTYPE_INT64, abs, pdt, conv, (size_t)b.major_count);
            LSTAR_CHECK(ad_appender_append(c, ap, conv, b.major_count, err));
        }
        if (!data_copied) progress(w, b.nnz); /* copied chunks were counted as they went */
    }
    if (ad) LSTAR_CHECK(ad_appender_finish(c, ad, err));
    if (ai) LSTAR_CHECK(ad_appender_finish(c, ai, err));
    LSTAR_CHECK(ad_appender_finish(c, ap, err));
done:
    if (ad) ad_appender_free(c, ad);
    if (ai) ad_appender_free(c, ai);
    if (ap) ad_appender_free(c, ap);
    lstar_sparse_iter_free(it);
    lstar_free(ibuf);
    lstar_free(pbuf);
    return st;
}
