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
#include "codec/codec_internal.h" /* the delta codec's dtype / astype */
#include "common/error.h"
#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"
#include "lstar/codec.h"
#include "lstar/h5.h"
#include "lstar/sparse.h"
#include "lstar/zarr.h"
#include "zarr/zarr_internal.h" /* the array's codec chain */

/* The pool that decodes source chunks (lstar_array_read_pool): the writer's, else a local one when threads
 * were asked for (*own is then freed by the caller).  Reads and the appenders' encodes never overlap, so one
 * pool serves both. */
static lstar_status read_pool(ad_wopts *w, lstar_pool **own, lstar_pool **out, lstar_error *err) {
    *own = NULL;
    *out = w->pool;
    if (w->pool || w->threads <= 1) return LSTAR_OK;
    lstar_status st = lstar_pool_new(w->threads, own, err);
    if (st == LSTAR_OK) *out = *own;
    return st;
}

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

enum { FAM_NONE = 0, FAM_DEFLATE = 1, FAM_ZSTD = 2, FAM_OTHER = 3, FAM_BLOSC = 4 };

static int family_of_spec(const char *spec) {
    if (!spec || !*spec || strcmp(spec, "none") == 0) return FAM_NONE;
    if (!strncmp(spec, "gzip", 4) || !strncmp(spec, "zlib", 4)) return FAM_DEFLATE;
    if (!strncmp(spec, "zstd", 4)) return FAM_ZSTD;
    return FAM_OTHER;
}

/* The array's numcodecs delta is what lstar's delta filter (56855) writes: integer elements of the array's
 * dtype, differences kept in the same width (astype of the same size: the same bytes as astype == dtype). */
static int delta_as_filter(const lstar_zarr_array *za) {
    const lstar_codec *c = NULL;
    for (int i = 0; i < za->chain.n_aa; i++)
        if (za->chain.aa[i].kind == ZARR_AA_CODEC && strcmp(lstar_codec_id(za->chain.aa[i].codec), "delta") == 0)
            c = za->chain.aa[i].codec;
    for (int i = 0; i < za->chain.n_bb; i++)
        if (strcmp(lstar_codec_id(za->chain.bb[i]), "delta") == 0) c = za->chain.bb[i];
    return c && lstar_dtype_is_integer(c->dtype) && c->dtype == za->dtype &&
           lstar_dtype_size(c->astype) == lstar_dtype_size(c->dtype);
}

/* The HDF5 pipeline holding exactly the bytes of the Zarr array's chunks,
 * from its codec chain: [shuffle(itemsize)] then zlib(L) → deflate (1), or
 * zstd(L) → 32015; v3 `bytes(little)` is implied.  Also the codec specs to
 * encode a chunk the same way (for chunks the store does not hold).
 * rec_mode (the VFD's recording writer) also accepts the inner chain of v3
 * sharding, blosc → 32001 (when hdf5-blosc loads here) and a leading numcodecs
 * delta → lstar's delta filter 56855 (see delta_as_filter; when it loads here).
 * Returns the family (FAM_NONE: no compressor), FAM_OTHER if not representable. */
