$NNPRESS compress testdata/mlp.onnx -o "$TMP/o.onnx" --passes "fold(sparsity=0.9)"
