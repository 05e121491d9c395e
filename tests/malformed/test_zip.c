/* Hostile zip archives: each test plants one defect and checks the status
 * (no crash, no leak: run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "test_support.h"
#include "lstar/lstar.h"

/* ---- a tiny zip writer whose every offset is known ------------------------- */

typedef struct zent {
    uint16_t method;
    size_t lho;    /* local header offset */
    size_t cdrec;  /* central directory record offset */
    size_t data;   /* data offset */
    size_t csize;
} zent;

typedef struct zb {
    uint8_t buf[1 << 16];
    size_t len;
    zent e[8];
    int n;
    size_t cd_start, cd_size, eocd;
    const char *names[8];
    uint32_t crc[8];
    size_t usize[8];
} zb;


static size_t raw_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t r = cap - zs.avail_out;
    deflateEnd(&zs);
    return r;
}

static void zb_add(zb *z, const char *name, const void *data, size_t n, uint16_t method) {
    zent *e = &z->e[z->n];
    size_t nl = strlen(name);
    uint8_t *h = z->buf + z->len;
    e->method = method;
    e->lho = z->len;
    memset(h, 0, 30);
    lt_put_le32(h, 0x04034b50u);
    lt_put_le16(h + 4, 20);
    lt_put_le16(h + 8, method);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), data, (uInt)n);
    lt_put_le32(h + 14, crc);
    lt_put_le32(h + 22, (uint32_t)n);
    lt_put_le16(h + 26, (uint16_t)nl);
    memcpy(h + 30, name, nl);
    e->data = z->len + 30 + nl;
    if (method == 8)
        e->csize = raw_deflate(data, n, z->buf + e->data, sizeof z->buf - e->data);
    else {
        memcpy(z->buf + e->data, data, n);
        e->csize = n;
    }
    lt_put_le32(h + 18, (uint32_t)e->csize);
    z->len = e->data + e->csize;
    z->names[z->n] = name;
    z->crc[z->n] = crc;
    z->usize[z->n] = n;
    z->n++;
}

static void zb_finish(zb *z) {
    z->cd_start = z->len;
    for (int i = 0; i < z->n; i++) {
        uint8_t *r = z->buf + z->len;
        size_t nl = strlen(z->names[i]);
        memset(r, 0, 46);
        lt_put_le32(r, 0x02014b50u);
        lt_put_le16(r + 4, 20);
        lt_put_le16(r + 6, 20);
        lt_put_le16(r + 10, z->e[i].method);
        lt_put_le32(r + 16, z->crc[i]);
        lt_put_le32(r + 20, (uint32_t)z->e[i].csize);
        lt_put_le32(r + 24, (uint32_t)z->usize[i]);
        lt_put_le16(r + 28, (uint16_t)nl);
        lt_put_le32(r + 42, (uint32_t)z->e[i].lho);
        memcpy(r + 46, z->names[i], nl);
        z->e[i].cdrec = z->len;
        z->len += 46 + nl;
    }
    z->cd_size = z->len - z->cd_start;
    uint8_t *q = z->buf + z->len;
    memset(q, 0, 22);
    lt_put_le32(q, 0x06054b50u);
    lt_put_le16(q + 8, (uint16_t)z->n);
    lt_put_le16(q + 10, (uint16_t)z->n);
    lt_put_le32(q + 12, (uint32_t)z->cd_size);
    lt_put_le32(q + 16, (uint32_t)z->cd_start);
    z->eocd = z->len;
    z->len += 22;
}

static const char TEXT[] =
    "{\n  \"zarr_format\": 2, \"shape\": [100], \"chunks\": [10], \"dtype\": \"<f8\", \"compressor\": null,\n"
    "  \"fill_value\": 0.0, \"order\": \"C\", \"filters\": null\n} padding padding padding padding padding\n";

