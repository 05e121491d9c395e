/* lstar inspect — describe an L★ store or any Zarr store (text or JSON). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char usage[] =
    "usage: lstar inspect PATH [--json]\n"
    "\n"
    "Describe what PATH holds.  PATH is a Zarr store: a directory or a .zip,\n"
    "Zarr v2 or v3.\n"
    "\n"
    "An L★ store is shown as its model: a header (path, store backend, format,\n"
    "kind, spec_version, profiles, dropped), the axes (name, length, origin,\n"
    "role, induced_by, first labels), the fields (name, role, state, encoding,\n"
    "span, logical shape, notes such as partial coverage, nullable, directed,\n"
    "weighted, ordered, subtype), the passthrough namespaces (leaves), and\n"
    "every array on disk (shape, dtype, chunks and shards, codecs, stored bytes).\n"
    "\n"
    "Any other Zarr store (e.g. anndata-zarr) is shown as a tree of groups and\n"
    "arrays with shape, dtype, chunks (and shard shape), codecs, stored bytes and\n"
    "the anndata encoding-type attribute.  An array that cannot be opened (e.g.\n"
    "an unsupported codec) is listed with the error.\n"
    "\n"
    "options:\n"
    "  --json   emit JSON instead: for an L★ store the upstream fidelity-report\n"
    "           shape (source, target, kind, profiles, axes, fields, dropped) plus\n"
    "           spec_version, store, zarr_format, consolidated, passthrough and\n"
    "           arrays; for another Zarr store a JSON tree (see docs/cli.md)\n"
    "\n"
    "exit status: 0 success, 2 PATH cannot be read.\n";

#define VERB "inspect"
#define MAX_DEPTH 64

/* ---- small utilities -------------------------------------------------------------- */

typedef struct name_list {
    char **items;
    size_t n, cap;
    int failed;
} name_list;

static int name_list_cb(void *ud, const char *key) {
    name_list *l = ud;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **ni = realloc(l->items, ncap * sizeof *ni);
        if (!ni) {
            l->failed = 1;
            return 1;
        }
        l->items = ni;
        l->cap = ncap;
    }
    l->items[l->n] = strdup(key);
    if (!l->items[l->n]) {
        l->failed = 1;
        return 1;
    }
    l->n++;
    return 0;
}

static void name_list_free(name_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static char *join_path(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    if (la) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    } else {
        memcpy(p, b, lb + 1);
    }
    return p;
}

static json_t *json_dims(const uint64_t *d, int rank) {
    json_t *a = json_array();
    for (int i = 0; i < rank; i++) json_array_append_new(a, json_integer((json_int_t)d[i]));
    return a;
}

static json_t *json_str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static int emit_json(json_t *root) {
    if (!root) return cli_error(VERB, NULL, "out of memory");
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0) return cli_error(VERB, NULL, "could not write JSON");
    fputc('\n', stdout);
    return CLI_EXIT_OK;
}

/* ---- one array's details ------------------------------------------------------------ */

typedef struct array_info {
    int ok;          /* opened */
    char error[1100];/* why not, when !ok */
    int have_meta;   /* shape/dtype/chunks known (opened, or from the raw metadata) */
    int rank;
    uint64_t shape[LSTAR_MAX_RANK];
    uint64_t chunks[LSTAR_MAX_RANK];
    uint64_t shard[LSTAR_MAX_RANK];
    int sharded;
    char dtype[64];
    char *codecs;    /* malloc'd by the library (lstar_free) or NULL */
    int have_stored;
    uint64_t stored;
    char encoding_type[64], encoding_version[32];
} array_info;

static void json_read_dims(json_t *a, uint64_t *out, int *rank) {
    if (!json_is_array(a)) return;
    size_t n = json_array_size(a);
    if (n > LSTAR_MAX_RANK) return;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0) return;
        out[i] = (uint64_t)json_integer_value(v);
    }
    *rank = (int)n;
}

/* Best effort: shape/dtype/chunks from the array's own metadata document when
 * the array could not be opened (e.g. an unsupported codec). */
static void raw_array_meta(lstar_store *store, int zarr_format, const char *path, array_info *ai) {
    char *key = join_path(path, zarr_format == 3 ? "zarr.json" : ".zarray");
    if (!key) return;
    uint8_t *data = NULL;
    size_t size = 0;
    lstar_error err = {0};
    if (lstar_store_get(store, key, LSTAR_MAX_METADATA_BYTES, &data, &size, &err) != LSTAR_OK) {
        free(key);
        return;
    }
    free(key);
    json_t *m = json_loadb((const char *)data, size, 0, NULL);
    lstar_free(data);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    int rank = -1, crank = -1;
    json_read_dims(json_object_get(m, "shape"), ai->shape, &rank);
    if (zarr_format == 3) {
        json_t *g = json_object_get(json_object_get(m, "chunk_grid"), "configuration");
        json_read_dims(json_object_get(g, "chunk_shape"), ai->chunks, &crank);
        json_t *dt = json_object_get(m, "data_type");
        if (json_is_object(dt)) dt = json_object_get(dt, "name");
        if (json_is_string(dt)) snprintf(ai->dtype, sizeof ai->dtype, "%s", json_string_value(dt));
    } else {
        json_read_dims(json_object_get(m, "chunks"), ai->chunks, &crank);
        json_t *dt = json_object_get(m, "dtype");
        if (json_is_string(dt)) snprintf(ai->dtype, sizeof ai->dtype, "%s", json_string_value(dt));
        else if (json_is_array(dt)) snprintf(ai->dtype, sizeof ai->dtype, "structured");
    }
    if (rank >= 0 && crank == rank) {
        ai->rank = rank;
        ai->have_meta = 1;
    } else if (rank >= 0) {
        ai->rank = rank;
        memset(ai->chunks, 0, sizeof ai->chunks);
        ai->have_meta = 1;
    }
    json_decref(m);
}

