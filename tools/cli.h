/* tools/cli.h — shared pieces of the `lstar` command: the verb table entry,
 * exit codes, error printing, option parsing, the progress bar, aligned
 * tables and human-readable sizes.
 *
 * Only tools/ prints.  Everything here writes to stdout (results) or stderr
 * (errors, progress); library calls go through the public API (lstar/lstar.h).
 */
#ifndef LSTAR_TOOLS_CLI_H
#define LSTAR_TOOLS_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lstar/lstar.h"

/* Locations compiled in by tools/CMakeLists.txt (the build tree and the install prefix). */
#ifndef LSTAR_CLI_BUILD_DIR
#error "LSTAR_CLI_BUILD_DIR must be defined by tools/CMakeLists.txt"
#endif
#ifndef LSTAR_CLI_BUILD_PLUGIN_DIR
#error "LSTAR_CLI_BUILD_PLUGIN_DIR must be defined by tools/CMakeLists.txt"
#endif
#ifndef LSTAR_CLI_INSTALL_PLUGIN_DIR
#error "LSTAR_CLI_INSTALL_PLUGIN_DIR must be defined by tools/CMakeLists.txt"
#endif
#ifndef LSTAR_CLI_SYSTEM_PLUGIN_DIR
#define LSTAR_CLI_SYSTEM_PLUGIN_DIR "/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins"
#endif

/* Conventional exit codes. */
enum {
    CLI_EXIT_OK = 0,       /* success */
    CLI_EXIT_FINDINGS = 1, /* the command ran and found problems (validate) */
    CLI_EXIT_ERROR = 2     /* bad usage, unreadable input, failed write */
};

/* One verb of the command.  Each tools/cmd_<verb>.c defines one
 * `const cli_verb cli_verb_<ident>` and tools/lstar.c lists it in
 * LSTAR_CLI_VERBS (one line per verb). */
typedef struct cli_verb {
    const char *name;    /* as typed: "inspect", "plugin-path" */
    const char *summary; /* one line for `lstar help` */
    const char *usage;   /* full usage text for `lstar help VERB` / `lstar VERB --help` */
    /* argv[0] is the verb name; returns an exit code. */
    int (*run)(int argc, char **argv);
} cli_verb;

/* Print the verb's usage on `out`. */
void cli_print_usage(const cli_verb *verb, FILE *out);

/* ---- errors ----------------------------------------------------------------- */

/* "lstar: <verb>: <where>: <message>\n" on stderr (where may be NULL or "").
 * Returns CLI_EXIT_ERROR so callers can `return cli_error(...)`. */
int cli_error(const char *verb, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Print a library error record: where = `path` joined with err->where (a key
 * inside the store) unless err->where is already a path; message from
 * lstar_error_format.  Returns CLI_EXIT_ERROR. */
int cli_error_lstar(const char *verb, const char *path, const lstar_error *err);

/* ---- option parsing ------------------------------------------------------- */

/* Option kinds. */
typedef enum cli_opt_kind {
    CLI_OPT_FLAG = 0,   /* --name; sets *(int *)dest = 1 */
    CLI_OPT_U64 = 1,    /* --name N (decimal, no sign) */
    CLI_OPT_INT = 2,    /* --name N (int, >= 0) */
    CLI_OPT_DOUBLE = 3, /* --name X */
    CLI_OPT_STRING = 4  /* --name TEXT; *(const char **)dest = borrowed argv string */
} cli_opt_kind;

typedef struct cli_opt {
    const char *name; /* without the leading "--" */
    cli_opt_kind kind;
    void *dest;
    int *seen; /* optional: set to 1 when given */
} cli_opt;

/* Parse argv[1..argc) (argv[0] is the verb).  Accepts "--name value",
 * "--name=value", "--" (end of options), "-h"/"--help" (sets *help).
 * Positional arguments are collected into `pos` (borrowed pointers, at most
 * `max_pos`; more → error).  On error prints the message and returns
 * CLI_EXIT_ERROR; otherwise 0. */
int cli_parse(const char *verb, int argc, char **argv, const cli_opt *opts, size_t nopts, const char **pos,
              size_t max_pos, size_t *npos, int *help);

/* ---- output helpers ----------------------------------------------------------- */

/* "0 B", "176 B", "1.5 KiB", "12.3 MiB" … into buf; returns buf. */
char *cli_human_bytes(uint64_t bytes, char *buf, size_t bufsize);
/* "[12, 8]" (or "[]" for rank 0) into buf; returns buf. */
char *cli_format_dims(const uint64_t *dims, int rank, char *buf, size_t bufsize);

/* An aligned text table: cells are copied; columns separated by two spaces;
 * right-aligned columns set with cli_table_right.  The last column is not
 * padded.  Out of memory makes later calls no-ops and cli_table_print
 * returns -1. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(int ncols);
void cli_table_right(cli_table *t, int col);
/* Add a row of `ncols` cells (NULL prints as "-"). */
void cli_table_add(cli_table *t, const char *const *cells);
/* Print every row prefixed by `indent`. Returns 0, or -1 after an allocation failure. */
int cli_table_print(const cli_table *t, FILE *out, const char *indent);
void cli_table_free(cli_table *t);

/* ---- progress ------------------------------------------------------------------ */

/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct cli_progress {
    const char *label;
    int enabled; /* isatty(2) at init */
    int last_permille;
    int drawn;
} cli_progress;

void cli_progress_init(cli_progress *p, const char *label);
/* Matches lstar_progress_fn: ud is a cli_progress. */
void cli_progress_cb(void *ud, uint64_t done, uint64_t total);
/* Erase the bar (if one was drawn). */
void cli_progress_finish(cli_progress *p);

/* ---- input dispatch --------------------------------------------------------------- */

typedef enum cli_input_kind {
    CLI_INPUT_MISSING = 0, /* does not exist / unreadable (errno-style message given) */
    CLI_INPUT_HDF5 = 1,    /* a file starting with the HDF5 signature (.h5ad) */
    CLI_INPUT_ZIP = 2,     /* a zip file (a zipped Zarr store) */
    CLI_INPUT_DIR = 3,     /* a directory (a Zarr directory store) */
    CLI_INPUT_OTHER = 4    /* a regular file that is neither */
} cli_input_kind;

/* Classify `path` by stat and its first bytes.  For MISSING, `why` receives
 * the system error text. */
cli_input_kind cli_classify_input(const char *path, char *why, size_t whysize);

/* ---- locations --------------------------------------------------------------------- */

int cli_is_dir(const char *path);
int cli_is_file(const char *path);
/* The running executable (resolved), or "" when unknown. Static storage. */
const char *cli_self_exe(void);
/* 1 if the running executable lives under the build tree (LSTAR_CLI_BUILD_DIR). */
int cli_running_from_build_tree(void);
/* lstar's HDF5 filter plugin directory: the build tree's when running from it,
 * else the installed one; whichever exists is preferred (the preferred one when
 * neither does).  Static string. */
const char *cli_plugin_dir(void);
/* "<cli_plugin_dir()>:<Debian's default plugin dir>" — the HDF5_PLUGIN_PATH value. Static storage. */
const char *cli_plugin_path(void);

#endif
