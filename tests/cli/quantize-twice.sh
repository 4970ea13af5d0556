# a model that already holds quantized operators is refused
$NNPRESS quantize testdata/mlp.onnx -o "$TMP/q.onnx" --mode weight -q || exit 9
$NNPRESS quantize "$TMP/q.onnx" -o "$TMP/q2.onnx" --mode weight
