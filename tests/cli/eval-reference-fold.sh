set -e
$NNPRESS fold testdata/lenet5_bn.onnx -o "$TMP/f.onnx" -q
$NNPRESS eval "$TMP/f.onnx" --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --reference testdata/lenet5_bn.onnx | grep -o 'argmax agreement [^,]*'
