$NNPRESS quantize testdata/lenet5.onnx -o "$TMP/q.onnx" --mode fast
