/* Fuzz target: vlen-utf8 chunk decoding (numcodecs VLenUTF8 framing: u32 item
 * count, then u32 length + bytes per item).
 *
 * Input: byte 0 = array length (bits 0-6, 0..127) and Zarr format (bit 7:
 * v3 when set), then the raw chunk (no compressor).  The string array
 * "a" has one chunk of 128 items; all items are read back. */
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "lstar/alloc.h"
#include "lstar/strings.h"
#include "lstar/zarr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned n = data[0] & 0x7f;
    int v3 = (data[0] & 0x80) != 0;
    char meta[512];
    if (v3)
        snprintf(meta, sizeof meta,
                 "{\"zarr_format\":3,\"node_type\":\"array\",\"shape\":[%u],\"data_type\":\"string\","
                 "\"chunk_grid\":{\"name\":\"regular\",\"configuration\":{\"chunk_shape\":[128]}},"
                 "\"chunk_key_encoding\":{\"name\":\"default\",\"configuration\":{\"separator\":\"/\"}},"
                 "\"fill_value\":\"\",\"codecs\":[{\"name\":\"vlen-utf8\"}]}",
                 n);
    else
        snprintf(meta, sizeof meta,
                 "{\"zarr_format\":2,\"shape\":[%u],\"chunks\":[128],\"dtype\":\"|O\",\"compressor\":null,"
                 "\"fill_value\":null,\"filters\":[{\"id\":\"vlen-utf8\"}],\"order\":\"C\"}",
                 n);
    lstar_store *s = NULL;
    lstar_zarr *z = NULL;
    lstar_zarr_array *a = NULL;
    if (lstar_store_new_memory(&s, NULL) != LSTAR_OK) return 0;
    const char *root = v3 ? "{\"zarr_format\":3,\"node_type\":\"group\"}" : "{\"zarr_format\":2}";
    int ok = lstar_store_set(s, v3 ? "zarr.json" : ".zgroup", root, strlen(root), NULL) == LSTAR_OK &&
             lstar_store_set(s, v3 ? "a/zarr.json" : "a/.zarray", meta, strlen(meta), NULL) == LSTAR_OK &&
             lstar_store_set(s, v3 ? "a/c/0" : "a/0", data + 1, size - 1, NULL) == LSTAR_OK;
    FUZZ_CHECK(ok);
    FUZZ_CHECK(lstar_zarr_open(s, &z, NULL) == LSTAR_OK);
    FUZZ_CHECK(lstar_zarr_array_open(z, "a", &a, NULL) == LSTAR_OK);
    lstar_strings out;
    if (lstar_zarr_array_read_strings(a, 0, n, &out, NULL) == LSTAR_OK) {
        FUZZ_CHECK(out.n == n);
        FUZZ_CHECK(out.offsets[0] == 0);
        for (size_t i = 0; i < out.n; i++) FUZZ_CHECK(out.offsets[i] <= out.offsets[i + 1]);
        lstar_strings_destroy(&out);
    }
    if (n > 2 && lstar_zarr_array_read_strings(a, 1, n - 2, &out, NULL) == LSTAR_OK) lstar_strings_destroy(&out);
    lstar_zarr_array_close(a);
    lstar_zarr_close(z);
    lstar_store_close(s);
    return 0;
}
