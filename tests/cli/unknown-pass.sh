# an unknown pass is a usage error that points at it, and nothing is written
$NNPRESS compress testdata/mlp.onnx -o "$TMP/out.onnx" --passes 'fold, prun(sparsity=0.5)'
rc=$?
ls "$TMP"
exit $rc
