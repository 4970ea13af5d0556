#!/bin/sh
# The quantize pass on every testdata model, int8 static (QDQ, per channel, minmax,
# calibrated on 1,000 Fashion-MNIST training images), int8 weight-only, int8 dynamic
# (Gemm and MatMul: its ranges are the batch's, 1,000 images on both sides), fp16
# weights, and the whole graph in float16 (compute=fp16, scanned on the same 1,000
# training images; fp16c: inputs and outputs float32, keep_io=1; fp16io: float16 too,
# keep_io=0) (the *_const models, whose weights are Constant nodes, in static mode
# only); lenet5 and mlp also static with calib=entropy and with calib=mse (symmetric),
# and type=uint8 (weights with zero points) static and dynamic, and format=qop
# (QLinearConv, QLinearMatMul; ConvInteger, MatMulInteger) static and dynamic (resnet,
# transformer: static),
# each checked on the 10,000 test images:
#  - the quantized model runs in ONNX Runtime, and nnpress and ONNX Runtime agree on
#    the argmax of at least 99.5% of the images (outputs within 5% of the largest
#    |output|: ONNX Runtime fuses the pairs into its integer kernels, nnpress runs
#    them as written; within 1% in fp16c and fp16io, where both round each node's
#    result to float16);
#  - `nnpress eval` accuracy loses at most 0.5 points against testdata/models.tsv
#    (1.0 for the transformer; 0.05 in fp16);
#  - models of more than 100k parameters shrink to at most 27% of the float file
#    (51% in fp16 and fp16c).
# fp16io is checked for the agreement only: `nnpress eval` takes float32 inputs.
# With QUICK=1 (the sanitizer build: the pass and the kernels checked for memory
# errors, the numbers by the plain build) only the first 1,000 test images, only the
# agreement with ONNX Runtime, and every mode on lenet5 and mlp (a Conv and a Gemm
# model) but only static and fp16c (and qop) on the others: each code path once.
# One line per model and mode, then "quantize: N passed, N failed".
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
DATA=/usr/share/datasets/fashion-mnist
TRAIN=$DATA/train-images-idx3-ubyte.gz
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
LABELS=$DATA/t10k-labels-idx1-ubyte.gz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ "${QUICK:-0}" = 1 ]; then
    # an IDX file of the first 1,000 images: the header (magic, count, 28, 28), then them
    printf '\000\000\010\003\000\000\003\350\000\000\000\034\000\000\000\034' >"$T/quick.idx"
    gzip -dc "$IMAGES" | tail -c +17 | head -c 784000 >>"$T/quick.idx"
    IMAGES=$T/quick.idx
fi
passed=0
failed=0

for m in testdata/*.onnx; do
    name=$(basename "$m" .onnx)
    modes="static weight dynamic fp16 fp16c fp16io"
    # the *_const models differ from theirs only in where the weights are stored
    case $name in *_const) modes=static ;; esac
    # the other calibrations (entropy asymmetric, mse symmetric), uint8 weights (static,
    # dynamic) and the operator form (static, dynamic: ConvInteger) on a Conv and a Gemm
    # model; the operator form also on the residual network and the transformer (static)
    case $name in
    lenet5 | mlp) modes="$modes entropy mse uint8 uint8-dynamic qop qop-dynamic" ;;
    *_const) ;;
    *) [ "${QUICK:-0}" = 1 ] && modes="static fp16c" ;;
    esac
    case $name in resnet | transformer) modes="$modes qop" ;; esac
    for mode in $modes; do
        q=$T/$name.$mode.onnx
        why=""
        how="--mode $mode" rtol=0.05
        case $mode in
        fp16) how="--type fp16" ;;
        fp16c) how="--type fp16 --compute fp16" rtol=0.01 ;;
        fp16io) how="--type fp16 --compute fp16 --keep_io 0" rtol=0.01 ;;
        entropy) how="--calib entropy" ;;
        mse) how="--calib mse --activations symmetric" ;;
        uint8) how="--type uint8" ;;
        uint8-dynamic) how="--type uint8 --mode dynamic" ;;
        qop) how="--format qop" ;;
        qop-dynamic) how="--format qop --mode dynamic --ops Conv+Gemm+MatMul" ;;
        esac
        if ! out=$("$NNPRESS" quantize "$m" -o "$q" $how --data "$TRAIN" -q -t 2 2>&1); then
            why="quantize failed: $out"
        elif ! out=$("$NNPRESS" run "$q" --input "$IMAGES" -o "$T/$name.$mode" --batch 1000 \
            -t 2 2>&1); then
            why="nnpress run failed: $out"
        else
            npy=$(printf '%s\n' "$out" | head -1 | cut -d' ' -f1)
            ort=$(node tests/ort/agree.mjs "$q" "$npy" --images "$IMAGES" --batch 1000 \
                --rtol $rtol --min-agreement 0.995 2>&1) || why="ORT: $ort"
        fi
        if [ -z "$why" ] && { [ "${QUICK:-0}" = 1 ] || [ $mode = fp16io ]; }; then
            passed=$((passed + 1))
            echo "ok   $name $mode: ORT $ort"
            continue
        fi
        if [ -z "$why" ]; then
            acc=$("$NNPRESS" eval "$q" --data "$IMAGES" --labels "$LABELS" --batch 1000 -t 2 2>&1 |
                awk '/^top-1/ { sub("%", "", $2); print $2 }')
            # columns of models.tsv: model params weight_bytes file_bytes correct accuracy
            row=$(awk -F'\t' -v n="$name" '$1 == n { print $2, $4, $6 }' testdata/models.tsv)
            set -- $row
            params=$1 bytes=$2 base=$3
            bound=0.5 ratio=0.27
            [ "$name" = transformer ] && bound=1.0
            case $mode in fp16*) bound=0.05 ratio=0.51 ;; esac
            size=$(wc -c <"$q")
            verdict=$(awk -v a="$acc" -v b="$base" -v bound="$bound" -v r="$ratio" -v p="$params" \
                -v s="$size" -v f="$bytes" 'BEGIN {
                    if (a == "") { print "no accuracy"; exit }
                    if (b - a > bound) { printf "accuracy %s%%, %.2f points below %s%%\n", a, b - a, b; exit }
                    if (p > 100000 && s > r * f) { printf "%d bytes, %.1f%% of %d\n", s, 100 * s / f, f; exit }
                }')
            [ -n "$verdict" ] && why=$verdict
        fi
        if [ -z "$why" ]; then
            passed=$((passed + 1))
            echo "ok   $name $mode: ORT $ort; top-1 $acc% (fp32 $base%); $size bytes ($bytes)"
        else
            failed=$((failed + 1))
            echo "FAIL $name $mode: $why"
        fi
    done
done

echo "quantize: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
