/* h5z_selftest.h — a tiny harness for the in-process plugin self-tests (filters/<name>/test/selftest_*.c).
 *
 * A self-test is compiled together with one plugin's sources, registers the plugin's class with
 * H5Zregister (no dlopen), and drives it through real HDF5 calls on an in-memory file (core driver,
 * no backing store).  It is a CTest unit test, so it also runs in the sanitizer build, where the
 * plugin code (and the lstar codecs) are instrumented.  Header-only: every function is static.
 */
#ifndef LSTAR_H5Z_SELFTEST_H
#define LSTAR_H5Z_SELFTEST_H
#include <H5PLextern.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static int st_failures = 0;
static int st_checks = 0;

#define ST_CHECK(cond, ...)                                                                                    \
    do {                                                                                                       \
        st_checks++;                                                                                           \
        if (!(cond)) {                                                                                         \
            st_failures++;                                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                        \
            printf(__VA_ARGS__);                                                                               \
            printf("\n");                                                                                      \
        }                                                                                                      \
    } while (0)

/* The error stack's descriptions joined (most recent call first is irrelevant: we search). */
typedef struct st_stack_text {
    char text[8192];
} st_stack_text;

static herr_t st_walk_cb(unsigned n, const H5E_error2_t *e, void *ud) {
    (void)n;
    st_stack_text *t = ud;
    size_t len = strlen(t->text);
    if (e->desc && len + strlen(e->desc) + 2 < sizeof t->text) {
        memcpy(t->text + len, e->desc, strlen(e->desc));
        t->text[len + strlen(e->desc)] = '\n';
        t->text[len + strlen(e->desc) + 1] = '\0';
    }
    return 0;
}

/* Copy the current thread's error stack text into *t and clear the stack. */
static void st_take_stack(st_stack_text *t) {
    t->text[0] = '\0';
    hid_t stack = H5Eget_current_stack(); /* also clears the default stack */
    if (stack >= 0) {
        H5Ewalk2(stack, H5E_WALK_DOWNWARD, st_walk_cb, t);
        H5Eclose_stack(stack);
    }
}

/* An in-memory HDF5 file. */
static hid_t st_memory_file(const char *name) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_core(fapl, 1 << 16, 0);
    hid_t f = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    return f;
}

typedef struct st_filter {
    H5Z_filter_t id;
    size_t n;
    unsigned cd[4];
} st_filter;

/* Create a chunked dataset with the filters in order (mandatory), fill value 0. Returns the dataset
 * or a negative id (the error stack is left for the caller). */
static hid_t st_create(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims,
                       const hsize_t *chunks, const st_filter *filters, int nfilters) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, chunks);
    for (int i = 0; i < nfilters; i++)
        H5Pset_filter(dcpl, filters[i].id, H5Z_FLAG_MANDATORY, filters[i].n, filters[i].cd);
    hid_t d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    /* closing clears the error stack: keep a failed creation's stack for the caller */
    hid_t stack = d < 0 ? H5Eget_current_stack() : -1;
    H5Pclose(dcpl);
    H5Sclose(space);
    if (stack >= 0) H5Eset_current_stack(stack); /* also closes `stack` */
    return d;
}

/* The dataset's cd_values for filter `id` (returns the count, -1 if absent). */
static int st_cd_values(hid_t dset, H5Z_filter_t id, unsigned *cd, size_t max) {
    hid_t dcpl = H5Dget_create_plist(dset);
    unsigned flags = 0, config = 0;
    size_t n = max;
    herr_t r = H5Pget_filter_by_id2(dcpl, id, &flags, &n, cd, 0, NULL, &config);
    H5Pclose(dcpl);
    return r < 0 ? -1 : (int)n;
}

static int st_finish(const char *name) {
    printf("%s: %d checks, %d failures\n", name, st_checks, st_failures);
    return st_failures ? 1 : 0;
}

#endif
