$NNPRESS run testdata/mlp.onnx --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz -o "$TMP" -q && echo written
