$NNPRESS compress testdata/mlp.onnx -o "$TMP/no/such/dir/o.onnx" -q