/* a.json STORED, b.json DEFLATE */
static zb *zb_default(void) {
    zb *z = calloc(1, sizeof *z);
    assert_non_null(z);
    zb_add(z, "a.json", TEXT, sizeof TEXT - 1, 0);
    zb_add(z, "b.json", TEXT, sizeof TEXT - 1, 8);
    zb_finish(z);
    return z;
}

static char g_path[512];

static const char *write_zip(const uint8_t *buf, size_t n) {
    snprintf(g_path, sizeof g_path, "%s/malformed_zip_%ld.zip", LSTAR_TEST_TMP, (long)getpid());
    FILE *f = fopen(g_path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
    return g_path;
}

static lstar_status open_z(const zb *z, size_t len, lstar_store **s, lstar_error *e) {
    lstar_error_clear(e);
    *s = NULL;
    return lstar_store_open_zip(write_zip(z->buf, len), s, e);
}

/* Open (must succeed) and read `key`; returns the get status. */
static lstar_status get_z(const zb *z, const char *key, lstar_error *e) {
    lstar_store *s = NULL;
    lstar_error oe;
    assert_int_equal(open_z(z, z->len, &s, &oe), LSTAR_OK);
    uint8_t *d = NULL;
    size_t n = 0;
    lstar_error_clear(e);
    lstar_status st = lstar_store_get(s, key, 0, &d, &n, e);
    if (st == LSTAR_OK) lstar_free(d);
    else assert_null(d);
    lstar_store_close(s);
    return st;
}

static void teardown_file(void) { unlink(g_path); }

/* ---- sanity: the builder makes valid archives ---------------------------- */

static void test_builder_sanity(void **state) {
    (void)state;
    zb *z = zb_default();
    lstar_store *s = NULL;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_OK);
    for (int i = 0; i < 2; i++) {
        uint8_t *d = NULL, buf[7];
        size_t n = 0;
        const char *k = i ? "b.json" : "a.json";
        assert_int_equal(lstar_store_get(s, k, 0, &d, &n, NULL), LSTAR_OK);
        assert_int_equal(n, sizeof TEXT - 1);
        assert_memory_equal(d, TEXT, n);
        lstar_free(d);
        assert_int_equal(lstar_store_get_range(s, k, 4, 7, buf, NULL), LSTAR_OK);
        assert_memory_equal(buf, TEXT + 4, 7);
    }
    assert_true(z->e[1].csize < sizeof TEXT - 1); /* really deflated */
    lstar_store_close(s);
    free(z);
    teardown_file();
}

/* ---- archive-level defects --------------------------------------------------- */

static void test_truncated_zip(void **state) {
    (void)state;
    zb *z = zb_default();
    lstar_store *s;
    lstar_error e;
    /* cut inside the central directory: the EOCD is gone */
    assert_int_equal(open_z(z, z->cd_start + 10, &s, &e), LSTAR_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(e.message, "end of central directory"));
    /* shorter than an EOCD record */
    assert_int_equal(open_z(z, 10, &s, &e), LSTAR_ERR_FORMAT);
    /* empty file */
    assert_int_equal(open_z(z, 0, &s, &e), LSTAR_ERR_FORMAT);
    free(z);
    teardown_file();
}

static void test_truncated_data_area(void **state) {
    (void)state;
    zb *z = zb_default();
    /* drop the first 40 bytes of data: the directory now claims more than exists */
    memmove(z->buf, z->buf + 40, z->len - 40);
    z->len -= 40;
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(e.message, "central directory"));
    free(z);
    teardown_file();
}

static void test_bad_eocd_signature(void **state) {
    (void)state;
    zb *z = zb_default();
    z->buf[z->eocd + 3] = 0x07;
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_FORMAT);
    assert_null(s);
    free(z);
    teardown_file();
}

static void test_eocd_comment_length_overruns(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->eocd + 20, 500); /* comment longer than the file */
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_FORMAT);
    free(z);
    teardown_file();
}

