# same model, data and options: the same bytes, whatever the thread count
set -e
D=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/a.onnx" --data $D --calib_samples 200 -q -t 1
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/b.onnx" --data $D --calib_samples 200 -q -t 2
cmp "$TMP/a.onnx" "$TMP/b.onnx"
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/c.onnx" --mode weight -q
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/d.onnx" --mode weight -q
cmp "$TMP/c.onnx" "$TMP/d.onnx"
