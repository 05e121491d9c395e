/* lstar stats — per-gene and per-cell statistics of a matrix field, streamed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lstar/stats.h"

static const char usage[] =
    "usage: lstar stats SRC [--field NAME] [--axis genes|cells] [--lognorm]\n"
    "                   [--depth-normalize[=TARGET]] [--population] [--threads N]\n"
    "                   [--gene-prefix PREFIX | --gene-list FILE] [--block-nnz N]\n"
    "                   [--out FILE.tsv|FILE.json] [--json] [--into STORE [--overwrite]]\n"
    "\n"
    "Statistics of a matrix field (csr, csc or dense; any numeric dtype) over\n"
    "cells x genes, streamed block by block in bounded memory on all cores.\n"
    "SRC is an L★ store, an anndata-zarr store (directory or zip) or an .h5ad.\n"
    "\n"
    "  --field NAME        the field (default X)\n"
    "  --axis genes        per gene: mean, var, nnz (default).  Implicit zeros\n"
    "                      count; var is the sample variance (n-1)\n"
    "  --axis cells        per cell: total_counts, n_genes (values != 0) and,\n"
    "                      with a gene group, pct_counts_group; always on the\n"
    "                      stored values\n"
    "  --lognorm           per gene statistics of log1p(value)\n"
    "  --depth-normalize[=TARGET]\n"
    "                      scale each value by TARGET / its cell's total first\n"
    "                      (TARGET default: median of the non-zero cell totals)\n"
    "  --population        variance with denominator n\n"
    "  --threads N         worker threads (default 0 = all cores); the output\n"
    "                      is byte-identical for any N\n"
    "  --gene-prefix P     gene group = genes whose name starts with P (e.g. MT-)\n"
    "  --gene-list FILE    gene group = the gene names listed in FILE (one per line)\n"
    "  --block-nnz N       stored entries per block (default ~1M, whole chunks)\n"
    "  --out FILE          write there (.json = JSON, else TSV); default stdout\n"
    "  --json              JSON on stdout\n"
    "  --into STORE        also add the results as fields over the genes / cells\n"
    "                      axis of the L★ directory store STORE (in place), named\n"
    "                      <field>_mean, _var, _nnz / _total_counts, _n_genes,\n"
    "                      _pct_counts_group, with the parameters in provenance\n"
    "  --overwrite         with --into: replace fields of the same names\n"
    "\n"
    "TSV: a header line, then one line per gene/cell: name and values (%.17g;\n"
    "nan for undefined).  JSON: {\"field\", \"axis\", \"n_cells\", \"n_genes\",\n"
    "\"lognorm\", \"population\", \"depth_target\", \"names\", <one list per\n"
    "statistic>} with null for undefined values.\n"
    "\n"
    "exit status: 0 success, 2 error (unreadable SRC, missing or non-numeric\n"
    "field, a field not over cells x genes, bad options).\n";

#define VERB "stats"

typedef struct opts {
    const char *field, *axis, *out, *prefix, *list, *into;
    int lognorm, population, json, overwrite, depth;
    double target;
    int threads;
    uint64_t block_nnz;
} opts;

/* ---- output ---------------------------------------------------------------- */

static void put_num(FILE *f, double v, int json) {
    if (isnan(v))
        fputs(json ? "null" : "nan", f);
    else if (isinf(v))
        fputs(json ? "null" : (v > 0 ? "inf" : "-inf"), f);
    else
        fprintf(f, "%.17g", v);
}

static void put_json_string(FILE *f, const char *s, size_t len) {
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_tsv_name(FILE *f, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        fputc(c == '\t' || c == '\n' || c == '\r' ? ' ' : c, f);
    }
}

typedef struct column {
    const char *name;
    const double *d;   /* or */
    const uint64_t *u;
} column;

