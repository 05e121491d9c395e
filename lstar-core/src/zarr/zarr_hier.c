/* Zarr hierarchies: open/create, node look-ups through consolidated metadata,
 * attributes, children, groups and writing consolidated metadata. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/json.h"
#include "lstar/alloc.h"
#include "store/store_internal.h"
#include "zarr/zarr_internal.h"

char *lstar_zarr_join(const char *path, const char *name) {
    size_t a = strlen(path), b = strlen(name);
    char *s = lstar_malloc(a + b + 2);
    if (!s) return NULL;
    if (a == 0) {
        memcpy(s, name, b + 1);
    } else if (b == 0) {
        memcpy(s, path, a + 1);
    } else {
        memcpy(s, path, a);
        s[a] = '/';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

char *lstar_zarr_meta_dump(int format, const json_t *doc) {
    return format == 2 ? lstar_json_dump_sorted(doc, 4) : lstar_json_dump(doc, 2);
}

/* Record key: v2 "<path>/<kind>", v3 "<path>". */
static char *record_key(const lstar_zarr *z, const char *path, const char *kind) {
    return z->format == 2 ? lstar_zarr_join(path, kind) : lstar_strdup(path);
}

static char *store_key(const lstar_zarr *z, const char *path, const char *kind) {
    return lstar_zarr_join(path, z->format == 2 ? kind : "zarr.json");
}

/* Look in the written record and the consolidated metadata only. */
static json_t *meta_lookup_mem(lstar_zarr *z, const char *rkey, const char *path) {
    json_t *v = NULL;
    pthread_mutex_lock(&z->mu);
    if (z->written) v = json_object_get(z->written, rkey);
    if (v) json_incref(v);
    pthread_mutex_unlock(&z->mu);
    if (v) return v;
    if (z->format == 3 && path[0] == '\0' && z->root_doc) return json_incref(z->root_doc);
    if (z->cons) {
        v = json_object_get(z->cons, rkey);
        if (v) return json_incref(v);
    }
    return NULL;
}

static lstar_status meta_get_ex(lstar_zarr *z, const char *path, const char *kind, int use_store, json_t **out,
                                lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *rkey = NULL, *skey = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    *out = NULL;
    rkey = record_key(z, path, kind);
    if (!rkey) return LSTAR_NOMEM(err, path);
    *out = meta_lookup_mem(z, rkey, path);
    if (*out) goto done;
    if (!use_store) {
        st = LSTAR_ERR_NOT_FOUND;
        goto done;
    }
    skey = store_key(z, path, kind);
    if (!skey) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    lstar_error e;
    lstar_error_clear(&e);
    st = lstar_store_get(z->store, skey, LSTAR_MAX_METADATA_BYTES, &data, &size, &e);
    if (st == LSTAR_ERR_NOT_FOUND) goto done;
    if (st != LSTAR_OK) {
        if (err) *err = e;
        goto done;
    }
    st = lstar_json_parse(data, size, skey, out, err);
done:
    lstar_free(data);
    lstar_free(rkey);
    lstar_free(skey);
    return st;
}

lstar_status lstar_zarr_meta_get(lstar_zarr *z, const char *path, const char *kind, json_t **out,
                                 lstar_error *err) {
    return meta_get_ex(z, path, kind, 1, out, err);
}

lstar_status lstar_zarr_meta_put(lstar_zarr *z, const char *path, const char *kind, json_t *doc,
                                 lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char *skey = store_key(z, path, kind), *rkey = record_key(z, path, kind), *text = NULL;
    json_t *copy = NULL;
    if (!skey || !rkey) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    text = lstar_zarr_meta_dump(z->format, doc);
    /* The record shares `doc`: callers never modify a document after putting it
     * (every modification starts from a deep copy). */
    copy = json_incref(doc);
    if (!text || !copy) {
        st = LSTAR_NOMEM(err, path);
        goto done;
    }
    LSTAR_CHECK(lstar_store_set(z->store, skey, text, strlen(text), err));
    pthread_mutex_lock(&z->mu);
    int rc = json_object_set_new(z->written, rkey, copy);
    pthread_mutex_unlock(&z->mu);
    copy = NULL;
    if (rc) st = LSTAR_NOMEM(err, path);
done:
    json_decref(copy);
    lstar_free(text);
    lstar_free(skey);
    lstar_free(rkey);
    return st;
}

