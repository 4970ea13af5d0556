# same input and options, same bytes
set -e
for m in testdata/*.onnx; do
    $NNPRESS compress "$m" -o "$TMP/a.onnx" -q --seed 7
    $NNPRESS compress "$m" -o "$TMP/b.onnx" -q --seed 7
    cmp "$TMP/a.onnx" "$TMP/b.onnx"
done
