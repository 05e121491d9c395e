/* Zip store (read-only).
 *
 * At open: find the End Of Central Directory record in the last 64 KiB + 22
 * bytes, follow the ZIP64 locator/record when present, read the central
 * directory (capped by LSTAR_MAX_ZIP_CDIR_BYTES) and build a sorted index of
 * entry names; where a name occurs twice the LAST central-directory entry
 * wins.  Directory entries (names ending in '/') and names that are not valid
 * keys are left out.  Data written before the archive (self-extractor stubs)
 * is allowed: offsets are shifted as the directory position implies.
 *
 * Reads use pread on one descriptor and a per-call z_stream, and the index is
 * immutable, so any number of threads may read at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/error.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"

#define ZIP_EOCD_SIG 0x06054b50u
#define ZIP_EOCD_SIZE 22u
#define ZIP64_LOCATOR_SIG 0x07064b50u
#define ZIP64_LOCATOR_SIZE 20u
#define ZIP64_EOCD_SIG 0x06064b50u
#define ZIP64_EOCD_SIZE 56u
#define ZIP_CDIR_SIG 0x02014b50u
#define ZIP_CDIR_SIZE 46u
#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_LOCAL_SIZE 30u
#define ZIP_MAX_COMMENT 65535u
#define ZIP_METHOD_STORED 0u
#define ZIP_METHOD_DEFLATE 8u
#define ZIP_FLAG_ENCRYPTED 0x1u
#define ZIP_IO_CHUNK (64u * 1024u)

typedef struct zip_entry {
    const char *name; /* normalised, in the names pool */
    uint64_t seq;     /* position in the central directory */
    uint64_t csize, usize, lho;
    uint32_t crc;
    uint16_t method, flags;
} zip_entry;

typedef struct zip_store {
    int fd;
    char *path;
    uint64_t data_end; /* absolute start of the central directory: entry data lies before it */
    char *names;       /* pool of NUL-terminated names */
    zip_entry *entries; /* sorted by name, unique */
    size_t count;
} zip_store;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* Read exactly n bytes at off: LSTAR_OK, LSTAR_ERR_CORRUPT at EOF, LSTAR_ERR_IO. */
static lstar_status zread(zip_store *z, uint8_t *buf, size_t n, uint64_t off, const char *where, const char *what,
                          lstar_error *err) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(z->fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return LSTAR_FAIL(err, LSTAR_ERR_IO, where, "cannot read %s: %s", what, strerror(errno));
        }
        if (r == 0)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, where, "zip archive truncated while reading %s", what);
        got += (size_t)r;
    }
    return LSTAR_OK;
}

static const zip_entry *zfind(const zip_store *z, const char *key) {
    size_t lo = 0, hi = z->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(z->entries[mid].name, key);
        if (c == 0) return &z->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static lstar_status lookup(const zip_store *z, const char *key, const zip_entry **e, lstar_error *err) {
    *e = zfind(z, key);
    if (!*e) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, key, "no such entry in zip archive %s", z->path);
    return LSTAR_OK;
}