static int write_table(FILE *f, const opts *op, const lstar_strings *names, const char *name_col, uint64_t n,
                       const column *cols, size_t ncols, const lstar_stats *s, uint64_t n_cells, uint64_t n_genes) {
    if (op->json) {
        fputs("{\"field\": ", f);
        put_json_string(f, op->field, strlen(op->field));
        fprintf(f, ", \"axis\": \"%s\", \"n_cells\": %llu, \"n_genes\": %llu, \"lognorm\": %s, \"population\": %s, "
                   "\"depth_target\": ",
                op->axis, (unsigned long long)n_cells, (unsigned long long)n_genes, op->lognorm ? "true" : "false",
                op->population ? "true" : "false");
        if (op->depth)
            put_num(f, s->depth_target, 1);
        else
            fputs("null", f);
        fputs(",\n \"names\": [", f);
        for (uint64_t i = 0; i < n; i++) {
            size_t len = 0;
            const char *str = names ? lstar_strings_get(names, (size_t)i, &len) : "";
            if (i) fputs(", ", f);
            put_json_string(f, str ? str : "", str ? len : 0);
        }
        fputs("]", f);
        for (size_t c = 0; c < ncols; c++) {
            fprintf(f, ",\n \"%s\": [", cols[c].name);
            for (uint64_t i = 0; i < n; i++) {
                if (i) fputs(", ", f);
                if (cols[c].d)
                    put_num(f, cols[c].d[i], 1);
                else
                    fprintf(f, "%llu", (unsigned long long)cols[c].u[i]);
            }
            fputs("]", f);
        }
        fputs("}\n", f);
    } else {
        fputs(name_col, f);
        for (size_t c = 0; c < ncols; c++) fprintf(f, "\t%s", cols[c].name);
        fputc('\n', f);
        for (uint64_t i = 0; i < n; i++) {
            size_t len = 0;
            const char *str = names ? lstar_strings_get(names, (size_t)i, &len) : NULL;
            if (str)
                put_tsv_name(f, str, len);
            else
                fprintf(f, "%llu", (unsigned long long)i);
            for (size_t c = 0; c < ncols; c++) {
                fputc('\t', f);
                if (cols[c].d)
                    put_num(f, cols[c].d[i], 0);
                else
                    fprintf(f, "%llu", (unsigned long long)cols[c].u[i]);
            }
            fputc('\n', f);
        }
    }
    return ferror(f) ? -1 : 0;
}

/* ---- input ------------------------------------------------------------------ */

static int open_src(const char *path, lstar_dataset **ds) {
    char why[256];
    lstar_error err = {0};
    cli_input_kind kind = cli_classify_input(path, why, sizeof why);
    if (kind == CLI_INPUT_MISSING) return cli_error(VERB, path, "%s", why);
    if (kind == CLI_INPUT_OTHER)
        return cli_error(VERB, path, "neither an L★ / anndata-zarr store nor an .h5ad file");
    if (kind != CLI_INPUT_HDF5) {
        lstar_store *store = NULL;
        if (lstar_store_open(path, LSTAR_STORE_READ, &store, &err) != LSTAR_OK)
            return cli_error_lstar(VERB, path, &err);
        if (lstar_store_is_lstar(store)) {
            if (lstar_dataset_read_store(store, ds, &err) != LSTAR_OK) return cli_error_lstar(VERB, path, &err);
            return 0;
        }
        lstar_store_close(store);
    }
    if (lstar_anndata_read(path, NULL, ds, &err) != LSTAR_OK) return cli_error_lstar(VERB, path, &err);
    return 0;
}

/* Gene group membership over `genes` (NULL when no group option). */
static int make_group(const opts *op, const lstar_strings *genes, uint8_t **out) {
    *out = NULL;
    if (!op->prefix && !op->list) return 0;
    uint8_t *g = calloc(genes->n ? genes->n : 1, 1);
    if (!g) return cli_error(VERB, NULL, "out of memory");
    if (op->prefix) {
        size_t pl = strlen(op->prefix);
        for (size_t i = 0; i < genes->n; i++) {
            size_t len = 0;
            const char *s = lstar_strings_get(genes, i, &len);
            g[i] = s && len >= pl && memcmp(s, op->prefix, pl) == 0;
        }
    } else {
        FILE *f = fopen(op->list, "r");
        if (!f) {
            free(g);
            return cli_error(VERB, op->list, "%s", strerror(errno));
        }
        char line[4096];
        while (fgets(line, sizeof line, f)) {
            size_t l = strcspn(line, "\r\n");
            line[l] = '\0';
            if (!l) continue;
            for (size_t i = 0; i < genes->n; i++) {
                size_t len = 0;
                const char *s = lstar_strings_get(genes, i, &len);
                if (s && len == l && memcmp(s, line, l) == 0) g[i] = 1;
            }
        }
        fclose(f);
    }
    *out = g;
    return 0;
}

/* ---- --into ------------------------------------------------------------------------ */