static void test_eocd_multi_disk(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->eocd + 4, 1);
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "multi-disk"));
    free(z);
    teardown_file();
}

static void test_central_dir_outside_file(void **state) {
    (void)state;
    zb *z = zb_default();
    lstar_store *s;
    lstar_error e;
    lt_put_le32(z->buf + z->eocd + 16, 0x7fff0000u); /* offset */
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(e.message, "outside the archive"));
    lt_put_le32(z->buf + z->eocd + 16, (uint32_t)z->cd_start);
    lt_put_le32(z->buf + z->eocd + 12, 0xfffffff0u); /* size */
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    free(z);
    teardown_file();
}

static void test_central_dir_bad_signature(void **state) {
    (void)state;
    zb *z = zb_default();
    z->buf[z->e[1].cdrec] = 'X';
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "bad central directory entry"));
    free(z);
    teardown_file();
}

static void test_central_dir_name_overruns(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->e[1].cdrec + 28, 4000);
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "runs past"));
    free(z);
    teardown_file();
}

/* A central directory bigger than LSTAR_MAX_ZIP_CDIR_BYTES is refused before
 * it is allocated (a sparse 600 MB file whose EOCD claims a 576 MB directory). */
static void test_central_dir_over_limit(void **state) {
    (void)state;
    snprintf(g_path, sizeof g_path, "%s/malformed_zip_%ld.zip", LSTAR_TEST_TMP, (long)getpid());
    int fd = open(g_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    uint64_t eocd = 600ull << 20;
    uint8_t q[22];
    memset(q, 0, sizeof q);
    lt_put_le32(q, 0x06054b50u);
    lt_put_le16(q + 8, 1);
    lt_put_le16(q + 10, 1);
    lt_put_le32(q + 12, 576u << 20);
    lt_put_le32(q + 16, (uint32_t)(eocd - (576u << 20)));
    assert_int_equal(pwrite(fd, q, sizeof q, (off_t)eocd), (ssize_t)sizeof q);
    close(fd);
    lstar_store *s = NULL;
    lstar_error e;
    lstar_error_clear(&e);
    assert_int_equal(lstar_store_open_zip(g_path, &s, &e), LSTAR_ERR_LIMIT);
    assert_null(s);
    teardown_file();
}

static void test_zip64_locator_outside_file(void **state) {
    (void)state;
    zb *z = zb_default();
    /* insert a ZIP64 locator (pointing far away) between directory and EOCD;
     * the 56 bytes before it are not a ZIP64 record */
    uint8_t eocd[22];
    memcpy(eocd, z->buf + z->eocd, 22);
    uint8_t *l = z->buf + z->eocd;
    memset(l, 0, 20);
    lt_put_le32(l, 0x07064b50u);
    lt_put_le64(l + 8, 0xffffffffffull);
    lt_put_le32(l + 16, 1);
    memcpy(z->buf + z->eocd + 20, eocd, 22);
    z->len += 20;
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "ZIP64"));
    free(z);
    teardown_file();
}

static void test_zip64_extra_too_short(void **state) {
    (void)state;
    zb z0;
    zb *z = &z0;
    memset(z, 0, sizeof *z);
    zb_add(z, "a.json", TEXT, sizeof TEXT - 1, 0);
    zb_finish(z);
    /* rebuild entry 0's record with 0xFFFFFFFF sizes and a 4-byte ZIP64 extra */
    size_t r = z->e[0].cdrec, nl = 6;
    uint8_t eocd[22];
    memcpy(eocd, z->buf + z->eocd, 22);
    lt_put_le32(z->buf + r + 20, 0xFFFFFFFFu);
    lt_put_le32(z->buf + r + 24, 0xFFFFFFFFu);
    lt_put_le16(z->buf + r + 30, 8);
    uint8_t *x = z->buf + r + 46 + nl;
    lt_put_le16(x, 1);
    lt_put_le16(x + 2, 4);
    lt_put_le32(x + 4, 0);
    z->cd_size += 8;
    z->eocd += 8;
    memcpy(z->buf + z->eocd, eocd, 22);
    lt_put_le32(z->buf + z->eocd + 12, (uint32_t)z->cd_size);
    z->len = z->eocd + 22;
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "ZIP64 extra field"));
    teardown_file();
}

