"""Shared helpers for the lstar CLI tests (run with /usr/bin/python3).

Env: LSTAR_BIN (the lstar executable), LSTAR_SHARED_DATA, LSTAR_SOURCE, LSTAR_BUILD.
"""
import os
import subprocess
import sys

BIN = os.environ.get("LSTAR_BIN")
SHARED = os.environ.get("LSTAR_SHARED_DATA")
SOURCE = os.environ.get("LSTAR_SOURCE")
if not BIN or not SHARED or not SOURCE:
    print("LSTAR_BIN, LSTAR_SHARED_DATA and LSTAR_SOURCE must be set")
    sys.exit(2)
EXPECTED = os.path.join(SOURCE, "tests", "cli", "expected")
FIXTURES = os.path.join(SHARED, "kharchenkolab_lstar", "conformance", "fixtures")

_failures = []
_checks = [0]


def run(*args, cwd=None):
    """Run lstar with args; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run([BIN, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def check(cond, what):
    _checks[0] += 1
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        _failures.append(what)
    return cond


def check_eq(got, want, what):
    ok = got == want
    if not ok:
        what = "%s: got %r, expected %r" % (what, got, want)
    else:
        what = "%s == %r" % (what, want) if len(repr(want)) < 120 else what
    return check(ok, what)


def need(path):
    """Exit with a clear message when a shared data file is absent."""
    if not os.path.exists(path):
        print("FAIL required shared test data is absent: %s" % path)
        sys.exit(1)
    return path


def finish():
    print("%d checks, %d failures" % (_checks[0], len(_failures)))
    for f in _failures:
        print("  failed: " + f)
    sys.exit(1 if _failures else 0)
