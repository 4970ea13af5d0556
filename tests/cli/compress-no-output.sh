$NNPRESS compress testdata/mlp.onnx