/* Check the method and locate the entry's data via its local header. */
static lstar_status locate(zip_store *z, const zip_entry *e, uint64_t *data_off, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    uint8_t h[ZIP_LOCAL_SIZE];
    char lname[LSTAR_STORE_KEY_BUF];
    if (e->flags & ZIP_FLAG_ENCRYPTED)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, e->name, "zip entry '%s' is encrypted", e->name);
    if (e->method != ZIP_METHOD_STORED && e->method != ZIP_METHOD_DEFLATE)
        return LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, e->name,
                          "zip entry '%s' uses compression method %u (only 0 = STORED and 8 = DEFLATE are supported)",
                          e->name, (unsigned)e->method);
    if (e->lho > z->data_end || z->data_end - e->lho < ZIP_LOCAL_SIZE)
        return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "local header offset %llu of zip entry lies outside the data area",
                          (unsigned long long)e->lho);
    LSTAR_CHECK(zread(z, h, sizeof h, e->lho, e->name, "a local file header", err));
    if (rd32(h) != ZIP_LOCAL_SIG) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "no local file header signature at offset %llu",
                        (unsigned long long)e->lho);
        goto done;
    }
    uint16_t lmethod = rd16(h + 8), nlen = rd16(h + 26), xlen = rd16(h + 28);
    if (lmethod != e->method) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name,
                        "local header says compression method %u, central directory says %u", (unsigned)lmethod,
                        (unsigned)e->method);
        goto done;
    }
    uint64_t off = e->lho + ZIP_LOCAL_SIZE;
    if (nlen > LSTAR_MAX_KEY_BYTES || off + nlen > z->data_end) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "local header name (%u bytes) does not match the directory",
                        (unsigned)nlen);
        goto done;
    }
    LSTAR_CHECK(zread(z, (uint8_t *)lname, nlen, off, e->name, "a local file name", err));
    lname[nlen] = '\0';
    if (memchr(lname, '\0', nlen) || lstar_store_normalize_key(lname, NULL) != LSTAR_OK ||
        strcmp(lname, e->name) != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "local header names a different file than the central directory");
        goto done;
    }
    off += (uint64_t)nlen + xlen;
    if (off > z->data_end || e->csize > z->data_end - off) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name,
                        "entry data (%llu bytes at offset %llu) runs past the start of the central directory",
                        (unsigned long long)e->csize, (unsigned long long)off);
        goto done;
    }
    if (e->method == ZIP_METHOD_STORED && e->csize != e->usize) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "STORED entry has compressed size %llu != size %llu",
                        (unsigned long long)e->csize, (unsigned long long)e->usize);
        goto done;
    }
    *data_off = off;
done:
    return st;
}

/* Inflate the entry and store decompressed bytes [skip, skip+want) in out.
 * verify (only with skip 0 and want == usize): also require the stream to be
 * exactly usize bytes long and its CRC-32 to match the directory. */
static lstar_status inflate_entry(zip_store *z, const zip_entry *e, uint64_t data_off, uint64_t skip, uint8_t *out,
                                  size_t want, int verify, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    z_stream zs;
    int inited = 0;
    uint8_t *in = NULL, *scratch = NULL;
    uint64_t in_left = e->csize, in_pos = data_off, produced = 0, end = skip + want;
    uLong crc = crc32(0L, Z_NULL, 0);
    memset(&zs, 0, sizeof zs);
    in = lstar_malloc(ZIP_IO_CHUNK);
    if (!in) {
        st = LSTAR_NOMEM(err, e->name);
        goto done;
    }
    if (skip || verify) {
        scratch = lstar_malloc(ZIP_IO_CHUNK);
        if (!scratch) {
            st = LSTAR_NOMEM(err, e->name);
            goto done;
        }
    }
    int zr = inflateInit2(&zs, -15);
    if (zr != Z_OK) {
        st = zr == Z_MEM_ERROR ? LSTAR_NOMEM(err, e->name)
                               : LSTAR_FAIL(err, LSTAR_ERR_INTERNAL, e->name, "inflateInit2 failed (%d)", zr);
        goto done;
    }
    inited = 1;
    for (;;) {
        if (zs.avail_in == 0 && in_left > 0) {
            size_t n = in_left < ZIP_IO_CHUNK ? (size_t)in_left : ZIP_IO_CHUNK;
            LSTAR_CHECK(zread(z, in, n, in_pos, e->name, "deflate data", err));
            in_pos += n;
            in_left -= n;
            zs.next_in = in;
            zs.avail_in = (uInt)n;
        }
        uint8_t *dst;
        size_t room;
        int probing = 0;
        if (produced < skip) {
            dst = scratch;
            room = skip - produced < ZIP_IO_CHUNK ? (size_t)(skip - produced) : ZIP_IO_CHUNK;
        } else if (produced < end) {
            dst = out + (produced - skip);
            room = (size_t)(end - produced);
            if (room > (1u << 30)) room = 1u << 30;
        } else if (verify) {
            dst = scratch; /* must produce nothing more */
            room = 1;
            probing = 1;
        } else {
            break; /* the range is complete */
        }
        zs.next_out = dst;
        zs.avail_out = (uInt)room;
        uInt in_before = zs.avail_in;
        zr = inflate(&zs, Z_NO_FLUSH);
        size_t made = room - zs.avail_out;
        if (probing && made) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "entry inflates to more than the %llu bytes the directory declares",
                            (unsigned long long)e->usize);
            goto done;
        }
        if (verify && made) crc = crc32(crc, dst, (uInt)made);
        produced += made;
        if (zr == Z_STREAM_END) break;
        if (zr == Z_OK || (zr == Z_BUF_ERROR && (made || zs.avail_in != in_before))) continue;
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "deflate data ends before the end of its stream");
            goto done;
        }
        if (zr == Z_MEM_ERROR) {
            st = LSTAR_NOMEM(err, e->name);
            goto done;
        }
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "invalid deflate data: %s", zs.msg ? zs.msg : "inflate failed");
        goto done;
    }
    if (produced < end || (verify && produced != e->usize)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "entry inflates to %llu bytes, the directory declares %llu",
                        (unsigned long long)produced, (unsigned long long)e->usize);
        goto done;
    }
    if (verify && (uint32_t)crc != e->crc) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, e->name, "CRC-32 mismatch (data %08x, directory %08x)",
                        (unsigned)crc, (unsigned)e->crc);
        goto done;
    }
