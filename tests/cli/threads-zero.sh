$NNPRESS compress testdata/mlp.onnx -o "$TMP/o.onnx" --threads 0
