# what the pass did, in its statistics, and the nodes it left in float on stderr
$NNPRESS quantize testdata/transformer.onnx -o "$TMP/q.onnx" --calib_samples 100 \
    --data /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz --exclude /embed/Conv+Gemm 2>&1 |
    sed -n '1,/^pass/p' | sed 's/: [0-9.]* s / /'
