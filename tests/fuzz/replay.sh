#!/bin/sh
# Replay every fuzz target's corpus: its own folder under tests/fuzz/corpus/
# (what `make fuzz` found) plus the seeds the other tests keep (tests/fuzz/seeds.sh).
set -u
B=${1:-build}
failed=0
passed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $*"; fi
}
for t in onnx npy idx pipeline run; do
    mkdir -p "tests/fuzz/corpus/$t"
    # shellcheck disable=SC2046
    run "$B/fuzz-$t" "tests/fuzz/corpus/$t" $(sh tests/fuzz/seeds.sh "$t")
done
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