static void read_encoding_attrs(lstar_zarr *z, const char *path, char *type, size_t tsize, char *version,
                                size_t vsize) {
    type[0] = version[0] = '\0';
    char *text = NULL;
    lstar_error err = {0};
    if (lstar_zarr_get_attrs(z, path, &text, &err) != LSTAR_OK) return;
    json_t *a = json_loads(text, 0, NULL);
    lstar_free(text);
    json_t *t = json_object_get(a, "encoding-type"), *v = json_object_get(a, "encoding-version");
    if (json_is_string(t)) snprintf(type, tsize, "%s", json_string_value(t));
    if (json_is_string(v)) snprintf(version, vsize, "%s", json_string_value(v));
    json_decref(a);
}

static void array_info_collect(lstar_zarr *z, const char *path, array_info *ai) {
    memset(ai, 0, sizeof *ai);
    lstar_error err = {0};
    lstar_zarr_array *a = NULL;
    read_encoding_attrs(z, path, ai->encoding_type, sizeof ai->encoding_type, ai->encoding_version,
                        sizeof ai->encoding_version);
    if (lstar_zarr_array_open(z, path, &a, &err) != LSTAR_OK) {
        snprintf(ai->error, sizeof ai->error, "%s",
                 err.message[0] ? err.message : lstar_status_message(err.status));
        raw_array_meta(lstar_zarr_get_store(z), lstar_zarr_format(z), path, ai);
        return;
    }
    ai->ok = 1;
    ai->have_meta = 1;
    ai->rank = lstar_zarr_array_rank(a);
    memcpy(ai->shape, lstar_zarr_array_shape(a), (size_t)ai->rank * sizeof(uint64_t));
    memcpy(ai->chunks, lstar_zarr_array_chunks(a), (size_t)ai->rank * sizeof(uint64_t));
    const uint64_t *sh = lstar_zarr_array_shard_shape(a);
    if (sh) {
        ai->sharded = 1;
        memcpy(ai->shard, sh, (size_t)ai->rank * sizeof(uint64_t));
    }
    snprintf(ai->dtype, sizeof ai->dtype, "%s", lstar_dtype_name(lstar_zarr_array_dtype(a)));
    ai->codecs = lstar_zarr_array_codecs_desc(a);
    lstar_error serr = {0};
    if (lstar_zarr_array_stored_bytes(a, &ai->stored, &serr) == LSTAR_OK) ai->have_stored = 1;
    lstar_zarr_array_close(a);
}

static void array_info_destroy(array_info *ai) {
    lstar_free(ai->codecs);
    ai->codecs = NULL;
}

/* Text cells for an array: shape, dtype, chunks, codecs, stored. */
typedef struct array_cells {
    char shape[400], dtype[64], chunks[820], codecs[1200], stored[32];
} array_cells;

static void array_cells_fill(const array_info *ai, array_cells *c) {
    if (ai->have_meta) {
        cli_format_dims(ai->shape, ai->rank, c->shape, sizeof c->shape);
        snprintf(c->dtype, sizeof c->dtype, "%s", ai->dtype[0] ? ai->dtype : "?");
        char ch[400], sh[400];
        cli_format_dims(ai->chunks, ai->rank, ch, sizeof ch);
        if (ai->sharded)
            snprintf(c->chunks, sizeof c->chunks, "%s in shards %s", ch,
                     cli_format_dims(ai->shard, ai->rank, sh, sizeof sh));
        else
            snprintf(c->chunks, sizeof c->chunks, "%s", ch);
    } else {
        snprintf(c->shape, sizeof c->shape, "?");
        snprintf(c->dtype, sizeof c->dtype, "?");
        snprintf(c->chunks, sizeof c->chunks, "?");
    }
    if (ai->ok)
        snprintf(c->codecs, sizeof c->codecs, "%s", ai->codecs ? ai->codecs : "?");
    else
        snprintf(c->codecs, sizeof c->codecs, "error: %s", ai->error);
    if (ai->have_stored)
        cli_human_bytes(ai->stored, c->stored, sizeof c->stored);
    else
        snprintf(c->stored, sizeof c->stored, "?");
}

/* JSON members for an array (added to obj). */
static void array_info_json(const array_info *ai, json_t *obj) {
    if (ai->have_meta) {
        json_object_set_new(obj, "shape", json_dims(ai->shape, ai->rank));
        json_object_set_new(obj, "dtype", ai->dtype[0] ? json_string(ai->dtype) : json_null());
        json_object_set_new(obj, "chunks", json_dims(ai->chunks, ai->rank));
        json_object_set_new(obj, "shards", ai->sharded ? json_dims(ai->shard, ai->rank) : json_null());
    }
    if (ai->ok) json_object_set_new(obj, "codecs", json_str_or_null(ai->codecs));
    json_object_set_new(obj, "stored_bytes", ai->have_stored ? json_integer((json_int_t)ai->stored) : json_null());
    if (!ai->ok) json_object_set_new(obj, "error", json_string(ai->error));
}

