$NNPRESS eval testdata/mlp.onnx --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --labels /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
