#!/bin/sh
# Replay every fuzz target's corpus: its own folder under tests/fuzz/corpus/
# (what `make fuzz` found) plus the seeds the other tests keep.
set -u
B=${1:-build}
failed=0
passed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $*"; fi
}
mkdir -p tests/fuzz/corpus/onnx tests/fuzz/corpus/npy tests/fuzz/corpus/idx
run "$B/fuzz-onnx" tests/fuzz/corpus/onnx tests/corpus tests/data/onnx testdata/lenet5_bn.onnx \
    testdata/transformer.onnx
run "$B/fuzz-npy" tests/fuzz/corpus/npy tests/data tests/corpus
run "$B/fuzz-idx" tests/fuzz/corpus/idx tests/data tests/corpus
run "$B/fuzz-pipeline" tests/fuzz/corpus/pipeline
echo "fuzz-replay: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
