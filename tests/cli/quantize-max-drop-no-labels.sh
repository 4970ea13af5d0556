# max_accuracy_drop measures top-1 accuracy: without --labels a usage error, nothing written
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/q.onnx" \
    --data /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --max_accuracy_drop 0.3
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
exit $rc
