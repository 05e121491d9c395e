#!/usr/bin/env bash
# CLI basics: --version, help, per-verb usage, unknown verbs/options, plugin-path.
# Env: LSTAR_BIN (the lstar executable), LSTAR_SOURCE, LSTAR_BUILD.
set -u
: "${LSTAR_BIN:?LSTAR_BIN not set}" "${LSTAR_SOURCE:?LSTAR_SOURCE not set}" "${LSTAR_BUILD:?LSTAR_BUILD not set}"
EXP="$LSTAR_SOURCE/tests/cli/expected"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
checks=0

# run NAME EXPECTED_RC ARGS... : runs lstar, keeps stdout/stderr in $TMP/NAME.{out,err}
run() {
    local name=$1 want=$2
    shift 2
    "$LSTAR_BIN" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    local rc=$?
    checks=$((checks + 1))
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want (stderr: $(head -c 300 "$TMP/$name.err"))"
        fails=$((fails + 1))
    else
        echo "ok   $name: exit $rc"
    fi
}
# same FILE TEXT: file content must equal TEXT (plus the final newline)
same() {
    local file=$1 want=$2
    checks=$((checks + 1))
    if [ "$(cat "$file")" != "$want" ]; then
        echo "FAIL $(basename "$file"): got [$(cat "$file")], expected [$want]"
        fails=$((fails + 1))
    else
        echo "ok   $(basename "$file") == [$want]"
    fi
}
same_file() {
    checks=$((checks + 1))
    if ! cmp -s "$1" "$2"; then
        echo "FAIL $(basename "$1") differs from $2:"
        diff "$2" "$1" | head -20
        fails=$((fails + 1))
    else
        echo "ok   $(basename "$1") matches $(basename "$2")"
    fi
}
empty() {
    checks=$((checks + 1))
    if [ -s "$1" ]; then
        echo "FAIL $(basename "$1") should be empty: $(head -c 300 "$1")"
        fails=$((fails + 1))
    else
        echo "ok   $(basename "$1") empty"
    fi
}

version=$(sed -n 's/^project(lstar VERSION \([0-9.]*\).*/\1/p' "$LSTAR_SOURCE/CMakeLists.txt")
run version 0 --version
same "$TMP/version.out" "lstar $version"
empty "$TMP/version.err"

run help 0 help
same_file "$TMP/help.out" "$EXP/help.txt"
empty "$TMP/help.err"
run help_flag 0 --help
same_file "$TMP/help_flag.out" "$EXP/help.txt"

run noargs 2
same_file "$TMP/noargs.err" "$EXP/help.txt"
empty "$TMP/noargs.out"

for verb in inspect validate synth plugin-path; do
    run "help_$verb" 0 help "$verb"
    run "${verb}_help" 0 "$verb" --help
    same_file "$TMP/${verb}_help.out" "$TMP/help_$verb.out"
    checks=$((checks + 1))
    if head -n1 "$TMP/help_$verb.out" | grep -q "^usage: lstar $verb"; then
        echo "ok   help $verb starts with 'usage: lstar $verb'"
    else
        echo "FAIL help $verb: first line $(head -n1 "$TMP/help_$verb.out")"
        fails=$((fails + 1))
    fi
done
checks=$((checks + 1))
if [ "$(head -n1 "$TMP/help_inspect.out")" = "usage: lstar inspect PATH [--json]" ]; then
    echo "ok   help inspect usage line"
else
    echo "FAIL help inspect usage line: $(head -n1 "$TMP/help_inspect.out")"
    fails=$((fails + 1))
fi

run unknown_verb 2 frobnicate
checks=$((checks + 1))
if [ "$(head -n1 "$TMP/unknown_verb.err")" = "lstar: frobnicate: unknown verb" ] &&
    [ "$(tail -n +2 "$TMP/unknown_verb.err")" = "$(cat "$EXP/help.txt")" ]; then
    echo "ok   unknown verb: message line then usage on stderr"
else
    echo "FAIL unknown verb stderr: $(cat "$TMP/unknown_verb.err")"
    fails=$((fails + 1))
fi
empty "$TMP/unknown_verb.out"

run help_unknown 2 help frobnicate
checks=$((checks + 1))
if [ "$(head -n1 "$TMP/help_unknown.err")" = "lstar: help: frobnicate: unknown verb" ]; then
    echo "ok   help unknown verb message"
else
    echo "FAIL help unknown verb: $(head -n1 "$TMP/help_unknown.err")"
    fails=$((fails + 1))
fi

run unknown_option 2 inspect --frob x
same "$TMP/unknown_option.err" "lstar: inspect: unknown option '--frob' (see 'lstar help inspect')"
empty "$TMP/unknown_option.out"
run inspect_noarg 2 inspect
same "$TMP/inspect_noarg.err" "lstar: inspect: expected one PATH (see 'lstar help inspect')"
run inspect_two 2 inspect a b
same "$TMP/inspect_two.err" "lstar: inspect: unexpected argument 'b' (see 'lstar help inspect')"
run synth_badnum 2 synth "$TMP/x" --cells ten
same "$TMP/synth_badnum.err" "lstar: synth: --cells: expected a non-negative integer, got 'ten'"
run synth_noval 2 synth "$TMP/x" --cells
same "$TMP/synth_noval.err" "lstar: synth: --cells needs a value"
run synth_fmt 2 synth "$TMP/x" --zarr-format=4
same "$TMP/synth_fmt.err" "lstar: synth: --zarr-format must be 2 or 3"
run synth_shard_v2 2 synth "$TMP/x" --shard-elems 100 --chunk-elems 10
same "$TMP/synth_shard_v2.err" "lstar: synth: --shard-elems needs --zarr-format 3"
run synth_density 2 synth "$TMP/x" --density 0
same "$TMP/synth_density.err" "lstar: synth: --density must be in (0, 1]"
checks=$((checks + 1))
if [ -e "$TMP/x" ]; then echo "FAIL synth usage errors created $TMP/x"; fails=$((fails + 1)); else echo "ok   nothing written on usage errors"; fi

# plugin-path: the build tree's plugin dir (this binary runs from the build tree), then Debian's default
sysdir=/usr/lib/x86_64-linux-gnu/hdf5/serial/plugins
run plugin_path 0 plugin-path
same "$TMP/plugin_path.out" "$LSTAR_BUILD/filters/plugins:$sysdir"
run plugin_path_export 0 plugin-path --export
same "$TMP/plugin_path_export.out" "export HDF5_PLUGIN_PATH=$LSTAR_BUILD/filters/plugins:$sysdir"
run plugin_path_extra 2 plugin-path extra
same "$TMP/plugin_path_extra.err" "lstar: plugin-path: unexpected argument 'extra' (see 'lstar help plugin-path')"

echo "$checks checks, $fails failures"
[ "$fails" -eq 0 ]
