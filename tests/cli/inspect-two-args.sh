$NNPRESS inspect testdata/mlp.onnx testdata/mlp.onnx
