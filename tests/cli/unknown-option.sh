$NNPRESS inspect --bogus testdata/mlp.onnx
