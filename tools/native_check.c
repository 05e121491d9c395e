/* tools/native_check.c — the native check of `lstar convert` (see native_check.h). */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include "native_check.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cli.h"

#ifndef LSTAR_CLI_BUILD_CHECK_SCRIPT
#error "LSTAR_CLI_BUILD_CHECK_SCRIPT must be defined by tools/CMakeLists.txt"
#endif
#ifndef LSTAR_CLI_INSTALL_CHECK_SCRIPT
#error "LSTAR_CLI_INSTALL_CHECK_SCRIPT must be defined by tools/CMakeLists.txt"
#endif

#define DEFAULT_PYTHON "/usr/bin/python3"
#define BLOCK_VALUES ((uint64_t)1 << 20) /* values per checksum block */
#define MAX_CHECKER_OUTPUT (1u << 20)    /* bytes of checker output kept (the tail) */

const char *native_check_format(native_check_container c) { return c == NATIVE_CHECK_LSTAR ? "store" : "anndata"; }

/* ---- locations --------------------------------------------------------------------- */

/* The checker script: $LSTAR_CHECK_SCRIPT, else the build tree's copy when this
 * lstar runs from the build tree, else <exe dir>/../share/lstar/lstar_check.py,
 * else the configured install location.  NULL if none exists. */
static const char *check_script(void) {
    static char rel[PATH_MAX + 64];
    const char *env = getenv("LSTAR_CHECK_SCRIPT");
    if (env && env[0]) return env;
    if (cli_running_from_build_tree() && cli_is_file(LSTAR_CLI_BUILD_CHECK_SCRIPT)) return LSTAR_CLI_BUILD_CHECK_SCRIPT;
    const char *exe = cli_self_exe();
    const char *slash = strrchr(exe, '/');
    if (slash) {
        snprintf(rel, sizeof rel, "%.*s/../share/lstar/lstar_check.py", (int)(slash - exe), exe);
        if (cli_is_file(rel)) return rel;
    }
    if (cli_is_file(LSTAR_CLI_INSTALL_CHECK_SCRIPT)) return LSTAR_CLI_INSTALL_CHECK_SCRIPT;
    if (cli_is_file(LSTAR_CLI_BUILD_CHECK_SCRIPT)) return LSTAR_CLI_BUILD_CHECK_SCRIPT;
    return NULL;
}

/* ---- the spec ------------------------------------------------------------------------ */

static uint32_t names_crc32(const lstar_strings *s) {
    uLong crc = crc32(0L, Z_NULL, 0);
    static const Bytef nul = 0;
    for (size_t i = 0; s && i < s->n; i++) {
        size_t len = 0;
        const char *p = lstar_strings_get(s, i, &len);
        /* zlib takes uInt lengths: feed long names in pieces */
        while (len > 0) {
            uInt piece = len > 0x40000000u ? 0x40000000u : (uInt)len;
            crc = crc32(crc, (const Bytef *)p, piece);
            p += piece;
            len -= piece;
        }
        crc = crc32(crc, &nul, 1);
    }
    return (uint32_t)crc;
}

