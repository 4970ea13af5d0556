# calib=entropy and calib=mse: ranges from the histogram of the calibration values (the
# clip of least KL divergence, of least squared error), asymmetric and symmetric, the
# accuracy as nnpress eval measures it (deterministic: the same figures every run)
D=/usr/share/datasets/fashion-mnist
for calib in entropy mse; do
    for act in asymmetric symmetric; do
        $NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" \
            --data $D/train-images-idx3-ubyte.gz \
            --calib $calib --activations $act --calib_samples 300 -q || exit 9
        printf '%s %s: ' $calib $act
        $NNPRESS eval "$TMP/q.onnx" --data $D/t10k-images-idx3-ubyte.gz \
            --labels $D/t10k-labels-idx1-ubyte.gz | grep '^top-1'
    done
done