done:
    if (inited) inflateEnd(&zs);
    lstar_free(in);
    lstar_free(scratch);
    return st;
}

static lstar_status zip_get(void *ctx, const char *key, size_t max_size, uint8_t **data, size_t *size,
                            lstar_error *err) {
    zip_store *z = ctx;
    lstar_status st = LSTAR_OK;
    const zip_entry *e = NULL;
    uint8_t *buf = NULL;
    uint64_t off = 0;
    LSTAR_CHECK(lookup(z, key, &e, err));
    LSTAR_CHECK(locate(z, e, &off, err));
    if (e->usize > max_size) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, key, "zip entry of %llu bytes exceeds the %zu-byte limit",
                        (unsigned long long)e->usize, max_size);
        goto done;
    }
    buf = lstar_malloc(e->usize ? (size_t)e->usize : 1);
    if (!buf) {
        st = LSTAR_NOMEM(err, key);
        goto done;
    }
    if (e->method == ZIP_METHOD_STORED) {
        LSTAR_CHECK(zread(z, buf, (size_t)e->usize, off, key, "stored entry data", err));
        uLong crc = crc32(0L, Z_NULL, 0);
        for (uint64_t done_ = 0; done_ < e->usize;) {
            uint64_t n = e->usize - done_ > (1u << 30) ? (1u << 30) : e->usize - done_;
            crc = crc32(crc, buf + done_, (uInt)n);
            done_ += n;
        }
        if ((uint32_t)crc != e->crc) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "CRC-32 mismatch (data %08x, directory %08x)", (unsigned)crc,
                            (unsigned)e->crc);
            goto done;
        }
    } else {
        LSTAR_CHECK(inflate_entry(z, e, off, 0, buf, (size_t)e->usize, 1, err));
    }
    *data = buf;
    *size = (size_t)e->usize;
    buf = NULL;
done:
    lstar_free(buf);
    return st;
}

static lstar_status zip_get_range(void *ctx, const char *key, uint64_t offset, size_t length, uint8_t *buf,
                                  lstar_error *err) {
    zip_store *z = ctx;
    lstar_status st = LSTAR_OK;
    const zip_entry *e = NULL;
    uint64_t off = 0;
    LSTAR_CHECK(lookup(z, key, &e, err));
    LSTAR_CHECK(locate(z, e, &off, err));
    if (offset > e->usize || length > e->usize - offset) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "range [%llu, +%zu) lies beyond the %llu-byte entry",
                        (unsigned long long)offset, length, (unsigned long long)e->usize);
        goto done;
    }
    if (length == 0) goto done;
    if (e->method == ZIP_METHOD_STORED)
        st = zread(z, buf, length, off + offset, key, "stored entry data", err);
    else
        st = inflate_entry(z, e, off, offset, buf, length, 0, err);
done:
    return st;
}

static lstar_status zip_size(void *ctx, const char *key, uint64_t *size, lstar_error *err) {
    zip_store *z = ctx;
    const zip_entry *e = NULL;
    lstar_status st = lookup(z, key, &e, err);
    if (st == LSTAR_OK) *size = e->usize;
    return st;
}

