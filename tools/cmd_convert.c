/* lstar convert — h5ad ↔ L★ ↔ anndata-zarr, with the fidelity report and the native check. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "native_check.h"
#include "report.h"

#define VERB "convert"
#define CLI_EXIT_CHECK 3 /* the native check failed and --strict was given */

static const char usage[] =
    "usage: lstar convert SRC DST [--to h5ad|anndata-zarr|lstar] [--modality M]\n"
    "                     [--zarr-format 2|3] [--compression SPEC] [--chunk-elems N]\n"
    "                     [--shard-elems N] [--threads N] [--overwrite] [--report]\n"
    "                     [--report-json FILE] [--check | --no-check] [--strict]\n"
    "\n"
    "Convert between AnnData (.h5ad, anndata-zarr) and L★ stores (.lstar.zarr):\n"
    "h5ad <-> L★, anndata-zarr <-> L★, h5ad <-> anndata-zarr (and L★ -> L★ to\n"
    "re-encode).  Matrices are streamed block by block; the input is never\n"
    "modified.\n"
    "\n"
    "SRC is recognised by its content: an HDF5 file (h5ad; h5mu with --modality),\n"
    "a Zarr directory or .zip holding an L★ root attribute (L★ store, Zarr v2/v3),\n"
    "or any other Zarr store (anndata-zarr v2/v3; mudata-zarr with --modality).\n"
    "DST's format comes from its name: *.h5ad -> h5ad, *.lstar.zarr -> L★ store,\n"
    "other *.zarr -> anndata-zarr (an existing DST replaced with --overwrite is\n"
    "recognised by its content); --to overrides.  Zarr outputs are directories.\n"
    "\n"
    "DST is written under a temporary name next to it and renamed on success: a\n"
    "failed conversion leaves nothing behind.  An existing DST is an error unless\n"
    "--overwrite is given.\n"
    "\n"
    "options:\n"
    "  --to FORMAT        target format: h5ad, anndata-zarr or lstar\n"
    "  --modality M       read modality M of a MuData source (.h5mu, mudata-zarr)\n"
    "  --zarr-format 2|3  Zarr version of a Zarr target (default 2)\n"
    "  --compression SPEC codec for every array: none (default), gzip[:L], zlib[:L],\n"
    "                     zstd[:L] (h5ad: filter 32015, lstar's plugin), lz4,\n"
    "                     blosc[:cname[:clevel[:shuffle]]] (Zarr only),\n"
    "                     lzf (h5ad only)\n"
    "  --chunk-elems N    first-axis chunking target in elements (default 0: the\n"
    "                     writer's default)\n"
    "  --shard-elems N    Zarr v3 only: elements per shard (needs --chunk-elems)\n"
    "  --threads N        encoder threads (default 0: all cores; output does not\n"
    "                     depend on it)\n"
    "  --overwrite        replace DST if it exists\n"
    "  --report           print the fidelity report: every axis and field (role,\n"
    "                     state, encoding, span, shape, provenance), what the source\n"
    "                     reader and the target writer dropped, the native check\n"
    "  --report-json FILE write the report as JSON (lstar-format.md §4; '-' = stdout)\n"
    "  --check            open the result in its native library (default when the\n"
    "                     Python peers are installed): anndata for h5ad and\n"
    "                     anndata-zarr, zarr-python for L★ stores (Zarr v2), via\n"
    "                     /usr/bin/python3; compares shapes, names and a checksum\n"
    "                     of X\n"
    "  --no-check         skip it (native_check.status \"skip\")\n"
    "  --strict           exit 3 when the native check fails\n"
    "\n"
    "A progress bar is drawn on stderr when it is a terminal.  On success one\n"
    "summary line is printed on stdout (not with --report-json -).\n"
    "\n"
    "exit status: 0 converted, 2 bad usage or conversion error (the message names\n"
    "the element), 3 the native check failed and --strict was given (DST is kept).\n";

typedef enum fmt_kind { FMT_NONE = 0, FMT_H5AD, FMT_ANNDATA_ZARR, FMT_LSTAR, FMT_MUDATA } fmt_kind;

typedef struct side {
    const char *path;
    fmt_kind kind;
    int zarr_format;   /* Zarr sides */
    char container[160];
} side;

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* `path` without trailing slashes, into buf. */
static const char *trim_slashes(const char *path, char *buf, size_t size) {
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
    return buf;
}

/* Where a library error happened: `path` joined with err->where when that is
 * an element or key inside it (HDF5 paths start with '/'); a file system path
 * (the file itself or a temporary beside it) is kept as it is. */
