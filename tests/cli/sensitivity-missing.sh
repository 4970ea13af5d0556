# a model that does not exist
$NNPRESS sensitivity "$TMP/none.onnx" --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