static lstar_status zip_list(void *ctx, const char *prefix, lstar_store_list_cb cb, void *ud, lstar_error *err) {
    (void)err;
    zip_store *z = ctx;
    size_t plen = strlen(prefix), lo = 0, hi = z->count;
    while (lo < hi) { /* first name >= prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(z->entries[mid].name, prefix) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < z->count; i++) {
        if (strncmp(z->entries[i].name, prefix, plen) != 0) break;
        if (cb(ud, z->entries[i].name)) break;
    }
    return LSTAR_OK;
}

static void zip_close(void *ctx) {
    zip_store *z = ctx;
    if (!z) return;
    if (z->fd >= 0) close(z->fd);
    lstar_free(z->path);
    lstar_free(z->names);
    lstar_free(z->entries);
    lstar_free(z);
}

static const lstar_store_ops zip_ops = {
    .version = LSTAR_STORE_OPS_VERSION,
    .name = "zip",
    .get = zip_get,
    .get_range = zip_get_range,
    .size = zip_size,
    .set = NULL,
    .erase = NULL,
    .list = zip_list,
    .flush = NULL,
    .close = zip_close,
};

/* ---- open: EOCD, ZIP64, central directory -------------------------------- */

typedef struct cdir_info {
    uint64_t cd_offset, cd_size, eocd_pos; /* eocd_pos: where the (ZIP64) EOCD starts = end of the directory */
} cdir_info;

static lstar_status find_eocd(zip_store *z, uint64_t file_size, cdir_info *ci, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const char *p = z->path;
    uint8_t *tail = NULL;
    if (file_size < ZIP_EOCD_SIZE)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "file of %llu bytes is too small to be a zip archive",
                          (unsigned long long)file_size);
    size_t tlen = file_size < ZIP_MAX_COMMENT + ZIP_EOCD_SIZE ? (size_t)file_size : ZIP_MAX_COMMENT + ZIP_EOCD_SIZE;
    uint64_t tstart = file_size - tlen;
    tail = lstar_malloc(tlen);
    if (!tail) return LSTAR_NOMEM(err, p);
    LSTAR_CHECK(zread(z, tail, tlen, tstart, p, "the end of central directory", err));
    /* Scan backwards for the signature.  Prefer a record whose comment ends
     * exactly at the end of the file (a comment may itself contain "PK\5\6");
     * else accept the last one whose comment fits (trailing junk). */
    size_t i = 0;
    int found = 0;
    for (int pass = 0; pass < 2 && !found; pass++) {
        i = tlen - ZIP_EOCD_SIZE;
        for (;;) {
            if (rd32(tail + i) == ZIP_EOCD_SIG) {
                size_t end = i + ZIP_EOCD_SIZE + rd16(tail + i + 20);
                if (pass == 0 ? end == tlen : end <= tlen) {
                    found = 1;
                    break;
                }
            }
            if (i == 0) break;
            i--;
        }
    }
    if (!found) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "no end of central directory record: not a zip archive, or truncated");
        goto done;
    }
    const uint8_t *r = tail + i;
    uint16_t disk = rd16(r + 4), cd_disk = rd16(r + 6);
    ci->cd_size = rd32(r + 12);
    ci->cd_offset = rd32(r + 16);
    ci->eocd_pos = tstart + i;
    /* ZIP64 locator right before the EOCD */
    if (ci->eocd_pos >= ZIP64_LOCATOR_SIZE) {
        uint8_t loc[ZIP64_LOCATOR_SIZE], rec[ZIP64_EOCD_SIZE];
        uint64_t lpos = ci->eocd_pos - ZIP64_LOCATOR_SIZE;
        LSTAR_CHECK(zread(z, loc, sizeof loc, lpos, p, "the ZIP64 locator", err));
        if (rd32(loc) == ZIP64_LOCATOR_SIG) {
            if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) {
                st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, p, "multi-disk zip archives are not supported");
                goto done;
            }
            /* The record normally sits right before the locator; else trust the offset field. */
            uint64_t rpos = lpos >= ZIP64_EOCD_SIZE ? lpos - ZIP64_EOCD_SIZE : UINT64_MAX;
            int ok = 0;
            if (rpos != UINT64_MAX) {
                LSTAR_CHECK(zread(z, rec, sizeof rec, rpos, p, "the ZIP64 end of central directory", err));
                ok = rd32(rec) == ZIP64_EOCD_SIG;
            }
            if (!ok) {
                rpos = rd64(loc + 8);
                if (rpos > lpos || lpos - rpos < ZIP64_EOCD_SIZE) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "ZIP64 locator points outside the archive (offset %llu)",
                                    (unsigned long long)rpos);
                    goto done;
                }
                LSTAR_CHECK(zread(z, rec, sizeof rec, rpos, p, "the ZIP64 end of central directory", err));
                if (rd32(rec) != ZIP64_EOCD_SIG) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "bad ZIP64 end of central directory signature");
                    goto done;
                }
            }
            disk = rd32(rec + 16) ? 1 : 0;
            cd_disk = rd32(rec + 20) ? 1 : 0;
            ci->cd_size = rd64(rec + 40);
            ci->cd_offset = rd64(rec + 48);
            ci->eocd_pos = rpos;
        }
    }
    /* entry counts are not trusted: the directory is parsed by its size */
    if (disk != 0 || cd_disk != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, p, "multi-disk zip archives are not supported");
        goto done;
    }
