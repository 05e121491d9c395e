/* lstar_test_lstarfmt — drive the L★ store reader/writer from interop tests.
 *
 *   lstar_test_lstarfmt copy SRC DST [--zarr-format 2|3] [--compression SPEC]
 *                            [--chunk-elems N] [--shard-elems N] [--threads N]
 *                            [--no-consolidate] [--overwrite]
 *       Read the L★ store SRC (directory or zip, v2 or v3) and write it to DST.
 *   lstar_test_lstarfmt summary SRC
 *       Print one line per axis and field (name, encoding, shape) — a quick check.
 *
 * Exit status 0 on success, 1 on a library error (message on stderr), 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/lstar.h"

static int usage(void) {
    fprintf(stderr,
            "usage: lstar_test_lstarfmt copy SRC DST [--zarr-format 2|3] [--compression SPEC] [--chunk-elems N]\n"
            "                                [--shard-elems N] [--threads N] [--no-consolidate] [--overwrite]\n"
            "       lstar_test_lstarfmt summary SRC\n");
    return 2;
}

static int fail(const char *what, const lstar_error *err) {
    char buf[2048];
    fprintf(stderr, "lstar_test_lstarfmt: %s: %s (%s)\n", what, lstar_error_format(err, buf, sizeof buf),
            lstar_status_name(err->status));
    return 1;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || *end) return -1;
    *out = v;
    return 0;
}

static int cmd_copy(int argc, char **argv) {
    lstar_write_options o;
    lstar_error err;
    lstar_dataset *ds = NULL;
    uint64_t v;
    if (argc < 2) return usage();
    const char *src = argv[0], *dst = argv[1];
    lstar_write_options_init(&o);
    o.overwrite = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-consolidate") == 0) {
            o.consolidate = 0;
            continue;
        }
        if (strcmp(a, "--overwrite") == 0) {
            o.overwrite = 1;
            continue;
        }
        if (!val) return usage();
        i++;
        if (strcmp(a, "--zarr-format") == 0 && parse_u64(val, &v) == 0)
            o.zarr_format = (int)v;
        else if (strcmp(a, "--compression") == 0)
            o.compression = val;
        else if (strcmp(a, "--chunk-elems") == 0 && parse_u64(val, &v) == 0)
            o.chunk_elems = v;
        else if (strcmp(a, "--shard-elems") == 0 && parse_u64(val, &v) == 0)
            o.shard_elems = v;
        else if (strcmp(a, "--threads") == 0 && parse_u64(val, &v) == 0)
            o.threads = (int)v;
        else
            return usage();
    }
    lstar_error_clear(&err);
    if (lstar_dataset_read(src, &ds, &err) != LSTAR_OK) return fail(src, &err);
    int rc = 0;
    if (lstar_dataset_write(ds, dst, &o, &err) != LSTAR_OK) rc = fail(dst, &err);
    lstar_dataset_free(ds);
    return rc;
}

static int cmd_summary(int argc, char **argv) {
    lstar_error err;
    lstar_dataset *ds = NULL;
    if (argc < 1) return usage();
    lstar_error_clear(&err);
    if (lstar_dataset_read(argv[0], &ds, &err) != LSTAR_OK) return fail(argv[0], &err);
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *a = lstar_dataset_axis_at(ds, i);
        printf("axis %s %llu\n", lstar_axis_name(a), (unsigned long long)lstar_axis_length(a));
    }
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        uint64_t dims[LSTAR_MAX_RANK];
        int r = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
        printf("field %s %s", lstar_field_name(f), lstar_encoding_name(lstar_field_encoding(f)));
        for (int d = 0; d < r; d++) printf("%s%llu", d ? "x" : " ", (unsigned long long)dims[d]);
        printf("\n");
    }
    lstar_dataset_free(ds);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (strcmp(argv[1], "copy") == 0) return cmd_copy(argc - 2, argv + 2);
    if (strcmp(argv[1], "summary") == 0) return cmd_summary(argc - 2, argv + 2);
    return usage();
}
