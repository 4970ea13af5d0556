# the input is never overwritten unless --force, and then it is
cp testdata/mlp.onnx "$TMP/m.onnx"
$NNPRESS compress "$TMP/m.onnx" -o "$TMP/m.onnx" -q
echo "exit $?"
cmp -s testdata/mlp.onnx "$TMP/m.onnx" && echo "input untouched"
$NNPRESS compress "$TMP/m.onnx" -o "$TMP/m.onnx" -q --force
echo "exit $?"
ls "$TMP"