done:
    lstar_free(tail);
    return st;
}

static int cmp_entry(const void *a, const void *b) {
    const zip_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parse the ZIP64 extended-information extra field of one directory entry. */
static lstar_status parse_extra(const uint8_t *x, size_t xlen, zip_entry *e, uint32_t usize32, uint32_t csize32,
                                uint32_t lho32, const char *where, lstar_error *err) {
    size_t pos = 0;
    while (pos + 4 <= xlen) {
        uint16_t id = rd16(x + pos), sz = rd16(x + pos + 2);
        if (pos + 4 + sz > xlen)
            return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, where, "extra field runs past the end of its directory entry");
        if (id == 0x0001) {
            const uint8_t *f = x + pos + 4;
            size_t left = sz;
            if (usize32 == 0xFFFFFFFFu) {
                if (left < 8) goto short64;
                e->usize = rd64(f);
                f += 8;
                left -= 8;
            }
            if (csize32 == 0xFFFFFFFFu) {
                if (left < 8) goto short64;
                e->csize = rd64(f);
                f += 8;
                left -= 8;
            }
            if (lho32 == 0xFFFFFFFFu) {
                if (left < 8) goto short64;
                e->lho = rd64(f);
            }
        }
        pos += 4 + (size_t)sz;
    }
    return LSTAR_OK;
short64:
    return LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, where, "ZIP64 extra field is too short for the values it must hold");
}

