# an ONNX node test with an int64 input: run's output is the expected output
set -e
D=/usr/share/libonnx-testdata/data/node/test_gather_0/test_data_set_0
$NNPRESS run /usr/share/libonnx-testdata/data/node/test_gather_0/model.onnx --input data=$D/input_0.pb --input indices=$D/input_1.pb -o "$TMP"
$NNPRESS inspect "$TMP/y.npy" | tail -2 > "$TMP/got"
$NNPRESS inspect $D/output_0.pb | tail -2 > "$TMP/want"
diff "$TMP/want" "$TMP/got" && echo same