static int add_vector(lstar_dataset *add, const char *field, const char *suffix, const char *axis, lstar_dtype dt,
                      uint64_t n, const void *data, const char *prov, lstar_error *err) {
    char name[1024];
    snprintf(name, sizeof name, "%s_%s", field, suffix);
    for (char *p = name; *p; p++)
        if (*p == '/') *p = '_';
    lstar_field *f = NULL;
    lstar_array *a = NULL;
    if (lstar_array_new_copy(dt, 1, &n, data, &a, err) != LSTAR_OK) return -1;
    if (lstar_dataset_add_field(add, name, LSTAR_ENC_DENSE, 1, &axis, &f, err) != LSTAR_OK) {
        lstar_array_free(a);
        return -1;
    }
    if (lstar_field_set_array(f, "values", a, err) != LSTAR_OK) return -1;
    if (lstar_field_set_role(f, "measure", err) != LSTAR_OK) return -1;
    if (lstar_field_set_shape(f, 1, &n, err) != LSTAR_OK) return -1;
    if (lstar_field_set_provenance(f, prov, err) != LSTAR_OK) return -1;
    return 0;
}

static int write_into(const opts *op, const lstar_dataset *ds, const char *genes_axis, const char *cells_axis,
                      int per_gene, const lstar_stats *s) {
    lstar_error err = {0};
    lstar_dataset *add = NULL;
    int rc = CLI_EXIT_ERROR;
    char prov[2048], tgt[64] = "null";
    (void)ds;
    if (op->depth) snprintf(tgt, sizeof tgt, "%.17g", s->depth_target);
    char fieldq[600];
    size_t k = 0;
    for (const char *p = op->field; *p && k + 3 < sizeof fieldq; p++) {
        if (*p == '"' || *p == '\\') fieldq[k++] = '\\';
        fieldq[k++] = *p;
    }
    fieldq[k] = '\0';
    snprintf(prov, sizeof prov,
             "{\"lstar stats\": {\"field\": \"%s\", \"axis\": \"%s\", \"lognorm\": %s, \"depth_normalize\": %s, "
             "\"depth_target\": %s, \"population\": %s, \"gene_group\": %s%s%s%s}}",
             fieldq, per_gene ? "genes" : "cells", op->lognorm ? "true" : "false", op->depth ? "true" : "false", tgt,
             op->population ? "true" : "false", op->prefix ? "{\"prefix\": \"" : (op->list ? "{\"list\": \"" : "null"),
             op->prefix ? op->prefix : (op->list ? op->list : ""), op->prefix || op->list ? "\"" : "",
             op->prefix || op->list ? "}" : "");
    if (lstar_dataset_new(&add, &err) != LSTAR_OK) goto fail;
    if (per_gene) {
        if (add_vector(add, op->field, "mean", genes_axis, LSTAR_DTYPE_FLOAT64, s->ncols, s->col_mean, prov, &err) ||
            add_vector(add, op->field, "var", genes_axis, LSTAR_DTYPE_FLOAT64, s->ncols, s->col_var, prov, &err) ||
            add_vector(add, op->field, "nnz", genes_axis, LSTAR_DTYPE_UINT64, s->ncols, s->col_nnz, prov, &err))
            goto fail;
    } else {
        if (add_vector(add, op->field, "total_counts", cells_axis, LSTAR_DTYPE_FLOAT64, s->nrows, s->row_total, prov,
                       &err) ||
            add_vector(add, op->field, "n_genes_by_counts", cells_axis, LSTAR_DTYPE_UINT64, s->nrows, s->row_detected, prov,
                       &err))
            goto fail;
        if (s->row_group_pct && add_vector(add, op->field, "pct_counts_group", cells_axis, LSTAR_DTYPE_FLOAT64,
                                           s->nrows, s->row_group_pct, prov, &err))
            goto fail;
    }
    lstar_write_options wo;
    lstar_write_options_init(&wo);
    wo.overwrite = op->overwrite;
    wo.threads = op->threads;
    if (lstar_dataset_append_fields(op->into, add, &wo, &err) != LSTAR_OK) goto fail;
    rc = CLI_EXIT_OK;
    goto done;
fail:
    rc = cli_error_lstar(VERB, op->into, &err);
done:
    lstar_dataset_free(add);
    return rc;
}

/* ---- main ----------------------------------------------------------------------------- */

