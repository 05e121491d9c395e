/* lstar — the command-line front end (public API only).
 *
 *   lstar --version | --help | help [VERB] | VERB [options] [args]
 *
 * Each verb lives in tools/cmd_<verb>.c and defines `const cli_verb
 * cli_verb_<ident>`; adding a verb is one line in LSTAR_CLI_VERBS below. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lstar/lstar.h"

/* The verb table, in `lstar help` order: X(identifier). */
#define LSTAR_CLI_VERBS(X)                                                                                    \
    X(inspect)                                                                                                \
    X(convert)                                                                                                \
    X(validate)                                                                                               \
    X(synth)                                                                                                  \
    X(repack)                                                                                                 \
    X(stats)                                                                                                  \
    X(mount)                                                                                                  \
    X(umount)                                                                                                 \
    X(plugin_path)

#define LSTAR_CLI_DECLARE_(ident) extern const cli_verb cli_verb_##ident;
LSTAR_CLI_VERBS(LSTAR_CLI_DECLARE_)
#undef LSTAR_CLI_DECLARE_

static const cli_verb *const verbs[] = {
#define LSTAR_CLI_ENTRY_(ident) &cli_verb_##ident,
    LSTAR_CLI_VERBS(LSTAR_CLI_ENTRY_)
#undef LSTAR_CLI_ENTRY_
};
#define NVERBS (sizeof verbs / sizeof verbs[0])

static const cli_verb *find_verb(const char *name) {
    for (size_t i = 0; i < NVERBS; i++)
        if (strcmp(verbs[i]->name, name) == 0) return verbs[i];
    return NULL;
}

static void print_main_usage(FILE *out) {
    fputs("usage: lstar <verb> [options] [arguments]\n"
          "       lstar help [<verb>]\n"
          "       lstar --version\n"
          "\n"
          "verbs:\n",
          out);
    size_t w = 0;
    for (size_t i = 0; i < NVERBS; i++)
        if (strlen(verbs[i]->name) > w) w = strlen(verbs[i]->name);
    for (size_t i = 0; i < NVERBS; i++) fprintf(out, "  %-*s  %s\n", (int)w, verbs[i]->name, verbs[i]->summary);
    fputs("\n"
          "Run 'lstar help <verb>' for the options of a verb.\n"
          "Exit status: 0 success, 1 findings (validate), 2 error, 3 failed native check (convert --strict).\n",
          out);
}

static int cmd_help(int argc, char **argv) {
    if (argc <= 2) {
        print_main_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 3) {
        fprintf(stderr, "lstar: help: unexpected argument '%s'\n", argv[3]);
        return CLI_EXIT_ERROR;
    }
    const cli_verb *v = find_verb(argv[2]);
    if (!v) {
        fprintf(stderr, "lstar: help: %s: unknown verb\n", argv[2]);
        print_main_usage(stderr);
        return CLI_EXIT_ERROR;
    }
    cli_print_usage(v, stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_main_usage(stderr);
        return CLI_EXIT_ERROR;
    }
    const char *a = argv[1];
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
        printf("lstar %s\n", lstar_version());
        return CLI_EXIT_OK;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        print_main_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(a, "help") == 0) return cmd_help(argc, argv);
    if (a[0] == '-') {
        fprintf(stderr, "lstar: unknown option '%s'\n", a);
        print_main_usage(stderr);
        return CLI_EXIT_ERROR;
    }
    const cli_verb *v = find_verb(a);
    if (!v) {
        fprintf(stderr, "lstar: %s: unknown verb\n", a);
        print_main_usage(stderr);
        return CLI_EXIT_ERROR;
    }
    int rc = v->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lstar: %s: error writing to standard output\n", v->name);
        return CLI_EXIT_ERROR;
    }
    return rc;
}
