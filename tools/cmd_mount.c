/* lstar mount / lstar umount — serve a Zarr store's h5ad image (lstar/vfd.h)
 * as MOUNTPOINT/<name>.h5ad through FUSE (libfuse3), so unmodified HDF5
 * tools read it. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lstar/vfd.h"

static const char mount_usage[] =
    "usage: lstar mount STORE MOUNTPOINT [--name NAME] [--foreground]\n"
    "                   [--plugin-dir DIR] [--modality M]\n"
    "\n"
    "Present STORE (an L★ store or an anndata-zarr store, Zarr v2 or v3,\n"
    "directory or .zip) as the read-only file MOUNTPOINT/<NAME>.h5ad, laid out\n"
    "as `lstar convert STORE x.h5ad` would write it, without converting or\n"
    "copying the data: HDF5 metadata is built in memory, chunk bytes are read\n"
    "from the store's chunk objects when a reader asks for them.  Any HDF5\n"
    "program reads it (h5dump, h5ls, h5repack, h5py, anndata.read_h5ad); stores\n"
    "compressed with zstd need lstar's filter plugin in the reader\n"
    "(HDF5_PLUGIN_PATH=$(lstar plugin-path)).\n"
    "\n"
    "The command returns once the file system is mounted; the server keeps\n"
    "running in the background until `lstar umount MOUNTPOINT` (or\n"
    "`fusermount3 -u MOUNTPOINT`) or SIGTERM, then exits cleanly.\n"
    "\n"
    "options:\n"
    "  --name NAME        file name without .h5ad (default: STORE's base name\n"
    "                     without .zip, .zarr and .lstar)\n"
    "  --foreground       stay in the foreground (log errors to stderr)\n"
    "  --plugin-dir DIR   HDF5 filter plugin directories used to build the image\n"
    "                     (default: lstar's own)\n"
    "  --modality M       MuData stores: the modality to present\n";

static const char umount_usage[] =
    "usage: lstar umount MOUNTPOINT\n"
    "\n"
    "Unmount a file system mounted by `lstar mount` (runs fusermount3 -u); the\n"
    "server process then exits.\n";

/* ---- the file system -------------------------------------------------------------------- */

static struct {
    lstar_vfd_image *img;
    char path[NAME_MAX + 2]; /* "/<name>.h5ad" */
    time_t mtime;
} g_fs;

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
    /* larger requests: libfuse sizes the kernel's max_pages from max_write, which also bounds reads;
     * HDF5 reads whole chunks, often well over the default 128 KiB */
    conn->max_write = 1u << 20;
    conn->max_readahead = 1u << 20;
    cfg->kernel_cache = 1; /* the image never changes while mounted */
    cfg->entry_timeout = cfg->attr_timeout = 3600.0;
    return NULL;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    (void)fi;
    memset(st, 0, sizeof *st);
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = g_fs.mtime;
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, g_fs.path) == 0) {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = (off_t)lstar_vfd_image_size(g_fs.img);
        st->st_blocks = (st->st_size + 511) / 512;
        return 0;
    }
    return -ENOENT;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
    (void)off;
    (void)fi;
    (void)flags;
    if (strcmp(path, "/") != 0) return -ENOENT;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    fill(buf, g_fs.path + 1, NULL, 0, 0);
    return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi) {
    if (strcmp(path, g_fs.path) != 0) return -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
    fi->keep_cache = 1;
    return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
    (void)fi;
    if (strcmp(path, g_fs.path) != 0) return -ENOENT;
    uint64_t total = lstar_vfd_image_size(g_fs.img);
    if (off < 0) return -EINVAL;
    if ((uint64_t)off >= total) return 0;
    if (size > total - (uint64_t)off) size = (size_t)(total - (uint64_t)off);
    lstar_error err;
    memset(&err, 0, sizeof err);
    if (lstar_vfd_image_read(g_fs.img, (uint64_t)off, buf, size, &err) != LSTAR_OK) {
        fprintf(stderr, "lstar: mount: %s: %s\n", err.where[0] ? err.where : g_fs.path, err.message);
        return -EIO;
    }
    return (int)size;
}

static const struct fuse_operations k_ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
};