/* Normalise a user node path into buf (LSTAR_MAX_KEY_BYTES + 1). */
static lstar_status norm_path(const char *path, char *buf, lstar_error *err) {
    return lstar_store_key_copy(path ? path : "", buf, 1, err);
}

/* ---- open / create ------------------------------------------------------ */

static lstar_status zarr_alloc(lstar_store *store, int format, lstar_zarr **out, lstar_error *err) {
    lstar_zarr *z = lstar_calloc(1, sizeof *z);
    if (!z) return LSTAR_NOMEM(err, NULL);
    z->store = store;
    z->format = format;
    z->written = json_object();
    pthread_mutex_init(&z->mu, NULL);
    if (!z->written) {
        lstar_zarr_close(z);
        return LSTAR_NOMEM(err, NULL);
    }
    *out = z;
    return LSTAR_OK;
}

static lstar_status get_json(lstar_store *store, const char *key, json_t **out, lstar_error *err) {
    uint8_t *data = NULL;
    size_t size = 0;
    lstar_error e;
    lstar_error_clear(&e);
    *out = NULL;
    lstar_status st = lstar_store_get(store, key, LSTAR_MAX_METADATA_BYTES, &data, &size, &e);
    if (st == LSTAR_ERR_NOT_FOUND) return st;
    if (st != LSTAR_OK) {
        if (err) *err = e;
        return st;
    }
    st = lstar_json_parse(data, size, key, out, err);
    lstar_free(data);
    return st;
}

lstar_status lstar_zarr_open(lstar_store *store, lstar_zarr **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr *z = NULL;
    json_t *doc = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    *out = NULL;
    if (!store) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store is NULL");
    st = get_json(store, "zarr.json", &doc, err);
    if (st == LSTAR_OK) {
        const json_t *zf = json_object_get(doc, "zarr_format");
        if (!json_is_object(doc) || !json_is_integer(zf) || json_integer_value(zf) != 3) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "zarr.json", "root zarr.json is not Zarr format 3 metadata");
            goto done;
        }
        LSTAR_CHECK(zarr_alloc(store, 3, &z, err));
        z->root_doc = doc;
        doc = NULL;
        const json_t *cm = json_object_get(z->root_doc, "consolidated_metadata");
        if (json_is_object(cm)) {
            const char *kind = lstar_json_str(cm, "kind");
            json_t *md = json_object_get(cm, "metadata");
            if ((kind && strcmp(kind, "inline") != 0) || !json_is_object(md)) {
                if (!json_is_false(json_object_get(cm, "must_understand"))) {
                    st = LSTAR_FAIL(err, LSTAR_ERR_UNSUPPORTED, "zarr.json", "unsupported consolidated_metadata");
                    goto done;
                }
            } else {
                z->cons = json_incref(md);
                z->consolidated = 1;
            }
        }
        goto ok;
    }
    if (st != LSTAR_ERR_NOT_FOUND) goto done;
    st = get_json(store, ".zmetadata", &doc, err);
    if (st == LSTAR_OK) {
        json_t *md = json_object_get(doc, "metadata");
        if (!json_is_object(doc) || !json_is_object(md)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, ".zmetadata", ".zmetadata lacks a \"metadata\" object");
            goto done;
        }
        LSTAR_CHECK(zarr_alloc(store, 2, &z, err));
        z->cons = json_incref(md);
        z->consolidated = 1;
        goto ok;
    }
    if (st != LSTAR_ERR_NOT_FOUND) goto done;
    st = LSTAR_OK;
    lstar_error e;
    lstar_error_clear(&e);
    if (lstar_store_exists(store, ".zgroup", &e) || lstar_store_exists(store, ".zarray", &e)) {
        LSTAR_CHECK(zarr_alloc(store, 2, &z, err));
        goto ok;
    }
    if (e.status != LSTAR_OK) {
        if (err) *err = e;
        st = e.status;
        goto done;
    }
    st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, "", "no Zarr hierarchy: the store root has no zarr.json, .zgroup, .zarray or .zmetadata");
    goto done;
