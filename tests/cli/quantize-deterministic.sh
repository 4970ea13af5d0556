# same model, data and options: the same bytes, whatever the thread count
set -e
D=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/a.onnx" --data $D --calib_samples 200 -q -t 1
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/b.onnx" --data $D --calib_samples 200 -q -t 2
cmp "$TMP/a.onnx" "$TMP/b.onnx"
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/c.onnx" --mode weight -q
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/d.onnx" --mode weight -q
cmp "$TMP/c.onnx" "$TMP/d.onnx"
# the histogram calibrations and the operator form too
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/e.onnx" --data $D --calib_samples 200 \
    --calib entropy --format qop -q -t 1
$NNPRESS quantize testdata/resnet.onnx -o "$TMP/f.onnx" --data $D --calib_samples 200 \
    --calib entropy --format qop -q -t 2
cmp "$TMP/e.onnx" "$TMP/f.onnx"
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/g.onnx" --data $D --calib_samples 200 \
    --calib mse --activations symmetric --type uint8 -q -t 1
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/h.onnx" --data $D --calib_samples 200 \
    --calib mse --activations symmetric --type uint8 -q -t 2
cmp "$TMP/g.onnx" "$TMP/h.onnx"
