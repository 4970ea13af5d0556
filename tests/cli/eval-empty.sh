$NNPRESS eval testdata/mlp.onnx --data tests/data/u8_0x3.npy --labels tests/data/u8_0x3.npy
