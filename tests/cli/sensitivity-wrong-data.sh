# labels are not images: samples of one value do not fit [batch,1,28,28]
$NNPRESS sensitivity testdata/lenet5.onnx --data /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
