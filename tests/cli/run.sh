#!/bin/sh
# CLI golden tests. Each case is tests/cli/NAME.sh, run from the repo root with
# $NNPRESS set and a fresh empty $TMP; beside it NAME.exit holds the expected
# exit code and NAME.out the expected standard output + error (2>&1), exactly.
# A case without NAME.out checks the exit code only (its script asserts the rest).
# UPDATE=1 rewrites the .out files from what the cases print (review the diff!).
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
passed=0
failed=0
for script in tests/cli/*.sh; do
    name=${script%.sh}
    case $(basename "$script") in run.sh) continue ;; esac
    TMP=$(mktemp -d)
    export TMP
    # the temporary folder's name changes every run: show it as $TMP
    out=$(sh "$script" 2>&1)
    rc=$?
    out=$(printf '%s\n' "$out" | sed "s|$TMP|\$TMP|g")
    want_rc=$(cat "$name.exit" 2>/dev/null || echo 0)
    ok=1
    if [ "$rc" != "$want_rc" ]; then
        echo "FAIL $(basename "$name"): exit $rc, expected $want_rc"
        ok=0
    fi
    if [ -f "$name.out" ]; then
        if [ "${UPDATE:-0}" = 1 ]; then
            printf '%s\n' "$out" > "$name.out"
        elif [ "$out" != "$(cat "$name.out")" ]; then
            echo "FAIL $(basename "$name"): output differs:"
            printf '%s\n' "$out" | diff "$name.out" - | head -20
            ok=0
        fi
    elif [ $ok = 0 ]; then
        printf '%s\n' "$out" | head -20
    fi
    rm -rf "$TMP"
    if [ $ok = 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
