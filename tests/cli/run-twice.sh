$NNPRESS run testdata/mlp.onnx --input input=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --input input=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
