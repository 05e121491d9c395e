/* lstar plugin-path — the value to export as HDF5_PLUGIN_PATH. */
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


static const char usage[] =
    "usage: lstar plugin-path [--export]\n"
    "\n"
    "Print the value to use as HDF5_PLUGIN_PATH so that HDF5 programs (h5dump,\n"
    "h5py, R) find lstar's filter plugins (zstd 32015, …): lstar's plugin\n"
    "directory, then Debian's default plugin directory (HDF5_PLUGIN_PATH replaces\n"
    "the default, so it is listed again).\n"
    "\n"
    "The plugin directory is the build tree's (" LSTAR_CLI_BUILD_PLUGIN_DIR ")\n"
    "when this lstar runs from the build tree, else the installed one\n"
    "(" LSTAR_CLI_INSTALL_PLUGIN_DIR "); whichever exists is preferred.\n"
    "\n"
    "options:\n"
    "  --export   print a shell command: export HDF5_PLUGIN_PATH=<value>\n"
    "\n"
    "example:  eval \"$(lstar plugin-path --export)\"\n";

static int run(int argc, char **argv) {
    int do_export = 0, help = 0;
    const cli_opt opts[] = {{"export", CLI_OPT_FLAG, &do_export, NULL}};
    size_t npos = 0;
    if (cli_parse("plugin-path", argc, argv, opts, 1, NULL, 0, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    printf("%s%s\n", do_export ? "export HDF5_PLUGIN_PATH=" : "", cli_plugin_path());
    return CLI_EXIT_OK;
}

const cli_verb cli_verb_plugin_path = {
    "plugin-path",
    "print the HDF5_PLUGIN_PATH value for lstar's HDF5 filter plugins",
    usage,
    run,
};