/* ---- entry-level defects (open succeeds, the read fails) --------------------- */

static void test_entry_size_larger_than_max(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 24, 0xF0000000u); /* claims 3.75 GiB uncompressed */
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_LIMIT);
    assert_string_equal(e.where, "b.json");
    /* an explicit smaller cap on an honest entry */
    lstar_store *s;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_OK);
    uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(lstar_store_get(s, "a.json", 16, &d, &n, &e), LSTAR_ERR_LIMIT);
    assert_null(d);
    lstar_store_close(s);
    free(z);
    teardown_file();
}

static void test_deflate_crc_mismatch(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 16, z->crc[1] ^ 0x1u);
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "CRC-32"));
    assert_string_equal(e.where, "b.json");
    free(z);
    teardown_file();
}

static void test_stored_crc_mismatch(void **state) {
    (void)state;
    zb *z = zb_default();
    z->buf[z->e[0].data + 5] ^= 0x20; /* flip a data bit */
    lstar_error e;
    assert_int_equal(get_z(z, "a.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "CRC-32"));
    free(z);
    teardown_file();
}

static void test_deflate_data_garbage(void **state) {
    (void)state;
    zb *z = zb_default();
    memset(z->buf + z->e[1].data, 0xFF, z->e[1].csize); /* 0xFF: invalid block type 3 */
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "deflate"));
    /* get_range inflates too */
    lstar_store *s;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_OK);
    uint8_t buf[4];
    assert_int_equal(lstar_store_get_range(s, "b.json", 10, 4, buf, &e), LSTAR_ERR_CORRUPT);
    lstar_store_close(s);
    free(z);
    teardown_file();
}

static void test_deflate_stream_truncated(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 20, (uint32_t)(z->e[1].csize / 2)); /* compressed size halved */
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    free(z);
    teardown_file();
}

static void test_deflate_inflates_past_declared_size(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 24, (uint32_t)(z->usize[1] - 10));
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "more than"));
    free(z);
    teardown_file();
}

static void test_deflate_inflates_short_of_declared_size(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 24, (uint32_t)(z->usize[1] + 10));
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "inflates to"));
    free(z);
    teardown_file();
}

static void test_unsupported_method(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->e[1].cdrec + 10, 12); /* bzip2 */
    lt_put_le16(z->buf + z->e[1].lho + 8, 12);
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_UNSUPPORTED);
    assert_string_equal(e.where, "b.json");
    assert_non_null(strstr(e.message, "'b.json'"));
    assert_non_null(strstr(e.message, "method 12"));
    /* size and list still work for it */
    lstar_store *s;
    uint64_t sz = 0;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_OK);
    assert_int_equal(lstar_store_size(s, "b.json", &sz, NULL), LSTAR_OK);
    assert_int_equal(sz, sizeof TEXT - 1);
    lstar_store_close(s);
    free(z);
    teardown_file();
}

static void test_encrypted_entry(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->e[0].cdrec + 8, 1);
    lstar_error e;
    assert_int_equal(get_z(z, "a.json", &e), LSTAR_ERR_UNSUPPORTED);
    assert_non_null(strstr(e.message, "encrypted"));
    free(z);
    teardown_file();
}

static void test_local_header_name_mismatch(void **state) {
    (void)state;
    zb *z = zb_default();
    z->buf[z->e[0].lho + 30] = 'x'; /* "x.json" locally */
    lstar_error e;
    assert_int_equal(get_z(z, "a.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "different file"));
    free(z);
    teardown_file();
}

static void test_local_header_bad_signature(void **state) {
    (void)state;
    zb *z = zb_default();
    z->buf[z->e[1].lho + 2] = 9;
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "local file header"));
    free(z);
    teardown_file();
}

