/* lstar_test_adwrite: write a dataset as AnnData with lstar_anndata_write,
 * for tests/interop/test_anndata_roundtrip.py.
 *
 *   lstar_test_adwrite SRC DST [--format h5ad|zarr2|zarr3] [--compression SPEC]
 *                      [--threads N] [--chunk-elems N] [--shard-elems N]
 *                      [--via-lstar STORE [--lstar-compression SPEC] [--lstar-chunk-elems N]]
 *                      [--no-chunk-copy] [--plugin-dir DIRS] [--overwrite]
 *
 * SRC is an L★ store (read with lstar_dataset_read) or an AnnData (read with
 * lstar_anndata_read).  With --via-lstar the dataset is first written as an
 * L★ store at STORE (lstar_dataset_write) and read back from there, so the
 * AnnData is written from the L★ store's arrays (written with the given
 * compression and chunking, e.g. to exercise the Zarr → h5ad chunk copy).  Prints {"dropped": [...],
 * "read_dropped": [...]} (the writer's dropped list and the dataset's own
 * dropped manifest) on stdout; exit 0 on success, 2 on an error
 * (message on stderr as "STATUS where: message"), 1 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/anndata.h"
#include "lstar/lstarstore.h"
#include "lstar/model.h"
#include "lstar/store.h"

static int fail(const lstar_error *e) {
    fprintf(stderr, "%s %s: %s\n", lstar_status_name(e->status), e->where, e->message);
    return 2;
}

static void put_json_string(const char *p, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static lstar_status read_any(const char *src, lstar_dataset **ds, lstar_error *e) {
    lstar_store *st = NULL;
    int is_lstar = 0;
    if (lstar_store_open(src, LSTAR_STORE_READ, &st, NULL) == LSTAR_OK) {
        is_lstar = lstar_store_is_lstar(st);
        lstar_store_close(st);
    }
    if (is_lstar) return lstar_dataset_read(src, ds, e);
    return lstar_anndata_read(src, NULL, ds, e);
}

int main(int argc, char **argv) {
    lstar_anndata_write_options o;
    lstar_error e;
    lstar_dataset *ds = NULL;
    lstar_strings dropped;
    const char *via = NULL, *via_comp = NULL;
    uint64_t via_chunk = 0;
    int rc = 0;
    memset(&e, 0, sizeof e);
    memset(&dropped, 0, sizeof dropped);
    lstar_anndata_write_options_init(&o);
    if (argc < 3) {
        fprintf(stderr, "usage: lstar_test_adwrite SRC DST [options]\n");
        return 1;
    }
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--overwrite")) {
            o.overwrite = 1;
            continue;
        }
        if (!strcmp(a, "--no-chunk-copy")) {
            o.chunk_copy = 0;
            continue;
        }
        if (!v) {
            fprintf(stderr, "option %s needs a value\n", a);
            return 1;
        }
        i++;
        if (!strcmp(a, "--format")) {
            if (!strcmp(v, "h5ad")) o.format = LSTAR_ANNDATA_H5AD;
            else if (!strcmp(v, "zarr2")) o.format = LSTAR_ANNDATA_ZARR_V2;
            else if (!strcmp(v, "zarr3")) o.format = LSTAR_ANNDATA_ZARR_V3;
            else {
                fprintf(stderr, "unknown format %s\n", v);
                return 1;
            }
        } else if (!strcmp(a, "--compression")) {
            o.compression = v;
        } else if (!strcmp(a, "--threads")) {
            o.threads = atoi(v);
        } else if (!strcmp(a, "--chunk-elems")) {
            o.chunk_elems = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--shard-elems")) {
            o.shard_elems = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--via-lstar")) {
            via = v;
        } else if (!strcmp(a, "--lstar-compression")) {
            via_comp = v;
        } else if (!strcmp(a, "--lstar-chunk-elems")) {
            via_chunk = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--plugin-dir")) {
            o.plugin_dir = v;
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 1;
        }
    }
    if (read_any(argv[1], &ds, &e) != LSTAR_OK) return fail(&e);
    if (via) {
        lstar_write_options wo;
        lstar_write_options_init(&wo);
        wo.overwrite = 1;
        if (via_comp) wo.compression = via_comp;
        wo.chunk_elems = via_chunk;
        if (lstar_dataset_write(ds, via, &wo, &e) != LSTAR_OK) {
            rc = fail(&e);
            goto done;
        }
        lstar_dataset_free(ds);
        ds = NULL;
        if (lstar_dataset_read(via, &ds, &e) != LSTAR_OK) {
            rc = fail(&e);
            goto done;
        }
    }
    o.dropped_out = &dropped;
    if (lstar_anndata_write(ds, argv[2], &o, &e) != LSTAR_OK) {
        rc = fail(&e);
        goto done;
    }
    printf("{\"dropped\": [");
    for (size_t i = 0; i < dropped.n; i++) {
        size_t len;
        const char *p = lstar_strings_get(&dropped, i, &len);
        if (i) printf(", ");
        put_json_string(p, len);
    }
    printf("], \"read_dropped\": [");
    for (size_t i = 0; i < lstar_dataset_dropped_count(ds); i++) {
        const char *p = lstar_dataset_dropped(ds, i);
        if (i) printf(", ");
        put_json_string(p, strlen(p));
    }
    printf("]}\n");
done:
    lstar_strings_destroy(&dropped);
    lstar_dataset_free(ds);
    return rc;
}
