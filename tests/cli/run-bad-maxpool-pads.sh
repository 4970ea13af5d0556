# a model the runtime must refuse: exit 1, one line naming the node, nothing written
$NNPRESS run tests/data/runtime/maxpool-pads.onnx --input tests/data/runtime/x-1x1x4x4.npy -o "$TMP/out"
rc=$?
ls "$TMP"
exit $rc
