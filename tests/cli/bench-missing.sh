$NNPRESS bench "$TMP/none.onnx"