ok:
    *out = z;
    z = NULL;
done:
    json_decref(doc);
    lstar_zarr_close(z);
    return st;
}

lstar_status lstar_zarr_create(lstar_store *store, int zarr_format, lstar_zarr **out, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    lstar_zarr *z = NULL;
    if (!out) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "out is NULL");
    *out = NULL;
    if (!store) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "store is NULL");
    if (zarr_format != 2 && zarr_format != 3)
        return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "zarr_format must be 2 or 3, not %d", zarr_format);
    if (!lstar_store_writable(store)) return LSTAR_FAIL(err, LSTAR_ERR_READONLY, NULL, "store is not writable");
    LSTAR_CHECK(zarr_alloc(store, zarr_format, &z, err));
    z->created = 1;
    LSTAR_CHECK(lstar_zarr_group_create(z, "", NULL, err));
    *out = z;
    z = NULL;
done:
    lstar_zarr_close(z);
    return st;
}

void lstar_zarr_close(lstar_zarr *z) {
    if (!z) return;
    json_decref(z->cons);
    json_decref(z->root_doc);
    json_decref(z->written);
    pthread_mutex_destroy(&z->mu);
    lstar_free(z);
}

int lstar_zarr_format(const lstar_zarr *z) { return z ? z->format : 0; }
int lstar_zarr_is_consolidated(const lstar_zarr *z) { return z ? z->consolidated : 0; }
lstar_store *lstar_zarr_get_store(const lstar_zarr *z) { return z ? z->store : NULL; }

/* ---- nodes -------------------------------------------------------------- */

static lstar_zarr_node v3_node_kind(const json_t *doc) {
    const char *nt = lstar_json_str(doc, "node_type");
    if (nt && strcmp(nt, "array") == 0) return LSTAR_ZARR_ARRAY;
    if (nt && strcmp(nt, "group") == 0) return LSTAR_ZARR_GROUP;
    return LSTAR_ZARR_NONE;
}

static lstar_zarr_node node_type_norm(lstar_zarr *z, const char *p, lstar_error *err) {
    json_t *doc = NULL;
    lstar_status st;
    if (z->format == 3) {
        st = lstar_zarr_meta_get(z, p, NULL, &doc, err);
        if (st != LSTAR_OK) return LSTAR_ZARR_NONE;
        lstar_zarr_node k = v3_node_kind(doc);
        json_decref(doc);
        if (k == LSTAR_ZARR_NONE) LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "zarr.json has no valid node_type");
        return k;
    }
    for (int use_store = 0; use_store <= 1; use_store++) {
        st = meta_get_ex(z, p, ".zarray", use_store, &doc, err);
        if (st == LSTAR_OK) {
            json_decref(doc);
            return LSTAR_ZARR_ARRAY;
        }
        if (st != LSTAR_ERR_NOT_FOUND) return LSTAR_ZARR_NONE;
        st = meta_get_ex(z, p, ".zgroup", use_store, &doc, err);
        if (st == LSTAR_OK) {
            json_decref(doc);
            return LSTAR_ZARR_GROUP;
        }
        if (st != LSTAR_ERR_NOT_FOUND) return LSTAR_ZARR_NONE;
    }
    return LSTAR_ZARR_NONE;
}

lstar_zarr_node lstar_zarr_node_type(lstar_zarr *z, const char *path, lstar_error *err) {
    char p[LSTAR_MAX_KEY_BYTES + 1];
    if (!z) return LSTAR_ZARR_NONE;
    if (norm_path(path, p, err) != LSTAR_OK) return LSTAR_ZARR_NONE;
    return node_type_norm(z, p, err);
}

