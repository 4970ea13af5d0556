$NNPRESS run testdata/lenet5.onnx --input tests/data/u8_images.npy -o "$TMP"
