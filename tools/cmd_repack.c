/* lstar repack — re-encode the numeric datasets of an h5ad/HDF5 file (or the
 * numeric arrays of a Zarr store) with a new filter pipeline and chunking
 * (h5repack-like), through lstar/repack.h. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "lstar/repack.h"

#define VERB "repack"

#ifndef LSTAR_CLI_BUILD_DIR
#error "LSTAR_CLI_BUILD_DIR must be defined by tools/CMakeLists.txt"
#endif

static const char usage[] =
    "usage: lstar repack SRC DST [--best | --filter zstd[:L] | --gzip[=L] | --none]\n"
    "                    [--shuffle] [--delta-indices] [--chunk-elems N]\n"
    "                    [--latest-format] [--threads N] [--plugin-dir DIR]\n"
    "                    [--overwrite]\n"
    "\n"
    "Rewrite the HDF5 file SRC (h5ad, h5mu, 10x .h5, any HDF5) as DST with every\n"
    "chunked (or large contiguous) numeric dataset re-encoded with the requested\n"
    "filter pipeline, applied in this order:\n"
    "  [delta 56855 on indices/indptr] -> [shuffle] -> [zstd 32015 | deflate]\n"
    "Everything else (groups, attributes, strings, links, encodings, fill values,\n"
    "maxshape) is copied exactly.  A Zarr store SRC (anndata-zarr or L★, v2 or\n"
    "v3, directory or .zip) becomes the directory store DST with every numeric\n"
    "array re-encoded (filters [delta, shuffle], compressor zstd or gzip) and\n"
    "everything else copied.  DST is written under a temporary name and\n"
    "renamed on success; SRC is never modified.  The output does not depend on\n"
    "--threads.  Readers need the zstd/delta plugins: see `lstar plugin-path`.\n"
    "\n"
    "pipeline (default --best):\n"
    "  --best             the preset for count matrices: zstd level 13, shuffle\n"
    "                     where it helps (tried per dataset on a sample of chunks),\n"
    "                     delta on indices/indptr, --chunk-elems 65536 and\n"
    "                     --latest-format (see docs/benchmarks.md)\n"
    "  --filter SPEC      compressor: zstd[:L] (L -131072..22, default 3),\n"
    "                     gzip[:L] (0..9, default 4) or none\n"
    "  --gzip[=L]         same as --filter gzip[:L]\n"
    "  --none             same as --filter none (no compressor)\n"
    "  --shuffle          byte shuffle (HDF5 filter 2) before the compressor\n"
    "  --delta-indices    delta-code integer datasets named indices/indptr\n"
    "\n"
    "options:\n"
    "  --chunk-elems N    new chunking: 1-D chunks of N elements, N-D chunks of\n"
    "                     max(1, N / (other dims)) full rows (default: keep the\n"
    "                     source chunking; contiguous sources get 262144)\n"
    "  --latest-format    write the newest HDF5 file format (smaller metadata; needs\n"
    "                     HDF5 >= 1.10 readers; default: h5py's 'earliest')\n"
    "  --threads N        encoder threads (default 0: all cores)\n"
    "  --plugin-dir DIR   where lstar's HDF5 filter plugins are (default: the\n"
    "                     directory `lstar plugin-path` prints)\n"
    "  --overwrite        replace DST if it exists\n"
    "\n"
    "On success one summary line is printed on stdout.\n"
    "exit status: 0 written, 2 bad usage or the file could not be repacked\n"
    "(nothing is left at DST).\n";

/* "zstd", "zstd:5", "gzip", "gzip:9", "none". */
static int parse_filter(const char *spec, lstar_repack_opts *o) {
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    long lo, hi, def;
    if (nl == 4 && strncmp(spec, "zstd", 4) == 0) {
        o->compressor = LSTAR_REPACK_ZSTD;
        lo = -131072, hi = 22, def = 3;
    } else if (nl == 4 && strncmp(spec, "gzip", 4) == 0) {
        o->compressor = LSTAR_REPACK_GZIP;
        lo = 0, hi = 9, def = 4;
    } else if (nl == 4 && strncmp(spec, "none", 4) == 0 && !colon) {
        o->compressor = LSTAR_REPACK_NONE;
        o->level = 0;
        return 0;
    } else {
        return cli_error(VERB, NULL, "--filter: unknown filter '%s' (zstd[:L], gzip[:L], none)", spec);
    }
    o->level = (int)def;
    if (colon) {
        char *end = NULL;
        long v = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || v < lo || v > hi)
            return cli_error(VERB, NULL, "--filter: level '%s' must be an integer in %ld..%ld", colon + 1, lo, hi);
        o->level = (int)v;
    }
    return 0;
}

