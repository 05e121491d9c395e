"""lstar_h5vfd — open Zarr stores (L★ or anndata-zarr) as h5ad files in h5py.

    import lstar_h5vfd, h5py                    # importing registers driver="lstar" with h5py
    f = h5py.File("pbmc.lstar.zarr", "r", driver="lstar")

    import anndata.experimental
    with lstar_h5vfd.File("pbmc.lstar.zarr") as f:
        adata = anndata.experimental.read_elem(f["/"])

The driver library (liblstar_vfd.so) is found from $LSTAR_VFD_LIBRARY, next
to this file's directory (the build tree: <build>/vfd/python/../), the
install's libdir, or the loader's search path.  Optional keyword arguments of
h5py.File(..., driver="lstar", plugin_dir=..., modality=...) are passed to
H5Pset_fapl_lstar.  Read-only: open with mode "r".
"""
import ctypes
import ctypes.util
import os

__all__ = ["register", "File", "library"]

_lib = None
_registered = False


class _Config(ctypes.Structure):
    _fields_ = [("plugin_dir", ctypes.c_char_p), ("modality", ctypes.c_char_p)]


def _candidates():
    env = os.environ.get("LSTAR_VFD_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in ("..", os.path.join("..", "..", "..", "lib"), os.path.join("..", "..", "..", "lib64")):
        yield os.path.join(here, rel, "liblstar_vfd.so")
    found = ctypes.util.find_library("lstar_vfd")
    if found:
        yield found


def library():
    """The loaded liblstar_vfd (ctypes.CDLL)."""
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
            continue
        lib.lstar_vfd_register.restype = ctypes.c_int64
        lib.lstar_vfd_register.argtypes = []
        lib.H5Pset_fapl_lstar.restype = ctypes.c_int
        lib.H5Pset_fapl_lstar.argtypes = [ctypes.c_int64, ctypes.POINTER(_Config)]
        _lib = lib
        return lib
    raise OSError("cannot load liblstar_vfd.so (set LSTAR_VFD_LIBRARY): " + "; ".join(errors))


def _set_fapl(plist, plugin_dir=None, modality=None, **unused):
    lib = library()
    cfg = _Config(plugin_dir.encode() if plugin_dir else None, modality.encode() if modality else None)
    if lib.H5Pset_fapl_lstar(plist.id, ctypes.byref(cfg)) < 0:
        raise OSError("H5Pset_fapl_lstar failed")


def register():
    """Load the driver library, register it with HDF5 and with h5py as driver="lstar"."""
    global _registered
    import h5py
    lib = library()
    if lib.lstar_vfd_register() < 0:
        raise OSError("lstar_vfd_register failed")
    if not _registered:
        h5py.register_driver("lstar", _set_fapl)
        _registered = True


def File(path, mode="r", **kwargs):
    """h5py.File(path, mode, driver="lstar", **kwargs) after register()."""
    import h5py
    if mode != "r":
        raise ValueError("the lstar driver is read-only: use mode 'r'")
    register()
    return h5py.File(path, "r", driver="lstar", **kwargs)


# Importing the module makes driver="lstar" available (an OSError here names the library it looked for).
register()
