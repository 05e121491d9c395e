/* lstar_test_anndata: read an AnnData (h5ad / anndata-zarr / MuData modality)
 * with lstar_anndata_read and dump the resulting L★ dataset as JSON on
 * stdout, for tests/interop/test_anndata_read.py.
 *
 *   lstar_test_anndata PATH [MODALITY]
 *
 * Output: {"format", "profiles", "dropped", "axes": [{name, length, origin,
 * role, induced_by, labels}], "fields": [{name, role, encoding, span, state,
 * subtype, ordered, nullable, directed, weighted, shape, provenance, sum,
 * nnz, missing, categories, codes_sum, values (strings)}], "passthrough":
 * [{ns, tree, leaves: [{id, kind, shape, sum | strings}]}], "validate":
 * {errors, warnings, findings}}.  Exit 0 on success, 2 on a read error
 * (message on stderr as "STATUS where: message"). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/alloc.h"
#include "lstar/anndata.h"
#include "lstar/array.h"
#include "lstar/model.h"

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *tri(int v) { return v == LSTAR_UNSET ? json_null() : json_boolean(v); }

static json_t *strings_json(const lstar_strings *s) {
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++) {
        size_t len;
        const char *p = lstar_strings_get(s, i, &len);
        json_t *e = json_stringn(p, len);
        json_array_append_new(a, e ? e : json_string("<invalid utf8>"));
    }
    return a;
}

/* Whole numeric array summed as double (NaN skipped, and entries where `mask`
 * is non-zero when a mask is given), with the count of non-zero values. */
static int array_sum_masked(const lstar_array *a, const lstar_array *mask, double *sum, uint64_t *nonzero) {
    void *buf = NULL, *mb = NULL;
    size_t nb = 0;
    lstar_error e;
    memset(&e, 0, sizeof e);
    *sum = 0;
    *nonzero = 0;
    lstar_dtype dt = lstar_array_dtype(a);
    if (!lstar_dtype_is_numeric(dt) || dt == LSTAR_DTYPE_FLOAT16) return -1;
    if (lstar_array_read_all(a, (size_t)1 << 30, &buf, &nb, &e) != LSTAR_OK) {
        fprintf(stderr, "read: %s: %s\n", e.where, e.message);
        return -2;
    }
    uint64_t n = lstar_array_size(a);
    if (mask && lstar_array_read_all(mask, 0, &mb, &nb, &e) != LSTAR_OK) {
        lstar_free(buf);
        return -2;
    }
    for (uint64_t i = 0; i < n; i++) {
        double v = lstar_dtype_get_f64(dt, buf, i);
        if (isnan(v)) continue;
        if (mb && lstar_dtype_get_f64(lstar_array_dtype(mask), mb, i) != 0) continue;
        *sum += v;
        if (v != 0) (*nonzero)++;
    }
    lstar_free(buf);
    lstar_free(mb);
    return 0;
}

static int array_sum(const lstar_array *a, double *sum, uint64_t *nonzero) {
    return array_sum_masked(a, NULL, sum, nonzero);
}

static json_t *shape_json(const lstar_array *a) {
    json_t *s = json_array();
    for (int i = 0; i < lstar_array_rank(a); i++) json_array_append_new(s, json_integer((json_int_t)lstar_array_shape(a)[i]));
    return s;
}

static json_t *array_strings(const lstar_array *a) {
    lstar_strings s;
    lstar_error e;
    memset(&e, 0, sizeof e);
    uint64_t n = lstar_array_size(a);
    if (lstar_array_read_strings(a, 0, n, &s, &e) != LSTAR_OK) return json_null();
    json_t *j = strings_json(&s);
    lstar_strings_destroy(&s);
    return j;
}

