$NNPRESS run testdata/mlp.onnx --input "$TMP/none.npy" -o "$TMP"