static int zarr_h5_pipeline(const lstar_zarr_array *za, int rec_mode, lstar_h5_filter *f, size_t *nf, char *dlt,
                            size_t dltsz, char *shuf, size_t shufsz, char *comp, size_t compsz) {
    int fam = FAM_OTHER;
    size_t es = lstar_zarr_array_itemsize(za);
    const char *dt = lstar_zarr_array_dtype_text(za);
    *nf = 0;
    dlt[0] = shuf[0] = comp[0] = 0;
    int sharded = lstar_zarr_array_shard_shape(za) != NULL;
    if ((sharded && !rec_mode) || es == 0 || !dt || dt[0] == '>') return FAM_OTHER;
    char *desc = lstar_zarr_array_codecs_desc(za);
    if (!desc) return FAM_OTHER;
    int have_comp = 0, ok = 1;
    char *chain = desc;
    if (sharded) { /* "sharded[<inner chain>]": each inner chunk becomes one HDF5 chunk */
        size_t l = strlen(desc);
        ok = strncmp(desc, "sharded[", 8) == 0 && l > 9 && desc[l - 1] == ']' && !strchr(desc + 8, '[');
        if (ok) {
            desc[l - 1] = 0;
            chain = desc + 8;
        }
    }
    for (char *tok = chain; ok && tok && *tok;) {
        char *sep = strstr(tok, " | ");
        if (sep) *sep = 0;
        unsigned v = 0;
        if (strcmp(tok, "none") == 0 || strcmp(tok, "bytes") == 0 || strcmp(tok, "bytes(little)") == 0) {
            /* nothing */
        } else if (rec_mode && *nf == 0 && !have_comp && strcmp(tok, "delta") == 0 && delta_as_filter(za) &&
                   ad_h5_filter_available(56855)) {
            f[*nf].id = 56855; /* mandatory, cd_values from its set_local, as lstar repack --delta-indices */
            f[*nf].flags = 0;
            f[*nf].ncd = 0;
            (*nf)++;
            snprintf(dlt, dltsz, "delta");
        } else if (!have_comp && !shuf[0] && sscanf(tok, "shuffle(%u)", &v) == 1 && v == es) {
            f[*nf].id = 2;
            f[*nf].flags = LSTAR_H5_FILTER_OPTIONAL;
            f[*nf].ncd = 1;
            f[*nf].cd[0] = v;
            (*nf)++;
            snprintf(shuf, shufsz, "shuffle");
        } else if (!have_comp && rec_mode && strncmp(tok, "blosc(", 6) == 0) {
            /* recording mode: blosc frames pass through Debian's hdf5-blosc (32001) when it is here */
            char cname[16], shs[16];
            int lvl = 0;
            static const char *const codes[] = {"blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"};
            int code = -1, shc = -1;
            if (sscanf(tok, "blosc(%15[^,],%d,%15[^)])", cname, &lvl, shs) == 3) {
                for (int i = 0; i < 6; i++)
                    if (strcmp(cname, codes[i]) == 0) code = i;
                shc = strcmp(shs, "noshuffle") == 0    ? 0
                      : strcmp(shs, "shuffle") == 0    ? 1
                      : strcmp(shs, "bitshuffle") == 0 ? 2
                      : strcmp(shs, "autoshuffle") == 0 ? (es == 1 ? 2 : 1)
                                                        : -1;
            }
            if (code < 0 || shc < 0 || lvl < 0 || lvl > 9 || !ad_h5_filter_available(32001)) {
                ok = 0;
            } else {
                f[*nf].id = 32001;
                f[*nf].flags = LSTAR_H5_FILTER_OPTIONAL; /* as hdf5-blosc flags it */
                f[*nf].ncd = 7;
                f[*nf].cd[0] = 2; /* filter revision; [0..3] are rewritten by the filter's set_local */
                f[*nf].cd[1] = 2; /* blosc format */
                f[*nf].cd[2] = (unsigned)es;
                f[*nf].cd[3] = 0;
                f[*nf].cd[4] = (unsigned)lvl;
                f[*nf].cd[5] = (unsigned)shc;
                f[*nf].cd[6] = (unsigned)code;
                (*nf)++;
                snprintf(comp, compsz, "blosc:%s:%d:%s", cname, lvl, shs);
                fam = FAM_BLOSC;
                have_comp = 1;
            }
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
    if (ok && !have_comp) fam = FAM_NONE; /* stored as is (optionally shuffled) */
    return ok ? fam : FAM_OTHER;
}

/* Recording mode: H5Dwrite_chunk straight on the dataset.  Offsets come from the
 * chunk grid (always chunk origins inside the extent), so lstar_h5_dataset_write_chunk's
 * per-call checks (a copy of the creation property list each time) are skipped: with
 * 100k chunks they were most of the time to open a store. */
static lstar_status rec_write_chunk(lstar_h5_dataset *d, int rank, const uint64_t *off, const void *data, size_t size,
                                    lstar_error *err) {
    hsize_t hoff[LSTAR_MAX_RANK];
    h5_guard g;
    lstar_status st = LSTAR_OK;
    for (int i = 0; i < rank; i++) hoff[i] = (hsize_t)off[i];
    h5_enter(&g);
    if (H5Dwrite_chunk(d->did, H5P_DEFAULT, 0, hoff, size, data) < 0)
        st = h5_fail(err, LSTAR_ERR_IO, d->path, "cannot write a chunk");
    h5_leave(&g);
    return st;
}

/* Copy the chunks of Zarr array `za` verbatim into a new HDF5 dataset at
 * `dest` whose chunk shape and filters reproduce them.  *done = 0 when the
 * array does not qualify (nothing was created). */
static lstar_status copy_zarr_chunks(ad_container *c, const char *dest, const lstar_array *a, ad_wopts *w,
                                     int *done, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_file *hf = ad_container_h5(c);
    struct lstar_zarr_array *za = lstar_array_zarr(a);
    lstar_h5_filter f[3];
    size_t nf = 0;
    char dlt[16], shuf[16], comp[32];
    lstar_h5_dataset *d = NULL;
    lstar_codec *cd = NULL, *cs = NULL, *cc = NULL;
    uint8_t *raw = NULL, *dec = NULL, *tmp1 = NULL, *tmp2 = NULL;
    uint64_t dummy_cap = 0; /* recording mode: size of the zeroed stand-in buffer `raw` */
    int codecs_ready = 0;
    const ad_recorder *rec = w->rec;
    *done = 0;
    if ((!w->chunk_copy && !rec) || !hf || !za || w->zarr_format) return LSTAR_OK;
    memset(f, 0, sizeof f);
    int fam = zarr_h5_pipeline(za, rec != NULL, f, &nf, dlt, sizeof dlt, shuf, sizeof shuf, comp, sizeof comp);
    /* recording mode, a chain HDF5 cannot decode as stored (gzip, crc32c, lz4, big-endian, F order,
     * transpose, …): an unfiltered dataset whose chunks the driver decodes when they are read */
    int decode = fam == FAM_OTHER && rec && rec->decode_begin && lstar_zarr_array_itemsize(za) > 0;
    if (decode) {
        fam = FAM_NONE;
        nf = 0;
    }
    if (fam == FAM_OTHER) return LSTAR_OK;
    /* recording mode: any representable chain, whatever the requested compression */
    if (!rec && (fam == FAM_NONE || fam != family_of_spec(w->compression))) return LSTAR_OK;
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
        if (decode) {
            /* a stand-in of the decoded size; the driver records "decode chunk `coords` of `za`" */
            size = (size_t)(celems * es);
            if (!raw) {
                raw = lstar_calloc(1, size);
                if (!raw) {
                    st = LSTAR_NOMEM(err, dest);
                    goto done;
                }
            }
            rec->decode_begin(rec->ud, za, coords, size);
            st = rec_write_chunk(d, rank, off, raw, size, err);
            rec->chunk_end(rec->ud);
            LSTAR_CHECK(st);
        } else if (rec) {
            /* the stored size only; the driver records where the bytes go */
            uint64_t csize = 0;
            int found = 0;
            LSTAR_CHECK(rec->chunk_size(rec->ud, za, coords, &csize, &found, err));
            if (found && csize >= ((uint64_t)1 << 32)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, dest, "a stored chunk of %llu bytes exceeds HDF5's 4 GiB limit",
                                (unsigned long long)csize);
                goto done;
            }
            if (found && (csize > dummy_cap || !raw)) {
                lstar_free(raw);
                raw = lstar_calloc(1, csize ? (size_t)csize : 1);
                dummy_cap = raw ? csize : 0;
                if (!raw) {
                    st = LSTAR_NOMEM(err, dest);
                    goto done;
                }
            }
            st = found ? LSTAR_OK : LSTAR_ERR_NOT_FOUND;
            size = (size_t)csize;
        } else {
            st = lstar_zarr_array_read_raw_chunk(za, coords, &raw, &size, &e2);
        }
        if (decode) {
            /* written above */
        } else if (st == LSTAR_ERR_NOT_FOUND) {
            /* a chunk the store leaves to the fill value: encode the filled chunk the same way */
            st = LSTAR_OK;
            if (!dec) dec = lstar_malloc((size_t)(celems * es));
            if (!dec) {
                st = LSTAR_NOMEM(err, dest);
                goto done;
            }
            LSTAR_CHECK(lstar_zarr_array_read_chunk(za, coords, dec, err));
            if (!codecs_ready) {
                if (dlt[0]) LSTAR_CHECK(lstar_codec_from_spec(dlt, hs.dtype, es, &cd, err));
                if (shuf[0]) LSTAR_CHECK(lstar_codec_from_spec(shuf, hs.dtype, es, &cs, err));
                if (comp[0]) LSTAR_CHECK(lstar_codec_from_spec(comp, hs.dtype, es, &cc, err));
                codecs_ready = 1;
            }
            const uint8_t *in = dec;
            size_t insz = (size_t)(celems * es), s1 = 0;
            if (cd) { /* in place: delta keeps the byte count */
                uint8_t *t = NULL;
                size_t s0 = 0;
                LSTAR_CHECK(lstar_codec_encode(cd, in, insz, &t, &s0, err));
                memcpy(dec, t, s0);
                lstar_free(t);
                insz = s0;
            }
            if (cs) {
                LSTAR_CHECK(lstar_codec_encode(cs, in, insz, &tmp1, &s1, err));
                in = tmp1;
                insz = s1;
            }
            if (cc) {
                LSTAR_CHECK(lstar_codec_encode(cc, in, insz, &tmp2, &size, err));
            } else { /* no compressor: the (shuffled) bytes as they are */
                size = insz;
            }
            if (rec) rec->chunk_begin(rec->ud, za, NULL, size);
            st = lstar_h5_dataset_write_chunk(d, off, 0, tmp2 ? tmp2 : in, size, err);
            if (rec) rec->chunk_end(rec->ud);
            lstar_free(tmp1);
            lstar_free(tmp2);
            tmp1 = tmp2 = NULL;
            LSTAR_CHECK(st);
        } else if (st != LSTAR_OK) {
            if (err) *err = e2;
            goto done;
        } else if (rec) {
            rec->chunk_begin(rec->ud, za, coords, size);
            st = rec_write_chunk(d, rank, off, raw, size, err);
            rec->chunk_end(rec->ud);
            LSTAR_CHECK(st);
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
    lstar_codec_free(cd);
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
    lstar_pool *own = NULL, *rpool = NULL;
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
    LSTAR_CHECK(read_pool(w, &own, &rpool, err));
    LSTAR_CHECK(ad_appender_new(c, dest, &spec, &ap, err));
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    memcpy(count, shape, (size_t)rank * sizeof *shape);
    for (uint64_t r = 0; r < shape[0]; r += rows) {
        uint64_t n = shape[0] - r < rows ? shape[0] - r : rows;
        start[0] = r;
        count[0] = n;
        LSTAR_CHECK(lstar_array_read_pool(a, start, count, buf, rpool, err));
        LSTAR_CHECK(ad_appender_append(c, ap, buf, n, err));
        progress(w, n * row);
    }
    LSTAR_CHECK(ad_appender_finish(c, ap, err));
done:
    if (ap) ad_appender_free(c, ap);
    lstar_pool_free(own);
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

/* Recording mode, data and indices copied: indptr straight from the source
 * (chunk copy when its dtype is `pdt`, checking only indptr[0] and
 * indptr[-1]; else converted block by block, also checking that it never
 * decreases). */
static lstar_status write_indptr_recorded(ad_container *c, const char *dest, const lstar_array *indptr,
                                          uint64_t major, uint64_t nnz, lstar_dtype pdt, ad_wopts *w,
                                          lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES];
    ad_appender *ap = NULL;
    uint8_t *buf = NULL;
    int64_t *v = NULL;
    void *conv = NULL;
    lstar_dtype sdt = lstar_array_dtype(indptr);
    size_t ses = lstar_dtype_size(sdt);
    LSTAR_CHECK(ad_join(p, sizeof p, dest, "indptr", err));
    if (lstar_array_rank(indptr) != 1 || lstar_array_shape(indptr)[0] != major + 1 || !lstar_dtype_is_integer(sdt)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_SHAPE, p, "indptr must be 1-D integers of length %llu",
                        (unsigned long long)(major + 1));
        goto done;
    }
    {
        uint8_t one[8];
        int64_t first = 0, last = 0;
        uint64_t s0 = 0, s1 = major, n1 = 1;
        LSTAR_CHECK(lstar_array_read(indptr, &s0, &n1, one, err));
        lstar_dtype_convert(sdt, one, LSTAR_DTYPE_INT64, &first, 1);
        LSTAR_CHECK(lstar_array_read(indptr, &s1, &n1, one, err));
        lstar_dtype_convert(sdt, one, LSTAR_DTYPE_INT64, &last, 1);
        if (first != 0 || last != (int64_t)nnz) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "indptr runs from %lld to %lld, expected 0 to %llu",
                            (long long)first, (long long)last, (unsigned long long)nnz);
            goto done;
        }
    }
    if (sdt == pdt) {
        int copied = 0;
        LSTAR_CHECK(copy_zarr_chunks(c, p, indptr, w, &copied, err));
        if (copied) goto done;
    }
    {
        uint64_t block = w->chunk_elems, prev = 0;
        size_t pes = lstar_dtype_size(pdt);
        LSTAR_CHECK(vec_appender(c, dest, "indptr", pdt, major + 1, w, &ap, err));
        if (block > major + 1) block = major + 1;
        buf = lstar_malloc((size_t)(block * ses));
        v = lstar_malloc((size_t)(block * sizeof *v));
        conv = lstar_malloc((size_t)(block * pes));
        if (!buf || !v || !conv) {
            st = LSTAR_NOMEM(err, p);
            goto done;
        }
        for (uint64_t r = 0; r <= major; r += block) {
            uint64_t n = major + 1 - r < block ? major + 1 - r : block;
            LSTAR_CHECK(lstar_array_read(indptr, &r, &n, buf, err));
            lstar_dtype_convert(sdt, buf, LSTAR_DTYPE_INT64, v, (size_t)n);
            for (uint64_t i = 0; i < n; i++) {
                if (v[i] < (int64_t)prev || (uint64_t)v[i] > nnz) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "indptr[%llu] = %lld is out of order",
                                    (unsigned long long)(r + i), (long long)v[i]);
                    goto done;
                }
                prev = (uint64_t)v[i];
            }
            lstar_dtype_convert(LSTAR_DTYPE_INT64, v, pdt, conv, (size_t)n);
            LSTAR_CHECK(ad_appender_append(c, ap, conv, n, err));
        }
        LSTAR_CHECK(ad_appender_finish(c, ap, err));
    }
done:
    if (ap) ad_appender_free(c, ap);
    lstar_free(buf);
    lstar_free(v);
    lstar_free(conv);
    return st;
}

lstar_status ad_write_sparse(ad_container *c, const char *dest, const lstar_field *f, int flip, ad_wopts *w,
                             lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_sparse_iter *it = NULL;
    lstar_pool *own = NULL, *rpool = NULL;
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
    if (w->rec && data_copied && idx_copied) {
        /* recording mode: nothing of the matrix is read but indptr */
        st = write_indptr_recorded(c, dest, indptr, major, nnz, pdt, w, err);
        goto done;
    }
    st = lstar_sparse_iter_new(data_copied ? indices : data, indices, indptr, major, minor, w->chunk_elems, &it, err);
    if (st != LSTAR_OK) {
        lstar_err_prefix_where(err, fname);
        goto done;
    }
    LSTAR_CHECK(read_pool(w, &own, &rpool, err));
    lstar_sparse_iter_set_pool(it, rpool);
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
    lstar_pool_free(own);
    lstar_free(ibuf);
    lstar_free(pbuf);
    return st;
}
