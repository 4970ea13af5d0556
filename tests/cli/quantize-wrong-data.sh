# labels are not images: samples of one value do not fit [batch,1,28,28]
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" \
    --data /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
rc=$?
test ! -e "$TMP/q.onnx" || echo "an output file was left behind"
exit $rc
