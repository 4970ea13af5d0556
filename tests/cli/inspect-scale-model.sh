$NNPRESS inspect --scale 2 testdata/mlp.onnx
