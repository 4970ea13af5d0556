#!/bin/sh
# make bench: nnpress against ONNX Runtime on the same machine, in the same run.
#
#   sh tests/bench/run.sh [build]
#
# For every testdata model and a weight-bound MLP 1024-4096-4096-1000 (made
# here, into BUILD/bench/, by make_mlp.py), at batch 1 and 64 and 1 and 2
# threads: `nnpress bench --json` and ONNX Runtime (ort_bench.mjs, same batch,
# intra-op threads, warmup and duration) are run alternately, ROUNDS times
# each, the one that goes first swapping every round, so that a busy spell of
# the machine hits both. The table shows the median over rounds of each
# side's p50 latency and their ratio; tests/bench/results.json keeps the lot.
#
# BENCH_ROUNDS (3), BENCH_WARMUP (0.2 s), BENCH_DURATION (1 s) and BENCH_MODELS
# (a space-separated list of .onnx files) change the defaults; the whole run
# takes about 6 minutes with them.
set -eu
B=${1:-build}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-0.2}
DURATION=${BENCH_DURATION:-1}
OUT=tests/bench/results.json
# Debian's OpenBLAS 0.3.21 may guess a half-speed kernel on this CPU (PERF-NOTES.md);
# nnpress sets OPENBLAS_CORETYPE from the CPU's features itself (cmd/blas_env.c), unless
# the environment already chose one, as some images do (Haswell): let nnpress choose
unset OPENBLAS_CORETYPE

sh tests/bench/deps.sh
if [ ! -f tests/ort/node_modules/onnxruntime-node/package.json ]; then
    echo "bench: onnxruntime-node is not installed (run 'make deps')" >&2
    exit 1
fi
mkdir -p "$B/bench"
MLP=$B/bench/mlp_1024_4096_4096_1000.onnx
if [ ! -f "$MLP" ]; then
    echo "bench: making $MLP"
    /usr/bin/python3 tests/bench/make_mlp.py "$MLP"
fi
MODELS=${BENCH_MODELS:-"$(ls testdata/*.onnx | tr '\n' ' ')$MLP"}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RECORDS=$T/records.jsonl
# one binary for the whole run, whatever a rebuild does to $B meanwhile
cp "$B/nnpress" "$T/nnpress"
NNPRESS=$T/nnpress

nnpress_once() { # model batch threads round
    "$NNPRESS" bench "$1" --batch "$2" --threads "$3" --warmup "$WARMUP" \
        --duration "$DURATION" --json -q > "$T/one.json"
    node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
        console.log(JSON.stringify({tool: "nnpress", model: process.argv[2],
                                    round: +process.argv[3], blas: r.blas,
                                    peak_bytes: r.memory.peak_bytes, ...r.latency}));
    ' "$T/one.json" "$1" "$4" >> "$RECORDS"
}
ort_once() { # model batch threads round
    node tests/bench/ort_bench.mjs "$1" --batch "$2" --threads "$3" --warmup "$WARMUP" \
        --duration "$DURATION" > "$T/one.json"
    node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
        console.log(JSON.stringify({tool: "ort", model: process.argv[2],
                                    round: +process.argv[3], ...r}));
    ' "$T/one.json" "$1" "$4" >> "$RECORDS"
}

start=$(date +%s)
n=0
for m in $MODELS; do
    for batch in 1 64; do
        for threads in 1 2; do
            r=1
            while [ "$r" -le "$ROUNDS" ]; do
                if [ $((r % 2)) = 1 ]; then
                    nnpress_once "$m" $batch $threads $r
                    ort_once "$m" $batch $threads $r
                else
                    ort_once "$m" $batch $threads $r
                    nnpress_once "$m" $batch $threads $r
                fi
                r=$((r + 1))
            done
            n=$((n + 1))
            if [ -t 2 ]; then
                printf '\rbench: %d configurations done (%ss)' "$n" $(($(date +%s) - start)) >&2
            fi
        done
    done
done
if [ -t 2 ]; then printf '\n' >&2; fi
echo "bench: $n configurations x $ROUNDS rounds in $(($(date +%s) - start)) s"

node tests/bench/report.mjs "$RECORDS" "$OUT" "$ROUNDS" "$WARMUP" "$DURATION"
