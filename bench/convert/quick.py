"""Quick convert benchmark: the targets of the convert issue in one pass per size (floors, lstar t1/t2 for
h5ad -> L★ v2 (none and gzip input), gzip -> L★ v3 zlib (chunk copy + shards), v3 sharded, anndata-zarr, and back
to h5ad; the anndata peer once per rep 0).  Inputs: bench/gen_synth_h5ad.py files in bench/data (run.py makes them).

  LSTAR=build-rel/tools/lstar /usr/bin/python3 bench/convert/quick.py 25k,100k,200k REPS

Prints one JSON line per run (wall s, child peak RSS, CPU s, 1-min load); writes bench/out/convert/quick_<sizes>.json.
"""
import os, subprocess, sys, time, shutil, json
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
D = os.path.join(ROOT, "bench", "data"); O = os.path.join(D, "convert-out")
L = os.environ.get("LSTAR", os.path.join(ROOT, "build-rel", "tools", "lstar"))
PEER = os.path.join(ROOT, "bench", "convert", "peer_anndata.py")
os.makedirs(O, exist_ok=True)
res = []
def rm(p):
    if os.path.isdir(p): shutil.rmtree(p)
    elif os.path.exists(p): os.remove(p)
def run(tag, cmd, out, stdout=None):
    rm(out)
    t = time.perf_counter()
    f = open(stdout, "wb") if stdout else subprocess.DEVNULL
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.PIPE)
    _, st, ru = os.wait4(p.pid, 0)
    w = time.perf_counter() - t
    if stdout: f.close()
    r = dict(tag=tag, wall=round(w, 2), rss_mb=round(ru.ru_maxrss / 1024), cpu=round(ru.ru_utime + ru.ru_stime, 2),
             rc=os.waitstatus_to_exitcode(st), load=round(os.getloadavg()[0], 2))
    res.append(r); print(json.dumps(r), flush=True)
    return r
sizes = sys.argv[1].split(",")
reps = int(sys.argv[2])
for s in sizes:
    g, n = f"{D}/synth_{s}_gzip.h5ad", f"{D}/synth_{s}_none.h5ad"
    for rep in range(reps):
        run(f"{s} none cp", ["cp", n, O + "/cp.h5ad"], O + "/cp.h5ad")
        run(f"{s} none cat>file", ["cat", n], O + "/cp.h5ad", stdout=O + "/cp.h5ad")
        rm(O + "/cp.h5ad")
        for t in ("1", "2"):
            run(f"{s} none lstar-v2 t{t}", [L, "convert", n, O + "/a.lstar.zarr", "--to", "lstar", "--zarr-format", "2", "--threads", t, "--no-check"], O + "/a.lstar.zarr")
            run(f"{s} gzip lstar-v2 t{t}", [L, "convert", g, O + "/b.lstar.zarr", "--to", "lstar", "--zarr-format", "2", "--threads", t, "--no-check"], O + "/b.lstar.zarr")
            run(f"{s} gzip lstar-v3-zlib t{t}", [L, "convert", g, O + "/c.lstar.zarr", "--to", "lstar", "--zarr-format", "3", "--compression", "zlib:4", "--threads", t, "--no-check"], O + "/c.lstar.zarr")
        rm(O + "/b.lstar.zarr"); rm(O + "/c.lstar.zarr")
        run(f"{s} none lstar-v3-shard t2", [L, "convert", n, O + "/d.lstar.zarr", "--to", "lstar", "--zarr-format", "3", "--chunk-elems", "1048576", "--shard-elems", "16777216", "--threads", "2", "--no-check"], O + "/d.lstar.zarr")
        rm(O + "/d.lstar.zarr")
        run(f"{s} gzip lstar-anndata-zarr t2", [L, "convert", g, O + "/e.zarr", "--to", "anndata-zarr", "--threads", "2", "--no-check"], O + "/e.zarr")
        rm(O + "/e.zarr")
        for t in ("1", "2"):
            run(f"{s} back lstar-v2->h5ad t{t}", [L, "convert", O + "/a.lstar.zarr", O + "/back.h5ad", "--threads", t, "--no-check"], O + "/back.h5ad")
        rm(O + "/back.h5ad"); rm(O + "/a.lstar.zarr")
        if rep == 0:
            run(f"{s} none peer-h5ad2zarr", ["/usr/bin/python3", PEER, "h5ad2zarr", n, O + "/p.zarr"], O + "/p.zarr")
            run(f"{s} back peer-zarr2h5ad", ["/usr/bin/python3", PEER, "zarr2h5ad", O + "/p.zarr", O + "/pb.h5ad"], O + "/pb.h5ad")
            rm(O + "/pb.h5ad")
            run(f"{s} gzip peer-h5ad2zarr", ["/usr/bin/python3", PEER, "h5ad2zarr", g, O + "/p.zarr"], O + "/p.zarr")
            rm(O + "/p.zarr")
os.makedirs(os.path.join(ROOT, "bench", "out", "convert"), exist_ok=True)
json.dump(res, open(os.path.join(ROOT, "bench", "out", "convert", "quick_%s.json" % "_".join(sizes)), "w"), indent=1)
