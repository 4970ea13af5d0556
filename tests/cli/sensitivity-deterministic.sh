# the same table whatever the thread count
set -e
D=/usr/share/datasets/fashion-mnist
$NNPRESS sensitivity testdata/resnet.onnx --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/t10k-labels-idx1-ubyte.gz --samples 200 -q -t 1 >"$TMP/a"
$NNPRESS sensitivity testdata/resnet.onnx --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/t10k-labels-idx1-ubyte.gz --samples 200 -t 2 >"$TMP/b" 2>/dev/null
$NNPRESS sensitivity testdata/resnet.onnx --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/t10k-labels-idx1-ubyte.gz --samples 200 -t 1 >"$TMP/c" 2>/dev/null
test ! -s "$TMP/a"
cmp "$TMP/b" "$TMP/c"
