# the labels must count as many samples as the data they label
D=/usr/share/datasets/fashion-mnist
$NNPRESS sensitivity testdata/mlp.onnx --data $D/t10k-images-idx3-ubyte.gz \
    --labels $D/train-labels-idx1-ubyte.gz --samples 10
