# an excluded name that matches no node and no operator type is a mistake, not a no-op
$NNPRESS quantize testdata/mlp.onnx -o "$TMP/q.onnx" --mode weight --exclude fc9
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
exit $rc
