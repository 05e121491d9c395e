/* tools/cli_util.c — shared helpers of the `lstar` command (see cli.h). */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif
#include "cli.h"

#include <limits.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_print_usage(const cli_verb *verb, FILE *out) { fputs(verb->usage, out); }

/* ---- errors ------------------------------------------------------------------- */

int cli_error(const char *verb, const char *where, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && where[0])
        fprintf(stderr, "lstar: %s: %s: %s\n", verb, where, msg);
    else
        fprintf(stderr, "lstar: %s: %s\n", verb, msg);
    return CLI_EXIT_ERROR;
}

int cli_error_lstar(const char *verb, const char *path, const lstar_error *err) {
    char where[LSTAR_ERROR_WHERE_MAX + 4096];
    const char *w = err->where;
    const char *msg = err->message[0] ? err->message : lstar_status_message(err->status);
    if (!path || !path[0]) {
        snprintf(where, sizeof where, "%s", w);
    } else if (!w[0]) {
        snprintf(where, sizeof where, "%s", path);
    } else if (w[0] == '/' || strncmp(w, path, strlen(path)) == 0) {
        snprintf(where, sizeof where, "%s", w); /* already a file system path */
    } else {
        size_t n = strlen(path);
        int slash = n > 0 && path[n - 1] == '/';
        snprintf(where, sizeof where, "%s%s%s", path, slash ? "" : "/", w);
    }
    return cli_error(verb, where, "%s", msg);
}

/* ---- options ---------------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int set_opt(const char *verb, const cli_opt *o, const char *value) {
    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(int *)o->dest = 1;
        break;
    case CLI_OPT_U64: {
        uint64_t v;
        if (parse_u64(value, &v))
            return cli_error(verb, NULL, "--%s: expected a non-negative integer, got '%s'", o->name, value);
        *(uint64_t *)o->dest = v;
        break;
    }
    case CLI_OPT_INT: {
        uint64_t v;
        if (parse_u64(value, &v) || v > 0x7fffffff)
            return cli_error(verb, NULL, "--%s: expected a non-negative integer, got '%s'", o->name, value);
        *(int *)o->dest = (int)v;
        break;
    }
    case CLI_OPT_DOUBLE: {
        char *end = NULL;
        errno = 0;
        double v = strtod(value, &end);
        if (!*value || errno || !end || *end || v != v)
            return cli_error(verb, NULL, "--%s: expected a number, got '%s'", o->name, value);
        *(double *)o->dest = v;
        break;
    }
    case CLI_OPT_STRING:
        *(const char **)o->dest = value;
        break;
    }
    if (o->seen) *o->seen = 1;
    return 0;
}

int cli_parse(const char *verb, int argc, char **argv, const cli_opt *opts, size_t nopts, const char **pos,
              size_t max_pos, size_t *npos, int *help) {
    int only_pos = 0;
    *npos = 0;
    *help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            *help = 1;
            continue;
        }
        if (!only_pos && a[0] == '-' && a[1] != '\0') {
            if (a[1] != '-')
                return cli_error(verb, NULL, "unknown option '%s' (see 'lstar help %s')", a, verb);
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            const cli_opt *o = NULL;
            for (size_t k = 0; k < nopts; k++)
                if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0) o = &opts[k];
            if (!o) return cli_error(verb, NULL, "unknown option '%s' (see 'lstar help %s')", a, verb);
            const char *value = NULL;
            if (o->kind == CLI_OPT_FLAG) {
                if (eq) return cli_error(verb, NULL, "--%s takes no value", o->name);
            } else if (eq) {
                value = eq + 1;
            } else {
                if (i + 1 >= argc) return cli_error(verb, NULL, "--%s needs a value", o->name);
                value = argv[++i];
            }
            if (set_opt(verb, o, value)) return CLI_EXIT_ERROR;
            continue;
        }
        if (*npos >= max_pos) return cli_error(verb, NULL, "unexpected argument '%s' (see 'lstar help %s')", a, verb);
        pos[(*npos)++] = a;
    }
    return 0;
}

/* ---- output helpers ------------------------------------------------------------ */

char *cli_human_bytes(uint64_t bytes, char *buf, size_t bufsize) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, bufsize, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, bufsize, v < 10.0 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

char *cli_format_dims(const uint64_t *dims, int rank, char *buf, size_t bufsize) {
    size_t n = 0;
    if (bufsize == 0) return buf;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, bufsize - n, "[");
    for (int i = 0; i < rank && n < bufsize; i++)
        n += (size_t)snprintf(buf + n, bufsize - n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (n < bufsize) snprintf(buf + n, bufsize - n, "]");
    return buf;
}

/* ---- tables ------------------------------------------------------------------------ */

#define CLI_TABLE_MAX_COLS 16

struct cli_table {
    int ncols;
    int right[CLI_TABLE_MAX_COLS];
    size_t nrows, cap;
    char **cells; /* nrows * ncols */
    int failed;
};

cli_table *cli_table_new(int ncols) {
    if (ncols < 1 || ncols > CLI_TABLE_MAX_COLS) return NULL;
    cli_table *t = calloc(1, sizeof *t);
    if (t) t->ncols = ncols;
    return t;
}

void cli_table_right(cli_table *t, int col) {
    if (t && col >= 0 && col < t->ncols) t->right[col] = 1;
}

