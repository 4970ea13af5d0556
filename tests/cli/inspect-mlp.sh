$NNPRESS inspect testdata/mlp.onnx
