$NNPRESS eval testdata/mlp.onnx --labels tests/data/i64_labels.npy
