/* HDF5 backend: the global lock, error capture, files, nodes and attributes. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hdf5/h5_internal.h"
#include "lstar/alloc.h"

/* ---- lock and error capture ------------------------------------------------- */

static pthread_mutex_t g_h5_lock = PTHREAD_MUTEX_INITIALIZER;

void h5_enter(h5_guard *g) {
    pthread_mutex_lock(&g_h5_lock);
    g->func = NULL;
    g->data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &g->func, &g->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5_leave(h5_guard *g) {
    H5Eclear2(H5E_DEFAULT);
    H5Eset_auto2(H5E_DEFAULT, g->func, g->data);
    pthread_mutex_unlock(&g_h5_lock);
}

#define H5_MAX_ENTRIES 16
typedef struct h5_stack {
    int n;
    hid_t maj[H5_MAX_ENTRIES], min[H5_MAX_ENTRIES];
    char desc[H5_MAX_ENTRIES][200];
} h5_stack;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ud) {
    h5_stack *s = ud;
    (void)n;
    if (s->n >= H5_MAX_ENTRIES) return 0;
    s->maj[s->n] = e->maj_num;
    s->min[s->n] = e->min_num;
    snprintf(s->desc[s->n], sizeof s->desc[s->n], "%s", e->desc ? e->desc : "");
    s->n++;
    return 0;
}

lstar_status h5_fail(lstar_error *err, lstar_status st, const char *where, const char *fmt, ...) {
    h5_stack s;
    char ours[LSTAR_ERROR_MESSAGE_MAX];
    va_list ap;
    s.n = 0;
    /* Upward: the innermost (first detected) error comes first. */
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &s);
    H5Eclear2(H5E_DEFAULT);
    va_start(ap, fmt);
    vsnprintf(ours, sizeof ours, fmt, ap);
    va_end(ap);
    for (int i = 0; i < s.n; i++) {
        if (s.min[i] == H5E_NOTHDF5) st = LSTAR_ERR_FORMAT;
        else if (s.min[i] == H5E_TRUNCATED && st != LSTAR_ERR_FORMAT) st = LSTAR_ERR_CORRUPT;
        else if (s.maj[i] == H5E_PLINE && strstr(s.desc[i], "not registered")) st = LSTAR_ERR_UNSUPPORTED;
        else if (s.maj[i] == H5E_PLINE && st == LSTAR_ERR_IO) st = LSTAR_ERR_CODEC;
        else if (s.maj[i] == H5E_PLUGIN && st == LSTAR_ERR_IO) st = LSTAR_ERR_UNSUPPORTED;
    }
    if (s.n == 0) return LSTAR_FAIL(err, st, where, "%s", ours);
    /* The innermost description, plus the next distinct one when it says
     * more (e.g. "can't open object" under "file is truncated"). */
    if (s.n > 1 && strcmp(s.desc[0], s.desc[s.n - 1]) != 0)
        return LSTAR_FAIL(err, st, where, "%s: HDF5: %s (%s)", ours, s.desc[0], s.desc[s.n - 1]);
    return LSTAR_FAIL(err, st, where, "%s: HDF5: %s", ours, s.desc[0]);
}

/* ---- helpers --------------------------------------------------------------------- */

char *h5i_abspath(const char *path) {
    if (!path) path = "";
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    int need_slash = path[0] != '/';
    char *p = lstar_malloc(n + 2);
    if (!p) return NULL;
    size_t o = 0;
    if (need_slash) p[o++] = '/';
    memcpy(p + o, path, n);
    p[o + n] = '\0';
    if (p[0] == '/' && p[1] == '/' && p[2] == '\0') p[1] = '\0';
    return p;
}

void h5i_file_ref(lstar_h5_file *f) { f->refs++; }

