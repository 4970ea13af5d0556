# static mode calibrates: without --data it refuses, and writes nothing
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx"
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
exit $rc