static json_t *axis_json(const lstar_axis *ax) {
    json_t *o = json_object();
    if (!o) return NULL;
    if (json_object_set_new(o, "name", json_string(lstar_axis_name(ax))) ||
        json_object_set_new(o, "length", json_integer((json_int_t)lstar_axis_length(ax))) ||
        json_object_set_new(o, "names_crc32", json_integer((json_int_t)names_crc32(lstar_axis_labels(ax))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* provenance["anndata"] of a field: 1 if present, with *is_x set when it is "X". */
static int provenance_anndata(const lstar_field *f, int *is_x) {
    json_t *p = json_loads(lstar_field_provenance(f), 0, NULL);
    json_t *a = json_object_get(p, "anndata");
    int has = json_is_string(a);
    *is_x = has && strcmp(json_string_value(a), "X") == 0;
    json_decref(p);
    return has;
}

static int streq0(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* A full-coverage matrix over [obs, var] (or [var, obs] when sparse), as
 * AnnData's X must be. */
static int fits_x(const lstar_field *f, const char *obs, const char *var) {
    lstar_encoding e = lstar_field_encoding(f);
    int sparse = e == LSTAR_ENC_CSR || e == LSTAR_ENC_CSC;
    if ((e != LSTAR_ENC_DENSE && !sparse) || lstar_field_index_axis(f) || lstar_field_span_count(f) != 2)
        return 0;
    const char *s0 = lstar_field_span(f, 0), *s1 = lstar_field_span(f, 1);
    return (streq0(s0, obs) && streq0(s1, var)) || (sparse && streq0(s0, var) && streq0(s1, obs));
}

/* The field that becomes / is X.
 * L★ targets: the field named "X", else the one whose provenance is AnnData's X,
 * else the one the AnnData rule below picks.
 * AnnData targets, mirroring lstar_anndata_write's placement: the first field
 * whose provenance is {"anndata": "X"} and that fits X; else the first field
 * without AnnData provenance that the role → slot contract sends to X: a
 * measure (or unset role) over [obs, var], neither named "counts" nor of state
 * "raw".  NULL if none. */
static const lstar_field *find_x(const lstar_dataset *ds, native_check_container c, const char *obs,
                                 const char *var) {
    size_t n = lstar_dataset_field_count(ds);
    if (c == NATIVE_CHECK_LSTAR) {
        const lstar_field *f = lstar_dataset_field(ds, "X");
        for (size_t i = 0; i < n && !f; i++) {
            int is_x = 0;
            if (provenance_anndata(lstar_dataset_field_at(ds, i), &is_x) && is_x) f = lstar_dataset_field_at(ds, i);
        }
        if (f || !obs || !var) return f;
        /* else the matrix an AnnData writer would make X, as below */
    }
    for (size_t i = 0; i < n; i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        int is_x = 0;
        if (provenance_anndata(f, &is_x) && is_x && fits_x(f, obs, var)) return f;
    }
    for (size_t i = 0; i < n; i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        int is_x = 0;
        const char *role = lstar_field_role(f);
        if (provenance_anndata(f, &is_x)) continue;
        if (role && strcmp(role, "measure") != 0) continue;
        if (streq0(lstar_field_name(f), "counts") || streq0(lstar_field_state(f), "raw")) continue;
        if (fits_x(f, obs, var)) return f;
    }
    return NULL;
}

typedef struct checksum {
    uint64_t nonzero, nonfinite, values;
    double sum, abssum;
} checksum;

static void add_values(checksum *cs, const double *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double x = v[i];
        if (x != 0.0) cs->nonzero++; /* NaN != 0 */
        if (!isfinite(x)) {
            cs->nonfinite++;
            continue;
        }
        cs->sum += x;
        cs->abssum += fabs(x);
    }
    cs->values += n;
}

/* Stream a dense array of any rank in blocks of whole first-axis slices. */
static lstar_status checksum_dense(const lstar_array *a, checksum *cs, lstar_progress_fn progress, void *ud,
                                   lstar_error *err) {
    lstar_status st = LSTAR_OK;
    int rank = lstar_array_rank(a);
    const uint64_t *shape = lstar_array_shape(a);
    lstar_dtype dt = lstar_array_dtype(a);
    size_t esize = lstar_dtype_size(dt);
    uint64_t total = lstar_array_size(a);
    void *raw = NULL;
    double *vals = NULL;
    if (total == 0) return LSTAR_OK;
    if (rank == 0) {
        raw = malloc(esize ? esize : 1);
        vals = malloc(sizeof *vals);
        if (!raw || !vals) {
            st = LSTAR_ERR_NOMEM;
            goto done;
        }
        if ((st = lstar_array_read(a, NULL, NULL, raw, err)) != LSTAR_OK) goto done;
        vals[0] = lstar_dtype_get_f64(dt, raw, 0);
        add_values(cs, vals, 1);
        goto done;
    }
    uint64_t row = total / shape[0]; /* elements per first-axis slice */
    uint64_t rows = row >= BLOCK_VALUES ? 1 : BLOCK_VALUES / row;
    if (rows > shape[0]) rows = shape[0];
    raw = malloc((size_t)(rows * row) * esize);
    vals = malloc((size_t)(rows * row) * sizeof *vals);
    if (!raw || !vals) {
        st = LSTAR_ERR_NOMEM;
        goto done;
    }
    uint64_t start[LSTAR_MAX_RANK] = {0}, count[LSTAR_MAX_RANK];
    memcpy(count, shape, (size_t)rank * sizeof *count);
    for (uint64_t r = 0; r < shape[0]; r += rows) {
        uint64_t n = shape[0] - r < rows ? shape[0] - r : rows;
        start[0] = r;
        count[0] = n;
        if ((st = lstar_array_read(a, start, count, raw, err)) != LSTAR_OK) goto done;
        if (lstar_dtype_convert(dt, raw, LSTAR_DTYPE_FLOAT64, vals, (size_t)(n * row)) != 0) {
            st = LSTAR_ERR_UNSUPPORTED;
            goto done;
        }
        add_values(cs, vals, (size_t)(n * row));
        if (progress) progress(ud, r + n, shape[0]);
    }
done:
    if (st == LSTAR_ERR_NOMEM && err) {
        err->status = st;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    free(raw);
    free(vals);
    return st;
}

/* Stream a 1-D array (sparse data / COO weight) as float64. */
static lstar_status checksum_1d(const lstar_array *a, checksum *cs, lstar_progress_fn progress, void *ud,
                                lstar_error *err) {
    uint64_t n = lstar_array_size(a);
    if (n == 0) return LSTAR_OK;
    size_t block = (size_t)(n < BLOCK_VALUES ? n : BLOCK_VALUES);
    double *vals = malloc(block * sizeof *vals);
    if (!vals) {
        if (err) {
            err->status = LSTAR_ERR_NOMEM;
            snprintf(err->message, sizeof err->message, "out of memory");
        }
        return LSTAR_ERR_NOMEM;
    }
    lstar_status st = LSTAR_OK;
    for (uint64_t s = 0; s < n; s += block) {
        size_t k = (size_t)(n - s < block ? n - s : block);
        if ((st = lstar_array_read_1d_as(a, s, k, LSTAR_DTYPE_FLOAT64, vals, err)) != LSTAR_OK) break;
        add_values(cs, vals, k);
        if (progress) progress(ud, s + k, n);
    }
    free(vals);
    return st;
}

/* The X object of the spec, or json null when X has no numeric value array
 * (nothing to checksum). */
static lstar_status x_json(const lstar_field *f, const uint64_t *xshape, lstar_progress_fn progress, void *ud,
                           json_t **out, lstar_error *err) {
    *out = NULL;
    const char *arr_name = NULL;
    switch (lstar_field_encoding(f)) {
    case LSTAR_ENC_DENSE: arr_name = "values"; break;
    case LSTAR_ENC_CSR:
    case LSTAR_ENC_CSC: arr_name = "data"; break;
    case LSTAR_ENC_COO: arr_name = "weight"; break;
    default: break;
    }
    const lstar_array *a = arr_name ? lstar_field_array(f, arr_name) : NULL;
    if (!a || !lstar_dtype_is_numeric(lstar_array_dtype(a)) || lstar_array_dtype(a) == LSTAR_DTYPE_FLOAT16) {
        *out = json_null();
        return LSTAR_OK;
    }
    checksum cs = {0};
    lstar_status st = lstar_field_encoding(f) == LSTAR_ENC_DENSE ? checksum_dense(a, &cs, progress, ud, err)
                                                                 : checksum_1d(a, &cs, progress, ud, err);
    if (st != LSTAR_OK) {
        if (err && !err->where[0]) snprintf(err->where, sizeof err->where, "fields/%s/%s", lstar_field_name(f), arr_name);
        return st;
    }
    uint64_t dims[LSTAR_MAX_RANK];
    int rank = 2;
    if (xshape) /* AnnData X: n_obs x n_vars, whatever the field's orientation */
        memcpy(dims, xshape, 2 * sizeof *dims);
    else
        rank = lstar_field_shape(f, dims, LSTAR_MAX_RANK);
    json_t *o = json_object(), *shape = json_array();
    for (int i = 0; shape && i < rank && i < LSTAR_MAX_RANK; i++)
        json_array_append_new(shape, json_integer((json_int_t)dims[i]));
    if (!o || !shape) {
        json_decref(o);
        json_decref(shape);
        return LSTAR_ERR_NOMEM;
    }
    json_object_set_new(o, "field", json_string(lstar_field_name(f)));
    json_object_set_new(o, "encoding", json_string(lstar_encoding_name(lstar_field_encoding(f))));
    json_object_set_new(o, "shape", shape);
    json_object_set_new(o, "values", json_integer((json_int_t)cs.values));
    json_object_set_new(o, "nonzero", json_integer((json_int_t)cs.nonzero));
    json_object_set_new(o, "nonfinite", json_integer((json_int_t)cs.nonfinite));
    json_object_set_new(o, "sum", json_real(cs.sum));
    json_object_set_new(o, "abssum", json_real(cs.abssum));
    *out = o;
    return LSTAR_OK;
}

static const lstar_axis *find_axis(const lstar_dataset *ds, const char *name, const char *role) {
    const lstar_axis *a = lstar_dataset_axis(ds, name);
    if (a) return a;
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *b = lstar_dataset_axis_at(ds, i);
        if (lstar_axis_role(b) && strcmp(lstar_axis_role(b), role) == 0) return b;
    }
    return NULL;
}

lstar_status native_check_spec(const lstar_dataset *ds, native_check_container c, const char *path,
                               int zarr_format, lstar_progress_fn progress, void *progress_ud, json_t **out,
                               lstar_error *err) {
    static const char *const names[] = {"h5ad", "anndata-zarr", "lstar"};
    *out = NULL;
    json_t *spec = json_object(), *axes = json_array(), *x = NULL;
    if (!spec || !axes) goto nomem;
    json_object_set_new(spec, "version", json_integer(1));
    json_object_set_new(spec, "target", json_string(path));
    json_object_set_new(spec, "container", json_string(names[c]));
    json_object_set_new(spec, "zarr_format", c == NATIVE_CHECK_H5AD ? json_null() : json_integer(zarr_format));
    const lstar_axis *obs = find_axis(ds, "cells", "observation"), *var = find_axis(ds, "genes", "feature");
    /* A collection is flattened by the AnnData writer: var is the union of the per-sample gene axes and
     * X is assembled from the samples, so neither is an axis/field of the dataset to compare with. */
    if (c != NATIVE_CHECK_LSTAR && lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION) var = NULL;
    uint64_t xshape[2] = {obs ? lstar_axis_length(obs) : 0, var ? lstar_axis_length(var) : 0};
    if (c == NATIVE_CHECK_LSTAR) {
        json_t *fields = json_array();
        if (!fields) goto nomem;
        json_object_set_new(spec, "fields", fields);
        for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++)
            json_array_append_new(axes, axis_json(lstar_dataset_axis_at(ds, i)));
        for (size_t i = 0; i < lstar_dataset_field_count(ds); i++)
            json_array_append_new(fields, json_string(lstar_field_name(lstar_dataset_field_at(ds, i))));
    } else {
        json_object_set_new(spec, "obs_axis", obs ? json_string(lstar_axis_name(obs)) : json_null());
        json_object_set_new(spec, "var_axis", var ? json_string(lstar_axis_name(var)) : json_null());
        if (obs) json_array_append_new(axes, axis_json(obs));
        if (var && var != obs) json_array_append_new(axes, axis_json(var));
    }
    json_object_set_new(spec, "axes", axes);
    axes = NULL;
    const lstar_field *xf = c == NATIVE_CHECK_LSTAR || (obs && var)
                                ? find_x(ds, c, obs ? lstar_axis_name(obs) : NULL, var ? lstar_axis_name(var) : NULL)
                                : NULL;
    if (xf) {
        lstar_status st = x_json(xf, c == NATIVE_CHECK_LSTAR ? NULL : xshape, progress, progress_ud, &x, err);
        if (st != LSTAR_OK) {
            json_decref(spec);
            return st;
        }
    } else {
        x = json_null();
    }
    if (!x) goto nomem;
    json_object_set_new(spec, "x", x);
    *out = spec;
    return LSTAR_OK;
nomem:
    json_decref(spec);
    json_decref(axes);
    if (err) {
        err->status = LSTAR_ERR_NOMEM;
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    return LSTAR_ERR_NOMEM;
}

/* ---- running the checker --------------------------------------------------------------- */

static void set_result(native_check_result *res, const char *status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void set_result(native_check_result *res, const char *status, const char *fmt, ...) {
    va_list ap;
    snprintf(res->status, sizeof res->status, "%s", status);
    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
}

/* The last line of `out` that is not empty (trailing blanks removed), into buf. */
static void last_line(const char *out, size_t n, char *buf, size_t size) {
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) n--;
    size_t s = n;
    while (s > 0 && out[s - 1] != '\n') s--;
    snprintf(buf, size, "%.*s", (int)(n - s), out + s);
}

/* Write all of buf to fd (EINTR-safe); -1 on error. */
static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

void native_check_run(const json_t *spec, native_check_result *res) {
    const char *python = getenv("LSTAR_PYTHON");
    if (!python || !python[0]) python = DEFAULT_PYTHON;
    if (access(python, X_OK) != 0) {
        set_result(res, NATIVE_CHECK_SKIP, "Python peers not installed: %s not found", python);
        return;
    }
    const char *script = check_script();
    if (!script) {
        set_result(res, NATIVE_CHECK_SKIP, "the checker lstar_check.py was not found (looked in %s and %s)",
                   LSTAR_CLI_BUILD_CHECK_SCRIPT, LSTAR_CLI_INSTALL_CHECK_SCRIPT);
        return;
    }
    char *input = json_dumps(spec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!input) {
        set_result(res, NATIVE_CHECK_FAIL, "out of memory");
        return;
    }
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    char *output = NULL;
    size_t olen = 0;
    if (pipe(in) != 0 || pipe(outp) != 0) {
        set_result(res, NATIVE_CHECK_FAIL, "cannot run the checker: %s", strerror(errno));
        goto done;
    }
    const char *plugin_path = cli_plugin_path();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        set_result(res, NATIVE_CHECK_FAIL, "cannot run the checker: %s", strerror(errno));
        goto done;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        setenv("HDF5_PLUGIN_PATH", plugin_path, 1);
        setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
        execl(python, python, script, (char *)NULL);
        fprintf(stderr, "cannot execute %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    in[0] = -1;
    close(outp[1]);
    outp[1] = -1;
    {
        /* The checker reads its whole input first; a checker that dies early
         * must not kill us with SIGPIPE. */
        struct sigaction ign, old;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, &old);
        (void)write_all(in[1], input, strlen(input));
        close(in[1]);
        in[1] = -1;
        sigaction(SIGPIPE, &old, NULL);
    }
    output = malloc(MAX_CHECKER_OUTPUT + 1);
    if (output) {
        char chunk[8192];
        for (;;) {
            ssize_t r = read(outp[0], chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            size_t k = (size_t)r; /* <= sizeof chunk, far below MAX_CHECKER_OUTPUT */
            if (olen + k > MAX_CHECKER_OUTPUT) { /* keep the tail */
                size_t drop = olen + k - MAX_CHECKER_OUTPUT;
                memmove(output, output + drop, olen - drop);
                olen -= drop;
            }
            memcpy(output + olen, chunk, k);
            olen += k;
        }
        output[olen] = '\0';
    } else {
        char chunk[8192];
        while (read(outp[0], chunk, sizeof chunk) > 0) {
        }
    }
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (!output) {
        set_result(res, NATIVE_CHECK_FAIL, "out of memory");
        goto done;
    }
    {
        char line[4096];
        last_line(output, olen, line, sizeof line);
        json_t *r = line[0] == '{' ? json_loads(line, 0, NULL) : NULL;
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *detail = json_string_value(json_object_get(r, "detail"));
        if (st && (strcmp(st, NATIVE_CHECK_PASS) == 0 || strcmp(st, NATIVE_CHECK_FAIL) == 0 ||
                   strcmp(st, NATIVE_CHECK_SKIP) == 0)) {
            set_result(res, st, "%s", detail ? detail : "");
        } else if (WIFEXITED(wstatus)) {
            set_result(res, NATIVE_CHECK_FAIL, "the checker exited with status %d: %s", WEXITSTATUS(wstatus),
                       line[0] ? line : "no output");
        } else {
            set_result(res, NATIVE_CHECK_FAIL, "the checker was killed by signal %d: %s",
                       WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0, line[0] ? line : "no output");
        }
        json_decref(r);
    }
done:
    if (in[0] >= 0) close(in[0]);
    if (in[1] >= 0) close(in[1]);
    if (outp[0] >= 0) close(outp[0]);
    if (outp[1] >= 0) close(outp[1]);
    free(output);
    free(input);
}
