# a report that cannot be written fails the run and leaves no model behind
$NNPRESS compress testdata/mlp.onnx -o "$TMP/o.onnx" --report "$TMP/no/such/dir/r.json" -q
rc=$?
ls "$TMP"
exit $rc