lstar_status lstar_zarr_check_parent(lstar_zarr *z, const char *p, lstar_error *err) {
    if (!p[0]) return LSTAR_OK;
    char parent[LSTAR_MAX_KEY_BYTES + 1];
    strcpy(parent, p);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    else parent[0] = '\0';
    lstar_error e;
    lstar_error_clear(&e);
    if (node_type_norm(z, parent, &e) != LSTAR_ZARR_GROUP)
        return LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, p, "parent group \"%s\" does not exist", parent);
    return LSTAR_OK;
}

lstar_status lstar_zarr_get_attrs(lstar_zarr *z, const char *path, char **json, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    json_t *doc = NULL;
    if (!z || !json) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    *json = NULL;
    LSTAR_CHECK(norm_path(path, p, err));
    if (z->format == 3) {
        st = lstar_zarr_meta_get(z, p, NULL, &doc, err);
        if (st == LSTAR_ERR_NOT_FOUND) st = LSTAR_FAIL(err, st, p, "no group or array here");
        if (st != LSTAR_OK) goto done;
        json_t *attrs = json_object_get(doc, "attributes");
        if (attrs && !json_is_object(attrs)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, "\"attributes\" is not an object");
            goto done;
        }
        *json = attrs ? lstar_json_dump(attrs, 0) : lstar_strdup("{}");
    } else {
        lstar_error e;
        lstar_error_clear(&e);
        if (node_type_norm(z, p, &e) == LSTAR_ZARR_NONE) {
            st = e.status != LSTAR_OK ? e.status : LSTAR_ERR_NOT_FOUND;
            if (e.status != LSTAR_OK && err) *err = e;
            else LSTAR_FAIL(err, st, p, "no group or array here");
            goto done;
        }
        st = lstar_zarr_meta_get(z, p, ".zattrs", &doc, err);
        if (st == LSTAR_ERR_NOT_FOUND) {
            st = LSTAR_OK;
            *json = lstar_strdup("{}");
        } else if (st != LSTAR_OK) {
            goto done;
        } else {
            if (!json_is_object(doc)) {
                st = LSTAR_FAIL(err, LSTAR_ERR_FORMAT, p, ".zattrs is not a JSON object");
                goto done;
            }
            *json = lstar_json_dump(doc, 0);
        }
    }
    if (!*json) st = LSTAR_NOMEM(err, p);
done:
    json_decref(doc);
    return st;
}

lstar_status lstar_zarr_set_attrs(lstar_zarr *z, const char *path, const char *json, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    json_t *attrs = NULL, *doc = NULL, *copy = NULL;
    if (!z || !json) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    LSTAR_CHECK(norm_path(path, p, err));
    LSTAR_CHECK(lstar_json_parse(json, strlen(json), p, &attrs, err));
    if (!json_is_object(attrs)) {
        st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, p, "attributes must be a JSON object");
        goto done;
    }
    if (z->format == 3) {
        st = lstar_zarr_meta_get(z, p, NULL, &doc, err);
        if (st == LSTAR_ERR_NOT_FOUND) st = LSTAR_FAIL(err, st, p, "no group or array here");
        if (st != LSTAR_OK) goto done;
        copy = json_deep_copy(doc);
        if (!copy || json_object_set(copy, "attributes", attrs)) {
            st = LSTAR_NOMEM(err, p);
            goto done;
        }
        st = lstar_zarr_meta_put(z, p, NULL, copy, err);
    } else {
        lstar_error e;
        lstar_error_clear(&e);
        if (node_type_norm(z, p, &e) == LSTAR_ZARR_NONE) {
            st = LSTAR_FAIL(err, LSTAR_ERR_NOT_FOUND, p, "no group or array here");
            goto done;
        }
        st = lstar_zarr_meta_put(z, p, ".zattrs", attrs, err);
    }
done:
    json_decref(attrs);
    json_decref(doc);
    json_decref(copy);
    return st;
}