void h5i_file_unref(lstar_h5_file *f) {
    if (!f || --f->refs > 0) return;
    if (f->fid >= 0) H5Fclose(f->fid);
    lstar_free(f->path);
    lstar_free(f);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- files ------------------------------------------------------------------- */

lstar_status lstar_h5_open_with(const char *path, unsigned flags, const lstar_h5_open_opts *opts,
                                lstar_h5_file **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_h5_file *f = NULL;
    hid_t fapl = -1, fcpl = -1, cpl = -1;
    h5_guard g;
    if (out) *out = NULL;
    if (!path || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "lstar_h5_open: NULL argument");
    uint64_t ub = opts ? opts->userblock : 0;
    if (ub && (ub < 512 || (ub & (ub - 1))))
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "userblock %llu is not a power of two >= 512",
                          (unsigned long long)ub);
    int create = (flags & LSTAR_H5_CREATE) != 0;
    if (!create && !file_exists(path))
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, path, "no such file: %s", strerror(errno));
    if (create && !(flags & LSTAR_H5_TRUNCATE) && file_exists(path))
        return LSTAR_FAIL(err, LSTAR_ERR_EXISTS, path, "file exists (pass LSTAR_H5_TRUNCATE to overwrite)");
    h5_enter(&g);
    f = lstar_calloc(1, sizeof *f);
    if (!f || !(f->path = lstar_strdup(path))) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    f->fid = -1;
    f->refs = 1;
    int own_fapl = !(opts && opts->fapl > 0);
    if ((fapl = own_fapl ? H5Pcreate(H5P_FILE_ACCESS) : H5Pcopy((hid_t)opts->fapl)) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, path, "cannot create a file access list");
        goto done;
    }
    if (create) {
        H5F_libver_t low = (flags & LSTAR_H5_LIBVER_LATEST) ? H5F_LIBVER_LATEST : H5F_LIBVER_EARLIEST;
        if ((own_fapl && H5Pset_libver_bounds(fapl, low, H5F_LIBVER_LATEST) < 0) ||
            (fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
            (ub && H5Pset_userblock(fcpl, (hsize_t)ub) < 0) ||
            ((flags & LSTAR_H5_TRACK_ORDER) &&
             (H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
              H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0))) {
            st = h5_fail(err, LSTAR_ERR_INVALID_ARG, path, "cannot set up file creation");
            goto done;
        }
        f->fid = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl);
        if (f->fid < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, path, "cannot create HDF5 file");
            goto done;
        }
        f->writable = 1;
    } else {
        unsigned acc = (flags & LSTAR_H5_WRITE) ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
        f->fid = H5Fopen(path, acc, fapl);
        if (f->fid < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, path, "cannot open HDF5 file");
            goto done;
        }
        f->writable = (flags & LSTAR_H5_WRITE) != 0;
    }
    hsize_t ubs = 0;
    if ((cpl = H5Fget_create_plist(f->fid)) < 0 || H5Pget_userblock(cpl, &ubs) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, path, "cannot read the file creation properties");
        goto done;
    }
    f->userblock = ubs;
    *out = f;
    f = NULL;
done:
    if (cpl >= 0) H5Pclose(cpl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f) h5i_file_unref(f);
    h5_leave(&g);
    return st;
}

lstar_status lstar_h5_open(const char *path, unsigned flags, lstar_h5_file **out, lstar_error *err) {
    return lstar_h5_open_with(path, flags, NULL, out, err);
}

void lstar_h5_close(lstar_h5_file *f) {
    h5_guard g;
    if (!f) return;
    h5_enter(&g);
    h5i_file_unref(f);
    h5_leave(&g);
}

lstar_status lstar_h5_flush(lstar_h5_file *f, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    h5_guard g;
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "file is NULL");
    h5_enter(&g);
    if (H5Fflush(f->fid, H5F_SCOPE_GLOBAL) < 0) st = h5_fail(err, LSTAR_ERR_IO, f->path, "flush failed");
    h5_leave(&g);
    return st;
}

uint64_t lstar_h5_userblock(const lstar_h5_file *f) { return f ? f->userblock : 0; }
const char *lstar_h5_path(const lstar_h5_file *f) { return f ? f->path : NULL; }

/* ---- nodes -------------------------------------------------------------------------- */

/* Does every link along `abs` exist (lock held)?  Errors are swallowed. */
static int links_exist(hid_t fid, const char *abs) {
    char buf[LSTAR_MAX_KEY_BYTES];
    size_t n = strlen(abs);
    if (n >= sizeof buf) return 0;
    memcpy(buf, abs, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            htri_t e = H5Lexists(fid, buf, H5P_DEFAULT);
            buf[i] = c;
            if (e <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
        }
    }
    return 1;
}