void cli_table_add(cli_table *t, const char *const *cells) {
    if (!t || t->failed) return;
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **nc = realloc(t->cells, ncap * (size_t)t->ncols * sizeof *nc);
        if (!nc) {
            t->failed = 1;
            return;
        }
        t->cells = nc;
        t->cap = ncap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] ? cells[c] : "-");
        if (!row[c]) {
            for (int k = 0; k < c; k++) free(row[k]);
            t->failed = 1;
            return;
        }
    }
    t->nrows++;
}

/* Display width: count UTF-8 lead bytes, so "×" and "★" take one column. */
static size_t display_width(const char *s) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) w++;
    return w;
}

int cli_table_print(const cli_table *t, FILE *out, const char *indent) {
    if (!t) return -1;
    size_t width[CLI_TABLE_MAX_COLS] = {0};
    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++) {
            size_t w = display_width(t->cells[r * (size_t)t->ncols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        /* trailing empty cells are not printed (no trailing blanks) */
        int lastc = t->ncols - 1;
        while (lastc > 0 && t->cells[r * (size_t)t->ncols + (size_t)lastc][0] == '\0') lastc--;
        fputs(indent ? indent : "", out);
        for (int c = 0; c <= lastc; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + c];
            size_t pad = width[c] - display_width(s);
            int last = c == lastc;
            if (c) fputs("  ", out);
            if (t->right[c])
                for (size_t k = 0; k < pad; k++) fputc(' ', out);
            fputs(s, out);
            if (!t->right[c] && !last)
                for (size_t k = 0; k < pad; k++) fputc(' ', out);
        }
        fputc('\n', out);
    }
    return t->failed ? -1 : 0;
}

void cli_table_free(cli_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---- progress ------------------------------------------------------------------------ */

void cli_progress_init(cli_progress *p, const char *label) {
    p->label = label;
    p->enabled = isatty(2);
    p->last_permille = -1;
    p->drawn = 0;
}

void cli_progress_cb(void *ud, uint64_t done, uint64_t total) {
    cli_progress *p = ud;
    if (!p || !p->enabled || total == 0) return;
    if (done > total) done = total;
    int permille = (int)((double)done * 100.0 / (double)total) * 10; /* redraw per percent */
    if (permille == p->last_permille) return;
    p->last_permille = permille;
    enum { BAR = 30 };
    char bar[BAR + 1];
    int filled = permille * BAR / 1000;
    for (int i = 0; i < BAR; i++) bar[i] = i < filled ? '#' : ' ';
    bar[BAR] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%%", p->label, bar, permille / 10);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_finish(cli_progress *p) {
    if (!p || !p->drawn) return;
    /* Clear the line so the summary that follows starts clean. */
    fprintf(stderr, "\r%*s\r", (int)strlen(p->label) + 38, "");
    fflush(stderr);
    p->drawn = 0;
}

/* ---- input dispatch ---------------------------------------------------------------- */

cli_input_kind cli_classify_input(const char *path, char *why, size_t whysize) {
    struct stat st;
    if (whysize) why[0] = '\0';
    if (stat(path, &st) != 0) {
        snprintf(why, whysize, "%s", strerror(errno));
        return CLI_INPUT_MISSING;
    }
    if (S_ISDIR(st.st_mode)) return CLI_INPUT_DIR;
    if (!S_ISREG(st.st_mode)) return CLI_INPUT_OTHER;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whysize, "%s", strerror(errno));
        return CLI_INPUT_MISSING;
    }
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    fclose(f);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (n == 8 && memcmp(sig, hdf5_sig, 8) == 0) return CLI_INPUT_HDF5;
    /* Local file header, or an empty archive's end-of-central-directory record. */
    if (n >= 4 && sig[0] == 'P' && sig[1] == 'K' &&
        ((sig[2] == 3 && sig[3] == 4) || (sig[2] == 5 && sig[3] == 6)))
        return CLI_INPUT_ZIP;
    return CLI_INPUT_OTHER;
}

/* ---- locations --------------------------------------------------------------------- */


int cli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *cli_self_exe(void) {
    static char exe[PATH_MAX];
    static int done;
    if (!done) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        done = 1;
    }
    return exe;
}

int cli_running_from_build_tree(void) {
    const char *exe = cli_self_exe();
    char build[PATH_MAX];
    const char *b = realpath(LSTAR_CLI_BUILD_DIR, build) ? build : LSTAR_CLI_BUILD_DIR;
    size_t bl = strlen(b);
    return exe[0] && strncmp(exe, b, bl) == 0 && exe[bl] == '/';
}

const char *cli_plugin_dir(void) {
    const char *first = LSTAR_CLI_INSTALL_PLUGIN_DIR, *second = LSTAR_CLI_BUILD_PLUGIN_DIR;
    if (cli_running_from_build_tree()) {
        first = LSTAR_CLI_BUILD_PLUGIN_DIR;
        second = LSTAR_CLI_INSTALL_PLUGIN_DIR;
    }
    if (cli_is_dir(first)) return first;
    if (cli_is_dir(second)) return second;
    return first;
}

const char *cli_plugin_path(void) {
    static char buf[2 * PATH_MAX + 2];
    snprintf(buf, sizeof buf, "%s:%s", cli_plugin_dir(), LSTAR_CLI_SYSTEM_PLUGIN_DIR);
    return buf;
}