static void test_local_header_method_mismatch(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->e[1].lho + 8, 0);
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    free(z);
    teardown_file();
}

static void test_local_header_offset_outside(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[1].cdrec + 42, 0x00100000u);
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "outside"));
    free(z);
    teardown_file();
}

static void test_local_extra_runs_into_directory(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le16(z->buf + z->e[1].lho + 28, 60000); /* local extra length pushes data past the directory */
    lstar_error e;
    assert_int_equal(get_z(z, "b.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "runs past"));
    free(z);
    teardown_file();
}

static void test_stored_size_mismatch(void **state) {
    (void)state;
    zb *z = zb_default();
    lt_put_le32(z->buf + z->e[0].cdrec + 20, (uint32_t)(z->usize[0] - 1)); /* csize != usize */
    lstar_error e;
    assert_int_equal(get_z(z, "a.json", &e), LSTAR_ERR_CORRUPT);
    assert_non_null(strstr(e.message, "STORED"));
    free(z);
    teardown_file();
}

/* Entry names that are not valid keys ("../x", "/abs" is normalised) are never exposed. */
static void test_entry_name_traversal_skipped(void **state) {
    (void)state;
    zb *z = calloc(1, sizeof *z);
    assert_non_null(z);
    zb_add(z, "../../etc/passwd", "root", 4, 0);
    zb_add(z, "ok/./x", "dot", 3, 0);
    zb_add(z, "good", "fine", 4, 0);
    zb_add(z, "dir/", "", 0, 0);
    zb_finish(z);
    lstar_store *s;
    lstar_error e;
    assert_int_equal(open_z(z, z->len, &s, &e), LSTAR_OK);
    assert_int_equal(lstar_store_exists(s, "good", NULL), 1);
    assert_int_equal(lstar_store_exists(s, "etc/passwd", NULL), 0);
    assert_int_equal(lstar_store_exists(s, "dir", NULL), 0);
    assert_int_equal(lstar_store_exists(s, "ok/x", NULL), 0);
    lstar_store_close(s);
    free(z);
    teardown_file();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_sanity),
        cmocka_unit_test(test_truncated_zip),
        cmocka_unit_test(test_truncated_data_area),
        cmocka_unit_test(test_bad_eocd_signature),
        cmocka_unit_test(test_eocd_comment_length_overruns),
        cmocka_unit_test(test_eocd_multi_disk),
        cmocka_unit_test(test_central_dir_outside_file),
        cmocka_unit_test(test_central_dir_bad_signature),
        cmocka_unit_test(test_central_dir_name_overruns),
        cmocka_unit_test(test_central_dir_over_limit),
        cmocka_unit_test(test_zip64_locator_outside_file),
        cmocka_unit_test(test_zip64_extra_too_short),
        cmocka_unit_test(test_entry_size_larger_than_max),
        cmocka_unit_test(test_deflate_crc_mismatch),
        cmocka_unit_test(test_stored_crc_mismatch),
        cmocka_unit_test(test_deflate_data_garbage),
        cmocka_unit_test(test_deflate_stream_truncated),
        cmocka_unit_test(test_deflate_inflates_past_declared_size),
        cmocka_unit_test(test_deflate_inflates_short_of_declared_size),
        cmocka_unit_test(test_unsupported_method),
        cmocka_unit_test(test_encrypted_entry),
        cmocka_unit_test(test_local_header_name_mismatch),
        cmocka_unit_test(test_local_header_bad_signature),
        cmocka_unit_test(test_local_header_method_mismatch),
        cmocka_unit_test(test_local_header_offset_outside),
        cmocka_unit_test(test_local_extra_runs_into_directory),
        cmocka_unit_test(test_stored_size_mismatch),
        cmocka_unit_test(test_entry_name_traversal_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