static void where_join(const char *path, const char *w, char *buf, size_t size) {
    if (!w || !w[0]) {
        snprintf(buf, size, "%s", path);
        return;
    }
    size_t pl = strlen(path);
    if (strncmp(w, path, pl) == 0 && (w[pl] == '\0' || w[pl] == '/' || w[pl] == '.')) {
        snprintf(buf, size, "%s", w);
        return;
    }
    if (w[0] == '/') {
        /* an absolute file system path beside `path`? */
        char dir[PATH_MAX], real[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        else snprintf(dir, sizeof dir, ".");
        if (realpath(dir[0] ? dir : "/", real)) {
            size_t rl = strlen(real);
            if (strncmp(w, real, rl) == 0 && (w[rl] == '/' || w[rl] == '\0')) {
                snprintf(buf, size, "%s", w);
                return;
            }
        }
        snprintf(buf, size, "%s%s", path, w);
        return;
    }
    snprintf(buf, size, "%s/%s", path, w);
}

static int lib_error(const char *path, const lstar_error *err) {
    char where[LSTAR_ERROR_WHERE_MAX + PATH_MAX + 8];
    where_join(path, err->where, where, sizeof where);
    return cli_error(VERB, where, "%s", err->message[0] ? err->message : lstar_status_message(err->status));
}

/* 1 if `w` (an error's where) names an element of the source: an HDF5 path in
 * an HDF5 source, or a key / array / group of a Zarr source.  Used to blame
 * the right side when reading a lazy source array fails while writing (a
 * failed write leaves nothing at DST, so a name found in SRC is SRC's). */
static int element_in_source(const char *src, const char *w) {
    if (!w || !w[0]) return 0;
    char why[256];
    cli_input_kind k = cli_classify_input(src, why, sizeof why);
    int found = 0;
    lstar_error err = {0};
    if (k == CLI_INPUT_DIR || k == CLI_INPUT_ZIP) {
        lstar_store *store = NULL;
        if (lstar_store_open(src, LSTAR_STORE_READ, &store, &err) != LSTAR_OK) return 0;
        static const char *const suffixes[] = {"", "/.zarray", "/.zgroup", "/zarr.json"};
        char key[LSTAR_ERROR_WHERE_MAX + 16];
        const char *rel = w[0] == '/' ? w + 1 : w;
        for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0] && !found; i++) {
            snprintf(key, sizeof key, "%s%s", rel, suffixes[i]);
            found = lstar_store_exists(store, key, &err) == 1;
        }
        lstar_store_close(store);
    } else {
        lstar_h5_file *f = NULL;
        lstar_h5_node_type t = LSTAR_H5_NODE_NONE;
        if (lstar_h5_open(src, LSTAR_H5_READ, &f, &err) == LSTAR_OK &&
            lstar_h5_node_type_at(f, w, &t, &err) == LSTAR_OK)
            found = t != LSTAR_H5_NODE_NONE;
        lstar_h5_close(f);
    }
    return found;
}

/* ---- detection ---------------------------------------------------------------------- */

/* What an existing path holds (content).  On failure prints the error and
 * returns CLI_EXIT_ERROR. */
