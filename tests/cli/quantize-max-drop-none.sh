# when every node must stay float32 to keep the drop within max_accuracy_drop, the pass
# says so with the figures (all quantized, and only the least sensitive one) and writes the
# float model
D=/usr/share/datasets/fashion-mnist
$NNPRESS quantize testdata/mlp.onnx -o "$TMP/q.onnx" --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/t10k-labels-idx1-ubyte.gz --calib percentile --percentile 50 \
    --calib_samples 200 --max_accuracy_drop 0 -t 2 2>&1 >/dev/null
$NNPRESS inspect "$TMP/q.onnx" | grep "^ops"
