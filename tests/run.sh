#!/bin/sh
# The whole test suite against one build folder (build/ or build-san/):
#   sh tests/run.sh build
# Each part prints its own results; the last line counts the parts.
set -u
B=${1:-build}
NNPRESS=$(pwd)/$B/nnpress
export NNPRESS
# sanitizer builds: fail on the first report, and leaks are errors too; options the caller
# set come after ours and win (ASAN_OPTIONS=verify_asan_link_order=0 lets the tests run
# under a preloaded library such as libfaketime: `faketime +365d` for the clock check)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
# nnpress chooses OpenBLAS's kernel itself (cmd/blas_env.c) when this is unset;
# an inherited value (some images set Haswell, half speed here) would override it
unset OPENBLAS_CORETYPE

passed=0
failed=0
failed_parts=""
part() {
    name=$1
    shift
    echo "== $name ($B)"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_parts="$failed_parts $name"
        echo "== $name: FAILED"
    fi
}

part unit "$B/unit-tests" --jobs 2
part cli sh tests/cli/run.sh
part corpus sh tests/corpus/run.sh
part man sh tests/man_check.sh
part fuzz-replay sh tests/fuzz/replay.sh "$B"
part conformance "$B/conformance"
part conformance-cli "$B/conformance" --cli "$NNPRESS"
part ort sh tests/ort/run.sh
part agree sh tests/ort/agree.sh
# the sanitizer build checks the quantized models for memory errors on 1,000 images
quick=0
case $B in *san*) quick=1 ;; esac
part quantize env QUICK=$quick sh tests/ort/quantize.sh

echo "parts: $passed passed, $failed failed${failed_parts:+ (failed:$failed_parts)}"
[ "$failed" -eq 0 ]
