# --shape and --dim that do not fit the model: one line each, exit 2
M=tests/data/runtime/conv-dynamic-hw.onnx
for args in "--shape x=1x4x8x8" "--shape x=1x3x8" "--shape y=1x3x8x8" "--shape x=1x3x0x8" \
            "--dim Q=3" "--dim H" "--shape x=1x3x8x8 --shape 1x3x8x8"; do
    $NNPRESS bench $M --duration 0 $args
    echo "exit $?"
done
$NNPRESS bench testdata/mlp.onnx --shape 4x785
echo "exit $?"