static json_t *dump_field(const lstar_field *f, int *bad) {
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(lstar_field_name(f)));
    json_object_set_new(o, "role", jstr_or_null(lstar_field_role(f)));
    json_object_set_new(o, "encoding", json_string(lstar_encoding_name(lstar_field_encoding(f))));
    json_t *span = json_array();
    for (size_t i = 0; i < lstar_field_span_count(f); i++) json_array_append_new(span, json_string(lstar_field_span(f, i)));
    json_object_set_new(o, "span", span);
    json_object_set_new(o, "state", jstr_or_null(lstar_field_state(f)));
    json_object_set_new(o, "subtype", jstr_or_null(lstar_field_subtype(f)));
    json_object_set_new(o, "ordered", tri(lstar_field_ordered(f)));
    json_object_set_new(o, "nullable", json_boolean(lstar_field_nullable(f)));
    json_object_set_new(o, "directed", tri(lstar_field_directed(f)));
    json_object_set_new(o, "weighted", tri(lstar_field_weighted(f)));
    uint64_t dims[8];
    int rank = lstar_field_shape(f, dims, 8);
    json_t *shape = json_array();
    for (int i = 0; i < rank && i < 8; i++) json_array_append_new(shape, json_integer((json_int_t)dims[i]));
    json_object_set_new(o, "shape", shape);
    json_object_set_new(o, "provenance", json_loads(lstar_field_provenance(f), 0, NULL));
    double sum = 0;
    uint64_t nz = 0;
    switch (lstar_field_encoding(f)) {
    case LSTAR_ENC_DENSE: {
        lstar_array *v = lstar_field_array(f, "values");
        json_object_set_new(o, "dtype", json_string(lstar_dtype_name(lstar_array_dtype(v))));
        if (lstar_array_dtype(v) == LSTAR_DTYPE_STRING) break;
        int rc = array_sum_masked(v, lstar_field_array(f, "mask"), &sum, &nz);
        if (rc == -2) *bad = 1;
        if (rc == 0) {
            json_object_set_new(o, "sum", json_real(sum));
            json_object_set_new(o, "nnz", json_integer((json_int_t)nz));
        }
        break;
    }
    case LSTAR_ENC_CSR:
    case LSTAR_ENC_CSC: {
        lstar_array *d = lstar_field_array(f, "data");
        json_object_set_new(o, "dtype", json_string(lstar_dtype_name(lstar_array_dtype(d))));
        if (array_sum(d, &sum, &nz) == -2) *bad = 1;
        json_object_set_new(o, "sum", json_real(sum));
        json_object_set_new(o, "nnz", json_integer((json_int_t)lstar_array_size(d)));
        break;
    }
    case LSTAR_ENC_UTF8:
        json_object_set_new(o, "values", array_strings(lstar_field_array(f, "values")));
        break;
    case LSTAR_ENC_CATEGORICAL: {
        json_object_set_new(o, "categories", array_strings(lstar_field_array(f, "categories")));
        lstar_array *c = lstar_field_array(f, "codes");
        if (array_sum(c, &sum, &nz) == -2) *bad = 1;
        json_object_set_new(o, "codes_sum", json_real(sum));
        double neg = 0;
        void *buf = NULL;
        size_t nb = 0;
        lstar_error e;
        memset(&e, 0, sizeof e);
        if (lstar_array_read_all(c, 0, &buf, &nb, &e) == LSTAR_OK) {
            for (uint64_t i = 0; i < lstar_array_size(c); i++)
                if (lstar_dtype_get_i64(lstar_array_dtype(c), buf, i) < 0) neg++;
            lstar_free(buf);
        }
        json_object_set_new(o, "codes_missing", json_integer((json_int_t)neg));
        break;
    }
    default: break;
    }
    lstar_array *mask = lstar_field_array(f, "mask");
    if (mask) {
        if (array_sum(mask, &sum, &nz) == -2) *bad = 1;
        json_object_set_new(o, "missing", json_integer((json_int_t)sum));
    }
    return o;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH [MODALITY]\n", argv[0]);
        return 1;
    }
    lstar_anndata_read_options o;
    lstar_anndata_read_options_init(&o);
    if (argc > 2) o.modality = argv[2];
    lstar_dataset *ds = NULL;
    lstar_error e;
    memset(&e, 0, sizeof e);
    if (lstar_anndata_read(argv[1], &o, &ds, &e) != LSTAR_OK) {
        fprintf(stderr, "%s %s: %s\n", lstar_status_name(e.status), e.where, e.message);
        return 2;
    }
    int bad = 0;
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(lstar_anndata_format_name(o.format)));
    json_t *pr = json_array(), *dr = json_array(), *axes = json_array(), *fields = json_array(), *pts = json_array();
    for (size_t i = 0; i < lstar_dataset_profile_count(ds); i++) json_array_append_new(pr, json_string(lstar_dataset_profile(ds, i)));
    for (size_t i = 0; i < lstar_dataset_dropped_count(ds); i++) json_array_append_new(dr, json_string(lstar_dataset_dropped(ds, i)));
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        lstar_axis *a = lstar_dataset_axis_at(ds, i);
        json_t *ao = json_object();
        json_object_set_new(ao, "name", json_string(lstar_axis_name(a)));
        json_object_set_new(ao, "length", json_integer((json_int_t)lstar_axis_length(a)));
        json_object_set_new(ao, "origin", jstr_or_null(lstar_axis_origin(a)));
        json_object_set_new(ao, "role", jstr_or_null(lstar_axis_role(a)));
        json_object_set_new(ao, "induced_by", jstr_or_null(lstar_axis_induced_by(a)));
        json_object_set_new(ao, "labels", strings_json(lstar_axis_labels(a)));
        json_array_append_new(axes, ao);
    }
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) json_array_append_new(fields, dump_field(lstar_dataset_field_at(ds, i), &bad));
    for (size_t i = 0; i < lstar_dataset_passthrough_count(ds); i++) {
        lstar_passthrough *p = lstar_dataset_passthrough_at(ds, i);
        json_t *po = json_object(), *leaves = json_array();
        json_object_set_new(po, "ns", json_string(lstar_passthrough_namespace(p)));
        json_object_set_new(po, "tree", json_loads(lstar_passthrough_tree(p), 0, NULL));
        for (size_t j = 0; j < lstar_passthrough_leaf_count(p); j++) {
            lstar_array *a = lstar_passthrough_leaf(p, j);
            json_t *lo = json_object();
            json_object_set_new(lo, "id", json_string(lstar_passthrough_leaf_id(p, j)));
            json_object_set_new(lo, "kind", json_string(lstar_passthrough_leaf_kind(p, j)));
            json_object_set_new(lo, "shape", shape_json(a));
            if (lstar_array_dtype(a) == LSTAR_DTYPE_STRING) {
                json_object_set_new(lo, "strings", array_strings(a));
            } else {
                double sum = 0;
                uint64_t nz = 0;
                if (array_sum(a, &sum, &nz) == 0) json_object_set_new(lo, "sum", json_real(sum));
            }
            json_array_append_new(leaves, lo);
        }
        json_object_set_new(po, "leaves", leaves);
        json_array_append_new(pts, po);
    }
    json_object_set_new(root, "profiles", pr);
    json_object_set_new(root, "dropped", dr);
    json_object_set_new(root, "axes", axes);
    json_object_set_new(root, "fields", fields);
    json_object_set_new(root, "passthrough", pts);
    lstar_findings *fd = NULL;
    json_t *v = json_object(), *fl = json_array();
    if (lstar_dataset_validate(ds, &fd, &e) == LSTAR_OK) {
        json_object_set_new(v, "errors", json_integer((json_int_t)lstar_findings_errors(fd)));
        json_object_set_new(v, "warnings", json_integer((json_int_t)lstar_findings_warnings(fd)));
        for (size_t i = 0; i < lstar_findings_count(fd); i++) {
            const lstar_finding *x = lstar_findings_at(fd, i);
            json_array_append_new(fl, json_pack("{s:s,s:s,s:s}", "code", x->code, "where", x->where, "message", x->message));
        }
    } else {
        bad = 1;
    }
    json_object_set_new(v, "findings", fl);
    json_object_set_new(root, "validate", v);
    lstar_findings_free(fd);
    char *text = json_dumps(root, JSON_INDENT(1));
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    json_decref(root);
    lstar_dataset_free(ds);
    return bad ? 3 : 0;
}
