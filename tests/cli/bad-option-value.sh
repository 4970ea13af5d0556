$NNPRESS compress testdata/mlp.onnx -o "$TMP/out.onnx" --passes 'fold(batchnorm=2)'
rc=$?
ls "$TMP"
exit $rc
