$NNPRESS run testdata/mlp.onnx -o "$TMP"