/* "…/pbmc.lstar.zarr.zip" → "pbmc" */
static void default_name(const char *store, char *out, size_t size) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", store);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    snprintf(out, size, "%s", base);
    static const char *const sfx[] = {".zip", ".zarr", ".lstar", ".h5ad"};
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
            size_t l = strlen(out), s = strlen(sfx[i]);
            if (l > s && strcmp(out + l - s, sfx[i]) == 0) {
                out[l - s] = 0;
                again = 1;
            }
        }
    }
}

static int run_mount(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL}, *name = NULL, *plugin_dir = NULL, *modality = NULL;
    int foreground = 0, help = 0, rc = CLI_EXIT_ERROR;
    size_t npos = 0;
    const cli_opt opts[] = {
        {"name", CLI_OPT_STRING, &name, NULL},
        {"foreground", CLI_OPT_FLAG, &foreground, NULL},
        {"plugin-dir", CLI_OPT_STRING, &plugin_dir, NULL},
        {"modality", CLI_OPT_STRING, &modality, NULL},
    };
    if (cli_parse("mount", argc, argv, opts, sizeof opts / sizeof opts[0], pos, 2, &npos, &help))
        return CLI_EXIT_ERROR;
    if (help) {
        fputs(mount_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 2) return cli_error("mount", NULL, "expected STORE and MOUNTPOINT (see 'lstar help mount')");
    const char *store = pos[0], *mnt = pos[1];
    char base[NAME_MAX - 5];
    if (name) snprintf(base, sizeof base, "%s", name);
    else default_name(store, base, sizeof base);
    if (!base[0] || strchr(base, '/')) return cli_error("mount", NULL, "invalid file name '%s'", base);
    snprintf(g_fs.path, sizeof g_fs.path, "/%s.h5ad", base);
    struct stat sb;
    if (stat(mnt, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_error("mount", mnt, "the mount point must be an existing directory");

    lstar_vfd_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.plugin_dir = plugin_dir;
    cfg.modality = modality;
    lstar_error err;
    memset(&err, 0, sizeof err);
    if (lstar_vfd_image_open(store, &cfg, &g_fs.img, &err) != LSTAR_OK) return cli_error_lstar("mount", store, &err);
    g_fs.mtime = stat(store, &sb) == 0 ? sb.st_mtime : time(NULL);

    char *fargv[] = {argv[0], "-o", "ro,default_permissions,fsname=lstar,subtype=lstar", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
    struct fuse *fuse = fuse_new(&args, &k_ops, sizeof k_ops, NULL);
    if (!fuse) {
        cli_error("mount", mnt, "cannot set up the FUSE file system");
        goto done;
    }
    if (fuse_mount(fuse, mnt) != 0) {
        cli_error("mount", mnt, "cannot mount (is /dev/fuse available, and the mount point empty?)");
        fuse_destroy(fuse);
        goto done;
    }
    if (fuse_daemonize(foreground) != 0 || fuse_set_signal_handlers(fuse_get_session(fuse)) != 0) {
        cli_error("mount", mnt, "cannot start the server");
        fuse_unmount(fuse);
        fuse_destroy(fuse);
        goto done;
    }
    /* Serve until unmounted (the loop ends) or SIGTERM/SIGINT/SIGHUP (handlers end the loop). */
    int lr = fuse_loop(fuse);
    fuse_remove_signal_handlers(fuse_get_session(fuse));
    fuse_unmount(fuse);
    fuse_destroy(fuse);
    rc = lr == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
done:
    fuse_opt_free_args(&args);
    lstar_vfd_image_close(g_fs.img);
    g_fs.img = NULL;
    return rc;
}

static int run_umount(int argc, char **argv) {
    const char *pos[1] = {NULL};
    int help = 0;
    size_t npos = 0;
    if (cli_parse("umount", argc, argv, NULL, 0, pos, 1, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(umount_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 1) return cli_error("umount", NULL, "expected MOUNTPOINT");
    pid_t pid = fork();
    if (pid < 0) return cli_error("umount", pos[0], "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", pos[0], (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return CLI_EXIT_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && umount(pos[0]) == 0) return CLI_EXIT_OK;
    return cli_error("umount", pos[0], "cannot unmount (not an lstar mount, or busy)");
}

const cli_verb cli_verb_mount = {
    "mount",
    "serve a Zarr store as a read-only .h5ad file through FUSE (no conversion)",
    mount_usage,
    run_mount,
};

const cli_verb cli_verb_umount = {
    "umount",
    "unmount a file system mounted by `lstar mount`",
    umount_usage,
    run_umount,
};