lstar_h5_node_type h5i_node_type(hid_t fid, const char *abs) {
    H5O_info_t oi;
    if (strcmp(abs, "/") != 0 && !links_exist(fid, abs)) return LSTAR_H5_NODE_NONE;
    if (H5Oget_info_by_name2(fid, abs, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
        H5Eclear2(H5E_DEFAULT); /* dangling soft/external link */
        return LSTAR_H5_NODE_NONE;
    }
    switch (oi.type) {
    case H5O_TYPE_GROUP:
        return LSTAR_H5_NODE_GROUP;
    case H5O_TYPE_DATASET:
        return LSTAR_H5_NODE_DATASET;
    default:
        return LSTAR_H5_NODE_OTHER;
    }
}

lstar_status lstar_h5_node_type_at(lstar_h5_file *f, const char *path, lstar_h5_node_type *type,
                                   lstar_error *err) {
    h5_guard g;
    if (type) *type = LSTAR_H5_NODE_NONE;
    if (!f || !type) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_node_type_at: NULL argument");
    char *abs = h5i_abspath(path);
    if (!abs) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    *type = h5i_node_type(f->fid, abs);
    h5_leave(&g);
    lstar_free(abs);
    return LSTAR_OK;
}

typedef struct names_ud {
    lstar_strings *names;
    lstar_status st;
    lstar_error *err;
} names_ud;

static herr_t link_name_cb(hid_t loc, const char *name, const H5L_info_t *info, void *ud) {
    names_ud *u = ud;
    (void)loc;
    (void)info;
    u->st = lstar_strings_append(u->names, name, strlen(name), u->err);
    return u->st == LSTAR_OK ? 0 : -1;
}

static herr_t attr_name_cb(hid_t loc, const char *name, const H5A_info_t *info, void *ud) {
    names_ud *u = ud;
    (void)loc;
    (void)info;
    u->st = lstar_strings_append(u->names, name, strlen(name), u->err);
    return u->st == LSTAR_OK ? 0 : -1;
}

/* Open the object at `abs` (lock held); NOT_FOUND when absent. */
static lstar_status open_object(lstar_h5_file *f, const char *abs, hid_t *oid, lstar_error *err) {
    *oid = -1;
    if (strcmp(abs, "/") != 0 && !links_exist(f->fid, abs))
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such object");
    *oid = H5Oopen(f->fid, abs, H5P_DEFAULT);
    if (*oid < 0) return h5_fail(err, LSTAR_ERR_NOT_FOUND, abs, "cannot open object");
    return LSTAR_OK;
}

lstar_status lstar_h5_list_children(lstar_h5_file *f, const char *path, lstar_strings *names, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t gid = -1, gcpl = -1;
    h5_guard g;
    char *abs = NULL;
    if (names) memset(names, 0, sizeof *names);
    if (!f || !names) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_list_children: NULL argument");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    LSTAR_CHECK(lstar_strings_init(names, err));
    if (h5i_node_type(f->fid, abs) != LSTAR_H5_NODE_GROUP) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no group at this path");
        goto done;
    }
    if ((gid = H5Gopen2(f->fid, abs, H5P_DEFAULT)) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot open group");
        goto done;
    }
    unsigned crt = 0;
    if ((gcpl = H5Gget_create_plist(gid)) < 0 || H5Pget_link_creation_order(gcpl, &crt) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot read group creation properties");
        goto done;
    }
    names_ud u = {names, LSTAR_OK, err};
    hsize_t pos = 0;
    herr_t r = -1;
    if (crt & H5P_CRT_ORDER_TRACKED) {
        /* Tracked but not indexed works for compact groups only: fall back to names. */
        r = H5Literate(gid, H5_INDEX_CRT_ORDER, H5_ITER_INC, &pos, link_name_cb, &u);
        if (r < 0 && u.st != LSTAR_OK) {
            st = u.st;
            goto done;
        }
        if (r < 0) {
            H5Eclear2(H5E_DEFAULT);
            lstar_strings_destroy(names);
            LSTAR_CHECK(lstar_strings_init(names, err));
            pos = 0;
        }
    }
    if (r < 0 && H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, &pos, link_name_cb, &u) < 0) {
        st = u.st != LSTAR_OK ? u.st : h5_fail(err, LSTAR_ERR_IO, abs, "cannot list group members");
        goto done;
    }
done:
    if (gcpl >= 0) H5Pclose(gcpl);
    if (gid >= 0) H5Gclose(gid);
    h5_leave(&g);
    if (st != LSTAR_OK) lstar_strings_destroy(names);
    lstar_free(abs);
    return st;
}

static hid_t utf8_lcpl(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl >= 0 && H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) < 0) {
        H5Pclose(lcpl);
        return -1;
    }
    return lcpl;
}

lstar_status lstar_h5_create_group(lstar_h5_file *f, const char *path, unsigned flags, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t gcpl = -1, lcpl = -1, gid = -1;
    h5_guard g;
    char *abs = NULL;
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "file is NULL");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (!f->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, abs, "file is open read-only");
        goto done;
    }
    if (h5i_node_type(f->fid, abs) != LSTAR_H5_NODE_NONE) {
        st = LSTAR_FAIL(err, LSTAR_ERR_EXISTS, abs, "an object exists at this path");
        goto done;
    }
    if ((gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 || (lcpl = utf8_lcpl()) < 0 ||
        ((flags & LSTAR_H5_TRACK_ORDER) &&
         (H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0 ||
          H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) < 0))) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, abs, "cannot set up group creation");
        goto done;
    }
    if ((gid = H5Gcreate2(f->fid, abs, lcpl, gcpl, H5P_DEFAULT)) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot create group");
        goto done;
    }
done:
    if (gid >= 0) H5Gclose(gid);
    if (gcpl >= 0) H5Pclose(gcpl);
    if (lcpl >= 0) H5Pclose(lcpl);
    h5_leave(&g);
    lstar_free(abs);
    return st;
}

lstar_status lstar_h5_delete(lstar_h5_file *f, const char *path, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    h5_guard g;
    char *abs = NULL;
    if (!f) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "file is NULL");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (!f->writable)
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, abs, "file is open read-only");
    else if (strcmp(abs, "/") == 0 || !links_exist(f->fid, abs))
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such link");
    else if (H5Ldelete(f->fid, abs, H5P_DEFAULT) < 0)
        st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot delete link");
    h5_leave(&g);
    lstar_free(abs);
    return st;
}

/* ---- attributes: reading ---------------------------------------------------------- */

typedef struct attr_ctx {
    char *abs;
    hid_t aid, ftype, space;
    int rank;       /* -1 null dataspace */
    uint64_t nelems;
    hsize_t dims[LSTAR_MAX_RANK];
} attr_ctx;

