$NNPRESS fold testdata/mlp.onnx -o "$TMP/o.onnx" --dead maybe
