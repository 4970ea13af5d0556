$NNPRESS bench testdata/mlp.onnx --duration -1
