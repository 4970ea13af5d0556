$NNPRESS eval testdata/mlp.onnx --data tests/data/u8_images.npy --reference testdata/mlp.onnx