lstar_status lstar_zarr_group_create(lstar_zarr *z, const char *path, const char *attrs_json, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    json_t *attrs = NULL, *doc = NULL;
    if (!z) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    LSTAR_CHECK(norm_path(path, p, err));
    if (attrs_json) {
        LSTAR_CHECK(lstar_json_parse(attrs_json, strlen(attrs_json), p, &attrs, err));
        if (!json_is_object(attrs)) {
            st = LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, p, "attributes must be a JSON object");
            goto done;
        }
    }
    LSTAR_CHECK(lstar_zarr_check_parent(z, p, err));
    doc = json_object();
    if (!doc) goto nomem;
    if (z->format == 2) {
        if (json_object_set_new(doc, "zarr_format", json_integer(2))) goto nomem;
        LSTAR_CHECK(lstar_zarr_meta_put(z, p, ".zgroup", doc, err));
        if (attrs) LSTAR_CHECK(lstar_zarr_meta_put(z, p, ".zattrs", attrs, err));
    } else {
        if (json_object_set_new(doc, "attributes", attrs ? json_incref(attrs) : json_object()) ||
            json_object_set_new(doc, "zarr_format", json_integer(3)) ||
            json_object_set_new(doc, "node_type", json_string("group")))
            goto nomem;
        LSTAR_CHECK(lstar_zarr_meta_put(z, p, NULL, doc, err));
    }
    goto done;
nomem:
    st = LSTAR_NOMEM(err, p);
done:
    json_decref(attrs);
    json_decref(doc);
    return st;
}

/* ---- children ----------------------------------------------------------- */

typedef struct name_set {
    char **v;
    size_t n, cap;
    int oom;
} name_set;

static void names_add(name_set *s, const char *name, size_t len) {
    if (s->oom) return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        char **nv = lstar_realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            s->oom = 1;
            return;
        }
        s->v = nv;
        s->cap = nc;
    }
    char *c = lstar_malloc(len + 1);
    if (!c) {
        s->oom = 1;
        return;
    }
    memcpy(c, name, len);
    c[len] = '\0';
    s->v[s->n++] = c;
}

static void names_free(name_set *s) {
    for (size_t i = 0; i < s->n; i++) lstar_free(s->v[i]);
    lstar_free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Add children of `p` found among the keys of a record/consolidated map. */
static void scan_map(const lstar_zarr *z, const json_t *map, const char *p, name_set *s) {
    size_t plen = strlen(p);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)map, key, val) {
        const char *rest = key;
        if (plen) {
            if (strncmp(key, p, plen) != 0 || key[plen] != '/') continue;
            rest = key + plen + 1;
        }
        const char *slash = strchr(rest, '/');
        if (z->format == 3) {
            if (!rest[0] || slash) continue;
            names_add(s, rest, strlen(rest));
        } else {
            if (!slash || slash == rest) continue;
            if (strcmp(slash + 1, ".zarray") != 0 && strcmp(slash + 1, ".zgroup") != 0) continue;
            names_add(s, rest, (size_t)(slash - rest));
        }
    }
}

static int collect_cb(void *ud, const char *key) {
    name_set *s = ud;
    names_add(s, key, strlen(key));
    return s->oom;
}

lstar_status lstar_zarr_list_children(lstar_zarr *z, const char *path, lstar_store_list_cb cb, void *ud,
                                      lstar_error *err) {
    lstar_status st = LSTAR_OK;
    char p[LSTAR_MAX_KEY_BYTES + 1];
    name_set s = {0}, cand = {0};
    char *child = NULL;
    if (!z || !cb) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, path, "invalid arguments");
    LSTAR_CHECK(norm_path(path, p, err));
    if (z->cons) {
        scan_map(z, z->cons, p, &s);
    } else {
        LSTAR_CHECK(lstar_store_list_dir(z->store, p, collect_cb, &cand, err));
        if (cand.oom) goto nomem;
        for (size_t i = 0; i < cand.n; i++) {
            child = lstar_zarr_join(p, cand.v[i]);
            if (!child) goto nomem;
            lstar_error e;
            lstar_error_clear(&e);
            if (node_type_norm(z, child, &e) != LSTAR_ZARR_NONE) names_add(&s, cand.v[i], strlen(cand.v[i]));
            lstar_free(child);
            child = NULL;
        }
    }
    pthread_mutex_lock(&z->mu);
    scan_map(z, z->written, p, &s);
    pthread_mutex_unlock(&z->mu);
    if (s.oom) goto nomem;
    if (s.n) qsort(s.v, s.n, sizeof *s.v, cmp_str);
    for (size_t i = 0; i < s.n; i++) {
        if (i && strcmp(s.v[i], s.v[i - 1]) == 0) continue;
        if (cb(ud, s.v[i])) break;
    }
    goto done;