/* ---- arrays under a group (recursively), in sorted order ---------------------------- */

typedef struct arrays_ctx {
    lstar_zarr *z;
    cli_table *table; /* text rows: path, shape, dtype, chunks, codecs, stored */
    json_t *json;     /* array of objects */
    uint64_t total_stored;
    size_t count;
    int failed;
    lstar_error err;
} arrays_ctx;

static void add_array(arrays_ctx *c, const char *path) {
    array_info ai;
    array_info_collect(c->z, path, &ai);
    c->count++;
    if (ai.have_stored) c->total_stored += ai.stored;
    if (c->table) {
        array_cells cells;
        array_cells_fill(&ai, &cells);
        const char *row[6] = {path, cells.shape, cells.dtype, cells.chunks, cells.codecs, cells.stored};
        cli_table_add(c->table, row);
    }
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "path", json_string(path));
        array_info_json(&ai, o);
        json_array_append_new(c->json, o);
    }
    array_info_destroy(&ai);
}

static void add_group_arrays(arrays_ctx *c, const char *group, int depth) {
    if (c->failed || depth > MAX_DEPTH) return;
    name_list names = {0};
    if (lstar_zarr_list_children(c->z, group, name_list_cb, &names, &c->err) != LSTAR_OK || names.failed) {
        if (names.failed) snprintf(c->err.message, sizeof c->err.message, "out of memory");
        c->failed = 1;
        name_list_free(&names);
        return;
    }
    for (size_t i = 0; i < names.n && !c->failed; i++) {
        char *p = join_path(group, names.items[i]);
        if (!p) {
            c->failed = 1;
            break;
        }
        lstar_error err = {0};
        lstar_zarr_node t = lstar_zarr_node_type(c->z, p, &err);
        if (t == LSTAR_ZARR_ARRAY)
            add_array(c, p);
        else if (t == LSTAR_ZARR_GROUP)
            add_group_arrays(c, p, depth + 1);
        free(p);
    }
    name_list_free(&names);
}

/* ---- L★ stores --------------------------------------------------------------------- */

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

static char *join_list(char *buf, size_t size, size_t n, const char *(*get)(const void *, size_t),
                       const void *obj, const char *sep, const char *empty) {
    size_t len = 0;
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, size, "%s", empty);
        return buf;
    }
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? sep : "", get(obj, i));
    return buf;
}

static const char *get_profile(const void *ds, size_t i) { return lstar_dataset_profile(ds, i); }
static const char *get_dropped(const void *ds, size_t i) { return lstar_dataset_dropped(ds, i); }
static const char *get_span(const void *f, size_t i) { return lstar_field_span(f, i); }

