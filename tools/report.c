/* tools/report.c — the fidelity report (see report.h). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* Append a new reference to an array / object; a NULL value (out of memory)
 * marks the report as failed. */
static int put(json_t *obj, const char *key, json_t *v, int *failed) {
    if (!v || json_object_set_new(obj, key, v) != 0) {
        *failed = 1;
        return -1;
    }
    return 0;
}

static int push(json_t *arr, json_t *v, int *failed) {
    if (!v || json_array_append_new(arr, v) != 0) {
        *failed = 1;
        return -1;
    }
    return 0;
}

json_t *report_provenance_json(const char *text) {
    if (!text) return NULL;
    json_t *p = json_loads(text, 0, NULL);
    if (json_is_object(p) && json_object_size(p) > 0) return p;
    json_decref(p);
    return NULL;
}

static json_t *side_json(const report_side *s, int *failed) {
    json_t *o = json_object();
    if (!o) {
        *failed = 1;
        return NULL;
    }
    put(o, "path", json_string(s->path ? s->path : ""), failed);
    put(o, "format", str_or_null(s->format), failed);
    return o;
}

json_t *report_json_strings(const lstar_strings *s) {
    json_t *a = json_array();
    if (!a || !s) return a;
    for (size_t i = 0; i < s->n; i++) {
        size_t len = 0;
        const char *p = lstar_strings_get(s, i, &len);
        json_t *v = json_stringn(p, len);
        if (!v || json_array_append_new(a, v) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *report_json(const lstar_dataset *ds, const report_side *source, const report_side *target) {
    int failed = 0;
    json_t *root = json_object();
    if (!root) return NULL;
    put(root, "source", side_json(source, &failed), &failed);
    put(root, "target", target ? side_json(target, &failed) : json_null(), &failed);
    put(root, "kind", json_string(lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample"),
        &failed);

    json_t *profiles = json_array();
    put(root, "profiles", profiles, &failed);
    for (size_t i = 0; profiles && i < lstar_dataset_profile_count(ds); i++)
        push(profiles, json_string(lstar_dataset_profile(ds, i)), &failed);

    json_t *axes = json_array();
    put(root, "axes", axes, &failed);
    for (size_t i = 0; axes && i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *ax = lstar_dataset_axis_at(ds, i);
        json_t *a = json_object();
        if (push(axes, a, &failed)) break;
        put(a, "name", json_string(lstar_axis_name(ax)), &failed);
        put(a, "length", json_integer((json_int_t)lstar_axis_length(ax)), &failed);
        put(a, "origin", str_or_null(lstar_axis_origin(ax)), &failed);
        put(a, "role", str_or_null(lstar_axis_role(ax)), &failed);
        put(a, "induced_by", str_or_null(lstar_axis_induced_by(ax)), &failed);
    }

    json_t *fields = json_array();
    put(root, "fields", fields, &failed);
    for (size_t i = 0; fields && i < lstar_dataset_field_count(ds); i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        json_t *o = json_object();
        if (push(fields, o, &failed)) break;
        put(o, "name", json_string(lstar_field_name(f)), &failed);
        put(o, "role", str_or_null(lstar_field_role(f)), &failed);
        put(o, "state", str_or_null(lstar_field_state(f)), &failed);
        json_t *span = json_array();
        put(o, "span", span, &failed);
        for (size_t k = 0; span && k < lstar_field_span_count(f); k++)
            push(span, json_string(lstar_field_span(f, k)), &failed);
        put(o, "encoding", str_or_null(lstar_encoding_name(lstar_field_encoding(f))), &failed);
        const char *cov = lstar_field_coverage(f);
        put(o, "coverage", json_string(cov ? cov : "full"), &failed);
        put(o, "nullable", json_boolean(lstar_field_nullable(f) == 1), &failed);
        if (lstar_field_subtype(f)) put(o, "subtype", json_string(lstar_field_subtype(f)), &failed);
        if (lstar_field_index_axis(f)) put(o, "index_axis", json_string(lstar_field_index_axis(f)), &failed);
        json_t *prov = report_provenance_json(lstar_field_provenance(f));
        if (prov) put(o, "provenance", prov, &failed);
    }

    json_t *dropped = json_array();
    put(root, "dropped", dropped, &failed);
    for (size_t i = 0; dropped && i < lstar_dataset_dropped_count(ds); i++)
        push(dropped, json_string(lstar_dataset_dropped(ds, i)), &failed);

    if (failed) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- text ------------------------------------------------------------------------------ */

char *report_provenance_text(const char *json_text, char *buf, size_t size) {
    if (size == 0) return buf;
    buf[0] = '\0';
    json_t *p = report_provenance_json(json_text);
    if (!p) {
        snprintf(buf, size, "-");
        return buf;
    }
    size_t len = 0;
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v) {
        if (len >= size) break;
        if (json_is_string(v)) {
            len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", len ? ", " : "", key, json_string_value(v));
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", len ? ", " : "", key, t ? t : "?");
            free(t);
        }
    }
    json_decref(p);
    return buf;
}

static const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }

void report_field_notes(const lstar_field *f, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
#define NOTE(...)                                                                                             \
    do {                                                                                                      \
        if (len < size) len += (size_t)snprintf(buf + len, size - len, "%s", len ? ", " : "");                \
        if (len < size) len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__);                          \
    } while (0)
    const char *ia = lstar_field_index_axis(f);
    if (ia) NOTE("partial over %s", ia);
    if (lstar_field_nullable(f) == 1) NOTE("nullable");
    if (lstar_field_directed(f) == 1) NOTE("directed");
    if (lstar_field_directed(f) == 0) NOTE("undirected");
    if (lstar_field_weighted(f) == 1) NOTE("weighted");
    if (lstar_field_weighted(f) == 0) NOTE("unweighted");
    if (lstar_field_encoding(f) == LSTAR_ENC_CATEGORICAL && lstar_field_ordered(f) == 1) NOTE("ordered");
    if (lstar_field_subtype(f)) NOTE("subtype %s", lstar_field_subtype(f));
    if (lstar_field_uncertainty(f)) NOTE("uncertainty %s", lstar_field_uncertainty(f));
#undef NOTE
    if (!buf[0]) snprintf(buf, size, "-");
}

static void field_span(const lstar_field *f, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "[");
    for (size_t k = 0; k < lstar_field_span_count(f) && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "", lstar_field_span(f, k));
    if (len < size) snprintf(buf + len, size - len, "]");
}

int report_print_model(FILE *out, const lstar_dataset *ds, const char *dropped_title, const char *indent) {
    int rc = -1;
    char rows[64];
    if (!indent) indent = "";
    snprintf(rows, sizeof rows, "%s  ", indent);
    cli_table *axes = NULL, *fields = NULL;

    size_t na = lstar_dataset_axis_count(ds);
    fprintf(out, "\n%saxes (%zu)\n", indent, na);
    axes = cli_table_new(6);
    if (!axes) goto done;
    cli_table_right(axes, 1);
    {
        const char *h[6] = {"name", "length", "origin", "role", "induced_by", "provenance"};
        cli_table_add(axes, h);
    }
    for (size_t i = 0; i < na; i++) {
        const lstar_axis *ax = lstar_dataset_axis_at(ds, i);
        char len[32], prov[1024];
        snprintf(len, sizeof len, "%llu", (unsigned long long)lstar_axis_length(ax));
        report_provenance_text(lstar_axis_provenance(ax), prov, sizeof prov);
        const char *row[6] = {lstar_axis_name(ax), len, or_dash(lstar_axis_origin(ax)), or_dash(lstar_axis_role(ax)),
                              or_dash(lstar_axis_induced_by(ax)), prov};
        cli_table_add(axes, row);
    }
    if (cli_table_print(axes, out, rows)) goto done;

    size_t nf = lstar_dataset_field_count(ds);
    fprintf(out, "\n%sfields (%zu)\n", indent, nf);
    fields = cli_table_new(8);
    if (!fields) goto done;
    {
        const char *h[8] = {"name", "role", "state", "encoding", "span", "shape", "notes", "provenance"};
        cli_table_add(fields, h);
    }
    for (size_t i = 0; i < nf; i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        char span[1024], shape[400], notes[512], prov[1024];
        uint64_t dims[LSTAR_MAX_RANK];
        field_span(f, span, sizeof span);
        int rank = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
        if (rank < 0)
            snprintf(shape, sizeof shape, "?");
        else
            cli_format_dims(dims, rank > LSTAR_MAX_RANK ? LSTAR_MAX_RANK : rank, shape, sizeof shape);
        report_field_notes(f, notes, sizeof notes);
        report_provenance_text(lstar_field_provenance(f), prov, sizeof prov);
        const char *enc = lstar_encoding_name(lstar_field_encoding(f));
        const char *row[8] = {lstar_field_name(f), or_dash(lstar_field_role(f)), or_dash(lstar_field_state(f)),
                              enc ? enc : "?", span, shape, notes, prov};
        cli_table_add(fields, row);
    }
    if (cli_table_print(fields, out, rows)) goto done;

    size_t nd = lstar_dataset_dropped_count(ds);
    fprintf(out, "\n%s%s (%zu)\n", indent, dropped_title, nd);
    for (size_t i = 0; i < nd; i++) fprintf(out, "%s%s\n", rows, lstar_dataset_dropped(ds, i));
    rc = 0;
done:
    cli_table_free(axes);
    cli_table_free(fields);
    return rc;
}

void report_print_strings(FILE *out, const char *title, const lstar_strings *items) {
    size_t n = items ? items->n : 0;
    fprintf(out, "\n%s (%zu)\n", title, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *s = lstar_strings_get(items, i, &len);
        fprintf(out, "  %.*s\n", (int)len, s);
    }
}
