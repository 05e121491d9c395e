/* lstar_test_codec — drive one codec from the command line (interop tests).
 *
 *   lstar_test_codec encode '<json config>' <dtype|none> [itemsize]          < raw     > encoded
 *   lstar_test_codec decode '<json config>' <dtype|none> [expected_size]     < encoded > raw
 *   lstar_test_codec tojson '<json config>' <dtype|none> <2|3>                          > json text
 *
 * <dtype> is a Zarr v3 name ("int32", "float64", …) or "none".  Exit status: 0 ok, 1 codec error (status
 * name and message on stderr), 2 usage / I/O error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lstar/lstar.h"

static int usage(void) {
    fprintf(stderr, "usage: lstar_test_codec encode|decode|tojson '<json config>' <dtype|none> [N]\n");
    return 2;
}

static unsigned char *read_all(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

static int fail(const lstar_error *e) {
    fprintf(stderr, "%s: %s\n", lstar_status_name(e->status), e->message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) return usage();
    const char *mode = argv[1];
    lstar_dtype dt = strcmp(argv[3], "none") == 0 ? LSTAR_DTYPE_INVALID : lstar_dtype_from_name(argv[3]);
    if (dt == LSTAR_DTYPE_INVALID && strcmp(argv[3], "none") != 0) return usage();
    size_t num = argc == 5 ? (size_t)strtoull(argv[4], NULL, 10) : 0;
    lstar_error e = {0};
    lstar_codec *c = NULL;
    int rc = 0;
    unsigned char *in = NULL;
    uint8_t *out = NULL;
    size_t inn = 0, outn = 0;
    if (lstar_codec_from_json(argv[2], dt, strcmp(mode, "encode") == 0 ? num : 0, &c, &e) != LSTAR_OK) {
        rc = fail(&e);
        goto done;
    }
    if (strcmp(mode, "tojson") == 0) {
        char *s = lstar_codec_to_json(c, (int)num);
        if (!s) {
            rc = 2;
            goto done;
        }
        printf("%s\n", s);
        lstar_free(s);
        goto done;
    }
    in = read_all(stdin, &inn);
    if (!in) {
        rc = 2;
        goto done;
    }
    lstar_status st;
    if (strcmp(mode, "encode") == 0)
        st = lstar_codec_encode(c, in, inn, &out, &outn, &e);
    else if (strcmp(mode, "decode") == 0)
        st = lstar_codec_decode(c, in, inn, num, 0, &out, &outn, &e);
    else {
        rc = usage();
        goto done;
    }
    if (st != LSTAR_OK) {
        rc = fail(&e);
        goto done;
    }
    if (outn && fwrite(out, 1, outn, stdout) != outn) rc = 2;
    if (fflush(stdout) != 0) rc = 2;
done:
    lstar_free(out);
    free(in);
    lstar_codec_free(c);
    return rc;
}
