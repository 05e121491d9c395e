#!/usr/bin/python3
"""Render the markdown tables of docs/benchmarks.md ("HDF5 filters and repack") from run.py's JSON.

  /usr/bin/python3 bench/filters/report.py MAIN.json DECODE.json [SWEEP.json]

MAIN: a run.py run (sizes, repack time); DECODE: a --decode-rounds run (interleaved decode medians,
used for the decode columns when present); SWEEP: a --sweep run (its "sweep …" rows).
"""
import json
import sys


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0


def short(name):
    return name.split()[0]


def main():
    main_rows = json.load(open(sys.argv[1]))["rows"]
    dec = json.load(open(sys.argv[2]))
    dec_rows = {(short(r["input"]), r["variant"]): r for r in dec["decode_rounds"]}
    sweep = json.load(open(sys.argv[3]))["rows"] if len(sys.argv) > 3 else []
    inputs = list(dict.fromkeys(r["input"] for r in main_rows))
    for name in inputs:
        rows = [r for r in main_rows if r["input"] == name and not r["variant"].startswith("sweep")]
        base = [r for r in rows if r["variant"] == "gzip-4 (h5repack)"][0]
        dbase = dec_rows.get((name, "gzip-4 (h5repack)"))
        print("\n#### %s\n" % name)
        print("| variant | file | × gzip-4 | X stored | × gzip-4 | X decode, h5py | × faster | lstar via HDF5 | "
              "lstar parallel | repack |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            d = dec_rows.get((name, r["variant"]))
            if d and dbase:
                dcols = "%.3f s | %.2f× | %.3f s | %.3f s" % (d["h5py_s"], dbase["h5py_s"] / d["h5py_s"],
                                                              d["lstar_hdf5_s"], d["lstar_parallel_s"])
            else:
                dcols = "(%.3f s) | (%.2f×) | (%.3f s) | (%.3f s)" % (
                    r["h5py_decode_s"], base["h5py_decode_s"] / r["h5py_decode_s"], r["lstar_hdf5_decode_s"],
                    r["lstar_parallel_decode_s"])
            print("| %s | %s | %.3f | %s | %.3f | %s | %.2f s |" % (
                r["variant"], human(r["file_bytes"]), r["file_bytes"] / base["file_bytes"], human(r["x_bytes"]),
                r["x_bytes"] / base["x_bytes"], dcols, r["repack_s"]))
    if sweep:
        rows = [r for r in sweep if r["input"] == "synth"]
        base = [r for r in rows if r["variant"] == "gzip-4 (h5repack)"][0]
        print("\n#### --best candidates (synthetic 25k cells)\n")
        print("| candidate | file × gzip-4 | X × gzip-4 | repack |")
        print("|---|---:|---:|---:|")
        for r in rows:
            if r["variant"].startswith("sweep") or r["variant"].startswith("zstd-3+shuffle+delta"):
                print("| %s | %.3f | %.3f | %.1f s |" % (r["variant"].replace("sweep ", ""),
                                                      r["file_bytes"] / base["file_bytes"],
                                                      r["x_bytes"] / base["x_bytes"], r["repack_s"]))


if __name__ == "__main__":
    main()