/* First labels of an axis: "c0, c1, c2, c3, c4, …". */
static void axis_labels_preview(const lstar_axis *ax, char *buf, size_t size) {
    const lstar_strings *l = lstar_axis_labels(ax);
    size_t len = 0;
    buf[0] = '\0';
    if (!l) return;
    size_t show = l->n < 5 ? l->n : 5;
    for (size_t i = 0; i < show && len < size; i++) {
        char item[40];
        size_t ilen = 0;
        const char *s = lstar_strings_get(l, i, &ilen);
        if (ilen > 24) {
            /* cut at a character boundary */
            size_t cut = 24;
            while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
            snprintf(item, sizeof item, "%.*s…", (int)cut, s);
        } else {
            snprintf(item, sizeof item, "%.*s", (int)ilen, s);
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", item);
    }
    if (l->n > show && len < size) snprintf(buf + len, size - len, ", …");
}

static int lstar_text(const char *path, lstar_store *store, lstar_zarr *z, const lstar_dataset *ds) {
    char buf[4096], fmt[128];
    int rc = CLI_EXIT_ERROR;
    cli_table *hdr = cli_table_new(2), *axes = NULL, *fields = NULL, *pt = NULL, *arrs = NULL;
    if (!hdr) return cli_error(VERB, NULL, "out of memory");

    snprintf(fmt, sizeof fmt, "L★ store (Zarr v%d%s)", lstar_zarr_format(z),
             lstar_zarr_is_consolidated(z) ? ", consolidated" : "");
    const char *kind = lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample";
    {
        const char *r0[2] = {"path", path};
        const char *r1[2] = {"store", lstar_store_backend(store)};
        const char *r2[2] = {"format", fmt};
        const char *r3[2] = {"kind", kind};
        const char *r4[2] = {"spec_version", lstar_dataset_spec_version(ds)};
        cli_table_add(hdr, r0);
        cli_table_add(hdr, r1);
        cli_table_add(hdr, r2);
        cli_table_add(hdr, r3);
        cli_table_add(hdr, r4);
        join_list(buf, sizeof buf, lstar_dataset_profile_count(ds), get_profile, ds, ", ", "(none)");
        const char *r5[2] = {"profiles", buf};
        cli_table_add(hdr, r5);
        join_list(buf, sizeof buf, lstar_dataset_dropped_count(ds), get_dropped, ds, ", ", "(none)");
        const char *r6[2] = {"dropped", buf};
        cli_table_add(hdr, r6);
    }
    if (cli_table_print(hdr, stdout, "")) goto oom;

    /* axes */
    size_t na = lstar_dataset_axis_count(ds);
    printf("\naxes (%zu)\n", na);
    axes = cli_table_new(6);
    if (!axes) goto oom;
    cli_table_right(axes, 1);
    {
        const char *h[6] = {"name", "length", "origin", "role", "induced_by", "labels"};
        cli_table_add(axes, h);
    }
    for (size_t i = 0; i < na; i++) {
        const lstar_axis *ax = lstar_dataset_axis_at(ds, i);
        char len[32], labels[512];
        snprintf(len, sizeof len, "%llu", (unsigned long long)lstar_axis_length(ax));
        axis_labels_preview(ax, labels, sizeof labels);
        const char *row[6] = {lstar_axis_name(ax), len, or_dash(lstar_axis_origin(ax)), or_dash(lstar_axis_role(ax)),
                              or_dash(lstar_axis_induced_by(ax)), labels};
        cli_table_add(axes, row);
    }
    if (cli_table_print(axes, stdout, "  ")) goto oom;

    /* fields */
    size_t nf = lstar_dataset_field_count(ds);
    printf("\nfields (%zu)\n", nf);
    fields = cli_table_new(7);
    if (!fields) goto oom;
    {
        const char *h[7] = {"name", "role", "state", "encoding", "span", "shape", "notes"};
        cli_table_add(fields, h);
    }
    for (size_t i = 0; i < nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        char span[1024], shape[400], notes[512];
        uint64_t dims[LSTAR_MAX_RANK];
        size_t ns = lstar_field_span_count(f);
        span[0] = '[';
        join_list(span + 1, sizeof span - 2, ns, get_span, f, ", ", "");
        strcat(span, "]");
        int rank = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
        if (rank < 0) snprintf(shape, sizeof shape, "?");
        else cli_format_dims(dims, rank > LSTAR_MAX_RANK ? LSTAR_MAX_RANK : rank, shape, sizeof shape);
        report_field_notes(f, notes, sizeof notes);
        const char *enc = lstar_encoding_name(lstar_field_encoding(f));
        const char *row[7] = {lstar_field_name(f), or_dash(lstar_field_role(f)), or_dash(lstar_field_state(f)),
                              enc ? enc : "?", span, shape, notes};
        cli_table_add(fields, row);
    }
    if (cli_table_print(fields, stdout, "  ")) goto oom;

    /* passthrough */
    size_t np = lstar_dataset_passthrough_count(ds);
    printf("\npassthrough (%zu)\n", np);
    if (np) {
        pt = cli_table_new(2);
        if (!pt) goto oom;
        const char *h[2] = {"namespace", "leaves"};
        cli_table_add(pt, h);
        for (size_t i = 0; i < np; i++) {
            const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
            char n[32];
            snprintf(n, sizeof n, "%zu", lstar_passthrough_leaf_count(p));
            const char *row[2] = {lstar_passthrough_namespace(p), n};
            cli_table_add(pt, row);
        }
        cli_table_right(pt, 1);
        if (cli_table_print(pt, stdout, "  ")) goto oom;
    }

    /* arrays on disk */
    arrs = cli_table_new(6);
    if (!arrs) goto oom;
    cli_table_right(arrs, 5);
    {
        const char *h[6] = {"path", "shape", "dtype", "chunks", "codecs", "stored"};
        cli_table_add(arrs, h);
    }
    arrays_ctx ac = {0};
    ac.z = z;
    ac.table = arrs;
    for (size_t i = 0; i < na && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "axes/%s", lstar_axis_name(lstar_dataset_axis_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    for (size_t i = 0; i < nf && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "fields/%s", lstar_field_name(lstar_dataset_field_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    for (size_t i = 0; i < np && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "passthrough/%s", lstar_passthrough_namespace(lstar_dataset_passthrough_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    if (ac.failed) {
        rc = cli_error_lstar(VERB, path, &ac.err);
        goto done;
    }
    char total[32];
    printf("\narrays (%zu, %s stored)\n", ac.count, cli_human_bytes(ac.total_stored, total, sizeof total));
    if (cli_table_print(arrs, stdout, "  ")) goto oom;
    rc = CLI_EXIT_OK;
    goto done;
oom:
    rc = cli_error(VERB, NULL, "out of memory");
done:
    cli_table_free(hdr);
    cli_table_free(axes);
    cli_table_free(fields);
    cli_table_free(pt);
    cli_table_free(arrs);
    return rc;
}

static int lstar_json(const char *path, lstar_store *store, lstar_zarr *z, const lstar_dataset *ds) {
    json_t *root = json_object();
    json_t *src = json_object();
    json_object_set_new(src, "path", json_string(path));
    json_object_set_new(src, "format", json_string("store"));
    json_object_set_new(root, "source", src);
    json_object_set_new(root, "target", json_null());
    json_object_set_new(root, "kind",
                        json_string(lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample"));
    json_t *profiles = json_array();
    for (size_t i = 0; i < lstar_dataset_profile_count(ds); i++)
        json_array_append_new(profiles, json_string(lstar_dataset_profile(ds, i)));
    json_object_set_new(root, "profiles", profiles);

    json_t *axes = json_array();
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *ax = lstar_dataset_axis_at(ds, i);
        json_t *a = json_object();
        json_object_set_new(a, "name", json_string(lstar_axis_name(ax)));
        json_object_set_new(a, "length", json_integer((json_int_t)lstar_axis_length(ax)));
        json_object_set_new(a, "origin", json_str_or_null(lstar_axis_origin(ax)));
        json_object_set_new(a, "role", json_str_or_null(lstar_axis_role(ax)));
        json_object_set_new(a, "induced_by", json_str_or_null(lstar_axis_induced_by(ax)));
        json_array_append_new(axes, a);
    }
    json_object_set_new(root, "axes", axes);

    json_t *fields = json_array();
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(lstar_field_name(f)));
        json_object_set_new(o, "role", json_str_or_null(lstar_field_role(f)));
        json_object_set_new(o, "state", json_str_or_null(lstar_field_state(f)));
        json_t *span = json_array();
        for (size_t k = 0; k < lstar_field_span_count(f); k++)
            json_array_append_new(span, json_string(lstar_field_span(f, k)));
        json_object_set_new(o, "span", span);
        json_object_set_new(o, "encoding", json_str_or_null(lstar_encoding_name(lstar_field_encoding(f))));
        const char *cov = lstar_field_coverage(f);
        json_object_set_new(o, "coverage", json_string(cov ? cov : "full"));
        json_object_set_new(o, "nullable", json_boolean(lstar_field_nullable(f) == 1));
        if (lstar_field_subtype(f)) json_object_set_new(o, "subtype", json_string(lstar_field_subtype(f)));
        if (lstar_field_index_axis(f)) json_object_set_new(o, "index_axis", json_string(lstar_field_index_axis(f)));
        json_t *prov = report_provenance_json(lstar_field_provenance(f));
        if (prov) json_object_set_new(o, "provenance", prov);
        json_array_append_new(fields, o);
    }
    json_object_set_new(root, "fields", fields);

    json_t *dropped = json_array();
    for (size_t i = 0; i < lstar_dataset_dropped_count(ds); i++)
        json_array_append_new(dropped, json_string(lstar_dataset_dropped(ds, i)));
    json_object_set_new(root, "dropped", dropped);

    /* lstar extras (after the upstream keys) */
    json_object_set_new(root, "spec_version", json_string(lstar_dataset_spec_version(ds)));
    json_object_set_new(root, "store", json_string(lstar_store_backend(store)));
    json_object_set_new(root, "zarr_format", json_integer(lstar_zarr_format(z)));
    json_object_set_new(root, "consolidated", json_boolean(lstar_zarr_is_consolidated(z)));
    json_t *pt = json_array();
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++) {
        const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
        json_t *o = json_object(), *leaves = json_array();
        json_object_set_new(o, "namespace", json_string(lstar_passthrough_namespace(p)));
        for (size_t k = 0; k < lstar_passthrough_leaf_count(p); k++) {
            json_t *l = json_object();
            json_object_set_new(l, "id", json_string(lstar_passthrough_leaf_id(p, k)));
            json_object_set_new(l, "kind", json_str_or_null(lstar_passthrough_leaf_kind(p, k)));
            json_array_append_new(leaves, l);
        }
        json_object_set_new(o, "leaves", leaves);
        json_array_append_new(pt, o);
    }
    json_object_set_new(root, "passthrough", pt);

    arrays_ctx ac = {0};
    ac.z = z;
    ac.json = json_array();
    char buf[1024];
    for (size_t i = 0; i < lstar_dataset_axis_count(ds) && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "axes/%s", lstar_axis_name(lstar_dataset_axis_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    for (size_t i = 0; i < lstar_dataset_field_count(ds) && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "fields/%s", lstar_field_name(lstar_dataset_field_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds) && !ac.failed; i++) {
        snprintf(buf, sizeof buf, "passthrough/%s", lstar_passthrough_namespace(lstar_dataset_passthrough_at(ds, i)));
        add_group_arrays(&ac, buf, 0);
    }
    json_object_set_new(root, "arrays", ac.json);
    if (ac.failed) {
        json_decref(root);
        return cli_error_lstar(VERB, path, &ac.err);
    }
    return emit_json(root);
}

static int inspect_lstar(const char *path, lstar_store *store, lstar_zarr *z, int as_json) {
    lstar_error err = {0};
    lstar_dataset *ds = NULL;
    /* A second handle on the store for the model (the dataset owns it); `store`
     * and `z` keep serving the on-disk details. */
    if (lstar_dataset_read(path, &ds, &err) != LSTAR_OK) return cli_error_lstar(VERB, path, &err);
    int rc = as_json ? lstar_json(path, store, z, ds) : lstar_text(path, store, z, ds);
    lstar_dataset_free(ds);
    return rc;
}

/* ---- plain Zarr stores ---------------------------------------------------------------- */

typedef struct tree_ctx {
    lstar_zarr *z;
    cli_table *table; /* node, shape, dtype, chunks, codecs, stored, encoding */
    uint64_t total_stored;
    size_t narrays, ngroups;
    int failed;
    lstar_error err;
} tree_ctx;

static void encoding_cell(const char *type, const char *version, char *buf, size_t size) {
    if (type[0] && version[0]) snprintf(buf, size, "%s %s", type, version);
    else if (type[0]) snprintf(buf, size, "%s", type);
    else snprintf(buf, size, "%s", "");
}

/* Walk group `path` (name shown as `name`), appending rows / JSON children. */
static json_t *walk(tree_ctx *c, const char *path, const char *name, int depth) {
    json_t *node = json_object();
    char indent_name[1024];
    snprintf(indent_name, sizeof indent_name, "%*s%s/", depth * 2, "", depth ? name : "");
    char et[64], ev[32], enc[128];
    read_encoding_attrs(c->z, path, et, sizeof et, ev, sizeof ev);
    encoding_cell(et, ev, enc, sizeof enc);
    c->ngroups++;
    if (c->table) {
        const char *row[7] = {indent_name, "", "", "", "", "", enc};
        cli_table_add(c->table, row);
    }
    json_object_set_new(node, "name", json_string(name));
    json_object_set_new(node, "path", json_string(path));
    json_object_set_new(node, "node_type", json_string("group"));
    if (et[0]) json_object_set_new(node, "encoding_type", json_string(et));
    if (ev[0]) json_object_set_new(node, "encoding_version", json_string(ev));
    json_t *children = json_array();
    json_object_set_new(node, "children", children);
    if (depth > MAX_DEPTH) return node;

    name_list names = {0};
    if (lstar_zarr_list_children(c->z, path, name_list_cb, &names, &c->err) != LSTAR_OK || names.failed) {
        if (names.failed) snprintf(c->err.message, sizeof c->err.message, "out of memory");
        if (!c->err.where[0]) snprintf(c->err.where, sizeof c->err.where, "%s", path);
        c->failed = 1;
        name_list_free(&names);
        return node;
    }
    for (size_t i = 0; i < names.n && !c->failed; i++) {
        char *p = join_path(path, names.items[i]);
        if (!p) {
            c->failed = 1;
            break;
        }
        lstar_error err = {0};
        lstar_zarr_node t = lstar_zarr_node_type(c->z, p, &err);
        if (t == LSTAR_ZARR_GROUP) {
            json_array_append_new(children, walk(c, p, names.items[i], depth + 1));
        } else if (t == LSTAR_ZARR_ARRAY) {
            array_info ai;
            array_info_collect(c->z, p, &ai);
            c->narrays++;
            if (ai.have_stored) c->total_stored += ai.stored;
            if (c->table) {
                array_cells cells;
                array_cells_fill(&ai, &cells);
                char aname[1024];
                snprintf(aname, sizeof aname, "%*s%s", (depth + 1) * 2, "", names.items[i]);
                encoding_cell(ai.encoding_type, ai.encoding_version, enc, sizeof enc);
                const char *row[7] = {aname, cells.shape, cells.dtype, cells.chunks, cells.codecs, cells.stored, enc};
                cli_table_add(c->table, row);
            }
            json_t *a = json_object();
            json_object_set_new(a, "name", json_string(names.items[i]));
            json_object_set_new(a, "path", json_string(p));
            json_object_set_new(a, "node_type", json_string("array"));
            if (ai.encoding_type[0]) json_object_set_new(a, "encoding_type", json_string(ai.encoding_type));
            if (ai.encoding_version[0])
                json_object_set_new(a, "encoding_version", json_string(ai.encoding_version));
            array_info_json(&ai, a);
            json_array_append_new(children, a);
            array_info_destroy(&ai);
        } else if (err.status != LSTAR_OK) {
            /* metadata we cannot parse: list the node with the error */
            char aname[1024], msg[1200];
            snprintf(aname, sizeof aname, "%*s%s", (depth + 1) * 2, "", names.items[i]);
            snprintf(msg, sizeof msg, "error: %s", err.message[0] ? err.message : lstar_status_message(err.status));
            if (c->table) {
                const char *row[7] = {aname, "?", "?", "?", msg, "?", ""};
                cli_table_add(c->table, row);
            }
            json_t *a = json_object();
            json_object_set_new(a, "name", json_string(names.items[i]));
            json_object_set_new(a, "path", json_string(p));
            json_object_set_new(a, "node_type", json_null());
            json_object_set_new(a, "error", json_string(msg + 7));
            json_array_append_new(children, a);
        }
        free(p);
    }
    name_list_free(&names);
    return node;
}

static void anndata_zarr_view(const char *path, json_t *json_root);

static int inspect_zarr(const char *path, lstar_store *store, lstar_zarr *z, int as_json) {
    char fmt[128];
    int rc = CLI_EXIT_ERROR;
    snprintf(fmt, sizeof fmt, "Zarr v%d%s", lstar_zarr_format(z), lstar_zarr_is_consolidated(z) ? ", consolidated" : "");
    tree_ctx c = {0};
    c.z = z;
    json_t *tree = NULL;
    lstar_error err = {0};
    lstar_zarr_node rootkind = lstar_zarr_node_type(z, "", &err);
    if (!as_json) {
        c.table = cli_table_new(7);
        if (!c.table) return cli_error(VERB, NULL, "out of memory");
        cli_table_right(c.table, 5);
        const char *h[7] = {"node", "shape", "dtype", "chunks", "codecs", "stored", "encoding"};
        cli_table_add(c.table, h);
    }
    if (rootkind == LSTAR_ZARR_ARRAY) {
        /* a store whose root is a single array */
        array_info ai;
        array_info_collect(z, "", &ai);
        c.narrays = 1;
        if (ai.have_stored) c.total_stored = ai.stored;
        tree = json_object();
        json_object_set_new(tree, "name", json_string(""));
        json_object_set_new(tree, "path", json_string(""));
        json_object_set_new(tree, "node_type", json_string("array"));
        array_info_json(&ai, tree);
        if (c.table) {
            array_cells cells;
            array_cells_fill(&ai, &cells);
            char enc[128];
            encoding_cell(ai.encoding_type, ai.encoding_version, enc, sizeof enc);
            const char *row[7] = {"/", cells.shape, cells.dtype, cells.chunks, cells.codecs, cells.stored, enc};
            cli_table_add(c.table, row);
        }
        array_info_destroy(&ai);
    } else {
        tree = walk(&c, "", "", 0);
    }
    if (c.failed) {
        json_decref(tree);
        cli_table_free(c.table);
        return cli_error_lstar(VERB, path, &c.err);
    }
    if (as_json) {
        json_t *root = json_object(), *src = json_object();
        json_object_set_new(src, "path", json_string(path));
        json_object_set_new(src, "format", json_string("zarr"));
        json_object_set_new(root, "source", src);
        json_object_set_new(root, "store", json_string(lstar_store_backend(store)));
        json_object_set_new(root, "zarr_format", json_integer(lstar_zarr_format(z)));
        json_object_set_new(root, "consolidated", json_boolean(lstar_zarr_is_consolidated(z)));
        json_object_set_new(root, "groups", json_integer((json_int_t)c.ngroups));
        json_object_set_new(root, "arrays", json_integer((json_int_t)c.narrays));
        json_object_set_new(root, "stored_bytes", json_integer((json_int_t)c.total_stored));
        json_object_set_new(root, "tree", tree);
        anndata_zarr_view(path, root);
        return emit_json(root);
    }
    json_decref(tree);
    char total[32];
    printf("path    %s\nstore   %s\nformat  %s\n", path, lstar_store_backend(store), fmt);
    printf("\n%zu groups, %zu arrays, %s stored\n", c.ngroups, c.narrays,
           cli_human_bytes(c.total_stored, total, sizeof total));
    rc = cli_table_print(c.table, stdout, "  ") ? cli_error(VERB, NULL, "out of memory") : CLI_EXIT_OK;
    cli_table_free(c.table);
    if (rc == CLI_EXIT_OK) anndata_zarr_view(path, NULL);
    return rc;
}

/* ---- HDF5 (h5ad) ------------------------------------------------------------------------ */

/* The L★ view of an AnnData (h5ad, or anndata-zarr after its tree): the model
 * the anndata@0.1 profile reads, as the fidelity report shows it
 * (tools/report.h).  Text: kind, profiles, passthrough, then axes, fields and
 * the dropped manifest.  JSON: the report object (target null). */
static void anndata_header(const lstar_dataset *ds, cli_table *hdr) {
    char profiles[2048], pt[1024];
    size_t len = 0;
    profiles[0] = pt[0] = '\0';
    for (size_t i = 0; i < lstar_dataset_profile_count(ds) && len < sizeof profiles; i++)
        len += (size_t)snprintf(profiles + len, sizeof profiles - len, "%s%s", i ? ", " : "",
                                lstar_dataset_profile(ds, i));
    len = 0;
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds) && len < sizeof pt; i++) {
        const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
        len += (size_t)snprintf(pt + len, sizeof pt - len, "%s%s (%zu leaves)", i ? ", " : "",
                                lstar_passthrough_namespace(p), lstar_passthrough_leaf_count(p));
    }
    const char *r0[2] = {"kind", lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample"};
    const char *r1[2] = {"profiles", profiles[0] ? profiles : "(none)"};
    const char *r2[2] = {"passthrough", pt[0] ? pt : "(none)"};
    cli_table_add(hdr, r0);
    cli_table_add(hdr, r1);
    cli_table_add(hdr, r2);
}

static json_t *anndata_json(const char *path, const char *container, const lstar_dataset *ds) {
    report_side src = {path, "anndata", container};
    json_t *root = report_json(ds, &src, NULL);
    if (!root) return NULL;
    json_object_set_new(root, "container", json_string(container));
    json_t *pt = json_array();
    for (size_t i = 0; pt && i < lstar_dataset_passthrough_count(ds); i++) {
        const lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
        json_t *o = json_object();
        json_object_set_new(o, "namespace", json_string(lstar_passthrough_namespace(p)));
        json_object_set_new(o, "leaves", json_integer((json_int_t)lstar_passthrough_leaf_count(p)));
        json_array_append_new(pt, o);
    }
    json_object_set_new(root, "passthrough", pt ? pt : json_null());
    return root;
}

static int inspect_hdf5(const char *path, int as_json) {
    lstar_error err = {0};
    lstar_dataset *ds = NULL;
    lstar_anndata_read_options ro;
    lstar_anndata_read_options_init(&ro);
    if (lstar_anndata_read(path, &ro, &ds, &err) != LSTAR_OK) {
        /* HDF5 element paths start with '/': name them inside the file */
        if (err.where[0] == '/' && strncmp(err.where, path, strlen(path)) != 0) {
            char where[LSTAR_ERROR_WHERE_MAX + 4096];
            snprintf(where, sizeof where, "%s%s", path, err.where);
            return cli_error(VERB, where, "%s", err.message[0] ? err.message : lstar_status_message(err.status));
        }
        return cli_error_lstar(VERB, path, &err);
    }
    const char *container = lstar_anndata_format_name(ro.format);
    int rc = CLI_EXIT_ERROR;
    if (as_json) {
        rc = emit_json(anndata_json(path, container, ds));
    } else {
        char fmt[160];
        snprintf(fmt, sizeof fmt, "%s (AnnData, read as L★ by the anndata@0.1 profile)", container);
        cli_table *hdr = cli_table_new(2);
        const char *r0[2] = {"path", path};
        const char *r1[2] = {"format", fmt};
        cli_table_add(hdr, r0);
        cli_table_add(hdr, r1);
        anndata_header(ds, hdr);
        int bad = cli_table_print(hdr, stdout, "");
        cli_table_free(hdr);
        if (bad || report_print_model(stdout, ds, "dropped", ""))
            rc = cli_error(VERB, NULL, "out of memory");
        else
            rc = CLI_EXIT_OK;
    }
    lstar_dataset_free(ds);
    return rc;
}

/* After the tree of a Zarr store that holds an AnnData: its L★ view (text
 * section, or the JSON member "lstar_view").  Silent when the store is not an
 * AnnData the reader accepts. */
static void anndata_zarr_view(const char *path, json_t *json_root) {
    lstar_error err = {0};
    lstar_anndata_format f = LSTAR_ANNDATA_UNKNOWN;
    if (lstar_anndata_detect(path, &f, &err) != LSTAR_OK ||
        (f != LSTAR_ANNDATA_ZARR_V2 && f != LSTAR_ANNDATA_ZARR_V3))
        return;
    lstar_dataset *ds = NULL;
    lstar_anndata_read_options ro;
    lstar_anndata_read_options_init(&ro);
    if (lstar_anndata_read(path, &ro, &ds, &err) != LSTAR_OK) return;
    const char *container = lstar_anndata_format_name(ro.format);
    if (json_root) {
        json_t *v = anndata_json(path, container, ds);
        if (v) json_object_set_new(json_root, "lstar_view", v);
    } else {
        printf("\nL★ view (%s, read by the anndata@0.1 profile)\n", container);
        /* indented under the title, deeper than the tree's rows */
        cli_table *hdr = cli_table_new(2);
        anndata_header(ds, hdr);
        cli_table_print(hdr, stdout, "    ");
        cli_table_free(hdr);
        report_print_model(stdout, ds, "dropped", "    ");
    }
    lstar_dataset_free(ds);
}

/* ---- entry -------------------------------------------------------------------------------- */

static int run(int argc, char **argv) {
    int as_json = 0, help = 0;
    const cli_opt opts[] = {{"json", CLI_OPT_FLAG, &as_json, NULL}};
    const char *pos[1];
    size_t npos = 0;
    if (cli_parse(VERB, argc, argv, opts, 1, pos, 1, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 1) return cli_error(VERB, NULL, "expected one PATH (see 'lstar help inspect')");
    const char *path = pos[0];

    char why[256];
    switch (cli_classify_input(path, why, sizeof why)) {
    case CLI_INPUT_MISSING:
        return cli_error(VERB, path, "%s", why);
    case CLI_INPUT_HDF5:
        return inspect_hdf5(path, as_json);
    case CLI_INPUT_OTHER:
        return cli_error(VERB, path, "not a Zarr store (neither a directory nor a zip file) nor an HDF5 file");
    case CLI_INPUT_ZIP:
    case CLI_INPUT_DIR:
        break;
    }

    lstar_error err = {0};
    lstar_store *store = NULL;
    lstar_zarr *z = NULL;
    int rc;
    if (lstar_store_open(path, LSTAR_STORE_READ, &store, &err) != LSTAR_OK) {
        rc = cli_error_lstar(VERB, path, &err);
        goto done;
    }
    if (lstar_zarr_open(store, &z, &err) != LSTAR_OK) {
        if (err.status == LSTAR_ERR_FORMAT && !err.where[0])
            rc = cli_error(VERB, path, "not a Zarr store: %s", err.message[0] ? err.message : "no Zarr metadata");
        else
            rc = cli_error_lstar(VERB, path, &err);
        goto done;
    }
    if (lstar_store_is_lstar(store))
        rc = inspect_lstar(path, store, z, as_json);
    else
        rc = inspect_zarr(path, store, z, as_json);
done:
    lstar_zarr_close(z);
    lstar_store_close(store);
    return rc;
}

const cli_verb cli_verb_inspect = {
    VERB,
    "describe an L★ store (axes, fields, arrays) or any Zarr store (tree)",
    usage,
    run,
};
