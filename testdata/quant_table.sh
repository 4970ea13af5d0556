#!/bin/sh
# The accuracy of every testdata model after each form of the quantize pass, on the
# 10,000 Fashion-MNIST test images (`nnpress eval`, 1,000 images a run), written as the
# last section of testdata/README (from the line "Quantized, ..." on; make_models.py
# keeps it when it rewrites the rest). Run by `make quant-table`:
#   sh testdata/quant_table.sh build/nnpress
# int8 static is calibrated on the first 1,000 training images (the pass's default), and
# fp16 compute scanned on them.
set -eu
NNPRESS=${1:?give the nnpress binary}
DATA=/usr/share/datasets/fashion-mnist
TRAIN=$DATA/train-images-idx3-ubyte.gz
IMAGES=$DATA/t10k-images-idx3-ubyte.gz
LABELS=$DATA/t10k-labels-idx1-ubyte.gz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
acc() {
    "$NNPRESS" eval "$1" --data "$IMAGES" --labels "$LABELS" --batch 1000 |
        awk '/^top-1/ { sub("%", "", $2); print $2 }'
}
{
    echo "Quantized, by make quant-table (testdata/quant_table.sh): top-1 % on the"
    echo "10,000 test images after nnpress quantize; int8 static is QDQ, per-channel"
    echo "weights, minmax ranges from 1,000 training images; dynamic quantizes Gemm"
    echo "and MatMul at run time (a batch of 1,000); weight-only keeps float32"
    echo "arithmetic; fp16 stores the weights as float16; fp16c computes in float16"
    echo "(compute=fp16, inputs and outputs float32, scanned on the same 1,000 images);"
    echo "entropy and mse are int8 static with calib=entropy and calib=mse instead."
    echo "size: the int8 static and fp16 files as a percentage of the float32 one."
    echo ""
    printf '  %-16s %6s %8s %7s %7s %6s %6s %8s %6s %12s %10s\n' model fp32 dynamic static \
        weight fp16 fp16c entropy mse "static size" "fp16 size"
    printf '  %-16s %6s %8s %7s %7s %6s %6s %8s %6s %12s %10s\n' --------------- ------ \
        -------- ------- ------- ------ ------ -------- ------ ----------- ---------
    for m in mlp lenet5 lenet5_bn resnet transformer mlp_wide lenet5_const lenet5_bn_const; do
        f=testdata/$m.onnx
        "$NNPRESS" quantize "$f" -o "$T/s.onnx" --data "$TRAIN" -q
        "$NNPRESS" quantize "$f" -o "$T/d.onnx" --mode dynamic -q
        "$NNPRESS" quantize "$f" -o "$T/w.onnx" --mode weight -q
        "$NNPRESS" quantize "$f" -o "$T/h.onnx" --type fp16 -q
        "$NNPRESS" quantize "$f" -o "$T/c.onnx" --type fp16 --compute fp16 --data "$TRAIN" -q
        "$NNPRESS" quantize "$f" -o "$T/e.onnx" --data "$TRAIN" --calib entropy -q
        "$NNPRESS" quantize "$f" -o "$T/m.onnx" --data "$TRAIN" --calib mse -q
        full=$(wc -c <"$f")
        printf '  %-16s %6s %8s %7s %7s %6s %6s %8s %6s %11.1f%% %9.1f%%\n' "$m" "$(acc "$f")" \
            "$(acc "$T/d.onnx")" "$(acc "$T/s.onnx")" "$(acc "$T/w.onnx")" "$(acc "$T/h.onnx")" \
            "$(acc "$T/c.onnx")" "$(acc "$T/e.onnx")" "$(acc "$T/m.onnx")" \
            "$(echo "100 * $(wc -c <"$T/s.onnx") / $full" | bc -l)" \
            "$(echo "100 * $(wc -c <"$T/h.onnx") / $full" | bc -l)"
    done
} >"$T/section"
# the README up to the section, without its trailing blank lines, a blank line, the section
awk '/^Quantized, by make quant-table/ { exit } { print }' testdata/README |
    awk '{ line[NR] = $0 } END { n = NR; while (n > 0 && line[n] == "") n--
                                 for (i = 1; i <= n; i++) print line[i] }' >"$T/readme"
echo "" >>"$T/readme"
cat "$T/section" >>"$T/readme"
mv "$T/readme" testdata/README
cat "$T/section"
