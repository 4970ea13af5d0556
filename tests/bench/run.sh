#!/bin/sh
# make bench: nnpress against ONNX Runtime on the same machine, in the same run.
#
#   sh tests/bench/run.sh [build]
#
# Models: every testdata model and a weight-bound MLP 1024-4096-4096-1000
# (make_mlp.py), at batch 1 and 64; torchvision's resnet18 and mobilenet_v2
# with seeded random weights (make_torchvision.py), at batch 1 and 8. The made
# models go to BUILD/bench/ and are made again only when missing. Then each of
# them quantized to int8 by nnpress (see INT8_MODELS below), timed the same way:
# nnpress and ONNX Runtime on the same int8 file, and the report sets nnpress's
# int8 time beside its fp32 time. Each model
# runs at 1 and 2 threads: `nnpress bench --json` and ONNX Runtime (ort_bench.mjs,
# same batch, intra-op threads, warmup and duration) alternately, ROUNDS times
# each, the one that goes first swapping every round, so that a busy spell of
# the machine hits both.
#
# Before timing: agree_nets.sh checks that nnpress and ONNX Runtime compute the
# same outputs on the torchvision networks (the bench fails if they do not), and
# peak.c (compiled into BUILD/bench/) measures the machine's fp32 FMA peak on 1
# and 2 threads (again after the timing; the better of the two is kept). The
# table shows, per configuration, the median over rounds of each side's p50
# latency, the GFLOP/s that makes (the work per run is nnpress's count: 2 x
# multiply-adds of Conv, Gemm and MatMul, used for both sides) and its fraction
# of the peak at that thread count, and the ratio nnpress / ORT;
# tests/bench/results.json keeps the lot.
#
# BENCH_ROUNDS (3), BENCH_WARMUP (0.2 s), BENCH_DURATION (1 s) and BENCH_MODELS
# (a space-separated list of .onnx files; files named resnet18.onnx or
# mobilenet_v2.onnx run at batch 1 and 8) change the defaults; the whole run
# takes about 8 minutes with them on a quiet machine. NNPRESS_RUN_FLAGS goes to
# the agreement check's `nnpress run` (agree_nets.sh).
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
NETS=""
for net in resnet18 mobilenet_v2; do
    if [ ! -f "$B/bench/$net.onnx" ]; then
        echo "bench: making $B/bench/$net.onnx"
        /usr/bin/python3 tests/bench/make_torchvision.py $net "$B/bench/$net.onnx"
    fi
    NETS="$NETS $B/bench/$net.onnx"
done
MODELS=${BENCH_MODELS:-"$(ls testdata/*.onnx | tr '\n' ' ')$MLP$NETS"}
# int8: each model quantized by this nnpress (static QDQ, per channel, minmax) into
# BUILD/bench/int8/NAME.int8.onnx, made again every run; calibrated on 1,000
# Fashion-MNIST training images (testdata models) or on seeded random samples in
# the input's shape (make_calib.py: the benchmark models' weights are random too).
# BENCH_INT8=0 leaves them out.
INT8_MODELS=""
if [ "${BENCH_INT8:-1}" != 0 ]; then
    mkdir -p "$B/bench/int8"
    for m in $MODELS; do
        name=$(basename "$m" .onnx)
        case $m in
        testdata/*) calib=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ;;
        *)
            calib=$B/bench/int8/$name.calib.npy
            [ -f "$calib" ] || /usr/bin/python3 tests/bench/make_calib.py "$m" "$calib"
            ;;
        esac
        "$B/nnpress" quantize "$m" -o "$B/bench/int8/$name.int8.onnx" --data "$calib" --quiet \
            > /dev/null
        INT8_MODELS="$INT8_MODELS $B/bench/int8/$name.int8.onnx"
    done
fi
if ! cc -std=c11 -O2 -pthread -o "$B/bench/peak.tmp" tests/bench/peak.c; then
    echo "bench: cannot compile tests/bench/peak.c with cc" >&2
    exit 1
fi
mv "$B/bench/peak.tmp" "$B/bench/peak"
# where the second thread starts to pay (the bounds in kernels/simd/gemm.c are checked by it)
if ! cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -I. -I"$B/gen" -o "$B/bench/crossover" \
        tests/bench/crossover.c "$B/libnnpress.a" $(pkg-config --libs openblas) -lm -pthread; then
    echo "bench: cannot compile tests/bench/crossover.c" >&2
    exit 1
fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
RECORDS=$T/records.jsonl
# one binary for the whole run, whatever a rebuild does to $B meanwhile
cp "$B/nnpress" "$T/nnpress"
NNPRESS=$T/nnpress

# with the planner's fusion, and every node on its own
for flags in "" --no-fuse; do
    # shellcheck disable=SC2086
    if ! NNPRESS=$NNPRESS NNPRESS_RUN_FLAGS=$flags sh tests/bench/agree_nets.sh $NETS; then
        echo "bench: nnpress${flags:+ $flags} and ONNX Runtime disagree on the torchvision" \
             "networks; not timing" >&2
        exit 1
    fi
done
"$B/bench/peak" 1 2 > "$T/peak-before.json"
"$B/bench/crossover" | tee "$T/crossover.txt"

nnpress_once() { # model batch threads round
    "$NNPRESS" bench "$1" --batch "$2" --threads "$3" --warmup "$WARMUP" \
        --duration "$DURATION" --json -q > "$T/one.json"
    node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
        console.log(JSON.stringify({tool: "nnpress", model: process.argv[2],
                                    round: +process.argv[3], blas: r.blas,
                                    flops: r.flops, gflops_per_s: r.gflops_per_s,
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
for m in $MODELS $INT8_MODELS; do
    # the torchvision networks at 8, not 64: at 64 a run of resnet18 takes over
    # a second (1.2 s in ONNX Runtime on one thread), longer than a round
    case $(basename "$m") in
    resnet18.onnx | mobilenet_v2.onnx | resnet18.int8.onnx | mobilenet_v2.int8.onnx)
        batches="1 8" ;;
    *) batches="1 64" ;;
    esac
    for batch in $batches; do
        for threads in 1 2; do
            r=1
            while [ "$r" -le "$ROUNDS" ]; do
                if [ $((r % 2)) = 1 ]; then
                    nnpress_once "$m" "$batch" $threads $r
                    ort_once "$m" "$batch" $threads $r
                else
                    ort_once "$m" "$batch" $threads $r
                    nnpress_once "$m" "$batch" $threads $r
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

"$B/bench/peak" 1 2 > "$T/peak-after.json"
node tests/bench/report.mjs "$RECORDS" "$OUT" "$ROUNDS" "$WARMUP" "$DURATION" \
    "$T/peak-before.json" "$T/peak-after.json"
