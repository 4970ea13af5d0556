# an input that decides a shape (Reshape's shape) is read from its file before the plan
D=tests/data/runtime
for s in 3x4 4x-1; do
    $NNPRESS run $D/reshape-by-input.onnx --input x=$D/x-2x6.npy --input shape=$D/shape-$s.npy -o "$TMP/$s"
    echo "exit $?"
done
