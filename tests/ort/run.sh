#!/bin/sh
# ONNX Runtime as the live reference:
#  - every testdata model, rewritten by nnpress (read -> IR -> write), gives
#    bit-identical outputs in ONNX Runtime on the 10,000 Fashion-MNIST test images;
#  - fold removes every BatchNormalization of lenet5_bn, and ONNX Runtime's outputs
#    before and after agree within 1e-5 relative (to the largest |output|);
#    the same holds for fold on every other model;
#  - weights in Constant nodes (lenet5_const, lenet5_bn_const): fold leaves no
#    Constant node, changes no output bit of lenet5_const, and folds lenet5_bn_const's
#    BatchNormalization into exactly what it makes of lenet5_bn's;
#  - the quantized operators: `nnpress run` of the two models of
#    tests/ort/models/make_quant_ops.py (QOperator and dynamic form) gives bit for bit
#    ONNX Runtime's outputs on the 10,000 test images.
set -u
: "${NNPRESS:?set NNPRESS to the nnpress binary}"
IMAGES=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
check() {
    what=$1
    shift
    if out=$("$@" 2>&1); then
        passed=$((passed + 1))
        echo "ok   $what: $out"
    else
        failed=$((failed + 1))
        echo "FAIL $what: $out"
    fi
}
if [ ! -d tests/ort/node_modules/onnxruntime-node ]; then
    echo "ort: onnxruntime-node is not installed (run 'make deps')"
    echo "ort: 0 passed, 1 failed"
    exit 1
fi

for m in testdata/*.onnx; do
    name=$(basename "$m" .onnx)
    check "$name rewrite" "$NNPRESS" compress "$m" -o "$T/$name.rt.onnx" --passes none -q
    check "$name rewrite, ORT bit-identical" node tests/ort/compare.mjs "$m" "$T/$name.rt.onnx" \
        --images "$IMAGES" --exact
    check "$name fold" "$NNPRESS" fold "$m" -o "$T/$name.fold.onnx" -q
    check "$name fold, ORT within 1e-5" node tests/ort/compare.mjs "$m" "$T/$name.fold.onnx" \
        --images "$IMAGES" --rtol 1e-5
done

# how many OP nodes MODEL has, from the op histogram of `inspect --json`
n_ops() {
    "$NNPRESS" inspect --json "$1" |
        node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).ops[process.argv[1]] || 0)' "$2"
}
check "lenet5_bn has BatchNormalization before fold" test "$(n_ops testdata/lenet5_bn.onnx BatchNormalization)" -gt 0
check "lenet5_bn has none after fold" test "$(n_ops "$T/lenet5_bn.fold.onnx" BatchNormalization)" -eq 0

for name in lenet5_const lenet5_bn_const; do
    check "$name has Constant nodes before fold" test "$(n_ops testdata/$name.onnx Constant)" -gt 0
    check "$name has none after fold" test "$(n_ops "$T/$name.fold.onnx" Constant)" -eq 0
done
check "lenet5_bn_const has no BatchNormalization after fold" \
    test "$(n_ops "$T/lenet5_bn_const.fold.onnx" BatchNormalization)" -eq 0
check "lenet5_const fold, ORT bit-identical" node tests/ort/compare.mjs testdata/lenet5_const.onnx \
    "$T/lenet5_const.fold.onnx" --images "$IMAGES" --exact
check "lenet5_bn_const fold, ORT bit-identical to lenet5_bn fold" node tests/ort/compare.mjs \
    "$T/lenet5_bn.fold.onnx" "$T/lenet5_bn_const.fold.onnx" --images "$IMAGES" --exact

# the dynamic form's ranges are its batch's: one image at a time on both sides
for q in qop:1000 dyn:1; do
    name=${q%:*}
    batch=${q#*:}
    m=tests/ort/models/$name.onnx
    if out=$("$NNPRESS" run "$m" --input "$IMAGES" -o "$T/$name" --batch "$batch" -t 1 2>&1); then
        check "quantized operators, $name.onnx, ORT bit-identical" node tests/ort/agree.mjs "$m" \
            "$(printf '%s\n' "$out" | head -1 | cut -d' ' -f1)" --images "$IMAGES" --batch "$batch" \
            --rtol 0
    else
        check "quantized operators, $name.onnx, nnpress run" false
        echo "$out"
    fi
done

echo "ort: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