static void attr_ctx_close(attr_ctx *a) {
    if (a->space >= 0) H5Sclose(a->space);
    if (a->ftype >= 0) H5Tclose(a->ftype);
    if (a->aid >= 0) H5Aclose(a->aid);
    a->space = a->ftype = a->aid = -1;
}

/* Open attribute `name` of `abs` (lock held). */
static lstar_status attr_open(lstar_h5_file *f, const char *abs, const char *name, attr_ctx *a, lstar_error *err) {
    a->aid = a->ftype = a->space = -1;
    a->abs = (char *)abs;
    if (!name) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, abs, "attribute name is NULL");
    if (strcmp(abs, "/") != 0 && !links_exist(f->fid, abs))
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such object");
    htri_t ex = H5Aexists_by_name(f->fid, abs, name, H5P_DEFAULT);
    if (ex < 0) return h5_fail(err, LSTAR_ERR_NOT_FOUND, abs, "cannot look up attribute '%s'", name);
    if (ex == 0) return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no attribute '%s'", name);
    if ((a->aid = H5Aopen_by_name(f->fid, abs, name, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return h5_fail(err, LSTAR_ERR_IO, abs, "cannot open attribute '%s'", name);
    if ((a->ftype = H5Aget_type(a->aid)) < 0 || (a->space = H5Aget_space(a->aid)) < 0)
        return h5_fail(err, LSTAR_ERR_FORMAT, abs, "cannot read the type of attribute '%s'", name);
    H5S_class_t sc = H5Sget_simple_extent_type(a->space);
    if (sc == H5S_NULL) {
        a->rank = -1;
        a->nelems = 0;
        return LSTAR_OK;
    }
    int r = H5Sget_simple_extent_ndims(a->space);
    if (r < 0 || r > LSTAR_MAX_RANK)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, abs, "attribute '%s' has an unreadable dataspace", name);
    a->rank = r;
    H5Sget_simple_extent_dims(a->space, a->dims, NULL);
    uint64_t n = 1;
    for (int d = 0; d < r; d++) {
        if (a->dims[d] && n > UINT64_MAX / a->dims[d])
            return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, abs, "attribute '%s' shape overflows", name);
        n *= a->dims[d];
    }
    a->nelems = n;
    return LSTAR_OK;
}

/* Start a public attribute read: take the lock, normalise `path` (kept in a->abs) and open attribute
 * `name`.  Always pair with attr_end, also after a failure. */
static lstar_status attr_begin(lstar_h5_file *f, const char *path, const char *name, attr_ctx *a, h5_guard *g,
                               lstar_error *err) {
    *a = (attr_ctx){NULL, -1, -1, -1, 0, 0, {0}};
    h5_enter(g);
    char *abs = h5i_abspath(path);
    if (!abs) return LSTAR_NOMEM(err, path);
    lstar_status st = attr_open(f, abs, name, a, err);
    a->abs = abs;
    return st;
}

/* Close what attr_begin opened and release the lock. */
static void attr_end(attr_ctx *a, h5_guard *g) {
    attr_ctx_close(a);
    h5_leave(g);
    lstar_free(a->abs);
    a->abs = NULL;
}

static lstar_h5_attr_class attr_class_of(hid_t t) {
    switch (H5Tget_class(t)) {
    case H5T_STRING:
        return LSTAR_H5_ATTR_STRING;
    case H5T_INTEGER:
        return LSTAR_H5_ATTR_INTEGER;
    case H5T_FLOAT:
        return LSTAR_H5_ATTR_FLOAT;
    case H5T_ENUM:
        return h5i_is_bool_enum(t) ? LSTAR_H5_ATTR_BOOL : LSTAR_H5_ATTR_ENUM;
    case H5T_REFERENCE:
        return LSTAR_H5_ATTR_REFERENCE;
    case H5T_COMPOUND:
        return LSTAR_H5_ATTR_COMPOUND;
    default:
        return LSTAR_H5_ATTR_OTHER;
    }
}

lstar_status lstar_h5_attr_names(lstar_h5_file *f, const char *path, lstar_strings *names, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t oid = -1;
    h5_guard g;
    char *abs = NULL;
    if (names) memset(names, 0, sizeof *names);
    if (!f || !names) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_names: NULL argument");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    LSTAR_CHECK(lstar_strings_init(names, err));
    LSTAR_CHECK(open_object(f, abs, &oid, err));
    names_ud u = {names, LSTAR_OK, err};
    hsize_t pos = 0;
    /* Creation order when it is indexed, else name order. */
    if (H5Aiterate2(oid, H5_INDEX_CRT_ORDER, H5_ITER_INC, &pos, attr_name_cb, &u) < 0) {
        if (u.st != LSTAR_OK) {
            st = u.st;
            goto done;
        }
        H5Eclear2(H5E_DEFAULT);
        lstar_strings_destroy(names);
        LSTAR_CHECK(lstar_strings_init(names, err));
        pos = 0;
        if (H5Aiterate2(oid, H5_INDEX_NAME, H5_ITER_INC, &pos, attr_name_cb, &u) < 0) {
            st = u.st != LSTAR_OK ? u.st : h5_fail(err, LSTAR_ERR_IO, abs, "cannot list attributes");
            goto done;
        }
    }
done:
    if (oid >= 0) H5Oclose(oid);
    h5_leave(&g);
    if (st != LSTAR_OK) lstar_strings_destroy(names);
    lstar_free(abs);
    return st;
}

