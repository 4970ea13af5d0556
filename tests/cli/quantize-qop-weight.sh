# format=qop writes integer operators, which weight-only quantization does not make:
# a usage error, and no output
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" --format qop --mode weight
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output was written"
exit $rc