static int run(int argc, char **argv) {
    lstar_repack_opts o;
    lstar_repack_stats stats;
    lstar_error err;
    int best = 0, latest = 0, none = 0, shuffle = 0, delta = 0, overwrite = 0, threads = 0, help = 0, nfilter = 0;
    uint64_t chunk_elems = 0;
    const char *filter = NULL, *plugin_dir = NULL, *gzip = NULL;
    const char *pos[2];
    size_t npos = 0;
    char **args = NULL;
    int nargs = 0, rc = CLI_EXIT_ERROR, zarr = 0;

    /* --gzip takes an optional level ("--gzip" or "--gzip=L"); map it to
     * --filter before the generic parser sees it. */
    args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return cli_error(VERB, NULL, "out of memory");
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--") == 0) {
            for (; i < argc; i++) args[nargs++] = argv[i];
            break;
        }
        if (i > 0 && (strcmp(argv[i], "--gzip") == 0 || strncmp(argv[i], "--gzip=", 7) == 0)) {
            gzip = argv[i];
            nfilter++;
            continue;
        }
        args[nargs++] = argv[i];
    }
    lstar_repack_opts_init(&o);
    const cli_opt opts[] = {
        {"best", CLI_OPT_FLAG, &best, NULL},
        {"filter", CLI_OPT_STRING, &filter, NULL},
        {"none", CLI_OPT_FLAG, &none, NULL},
        {"shuffle", CLI_OPT_FLAG, &shuffle, NULL},
        {"delta-indices", CLI_OPT_FLAG, &delta, NULL},
        {"chunk-elems", CLI_OPT_U64, &chunk_elems, NULL},
        {"threads", CLI_OPT_INT, &threads, NULL},
        {"plugin-dir", CLI_OPT_STRING, &plugin_dir, NULL},
        {"overwrite", CLI_OPT_FLAG, &overwrite, NULL},
        {"latest-format", CLI_OPT_FLAG, &latest, NULL},
    };
    if (cli_parse(VERB, nargs, args, opts, sizeof opts / sizeof opts[0], pos, 2, &npos, &help)) goto done;
    if (help) {
        fputs(usage, stdout);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (npos != 2) {
        cli_error(VERB, NULL, "expected SRC and DST (see 'lstar help repack')");
        goto done;
    }
    nfilter += best + none + (filter != NULL);
    if (nfilter > 1) {
        cli_error(VERB, NULL, "--best, --filter, --gzip and --none are mutually exclusive");
        goto done;
    }
    if (best && (shuffle || delta || chunk_elems || latest)) {
        cli_error(VERB, NULL, "--best sets the whole pipeline; it cannot be combined with --shuffle, "
                              "--delta-indices, --chunk-elems or --latest-format");
        goto done;
    }
    if (nfilter == 0 && !shuffle && !delta) best = 1;
    if (best) {
        lstar_repack_opts_best(&o);
    } else {
        if (filter && parse_filter(filter, &o)) goto done;
        if (gzip) {
            char spec[64];
            snprintf(spec, sizeof spec, "gzip%s%s", gzip[6] == '=' ? ":" : "", gzip[6] == '=' ? gzip + 7 : "");
            if (parse_filter(spec, &o)) goto done;
        }
        if (none) o.compressor = LSTAR_REPACK_NONE, o.level = 0;
        o.shuffle = shuffle;
        o.delta_indices = delta;
        o.chunk_elems = chunk_elems;
        o.latest_format = latest;
    }
    if (threads > LSTAR_MAX_THREADS) {
        cli_error(VERB, NULL, "--threads must be at most %d", LSTAR_MAX_THREADS);
        goto done;
    }
    o.threads = threads;
    o.overwrite = overwrite;
    o.plugin_dir = plugin_dir ? plugin_dir : cli_plugin_dir();

    char why[256];
    switch (cli_classify_input(pos[0], why, sizeof why)) {
    case CLI_INPUT_MISSING: cli_error(VERB, pos[0], "%s", why); goto done;
    case CLI_INPUT_HDF5:
    case CLI_INPUT_OTHER: break; /* h5mu: the HDF5 signature follows a 512-byte userblock; HDF5 decides */
    case CLI_INPUT_DIR:
    case CLI_INPUT_ZIP: zarr = 1; break;
    }
    memset(&err, 0, sizeof err);
    if ((zarr ? lstar_repack_zarr(pos[0], pos[1], &o, &stats, &err)
              : lstar_repack_h5(pos[0], pos[1], &o, &stats, &err)) != LSTAR_OK) {
        /* HDF5 object paths ("/X/data") are shown inside SRC ("in.h5ad/X/data");
         * file names (SRC, DST, the plugin directory) as they are. */
        char where[LSTAR_ERROR_WHERE_MAX + 4096];
        int object = err.where[0] == '/' && !cli_is_dir(err.where) && access(err.where, F_OK) != 0;
        int key = zarr && err.where[0] && err.where[0] != '/' && strncmp(err.where, pos[0], strlen(pos[0])) != 0 &&
                  strncmp(err.where, pos[1], strlen(pos[1])) != 0;
        snprintf(where, sizeof where, "%s%s%s", object || key ? pos[0] : "", key ? "/" : "", err.where);
        cli_error(VERB, where, "%s", err.message[0] ? err.message : lstar_status_message(err.status));
        goto done;
    }
    char a[32], b[32], x[32], y[32];
    printf("%s -> %s: %llu datasets re-encoded (%s -> %s), %llu copied, %llu groups; file %s -> %s (%.3fx)\n",
           pos[0], pos[1], (unsigned long long)stats.datasets_encoded, cli_human_bytes(stats.bytes_in, a, sizeof a),
           cli_human_bytes(stats.bytes_out, b, sizeof b), (unsigned long long)stats.datasets_copied,
           (unsigned long long)stats.groups, cli_human_bytes(stats.file_bytes_in, x, sizeof x),
           cli_human_bytes(stats.file_bytes_out, y, sizeof y),
           stats.file_bytes_in ? (double)stats.file_bytes_out / (double)stats.file_bytes_in : 0.0);
    rc = CLI_EXIT_OK;
done:
    free(args);
    return rc;
}

const cli_verb cli_verb_repack = {
    "repack",
    "re-encode the numeric datasets of an h5ad/HDF5 file (zstd, shuffle, delta, gzip)",
    usage,
    run,
};