lstar_status lstar_h5_attr_exists(lstar_h5_file *f, const char *path, const char *name, int *exists,
                                  lstar_error *err) {
    lstar_status st = LSTAR_OK;
    h5_guard g;
    char *abs = NULL;
    if (exists) *exists = 0;
    if (!f || !name || !exists) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_exists: NULL argument");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (strcmp(abs, "/") != 0 && !links_exist(f->fid, abs)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such object");
    } else {
        htri_t e = H5Aexists_by_name(f->fid, abs, name, H5P_DEFAULT);
        if (e < 0)
            st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot look up attribute '%s'", name);
        else
            *exists = e > 0;
    }
    h5_leave(&g);
    lstar_free(abs);
    return st;
}

lstar_status lstar_h5_attr_get_info(lstar_h5_file *f, const char *path, const char *name, lstar_h5_attr_info *info,
                                    lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    h5_guard g;
    if (info) memset(info, 0, sizeof *info);
    if (!f || !info) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_get_info: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    info->cls = attr_class_of(a.ftype);
    info->rank = a.rank;
    info->nelems = a.nelems;
    for (int d = 0; d < a.rank; d++) info->shape[d] = a.dims[d];
    info->itemsize = H5Tget_size(a.ftype);
    if (info->cls == LSTAR_H5_ATTR_INTEGER) info->is_signed = H5Tget_sign(a.ftype) == H5T_SGN_2;
done:
    attr_end(&a, &g);
    return st;
}

/* Read all items of a string attribute into `out` (initialised). Lock held. */
static lstar_status attr_strings_locked(attr_ctx *a, const char *name, lstar_strings *out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t mt = -1;
    void *buf = NULL;
    int vlen_read = 0;
    if (a->nelems == 0) return LSTAR_OK; /* h5py writes [] as an empty float64 array */
    if (H5Tget_class(a->ftype) != H5T_STRING)
        return LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a->abs, "attribute '%s' is not a string", name);
    if (a->nelems > LSTAR_MAX_STRING_ITEMS)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->abs, "attribute '%s' has too many strings", name);
    size_t n = (size_t)a->nelems;
    H5T_cset_t cset = H5Tget_cset(a->ftype);
    htri_t isv = H5Tis_variable_str(a->ftype);
    if (isv > 0) {
        if ((mt = h5i_vlen_str_type(cset)) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, a->abs, "cannot build a string type");
            goto done;
        }
        buf = lstar_calloc(n, sizeof(char *));
        if (!buf) {
            st = LSTAR_NOMEM(err, a->abs);
            goto done;
        }
        if (H5Aread(a->aid, mt, buf) < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, a->abs, "cannot read attribute '%s'", name);
            goto done;
        }
        vlen_read = 1;
        char **p = buf;
        for (size_t i = 0; i < n; i++) {
            size_t len = p[i] ? strlen(p[i]) : 0;
            if (len > LSTAR_MAX_STRING_BYTES) {
                st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->abs, "attribute '%s': string too long", name);
                goto done;
            }
            LSTAR_CHECK(lstar_strings_append(out, p[i] ? p[i] : "", len, err));
        }
    } else {
        size_t sz = H5Tget_size(a->ftype);
        int pad = (int)H5Tget_strpad(a->ftype);
        if (sz == 0 || sz > LSTAR_MAX_STRING_BYTES || n > LSTAR_MAX_CHUNK_BYTES / sz) {
            st = LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->abs, "attribute '%s' is too large", name);
            goto done;
        }
        if ((mt = H5Tcopy(a->ftype)) < 0) {
            st = h5_fail(err, LSTAR_ERR_INTERNAL, a->abs, "cannot copy a string type");
            goto done;
        }
        buf = lstar_malloc(n * sz);
        if (!buf) {
            st = LSTAR_NOMEM(err, a->abs);
            goto done;
        }
        if (H5Aread(a->aid, mt, buf) < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, a->abs, "cannot read attribute '%s'", name);
            goto done;
        }
        const char *c = buf;
        for (size_t i = 0; i < n; i++)
            LSTAR_CHECK(lstar_strings_append(out, c + i * sz, h5i_fixed_len(c + i * sz, sz, pad), err));
    }
done:
    if (vlen_read) H5Dvlen_reclaim(mt, a->space, H5P_DEFAULT, buf);
    if (mt >= 0) H5Tclose(mt);
    lstar_free(buf);
    return st;
}