nomem:
    st = LSTAR_NOMEM(err, p);
done:
    lstar_free(child);
    names_free(&s);
    names_free(&cand);
    return st;
}

/* ---- consolidation ------------------------------------------------------ */


static int meta_key_cb(void *ud, const char *key) {
    name_set *s = ud;
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    if (strcmp(base, ".zarray") == 0 || strcmp(base, ".zgroup") == 0 || strcmp(base, ".zattrs") == 0 ||
        strcmp(base, "zarr.json") == 0)
        names_add(s, key, strlen(key));
    return s->oom;
}

lstar_status lstar_zarr_consolidate(lstar_zarr *z, lstar_error *err) {
    lstar_status st = LSTAR_OK;
    json_t *md = NULL, *doc = NULL, *root = NULL, *cm = NULL;
    name_set keys = {0};
    if (!z) return LSTAR_FAIL(err, LSTAR_ERR_INVALID_ARG, NULL, "invalid arguments");
    md = json_object();
    if (!md) goto nomem;
    if (!z->created) {
        /* Metadata this handle did not write: read it from the store. */
        LSTAR_CHECK(lstar_store_list(z->store, "", meta_key_cb, &keys, err));
        if (keys.oom) goto nomem;
        for (size_t i = 0; i < keys.n; i++) {
            const char *k = keys.v[i];
            const char *base = strrchr(k, '/');
            base = base ? base + 1 : k;
            if ((z->format == 3) != (strcmp(base, "zarr.json") == 0)) continue;
            LSTAR_CHECK(get_json(z->store, k, &doc, err));
            if (z->format == 3) {
                size_t plen = base == k ? 0 : (size_t)(base - k - 1);
                char p[LSTAR_MAX_KEY_BYTES + 1];
                memcpy(p, k, plen);
                p[plen] = '\0';
                if (plen && json_object_set_new(md, p, doc)) goto nomem;
                if (!plen) json_decref(doc);
            } else if (json_object_set_new(md, k, doc)) {
                goto nomem;
            }
            doc = NULL;
        }
    }
    pthread_mutex_lock(&z->mu);
    const char *key;
    json_t *val;
    int rc = 0;
    json_object_foreach(z->written, key, val) {
        if (z->format == 3 && key[0] == '\0') continue;
        rc |= json_object_set_new(md, key, json_deep_copy(val));
    }
    pthread_mutex_unlock(&z->mu);
    if (rc) goto nomem;
    if (z->format == 2) {
        root = json_object();
        if (!root || json_object_set(root, "metadata", md) ||
            json_object_set_new(root, "zarr_consolidated_format", json_integer(1)))
            goto nomem;
        char *text = lstar_zarr_meta_dump(2, root);
        if (!text) goto nomem;
        st = lstar_store_set(z->store, ".zmetadata", text, strlen(text), err);
        lstar_free(text);
        goto done;
    }
    json_object_foreach(md, key, val) json_object_del(val, "consolidated_metadata");
    LSTAR_CHECK(lstar_zarr_meta_get(z, "", NULL, &doc, err));
    root = json_deep_copy(doc);
    cm = json_object();
    if (!root || !cm || json_object_set_new(cm, "kind", json_string("inline")) ||
        json_object_set_new(cm, "must_understand", json_false()) || json_object_set(cm, "metadata", md) ||
        json_object_set(root, "consolidated_metadata", cm))
        goto nomem;
    st = lstar_zarr_meta_put(z, "", NULL, root, err);
    goto done;
nomem:
    st = LSTAR_NOMEM(err, NULL);
done:
    names_free(&keys);
    json_decref(md);
    json_decref(doc);
    json_decref(root);
    json_decref(cm);
    return st;
}
