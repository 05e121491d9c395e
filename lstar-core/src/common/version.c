#include "lstar/version.h"

const char *lstar_version(void) { return LSTAR_VERSION_STRING; }