lstar_status lstar_h5_attr_read_strings(lstar_h5_file *f, const char *path, const char *name, lstar_strings *out,
                                        lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    h5_guard g;
    if (out) memset(out, 0, sizeof *out);
    if (!f || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_read_strings: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    LSTAR_CHECK(lstar_strings_init(out, err));
    LSTAR_CHECK(attr_strings_locked(&a, name, out, err));
done:
    attr_end(&a, &g);
    if (st != LSTAR_OK) lstar_strings_destroy(out);
    return st;
}

lstar_status lstar_h5_attr_read_string(lstar_h5_file *f, const char *path, const char *name, char **out,
                                       lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    lstar_strings s;
    h5_guard g;
    memset(&s, 0, sizeof s);
    if (out) *out = NULL;
    if (!f || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_read_string: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    LSTAR_CHECK(lstar_strings_init(&s, err));
    if (H5Tget_class(a.ftype) != H5T_STRING || a.nelems != 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a.abs, "attribute '%s' is not a single string", name);
        goto done;
    }
    LSTAR_CHECK(attr_strings_locked(&a, name, &s, err));
    size_t len;
    const char *p = lstar_strings_get(&s, 0, &len);
    *out = lstar_malloc(len + 1);
    if (!*out) {
        st = LSTAR_NOMEM(err, a.abs);
        goto done;
    }
    if (len) memcpy(*out, p, len);
    (*out)[len] = '\0';
done:
    attr_end(&a, &g);
    lstar_strings_destroy(&s);
    return st;
}

/* Read a numeric/bool/enum attribute as doubles or int64s (as_int). Lock held. */
static lstar_status attr_numbers_locked(attr_ctx *a, const char *name, int as_int, void **vals, size_t *n,
                                        lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t mt = -1, base = -1;
    void *buf = NULL, *res = NULL;
    *vals = NULL;
    *n = 0;
    if (a->nelems == 0) return LSTAR_OK;
    if (a->nelems > LSTAR_MAX_CHUNK_BYTES / 8)
        return LSTAR_FAIL(err, LSTAR_ERR_LIMIT, a->abs, "attribute '%s' is too large", name);
    size_t cnt = (size_t)a->nelems;
    H5T_class_t cls = H5Tget_class(a->ftype);
    res = lstar_malloc(cnt * 8);
    if (!res) return LSTAR_NOMEM(err, a->abs);
    if (cls == H5T_ENUM) {
        /* Enums convert only to enums: read the values through the native
         * enum, then widen its integer base. */
        if ((mt = H5Tget_native_type(a->ftype, H5T_DIR_ASCEND)) < 0 || (base = H5Tget_super(mt)) < 0) {
            st = h5_fail(err, LSTAR_ERR_FORMAT, a->abs, "attribute '%s': unreadable enum", name);
            goto done;
        }
        size_t bs = H5Tget_size(base);
        int sgn = H5Tget_sign(base) == H5T_SGN_2;
        if (h5i_int_dtype(bs, sgn) == LSTAR_DTYPE_INVALID) {
            st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, a->abs, "attribute '%s': %zu-byte enum", name, bs);
            goto done;
        }
        buf = lstar_malloc(cnt * bs);
        if (!buf) {
            st = LSTAR_NOMEM(err, a->abs);
            goto done;
        }
        if (H5Aread(a->aid, mt, buf) < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, a->abs, "cannot read attribute '%s'", name);
            goto done;
        }
        lstar_dtype_convert(h5i_int_dtype(bs, sgn), buf, as_int ? LSTAR_DTYPE_INT64 : LSTAR_DTYPE_FLOAT64, res, cnt);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        int read_int = as_int && cls == H5T_INTEGER;
        if (H5Aread(a->aid, read_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE, res) < 0) {
            st = h5_fail(err, LSTAR_ERR_IO, a->abs, "cannot read attribute '%s'", name);
            goto done;
        }
        if (as_int && !read_int) {
            double *dv = res;
            int64_t *iv = res;
            for (size_t i = 0; i < cnt; i++) {
                double v = dv[i];
                if (!(v >= -9.2233720368547758e18 && v < 9.2233720368547758e18) || (double)(int64_t)v != v) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a->abs, "attribute '%s' holds a non-integer %g", name, v);
                    goto done;
                }
                iv[i] = (int64_t)v;
            }
        }
    } else {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a->abs, "attribute '%s' is not numeric", name);
        goto done;
    }
    *vals = res;
    res = NULL;
    *n = cnt;
done:
    if (base >= 0) H5Tclose(base);
    if (mt >= 0) H5Tclose(mt);
    lstar_free(buf);
    lstar_free(res);
    return st;
}

static lstar_status attr_read_numbers(lstar_h5_file *f, const char *path, const char *name, int as_int, void **vals,
                                      size_t *n, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    h5_guard g;
    if (vals) *vals = NULL;
    if (n) *n = 0;
    if (!f || !vals || !n) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute read: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    LSTAR_CHECK(attr_numbers_locked(&a, name, as_int, vals, n, err));
done:
    attr_end(&a, &g);
    return st;
}

lstar_status lstar_h5_attr_read_i64(lstar_h5_file *f, const char *path, const char *name, int64_t **vals, size_t *n,
                                    lstar_error *err) {
    return attr_read_numbers(f, path, name, 1, (void **)vals, n, err);
}