static int detect_content(const char *path, side *s, const char *modality) {
    char why[256];
    cli_input_kind k = cli_classify_input(path, why, sizeof why);
    if (k == CLI_INPUT_MISSING) return cli_error(VERB, path, "%s", why);
    if (k == CLI_INPUT_DIR || k == CLI_INPUT_ZIP) {
        lstar_error err = {0};
        lstar_store *store = NULL;
        lstar_zarr *z = NULL;
        if (lstar_store_open(path, LSTAR_STORE_READ, &store, &err) == LSTAR_OK &&
            lstar_zarr_open(store, &z, &err) == LSTAR_OK && lstar_store_is_lstar(store)) {
            s->kind = FMT_LSTAR;
            s->zarr_format = lstar_zarr_format(z);
            snprintf(s->container, sizeof s->container, "L★ store, Zarr v%d%s", s->zarr_format,
                     k == CLI_INPUT_ZIP ? ", zip" : "");
        }
        lstar_zarr_close(z);
        lstar_store_close(store);
        if (s->kind == FMT_LSTAR) return 0;
    }
    lstar_error err = {0};
    lstar_anndata_format f = LSTAR_ANNDATA_UNKNOWN;
    if (lstar_anndata_detect(path, &f, &err) != LSTAR_OK) {
        if (err.status == LSTAR_ERR_FORMAT)
            return cli_error(VERB, path, "neither an h5ad file nor a Zarr store (AnnData or L★)");
        return lib_error(path, &err);
    }
    switch (f) {
    case LSTAR_ANNDATA_H5AD:
        s->kind = FMT_H5AD;
        snprintf(s->container, sizeof s->container, "h5ad");
        break;
    case LSTAR_ANNDATA_ZARR_V2:
    case LSTAR_ANNDATA_ZARR_V3:
        s->kind = FMT_ANNDATA_ZARR;
        s->zarr_format = f == LSTAR_ANNDATA_ZARR_V3 ? 3 : 2;
        snprintf(s->container, sizeof s->container, "anndata-zarr v%d%s", s->zarr_format,
                 k == CLI_INPUT_ZIP ? ", zip" : "");
        break;
    case LSTAR_ANNDATA_H5MU:
    case LSTAR_ANNDATA_MUDATA_ZARR:
        s->kind = FMT_MUDATA;
        snprintf(s->container, sizeof s->container, "%s%s%s%s", lstar_anndata_format_name(f),
                 modality ? " (modality " : "", modality ? modality : "", modality ? ")" : "");
        break;
    default:
        return cli_error(VERB, path, "neither an h5ad file nor a Zarr store (AnnData or L★)");
    }
    return 0;
}

static fmt_kind parse_to(const char *to) {
    if (strcmp(to, "h5ad") == 0) return FMT_H5AD;
    if (strcmp(to, "anndata-zarr") == 0) return FMT_ANNDATA_ZARR;
    if (strcmp(to, "lstar") == 0) return FMT_LSTAR;
    return FMT_NONE;
}

/* The target's format from --to, its name, or (existing, with --overwrite) its content. */
static int detect_target(const char *path, const char *to, int overwrite, side *t) {
    const char *trimmed = path; /* trailing slashes already removed */
    if (ends_with(trimmed, ".zip"))
        return cli_error(VERB, path, "writing zipped stores is not supported; write a directory store and zip it");
    if (to) {
        t->kind = parse_to(to);
        if (t->kind == FMT_NONE)
            return cli_error(VERB, NULL, "--to must be h5ad, anndata-zarr or lstar (got '%s')", to);
        return 0;
    }
    if (ends_with(trimmed, ".h5ad")) t->kind = FMT_H5AD;
    else if (ends_with(trimmed, ".lstar.zarr") || ends_with(trimmed, ".lstar")) t->kind = FMT_LSTAR;
    else if (ends_with(trimmed, ".zarr")) t->kind = FMT_ANNDATA_ZARR;
    if (t->kind != FMT_NONE) return 0;
    struct stat st;
    if (overwrite && lstat(path, &st) == 0) {
        side probe = {0};
        probe.path = path;
        if (detect_content(path, &probe, NULL) != 0) return CLI_EXIT_ERROR;
        if (probe.kind == FMT_MUDATA)
            return cli_error(VERB, path, "writing MuData is not supported (use --to)");
        t->kind = probe.kind;
        return 0;
    }
    return cli_error(VERB, path,
                     "cannot tell the target format from the name (expected *.h5ad, *.lstar.zarr or *.zarr); "
                     "use --to h5ad|anndata-zarr|lstar");
}

/* ---- the report -------------------------------------------------------------------------- */

static const char *report_format(fmt_kind k) {
    switch (k) {
    case FMT_LSTAR: return "store";
    case FMT_MUDATA: return "mudata";
    default: return "anndata";
    }
}