static lstar_status read_cdir(zip_store *z, const cdir_info *ci, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    const char *p = z->path;
    uint8_t *cd = NULL;
    zip_entry *ents = NULL;
    size_t n = 0, cap = 0;
    char key[LSTAR_STORE_KEY_BUF];

    if (ci->cd_offset > ci->eocd_pos || ci->cd_size > ci->eocd_pos - ci->cd_offset) {
        st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p,
                        "central directory (%llu bytes at offset %llu) lies outside the archive",
                        (unsigned long long)ci->cd_size, (unsigned long long)ci->cd_offset);
        goto done;
    }
    if (ci->cd_size > LSTAR_MAX_ZIP_CDIR_BYTES) {
        st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, p, "central directory of %llu bytes exceeds the %u-byte limit",
                        (unsigned long long)ci->cd_size, LSTAR_MAX_ZIP_CDIR_BYTES);
        goto done;
    }
    /* Bytes before the archive (cd ends where the EOCD starts) shift every offset. */
    uint64_t shift = ci->eocd_pos - ci->cd_size - ci->cd_offset;
    uint64_t cd_start = ci->cd_offset + shift;
    size_t cd_size = (size_t)ci->cd_size;
    z->data_end = cd_start;
    cd = lstar_malloc(cd_size ? cd_size : 1);
    z->names = lstar_malloc(cd_size + 1);
    if (!cd || !z->names) {
        st = LSTAR_NOMEM(err, p);
        goto done;
    }
    LSTAR_CHECK(zread(z, cd, cd_size, cd_start, p, "the central directory", err));
    size_t pos = 0, npos = 0;
    uint64_t seq = 0;
    while (pos < cd_size) {
        const uint8_t *r = cd + pos;
        if (cd_size - pos < ZIP_CDIR_SIZE || rd32(r) != ZIP_CDIR_SIG) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "bad central directory entry at directory offset %zu", pos);
            goto done;
        }
        size_t nlen = rd16(r + 28), xlen = rd16(r + 30), clen = rd16(r + 32);
        if (ZIP_CDIR_SIZE + nlen + xlen + clen > cd_size - pos) {
            st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, p, "central directory entry at offset %zu runs past the directory",
                            pos);
            goto done;
        }
        zip_entry e;
        memset(&e, 0, sizeof e);
        e.seq = seq++;
        e.flags = rd16(r + 8);
        e.method = rd16(r + 10);
        e.crc = rd32(r + 16);
        uint32_t csize32 = rd32(r + 20), usize32 = rd32(r + 24), lho32 = rd32(r + 42);
        e.csize = csize32;
        e.usize = usize32;
        e.lho = lho32;
        const char *raw = (const char *)r + ZIP_CDIR_SIZE;
        int usable = nlen > 0 && nlen <= LSTAR_MAX_KEY_BYTES && raw[nlen - 1] != '/' && raw[nlen - 1] != '\\' &&
                     !memchr(raw, '\0', nlen);
        if (usable) {
            memcpy(key, raw, nlen);
            key[nlen] = '\0';
            usable = lstar_store_normalize_key(key, NULL) == LSTAR_OK && key[0] != '\0';
        }
        if (usable) {
            LSTAR_CHECK(parse_extra(r + ZIP_CDIR_SIZE + nlen, xlen, &e, usize32, csize32, lho32, key, err));
            if (e.lho > UINT64_MAX - shift) {
                st = LSTAR_FAIL(err, LSTAR_ERR_CORRUPT, key, "local header offset overflows");
                goto done;
            }
            e.lho += shift;
            size_t klen = strlen(key);
            memcpy(z->names + npos, key, klen + 1);
            e.name = z->names + npos;
            npos += klen + 1;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                zip_entry *ne = lstar_realloc(ents, ncap * sizeof *ne);
                if (!ne) {
                    st = LSTAR_NOMEM(err, p);
                    goto done;
                }
                ents = ne;
                cap = ncap;
            }
            ents[n++] = e;
        }
        pos += ZIP_CDIR_SIZE + nlen + xlen + clen;
    }
    if (n > 1) {
        qsort(ents, n, sizeof *ents, cmp_entry);
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && strcmp(ents[i].name, ents[i + 1].name) == 0) continue; /* a later one wins */
            ents[w++] = ents[i];
        }
        n = w;
    }
    z->entries = ents;
    z->count = n;
    ents = NULL;
done:
    lstar_free(cd);
    lstar_free(ents);
    return st;
}

lstar_status lstar_store_open_zip(const char *path, lstar_store **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    zip_store *z = NULL;
    struct stat sb;
    cdir_info ci;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "path and out are required");
    z = lstar_calloc(1, sizeof *z);
    if (!z) return LSTAR_NOMEM(err, path);
    z->fd = -1;
    z->path = lstar_strdup(path);
    if (!z->path) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (z->fd < 0) {
        int e = errno;
        st = e == ENOENT ? LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no such file")
                         : LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot open: %s", strerror(e));
        goto done;
    }
    if (fstat(z->fd, &sb) != 0) {
        st = LSTAR_FAIL(err, LSTAR_ERR_IO, path, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, path, "not a regular file");
        goto done;
    }
    memset(&ci, 0, sizeof ci);
    LSTAR_CHECK(find_eocd(z, (uint64_t)sb.st_size, &ci, err));
    LSTAR_CHECK(read_cdir(z, &ci, err));
    st = lstar_store_from_ops(&zip_ops, z, LSTAR_STORE_READ, out, err);
    z = NULL;
done:
    zip_close(z);
    return st;
}