static int run(int argc, char **argv) {
    opts op;
    memset(&op, 0, sizeof op);
    op.field = "X";
    op.axis = "genes";
    const char *pos[1];
    size_t npos = 0;
    int help = 0, rc = CLI_EXIT_ERROR;
    lstar_dataset *ds = NULL;
    lstar_stats *s = NULL;
    uint8_t *group = NULL;
    FILE *out = stdout;
    char **args = NULL;
    /* --depth-normalize takes an optional "=TARGET": handle it before cli_parse */
    args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) return cli_error(VERB, NULL, "out of memory");
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--") == 0) {
            for (; i < argc; i++) args[nargs++] = argv[i];
            break;
        }
        if (i > 0 && strncmp(argv[i], "--depth-normalize", 17) == 0 &&
            (argv[i][17] == '\0' || argv[i][17] == '=')) {
            op.depth = 1;
            if (argv[i][17] == '=') {
                char *end = NULL;
                errno = 0;
                op.target = strtod(argv[i] + 18, &end);
                if (errno || !end || *end || end == argv[i] + 18 || !(op.target > 0) || !isfinite(op.target)) {
                    free(args);
                    return cli_error(VERB, NULL, "--depth-normalize=TARGET needs a positive number, not '%s'",
                                     argv[i] + 18);
                }
            }
            continue;
        }
        args[nargs++] = argv[i];
    }
    cli_opt table[] = {
        {"field", CLI_OPT_STRING, &op.field, NULL},       {"axis", CLI_OPT_STRING, &op.axis, NULL},
        {"lognorm", CLI_OPT_FLAG, &op.lognorm, NULL},     {"population", CLI_OPT_FLAG, &op.population, NULL},
        {"threads", CLI_OPT_INT, &op.threads, NULL},      {"out", CLI_OPT_STRING, &op.out, NULL},
        {"json", CLI_OPT_FLAG, &op.json, NULL},           {"gene-prefix", CLI_OPT_STRING, &op.prefix, NULL},
        {"gene-list", CLI_OPT_STRING, &op.list, NULL},    {"block-nnz", CLI_OPT_U64, &op.block_nnz, NULL},
        {"into", CLI_OPT_STRING, &op.into, NULL},         {"overwrite", CLI_OPT_FLAG, &op.overwrite, NULL},
    };
    if (cli_parse(VERB, nargs, args, table, sizeof table / sizeof table[0], pos, 1, &npos, &help)) goto done;
    if (help) {
        fputs(usage, stdout);
        rc = CLI_EXIT_OK;
        goto done;
    }
    if (npos != 1) {
        rc = cli_error(VERB, NULL, "expected one SRC (see 'lstar help stats')");
        goto done;
    }
    int per_gene = strcmp(op.axis, "genes") == 0;
    if (!per_gene && strcmp(op.axis, "cells") != 0) {
        rc = cli_error(VERB, NULL, "--axis must be genes or cells, not '%s'", op.axis);
        goto done;
    }
    if (op.prefix && op.list) {
        rc = cli_error(VERB, NULL, "give --gene-prefix or --gene-list, not both");
        goto done;
    }
    if (op.out) {
        size_t l = strlen(op.out);
        if (l >= 5 && strcmp(op.out + l - 5, ".json") == 0) op.json = 1;
    }
    if (open_src(pos[0], &ds)) goto done;

    /* the field and its orientation */
    const lstar_field *f = lstar_dataset_field(ds, op.field);
    if (!f) {
        rc = cli_error(VERB, pos[0], "no field '%s' (see 'lstar inspect %s')", op.field, pos[0]);
        goto done;
    }
    lstar_encoding enc = lstar_field_encoding(f);
    if (enc == LSTAR_ENC_UTF8 || enc == LSTAR_ENC_CATEGORICAL) {
        rc = cli_error(VERB, pos[0], "field '%s' is %s, not numeric", op.field, lstar_encoding_name(enc));
        goto done;
    }
    const lstar_axis *cells = lstar_dataset_axis(ds, "cells"), *genes = lstar_dataset_axis(ds, "genes");
    size_t nspan = lstar_field_span_count(f);
    int genes_are_cols = 1;
    if (nspan != 2) {
        rc = cli_error(VERB, pos[0], "field '%s' spans %zu axis(es); stats need a matrix over cells x genes",
                       op.field, nspan);
        goto done;
    }
    const char *a0 = lstar_field_span(f, 0), *a1 = lstar_field_span(f, 1);
    if (cells && genes) {
        if (strcmp(a0, "genes") == 0 && strcmp(a1, "cells") == 0)
            genes_are_cols = 0;
        else if (!(strcmp(a0, "cells") == 0 && strcmp(a1, "genes") == 0)) {
            rc = cli_error(VERB, pos[0], "field '%s' is over [%s, %s], not cells x genes", op.field, a0, a1);
            goto done;
        }
    } else {
        cells = lstar_dataset_axis(ds, a0);
        genes = lstar_dataset_axis(ds, a1);
    }
    lstar_error err = {0};
    lstar_stats_matrix m;
    if (lstar_stats_matrix_from_field(f, &m, &err) != LSTAR_OK) {
        rc = cli_error_lstar(VERB, pos[0], &err);
        goto done;
    }
    const char *genes_name = genes_are_cols ? a1 : a0, *cells_name = genes_are_cols ? a0 : a1;
    const lstar_strings *gl = genes ? lstar_axis_labels(genes) : NULL, *cl = cells ? lstar_axis_labels(cells) : NULL;
    uint64_t n_genes = genes_are_cols ? m.ncols : m.nrows, n_cells = genes_are_cols ? m.nrows : m.ncols;
    if ((gl && gl->n != n_genes) || (cl && cl->n != n_cells)) {
        rc = cli_error(VERB, pos[0], "field '%s' has shape [%llu, %llu], which does not match its axes", op.field,
                       (unsigned long long)m.nrows, (unsigned long long)m.ncols);
        goto done;
    }
    if (!per_gene && gl && make_group(&op, gl, &group)) goto done;

    lstar_stats_options so;
    lstar_stats_options_init(&so);
    /* per gene = per column when genes are the columns */
    so.what = (per_gene == genes_are_cols) ? LSTAR_STATS_COLS : LSTAR_STATS_ROWS;
    so.lognorm = op.lognorm;
    so.depth_normalize = op.depth;
    so.depth_target = op.target;
    so.population = op.population;
    so.threads = op.threads;
    so.block_nnz = op.block_nnz;
    so.col_group = group;
    if (!genes_are_cols && (op.depth || !per_gene)) {
        rc = cli_error(VERB, pos[0],
                       "field '%s' is over [genes, cells]: only plain per-gene statistics are supported for it",
                       op.field);
        goto done;
    }
    if (lstar_stats_compute(&m, &so, &s, &err) != LSTAR_OK) {
        if (!err.where[0] || strchr(err.where, '/') == NULL) {
            char w[LSTAR_ERROR_WHERE_MAX];
            snprintf(w, sizeof w, "%s%s%s", op.field, err.where[0] ? "/" : "", err.where);
            snprintf(err.where, sizeof err.where, "%s", w);
        }
        rc = cli_error_lstar(VERB, pos[0], &err);
        goto done;
    }
    if (op.out) {
        out = fopen(op.out, "w");
        if (!out) {
            out = stdout;
            rc = cli_error(VERB, op.out, "%s", strerror(errno));
            goto done;
        }
    }
    column cols[3];
    size_t ncols = 0;
    int wr;
    if (per_gene) {
        cols[ncols++] = (column){"mean", s->col_mean, NULL};
        cols[ncols++] = (column){"var", s->col_var, NULL};
        cols[ncols++] = (column){"nnz", NULL, s->col_nnz};
        wr = write_table(out, &op, gl, "gene", n_genes, cols, ncols, s, n_cells, n_genes);
    } else {
        cols[ncols++] = (column){"total_counts", s->row_total, NULL};
        cols[ncols++] = (column){"n_genes_by_counts", NULL, s->row_detected};
        if (s->row_group_pct) cols[ncols++] = (column){"pct_counts_group", s->row_group_pct, NULL};
        wr = write_table(out, &op, cl, "cell", n_cells, cols, ncols, s, n_cells, n_genes);
    }
    if (wr != 0 || fflush(out) != 0) {
        rc = cli_error(VERB, op.out ? op.out : "stdout", "write failed");
        goto done;
    }
    if (op.into) {
        rc = write_into(&op, ds, genes_name, cells_name, per_gene, s);
        goto done;
    }
    rc = CLI_EXIT_OK;
done:
    if (out != stdout && fclose(out) != 0 && rc == CLI_EXIT_OK) rc = cli_error(VERB, op.out, "write failed");
    lstar_stats_free(s);
    lstar_dataset_free(ds);
    free(group);
    free(args);
    return rc;
}

const cli_verb cli_verb_stats = {
    "stats",
    "per-gene / per-cell statistics of a matrix field (streamed, all cores)",
    usage,
    run,
};