static json_t *build_report_json(const lstar_dataset *ds, const side *src, const side *dst,
                                 const lstar_strings *target_dropped, const native_check_result *nc,
                                 const char *nc_format, json_t *spec) {
    report_side rs = {src->path, report_format(src->kind), src->container};
    report_side rt = {dst->path, report_format(dst->kind), dst->container};
    json_t *root = report_json(ds, &rs, &rt);
    if (!root) return NULL;
    json_t *ncj = json_object();
    json_t *td = report_json_strings(target_dropped);
    if (!ncj || !td) {
        json_decref(ncj);
        json_decref(td);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(ncj, "format", json_string(nc_format));
    json_object_set_new(ncj, "status", json_string(nc->status));
    json_object_set_new(ncj, "detail", json_string(nc->detail));
    json_object_set_new(root, "native_check", ncj);
    /* lstar extras, after the upstream keys */
    json_object_set_new(root, "target_dropped", td);
    json_object_set_new(root, "source_container", json_string(src->container));
    json_object_set_new(root, "target_container", json_string(dst->container));
    json_object_set_new(root, "native_check_spec", spec ? json_incref(spec) : json_null());
    return root;
}

static int write_report_json(json_t *root, const char *file) {
    int to_stdout = strcmp(file, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(file, "w");
    if (!f) return cli_error(VERB, file, "%s", strerror(errno));
    int rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && fputc('\n', f) == EOF) rc = -1;
    if (!to_stdout && fclose(f) != 0) rc = -1;
    if (rc != 0) return cli_error(VERB, file, "could not write the JSON report");
    return 0;
}

static void print_report_text(const lstar_dataset *ds, const side *src, const side *dst,
                              const lstar_strings *target_dropped, const native_check_result *nc,
                              const char *nc_format) {
    char s[PATH_MAX + 200], t[PATH_MAX + 200], profiles[4096];
    snprintf(s, sizeof s, "%s (%s)", src->path, src->container);
    snprintf(t, sizeof t, "%s (%s)", dst->path, dst->container);
    size_t len = 0;
    profiles[0] = '\0';
    for (size_t i = 0; i < lstar_dataset_profile_count(ds) && len < sizeof profiles; i++)
        len += (size_t)snprintf(profiles + len, sizeof profiles - len, "%s%s", i ? ", " : "",
                                lstar_dataset_profile(ds, i));
    if (!profiles[0]) snprintf(profiles, sizeof profiles, "(none)");
    cli_table *hdr = cli_table_new(2);
    const char *r0[2] = {"source", s};
    const char *r1[2] = {"target", t};
    const char *r2[2] = {"kind", lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample"};
    const char *r3[2] = {"profiles", profiles};
    cli_table_add(hdr, r0);
    cli_table_add(hdr, r1);
    cli_table_add(hdr, r2);
    cli_table_add(hdr, r3);
    cli_table_print(hdr, stdout, "");
    cli_table_free(hdr);
    report_print_model(stdout, ds, "dropped by the source reader", "");
    report_print_strings(stdout, "dropped by the target writer", target_dropped);
    printf("\nnative check (%s): %s\n  %s\n", nc_format, nc->status, nc->detail);
}

/* ---- entry ------------------------------------------------------------------------------- */

/* 1 if resolved path `inner` is `outer` or lies below it. */
static int is_within(const char *inner, const char *outer) {
    size_t n = strlen(outer);
    if (n == 1 && outer[0] == '/') return 1;
    return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

/* Writing DST must not touch SRC: refuse DST == SRC, DST inside SRC (a
 * directory store) and SRC inside DST (which --overwrite would remove).
 * Returns the sentence, or NULL when they are apart. */
static const char *overlap(const char *src, const char *dst) {
    char rs[PATH_MAX], rd[PATH_MAX], parent[PATH_MAX];
    if (!realpath(src, rs)) return NULL;
    int exists = realpath(dst, rd) != NULL;
    if (exists) {
        if (strcmp(rs, rd) == 0) return "DST is SRC; the input is never modified";
        if (is_within(rs, rd)) return "SRC lies inside DST; the input is never modified";
    } else {
        /* DST does not exist yet: resolve its parent directory */
        snprintf(parent, sizeof parent, "%s", dst);
        char *slash = strrchr(parent, '/');
        if (!slash) snprintf(parent, sizeof parent, ".");
        else if (slash == parent) parent[1] = '\0';
        else *slash = '\0';
        if (!realpath(parent, rd)) return NULL;
    }
    /* rd: DST itself (exists, != SRC) or the directory DST will be created in */
    if (is_within(rd, rs) && (strcmp(rd, rs) != 0 || !exists)) return "DST lies inside SRC; the input is never modified";
    return NULL;
}

static int run(int argc, char **argv) {
    int zarr_format = 2, threads = 0, overwrite = 0, help = 0, do_report = 0, check = 0, no_check = 0, strict = 0;
    int seen_zf = 0, seen_shard = 0, seen_compression = 0;
    uint64_t chunk_elems = 0, shard_elems = 0;
    const char *compression = "none", *to = NULL, *report_json_file = NULL, *modality = NULL;
    const cli_opt opts[] = {
        {"to", CLI_OPT_STRING, &to, NULL},
        {"modality", CLI_OPT_STRING, &modality, NULL},
        {"zarr-format", CLI_OPT_INT, &zarr_format, &seen_zf},
        {"compression", CLI_OPT_STRING, &compression, &seen_compression},
        {"chunk-elems", CLI_OPT_U64, &chunk_elems, NULL},
        {"shard-elems", CLI_OPT_U64, &shard_elems, &seen_shard},
        {"threads", CLI_OPT_INT, &threads, NULL},
        {"overwrite", CLI_OPT_FLAG, &overwrite, NULL},
        {"report", CLI_OPT_FLAG, &do_report, NULL},
        {"report-json", CLI_OPT_STRING, &report_json_file, NULL},
        {"check", CLI_OPT_FLAG, &check, NULL},
        {"no-check", CLI_OPT_FLAG, &no_check, NULL},
        {"strict", CLI_OPT_FLAG, &strict, NULL},
    };
    const char *pos[2];
    size_t npos = 0;
    if (cli_parse(VERB, argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 2) return cli_error(VERB, NULL, "expected SRC and DST (see 'lstar help convert')");
    if (check && no_check) return cli_error(VERB, NULL, "--check and --no-check exclude each other");
    if (zarr_format != 2 && zarr_format != 3) return cli_error(VERB, NULL, "--zarr-format must be 2 or 3");
    if (seen_shard && shard_elems && zarr_format != 3)
        return cli_error(VERB, NULL, "--shard-elems needs --zarr-format 3");
    if (shard_elems && !chunk_elems) return cli_error(VERB, NULL, "--shard-elems needs --chunk-elems");
    if (threads > LSTAR_MAX_THREADS) return cli_error(VERB, NULL, "--threads must be at most %d", LSTAR_MAX_THREADS);
    int json_to_stdout = report_json_file && strcmp(report_json_file, "-") == 0;
    if (do_report && json_to_stdout) return cli_error(VERB, NULL, "--report and --report-json - both write to stdout");

    side src = {0}, dst = {0};
    char dst_trimmed[PATH_MAX];
    if (strlen(pos[1]) >= sizeof dst_trimmed) return cli_error(VERB, NULL, "DST path too long");
    src.path = pos[0];
    dst.path = trim_slashes(pos[1], dst_trimmed, sizeof dst_trimmed); /* "out.zarr/" names out.zarr */

    /* the target first (a usage error should not cost a read) */
    if (detect_target(dst.path, to, overwrite, &dst)) return CLI_EXIT_ERROR;
    if (dst.kind == FMT_H5AD && seen_zf) return cli_error(VERB, NULL, "--zarr-format applies to Zarr targets only");
    dst.zarr_format = dst.kind == FMT_H5AD ? 0 : zarr_format;
    if (dst.kind == FMT_H5AD) snprintf(dst.container, sizeof dst.container, "h5ad");
    else if (dst.kind == FMT_LSTAR) snprintf(dst.container, sizeof dst.container, "L★ store, Zarr v%d", zarr_format);
    else snprintf(dst.container, sizeof dst.container, "anndata-zarr v%d", zarr_format);
    if (dst.kind != FMT_H5AD && seen_compression) {
        lstar_error cerr = {0};
        lstar_codec *codec = NULL;
        if (lstar_codec_from_spec(compression, LSTAR_DTYPE_FLOAT32, 0, &codec, &cerr) != LSTAR_OK)
            return cli_error(VERB, NULL, "--compression %s: %s", compression,
                             cerr.message[0] ? cerr.message : lstar_status_message(cerr.status));
        lstar_codec_free(codec);
    }

    /* the source */
    if (detect_content(src.path, &src, modality)) return CLI_EXIT_ERROR;
    if (modality && src.kind != FMT_MUDATA)
        return cli_error(VERB, src.path, "--modality applies to MuData sources (.h5mu, mudata-zarr) only");

    const char *why_overlap = overlap(src.path, dst.path);
    if (why_overlap) return cli_error(VERB, dst.path, "%s", why_overlap);
    struct stat st;
    if (lstat(dst.path, &st) == 0 && !overwrite)
        return cli_error(VERB, dst.path, "already exists (use --overwrite to replace it)");

    lstar_error err = {0};
    lstar_dataset *ds = NULL;
    lstar_strings target_dropped = {0};
    int have_target_dropped = 0;
    json_t *spec = NULL, *report = NULL;
    native_check_result nc;
    int rc = CLI_EXIT_ERROR;

    /* read */
    if (src.kind == FMT_LSTAR) {
        if (lstar_dataset_read(src.path, &ds, &err) != LSTAR_OK) {
            rc = lib_error(src.path, &err);
            goto done;
        }
    } else {
        lstar_anndata_read_options ro;
        lstar_anndata_read_options_init(&ro);
        ro.modality = modality;
        if (lstar_anndata_read(src.path, &ro, &ds, &err) != LSTAR_OK) {
            rc = lib_error(src.path, &err);
            goto done;
        }
    }

    /* write */
    {
        cli_progress prog;
        cli_progress_init(&prog, "converting");
        lstar_status wst;
        if (dst.kind == FMT_LSTAR) {
            lstar_write_options o;
            lstar_write_options_init(&o);
            o.zarr_format = zarr_format;
            o.compression = compression;
            o.chunk_elems = chunk_elems;
            o.shard_elems = shard_elems;
            o.threads = threads;
            o.overwrite = overwrite;
            o.progress = cli_progress_cb;
            o.progress_ud = &prog;
            wst = lstar_dataset_write(ds, dst.path, &o, &err);
        } else {
            lstar_anndata_write_options o;
            lstar_anndata_write_options_init(&o);
            o.format = dst.kind == FMT_H5AD ? LSTAR_ANNDATA_H5AD
                       : zarr_format == 3   ? LSTAR_ANNDATA_ZARR_V3
                                            : LSTAR_ANNDATA_ZARR_V2;
            o.compression = compression;
            o.chunk_elems = chunk_elems;
            o.shard_elems = shard_elems;
            o.threads = threads;
            o.overwrite = overwrite;
            o.plugin_dir = cli_plugin_dir();
            o.progress = cli_progress_cb;
            o.progress_ud = &prog;
            o.dropped_out = &target_dropped;
            wst = lstar_anndata_write(ds, dst.path, &o, &err);
            have_target_dropped = 1;
        }
        cli_progress_finish(&prog);
        if (wst != LSTAR_OK) {
            rc = lib_error(element_in_source(src.path, err.where) ? src.path : dst.path, &err);
            goto done;
        }
    }

    /* native check */
    native_check_container ncc = dst.kind == FMT_H5AD          ? NATIVE_CHECK_H5AD
                                 : dst.kind == FMT_ANNDATA_ZARR ? NATIVE_CHECK_ANNDATA_ZARR
                                                                : NATIVE_CHECK_LSTAR;
    const char *nc_format = native_check_format(ncc);
    if (no_check) {
        snprintf(nc.status, sizeof nc.status, "%s", NATIVE_CHECK_SKIP);
        snprintf(nc.detail, sizeof nc.detail, "disabled (--no-check)");
    } else {
        cli_progress prog;
        cli_progress_init(&prog, "checking");
        lstar_status cst = native_check_spec(ds, ncc, dst.path, zarr_format, cli_progress_cb, &prog, &spec, &err);
        cli_progress_finish(&prog);
        if (cst != LSTAR_OK) {
            rc = lib_error(src.path, &err);
            goto done;
        }
        native_check_run(spec, &nc);
    }

    /* report */
    if (report_json_file) {
        report = build_report_json(ds, &src, &dst, have_target_dropped ? &target_dropped : NULL, &nc, nc_format,
                                   spec);
        if (!report) {
            rc = cli_error(VERB, NULL, "out of memory");
            goto done;
        }
        if (write_report_json(report, report_json_file)) goto done;
    }
    if (do_report)
        print_report_text(ds, &src, &dst, have_target_dropped ? &target_dropped : NULL, &nc, nc_format);
    if (!json_to_stdout)
        printf("wrote %s (%s) from %s (%s): %zu axes, %zu fields, %zu dropped by the reader, %zu by the writer; "
               "native check %s\n",
               dst.path, dst.container, src.path, src.container, lstar_dataset_axis_count(ds),
               lstar_dataset_field_count(ds), lstar_dataset_dropped_count(ds),
               have_target_dropped ? target_dropped.n : (size_t)0, nc.status);
    rc = CLI_EXIT_OK;
    if (strcmp(nc.status, NATIVE_CHECK_FAIL) == 0) {
        fflush(stdout);
        cli_error(VERB, dst.path, "native check failed: %s", nc.detail);
        if (strict) rc = CLI_EXIT_CHECK;
    }
done:
    json_decref(report);
    json_decref(spec);
    if (have_target_dropped) lstar_strings_destroy(&target_dropped);
    lstar_dataset_free(ds);
    return rc;
}

const cli_verb cli_verb_convert = {
    VERB,
    "convert between h5ad, anndata-zarr and L★ stores, with a fidelity report and a native check",
    usage,
    run,
};
