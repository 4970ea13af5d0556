# a model the runtime must refuse: exit 1, one line naming the node, nothing written
$NNPRESS run tests/data/runtime/custom-domain.onnx --input tests/data/runtime/x-2x3.npy -o "$TMP/out"
rc=$?
ls "$TMP"
exit $rc
