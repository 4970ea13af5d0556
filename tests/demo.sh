#!/bin/sh
# `make demo`: the main job on the bundled default model, a LeNet-5 with
# BatchNormalization trained on Fashion-MNIST.
set -eu
B=${1:-build}
MODEL=testdata/lenet5_bn.onnx
OUT=$B/demo
mkdir -p "$OUT"
set -x
"$B/nnpress" inspect "$MODEL"
"$B/nnpress" compress "$MODEL" -o "$OUT/lenet5_bn.small.onnx" --passes fold --report "$OUT/report.json"
"$B/nnpress" inspect "$OUT/lenet5_bn.small.onnx"
