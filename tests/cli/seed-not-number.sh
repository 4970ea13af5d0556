$NNPRESS compress testdata/mlp.onnx -o "$TMP/o.onnx" --seed abc