lstar_status lstar_h5_attr_read_f64(lstar_h5_file *f, const char *path, const char *name, double **vals, size_t *n,
                                    lstar_error *err) {
    return attr_read_numbers(f, path, name, 0, (void **)vals, n, err);
}

lstar_status lstar_h5_attr_read_bool(lstar_h5_file *f, const char *path, const char *name, int *out,
                                     lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    h5_guard g;
    int64_t *v = NULL;
    size_t n = 0;
    if (out) *out = 0;
    if (!f || !out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_read_bool: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    H5T_class_t cls = H5Tget_class(a.ftype);
    if ((cls != H5T_INTEGER && !(cls == H5T_ENUM && h5i_is_bool_enum(a.ftype))) || a.nelems != 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a.abs, "attribute '%s' is not a single bool", name);
        goto done;
    }
    LSTAR_CHECK(attr_numbers_locked(&a, name, 1, (void **)&v, &n, err));
    *out = v[0] != 0;
done:
    lstar_free(v);
    attr_end(&a, &g);
    return st;
}

lstar_status lstar_h5_attr_read_ref(lstar_h5_file *f, const char *path, const char *name, char **target,
                                    lstar_error *err) {
    lstar_status st = LSTAR_OK;
    attr_ctx a;
    hid_t oid = -1;
    h5_guard g;
    hobj_ref_t ref;
    if (target) *target = NULL;
    if (!f || !target) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_read_ref: NULL argument");
    LSTAR_CHECK(attr_begin(f, path, name, &a, &g, err));
    if (H5Tget_class(a.ftype) != H5T_REFERENCE || H5Tequal(a.ftype, H5T_STD_REF_OBJ) <= 0 || a.nelems != 1) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a.abs, "attribute '%s' is not a single object reference", name);
        goto done;
    }
    if (H5Aread(a.aid, H5T_STD_REF_OBJ, &ref) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, a.abs, "cannot read attribute '%s'", name);
        goto done;
    }
    if ((oid = H5Rdereference2(f->fid, H5P_DEFAULT, H5R_OBJECT, &ref)) < 0) {
        st = h5_fail(err, LSTAR_ERR_FORMAT, a.abs, "attribute '%s': dangling object reference", name);
        goto done;
    }
    ssize_t len = H5Iget_name(oid, NULL, 0);
    if (len <= 0 || len >= LSTAR_MAX_KEY_BYTES) {
        st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, a.abs, "attribute '%s': the referenced object has no usable path", name);
        goto done;
    }
    *target = lstar_malloc((size_t)len + 1);
    if (!*target) {
        st = LSTAR_NOMEM(err, a.abs);
        goto done;
    }
    if (H5Iget_name(oid, *target, (size_t)len + 1) < 0) {
        st = h5_fail(err, LSTAR_ERR_IO, a.abs, "cannot name the object referenced by '%s'", name);
        lstar_free(*target);
        *target = NULL;
        goto done;
    }
done:
    if (oid >= 0) H5Oclose(oid);
    attr_end(&a, &g);
    return st;
}

/* ---- attributes: writing ----------------------------------------------------------------- */

/* Create attribute `name` on `abs` replacing any existing one and write
 * `data` through `mtype` (lock held). */
