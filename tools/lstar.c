/* lstar — the command-line front end (public API only). */
#include <stdio.h>
#include <string.h>

#include "lstar/lstar.h"

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("lstar %s\n", lstar_version());
        return 0;
    }
    fprintf(stderr, "usage: lstar <verb> [options]\n");
    return 2;
}
