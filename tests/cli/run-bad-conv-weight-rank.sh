# a model the runtime must refuse: exit 1, one line naming the node, nothing written
$NNPRESS run tests/data/runtime/conv-weight-rank.onnx --input tests/data/runtime/x-1x3x8x8.npy -o "$TMP/out"
rc=$?
ls "$TMP"
exit $rc