static lstar_status attr_write_locked(lstar_h5_file *f, const char *abs, const char *name, hid_t ftype, hid_t mtype,
                                      hid_t space, const void *data, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t aid = -1;
    if (!f->writable) return LSTAR_FAIL(err, LSTAR_ERR_READONLY, abs, "file is open read-only");
    if (strcmp(abs, "/") != 0 && !links_exist(f->fid, abs))
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such object");
    htri_t ex = H5Aexists_by_name(f->fid, abs, name, H5P_DEFAULT);
    if (ex < 0) return h5_fail(err, LSTAR_ERR_IO, abs, "cannot look up attribute '%s'", name);
    if (ex > 0 && H5Adelete_by_name(f->fid, abs, name, H5P_DEFAULT) < 0)
        return h5_fail(err, LSTAR_ERR_IO, abs, "cannot replace attribute '%s'", name);
    if ((aid = H5Acreate_by_name(f->fid, abs, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return h5_fail(err, LSTAR_ERR_IO, abs, "cannot create attribute '%s'", name);
    if (H5Awrite(aid, mtype, data) < 0) st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot write attribute '%s'", name);
    H5Aclose(aid);
    return st;
}

typedef enum { AW_STRING, AW_STRINGS, AW_I64, AW_F64, AW_BOOL } aw_kind;

static lstar_status attr_write(lstar_h5_file *f, const char *path, const char *name, aw_kind kind, const void *data,
                               size_t n, int rank, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    hid_t ftype = -1, mtype = -1, space = -1;
    h5_guard g;
    char *abs = NULL;
    char **ptrs = NULL;
    size_t nptrs = 0;
    const void *buf = data;
    if (!f || !name) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute write: NULL argument");
    if (rank != 0 && rank != 1) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute rank must be 0 or 1");
    if (rank == 0 && n != 1) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "a scalar attribute holds one value");
    if (n && !data) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute values are NULL");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (kind == AW_STRINGS) {
        const lstar_strings *s = data;
        if (n == 0) {
            kind = AW_F64; /* h5py writes [] as an empty float64 array */
            buf = NULL;
        } else {
            ptrs = lstar_calloc(n, sizeof *ptrs);
            if (!ptrs) {
                st = LSTAR_NOMEM(err, abs);
                goto done;
            }
            nptrs = n;
            for (size_t i = 0; i < n; i++) {
                size_t len;
                const char *p = lstar_strings_get(s, i, &len);
                if (!(ptrs[i] = lstar_malloc(len + 1))) {
                    st = LSTAR_NOMEM(err, abs);
                    goto done;
                }
                if (len) memcpy(ptrs[i], p, len);
                ptrs[i][len] = '\0';
            }
            buf = ptrs;
        }
    } else if (kind == AW_STRING) {
        buf = &data;
    }
    switch (kind) {
    case AW_STRING:
    case AW_STRINGS:
        ftype = h5i_vlen_str_type(H5T_CSET_UTF8);
        mtype = ftype >= 0 ? H5Tcopy(ftype) : -1;
        break;
    case AW_I64:
        ftype = H5Tcopy(H5T_STD_I64LE);
        mtype = H5Tcopy(H5T_NATIVE_INT64);
        break;
    case AW_F64:
        ftype = H5Tcopy(H5T_IEEE_F64LE);
        mtype = H5Tcopy(H5T_NATIVE_DOUBLE);
        break;
    case AW_BOOL:
        ftype = h5i_bool_type();
        mtype = ftype >= 0 ? H5Tcopy(ftype) : -1;
        break;
    }
    hsize_t dim = n;
    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    if (ftype < 0 || mtype < 0 || space < 0) {
        st = h5_fail(err, LSTAR_ERR_INTERNAL, abs, "cannot build the type of attribute '%s'", name);
        goto done;
    }
    static const double empty = 0;
    LSTAR_CHECK(attr_write_locked(f, abs, name, ftype, mtype, space, buf ? buf : &empty, err));
done:
    for (size_t i = 0; i < nptrs; i++) lstar_free(ptrs[i]);
    lstar_free(ptrs);
    if (space >= 0) H5Sclose(space);
    if (mtype >= 0) H5Tclose(mtype);
    if (ftype >= 0) H5Tclose(ftype);
    h5_leave(&g);
    lstar_free(abs);
    return st;
}

lstar_status lstar_h5_attr_write_string(lstar_h5_file *f, const char *path, const char *name, const char *value,
                                        lstar_error *err) {
    if (!value) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute value is NULL");
    return attr_write(f, path, name, AW_STRING, value, 1, 0, err);
}

lstar_status lstar_h5_attr_write_strings(lstar_h5_file *f, const char *path, const char *name,
                                         const lstar_strings *s, lstar_error *err) {
    if (!s) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "attribute strings are NULL");
    return attr_write(f, path, name, AW_STRINGS, s, s->n, 1, err);
}

lstar_status lstar_h5_attr_write_i64(lstar_h5_file *f, const char *path, const char *name, const int64_t *vals,
                                     size_t n, int rank, lstar_error *err) {
    return attr_write(f, path, name, AW_I64, vals, n, rank, err);
}

lstar_status lstar_h5_attr_write_f64(lstar_h5_file *f, const char *path, const char *name, const double *vals,
                                     size_t n, int rank, lstar_error *err) {
    return attr_write(f, path, name, AW_F64, vals, n, rank, err);
}

lstar_status lstar_h5_attr_write_bool(lstar_h5_file *f, const char *path, const char *name, int value,
                                      lstar_error *err) {
    signed char v = value ? 1 : 0;
    return attr_write(f, path, name, AW_BOOL, &v, 1, 0, err);
}

lstar_status lstar_h5_attr_delete(lstar_h5_file *f, const char *path, const char *name, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    h5_guard g;
    char *abs = NULL;
    if (!f || !name) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "lstar_h5_attr_delete: NULL argument");
    if (!(abs = h5i_abspath(path))) return LSTAR_NOMEM(err, path);
    h5_enter(&g);
    if (!f->writable) {
        st = LSTAR_FAIL(err, LSTAR_ERR_READONLY, abs, "file is open read-only");
    } else if (strcmp(abs, "/") != 0 && !links_exist(f->fid, abs)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no such object");
    } else {
        htri_t ex = H5Aexists_by_name(f->fid, abs, name, H5P_DEFAULT);
        if (ex < 0)
            st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot look up attribute '%s'", name);
        else if (ex == 0)
            st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, abs, "no attribute '%s'", name);
        else if (H5Adelete_by_name(f->fid, abs, name, H5P_DEFAULT) < 0)
            st = h5_fail(err, LSTAR_ERR_IO, abs, "cannot delete attribute '%s'", name);
    }
    h5_leave(&g);
    lstar_free(abs);
    return st;
}
