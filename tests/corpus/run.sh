#!/bin/sh
# Replay the malformed-input corpus (tests/corpus/README: file, tab, expected
# message). Every file must give exit 1 and exactly one line on stderr,
#   nnpress: error: tests/corpus/FILE: <expected message>
# nothing on stdout, no sanitizer report, and no output file. Models are also
# given to `compress -o`, which must leave the output folder empty.
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
dir=tests/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
tab=$(printf '\t')

run_case() { # label, expected stderr line, command...
    label=$1 want=$2
    shift 2
    "$@" > "$T/stdout" 2> "$T/stderr"
    rc=$?
    err=$(cat "$T/stderr")
    problem=""
    [ "$rc" = 1 ] || problem="exit $rc, expected 1"
    [ -s "$T/stdout" ] && problem="${problem:+$problem; }printed on stdout"
    [ "$(wc -l < "$T/stderr")" = 1 ] || problem="${problem:+$problem; }stderr is not one line"
    [ "$err" = "$want" ] || problem="${problem:+$problem; }message differs"
    [ -z "$(ls "$T/out")" ] || problem="${problem:+$problem; }left $(ls "$T/out")"
    if [ -z "$problem" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $label: $problem"
        echo "     want: $want"
        printf '     got:  %s\n' "$(head -c 2000 "$T/stderr")"
    fi
    rm -rf "$T/out"/*
}

mkdir -p "$T/out"
n_files=0
while IFS="$tab" read -r file message; do
    case $file in '#'* | '') continue ;; esac
    n_files=$((n_files + 1))
    path=$dir/$file
    if [ ! -f "$path" ]; then
        failed=$((failed + 1))
        echo "FAIL $file: listed in README but missing"
        continue
    fi
    want="nnpress: error: $path: $message"
    run_case "inspect $file" "$want" "$NNPRESS" inspect "$path"
    case $file in
    data-*) ;;
    *) run_case "compress $file" "$want" "$NNPRESS" compress "$path" -o "$T/out/o.onnx" ;;
    esac
done < "$dir/README"

# every file in the folder is listed, so none is silently skipped
for f in "$dir"/*; do
    b=$(basename "$f")
    case $b in README | run.sh | *.py) continue ;; esac
    grep -q "^$b$tab" "$dir/README" || { failed=$((failed + 1)); echo "FAIL $b: not in README"; }
done
echo "corpus: $n_files files; $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$n_files" -ge 25 ]
