# calib=percentile: ranges from a histogram of the calibration values, the accuracy as
# nnpress eval measures it (deterministic: the same figures every run)
D=/usr/share/datasets/fashion-mnist
$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" --data $D/train-images-idx3-ubyte.gz \
    --calib percentile --percentile 99.9 --calib_samples 300 -q || exit 9
$NNPRESS eval "$TMP/q.onnx" --data $D/t10k-images-idx3-ubyte.gz --labels $D/t10k-labels-idx1-ubyte.gz |
    grep '^top-1'
