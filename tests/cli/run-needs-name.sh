$NNPRESS run /usr/share/libonnx-testdata/data/node/test_gather_0/model.onnx --input /usr/share/libonnx-testdata/data/node/test_gather_0/test_data_set_0/input_0.pb -o "$TMP"
